/* Export tables and their CSV text (src/io/csv.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "io/csv.h"
#include "util/buf.h"

/* The CSV text of items, given as JSON text. */
static char *csv_of(const char *items_json)
{
	json_t *items = json_loads(items_json, 0, NULL);
	struct export_table t;
	struct buf b;

	assert_non_null(items);
	export_table_init(&t);
	export_table_from_items(&t, items);
	buf_init(&b, 1 << 20);
	assert_int_equal(csv_write(&t, &b), 0);
	export_table_release(&t);
	json_decref(items);
	return buf_detach(&b);
}

static void cells_are_written_as_rfc4180_says(void **state)
{
	static const struct {
		const char *items, *csv;
	} cases[] = {
		{"[]", "\r\n"},
		{"[{\"a\": 1, \"b\": \"x\"}]", "a,b\r\n1,x\r\n"},
		{"[{\"a\": null, \"b\": true, \"c\": false}]", "a,b,c\r\n,true,false\r\n"},
		{"[{\"a\": \"1,2\"}]", "a\r\n\"1,2\"\r\n"},
		{"[{\"a\": \"say \\\"hi\\\"\"}]", "a\r\n\"say \"\"hi\"\"\"\r\n"},
		{"[{\"a\": \"two\\nlines\"}]", "a\r\n\"two\nlines\"\r\n"},
		{"[{\"a\": \"K\\u00f6ln\"}]", "a\r\nK\xc3\xb6ln\r\n"},
		{"[{\"a\": -5, \"b\": 2.5}]", "a,b\r\n-5,2.5\r\n"},
		{"[{\"a\": \"\"}]", "a\r\n\r\n"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *csv = csv_of(cases[i].items);
		if (strcmp(csv, cases[i].csv))
			fail_msg("case %zu: %s gave [%s]", i, cases[i].items, csv);
		free(csv);
	}
}

/* OWASP CSV injection: text that a spreadsheet would run as a formula. */
static void formula_starts_are_quoted_away(void **state)
{
	static const struct {
		const char *value, *cell;
	} cases[] = {
		{"=1+1", "\"'=1+1\""},
		{"+1", "\"'+1\""},
		{"-1", "\"'-1\""},
		{"@SUM(A1)", "\"'@SUM(A1)\""},
		{"\\tx", "\"'\tx\""},
		{"=HYPERLINK(\\\"a\\\")", "\"'=HYPERLINK(\"\"a\"\")\""},
		{"a=1", "a=1"},
		{"x-", "x-"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char items[200], want[200], *csv;
		snprintf(items, sizeof(items), "[{\"v\": \"%s\"}]", cases[i].value);
		snprintf(want, sizeof(want), "v\r\n%s\r\n", cases[i].cell);
		csv = csv_of(items);
		if (strcmp(csv, want))
			fail_msg("case %zu: %s gave [%s]", i, cases[i].value, csv);
		free(csv);
	}
}

static void columns_follow_first_appearance_and_nesting(void **state)
{
	char *csv = csv_of("[{\"id\": 1, \"pv\": {\"id\": 7, \"number\": \"2.0\"}, \"sig\": []},"
			   " {\"id\": 2, \"arm\": \"A\", \"sig\": [{\"by\": \"X\"}]}]");
	(void)state;
	assert_string_equal(csv, "id,pv.id,pv.number,sig,arm\r\n"
				 "1,7,2.0,[],\r\n"
				 "2,,,\"[{\"\"by\"\":\"\"X\"\"}]\",A\r\n");
	free(csv);
}

static void a_full_buffer_is_refused(void **state)
{
	json_t *items = json_loads("[{\"a\": \"0123456789\"}]", 0, NULL);
	struct export_table t;
	struct buf b;
	(void)state;
	export_table_init(&t);
	export_table_from_items(&t, items);
	buf_init(&b, 8);
	assert_int_equal(csv_write(&t, &b), CTMS_ETOOBIG);
	buf_release(&b);
	export_table_release(&t);
	json_decref(items);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cells_are_written_as_rfc4180_says),
		cmocka_unit_test(formula_starts_are_quoted_away),
		cmocka_unit_test(columns_follow_first_appearance_and_nesting),
		cmocka_unit_test(a_full_buffer_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
