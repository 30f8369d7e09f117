/* `ctms demo --scale N`: a synthetic portfolio of about 20·N studies, 500·N
 * study-sites, 20,000·N subjects and 200,000·N subject visits, for load
 * tests, benchmarks and screens that need volume.
 *
 * Everything goes through the domain layer (record_create, record_transition,
 * record_update as the system actor), so every record passes the rules an
 * API client meets and leaves the audit events an API client would: sites
 * walk their start-up lifecycle before screening, subjects consent to an
 * approved protocol version before they enroll, the study is enrolling, no
 * date lies in the future or runs backwards, visits come after screening and
 * a scheduled visit happens once. One transaction holds it all: a failure
 * leaves the database as it was.
 *
 * Deterministic: the portfolio is a function of (N, seed) alone, drawn from
 * the generator's own random streams (demo_plan.h), on a fixed calendar:
 * the data cut-off is 2025-12-31 and every date lies on or before it, so the
 * same command writes the same records on any day; only created_at,
 * updated_at and the audit events' times and hashes differ.
 *
 * The studies and sites are planned first (demo_plan.c); here each site's
 * subjects are drawn as they are written: 18-32% screen failures with
 * reasons, withdrawals with CDISC NCOMPLT reasons, completions, re-consent
 * to amendments, and the visits that happened on the study's schedule (most
 * in window, some out of window, some missed, some unscheduled); milestones
 * get baseline, re-forecast and actual dates. Adverse events are not
 * generated: ctms has no adverse-event record yet. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/demo_plan.h"
#include "db/db.h"
#include "domain/actor.h"
#include "domain/audit.h"
#include "domain/auth.h"
#include "domain/milestone.h"
#include "domain/organisation.h"
#include "domain/protocol_version.h"
#include "domain/signature.h"
#include "domain/study.h"
#include "domain/study_site.h"
#include "domain/subject.h"
#include "domain/visit.h"
#include "util/buf.h"
#include "util/date.h"
#include "util/json.h"

#define CUTOFF_DATE "2025-12-31"

static const char *const site_steps[SITE_STEPS] = {"feasibility", "selected", "approved",
						   "contracted",  "initiated", "activated"};

static const char *const screen_failure_reasons[] = {
	"INCLUSION CRITERIA NOT MET", "EXCLUSION CRITERIA MET", "LABORATORY VALUES OUT OF RANGE",
	"WITHDRAWAL BY SUBJECT", "PHYSICIAN DECISION", "LOST TO FOLLOW-UP",
};
static const unsigned screen_failure_weights[] = {45, 25, 15, 8, 4, 3};

/* CDISC NCOMPLT submission values. */
static const char *const withdrawal_reasons[] = {
	"ADVERSE EVENT", "WITHDRAWAL BY SUBJECT", "LOST TO FOLLOW-UP", "PHYSICIAN DECISION",
	"LACK OF EFFICACY", "PROTOCOL DEVIATION", "DEATH", "NON-COMPLIANCE WITH STUDY DRUG",
	"PREGNANCY", "PROGRESSIVE DISEASE",
};
static const unsigned withdrawal_weights[] = {25, 30, 12, 8, 8, 5, 3, 3, 1, 0};
static const unsigned withdrawal_weights_oncology[] = {22, 18, 5, 8, 0, 3, 6, 2, 0, 36};

static const char *const races[] = {
	"WHITE", "BLACK OR AFRICAN AMERICAN", "ASIAN", "AMERICAN INDIAN OR ALASKA NATIVE",
	"NATIVE HAWAIIAN OR OTHER PACIFIC ISLANDER", "MULTIPLE", "OTHER", "NOT REPORTED",
};
static const unsigned race_weights[NREGIONS][8] = {
	[R_NORTH_AMERICA] = {68, 14, 7, 1, 1, 3, 2, 4},
	[R_LATIN_AMERICA] = {50, 6, 1, 18, 0, 15, 6, 4},
	[R_EUROPE] = {92, 2, 2, 0, 0, 1, 1, 2},
	[R_MIDDLE_EAST] = {90, 1, 1, 0, 0, 1, 4, 3},
	[R_ASIA] = {1, 0, 97, 0, 0, 0, 0, 2},
	[R_SOUTH_ASIA] = {0, 0, 97, 0, 0, 0, 1, 2},
	[R_OCEANIA] = {76, 1, 12, 2, 3, 3, 1, 2},
	[R_AFRICA] = {20, 62, 3, 0, 0, 12, 1, 2},
};
static const double hispanic_share[NREGIONS] = {
	[R_NORTH_AMERICA] = 0.16, [R_LATIN_AMERICA] = 0.85, [R_EUROPE] = 0.02, [R_MIDDLE_EAST] = 0.0,
	[R_ASIA] = 0.0, [R_SOUTH_ASIA] = 0.0, [R_OCEANIA] = 0.01, [R_AFRICA] = 0.0,
};

static int32_t min_day(int32_t a, int32_t b)
{
	return a < b ? a : b;
}

static int32_t max_day(int32_t a, int32_t b)
{
	return a > b ? a : b;
}

struct writer {
	struct db *db;
	struct err *e;
	struct actor *signer; /* the manager who signs protocol approvals */
	int32_t cutoff;
	int64_t studies, sites, subjects, visits;
};

/* The calls below do nothing once an error is set, so a study is written as
 * straight-line code and the first failure is the one reported. */
static int64_t create(struct writer *w, const struct entity_def *def, int64_t parent, json_t *input)
{
	json_t *rec = NULL;
	int64_t id = 0;

	if (!w->e->code && !record_create(w->db, actor_system(), def, parent, input, &rec, w->e))
		id = json_int(rec, "id", 0);
	json_decref(rec);
	json_decref(input);
	return id;
}

/* As create, for a record whose id is not needed: it is not read back. */
static void add(struct writer *w, const struct entity_def *def, int64_t parent, json_t *input)
{
	if (!w->e->code)
		record_create(w->db, actor_system(), def, parent, input, NULL, w->e);
	json_decref(input);
}

static void step(struct writer *w, const struct entity_def *def, int64_t id, const char *to,
		 int32_t on, const char *reason)
{
	char date[DATE_LEN];
	struct transition t = {to, date, reason};

	date_format(on, date);
	if (!w->e->code)
		record_transition(w->db, actor_system(), def, id, 0, &t, NULL, w->e);
}

static void patch(struct writer *w, const struct entity_def *def, int64_t id, json_t *changes)
{
	if (!w->e->code)
		record_update(w->db, actor_system(), def, id, 0, changes, NULL, w->e);
	json_decref(changes);
}

static json_t *date_json(int32_t day)
{
	char text[DATE_LEN];
	date_format(day, text);
	return json_string(text);
}

/* What the written records turned out to be, for milestones and close-out. */
struct study_facts {
	int32_t first_activated, first_enrolled, last_enrolled, last_visit;
	int32_t *site_last; /* per site: the last day anything happened there */
};

static void seen(int32_t *first, int32_t *last, int32_t day)
{
	if (first && (!*first || day < *first))
		*first = day;
	if (last && day > *last)
		*last = day;
}

enum outcome { PENDING, FAILED, ENROLLED };

struct subject_plan {
	int number;
	int32_t screened, consented, decided;
	enum outcome outcome;
	int consent_version; /* index into the protocol versions */
	int64_t id;
};

static int by_screening(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return (x > y) - (x < y);
}

static int by_decision(const void *a, const void *b)
{
	const struct subject_plan *x = a, *y = b;
	if (x->decided != y->decided)
		return (x->decided > y->decided) - (x->decided < y->decided);
	return (x->number > y->number) - (x->number < y->number);
}

static void visit(struct writer *w, int64_t subject, int number, const char *name, int32_t on)
{
	json_t *input = json_pack("{s:o}", "visit_on", date_json(on));
	char text[16];

	if (name) {
		json_object_set_new(input, "name", json_string(name));
	} else {
		snprintf(text, sizeof(text), "%d", number);
		json_object_set_new(input, "visit_number", json_string(text));
	}
	add(w, &subject_visit_def, subject, input);
	w->visits++;
}

/* An enrolled subject's visits from baseline on, re-consent to amendments,
 * and the end: completion at the last visit, withdrawal, or still on study
 * at the cut-off. Answers the subject's last day on study. */
static int32_t follow_subject(struct writer *w, const struct study_plan *p, struct rng *r,
			      const struct subject_plan *s)
{
	int32_t limit = p->stage == TERMINATED ? p->end_on : w->cutoff;
	int32_t withdraw = INT32_MAX, prev = s->decided, end;
	int last = p->nvisits - 1, k;
	const unsigned *reasons = strcmp(p->ind->area, "Oncology") ? withdrawal_weights
								   : withdrawal_weights_oncology;

	if (rng_chance(r, p->withdraw))
		withdraw = s->decided + 1 +
			   (int32_t)(p->visit_day[last] * pow(rng_uniform(r), 1.6));
	visit(w, s->id, 2, NULL, s->decided);
	for (k = 2; k <= last; k++) {
		int32_t planned = s->decided + p->visit_day[k] - 1, on;
		double u = rng_uniform(r);
		int window = p->window[k];
		if (k < last && u < 0.03)
			continue; /* missed */
		if (u < 0.09) { /* out of window, early or late */
			int side = rng_chance(r, 0.5) ? 1 : -1;
			on = planned + side * (window + rng_int(r, 1, 10));
		} else
			on = planned + (int32_t)fmax(-window, fmin(window, lround(rng_normal(r) * window / 2.0)));
		on = max_day(on, prev + 1);
		if (on >= withdraw || on > limit)
			break;
		visit(w, s->id, k + 1, NULL, on);
		prev = on;
	}
	end = k > last ? prev : withdraw <= limit ? withdraw : p->stage == TERMINATED ? limit : 0;
	while (rng_chance(r, 0.3)) {
		int32_t to = end ? end : limit;
		if (to > s->decided + 1)
			visit(w, s->id, 0, "Unscheduled visit", s->decided + rng_int(r, 1, to - s->decided - 1));
	}
	for (int a = s->consent_version + 1; a <= p->namendments; a++) {
		int32_t approved = p->pv_approved[a];
		char number[16], reason[96];
		if (approved <= s->consented || approved > (end ? end : w->cutoff))
			continue;
		snprintf(number, sizeof(number), "%d.0", a + 1);
		snprintf(reason, sizeof(reason), "re-consented to protocol amendment %d.0", a + 1);
		patch(w, &subject_def, s->id,
		      json_pack("{s:s, s:s}", "consent_version", number, "change_reason", reason));
	}
	if (k > last) {
		step(w, &subject_def, s->id, "completed", end, NULL);
	} else if (end && withdraw <= limit) {
		visit(w, s->id, 0, "Early termination", end);
		step(w, &subject_def, s->id, "withdrawn", end,
		     withdrawal_reasons[rng_pick(r, reasons, NELEMS(withdrawal_weights))]);
	} else if (end) {
		visit(w, s->id, 0, "Early termination", end);
		step(w, &subject_def, s->id, "withdrawn", end, "STUDY TERMINATED BY SPONSOR");
	}
	return end ? end : prev;
}

/* The subjects of one site: screened in date order, decided in date order
 * (the first enrollment moves the site to enrolling), then followed. */
static void write_subjects(struct writer *w, const struct study_plan *p, int64_t study_id,
			   int site_index, const char *site_number, uint64_t seed, uint64_t stream,
			   struct study_facts *f)
{
	const struct site_plan *site = &p->sites[site_index];
	const struct country *c = site->country;
	struct subject_plan *plans;
	int32_t *days;
	struct rng r;
	int n = site->subjects;

	if (n == 0)
		return;
	rng_seed(&r, seed, STREAM_SUBJECTS, stream);
	plans = xcalloc((size_t)n, sizeof(*plans));
	days = xcalloc((size_t)n, sizeof(*days));
	for (int i = 0; i < n; i++)
		days[i] = site->open_from + rng_int(&r, 0, site->open_to - site->open_from);
	qsort(days, (size_t)n, sizeof(*days), by_screening);
	for (int i = 0; i < n && !w->e->code; i++) {
		struct subject_plan *s = &plans[i];
		char number[48], version[16];
		s->number = i + 1;
		s->screened = days[i];
		s->consented = s->screened - (rng_chance(&r, 0.25) ? rng_int(&r, 1, 7) : 0);
		for (int k = p->namendments; k >= 0; k--) {
			if (p->pv_approved[k] <= s->consented) {
				s->consent_version = k;
				break;
			}
		}
		if (rng_chance(&r, p->screen_fail)) {
			s->outcome = FAILED;
			s->decided = s->screened + rng_int(&r, 3, p->screen_days);
		} else {
			s->outcome = ENROLLED;
			s->decided = s->screened + rng_int(&r, 7, p->screen_days);
		}
		if (s->decided > w->cutoff)
			s->outcome = PENDING;
		double age = p->ind->age_mean + p->ind->age_sd * rng_normal(&r);
		const char *sex = rng_chance(&r, p->ind->female_share) ? "F" : "M";
		const char *race = races[RNG_PICK(&r, race_weights[c->region])];
		const char *ethnicity = rng_chance(&r, hispanic_share[c->region]) ? "HISPANIC OR LATINO"
					: rng_chance(&r, 0.03)			  ? "NOT REPORTED"
										  : "NOT HISPANIC OR LATINO";
		snprintf(number, sizeof(number), "%s-%04d", site_number, s->number);
		snprintf(version, sizeof(version), "%d.0", s->consent_version + 1);
		json_t *input = json_pack(
			"{s:s, s:s, s:o, s:s, s:s, s:s, s:I, s:o, s:s}", "site_number", site_number,
			"screening_number", number, "screened_on", date_json(s->screened), "sex", sex,
			"race", race, "ethnicity", ethnicity, "age",
			(json_int_t)fmax(18, fmin(90, lround(age))), "consented_on",
			date_json(s->consented), "consent_version", version);
		s->id = create(w, &subject_def, study_id, input);
		w->subjects++;
		visit(w, s->id, 1, NULL, s->screened);
		seen(NULL, &f->site_last[site_index], s->screened);
	}
	qsort(plans, (size_t)n, sizeof(*plans), by_decision);
	for (int i = 0; i < n && !w->e->code; i++) {
		struct subject_plan *s = &plans[i];
		if (s->outcome == FAILED) {
			char reason[80];
			int which = (int)RNG_PICK(&r, screen_failure_weights);
			if (which < 2)
				snprintf(reason, sizeof(reason), "%s: criterion %d",
					 screen_failure_reasons[which], rng_int(&r, 1, 12));
			else
				snprintf(reason, sizeof(reason), "%s", screen_failure_reasons[which]);
			step(w, &subject_def, s->id, "screen_failed", s->decided, reason);
		} else if (s->outcome == ENROLLED) {
			step(w, &subject_def, s->id, "enrolled", s->decided, NULL);
			seen(&f->first_enrolled, &f->last_enrolled, s->decided);
		}
		seen(NULL, &f->site_last[site_index], s->decided > w->cutoff ? 0 : s->decided);
	}
	for (int i = 0; i < n && !w->e->code; i++) {
		if (plans[i].outcome != ENROLLED)
			continue;
		int32_t last = follow_subject(w, p, &r, &plans[i]);
		seen(NULL, &f->site_last[site_index], last);
		seen(NULL, &f->last_visit, last);
	}
	free(plans);
	free(days);
}

static const char *const milestone_kinds[] = {
	"protocol_approval", "first_site_activated", "first_subject_enrolled", "last_subject_enrolled",
	"last_subject_last_visit", "database_lock", "clinical_study_report",
};
static const char *const milestone_names[] = {
	"Protocol approved", "First site activated", "First subject enrolled", "Last subject enrolled",
	"Last subject last visit", "Database lock", "Clinical study report",
};
#define NMILESTONES NELEMS(milestone_kinds)

static const char *const amendment_summaries[] = {
	"widened the eligibility criteria", "added a pharmacokinetic sub-study",
	"revised the schedule of assessments", "updated the safety monitoring plan",
};

static const char *const termination_reasons[] = {
	"Sponsor decision: futility at the interim analysis",
	"Sponsor decision: portfolio reprioritisation",
	"Enrollment too slow to complete the study",
};

static void visit_name(const struct study_plan *p, int k, char *out, size_t len)
{
	int day = p->visit_day[k];
	if (k == 0)
		snprintf(out, len, "Screening");
	else if (k == 1)
		snprintf(out, len, "Baseline (Day 1)");
	else if (k == p->nvisits - 1)
		snprintf(out, len, "Safety follow-up");
	else if (k == p->nvisits - 2)
		snprintf(out, len, "End of treatment (Day %d)", day);
	else if ((day - 1) % 7 == 0)
		snprintf(out, len, "Week %d", (day - 1) / 7);
	else
		snprintf(out, len, "Day %d", day);
}

/* The study record, its protocol versions, schedule and milestones. */
static int64_t write_design(struct writer *w, struct study_plan *p, int index,
			    const int64_t *organisation_ids, struct rng *r, int32_t *baseline,
			    int64_t *milestones)
{
	char protocol[40], title[400], text[160];
	const char *label = p->phase->label, *drug = p->drug;
	int last = p->nvisits - 1;

	snprintf(protocol, sizeof(protocol), "%s-%s-%d%04d", demo_organisations[p->sponsor].code,
		 p->ind->code, p->phase->digit, index + 1);
	if (p->phase->digit == 1)
		snprintf(title, sizeof(title),
			 "A %s, Open-label, Dose-escalation Study of the Safety and Pharmacokinetics of "
			 "%s in Participants with %s", label, drug, p->ind->name);
	else if (p->phase->digit == 4)
		snprintf(title, sizeof(title),
			 "A %s, Open-label Study of %s in Routine Clinical Practice in %s", label, drug,
			 p->ind->name);
	else
		snprintf(title, sizeof(title),
			 "A %s, Randomised, Double-blind, Placebo-controlled Study of %s in %s", label,
			 drug, p->ind->name);
	if (p->stage >= ENROLLING) {
		/* The target the enrollment so far is heading for, give or take. */
		double planned = p->planned_enroll_end - p->planned_start;
		double progress = p->stage == ENROLLING ? (w->cutoff - p->enrolling_on) / planned : 1.0;
		progress = fmax(0.1, fmin(0.95, progress));
		p->target = (int)fmax(10, lround(p->subjects * (1.0 - p->screen_fail) / progress *
						 (0.85 + 0.35 * rng_uniform(r))));
	}
	json_t *input = json_pack(
		"{s:s, s:s, s:s, s:s, s:I, s:I, s:o, s:o}", "protocol_number", protocol, "title", title,
		"phase", p->phase->code, "therapeutic_area", p->ind->area, "sponsor_id",
		(json_int_t)organisation_ids[p->sponsor], "target_enrollment", (json_int_t)p->target,
		"planned_start_on", date_json(p->planned_start), "planned_end_on",
		date_json(p->planned_enroll_end + p->visit_day[last] + 180));
	if (p->acronym) {
		snprintf(text, sizeof(text), "%.4s-%d", drug, index + 1);
		for (char *c = text; *c; c++)
			*c = (char)(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
		json_object_set_new(input, "acronym", json_string(text));
	}
	if (p->stage >= START_UP) {
		snprintf(text, sizeof(text), "NCT%08d", 4100000 + index);
		json_object_set_new(input, "nct_id", json_string(text));
	}
	int64_t study = create(w, &study_def, 0, input);
	w->studies++;

	for (int k = 0; k <= p->namendments; k++) {
		char number[16];
		snprintf(number, sizeof(number), "%d.0", k + 1);
		if (k == 0)
			snprintf(text, sizeof(text), "Original protocol");
		else
			snprintf(text, sizeof(text), "Amendment %d: %s", k,
				 amendment_summaries[rng_int(r, 0, (int)NELEMS(amendment_summaries) - 1)]);
		int64_t pv = create(w, &protocol_version_def, study,
				    json_pack("{s:s, s:o, s:s}", "number", number, "version_date",
					      date_json(p->pv_date[k]), "summary", text));
		if (p->pv_approved[k] <= w->cutoff) {
			json_t *sig = NULL;
			if (!w->e->code)
				signature_create(w->db, w->signer, &protocol_version_def, pv, "approved",
						 NULL, &sig, w->e);
			json_decref(sig);
			step(w, &protocol_version_def, pv, "approved", p->pv_approved[k], NULL);
		}
	}
	for (int k = 0; k <= last; k++) {
		char number[16];
		const char *kind = k == last ? "phone"
				   : k >= 4 && k % 3 == 0 && p->phase->digit >= 3 ? "remote"
										   : "in_person";
		snprintf(number, sizeof(number), "%d", k + 1);
		visit_name(p, k, text, sizeof(text));
		add(w, &visit_definition_def, study,
		       json_pack("{s:s, s:s, s:I, s:I, s:I, s:s}", "number", number, "name", text,
				 "planned_day", (json_int_t)p->visit_day[k], "window_before",
				 (json_int_t)(k ? p->window[k] : 0), "window_after",
				 (json_int_t)(k ? p->window[k] : p->screen_days - 7), "kind", kind));
	}
	baseline[0] = p->pv_approved[0] - rng_int(r, 0, 21);
	baseline[1] = p->planned_start - rng_int(r, 14, 45);
	baseline[2] = p->planned_start;
	baseline[3] = p->planned_enroll_end;
	baseline[4] = p->planned_enroll_end + p->visit_day[last];
	baseline[5] = baseline[4] + 60;
	baseline[6] = baseline[5] + 120;
	for (size_t m = 0; m < NMILESTONES; m++)
		milestones[m] = create(w, &milestone_def, study,
				       json_pack("{s:s, s:s, s:o, s:o}", "name", milestone_names[m], "kind",
						 milestone_kinds[m], "baseline_on", date_json(baseline[m]),
						 "planned_on", date_json(baseline[m])));
	return study;
}

/* Close-out: the study's last steps, every site still open closed, and the
 * milestones re-forecast and marked achieved. */
static void write_close(struct writer *w, const struct study_plan *p, int64_t study,
			const int64_t *site_ids, struct study_facts *f, struct rng *r,
			const int32_t *baseline, const int64_t *milestones)
{
	int32_t actual[NMILESTONES] = {0};

	if (p->stage == FOLLOW_UP || p->stage == CLOSED)
		step(w, &study_def, study, "follow_up", p->enroll_end, NULL);
	if (p->stage == CLOSED)
		step(w, &study_def, study, "closed", p->end_on, NULL);
	if (p->stage == TERMINATED)
		step(w, &study_def, study, "terminated", p->end_on,
		     termination_reasons[rng_int(r, 0, (int)NELEMS(termination_reasons) - 1)]);
	for (int i = 0; p->stage >= FOLLOW_UP && i < p->nsites; i++) {
		const struct site_plan *s = &p->sites[i];
		int32_t last = f->site_last[i];
		if (s->dropped_on)
			continue;
		if (!s->step_on[5])
			step(w, &study_site_def, site_ids[i], "closed",
			     max_day(last, min_day(p->enroll_end + rng_int(r, 0, 14), w->cutoff)),
			     "Enrollment closed before the site was activated");
		else if (p->stage == CLOSED)
			step(w, &study_site_def, site_ids[i], "closed",
			     min_day(last + rng_int(r, 14, 60), p->end_on), "Study closed");
		else if (p->stage == TERMINATED)
			step(w, &study_site_def, site_ids[i], "closed",
			     max_day(last, min_day(p->end_on + rng_int(r, 0, 30), w->cutoff)),
			     "Study terminated by the sponsor");
	}

	if (p->pv_approved[0] <= w->cutoff)
		actual[0] = p->pv_approved[0];
	actual[1] = f->first_activated;
	actual[2] = f->first_enrolled;
	if (p->stage >= FOLLOW_UP)
		actual[3] = f->last_enrolled;
	if (p->stage >= CLOSED)
		actual[4] = f->last_visit;
	if (p->stage == CLOSED) {
		actual[5] = min_day(f->last_visit + rng_int(r, 30, 75), p->end_on);
		actual[6] = actual[5] + rng_int(r, 60, 120);
		if (actual[6] > w->cutoff)
			actual[6] = 0;
	}
	for (size_t m = 0; m < NMILESTONES; m++) {
		bool late = actual[m] ? actual[m] > baseline[m] + 7 : baseline[m] < w->cutoff;
		if (late && rng_chance(r, 0.6)) {
			int32_t planned = actual[m] ? max_day(baseline[m], actual[m] - rng_int(r, 0, 14))
						    : max_day(baseline[m], w->cutoff) + rng_int(r, 14, 120);
			patch(w, &milestone_def, milestones[m],
			      json_pack("{s:o, s:s}", "planned_on", date_json(planned), "change_reason",
					"re-forecast"));
		}
		if (actual[m])
			patch(w, &milestone_def, milestones[m], json_pack("{s:o}", "actual_on", date_json(actual[m])));
	}
}

static void write_study(struct writer *w, struct study_plan *p, int index,
			const int64_t *organisation_ids, uint64_t seed, uint64_t *site_stream)
{
	struct study_facts f = {0};
	int32_t baseline[NMILESTONES];
	int64_t milestones[NMILESTONES];
	int64_t *site_ids = xcalloc((size_t)p->nsites, sizeof(*site_ids));
	struct rng r;

	f.site_last = xcalloc((size_t)p->nsites, sizeof(*f.site_last));
	rng_seed(&r, seed, STREAM_STUDY_WRITE, (uint64_t)index);
	int64_t study = write_design(w, p, index, organisation_ids, &r, baseline, milestones);
	if (p->stage >= START_UP)
		step(w, &study_def, study, "start_up", p->start_up_on, NULL);
	if (p->stage >= ENROLLING)
		step(w, &study_def, study, "enrolling", p->enrolling_on, NULL);

	int site_target = (p->target + p->nsites - 1) / p->nsites;
	for (int i = 0; i < p->nsites && !w->e->code; i++) {
		const struct site_plan *s = &p->sites[i];
		char number[16], name[200];
		snprintf(number, sizeof(number), "%d", 1001 + i);
		snprintf(name, sizeof(name), "%s %s, %s", s->prefix, s->kind, s->city->name);
		site_ids[i] = create(
			w, &study_site_def, study,
			json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:I, s:o}", "site_number", number,
				  "institution_name", name, "city", s->city->name, "country",
				  s->country->code, "time_zone", s->city->tz, "investigator_name",
				  s->investigator, "identified_on", date_json(s->identified_on),
				  "target_enrollment", (json_int_t)site_target, "planned_activation_on",
				  date_json(s->identified_on + 150)));
		w->sites++;
		seen(NULL, &f.site_last[i], s->identified_on);
		for (int k = 0; k < SITE_STEPS && s->step_on[k]; k++) {
			step(w, &study_site_def, site_ids[i], site_steps[k], s->step_on[k], NULL);
			seen(NULL, &f.site_last[i], s->step_on[k]);
		}
		if (s->dropped_on)
			step(w, &study_site_def, site_ids[i], "closed", s->dropped_on, s->drop_reason);
		if (s->step_on[5])
			seen(&f.first_activated, NULL, s->step_on[5]);
		write_subjects(w, p, study, i, number, seed, (*site_stream)++, &f);
	}
	write_close(w, p, study, site_ids, &f, &r, baseline, milestones);
	free(site_ids);
	free(f.site_last);
}

/* SQLite settings of this connection for a load into an empty file. With
 * a rollback journal every page is written once, into the database; the
 * write-ahead log would take each page and the checkpoint copy it again.
 * A larger page cache keeps the b-trees' busy pages in memory. Atomic all
 * the same: a crash leaves a hot journal that the next open rolls back.
 * When another connection holds the file in WAL mode the journal stays as
 * it is; loading == false goes back to WAL, which every connection ctms
 * opens asks for anyway. */
static void bulk_load(struct db *db, bool loading)
{
	struct err ignored;

	if (strstr(db_url(db), "://"))
		return;
	err_init(&ignored);
	db_exec(db,
		loading ? "PRAGMA journal_mode = DELETE; PRAGMA cache_size = -262144"
			: "PRAGMA journal_mode = WAL; PRAGMA cache_size = -2000",
		&ignored);
	err_release(&ignored);
}

int demo_generate(struct db *db, int scale, uint64_t seed, struct err *e)
{
	if (scale < 1 || scale > 100)
		return err_set(e, CTMS_EINVAL, "--scale takes a whole number from 1 to 100");
	return demo_generate_studies(db, 20 * scale, seed, e);
}

int demo_generate_studies(struct db *db, int nstudies, uint64_t seed, struct err *e)
{
	struct writer w = {.db = db, .e = e};
	struct study_plan *plans = NULL;
	int64_t organisation_ids[16], events = 0;
	uint64_t site_stream = 0;
	struct timespec t0, t1;

	if (nstudies < 1 || nstudies > 2000)
		return err_set(e, CTMS_EINVAL, "a portfolio has from 1 to 2000 studies");
	date_parse(CUTOFF_DATE, &w.cutoff);
	if (w.cutoff > date_latest_today())
		return err_set(e, CTMS_EINVAL,
			       "the generated portfolio runs to %s, which is still in the future by this "
			       "machine's clock", CUTOFF_DATE);
	if (db_query_int(db, "SELECT count(*) FROM audit_event", &events, 0))
		return err_set(e, CTMS_EDB, "cannot read the audit trail: %s", db_errmsg(db));
	if (events)
		return err_set(e, CTMS_ECONFLICT,
			       "the database is not empty (%lld audit events); a generated portfolio is "
			       "written only into a new database (ctms init --db NEW)", (long long)events);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	plans = demo_plan(nstudies, seed, w.cutoff);

	bulk_load(db, true);
	/* All or nothing: one transaction around every record. */
	if (db_begin(db)) {
		err_set(e, CTMS_EBUSY, "the database is busy");
		goto done;
	}
	/* The chain head stays in memory while this one writer appends. */
	audit_batch_begin(db, e);
	demo_signer(db, &w.signer, e);
	for (size_t i = 0; i < demo_norganisations && i < NELEMS(organisation_ids); i++)
		organisation_ids[i] = create(&w, &organisation_def, 0,
					     json_pack("{s:s, s:s, s:s}", "name", demo_organisations[i].name,
						       "kind", demo_organisations[i].kind, "country",
						       demo_organisations[i].country));
	for (int i = 0; i < nstudies && !e->code; i++)
		write_study(&w, &plans[i], i, organisation_ids, seed, &site_stream);
	if (!e->code)
		audit_batch_end(db, true, e);
	if (!e->code && db_query_int(db, "SELECT count(*) FROM audit_event", &events, 0))
		err_set(e, CTMS_EDB, "cannot count audit events: %s", db_errmsg(db));
	if (e->code) {
		struct err ignored;
		err_init(&ignored);
		audit_batch_end(db, false, &ignored);
		err_release(&ignored);
		db_rollback(db);
		goto done;
	}
	if (db_commit(db)) {
		err_set(e, CTMS_EDB, "cannot commit the portfolio: %s", db_errmsg(db));
		goto done;
	}
	bulk_load(db, false);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("ctms: generated a portfolio (seed %llu): %lld studies, %lld study-sites, "
	       "%lld subjects, %lld visits, %lld audit events in %.1f s\n",
	       (unsigned long long)seed, (long long)w.studies, (long long)w.sites,
	       (long long)w.subjects, (long long)w.visits, (long long)events,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
done:
	demo_plan_free(plans, nstudies);
	actor_free(w.signer);
	return e->code;
}
