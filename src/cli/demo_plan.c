/* The plan of a generated portfolio: random numbers, reference tables, and
 * the studies and study-sites with their calendars, decided in memory before
 * anything is written (demo_plan.h). Subjects and visits are drawn as they
 * are written, in demo_scale.c.
 *
 * Sizes: 25 study-sites and 1,000 subjects per study. Studies are spread
 * over phases, therapeutic areas and stages (planned, start-up, enrolling,
 * follow-up, closed, terminated); sites over 40 countries with their IANA
 * time zones, the busiest institutions taking part in several studies.
 * Site recruitment rates are Gamma(1.6) draws, and 11% of sites never
 * recruit (RULES.md: 11% of sites enroll nobody); subjects go to the sites
 * open for screening in proportion to rate × days open. */
#include "cli/demo_plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define MONTH 30.44

/* ---- Random numbers ----
 *
 * Each expression makes at most one draw (or draws under ?:, && and ||,
 * which order them): C leaves the order of function arguments and of the
 * operands of most operators open, and the same seed must give the same
 * portfolio from any compiler and optimisation level. */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

void rng_seed(struct rng *r, uint64_t seed, enum rng_stream kind, uint64_t index)
{
	uint64_t x = seed ^ ((uint64_t)kind << 56) ^ index;
	x = splitmix64(&x) ^ seed;
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double rng_uniform(struct rng *r)
{
	return ((double)(rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* Lemire's multiply; the bias of at most 2^-32 does not matter here. */
int rng_int(struct rng *r, int lo, int hi)
{
	uint64_t span = (uint64_t)(hi - lo) + 1;
	return lo + (int)(((rng_next(r) >> 32) * span) >> 32);
}

bool rng_chance(struct rng *r, double p)
{
	return rng_uniform(r) < p;
}

/* The polar method's second variate is dropped. */
double rng_normal(struct rng *r)
{
	double u, v, s;
	do {
		u = 2.0 * rng_uniform(r) - 1.0;
		v = 2.0 * rng_uniform(r) - 1.0;
		s = u * u + v * v;
	} while (s >= 1.0 || s == 0.0);
	return u * sqrt(-2.0 * log(s) / s);
}

/* Marsaglia & Tsang, with the boost G(a) = G(a+1)·U^(1/a) below shape 1. */
double rng_gamma(struct rng *r, double shape)
{
	if (shape < 1.0) {
		double g = rng_gamma(r, shape + 1.0);
		return g * pow(rng_uniform(r), 1.0 / shape);
	}
	double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
	for (;;) {
		double x, v, u;
		do {
			x = rng_normal(r);
			v = 1.0 + c * x;
		} while (v <= 0.0);
		v = v * v * v;
		u = rng_uniform(r);
		if (u < 1.0 - 0.0331 * x * x * x * x || log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
			return d * v;
	}
}

size_t rng_pick(struct rng *r, const unsigned *weights, size_t n)
{
	unsigned total = 0;
	for (size_t i = 0; i < n; i++)
		total += weights[i];
	int x = rng_int(r, 0, (int)total - 1);
	for (size_t i = 0; i < n; i++) {
		if (x < (int)weights[i])
			return i;
		x -= (int)weights[i];
	}
	return n - 1;
}

/* ---- Reference tables ---- */

static const struct country countries[] = {
	{"US", 300, R_NORTH_AMERICA, {{"Boston", "America/New_York"}, {"New York", "America/New_York"}, {"Chicago", "America/Chicago"}, {"Houston", "America/Chicago"}, {"Denver", "America/Denver"}, {"Los Angeles", "America/Los_Angeles"}}},
	{"CA", 35, R_NORTH_AMERICA, {{"Toronto", "America/Toronto"}, {"Montreal", "America/Toronto"}, {"Vancouver", "America/Vancouver"}}},
	{"MX", 15, R_LATIN_AMERICA, {{"Mexico City", "America/Mexico_City"}, {"Guadalajara", "America/Mexico_City"}}},
	{"BR", 25, R_LATIN_AMERICA, {{"Sao Paulo", "America/Sao_Paulo"}, {"Rio de Janeiro", "America/Sao_Paulo"}, {"Porto Alegre", "America/Sao_Paulo"}}},
	{"AR", 15, R_LATIN_AMERICA, {{"Buenos Aires", "America/Argentina/Buenos_Aires"}, {"Cordoba", "America/Argentina/Cordoba"}}},
	{"CL", 8, R_LATIN_AMERICA, {{"Santiago", "America/Santiago"}}},
	{"CO", 8, R_LATIN_AMERICA, {{"Bogota", "America/Bogota"}, {"Medellin", "America/Bogota"}}},
	{"PE", 5, R_LATIN_AMERICA, {{"Lima", "America/Lima"}}},
	{"GB", 45, R_EUROPE, {{"London", "Europe/London"}, {"Manchester", "Europe/London"}, {"Glasgow", "Europe/London"}}},
	{"IE", 6, R_EUROPE, {{"Dublin", "Europe/Dublin"}}},
	{"DE", 50, R_EUROPE, {{"Berlin", "Europe/Berlin"}, {"Munich", "Europe/Berlin"}, {"Hamburg", "Europe/Berlin"}, {"Heidelberg", "Europe/Berlin"}}},
	{"FR", 40, R_EUROPE, {{"Paris", "Europe/Paris"}, {"Lyon", "Europe/Paris"}, {"Marseille", "Europe/Paris"}}},
	{"ES", 40, R_EUROPE, {{"Madrid", "Europe/Madrid"}, {"Barcelona", "Europe/Madrid"}, {"Valencia", "Europe/Madrid"}}},
	{"IT", 35, R_EUROPE, {{"Milan", "Europe/Rome"}, {"Rome", "Europe/Rome"}, {"Naples", "Europe/Rome"}}},
	{"NL", 15, R_EUROPE, {{"Amsterdam", "Europe/Amsterdam"}, {"Rotterdam", "Europe/Amsterdam"}}},
	{"BE", 15, R_EUROPE, {{"Brussels", "Europe/Brussels"}, {"Leuven", "Europe/Brussels"}}},
	{"CH", 8, R_EUROPE, {{"Zurich", "Europe/Zurich"}, {"Geneva", "Europe/Zurich"}}},
	{"AT", 8, R_EUROPE, {{"Vienna", "Europe/Vienna"}}},
	{"SE", 8, R_EUROPE, {{"Stockholm", "Europe/Stockholm"}, {"Gothenburg", "Europe/Stockholm"}}},
	{"DK", 8, R_EUROPE, {{"Copenhagen", "Europe/Copenhagen"}, {"Aarhus", "Europe/Copenhagen"}}},
	{"FI", 5, R_EUROPE, {{"Helsinki", "Europe/Helsinki"}}},
	{"NO", 5, R_EUROPE, {{"Oslo", "Europe/Oslo"}}},
	{"PL", 30, R_EUROPE, {{"Warsaw", "Europe/Warsaw"}, {"Krakow", "Europe/Warsaw"}, {"Gdansk", "Europe/Warsaw"}}},
	{"CZ", 12, R_EUROPE, {{"Prague", "Europe/Prague"}, {"Brno", "Europe/Prague"}}},
	{"HU", 12, R_EUROPE, {{"Budapest", "Europe/Budapest"}, {"Debrecen", "Europe/Budapest"}}},
	{"RO", 10, R_EUROPE, {{"Bucharest", "Europe/Bucharest"}, {"Cluj-Napoca", "Europe/Bucharest"}}},
	{"BG", 8, R_EUROPE, {{"Sofia", "Europe/Sofia"}, {"Plovdiv", "Europe/Sofia"}}},
	{"UA", 8, R_EUROPE, {{"Kyiv", "Europe/Kyiv"}, {"Lviv", "Europe/Kyiv"}}},
	{"GR", 6, R_EUROPE, {{"Athens", "Europe/Athens"}}},
	{"TR", 10, R_MIDDLE_EAST, {{"Istanbul", "Europe/Istanbul"}, {"Ankara", "Europe/Istanbul"}}},
	{"IL", 10, R_MIDDLE_EAST, {{"Tel Aviv", "Asia/Jerusalem"}, {"Haifa", "Asia/Jerusalem"}}},
	{"JP", 30, R_ASIA, {{"Tokyo", "Asia/Tokyo"}, {"Osaka", "Asia/Tokyo"}, {"Nagoya", "Asia/Tokyo"}}},
	{"KR", 25, R_ASIA, {{"Seoul", "Asia/Seoul"}, {"Busan", "Asia/Seoul"}}},
	{"CN", 30, R_ASIA, {{"Beijing", "Asia/Shanghai"}, {"Shanghai", "Asia/Shanghai"}, {"Guangzhou", "Asia/Shanghai"}}},
	{"TW", 10, R_ASIA, {{"Taipei", "Asia/Taipei"}, {"Taichung", "Asia/Taipei"}}},
	{"SG", 5, R_ASIA, {{"Singapore", "Asia/Singapore"}}},
	{"IN", 15, R_SOUTH_ASIA, {{"Mumbai", "Asia/Kolkata"}, {"New Delhi", "Asia/Kolkata"}, {"Bengaluru", "Asia/Kolkata"}}},
	{"AU", 20, R_OCEANIA, {{"Sydney", "Australia/Sydney"}, {"Melbourne", "Australia/Melbourne"}, {"Perth", "Australia/Perth"}, {"Brisbane", "Australia/Brisbane"}}},
	{"NZ", 5, R_OCEANIA, {{"Auckland", "Pacific/Auckland"}}},
	{"ZA", 10, R_AFRICA, {{"Johannesburg", "Africa/Johannesburg"}, {"Cape Town", "Africa/Johannesburg"}}},
};

static const char *const institution_prefixes[] = {
	"St. Mary's", "St. Luke's", "Mercy", "Providence", "University", "Riverside", "Royal",
	"Memorial", "Central", "Holy Cross", "Sacred Heart", "Grace", "Lakeside", "Hillcrest",
};
static const char *const institution_kinds[] = {
	"Hospital", "Medical Center", "Clinical Research Unit", "Cancer Institute",
	"Heart Institute", "Teaching Hospital", "Regional Hospital", "Research Clinic",
	"General Hospital", "Institute of Clinical Research",
};
static const char *const surnames[] = {
	"Rivera", "Chen", "Weber", "Laurent", "Ortega", "Sato", "Novak", "Patel", "Lind",
	"Kowalski", "Rossi", "Silva", "Kim", "Nguyen", "Okafor", "Cohen", "Murphy", "Schmidt",
	"Dubois", "Jensen", "Horvath", "Popescu", "Tanaka", "Park", "Wang", "Singh", "Garcia",
	"Fernandez", "Costa", "Andersson", "Virtanen", "Nielsen", "Yilmaz", "Levi", "Smith",
	"Brown", "Wilson", "Taylor", "Moreau", "Bauer",
};

static const struct indication indications[] = {
	{"Oncology", "ONC", "Previously Treated Advanced Non-small Cell Lung Cancer", "mab", 0.42, 64, 9},
	{"Oncology", "ONC", "HER2-positive Metastatic Breast Cancer", "tinib", 0.99, 56, 11},
	{"Oncology", "ONC", "Metastatic Castration-resistant Prostate Cancer", "lutamide", 0.0, 70, 8},
	{"Oncology", "ONC", "Relapsed or Refractory Multiple Myeloma", "mab", 0.45, 66, 9},
	{"Oncology", "ONC", "Unresectable Stage III or IV Melanoma", "mab", 0.40, 60, 13},
	{"Cardiology", "CV", "Heart Failure with Preserved Ejection Fraction", "parin", 0.52, 72, 9},
	{"Cardiology", "CV", "Resistant Hypertension", "sartan", 0.45, 62, 10},
	{"Cardiology", "CV", "Heterozygous Familial Hypercholesterolaemia", "siran", 0.50, 52, 13},
	{"Neurology", "NEU", "Early Alzheimer's Disease", "mab", 0.58, 72, 7},
	{"Neurology", "NEU", "Episodic Migraine", "gepant", 0.85, 41, 11},
	{"Neurology", "NEU", "Relapsing Multiple Sclerosis", "mod", 0.70, 38, 10},
	{"Endocrinology", "END", "Type 2 Diabetes Mellitus", "glutide", 0.46, 58, 10},
	{"Endocrinology", "END", "Obesity", "glutide", 0.65, 47, 12},
	{"Immunology", "IMM", "Moderate to Severe Plaque Psoriasis", "kimab", 0.33, 45, 13},
	{"Immunology", "IMM", "Moderately to Severely Active Ulcerative Colitis", "citinib", 0.42, 41, 14},
	{"Immunology", "IMM", "Rheumatoid Arthritis", "citinib", 0.78, 55, 12},
	{"Respiratory", "RES", "Severe Eosinophilic Asthma", "lizumab", 0.62, 50, 14},
	{"Respiratory", "RES", "Chronic Obstructive Pulmonary Disease", "terol", 0.40, 66, 8},
	{"Infectious Disease", "INF", "Respiratory Syncytial Virus Infection in Older Adults", "vir", 0.52, 70, 6},
	{"Nephrology", "REN", "Chronic Kidney Disease with Type 2 Diabetes", "gliflozin", 0.38, 64, 9},
	{"Psychiatry", "PSY", "Treatment-resistant Major Depressive Disorder", "pridone", 0.64, 44, 12},
};

static const char *const drug_prefixes[] = {
	"bala", "cori", "dara", "elo", "fena", "galu", "hemi", "iro", "jali", "kera", "lino",
	"mira", "nori", "oza", "peli", "rosi", "sela", "tali", "ulo", "velo", "zeni",
};

static const struct phase phases[] = {
	{"PHASE1", "Phase 1", 1, 15, 3, {4, 10}, {4, 12}, {6, 10}, {24, 80}},
	{"PHASE1_PHASE2", "Phase 1/2", 1, 5, 8, {8, 16}, {12, 24}, {7, 11}, {60, 160}},
	{"PHASE2", "Phase 2", 2, 33, 20, {10, 24}, {24, 52}, {8, 13}, {120, 400}},
	{"PHASE2_PHASE3", "Phase 2/3", 2, 5, 30, {14, 30}, {24, 52}, {9, 14}, {300, 900}},
	{"PHASE3", "Phase 3", 3, 35, 45, {18, 36}, {36, 78}, {10, 16}, {400, 2000}},
	{"PHASE4", "Phase 4", 4, 7, 25, {12, 24}, {24, 52}, {6, 10}, {300, 1200}},
};

/* Each block of 20 studies holds these stages, shuffled; a last, partial
 * block takes them in this order, which spreads them. */
static const enum stage stage_block[20] = {
	ENROLLING, CLOSED,    FOLLOW_UP, START_UP,  ENROLLING, TERMINATED, PLANNED,
	ENROLLING, FOLLOW_UP, ENROLLING, CLOSED,    START_UP,  ENROLLING,  FOLLOW_UP,
	PLANNED,   ENROLLING, CLOSED,    ENROLLING, FOLLOW_UP, ENROLLING,
};

const struct demo_organisation demo_organisations[] = {
	{"Synthetica Pharmaceuticals plc", "sponsor", "GB", "SYN"},
	{"Northbridge Biosciences Inc.", "sponsor", "US", "NBB"},
	{"Helvion Therapeutics AG", "sponsor", "CH", "HLV"},
	{"Kaiyo Pharma K.K.", "sponsor", "JP", "KYO"},
	{"Aurelis Biotech SAS", "sponsor", "FR", "AUR"},
	{"Brightwater Medicines Inc.", "sponsor", "US", "BWM"},
	{"Rhein Biologics GmbH", "sponsor", "DE", "RHB"},
	{"Meridian Clinical Research Ltd", "cro", "GB", NULL},
	{"Atlas Trial Services Inc.", "cro", "US", NULL},
	{"Central Lab Partners BV", "vendor", "NL", NULL},
};
const size_t demo_norganisations = sizeof(demo_organisations) / sizeof(*demo_organisations);

/* The usual duration in days of each site start-up step. */
static const int site_step_days[SITE_STEPS][2] = {{7, 30}, {14, 45}, {20, 60}, {10, 60}, {7, 30}, {1, 14}};

static const char *const site_drop_reasons[] = {
	"Not selected: insufficient eligible patient population",
	"Site declined: competing studies",
	"Contract not agreed",
	"Ethics committee approval not obtained",
};

/* ---- The plan ---- */

static int32_t day_add(int32_t day, double days)
{
	return day + (int32_t)lround(days);
}

static int32_t min_day(int32_t a, int32_t b)
{
	return a < b ? a : b;
}

/* Schedule: screening, baseline on day 1, treatment visits spaced wider as
 * treatment goes on, then a safety follow-up call four weeks after the last. */
static void plan_schedule(struct study_plan *p, struct rng *r)
{
	int weeks = rng_int(r, p->phase->treat_weeks[0], p->phase->treat_weeks[1]);
	int post = rng_int(r, p->phase->post_visits[0], p->phase->post_visits[1]);

	if (post > MAX_VISITS - 3)
		post = MAX_VISITS - 3;
	p->nvisits = 0;
	p->visit_day[p->nvisits] = -p->screen_days;
	p->window[p->nvisits++] = 0;
	p->visit_day[p->nvisits] = 1;
	p->window[p->nvisits++] = 0;
	for (int j = 1, prev = 1; j <= post; j++) {
		int day = 1 + (int)lround(weeks * 7.0 * pow((double)j / post, 1.3));
		if (day < prev + 7)
			day = prev + 7;
		p->visit_day[p->nvisits] = day;
		p->window[p->nvisits++] = day <= 29 ? 2 : day <= 85 ? 4 : 7;
		prev = day;
	}
	p->visit_day[p->nvisits] = p->visit_day[p->nvisits - 1] + 28;
	p->window[p->nvisits++] = 7;
}

/* Calendar, schedule and rates of one study, counted back from the cut-off. */
static void plan_study(struct study_plan *p, uint64_t seed, int index, enum stage stage,
		       int32_t cutoff)
{
	struct rng r;
	unsigned phase_weights[NELEMS(phases)];

	rng_seed(&r, seed, STREAM_STUDY, (uint64_t)index);
	for (size_t i = 0; i < NELEMS(phases); i++)
		phase_weights[i] = phases[i].weight;
	p->stage = stage;
	p->phase = &phases[RNG_PICK(&r, phase_weights)];
	p->ind = &indications[rng_int(&r, 0, (int)NELEMS(indications) - 1)];
	p->sponsor = rng_int(&r, 0, DEMO_NSPONSORS - 1);
	snprintf(p->drug, sizeof(p->drug), "%s%s",
		 drug_prefixes[rng_int(&r, 0, (int)NELEMS(drug_prefixes) - 1)], p->ind->stem);
	p->drug[0] = (char)(p->drug[0] - 'a' + 'A');
	p->acronym = rng_chance(&r, 0.7);
	p->screen_days = rng_int(&r, 2, 4) * 7;
	p->screen_fail = 0.18 + 0.14 * rng_uniform(&r);
	p->withdraw = 0.06 + 0.14 * rng_uniform(&r);
	plan_schedule(p, &r);
	int treatment = p->visit_day[p->nvisits - 1];

	double enroll = MONTH * rng_int(&r, p->phase->enroll_months[0], p->phase->enroll_months[1]);
	double startup = MONTH * (4 + 5 * rng_uniform(&r));
	switch (stage) {
	case PLANNED:
		p->start_up_on = day_add(cutoff, MONTH * (2 + 6 * rng_uniform(&r)));
		p->enrolling_on = day_add(p->start_up_on, startup);
		break;
	case START_UP:
		p->start_up_on = day_add(cutoff, -MONTH * (1 + 7 * rng_uniform(&r)));
		p->enrolling_on = day_add(p->start_up_on, startup);
		break;
	case ENROLLING:
		p->enrolling_on = day_add(cutoff, -enroll * (0.15 + 0.8 * rng_uniform(&r)));
		p->enroll_end = cutoff;
		break;
	case FOLLOW_UP:
		p->enroll_end = day_add(cutoff, -(15 + 0.8 * treatment * rng_uniform(&r)));
		p->enrolling_on = day_add(p->enroll_end, -enroll);
		p->end_on = p->enroll_end;
		break;
	case CLOSED:
		p->end_on = day_add(cutoff, -MONTH * (1 + 30 * rng_uniform(&r)));
		p->enroll_end = day_add(p->end_on, -(treatment + 60 + 120 * rng_uniform(&r)));
		p->enrolling_on = day_add(p->enroll_end, -enroll);
		break;
	case TERMINATED:
		p->end_on = day_add(cutoff, -MONTH * (1 + 24 * rng_uniform(&r)));
		p->enroll_end = p->end_on;
		p->enrolling_on = day_add(p->end_on, -enroll * (0.3 + 0.5 * rng_uniform(&r)));
		break;
	}
	if (stage >= ENROLLING)
		p->start_up_on = day_add(p->enrolling_on, -startup);
	p->planned_start = p->enrolling_on - (rng_chance(&r, 0.3) ? 0 : rng_int(&r, 7, 120));
	p->planned_enroll_end = day_add(p->planned_start, enroll * (0.75 + 0.2 * rng_uniform(&r)));
	p->target = rng_int(&r, p->phase->target[0], p->phase->target[1]);

	/* Protocol 1.0 is approved before start-up; amendments come while enrolling. */
	int32_t drafted = p->start_up_on - rng_int(&r, 45, 150);
	p->pv_date[0] = min_day(drafted, cutoff - rng_int(&r, 10, 60));
	p->pv_approved[0] = p->pv_date[0] + rng_int(&r, 14, 40);
	p->namendments = 0;
	if (stage >= ENROLLING) {
		int32_t last = min_day(p->end_on ? p->end_on : cutoff, cutoff) - 60;
		int want = rng_int(&r, 0, p->enroll_end - p->enrolling_on > 365 ? MAX_AMENDMENTS : 1);
		int32_t from = p->enrolling_on + 30;
		for (int k = 0; k < want && from < last; k++) {
			int32_t d = from + rng_int(&r, 0, (last - from) / (want - k));
			p->pv_date[1 + k] = d;
			p->pv_approved[1 + k] = d + rng_int(&r, 14, 45);
			p->namendments++;
			from = p->pv_approved[1 + k] + 30;
		}
	}
}

/* Where each site is, how its start-up went and how fast it recruits. The
 * sites of one study are different institutions. */
static void plan_sites(struct study_plan *p, uint64_t seed, int index, int32_t cutoff)
{
	struct rng r;
	unsigned country_weights[NELEMS(countries)];
	/* Nothing happens at a site after enrollment closed, or after the cut-off. */
	int32_t stop = p->stage >= FOLLOW_UP ? p->enroll_end : cutoff;
	int32_t late = p->stage >= ENROLLING ? (p->enrolling_on + stop) / 2 : cutoff - 14;

	rng_seed(&r, seed, STREAM_SITES, (uint64_t)index);
	for (size_t i = 0; i < NELEMS(countries); i++)
		country_weights[i] = countries[i].weight;
	for (int i = 0; i < p->nsites; i++) {
		struct site_plan *s = &p->sites[i];
		bool taken;
		do {
			s->country = &countries[RNG_PICK(&r, country_weights)];
			int ncities = 0;
			while (ncities < 6 && s->country->cities[ncities].name)
				ncities++;
			s->city = &s->country->cities[rng_int(&r, 0, ncities - 1)];
			/* A few institutions of a city take part in many studies. */
			int pool = (int)(NELEMS(institution_prefixes) * NELEMS(institution_kinds));
			int which = (int)(pool * pow(rng_uniform(&r), 5.0));
			s->prefix = institution_prefixes[which % (int)NELEMS(institution_prefixes)];
			s->kind = institution_kinds[which / (int)NELEMS(institution_prefixes)];
			taken = false;
			for (int j = 0; j < i && !taken; j++)
				taken = p->sites[j].country == s->country && p->sites[j].city == s->city &&
					p->sites[j].prefix == s->prefix && p->sites[j].kind == s->kind;
		} while (taken);
		int investigator = rng_int(&r, 0, 26 * (int)NELEMS(surnames) - 1);
		snprintf(s->investigator, sizeof(s->investigator), "Dr. %c. %s",
			 'A' + investigator % 26, surnames[investigator / 26]);

		/* Most sites are identified around start-up, some join later. */
		if (p->stage <= START_UP)
			s->identified_on = min_day(p->start_up_on - rng_int(&r, 0, 90), cutoff - 14);
		else if (rng_chance(&r, 0.7))
			s->identified_on = p->start_up_on - rng_int(&r, 0, 60);
		else
			s->identified_on = p->start_up_on + rng_int(&r, 0, late - p->start_up_on);
		int max_steps = p->stage == PLANNED ? 2 : 6;
		int drop_at = rng_chance(&r, 0.08) ? rng_int(&r, 0, 3) : -1;
		int32_t on = s->identified_on;
		memset(s->step_on, 0, sizeof(s->step_on));
		s->dropped_on = 0;
		s->drop_reason = site_drop_reasons[rng_int(&r, 0, (int)NELEMS(site_drop_reasons) - 1)];
		for (int k = 0; k < max_steps; k++) {
			on += rng_int(&r, site_step_days[k][0], site_step_days[k][1]);
			/* A site is activated only once the study is starting up. */
			if (k == 5 && on < p->start_up_on)
				on = p->start_up_on + rng_int(&r, 0, 14);
			if (on > stop)
				break;
			if (k == drop_at) {
				s->dropped_on = on;
				break;
			}
			s->step_on[k] = on;
		}
		s->open_from = s->step_on[5];
		s->open_to = p->stage >= FOLLOW_UP ? p->enroll_end - p->screen_days : cutoff - 7;
		/* RULES.md (Tufts): 11% of sites enroll nobody. */
		s->rate = rng_chance(&r, 0.11) ? 0.0 : rng_gamma(&r, 1.6);
		s->subjects = 0;
	}
}

/* Study-sites over studies by phase, then subjects over the sites that were
 * open for screening, in proportion to rate × days open (a multinomial draw:
 * Poisson recruitment conditioned on the portfolio's total). */
static void allocate(struct study_plan *plans, int nstudies, int total_sites, int total_subjects,
		     uint64_t seed, int32_t cutoff)
{
	struct rng r;
	double *weight = xcalloc((size_t)nstudies, sizeof(double)), sum = 0.0, cum = 0.0;
	int given = 0, nsites = 0;

	rng_seed(&r, seed, STREAM_SITE_COUNTS, 0);
	for (int i = 0; i < nstudies; i++) {
		weight[i] = plans[i].phase->site_weight * (0.6 + 0.8 * rng_uniform(&r));
		sum += weight[i];
	}
	for (int i = 0; i < nstudies; i++) {
		cum += weight[i];
		int upto = (int)lround(total_sites * cum / sum);
		plans[i].nsites = upto - given > 1 ? upto - given : 1;
		given += plans[i].nsites;
		plans[i].sites = xcalloc((size_t)plans[i].nsites, sizeof(struct site_plan));
		plan_sites(&plans[i], seed, i, cutoff);
		nsites += plans[i].nsites;
	}
	free(weight);

	struct site_plan **open = xcalloc((size_t)nsites, sizeof(*open));
	double *until = xcalloc((size_t)nsites, sizeof(double));
	int nopen = 0;
	sum = 0.0;
	for (int i = 0; i < nstudies; i++) {
		for (int j = 0; plans[i].stage >= ENROLLING && j < plans[i].nsites; j++) {
			struct site_plan *s = &plans[i].sites[j];
			if (!s->open_from || s->open_to <= s->open_from || s->rate <= 0.0)
				continue;
			sum += s->rate * (s->open_to - s->open_from);
			open[nopen] = s;
			until[nopen++] = sum;
		}
	}
	rng_seed(&r, seed, STREAM_ALLOCATION, 0);
	for (int k = 0; nopen && k < total_subjects; k++) {
		double x = rng_uniform(&r) * sum;
		int lo = 0, hi = nopen - 1;
		while (lo < hi) {
			int mid = (lo + hi) / 2;
			if (until[mid] < x)
				lo = mid + 1;
			else
				hi = mid;
		}
		open[lo]->subjects++;
	}
	for (int i = 0; i < nstudies; i++)
		for (int j = 0; j < plans[i].nsites; j++)
			plans[i].subjects += plans[i].sites[j].subjects;
	free(open);
	free(until);
}

struct study_plan *demo_plan(int nstudies, uint64_t seed, int32_t cutoff)
{
	struct study_plan *plans = xcalloc((size_t)nstudies, sizeof(*plans));

	for (int b = 0; b * 20 < nstudies; b++) {
		enum stage block[NELEMS(stage_block)];
		int n = nstudies - b * 20 < 20 ? nstudies - b * 20 : 20;
		struct rng r;
		memcpy(block, stage_block, sizeof(block));
		rng_seed(&r, seed, STREAM_STAGES, (uint64_t)b);
		for (int i = (int)NELEMS(block) - 1; n == 20 && i > 0; i--) {
			int j = rng_int(&r, 0, i);
			enum stage t = block[i];
			block[i] = block[j];
			block[j] = t;
		}
		for (int i = 0; i < n; i++)
			plan_study(&plans[b * 20 + i], seed, b * 20 + i, block[i], cutoff);
	}
	allocate(plans, nstudies, 25 * nstudies, 1000 * nstudies, seed, cutoff);
	return plans;
}

void demo_plan_free(struct study_plan *plans, int nstudies)
{
	for (int i = 0; plans && i < nstudies; i++)
		free(plans[i].sites);
	free(plans);
}
