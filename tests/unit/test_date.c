/* Calendar dates, timestamps and time zone names (src/util/date.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util/date.h"

static void parse_accepts_real_days(void **state)
{
	static const struct {
		const char *text;
		int32_t days;
	} cases[] = {
		{"1970-01-01", 0},
		{"2000-02-29", 11016}, /* divisible by 400: leap */
		{"2024-02-29", 19782},
		{"1969-12-31", -1},
		{"2199-12-31", 84005},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		int32_t d = 12345;
		char back[DATE_LEN];
		assert_int_equal(date_parse(cases[i].text, &d), 0);
		assert_int_equal(d, cases[i].days);
		date_format(d, back);
		assert_string_equal(back, cases[i].text);
	}
}

static void parse_refuses_non_dates(void **state)
{
	static const char *const bad[] = {
		"", "2024", "2024-02", "2013-02", "UNK", "2023-02-29", "1900-02-29", "2024-13-01",
		"2024-00-10", "2024-04-31", "2024-1-01", "2024-01-01T00:00", " 2024-01-01", "2024/01/01",
		"1899-12-31", "2200-01-01", "20240101", "2024-01-0a",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		int32_t d;
		if (date_parse(bad[i], &d) == 0)
			fail_msg("accepted '%s'", bad[i]);
	}
	assert_false(date_valid(NULL));
}

static void civil_round_trip_over_centuries(void **state)
{
	(void)state;
	for (int32_t z = -25567; z < 84006; z += 7) {
		int y;
		unsigned m, d;
		civil_from_days(z, &y, &m, &d);
		assert_int_equal(days_from_civil(y, m, d), z);
	}
}

static void timestamps_format_and_parse(void **state)
{
	char ts[TIMESTAMP_LEN];
	int64_t us;
	(void)state;
	timestamp_format(0, ts);
	assert_string_equal(ts, "1970-01-01T00:00:00.000000Z");
	timestamp_format(1732233600123456LL, ts);
	assert_string_equal(ts, "2024-11-22T00:00:00.123456Z");
	assert_int_equal(timestamp_parse("2024-11-22T00:00:00.123456Z", &us), 0);
	assert_true(us == 1732233600123456LL);
	assert_int_equal(timestamp_parse("2024-11-22", &us), 0);
	assert_true(us == 1732233600000000LL);
	assert_int_equal(timestamp_parse("2024-11-22T10:00:00.5Z", &us), 0);
	assert_true(us == 1732233600000000LL + 36000LL * 1000000 + 500000);
	assert_int_not_equal(timestamp_parse("2024-11-22T24:00:00Z", &us), 0);
	assert_int_not_equal(timestamp_parse("2024-11-22T10:00:00", &us), 0);
	assert_int_equal(day_of_us(-1), -1);
}

/* SDTM and ODM dates: the day of a full date or date-time, never of a
 * partial one. */
static void iso8601_dates_give_their_day(void **state)
{
	static const char *const full[][2] = {
		{"2014-01-02", "2014-01-02"}, {"2014-01-02T10:30", "2014-01-02"},
		{"2012-02-29T00:00:00Z", "2012-02-29"},
	};
	static const char *const partial[] = {"2013-02", "2013", "UNK", "", "2013-02-30",
					      "2014-01-02 10:30", "2014-01-0x"};
	char out[DATE_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(full) / sizeof(full[0]); i++) {
		assert_int_equal(date_of_iso8601(full[i][0], out), 0);
		assert_string_equal(out, full[i][1]);
	}
	for (size_t i = 0; i < sizeof(partial) / sizeof(partial[0]); i++) {
		assert_int_equal(date_of_iso8601(partial[i], out), -1);
		assert_string_equal(out, "");
	}
	assert_int_equal(date_of_iso8601(NULL, out), -1);
}

static void time_zones_come_from_the_tz_database(void **state)
{
	(void)state;
	assert_true(tz_valid("Europe/Paris"));
	assert_true(tz_valid("Europe/Paris")); /* the second answer comes from the cache */
	assert_true(tz_valid("America/Argentina/Buenos_Aires"));
	assert_true(tz_valid("UTC"));
	assert_false(tz_valid("Europe/Atlantis"));
	assert_false(tz_valid("Europe/Atlantis")); /* a name not found is not cached */
	assert_false(tz_valid("Europe/Pari")); /* nor is a cached name a prefix of another */
	assert_false(tz_valid("Europe/Paris/Old"));
	assert_false(tz_valid("../../etc/passwd"));
	assert_false(tz_valid("/etc/passwd"));
	assert_false(tz_valid("zone.tab"));
	assert_false(tz_valid("posix/Europe/Paris"));
	assert_false(tz_valid(""));
	assert_false(tz_valid(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_accepts_real_days),
		cmocka_unit_test(parse_refuses_non_dates),
		cmocka_unit_test(civil_round_trip_over_centuries),
		cmocka_unit_test(timestamps_format_and_parse),
		cmocka_unit_test(iso8601_dates_give_their_day),
		cmocka_unit_test(time_zones_come_from_the_tz_database),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
