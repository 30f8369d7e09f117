/* Enrollment tracking (src/domain/enrollment.c, enrollment_report.c) and the
 * enrollment plan (enrollment_plan.c): every figure as of a date, from the
 * dated records only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "domain/actor.h"
#include "domain/enrollment.h"
#include "domain/enrollment_plan.h"
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

/* One study, "ENR-1" (day 0 is BASE_DAY, 2024-01-01):
 *   site 101 (DE) activated on day 15, closed on day 90;
 *   site 102 (FR) first dated on day 40, activated on day 45;
 *   site 104 (FR) activated on day 55, never enrolls;
 *   at 101: A screened 20 enrolled 25; B screened 20 enrolled 50;
 *           C screened 22, screen failed 23 ("criterion 2");
 *           D screened 30 enrolled 31, withdrawn 60 ("moved away");
 *           E screened 60 enrolled 70, completed 100;
 *   at 102: F screened 46 enrolled 48. */
static int64_t scenario(struct db *db, int64_t *site101)
{
	int64_t study = test_study_enrolling(db, "ENR-1");
	char on[DATE_LEN];
	int64_t c, d, e;

	*site101 = test_study_site_in(db, study, "101", "DE", 10);
	test_study_site_in(db, study, "102", "FR", 40);
	test_study_site_in(db, study, "104", "FR", 50);
	test_subject_at(db, study, "101", "A", 20, 25, "F", "WHITE", 40);
	test_subject_at(db, study, "101", "B", 20, 50, "M", "ASIAN", 70);
	c = test_subject_at(db, study, "101", "C", 22, -1, "F", NULL, 33);
	d = test_subject_at(db, study, "101", "D", 30, 31, "F", "WHITE", 50);
	e = test_subject_at(db, study, "101", "E", 60, 70, "M", "WHITE", 80);
	test_subject_at(db, study, "102", "F", 46, 48, "F", "BLACK OR AFRICAN AMERICAN", 45);
	test_day(23, on);
	test_move_ok(db, &subject_def, c, "screen_failed", on, "criterion 2");
	test_day(60, on);
	test_move_ok(db, &subject_def, d, "withdrawn", on, "moved away");
	test_day(90, on);
	test_move_ok(db, &study_site_def, *site101, "closed", on, "recruitment ended");
	test_day(100, on);
	test_move_ok(db, &subject_def, e, "completed", on, NULL);
	return study;
}

static json_t *report(struct db *db, int64_t study, int offset, const char *by)
{
	char as_of[DATE_LEN];
	struct err e = {0};
	json_t *r = NULL;

	test_day(offset, as_of);
	test_expect_ok(enrollment_report(db, study, as_of, by, &r, &e), &e, "enrollment_report");
	reset(&e);
	return r;
}

static int64_t member(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_integer(v))
		fail_msg("%s is not an integer", key);
	return json_integer_value(v);
}

static double number(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_number(v))
		fail_msg("%s is not a number", key);
	return json_number_value(v);
}

/* The figures of the site or country group named value. */
static const json_t *group(const json_t *r, const char *key, const char *value)
{
	size_t i;
	json_t *g;
	json_array_foreach(json_object_get(r, "groups"), i, g)
		if (json_str(g, key) && !strcmp(json_str(g, key), value))
			return json_object_get(g, "figures");
	fail_msg("no group %s = %s", key, value);
	return NULL;
}

static const char *group_text(const json_t *r, const char *value, const char *member)
{
	size_t i;
	json_t *g;
	json_array_foreach(json_object_get(r, "groups"), i, g)
		if (json_str(g, "site_number") && !strcmp(json_str(g, "site_number"), value))
			return json_str(g, member);
	fail_msg("no site %s", value);
	return NULL;
}

/* On day 40 only what is dated by then counts: B enrolled on day 50 is
 * still in screening, D's withdrawal on day 60 has not happened, E does not
 * exist yet, site 102 is known but not active, 104 is not known. */
static void figures_as_of_a_past_date(void **state)
{
	struct db *db = *state;
	int64_t site101, study = scenario(db, &site101);
	json_t *r = report(db, study, 40, NULL);
	const json_t *t = json_object_get(r, "totals");
	const json_t *sites = json_object_get(t, "sites");

	assert_string_equal(json_str(r, "as_of"), "2024-02-10");
	assert_string_equal(json_str(r, "first_record_on"), "2024-01-02");
	assert_int_equal(member(t, "screened"), 4);
	assert_int_equal(member(t, "screen_failed"), 1);
	assert_int_equal(member(json_object_get(t, "screen_failures_by_reason"), "criterion 2"), 1);
	assert_int_equal(member(t, "enrolled"), 2);
	assert_int_equal(member(t, "in_screening"), 1);
	assert_int_equal(member(t, "active"), 2);
	assert_int_equal(member(t, "withdrawn"), 0);
	assert_int_equal(json_object_size(json_object_get(t, "withdrawals_by_reason")), 0);
	assert_int_equal(member(sites, "known"), 2);
	assert_int_equal(member(sites, "active"), 1);
	assert_int_equal(member(sites, "not_yet_active"), 1);
	/* site 101: days 15..40 = 26 days, 2 enrolled */
	assert_true(fabs(number(t, "site_months") - 26 / 30.4375) < 0.005);
	assert_true(fabs(number(t, "enrollment_rate_per_site_month") - 2 / (26 / 30.4375)) < 0.0005);
	assert_true(number(t, "median_days_to_first_enrollment") == 10);
	assert_int_equal(member(t, "target"), 100);
	assert_true(number(t, "percent_of_target") == 2.0);
	assert_true(json_is_null(json_object_get(t, "plan")));
	json_decref(r);
}

static void figures_later_by_site_and_country(void **state)
{
	struct db *db = *state;
	int64_t site101, study = scenario(db, &site101);
	json_t *r = report(db, study, 100, "site");
	const json_t *t = json_object_get(r, "totals"), *g;

	assert_int_equal(member(t, "enrolled"), 5);
	assert_int_equal(member(t, "completed"), 1);
	assert_int_equal(member(t, "withdrawn"), 1);
	assert_int_equal(member(t, "active"), 3);
	assert_int_equal(member(json_object_get(t, "withdrawals_by_reason"), "moved away"), 1);
	assert_int_equal(member(json_object_get(t, "sites"), "closed"), 1);
	assert_int_equal(json_array_size(json_object_get(t, "zero_enrollment_sites")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(t, "zero_enrollment_sites"), 0)),
			    "104");
	g = group(r, "site_number", "101");
	assert_string_equal(group_text(r, "101", "state"), "closed");
	assert_string_equal(group_text(r, "101", "closed_on"), "2024-03-31");
	assert_int_equal(member(g, "enrolled"), 4);
	/* days 15..90, closing day counted */
	assert_true(fabs(number(g, "site_months") - 76 / 30.4375) < 0.005);
	g = group(r, "site_number", "102");
	assert_string_equal(group_text(r, "102", "state"), "active");
	assert_string_equal(group_text(r, "102", "country"), "FR");
	assert_true(number(g, "median_days_to_first_enrollment") == 3);
	json_decref(r);

	r = report(db, study, 100, "country");
	assert_int_equal(json_array_size(json_object_get(r, "groups")), 2);
	g = group(r, "country", "FR");
	assert_int_equal(member(g, "enrolled"), 1);
	assert_int_equal(member(json_object_get(g, "sites"), "known"), 2);
	assert_true(json_is_null(json_object_get(g, "target")));
	g = group(r, "country", "DE");
	assert_int_equal(member(g, "enrolled"), 4);
	json_decref(r);
}

static void figures_by_month(void **state)
{
	struct db *db = *state;
	int64_t site101, study = scenario(db, &site101);
	json_t *r = report(db, study, 100, "month");
	json_t *months = json_object_get(r, "groups");
	static const int64_t enrolled[] = {1, 3, 1, 0}, cumulative[] = {1, 4, 5, 5};
	static const int64_t active_sites[] = {1, 3, 2, 2};

	/* January (the study's first record, day 1) to April 10th */
	assert_int_equal(json_array_size(months), 4);
	for (size_t m = 0; m < 4; m++) {
		json_t *g = json_array_get(months, m);
		assert_int_equal(member(g, "enrolled"), enrolled[m]);
		assert_int_equal(member(g, "cumulative_enrolled"), cumulative[m]);
		assert_int_equal(member(g, "active_sites"), active_sites[m]);
	}
	assert_string_equal(json_str(json_array_get(months, 0), "month"), "2024-01");
	assert_string_equal(json_str(json_array_get(months, 3), "through"), "2024-04-10");
	assert_int_equal(member(json_array_get(months, 1), "withdrawn"), 0);
	assert_int_equal(member(json_array_get(months, 2), "withdrawn"), 1);
	assert_int_equal(member(json_array_get(months, 0), "screen_failed"), 1);
	json_decref(r);
}

static void bad_as_of_and_by_are_refused(void **state)
{
	struct db *db = *state;
	int64_t site101, study = scenario(db, &site101);
	char tomorrow[DATE_LEN], before[DATE_LEN];
	struct err e = {0};
	json_t *r = NULL;

	test_day_from_today(1, tomorrow);
	test_day(0, before);
	assert_int_equal(enrollment_report(db, study, tomorrow, NULL, &r, &e), CTMS_EINVAL);
	assert_true(test_err_names(&e, "as_of"));
	reset(&e);
	assert_int_equal(enrollment_report(db, study, before, NULL, &r, &e), CTMS_EINVAL);
	assert_true(test_err_names(&e, "as_of"));
	assert_non_null(strstr(json_string_value(json_object_get(json_array_get(e.fields, 0), "message")),
			       "2024-01-02"));
	reset(&e);
	assert_int_equal(enrollment_report(db, study, "2024-02-30", NULL, &r, &e), CTMS_EINVAL);
	assert_true(test_err_names(&e, "as_of"));
	reset(&e);
	assert_int_equal(enrollment_report(db, study, NULL, "week", &r, &e), CTMS_EINVAL);
	assert_true(test_err_names(&e, "by"));
	reset(&e);
	assert_int_equal(enrollment_report(db, 999, NULL, NULL, &r, &e), CTMS_ENOTFOUND);
	assert_null(r);
	reset(&e);
	/* today is always allowed, even for a study with no dated record */
	int64_t planned = test_study(db, "ENR-EMPTY");
	test_expect_ok(enrollment_report(db, planned, NULL, "month", &r, &e), &e, "report");
	assert_int_equal(member(json_object_get(r, "totals"), "enrolled"), 0);
	json_decref(r);
	err_release(&e);
}

static int64_t plan_point(struct db *db, int64_t study, json_t *input, struct err *e)
{
	json_t *rec = NULL;
	int rc = record_create(db, actor_system(), &enrollment_plan_point_def, study, input, &rec, e);
	int64_t id = rc ? 0 : json_int(rec, "id", 0);
	json_decref(rec);
	json_decref(input);
	return rc ? rc : id;
}

static void plan_points_follow_their_rules(void **state)
{
	struct db *db = *state;
	int64_t site101, study = scenario(db, &site101), other = test_study_enrolling(db, "ENR-2");
	int64_t other_site = test_study_site_in(db, other, "9", "DE", 10);
	int64_t audit;
	struct err e = {0};

	assert_true(plan_point(db, study, json_pack("{s:s, s:i}", "planned_on", "2024-01-15",
						    "target_cumulative", 0), &e) > 0);
	assert_true(plan_point(db, study, json_pack("{s:s, s:i}", "planned_on", "2024-04-15",
						    "target_cumulative", 9), &e) > 0);
	audit = test_audit_count(db);
	/* the same scope and date twice */
	assert_int_equal(plan_point(db, study, json_pack("{s:s, s:i}", "planned_on", "2024-04-15",
							 "target_cumulative", 9), &e),
			 CTMS_ECONFLICT);
	assert_true(test_err_names(&e, "planned_on"));
	reset(&e);
	/* a cumulative plan never falls */
	assert_int_equal(plan_point(db, study, json_pack("{s:s, s:i}", "planned_on", "2024-05-15",
							 "target_cumulative", 8), &e),
			 CTMS_EINVAL);
	assert_true(test_err_names(&e, "target_cumulative"));
	reset(&e);
	assert_int_equal(plan_point(db, study, json_pack("{s:s, s:i}", "planned_on", "2024-02-15",
							 "target_cumulative", 10), &e),
			 CTMS_EINVAL);
	reset(&e);
	/* one scope at a time, and only this study's sites */
	assert_int_equal(plan_point(db, study, json_pack("{s:s, s:i, s:s, s:I}", "planned_on",
							 "2024-02-15", "target_cumulative", 1, "country",
							 "DE", "study_site_id", (json_int_t)site101),
				    &e),
			 CTMS_EINVAL);
	assert_true(test_err_names(&e, "country"));
	reset(&e);
	assert_int_equal(plan_point(db, study, json_pack("{s:s, s:i, s:I}", "planned_on", "2024-02-15",
							 "target_cumulative", 1, "study_site_id",
							 (json_int_t)other_site),
				    &e),
			 CTMS_EINVAL);
	assert_true(test_err_names(&e, "study_site_id"));
	reset(&e);
	assert_int_equal(test_audit_count(db), audit);
	/* another scope may use the same date */
	assert_true(plan_point(db, study, json_pack("{s:s, s:i, s:s}", "planned_on", "2024-04-15",
						    "target_cumulative", 3, "country", "FR"), &e) > 0);
}

static void plan_value_is_linear_between_points(void **state)
{
	struct enrollment_plan_point points[] = {
		{.on = BASE_DAY + 10, .target = 0},
		{.on = BASE_DAY + 40, .target = 30},
		{.on = BASE_DAY + 50, .target = 30},
		{.study_site_id = 7, .on = BASE_DAY + 20, .target = 4},
	};
	struct enrollment_plan p = {NELEMS(points), points};
	double v = -1;

	(void)state;
	assert_true(enrollment_plan_value(&p, 0, NULL, BASE_DAY, &v) && v == 0);
	assert_true(enrollment_plan_value(&p, 0, NULL, BASE_DAY + 25, &v) && v == 15);
	assert_true(enrollment_plan_value(&p, 0, NULL, BASE_DAY + 45, &v) && v == 30);
	assert_true(enrollment_plan_value(&p, 0, NULL, BASE_DAY + 400, &v) && v == 30);
	/* a single point: 0 before it, its target from it on */
	assert_true(enrollment_plan_value(&p, 7, NULL, BASE_DAY + 19, &v) && v == 0);
	assert_true(enrollment_plan_value(&p, 7, NULL, BASE_DAY + 20, &v) && v == 4);
	v = -1;
	assert_false(enrollment_plan_value(&p, 8, NULL, BASE_DAY + 20, &v));
	assert_false(enrollment_plan_value(&p, 0, "DE", BASE_DAY + 20, &v));
	assert_true(v == -1);
}

/* The study's plan is its own points, else the sum of its countries', else
 * the sum of its sites'; a country's is its own, else its sites'. */
static void plan_in_the_report(void **state)
{
	struct db *db = *state;
	int64_t site101, study = scenario(db, &site101);
	struct err e = {0};
	json_t *r;
	const json_t *plan;

	assert_true(plan_point(db, study, json_pack("{s:s, s:i, s:I}", "planned_on", "2024-01-16",
						    "target_cumulative", 0, "study_site_id",
						    (json_int_t)site101), &e) > 0);
	assert_true(plan_point(db, study, json_pack("{s:s, s:i, s:I}", "planned_on", "2024-03-16",
						    "target_cumulative", 6, "study_site_id",
						    (json_int_t)site101), &e) > 0);
	/* day 45 (2024-02-15): site 101 is at 30 of 60 days, 3 planned */
	r = report(db, study, 45, "country");
	plan = json_object_get(json_object_get(r, "totals"), "plan");
	assert_true(number(plan, "planned") == 3);
	assert_int_equal(member(plan, "actual"), 2);
	assert_true(number(plan, "difference") == -1);
	assert_true(fabs(number(plan, "percent_of_plan") - 66.7) < 1e-9);
	assert_true(number(json_object_get(group(r, "country", "DE"), "plan"), "planned") == 3);
	assert_true(json_is_null(json_object_get(group(r, "country", "FR"), "plan")));
	json_decref(r);

	/* a country's own points take over from its sites', and the study sums countries */
	assert_true(plan_point(db, study, json_pack("{s:s, s:i, s:s}", "planned_on", "2024-02-15",
						    "target_cumulative", 5, "country", "DE"), &e) > 0);
	assert_true(plan_point(db, study, json_pack("{s:s, s:i, s:s}", "planned_on", "2024-02-15",
						    "target_cumulative", 2, "country", "FR"), &e) > 0);
	r = report(db, study, 45, NULL);
	assert_true(number(json_object_get(json_object_get(r, "totals"), "plan"), "planned") == 7);
	json_decref(r);
	/* and the study's own points over everything */
	assert_true(plan_point(db, study, json_pack("{s:s, s:i}", "planned_on", "2024-02-15",
						    "target_cumulative", 20), &e) > 0);
	r = report(db, study, 45, "month");
	assert_true(number(json_object_get(json_object_get(r, "totals"), "plan"), "planned") == 20);
	assert_true(number(json_array_get(json_object_get(r, "groups"), 0), "planned_cumulative") == 0);
	json_decref(r);
	err_release(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(figures_as_of_a_past_date, test_db_setup, test_db_teardown),
		cmocka_unit_test_setup_teardown(figures_later_by_site_and_country, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(figures_by_month, test_db_setup, test_db_teardown),
		cmocka_unit_test_setup_teardown(bad_as_of_and_by_are_refused, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(plan_points_follow_their_rules, test_db_setup,
						test_db_teardown),
		cmocka_unit_test(plan_value_is_linear_between_points),
		cmocka_unit_test_setup_teardown(plan_in_the_report, test_db_setup, test_db_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
