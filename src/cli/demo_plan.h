/* The plan of a generated portfolio (`ctms demo --scale`, demo_scale.c):
 * its random numbers, and the studies and study-sites decided in memory
 * before anything is written. Internal to the generator.
 *
 * Deterministic: the plan is a function of the number of studies and the
 * seed alone, and every date lies on or before the cut-off it is given. */
#ifndef CTMS_DEMO_PLAN_H
#define CTMS_DEMO_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Random numbers: xoshiro256** (Blackman & Vigna) seeded by splitmix64, one
 * independent stream per (seed, kind, index), so that a study's or a site's
 * records do not change when another draws more or fewer numbers. */
struct rng {
	uint64_t s[4];
};

enum rng_stream {
	STREAM_STAGES,      /* index: block of 20 studies */
	STREAM_STUDY,       /* index: study; its calendar and schedule */
	STREAM_SITES,       /* index: study; its sites */
	STREAM_STUDY_WRITE, /* index: study; draws made while writing it */
	STREAM_SUBJECTS,    /* index: study-site of the portfolio; its subjects */
	STREAM_SITE_COUNTS, /* study-sites per study */
	STREAM_ALLOCATION,  /* subjects per study-site */
};

void rng_seed(struct rng *r, uint64_t seed, enum rng_stream kind, uint64_t index);
/* Uniform on the open interval (0, 1). */
double rng_uniform(struct rng *r);
/* Uniform integer from lo to hi inclusive. */
int rng_int(struct rng *r, int lo, int hi);
bool rng_chance(struct rng *r, double p);
/* Standard normal (Marsaglia's polar method). */
double rng_normal(struct rng *r);
/* Gamma(shape, 1) (Marsaglia & Tsang, ACM TOMS 2000;26:363). */
double rng_gamma(struct rng *r, double shape);
/* An index drawn with the given integer weights (their sum above 0). */
size_t rng_pick(struct rng *r, const unsigned *weights, size_t n);
#define RNG_PICK(r, w) rng_pick((r), (w), sizeof(w) / sizeof(*(w)))

enum region {
	R_NORTH_AMERICA, R_LATIN_AMERICA, R_EUROPE, R_MIDDLE_EAST,
	R_ASIA, R_SOUTH_ASIA, R_OCEANIA, R_AFRICA, NREGIONS,
};

struct city {
	const char *name, *tz; /* tz: an IANA time zone */
};

struct country {
	const char *code; /* ISO 3166-1 alpha-2 */
	unsigned weight;  /* share of the portfolio's sites */
	enum region region;
	struct city cities[6];
};

struct indication {
	const char *area, *code, *name, *stem; /* stem: of the drug's made-up name */
	double female_share;
	int age_mean, age_sd;
};

struct phase {
	const char *code, *label;
	int digit; /* in protocol numbers */
	unsigned weight;
	double site_weight;
	int enroll_months[2], treat_weeks[2], post_visits[2], target[2];
};

/* The portfolio's organisations: the first DEMO_NSPONSORS are sponsors,
 * whose code prefixes their protocol numbers. */
struct demo_organisation {
	const char *name, *kind, *country, *code;
};
extern const struct demo_organisation demo_organisations[];
extern const size_t demo_norganisations;
#define DEMO_NSPONSORS 7

enum stage { PLANNED, START_UP, ENROLLING, FOLLOW_UP, CLOSED, TERMINATED };

#define MAX_VISITS 24
#define MAX_AMENDMENTS 3
#define SITE_STEPS 6 /* feasibility, selected, approved, contracted, initiated, activated */

struct site_plan {
	const struct country *country;
	const struct city *city;
	const char *prefix, *kind; /* "<prefix> <kind>, <city>" names the institution */
	char investigator[48];
	int32_t identified_on;
	int32_t step_on[SITE_STEPS]; /* 0 for a step not taken */
	int32_t dropped_on;          /* closed during start-up, or 0 */
	const char *drop_reason;
	double rate;                 /* relative recruitment rate; 0 for a site that never recruits */
	int32_t open_from, open_to;  /* screening days; open_from 0 when never activated */
	int subjects;                /* screened there, from the allocation */
};

struct study_plan {
	enum stage stage;
	const struct phase *phase;
	const struct indication *ind;
	int sponsor; /* index into demo_organisations */
	char drug[32];
	bool acronym;
	int target;
	/* end_on: the follow-up, closed or terminated date by stage */
	int32_t start_up_on, enrolling_on, enroll_end, end_on;
	int32_t planned_start, planned_enroll_end;
	int32_t pv_date[1 + MAX_AMENDMENTS], pv_approved[1 + MAX_AMENDMENTS];
	int namendments, screen_days;
	double screen_fail, withdraw;
	int nvisits; /* screening, baseline, treatment visits, safety follow-up */
	int visit_day[MAX_VISITS], window[MAX_VISITS];
	int nsites, subjects;
	struct site_plan *sites;
};

/* Plans nstudies studies with 25 study-sites and 1,000 subjects per study,
 * every date on or before cutoff. The caller frees with demo_plan_free. */
struct study_plan *demo_plan(int nstudies, uint64_t seed, int32_t cutoff);
void demo_plan_free(struct study_plan *plans, int nstudies);

#endif
