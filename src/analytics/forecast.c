/* The forecast: posterior site rates, the closed-form distribution of the time
 * to n more recruits and of the recruits in a window, and the choice between
 * closed form and Monte Carlo (RULES.md, "Recruitment prediction —
 * Poisson-gamma model"). */
#include "analytics/forecast.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "analytics/alloc.h"
#include "analytics/forecast_internal.h"

#define QUANTILE_LOW 0.05
#define QUANTILE_HIGH 0.95
/* The root search stops when the bracket [lo, hi] has ln(hi/lo) below this. */
#define QUANTILE_RELATIVE_TOLERANCE 1e-10
/* Times below this (days) count as 0 in the root search. */
#define SMALLEST_TIME 1e-9

void forecast__plan_build(const struct forecast_site *sites, size_t nsites, double alpha,
			  double beta, struct forecast__plan *plan)
{
	size_t nbase = 0, nother = 0;

	memset(plan, 0, sizeof(*plan));
	for (size_t i = 0; i < nsites; i++) {
		const struct forecast_site *s = &sites[i];
		if (s->closed || (s->closes_in_days > 0 && s->closes_in_days <= s->opens_in_days))
			continue;
		if (s->opens_in_days == 0 && s->closes_in_days == 0)
			nbase++;
		else
			nother++;
	}
	plan->nsites = nbase + nother;
	plan->nbase = nbase;
	plan->sites = analytics_calloc(plan->nsites, sizeof(*plan->sites));
	plan->time_varying = nother > 0;

	size_t b = 0, o = nbase;
	for (size_t i = 0; i < nsites; i++) {
		const struct forecast_site *s = &sites[i];
		struct forecast__future f;

		if (s->closed || (s->closes_in_days > 0 && s->closes_in_days <= s->opens_in_days))
			continue;
		/* Posterior Gamma(alpha + k, beta + tau); a site not yet open has
		 * k = tau = 0, so the prior Gamma(alpha, beta) from its opening. */
		f.shape = alpha + s->recruited;
		f.rate = beta + s->active_days;
		f.opens = s->opens_in_days;
		f.has_close = s->closes_in_days > 0;
		f.closes = s->closes_in_days;
		if (f.opens == 0 && !f.has_close) {
			plan->sites[b++] = f;
			plan->m0 += f.shape / f.rate;
			plan->v0 += f.shape / (f.rate * f.rate);
		} else {
			plan->sites[o++] = f;
		}
		if (f.opens == 0) {
			plan->m_now += f.shape / f.rate;
			plan->v_now += f.shape / (f.rate * f.rate);
		}
		if (!f.has_close)
			plan->final_shape += f.shape;
	}
}

void forecast__plan_release(struct forecast__plan *plan)
{
	free(plan->sites);
	memset(plan, 0, sizeof(*plan));
}

void forecast__mixture_build(const struct forecast_site *sites, size_t nsites,
			     const struct forecast_fit *fit, bool plug_in,
			     struct forecast__mixture *mx)
{
	/* Gauss-Hermite nodes and weights for a standard normal: exact for
	 * polynomials up to degree 5 in each coordinate. */
	static const double node[3] = {-1.7320508075688772, 0.0, 1.7320508075688772};
	static const double weight[3] = {1.0 / 6.0, 2.0 / 3.0, 1.0 / 6.0};
	double x = log(fit->alpha), z = log(fit->alpha / fit->beta);
	double l11, l21, l22;

	memset(mx, 0, sizeof(*mx));
	if (plug_in || !fit->has_uncertainty) {
		mx->nnodes = 1;
		mx->weight[0] = 1.0;
		mx->alpha[0] = fit->alpha;
		mx->beta[0] = fit->beta;
		forecast__plan_build(sites, nsites, fit->alpha, fit->beta, &mx->plan[0]);
		return;
	}
	/* Cholesky factor of the covariance of (ln alpha, ln mu). */
	l11 = sqrt(fit->var_log_alpha);
	l21 = l11 > 0 ? fit->cov_log / l11 : 0.0;
	l22 = sqrt(fmax(fit->var_log_mean - l21 * l21, 0.0));
	for (int i = 0; i < 3; i++) {
		if (l11 == 0 && i != 1)
			continue; /* alpha held at a bound: nodes in ln mu only */
		for (int j = 0; j < 3; j++) {
			size_t k = mx->nnodes++;
			double a = exp(x + l11 * node[i]);
			double mu = exp(z + l21 * node[i] + l22 * node[j]);

			a = fmin(fmax(a, FORECAST_ALPHA_MIN), FORECAST_ALPHA_MAX);
			mx->weight[k] = (l11 == 0 ? 1.0 : weight[i]) * weight[j];
			mx->alpha[k] = a;
			mx->beta[k] = a / mu;
			forecast__plan_build(sites, nsites, a, a / mu, &mx->plan[k]);
		}
	}
}

void forecast__mixture_release(struct forecast__mixture *mx)
{
	for (size_t k = 0; k < mx->nnodes; k++)
		forecast__plan_release(&mx->plan[k]);
	memset(mx, 0, sizeof(*mx));
}

/* Mean and variance of the integrated rate I(t) = sum lambda_i tau_i(t),
 * tau_i(t) = (min(t, closes) - opens)^+, under the posterior. */
static void integrated_moments(const struct forecast__plan *plan, double t, double *mean,
			       double *var)
{
	double e = plan->m0 * t, v = plan->v0 * t * t;

	for (size_t i = plan->nbase; i < plan->nsites; i++) {
		const struct forecast__future *f = &plan->sites[i];
		double end = f->has_close && f->closes < t ? f->closes : t;
		double tau = end - f->opens;
		if (tau <= 0)
			continue;
		e += f->shape / f->rate * tau;
		v += f->shape / (f->rate * f->rate) * tau * tau;
	}
	*mean = e;
	*var = v;
}

/* P(T <= t) = P(N(t) >= n), N(t) negative binomial with the integrated rate
 * moment-matched to Gamma(A_t, B_t), A_t = E^2/V, B_t = E/V:
 * P = I_{1/(1+B_t)}(n, A_t). With every site open from 0, E = m t and
 * V = v t^2, so A_t = A and 1/(1+B_t) = t/(t+B): RULES.md's
 * P(T <= t) = I_{t/(t+B)}(n, A) exactly.
 *
 * gsl_cdf_beta_P is the regularised incomplete beta I_x(a, b);
 * gsl_sf_beta_inc computes the same function but reports underflow (a
 * probability of 0, or a complement of 1) through the GSL error handler, which
 * aborts by default, and nothing here may change that global handler. */
static double plan_cdf(const struct forecast__plan *plan, uint32_t n, double t)
{
	double e, v;

	if (t <= 0)
		return 0.0;
	integrated_moments(plan, t, &e, &v);
	if (!(e > 0) || !(v > 0))
		return 0.0;
	return gsl_cdf_beta_P(v / (e + v), (double)n, e * e / v);
}

static double time_cdf(const struct forecast__mixture *mx, uint32_t n, double t)
{
	double p = 0;

	for (size_t k = 0; k < mx->nnodes; k++)
		p += mx->weight[k] * plan_cdf(&mx->plan[k], n, t);
	return fmin(p, 1.0);
}

/* The t with P(T <= t) = q, by Illinois (regula falsi that halves the stale
 * end's value) in ln t, inside a bracket found by doubling from a guess;
 * false when q is not reached by FORECAST_MAX_DAYS. */
static bool time_quantile(const struct forecast__mixture *mx, uint32_t n, double q,
			  double guess, double *out)
{
	double lo, hi, flo, fhi, a, b;
	int side = 0;

	if (time_cdf(mx, n, FORECAST_MAX_DAYS) < q)
		return false;
	hi = fmin(fmax(guess, SMALLEST_TIME), FORECAST_MAX_DAYS);
	fhi = time_cdf(mx, n, hi) - q;
	if (fhi >= 0) {
		for (;;) {
			lo = 0.5 * hi;
			if (lo < SMALLEST_TIME) {
				*out = 0.0;
				return true;
			}
			flo = time_cdf(mx, n, lo) - q;
			if (flo < 0)
				break;
			hi = lo;
			fhi = flo;
		}
	} else {
		do {
			lo = hi;
			flo = fhi;
			hi = fmin(2.0 * hi, FORECAST_MAX_DAYS);
			fhi = time_cdf(mx, n, hi) - q;
		} while (fhi < 0);
	}
	/* flo < 0 <= fhi */
	a = log(lo);
	b = log(hi);
	for (int it = 0; it < 200 && b - a > QUANTILE_RELATIVE_TOLERANCE; it++) {
		double width = b - a;
		double c = (a * fhi - b * flo) / (fhi - flo), fc;

		if (!(c > a && c < b))
			c = 0.5 * (a + b);
		fc = time_cdf(mx, n, exp(c)) - q;
		if (fc >= 0) {
			b = c;
			fhi = fc;
			if (side == -1)
				flo *= 0.5;
			side = -1;
		} else {
			a = c;
			flo = fc;
			if (side == 1)
				fhi *= 0.5;
			side = 1;
		}
		if (fc == 0)
			break;
		/* Regula falsi that barely moves one end: bisect instead. */
		if (b - a > 0.5 * width) {
			double m = 0.5 * (a + b), fm = time_cdf(mx, n, exp(m)) - q;
			if (fm >= 0) {
				b = m;
				fhi = fm;
			} else {
				a = m;
				flo = fm;
			}
			side = 0;
		}
	}
	*out = exp(b);
	return true;
}

/* Recruits in [0, w]: for each node a negative binomial NB(r, p), r = E^2/V,
 * p = E/(E+V) (mean E = wA/B when every site is open), P(N <= k) =
 * I_p(r, k+1); the mixture's P(N <= k). */
struct window_node {
	double weight, r, p;
};

static double window_cdf(const struct window_node *w, size_t n, uint64_t k)
{
	double c = 0;

	for (size_t i = 0; i < n; i++)
		c += w[i].weight * (w[i].r > 0 ? gsl_cdf_beta_P(w[i].p, w[i].r, (double)k + 1.0) : 1.0);
	return c;
}

/* The smallest k with P(N <= k) >= q. */
static uint64_t window_quantile(const struct window_node *w, size_t n, double q)
{
	uint64_t lo = 0, hi = 1;

	if (window_cdf(w, n, 0) >= q)
		return 0;
	while (window_cdf(w, n, hi) < q && hi < (UINT64_C(1) << 52))
		hi *= 2;
	/* P(N <= lo) < q <= P(N <= hi) */
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (window_cdf(w, n, mid) >= q)
			hi = mid;
		else
			lo = mid;
	}
	return hi;
}

/* Recruits in the next w->days days, by the closed form, into *w. */
static void window_closed_form(const struct forecast__mixture *mx, struct forecast_window *w)
{
	struct window_node node[FORECAST__MAX_NODES];

	w->mean = 0;
	for (size_t k = 0; k < mx->nnodes; k++) {
		double e, v;
		integrated_moments(&mx->plan[k], w->days, &e, &v);
		node[k].weight = mx->weight[k];
		node[k].r = e > 0 && v > 0 ? e * e / v : 0;
		node[k].p = e > 0 && v > 0 ? e / (e + v) : 1;
		w->mean += mx->weight[k] * e;
	}
	w->lower = window_quantile(node, mx->nnodes, QUANTILE_LOW);
	w->median = window_quantile(node, mx->nnodes, 0.5);
	w->upper = window_quantile(node, mx->nnodes, QUANTILE_HIGH);
}

static void closed_form(const struct forecast__mixture *mx, uint32_t n,
			struct forecast_window *windows, size_t nwindows,
			struct forecast_result *out)
{
	double rate_all = 0, guess;
	bool time_varying = false;

	/* A starting guess for the root search: n over the rate once every
	 * site is open. */
	for (size_t i = 0; i < mx->plan[0].nsites; i++)
		rate_all += mx->plan[0].sites[i].shape / mx->plan[0].sites[i].rate;
	guess = rate_all > 0 ? n / rate_all : 1.0;
	out->p_complete = time_cdf(mx, n, FORECAST_MAX_DAYS);
	out->has_lower = time_quantile(mx, n, QUANTILE_LOW, guess, &out->lower);
	out->has_median = time_quantile(mx, n, 0.5, guess, &out->median);
	out->has_upper = time_quantile(mx, n, QUANTILE_HIGH, guess, &out->upper);

	/* E[T] = nB/(A-1) for A > 1, averaged over the nodes; with a
	 * time-varying rate there is no such formula and the mean is left out. */
	out->has_mean = true;
	out->mean = 0;
	for (size_t k = 0; k < mx->nnodes; k++) {
		const struct forecast__plan *plan = &mx->plan[k];
		double a = plan->m0 > 0 ? plan->m0 * plan->m0 / plan->v0 : 0;
		time_varying |= plan->time_varying;
		if (plan->time_varying || !(a > 1.0)) {
			out->has_mean = false;
			break;
		}
		out->mean += mx->weight[k] * n * (plan->m0 / plan->v0) / (a - 1.0);
	}
	if (!out->has_mean)
		out->mean = 0;

	for (size_t j = 0; j < nwindows; j++)
		window_closed_form(mx, &windows[j]);
}

int forecast_time_cdf(const struct forecast_site *sites, size_t nsites, uint32_t target_more,
		      const struct forecast_fit *fit, bool plug_in, double t, double *out)
{
	struct forecast__mixture mx;
	char msg[160];

	if (!fit || !out || target_more == 0 || !isfinite(t) || t < 0 || !isfinite(fit->alpha) ||
	    !isfinite(fit->beta) || fit->alpha <= 0 || fit->beta <= 0)
		return CTMS_EINVAL;
	if (forecast__validate(sites, nsites, NULL, msg, sizeof(msg)))
		return CTMS_EINVAL;
	forecast__mixture_build(sites, nsites, fit, plug_in, &mx);
	*out = time_cdf(&mx, target_more, t);
	forecast__mixture_release(&mx);
	return 0;
}

static bool all_finite(const struct forecast_result *r)
{
	const double v[] = {r->rate_mean, r->rate_variance, r->shape_a, r->rate_b,
			    r->p_complete, r->lower, r->median, r->upper,
			    r->mean, r->window_mean, r->elapsed_days, r->fit.alpha,
			    r->fit.beta, r->fit.log_likelihood};
	for (size_t i = 0; i < sizeof(v) / sizeof(*v); i++)
		if (!isfinite(v[i]))
			return false;
	for (size_t j = 0; j < r->nwindows; j++)
		if (!isfinite(r->windows[j].mean))
			return false;
	return true;
}

int forecast_site_rate(const struct forecast_site *site, const struct forecast_fit *fit,
		       struct forecast_rate *out)
{
	if (!site || !fit || !out || !isfinite(fit->alpha) || !isfinite(fit->beta) ||
	    fit->alpha <= 0 || fit->beta <= 0 || !isfinite(site->active_days) ||
	    site->active_days < 0 || (site->recruited > 0 && site->active_days == 0))
		return CTMS_EINVAL;
	out->shape = fit->alpha + site->recruited;
	out->rate = fit->beta + site->active_days;
	out->mean = out->shape / out->rate;
	/* gsl_cdf_gamma_Pinv takes the scale, 1/rate. */
	out->lower = gsl_cdf_gamma_Pinv(QUANTILE_LOW, out->shape, 1.0 / out->rate);
	out->upper = gsl_cdf_gamma_Pinv(QUANTILE_HIGH, out->shape, 1.0 / out->rate);
	if (!isfinite(out->lower) || out->lower < 0)
		out->lower = 0;
	if (!isfinite(out->upper) || out->upper < out->mean)
		out->upper = out->mean;
	return 0;
}

/* Appends to out->message, truncating at its end. */
static void say(struct forecast_result *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void say(struct forecast_result *out, const char *fmt, ...)
{
	size_t len = strlen(out->message);
	va_list ap;

	if (len + 1 >= sizeof(out->message))
		return;
	va_start(ap, fmt);
	vsnprintf(out->message + len, sizeof(out->message) - len, fmt, ap);
	va_end(ap);
}

int forecast_run(const struct forecast_site *sites, size_t nsites, uint32_t target_more,
		 const struct forecast_options *opt, struct forecast_result *out)
{
	static const struct forecast_options defaults = {0};
	struct forecast_window windows[FORECAST_MAX_WINDOWS + 1] = {{0}};
	size_t nwindows = 0;
	struct forecast__mixture mx;
	const struct forecast__plan *plan;
	int rc;

	if (!out)
		return CTMS_EINVAL;
	memset(out, 0, sizeof(*out));
	if (!opt)
		opt = &defaults;
	if (target_more == 0) {
		snprintf(out->message, sizeof(out->message),
			 "target_more: expected at least 1 more recruit");
		return CTMS_EINVAL;
	}
	if (nsites == 0) {
		snprintf(out->message, sizeof(out->message), "sites: expected at least one site");
		return CTMS_EINVAL;
	}
	rc = forecast_fit(sites, nsites, opt, &out->fit);
	if (rc) {
		memcpy(out->message, out->fit.message, sizeof(out->fit.message));
		return rc;
	}
	say(out, "%s.", out->fit.message);

	out->elapsed_days = opt->elapsed_days;
	if (out->elapsed_days == 0)
		for (size_t i = 0; i < nsites; i++)
			out->elapsed_days = fmax(out->elapsed_days, sites[i].active_days);

	if (out->fit.method == FORECAST_FIT_NO_DATA) {
		out->status = FORECAST_NO_DATA;
		return 0;
	}

	forecast__mixture_build(sites, nsites, &out->fit, opt->plug_in, &mx);
	plan = &mx.plan[0];
	if (plan->nsites == 0) {
		out->status = FORECAST_NO_FUTURE_SITES;
		out->flags |= FORECAST_FLAG_MAY_NOT_COMPLETE;
		say(out, " No site recruits after the forecast date: the target is out of reach.");
		forecast__mixture_release(&mx);
		return 0;
	}
	/* RULES.md's moments of the current total rate, at the fitted values. */
	if (mx.nnodes > 1) {
		struct forecast__plan at_fit;
		forecast__plan_build(sites, nsites, out->fit.alpha, out->fit.beta, &at_fit);
		out->rate_mean = at_fit.m_now;
		out->rate_variance = at_fit.v_now;
		forecast__plan_release(&at_fit);
	} else {
		out->rate_mean = plan->m_now;
		out->rate_variance = plan->v_now;
	}
	if (out->rate_mean > 0) {
		out->shape_a = out->rate_mean * out->rate_mean / out->rate_variance;
		out->rate_b = out->rate_mean / out->rate_variance;
	}

	/* The windows asked for: window_days first, then opt->windows. */
	if (opt->window_days > 0)
		windows[nwindows++].days = opt->window_days;
	for (size_t j = 0; j < opt->nwindows; j++)
		windows[nwindows++].days = opt->windows[j];

	out->method = opt->method;
	if (out->method == FORECAST_AUTO)
		out->method = plan->time_varying ? FORECAST_MONTE_CARLO : FORECAST_CLOSED_FORM;
	if (out->method == FORECAST_MONTE_CARLO) {
		forecast__monte_carlo(&mx, target_more, opt->draws ? opt->draws : FORECAST_DEFAULT_DRAWS,
				      opt->seed, windows, nwindows, out);
		say(out, " Monte Carlo over %u draws (seed %llu).", out->draws,
		    (unsigned long long)opt->seed);
	} else {
		closed_form(&mx, target_more, windows, nwindows, out);
		if (plan->time_varying) {
			out->flags |= FORECAST_FLAG_APPROXIMATE;
			say(out, " Closed form with sites opening or closing later: the integrated "
				 "rate is moment-matched at each time (approximate).");
		} else {
			say(out, " Closed form: total rate Gamma(A %.4g, B %.4g days) at the fit.",
			    out->shape_a, out->rate_b);
		}
	}
	if (opt->window_days > 0) {
		out->has_window = true;
		out->window_mean = windows[0].mean;
		out->window_lower = windows[0].lower;
		out->window_median = windows[0].median;
		out->window_upper = windows[0].upper;
	}
	out->nwindows = opt->nwindows;
	memcpy(out->windows, windows + (opt->window_days > 0), opt->nwindows * sizeof(*windows));
	if (mx.nnodes > 1)
		say(out, " Averaged over the fit's uncertainty (%zu nodes).", mx.nnodes);
	else if (!opt->plug_in)
		say(out, " Alpha and beta taken as known (no sampling uncertainty for this fit).");
	forecast__mixture_release(&mx);

	if (out->has_median) {
		say(out, " Median %.1f days to %u more recruits", out->median, target_more);
		if (out->has_lower && out->has_upper)
			say(out, " (90%% interval %.1f to %.1f)", out->lower, out->upper);
		say(out, ".");
	}
	if (out->p_complete < QUANTILE_HIGH) {
		out->flags |= FORECAST_FLAG_MAY_NOT_COMPLETE;
		say(out, " Probability of reaching the target: %.3f.", out->p_complete);
	}
	if (!out->has_median || out->median > FORECAST_HORIZON_RATIO * out->elapsed_days) {
		out->flags |= FORECAST_FLAG_LONG_HORIZON;
		say(out, " Interval likely too narrow: the horizon exceeds %.0f times the %.1f "
			 "days elapsed (Mountain and Sherlock 2022).",
		    FORECAST_HORIZON_RATIO, out->elapsed_days);
	}
	if (!all_finite(out)) {
		snprintf(out->message, sizeof(out->message),
			 "numerical failure: a forecast quantity is not finite (alpha %g, beta %g)",
			 out->fit.alpha, out->fit.beta);
		return CTMS_EINVAL;
	}
	return 0;
}

bool forecast__sample_quantile(const double *x, size_t stored, size_t missing, double q,
			       double *out)
{
	size_t n = stored + missing;
	double h, frac;
	size_t lo;

	if (n == 0)
		return false;
	/* Type 7 (linear interpolation between order statistics). */
	h = (double)(n - 1) * q;
	lo = (size_t)floor(h);
	frac = h - (double)lo;
	if (lo >= stored || (frac > 0 && lo + 1 >= stored))
		return false;
	*out = frac > 0 ? x[lo] + frac * (x[lo + 1] - x[lo]) : x[lo];
	return true;
}

const char *forecast_fit_method_name(enum forecast_fit_method m)
{
	switch (m) {
	case FORECAST_FIT_MLE: return "mle";
	case FORECAST_FIT_POISSON_LIMIT: return "poisson_limit";
	case FORECAST_FIT_SHAPE_FLOOR: return "shape_floor";
	case FORECAST_FIT_MOMENTS: return "moments";
	case FORECAST_FIT_SINGLE_SITE: return "single_site";
	case FORECAST_FIT_NO_RECRUITS: return "no_recruits";
	case FORECAST_FIT_PRIOR: return "prior";
	case FORECAST_FIT_NO_DATA: return "no_data";
	}
	return "unknown";
}

const char *forecast_method_name(enum forecast_method m)
{
	switch (m) {
	case FORECAST_AUTO: return "auto";
	case FORECAST_CLOSED_FORM: return "closed_form";
	case FORECAST_MONTE_CARLO: return "monte_carlo";
	}
	return "unknown";
}

const char *forecast_status_name(enum forecast_status s)
{
	switch (s) {
	case FORECAST_OK: return "ok";
	case FORECAST_NO_DATA: return "no_data";
	case FORECAST_NO_FUTURE_SITES: return "no_future_sites";
	}
	return "unknown";
}
