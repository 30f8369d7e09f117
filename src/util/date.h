/* Calendar dates (ISO 8601 YYYY-MM-DD), UTC timestamps and time zone names.
 *
 * Calendar dates are civil days with no time zone; they are stored as text and
 * compared as day numbers. Timestamps are microseconds since the Unix epoch,
 * UTC (DESIGN.md, "Timestamps"). */
#ifndef CTMS_DATE_H
#define CTMS_DATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#define DATE_LEN 11      /* "YYYY-MM-DD" and NUL */
#define TIMESTAMP_LEN 28 /* "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" and NUL */

/* Parses exactly YYYY-MM-DD with a real calendar day (leap years included),
 * years 1900..2199. Returns 0 and the day number (days since 1970-01-01), or
 * CTMS_EINVAL. */
int date_parse(const char *s, int32_t *days);
bool date_valid(const char *s);
/* The YYYY-MM-DD of an ISO 8601 date or date-time ("2014-01-02",
 * "2014-01-02T10:00") in out; -1, out empty, for a partial or invalid one
 * ("2014-01", "UNK"). */
int date_of_iso8601(const char *value, char out[DATE_LEN]);
/* Writes the day number as YYYY-MM-DD into out (DATE_LEN bytes). */
void date_format(int32_t days, char out[DATE_LEN]);

/* Days since 1970-01-01 of a proleptic Gregorian civil date, and back. */
int32_t days_from_civil(int y, unsigned m, unsigned d);
void civil_from_days(int32_t z, int *y, unsigned *m, unsigned *d);

int64_t now_us(void);
/* The UTC day number of a timestamp. */
int32_t day_of_us(int64_t us);
void timestamp_format(int64_t us, char out[TIMESTAMP_LEN]);
/* Parses YYYY-MM-DDTHH:MM:SS[.ffffff]Z or a bare date (midnight UTC). */
int timestamp_parse(const char *s, int64_t *us);

/* The latest calendar day that has begun anywhere on Earth now (UTC+14), so a
 * date after it is in the future whatever the site's time zone. */
int32_t date_latest_today(void);

/* True when name is an IANA time zone known to the system's tz database. */
bool tz_valid(const char *name);

#include "util/err.h"
#endif
