/* The visit schedule and subject visits (src/domain/visit.c): SDTM study
 * days, the schedule's rules, the rules of a recorded visit and its derived
 * planned date and window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "domain/actor.h"
#include "domain/subject.h"
#include "domain/visit.h"
#include "support.h"
#include "util/json.h"

/* The subject of most scenarios: screened on BASE_DAY + 20 (2024-01-21),
 * enrolled on BASE_DAY + 30 (2024-01-31) unless enrolled is false. */
#define SCREENED 20
#define ENROLLED 30

static int create(struct db *db, const struct entity_def *def, int64_t parent, json_t *in,
		  json_t **out, struct err *e)
{
	int rc = record_create(db, actor_system(), def, parent, in, out, e);
	json_decref(in);
	return rc;
}

/* Creates a record that must be accepted; answers its id. */
static int64_t create_ok(struct db *db, const struct entity_def *def, int64_t parent, json_t *in)
{
	struct err e = {0};
	json_t *out = NULL;
	int64_t id;

	test_expect_ok(create(db, def, parent, in, &out, &e), &e, def->name);
	id = json_int(out, "id", 0);
	json_decref(out);
	err_release(&e);
	return id;
}

static int64_t definition(struct db *db, int64_t study, const char *number, const char *name,
			  json_int_t day, json_int_t before, json_int_t after)
{
	return create_ok(db, &visit_definition_def, study,
			 json_pack("{s:s, s:s, s:I, s:I, s:I}", "number", number, "name", name,
				   "planned_day", day, "window_before", before, "window_after",
				   after));
}

/* An enrolling study with site 101, a subject (enrolled or only screened)
 * and a schedule modelled on the CDISC pilot's trial visits. */
struct scene {
	int64_t study, subject;
	int64_t screening, baseline, week2, ae_followup;
};

static struct scene scene(struct db *db, const char *protocol, bool enrolled)
{
	struct scene sc = {0};
	char screening_number[40], consented[DATE_LEN], enrolled_on[DATE_LEN];

	sc.study = test_study_enrolling(db, protocol);
	test_study_site_activated(db, sc.study, "101");
	snprintf(screening_number, sizeof(screening_number), "%s-001", protocol);
	sc.subject = test_subject(db, sc.study, "101", screening_number);
	sc.screening = definition(db, sc.study, "1", "SCREENING 1", -7, 7, 0);
	sc.baseline = definition(db, sc.study, "3", "BASELINE", 1, 0, 0);
	sc.week2 = definition(db, sc.study, "4", "WEEK 2", 14, 3, 3);
	sc.ae_followup = create_ok(db, &visit_definition_def, sc.study,
				   json_pack("{s:s, s:s, s:s}", "number", "101", "name",
					     "AE FOLLOW-UP", "kind", "phone"));
	if (enrolled) {
		struct err e = {0};
		test_day(SCREENED, consented);
		test_day(ENROLLED, enrolled_on);
		test_expect_ok(test_patch(db, &subject_def, sc.subject,
					  json_pack("{s:s}", "consented_on", consented), &e),
			       &e, "consent");
		test_move_ok(db, &subject_def, sc.subject, "enrolled", enrolled_on, NULL);
		err_release(&e);
	}
	return sc;
}

/* A visit input: visit_number may be NULL (unscheduled), visit_on is
 * BASE_DAY + offset. */
static json_t *visit_in(const char *number, int offset)
{
	char on[DATE_LEN];
	json_t *in;

	test_day(offset, on);
	in = json_pack("{s:s}", "visit_on", on);
	if (number)
		json_object_set_new(in, "visit_number", json_string(number));
	return in;
}

static void expect_date(const json_t *rec, const char *field, int offset)
{
	char want[DATE_LEN];
	test_day(offset, want);
	if (!json_str(rec, field) || strcmp(json_str(rec, field), want))
		fail_msg("%s is %s, expected %s", field,
			 json_str(rec, field) ? json_str(rec, field) : "null", want);
}

static void expect_no_window(const json_t *rec)
{
	static const char *const derived[] = {"planned_on", "window_from", "window_to", "in_window"};
	for (size_t i = 0; i < NELEMS(derived); i++) {
		json_t *v = json_object_get(rec, derived[i]);
		if (!v || !json_is_null(v))
			fail_msg("%s should be present and null", derived[i]);
	}
}

/* ------------------------------------------------------------ study days */

static void planned_day_counts_from_day_one(void **state)
{
	(void)state;
	const int32_t e = BASE_DAY + 100;
	const struct {
		int64_t day;
		int32_t offset; /* from the enrollment day */
	} cases[] = {
		{1, 0}, {2, 1}, {14, 13}, {168, 167}, {-1, -1},
		{-2, -2}, {-7, -7}, {3650, 3649}, {-3650, -3650},
	};
	for (size_t i = 0; i < NELEMS(cases); i++) {
		int32_t got = visit_planned_day(e, cases[i].day);
		if (got != e + cases[i].offset)
			fail_msg("day %lld is %d days from enrollment, expected %d",
				 (long long)cases[i].day, got - e, cases[i].offset);
	}
	/* days -1 and 1 are consecutive calendar days: there is no day 0 */
	assert_int_equal(visit_planned_day(e, 1) - visit_planned_day(e, -1), 1);
}

static void planned_day_is_calendar_arithmetic(void **state)
{
	(void)state;
	const struct {
		const char *enrolled;
		int64_t day;
		const char *planned;
	} cases[] = {
		{"2024-02-28", 2, "2024-02-29"},  /* leap day */
		{"2024-02-28", 3, "2024-03-01"},
		{"2024-03-01", -1, "2024-02-29"},
		{"2023-03-01", -1, "2023-02-28"},
		{"2024-12-31", 2, "2025-01-01"},
		{"2025-01-01", -1, "2024-12-31"},
		{"2024-06-17", -7, "2024-06-10"},
		{"2024-06-17", 14, "2024-06-30"},
		{"2024-06-17", 182, "2024-12-15"},
		{"2024-01-01", 366, "2024-12-31"},
	};
	for (size_t i = 0; i < NELEMS(cases); i++) {
		int32_t enrolled;
		char got[DATE_LEN];
		assert_int_equal(date_parse(cases[i].enrolled, &enrolled), 0);
		date_format(visit_planned_day(enrolled, cases[i].day), got);
		if (strcmp(got, cases[i].planned))
			fail_msg("day %lld after enrollment on %s is %s, expected %s",
				 (long long)cases[i].day, cases[i].enrolled, got, cases[i].planned);
	}
}

/* ------------------------------------------------------------- schedule */

static void definitions_take_defaults(void **state)
{
	struct db *db = *state;
	int64_t study = test_study(db, "VD-1");
	struct err e = {0};
	json_t *out = NULL;

	assert_int_equal(create(db, &visit_definition_def, study,
				json_pack("{s:s, s:s}", "number", "101", "name", "AE FOLLOW-UP"), &out,
				&e),
			 0);
	assert_int_equal(json_int(out, "study_id", 0), study);
	assert_true(json_is_null(json_object_get(out, "planned_day")));
	assert_int_equal(json_int(out, "window_before", -1), 0);
	assert_int_equal(json_int(out, "window_after", -1), 0);
	assert_string_equal(json_str(out, "kind"), "in_person");
	json_decref(out);

	assert_int_equal(create(db, &visit_definition_def, study,
				json_pack("{s:s, s:s, s:i, s:i, s:s}", "number", "8.1", "name",
					  "WEEK 10 (T)", "planned_day", 70, "window_after", 3, "kind",
					  "phone"),
				&out, &e),
			 0);
	assert_int_equal(json_int(out, "planned_day", 0), 70);
	assert_int_equal(json_int(out, "window_before", -1), 0);
	assert_int_equal(json_int(out, "window_after", -1), 3);
	assert_string_equal(json_str(out, "kind"), "phone");
	json_decref(out);
	err_release(&e);
}

static void refuses_bad_definitions(void **state)
{
	struct db *db = *state;
	int64_t study = test_study(db, "VD-2");
	int64_t events;
	const struct {
		const char *key;
		json_t *value;
		const char *field;
	} cases[] = {
		{"planned_day", json_integer(0), "planned_day"},
		{"planned_day", json_integer(3651), "planned_day"},
		{"planned_day", json_integer(-3651), "planned_day"},
		{"planned_day", json_string("14"), "planned_day"},
		{"window_before", json_integer(-1), "window_before"},
		{"window_before", json_integer(366), "window_before"},
		{"window_after", json_integer(366), "window_after"},
		{"window_before", json_null(), "window_before"},
		{"window_after", json_null(), "window_after"},
		{"kind", json_null(), "kind"},
		{"kind", json_string("video"), "kind"},
		{"number", json_string(""), "number"},
		{"number", json_string("12345678901234567"), "number"},
		{"name", json_null(), "name"},
		{"study_id", json_integer(study), "study_id"},
		{"visitdy", json_integer(14), "visitdy"},
	};

	definition(db, study, "4", "WEEK 2", 14, 3, 3);
	events = test_audit_count(db);
	for (size_t i = 0; i < NELEMS(cases); i++) {
		struct err e = {0};
		json_t *out = NULL;
		json_t *in = json_pack("{s:s, s:s, s:i}", "number", "5", "name", "WEEK 4",
				       "planned_day", 28);
		json_object_set_new(in, cases[i].key, cases[i].value);
		int rc = create(db, &visit_definition_def, study, in, &out, &e);
		if (rc != CTMS_EINVAL || !test_err_names(&e, cases[i].field) ||
		    json_array_size(e.fields) != 1)
			fail_msg("case %zu (%s) gave %s without naming only %s", i, cases[i].key,
				 err_name(rc), cases[i].field);
		assert_null(out);
		assert_int_equal(test_audit_count(db), events);
		err_release(&e);
	}

	/* number: unique within the study, free in another */
	struct err e = {0};
	json_t *out = NULL;
	assert_int_equal(create(db, &visit_definition_def, study,
				json_pack("{s:s, s:s}", "number", "4", "name", "AGAIN"), &out, &e),
			 CTMS_ECONFLICT);
	assert_true(test_err_names(&e, "number"));
	assert_int_equal(test_audit_count(db), events);
	err_release(&e);
	definition(db, test_study(db, "VD-3"), "4", "WEEK 2", 14, 3, 3);

	/* a study that does not exist */
	e = (struct err){0};
	assert_int_equal(create(db, &visit_definition_def, 9999,
				json_pack("{s:s, s:s}", "number", "4", "name", "WEEK 2"), &out, &e),
			 CTMS_ENOTFOUND);
	err_release(&e);
}

static void definition_updates_keep_the_rules(void **state)
{
	struct db *db = *state;
	int64_t study = test_study(db, "VD-4");
	int64_t id = definition(db, study, "4", "WEEK 2", 14, 3, 3);
	int64_t events = test_audit_count(db);
	struct err e = {0};
	json_t *rec;
	const struct {
		json_t *patch;
		const char *fields[3];
	} refused[] = {
		{json_pack("{s:s}", "number", "5"), {"number"}},
		{json_pack("{s:i}", "planned_day", 0), {"planned_day"}},
		{json_pack("{s:n}", "window_after"), {"window_after"}},
		{json_pack("{s:n}", "window_before"), {"window_before"}},
		{json_pack("{s:n, s:n, s:n}", "window_before", "window_after", "kind"),
		 {"window_before", "window_after", "kind"}},
		{json_pack("{s:n}", "name"), {"name"}},
		{json_pack("{s:I}", "study_id", (json_int_t)study), {"study_id"}},
	};

	for (size_t i = 0; i < NELEMS(refused); i++) {
		size_t n = 0;
		assert_int_equal(test_patch(db, &visit_definition_def, id, refused[i].patch, &e),
				 CTMS_EINVAL);
		for (; n < 3 && refused[i].fields[n]; n++)
			if (!test_err_names(&e, refused[i].fields[n]))
				fail_msg("patch %zu does not name %s", i, refused[i].fields[n]);
		if (json_array_size(e.fields) != n)
			fail_msg("patch %zu names %zu fields, expected %zu", i,
				 json_array_size(e.fields), n);
		assert_int_equal(test_audit_count(db), events);
		err_release(&e);
		e = (struct err){0};
	}
	assert_int_equal(test_patch(db, &visit_definition_def, id,
				    json_pack("{s:n, s:i, s:s}", "planned_day", "window_after", 5,
					      "kind", "remote"),
				    &e),
			 0);
	rec = test_get(db, &visit_definition_def, id);
	assert_int_equal(json_int(rec, "version", 0), 2);
	assert_true(json_is_null(json_object_get(rec, "planned_day")));
	assert_int_equal(json_int(rec, "window_after", 0), 5);
	assert_string_equal(json_str(rec, "number"), "4");
	assert_int_equal(test_audit_count(db), events + 1);
	json_decref(rec);
	err_release(&e);
}

/* ---------------------------------------------------------------- visits */

static void scheduled_visits_take_the_definition(void **state)
{
	struct db *db = *state;
	struct scene sc = scene(db, "SV-1", true);
	struct err e = {0};
	json_t *out = NULL;

	/* baseline: day 1 is the enrollment day */
	assert_int_equal(create(db, &subject_visit_def, sc.subject, visit_in("3", ENROLLED), &out, &e),
			 0);
	assert_int_equal(json_int(out, "study_id", 0), sc.study);
	assert_int_equal(json_int(out, "subject_id", 0), sc.subject);
	assert_int_equal(json_int(out, "visit_definition_id", 0), sc.baseline);
	assert_string_equal(json_str(out, "visit_number"), "3");
	assert_string_equal(json_str(out, "name"), "BASELINE");
	assert_string_equal(json_str(out, "kind"), "in_person");
	expect_date(out, "planned_on", ENROLLED);
	expect_date(out, "window_from", ENROLLED);
	expect_date(out, "window_to", ENROLLED);
	assert_true(json_is_true(json_object_get(out, "in_window")));
	json_decref(out);

	/* a name and kind of its own; the definition's kind otherwise */
	json_t *in = visit_in("101", ENROLLED + 5);
	json_object_set_new(in, "name", json_string("AE FOLLOW-UP (headache)"));
	assert_int_equal(create(db, &subject_visit_def, sc.subject, in, &out, &e), 0);
	assert_string_equal(json_str(out, "name"), "AE FOLLOW-UP (headache)");
	assert_string_equal(json_str(out, "kind"), "phone");
	expect_no_window(out); /* no planned day */
	json_decref(out);
	err_release(&e);
}

static void windows_are_inclusive(void **state)
{
	struct db *db = *state;
	struct scene sc = scene(db, "SV-2", true);
	struct err e = {0};
	json_t *rec;
	int64_t id;

	/* SCREENING 1: day -7, window 7 days before it */
	rec = test_get(db, &subject_visit_def,
		       create_ok(db, &subject_visit_def, sc.subject, visit_in("1", ENROLLED - 7)));
	expect_date(rec, "planned_on", ENROLLED - 7);
	expect_date(rec, "window_from", ENROLLED - 14);
	expect_date(rec, "window_to", ENROLLED - 7);
	assert_true(json_is_true(json_object_get(rec, "in_window")));
	json_decref(rec);

	/* WEEK 2: day 14 (enrollment + 13 days), 3 days either side; the one
	 * visit is moved across the window */
	const struct {
		int offset;
		bool in;
	} cases[] = {
		{ENROLLED + 13 - 4, false}, {ENROLLED + 13 - 3, true}, {ENROLLED + 13, true},
		{ENROLLED + 13 + 3, true},  {ENROLLED + 13 + 4, false},
	};
	id = create_ok(db, &subject_visit_def, sc.subject, visit_in("4", cases[0].offset));
	for (size_t i = 0; i < NELEMS(cases); i++) {
		if (i > 0) {
			char on[DATE_LEN];
			test_day(cases[i].offset, on);
			test_expect_ok(test_patch(db, &subject_visit_def, id,
						  json_pack("{s:s}", "visit_on", on), &e),
				       &e, "moving the visit");
		}
		rec = test_get(db, &subject_visit_def, id);
		expect_date(rec, "planned_on", ENROLLED + 13);
		expect_date(rec, "window_from", ENROLLED + 10);
		expect_date(rec, "window_to", ENROLLED + 16);
		if (json_is_true(json_object_get(rec, "in_window")) != cases[i].in)
			fail_msg("case %zu: in_window should be %s", i, cases[i].in ? "true" : "false");
		json_decref(rec);
	}
	err_release(&e);
}

static void the_window_waits_for_enrollment(void **state)
{
	struct db *db = *state;
	struct scene sc = scene(db, "SV-3", false);
	struct err e = {0};
	char consented[DATE_LEN], enrolled[DATE_LEN];
	json_t *out = NULL, *rec;
	int64_t id;

	assert_int_equal(create(db, &subject_visit_def, sc.subject, visit_in("1", SCREENED), &out, &e),
			 0);
	id = json_int(out, "id", 0);
	expect_no_window(out);
	json_decref(out);

	test_day(SCREENED, consented);
	test_day(SCREENED + 20, enrolled);
	assert_int_equal(test_patch(db, &subject_def, sc.subject,
				    json_pack("{s:s}", "consented_on", consented), &e),
			 0);
	test_move_ok(db, &subject_def, sc.subject, "enrolled", enrolled, NULL);
	rec = test_get(db, &subject_visit_def, id);
	assert_int_equal(json_int(rec, "version", 0), 1);
	expect_date(rec, "planned_on", SCREENED + 20 - 7);
	expect_date(rec, "window_from", SCREENED + 20 - 14);
	assert_true(json_is_false(json_object_get(rec, "in_window"))); /* 6 days before the window */
	json_decref(rec);

	/* a wider window in the schedule shows at once, the visit unchanged */
	assert_int_equal(test_patch(db, &visit_definition_def, sc.screening,
				    json_pack("{s:i}", "window_before", 13), &e),
			 0);
	rec = test_get(db, &subject_visit_def, id);
	expect_date(rec, "window_from", SCREENED);
	assert_true(json_is_true(json_object_get(rec, "in_window")));
	assert_int_equal(json_int(rec, "version", 0), 1);
	json_decref(rec);
	err_release(&e);
}

static void unscheduled_visits_need_a_name(void **state)
{
	struct db *db = *state;
	struct scene sc = scene(db, "SV-4", true);
	int64_t events = test_audit_count(db);
	struct err e = {0};
	json_t *out = NULL, *in;

	assert_int_equal(create(db, &subject_visit_def, sc.subject, visit_in(NULL, ENROLLED + 3), &out,
				&e),
			 CTMS_EINVAL);
	assert_true(test_err_names(&e, "name"));
	assert_null(out);
	err_release(&e);
	e = (struct err){0};
	in = visit_in(NULL, ENROLLED + 3);
	json_object_set_new(in, "name", json_string(""));
	assert_int_equal(create(db, &subject_visit_def, sc.subject, in, &out, &e), CTMS_EINVAL);
	assert_true(test_err_names(&e, "name"));
	assert_int_equal(test_audit_count(db), events);
	err_release(&e);

	/* two unscheduled visits the same day are two visits */
	for (int i = 0; i < 2; i++) {
		e = (struct err){0};
		in = visit_in(NULL, ENROLLED + 3);
		json_object_set_new(in, "name", json_string("UNSCHEDULED 1.1"));
		test_expect_ok(create(db, &subject_visit_def, sc.subject, in, &out, &e), &e, "visit");
		assert_true(json_is_null(json_object_get(out, "visit_number")));
		assert_true(json_is_null(json_object_get(out, "visit_definition_id")));
		assert_string_equal(json_str(out, "kind"), "in_person");
		expect_no_window(out);
		json_decref(out);
		err_release(&e);
	}
	assert_int_equal(test_audit_count(db), events + 2);
}

static void refuses_bad_visits(void **state)
{
	char tomorrow[DATE_LEN], before_screening[DATE_LEN], day_before[DATE_LEN];
	struct db *db = *state;
	struct scene sc = scene(db, "SV-5", true);
	struct scene other = scene(db, "SV-6", true);
	int64_t events;

	definition(db, other.study, "X-ONLY", "ELSEWHERE", 5, 0, 0);
	create_ok(db, &subject_visit_def, sc.subject, visit_in("3", ENROLLED));
	events = test_audit_count(db);
	test_day_from_today(2, tomorrow);
	test_day(SCREENED - 1, before_screening);
	test_day(ENROLLED + 12, day_before);
	const struct {
		const char *key;
		json_t *value;
		const char *field;
		int code;
	} cases[] = {
		{"visit_number", json_string("99"), "visit_number", CTMS_EINVAL},
		{"visit_number", json_string("X-ONLY"), "visit_number", CTMS_EINVAL},
		{"visit_number", json_integer(4), "visit_number", CTMS_EINVAL},
		{"visit_number", json_string("3"), "visit_number", CTMS_ECONFLICT},
		{"visit_on", json_string(before_screening), "visit_on", CTMS_EINVAL},
		{"visit_on", json_string(tomorrow), "visit_on", CTMS_EINVAL},
		{"visit_on", json_string("2024-02-30"), "visit_on", CTMS_EINVAL},
		{"visit_on", json_null(), "visit_on", CTMS_EINVAL},
		{"end_on", json_string(day_before), "end_on", CTMS_EINVAL},
		{"kind", json_string("video"), "kind", CTMS_EINVAL},
		{"kind", json_null(), "kind", CTMS_EINVAL},
		{"name", json_string(""), "name", CTMS_EINVAL},
		{"study_id", json_integer(sc.study), "study_id", CTMS_EINVAL},
		{"subject_id", json_integer(sc.subject), "subject_id", CTMS_EINVAL},
		{"visit_definition_id", json_integer(sc.week2), "visit_definition_id", CTMS_EINVAL},
		{"planned_on", json_null(), "planned_on", CTMS_EINVAL},
		{"in_window", json_true(), "in_window", CTMS_EINVAL},
		{"visitdy", json_integer(14), "visitdy", CTMS_EINVAL},
	};
	for (size_t i = 0; i < NELEMS(cases); i++) {
		struct err e = {0};
		json_t *out = NULL, *in = visit_in("4", ENROLLED + 13);
		json_object_set_new(in, cases[i].key, cases[i].value);
		int rc = create(db, &subject_visit_def, sc.subject, in, &out, &e);
		if (rc != cases[i].code || !test_err_names(&e, cases[i].field))
			fail_msg("case %zu (%s) gave %s without naming %s", i, cases[i].key, err_name(rc),
				 cases[i].field);
		assert_null(out);
		assert_int_equal(test_audit_count(db), events);
		err_release(&e);
	}

	/* a subject that does not exist */
	struct err e = {0};
	json_t *out = NULL;
	assert_int_equal(create(db, &subject_visit_def, 9999, visit_in("4", ENROLLED + 13), &out, &e),
			 CTMS_ENOTFOUND);
	assert_int_equal(test_audit_count(db), events);
	err_release(&e);
}

static void visit_updates_keep_the_rules(void **state)
{
	char tomorrow[DATE_LEN], before_screening[DATE_LEN], on[DATE_LEN];
	struct db *db = *state;
	struct scene sc = scene(db, "SV-7", true);
	int64_t id = create_ok(db, &subject_visit_def, sc.subject, visit_in("4", ENROLLED + 13));
	create_ok(db, &subject_visit_def, sc.subject, visit_in("3", ENROLLED));
	int64_t events = test_audit_count(db);
	struct err e = {0};
	json_t *rec, *out = NULL;

	test_day_from_today(2, tomorrow);
	test_day(SCREENED - 1, before_screening);
	test_day(ENROLLED + 12, on);
	const struct {
		json_t *patch;
		const char *field;
	} refused[] = {
		{json_pack("{s:s}", "visit_number", "1"), "visit_number"},
		{json_pack("{s:n}", "visit_number"), "visit_number"},
		{json_pack("{s:I}", "visit_definition_id", (json_int_t)sc.screening), "visit_definition_id"},
		{json_pack("{s:s}", "visit_on", tomorrow), "visit_on"},
		{json_pack("{s:s}", "visit_on", before_screening), "visit_on"},
		{json_pack("{s:s}", "end_on", on), "end_on"},
		{json_pack("{s:n}", "name"), "name"},
		{json_pack("{s:n}", "kind"), "kind"},
		{json_pack("{s:b}", "in_window", 1), "in_window"},
	};
	for (size_t i = 0; i < NELEMS(refused); i++) {
		if (test_patch(db, &subject_visit_def, id, refused[i].patch, &e) != CTMS_EINVAL ||
		    !test_err_names(&e, refused[i].field))
			fail_msg("patch %zu was not refused naming %s", i, refused[i].field);
		assert_int_equal(test_audit_count(db), events);
		err_release(&e);
		e = (struct err){0};
	}
	rec = test_get(db, &subject_visit_def, id);
	assert_int_equal(json_int(rec, "version", 0), 1);
	json_decref(rec);

	/* If-Match: a stale version is refused with the current record */
	json_t *patch = json_pack("{s:s}", "notes", "late");
	assert_int_equal(record_update(db, actor_system(), &subject_visit_def, id, 7, patch, &out, &e),
			 CTMS_ESTALE);
	assert_int_equal(json_int(out, "version", 0), 1);
	assert_non_null(json_object_get(out, "in_window"));
	assert_int_equal(test_audit_count(db), events);
	json_decref(out);
	json_decref(patch);
	err_release(&e);
	e = (struct err){0};

	/* moving the visit keeps it the subject's one WEEK 2 */
	test_day(ENROLLED + 20, on);
	assert_int_equal(test_patch(db, &subject_visit_def, id,
				    json_pack("{s:s, s:s}", "visit_on", on, "change_reason", "typo"), &e),
			 0);
	rec = test_get(db, &subject_visit_def, id);
	assert_int_equal(json_int(rec, "version", 0), 2);
	assert_true(json_is_false(json_object_get(rec, "in_window")));
	json_decref(rec);
	assert_int_equal(test_audit_count(db), events + 1);
	err_release(&e);
}

static void lists_filter_by_definition_and_kind(void **state)
{
	struct db *db = *state;
	struct scene sc = scene(db, "SV-8", true);
	char definition_text[24];
	struct list_filter by_definition = {"visit_definition_id", definition_text};
	struct list_filter by_kind = {"kind", "phone"};
	struct list_filter by_number = {"visit_number", "4"};
	struct list_query q = {.parent_id = sc.subject, .limit = 10, .filters = &by_definition,
			       .nfilters = 1};
	struct err e = {0};
	json_t *items = NULL, *in;
	int64_t next;

	snprintf(definition_text, sizeof(definition_text), "%lld", (long long)sc.week2);
	create_ok(db, &subject_visit_def, sc.subject, visit_in("1", ENROLLED - 7));
	create_ok(db, &subject_visit_def, sc.subject, visit_in("4", ENROLLED + 13));
	create_ok(db, &subject_visit_def, sc.subject, visit_in("101", ENROLLED + 20));
	in = visit_in(NULL, ENROLLED + 21);
	json_object_set_new(in, "name", json_string("UNSCHEDULED"));
	create_ok(db, &subject_visit_def, sc.subject, in);

	assert_int_equal(record_list(db, actor_system(), &subject_visit_def, &q, &items, &next, &e), 0);
	assert_int_equal(json_array_size(items), 1);
	assert_string_equal(json_str(json_array_get(items, 0), "visit_number"), "4");
	/* list items carry the derived fields */
	assert_true(json_is_true(json_object_get(json_array_get(items, 0), "in_window")));
	json_decref(items);

	q.filters = &by_kind;
	assert_int_equal(record_list(db, actor_system(), &subject_visit_def, &q, &items, &next, &e), 0);
	assert_int_equal(json_array_size(items), 1);
	assert_string_equal(json_str(json_array_get(items, 0), "name"), "AE FOLLOW-UP");
	json_decref(items);

	q.nfilters = 0;
	q.limit = 3;
	assert_int_equal(record_list(db, actor_system(), &subject_visit_def, &q, &items, &next, &e), 0);
	assert_int_equal(json_array_size(items), 3);
	assert_true(next > 0);
	json_decref(items);
	q.after_id = next;
	assert_int_equal(record_list(db, actor_system(), &subject_visit_def, &q, &items, &next, &e), 0);
	assert_int_equal(json_array_size(items), 1);
	assert_int_equal(next, 0);
	json_decref(items);

	q.after_id = 0;
	q.filters = &by_number;
	q.nfilters = 1;
	assert_int_equal(record_list(db, actor_system(), &subject_visit_def, &q, &items, &next, &e), CTMS_EINVAL);
	assert_true(test_err_names(&e, "visit_number"));
	err_release(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(planned_day_counts_from_day_one),
		cmocka_unit_test(planned_day_is_calendar_arithmetic),
		cmocka_unit_test_setup_teardown(definitions_take_defaults, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(refuses_bad_definitions, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(definition_updates_keep_the_rules, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(scheduled_visits_take_the_definition, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(windows_are_inclusive, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(the_window_waits_for_enrollment, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(unscheduled_visits_need_a_name, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(refuses_bad_visits, test_db_setup, test_db_teardown),
		cmocka_unit_test_setup_teardown(visit_updates_keep_the_rules, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(lists_filter_by_definition_and_kind, test_db_setup,
						test_db_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
