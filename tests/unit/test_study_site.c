/* Study-sites (src/domain/study_site.c): the institution record behind them,
 * numbering within the study, the activation lifecycle and its rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "domain/actor.h"
#include "domain/study.h"
#include "domain/study_site.h"
#include "support.h"
#include "util/json.h"

#define STEPS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NONE ((const char *const[]){NULL})

static int64_t count_rows(struct db *db, const char *sql)
{
	int64_t n = -1;
	assert_int_equal(db_query_int(db, sql, &n, 0), 0);
	return n;
}

static void creation_links_a_shared_institution(void **state)
{
	struct db *db = *state;
	int64_t a = test_study(db, "SS-A"), b = test_study(db, "SS-B");
	int64_t events = test_audit_count(db);
	struct err e = {0};
	json_t *in = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s}", "institution_name",
			       "Charité", "city", "Berlin", "site_number", "101", "investigator_name",
			       "Dr Weiss", "country", "DE", "time_zone", "Europe/Berlin",
			       "target_enrollment", 12, "planned_activation_on", "2024-05-01",
			       "identified_on", "2024-01-15");
	json_t *first = NULL, *second = NULL;

	assert_int_equal(record_create(db, actor_system(), &study_site_def, a, in, &first, &e), 0);
	assert_string_equal(json_str(first, "status"), "identified");
	assert_int_equal(json_int(first, "study_id", 0), a);
	assert_true(json_int(first, "site_id", 0) > 0);
	assert_string_equal(json_str(first, "institution_name"), "Charité");
	assert_string_equal(json_str(first, "city"), "Berlin");
	assert_string_equal(json_str(first, "identified_on"), "2024-01-15");
	/* the institution and the study-site, each audited */
	assert_int_equal(test_audit_count(db), events + 2);
	assert_int_equal(count_rows(db, "SELECT count(*) FROM sites"), 1);

	/* the same institution in another study is the same site */
	assert_int_equal(record_create(db, actor_system(), &study_site_def, b, in, &second, &e), 0);
	assert_int_equal(json_int(second, "site_id", 0), json_int(first, "site_id", 0));
	assert_int_equal(count_rows(db, "SELECT count(*) FROM sites"), 1);
	assert_int_equal(test_audit_count(db), events + 3);
	json_decref(first);
	json_decref(second);
	json_decref(in);
	err_release(&e);
}

static void creation_refuses_bad_sites_and_leaves_no_institution(void **state)
{
	char tomorrow[DATE_LEN];
	static const struct {
		const char *key, *value; /* replaces key in a valid body; value NULL: tomorrow */
		const char *field;
	} cases[] = {
		{"institution_name", "null", "institution_name"},
		{"site_number", "null", "site_number"},
		{"investigator_name", "\"\"", "investigator_name"},
		{"country", "\"XX\"", "country"},
		{"country", "\"de\"", "country"},
		{"time_zone", "\"Europe/Atlantis\"", "time_zone"},
		{"time_zone", "\"\"", "time_zone"},
		{"target_enrollment", "-1", "target_enrollment"},
		{"planned_activation_on", "\"2024-13-01\"", "planned_activation_on"},
		{"site_id", "1", "site_id"},
		{"study_id", "1", "study_id"},
		{"status", "\"activated\"", "status"},
		{"activated_on", "\"2024-02-01\"", "activated_on"},
		{"status_reason", "\"x\"", "status_reason"},
		{"identified_on", NULL, "identified_on"},
		{"pi", "\"Dr No\"", "pi"},
	};
	struct db *db = *state;
	int64_t study = test_study(db, "SS-BAD");
	int64_t events = test_audit_count(db);

	test_day_from_today(1, tomorrow);
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct err e = {0};
		json_t *out = NULL;
		json_t *in = json_pack("{s:s, s:s, s:s, s:s, s:s}", "institution_name", "New Clinic",
				       "site_number", "201", "investigator_name", "Dr Test", "country",
				       "FR", "time_zone", "Europe/Paris");
		json_t *value = cases[i].value ? json_loads(cases[i].value, JSON_DECODE_ANY, NULL)
					       : json_string(tomorrow);
		int rc;

		assert_non_null(value);
		json_object_set_new(in, cases[i].key, value);
		rc = record_create(db, actor_system(), &study_site_def, study, in, &out, &e);
		if (rc != CTMS_EINVAL || !test_err_names(&e, cases[i].field))
			fail_msg("%s = %s gave %s without naming %s", cases[i].key,
				 cases[i].value ? cases[i].value : tomorrow, err_name(rc), cases[i].field);
		assert_null(out);
		assert_int_equal(test_audit_count(db), events);
		assert_int_equal(count_rows(db, "SELECT count(*) FROM sites"), 0);
		json_decref(in);
		err_release(&e);
	}
}

static void site_numbers_are_unique_within_a_study(void **state)
{
	struct db *db = *state;
	int64_t a = test_study(db, "NUM-A"), b = test_study(db, "NUM-B");
	int64_t events, sites;
	struct err e = {0};
	json_t *out = NULL;
	json_t *in = json_pack("{s:s, s:s, s:s, s:s, s:s}", "institution_name", "Another Clinic",
			       "site_number", "101", "investigator_name", "Dr Other", "country", "IT",
			       "time_zone", "Europe/Rome");

	test_study_site(db, a, "101");
	events = test_audit_count(db);
	sites = count_rows(db, "SELECT count(*) FROM sites");
	assert_int_equal(record_create(db, actor_system(), &study_site_def, a, in, &out, &e),
			 CTMS_ECONFLICT);
	assert_true(test_err_names(&e, "site_number"));
	assert_null(out);
	/* the institution created on the way is rolled back with it */
	assert_int_equal(count_rows(db, "SELECT count(*) FROM sites"), sites);
	assert_int_equal(test_audit_count(db), events);
	err_release(&e);
	e = (struct err){0};
	/* the same number in another study is fine */
	assert_int_equal(record_create(db, actor_system(), &study_site_def, b, in, &out, &e), 0);
	json_decref(out);
	/* a study that does not exist */
	assert_int_equal(record_create(db, actor_system(), &study_site_def, 999, in, &out, &e),
			 CTMS_ENOTFOUND);
	assert_null(out);
	json_decref(in);
	err_release(&e);
}

static void updates_keep_identity_fields(void **state)
{
	static const struct {
		const char *patch, *field;
	} refused[] = {
		{"{\"site_number\":\"102\"}", "site_number"},
		{"{\"institution_name\":\"Elsewhere\"}", "institution_name"},
		{"{\"city\":\"Paris\"}", "city"},
		{"{\"identified_on\":\"2024-01-02\"}", "identified_on"},
		{"{\"site_id\":1}", "site_id"},
		{"{\"status\":\"closed\"}", "status"},
		{"{\"investigator_name\":null}", "investigator_name"},
		{"{\"time_zone\":\"Berlin\"}", "time_zone"},
	};
	struct db *db = *state;
	int64_t study = test_study(db, "UPD-SS");
	int64_t id = test_study_site(db, study, "101");
	int64_t events = test_audit_count(db);
	struct err e = {0};
	json_t *rec;

	for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
		e = (struct err){0};
		if (test_patch(db, &study_site_def, id, json_loads(refused[i].patch, 0, NULL), &e) !=
			    CTMS_EINVAL ||
		    !test_err_names(&e, refused[i].field))
			fail_msg("%s was not refused naming %s", refused[i].patch, refused[i].field);
		assert_int_equal(test_audit_count(db), events);
		err_release(&e);
	}
	e = (struct err){0};
	assert_int_equal(test_patch(db, &study_site_def, id,
				    json_pack("{s:s, s:s}", "investigator_name", "Dr New", "time_zone",
					      "America/New_York"),
				    &e),
			 0);
	rec = test_get(db, &study_site_def, id);
	assert_string_equal(json_str(rec, "investigator_name"), "Dr New");
	assert_string_equal(json_str(rec, "institution_name"), "Hospital 101");
	assert_int_equal(json_int(rec, "version", 0), 2);
	assert_int_equal(test_audit_count(db), events + 1);
	json_decref(rec);
	err_release(&e);
}

static int64_t lifecycle_study;

static int64_t fresh_site(struct db *db, int n)
{
	char number[16];
	snprintf(number, sizeof(number), "%d", 100 + n);
	return test_study_site(db, lifecycle_study, number);
}

static void lifecycle_allows_exactly_its_steps(void **state)
{
#define MAIN "feasibility", "selected", "approved", "contracted", "initiated"
	const struct lifecycle_row rows[] = {
		{"identified", NONE, STEPS("feasibility", "closed")},
		{"feasibility", STEPS("feasibility"), STEPS("selected", "closed")},
		{"selected", STEPS("feasibility", "selected"), STEPS("approved", "closed")},
		{"approved", STEPS("feasibility", "selected", "approved"), STEPS("contracted", "closed")},
		{"contracted", STEPS("feasibility", "selected", "approved", "contracted"),
		 STEPS("initiated", "closed")},
		{"initiated", STEPS(MAIN), STEPS("activated", "closed")},
		{"activated", STEPS(MAIN, "activated"), STEPS("enrolling", "closed")},
		{"enrolling", STEPS(MAIN, "activated", "enrolling"), STEPS("closed")},
		{"closed", STEPS("closed"), NONE},
	};
#undef MAIN
	struct db *db = *state;
	lifecycle_study = test_study_started(db, "SS-LIFE");
	test_lifecycle(db, &study_site_def, rows, sizeof(rows) / sizeof(*rows), fresh_site);
}

static void closing_a_site_needs_a_reason(void **state)
{
	struct db *db = *state;
	int64_t study = test_study_started(db, "SS-CLOSE");
	int64_t ids[] = {test_study_site(db, study, "101"), test_study_site_activated(db, study, "102")};

	for (size_t i = 0; i < 2; i++) {
		struct err e = {0};
		char status[32];
		int64_t events = test_audit_count(db);
		json_t *rec;

		snprintf(status, sizeof(status), "%s", test_status(db, &study_site_def, ids[i]));
		assert_int_equal(test_move(db, &study_site_def, ids[i], "closed", "2024-04-01", NULL, &e),
				 CTMS_EINVAL);
		assert_true(test_err_names(&e, "reason"));
		assert_string_equal(test_status(db, &study_site_def, ids[i]), status);
		assert_int_equal(test_audit_count(db), events);
		err_release(&e);
		test_move_ok(db, &study_site_def, ids[i], "closed", "2024-04-01", "no patients");
		rec = test_get(db, &study_site_def, ids[i]);
		assert_string_equal(json_str(rec, "status_reason"), "no patients");
		assert_string_equal(json_str(rec, "closed_on"), "2024-04-01");
		json_decref(rec);
	}
}

static void activation_waits_for_the_study(void **state)
{
	static const char *const up_to_initiated[] = {"feasibility", "selected", "approved",
						      "contracted", "initiated", NULL};
	const struct {
		const char *const *study_path;
		bool allowed;
	} cases[] = {
		{NONE, false},
		{STEPS("start_up"), true},
		{STEPS("start_up", "enrolling"), true},
		{STEPS("withdrawn"), false},
		{STEPS("start_up", "enrolling", "follow_up"), false},
		{STEPS("start_up", "enrolling", "terminated"), false},
	};
	struct db *db = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char number[16];
		snprintf(number, sizeof(number), "ACT-%zu", i);
		int64_t study = test_study(db, number);
		int64_t site = test_study_site(db, study, "101");
		struct err e = {0};
		int64_t events;
		int rc;

		test_walk(db, &study_site_def, site, up_to_initiated, 10);
		test_walk(db, &study_def, study, cases[i].study_path, 20);
		events = test_audit_count(db);
		rc = test_move(db, &study_site_def, site, "activated", "2024-03-01", NULL, &e);
		if (cases[i].allowed) {
			test_expect_ok(rc, &e, "activation");
			assert_string_equal(test_status(db, &study_site_def, site), "activated");
		} else {
			if (rc != CTMS_ECONFLICT)
				fail_msg("activation in a %s study gave %s", test_status(db, &study_def, study),
					 err_name(rc));
			assert_non_null(strstr(e.detail, test_status(db, &study_def, study)));
			assert_string_equal(test_status(db, &study_site_def, site), "initiated");
			assert_int_equal(test_audit_count(db), events);
		}
		err_release(&e);
	}
}

static void step_dates_follow_the_identification(void **state)
{
	struct db *db = *state;
	int64_t study = test_study(db, "SS-DATES");
	struct err e = {0};
	json_t *out = NULL;
	json_t *in = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "institution_name", "Dated Clinic",
			       "site_number", "301", "investigator_name", "Dr Date", "country", "ES",
			       "time_zone", "Europe/Madrid", "identified_on", "2024-03-01");
	int64_t id, events;

	assert_int_equal(record_create(db, actor_system(), &study_site_def, study, in, &out, &e), 0);
	id = json_int(out, "id", 0);
	json_decref(out);
	events = test_audit_count(db);
	assert_int_equal(test_move(db, &study_site_def, id, "feasibility", "2024-02-29", NULL, &e),
			 CTMS_EINVAL);
	assert_true(test_err_names(&e, "on"));
	assert_int_equal(test_audit_count(db), events);
	err_release(&e);
	test_move_ok(db, &study_site_def, id, "feasibility", "2024-03-01", NULL);
	test_move_ok(db, &study_site_def, id, "selected", "2024-04-01", NULL);
	e = (struct err){0};
	assert_int_equal(test_move(db, &study_site_def, id, "approved", "2024-03-31", NULL, &e),
			 CTMS_EINVAL);
	assert_true(test_err_names(&e, "on"));
	json_decref(in);
	err_release(&e);
}

static void lists_sites_of_one_study(void **state)
{
	struct db *db = *state;
	int64_t a = test_study_started(db, "LS-A"), b = test_study(db, "LS-B");
	struct list_filter activated = {"status", "activated"}, bad = {"investigator_name", "x"};
	struct list_query q = {.parent_id = a, .limit = 10};
	struct err e = {0};
	json_t *items = NULL;
	int64_t next;

	test_study_site(db, a, "101");
	int64_t active = test_study_site_activated(db, a, "102");
	test_study_site(db, b, "101");
	assert_int_equal(record_list(db, actor_system(), &study_site_def, &q, &items, &next, &e), 0);
	assert_int_equal(json_array_size(items), 2);
	assert_string_equal(json_str(json_array_get(items, 1), "institution_name"), "Hospital 102");
	json_decref(items);
	q.filters = &activated;
	q.nfilters = 1;
	assert_int_equal(record_list(db, actor_system(), &study_site_def, &q, &items, &next, &e), 0);
	assert_int_equal(json_array_size(items), 1);
	assert_int_equal(json_int(json_array_get(items, 0), "id", 0), active);
	json_decref(items);
	q.filters = &bad;
	assert_int_equal(record_list(db, actor_system(), &study_site_def, &q, &items, &next, &e), CTMS_EINVAL);
	assert_true(test_err_names(&e, "investigator_name"));
	err_release(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(creation_links_a_shared_institution, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(creation_refuses_bad_sites_and_leaves_no_institution,
						test_db_setup, test_db_teardown),
		cmocka_unit_test_setup_teardown(site_numbers_are_unique_within_a_study, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(updates_keep_identity_fields, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(lifecycle_allows_exactly_its_steps, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(closing_a_site_needs_a_reason, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(activation_waits_for_the_study, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(step_dates_follow_the_identification, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(lists_sites_of_one_study, test_db_setup, test_db_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
