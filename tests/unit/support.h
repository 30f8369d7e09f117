/* Helpers shared by the unit tests that need a store: an in-memory SQLite
 * database with the schema applied, and builders for the records most tests
 * start from. Every helper fails the running test (cmocka) when a step it
 * expects to succeed does not, naming the step and the error. */
#ifndef CTMS_TEST_SUPPORT_H
#define CTMS_TEST_SUPPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "db/db.h"
#include "domain/record.h"
#include "util/date.h"
#include "util/err.h"

/* Day 0 of most scenarios: 2024-01-01. Later steps are BASE_DAY + n. */
#define BASE_DAY 19723

/* cmocka setup and teardown that put a fresh migrated in-memory database in
 * *state and close it. */
int test_db_setup(void **state);
int test_db_teardown(void **state);

/* Rows of audit_event: the count a refused write must leave unchanged. */
int64_t test_audit_count(struct db *db);

/* True when e carries a field-level message for field. */
bool test_err_names(const struct err *e, const char *field);

/* Fails the test with the error's description when rc is not 0. */
void test_expect_ok(int rc, const struct err *e, const char *what);

/* Writes the date BASE_DAY + offset (or, for test_day_from_today, the
 * latest "today" + offset) as YYYY-MM-DD into out. */
void test_day(int offset, char out[DATE_LEN]);
void test_day_from_today(int offset, char out[DATE_LEN]);

/* Reads a record (new reference); fails the test when absent. */
json_t *test_get(struct db *db, const struct entity_def *def, int64_t id);
/* The record's status, copied into a static buffer valid until the next call. */
const char *test_status(struct db *db, const struct entity_def *def, int64_t id);

/* record_transition with actor_system() and any version; drops the returned
 * record. The caller's e receives the error. */
/* A manager's "approved" signature on a protocol version (the demo
 * manager's, created on first use); test_move signs before approving. */
void test_sign_approval(struct db *db, int64_t protocol_version_id);
int test_move(struct db *db, const struct entity_def *def, int64_t id, const char *to,
	      const char *on, const char *reason, struct err *e);
/* As test_move, but the step must succeed. */
void test_move_ok(struct db *db, const struct entity_def *def, int64_t id, const char *to,
		  const char *on, const char *reason);
/* Moves through each state of the NULL-terminated steps, the first on
 * BASE_DAY + first_offset and each next one a day later. */
void test_walk(struct db *db, const struct entity_def *def, int64_t id, const char *const *steps,
	       int first_offset);

/* A planned study with this protocol number. */
int64_t test_study(struct db *db, const char *protocol_number);
/* A study moved to start_up on BASE_DAY + 1. */
int64_t test_study_started(struct db *db, const char *protocol_number);
/* A study at start_up (BASE_DAY + 1) then enrolling (BASE_DAY + 2). */
int64_t test_study_enrolling(struct db *db, const char *protocol_number);

/* A study-site in state identified, institution "Hospital <site_number>" in DE. */
int64_t test_study_site(struct db *db, int64_t study_id, const char *site_number);
/* A study-site walked from identified to activated, the steps dated
 * BASE_DAY + 10 .. BASE_DAY + 15 (activated on BASE_DAY + 15). The study
 * must be in start_up or enrolling. */
int64_t test_study_site_activated(struct db *db, int64_t study_id, const char *site_number);

/* A study-site in country walked from identified to activated, the steps
 * dated BASE_DAY + first_offset .. + 5 (activated on BASE_DAY + first_offset
 * + 5). */
int64_t test_study_site_in(struct db *db, int64_t study_id, const char *site_number,
			   const char *country, int first_offset);

/* A subject at the site numbered site_number, screened and consented on
 * BASE_DAY + screened, with the given sex, race (NULL for none) and age;
 * enrolled on BASE_DAY + enrolled unless enrolled is negative. */
int64_t test_subject_at(struct db *db, int64_t study_id, const char *site_number,
			const char *screening_number, int screened, int enrolled, const char *sex,
			const char *race, int age);

/* A protocol version dated version_date; approved on approve_on when not NULL. */
int64_t test_protocol_version(struct db *db, int64_t study_id, const char *number,
			      const char *version_date, const char *approve_on);

/* A screened subject (sex F, age 40) at the site numbered site_number,
 * screened on BASE_DAY + 20. */
int64_t test_subject(struct db *db, int64_t study_id, const char *site_number,
		     const char *screening_number);

/* PATCHes the record (any version) with patch (stolen) and drops the
 * result; returns the code. */
int test_patch(struct db *db, const struct entity_def *def, int64_t id, json_t *patch,
	       struct err *e);

/* One row of a lifecycle table: a state, the steps that reach it from the
 * initial state, and the states it may move to. */
struct lifecycle_row {
	const char *state;
	const char *const *path;
	const char *const *allowed;
};

/* For every row and every state of the table as target: makes a fresh
 * record with make(db, n) (n distinct per call), walks it along the row's
 * path (steps dated BASE_DAY + 30, + 31, ...), then attempts the move to the
 * target on BASE_DAY + 60 with a reason. The move must succeed, recording
 * the status and "<target>_on", exactly when the target is allowed; a
 * refusal must be CTMS_ESTATE and leave the record and the audit trail as
 * they were. */
void test_lifecycle(struct db *db, const struct entity_def *def, const struct lifecycle_row *rows,
		    size_t nrows, int64_t (*make)(struct db *db, int n));

#endif
