/* Timings of the forecast for 1,000 sites: the closed form (fit included) and
 * Monte Carlo with 10,000 draws. Not a test: run it from a release build,
 *	meson setup build-rel -Dbuildtype=release && ninja -C build-rel
 *	build-rel/tests/analytics/forecast_timing
 * and read the medians. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "analytics/forecast.h"

#define SITES 1000
#define REPEATS 21

/* Wall-clock and this thread's CPU time, in milliseconds: on a busy machine
 * the CPU time is the steadier measure of the code itself. */
static double now_ms(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int compare_double(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;
	return (a > b) - (a < b);
}

/* 1,000 sites with active times spread over two years and Poisson counts
 * from Gamma(2, 60) rates; planned_share of them open later instead. With
 * whole_days, active times are whole days, as they are when computed from
 * dates: sites activated on the same day share a posterior rate parameter
 * and Monte Carlo draws them as one gamma. */
static void make_sites(struct forecast_site *sites, double planned_share, bool whole_days,
		       unsigned long seed)
{
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	gsl_rng_set(rng, seed);
	for (int i = 0; i < SITES; i++) {
		struct forecast_site *s = &sites[i];
		*s = (struct forecast_site){0};
		if (gsl_rng_uniform(rng) < planned_share) {
			s->opens_in_days = 1 + 180 * gsl_rng_uniform(rng);
			continue;
		}
		s->active_days = 10 + 720 * gsl_rng_uniform(rng);
		if (whole_days)
			s->active_days = floor(s->active_days);
		s->recruited = gsl_ran_poisson(rng, gsl_ran_gamma(rng, 2.0, 1.0 / 60) * s->active_days);
	}
	gsl_rng_free(rng);
}

static void time_it(const char *label, const struct forecast_site *sites,
		    const struct forecast_options *opt, uint32_t target)
{
	double wall[REPEATS], cpu[REPEATS];
	struct forecast_result r;

	for (int i = 0; i < REPEATS; i++) {
		double w0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_THREAD_CPUTIME_ID);
		if (forecast_run(sites, SITES, target, opt, &r) != 0) {
			fprintf(stderr, "%s: %s\n", label, r.message);
			exit(1);
		}
		cpu[i] = now_ms(CLOCK_THREAD_CPUTIME_ID) - c0;
		wall[i] = now_ms(CLOCK_MONOTONIC) - w0;
	}
	qsort(wall, REPEATS, sizeof(*wall), compare_double);
	qsort(cpu, REPEATS, sizeof(*cpu), compare_double);
	printf("%-48s cpu median %8.3f ms (min %8.3f)  wall median %8.3f ms  [%s, median %.1f days]\n",
	       label, cpu[REPEATS / 2], cpu[0], wall[REPEATS / 2], forecast_method_name(r.method),
	       r.median);
}

int main(void)
{
	static struct forecast_site sites[SITES], staggered[SITES], days[SITES];
	struct forecast_options closed = {.method = FORECAST_CLOSED_FORM, .window_days = 90};
	struct forecast_options mc = {.method = FORECAST_MONTE_CARLO, .draws = 10000, .seed = 1};
	/* What the API asks by default: recruits by +30, +90 and +180 days. */
	struct forecast_options api = {.nwindows = 3, .windows = {30, 90, 180}, .seed = 1};

	make_sites(sites, 0.0, false, 11);
	make_sites(staggered, 0.2, false, 12);
	make_sites(days, 0.0, true, 13);
	printf("forecast timings, %d sites, %d repeats\n", SITES, REPEATS);
	time_it("closed form (fit + quantiles + 90-day window)", sites, &closed, 5000);
	time_it("Monte Carlo, 10,000 draws, all sites open", sites, &mc, 5000);
	time_it("Monte Carlo, 10,000 draws, 20% opening later", staggered, &mc, 5000);
	time_it("Monte Carlo, 10,000 draws, whole-day active times", days, &mc, 5000);
	time_it("closed form, 20% opening later (time-varying)", staggered, &closed, 5000);
	time_it("API default (auto), all open, 3 windows", days, &api, 5000);
	time_it("API what-if (auto), 20% opening later, 3 windows", staggered, &api, 5000);
	return 0;
}
