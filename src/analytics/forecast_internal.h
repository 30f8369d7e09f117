/* Shared between forecast.c, forecast_fit.c and forecast_mc.c; not part of
 * the contract in forecast.h. */
#ifndef CTMS_FORECAST_INTERNAL_H
#define CTMS_FORECAST_INTERNAL_H

#include "analytics/forecast.h"

/* Checks sites and options (opt may be NULL); on failure writes a message
 * naming the field into msg and returns CTMS_EINVAL. */
int forecast__validate(const struct forecast_site *sites, size_t nsites,
		       const struct forecast_options *opt, char *msg, size_t msglen);

/* One site that may recruit after as-of: posterior rate Gamma(shape, rate),
 * recruiting on [opens, closes) (closes only when has_close). */
struct forecast__future {
	double shape, rate;
	double opens, closes;
	bool has_close;
};

/* The future sites of a forecast, split into the time-homogeneous part (open
 * at as-of, never closing: only its moments m0, v0 matter to the closed form)
 * and the rest. */
struct forecast__plan {
	struct forecast__future *sites; /* every future site, base ones first */
	size_t nsites;
	size_t nbase;             /* sites[0..nbase) open at as-of and never close */
	double m0, v0;            /* sum shape/rate and shape/rate^2 over the base */
	double m_now, v_now;      /* the same over every site recruiting at as-of */
	double final_shape;       /* sum of shapes of the sites that never close */
	bool time_varying;        /* some site opens later or closes */
};

/* Builds the plan from validated sites and alpha, beta > 0. */
void forecast__plan_build(const struct forecast_site *sites, size_t nsites, double alpha,
			  double beta, struct forecast__plan *plan);
void forecast__plan_release(struct forecast__plan *plan);

/* The forecast averaged over the fit's uncertainty: one plan per quadrature
 * node, with weights summing to 1. A plug-in forecast has one node. */
#define FORECAST__MAX_NODES 9
struct forecast__mixture {
	size_t nnodes;
	double weight[FORECAST__MAX_NODES];
	double alpha[FORECAST__MAX_NODES], beta[FORECAST__MAX_NODES];
	struct forecast__plan plan[FORECAST__MAX_NODES];
};

void forecast__mixture_build(const struct forecast_site *sites, size_t nsites,
			     const struct forecast_fit *fit, bool plug_in,
			     struct forecast__mixture *mx);
void forecast__mixture_release(struct forecast__mixture *mx);

/* Monte Carlo over the mixture: fills lower/median/upper/mean, p_complete and
 * draws, and windows[0..nwindows) (their days set by the caller, each > 0)
 * from the same draws. */
void forecast__monte_carlo(const struct forecast__mixture *mx, uint32_t target_more,
			   uint32_t draws, uint64_t seed, struct forecast_window *windows,
			   size_t nwindows, struct forecast_result *out);

/* Empirical quantile q of sorted values x[0..n) of which the last
 * `missing` (not stored) are +infinity; returns false when q falls there. */
bool forecast__sample_quantile(const double *x, size_t stored, size_t missing, double q,
			       double *out);

#include "util/err.h"
#endif
