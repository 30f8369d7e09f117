/* A study's enrollment forecast (src/domain/enrollment_forecast.c and
 * enrollment_forecast_json.c): the model's inputs from the dated records,
 * the target rules, what-ifs, the seed, and answers without NaN. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "domain/actor.h"
#include "domain/enrollment_forecast.h"
#include "domain/study.h"
#include "domain/study_site.h"
#include "domain/subject.h"
#include "support.h"
#include "util/json.h"

/* Ready for the next call: err_release keeps the code. */
static void reset(struct err *e)
{
	err_release(e);
	err_init(e);
}

/* "FC-1", target 100: sites 101 (DE, activated day 15) and 102 (FR,
 * activated day 25) enroll 6 and 3 subjects by day 80; 103 (identified on
 * day 5, planned to activate on day 120), 104 (identified on day 5, planned
 * day 60: overdue as of day 80), 105 (identified on day 5, no plan). */
static int64_t scenario(struct db *db)
{
	int64_t study = test_study_enrolling(db, "FC-1");
	static const char *const numbers[] = {"103", "104", "105"};
	static const int planned[] = {120, 60, -1};
	struct err e = {0};

	test_study_site_in(db, study, "101", "DE", 10);
	test_study_site_in(db, study, "102", "FR", 20);
	for (size_t i = 0; i < 3; i++) {
		char identified[DATE_LEN], plan[DATE_LEN];
		json_t *input, *rec = NULL;
		test_day(5, identified);
		input = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "institution_name", numbers[i],
				  "site_number", numbers[i], "investigator_name", "Dr Test", "country",
				  "IT", "time_zone", "Europe/Rome", "identified_on", identified);
		if (planned[i] >= 0) {
			test_day(planned[i], plan);
			json_object_set_new(input, "planned_activation_on", json_string(plan));
		}
		test_expect_ok(record_create(db, actor_system(), &study_site_def, study, input, &rec, &e),
			       &e, "study-site");
		json_decref(rec);
		json_decref(input);
	}
	for (int i = 0; i < 6; i++) {
		char number[16];
		snprintf(number, sizeof(number), "A-%d", i);
		test_subject_at(db, study, "101", number, 20 + 8 * i, 22 + 8 * i, "F", NULL, 40);
	}
	for (int i = 0; i < 3; i++) {
		char number[16];
		snprintf(number, sizeof(number), "B-%d", i);
		test_subject_at(db, study, "102", number, 30 + 12 * i, 31 + 12 * i, "M", NULL, 60);
	}
	reset(&e);
	return study;
}

static json_t *request_as_of(int offset)
{
	char as_of[DATE_LEN];
	test_day(offset, as_of);
	return json_pack("{s:s}", "as_of", as_of);
}

static const struct enrollment_forecast_site *site(const struct enrollment_forecast *f,
						   const char *label)
{
	for (size_t i = 0; i < f->nsites; i++)
		if (!strcmp(f->sites[i].label, label))
			return &f->sites[i];
	fail_msg("no site %s", label);
	return NULL;
}

static bool warned(const struct enrollment_forecast *f, const char *words)
{
	size_t i;
	json_t *w;
	json_array_foreach(f->warnings, i, w)
		if (strstr(json_string_value(w), words))
			return true;
	return false;
}

static void compute_ok(struct db *db, int64_t study, json_t *request, struct enrollment_forecast *f)
{
	struct err e = {0};
	test_expect_ok(enrollment_forecast_compute(db, study, request, f, &e), &e, "forecast");
	json_decref(request);
	err_release(&e);
}

static void inputs_come_from_the_dated_records(void **state)
{
	struct db *db = *state;
	int64_t study = scenario(db);
	struct enrollment_forecast f;
	const struct enrollment_forecast_site *s;

	compute_ok(db, study, request_as_of(80), &f);
	assert_int_equal(f.enrolled, 9);
	assert_int_equal(f.target, 100);
	assert_false(f.target_given);
	assert_int_equal(f.status, ENROLLMENT_FORECAST_OK);
	s = site(&f, "101");
	assert_string_equal(s->state, "active");
	assert_true(s->input >= 0);
	assert_int_equal(f.inputs[s->input].recruited, 6);
	assert_true(f.inputs[s->input].active_days == 80 - 15 + 1);
	s = site(&f, "103");
	assert_string_equal(s->state, "planned");
	/* opens on day 120: from time 120 - 80 - 1 */
	assert_true(f.inputs[s->input].opens_in_days == 39);
	s = site(&f, "104");
	assert_string_equal(s->state, "overdue");
	assert_true(f.inputs[s->input].opens_in_days == 0);
	assert_true(warned(&f, "planned activation has passed (104)"));
	s = site(&f, "105");
	assert_string_equal(s->state, "not_counted");
	assert_int_equal(s->input, -1);
	assert_true(warned(&f, "without planned_activation_on (105)"));
	assert_int_equal(f.ninputs, 4);
	assert_true(f.has_result && f.result.has_median);
	/* sites opening later: Monte Carlo, seeded */
	assert_int_equal(f.result.method, FORECAST_MONTE_CARLO);
	assert_int_equal(f.nby, 3);
	assert_int_equal(f.by[0], BASE_DAY + 80 + 30);
	enrollment_forecast_release(&f);

	/* as of day 20, site 102 was not activated and 101 had no subject */
	compute_ok(db, study, request_as_of(20), &f);
	assert_int_equal(f.enrolled, 0);
	assert_string_equal(site(&f, "102")->state, "not_counted");
	assert_int_equal(f.result.fit.method, FORECAST_FIT_NO_RECRUITS);
	enrollment_forecast_release(&f);
}

static void target_rules(void **state)
{
	struct db *db = *state;
	int64_t study = scenario(db);
	struct enrollment_forecast f;
	struct err e = {0};
	json_t *request = request_as_of(80);

	json_object_set_new(request, "target", json_integer(9));
	assert_int_equal(enrollment_forecast_compute(db, study, request, &f, &e), CTMS_EINVAL);
	assert_true(test_err_names(&e, "target"));
	enrollment_forecast_release(&f);
	reset(&e);
	json_object_set_new(request, "target", json_integer(10000001));
	assert_int_equal(enrollment_forecast_compute(db, study, request, &f, &e), CTMS_EINVAL);
	assert_true(test_err_names(&e, "target"));
	enrollment_forecast_release(&f);
	reset(&e);
	json_object_set_new(request, "target", json_string("ten"));
	json_object_set_new(request, "colour", json_string("red"));
	assert_int_equal(enrollment_forecast_compute(db, study, request, &f, &e), CTMS_EINVAL);
	assert_true(test_err_names(&e, "target") && test_err_names(&e, "colour"));
	enrollment_forecast_release(&f);
	reset(&e);

	/* the study's own target, already met: an answer, not an error */
	json_object_del(request, "colour");
	json_object_del(request, "target");
	assert_int_equal(test_patch(db, &study_def, study, json_pack("{s:i}", "target_enrollment", 9), &e),
			 0);
	compute_ok(db, study, json_incref(request), &f);
	assert_int_equal(f.status, ENROLLMENT_FORECAST_TARGET_REACHED);
	assert_false(f.has_result);
	json_t *out = enrollment_forecast_json(&f);
	assert_string_equal(json_str(out, "status"), "target_reached");
	assert_true(json_is_null(json_object_get(json_object_get(out, "completion"), "median_on")));
	json_decref(out);
	enrollment_forecast_release(&f);
	json_decref(request);
	err_release(&e);
}

static double median_of(struct db *db, int64_t study, json_t *request)
{
	struct enrollment_forecast f;
	double median;
	compute_ok(db, study, request, &f);
	assert_true(f.result.has_median);
	median = f.result.median;
	enrollment_forecast_release(&f);
	return median;
}

static void what_ifs_move_the_answer(void **state)
{
	struct db *db = *state;
	int64_t study = scenario(db);
	double base = median_of(db, study, request_as_of(80));
	json_t *request;

	/* more sites from day 90: sooner */
	request = request_as_of(80);
	json_object_set_new(request, "open", json_pack("[{s:s, s:i, s:s}]", "label", "new", "count", 5,
						       "on", "2024-03-31"));
	assert_true(median_of(db, study, request) < base);
	/* the unplanned site opening: sooner */
	request = request_as_of(80);
	json_object_set_new(request, "open", json_pack("[{s:s, s:s}]", "site_number", "105", "on",
						       "2024-03-31"));
	assert_true(median_of(db, study, request) < base);
	/* the best site closing: later */
	request = request_as_of(80);
	json_object_set_new(request, "close", json_pack("[{s:s, s:s}]", "site_number", "101", "on",
							"2024-04-10"));
	assert_true(median_of(db, study, request) > base);
}

static void what_if_mistakes_are_named(void **state)
{
	struct db *db = *state;
	int64_t study = scenario(db);
	struct enrollment_forecast f;
	struct err e = {0};
	json_t *request = request_as_of(80);

	json_object_set_new(request, "open",
			    json_pack("[{s:s, s:s}, {s:s, s:s}, {s:s, s:i}, {s:s}, {s:s, s:s}]",
				      "site_number", "101", "on", "2024-06-01", /* active */
				      "site_number", "999", "on", "2024-06-01", /* unknown */
				      "on", "2024-06-01", "count", 0,          /* no sites */
				      "on", "2024-03-01",                      /* before as_of */
				      "site_number", "103", "colour", "red"));
	json_object_set_new(request, "close", json_pack("[{s:s}]", "on", "2024-06-01"));
	json_object_set_new(request, "by", json_pack("[s, s]", "2024-01-10", "not a date"));
	assert_int_equal(enrollment_forecast_compute(db, study, request, &f, &e), CTMS_EINVAL);
	static const char *const fields[] = {"open[0].site_number", "open[1].site_number",
					     "open[2].count",       "open[3].on",
					     "open[4].colour",      "open[4].on",
					     "close[0].site_number", "by[1]"};
	for (size_t i = 0; i < NELEMS(fields); i++)
		if (!test_err_names(&e, fields[i]))
			fail_msg("no error names %s", fields[i]);
	enrollment_forecast_release(&f);
	reset(&e);
	json_decref(request);

	/* at most 10,000 new sites in all */
	request = request_as_of(80);
	json_object_set_new(request, "open", json_pack("[{s:i, s:s}, {s:i, s:s}]", "count", 6000, "on",
						       "2024-06-01", "count", 6000, "on", "2024-07-01"));
	assert_int_equal(enrollment_forecast_compute(db, study, request, &f, &e), CTMS_EINVAL);
	assert_true(test_err_names(&e, "open[1]") && !test_err_names(&e, "open[0]"));
	enrollment_forecast_release(&f);
	reset(&e);
	json_decref(request);

	/* at most 8 dates for expected recruits */
	request = request_as_of(80);
	json_object_set_new(request, "by", json_array());
	for (int i = 0; i < 9; i++)
		json_array_append_new(json_object_get(request, "by"), json_string("2024-06-01"));
	assert_int_equal(enrollment_forecast_compute(db, study, request, &f, &e), CTMS_EINVAL);
	assert_true(test_err_names(&e, "by"));
	assert_int_equal(f.nby, 0);
	enrollment_forecast_release(&f);
	reset(&e);
	json_decref(request);

	/* a date for expected recruits before as_of */
	request = request_as_of(80);
	json_object_set_new(request, "by", json_pack("[s]", "2024-01-10"));
	assert_int_equal(enrollment_forecast_compute(db, study, request, &f, &e), CTMS_EINVAL);
	assert_true(test_err_names(&e, "by[0]"));
	enrollment_forecast_release(&f);
	reset(&e);
	json_decref(request);
}

static void the_same_question_gets_the_same_answer(void **state)
{
	struct db *db = *state;
	int64_t study = scenario(db);
	struct enrollment_forecast a, b;
	json_t *ja, *jb, *request = request_as_of(80);
	char *ta, *tb;

	compute_ok(db, study, json_deep_copy(request), &a);
	compute_ok(db, study, json_deep_copy(request), &b);
	assert_false(a.seed_given);
	assert_true(a.seed == b.seed && a.seed < (UINT64_C(1) << 53));
	ja = enrollment_forecast_json(&a);
	jb = enrollment_forecast_json(&b);
	ta = json_dumps(ja, JSON_SORT_KEYS);
	tb = json_dumps(jb, JSON_SORT_KEYS);
	assert_string_equal(ta, tb);
	free(ta);
	free(tb);
	json_decref(ja);
	json_decref(jb);
	enrollment_forecast_release(&b);

	/* another question, another seed; a given seed is used */
	json_object_set_new(request, "target", json_integer(50));
	compute_ok(db, study, json_deep_copy(request), &b);
	assert_true(b.seed != a.seed);
	enrollment_forecast_release(&b);
	json_object_set_new(request, "seed", json_integer(42));
	compute_ok(db, study, json_deep_copy(request), &b);
	assert_true(b.seed_given && b.seed == 42);
	enrollment_forecast_release(&b);
	enrollment_forecast_release(&a);
	json_decref(request);
}

/* Every number in the answer is finite; dates are dates or null. */
static void assert_clean(const json_t *v)
{
	const char *key;
	json_t *child;
	size_t i;

	if (json_is_real(v))
		assert_true(isfinite(json_real_value(v)));
	if (json_is_object(v))
		json_object_foreach((json_t *)v, key, child) assert_clean(child);
	if (json_is_array(v))
		json_array_foreach(v, i, child) assert_clean(child);
}

static void answers_without_a_forecast(void **state)
{
	struct db *db = *state;
	int64_t study = scenario(db), empty = test_study_enrolling(db, "FC-EMPTY");
	struct enrollment_forecast f;
	struct err e = {0};
	json_t *out;
	char on[DATE_LEN];

	/* no site has been active */
	test_study_site(db, empty, "1");
	compute_ok(db, empty, json_object(), &f);
	assert_int_equal(f.status, ENROLLMENT_FORECAST_NO_DATA);
	out = enrollment_forecast_json(&f);
	assert_clean(out);
	assert_string_equal(json_str(out, "status"), "no_data");
	assert_true(json_array_size(json_object_get(out, "warnings")) >= 1);
	json_decref(out);
	enrollment_forecast_release(&f);

	/* the study stopped enrolling: nobody recruits any more */
	test_day(85, on);
	test_move_ok(db, &study_def, study, "follow_up", on, NULL);
	compute_ok(db, study, json_object(), &f);
	assert_int_equal(f.status, ENROLLMENT_FORECAST_NO_FUTURE_SITES);
	assert_true(warned(&f, "left enrolling on 2024-03-26"));
	out = enrollment_forecast_json(&f);
	assert_clean(out);
	assert_true(json_is_null(json_object_get(json_object_get(out, "completion"), "median_on")));
	json_decref(out);
	enrollment_forecast_release(&f);

	/* before it stopped, a full answer */
	compute_ok(db, study, request_as_of(80), &f);
	out = enrollment_forecast_json(&f);
	assert_clean(out);
	assert_string_equal(json_str(out, "status"), "ok");
	assert_non_null(json_str(json_object_get(out, "completion"), "median_on"));
	assert_int_equal(json_array_size(json_object_get(out, "expected")), 3);
	assert_int_equal(json_array_size(json_object_get(out, "sites")), 5);
	json_decref(out);
	enrollment_forecast_release(&f);
	err_release(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(inputs_come_from_the_dated_records, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(target_rules, test_db_setup, test_db_teardown),
		cmocka_unit_test_setup_teardown(what_ifs_move_the_answer, test_db_setup, test_db_teardown),
		cmocka_unit_test_setup_teardown(what_if_mistakes_are_named, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(the_same_question_gets_the_same_answer, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(answers_without_a_forecast, test_db_setup,
						test_db_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
