/* Maximum-likelihood fit of the Poisson-gamma site-rate distribution
 * (src/analytics/forecast_fit.c): recovery of known parameters, optimality,
 * and every fallback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sf_gamma.h>

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

static void recovers_known_parameters(void **state)
{
	/* 3,000 sites: the standard error of ln alpha is about 0.05 and of the
	 * mean rate about 2%, so 20% and 6% are over three standard errors. */
	static const struct {
		double alpha, beta;
	} cases[] = {{2.0, 50.0}, {0.7, 10.0}, {8.0, 100.0}, {1.2, 400.0}};
	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(*cases); c++) {
		struct forecast_site *s =
			draw_sites(3000, cases[c].alpha, cases[c].beta, 60, 400, 100 + c);
		struct forecast_fit fit;
		double mean_true = cases[c].alpha / cases[c].beta;

		assert_int_equal(forecast_fit(s, 3000, NULL, &fit), 0);
		assert_int_equal(fit.method, FORECAST_FIT_MLE);
		if (fabs(log(fit.alpha / cases[c].alpha)) > 0.2 ||
		    fabs(fit.alpha / fit.beta / mean_true - 1) > 0.06)
			fail_msg("alpha %g beta %g: fitted %g %g", cases[c].alpha, cases[c].beta,
				 fit.alpha, fit.beta);
		assert_true(fit.iterations < 100);
		free(s);
	}
}

static void optimum_beats_nearby_points(void **state)
{
	struct forecast_site *s = draw_sites(200, 1.5, 30, 20, 300, 7);
	struct forecast_fit fit;
	double best;

	(void)state;
	assert_int_equal(forecast_fit(s, 200, NULL, &fit), 0);
	assert_int_equal(fit.method, FORECAST_FIT_MLE);
	assert_int_equal(forecast_log_likelihood(s, 200, fit.alpha, fit.beta, &best), 0);
	assert_true(fabs(best - fit.log_likelihood) < 1e-9 * fabs(best));
	for (int da = -2; da <= 2; da++) {
		for (int db = -2; db <= 2; db++) {
			double l;
			if (da == 0 && db == 0)
				continue;
			assert_int_equal(forecast_log_likelihood(s, 200, fit.alpha * exp(0.01 * da),
								 fit.beta * exp(0.01 * db), &l),
					 0);
			if (l > best)
				fail_msg("l(%g, %g) = %.12g > optimum %.12g", fit.alpha * exp(0.01 * da),
					 fit.beta * exp(0.01 * db), l, best);
		}
	}
	free(s);
}

static void log_likelihood_matches_the_formula(void **state)
{
	/* l = sum lnG(a+k) - lnG(a) + a ln b - (a+k) ln(b+tau) + k ln tau,
	 * written out for three sites; a site with no active time adds nothing. */
	const struct forecast_site s[] = {
		{.recruited = 3, .active_days = 30},
		{.recruited = 0, .active_days = 12.5},
		{.recruited = 41, .active_days = 200},
		{.opens_in_days = 10},
	};
	double a = 1.7, b = 22.0, expect = 0, got;

	(void)state;
	for (int i = 0; i < 3; i++) {
		double k = s[i].recruited, tau = s[i].active_days;
		expect += lgamma(a + k) - lgamma(a) + a * log(b) - (a + k) * log(b + tau) +
			  (k > 0 ? k * log(tau) : 0);
	}
	assert_int_equal(forecast_log_likelihood(s, 4, a, b, &got), 0);
	assert_true(fabs(got - expect) < 1e-10 * fabs(expect));
	assert_int_equal(forecast_log_likelihood(s, 4, 0, b, &got), CTMS_EINVAL);
	assert_int_equal(forecast_log_likelihood(s, 4, a, NAN, &got), CTMS_EINVAL);
}

static void equal_rates_reach_the_poisson_limit(void **state)
{
	/* Every site at exactly 0.1 per day: no over-dispersion at all. */
	struct forecast_site s[12];
	struct forecast_fit fit;

	(void)state;
	for (int i = 0; i < 12; i++)
		s[i] = (struct forecast_site){.recruited = (uint32_t)(3 * (i + 1)),
					      .active_days = 30.0 * (i + 1)};
	assert_int_equal(forecast_fit(s, 12, NULL, &fit), 0);
	assert_int_equal(fit.method, FORECAST_FIT_POISSON_LIMIT);
	assert_true(fit.alpha == FORECAST_ALPHA_MAX);
	assert_true(fabs(fit.alpha / fit.beta - 0.1) < 1e-3);
	assert_non_null(strstr(fit.message, "homogeneous rates: Poisson limit"));
	assert_true(isfinite(fit.log_likelihood));
}

static void under_dispersed_counts_also_reach_the_limit(void **state)
{
	/* Counts closer together than Poisson noise allows. */
	struct forecast_site s[30];
	struct forecast_fit fit;

	(void)state;
	for (int i = 0; i < 30; i++)
		s[i] = (struct forecast_site){.recruited = (uint32_t)(20 + i % 2), .active_days = 100};
	assert_int_equal(forecast_fit(s, 30, NULL, &fit), 0);
	assert_int_equal(fit.method, FORECAST_FIT_POISSON_LIMIT);
	assert_true(fabs(fit.alpha / fit.beta - 0.205) < 1e-3);
}

static void zero_recruits_everywhere(void **state)
{
	struct forecast_site s[5];
	struct forecast_options prior = {.prior_rate = 0.05, .prior_shape = 2};
	struct forecast_fit fit;

	(void)state;
	for (int i = 0; i < 5; i++)
		s[i] = (struct forecast_site){.active_days = 40};
	assert_int_equal(forecast_fit(s, 5, NULL, &fit), 0);
	assert_int_equal(fit.method, FORECAST_FIT_NO_RECRUITS);
	/* half a recruit over 200 site-days */
	assert_true(fabs(fit.alpha / fit.beta - 0.5 / 200) < 1e-12);
	assert_non_null(strstr(fit.message, "no recruits yet"));

	assert_int_equal(forecast_fit(s, 5, &prior, &fit), 0);
	assert_int_equal(fit.method, FORECAST_FIT_PRIOR);
	assert_true(fit.alpha == 2 && fabs(fit.beta - 40) < 1e-12);
}

static void single_active_site(void **state)
{
	const struct forecast_site s[] = {
		{.recruited = 6, .active_days = 60},
		{.opens_in_days = 14},
		{.opens_in_days = 30},
	};
	struct forecast_options prior = {.prior_rate = 0.2};
	struct forecast_fit fit;

	(void)state;
	assert_int_equal(forecast_fit(s, 3, NULL, &fit), 0);
	assert_int_equal(fit.method, FORECAST_FIT_SINGLE_SITE);
	assert_true(fit.alpha == 1.0);
	assert_true(fabs(fit.alpha / fit.beta - 0.1) < 1e-12);
	assert_int_equal(fit.sites_with_data, 1);

	assert_int_equal(forecast_fit(s, 3, &prior, &fit), 0);
	assert_int_equal(fit.method, FORECAST_FIT_PRIOR);
	assert_true(fabs(fit.alpha / fit.beta - 0.2) < 1e-12);
}

static void no_active_site_means_no_data(void **state)
{
	const struct forecast_site s[] = {{.opens_in_days = 10}, {.opens_in_days = 0}};
	struct forecast_options prior = {.prior_rate = 0.1, .prior_shape = 3};
	struct forecast_fit fit;

	(void)state;
	assert_int_equal(forecast_fit(s, 2, NULL, &fit), 0);
	assert_int_equal(fit.method, FORECAST_FIT_NO_DATA);
	assert_non_null(strstr(fit.message, "no data"));
	assert_int_equal(forecast_fit(s, 2, &prior, &fit), 0);
	assert_int_equal(fit.method, FORECAST_FIT_PRIOR);
	assert_true(fit.alpha == 3 && fabs(fit.beta - 30) < 1e-9);
	assert_int_equal(forecast_fit(NULL, 0, NULL, &fit), 0);
	assert_int_equal(fit.method, FORECAST_FIT_NO_DATA);
}

static void very_short_active_times(void **state)
{
	/* Sites open for minutes to an hour, one with a recruit already. */
	struct forecast_site s[8];
	struct forecast_fit fit;

	(void)state;
	for (int i = 0; i < 8; i++)
		s[i] = (struct forecast_site){.active_days = 0.001 * (i + 1)};
	s[3].recruited = 1;
	assert_int_equal(forecast_fit(s, 8, NULL, &fit), 0);
	assert_true(isfinite(fit.alpha) && isfinite(fit.beta) && fit.alpha > 0 && fit.beta > 0);
	assert_true(isfinite(fit.log_likelihood));
	s[5].recruited = 2;
	s[5].active_days = FORECAST_MIN_ACTIVE_DAYS;
	assert_int_equal(forecast_fit(s, 8, NULL, &fit), 0);
	assert_true(isfinite(fit.alpha) && isfinite(fit.beta) && fit.alpha > 0 && fit.beta > 0);
}

static void one_site_has_everything(void **state)
{
	/* 40 sites with nothing over a year, one with 300: as heterogeneous as
	 * data get. The fit stays finite, inside the bounds. */
	struct forecast_site s[41];
	struct forecast_fit fit;

	(void)state;
	for (int i = 0; i < 40; i++)
		s[i] = (struct forecast_site){.active_days = 365};
	s[40] = (struct forecast_site){.recruited = 300, .active_days = 365};
	assert_int_equal(forecast_fit(s, 41, NULL, &fit), 0);
	assert_true(fit.method == FORECAST_FIT_MLE || fit.method == FORECAST_FIT_SHAPE_FLOOR);
	assert_true(fit.alpha >= FORECAST_ALPHA_MIN && fit.alpha < 0.1);
	assert_true(isfinite(fit.beta) && fit.beta > 0);
	assert_true(fabs(fit.alpha / fit.beta - 300.0 / (41 * 365)) < 0.2 * 300.0 / (41 * 365));

	/* With 400 empty sites the maximum lies below the floor. */
	struct forecast_site *many = calloc(401, sizeof(*many));
	for (int i = 0; i < 400; i++)
		many[i] = (struct forecast_site){.active_days = 365};
	many[400] = (struct forecast_site){.recruited = 300, .active_days = 365};
	assert_int_equal(forecast_fit(many, 401, NULL, &fit), 0);
	assert_int_equal(fit.method, FORECAST_FIT_SHAPE_FLOOR);
	assert_true(fit.alpha == FORECAST_ALPHA_MIN);
	assert_true(fit.has_uncertainty && fit.var_log_alpha == 0 && fit.var_log_mean > 0);
	assert_non_null(strstr(fit.message, "extreme heterogeneity"));
	free(many);
}

static void two_sites_are_enough_to_fit(void **state)
{
	const struct forecast_site s[] = {{.recruited = 2, .active_days = 100},
					  {.recruited = 40, .active_days = 100}};
	struct forecast_fit fit;

	(void)state;
	assert_int_equal(forecast_fit(s, 2, NULL, &fit), 0);
	assert_int_equal(fit.method, FORECAST_FIT_MLE);
	assert_true(fabs(fit.alpha / fit.beta - 0.21) < 1e-6);
}

static void invalid_sites_name_the_field(void **state)
{
	struct forecast_site s[] = {{.recruited = 1, .active_days = 10}, {.recruited = 3}};
	struct forecast_fit fit;
	struct forecast_options bad = {.prior_rate = -1};

	(void)state;
	assert_int_equal(forecast_fit(s, 2, NULL, &fit), CTMS_EINVAL);
	assert_non_null(strstr(fit.message, "sites[1].recruited"));
	s[1] = (struct forecast_site){.active_days = NAN};
	assert_int_equal(forecast_fit(s, 2, NULL, &fit), CTMS_EINVAL);
	assert_non_null(strstr(fit.message, "sites[1].active_days"));
	s[1] = (struct forecast_site){.active_days = 5, .opens_in_days = 3};
	assert_int_equal(forecast_fit(s, 2, NULL, &fit), CTMS_EINVAL);
	assert_non_null(strstr(fit.message, "sites[1].opens_in_days"));
	s[1] = (struct forecast_site){.closes_in_days = -2};
	assert_int_equal(forecast_fit(s, 2, NULL, &fit), CTMS_EINVAL);
	assert_non_null(strstr(fit.message, "closes_in_days"));
	s[1] = (struct forecast_site){.active_days = 1e-9};
	assert_int_equal(forecast_fit(s, 2, NULL, &fit), CTMS_EINVAL);
	s[1] = (struct forecast_site){.active_days = 10};
	assert_int_equal(forecast_fit(s, 2, &bad, &fit), CTMS_EINVAL);
	assert_non_null(strstr(fit.message, "prior_rate"));
	assert_int_equal(forecast_fit(s, 2, NULL, NULL), CTMS_EINVAL);
}

static void names_are_stable(void **state)
{
	(void)state;
	assert_string_equal(forecast_fit_method_name(FORECAST_FIT_POISSON_LIMIT), "poisson_limit");
	assert_string_equal(forecast_fit_method_name(FORECAST_FIT_NO_DATA), "no_data");
	assert_string_equal(forecast_method_name(FORECAST_MONTE_CARLO), "monte_carlo");
	assert_string_equal(forecast_status_name(FORECAST_NO_FUTURE_SITES), "no_future_sites");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(recovers_known_parameters),
		cmocka_unit_test(optimum_beats_nearby_points),
		cmocka_unit_test(log_likelihood_matches_the_formula),
		cmocka_unit_test(equal_rates_reach_the_poisson_limit),
		cmocka_unit_test(under_dispersed_counts_also_reach_the_limit),
		cmocka_unit_test(zero_recruits_everywhere),
		cmocka_unit_test(single_active_site),
		cmocka_unit_test(no_active_site_means_no_data),
		cmocka_unit_test(very_short_active_times),
		cmocka_unit_test(one_site_has_everything),
		cmocka_unit_test(two_sites_are_enough_to_fit),
		cmocka_unit_test(invalid_sites_name_the_field),
		cmocka_unit_test(names_are_stable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
