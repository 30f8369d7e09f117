/* Enrollment forecasting with the Poisson-gamma recruitment model
 * (RULES.md, "Recruitment prediction — Poisson-gamma model"; Anisimov and
 * Fedorov, Stat Med 2007;26:4958).
 *
 * Site i recruits as a Poisson process of rate lambda_i; the rates are
 * Gamma(alpha, beta) across sites (shape alpha, rate beta, per day). The
 * module fits alpha and beta by maximum likelihood, forms each site's
 * posterior rate, and answers: how long until n more recruits (median, 5% and
 * 95% quantiles, mean), and how many recruits in the next w days.
 *
 * Pure computation: no I/O, no global state, nothing kept between calls; the
 * results depend only on the arguments, including the Monte Carlo seed.
 * Times are in days counted from the forecast date ("as of"). Functions return
 * 0 or a negative enum ctms_err; on CTMS_EINVAL the out struct's message names
 * the offending field and what was expected. No number in a result is ever NaN
 * or infinite: a quantity that does not exist has its has_ flag false and the
 * value 0. */
#ifndef CTMS_FORECAST_H
#define CTMS_FORECAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A time beyond this many days counts as "not reached" (about 2,700 years). */
#define FORECAST_MAX_DAYS 1e6
/* The shortest non-zero active time accepted (about 0.1 seconds). */
#define FORECAST_MIN_ACTIVE_DAYS 1e-6
/* Monte Carlo draws when the options leave draws at 0, and the most allowed. */
#define FORECAST_DEFAULT_DRAWS 10000u
#define FORECAST_MAX_DRAWS 10000000u
/* The shape alpha is kept in [FORECAST_ALPHA_MIN, FORECAST_ALPHA_MAX]; reaching
 * the upper bound is the Poisson limit (all sites recruit at one rate). */
#define FORECAST_ALPHA_MIN 1e-3
#define FORECAST_ALPHA_MAX 1e4
/* The horizon warning fires when the median remaining time exceeds this
 * multiple of the elapsed time (Mountain and Sherlock, Biometrics 2022). */
#define FORECAST_HORIZON_RATIO 2.0
/* The most extra windows struct forecast_options.windows may hold. */
#define FORECAST_MAX_WINDOWS 8

/* One site as of the forecast date. A zeroed struct is a site that opens today
 * with no history. */
struct forecast_site {
	uint32_t recruited;    /* k_i: recruits so far; must be 0 when active_days is 0 */
	double active_days;    /* tau_i: days recruiting up to as-of; 0 if not yet open,
				  else from FORECAST_MIN_ACTIVE_DAYS to FORECAST_MAX_DAYS */
	double opens_in_days;  /* u_i: a site not yet open (active_days 0) opens this many
				  days after as-of; must be 0 for a site with history */
	double closes_in_days; /* what-if: the site stops recruiting this many days after
				  as-of; 0 means no planned closing */
	bool closed;           /* closed already: its history informs the fit, it recruits
				  no more */
};

/* How alpha and beta were obtained (struct forecast_fit.method). */
enum forecast_fit_method {
	FORECAST_FIT_MLE = 0,        /* maximum likelihood, converged inside the bounds */
	FORECAST_FIT_POISSON_LIMIT,  /* no over-dispersion: alpha = FORECAST_ALPHA_MAX,
					"homogeneous rates: Poisson limit" */
	FORECAST_FIT_SHAPE_FLOOR,    /* likelihood rises as alpha -> 0: alpha = FORECAST_ALPHA_MIN */
	FORECAST_FIT_MOMENTS,        /* the optimiser failed: method-of-moments values */
	FORECAST_FIT_SINGLE_SITE,    /* one site with history: the spread between sites
					cannot be estimated; an assumed shape is used */
	FORECAST_FIT_NO_RECRUITS,    /* active time but no recruit anywhere: a half-recruit
					pseudo-count over the total active time */
	FORECAST_FIT_PRIOR,          /* the supplied prior rate (no usable data) */
	FORECAST_FIT_NO_DATA,        /* no site has history and no prior: no forecast */
};

/* Which computation produced the times (struct forecast_result.method), and
 * which one the caller asks for (struct forecast_options.method). */
enum forecast_method {
	FORECAST_AUTO = 0,      /* closed form when every future site is open now and stays
				   open (the model's exact case), Monte Carlo otherwise */
	FORECAST_CLOSED_FORM,   /* incomplete-beta formula; with staggered openings or
				   closings, moment matching at each t (an approximation,
				   flagged FORECAST_FLAG_APPROXIMATE) */
	FORECAST_MONTE_CARLO,   /* seeded simulation of the posterior rates and arrivals */
};

enum forecast_status {
	FORECAST_OK = 0,           /* numbers present; the has_ flags say which */
	FORECAST_NO_DATA,          /* no site has history and no prior rate was given */
	FORECAST_NO_FUTURE_SITES,  /* no site recruits after as-of: the target is out of reach */
};

/* Bits of struct forecast_result.flags. */
enum forecast_flag {
	FORECAST_FLAG_LONG_HORIZON = 1u << 0,    /* median remaining > 2 x elapsed:
						    "interval likely too narrow" */
	FORECAST_FLAG_MAY_NOT_COMPLETE = 1u << 1, /* some probability (>= 5%) of never reaching
						     the target or not within FORECAST_MAX_DAYS */
	FORECAST_FLAG_APPROXIMATE = 1u << 2,     /* closed form with time-varying rate:
						    moment-matched at each t */
};

struct forecast_options {
	enum forecast_method method;
	double prior_rate;    /* expected recruits per site per day before any data; 0 = none.
				 Used when no site has history, or the history cannot
				 identify the model (one site, no recruits). */
	double prior_shape;   /* its Gamma shape alpha0 (1/CV^2 of site rates); 0 = 1 */
	bool plug_in;         /* treat the fitted alpha, beta as known: RULES.md's formulas
				 alone. By default the forecast also integrates over their
				 sampling uncertainty (see forecast_run). */
	uint64_t seed;        /* Monte Carlo seed: equal seeds give equal results */
	uint32_t draws;       /* Monte Carlo draws; 0 = FORECAST_DEFAULT_DRAWS */
	double window_days;   /* also forecast recruits in the next window_days; 0 = skip */
	double elapsed_days;  /* recruitment time so far, for the horizon warning;
				 0 = the longest active_days */
	/* More windows, answered in struct forecast_result.windows in the same
	 * order (recruits by several dates at once); each from 1e-6 to 1e6 days.
	 * Monte Carlo computes every window from the same draws, nested, so the
	 * counts of a longer window are never below those of a shorter one. */
	size_t nwindows;
	double windows[FORECAST_MAX_WINDOWS];
};

/* Recruits in the next `days` days: negative binomial in closed form. */
struct forecast_window {
	double days;
	double mean;
	uint64_t lower, median, upper; /* 5%, 50%, 95% quantiles */
};

/* A site's rate after the data, Gamma(alpha + k, beta + tau) (prior
 * Gamma(alpha, beta) for a site with no history): its mean and 5% and 95%
 * quantiles, recruits per day. */
struct forecast_rate {
	double shape, rate;
	double mean, lower, upper;
};

struct forecast_fit {
	enum forecast_fit_method method;
	double alpha;          /* Gamma shape of site rates */
	double beta;           /* Gamma rate, in days: mean site rate is alpha/beta per day */
	double log_likelihood; /* l(alpha, beta) over the sites with history; 0 without */
	unsigned iterations;   /* optimiser iterations */
	/* Sampling uncertainty of (ln alpha, ln mu), mu = alpha/beta the mean site
	 * rate: the inverse observed information at the maximum. Only for
	 * FORECAST_FIT_MLE (both) and the bounds POISSON_LIMIT and SHAPE_FLOOR
	 * (ln mu only: var_log_alpha and cov_log are 0). */
	bool has_uncertainty;
	double var_log_alpha, var_log_mean, cov_log;
	size_t sites_with_data;
	uint64_t recruits;     /* sum of k_i */
	double active_days;    /* sum of tau_i */
	char message[192];     /* one sentence saying which method or fallback and why */
};

struct forecast_result {
	enum forecast_status status;
	struct forecast_fit fit;
	enum forecast_method method;  /* FORECAST_CLOSED_FORM or FORECAST_MONTE_CARLO */
	unsigned flags;               /* enum forecast_flag bits */

	/* The current total rate Lambda = sum of the posterior rates of the sites
	 * recruiting at as-of, moment-matched to Gamma(shape_a, rate_b):
	 * m = sum (alpha+k)/(beta+tau), v = sum (alpha+k)/(beta+tau)^2, A = m^2/v,
	 * B = m/v. All 0 when no site recruits at as-of. */
	double rate_mean, rate_variance, shape_a, rate_b;

	/* T, the days from as-of until n more recruits. */
	double p_complete;            /* P(T <= FORECAST_MAX_DAYS) */
	bool has_lower, has_median, has_upper, has_mean;
	double lower;                 /* 5% quantile */
	double median;
	double upper;                 /* 95% quantile */
	double mean;                  /* E[T]: nB/(A-1) in closed form when A > 1; the
				         sample mean in Monte Carlo when every draw
				         completes and the final total shape exceeds 1 */

	/* Recruits in the next window_days (when asked): negative binomial. */
	bool has_window;
	double window_mean;
	uint64_t window_lower, window_median, window_upper; /* 5%, 50%, 95% quantiles */

	/* Recruits in each of opt->windows, in its order (nwindows of them). */
	size_t nwindows;
	struct forecast_window windows[FORECAST_MAX_WINDOWS];

	uint32_t draws;               /* Monte Carlo draws used; 0 in closed form */
	double elapsed_days;          /* the elapsed time the horizon warning used */
	char message[512];            /* fit message, method, warnings: for a human */
};

/* Fits alpha and beta to the sites with history (active_days > 0, closed or
 * not) by maximum likelihood of the negative-binomial marginal
 *   l(a,b) = sum [lnG(a+k) - lnG(a) + a ln b - (a+k) ln(b+tau) + k ln tau],
 * starting from method-of-moments values of the rates k/tau, with Newton steps
 * and a backtracking line search in (ln alpha, ln alpha/beta). Data that
 * cannot identify the model take the fallbacks listed in enum
 * forecast_fit_method; opt may be NULL (no prior). Returns 0 (with
 * out->method FORECAST_FIT_NO_DATA when there is nothing to fit and no prior)
 * or CTMS_EINVAL for invalid sites or options. */
int forecast_fit(const struct forecast_site *sites, size_t nsites,
		 const struct forecast_options *opt, struct forecast_fit *out);

/* l(alpha, beta) as above, over the sites with active_days > 0, into *out.
 * Returns CTMS_EINVAL for alpha or beta not finite and > 0, or invalid sites. */
int forecast_log_likelihood(const struct forecast_site *sites, size_t nsites, double alpha,
			    double beta, double *out);

/* The forecast: fits (forecast_fit), forms the posterior rates
 * Gamma(alpha+k_i, beta+tau_i) of the sites that will recruit (a site not yet
 * open contributes Gamma(alpha, beta) from its opening), and computes the
 * distribution of the time to target_more more recruits by the method the
 * options ask for.
 *
 * Plugging the fitted alpha, beta in as if known gives intervals that are too
 * narrow (RULES.md; Mountain and Sherlock 2022): in this module's calibration,
 * 85% coverage for a nominal 90%. Unless opt->plug_in is set, the forecast
 * therefore averages the model's distribution over the fit's uncertainty, a
 * normal in (ln alpha, ln mu) with the inverse observed information as
 * covariance, by 3x3 Gauss-Hermite nodes: closed form, a mixture of nine
 * incomplete-beta CDFs; Monte Carlo, draws shared among the nodes by weight.
 * rate_mean, rate_variance, shape_a and rate_b stay the plug-in values.
 *
 * opt may be NULL (all defaults). Returns 0 with out->status saying whether
 * numbers are present, or CTMS_EINVAL (invalid input, or a numerical failure
 * the message describes; no partial numbers are then meaningful).
 * target_more must be at least 1. */
int forecast_run(const struct forecast_site *sites, size_t nsites, uint32_t target_more,
		 const struct forecast_options *opt, struct forecast_result *out);

/* P(T <= t) for target_more more recruits, by the closed form, given a fit
 * (from forecast_fit; its alpha and beta must be > 0): with every future site
 * open at as-of, I_{t/(t+B)}(n, A); otherwise the integrated rate to t is
 * moment-matched to a gamma at each t. With plug_in false and a fit that
 * has_uncertainty, the mixture over the fit's uncertainty, as forecast_run.
 * Returns CTMS_EINVAL for bad arguments. */
int forecast_time_cdf(const struct forecast_site *sites, size_t nsites, uint32_t target_more,
		      const struct forecast_fit *fit, bool plug_in, double t, double *out);

/* The posterior rate of one site given a fit (alpha, beta > 0), from its
 * recruited and active_days. Returns CTMS_EINVAL for bad arguments. */
int forecast_site_rate(const struct forecast_site *site, const struct forecast_fit *fit,
		       struct forecast_rate *out);

/* Short fixed names, for logs and JSON: "mle", "poisson_limit", ...;
 * "closed_form", "monte_carlo"; "ok", "no_data", "no_future_sites". */
const char *forecast_fit_method_name(enum forecast_fit_method m);
const char *forecast_method_name(enum forecast_method m);
const char *forecast_status_name(enum forecast_status s);

#include "util/err.h"
#endif
