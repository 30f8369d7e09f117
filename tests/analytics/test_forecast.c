/* The forecast (src/analytics/forecast.c, forecast_mc.c): the incomplete-beta
 * CDF against simulation, quantiles, mean, window, Monte Carlo, what-if
 * openings and closings, statuses, flags, and no NaN on odd inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "analytics/forecast.h"

/* n sites with active times uniform on [tau_lo, tau_hi] days and counts
 * Poisson(lambda tau), lambda ~ Gamma(alpha, rate beta). */
static struct forecast_site *draw_sites(size_t n, double alpha, double beta, double tau_lo,
					double tau_hi, unsigned long seed)
{
	struct forecast_site *s = calloc(n, sizeof(*s));
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);

	gsl_rng_set(rng, seed);
	for (size_t i = 0; i < n; i++) {
		double lambda = gsl_ran_gamma(rng, alpha, 1.0 / beta);
		s[i].active_days = tau_lo + (tau_hi - tau_lo) * gsl_rng_uniform(rng);
		s[i].recruited = gsl_ran_poisson(rng, lambda * s[i].active_days);
	}
	gsl_rng_free(rng);
	return s;
}

static int compare_double(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;
	return (a > b) - (a < b);
}

static void assert_all_finite(const struct forecast_result *r)
{
	const double v[] = {r->rate_mean, r->rate_variance, r->shape_a, r->rate_b,
			    r->p_complete, r->lower, r->median, r->upper, r->mean,
			    r->window_mean, r->elapsed_days, r->fit.alpha, r->fit.beta,
			    r->fit.log_likelihood, r->fit.var_log_alpha, r->fit.var_log_mean,
			    r->fit.cov_log};
	for (size_t i = 0; i < sizeof(v) / sizeof(*v); i++)
		if (!isfinite(v[i]))
			fail_msg("value %zu is not finite", i);
	if (r->has_lower && r->has_median)
		assert_true(r->lower <= r->median);
	if (r->has_median && r->has_upper)
		assert_true(r->median <= r->upper);
	assert_true(r->p_complete >= 0 && r->p_complete <= 1);
}

static void incomplete_beta_cdf_matches_simulation(void **state)
{
	/* One site: the total rate is exactly Gamma(alpha+k, beta+tau) = Gamma(A, B)
	 * with A = 2.3 + 5, B = 15 + 40, so P(T <= t) = I_{t/(t+B)}(n, A) holds
	 * with no moment matching. Simulation: Lambda ~ Gamma(A, B), then
	 * N(t) ~ Poisson(Lambda t); P(T <= t) = P(N(t) >= n). 200,000 draws:
	 * standard error at most 0.0011, tolerance 0.005. */
	const struct forecast_site site = {.recruited = 5, .active_days = 40};
	const struct forecast_fit fit = {.alpha = 2.3, .beta = 15};
	const double ts[] = {50, 150, 300, 600, 1500};
	const uint32_t n = 30;
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);

	(void)state;
	gsl_rng_set(rng, 17);
	for (size_t i = 0; i < sizeof(ts) / sizeof(*ts); i++) {
		double p, hits = 0;
		const int draws = 200000;

		assert_int_equal(forecast_time_cdf(&site, 1, n, &fit, true, ts[i], &p), 0);
		for (int d = 0; d < draws; d++) {
			double lambda = gsl_ran_gamma(rng, 7.3, 1.0 / 55);
			hits += gsl_ran_poisson(rng, lambda * ts[i]) >= n;
		}
		if (fabs(p - hits / draws) > 0.005)
			fail_msg("t %g: closed form %.4f, simulation %.4f", ts[i], p, hits / draws);
		/* and the formula itself */
		assert_true(fabs(p - gsl_cdf_beta_P(ts[i] / (ts[i] + 55), n, 7.3)) < 1e-12);
	}
	gsl_rng_free(rng);
}

static void moment_matching_is_close_for_many_sites(void **state)
{
	/* 25 sites with different posteriors: the sum of their rates is
	 * moment-matched to a gamma. Simulation draws every site's rate. */
	struct forecast_site *s = draw_sites(25, 1.5, 40, 30, 300, 3);
	struct forecast_fit fit;
	const uint32_t n = 150;
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	const int draws = 40000;
	double *t_draw = calloc(draws, sizeof(double));

	(void)state;
	gsl_rng_set(rng, 23);
	assert_int_equal(forecast_fit(s, 25, NULL, &fit), 0);
	for (int d = 0; d < draws; d++) {
		double total = 0;
		for (int i = 0; i < 25; i++)
			total += gsl_ran_gamma(rng, fit.alpha + s[i].recruited,
					       1.0 / (fit.beta + s[i].active_days));
		t_draw[d] = gsl_ran_gamma(rng, n, 1.0) / total;
	}
	qsort(t_draw, draws, sizeof(*t_draw), compare_double);
	/* At the simulated q-quantiles, the closed-form CDF is q within 0.01
	 * (the simulation's standard error is at most 0.0025). */
	for (double q = 0.05; q < 1; q += 0.15) {
		double t = t_draw[(int)(q * draws)], p;
		assert_int_equal(forecast_time_cdf(s, 25, n, &fit, true, t, &p), 0);
		if (fabs(p - q) > 0.01)
			fail_msg("q %.2f at t %.1f: closed form %.4f", q, t, p);
	}
	free(t_draw);
	free(s);
	gsl_rng_free(rng);
}

static void quantiles_invert_the_cdf(void **state)
{
	struct forecast_site *s = draw_sites(40, 2.0, 50, 60, 400, 9);
	const struct forecast_options opts[] = {
		{.method = FORECAST_CLOSED_FORM, .plug_in = true},
		{.method = FORECAST_CLOSED_FORM},
	};

	(void)state;
	for (size_t o = 0; o < 2; o++) {
		struct forecast_result r;
		double p;

		assert_int_equal(forecast_run(s, 40, 200, &opts[o], &r), 0);
		assert_int_equal(r.status, FORECAST_OK);
		assert_int_equal(r.method, FORECAST_CLOSED_FORM);
		assert_true(r.has_lower && r.has_median && r.has_upper && r.has_mean);
		assert_int_equal(forecast_time_cdf(s, 40, 200, &r.fit, opts[o].plug_in, r.lower, &p), 0);
		assert_true(fabs(p - 0.05) < 1e-7);
		assert_int_equal(forecast_time_cdf(s, 40, 200, &r.fit, opts[o].plug_in, r.median, &p), 0);
		assert_true(fabs(p - 0.5) < 1e-7);
		assert_int_equal(forecast_time_cdf(s, 40, 200, &r.fit, opts[o].plug_in, r.upper, &p), 0);
		assert_true(fabs(p - 0.95) < 1e-7);
		assert_true(r.p_complete > 0.999999);
		assert_all_finite(&r);
	}
	free(s);
}

static void mean_is_n_b_over_a_minus_one(void **state)
{
	struct forecast_site *s = draw_sites(30, 3.0, 60, 100, 300, 4);
	struct forecast_options closed = {.method = FORECAST_CLOSED_FORM, .plug_in = true};
	struct forecast_options mc = {.method = FORECAST_MONTE_CARLO, .plug_in = true,
				      .draws = 40000, .seed = 8};
	struct forecast_result r, m;

	(void)state;
	assert_int_equal(forecast_run(s, 30, 120, &closed, &r), 0);
	assert_true(r.has_mean);
	assert_true(fabs(r.shape_a - r.rate_mean * r.rate_mean / r.rate_variance) < 1e-9 * r.shape_a);
	assert_true(fabs(r.rate_b - r.rate_mean / r.rate_variance) < 1e-9 * r.rate_b);
	assert_true(fabs(r.mean - 120 * r.rate_b / (r.shape_a - 1)) < 1e-9 * r.mean);
	assert_int_equal(forecast_run(s, 30, 120, &mc, &m), 0);
	assert_true(m.has_mean);
	assert_true(fabs(m.mean / r.mean - 1) < 0.02);
	free(s);
}

static void monte_carlo_agrees_with_closed_form(void **state)
{
	struct forecast_site *s = draw_sites(200, 1.2, 30, 20, 500, 12);
	const bool plug_in[] = {true, false};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct forecast_options closed = {.method = FORECAST_CLOSED_FORM,
						  .plug_in = plug_in[i]};
		struct forecast_options mc = {.method = FORECAST_MONTE_CARLO, .plug_in = plug_in[i],
					      .draws = 20000, .seed = 99};
		struct forecast_result a, b;

		assert_int_equal(forecast_run(s, 200, 400, &closed, &a), 0);
		assert_int_equal(forecast_run(s, 200, 400, &mc, &b), 0);
		assert_int_equal(b.method, FORECAST_MONTE_CARLO);
		assert_int_equal(b.draws, 20000);
		if (fabs(b.median / a.median - 1) > 0.015 || fabs(b.lower / a.lower - 1) > 0.03 ||
		    fabs(b.upper / a.upper - 1) > 0.03)
			fail_msg("plug_in %d: closed %.2f %.2f %.2f, Monte Carlo %.2f %.2f %.2f",
				 plug_in[i], a.lower, a.median, a.upper, b.lower, b.median, b.upper);
	}
	free(s);
}

static void monte_carlo_is_reproducible(void **state)
{
	struct forecast_site *s = draw_sites(50, 2, 40, 30, 200, 21);
	struct forecast_options opt = {.method = FORECAST_MONTE_CARLO, .draws = 5000, .seed = 1234,
				       .window_days = 60};
	struct forecast_result a, b;

	(void)state;
	s[3] = (struct forecast_site){.opens_in_days = 45};
	s[7].closes_in_days = 30;
	assert_int_equal(forecast_run(s, 50, 300, &opt, &a), 0);
	assert_int_equal(forecast_run(s, 50, 300, &opt, &b), 0);
	assert_true(a.lower == b.lower && a.median == b.median && a.upper == b.upper);
	assert_true(a.mean == b.mean && a.window_mean == b.window_mean);
	assert_true(a.window_lower == b.window_lower && a.window_upper == b.window_upper);
	assert_string_equal(a.message, b.message);
	opt.seed = 1235;
	assert_int_equal(forecast_run(s, 50, 300, &opt, &b), 0);
	assert_true(a.median != b.median);
	assert_true(fabs(a.median / b.median - 1) < 0.03);
	free(s);
}

static void staggered_openings_delay_completion(void **state)
{
	/* 10 sites open, 10 opening in 60 days. */
	struct forecast_site s[20];
	struct forecast_options mc = {.draws = 20000, .seed = 5};
	struct forecast_options closed = {.method = FORECAST_CLOSED_FORM};
	struct forecast_result auto_r, closed_r, open_now, only_open;
	struct forecast_site all_open[20];

	(void)state;
	for (int i = 0; i < 20; i++) {
		s[i] = i < 10 ? (struct forecast_site){.recruited = (uint32_t)(8 + i), .active_days = 120}
			      : (struct forecast_site){.opens_in_days = 60};
		all_open[i] = i < 10 ? s[i] : (struct forecast_site){0};
	}
	assert_int_equal(forecast_run(s, 20, 150, &mc, &auto_r), 0);
	assert_int_equal(auto_r.method, FORECAST_MONTE_CARLO);
	assert_int_equal(forecast_run(s, 20, 150, &closed, &closed_r), 0);
	assert_int_equal(closed_r.method, FORECAST_CLOSED_FORM);
	assert_true(closed_r.flags & FORECAST_FLAG_APPROXIMATE);
	assert_false(closed_r.has_mean);
	if (fabs(closed_r.median / auto_r.median - 1) > 0.03)
		fail_msg("closed form %.2f, Monte Carlo %.2f", closed_r.median, auto_r.median);
	assert_int_equal(forecast_run(all_open, 20, 150, &closed, &open_now), 0);
	assert_int_equal(forecast_run(s, 10, 150, &closed, &only_open), 0);
	assert_true(open_now.median < auto_r.median && auto_r.median < only_open.median);
	/* the ten sites opening later change no rate today */
	assert_true(fabs(auto_r.rate_mean - only_open.rate_mean) < 1e-12);
	assert_all_finite(&auto_r);
	assert_all_finite(&closed_r);
}

static void closures_can_put_the_target_out_of_reach(void **state)
{
	/* Five sites at about 0.1 per day, all closing in 30 days: about 15 more
	 * recruits, so 40 is almost never reached. */
	struct forecast_site s[5];
	const enum forecast_method methods[] = {FORECAST_AUTO, FORECAST_CLOSED_FORM};

	(void)state;
	for (int i = 0; i < 5; i++)
		s[i] = (struct forecast_site){.recruited = (uint32_t)(8 + 2 * i), .active_days = 100,
					      .closes_in_days = 30};
	for (size_t m = 0; m < 2; m++) {
		struct forecast_options opt = {.method = methods[m], .draws = 4000, .seed = 2};
		struct forecast_result r;

		assert_int_equal(forecast_run(s, 5, 40, &opt, &r), 0);
		assert_int_equal(r.status, FORECAST_OK);
		assert_true(r.p_complete < 0.05);
		assert_false(r.has_upper);
		assert_false(r.has_median);
		assert_false(r.has_mean);
		assert_true(r.flags & FORECAST_FLAG_MAY_NOT_COMPLETE);
		assert_all_finite(&r);
	}
}

static void statuses_without_a_forecast(void **state)
{
	const struct forecast_site closed[] = {{.recruited = 4, .active_days = 50, .closed = true},
					       {.recruited = 9, .active_days = 80, .closed = true}};
	const struct forecast_site planned[] = {{.opens_in_days = 10}, {.opens_in_days = 20}};
	struct forecast_options prior = {.prior_rate = 0.1, .prior_shape = 2, .seed = 3};
	struct forecast_result r;

	(void)state;
	assert_int_equal(forecast_run(closed, 2, 10, NULL, &r), 0);
	assert_int_equal(r.status, FORECAST_NO_FUTURE_SITES);
	assert_false(r.has_median);
	assert_int_equal(forecast_run(planned, 2, 10, NULL, &r), 0);
	assert_int_equal(r.status, FORECAST_NO_DATA);
	assert_false(r.has_median);
	assert_non_null(strstr(r.message, "no data"));
	assert_all_finite(&r);
	/* with a prior: a forecast, flagged because nothing has elapsed */
	assert_int_equal(forecast_run(planned, 2, 10, &prior, &r), 0);
	assert_int_equal(r.status, FORECAST_OK);
	assert_int_equal(r.fit.method, FORECAST_FIT_PRIOR);
	assert_true(r.has_median && r.median > 20);
	assert_true(r.flags & FORECAST_FLAG_LONG_HORIZON);
	assert_all_finite(&r);
}

static void window_is_negative_binomial(void **state)
{
	struct forecast_site *s = draw_sites(30, 2.5, 50, 100, 300, 31);
	struct forecast_options closed = {.method = FORECAST_CLOSED_FORM, .plug_in = true,
					  .window_days = 90};
	struct forecast_options mc = {.method = FORECAST_MONTE_CARLO, .plug_in = true,
				      .window_days = 90, .draws = 40000, .seed = 4};
	struct forecast_result r, m;
	double p;

	(void)state;
	assert_int_equal(forecast_run(s, 30, 50, &closed, &r), 0);
	assert_true(r.has_window);
	assert_true(fabs(r.window_mean - 90 * r.shape_a / r.rate_b) < 1e-9 * r.window_mean);
	/* NB(A, B/(B+t)): the quantiles are where gsl's CDF crosses */
	p = r.rate_b / (r.rate_b + 90);
	assert_true(gsl_cdf_negative_binomial_P(r.window_median, p, r.shape_a) >= 0.5);
	assert_true(gsl_cdf_negative_binomial_P(r.window_median - 1, p, r.shape_a) < 0.5);
	assert_true(gsl_cdf_negative_binomial_P(r.window_upper, p, r.shape_a) >= 0.95);
	assert_true(gsl_cdf_negative_binomial_P(r.window_upper - 1, p, r.shape_a) < 0.95);
	assert_true(gsl_cdf_negative_binomial_P(r.window_lower, p, r.shape_a) >= 0.05);
	assert_true(gsl_cdf_negative_binomial_P(r.window_lower - 1, p, r.shape_a) < 0.05);
	assert_int_equal(forecast_run(s, 30, 50, &mc, &m), 0);
	assert_true(fabs(m.window_mean / r.window_mean - 1) < 0.02);
	assert_true(m.window_median >= r.window_median - 2 && m.window_median <= r.window_median + 2);
	free(s);
}

/* Several windows at once: in closed form each equals a separate run with
 * window_days; in Monte Carlo they come from the same draws, nested, agree
 * with the closed form, and leave the single-window answer unchanged. */
static void several_windows_at_once(void **state)
{
	struct forecast_site *s = draw_sites(30, 2.5, 50, 100, 300, 33);
	struct forecast_options closed = {.method = FORECAST_CLOSED_FORM, .window_days = 45,
					  .nwindows = 3, .windows = {180, 30, 90}};
	struct forecast_options mc = {.method = FORECAST_MONTE_CARLO, .window_days = 45,
				      .nwindows = 3, .windows = {180, 30, 90}, .draws = 40000,
				      .seed = 8};
	struct forecast_options mc_one = {.method = FORECAST_MONTE_CARLO, .window_days = 45,
					  .draws = 40000, .seed = 8};
	struct forecast_result r, one, m, m_one;

	(void)state;
	assert_int_equal(forecast_run(s, 30, 80, &closed, &r), 0);
	assert_int_equal(r.nwindows, 3);
	for (size_t j = 0; j < 3; j++) {
		struct forecast_options single = {.method = FORECAST_CLOSED_FORM,
						  .window_days = closed.windows[j]};
		assert_int_equal(forecast_run(s, 30, 80, &single, &one), 0);
		assert_true(r.windows[j].days == closed.windows[j]);
		assert_true(fabs(r.windows[j].mean - one.window_mean) <= 1e-12 * one.window_mean);
		assert_true(r.windows[j].lower == one.window_lower);
		assert_true(r.windows[j].median == one.window_median);
		assert_true(r.windows[j].upper == one.window_upper);
	}
	/* 30 < 90 < 180 days: more recruits in longer windows */
	assert_true(r.windows[1].mean < r.windows[2].mean && r.windows[2].mean < r.windows[0].mean);
	assert_true(r.has_window && r.median > 0);

	assert_int_equal(forecast_run(s, 30, 80, &mc, &m), 0);
	assert_int_equal(forecast_run(s, 30, 80, &mc_one, &m_one), 0);
	/* window counts have their own generator: T does not depend on the windows */
	assert_true(m.median == m_one.median && m.lower == m_one.lower && m.upper == m_one.upper);
	assert_int_equal(m.nwindows, 3);
	for (size_t j = 0; j < 3; j++) {
		assert_true(fabs(m.windows[j].mean / r.windows[j].mean - 1) < 0.03);
		assert_true(m.windows[j].median + 3 >= r.windows[j].median &&
			    m.windows[j].median <= r.windows[j].median + 3);
	}
	assert_true(m.windows[1].lower <= m.window_lower && m.window_lower <= m.windows[2].lower &&
		    m.windows[2].lower <= m.windows[0].lower);
	assert_true(m.windows[1].upper <= m.window_upper && m.window_upper <= m.windows[2].upper &&
		    m.windows[2].upper <= m.windows[0].upper);
	assert_true(fabs(m.window_mean / m_one.window_mean - 1) < 0.03);
	free(s);
}

/* A site's posterior rate is Gamma(alpha + k, beta + tau). */
static void site_rate_is_the_posterior(void **state)
{
	const struct forecast_site active = {.recruited = 6, .active_days = 120};
	const struct forecast_site planned = {.opens_in_days = 30};
	struct forecast_fit fit = {.alpha = 2, .beta = 40};
	struct forecast_rate rate;

	(void)state;
	assert_int_equal(forecast_site_rate(&active, &fit, &rate), 0);
	assert_true(rate.shape == 8 && rate.rate == 160);
	assert_true(fabs(rate.mean - 0.05) < 1e-15);
	assert_true(fabs(gsl_cdf_gamma_P(rate.lower, 8, 1.0 / 160) - 0.05) < 1e-9);
	assert_true(fabs(gsl_cdf_gamma_P(rate.upper, 8, 1.0 / 160) - 0.95) < 1e-9);
	assert_int_equal(forecast_site_rate(&planned, &fit, &rate), 0);
	assert_true(fabs(rate.mean - 0.05) < 1e-15 && rate.rate == 40);
	fit.beta = 0;
	assert_int_equal(forecast_site_rate(&active, &fit, &rate), CTMS_EINVAL);
}

static void long_horizon_is_flagged(void **state)
{
	struct forecast_site *s = draw_sites(20, 2, 40, 10, 20, 41);
	struct forecast_result r;

	(void)state;
	/* 20 days in, 400 to go at about one a day: far beyond twice 20 days */
	assert_int_equal(forecast_run(s, 20, 400, NULL, &r), 0);
	assert_true(r.flags & FORECAST_FLAG_LONG_HORIZON);
	assert_non_null(strstr(r.message, "likely too narrow"));
	free(s);
	s = draw_sites(20, 2, 40, 290, 300, 42);
	assert_int_equal(forecast_run(s, 20, 50, NULL, &r), 0);
	assert_false(r.flags & FORECAST_FLAG_LONG_HORIZON);
	assert_true(r.elapsed_days >= 290);
	free(s);
}

static void uncertainty_widens_the_interval(void **state)
{
	/* Twelve sites at exactly 0.1 per day: Poisson limit. Taken as known,
	 * the common rate leaves only Poisson noise; its uncertainty (from 228
	 * recruits) widens the interval. */
	struct forecast_site s[12];
	struct forecast_options plug = {.plug_in = true}, full = {0};
	struct forecast_result a, b;

	(void)state;
	for (int i = 0; i < 12; i++)
		s[i] = (struct forecast_site){.recruited = (uint32_t)(3 * (i + 1)),
					      .active_days = 30.0 * (i + 1)};
	assert_int_equal(forecast_run(s, 12, 300, &plug, &a), 0);
	assert_int_equal(forecast_run(s, 12, 300, &full, &b), 0);
	assert_int_equal(a.fit.method, FORECAST_FIT_POISSON_LIMIT);
	assert_true(b.fit.has_uncertainty);
	assert_true(b.fit.var_log_alpha == 0 && b.fit.var_log_mean > 0);
	assert_true(b.upper - b.lower > 1.3 * (a.upper - a.lower));
	assert_true(fabs(b.median / a.median - 1) < 0.02);
	assert_non_null(strstr(a.message, "homogeneous rates: Poisson limit"));
	assert_all_finite(&a);
	assert_all_finite(&b);
}

static void never_nan_on_odd_inputs(void **state)
{
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	struct forecast_site s[30];

	(void)state;
	gsl_rng_set(rng, 77);
	for (int trial = 0; trial < 400; trial++) {
		size_t n = 1 + gsl_rng_uniform_int(rng, 30);
		uint32_t target = 1 + (uint32_t)gsl_rng_uniform_int(rng, 5) *
				      (uint32_t)pow(10, (double)gsl_rng_uniform_int(rng, 6));
		struct forecast_options opt = {
			.method = (enum forecast_method)gsl_rng_uniform_int(rng, 3),
			.prior_rate = gsl_rng_uniform(rng) < 0.3 ? 0.01 + gsl_rng_uniform(rng) : 0,
			.plug_in = gsl_rng_uniform(rng) < 0.3,
			.draws = 300,
			.seed = (uint64_t)trial,
			.window_days = gsl_rng_uniform(rng) < 0.5 ? 30 : 0,
		};
		struct forecast_result r;
		int rc;

		for (size_t i = 0; i < n; i++) {
			struct forecast_site *x = &s[i];
			*x = (struct forecast_site){0};
			switch (gsl_rng_uniform_int(rng, 7)) {
			case 0: /* opens later */
				x->opens_in_days = 1000 * gsl_rng_uniform(rng);
				break;
			case 1: /* minutes of activity */
				x->active_days = FORECAST_MIN_ACTIVE_DAYS * (1 + 1000 * gsl_rng_uniform(rng));
				x->recruited = (uint32_t)gsl_rng_uniform_int(rng, 3);
				break;
			case 2: /* huge counts */
				x->active_days = 1 + 3000 * gsl_rng_uniform(rng);
				x->recruited = (uint32_t)gsl_rng_uniform_int(rng, 100000);
				break;
			case 3: /* closed */
				x->active_days = 1 + 300 * gsl_rng_uniform(rng);
				x->recruited = (uint32_t)gsl_rng_uniform_int(rng, 20);
				x->closed = true;
				break;
			case 4: /* closing soon */
				x->active_days = 1 + 300 * gsl_rng_uniform(rng);
				x->recruited = (uint32_t)gsl_rng_uniform_int(rng, 20);
				x->closes_in_days = 1 + 100 * gsl_rng_uniform(rng);
				break;
			case 5: /* nothing yet */
				x->active_days = 1 + 500 * gsl_rng_uniform(rng);
				break;
			default:
				x->active_days = 1 + 500 * gsl_rng_uniform(rng);
				x->recruited = (uint32_t)gsl_ran_poisson(rng, 0.05 * x->active_days);
			}
		}
		rc = forecast_run(s, n, target, &opt, &r);
		if (rc != 0)
			fail_msg("trial %d: %s", trial, r.message);
		assert_all_finite(&r);
	}
	gsl_rng_free(rng);
}

static void invalid_arguments(void **state)
{
	const struct forecast_site s[] = {{.recruited = 4, .active_days = 50}};
	struct forecast_options many = {.draws = FORECAST_MAX_DRAWS + 1};
	struct forecast_options method = {.method = (enum forecast_method)7};
	struct forecast_options window = {.window_days = -1};
	struct forecast_options windows = {.nwindows = FORECAST_MAX_WINDOWS + 1};
	struct forecast_options zero_window = {.nwindows = 1, .windows = {0}};
	struct forecast_result r;
	struct forecast_fit fit = {.alpha = 1, .beta = 10};
	double p;

	(void)state;
	assert_int_equal(forecast_run(s, 1, 0, NULL, &r), CTMS_EINVAL);
	assert_non_null(strstr(r.message, "target_more"));
	assert_int_equal(forecast_run(s, 0, 5, NULL, &r), CTMS_EINVAL);
	assert_int_equal(forecast_run(s, 1, 5, &many, &r), CTMS_EINVAL);
	assert_non_null(strstr(r.message, "draws"));
	assert_int_equal(forecast_run(s, 1, 5, &method, &r), CTMS_EINVAL);
	assert_int_equal(forecast_run(s, 1, 5, &window, &r), CTMS_EINVAL);
	assert_non_null(strstr(r.message, "window_days"));
	assert_int_equal(forecast_run(s, 1, 5, &windows, &r), CTMS_EINVAL);
	assert_non_null(strstr(r.message, "nwindows"));
	assert_int_equal(forecast_run(s, 1, 5, &zero_window, &r), CTMS_EINVAL);
	assert_non_null(strstr(r.message, "windows[0]"));
	assert_int_equal(forecast_run(s, 1, 5, NULL, NULL), CTMS_EINVAL);
	assert_int_equal(forecast_time_cdf(s, 1, 5, &fit, true, -1, &p), CTMS_EINVAL);
	assert_int_equal(forecast_time_cdf(s, 1, 0, &fit, true, 10, &p), CTMS_EINVAL);
	fit.beta = 0;
	assert_int_equal(forecast_time_cdf(s, 1, 5, &fit, true, 10, &p), CTMS_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(incomplete_beta_cdf_matches_simulation),
		cmocka_unit_test(moment_matching_is_close_for_many_sites),
		cmocka_unit_test(quantiles_invert_the_cdf),
		cmocka_unit_test(mean_is_n_b_over_a_minus_one),
		cmocka_unit_test(monte_carlo_agrees_with_closed_form),
		cmocka_unit_test(monte_carlo_is_reproducible),
		cmocka_unit_test(staggered_openings_delay_completion),
		cmocka_unit_test(closures_can_put_the_target_out_of_reach),
		cmocka_unit_test(statuses_without_a_forecast),
		cmocka_unit_test(window_is_negative_binomial),
		cmocka_unit_test(several_windows_at_once),
		cmocka_unit_test(site_rate_is_the_posterior),
		cmocka_unit_test(long_horizon_is_flagged),
		cmocka_unit_test(uncertainty_widens_the_interval),
		cmocka_unit_test(never_nan_on_odd_inputs),
		cmocka_unit_test(invalid_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
