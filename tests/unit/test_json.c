/* JSON conventions: strict parsing, canonical output (src/util/json.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/json.h"

static void parse_accepts_objects(void **state)
{
	static const char *const good[] = {
		"{}",
		" {\"a\": 1} ",
		"{\"a\":{\"a\":1},\"b\":[{\"a\":1},{\"a\":2}]}", /* same key at different levels */
		"{\"name\":\"Caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}",
		"{\"escaped\":\"\\u00e9\\ud83d\\ude00\"}",
		"{\"n\":9223372036854775807}",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		struct err e = {0};
		json_t *v = json_parse_object(good[i], strlen(good[i]), &e);
		if (!v)
			fail_msg("refused %s: %s", good[i], e.detail);
		assert_true(json_is_object(v));
		assert_int_equal(e.code, 0);
		json_decref(v);
		err_release(&e);
	}
}

static void parse_refuses_what_is_not_a_clean_object(void **state)
{
	static const struct {
		const char *text;
		size_t len; /* 0: strlen */
		const char *why;
	} bad[] = {
		{"{\"a\":1,\"a\":2}", 0, "a duplicate key"},
		{"{\"a\":1,\"b\":{\"c\":1,\"c\":1}}", 0, "a duplicate key in a nested object"},
		{"{\"a\":\"\xff\"}", 0, "invalid UTF-8 in a value"},
		{"{\"\xc3\x28\":1}", 0, "invalid UTF-8 in a key"},
		{"{\"a\":\"\xed\xa0\x80\"}", 0, "an encoded surrogate"},
		{"{\"a\":\"\xc0\xaf\"}", 0, "an overlong encoding"},
		{"{\"a\":\"x\\u0000y\"}", 0, "an escaped NUL in a value"},
		{"{\"a\\u0000\":1}", 0, "an escaped NUL in a key"},
		{"{\"a\":\"x\0y\"}", 11, "a raw NUL"},
		{"{\"a\":\"\\ud800\"}", 0, "a lone surrogate escape"},
		{"[1,2]", 0, "an array"},
		{"\"text\"", 0, "a string"},
		{"42", 0, "a number"},
		{"null", 0, "null"},
		{"true", 0, "a boolean"},
		{"", 0, "nothing"},
		{"{", 0, "a truncated object"},
		{"{\"a\":1}x", 0, "trailing garbage"},
		{"{\"a\":1}{}", 0, "two objects"},
		{"{'a':1}", 0, "single quotes"},
		{"{\"a\":01}", 0, "a leading zero"},
		{"{\"a\":NaN}", 0, "NaN"},
		{"{\"a\":1,}", 0, "a trailing comma"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct err e = {0};
		size_t len = bad[i].len ? bad[i].len : strlen(bad[i].text);
		json_t *v = json_parse_object(bad[i].text, len, &e);
		if (v)
			fail_msg("accepted %s", bad[i].why);
		if (e.code != CTMS_EBADREQ)
			fail_msg("%s: code %d, expected CTMS_EBADREQ", bad[i].why, e.code);
		assert_true(e.detail[0] != '\0');
		err_release(&e);
	}
}

static void parse_errors_give_line_and_column(void **state)
{
	struct err e = {0};
	const char *text = "{\n  \"a\": 1,\n  \"b\": }";
	(void)state;
	assert_null(json_parse_object(text, strlen(text), &e));
	assert_int_equal(e.code, CTMS_EBADREQ);
	assert_non_null(strstr(e.detail, "line 3"));
	assert_non_null(strstr(e.detail, "column"));
	err_release(&e);
}

static void canonical_form_is_sorted_and_compact(void **state)
{
	static const struct {
		const char *in, *canonical;
	} cases[] = {
		{"{\"b\": 1, \"a\": [3, 1, 2], \"c\": {\"z\": null, \"y\": \"/\"}}",
		 "{\"a\":[3,1,2],\"b\":1,\"c\":{\"y\":\"/\",\"z\":null}}"},
		{"{\"Z\": 1, \"a\": 2, \"_\": 3, \"10\": 4, \"9\": 5}",
		 "{\"10\":4,\"9\":5,\"Z\":1,\"_\":3,\"a\":2}"},
		{"{\"r\": 0.1, \"big\": -9223372036854775808, \"t\": true, \"f\": false}",
		 "{\"big\":-9223372036854775808,\"f\":false,\"r\":0.1,\"t\":true}"},
		{"{\"s\": \"caf\\u00e9 \\\"q\\\" \\\\ tab\\t\"}",
		 "{\"s\":\"caf\xc3\xa9 \\\"q\\\" \\\\ tab\\t\"}"},
		{"{}", "{}"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		json_t *v = json_loads(cases[i].in, 0, NULL);
		char *text;
		assert_non_null(v);
		text = json_canonical(v);
		assert_non_null(text);
		assert_string_equal(text, cases[i].canonical);
		free(text);
		json_decref(v);
	}
}

static void canonical_form_does_not_depend_on_insertion_order(void **state)
{
	json_t *a = json_pack("{s:i, s:s, s:[i,i]}", "x", 1, "y", "two", "z", 3, 4);
	json_t *b = json_pack("{s:[i,i], s:s, s:i}", "z", 3, 4, "y", "two", "x", 1);
	char *ta, *tb, *scalar;
	size_t len;
	(void)state;
	ta = json_canonical(a);
	tb = json_canonical(b);
	assert_string_equal(ta, tb);
	free(ta);
	free(tb);
	/* render keeps the insertion order and reports the length */
	ta = json_render(b, &len);
	assert_string_equal(ta, "{\"z\":[3,4],\"y\":\"two\",\"x\":1}");
	assert_int_equal(len, strlen(ta));
	free(ta);
	/* non-objects are encoded too (the audit chain hashes arrays) */
	scalar = json_canonical(json_array_get(json_object_get(a, "z"), 0));
	assert_string_equal(scalar, "3");
	free(scalar);
	json_decref(a);
	json_decref(b);
}

static void same_treats_absent_and_null_alike(void **state)
{
	json_t *one = json_integer(1), *one_again = json_integer(1), *one_real = json_real(1.0);
	json_t *text = json_string("a"), *text_again = json_string("a"), *empty = json_string("");
	json_t *zero = json_integer(0), *null = json_null(), *f = json_false();
	json_t *o1 = json_pack("{s:i, s:s}", "a", 1, "b", "x");
	json_t *o2 = json_pack("{s:s, s:i}", "b", "x", "a", 1);
	json_t *o3 = json_pack("{s:s, s:i}", "b", "x", "a", 2);
	json_t *arr1 = json_pack("[i,i]", 1, 2), *arr2 = json_pack("[i,i]", 2, 1);
	const struct {
		const json_t *a, *b;
		bool same;
	} cases[] = {
		{NULL, NULL, true},     {NULL, null, true},     {null, NULL, true},
		{null, null, true},     {one, one_again, true}, {text, text_again, true},
		{o1, o2, true},         {one, one_real, false}, {one, NULL, false},
		{NULL, zero, false},    {empty, null, false},   {null, f, false},
		{zero, f, false},       {o1, o3, false},        {arr1, arr2, false},
		{text, empty, false},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		if (json_same(cases[i].a, cases[i].b) != cases[i].same)
			fail_msg("case %zu: json_same gave %d", i, !cases[i].same);
		if (json_same(cases[i].b, cases[i].a) != cases[i].same)
			fail_msg("case %zu reversed: json_same gave %d", i, !cases[i].same);
	}
	json_decref(one);
	json_decref(one_again);
	json_decref(one_real);
	json_decref(text);
	json_decref(text_again);
	json_decref(empty);
	json_decref(zero);
	json_decref(null);
	json_decref(f);
	json_decref(o1);
	json_decref(o2);
	json_decref(o3);
	json_decref(arr1);
	json_decref(arr2);
}

static void typed_getters_fall_back_to_defaults(void **state)
{
	json_t *o = json_pack("{s:s, s:I, s:n, s:f, s:i}", "s", "text", "big",
			      (json_int_t)4611686018427387904LL, "nul", "real", 1.5, "n", -3);
	(void)state;
	assert_string_equal(json_str(o, "s"), "text");
	assert_null(json_str(o, "big"));
	assert_null(json_str(o, "nul"));
	assert_null(json_str(o, "absent"));
	assert_null(json_str(NULL, "s"));
	assert_true(json_int(o, "big", 0) == 4611686018427387904LL);
	assert_int_equal(json_int(o, "n", 0), -3);
	assert_int_equal(json_int(o, "s", 7), 7);
	assert_int_equal(json_int(o, "nul", 7), 7);
	assert_int_equal(json_int(o, "real", 7), 7);
	assert_int_equal(json_int(o, "absent", -1), -1);
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_accepts_objects),
		cmocka_unit_test(parse_refuses_what_is_not_a_clean_object),
		cmocka_unit_test(parse_errors_give_line_and_column),
		cmocka_unit_test(canonical_form_is_sorted_and_compact),
		cmocka_unit_test(canonical_form_does_not_depend_on_insertion_order),
		cmocka_unit_test(same_treats_absent_and_null_alike),
		cmocka_unit_test(typed_getters_fall_back_to_defaults),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
