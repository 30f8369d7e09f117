#include "cli/forecast_table.h"
#include "domain/actor.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "domain/enrollment_forecast.h"
#include "domain/record.h"
#include "domain/study.h"
#include "util/err.h"
#include "util/json.h"

int study_by_protocol(struct db *db, const char *protocol, int64_t *id, struct err *e)
{
	const struct list_filter filter = {"protocol_number", protocol};
	const struct list_query q = {.limit = 1, .filters = &filter, .nfilters = 1};
	json_t *items;
	int64_t next;
	int rc = record_list(db, actor_system(), &study_def, &q, &items, &next, e);

	if (rc)
		return rc;
	*id = json_array_size(items) ? json_int(json_array_get(items, 0), "id", 0) : 0;
	json_decref(items);
	if (!*id)
		return err_set(e, CTMS_ENOTFOUND, "no study has protocol number %s", protocol);
	return 0;
}

/* A member as text: a number with `decimals` places, a string, or "-". */
static const char *text(const json_t *o, const char *key, int decimals, char *buf, size_t len)
{
	json_t *v = json_object_get(o, key);

	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, len, "%.*f", decimals, json_real_value(v));
	else
		snprintf(buf, len, "-");
	return buf;
}

static void print_completion(FILE *out, const json_t *c)
{
	static const char *const rows[][3] = {
		{"5%", "lower_on", "lower_days"},
		{"median", "median_on", "median_days"},
		{"95%", "upper_on", "upper_days"},
		{"mean", "mean_on", NULL},
	};
	char a[32], b[32];

	fprintf(out, "\n  target reached on      date         days after as-of\n");
	for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++)
		fprintf(out, "    %-20s %-12s %s\n", rows[i][0], text(c, rows[i][1], 0, a, sizeof(a)),
			rows[i][2] ? text(c, rows[i][2], 1, b, sizeof(b)) : "");
	fprintf(out, "    probability of reaching the target: %s\n",
		text(c, "probability", 4, a, sizeof(a)));
}

static void print_expected(FILE *out, const json_t *expected)
{
	char d[7][32];
	size_t i;
	json_t *row;

	if (!json_array_size(expected))
		return;
	fprintf(out, "\n  expected recruits by   days   mean     5%%  median    95%%  enrolled then (median)\n");
	json_array_foreach(expected, i, row)
		fprintf(out, "    %-20s %4s %6s %6s %7s %6s  %s\n", text(row, "on", 0, d[0], 32),
			text(row, "days", 0, d[1], 32), text(row, "mean", 1, d[2], 32),
			text(row, "lower", 0, d[3], 32), text(row, "median", 0, d[4], 32),
			text(row, "upper", 0, d[5], 32), text(row, "cumulative_median", 0, d[6], 32));
}

static void print_sites(FILE *out, const json_t *sites)
{
	size_t i;
	json_t *site;

	fprintf(out, "\n  site         country  state         recruited  active days  opens on    "
		     "rate per month (90%%)\n");
	json_array_foreach(sites, i, site) {
		json_t *rate = json_object_get(site, "rate_per_month");
		char a[32], b[32], c[32], d[32], e[32], f[32];
		char shown[64] = "-";

		if (json_is_object(rate))
			snprintf(shown, sizeof(shown), "%s (%s-%s)", text(rate, "mean", 3, d, sizeof(d)),
				 text(rate, "lower", 3, e, sizeof(e)), text(rate, "upper", 3, f, sizeof(f)));
		fprintf(out, "    %-10s %-8s %-13s %9s %12s  %-10s  %s\n", json_str(site, "label"),
			text(site, "country", 0, a, sizeof(a)), json_str(site, "state"),
			text(site, "recruited", 0, b, sizeof(b)), text(site, "active_days", 0, c, sizeof(c)),
			json_is_string(json_object_get(site, "opens_on")) ? json_str(site, "opens_on") : "",
			shown);
	}
}

static void print_forecast(FILE *out, const json_t *f)
{
	const json_t *fit = json_object_get(f, "fit"), *cover = json_object_get(f, "interval_coverage");
	char a[32], b[32], c[32];
	size_t i;
	json_t *w;

	fprintf(out, "%s as of %s: %s of %s enrolled, %s to go (%s target)\n",
		json_str(f, "protocol_number"), json_str(f, "as_of"), text(f, "enrolled", 0, a, 32),
		text(f, "target", 0, b, 32), text(f, "remaining", 0, c, 32), json_str(f, "target_source"));
	fprintf(out, "  status %s; %s; seed %s\n", json_str(f, "status"),
		json_is_string(json_object_get(f, "method")) ? json_str(f, "method") : "no computation",
		text(f, "seed", 0, a, sizeof(a)));
	print_completion(out, json_object_get(f, "completion"));
	print_expected(out, json_object_get(f, "expected"));
	print_sites(out, json_object_get(f, "sites"));
	if (json_is_object(fit))
		fprintf(out, "\n  fit: %s, alpha %s, beta %s days, mean %s recruits per site-month\n"
			     "       %s\n",
			json_str(fit, "method"), text(fit, "alpha", 4, a, 32), text(fit, "beta_days", 1, b, 32),
			text(fit, "mean_rate_per_site_month", 4, c, 32), json_str(fit, "message"));
	if (json_is_object(cover))
		fprintf(out, "  coverage of the 90%% interval in simulation: %.1f%% with constant rates "
			     "(forecasts at %s), %.1f%% when rates decline\n",
			100 * json_real_value(json_object_get(cover, "simulated_constant_rates")),
			json_str(cover, "basis"),
			100 * json_real_value(json_object_get(cover, "simulated_declining_rates")));
	if (json_array_size(json_object_get(f, "warnings")))
		fprintf(out, "\n  warnings:\n");
	json_array_foreach(json_object_get(f, "warnings"), i, w)
		fprintf(out, "    - %s\n", json_string_value(w));
}

int forecast_table_print(FILE *out, struct db *db, const char *protocol, const char *target,
			 const char *as_of, struct err *e)
{
	json_t *request = json_object(), *forecast = NULL;
	int64_t study_id;
	int rc = study_by_protocol(db, protocol, &study_id, e);

	if (!rc && target) {
		char *end;
		long long n;
		errno = 0;
		n = strtoll(target, &end, 10);
		if (errno || *end || end == target)
			rc = err_field(e, "--target", "must be a whole number");
		else
			json_object_set_new(request, "target", json_integer(n));
	}
	if (!rc && as_of)
		json_object_set_new(request, "as_of", json_string(as_of));
	if (!rc)
		rc = enrollment_forecast(db, study_id, request, &forecast, e);
	if (!rc)
		print_forecast(out, forecast);
	json_decref(forecast);
	json_decref(request);
	return rc;
}
