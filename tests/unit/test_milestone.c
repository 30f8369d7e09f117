/* Milestones (src/domain/milestone.c): dates, the site they belong to, and
 * the derived overdue flag and variance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "domain/actor.h"
#include "domain/milestone.h"
#include "support.h"
#include "util/json.h"

static int create(struct db *db, int64_t study, json_t *in, json_t **out, struct err *e)
{
	int rc = record_create(db, actor_system(), &milestone_def, study, in, out, e);
	json_decref(in);
	return rc;
}

static void derived_fields_follow_the_dates(void **state)
{
	char future[DATE_LEN], yesterday[DATE_LEN], today[DATE_LEN];
	struct db *db = *state;
	int64_t study = test_study(db, "MS-1");
	date_format(day_of_us(now_us()) - 1, yesterday);
	date_format(day_of_us(now_us()), today);
	test_day_from_today(30, future);
	const struct {
		const char *baseline, *planned, *actual;
		bool overdue;
		bool has_variance;
		int64_t variance;
	} cases[] = {
		{NULL, "2024-01-01", NULL, true, false, 0},
		{NULL, yesterday, NULL, true, false, 0},
		{NULL, today, NULL, false, false, 0}, /* due today: not yet overdue */
		{NULL, "2024-01-01", "2024-01-05", false, false, 0},
		{NULL, future, NULL, false, false, 0},
		{NULL, NULL, NULL, false, false, 0},
		{"2024-01-01", "2024-01-11", NULL, true, true, 10},
		{"2024-01-01", "2024-01-11", "2023-12-30", false, true, -2},
		{"2024-01-01", NULL, "2024-01-01", false, true, 0},
		{"2024-02-28", "2024-03-01", NULL, true, true, 2}, /* leap day between */
		{"2024-01-01", NULL, NULL, false, false, 0},
		{"2024-01-01", future, NULL, false, true, 0}, /* checked below */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct err e = {0};
		json_t *in = json_pack("{s:s, s:s}", "name", "Milestone", "kind", "database_lock");
		json_t *out = NULL, *variance;
		if (cases[i].baseline)
			json_object_set_new(in, "baseline_on", json_string(cases[i].baseline));
		if (cases[i].planned)
			json_object_set_new(in, "planned_on", json_string(cases[i].planned));
		if (cases[i].actual)
			json_object_set_new(in, "actual_on", json_string(cases[i].actual));
		test_expect_ok(create(db, study, in, &out, &e), &e, "milestone");
		if (json_is_true(json_object_get(out, "overdue")) != cases[i].overdue)
			fail_msg("case %zu: overdue is %s", i, cases[i].overdue ? "false" : "true");
		variance = json_object_get(out, "variance_days");
		if (!cases[i].has_variance) {
			assert_true(json_is_null(variance));
		} else if (i == sizeof(cases) / sizeof(*cases) - 1) {
			int32_t b, p;
			assert_int_equal(date_parse("2024-01-01", &b), 0);
			assert_int_equal(date_parse(future, &p), 0);
			assert_true(json_is_integer(variance));
			assert_int_equal(json_integer_value(variance), p - b);
		} else {
			assert_true(json_is_integer(variance));
			if (json_integer_value(variance) != cases[i].variance)
				fail_msg("case %zu: variance %lld, expected %lld", i,
					 (long long)json_integer_value(variance), (long long)cases[i].variance);
		}
		json_decref(out);
		err_release(&e);
	}
}

static void an_actual_date_clears_overdue(void **state)
{
	struct db *db = *state;
	int64_t study = test_study(db, "MS-2");
	struct err e = {0};
	json_t *out = NULL, *rec;
	int64_t id;

	assert_int_equal(create(db, study,
				json_pack("{s:s, s:s, s:s, s:s}", "name", "FPI", "kind",
					  "first_subject_enrolled", "baseline_on", "2024-02-01",
					  "planned_on", "2024-03-01"),
				&out, &e),
			 0);
	id = json_int(out, "id", 0);
	assert_true(json_is_true(json_object_get(out, "overdue")));
	json_decref(out);
	assert_int_equal(test_patch(db, &milestone_def, id, json_pack("{s:s}", "actual_on", "2024-03-04"),
				    &e),
			 0);
	rec = test_get(db, &milestone_def, id);
	assert_true(json_is_false(json_object_get(rec, "overdue")));
	assert_int_equal(json_int(rec, "variance_days", 0), 32);
	/* derived fields are not stored: they cannot be written */
	assert_int_equal(test_patch(db, &milestone_def, id, json_pack("{s:b}", "overdue", 0), &e),
			 CTMS_EINVAL);
	assert_true(test_err_names(&e, "overdue"));
	json_decref(rec);
	err_release(&e);
}

static void refuses_bad_milestones(void **state)
{
	char tomorrow[DATE_LEN];
	struct db *db = *state;
	int64_t study = test_study_started(db, "MS-3"), other = test_study_started(db, "MS-4");
	int64_t own_site = test_study_site(db, study, "101");
	int64_t foreign_site = test_study_site(db, other, "201");
	int64_t events = test_audit_count(db);

	test_day_from_today(1, tomorrow);
	const struct {
		const char *key;
		json_t *value;
		const char *field;
	} cases[] = {
		{"actual_on", json_string(tomorrow), "actual_on"},
		{"study_site_id", json_integer(foreign_site), "study_site_id"},
		{"study_site_id", json_integer(9999), "study_site_id"},
		{"study_site_id", json_string("101"), "study_site_id"},
		{"kind", json_string("party"), "kind"},
		{"name", json_string(""), "name"},
		{"planned_on", json_string("2024-02-30"), "planned_on"},
		{"study_id", json_integer(study), "study_id"},
		{"overdue", json_true(), "overdue"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct err e = {0};
		json_t *out = NULL;
		json_t *in = json_pack("{s:s, s:s, s:I}", "name", "Site activated", "kind",
				       "site_activation", "study_site_id", (json_int_t)own_site);
		json_object_set_new(in, cases[i].key, cases[i].value);
		int rc = create(db, study, in, &out, &e);
		if (rc != CTMS_EINVAL || !test_err_names(&e, cases[i].field))
			fail_msg("case %zu (%s) gave %s without naming %s", i, cases[i].key, err_name(rc),
				 cases[i].field);
		assert_null(out);
		assert_int_equal(test_audit_count(db), events);
		err_release(&e);
	}

	/* a site of the same study is fine; moving it to another study's site is not */
	struct err e = {0};
	json_t *out = NULL;
	assert_int_equal(create(db, study,
				json_pack("{s:s, s:s, s:I}", "name", "Site activated", "kind",
					  "site_activation", "study_site_id", (json_int_t)own_site),
				&out, &e),
			 0);
	int64_t id = json_int(out, "id", 0);
	json_decref(out);
	events = test_audit_count(db);
	assert_int_equal(test_patch(db, &milestone_def, id,
				    json_pack("{s:I}", "study_site_id", (json_int_t)foreign_site), &e),
			 CTMS_EINVAL);
	assert_true(test_err_names(&e, "study_site_id"));
	err_release(&e);
	e = (struct err){0};
	assert_int_equal(test_patch(db, &milestone_def, id, json_pack("{s:s}", "actual_on", tomorrow),
				    &e),
			 CTMS_EINVAL);
	assert_true(test_err_names(&e, "actual_on"));
	assert_int_equal(test_audit_count(db), events);
	err_release(&e);
}

static void lists_filter_by_kind_and_site(void **state)
{
	struct db *db = *state;
	int64_t study = test_study(db, "MS-5");
	int64_t site = test_study_site(db, study, "101");
	char site_text[24];
	struct list_filter by_kind = {"kind", "site_activation"}, by_site = {"study_site_id", site_text};
	struct list_filter by_name = {"name", "x"};
	struct list_query q = {.parent_id = study, .limit = 10, .filters = &by_kind, .nfilters = 1};
	struct err e = {0};
	json_t *out = NULL, *items = NULL;
	int64_t next;

	snprintf(site_text, sizeof(site_text), "%lld", (long long)site);
	assert_int_equal(create(db, study,
				json_pack("{s:s, s:s, s:I}", "name", "Site 101 active", "kind",
					  "site_activation", "study_site_id", (json_int_t)site),
				&out, &e),
			 0);
	json_decref(out);
	assert_int_equal(create(db, study, json_pack("{s:s, s:s}", "name", "DBL", "kind", "database_lock"),
				&out, &e),
			 0);
	json_decref(out);
	assert_int_equal(record_list(db, actor_system(), &milestone_def, &q, &items, &next, &e), 0);
	assert_int_equal(json_array_size(items), 1);
	/* list items carry the derived fields */
	assert_non_null(json_object_get(json_array_get(items, 0), "overdue"));
	json_decref(items);
	q.filters = &by_site;
	assert_int_equal(record_list(db, actor_system(), &milestone_def, &q, &items, &next, &e), 0);
	assert_int_equal(json_array_size(items), 1);
	assert_string_equal(json_str(json_array_get(items, 0), "name"), "Site 101 active");
	json_decref(items);
	q.filters = &by_name;
	assert_int_equal(record_list(db, actor_system(), &milestone_def, &q, &items, &next, &e), CTMS_EINVAL);
	assert_true(test_err_names(&e, "name"));
	err_release(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(derived_fields_follow_the_dates, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(an_actual_date_clears_overdue, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(refuses_bad_milestones, test_db_setup, test_db_teardown),
		cmocka_unit_test_setup_teardown(lists_filter_by_kind_and_site, test_db_setup,
						test_db_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
