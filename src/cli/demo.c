/* A small demo portfolio, written through the domain layer like any user's
 * work: every record passes the same rules and leaves its audit trail. The
 * studies are fictitious (protocol numbers start with DEMO-). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "db/db.h"
#include "domain/access.h"
#include "domain/actor.h"
#include "domain/auth.h"
#include "domain/diversity.h"
#include "domain/enrollment_plan.h"
#include "domain/milestone.h"
#include "domain/organisation.h"
#include "domain/protocol_version.h"
#include "domain/signature.h"
#include "domain/study.h"
#include "domain/study_site.h"
#include "domain/subject.h"
#include "util/date.h"
#include "util/hash.h"
#include "util/json.h"

static int64_t create(struct db *db, const struct entity_def *def, int64_t parent, json_t *input,
		      struct err *e)
{
	json_t *rec = NULL;
	int64_t id = 0;
	if (!e->code && !record_create(db, actor_system(), def, parent, input, &rec, e))
		id = json_int(rec, "id", 0);
	json_decref(rec);
	json_decref(input);
	return id;
}

static void step(struct db *db, const struct entity_def *def, int64_t id, const char *to,
		 const char *on, const char *reason, struct err *e)
{
	struct transition t = {to, on, reason};
	json_t *rec = NULL;
	if (!e->code)
		record_transition(db, actor_system(), def, id, 0, &t, &rec, e);
	json_decref(rec);
}

int demo_signer(struct db *db, struct actor **out, struct err *e)
{
	int64_t id = 0, grant;
	int rc;

	*out = NULL;
	if ((rc = user_find(db, DEMO_SIGNER, &id, e)) == CTMS_ENOTFOUND) {
		/* A password no one knows: the account signs the demo's history and
		 * signs in only after an administrator sets a password. */
		char password[33];
		json_t *input;
		err_release(e);
		err_init(e);
		random_hex(password, 16);
		input = json_pack("{s:s, s:s, s:s}", "username", DEMO_SIGNER, "display_name",
				  "Morgan Reyes", "password", password);
		rc = user_add(db, actor_system(), input, &id, e);
		json_decref(input);
		if (!rc)
			rc = grant_add(db, actor_system(), id, ROLE_MANAGER, 0, 0, false, &grant, e);
	}
	return rc ? rc : auth_actor(db, id, out, e);
}

/* A manager's "approved" signature, then the approval it allows. */
static void approve(struct db *db, const struct actor *signer, int64_t pv, const char *on,
		    struct err *e)
{
	json_t *sig = NULL;
	if (!e->code)
		signature_create(db, signer, &protocol_version_def, pv, "approved", NULL, &sig, e);
	json_decref(sig);
	step(db, &protocol_version_def, pv, "approved", on, NULL, e);
}

static void patch(struct db *db, const struct entity_def *def, int64_t id, json_t *changes,
		  struct err *e)
{
	json_t *rec = NULL;
	if (!e->code) {
		json_t *cur = NULL;
		if (!record_get(db, actor_system(), def, id, &cur, e))
			record_update(db, actor_system(), def, id, json_int(cur, "version", 0), changes,
				      &rec, e);
		json_decref(cur);
	}
	json_decref(rec);
	json_decref(changes);
}

static const char *const site_steps[] = {"feasibility", "selected", "approved", "contracted",
					 "initiated", "activated"};

/* Walks a study-site through start-up, one step a fortnight from start. */
static void start_up_site(struct db *db, int64_t id, const char *start, size_t nsteps,
			  struct err *e)
{
	int32_t day;
	char on[DATE_LEN];
	date_parse(start, &day);
	for (size_t i = 0; i < nsteps && i < sizeof(site_steps) / sizeof(*site_steps); i++) {
		date_format(day + (int32_t)(14 * (i + 1)), on);
		step(db, &study_site_def, id, site_steps[i], on, NULL, e);
	}
}

struct demo_site {
	const char *number, *institution, *city, *country, *tz, *investigator, *identified;
	size_t steps; /* start-up steps taken (6 = activated) */
	int subjects;
};

static void add_subjects(struct db *db, int64_t study, const struct demo_site *s, int64_t site_id,
			 unsigned *seed, struct err *e)
{
	static const char *const races[] = {"WHITE", "WHITE", "WHITE", "BLACK OR AFRICAN AMERICAN",
					    "ASIAN", "AMERICAN INDIAN OR ALASKA NATIVE"};
	int32_t activated = 0;
	json_t *site = NULL;

	if (record_get(db, actor_system(), &study_site_def, site_id, &site, e))
		return;
	date_parse(json_str(site, "activated_on"), &activated);
	json_decref(site);
	for (int i = 0; i < s->subjects && !e->code; i++) {
		char number[32], screened[DATE_LEN], enrolled[DATE_LEN], later[DATE_LEN];
		*seed = *seed * 1103515245u + 12345u;
		unsigned r = (*seed >> 8) & 0xffff;
		int32_t day = activated + 7 + i * 9 + (int32_t)(r % 5);
		snprintf(number, sizeof(number), "%s-%03d", s->number, i + 1);
		date_format(day, screened);
		date_format(day + 14, enrolled);
		date_format(day + 120, later);
		int64_t id = create(
			db, &subject_def, study,
			json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "site_number", s->number,
				  "screening_number", number, "screened_on", screened, "sex",
				  r % 2 ? "F" : "M", "race", races[r % 6], "ethnicity",
				  r % 7 == 0 ? "HISPANIC OR LATINO" : "NOT HISPANIC OR LATINO", "age",
				  (json_int_t)(38 + r % 45), "consented_on", screened),
			e);
		if (r % 5 == 0) {
			step(db, &subject_def, id, "screen_failed", enrolled, "did not meet inclusion criterion 3", e);
			continue;
		}
		patch(db, &subject_def, id, json_pack("{s:s}", "consent_version", "2.0"), e);
		step(db, &subject_def, id, "enrolled", enrolled, NULL, e);
		if (day + 120 < day_of_us(now_us()) && r % 3 == 0)
			step(db, &subject_def, id, "completed", later, NULL, e);
		else if (r % 11 == 0)
			step(db, &subject_def, id, "withdrawn", later, "WITHDRAWAL BY SUBJECT", e);
	}
}

int demo_load(struct db *db, struct err *e)
{
	static const struct demo_site onc_sites[] = {
		{"101", "Massachusetts General Hospital", "Boston", "US", "America/New_York", "Dr. A. Rivera", "2024-09-02", 6, 14},
		{"102", "MD Anderson Cancer Center", "Houston", "US", "America/Chicago", "Dr. L. Chen", "2024-09-02", 6, 11},
		{"201", "Charite - Universitaetsmedizin Berlin", "Berlin", "DE", "Europe/Berlin", "Prof. K. Weber", "2024-09-16", 6, 9},
		{"301", "Institut Gustave Roussy", "Villejuif", "FR", "Europe/Paris", "Dr. M. Laurent", "2024-10-01", 6, 6},
		{"401", "Hospital Universitario 12 de Octubre", "Madrid", "ES", "Europe/Madrid", "Dr. J. Ortega", "2024-11-04", 6, 0},
		{"501", "National Cancer Center Hospital", "Tokyo", "JP", "Asia/Tokyo", "Dr. H. Sato", "2025-01-13", 4, 0},
	};
	static const struct demo_site cv_sites[] = {
		{"11", "Cleveland Clinic", "Cleveland", "US", "America/New_York", "Dr. P. Novak", "2025-06-02", 3, 0},
		{"12", "Royal Brompton Hospital", "London", "GB", "Europe/London", "Dr. S. Patel", "2025-06-16", 2, 0},
		{"13", "Karolinska University Hospital", "Stockholm", "SE", "Europe/Stockholm", "Dr. E. Lind", "2025-07-01", 1, 0},
	};
	int64_t count = 0, sponsor, onc, cv, pv;
	unsigned seed = 20240901;

	if (db_query_int(db, "SELECT count(*) FROM studies", &count, 0))
		return err_set(e, CTMS_EDB, "cannot read studies: %s", db_errmsg(db));
	if (count) {
		printf("ctms: the database already holds %lld studies; demo not loaded\n", (long long)count);
		return 0;
	}
	/* All or nothing: one transaction around every record. */
	if (db_begin(db))
		return err_set(e, CTMS_EBUSY, "the database is busy");
	struct actor *signer = NULL;
	demo_signer(db, &signer, e);
	sponsor = create(db, &organisation_def, 0,
			 json_pack("{s:s, s:s, s:s}", "name", "Demo Therapeutics Inc.", "kind", "sponsor",
				   "country", "US"),
			 e);
	create(db, &organisation_def, 0,
	       json_pack("{s:s, s:s, s:s}", "name", "Demo Clinical Research GmbH", "kind", "cro",
			 "country", "DE"),
	       e);

	onc = create(db, &study_def, 0,
		     json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "protocol_number",
			       "DEMO-ONC-301", "title",
			       "A Randomised, Open-label Phase 3 Study of Demolimab versus Docetaxel in "
			       "Previously Treated Advanced Non-small Cell Lung Cancer",
			       "acronym", "DEMO-LUNG", "phase", "PHASE3", "therapeutic_area", "Oncology",
			       "sponsor_id", (json_int_t)sponsor, "target_enrollment", (json_int_t)120,
			       "planned_start_on", "2024-10-01", "planned_end_on", "2027-06-30"),
		     e);
	pv = create(db, &protocol_version_def, onc,
		    json_pack("{s:s, s:s, s:s}", "number", "1.0", "version_date", "2024-06-14", "summary",
			      "Original protocol"),
		    e);
	approve(db, signer, pv, "2024-07-01", e);
	pv = create(db, &protocol_version_def, onc,
		    json_pack("{s:s, s:s, s:s}", "number", "2.0", "version_date", "2024-08-20", "summary",
			      "Amendment 1: widened ECOG eligibility to 0-2"),
		    e);
	approve(db, signer, pv, "2024-09-10", e);
	step(db, &study_def, onc, "start_up", "2024-08-01", NULL, e);
	step(db, &study_def, onc, "enrolling", "2024-10-15", NULL, e);
	for (size_t i = 0; i < sizeof(onc_sites) / sizeof(*onc_sites) && !e->code; i++) {
		const struct demo_site *s = &onc_sites[i];
		int64_t id = create(db, &study_site_def, onc,
				    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "site_number",
					      s->number, "institution_name", s->institution, "city", s->city,
					      "country", s->country, "time_zone", s->tz, "investigator_name",
					      s->investigator, "identified_on", s->identified,
					      "target_enrollment", (json_int_t)20),
				    e);
		start_up_site(db, id, s->identified, s->steps, e);
		add_subjects(db, onc, s, id, &seed, e);
	}
	static const struct {
		const char *name, *kind, *baseline, *planned, *actual;
	} onc_milestones[] = {
		{"Protocol approved", "protocol_approval", "2024-06-30", "2024-07-01", "2024-07-01"},
		{"First site activated", "first_site_activated", "2024-10-15", "2024-11-01", "2024-11-25"},
		{"First subject enrolled", "first_subject_enrolled", "2024-11-15", "2024-12-15", "2024-12-23"},
		{"Last subject enrolled", "last_subject_enrolled", "2026-03-31", "2026-09-30", NULL},
		{"Database lock", "database_lock", "2027-03-31", "2027-06-30", NULL},
	};
	for (size_t i = 0; i < sizeof(onc_milestones) / sizeof(*onc_milestones); i++) {
		json_t *m = json_pack("{s:s, s:s, s:s, s:s}", "name", onc_milestones[i].name, "kind",
				      onc_milestones[i].kind, "baseline_on", onc_milestones[i].baseline,
				      "planned_on", onc_milestones[i].planned);
		if (onc_milestones[i].actual)
			json_object_set_new(m, "actual_on", json_string(onc_milestones[i].actual));
		create(db, &milestone_def, onc, m, e);
	}
	/* The plan runs from the first subject planned to the last, so that
	 * `ctms enrollment` shows plan against actual; the goals show the
	 * diversity report with a percentage goal and a count goal. */
	static const struct {
		const char *on;
		int target;
	} onc_plan[] = {
		{"2024-12-15", 0}, {"2025-03-31", 20}, {"2025-09-30", 50}, {"2026-03-31", 85},
		{"2026-09-30", 120},
	};
	for (size_t i = 0; i < sizeof(onc_plan) / sizeof(*onc_plan); i++)
		create(db, &enrollment_plan_point_def, onc,
		       json_pack("{s:s, s:I}", "planned_on", onc_plan[i].on, "target_cumulative",
				 (json_int_t)onc_plan[i].target),
		       e);
	create(db, &diversity_goal_def, onc,
	       json_pack("{s:s, s:s, s:I, s:s}", "dimension", "sex", "category", "F", "goal_percent",
			 (json_int_t)50, "notes", "women at least half of the subjects"),
	       e);
	create(db, &diversity_goal_def, onc,
	       json_pack("{s:s, s:s, s:I}", "dimension", "race", "category",
			 "BLACK OR AFRICAN AMERICAN", "goal_percent", (json_int_t)10),
	       e);
	create(db, &diversity_goal_def, onc,
	       json_pack("{s:s, s:s, s:I}", "dimension", "ethnicity", "category",
			 "HISPANIC OR LATINO", "goal_count", (json_int_t)12),
	       e);

	cv = create(db, &study_def, 0,
		    json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s}", "protocol_number", "DEMO-CV-201",
			      "title",
			      "A Phase 2 Dose-ranging Study of Demoparin in Patients with Heart Failure with "
			      "Preserved Ejection Fraction",
			      "phase", "PHASE2", "therapeutic_area", "Cardiology", "target_enrollment",
			      (json_int_t)200, "planned_start_on", "2025-09-01", "planned_end_on",
			      "2027-12-31"),
		    e);
	pv = create(db, &protocol_version_def, cv,
		    json_pack("{s:s, s:s}", "number", "1.0", "version_date", "2025-04-30"), e);
	approve(db, signer, pv, "2025-05-20", e);
	step(db, &study_def, cv, "start_up", "2025-06-01", NULL, e);
	for (size_t i = 0; i < sizeof(cv_sites) / sizeof(*cv_sites) && !e->code; i++) {
		const struct demo_site *s = &cv_sites[i];
		int64_t id = create(db, &study_site_def, cv,
				    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "site_number", s->number,
					      "institution_name", s->institution, "city", s->city, "country",
					      s->country, "time_zone", s->tz, "investigator_name",
					      s->investigator, "identified_on", s->identified),
				    e);
		start_up_site(db, id, s->identified, s->steps, e);
	}
	create(db, &milestone_def, cv,
	       json_pack("{s:s, s:s, s:s, s:s}", "name", "First site activated", "kind",
			 "first_site_activated", "baseline_on", "2025-09-01", "planned_on", "2025-11-15"),
	       e);

	create(db, &study_def, 0,
	       json_pack("{s:s, s:s, s:s, s:s, s:I}", "protocol_number", "DEMO-NEU-101", "title",
			 "A First-in-human, Single and Multiple Ascending Dose Study of DMO-4410 in Healthy "
			 "Volunteers",
			 "phase", "PHASE1", "therapeutic_area", "Neurology", "target_enrollment",
			 (json_int_t)64),
	       e);
	actor_free(signer);
	if (e->code) {
		db_rollback(db);
		return e->code;
	}
	if (db_commit(db))
		return err_set(e, CTMS_EDB, "cannot commit the demo: %s", db_errmsg(db));
	printf("ctms: demo portfolio loaded (3 studies)\n");
	return 0;
}
