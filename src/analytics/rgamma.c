#include "analytics/rgamma.h"

#include <math.h>

/* The 128-layer ziggurat of Marsaglia and Tsang (2000): the tail starts at R
 * and every layer, including the base strip with its tail, has area V. */
#define ZIG_R 3.442619855899
#define ZIG_V 9.91256303526217e-3
#define ZIG_SCALE 16777216.0 /* 2^24: the abscissa's resolution */

int rgamma_init(struct rgamma *g, gsl_rng *rng)
{
	double x[RGAMMA_LAYERS + 1];

	if (!g || !rng || gsl_rng_min(rng) != 0 || gsl_rng_max(rng) != 0xffffffffUL)
		return CTMS_EINVAL;
	g->rng = rng;
	g->get = rng->type->get;
	g->state = rng->state;
	/* Layer 0 is the base strip of height f(R) stretched to area V; layer i
	 * spans heights f(x[i]) .. f(x[i+1]) over [0, x[i]); x[128] = 0. */
	x[0] = ZIG_V / exp(-0.5 * ZIG_R * ZIG_R);
	x[1] = ZIG_R;
	for (int i = 1; i < RGAMMA_LAYERS - 1; i++)
		x[i + 1] = sqrt(-2.0 * log(ZIG_V / x[i] + exp(-0.5 * x[i] * x[i])));
	x[RGAMMA_LAYERS] = 0.0;
	for (int i = 0; i < RGAMMA_LAYERS; i++) {
		g->width[i] = x[i] / ZIG_SCALE;
		g->inner[i] = (unsigned long)(x[i + 1] / x[i] * ZIG_SCALE);
	}
	for (int i = 0; i <= RGAMMA_LAYERS; i++)
		g->density[i] = exp(-0.5 * x[i] * x[i]);
	return 0;
}

double rgamma__normal_edge(struct rgamma *g, unsigned long layer, double x, double sign)
{
	for (;;) {
		unsigned long bits, j;

		if (layer == 0) {
			/* The tail beyond R (Marsaglia 1964). */
			double a, b;
			do {
				a = -log(rgamma_uniform(g)) / ZIG_R;
				b = -log(rgamma_uniform(g));
			} while (b + b < a * a);
			return sign * (ZIG_R + a);
		}
		/* The wedge between the rectangle and the curve. */
		double y = g->density[layer] +
			   rgamma_uniform(g) * (g->density[layer + 1] - g->density[layer]);
		if (y < exp(-0.5 * x * x))
			return sign * x;
		/* Rejected: a fresh draw, as rgamma_normal would make. */
		bits = g->get(g->state);
		layer = bits & 0x7f;
		j = (bits >> 8) & 0xffffff;
		sign = (bits & 0x80) ? -1.0 : 1.0;
		x = (double)j * g->width[layer];
		if (j < g->inner[layer])
			return sign * x;
	}
}

void rgamma_shape_init(struct rgamma_shape *s, double a)
{
	double a1 = a < 1.0 ? a + 1.0 : a;

	s->boost = a < 1.0;
	s->inv_shape = 1.0 / a;
	s->d = a1 - 1.0 / 3.0;
	s->c = 1.0 / sqrt(9.0 * s->d);
}
