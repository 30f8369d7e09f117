/* Maximum-likelihood fit of the Gamma(alpha, beta) distribution of site rates
 * (RULES.md, "Recruitment prediction — Poisson-gamma model"). */
#include "analytics/forecast.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_sf_gamma.h>
#include <gsl/gsl_sf_psi.h>

#include "analytics/alloc.h"
#include "analytics/forecast_internal.h"

/* Up to this many recruits at a site the lnGamma, digamma and trigamma
 * differences are summed term by term: exact, and cheaper than GSL. */
#define SMALL_COUNT 32
#define MAX_ITERATIONS 200
#define DEFAULT_SHAPE 1.0

/* The sites with history, with their counts k grouped: lnG(a+k) - lnG(a) and
 * its derivatives are computed once per distinct k, not once per site. */
struct fit_data {
	size_t n;
	const double *tau;     /* n active times */
	const uint32_t *k;     /* n counts */
	size_t ndistinct;
	uint32_t *distinct_k;  /* distinct counts > 0 */
	double *multiplicity;  /* how many sites have each */
	double k_log_tau;      /* sum k ln tau: constant in alpha and beta */
};

/* l and, in (u, w) = (ln a, ln b), its gradient and Hessian. */
struct eval {
	double l;
	double gu, gw;
	double huu, huw, hww;
};

static int compare_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static void evaluate(const struct fit_data *d, double a, double b, bool derivatives,
		     struct eval *e)
{
	double l = d->k_log_tau, la = 0, lb = 0, laa = 0, lab = 0, lbb = 0;
	double lngamma_a = 0, psi_a = 0, psi1_a = 0;
	bool have_special = false;

	for (size_t j = 0; j < d->ndistinct; j++) {
		uint32_t k = d->distinct_k[j];
		double c = d->multiplicity[j], lg = 0, ps = 0, p1 = 0;

		if (k <= SMALL_COUNT) {
			for (uint32_t i = 0; i < k; i++) {
				double x = a + i;
				lg += log(x);
				ps += 1.0 / x;
				p1 -= 1.0 / (x * x);
			}
		} else {
			if (!have_special) {
				lngamma_a = gsl_sf_lngamma(a);
				psi_a = gsl_sf_psi(a);
				psi1_a = gsl_sf_psi_1(a);
				have_special = true;
			}
			lg = gsl_sf_lngamma(a + k) - lngamma_a;
			ps = gsl_sf_psi(a + k) - psi_a;
			p1 = gsl_sf_psi_1(a + k) - psi1_a;
		}
		l += c * lg;
		la += c * ps;
		laa += c * p1;
	}
	for (size_t i = 0; i < d->n; i++) {
		double tau = d->tau[i], k = d->k[i], bt = b + tau;
		double log_ratio = log1p(tau / b); /* ln(b+tau) - ln b */

		l += -a * log_ratio - k * log(bt);
		if (derivatives) {
			la -= log_ratio;
			lb += (a * tau - k * b) / (b * bt);
			lab += tau / (b * bt);
			lbb += -a / (b * b) + (a + k) / (bt * bt);
		}
	}
	e->l = l;
	if (derivatives) {
		e->gu = a * la;
		e->gw = b * lb;
		e->huu = a * a * laa + a * la;
		e->huw = a * b * lab;
		e->hww = b * b * lbb + b * lb;
	}
}

/* In (x, z) = (ln alpha, ln mu), mu = alpha/beta the mean rate, the ridge of
 * the likelihood along which alpha and beta grow together is an axis. */
struct point {
	double x, z;
	double f, gx, gz, hxx, hxz, hzz;
};

static void evaluate_point(const struct fit_data *d, struct point *p, bool derivatives)
{
	struct eval e;
	double a = exp(p->x), b = exp(p->x - p->z);

	evaluate(d, a, b, derivatives, &e);
	p->f = e.l;
	if (derivatives) {
		p->gx = e.gu + e.gw;
		p->gz = -e.gw;
		p->hxx = e.huu + 2.0 * e.huw + e.hww;
		p->hxz = -(e.huw + e.hww);
		p->hzz = e.hww;
	}
}

enum bound { BOUND_NONE, BOUND_UPPER, BOUND_LOWER };

static int bound_of(double x)
{
	return x >= log(FORECAST_ALPHA_MAX) ? BOUND_UPPER
	     : x <= log(FORECAST_ALPHA_MIN) ? BOUND_LOWER
					    : BOUND_NONE;
}

/* The Newton step along each eigenvector of the Hessian where the likelihood
 * is concave, and a unit step uphill where it is not (near the Poisson limit
 * the profile in alpha is often convex and nearly flat: a Newton step there
 * goes the wrong way, a shifted one crawls). */
static void ascent_direction(const struct point *p, double *dx, double *dz)
{
	double mid = 0.5 * (p->hxx + p->hzz);
	double rad = hypot(0.5 * (p->hxx - p->hzz), p->hxz);
	double value[2] = {mid + rad, mid - rad}, vx[2], vz[2];
	double flat = 1e-9 * (fabs(mid) + rad);

	if (fabs(p->hxz) > 0) {
		double x = value[0] - p->hzz, z = p->hxz, norm = hypot(x, z);
		vx[0] = x / norm;
		vz[0] = z / norm;
	} else {
		vx[0] = p->hxx >= p->hzz ? 1.0 : 0.0;
		vz[0] = 1.0 - vx[0];
	}
	vx[1] = -vz[0];
	vz[1] = vx[0];
	*dx = 0;
	*dz = 0;
	for (int k = 0; k < 2; k++) {
		double along = p->gx * vx[k] + p->gz * vz[k];
		double step = value[k] < -flat ? -along / value[k]
			    : along > 0	      ? 1.0
			    : along < 0	      ? -1.0
					      : 0.0;
		*dx += step * vx[k];
		*dz += step * vz[k];
	}
}

/* Newton ascent with a backtracking (Armijo) line search, ln alpha projected
 * onto [ln FORECAST_ALPHA_MIN, ln FORECAST_ALPHA_MAX]: at a bound that the step
 * would cross, ln alpha is held and only ln mu moves. On return p holds the
 * point with its derivatives. Returns the bound the optimum sits on, or -1
 * when it did not converge. */
static int newton(const struct fit_data *d, struct point *p, unsigned *iterations)
{
	const double xmin = log(FORECAST_ALPHA_MIN), xmax = log(FORECAST_ALPHA_MAX);
	const double tol = 1e-9 * (double)(d->n + 1);
	unsigned stalled = 0;

	evaluate_point(d, p, true);
	for (unsigned it = 0; it < MAX_ITERATIONS; it++) {
		bool hold_x = (p->x >= xmax && p->gx >= 0) || (p->x <= xmin && p->gx <= 0);
		double dx = 0, dz, slope, step = 1.0;
		struct point q;
		bool accepted = false;

		*iterations = it + 1;
		if (!hold_x) {
			if (fmax(fabs(p->gx), fabs(p->gz)) <= tol)
				return bound_of(p->x);
			ascent_direction(p, &dx, &dz);
			/* A step out through the bound it sits on holds alpha there. */
			if ((p->x >= xmax && dx > 0) || (p->x <= xmin && dx < 0))
				hold_x = true;
		}
		if (hold_x) {
			if (fabs(p->gz) <= tol)
				return bound_of(p->x);
			dx = 0;
			dz = p->hzz < 0 ? -p->gz / p->hzz : (p->gz > 0 ? 1.0 : -1.0);
		}
		/* No step longer than a factor e^2 in alpha or mu. */
		double longest = fmax(fabs(dx), fabs(dz));
		if (longest > 2.0) {
			dx *= 2.0 / longest;
			dz *= 2.0 / longest;
		}
		slope = p->gx * dx + p->gz * dz;
		if (!(slope > 0) || !isfinite(slope))
			return -1;
		for (int halvings = 0; halvings < 60; halvings++) {
			q.x = fmin(fmax(p->x + step * dx, xmin), xmax);
			q.z = p->z + step * dz;
			evaluate_point(d, &q, false);
			if (isfinite(q.f) && q.f >= p->f + 1e-4 * step * slope) {
				accepted = true;
				break;
			}
			step *= 0.5;
		}
		if (!accepted) {
			/* No further rise at machine precision: a maximum, if the
			 * gradient is already small relative to the curvature. */
			double scale = sqrt(fabs(p->hxx) + fabs(p->hzz)) + 1.0;
			if (fmax(hold_x ? 0 : fabs(p->gx), fabs(p->gz)) <=
			    1e-5 * scale * (double)(d->n + 1))
				return bound_of(p->x);
			return -1;
		}
		double gain = q.f - p->f, moved = fmax(fabs(q.x - p->x), fabs(q.z - p->z));
		p->x = q.x;
		p->z = q.z;
		evaluate_point(d, p, true);
		/* On a ridge flat to rounding, three steps that gain nothing end it. */
		stalled = gain <= 1e-13 * (1.0 + fabs(p->f)) ? stalled + 1 : 0;
		if (moved < 1e-13 || stalled >= 3)
			return bound_of(p->x);
	}
	return -1;
}

static double clamp_alpha(double a)
{
	return fmin(fmax(a, FORECAST_ALPHA_MIN), FORECAST_ALPHA_MAX);
}

static void set_result(struct forecast_fit *out, enum forecast_fit_method m, double alpha,
		       double mean_rate)
{
	out->method = m;
	out->alpha = alpha;
	out->beta = alpha / mean_rate;
}

int forecast_fit(const struct forecast_site *sites, size_t nsites,
		 const struct forecast_options *opt, struct forecast_fit *out)
{
	struct fit_data d = {0};
	double *tau = NULL;
	uint32_t *k = NULL, *sorted = NULL;
	double prior_rate = opt ? opt->prior_rate : 0.0;
	double shape0 = opt && opt->prior_shape > 0 ? opt->prior_shape : DEFAULT_SHAPE;
	double sum_tau = 0, sum_tau2 = 0;
	int rc;

	if (!out)
		return CTMS_EINVAL;
	memset(out, 0, sizeof(*out));
	rc = forecast__validate(sites, nsites, opt, out->message, sizeof(out->message));
	if (rc)
		return rc;

	tau = analytics_calloc(nsites, sizeof(*tau));
	k = analytics_calloc(nsites, sizeof(*k));
	for (size_t i = 0; i < nsites; i++) {
		if (sites[i].active_days <= 0)
			continue;
		tau[d.n] = sites[i].active_days;
		k[d.n] = sites[i].recruited;
		out->recruits += sites[i].recruited;
		sum_tau += tau[d.n];
		sum_tau2 += tau[d.n] * tau[d.n];
		if (k[d.n] > 0)
			d.k_log_tau += k[d.n] * log(tau[d.n]);
		d.n++;
	}
	d.tau = tau;
	d.k = k;
	out->sites_with_data = d.n;
	out->active_days = sum_tau;

	/* Data that cannot identify (alpha, beta): a prior if given, else a
	 * stated assumption, else no forecast. */
	if (d.n == 0 || out->recruits == 0 || d.n == 1) {
		const char *why = d.n == 0 ? "no site has history"
				: out->recruits == 0 ? "no recruits yet"
						     : "one site with history";
		if (prior_rate > 0) {
			set_result(out, FORECAST_FIT_PRIOR, shape0, prior_rate);
			snprintf(out->message, sizeof(out->message),
				 "prior used (%s): mean rate %.4g per site per day, shape %.3g", why,
				 prior_rate, shape0);
		} else if (d.n == 0) {
			out->method = FORECAST_FIT_NO_DATA;
			snprintf(out->message, sizeof(out->message),
				 "no data: no site has been active and no prior rate was supplied; "
				 "no forecast");
		} else if (out->recruits == 0) {
			set_result(out, FORECAST_FIT_NO_RECRUITS, shape0, 0.5 / sum_tau);
			snprintf(out->message, sizeof(out->message),
				 "no recruits yet over %.4g site-days: mean rate from a half-recruit "
				 "pseudo-count, shape %.3g assumed; very uncertain",
				 sum_tau, shape0);
		} else {
			set_result(out, FORECAST_FIT_SINGLE_SITE, shape0, k[0] / tau[0]);
			snprintf(out->message, sizeof(out->message),
				 "one site with history: the spread between sites cannot be "
				 "estimated; shape %.3g assumed, mean rate %.4g per day from that site",
				 shape0, k[0] / tau[0]);
		}
		goto done;
	}

	/* Distinct positive counts and their multiplicities. */
	sorted = analytics_calloc(d.n, sizeof(*sorted));
	memcpy(sorted, k, d.n * sizeof(*sorted));
	qsort(sorted, d.n, sizeof(*sorted), compare_u32);
	d.distinct_k = analytics_calloc(d.n, sizeof(*d.distinct_k));
	d.multiplicity = analytics_calloc(d.n, sizeof(*d.multiplicity));
	for (size_t i = 0; i < d.n; i++) {
		if (sorted[i] == 0)
			continue;
		if (d.ndistinct && d.distinct_k[d.ndistinct - 1] == sorted[i]) {
			d.multiplicity[d.ndistinct - 1] += 1;
		} else {
			d.distinct_k[d.ndistinct] = sorted[i];
			d.multiplicity[d.ndistinct++] = 1;
		}
	}

	/* Method of moments on the rates k/tau weighted by tau: the pooled mean
	 * mu0, and the between-site variance left after the Poisson part.
	 * Dean's statistic sum[(k - mu tau)^2 - k] is the likelihood's slope in
	 * 1/alpha at the Poisson limit: not positive means no over-dispersion. */
	double mu0 = (double)out->recruits / sum_tau, spread = 0, dean = 0, var0, alpha0;
	for (size_t i = 0; i < d.n; i++) {
		double r = k[i] - mu0 * tau[i];
		spread += r * r / tau[i];
		dean += r * r - k[i];
	}
	var0 = (spread - (double)(d.n - 1) * mu0) / (sum_tau - sum_tau2 / sum_tau);
	alpha0 = dean <= 0 || !(var0 > 0) ? FORECAST_ALPHA_MAX : clamp_alpha(mu0 * mu0 / var0);
	if (!isfinite(alpha0))
		alpha0 = FORECAST_ALPHA_MAX;

	struct point p = {.x = log(alpha0), .z = log(mu0)};
	int bound = newton(&d, &p, &out->iterations);
	if (bound < 0 || !isfinite(p.f)) {
		set_result(out, FORECAST_FIT_MOMENTS, alpha0, mu0);
		snprintf(out->message, sizeof(out->message),
			 "maximum likelihood did not converge: method-of-moments values used "
			 "(alpha %.4g, mean rate %.4g per site per day)",
			 alpha0, mu0);
		goto done;
	}
	out->alpha = bound == BOUND_UPPER   ? FORECAST_ALPHA_MAX
		     : bound == BOUND_LOWER ? FORECAST_ALPHA_MIN
					    : exp(p.x);
	out->beta = out->alpha / exp(p.z);
	/* The inverse observed information in (ln alpha, ln mu); at a bound only
	 * ln mu is free. */
	if (bound == BOUND_NONE) {
		double det = p.hxx * p.hzz - p.hxz * p.hxz;
		if (p.hxx < 0 && det > 0) {
			out->has_uncertainty = true;
			out->var_log_alpha = -p.hzz / det;
			out->var_log_mean = -p.hxx / det;
			out->cov_log = p.hxz / det;
		}
	} else if (p.hzz < 0) {
		out->has_uncertainty = true;
		out->var_log_mean = -1.0 / p.hzz;
	}
	if (bound == BOUND_UPPER) {
		out->method = FORECAST_FIT_POISSON_LIMIT;
		snprintf(out->message, sizeof(out->message),
			 "homogeneous rates: Poisson limit (no over-dispersion across %zu sites; "
			 "alpha capped at %.0g, mean rate %.4g per site per day)",
			 d.n, FORECAST_ALPHA_MAX, exp(p.z));
	} else if (bound == BOUND_LOWER) {
		out->method = FORECAST_FIT_SHAPE_FLOOR;
		snprintf(out->message, sizeof(out->message),
			 "extreme heterogeneity: the likelihood rises as alpha falls to 0; alpha "
			 "held at %.0e (mean rate %.4g per site per day)",
			 FORECAST_ALPHA_MIN, exp(p.z));
	} else {
		out->method = FORECAST_FIT_MLE;
		snprintf(out->message, sizeof(out->message),
			 "maximum likelihood over %zu sites: alpha %.4g, beta %.4g days "
			 "(mean rate %.4g per site per day)",
			 d.n, out->alpha, out->beta, exp(p.z));
	}

done:
	if (out->method != FORECAST_FIT_NO_DATA) {
		if (d.n > 0)
			rc = forecast_log_likelihood(sites, nsites, out->alpha, out->beta,
						     &out->log_likelihood);
		if (rc == 0 && !(isfinite(out->alpha) && isfinite(out->beta) && out->alpha > 0 &&
				 out->beta > 0 && isfinite(out->log_likelihood))) {
			snprintf(out->message, sizeof(out->message),
				 "numerical failure in the fit (alpha %g, beta %g)", out->alpha,
				 out->beta);
			rc = CTMS_EINVAL;
		}
	}
	free(d.distinct_k);
	free(d.multiplicity);
	free(sorted);
	free(tau);
	free(k);
	return rc;
}

int forecast_log_likelihood(const struct forecast_site *sites, size_t nsites, double alpha,
			    double beta, double *out)
{
	char msg[160];
	double l = 0, lngamma_a;
	int rc;

	if (!out || !isfinite(alpha) || !isfinite(beta) || alpha <= 0 || beta <= 0)
		return CTMS_EINVAL;
	rc = forecast__validate(sites, nsites, NULL, msg, sizeof(msg));
	if (rc)
		return rc;
	lngamma_a = gsl_sf_lngamma(alpha);
	for (size_t i = 0; i < nsites; i++) {
		double tau = sites[i].active_days, k = sites[i].recruited;
		if (tau <= 0)
			continue;
		if (k > 0)
			l += gsl_sf_lngamma(alpha + k) - lngamma_a + k * log(tau) - k * log(beta + tau);
		l -= alpha * log1p(tau / beta);
	}
	*out = l;
	return 0;
}

int forecast__validate(const struct forecast_site *sites, size_t nsites,
		       const struct forecast_options *opt, char *msg, size_t msglen)
{
	if (!sites && nsites > 0) {
		snprintf(msg, msglen, "sites: expected an array");
		return CTMS_EINVAL;
	}
	for (size_t i = 0; i < nsites; i++) {
		const struct forecast_site *s = &sites[i];
		const char *field = NULL, *expected = NULL;

		if (!isfinite(s->active_days) || s->active_days < 0 ||
		    (s->active_days > 0 && s->active_days < FORECAST_MIN_ACTIVE_DAYS) ||
		    s->active_days > FORECAST_MAX_DAYS) {
			field = "active_days";
			expected = "0, or a number of days from 1e-6 to 1e6";
		} else if (!isfinite(s->opens_in_days) || s->opens_in_days < 0 ||
			   s->opens_in_days > FORECAST_MAX_DAYS) {
			field = "opens_in_days";
			expected = "a number of days from 0 to 1e6";
		} else if (!isfinite(s->closes_in_days) || s->closes_in_days < 0 ||
			   s->closes_in_days > FORECAST_MAX_DAYS) {
			field = "closes_in_days";
			expected = "a number of days from 0 to 1e6 (0: no planned closing)";
		} else if (s->recruited > 0 && s->active_days == 0) {
			field = "recruited";
			expected = "0 for a site with no active days";
		} else if (s->opens_in_days > 0 && (s->active_days > 0 || s->closed)) {
			field = "opens_in_days";
			expected = "0 for a site that has been active or is closed";
		}
		if (field) {
			snprintf(msg, msglen, "sites[%zu].%s: expected %s", i, field, expected);
			return CTMS_EINVAL;
		}
	}
	if (!opt)
		return 0;
	if ((unsigned)opt->method > FORECAST_MONTE_CARLO) {
		snprintf(msg, msglen, "method: expected auto, closed form or Monte Carlo");
		return CTMS_EINVAL;
	}
	if (!isfinite(opt->prior_rate) || opt->prior_rate < 0 ||
	    (opt->prior_rate > 0 && opt->prior_rate < 1e-9) || opt->prior_rate > 1e6) {
		snprintf(msg, msglen,
			 "prior_rate: expected 0 (none) or recruits per site per day from 1e-9 to 1e6");
		return CTMS_EINVAL;
	}
	if (!isfinite(opt->prior_shape) || opt->prior_shape < 0 ||
	    (opt->prior_shape > 0 &&
	     (opt->prior_shape < FORECAST_ALPHA_MIN || opt->prior_shape > FORECAST_ALPHA_MAX))) {
		snprintf(msg, msglen, "prior_shape: expected 0 (default) or a shape from %g to %g",
			 FORECAST_ALPHA_MIN, FORECAST_ALPHA_MAX);
		return CTMS_EINVAL;
	}
	if (opt->draws > FORECAST_MAX_DRAWS) {
		snprintf(msg, msglen, "draws: expected at most %u", FORECAST_MAX_DRAWS);
		return CTMS_EINVAL;
	}
	if (!isfinite(opt->window_days) || opt->window_days < 0 ||
	    opt->window_days > FORECAST_MAX_DAYS) {
		snprintf(msg, msglen, "window_days: expected a number of days from 0 to 1e6");
		return CTMS_EINVAL;
	}
	if (opt->nwindows > FORECAST_MAX_WINDOWS) {
		snprintf(msg, msglen, "nwindows: expected at most %d", FORECAST_MAX_WINDOWS);
		return CTMS_EINVAL;
	}
	for (size_t j = 0; j < opt->nwindows; j++) {
		if (!isfinite(opt->windows[j]) || opt->windows[j] < FORECAST_MIN_ACTIVE_DAYS ||
		    opt->windows[j] > FORECAST_MAX_DAYS) {
			snprintf(msg, msglen, "windows[%zu]: expected a number of days from 1e-6 to 1e6",
				 j);
			return CTMS_EINVAL;
		}
	}
	if (!isfinite(opt->elapsed_days) || opt->elapsed_days < 0 ||
	    opt->elapsed_days > FORECAST_MAX_DAYS) {
		snprintf(msg, msglen, "elapsed_days: expected a number of days from 0 to 1e6");
		return CTMS_EINVAL;
	}
	return 0;
}
