/* The hash-chained audit trail (src/domain/audit.c) on an in-memory store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "db/db.h"
#include "domain/actor.h"
#include "domain/audit.h"
#include "domain/study.h"
#include "support.h"
#include "util/json.h"

/* Appends n events to study 1..n in one transaction each. */
static void append_events(struct db *db, int n)
{
	static const struct actor someone = {.id = 7, .name = "Dana Scully", .system = true};
	for (int i = 1; i <= n; i++) {
		struct err e = {0};
		json_t *changes = json_array();
		json_t *v = json_integer(i);
		audit_change(changes, "target_enrollment", NULL, v);
		assert_int_equal(db_begin(db), 0);
		int rc = audit_append(db, i % 2 ? actor_system() : &someone, "study", i,
				      i == 1 ? "create" : "update", changes, i == 3 ? "typo" : NULL, &e);
		test_expect_ok(rc, &e, "audit_append");
		assert_int_equal(db_commit(db), 0);
		json_decref(v);
		json_decref(changes);
		err_release(&e);
	}
}

static void exec_ok(struct db *db, const char *sql)
{
	struct err e = {0};
	test_expect_ok(db_exec(db, sql, &e), &e, sql);
	err_release(&e);
}

/* Runs audit_verify expecting a broken chain at seq; the detail must
 * contain the given words. */
static void expect_broken(struct db *db, int64_t seq, const char *words)
{
	struct err e = {0};
	int64_t count = -1, broken = -1;
	int rc = audit_verify(db, &count, &broken, &e);

	if (rc != CTMS_EINTEGRITY)
		fail_msg("verify gave %s, expected integrity (broken at %lld)", err_name(rc),
			 (long long)seq);
	if (broken != seq)
		fail_msg("verify named event %lld, expected %lld: %s", (long long)broken,
			 (long long)seq, e.detail);
	if (words && !strstr(e.detail, words))
		fail_msg("detail \"%s\" does not say \"%s\"", e.detail, words);
	char seq_text[32];
	snprintf(seq_text, sizeof(seq_text), "event %lld ", (long long)seq);
	assert_non_null(strstr(e.detail, seq_text));
	err_release(&e);
}

static int64_t verified_count(struct db *db)
{
	struct err e = {0};
	int64_t count = -1, broken = -1;
	int rc = audit_verify(db, &count, &broken, &e);

	test_expect_ok(rc, &e, "audit_verify");
	assert_int_equal(broken, 0);
	err_release(&e);
	return count;
}

static void an_empty_trail_verifies(void **state)
{
	struct db *db = *state;
	assert_int_equal(verified_count(db), 0);
}

static void appends_chain_each_event_to_the_one_before(void **state)
{
	struct db *db = *state;
	struct db_stmt *st;
	char prev[80] = "0000000000000000000000000000000000000000000000000000000000000000";
	int64_t expect = 1;

	append_events(db, 5);
	assert_int_equal(verified_count(db), 5);
	assert_int_equal(db_prepare(db, "SELECT seq, prev_hash, hash, actor_id, actor_name, reason"
					" FROM audit_event ORDER BY seq",
				    &st),
			 0);
	while (db_step(st) == 1) {
		assert_int_equal(db_column_int(st, 0), expect);
		assert_string_equal(db_column_text(st, 1), prev);
		assert_int_equal(strlen(db_column_text(st, 2)), 64);
		assert_string_not_equal(db_column_text(st, 2), prev);
		assert_int_equal(db_column_int(st, 3), expect % 2 ? 0 : 7);
		assert_string_equal(db_column_text(st, 4), expect % 2 ? "system" : "Dana Scully");
		if (expect == 3)
			assert_string_equal(db_column_text(st, 5), "typo");
		else
			assert_null(db_column_text(st, 5));
		snprintf(prev, sizeof(prev), "%s", db_column_text(st, 2));
		expect++;
	}
	assert_int_equal(expect, 6);
	/* the head names the last event */
	int64_t head = 0;
	assert_int_equal(db_query_int(db, "SELECT seq FROM audit_head", &head, 0), 0);
	assert_int_equal(head, 5);
}

static void record_writes_are_audited_and_verify(void **state)
{
	struct db *db = *state;
	int64_t a = test_study(db, "AUD-1");
	test_study(db, "AUD-2");
	test_move_ok(db, &study_def, a, "start_up", "2024-03-01", NULL);
	assert_int_equal(verified_count(db), 3);

	json_t *items = NULL;
	int64_t next = -1;
	struct err e = {0};
	struct audit_query q = {.entity = "study", .entity_id = a, .limit = 1};
	assert_int_equal(audit_list(db, &q, &items, &next, &e), 0);
	assert_int_equal(json_array_size(items), 1);
	assert_string_equal(json_str(json_array_get(items, 0), "action"), "create");
	assert_true(next > 0);
	json_decref(items);
	q.after_seq = next;
	assert_int_equal(audit_list(db, &q, &items, &next, &e), 0);
	assert_int_equal(json_array_size(items), 1);
	json_t *ev = json_array_get(items, 0);
	assert_string_equal(json_str(ev, "action"), "transition");
	assert_string_equal(json_str(ev, "actor"), "system");
	assert_int_equal(next, 0);
	/* the change list carries the old and new status */
	json_t *changes = json_object_get(ev, "changes");
	bool saw_status = false;
	for (size_t i = 0; i < json_array_size(changes); i++) {
		json_t *c = json_array_get(changes, i);
		if (!strcmp(json_str(c, "field"), "status")) {
			saw_status = true;
			assert_string_equal(json_str(c, "old"), "planned");
			assert_string_equal(json_str(c, "new"), "start_up");
		}
	}
	assert_true(saw_status);
	json_decref(items);
	err_release(&e);
}

/* (a) an edited column of one event is detected at that event. */
static void an_edited_event_is_named(void **state)
{
	static const struct {
		const char *sql;
		int64_t broken;
		const char *words;
	} edits[] = {
		{"UPDATE audit_event SET changes = '[]' WHERE seq = 2", 2, "altered"},
		{"UPDATE audit_event SET actor_name = 'Mallory' WHERE seq = 2", 2, "altered"},
		{"UPDATE audit_event SET actor_id = 99 WHERE seq = 3", 3, "altered"},
		{"UPDATE audit_event SET at = at + 1 WHERE seq = 1", 1, "altered"},
		{"UPDATE audit_event SET entity_id = 42 WHERE seq = 4", 4, "altered"},
		{"UPDATE audit_event SET entity = 'site' WHERE seq = 2", 2, "altered"},
		{"UPDATE audit_event SET action = 'create' WHERE seq = 2", 2, "altered"},
		{"UPDATE audit_event SET reason = NULL WHERE seq = 3", 3, "altered"},
		{"UPDATE audit_event SET reason = 'because' WHERE seq = 2", 2, "altered"},
		{"UPDATE audit_event SET hash = prev_hash WHERE seq = 2", 2, "altered"},
		{"UPDATE audit_event SET prev_hash = hash WHERE seq = 3", 3, "previous-hash"},
		/* another event's content and hash copied over it do not pass either */
		{"UPDATE audit_event SET hash = (SELECT hash FROM audit_event WHERE seq = 4),"
		 " changes = (SELECT changes FROM audit_event WHERE seq = 4) WHERE seq = 2",
		 2, "altered"},
		{"UPDATE audit_event SET seq = 9 WHERE seq = 4", 9, "gap"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(edits) / sizeof(*edits); i++) {
		void *fresh;
		assert_int_equal(test_db_setup(&fresh), 0);
		struct db *db = fresh;
		append_events(db, 4);
		assert_int_equal(verified_count(db), 4);
		exec_ok(db, "DROP TRIGGER audit_event_no_update");
		exec_ok(db, edits[i].sql);
		assert_int_equal(db_changes(db), 1);
		expect_broken(db, edits[i].broken, edits[i].words);
		test_db_teardown(&fresh);
	}
}

/* (b) a deleted event in the middle shows as a gap at the event after it. */
static void a_deleted_middle_event_is_a_gap(void **state)
{
	struct db *db = *state;
	append_events(db, 5);
	exec_ok(db, "DROP TRIGGER audit_event_no_delete");
	exec_ok(db, "DELETE FROM audit_event WHERE seq = 3");
	expect_broken(db, 4, "gap");
}

static void a_deleted_first_event_is_a_gap(void **state)
{
	struct db *db = *state;
	append_events(db, 3);
	exec_ok(db, "DROP TRIGGER audit_event_no_delete");
	exec_ok(db, "DELETE FROM audit_event WHERE seq = 1");
	expect_broken(db, 2, "gap");
}

/* (c) events deleted from the end no longer reach the recorded head. */
static void deleted_last_events_miss_the_head(void **state)
{
	static const struct {
		const char *sql;
		int64_t broken;
	} cuts[] = {
		{"DELETE FROM audit_event WHERE seq = 5", 5},
		{"DELETE FROM audit_event WHERE seq >= 3", 3},
		{"DELETE FROM audit_event", 1},
		{"DELETE FROM audit_head", 6},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cuts) / sizeof(*cuts); i++) {
		void *fresh;
		assert_int_equal(test_db_setup(&fresh), 0);
		struct db *db = fresh;
		append_events(db, 5);
		exec_ok(db, "DROP TRIGGER audit_event_no_delete");
		exec_ok(db, cuts[i].sql);
		expect_broken(db, cuts[i].broken, "chain head");
		test_db_teardown(&fresh);
	}
}

/* A head moved to another event's seq with a hash that does not match. */
static void a_forged_head_is_detected(void **state)
{
	struct db *db = *state;
	append_events(db, 3);
	exec_ok(db, "UPDATE audit_head SET hash = (SELECT hash FROM audit_event WHERE seq = 2)");
	expect_broken(db, 4, "chain head");
}

/* (d) the store refuses UPDATE and DELETE while the triggers are present. */
static void triggers_refuse_update_and_delete(void **state)
{
	static const char *const attempts[] = {
		"UPDATE audit_event SET changes = '[]' WHERE seq = 2",
		"UPDATE audit_event SET reason = 'x'",
		"DELETE FROM audit_event WHERE seq = 3",
		"DELETE FROM audit_event",
	};
	struct db *db = *state;
	append_events(db, 3);
	for (size_t i = 0; i < sizeof(attempts) / sizeof(*attempts); i++) {
		struct err e = {0};
		int rc = db_exec(db, attempts[i], &e);
		if (rc == 0)
			fail_msg("the store accepted: %s", attempts[i]);
		assert_non_null(strstr(e.detail, "append-only"));
		err_release(&e);
	}
	assert_int_equal(test_audit_count(db), 3);
	assert_int_equal(verified_count(db), 3);
}

/* (e) an event is written only inside the change's transaction. */
static void append_outside_a_transaction_is_refused(void **state)
{
	struct db *db = *state;
	struct err e = {0};
	json_t *changes = json_array();

	assert_false(db_in_transaction(db));
	assert_int_equal(audit_append(db, actor_system(), "study", 1, "create", changes, NULL, &e),
			 CTMS_EDB);
	assert_true(e.detail[0] != '\0');
	assert_int_equal(test_audit_count(db), 0);
	err_release(&e);
	json_decref(changes);
	assert_int_equal(verified_count(db), 0);
}

/* A rolled-back transaction takes its events and the head with it. */
static void rolled_back_events_leave_no_trace(void **state)
{
	struct db *db = *state;
	struct err e = {0};
	json_t *changes = json_array();

	append_events(db, 2);
	assert_int_equal(db_begin(db), 0);
	assert_int_equal(audit_append(db, actor_system(), "study", 1, "update", changes, NULL, &e), 0);
	db_rollback(db);
	assert_int_equal(test_audit_count(db), 2);
	assert_int_equal(verified_count(db), 2);
	append_events(db, 1);
	assert_int_equal(verified_count(db), 3);
	json_decref(changes);
	err_release(&e);
}

/* The changes are stored as json_canonical writes them, whatever the
 * values hold: escapes, non-ASCII, NUL, extreme integers, nested objects
 * with keys that sort by bytes and length, and reals (geo points: which
 * must read as jansson writes them). The chain verifies over the stored
 * text. */
static void stored_changes_are_the_canonical_json(void **state)
{
	struct db *db = *state;
	static const char tricky[] = "q\"b\\s/t\tn\nr\r\x01\x1f\x7f é € \xf0\x9f\x98\x80 end";
	json_t *nested = json_pack("{s:i, s:s, s:n, s:b, s:[i, s, {s:i, s:i}]}", "b", 1, "a", "x",
				   "ab", "", 0, "A", -5, "z", "k", 1, "", 2);
	json_t *values[] = {
		json_string(tricky),
		json_stringn("nul\0inside", 10),
		json_integer(INT64_MIN),
		json_integer(INT64_MAX),
		json_integer(0),
		json_true(),
		json_false(),
		json_null(),
		nested,
		json_real(2.5),
		/* Reals are written by the audit trail's own writer too: each
		 * must come out as jansson writes it (".0", exponents, digits). */
		json_real(44.02163),
		json_real(-92.4699),
		json_real(90.0),
		json_real(-0.0),
		json_real(1e21),
		json_real(1.5e-7),
		json_real(123456789012345678.0),
		json_real(0.1 + 0.2),
		json_pack("[f, {s:f}]", 33.52066, "lon", -86.80249),
	};
	int64_t count, broken;
	struct err e = {0};

	for (size_t i = 0; i < sizeof(values) / sizeof(*values); i++) {
		json_t *changes = json_array();
		struct db_stmt *st;
		char *expected;

		audit_change(changes, i % 2 ? "field" : "f\u00e9ld", i % 3 ? values[i] : NULL, values[i]);
		assert_int_equal(db_begin(db), 0);
		test_expect_ok(audit_append(db, actor_system(), "study", 1, "update", changes, NULL, &e),
			       &e, "audit_append");
		assert_int_equal(db_commit(db), 0);
		expected = json_canonical(changes);
		assert_int_equal(db_prepare(db, "SELECT changes FROM audit_event ORDER BY seq DESC LIMIT 1",
					    &st),
				 0);
		assert_int_equal(db_step(st), 1);
		assert_string_equal(db_column_text(st, 0), expected);
		db_done(st);
		free(expected);
		json_decref(changes);
		json_decref(values[i]);
	}
	test_expect_ok(audit_verify(db, &count, &broken, &e), &e, "audit_verify");
	assert_int_equal(count, (int64_t)(sizeof(values) / sizeof(*values)));
	err_release(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(an_empty_trail_verifies, test_db_setup, test_db_teardown),
		cmocka_unit_test_setup_teardown(appends_chain_each_event_to_the_one_before, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(record_writes_are_audited_and_verify, test_db_setup,
						test_db_teardown),
		cmocka_unit_test(an_edited_event_is_named),
		cmocka_unit_test_setup_teardown(a_deleted_middle_event_is_a_gap, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(a_deleted_first_event_is_a_gap, test_db_setup,
						test_db_teardown),
		cmocka_unit_test(deleted_last_events_miss_the_head),
		cmocka_unit_test_setup_teardown(a_forged_head_is_detected, test_db_setup, test_db_teardown),
		cmocka_unit_test_setup_teardown(triggers_refuse_update_and_delete, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(append_outside_a_transaction_is_refused, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(rolled_back_events_leave_no_trace, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(stored_changes_are_the_canonical_json, test_db_setup,
						test_db_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
