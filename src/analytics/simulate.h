/* Synthetic trials from the Poisson-gamma recruitment process, for
 * calibrating the forecast (forecast.h) against known truth.
 *
 * Site j opens on a day drawn uniformly from [0, opening_spread_days], draws
 * its rate lambda_j ~ Gamma(alpha, rate beta) per day and recruits as a
 * Poisson process from its opening. With half_life_days > 0 the rate decays,
 * lambda_j 2^(-(t - opening)/half_life): the declining-rate variant, which the
 * forecast's model does not assume. Recruitment stops at the target-th
 * recruit over all sites. Day 0 is the trial's start.
 *
 *	struct simulate_params p = {.alpha = 2, .beta = 40, .sites = 30,
 *				    .opening_spread_days = 120, .target = 300, .seed = 7};
 *	struct simulate_trial t;
 *	if (simulate_run(&p, &t) == 0) {
 *		use(t.completion_day, t.sites[0].arrivals);
 *		simulate_release(&t);
 *	}
 *
 * Equal parameters and seed give equal trials, on every platform GSL runs on
 * (generator mt19937). */
#ifndef CTMS_SIMULATE_H
#define CTMS_SIMULATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analytics/forecast.h"

struct simulate_params {
	double alpha, beta;          /* site rates ~ Gamma(alpha, rate beta), per day; > 0 */
	uint32_t sites;              /* 1 to 1,000,000 */
	double opening_spread_days;  /* openings uniform on [0, spread]; >= 0 */
	uint32_t target;             /* N >= 1: recruitment stops at the N-th recruit */
	uint64_t seed;
	double half_life_days;       /* 0: constant rates; > 0: rates halve every half-life */
};

struct simulate_site {
	double opens_on;     /* day the site opens */
	double rate;         /* its drawn rate (at opening, for the declining variant) */
	uint32_t count;      /* recruits up to the trial's completion (or its horizon) */
	double *arrivals;    /* their days, ascending; owned by the trial */
};

struct simulate_trial {
	uint32_t nsites;
	struct simulate_site *sites;
	uint32_t total;          /* recruits over all sites: target when completed */
	double *recruit_days;    /* all recruits' days, ascending (total of them) */
	bool completed;          /* false: the target was not reached by FORECAST_MAX_DAYS
				    (only possible with declining rates) */
	double completion_day;   /* day of the target-th recruit when completed, else 0 */
};

/* Simulates one trial into *out, which the caller releases with
 * simulate_release. Returns 0, or CTMS_EINVAL for parameters out of range
 * (out is then empty and needs no release, though releasing is harmless). */
int simulate_run(const struct simulate_params *p, struct simulate_trial *out);

/* Frees everything the trial holds and zeroes it. */
void simulate_release(struct simulate_trial *t);

/* The trial as a forecast sees it at `day`: sites[j] (the caller provides
 * t->nsites of them) gets the recruits and active days of site j up to day,
 * or, for a site not yet open, its opens_in_days. Returns the recruits up to
 * day over all sites. */
uint32_t simulate_observe(const struct simulate_trial *t, double day,
			  struct forecast_site *sites);

#include "util/err.h"
#endif
