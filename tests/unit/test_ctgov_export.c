/* The code tables of the study exports (src/io/ctgov_export.c,
 * src/io/fhir.c) and the Excel writer's limits (src/io/xlsx.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "domain/codes.h"
#include "io/csv.h"
#include "io/ctgov_export.h"
#include "io/ctgov_places.h"
#include "io/fhir.h"
#include "io/xlsx.h"
#include "util/err.h"

/* Every CT.gov country name the export writes reads back to its code. */
static void country_names_read_back(void **state)
{
	size_t named = 0;
	(void)state;
	for (size_t i = 0; country_codes[i]; i++) {
		const char *name = ctgov_export_country(country_codes[i]);
		if (!name)
			continue;
		named++;
		const char *back = ctgov_country_code(name);
		if (!back || strcmp(back, country_codes[i]))
			fail_msg("%s is written '%s', which reads back as %s", country_codes[i], name,
				 back ? back : "nothing");
	}
	assert_true(named >= 70);
	assert_string_equal(ctgov_export_country("US"), "United States");
	assert_null(ctgov_export_country("XX"));
	assert_null(ctgov_export_country(NULL));
}

static void every_state_has_a_code(void **state)
{
	static const char *const studies[] = {"planned", "start_up", "enrolling", "follow_up",
					      "closed",	 "terminated", "withdrawn", NULL};
	static const char *const subjects[] = {"screened", "screen_failed", "enrolled", "completed",
					       "withdrawn", NULL};
	(void)state;
	for (size_t i = 0; studies[i]; i++) {
		assert_non_null(fhir_study_status(studies[i]));
		assert_string_not_equal(ctgov_export_status(studies[i]), "UNKNOWN");
	}
	for (size_t i = 0; subjects[i]; i++)
		assert_non_null(fhir_subject_status(subjects[i]));
	for (size_t i = 0; phase_codes[i]; i++)
		assert_non_null(fhir_study_phase(phase_codes[i]));
	assert_string_equal(fhir_study_phase("PHASE1_PHASE2"), "phase-1-phase-2");
	assert_string_equal(fhir_study_status("follow_up"), "closed-to-accrual");
	assert_string_equal(fhir_subject_status("screen_failed"), "ineligible");
	assert_string_equal(ctgov_export_status("follow_up"), "ACTIVE_NOT_RECRUITING");
	assert_null(fhir_study_status("bogus"));
	assert_string_equal(ctgov_export_status(NULL), "UNKNOWN");
}

/* A workbook is a zip archive; a cell over Excel's limit is refused. */
static void workbooks_are_written_and_limits_kept(void **state)
{
	struct export_table t;
	struct err e;
	char *bytes = NULL, *big = malloc(40000);
	size_t len = 0;
	json_t *items;
	(void)state;

	export_table_init(&t);
	items = json_loads("[{\"id\": 1, \"on\": \"2024-02-29\", \"at\": \"2024-01-02T03:04:05.5Z\","
			   " \"ok\": true, \"name\": \"=1+1\"}]", 0, NULL);
	export_table_from_items(&t, items);
	err_init(&e);
	assert_int_equal(xlsx_write(&t, "a/b:c", &bytes, &len, &e), 0);
	assert_true(len > 1000);
	assert_memory_equal(bytes, "PK\x03\x04", 4);
	free(bytes);
	err_release(&e);
	export_table_release(&t);
	json_decref(items);

	memset(big, 'x', 39999);
	big[39999] = '\0';
	export_table_init(&t);
	items = json_pack("[{s:s}]", "long", big);
	export_table_from_items(&t, items);
	err_init(&e);
	bytes = NULL;
	assert_int_equal(xlsx_write(&t, "long", &bytes, &len, &e), CTMS_ETOOBIG);
	assert_null(bytes);
	err_release(&e);
	export_table_release(&t);
	json_decref(items);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(country_names_read_back),
		cmocka_unit_test(every_state_has_a_code),
		cmocka_unit_test(workbooks_are_written_and_limits_kept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
