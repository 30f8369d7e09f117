/* Money as integer minor units plus an ISO 4217 code (src/util/money.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util/money.h"

static void exponents_follow_iso_4217(void **state)
{
	static const struct {
		const char *code;
		int exponent;
	} cases[] = {
		{"EUR", 2}, {"USD", 2}, {"GBP", 2}, {"JPY", 0}, {"KRW", 0}, {"ISK", 0},
		{"KWD", 3}, {"BHD", 3}, {"TND", 3}, {"eur", -1}, {"XXX", -1}, {"EU", -1},
		{"EURO", -1}, {"", -1},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
		if (currency_exponent(cases[i].code) != cases[i].exponent)
			fail_msg("currency_exponent(\"%s\") = %d, expected %d", cases[i].code,
				 currency_exponent(cases[i].code), cases[i].exponent);
	assert_int_equal(currency_exponent(NULL), -1);
}

static void parse_reads_decimal_amounts(void **state)
{
	static const struct {
		const char *amount, *currency;
		int64_t minor;
		const char *formatted;
	} cases[] = {
		{"1234.5", "EUR", 123450, "1234.50"},
		{"1234.56", "EUR", 123456, "1234.56"},
		{"1234", "EUR", 123400, "1234.00"},
		{"-0.07", "EUR", -7, "-0.07"},
		{"0", "EUR", 0, "0.00"},
		{"-0", "EUR", 0, "0.00"},
		{"+12.5", "USD", 1250, "12.50"},
		{"0012.30", "GBP", 1230, "12.30"},
		{"1234", "JPY", 1234, "1234"},
		{"-500", "JPY", -500, "-500"},
		{"1.234", "KWD", 1234, "1.234"},
		{"0.5", "KWD", 500, "0.500"},
		{"-12.005", "KWD", -12005, "-12.005"},
		{"7", "KWD", 7000, "7.000"},
		/* the largest amounts an int64 of minor units holds */
		{"92233720368547758.07", "EUR", INT64_MAX, "92233720368547758.07"},
		{"9223372036854775807", "JPY", INT64_MAX, "9223372036854775807"},
		{"-9223372036854775.807", "KWD", -INT64_MAX, "-9223372036854775.807"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct money m = {.minor = 42};
		char text[40];
		int rc = money_parse(cases[i].amount, cases[i].currency, &m);
		if (rc)
			fail_msg("refused %s %s", cases[i].amount, cases[i].currency);
		if (m.minor != cases[i].minor)
			fail_msg("%s %s parsed as %lld, expected %lld", cases[i].amount,
				 cases[i].currency, (long long)m.minor, (long long)cases[i].minor);
		assert_string_equal(m.currency, cases[i].currency);
		assert_int_equal(money_format(&m, text, sizeof(text)), 0);
		assert_string_equal(text, cases[i].formatted);
	}
}

static void parse_refuses_what_is_not_an_amount(void **state)
{
	static const struct {
		const char *amount, *currency, *why;
	} cases[] = {
		{"1234.567", "EUR", "more decimals than the currency has"},
		{"12.3", "JPY", "JPY has no minor unit"},
		{"12.", "JPY", "a point with no digits after it"},
		{"1.2345", "KWD", "four decimals for a three-decimal currency"},
		{"12.", "EUR", "a point with no digits after it"},
		{".5", "EUR", "no digits before the point"},
		{"-.5", "EUR", "no digits before the point"},
		{"1e3", "EUR", "an exponent"},
		{"1E3", "EUR", "an exponent"},
		{"1.5e2", "EUR", "an exponent"},
		{"1,000.00", "EUR", "a thousands separator"},
		{"1 000", "EUR", "a space separator"},
		{"1'000", "CHF", "an apostrophe separator"},
		{"1_000", "EUR", "an underscore"},
		{"12,50", "EUR", "a decimal comma"},
		{"1.2.3", "EUR", "two points"},
		{"", "EUR", "nothing"},
		{"-", "EUR", "a sign alone"},
		{"+", "EUR", "a sign alone"},
		{"--1", "EUR", "two signs"},
		{" 1", "EUR", "a leading space"},
		{"1 ", "EUR", "a trailing space"},
		{"0x10", "EUR", "hexadecimal"},
		{"NaN", "EUR", "not a number"},
		{"inf", "EUR", "infinity"},
		{"92233720368547758.08", "EUR", "one minor unit past INT64_MAX"},
		{"9223372036854775808", "JPY", "one past INT64_MAX"},
		{"99999999999999999999", "JPY", "far past INT64_MAX"},
		{"92233720368547759", "EUR", "overflows when scaled to cents"},
		{"10", "XXX", "an unknown currency"},
		{"10", "eur", "a lower-case code"},
		{"10", "", "an empty code"},
		{"10", "EURO", "a four-letter code"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct money m = {.minor = 42, .currency = "ZZZ"};
		if (money_parse(cases[i].amount, cases[i].currency, &m) == 0)
			fail_msg("accepted \"%s\" %s (%s)", cases[i].amount, cases[i].currency,
				 cases[i].why);
		/* a refusal leaves the output alone */
		assert_int_equal(m.minor, 42);
		assert_string_equal(m.currency, "ZZZ");
	}
	{
		struct money m;
		assert_int_not_equal(money_parse(NULL, "EUR", &m), 0);
		assert_int_not_equal(money_parse("1", NULL, &m), 0);
	}
}

static void format_handles_the_extremes(void **state)
{
	struct money m = {.minor = INT64_MIN, .currency = "EUR"};
	char text[40];
	(void)state;
	assert_int_equal(money_format(&m, text, sizeof(text)), 0);
	assert_string_equal(text, "-92233720368547758.08");
	m = (struct money){.minor = -5, .currency = "KWD"};
	assert_int_equal(money_format(&m, text, sizeof(text)), 0);
	assert_string_equal(text, "-0.005");
	m = (struct money){.minor = 5, .currency = "JPY"};
	assert_int_equal(money_format(&m, text, sizeof(text)), 0);
	assert_string_equal(text, "5");
}

static void format_refuses_a_short_buffer_and_unknown_codes(void **state)
{
	struct money m = {.minor = 123456, .currency = "EUR"};
	char text[8];
	(void)state;
	/* "1234.56" needs 8 bytes with its NUL */
	assert_int_equal(money_format(&m, text, sizeof(text)), 0);
	assert_string_equal(text, "1234.56");
	assert_int_equal(money_format(&m, text, 7), CTMS_ETOOBIG);
	m = (struct money){.minor = 1, .currency = "XXX"};
	assert_int_equal(money_format(&m, text, sizeof(text)), CTMS_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(exponents_follow_iso_4217),
		cmocka_unit_test(parse_reads_decimal_amounts),
		cmocka_unit_test(parse_refuses_what_is_not_an_amount),
		cmocka_unit_test(format_handles_the_extremes),
		cmocka_unit_test(format_refuses_a_short_buffer_and_unknown_codes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
