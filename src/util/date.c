#include "util/date.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Howard Hinnant's days_from_civil / civil_from_days algorithms. */
int32_t days_from_civil(int y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int32_t)doe - 719468;
}

void civil_from_days(int32_t z, int *y, unsigned *m, unsigned *d)
{
	z += 719468;
	const int era = (z >= 0 ? z : z - 146096) / 146097;
	const unsigned doe = (unsigned)(z - era * 146097);
	const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	const unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int parse_ymd(const char *s, int *y, int *m, int *d)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	*y = digits(s, 4);
	if (*y < 0 || s[4] != '-')
		return CTMS_EINVAL;
	*m = digits(s + 5, 2);
	if (*m < 0 || s[7] != '-')
		return CTMS_EINVAL;
	*d = digits(s + 8, 2);
	if (*d < 0)
		return CTMS_EINVAL;
	if (*y < 1900 || *y > 2199 || *m < 1 || *m > 12 || *d < 1)
		return CTMS_EINVAL;
	if (*d > mdays[*m - 1] + (*m == 2 && is_leap(*y)))
		return CTMS_EINVAL;
	return 0;
}

int date_parse(const char *s, int32_t *days)
{
	int y, m, d;
	if (!s || strlen(s) != 10 || parse_ymd(s, &y, &m, &d))
		return CTMS_EINVAL;
	if (days)
		*days = days_from_civil(y, (unsigned)m, (unsigned)d);
	return 0;
}

bool date_valid(const char *s)
{
	return date_parse(s, NULL) == 0;
}

void date_format(int32_t days, char out[DATE_LEN])
{
	int y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	unsigned uy = (unsigned)(y < 0 ? 0 : y > 9999 ? 9999 : y);
	out[0] = (char)('0' + uy / 1000);
	out[1] = (char)('0' + uy / 100 % 10);
	out[2] = (char)('0' + uy / 10 % 10);
	out[3] = (char)('0' + uy % 10);
	out[4] = '-';
	out[5] = (char)('0' + m / 10);
	out[6] = (char)('0' + m % 10);
	out[7] = '-';
	out[8] = (char)('0' + d / 10);
	out[9] = (char)('0' + d % 10);
	out[10] = '\0';
}

int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int32_t day_of_us(int64_t us)
{
	int64_t s = us / 1000000 - (us % 1000000 < 0);
	return (int32_t)(s / 86400 - (s % 86400 < 0));
}

void timestamp_format(int64_t us, char out[TIMESTAMP_LEN])
{
	int32_t day = day_of_us(us);
	int64_t in_day = us - (int64_t)day * 86400 * 1000000;
	unsigned secs = (unsigned)(in_day / 1000000) % 86400;
	unsigned micros = (unsigned)(in_day % 1000000);

	date_format(day, out);
	snprintf(out + 10, TIMESTAMP_LEN - 10, "T%02u:%02u:%02u.%06uZ", secs / 3600 % 24,
		 secs / 60 % 60, secs % 60, micros % 1000000);
}

int timestamp_parse(const char *s, int64_t *us)
{
	int y, m, d, hh = 0, mm = 0, ss = 0, frac = 0;
	size_t n = s ? strlen(s) : 0;

	if (n < 10 || parse_ymd(s, &y, &m, &d))
		return CTMS_EINVAL;
	if (n > 10) {
		if (n < 20 || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[n - 1] != 'Z')
			return CTMS_EINVAL;
		hh = digits(s + 11, 2);
		mm = digits(s + 14, 2);
		ss = digits(s + 17, 2);
		if (hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 59)
			return CTMS_EINVAL;
		if (n > 20) {
			int nd = (int)n - 21;
			if (s[19] != '.' || nd < 1 || nd > 6 || (frac = digits(s + 20, nd)) < 0)
				return CTMS_EINVAL;
			for (int i = nd; i < 6; i++)
				frac *= 10;
		}
	}
	*us = ((int64_t)days_from_civil(y, (unsigned)m, (unsigned)d) * 86400 + hh * 3600 + mm * 60 + ss) *
		      1000000 +
	      frac;
	return 0;
}

int32_t date_latest_today(void)
{
	return day_of_us(now_us() + (int64_t)14 * 3600 * 1000000);
}

/* The names tz_valid has found in the tz database. A check opens and reads
 * a file, and a bulk import checks a zone for every site it writes (most
 * of the time of a study-site's validation): a name found once is answered
 * from here. Only names found are kept, so a zone installed later is not
 * refused for good; the tz database never drops a name (an old one stays,
 * as a link). The table is shared by the server's threads, and full it
 * keeps what it has. */
#define TZ_CACHE_SLOTS 1024
#define TZ_NAME_MAX 64

static char tz_cache[TZ_CACHE_SLOTS][TZ_NAME_MAX + 1];
static size_t tz_cache_count;
static pthread_mutex_t tz_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t tz_hash(const char *name, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * 16777619u;
	return h % TZ_CACHE_SLOTS;
}

/* Whether name is in the cache; with add, puts it there when it is not. */
static bool tz_cache_find(const char *name, size_t len, bool add)
{
	bool found = false;

	pthread_mutex_lock(&tz_cache_lock);
	for (size_t k = 0, h = tz_hash(name, len); k < TZ_CACHE_SLOTS; k++) {
		char *slot = tz_cache[(h + k) % TZ_CACHE_SLOTS];
		if (!slot[0]) {
			/* Keep a quarter free, so a miss stops soon. */
			if (add && tz_cache_count < TZ_CACHE_SLOTS * 3 / 4) {
				memcpy(slot, name, len + 1);
				tz_cache_count++;
			}
			break;
		}
		if (!strcmp(slot, name)) {
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&tz_cache_lock);
	return found;
}

/* Whether name could be a zone name, before any file is looked at. */
static bool tz_name_plausible(const char *name, size_t n)
{
	if (n == 0 || n > TZ_NAME_MAX || name[0] == '/' || strstr(name, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '/' || c == '_' || c == '-' || c == '+'))
			return false;
	}
	/* The "posix/" and "right/" trees and files like "zone.tab" are not zones. */
	return strncmp(name, "posix", 5) && strncmp(name, "right", 5) && strcmp(name, "Factory") &&
	       strcmp(name, "localtime");
}

/* Whether the tz database holds a zone file of that name. */
static bool tz_file_valid(const char *name)
{
	char path[300];
	char magic[4];
	struct stat st;

	snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", name);
	if (stat(path, &st) || !S_ISREG(st.st_mode))
		return false;
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	size_t got = fread(magic, 1, sizeof(magic), f);
	fclose(f);
	return got == 4 && !memcmp(magic, "TZif", 4);
}

bool tz_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (!tz_name_plausible(name, n))
		return false;
	if (tz_cache_find(name, n, false))
		return true;
	if (!tz_file_valid(name))
		return false;
	tz_cache_find(name, n, true);
	return true;
}

int date_of_iso8601(const char *value, char out[DATE_LEN])
{
	int32_t day;

	out[0] = '\0';
	if (!value || strlen(value) < 10 || (value[10] && value[10] != 'T'))
		return -1;
	memcpy(out, value, 10);
	out[10] = '\0';
	if (date_parse(out, &day)) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}
