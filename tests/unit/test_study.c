/* Studies (src/domain/study.c): fields, uniqueness, lifecycle and its dates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "domain/actor.h"
#include "domain/study.h"
#include "support.h"
#include "util/json.h"

#define STEPS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NONE ((const char *const[]){NULL})

static void creation_starts_planned(void **state)
{
	struct db *db = *state;
	struct err e = {0};
	json_t *in = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s}", "protocol_number",
			       "ABC-123", "nct_id", "NCT01234567", "title", "A study of things", "phase",
			       "PHASE3", "target_enrollment", 300, "acronym", "ABC", "therapeutic_area",
			       "Oncology", "planned_start_on", "2024-01-01", "planned_end_on",
			       "2026-12-31");
	json_t *out = NULL;

	assert_int_equal(record_create(db, actor_system(), &study_def, 0, in, &out, &e), 0);
	assert_string_equal(json_str(out, "status"), "planned");
	assert_int_equal(json_int(out, "version", 0), 1);
	assert_string_equal(json_str(out, "nct_id"), "NCT01234567");
	assert_int_equal(json_int(out, "target_enrollment", 0), 300);
	assert_true(json_is_null(json_object_get(out, "current_protocol_version")));
	assert_true(json_is_null(json_object_get(out, "start_up_on")));
	assert_int_equal(test_audit_count(db), 1);
	json_decref(out);
	json_decref(in);
	err_release(&e);
}

static void creation_refuses_bad_studies(void **state)
{
	static const struct {
		const char *input;
		const char *field;
	} cases[] = {
		{"{\"title\":\"T\",\"phase\":\"PHASE2\",\"target_enrollment\":10}", "protocol_number"},
		{"{\"protocol_number\":\"P\",\"phase\":\"PHASE2\",\"target_enrollment\":10}", "title"},
		{"{\"protocol_number\":\"P\",\"title\":\"T\",\"target_enrollment\":10}", "phase"},
		{"{\"protocol_number\":\"P\",\"title\":\"T\",\"phase\":\"PHASE2\"}", "target_enrollment"},
		{"{\"protocol_number\":\"P\",\"title\":\"T\",\"phase\":\"PHASE5\",\"target_enrollment\":10}",
		 "phase"},
		{"{\"protocol_number\":\"P\",\"title\":\"T\",\"phase\":\"phase2\",\"target_enrollment\":10}",
		 "phase"},
		{"{\"protocol_number\":\"P\",\"title\":\"T\",\"phase\":\"PHASE2\",\"target_enrollment\":0}",
		 "target_enrollment"},
		{"{\"protocol_number\":\"P\",\"title\":\"T\",\"phase\":\"PHASE2\",\"target_enrollment\":\"10\"}",
		 "target_enrollment"},
		{"{\"protocol_number\":\"\",\"title\":\"T\",\"phase\":\"PHASE2\",\"target_enrollment\":10}",
		 "protocol_number"},
		{"{\"protocol_number\":\"P\",\"title\":\"T\",\"phase\":\"PHASE2\",\"target_enrollment\":10,"
		 "\"nct_id\":\"NCT123\"}",
		 "nct_id"},
		{"{\"protocol_number\":\"P\",\"title\":\"T\",\"phase\":\"PHASE2\",\"target_enrollment\":10,"
		 "\"nct_id\":\"XYZ01234567\"}",
		 "nct_id"},
		{"{\"protocol_number\":\"P\",\"title\":\"T\",\"phase\":\"PHASE2\",\"target_enrollment\":10,"
		 "\"nct_id\":\"NCT0123456A\"}",
		 "nct_id"},
		{"{\"protocol_number\":\"P\",\"title\":\"T\",\"phase\":\"PHASE2\",\"target_enrollment\":10,"
		 "\"planned_start_on\":\"2025-01-01\",\"planned_end_on\":\"2024-12-31\"}",
		 "planned_end_on"},
		{"{\"protocol_number\":\"P\",\"title\":\"T\",\"phase\":\"PHASE2\",\"target_enrollment\":10,"
		 "\"status\":\"enrolling\"}",
		 "status"},
		{"{\"protocol_number\":\"P\",\"title\":\"T\",\"phase\":\"PHASE2\",\"target_enrollment\":10,"
		 "\"start_up_on\":\"2024-01-01\"}",
		 "start_up_on"},
		{"{\"protocol_number\":\"P\",\"title\":\"T\",\"phase\":\"PHASE2\",\"target_enrollment\":10,"
		 "\"planned_on\":\"2024-01-01\"}",
		 "planned_on"},
		{"{\"protocol_number\":\"P\",\"title\":\"T\",\"phase\":\"PHASE2\",\"target_enrollment\":10,"
		 "\"status_reason\":\"x\"}",
		 "status_reason"},
		{"{\"protocol_number\":\"P\",\"title\":\"T\",\"phase\":\"PHASE2\",\"target_enrollment\":10,"
		 "\"sponsor_id\":77}",
		 "sponsor_id"},
		{"{\"protocol_number\":\"P\",\"title\":\"T\",\"phase\":\"PHASE2\",\"target_enrollment\":10,"
		 "\"sponsor\":\"Acme\"}",
		 "sponsor"},
		{"{\"protocol_number\":\"P\",\"title\":\"T\",\"phase\":\"PHASE2\",\"target_enrollment\":10,"
		 "\"current_protocol_version\":null}",
		 "current_protocol_version"},
	};
	struct db *db = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct err e = {0};
		json_t *out = NULL, *in = json_loads(cases[i].input, 0, NULL);
		int rc;

		assert_non_null(in);
		rc = record_create(db, actor_system(), &study_def, 0, in, &out, &e);
		if (rc != CTMS_EINVAL || !test_err_names(&e, cases[i].field))
			fail_msg("%s gave %s without naming %s", cases[i].input, err_name(rc),
				 cases[i].field);
		assert_null(out);
		assert_int_equal(test_audit_count(db), 0);
		json_decref(in);
		err_release(&e);
	}
}

static void protocol_numbers_and_nct_ids_are_unique(void **state)
{
	struct db *db = *state;
	struct err e = {0};
	json_t *out = NULL;
	json_t *dup = json_pack("{s:s, s:s, s:s, s:i}", "protocol_number", "UNQ-1", "title", "Again",
				"phase", "PHASE1", "target_enrollment", 5);
	int64_t a = test_study(db, "UNQ-1"), b = test_study(db, "UNQ-2"), events;

	events = test_audit_count(db);
	assert_int_equal(record_create(db, actor_system(), &study_def, 0, dup, &out, &e), CTMS_ECONFLICT);
	assert_true(test_err_names(&e, "protocol_number"));
	assert_null(out);
	assert_int_equal(test_audit_count(db), events);
	err_release(&e);
	e = (struct err){0};

	/* nct_id: unique once given, on update as on create */
	assert_int_equal(test_patch(db, &study_def, a, json_pack("{s:s}", "nct_id", "NCT00000001"), &e),
			 0);
	events = test_audit_count(db);
	assert_int_equal(test_patch(db, &study_def, b, json_pack("{s:s}", "nct_id", "NCT00000001"), &e),
			 CTMS_ECONFLICT);
	assert_true(test_err_names(&e, "nct_id"));
	assert_int_equal(test_audit_count(db), events);
	err_release(&e);
	e = (struct err){0};
	/* several studies without an NCT id are fine, and so is renumbering */
	assert_int_equal(test_patch(db, &study_def, b, json_pack("{s:s}", "protocol_number", "UNQ-3"), &e),
			 0);
	assert_int_equal(test_patch(db, &study_def, a, json_pack("{s:s}", "protocol_number", "UNQ-3"), &e),
			 CTMS_ECONFLICT);
	assert_true(test_err_names(&e, "protocol_number"));
	json_decref(dup);
	err_release(&e);
}

static void updates_follow_the_field_rules(void **state)
{
	struct db *db = *state;
	int64_t id = test_study(db, "UPD-1");
	struct err e = {0};
	int64_t events;

	assert_int_equal(test_patch(db, &study_def, id,
				    json_pack("{s:s, s:s}", "planned_start_on", "2024-03-01", "planned_end_on",
					      "2025-03-01"),
				    &e),
			 0);
	events = test_audit_count(db);
	static const struct {
		const char *patch, *field;
	} cases[] = {
		{"{\"planned_end_on\":\"2024-02-01\"}", "planned_end_on"},
		{"{\"planned_start_on\":\"2025-04-01\"}", "planned_end_on"},
		{"{\"status\":\"closed\"}", "status"},
		{"{\"closed_on\":\"2024-05-01\"}", "closed_on"},
		{"{\"title\":null}", "title"},
		{"{\"title\":\" padded\"}", "title"},
		{"{\"nct_id\":\"NCT1\"}", "nct_id"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		e = (struct err){0};
		if (test_patch(db, &study_def, id, json_loads(cases[i].patch, 0, NULL), &e) != CTMS_EINVAL ||
		    !test_err_names(&e, cases[i].field))
			fail_msg("%s was not refused naming %s", cases[i].patch, cases[i].field);
		assert_int_equal(test_audit_count(db), events);
		err_release(&e);
	}
}

static int64_t fresh_study(struct db *db, int n)
{
	char number[32];
	snprintf(number, sizeof(number), "SM-%d", n);
	return test_study(db, number);
}

static void lifecycle_allows_exactly_its_steps(void **state)
{
	const struct lifecycle_row rows[] = {
		{"planned", NONE, STEPS("start_up", "withdrawn")},
		{"start_up", STEPS("start_up"), STEPS("enrolling", "withdrawn")},
		{"enrolling", STEPS("start_up", "enrolling"), STEPS("follow_up", "terminated")},
		{"follow_up", STEPS("start_up", "enrolling", "follow_up"), STEPS("closed", "terminated")},
		{"closed", STEPS("start_up", "enrolling", "follow_up", "closed"), NONE},
		{"terminated", STEPS("start_up", "enrolling", "terminated"), NONE},
		{"withdrawn", STEPS("withdrawn"), NONE},
	};
	test_lifecycle(*state, &study_def, rows, sizeof(rows) / sizeof(*rows), fresh_study);
}

static void stopping_a_study_needs_a_reason(void **state)
{
	const struct {
		const char *const *path;
		const char *to;
	} cases[] = {
		{NONE, "withdrawn"},
		{STEPS("start_up"), "withdrawn"},
		{STEPS("start_up", "enrolling"), "terminated"},
		{STEPS("start_up", "enrolling", "follow_up"), "terminated"},
	};
	struct db *db = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		int64_t id = fresh_study(db, (int)i);
		static const char *const missing[] = {NULL, ""};
		char status[32];
		int64_t events;
		json_t *rec;

		test_walk(db, &study_def, id, cases[i].path, 1);
		snprintf(status, sizeof(status), "%s", test_status(db, &study_def, id));
		events = test_audit_count(db);
		for (size_t k = 0; k < 2; k++) {
			struct err e = {0};
			assert_int_equal(test_move(db, &study_def, id, cases[i].to, "2024-06-01", missing[k], &e),
					 CTMS_EINVAL);
			assert_true(test_err_names(&e, "reason"));
			assert_string_equal(test_status(db, &study_def, id), status);
			assert_int_equal(test_audit_count(db), events);
			err_release(&e);
		}
		test_move_ok(db, &study_def, id, cases[i].to, "2024-06-01", "sponsor decision");
		rec = test_get(db, &study_def, id);
		assert_string_equal(json_str(rec, "status_reason"), "sponsor decision");
		json_decref(rec);
	}
}

static void a_reason_given_on_any_step_is_kept(void **state)
{
	struct db *db = *state;
	int64_t id = test_study(db, "WHY-1");
	json_t *rec;

	test_move_ok(db, &study_def, id, "start_up", "2024-02-01", "funding secured");
	rec = test_get(db, &study_def, id);
	assert_string_equal(json_str(rec, "status_reason"), "funding secured");
	json_decref(rec);
	/* a step without a reason clears the previous one */
	test_move_ok(db, &study_def, id, "enrolling", "2024-03-01", NULL);
	rec = test_get(db, &study_def, id);
	assert_true(json_is_null(json_object_get(rec, "status_reason")));
	json_decref(rec);
}

static void step_dates_never_go_backwards_nor_ahead(void **state)
{
	struct db *db = *state;
	int64_t id = test_study(db, "DATES-1");
	char tomorrow[DATE_LEN], next_year[DATE_LEN];
	struct err e = {0};
	int64_t events;
	json_t *rec;

	test_day_from_today(1, tomorrow);
	test_day_from_today(366, next_year);
	test_move_ok(db, &study_def, id, "start_up", "2024-03-10", NULL);
	events = test_audit_count(db);

	static const char *const refused[] = {"2024-03-09", "2023-12-31", "1900-01-01"};
	for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
		e = (struct err){0};
		assert_int_equal(test_move(db, &study_def, id, "enrolling", refused[i], NULL, &e),
				 CTMS_EINVAL);
		assert_true(test_err_names(&e, "on"));
		assert_non_null(strstr(json_string_value(json_object_get(json_array_get(e.fields, 0),
									      "message")),
				       "2024-03-10"));
		err_release(&e);
	}
	const char *future[] = {tomorrow, next_year};
	for (size_t i = 0; i < 2; i++) {
		e = (struct err){0};
		assert_int_equal(test_move(db, &study_def, id, "enrolling", future[i], NULL, &e),
				 CTMS_EINVAL);
		assert_true(test_err_names(&e, "on"));
		err_release(&e);
	}
	assert_int_equal(test_audit_count(db), events);
	assert_string_equal(test_status(db, &study_def, id), "start_up");

	/* the same day as the step before is fine */
	test_move_ok(db, &study_def, id, "enrolling", "2024-03-10", NULL);
	test_move_ok(db, &study_def, id, "follow_up", "2025-01-31", NULL);
	rec = test_get(db, &study_def, id);
	assert_string_equal(json_str(rec, "start_up_on"), "2024-03-10");
	assert_string_equal(json_str(rec, "enrolling_on"), "2024-03-10");
	assert_string_equal(json_str(rec, "follow_up_on"), "2025-01-31");
	assert_int_equal(json_int(rec, "version", 0), 4);
	json_decref(rec);
	/* terminating cannot predate the follow-up either */
	e = (struct err){0};
	assert_int_equal(test_move(db, &study_def, id, "terminated", "2025-01-30", "safety", &e),
			 CTMS_EINVAL);
	assert_true(test_err_names(&e, "on"));
	err_release(&e);
}

static void lists_filter_by_status_and_phase(void **state)
{
	struct db *db = *state;
	struct list_filter by_status = {"status", "start_up"}, by_phase = {"phase", "PHASE2"};
	struct list_filter by_title = {"title", "A test study"};
	struct list_query q = {.limit = 10, .filters = &by_status, .nfilters = 1};
	struct err e = {0};
	json_t *items = NULL;
	int64_t next;

	test_study(db, "L-1");
	int64_t started = test_study_started(db, "L-2");
	test_study(db, "L-3");
	assert_int_equal(record_list(db, actor_system(), &study_def, &q, &items, &next, &e), 0);
	assert_int_equal(json_array_size(items), 1);
	assert_int_equal(json_int(json_array_get(items, 0), "id", 0), started);
	/* list items are rendered like single records */
	assert_non_null(json_object_get(json_array_get(items, 0), "current_protocol_version"));
	json_decref(items);
	q.filters = &by_phase;
	assert_int_equal(record_list(db, actor_system(), &study_def, &q, &items, &next, &e), 0);
	assert_int_equal(json_array_size(items), 3);
	json_decref(items);
	q.filters = &by_title;
	assert_int_equal(record_list(db, actor_system(), &study_def, &q, &items, &next, &e), CTMS_EINVAL);
	assert_true(test_err_names(&e, "title"));
	assert_null(items);
	err_release(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(creation_starts_planned, test_db_setup, test_db_teardown),
		cmocka_unit_test_setup_teardown(creation_refuses_bad_studies, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(protocol_numbers_and_nct_ids_are_unique, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(updates_follow_the_field_rules, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(lifecycle_allows_exactly_its_steps, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(stopping_a_study_needs_a_reason, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(a_reason_given_on_any_step_is_kept, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(step_dates_never_go_backwards_nor_ahead, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(lists_filter_by_status_and_phase, test_db_setup,
						test_db_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
