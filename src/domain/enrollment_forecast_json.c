/* The forecast's answer as JSON (docs/openapi.yaml, Forecast): times become
 * dates, rates become recruits per site-month, and every fallback and
 * assumption is said in words. No number is ever NaN or infinite: what does
 * not exist is null. */
#include "domain/enrollment_forecast.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util/date.h"

/* Coverage of the 90% interval measured by simulation (docs/forecast.md,
 * "Calibration", 5,000 trials per row, default method), by how far the
 * trials were when forecast; and with rates halving over the trial's
 * duration, which the model does not assume. RULES.md: report the honest
 * coverage beside the forecast. */
static const struct {
	double below_share; /* used when enrolled / target is below this */
	double coverage;
	const char *stage;
} measured_coverage[] = {
	{0.25, 0.904, "10-20% of target"},
	{0.60, 0.897, "30-50% of target"},
	{2.00, 0.903, "70-90% of target"},
};
#define DECLINING_COVERAGE 0.170

static const char *status_name(enum enrollment_forecast_status s)
{
	switch (s) {
	case ENROLLMENT_FORECAST_OK: return "ok";
	case ENROLLMENT_FORECAST_NO_DATA: return "no_data";
	case ENROLLMENT_FORECAST_NO_FUTURE_SITES: return "no_future_sites";
	case ENROLLMENT_FORECAST_TARGET_REACHED: return "target_reached";
	}
	return "unknown";
}

/* The day a recruit at time t (days after the end of as-of) falls on. */
static int32_t day_after(int32_t as_of, double t)
{
	double d = fmax(1.0, ceil(t));
	return d > 1e6 ? ENROLLMENT_NO_DAY : as_of + (int32_t)d;
}

static json_t *time_date(const struct enrollment_forecast *f, bool has, double t)
{
	return has ? enrollment_date_json(day_after(f->snapshot.as_of, t)) : json_null();
}

/* A number of days, or null when it does not exist. */
static json_t *days_json(bool has, double days)
{
	return has ? enrollment_number_json(days, 1) : json_null();
}

static json_t *completion_json(const struct enrollment_forecast *f)
{
	const struct forecast_result *r = &f->result;
	bool run = f->has_result && r->status == FORECAST_OK;
	json_t *c = json_object();

	json_object_set_new(c, "median_on", time_date(f, run && r->has_median, r->median));
	json_object_set_new(c, "lower_on", time_date(f, run && r->has_lower, r->lower));
	json_object_set_new(c, "upper_on", time_date(f, run && r->has_upper, r->upper));
	json_object_set_new(c, "mean_on", time_date(f, run && r->has_mean, r->mean));
	json_object_set_new(c, "median_days", days_json(run && r->has_median, r->median));
	json_object_set_new(c, "lower_days", days_json(run && r->has_lower, r->lower));
	json_object_set_new(c, "upper_days", days_json(run && r->has_upper, r->upper));
	json_object_set_new(c, "probability",
			    f->has_result ? enrollment_number_json(r->p_complete, 4) : json_null());
	return c;
}

static json_t *expected_json(const struct enrollment_forecast *f)
{
	bool run = f->has_result && f->result.status == FORECAST_OK;
	json_t *list = json_array();

	for (size_t j = 0; f->has_result && j < f->nby; j++) {
		static const struct forecast_window none = {0};
		const struct forecast_window *w = run && j < f->result.nwindows ? &f->result.windows[j]
										: &none;
		json_t *o = json_object();

		json_object_set_new(o, "on", enrollment_date_json(f->by[j]));
		json_object_set_new(o, "days", json_integer(f->by[j] - f->snapshot.as_of));
		json_object_set_new(o, "mean", enrollment_number_json(w->mean, 2));
		json_object_set_new(o, "lower", json_integer((json_int_t)w->lower));
		json_object_set_new(o, "median", json_integer((json_int_t)w->median));
		json_object_set_new(o, "upper", json_integer((json_int_t)w->upper));
		json_object_set_new(o, "cumulative_median",
				    json_integer(f->enrolled + (json_int_t)w->median));
		json_array_append_new(list, o);
	}
	return list;
}

static bool have_fit(const struct enrollment_forecast *f)
{
	return f->has_result && f->result.fit.method != FORECAST_FIT_NO_DATA &&
	       f->result.fit.alpha > 0 && f->result.fit.beta > 0;
}

/* A site's posterior rate per site-month, or null when it does not recruit. */
static json_t *rate_json(const struct enrollment_forecast *f,
			 const struct enrollment_forecast_site *fs)
{
	const double month = ENROLLMENT_DAYS_PER_MONTH;
	struct forecast_rate rate;

	if (fs->input < 0 || !have_fit(f) || f->inputs[fs->input].closed ||
	    forecast_site_rate(&f->inputs[fs->input], &f->result.fit, &rate))
		return json_null();
	return json_pack("{s:o, s:o, s:o}", "mean", enrollment_number_json(rate.mean * month, 4),
			 "lower", enrollment_number_json(rate.lower * month, 4), "upper",
			 enrollment_number_json(rate.upper * month, 4));
}

static json_t *sites_json(const struct enrollment_forecast *f)
{
	bool median = f->has_result && f->result.has_median;
	json_t *list = json_array();

	for (size_t i = 0; i < f->nsites; i++) {
		const struct enrollment_forecast_site *fs = &f->sites[i];
		const struct enrollment_site *site = fs->site;
		json_t *o = json_object();

		json_object_set_new(o, "site_number", site ? json_string(site->site_number) : json_null());
		json_object_set_new(o, "label", json_string(fs->label));
		json_object_set_new(o, "study_site_id", site ? json_integer(site->id) : json_null());
		json_object_set_new(o, "country", site ? json_string(site->country) : json_null());
		json_object_set_new(o, "state", json_string(fs->state));
		json_object_set_new(o, "counted", json_boolean(fs->input >= 0));
		json_object_set_new(o, "recruited", json_integer(site ? site->enrolled : 0));
		json_object_set_new(o, "active_days", json_integer(site ? site->active_days : 0));
		json_object_set_new(o, "opens_on", enrollment_date_json(fs->opens_on));
		json_object_set_new(o, "closes_on", enrollment_date_json(fs->closes_on));
		json_object_set_new(o, "rate_per_month", rate_json(f, fs));
		json_object_set_new(o, "expected_until_median",
				    median && fs->input >= 0
					    ? enrollment_number_json(enrollment_forecast_site_expected(
									     f, i, f->result.median),
								     2)
					    : json_null());
		json_array_append_new(list, o);
	}
	return list;
}

static json_t *fit_json(const struct enrollment_forecast *f)
{
	const struct forecast_fit *fit = &f->result.fit;
	bool has = have_fit(f);

	if (!f->has_result)
		return json_null();
	return json_pack("{s:s, s:o, s:o, s:o, s:o, s:I, s:I, s:o, s:b, s:s}", "method",
			 forecast_fit_method_name(fit->method), "alpha",
			 has ? enrollment_number_json(fit->alpha, 6) : json_null(), "beta_days",
			 has ? enrollment_number_json(fit->beta, 6) : json_null(),
			 "mean_rate_per_site_month",
			 has ? enrollment_number_json(fit->alpha / fit->beta * ENROLLMENT_DAYS_PER_MONTH, 4)
			     : json_null(),
			 "log_likelihood",
			 fit->sites_with_data > 0 ? enrollment_number_json(fit->log_likelihood, 4)
						  : json_null(),
			 "sites_with_data", (json_int_t)fit->sites_with_data, "recruits",
			 (json_int_t)fit->recruits, "site_days", enrollment_number_json(fit->active_days, 1),
			 "uncertainty", fit->has_uncertainty, "message", fit->message);
}

static json_t *flags_json(const struct enrollment_forecast *f, json_t *warnings)
{
	json_t *flags = json_array();
	unsigned bits = f->has_result ? f->result.flags : 0;

	if (bits & FORECAST_FLAG_LONG_HORIZON) {
		json_array_append_new(flags, json_string("long_horizon"));
		json_array_append_new(warnings,
				      json_string("horizon long relative to elapsed time: interval likely "
						  "too narrow (Mountain and Sherlock 2022), and a decline in "
						  "rates would make it later"));
	}
	if (bits & FORECAST_FLAG_MAY_NOT_COMPLETE) {
		json_array_append_new(flags, json_string("may_not_complete"));
		json_array_append_new(warnings,
				      json_string("the target may never be reached with these sites: some "
						  "probability of not completing"));
	}
	if (bits & FORECAST_FLAG_APPROXIMATE) {
		json_array_append_new(flags, json_string("approximate"));
		json_array_append_new(warnings, json_string("closed form with staggered openings or "
							    "closings: moment-matched (approximate)"));
	}
	return flags;
}

static json_t *coverage_json(const struct enrollment_forecast *f)
{
	double share = f->target > 0 ? (double)f->enrolled / (double)f->target : 0;
	size_t row = 0;

	while (row + 1 < sizeof(measured_coverage) / sizeof(*measured_coverage) &&
	       share >= measured_coverage[row].below_share)
		row++;
	return json_pack("{s:f, s:f, s:f, s:s}", "nominal", 0.90, "simulated_constant_rates",
			 measured_coverage[row].coverage, "simulated_declining_rates",
			 DECLINING_COVERAGE, "basis",
			 measured_coverage[row].stage);
}

json_t *enrollment_forecast_json(const struct enrollment_forecast *f)
{
	const struct enrollment_snapshot *s = &f->snapshot;
	const struct forecast_result *r = &f->result;
	json_t *warnings = json_deep_copy(f->warnings), *out;
	bool run = f->has_result && r->status == FORECAST_OK;

	if (f->has_result && r->fit.method != FORECAST_FIT_MLE)
		json_array_append_new(warnings, json_sprintf("fallback (%s): %s",
							     forecast_fit_method_name(r->fit.method),
							     r->fit.message));
	if (f->has_result && r->status == FORECAST_NO_FUTURE_SITES)
		json_array_append_new(warnings, json_string("no site recruits after as_of: the target "
							    "is out of reach"));
	out = json_pack("{s:I, s:s, s:o, s:b, s:s, s:I, s:s, s:I, s:I}", "study_id",
			(json_int_t)s->study_id, "protocol_number", s->protocol_number, "as_of",
			enrollment_date_json(s->as_of), "what_if", f->what_if, "status",
			status_name(f->status), "target", (json_int_t)f->target, "target_source",
			f->target_given ? "request" : "study", "enrolled", (json_int_t)f->enrolled,
			"remaining",
			(json_int_t)(f->target > f->enrolled ? f->target - f->enrolled : 0));
	json_object_set_new(out, "completion", completion_json(f));
	if (run && r->has_median && json_is_null(json_object_get(json_object_get(out, "completion"),
								   "median_on")))
		json_array_append_new(warnings, json_string("the median completion lies after "
							    "2199-12-31, beyond the dates ctms writes"));
	json_object_set_new(out, "expected", expected_json(f));
	json_object_set_new(out, "sites", sites_json(f));
	json_object_set_new(out, "fit", fit_json(f));
	json_object_set_new(out, "method",
			    run ? json_string(forecast_method_name(r->method)) : json_null());
	json_object_set_new(out, "draws", json_integer(run ? r->draws : 0));
	json_object_set_new(out, "seed", json_integer((json_int_t)f->seed));
	json_object_set_new(out, "flags", flags_json(f, warnings));
	json_object_set_new(out, "interval_coverage", coverage_json(f));
	json_object_set_new(out, "warnings", warnings);
	json_object_set_new(out, "message", json_string(f->has_result ? r->message : ""));
	return out;
}
