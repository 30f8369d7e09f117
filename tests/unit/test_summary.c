/* A study at a glance (src/domain/summary.c), computed from the records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "domain/study.h"
#include "domain/study_site.h"
#include "domain/subject.h"
#include "domain/summary.h"
#include "support.h"
#include "util/json.h"

static int64_t count_in(json_t *summary, const char *part, const char *status)
{
	json_t *by = json_object_get(json_object_get(summary, part), "by_status");
	json_t *v = json_object_get(by, status);
	if (!json_is_integer(v))
		fail_msg("%s.by_status.%s is missing", part, status);
	return json_integer_value(v);
}

static void counts_subjects_and_sites_by_status(void **state)
{
	struct db *db = *state;
	int64_t study = test_study_enrolling(db, "SUM-1"), other = test_study_enrolling(db, "SUM-2");
	struct err e = {0};
	json_t *s = NULL;
	int64_t ids[6];

	test_study_site_activated(db, study, "101");
	test_study_site(db, study, "102");
	test_study_site_activated(db, other, "101");
	for (int i = 0; i < 6; i++) {
		char number[16];
		snprintf(number, sizeof(number), "S-%d", i);
		ids[i] = test_subject(db, study, "101", number);
		assert_int_equal(test_patch(db, &subject_def, ids[i],
					    json_pack("{s:s}", "consented_on", "2024-01-21"), &e),
				 0);
	}
	test_subject(db, other, "101", "S-0"); /* another study's subject */
	test_move_ok(db, &subject_def, ids[0], "enrolled", "2024-02-01", NULL);
	test_move_ok(db, &subject_def, ids[1], "enrolled", "2024-02-01", NULL);
	test_move_ok(db, &subject_def, ids[2], "enrolled", "2024-02-01", NULL);
	test_move_ok(db, &subject_def, ids[1], "completed", "2024-06-01", NULL);
	test_move_ok(db, &subject_def, ids[2], "withdrawn", "2024-03-01", "moved away");
	test_move_ok(db, &subject_def, ids[3], "screen_failed", "2024-02-01", "criterion 2");

	assert_int_equal(study_summary(db, study, &s, &e), 0);
	assert_string_equal(json_str(s, "protocol_number"), "SUM-1");
	assert_string_equal(json_str(s, "status"), "enrolling");
	assert_int_equal(json_int(json_object_get(s, "subjects"), "total", 0), 6);
	assert_int_equal(count_in(s, "subjects", "screened"), 2);
	assert_int_equal(count_in(s, "subjects", "enrolled"), 1);
	assert_int_equal(count_in(s, "subjects", "completed"), 1);
	assert_int_equal(count_in(s, "subjects", "withdrawn"), 1);
	assert_int_equal(count_in(s, "subjects", "screen_failed"), 1);
	assert_int_equal(json_int(json_object_get(s, "sites"), "total", 0), 2);
	assert_int_equal(count_in(s, "sites", "enrolling"), 1);
	assert_int_equal(count_in(s, "sites", "identified"), 1);
	assert_int_equal(count_in(s, "sites", "closed"), 0);
	/* everyone ever enrolled counts against the target of 100 */
	json_t *enrollment = json_object_get(s, "enrollment");
	assert_int_equal(json_int(enrollment, "enrolled", 0), 3);
	assert_int_equal(json_int(enrollment, "target", 0), 100);
	assert_true(json_real_value(json_object_get(enrollment, "percent_of_target")) == 3.0);
	json_decref(s);
	err_release(&e);
}

static void percent_is_rounded_to_a_tenth(void **state)
{
	struct db *db = *state;
	int64_t study = test_study_enrolling(db, "SUM-3");
	struct err e = {0};
	json_t *s = NULL;

	assert_int_equal(test_patch(db, &study_def, study, json_pack("{s:i}", "target_enrollment", 3), &e),
			 0);
	test_study_site_activated(db, study, "101");
	int64_t id = test_subject(db, study, "101", "S-1");
	assert_int_equal(test_patch(db, &subject_def, id, json_pack("{s:s}", "consented_on", "2024-01-21"),
				    &e),
			 0);
	test_move_ok(db, &subject_def, id, "enrolled", "2024-02-01", NULL);
	assert_int_equal(study_summary(db, study, &s, &e), 0);
	/* 1 of 3 */
	assert_true(json_real_value(json_object_get(json_object_get(s, "enrollment"),
						    "percent_of_target")) == 33.3);
	json_decref(s);
	err_release(&e);
}

static void a_missing_study_is_not_found(void **state)
{
	struct err e = {0};
	json_t *s = (json_t *)1;
	assert_int_equal(study_summary(*state, 42, &s, &e), CTMS_ENOTFOUND);
	assert_null(s);
	err_release(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(counts_subjects_and_sites_by_status, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(percent_is_rounded_to_a_tenth, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(a_missing_study_is_not_found, test_db_setup,
						test_db_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
