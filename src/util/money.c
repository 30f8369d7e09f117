#include "util/money.h"

#include <stdio.h>
#include <string.h>

static const struct {
	const char code[4];
	int exponent;
} currencies[] = {
	{"AUD", 2}, {"BHD", 3}, {"BRL", 2}, {"CAD", 2}, {"CHF", 2}, {"CLP", 0}, {"CNY", 2},
	{"CZK", 2}, {"DKK", 2}, {"EUR", 2}, {"GBP", 2}, {"HKD", 2}, {"HUF", 2}, {"IDR", 2},
	{"ILS", 2}, {"INR", 2}, {"ISK", 0}, {"JOD", 3}, {"JPY", 0}, {"KRW", 0}, {"KWD", 3},
	{"MXN", 2}, {"MYR", 2}, {"NOK", 2}, {"NZD", 2}, {"OMR", 3}, {"PHP", 2}, {"PLN", 2},
	{"RON", 2}, {"RUB", 2}, {"SAR", 2}, {"SEK", 2}, {"SGD", 2}, {"THB", 2}, {"TND", 3},
	{"TRY", 2}, {"TWD", 2}, {"UAH", 2}, {"USD", 2}, {"VND", 0}, {"ZAR", 2},
};

int currency_exponent(const char *code)
{
	if (!code || strlen(code) != 3)
		return -1;
	for (size_t i = 0; i < sizeof(currencies) / sizeof(currencies[0]); i++)
		if (!memcmp(currencies[i].code, code, 3))
			return currencies[i].exponent;
	return -1;
}

int money_parse(const char *amount, const char *currency, struct money *out)
{
	int exp = currency_exponent(currency);
	const char *p = amount;
	int64_t v = 0;
	int frac = -1;
	bool neg = false, any = false;

	if (exp < 0 || !p)
		return CTMS_EINVAL;
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	for (; *p; p++) {
		if (*p == '.') {
			if (frac >= 0 || !any)
				return CTMS_EINVAL;
			frac = 0;
			continue;
		}
		if (*p < '0' || *p > '9')
			return CTMS_EINVAL;
		if (frac >= 0 && ++frac > exp)
			return CTMS_EINVAL;
		if (v > (INT64_MAX - (*p - '0')) / 10)
			return CTMS_EINVAL;
		v = v * 10 + (*p - '0');
		any = true;
	}
	if (!any || frac == 0)
		return CTMS_EINVAL;
	for (int i = frac < 0 ? 0 : frac; i < exp; i++) {
		if (v > INT64_MAX / 10)
			return CTMS_EINVAL;
		v *= 10;
	}
	out->minor = neg ? -v : v;
	memcpy(out->currency, currency, 4);
	return 0;
}

int money_format(const struct money *m, char *out, size_t outlen)
{
	int exp = currency_exponent(m->currency);
	uint64_t mag = m->minor < 0 ? (uint64_t)0 - (uint64_t)m->minor : (uint64_t)m->minor;
	uint64_t div = 1;
	int n;

	if (exp < 0)
		return CTMS_EINVAL;
	for (int i = 0; i < exp; i++)
		div *= 10;
	if (exp == 0)
		n = snprintf(out, outlen, "%s%llu", m->minor < 0 ? "-" : "", (unsigned long long)mag);
	else
		n = snprintf(out, outlen, "%s%llu.%0*llu", m->minor < 0 ? "-" : "",
			     (unsigned long long)(mag / div), exp, (unsigned long long)(mag % div));
	return n < 0 || (size_t)n >= outlen ? CTMS_ETOOBIG : 0;
}
