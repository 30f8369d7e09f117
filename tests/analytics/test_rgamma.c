/* Fast normal and gamma variates (src/analytics/rgamma.c): checked against
 * GSL's distribution functions by moments and Kolmogorov-Smirnov. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <math.h>
#include <cmocka.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_rng.h>

#include "analytics/rgamma.h"

#define DRAWS 100000

static int compare_double(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;
	return (a > b) - (a < b);
}

/* Kolmogorov-Smirnov distance of sorted x[0..n) from cdf. */
static double ks_distance(double *x, size_t n, double (*cdf)(double, const double *),
			  const double *param)
{
	double d = 0;
	qsort(x, n, sizeof(*x), compare_double);
	for (size_t i = 0; i < n; i++) {
		double f = cdf(x[i], param);
		d = fmax(d, fmax(fabs(f - (double)i / n), fabs((double)(i + 1) / n - f)));
	}
	return d;
}

static double normal_cdf(double x, const double *param)
{
	(void)param;
	return gsl_cdf_ugaussian_P(x);
}

static double gamma_cdf(double x, const double *param)
{
	return gsl_cdf_gamma_P(x, param[0], 1.0);
}

/* The 1% critical value of the KS distance is about 1.63/sqrt(n). */
static double ks_critical(size_t n)
{
	return 1.63 / sqrt((double)n);
}

static void normal_has_the_standard_law(void **state)
{
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_taus2);
	struct rgamma g;
	double *x = malloc(DRAWS * sizeof(*x)), sum = 0, sum2 = 0;
	size_t tail = 0;

	(void)state;
	gsl_rng_set(rng, 2024);
	assert_int_equal(rgamma_init(&g, rng), 0);
	for (size_t i = 0; i < DRAWS; i++) {
		x[i] = rgamma_normal(&g);
		sum += x[i];
		sum2 += x[i] * x[i];
		tail += fabs(x[i]) > 3.442619855899;
	}
	/* mean within 4 standard errors; variance within 4 of its standard errors */
	assert_true(fabs(sum / DRAWS) < 4.0 / sqrt(DRAWS));
	assert_true(fabs(sum2 / DRAWS - 1.0) < 4.0 * sqrt(2.0 / DRAWS));
	/* the tail beyond the ziggurat's base, P = 5.76e-4: about 58 of 100,000 */
	assert_in_range(tail, 30, 90);
	assert_true(ks_distance(x, DRAWS, normal_cdf, NULL) < ks_critical(DRAWS));
	free(x);
	gsl_rng_free(rng);
}

static void gamma_matches_gsl_cdf_for_every_shape(void **state)
{
	static const double shapes[] = {0.01, 0.3, 1.0, 2.5, 17.0, 400.0, 1e4};
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_taus2);
	struct rgamma g;
	double *x = malloc(DRAWS * sizeof(*x));

	(void)state;
	gsl_rng_set(rng, 99);
	assert_int_equal(rgamma_init(&g, rng), 0);
	for (size_t s = 0; s < sizeof(shapes) / sizeof(*shapes); s++) {
		struct rgamma_shape shape;
		double a = shapes[s], sum = 0;

		rgamma_shape_init(&shape, a);
		for (size_t i = 0; i < DRAWS; i++) {
			x[i] = rgamma_draw(&g, &shape);
			assert_true(x[i] >= 0 && isfinite(x[i]));
			sum += x[i];
		}
		/* mean a, standard error sqrt(a/n) */
		if (fabs(sum / DRAWS - a) > 4.0 * sqrt(a / DRAWS))
			fail_msg("shape %g: mean %g", a, sum / DRAWS);
		if (ks_distance(x, DRAWS, gamma_cdf, &a) > ks_critical(DRAWS))
			fail_msg("shape %g: KS distance too large", a);
	}
	free(x);
	gsl_rng_free(rng);
}

static void same_seed_same_draws(void **state)
{
	gsl_rng *r1 = gsl_rng_alloc(gsl_rng_taus2), *r2 = gsl_rng_alloc(gsl_rng_taus2);
	struct rgamma g1, g2;
	struct rgamma_shape shape;

	(void)state;
	gsl_rng_set(r1, 5);
	gsl_rng_set(r2, 5);
	assert_int_equal(rgamma_init(&g1, r1), 0);
	assert_int_equal(rgamma_init(&g2, r2), 0);
	rgamma_shape_init(&shape, 0.7);
	for (int i = 0; i < 1000; i++)
		assert_true(rgamma_draw(&g1, &shape) == rgamma_draw(&g2, &shape));
	gsl_rng_free(r1);
	gsl_rng_free(r2);
}

static void refuses_generators_without_32_bits(void **state)
{
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_ranlux); /* 24-bit outputs */
	struct rgamma g;

	(void)state;
	assert_int_equal(rgamma_init(&g, rng), CTMS_EINVAL);
	assert_int_equal(rgamma_init(&g, NULL), CTMS_EINVAL);
	gsl_rng_free(rng);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(normal_has_the_standard_law),
		cmocka_unit_test(gamma_matches_gsl_cdf_for_every_shape),
		cmocka_unit_test(same_seed_same_draws),
		cmocka_unit_test(refuses_generators_without_32_bits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
