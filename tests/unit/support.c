#include "support.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cli/cli.h"
#include "domain/actor.h"
#include "domain/auth.h"
#include "domain/signature.h"
#include "domain/protocol_version.h"
#include "domain/study.h"
#include "domain/study_site.h"
#include "domain/subject.h"
#include "util/json.h"

int test_db_setup(void **state)
{
	struct db *db = NULL;
	struct err e = {0};

	if (db_open(":memory:", &db, &e) || db_migrate(db, &e)) {
		char msg[600];
		err_describe(&e, msg, sizeof(msg));
		print_error("cannot prepare the test database: %s\n", msg);
		err_release(&e);
		db_close(db);
		return -1;
	}
	*state = db;
	return 0;
}

int test_db_teardown(void **state)
{
	db_close(*state);
	*state = NULL;
	return 0;
}

int64_t test_audit_count(struct db *db)
{
	int64_t n = -1;
	assert_int_equal(db_query_int(db, "SELECT count(*) FROM audit_event", &n, 0), 0);
	return n;
}

bool test_err_names(const struct err *e, const char *field)
{
	size_t i;
	json_t *f;

	json_array_foreach(e->fields, i, f) {
		if (!strcmp(json_string_value(json_object_get(f, "field")), field))
			return true;
	}
	return false;
}

void test_expect_ok(int rc, const struct err *e, const char *what)
{
	if (rc) {
		char msg[800];
		err_describe(e, msg, sizeof(msg));
		fail_msg("%s failed with %s: %s", what, err_name(rc), msg);
	}
}

void test_day(int offset, char out[DATE_LEN])
{
	date_format(BASE_DAY + offset, out);
}

void test_day_from_today(int offset, char out[DATE_LEN])
{
	date_format(date_latest_today() + offset, out);
}

json_t *test_get(struct db *db, const struct entity_def *def, int64_t id)
{
	struct err e = {0};
	json_t *rec = NULL;
	int rc = record_get(db, actor_system(), def, id, &rec, &e);

	test_expect_ok(rc, &e, "record_get");
	err_release(&e);
	return rec;
}

const char *test_status(struct db *db, const struct entity_def *def, int64_t id)
{
	static char status[32];
	json_t *rec = test_get(db, def, id);

	snprintf(status, sizeof(status), "%s", json_str(rec, "status") ? json_str(rec, "status") : "");
	json_decref(rec);
	return status;
}

void test_sign_approval(struct db *db, int64_t protocol_version_id)
{
	struct actor *manager = NULL;
	struct err e = {0};
	json_t *sig = NULL;

	test_expect_ok(demo_signer(db, &manager, &e), &e, "the demo manager");
	test_expect_ok(signature_create(db, manager, &protocol_version_def, protocol_version_id,
					"approved", NULL, &sig, &e),
		       &e, "signing the approval");
	json_decref(sig);
	actor_free(manager);
	err_release(&e);
}

int test_move(struct db *db, const struct entity_def *def, int64_t id, const char *to,
	      const char *on, const char *reason, struct err *e)
{
	struct transition t = {to, on, reason};
	json_t *out = NULL;
	/* Approving a protocol version takes a manager's signature first
	 * (test_protocol_version.c shows the refusal without one). */
	if (def == &protocol_version_def && !strcmp(to, "approved")) {
		json_t *pv = NULL;
		struct err ignored = {0};
		if (!record_get(db, actor_system(), def, id, &pv, &ignored) &&
		    !strcmp(json_str(pv, "status"), "draft") &&
		    !signature_by_manager(db, def, pv, "approved"))
			test_sign_approval(db, id);
		json_decref(pv);
		err_release(&ignored);
	}
	int rc = record_transition(db, actor_system(), def, id, 0, &t, &out, e);

	json_decref(out);
	return rc;
}

void test_move_ok(struct db *db, const struct entity_def *def, int64_t id, const char *to,
		  const char *on, const char *reason)
{
	struct err e = {0};
	char what[200];
	int rc = test_move(db, def, id, to, on, reason, &e);

	snprintf(what, sizeof(what), "moving %s %lld to %s on %s", def->name, (long long)id, to, on);
	test_expect_ok(rc, &e, what);
	err_release(&e);
}

void test_walk(struct db *db, const struct entity_def *def, int64_t id, const char *const *steps,
	       int first_offset)
{
	for (int i = 0; steps[i]; i++) {
		char on[DATE_LEN];
		test_day(first_offset + i, on);
		test_move_ok(db, def, id, steps[i], on, "test step");
	}
}

static int64_t create(struct db *db, const struct entity_def *def, int64_t parent, json_t *input)
{
	struct err e = {0};
	json_t *rec = NULL;
	int64_t id;
	int rc;

	assert_non_null(input);
	rc = record_create(db, actor_system(), def, parent, input, &rec, &e);
	test_expect_ok(rc, &e, def->name);
	id = json_int(rec, "id", 0);
	assert_true(id > 0);
	json_decref(rec);
	json_decref(input);
	err_release(&e);
	return id;
}

int64_t test_study(struct db *db, const char *protocol_number)
{
	return create(db, &study_def, 0,
		      json_pack("{s:s, s:s, s:s, s:i}", "protocol_number", protocol_number, "title",
				"A test study", "phase", "PHASE2", "target_enrollment", 100));
}

int64_t test_study_started(struct db *db, const char *protocol_number)
{
	int64_t id = test_study(db, protocol_number);
	static const char *const steps[] = {"start_up", NULL};
	test_walk(db, &study_def, id, steps, 1);
	return id;
}

int64_t test_study_enrolling(struct db *db, const char *protocol_number)
{
	int64_t id = test_study(db, protocol_number);
	static const char *const steps[] = {"start_up", "enrolling", NULL};
	test_walk(db, &study_def, id, steps, 1);
	return id;
}

int64_t test_study_site(struct db *db, int64_t study_id, const char *site_number)
{
	char institution[64];
	snprintf(institution, sizeof(institution), "Hospital %s", site_number);
	return create(db, &study_site_def, study_id,
		      json_pack("{s:s, s:s, s:s, s:s, s:s}", "institution_name", institution,
				"site_number", site_number, "investigator_name", "Dr Test", "country",
				"DE", "time_zone", "Europe/Berlin"));
}

int64_t test_study_site_activated(struct db *db, int64_t study_id, const char *site_number)
{
	static const char *const steps[] = {"feasibility", "selected",  "approved",
					    "contracted",  "initiated", "activated", NULL};
	int64_t id = test_study_site(db, study_id, site_number);
	test_walk(db, &study_site_def, id, steps, 10);
	return id;
}

int64_t test_study_site_in(struct db *db, int64_t study_id, const char *site_number,
			   const char *country, int first_offset)
{
	static const char *const steps[] = {"feasibility", "selected",  "approved",
					    "contracted",  "initiated", "activated", NULL};
	char institution[64];
	int64_t id;

	snprintf(institution, sizeof(institution), "Hospital %s %s", country, site_number);
	id = create(db, &study_site_def, study_id,
		    json_pack("{s:s, s:s, s:s, s:s, s:s}", "institution_name", institution,
			      "site_number", site_number, "investigator_name", "Dr Test", "country",
			      country, "time_zone", "Europe/Paris"));
	test_walk(db, &study_site_def, id, steps, first_offset);
	return id;
}

int64_t test_subject_at(struct db *db, int64_t study_id, const char *site_number,
			const char *screening_number, int screened, int enrolled, const char *sex,
			const char *race, int age)
{
	char screened_on[DATE_LEN], enrolled_on[DATE_LEN];
	json_t *input;
	int64_t id;

	test_day(screened, screened_on);
	input = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s}", "site_number", site_number,
			  "screening_number", screening_number, "sex", sex, "age", age, "screened_on",
			  screened_on, "consented_on", screened_on);
	if (race)
		json_object_set_new(input, "race", json_string(race));
	id = create(db, &subject_def, study_id, input);
	if (enrolled >= 0) {
		test_day(enrolled, enrolled_on);
		test_move_ok(db, &subject_def, id, "enrolled", enrolled_on, NULL);
	}
	return id;
}

int64_t test_protocol_version(struct db *db, int64_t study_id, const char *number,
			      const char *version_date, const char *approve_on)
{
	int64_t id = create(db, &protocol_version_def, study_id,
			    json_pack("{s:s, s:s}", "number", number, "version_date", version_date));
	if (approve_on)
		test_move_ok(db, &protocol_version_def, id, "approved", approve_on, NULL);
	return id;
}

int64_t test_subject(struct db *db, int64_t study_id, const char *site_number,
		     const char *screening_number)
{
	char screened[DATE_LEN];
	test_day(20, screened);
	return create(db, &subject_def, study_id,
		      json_pack("{s:s, s:s, s:s, s:i, s:s}", "site_number", site_number,
				"screening_number", screening_number, "sex", "F", "age", 40,
				"screened_on", screened));
}

int test_patch(struct db *db, const struct entity_def *def, int64_t id, json_t *patch,
	       struct err *e)
{
	json_t *out = NULL;
	int rc;

	assert_non_null(patch);
	rc = record_update(db, actor_system(), def, id, 0, patch, &out, e);
	json_decref(out);
	json_decref(patch);
	return rc;
}

static bool listed(const char *const *list, const char *name)
{
	for (size_t i = 0; list && list[i]; i++)
		if (!strcmp(list[i], name))
			return true;
	return false;
}

void test_lifecycle(struct db *db, const struct entity_def *def, const struct lifecycle_row *rows,
		    size_t nrows, int64_t (*make)(struct db *db, int n))
{
	char on[DATE_LEN];
	int n = 0;

	test_day(60, on);
	for (size_t from = 0; from < nrows; from++) {
		for (size_t to = 0; to < nrows; to++) {
			const char *target = rows[to].state;
			bool legal = listed(rows[from].allowed, target);
			int64_t id = make(db, ++n);
			struct err e = {0};
			json_t *before, *after;
			int64_t events;
			int rc;

			test_walk(db, def, id, rows[from].path, 30);
			before = test_get(db, def, id);
			assert_string_equal(json_str(before, "status"), rows[from].state);
			events = test_audit_count(db);
			rc = test_move(db, def, id, target, on, "a reason", &e);
			after = test_get(db, def, id);
			if (legal) {
				char what[120], field[64];
				snprintf(what, sizeof(what), "%s %s -> %s", def->name, rows[from].state,
					 target);
				test_expect_ok(rc, &e, what);
				assert_string_equal(json_str(after, "status"), target);
				assert_int_equal(json_int(after, "version", 0),
						 json_int(before, "version", 0) + 1);
				assert_true(test_audit_count(db) > events);
				snprintf(field, sizeof(field), "%s_on", target);
				if (record_field(def, field))
					assert_string_equal(json_str(after, field), on);
			} else {
				if (rc != CTMS_ESTATE)
					fail_msg("%s %s -> %s gave %s, expected illegal-transition", def->name,
						 rows[from].state, target, err_name(rc));
				assert_true(json_equal(before, after));
				assert_int_equal(test_audit_count(db), events);
			}
			json_decref(before);
			json_decref(after);
			err_release(&e);
		}
	}
}
