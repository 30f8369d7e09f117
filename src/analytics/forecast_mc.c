/* Monte Carlo forecast: exact under the Poisson-gamma model for any pattern
 * of openings and closings (RULES.md, "Recruitment prediction — Poisson-gamma
 * model").
 *
 * Each draw takes every future site's rate from its posterior, so the total
 * rate is a step function of time; the n-th arrival of a Poisson process of
 * rate R(t) is where the integrated rate first reaches a Gamma(n, 1) variate
 * (the n-th arrival of a unit-rate process, by time change). Sites with the
 * same posterior rate parameter and the same opening and closing days are
 * merged into one gamma of the summed shape, which is exact. The draws are
 * shared among the nodes of the fit's uncertainty (struct forecast__mixture)
 * in proportion to their weights, all from one seeded generator (taus2). */
#include "analytics/forecast_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "analytics/alloc.h"
#include "analytics/rgamma.h"

struct group {
	struct rgamma_shape shape;
	double shape_value;
	double rate, inv_rate;
	double opens, closes;
	bool has_close;
};

/* A change of the total rate: group g starts (sign +1) or stops (-1). */
struct event {
	double day;
	size_t group;
	int sign;
};

static int compare_future(const void *pa, const void *pb)
{
	const struct forecast__future *a = pa, *b = pb;

	if (a->rate != b->rate)
		return a->rate < b->rate ? -1 : 1;
	if (a->opens != b->opens)
		return a->opens < b->opens ? -1 : 1;
	if (a->has_close != b->has_close)
		return a->has_close ? 1 : -1;
	if (a->has_close && a->closes != b->closes)
		return a->closes < b->closes ? -1 : 1;
	return 0;
}

static int compare_event(const void *pa, const void *pb)
{
	const struct event *a = pa, *b = pb;

	if (a->day != b->day)
		return a->day < b->day ? -1 : 1;
	if (a->group != b->group)
		return a->group < b->group ? -1 : 1;
	return a->sign - b->sign;
}

static int compare_double(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;
	return (a > b) - (a < b);
}

static int compare_u64(const void *pa, const void *pb)
{
	uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
	return (a > b) - (a < b);
}

/* Merges sites with equal (rate, opens, closes) into groups; returns the count. */
static size_t make_groups(const struct forecast__plan *plan, struct group *groups)
{
	struct forecast__future *sorted = analytics_calloc(plan->nsites, sizeof(*sorted));
	size_t n = 0;

	memcpy(sorted, plan->sites, plan->nsites * sizeof(*sorted));
	qsort(sorted, plan->nsites, sizeof(*sorted), compare_future);
	for (size_t i = 0; i < plan->nsites; i++) {
		if (n > 0 && compare_future(&sorted[i], &sorted[i - 1]) == 0) {
			groups[n - 1].shape_value += sorted[i].shape;
			continue;
		}
		groups[n].shape_value = sorted[i].shape;
		groups[n].rate = sorted[i].rate;
		groups[n].opens = sorted[i].opens;
		groups[n].closes = sorted[i].closes;
		groups[n].has_close = sorted[i].has_close;
		n++;
	}
	for (size_t g = 0; g < n; g++) {
		rgamma_shape_init(&groups[g].shape, groups[g].shape_value);
		groups[g].inv_rate = 1.0 / groups[g].rate;
	}
	free(sorted);
	return n;
}

/* Splits draws among the nodes in proportion to their weights, the remainder
 * to the heaviest first. */
static void share_draws(const struct forecast__mixture *mx, uint32_t draws, uint32_t *per_node)
{
	uint32_t given = 0;

	for (size_t k = 0; k < mx->nnodes; k++) {
		per_node[k] = (uint32_t)floor(draws * mx->weight[k]);
		given += per_node[k];
	}
	while (given < draws) {
		size_t best = 0;
		double best_gap = -1;
		for (size_t k = 0; k < mx->nnodes; k++) {
			double gap = draws * mx->weight[k] - per_node[k];
			if (gap > best_gap) {
				best_gap = gap;
				best = k;
			}
		}
		per_node[best]++;
		given++;
	}
}

/* Draws `draws` completion times (and window counts) for one plan, appending
 * completed times to times[*completed] and, for window j (in ascending order
 * of days, order[j] its index in the caller's list), counts to
 * counts[order[j]][*counted]. The counts of one draw are nested: window j's is
 * window j-1's plus a Poisson count over the days between them. The counts
 * come from their own generator, so the completion times do not depend on
 * which windows are asked for. */
static void simulate_plan(const struct forecast__plan *plan, struct rgamma *sampler,
			  uint32_t target_more, uint32_t draws, const double *window_days,
			  const size_t *order, size_t nwindows, gsl_rng *count_rng, double *times,
			  size_t *completed, double *sum_times, uint64_t **counts, size_t *counted)
{
	struct group *groups = analytics_calloc(plan->nsites, sizeof(*groups));
	size_t ngroups = make_groups(plan, groups);
	struct event *events = analytics_calloc(2 * ngroups, sizeof(*events));
	/* The groups in the starting rate, packed for the innermost loop. */
	struct fixed_group {
		struct rgamma_shape shape;
		double inv_rate;
	} *fixed = analytics_calloc(ngroups, sizeof(*fixed));
	double *rates = analytics_calloc(ngroups, sizeof(*rates));
	double in_window[FORECAST_MAX_WINDOWS + 1];
	size_t nevents = 0, nfixed = 0;
	struct rgamma_shape arrival_shape;

	rgamma_shape_init(&arrival_shape, (double)target_more);
	/* Groups recruiting from as-of with no closing add to the starting rate
	 * and need no event; the others start and stop by events. */
	for (size_t g = 0; g < ngroups; g++) {
		if (groups[g].opens == 0 && !groups[g].has_close) {
			fixed[nfixed].shape = groups[g].shape;
			fixed[nfixed++].inv_rate = groups[g].inv_rate;
			continue;
		}
		if (groups[g].opens > 0)
			events[nevents++] = (struct event){groups[g].opens, g, +1};
		if (groups[g].has_close)
			events[nevents++] = (struct event){groups[g].closes, g, -1};
	}
	qsort(events, nevents, sizeof(*events), compare_event);

	for (uint32_t draw = 0; draw < draws; draw++) {
		double rate = 0, day = 0, integrated = 0;
		double goal = rgamma_draw(sampler, &arrival_shape);
		double done_at = -1;
		size_t windows_done = 0;

		for (size_t i = 0; i < nfixed; i++)
			rate += rgamma_draw(sampler, &fixed[i].shape) * fixed[i].inv_rate;
		for (size_t g = 0; g < ngroups; g++) {
			if (groups[g].opens == 0 && !groups[g].has_close)
				continue;
			rates[g] = rgamma_draw(sampler, &groups[g].shape) * groups[g].inv_rate;
			if (groups[g].opens == 0)
				rate += rates[g];
		}
		for (size_t e = 0; e <= nevents; e++) {
			/* The segment [day, next) runs at the current rate; after the
			 * last event it runs for ever. */
			bool last = e == nevents;
			double next = last ? INFINITY : events[e].day;

			while (windows_done < nwindows && window_days[order[windows_done]] <= next) {
				in_window[windows_done] =
					integrated + rate * (window_days[order[windows_done]] - day);
				windows_done++;
			}
			if (done_at < 0 && rate > 0 && (last || integrated + rate * (next - day) >= goal))
				done_at = day + (goal - integrated) / rate;
			if (last || (done_at >= 0 && windows_done == nwindows))
				break;
			integrated += rate * (next - day);
			day = next;
			rate += events[e].sign * rates[events[e].group];
			if (rate < 1e-12 * rates[events[e].group])
				rate = 0; /* every group stopped: rounding must not leave a trickle */
		}
		if (done_at >= 0 && done_at <= FORECAST_MAX_DAYS) {
			times[(*completed)++] = done_at;
			*sum_times += done_at;
		}
		if (nwindows > 0) {
			uint64_t count = 0;
			double before = 0;
			for (size_t j = 0; j < nwindows; j++) {
				double more = in_window[j] - before;
				if (more > 0)
					count += gsl_ran_poisson(count_rng, more);
				before = fmax(before, in_window[j]);
				counts[order[j]][*counted] = count;
			}
			(*counted)++;
		}
	}
	free(rates);
	free(fixed);
	free(events);
	free(groups);
}

void forecast__monte_carlo(const struct forecast__mixture *mx, uint32_t target_more,
			   uint32_t draws, uint64_t seed, struct forecast_window *windows,
			   size_t nwindows, struct forecast_result *out)
{
	double *times = analytics_calloc(draws, sizeof(*times));
	uint64_t *counts[FORECAST_MAX_WINDOWS + 1];
	double days[FORECAST_MAX_WINDOWS + 1];
	size_t order[FORECAST_MAX_WINDOWS + 1];
	uint32_t per_node[FORECAST__MAX_NODES];
	size_t completed = 0, counted = 0;
	double sum_times = 0;
	bool finite_mean = true;
	struct rgamma sampler;
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_taus2);
	gsl_rng *count_rng = nwindows > 0 ? gsl_rng_alloc(gsl_rng_taus2) : NULL;

	if (!rng || (nwindows > 0 && !count_rng) || nwindows > FORECAST_MAX_WINDOWS + 1)
		abort();
	/* The windows in ascending order of days (insertion sort: a few). */
	for (size_t j = 0; j < nwindows; j++) {
		size_t at = j;
		days[j] = windows[j].days;
		counts[j] = analytics_calloc(draws, sizeof(**counts));
		while (at > 0 && windows[order[at - 1]].days > windows[j].days) {
			order[at] = order[at - 1];
			at--;
		}
		order[at] = j;
	}
	/* taus2 gives every 32-bit value, which rgamma_init requires. */
	gsl_rng_set(rng, (unsigned long)seed);
	if (count_rng)
		gsl_rng_set(count_rng, (unsigned long)(seed ^ UINT64_C(0x9e3779b97f4a7c15)));
	if (rgamma_init(&sampler, rng))
		abort();
	share_draws(mx, draws, per_node);
	for (size_t k = 0; k < mx->nnodes; k++) {
		simulate_plan(&mx->plan[k], &sampler, target_more, per_node[k], days, order, nwindows,
			      count_rng, times, &completed, &sum_times, counts, &counted);
		/* E[T] is finite when the rate of the sites that never close has
		 * E[1/sum lambda] finite, i.e. their total shape exceeds 1. */
		finite_mean &= mx->plan[k].final_shape > 1.0;
	}

	qsort(times, completed, sizeof(*times), compare_double);
	out->draws = draws;
	out->p_complete = (double)completed / draws;
	out->has_lower = forecast__sample_quantile(times, completed, draws - completed, 0.05,
						   &out->lower);
	out->has_median = forecast__sample_quantile(times, completed, draws - completed, 0.5,
						    &out->median);
	out->has_upper = forecast__sample_quantile(times, completed, draws - completed, 0.95,
						   &out->upper);
	if (completed == draws && finite_mean) {
		out->has_mean = true;
		out->mean = sum_times / draws;
	}
	for (size_t j = 0; j < nwindows; j++) {
		uint64_t *c = counts[j];
		double sum = 0;
		qsort(c, draws, sizeof(*c), compare_u64);
		for (uint32_t i = 0; i < draws; i++)
			sum += (double)c[i];
		windows[j].mean = sum / draws;
		/* The smallest count whose empirical CDF reaches q. */
		windows[j].lower = c[(size_t)ceil(0.05 * draws) - 1];
		windows[j].median = c[(size_t)ceil(0.5 * draws) - 1];
		windows[j].upper = c[(size_t)ceil(0.95 * draws) - 1];
		free(c);
	}

	gsl_rng_free(rng);
	if (count_rng)
		gsl_rng_free(count_rng);
	free(times);
}
