/* Money as integer minor units plus an ISO 4217 code; never floating point
 * (DESIGN.md, "Money"). */
#ifndef CTMS_MONEY_H
#define CTMS_MONEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct money {
	int64_t minor;    /* amount in the currency's minor unit (cents) */
	char currency[4]; /* ISO 4217 alpha code, upper case */
};

/* The number of minor-unit digits of an ISO 4217 currency (2 for EUR, 0 for
 * JPY, 3 for KWD), or -1 for a code ctms does not know. */
int currency_exponent(const char *code);

/* Parses a decimal amount ("1234.5", "-0.07") in the given currency into
 * minor units; refuses more fraction digits than the currency has, exponents,
 * thousands separators and overflow. */
int money_parse(const char *amount, const char *currency, struct money *out);

/* Formats as a plain decimal string with exactly the currency's digits. */
int money_format(const struct money *m, char *out, size_t outlen);

#include "util/err.h"
#endif
