/* Protocol versions (src/domain/protocol_version.c): draft -> approved |
 * rejected, approved versions frozen, the study's current version derived. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "domain/actor.h"
#include "domain/protocol_version.h"
#include "domain/study.h"
#include "support.h"
#include "util/json.h"

#define STEPS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NONE ((const char *const[]){NULL})

static void creation_starts_a_draft(void **state)
{
	struct db *db = *state;
	int64_t study = test_study(db, "PV-1");
	struct err e = {0};
	json_t *in = json_pack("{s:s, s:s, s:s}", "number", "1.0", "version_date", "2024-01-10",
			       "summary", "First version");
	json_t *out = NULL;

	assert_int_equal(record_create(db, actor_system(), &protocol_version_def, study, in, &out, &e),
			 0);
	assert_string_equal(json_str(out, "status"), "draft");
	assert_int_equal(json_int(out, "study_id", 0), study);
	assert_true(json_is_false(json_object_get(out, "current")));
	json_decref(out);
	json_decref(in);
	err_release(&e);
}

static void creation_refuses_bad_versions(void **state)
{
	static const struct {
		const char *input, *field;
	} cases[] = {
		{"{\"version_date\":\"2024-01-10\"}", "number"},
		{"{\"number\":\"2.0\"}", "version_date"},
		{"{\"number\":\"2.0\",\"version_date\":\"10/01/2024\"}", "version_date"},
		{"{\"number\":\"2.0\",\"version_date\":\"2024-01-10\",\"status\":\"approved\"}", "status"},
		{"{\"number\":\"2.0\",\"version_date\":\"2024-01-10\",\"approved_on\":\"2024-01-11\"}",
		 "approved_on"},
		{"{\"number\":\"2.0\",\"version_date\":\"2024-01-10\",\"study_id\":1}", "study_id"},
		{"{\"number\":\"2.0\",\"version_date\":\"2024-01-10\",\"current\":true}", "current"},
		{"{\"number\":\"123456789012345678901234567890123\",\"version_date\":\"2024-01-10\"}",
		 "number"},
	};
	struct db *db = *state;
	int64_t study = test_study(db, "PV-BAD"), events = test_audit_count(db);

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct err e = {0};
		json_t *out = NULL, *in = json_loads(cases[i].input, 0, NULL);
		int rc = record_create(db, actor_system(), &protocol_version_def, study, in, &out, &e);
		if (rc != CTMS_EINVAL || !test_err_names(&e, cases[i].field))
			fail_msg("%s gave %s without naming %s", cases[i].input, err_name(rc),
				 cases[i].field);
		assert_null(out);
		assert_int_equal(test_audit_count(db), events);
		json_decref(in);
		err_release(&e);
	}
}

static void numbers_are_unique_within_a_study(void **state)
{
	struct db *db = *state;
	int64_t a = test_study(db, "PV-A"), b = test_study(db, "PV-B"), events;
	struct err e = {0};
	json_t *out = NULL, *in = json_pack("{s:s, s:s}", "number", "1.0", "version_date", "2024-02-01");

	test_protocol_version(db, a, "1.0", "2024-01-10", NULL);
	events = test_audit_count(db);
	assert_int_equal(record_create(db, actor_system(), &protocol_version_def, a, in, &out, &e),
			 CTMS_ECONFLICT);
	assert_true(test_err_names(&e, "number"));
	assert_null(out);
	assert_int_equal(test_audit_count(db), events);
	err_release(&e);
	e = (struct err){0};
	assert_int_equal(record_create(db, actor_system(), &protocol_version_def, b, in, &out, &e), 0);
	json_decref(out);
	json_decref(in);
	err_release(&e);
}

static int64_t lifecycle_study;

static int64_t fresh_version(struct db *db, int n)
{
	char number[16];
	snprintf(number, sizeof(number), "%d.0", n);
	return test_protocol_version(db, lifecycle_study, number, "2024-01-01", NULL);
}

static void lifecycle_allows_exactly_its_steps(void **state)
{
	const struct lifecycle_row rows[] = {
		{"draft", NONE, STEPS("approved", "rejected")},
		{"approved", STEPS("approved"), NONE},
		{"rejected", STEPS("rejected"), NONE},
	};
	lifecycle_study = test_study(*state, "PV-LIFE");
	test_lifecycle(*state, &protocol_version_def, rows, sizeof(rows) / sizeof(*rows), fresh_version);
}

static void rejection_needs_a_reason(void **state)
{
	struct db *db = *state;
	int64_t study = test_study(db, "PV-REJ");
	int64_t id = test_protocol_version(db, study, "1.0", "2024-01-10", NULL);
	int64_t events = test_audit_count(db);
	struct err e = {0};
	json_t *rec;

	assert_int_equal(test_move(db, &protocol_version_def, id, "rejected", "2024-01-20", NULL, &e),
			 CTMS_EINVAL);
	assert_true(test_err_names(&e, "reason"));
	assert_int_equal(test_audit_count(db), events);
	err_release(&e);
	test_move_ok(db, &protocol_version_def, id, "rejected", "2024-01-20", "ethics committee");
	rec = test_get(db, &protocol_version_def, id);
	assert_string_equal(json_str(rec, "status_reason"), "ethics committee");
	assert_string_equal(json_str(rec, "rejected_on"), "2024-01-20");
	json_decref(rec);
}

static void approval_cannot_predate_the_version(void **state)
{
	struct db *db = *state;
	int64_t study = test_study(db, "PV-DATE");
	int64_t id = test_protocol_version(db, study, "1.0", "2024-03-10", NULL);
	test_sign_approval(db, id);
	int64_t events = test_audit_count(db);
	struct err e = {0};

	assert_int_equal(test_move(db, &protocol_version_def, id, "approved", "2024-03-09", NULL, &e),
			 CTMS_EINVAL);
	assert_true(test_err_names(&e, "on"));
	assert_string_equal(test_status(db, &protocol_version_def, id), "draft");
	assert_int_equal(test_audit_count(db), events);
	err_release(&e);
	test_move_ok(db, &protocol_version_def, id, "approved", "2024-03-10", NULL);
}

/* 21 CFR 11.50, 11.70: approval takes a valid "approved" signature by a
 * manager of the study; the system actor is no exception. */
static void approval_needs_a_managers_signature(void **state)
{
	struct db *db = *state;
	int64_t study = test_study(db, "PV-SIGN");
	int64_t id = test_protocol_version(db, study, "1.0", "2024-03-10", NULL);
	struct transition t = {"approved", "2024-03-12", NULL};
	int64_t events = test_audit_count(db);
	struct err e = {0};
	json_t *out = NULL;

	assert_int_equal(record_transition(db, actor_system(), &protocol_version_def, id, 0, &t, &out, &e),
			 CTMS_ESTATE);
	assert_non_null(strstr(e.detail, "signature"));
	assert_string_equal(test_status(db, &protocol_version_def, id), "draft");
	assert_int_equal(test_audit_count(db), events);
	err_release(&e);
	test_sign_approval(db, id);
	err_init(&e);
	assert_int_equal(record_transition(db, actor_system(), &protocol_version_def, id, 0, &t, &out, &e), 0);
	json_decref(out);
	err_release(&e);
}

static void only_drafts_can_be_edited(void **state)
{
	struct db *db = *state;
	int64_t study = test_study(db, "PV-EDIT");
	int64_t draft = test_protocol_version(db, study, "1.0", "2024-01-10", NULL);
	int64_t approved = test_protocol_version(db, study, "2.0", "2024-01-10", "2024-01-11");
	int64_t rejected = test_protocol_version(db, study, "3.0", "2024-01-10", NULL);
	struct err e = {0};
	int64_t events;

	test_move_ok(db, &protocol_version_def, rejected, "rejected", "2024-01-11", "no");
	assert_int_equal(test_patch(db, &protocol_version_def, draft,
				    json_pack("{s:s, s:s}", "summary", "Amended", "version_date",
					      "2024-01-12"),
				    &e),
			 0);
	events = test_audit_count(db);
	const int64_t frozen[] = {approved, rejected};
	for (size_t i = 0; i < 2; i++) {
		json_t *before = test_get(db, &protocol_version_def, frozen[i]), *after;
		static const char *const patches[] = {"{\"summary\":\"Changed\"}",
						      "{\"version_date\":\"2024-01-01\"}"};
		for (size_t k = 0; k < 2; k++) {
			e = (struct err){0};
			int rc = test_patch(db, &protocol_version_def, frozen[i],
					    json_loads(patches[k], 0, NULL), &e);
			/* refused as a conflict with the record's state (409) */
			if (rc != CTMS_ECONFLICT && rc != CTMS_ESTATE)
				fail_msg("%s on a %s version gave %s", patches[k],
					 json_str(before, "status"), err_name(rc));
			err_release(&e);
		}
		after = test_get(db, &protocol_version_def, frozen[i]);
		assert_true(json_equal(before, after));
		json_decref(before);
		json_decref(after);
	}
	assert_int_equal(test_audit_count(db), events);
	/* the number is fixed even on a draft */
	e = (struct err){0};
	assert_int_equal(test_patch(db, &protocol_version_def, draft, json_pack("{s:s}", "number", "1.1"),
				    &e),
			 CTMS_EINVAL);
	assert_true(test_err_names(&e, "number"));
	err_release(&e);
}

/* The study's current version: the approved one with the latest version date. */
static void the_current_version_is_the_latest_approved(void **state)
{
	struct db *db = *state;
	int64_t study = test_study(db, "PV-CUR"), other = test_study(db, "PV-OTHER");
	int64_t v1 = test_protocol_version(db, study, "1.0", "2024-01-10", NULL);
	int64_t v2 = test_protocol_version(db, study, "2.0", "2024-06-01", NULL);
	int64_t v15 = test_protocol_version(db, study, "1.5", "2024-03-01", NULL);
	int64_t v3 = test_protocol_version(db, study, "3.0", "2024-09-01", NULL);
	const struct {
		int64_t version;
		const char *to, *on;
		int64_t current; /* 0: none */
		const char *number;
	} steps[] = {
		{0, NULL, NULL, 0, NULL},
		{v1, "approved", "2024-01-15", v1, "1.0"},
		{v2, "approved", "2024-06-05", v2, "2.0"},
		/* approved later, but an older version date */
		{v15, "approved", "2024-07-01", v2, "2.0"},
		{v3, "rejected", "2024-09-05", v2, "2.0"},
	};

	test_protocol_version(db, other, "9.0", "2025-01-01", "2025-01-02");
	for (size_t i = 0; i < sizeof(steps) / sizeof(*steps); i++) {
		json_t *rec, *current;
		if (steps[i].version)
			test_move_ok(db, &protocol_version_def, steps[i].version, steps[i].to, steps[i].on,
				     "reviewed");
		rec = test_get(db, &study_def, study);
		current = json_object_get(rec, "current_protocol_version");
		if (!steps[i].current) {
			assert_true(json_is_null(current));
		} else {
			if (json_int(current, "id", 0) != steps[i].current)
				fail_msg("step %zu: current version is %lld, expected %lld", i,
					 (long long)json_int(current, "id", 0), (long long)steps[i].current);
			assert_string_equal(json_str(current, "number"), steps[i].number);
		}
		json_decref(rec);
		/* each version says whether it is the current one */
		const int64_t all[] = {v1, v2, v15, v3};
		for (size_t k = 0; k < 4; k++) {
			json_t *pv = test_get(db, &protocol_version_def, all[k]);
			assert_int_equal(json_is_true(json_object_get(pv, "current")),
					 all[k] == steps[i].current);
			json_decref(pv);
		}
	}
}

static void approved_lookup_by_number(void **state)
{
	struct db *db = *state;
	int64_t study = test_study(db, "PV-LOOK"), other = test_study(db, "PV-LOOK-2");
	struct err e = {0};

	test_protocol_version(db, study, "1.0", "2024-01-10", "2024-01-11");
	test_protocol_version(db, study, "2.0", "2024-02-10", NULL);
	test_protocol_version(db, other, "3.0", "2024-02-10", "2024-02-11");
	assert_int_equal(protocol_version_approved(db, study, "1.0", &e), 0);
	assert_int_equal(protocol_version_approved(db, study, "2.0", &e), CTMS_ENOTFOUND);
	assert_int_equal(protocol_version_approved(db, study, "3.0", &e), CTMS_ENOTFOUND);
	assert_int_equal(protocol_version_approved(db, study, "1.0 ", &e), CTMS_ENOTFOUND);
	assert_int_equal(e.code, 0);
	err_release(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(creation_starts_a_draft, test_db_setup, test_db_teardown),
		cmocka_unit_test_setup_teardown(creation_refuses_bad_versions, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(numbers_are_unique_within_a_study, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(lifecycle_allows_exactly_its_steps, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(rejection_needs_a_reason, test_db_setup, test_db_teardown),
		cmocka_unit_test_setup_teardown(approval_cannot_predate_the_version, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(approval_needs_a_managers_signature, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(only_drafts_can_be_edited, test_db_setup, test_db_teardown),
		cmocka_unit_test_setup_teardown(the_current_version_is_the_latest_approved, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(approved_lookup_by_number, test_db_setup, test_db_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
