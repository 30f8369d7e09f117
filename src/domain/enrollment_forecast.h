/* The enrollment forecast of a study: its dated records as of a date, turned
 * into the Poisson-gamma model's inputs (analytics/forecast.h) and the
 * answer turned back into dates (RULES.md, "Recruitment prediction —
 * Poisson-gamma model").
 *
 * Time runs from the end of the as-of day: a site activated on as-of + 1
 * recruits from time 0; a site closing on day C recruits through C; a
 * recruit at time t falls on day as-of + ceil(t) (at least as-of + 1).
 *
 * The sites, as of as-of:
 *   - activated (active or closed since): history k = subjects enrolled,
 *     tau = active days (enrollment.h); a closed one informs the fit and
 *     recruits no more;
 *   - not yet activated: contributes the prior rate from its
 *     planned_activation_on (as recorded now); one whose planned date has
 *     passed is assumed to open the day after as-of; one without a planned
 *     date does not count; each such assumption is a warning;
 *   - a study that has left enrolling by as-of recruits no more.
 *
 * A what-if (the POST body) opens sites on given days (an existing site not
 * yet active, by site_number, or hypothetical new sites) and closes sites on
 * given days. It writes nothing.
 *
 * The Monte Carlo seed, unless given, is derived from the request (study,
 * as-of, target, dates, what-ifs): the same question always gets the same
 * answer. */
#ifndef CTMS_ENROLLMENT_FORECAST_H
#define CTMS_ENROLLMENT_FORECAST_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "analytics/forecast.h"
#include "domain/enrollment.h"

struct db;
struct err;

/* Expected recruits by these many days after as-of when no date is asked. */
#define ENROLLMENT_FORECAST_DEFAULT_BY {30, 90, 180}
/* The most hypothetical sites one what-if may open, in all. */
#define ENROLLMENT_FORECAST_MAX_NEW_SITES 10000

/* One site of the forecast: a study-site or a hypothetical one. */
struct enrollment_forecast_site {
	const struct enrollment_site *site; /* NULL for a hypothetical site */
	char label[65];         /* the site_number, or the what-if's label */
	const char *state;      /* active, closed, planned (also: opened by the what-if),
				   overdue, hypothetical, not_counted */
	int32_t opens_on;       /* a site not yet active: the day it opens, or ENROLLMENT_NO_DAY */
	int32_t closes_on;      /* a what-if closing, or ENROLLMENT_NO_DAY */
	long input;             /* index into the forecast's inputs, or -1 when not counted */
	bool opened;            /* opened on opens_on by the what-if */
};

enum enrollment_forecast_status {
	ENROLLMENT_FORECAST_OK,
	ENROLLMENT_FORECAST_NO_DATA,         /* no site with history: no forecast */
	ENROLLMENT_FORECAST_NO_FUTURE_SITES, /* nobody recruits after as-of */
	ENROLLMENT_FORECAST_TARGET_REACHED,  /* the study's own target is already met */
};

struct enrollment_forecast {
	struct enrollment_snapshot snapshot;
	enum enrollment_forecast_status status;
	int64_t target, enrolled;
	bool target_given;
	size_t nsites;
	struct enrollment_forecast_site *sites;
	size_t ninputs;
	struct forecast_site *inputs;        /* what analytics/forecast.h is given */
	struct forecast_options options;
	uint64_t seed;
	bool seed_given;
	bool what_if;
	size_t nby;
	int32_t by[FORECAST_MAX_WINDOWS];    /* days of the expected-recruits dates */
	bool has_result;
	struct forecast_result result;
	json_t *warnings;                    /* array of strings */
};

/* Computes the forecast of study_id for request, a JSON object with any of
 * "target" (the total to reach; default the study's target_enrollment),
 * "as_of", "by" (dates for expected recruits), "seed", and for a what-if
 * "open" and "close" (docs/openapi.yaml, ForecastRequest). Every problem of
 * the request is a field error naming it ("open[1].on"); CTMS_ENOTFOUND for
 * an unknown study. The caller releases *out with enrollment_forecast_release,
 * also after a failure. */
int enrollment_forecast_compute(struct db *db, int64_t study_id, const json_t *request,
				struct enrollment_forecast *out, struct err *e);
void enrollment_forecast_release(struct enrollment_forecast *f);

/* The answer (docs/openapi.yaml, Forecast): a new reference. */
json_t *enrollment_forecast_json(const struct enrollment_forecast *f);

/* compute, then json. */
int enrollment_forecast(struct db *db, int64_t study_id, const json_t *request, json_t **out,
			struct err *e);

/* Recruits expected at the forecast's site i from as-of to t days after it:
 * its posterior mean rate times its recruiting days in that span. 0 for a
 * site that does not count or without a fit. */
double enrollment_forecast_site_expected(const struct enrollment_forecast *f, size_t i, double t);

/* The day the median forecast reaches the target, or ENROLLMENT_NO_DAY. */
int32_t enrollment_forecast_median_day(const struct enrollment_forecast *f);

#endif
