/* Diversity goals and the diversity report (src/domain/diversity.c): goal
 * rules, actual against goal overall and per site, small cells as counts,
 * and the projected final mix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "domain/actor.h"
#include "domain/diversity.h"
#include "domain/study.h"
#include "support.h"
#include "util/json.h"

/* Ready for the next call: err_release keeps the code. */
static void reset(struct err *e)
{
	err_release(e);
	err_init(e);
}

static int create_goal(struct db *db, int64_t study, json_t *input, int64_t *id, struct err *e)
{
	json_t *rec = NULL;
	int rc = record_create(db, actor_system(), &diversity_goal_def, study, input, &rec, e);
	if (id)
		*id = rc ? 0 : json_int(rec, "id", 0);
	json_decref(rec);
	json_decref(input);
	return rc;
}

static void goals_follow_their_rules(void **state)
{
	struct db *db = *state;
	int64_t study = test_study(db, "DIV-1"), other = test_study(db, "DIV-2"), id, audit;
	struct err e = {0};

	assert_int_equal(create_goal(db, study, json_pack("{s:s, s:s, s:i}", "dimension", "sex",
							  "category", "F", "goal_percent", 50), &id, &e), 0);
	assert_int_equal(create_goal(db, study, json_pack("{s:s, s:s, s:i}", "dimension", "age_band",
							  "category", "65-74", "goal_count", 12), NULL, &e),
			 0);
	audit = test_audit_count(db);
	/* a category of another dimension, or none */
	assert_int_equal(create_goal(db, study, json_pack("{s:s, s:s, s:i}", "dimension", "race",
							  "category", "F", "goal_count", 3), NULL, &e),
			 CTMS_EINVAL);
	assert_true(test_err_names(&e, "category"));
	reset(&e);
	assert_int_equal(create_goal(db, study, json_pack("{s:s, s:s, s:i}", "dimension", "height",
							  "category", "F", "goal_count", 3), NULL, &e),
			 CTMS_EINVAL);
	assert_true(test_err_names(&e, "dimension"));
	reset(&e);
	/* exactly one of count and percent */
	assert_int_equal(create_goal(db, study, json_pack("{s:s, s:s}", "dimension", "sex", "category",
							  "M"), NULL, &e),
			 CTMS_EINVAL);
	assert_true(test_err_names(&e, "goal_count"));
	reset(&e);
	assert_int_equal(create_goal(db, study, json_pack("{s:s, s:s, s:i, s:i}", "dimension", "sex",
							  "category", "M", "goal_count", 3, "goal_percent",
							  10), NULL, &e),
			 CTMS_EINVAL);
	reset(&e);
	assert_int_equal(create_goal(db, study, json_pack("{s:s, s:s, s:i}", "dimension", "sex",
							  "category", "M", "goal_percent", 101), NULL, &e),
			 CTMS_EINVAL);
	assert_true(test_err_names(&e, "goal_percent"));
	reset(&e);
	/* one goal per category and study */
	assert_int_equal(create_goal(db, study, json_pack("{s:s, s:s, s:i}", "dimension", "sex",
							  "category", "F", "goal_count", 3), NULL, &e),
			 CTMS_ECONFLICT);
	assert_true(test_err_names(&e, "category"));
	reset(&e);
	assert_int_equal(test_audit_count(db), audit);
	assert_int_equal(create_goal(db, other, json_pack("{s:s, s:s, s:i}", "dimension", "sex",
							  "category", "F", "goal_count", 3), NULL, &e),
			 0);
	/* a goal may switch from percent to count, never its category */
	assert_int_equal(test_patch(db, &diversity_goal_def, id,
				    json_pack("{s:n, s:i}", "goal_percent", "goal_count", 40), &e),
			 0);
	assert_int_equal(test_patch(db, &diversity_goal_def, id, json_pack("{s:s}", "category", "M"),
				    &e),
			 CTMS_EINVAL);
	reset(&e);
	assert_int_equal(test_patch(db, &diversity_goal_def, id, json_pack("{s:n}", "goal_count"), &e),
			 CTMS_EINVAL);
	err_release(&e);
}

static const json_t *find(const json_t *list, const char *key, const char *value)
{
	size_t i;
	json_t *item;
	json_array_foreach(list, i, item)
		if (json_str(item, key) && !strcmp(json_str(item, key), value))
			return item;
	fail_msg("no item with %s = %s", key, value);
	return NULL;
}

/* Site 101 enrolls 8 women early and steadily; site 102, later, 2 men.
 * Target 40. */
static int64_t scenario(struct db *db)
{
	int64_t study = test_study_enrolling(db, "DIV-3");
	struct err e = {0};

	assert_int_equal(test_patch(db, &study_def, study,
				    json_pack("{s:i}", "target_enrollment", 40), &e),
			 0);
	test_study_site_in(db, study, "101", "US", 10);
	test_study_site_in(db, study, "102", "US", 40);
	for (int i = 0; i < 8; i++) {
		char number[16];
		snprintf(number, sizeof(number), "F-%d", i);
		test_subject_at(db, study, "101", number, 20 + 5 * i, 21 + 5 * i, "F",
				i < 6 ? "WHITE" : "BLACK OR AFRICAN AMERICAN", 30 + 5 * i);
	}
	test_subject_at(db, study, "102", "M-0", 50, 52, "M", "ASIAN", 66);
	test_subject_at(db, study, "102", "M-1", 55, 57, "M", NULL, 70);
	test_subject_at(db, study, "102", "X-0", 58, -1, "M", NULL, 70); /* screened only */
	reset(&e);
	return study;
}

static void actual_against_goal_with_small_cells(void **state)
{
	struct db *db = *state;
	int64_t study = scenario(db);
	struct err e = {0};
	json_t *r = NULL;
	char as_of[DATE_LEN];
	const json_t *goal, *cell;

	assert_int_equal(create_goal(db, study, json_pack("{s:s, s:s, s:i}", "dimension", "sex",
							  "category", "M", "goal_percent", 45), NULL, &e),
			 0);
	assert_int_equal(create_goal(db, study, json_pack("{s:s, s:s, s:i}", "dimension", "race",
							  "category", "BLACK OR AFRICAN AMERICAN",
							  "goal_count", 6), NULL, &e),
			 0);
	test_day(70, as_of);
	test_expect_ok(diversity_report(db, study, as_of, &r, &e), &e, "diversity_report");
	assert_int_equal(json_int(r, "enrolled", 0), 10);
	assert_int_equal(json_int(r, "target", 0), 40);

	goal = find(json_object_get(r, "goals"), "category", "M");
	assert_int_equal(json_int(goal, "goal_at_target", 0), 18); /* 45% of 40 */
	assert_int_equal(json_int(goal, "actual_count", 0), 2);
	assert_true(json_is_null(json_object_get(goal, "actual_percent"))); /* 2 < 5 */
	assert_true(json_is_true(json_object_get(goal, "small_cell")));
	assert_int_equal(json_int(goal, "shortfall", 0), 16);
	assert_true(json_number_value(json_object_get(goal, "needed_percent_of_remaining")) == 53.3);
	/* site 101 has 8 enrolled, none male: a count of 0, no percentage */
	cell = find(json_object_get(goal, "sites"), "site_number", "101");
	assert_int_equal(json_int(cell, "count", -1), 0);
	assert_int_equal(json_int(cell, "enrolled", -1), 8);
	assert_true(json_is_null(json_object_get(cell, "percent")));

	/* the study's women: 8 of 10, a percentage */
	cell = find(json_object_get(json_object_get(r, "overall"), "sex"), "category", "F");
	assert_int_equal(json_int(cell, "count", 0), 8);
	assert_true(json_number_value(json_object_get(cell, "percent")) == 80.0);
	cell = find(json_object_get(json_object_get(r, "overall"), "race"), "category", "not_recorded");
	assert_int_equal(json_int(cell, "count", 0), 1);
	/* F-7 (65), M-0 (66), M-1 (70): 3 of 10, a small cell */
	cell = find(json_object_get(json_object_get(r, "overall"), "age_band"), "category", "65-74");
	assert_int_equal(json_int(cell, "count", 0), 3);
	assert_true(json_is_null(json_object_get(cell, "percent")));

	/* the final mix: site 101 recruits fastest and enrolls women, so the
	 * men's share stays far from the goal */
	const json_t *projection = json_object_get(r, "projection");
	assert_true(json_is_true(json_object_get(projection, "available")));
	assert_int_equal(json_int(projection, "remaining", 0), 30);
	double projected = json_number_value(json_object_get(goal, "projected_count"));
	assert_true(projected > 2 && projected < 18);
	assert_true(json_is_false(json_object_get(goal, "on_track")));
	double total = 0;
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(json_object_get(projection, "final_mix"), "sex"), i, c)
		total += json_number_value(json_object_get(c, "count"));
	assert_true(fabs(total - 40) < 0.5);
	json_decref(r);
	err_release(&e);
}

static void a_study_without_enrollment_has_no_projection(void **state)
{
	struct db *db = *state;
	int64_t study = test_study_enrolling(db, "DIV-4");
	struct err e = {0};
	json_t *r = NULL;

	test_study_site_in(db, study, "1", "US", 10);
	test_expect_ok(diversity_report(db, study, NULL, &r, &e), &e, "diversity_report");
	assert_int_equal(json_int(r, "enrolled", -1), 0);
	assert_true(json_is_false(json_object_get(json_object_get(r, "projection"), "available")));
	assert_true(json_is_null(json_object_get(json_object_get(r, "projection"), "final_mix")));
	json_decref(r);
	assert_int_equal(diversity_report(db, 999, NULL, &r, &e), CTMS_ENOTFOUND);
	err_release(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(goals_follow_their_rules, test_db_setup, test_db_teardown),
		cmocka_unit_test_setup_teardown(actual_against_goal_with_small_cells, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(a_study_without_enrollment_has_no_projection,
						test_db_setup, test_db_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
