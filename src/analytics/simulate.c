#include "analytics/simulate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "analytics/alloc.h"

#define MAX_SITES 1000000u

/* The next arrival of one site: its day, or exhausted when a declining rate's
 * total expected recruits lambda h / ln 2 is used up. */
struct stream {
	double unit_time;  /* arrival time of the unit-rate process: a sum of Exp(1) */
	double day;
	bool exhausted;
	uint32_t capacity;
};

/* Maps the unit-rate time e through the inverse of the site's integrated rate:
 * lambda (t - u) for a constant rate, lambda h/ln2 (1 - 2^(-(t-u)/h)) when it
 * halves every h days. */
static void place(const struct simulate_params *p, const struct simulate_site *s,
		  struct stream *st)
{
	if (!(s->rate > 0)) {
		st->exhausted = true;
		return;
	}
	if (p->half_life_days > 0) {
		double total = s->rate * p->half_life_days / M_LN2;
		if (st->unit_time >= total) {
			st->exhausted = true;
			return;
		}
		st->day = s->opens_on -
			  p->half_life_days / M_LN2 * log1p(-st->unit_time / total);
	} else {
		st->day = s->opens_on + st->unit_time / s->rate;
	}
	if (!(st->day <= FORECAST_MAX_DAYS))
		st->exhausted = true;
}

static void append(struct simulate_site *s, struct stream *st, double day)
{
	if (s->count == st->capacity) {
		uint32_t cap = st->capacity ? 2 * st->capacity : 16;
		double *grown = analytics_calloc(cap, sizeof(*grown));
		if (s->count)
			memcpy(grown, s->arrivals, s->count * sizeof(*grown));
		free(s->arrivals);
		s->arrivals = grown;
		st->capacity = cap;
	}
	s->arrivals[s->count++] = day;
}

static int compare_double(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;
	return (a > b) - (a < b);
}

int simulate_run(const struct simulate_params *p, struct simulate_trial *out)
{
	struct stream *streams;
	gsl_rng *rng;
	double horizon;
	uint64_t total = 0;

	if (!out)
		return CTMS_EINVAL;
	memset(out, 0, sizeof(*out));
	if (!p || !isfinite(p->alpha) || !isfinite(p->beta) || p->alpha <= 0 || p->beta <= 0 ||
	    p->sites == 0 || p->sites > MAX_SITES || !isfinite(p->opening_spread_days) ||
	    p->opening_spread_days < 0 || p->opening_spread_days > FORECAST_MAX_DAYS ||
	    p->target == 0 || !isfinite(p->half_life_days) || p->half_life_days < 0)
		return CTMS_EINVAL;

	rng = gsl_rng_alloc(gsl_rng_mt19937);
	if (!rng)
		abort();
	gsl_rng_set(rng, (unsigned long)p->seed);
	out->nsites = p->sites;
	out->sites = analytics_calloc(p->sites, sizeof(*out->sites));
	streams = analytics_calloc(p->sites, sizeof(*streams));
	for (uint32_t j = 0; j < p->sites; j++)
		out->sites[j].opens_on = p->opening_spread_days * gsl_rng_uniform(rng);
	for (uint32_t j = 0; j < p->sites; j++)
		out->sites[j].rate = gsl_ran_gamma(rng, p->alpha, 1.0 / p->beta);
	for (uint32_t j = 0; j < p->sites; j++) {
		streams[j].unit_time = gsl_ran_exponential(rng, 1.0);
		place(p, &out->sites[j], &streams[j]);
	}

	/* Extend every site's arrivals to a horizon, doubling it until the
	 * target is reached: each site's stream continues where it stopped, so
	 * the horizon only decides how far the streams are drawn. */
	horizon = p->opening_spread_days +
		  p->target / (p->sites * p->alpha / p->beta) + 1.0;
	for (;;) {
		for (uint32_t j = 0; j < p->sites; j++) {
			struct stream *st = &streams[j];
			while (!st->exhausted && st->day <= horizon) {
				append(&out->sites[j], st, st->day);
				total++;
				st->unit_time += gsl_ran_exponential(rng, 1.0);
				place(p, &out->sites[j], st);
			}
		}
		if (total >= p->target || horizon >= FORECAST_MAX_DAYS)
			break;
		horizon = fmin(2.0 * horizon, FORECAST_MAX_DAYS);
	}

	double *all = analytics_calloc(total, sizeof(*all));
	size_t n = 0;
	for (uint32_t j = 0; j < p->sites; j++)
		for (uint32_t i = 0; i < out->sites[j].count; i++)
			all[n++] = out->sites[j].arrivals[i];
	qsort(all, n, sizeof(*all), compare_double);
	out->completed = total >= p->target;
	if (out->completed) {
		/* Recruitment stops at the target-th recruit. */
		out->completion_day = all[p->target - 1];
		n = p->target;
		for (uint32_t j = 0; j < p->sites; j++) {
			struct simulate_site *s = &out->sites[j];
			while (s->count > 0 && s->arrivals[s->count - 1] > out->completion_day)
				s->count--;
		}
	}
	out->total = (uint32_t)n;
	out->recruit_days = all;
	free(streams);
	gsl_rng_free(rng);
	return 0;
}

void simulate_release(struct simulate_trial *t)
{
	if (!t)
		return;
	for (uint32_t j = 0; t->sites && j < t->nsites; j++)
		free(t->sites[j].arrivals);
	free(t->sites);
	free(t->recruit_days);
	memset(t, 0, sizeof(*t));
}

uint32_t simulate_observe(const struct simulate_trial *t, double day,
			  struct forecast_site *sites)
{
	uint32_t total = 0;

	for (uint32_t j = 0; j < t->nsites; j++) {
		const struct simulate_site *s = &t->sites[j];
		struct forecast_site *f = &sites[j];
		uint32_t k = 0;

		memset(f, 0, sizeof(*f));
		if (s->opens_on > day) {
			f->opens_in_days = s->opens_on - day;
			continue;
		}
		while (k < s->count && s->arrivals[k] <= day)
			k++;
		f->recruited = k;
		f->active_days = fmax(day - s->opens_on, FORECAST_MIN_ACTIVE_DAYS);
		total += k;
	}
	return total;
}
