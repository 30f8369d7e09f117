/* Fast exact normal and gamma variates on a GSL generator, for Monte Carlo
 * loops that draw millions of site rates.
 *
 * The normal sampler is Marsaglia and Tsang's ziggurat (J Stat Softw 2000;5(8))
 * with 128 layers, taking the layer, the sign and a 24-bit abscissa from
 * disjoint bits of one 32-bit output; the gamma sampler is Marsaglia and
 * Tsang's squeeze method (ACM TOMS 2000;26:363) with the shape's constants
 * computed once, and the boost G(a) = G(a+1) U^(1/a) for shapes below one.
 * Both are exact in distribution; they differ from gsl_ran_gaussian_ziggurat
 * and gsl_ran_gamma only in speed, not in law.
 *
 * The tables live in struct rgamma, filled by rgamma_init: nothing global
 * changes, and two threads with two generators and two tables never meet. */
#ifndef CTMS_RGAMMA_H
#define CTMS_RGAMMA_H

#include <math.h>
#include <stdbool.h>

#include <gsl/gsl_rng.h>

#define RGAMMA_LAYERS 128

struct rgamma {
	gsl_rng *rng;                        /* borrowed; must give full 32-bit outputs */
	unsigned long (*get)(void *state);   /* the generator's own step, called directly */
	void *state;
	double width[RGAMMA_LAYERS];         /* layer width / 2^24 */
	unsigned long inner[RGAMMA_LAYERS];  /* 24-bit abscissas below this lie under the curve */
	double density[RGAMMA_LAYERS + 1];   /* exp(-x^2/2) at each layer's right edge */
};

/* Constants of one gamma shape, computed by rgamma_shape_init. */
struct rgamma_shape {
	double d, c;       /* Marsaglia-Tsang d = a' - 1/3 and c = 1/sqrt(9d), a' = max(a, a+1) */
	double inv_shape;  /* 1/a, used by the boost when a < 1 */
	bool boost;
};

/* Fills the tables and borrows rng (the caller keeps owning it). Returns 0, or
 * CTMS_EINVAL when the generator does not produce every 32-bit value
 * (gsl_rng_min != 0 or gsl_rng_max != 2^32-1: taus2 and mt19937 qualify). */
int rgamma_init(struct rgamma *g, gsl_rng *rng);

/* Prepares shape a, which must be finite and > 0 (checked by the caller). */
void rgamma_shape_init(struct rgamma_shape *s, double a);

/* The slow paths of rgamma_normal: the tail and the wedges. */
double rgamma__normal_edge(struct rgamma *g, unsigned long layer, double x, double sign);

/* A uniform variate on (0, 1), from one 32-bit output. */
static inline double rgamma_uniform(struct rgamma *g)
{
	return ((double)g->get(g->state) + 0.5) * (1.0 / 4294967296.0);
}

/* A standard normal variate. Inline: the Monte Carlo calls it millions of
 * times, and nearly every call ends at the first comparison. */
static inline double rgamma_normal(struct rgamma *g)
{
	unsigned long bits = g->get(g->state);
	unsigned long layer = bits & 0x7f;
	unsigned long j = (bits >> 8) & 0xffffff;
	double sign = (bits & 0x80) ? -1.0 : 1.0;
	double x = (double)j * g->width[layer];

	if (j < g->inner[layer])
		return sign * x;
	return rgamma__normal_edge(g, layer, x, sign);
}

/* A Gamma(a, 1) variate for the prepared shape; multiply by 1/rate for
 * Gamma(a, rate). May be 0 only when a is tiny and the draw underflows. */
static inline double rgamma_draw(struct rgamma *g, const struct rgamma_shape *s)
{
	double x, v, u, value;

	for (;;) {
		do {
			x = rgamma_normal(g);
			v = 1.0 + s->c * x;
		} while (v <= 0.0);
		v = v * v * v;
		u = rgamma_uniform(g);
		if (u < 1.0 - 0.0331 * (x * x) * (x * x))
			break;
		if (log(u) < 0.5 * x * x + s->d * (1.0 - v + log(v)))
			break;
	}
	value = s->d * v;
	if (s->boost)
		value *= exp(log(rgamma_uniform(g)) * s->inv_shape);
	return value;
}

#include "util/err.h"
#endif
