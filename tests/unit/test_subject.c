/* Subjects (src/domain/subject.c): where and when screening may happen,
 * consent before enrollment, the lifecycle and its reasons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "domain/actor.h"
#include "domain/audit.h"
#include "domain/protocol_version.h"
#include "domain/study.h"
#include "domain/study_site.h"
#include "domain/subject.h"
#include "support.h"
#include "util/json.h"

#define STEPS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NONE ((const char *const[]){NULL})

/* Each test starts with an enrolling study (id 1) whose site "101" was
 * activated on BASE_DAY + 15 (2024-01-16), and an approved protocol
 * version "1.0". */
struct fixture {
	struct db *db;
	int64_t study, site;
};

static int setup(void **state)
{
	static struct fixture f;
	void *db;

	if (test_db_setup(&db))
		return -1;
	f.db = db;
	f.study = test_study_enrolling(f.db, "SUBJ-1");
	f.site = test_study_site_activated(f.db, f.study, "101");
	test_protocol_version(f.db, f.study, "1.0", "2024-01-01", "2024-01-05");
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	db_close(f->db);
	f->db = NULL;
	return 0;
}

/* A valid screening body for site 101, with the given screening number. */
static json_t *screening(const char *number)
{
	return json_pack("{s:s, s:s, s:s, s:i, s:s}", "site_number", "101", "screening_number", number,
			 "sex", "M", "age", 52, "screened_on", "2024-02-01");
}

static int screen(struct fixture *f, json_t *in, json_t **out, struct err *e)
{
	int rc = record_create(f->db, actor_system(), &subject_def, f->study, in, out, e);
	json_decref(in);
	return rc;
}

/* A screened subject with consent recorded on 2024-02-01. */
static int64_t consented_subject(struct fixture *f, const char *number)
{
	struct err e = {0};
	json_t *in = screening(number), *out = NULL;
	int64_t id;

	json_object_set_new(in, "consented_on", json_string("2024-02-01"));
	json_object_set_new(in, "consent_version", json_string("1.0"));
	test_expect_ok(screen(f, in, &out, &e), &e, "screening");
	id = json_int(out, "id", 0);
	json_decref(out);
	err_release(&e);
	return id;
}

static void screening_records_a_subject(void **state)
{
	struct fixture *f = *state;
	int64_t events = test_audit_count(f->db);
	struct err e = {0};
	json_t *in = screening("S-001"), *out = NULL;

	json_object_set_new(in, "race", json_string("ASIAN"));
	json_object_set_new(in, "ethnicity", json_string("NOT HISPANIC OR LATINO"));
	assert_int_equal(screen(f, in, &out, &e), 0);
	assert_string_equal(json_str(out, "status"), "screened");
	assert_int_equal(json_int(out, "study_id", 0), f->study);
	assert_int_equal(json_int(out, "study_site_id", 0), f->site);
	assert_string_equal(json_str(out, "site_number"), "101");
	assert_string_equal(json_str(out, "screened_on"), "2024-02-01");
	assert_string_equal(json_str(out, "age_band"), "18-64");
	assert_true(json_is_null(json_object_get(out, "enrolled_on")));
	assert_int_equal(test_audit_count(f->db), events + 1);
	json_decref(out);
	err_release(&e);
}

static void screening_refuses_bad_subjects(void **state)
{
	char tomorrow[DATE_LEN];
	static const struct {
		const char *key, *value; /* replaces key in a valid body; value NULL: tomorrow */
		const char *field;
	} cases[] = {
		{"site_number", "null", "site_number"},
		{"screening_number", "null", "screening_number"},
		{"sex", "null", "sex"},
		{"age", "null", "age"},
		{"screened_on", "null", "screened_on"},
		{"sex", "\"female\"", "sex"},
		{"race", "\"Asian\"", "race"},
		{"ethnicity", "\"LATINO\"", "ethnicity"},
		{"age", "131", "age"},
		{"age", "-1", "age"},
		{"age", "40.5", "age"},
		{"screened_on", NULL, "screened_on"},
		{"screened_on", "\"2024-01-10\"", "screened_on"}, /* before the site's activation */
		{"consented_on", NULL, "consented_on"},
		{"site_number", "\"999\"", "site_number"},
		{"site_number", "\"555\"", "site_number"}, /* a site of another study */
		{"consent_version", "\"9.9\"", "consent_version"},
		{"consent_version", "\"2.0\"", "consent_version"}, /* a draft */
		{"status", "\"enrolled\"", "status"},
		{"study_site_id", "1", "study_site_id"},
		{"study_id", "1", "study_id"},
		{"enrolled_on", "\"2024-02-02\"", "enrolled_on"},
		{"withdrawal_reason", "\"x\"", "withdrawal_reason"},
		{"screen_failure_reason", "\"x\"", "screen_failure_reason"},
		{"name", "\"Jane Doe\"", "name"},
		{"date_of_birth", "\"1970-01-01\"", "date_of_birth"},
	};
	struct fixture *f = *state;
	int64_t other = test_study_started(f->db, "SUBJ-OTHER");
	int64_t events;

	test_study_site_activated(f->db, other, "555");
	test_protocol_version(f->db, f->study, "2.0", "2024-01-20", NULL);
	events = test_audit_count(f->db);
	test_day_from_today(1, tomorrow);
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct err e = {0};
		json_t *in = screening("S-BAD"), *out = NULL;
		json_t *value = cases[i].value ? json_loads(cases[i].value, JSON_DECODE_ANY, NULL)
					       : json_string(tomorrow);
		int rc;

		assert_non_null(value);
		json_object_set_new(in, cases[i].key, value);
		rc = screen(f, in, &out, &e);
		if (rc != CTMS_EINVAL || !test_err_names(&e, cases[i].field))
			fail_msg("%s = %s gave %s without naming %s", cases[i].key,
				 cases[i].value ? cases[i].value : tomorrow, err_name(rc), cases[i].field);
		assert_null(out);
		assert_int_equal(test_audit_count(f->db), events);
		err_release(&e);
	}
}

static void screening_needs_an_open_site_of_an_enrolling_study(void **state)
{
	struct fixture *f = *state;
	int64_t initiated = test_study_site(f->db, f->study, "102");
	int64_t closed = test_study_site(f->db, f->study, "103");
	int64_t enrolling = test_study_site_activated(f->db, f->study, "104");
	static const char *const up_to_initiated[] = {"feasibility", "selected", "approved",
						      "contracted", "initiated", NULL};
	static const struct {
		const char *site_number;
		int rc;
	} cases[] = {{"102", CTMS_ECONFLICT}, {"103", CTMS_ECONFLICT}, {"104", 0}, {"101", 0}};
	int64_t events;

	test_walk(f->db, &study_site_def, initiated, up_to_initiated, 10);
	test_move_ok(f->db, &study_site_def, closed, "closed", "2024-01-20", "declined");
	test_move_ok(f->db, &study_site_def, enrolling, "enrolling", "2024-01-20", NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct err e = {0};
		json_t *in = screening(cases[i].site_number), *out = NULL;
		int rc;

		events = test_audit_count(f->db);
		json_object_set_new(in, "site_number", json_string(cases[i].site_number));
		rc = screen(f, in, &out, &e);
		if (rc != cases[i].rc)
			fail_msg("screening at site %s gave %s", cases[i].site_number, err_name(rc));
		assert_int_equal(test_audit_count(f->db), events + (rc ? 0 : 1));
		json_decref(out);
		err_release(&e);
	}
	(void)initiated;

	/* a study that is not enrolling (yet, or any more) screens nobody */
	int64_t starting = test_study_started(f->db, "SUBJ-START");
	test_study_site_activated(f->db, starting, "101");
	int64_t finished = test_study_enrolling(f->db, "SUBJ-FU");
	test_study_site_activated(f->db, finished, "101");
	test_move_ok(f->db, &study_def, finished, "follow_up", "2024-06-01", NULL);
	const int64_t studies[] = {starting, finished};
	for (size_t i = 0; i < 2; i++) {
		struct err e = {0};
		json_t *out = NULL, *in = screening("S-X");
		events = test_audit_count(f->db);
		assert_int_equal(record_create(f->db, actor_system(), &subject_def, studies[i], in, &out,
					       &e),
				 CTMS_ECONFLICT);
		json_decref(in);
		assert_non_null(strstr(e.detail, "enrolling"));
		assert_null(out);
		assert_int_equal(test_audit_count(f->db), events);
		err_release(&e);
	}
}

static void screening_numbers_are_unique_within_a_study(void **state)
{
	struct fixture *f = *state;
	struct err e = {0};
	json_t *out = NULL;
	int64_t other = test_study_enrolling(f->db, "SUBJ-2"), events;

	test_study_site_activated(f->db, other, "101");
	consented_subject(f, "S-001");
	events = test_audit_count(f->db);
	assert_int_equal(screen(f, screening("S-001"), &out, &e), CTMS_ECONFLICT);
	assert_true(test_err_names(&e, "screening_number"));
	assert_null(out);
	assert_int_equal(test_audit_count(f->db), events);
	err_release(&e);
	e = (struct err){0};
	/* the same number in another study */
	json_t *in = screening("S-001");
	assert_int_equal(record_create(f->db, actor_system(), &subject_def, other, in, &out, &e), 0);
	json_decref(out);
	json_decref(in);
	/* subject numbers, once given, are unique too */
	int64_t a = consented_subject(f, "S-002"), b = consented_subject(f, "S-003");
	assert_int_equal(test_patch(f->db, &subject_def, a, json_pack("{s:s}", "subject_number", "R-1"),
				    &e),
			 0);
	events = test_audit_count(f->db);
	assert_int_equal(test_patch(f->db, &subject_def, b, json_pack("{s:s}", "subject_number", "R-1"),
				    &e),
			 CTMS_ECONFLICT);
	assert_true(test_err_names(&e, "subject_number"));
	assert_int_equal(test_audit_count(f->db), events);
	err_release(&e);
}

static void enrollment_needs_consent_first(void **state)
{
	struct fixture *f = *state;
	struct err e = {0};
	json_t *out = NULL;
	int64_t id, events;

	assert_int_equal(screen(f, screening("S-001"), &out, &e), 0);
	id = json_int(out, "id", 0);
	json_decref(out);
	events = test_audit_count(f->db);

	/* no consent recorded */
	assert_int_equal(test_move(f->db, &subject_def, id, "enrolled", "2024-02-10", NULL, &e),
			 CTMS_EINVAL);
	assert_true(test_err_names(&e, "consented_on"));
	err_release(&e);
	e = (struct err){0};
	/* consent after the enrollment date */
	assert_int_equal(test_patch(f->db, &subject_def, id,
				    json_pack("{s:s}", "consented_on", "2024-02-12"), &e),
			 0);
	events = test_audit_count(f->db);
	assert_int_equal(test_move(f->db, &subject_def, id, "enrolled", "2024-02-10", NULL, &e),
			 CTMS_EINVAL);
	assert_true(test_err_names(&e, "on"));
	assert_string_equal(test_status(f->db, &subject_def, id), "screened");
	assert_string_equal(test_status(f->db, &study_site_def, f->site), "activated");
	assert_int_equal(test_audit_count(f->db), events);
	err_release(&e);
	/* consent on the day of enrollment is fine */
	test_move_ok(f->db, &subject_def, id, "enrolled", "2024-02-12", NULL);
	e = (struct err){0};
	/* and cannot then move after the enrollment */
	events = test_audit_count(f->db);
	assert_int_equal(test_patch(f->db, &subject_def, id,
				    json_pack("{s:s}", "consented_on", "2024-02-13"), &e),
			 CTMS_EINVAL);
	assert_true(test_err_names(&e, "consented_on"));
	assert_int_equal(test_audit_count(f->db), events);
	err_release(&e);
}

static void consent_cannot_be_erased_after_enrollment(void **state)
{
	struct fixture *f = *state;
	struct err e = {0};
	int64_t id = consented_subject(f, "S-001"), events;
	json_t *rec;

	test_move_ok(f->db, &subject_def, id, "enrolled", "2024-02-10", NULL);
	events = test_audit_count(f->db);
	assert_int_equal(test_patch(f->db, &subject_def, id, json_pack("{s:n}", "consented_on"), &e),
			 CTMS_EINVAL);
	assert_true(test_err_names(&e, "consented_on"));
	assert_int_equal(test_audit_count(f->db), events);
	rec = test_get(f->db, &subject_def, id);
	assert_string_equal(json_str(rec, "consented_on"), "2024-02-01");
	json_decref(rec);
	err_release(&e);
}

static void first_enrollment_opens_the_site(void **state)
{
	struct fixture *f = *state;
	int64_t first = consented_subject(f, "S-001"), second = consented_subject(f, "S-002");
	int64_t events = test_audit_count(f->db);
	struct audit_query q = {.entity = "study_site", .entity_id = f->site, .limit = 100};
	struct err e = {0};
	json_t *site, *items = NULL, *last;
	int64_t next;

	test_move_ok(f->db, &subject_def, first, "enrolled", "2024-02-10", NULL);
	/* the subject's event and the site's own */
	assert_int_equal(test_audit_count(f->db), events + 2);
	site = test_get(f->db, &study_site_def, f->site);
	assert_string_equal(json_str(site, "status"), "enrolling");
	assert_string_equal(json_str(site, "enrolling_on"), "2024-02-10");
	json_decref(site);
	assert_int_equal(audit_list(f->db, &q, &items, &next, &e), 0);
	last = json_array_get(items, json_array_size(items) - 1);
	assert_string_equal(json_str(last, "action"), "transition");
	assert_non_null(json_str(last, "reason"));
	json_decref(items);

	/* later enrollments leave the site alone */
	events = test_audit_count(f->db);
	test_move_ok(f->db, &subject_def, second, "enrolled", "2024-02-11", NULL);
	assert_int_equal(test_audit_count(f->db), events + 1);
	site = test_get(f->db, &study_site_def, f->site);
	assert_string_equal(json_str(site, "enrolling_on"), "2024-02-10");
	json_decref(site);
	err_release(&e);
}

static void enrollment_ends_with_the_study_enrolling(void **state)
{
	struct fixture *f = *state;
	int64_t open_site = test_study_site_activated(f->db, f->study, "104");
	int64_t at_activated, at_enrolling, events;
	struct err e = {0};
	json_t *in, *out = NULL;

	test_move_ok(f->db, &study_site_def, open_site, "enrolling", "2024-01-20", NULL);
	at_activated = consented_subject(f, "S-001");
	in = screening("S-002");
	json_object_set_new(in, "site_number", json_string("104"));
	json_object_set_new(in, "consented_on", json_string("2024-02-01"));
	test_expect_ok(screen(f, in, &out, &e), &e, "screening at 104");
	at_enrolling = json_int(out, "id", 0);
	json_decref(out);
	test_move_ok(f->db, &study_def, f->study, "follow_up", "2024-02-05", NULL);

	/* at an activated site: refused, and the refusal takes the whole step
	 * back, the site's move included */
	events = test_audit_count(f->db);
	assert_int_equal(test_move(f->db, &subject_def, at_activated, "enrolled", "2024-02-10", NULL, &e),
			 CTMS_ECONFLICT);
	assert_string_equal(test_status(f->db, &subject_def, at_activated), "screened");
	assert_string_equal(test_status(f->db, &study_site_def, f->site), "activated");
	assert_int_equal(test_audit_count(f->db), events);
	err_release(&e);

	/* at a site already enrolling: refused too */
	e = (struct err){0};
	assert_int_equal(test_move(f->db, &subject_def, at_enrolling, "enrolled", "2024-02-10", NULL, &e),
			 CTMS_ECONFLICT);
	assert_non_null(strstr(e.detail, "follow_up"));
	assert_string_equal(test_status(f->db, &subject_def, at_enrolling), "screened");
	assert_int_equal(test_audit_count(f->db), events);
	err_release(&e);
}

static void a_closed_site_enrolls_nobody(void **state)
{
	struct fixture *f = *state;
	int64_t id = consented_subject(f, "S-001"), events;
	struct err e = {0};

	test_move_ok(f->db, &study_site_def, f->site, "closed", "2024-02-06", "site closed");
	events = test_audit_count(f->db);
	assert_int_equal(test_move(f->db, &subject_def, id, "enrolled", "2024-02-10", NULL, &e),
			 CTMS_ECONFLICT);
	assert_string_equal(test_status(f->db, &subject_def, id), "screened");
	assert_int_equal(test_audit_count(f->db), events);
	err_release(&e);
}

static void consent_version_must_be_an_approved_version(void **state)
{
	struct fixture *f = *state;
	int64_t draft = test_protocol_version(f->db, f->study, "2.0", "2024-01-20", NULL);
	int64_t rejected = test_protocol_version(f->db, f->study, "3.0", "2024-01-21", NULL);
	int64_t other = test_study(f->db, "SUBJ-PV");
	int64_t id = consented_subject(f, "S-001"), events;
	static const char *const refused[] = {"2.0", "3.0", "4.0", "1.0 "};

	test_protocol_version(f->db, other, "4.0", "2024-01-01", "2024-01-02");
	test_move_ok(f->db, &protocol_version_def, rejected, "rejected", "2024-01-22", "wrong");
	events = test_audit_count(f->db);
	for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
		struct err e = {0};
		int rc = test_patch(f->db, &subject_def, id,
				    json_pack("{s:s}", "consent_version", refused[i]), &e);
		if (rc != CTMS_EINVAL || !test_err_names(&e, "consent_version"))
			fail_msg("consent_version %s gave %s", refused[i], err_name(rc));
		assert_int_equal(test_audit_count(f->db), events);
		err_release(&e);
	}
	/* once approved, the version can be named */
	test_move_ok(f->db, &protocol_version_def, draft, "approved", "2024-01-25", NULL);
	struct err e = {0};
	assert_int_equal(test_patch(f->db, &subject_def, id, json_pack("{s:s}", "consent_version", "2.0"),
				    &e),
			 0);
	err_release(&e);
}

static int64_t lifecycle_study;

static int64_t fresh_subject(struct db *db, int n)
{
	char number[16];
	struct err e = {0};
	json_t *in, *out = NULL;
	int64_t id;

	snprintf(number, sizeof(number), "LC-%d", n);
	in = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s}", "site_number", "101", "screening_number",
		       number, "sex", "U", "age", 70, "screened_on", "2024-01-20", "consented_on",
		       "2024-01-20");
	test_expect_ok(record_create(db, actor_system(), &subject_def, lifecycle_study, in, &out, &e),
		       &e, "screening");
	id = json_int(out, "id", 0);
	json_decref(out);
	json_decref(in);
	err_release(&e);
	return id;
}

static void lifecycle_allows_exactly_its_steps(void **state)
{
	const struct lifecycle_row rows[] = {
		{"screened", NONE, STEPS("screen_failed", "enrolled")},
		{"screen_failed", STEPS("screen_failed"), NONE},
		{"enrolled", STEPS("enrolled"), STEPS("completed", "withdrawn")},
		{"completed", STEPS("enrolled", "completed"), NONE},
		{"withdrawn", STEPS("enrolled", "withdrawn"), NONE},
	};
	struct fixture *f = *state;
	lifecycle_study = f->study;
	test_lifecycle(f->db, &subject_def, rows, sizeof(rows) / sizeof(*rows), fresh_subject);
}

static void leaving_early_needs_a_reason(void **state)
{
	const struct {
		const char *const *path;
		const char *to, *reason_field;
	} cases[] = {
		{NONE, "screen_failed", "screen_failure_reason"},
		{STEPS("enrolled"), "withdrawn", "withdrawal_reason"},
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char number[16];
		snprintf(number, sizeof(number), "R-%zu", i);
		int64_t id = consented_subject(f, number), events;
		struct err e = {0};
		json_t *rec;

		test_walk(f->db, &subject_def, id, cases[i].path, 40);
		events = test_audit_count(f->db);
		assert_int_equal(test_move(f->db, &subject_def, id, cases[i].to, "2024-03-01", NULL, &e),
				 CTMS_EINVAL);
		assert_true(test_err_names(&e, "reason"));
		assert_int_equal(test_audit_count(f->db), events);
		err_release(&e);
		e = (struct err){0};
		assert_int_equal(test_move(f->db, &subject_def, id, cases[i].to, "2024-03-01", "", &e),
				 CTMS_EINVAL);
		err_release(&e);
		test_move_ok(f->db, &subject_def, id, cases[i].to, "2024-03-01", "inclusion criterion 3");
		rec = test_get(f->db, &subject_def, id);
		assert_string_equal(json_str(rec, cases[i].reason_field), "inclusion criterion 3");
		assert_string_equal(json_str(rec, "status_reason"), "inclusion criterion 3");
		json_decref(rec);
	}
}

static void steps_do_not_precede_screening(void **state)
{
	struct fixture *f = *state;
	int64_t id = consented_subject(f, "S-001"), events = test_audit_count(f->db);
	struct err e = {0};

	assert_int_equal(test_move(f->db, &subject_def, id, "screen_failed", "2024-01-31", "x", &e),
			 CTMS_EINVAL);
	assert_true(test_err_names(&e, "on"));
	assert_int_equal(test_audit_count(f->db), events);
	err_release(&e);
}

static void identity_fields_are_fixed(void **state)
{
	static const struct {
		const char *patch, *field;
	} refused[] = {
		{"{\"site_number\":\"102\"}", "site_number"},
		{"{\"screening_number\":\"S-9\"}", "screening_number"},
		{"{\"screened_on\":\"2024-02-02\"}", "screened_on"},
		{"{\"study_site_id\":1}", "study_site_id"},
		{"{\"age_band\":\"85+\"}", "age_band"},
	};
	struct fixture *f = *state;
	int64_t id = consented_subject(f, "S-001"), events = test_audit_count(f->db);

	for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
		struct err e = {0};
		if (test_patch(f->db, &subject_def, id, json_loads(refused[i].patch, 0, NULL), &e) !=
			    CTMS_EINVAL ||
		    !test_err_names(&e, refused[i].field))
			fail_msg("%s was not refused naming %s", refused[i].patch, refused[i].field);
		assert_int_equal(test_audit_count(f->db), events);
		err_release(&e);
	}
}

static void age_bands_follow_the_fda_groups(void **state)
{
	static const struct {
		int64_t age;
		const char *band;
	} cases[] = {
		{0, "0-17"},   {17, "0-17"},   {18, "18-64"},  {64, "18-64"}, {65, "65-74"},
		{74, "65-74"}, {75, "75-84"}, {84, "75-84"}, {85, "85+"},  {130, "85+"},
	};
	struct fixture *f = *state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		if (strcmp(subject_age_band(cases[i].age), cases[i].band))
			fail_msg("age %lld is in band %s, expected %s", (long long)cases[i].age,
				 subject_age_band(cases[i].age), cases[i].band);
	}
	/* rendered on every read */
	int64_t id = consented_subject(f, "S-001");
	struct err e = {0};
	json_t *rec;
	assert_int_equal(test_patch(f->db, &subject_def, id, json_pack("{s:i}", "age", 85), &e), 0);
	rec = test_get(f->db, &subject_def, id);
	assert_string_equal(json_str(rec, "age_band"), "85+");
	json_decref(rec);
	err_release(&e);
}

static void lists_filter_subjects(void **state)
{
	struct fixture *f = *state;
	struct list_filter by_status = {"status", "enrolled"}, by_age = {"age", "52"};
	struct list_query q = {.parent_id = f->study, .limit = 10, .filters = &by_status, .nfilters = 1};
	struct err e = {0};
	json_t *items = NULL;
	int64_t next;

	int64_t a = consented_subject(f, "S-001");
	consented_subject(f, "S-002");
	test_move_ok(f->db, &subject_def, a, "enrolled", "2024-02-10", NULL);
	assert_int_equal(record_list(f->db, actor_system(), &subject_def, &q, &items, &next, &e), 0);
	assert_int_equal(json_array_size(items), 1);
	assert_int_equal(json_int(json_array_get(items, 0), "id", 0), a);
	assert_string_equal(json_str(json_array_get(items, 0), "age_band"), "18-64");
	json_decref(items);
	q.filters = &by_age;
	assert_int_equal(record_list(f->db, actor_system(), &subject_def, &q, &items, &next, &e), CTMS_EINVAL);
	assert_true(test_err_names(&e, "age"));
	err_release(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(screening_records_a_subject, setup, teardown),
		cmocka_unit_test_setup_teardown(screening_refuses_bad_subjects, setup, teardown),
		cmocka_unit_test_setup_teardown(screening_needs_an_open_site_of_an_enrolling_study, setup,
						teardown),
		cmocka_unit_test_setup_teardown(screening_numbers_are_unique_within_a_study, setup,
						teardown),
		cmocka_unit_test_setup_teardown(enrollment_needs_consent_first, setup, teardown),
		cmocka_unit_test_setup_teardown(consent_cannot_be_erased_after_enrollment, setup, teardown),
		cmocka_unit_test_setup_teardown(first_enrollment_opens_the_site, setup, teardown),
		cmocka_unit_test_setup_teardown(enrollment_ends_with_the_study_enrolling, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_closed_site_enrolls_nobody, setup, teardown),
		cmocka_unit_test_setup_teardown(consent_version_must_be_an_approved_version, setup,
						teardown),
		cmocka_unit_test_setup_teardown(lifecycle_allows_exactly_its_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(leaving_early_needs_a_reason, setup, teardown),
		cmocka_unit_test_setup_teardown(steps_do_not_precede_screening, setup, teardown),
		cmocka_unit_test_setup_teardown(identity_fields_are_fixed, setup, teardown),
		cmocka_unit_test_setup_teardown(age_bands_follow_the_fda_groups, setup, teardown),
		cmocka_unit_test_setup_teardown(lists_filter_subjects, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
