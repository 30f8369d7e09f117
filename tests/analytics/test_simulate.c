/* Synthetic trials (src/analytics/simulate.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "analytics/simulate.h"

static void trials_are_reproducible(void **state)
{
	struct simulate_params p = {.alpha = 1.5, .beta = 30, .sites = 25,
				    .opening_spread_days = 90, .target = 200, .seed = 42};
	struct simulate_trial a, b;

	(void)state;
	assert_int_equal(simulate_run(&p, &a), 0);
	assert_int_equal(simulate_run(&p, &b), 0);
	assert_int_equal(a.total, b.total);
	assert_memory_equal(a.recruit_days, b.recruit_days, a.total * sizeof(double));
	for (uint32_t j = 0; j < a.nsites; j++) {
		assert_true(a.sites[j].rate == b.sites[j].rate);
		assert_int_equal(a.sites[j].count, b.sites[j].count);
	}
	simulate_release(&b);
	p.seed = 43;
	assert_int_equal(simulate_run(&p, &b), 0);
	assert_true(a.completion_day != b.completion_day);
	simulate_release(&a);
	simulate_release(&b);
}

static void a_trial_stops_at_its_target(void **state)
{
	struct simulate_params p = {.alpha = 2, .beta = 40, .sites = 30,
				    .opening_spread_days = 120, .target = 300, .seed = 7};
	struct simulate_trial t;
	uint32_t sum = 0;

	(void)state;
	assert_int_equal(simulate_run(&p, &t), 0);
	assert_true(t.completed);
	assert_int_equal(t.total, 300);
	assert_true(t.completion_day == t.recruit_days[299]);
	for (uint32_t i = 1; i < t.total; i++)
		assert_true(t.recruit_days[i - 1] <= t.recruit_days[i]);
	for (uint32_t j = 0; j < t.nsites; j++) {
		const struct simulate_site *s = &t.sites[j];
		assert_true(s->opens_on >= 0 && s->opens_on <= 120);
		for (uint32_t i = 0; i < s->count; i++) {
			assert_true(s->arrivals[i] >= s->opens_on);
			assert_true(s->arrivals[i] <= t.completion_day);
			if (i > 0)
				assert_true(s->arrivals[i - 1] <= s->arrivals[i]);
		}
		sum += s->count;
	}
	assert_int_equal(sum, 300);
	simulate_release(&t);
}

static void rates_and_counts_follow_the_model(void **state)
{
	/* 20,000 sites: the mean rate alpha/beta = 0.05 within 2% (standard error
	 * 0.5%), the variance alpha/beta^2 within 6%, and recruits over exposure
	 * sum k / sum lambda tau within 2%. */
	struct simulate_params p = {.alpha = 2.5, .beta = 50, .sites = 20000,
				    .opening_spread_days = 0, .target = 40000, .seed = 3};
	struct simulate_trial t;
	double sum = 0, sum2 = 0, exposure = 0, recruits = 0;

	(void)state;
	assert_int_equal(simulate_run(&p, &t), 0);
	for (uint32_t j = 0; j < t.nsites; j++) {
		sum += t.sites[j].rate;
		sum2 += t.sites[j].rate * t.sites[j].rate;
		exposure += t.sites[j].rate * (t.completion_day - t.sites[j].opens_on);
		recruits += t.sites[j].count;
	}
	double mean = sum / t.nsites, var = sum2 / t.nsites - mean * mean;
	assert_true(fabs(mean / 0.05 - 1) < 0.02);
	assert_true(fabs(var / (2.5 / 2500.0) - 1) < 0.06);
	assert_true(fabs(recruits / exposure - 1) < 0.02);
	simulate_release(&t);
}

static void declining_rates_recruit_less(void **state)
{
	/* With a 100-day half-life a site recruits lambda 100/ln 2 on average in
	 * all: 50 sites at 0.1 per day give about 720, so a target of 5,000 is
	 * never reached, and about 720 arrive. */
	struct simulate_params p = {.alpha = 4, .beta = 40, .sites = 50,
				    .opening_spread_days = 10, .target = 5000, .seed = 11,
				    .half_life_days = 100};
	struct simulate_trial t;

	(void)state;
	assert_int_equal(simulate_run(&p, &t), 0);
	assert_false(t.completed);
	assert_true(t.completion_day == 0);
	assert_in_range(t.total, 550, 900);
	simulate_release(&t);

	p.target = 300;
	assert_int_equal(simulate_run(&p, &t), 0);
	assert_true(t.completed);
	assert_int_equal(t.total, 300);
	simulate_release(&t);
}

static void observing_a_trial(void **state)
{
	struct simulate_params p = {.alpha = 2, .beta = 20, .sites = 10,
				    .opening_spread_days = 100, .target = 150, .seed = 5};
	struct simulate_trial t;
	struct forecast_site sites[10];
	double day;
	uint32_t seen;

	(void)state;
	assert_int_equal(simulate_run(&p, &t), 0);
	day = t.recruit_days[59];
	seen = simulate_observe(&t, day, sites);
	assert_int_equal(seen, 60);
	for (uint32_t j = 0; j < 10; j++) {
		if (t.sites[j].opens_on > day) {
			assert_int_equal(sites[j].recruited, 0);
			assert_true(sites[j].active_days == 0);
			assert_true(fabs(sites[j].opens_in_days - (t.sites[j].opens_on - day)) < 1e-9);
		} else {
			assert_true(sites[j].opens_in_days == 0);
			assert_true(sites[j].active_days > 0);
		}
	}
	simulate_release(&t);
}

static void refuses_bad_parameters(void **state)
{
	struct simulate_params ok = {.alpha = 1, .beta = 1, .sites = 1, .target = 1};
	struct simulate_params p;
	struct simulate_trial t;

	(void)state;
	p = ok, p.alpha = 0;
	assert_int_equal(simulate_run(&p, &t), CTMS_EINVAL);
	p = ok, p.beta = NAN;
	assert_int_equal(simulate_run(&p, &t), CTMS_EINVAL);
	p = ok, p.sites = 0;
	assert_int_equal(simulate_run(&p, &t), CTMS_EINVAL);
	p = ok, p.target = 0;
	assert_int_equal(simulate_run(&p, &t), CTMS_EINVAL);
	p = ok, p.half_life_days = -1;
	assert_int_equal(simulate_run(&p, &t), CTMS_EINVAL);
	assert_int_equal(simulate_run(NULL, &t), CTMS_EINVAL);
	simulate_release(&t);
	assert_int_equal(simulate_run(&ok, &t), 0);
	simulate_release(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(trials_are_reproducible),
		cmocka_unit_test(a_trial_stops_at_its_target),
		cmocka_unit_test(rates_and_counts_follow_the_model),
		cmocka_unit_test(declining_rates_recruit_less),
		cmocka_unit_test(observing_a_trial),
		cmocka_unit_test(refuses_bad_parameters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
