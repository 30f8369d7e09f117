/* The portfolio in five queries: the visible studies, their study-sites,
 * their subjects grouped by study-site and status, their overdue
 * milestones grouped by study, and their enrollment plans (portfolio.h).
 * Every query is restricted to the studies the study list shows, with the
 * study list's own access filter; the roll-up per study is done here. */
#include "domain/portfolio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "domain/access.h"
#include "domain/enrollment.h"
#include "domain/enrollment_plan.h"
#include "domain/study.h"
#include "domain/subject.h"
#include "util/buf.h"
#include "util/date.h"
#include "util/err.h"

#define PORTFOLIO_SQL_MAX 8192

enum scope { SCOPE_NONE, SCOPE_SITES, SCOPE_STUDY };

static const char *const subject_states[] = {"screened", "screen_failed", "enrolled",
					     "completed", "withdrawn"};
static const char *const site_states[] = {"identified", "feasibility", "selected",
					  "approved",   "contracted",  "initiated",
					  "activated",  "enrolling",   "closed"};

/* A study-site whose figures count for the actor. */
struct portfolio_site {
	int64_t id;
	bool known; /* first dated on or before as-of, as enrollment.h has it */
};

struct portfolio_study {
	int64_t id;
	json_t *item; /* the study's fields; owned */
	enum scope scope;
	json_t *subjects_by_status, *sites_by_status; /* owned */
	int64_t subjects, sites, sites_known, sites_active;
	int64_t enrolled_by_date; /* enrolled by as-of at known sites (the report's) */
	int64_t milestones_overdue;
	size_t first_site, nsites;         /* in portfolio.sites, ordered by id */
	size_t first_point, npoints;       /* in portfolio.points */
};

struct portfolio {
	struct db *db;
	const struct actor *actor;
	int32_t as_of;
	size_t nstudies, nsites, npoints;
	struct portfolio_study *studies; /* ordered by id */
	struct portfolio_site *sites;
	struct enrollment_plan_point *points;
};

/* Prepares head + " IN (<the studies the actor may list>)" + tail, whose
 * own parameters number nparams and come first; binds the filter's one. */
static int prepare_visible(struct portfolio *p, const char *head, const char *tail, int nparams,
			   struct db_stmt **st, struct err *e)
{
	struct buf sql;
	int n = nparams, user_param, rc;

	buf_init(&sql, PORTFOLIO_SQL_MAX);
	buf_puts(&sql, head);
	buf_puts(&sql, " IN (SELECT t.id FROM studies t WHERE 1 = 1");
	access_list_filter(p->actor, &study_def, &sql, &n, &user_param);
	buf_puts(&sql, ")");
	buf_puts(&sql, tail);
	rc = db_prepare(p->db, sql.ptr, st);
	buf_release(&sql);
	if (rc)
		return err_set(e, rc, "cannot read the portfolio: %s", db_errmsg(p->db));
	if (user_param)
		db_bind_int(*st, user_param, p->actor->id);
	return 0;
}

static int step_failed(struct portfolio *p, int rc, struct err *e)
{
	return rc < 0 ? err_set(e, rc, "cannot read the portfolio: %s", db_errmsg(p->db)) : 0;
}

static int compare_study(const void *key, const void *elem)
{
	int64_t id = *(const int64_t *)key, other = ((const struct portfolio_study *)elem)->id;
	return (id > other) - (id < other);
}

static struct portfolio_study *study_find(struct portfolio *p, int64_t id)
{
	return bsearch(&id, p->studies, p->nstudies, sizeof(*p->studies), compare_study);
}

static int compare_site(const void *key, const void *elem)
{
	int64_t id = *(const int64_t *)key, other = ((const struct portfolio_site *)elem)->id;
	return (id > other) - (id < other);
}

static struct portfolio_site *site_find(struct portfolio *p, const struct portfolio_study *s,
					int64_t id)
{
	if (!s->nsites)
		return NULL;
	return bsearch(&id, p->sites + s->first_site, s->nsites, sizeof(*p->sites), compare_site);
}

/* A grant at a study-site whose role may read its subjects. */
static bool site_grant_counts(const struct grant *g)
{
	return g->study_site_id && access_role_allows(g->role, &subject_def, ACCESS_READ);
}

static enum scope scope_of(const struct actor *a, int64_t study_id)
{
	struct err e;
	int rc;

	err_init(&e);
	rc = access_capability(a, CAP_STUDY_REPORTS, study_id, &e);
	err_release(&e);
	if (!rc)
		return SCOPE_STUDY;
	for (size_t i = 0; i < a->ngrants; i++)
		if (site_grant_counts(&a->grants[i]) && a->grants[i].study_id == study_id)
			return SCOPE_SITES;
	return SCOPE_NONE;
}

static bool site_counted(const struct actor *a, const struct portfolio_study *s,
			 int64_t study_site_id)
{
	if (s->scope != SCOPE_SITES)
		return s->scope == SCOPE_STUDY;
	for (size_t i = 0; i < a->ngrants; i++)
		if (site_grant_counts(&a->grants[i]) && a->grants[i].study_site_id == study_site_id)
			return true;
	return false;
}

static json_t *zero_counts(const char *const *states, size_t n)
{
	json_t *o = json_object();
	for (size_t i = 0; i < n; i++)
		json_object_set_new(o, states[i], json_integer(0));
	return o;
}

static void count_add(json_t *by_status, const char *status, int64_t n)
{
	json_object_set_new(by_status, status,
			    json_integer(json_integer_value(json_object_get(by_status, status)) + n));
}

static json_t *text_json(struct db_stmt *st, int i)
{
	const char *text = db_column_text(st, i);
	return text ? json_string(text) : json_null();
}

static int load_studies(struct portfolio *p, struct err *e)
{
	static const char *const names[] = {"id",    "protocol_number",  "nct_id",
					    "acronym", "title",          "phase",
					    "status", "therapeutic_area", "target_enrollment",
					    "planned_start_on", "planned_end_on", "registry_status"};
	struct db_stmt *st;
	size_t alloc = 0;
	int rc = prepare_visible(p,
				 "SELECT x.id, x.protocol_number, x.nct_id, x.acronym, x.title, x.phase,"
				 " x.status, x.therapeutic_area, x.target_enrollment, x.planned_start_on,"
				 " x.planned_end_on, x.registry_status FROM studies x WHERE x.id",
				 " ORDER BY x.id", 0, &st, e);

	if (rc)
		return rc;
	while ((rc = db_step(st)) == 1) {
		struct portfolio_study *s;
		if (p->nstudies == alloc) {
			alloc = alloc ? 2 * alloc : 64;
			p->studies = xrealloc(p->studies, alloc * sizeof(*p->studies));
		}
		s = &p->studies[p->nstudies++];
		memset(s, 0, sizeof(*s));
		s->id = db_column_int(st, 0);
		s->item = json_object();
		for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
			json_object_set_new(s->item, names[i],
					    i == 0 || i == 8 ? json_integer(db_column_int(st, (int)i))
							     : text_json(st, (int)i));
		s->scope = scope_of(p->actor, s->id);
		s->subjects_by_status = zero_counts(subject_states, sizeof(subject_states) / sizeof(*subject_states));
		s->sites_by_status = zero_counts(site_states, sizeof(site_states) / sizeof(*site_states));
	}
	return step_failed(p, rc, e);
}

/* A stored date as a day number, or ENROLLMENT_NO_DAY. */
static int32_t column_day(struct db_stmt *st, int i)
{
	int32_t day;
	const char *text = db_column_text(st, i);
	return text && !date_parse(text, &day) ? day : ENROLLMENT_NO_DAY;
}

/* One study-site row: its status, and known and active as of as-of the way
 * enrollment.c's load_sites decides them. */
static void add_site(struct portfolio *p, struct portfolio_study *s, struct db_stmt *st)
{
	int32_t known = ENROLLMENT_NO_DAY, activated = column_day(st, 9), closed = column_day(st, 11);
	struct portfolio_site *site = &p->sites[p->nsites];

	for (int i = 3; i <= 11; i++) {
		int32_t day = column_day(st, i);
		if (day != ENROLLMENT_NO_DAY && (known == ENROLLMENT_NO_DAY || day < known))
			known = day;
	}
	if (known == ENROLLMENT_NO_DAY)
		known = day_of_us(db_column_int(st, 12));
	if (!s->nsites)
		s->first_site = p->nsites;
	s->nsites++;
	p->nsites++;
	site->id = db_column_int(st, 0);
	site->known = known <= p->as_of;
	count_add(s->sites_by_status, db_column_text(st, 2), 1);
	s->sites++;
	if (!site->known)
		return;
	s->sites_known++;
	if (closed != ENROLLMENT_NO_DAY && closed <= p->as_of)
		return;
	s->sites_active += activated != ENROLLMENT_NO_DAY && activated <= p->as_of;
}

static int load_sites(struct portfolio *p, struct err *e)
{
	struct db_stmt *st;
	size_t alloc = 0;
	int rc = prepare_visible(p,
				 "SELECT x.id, x.study_id, x.status, x.identified_on, x.feasibility_on,"
				 " x.selected_on, x.approved_on, x.contracted_on, x.initiated_on,"
				 " x.activated_on, x.enrolling_on, x.closed_on, x.created_at"
				 " FROM study_sites x WHERE x.study_id",
				 " ORDER BY x.study_id, x.id", 0, &st, e);

	if (rc)
		return rc;
	while ((rc = db_step(st)) == 1) {
		struct portfolio_study *s = study_find(p, db_column_int(st, 1));
		if (!s || !site_counted(p->actor, s, db_column_int(st, 0)))
			continue;
		if (p->nsites == alloc) {
			alloc = alloc ? 2 * alloc : 256;
			p->sites = xrealloc(p->sites, alloc * sizeof(*p->sites));
		}
		add_site(p, s, st);
	}
	return step_failed(p, rc, e);
}

static int load_subjects(struct portfolio *p, struct err *e)
{
	char as_of[DATE_LEN];
	struct db_stmt *st;
	int rc = prepare_visible(p,
				 "SELECT x.study_id, x.study_site_id, x.status, count(*),"
				 " sum(CASE WHEN x.enrolled_on <= $1 THEN 1 ELSE 0 END)"
				 " FROM subjects x WHERE x.study_id",
				 " GROUP BY x.study_id, x.study_site_id, x.status", 1, &st, e);

	if (rc)
		return rc;
	date_format(p->as_of, as_of);
	db_bind_text(st, 1, as_of);
	while ((rc = db_step(st)) == 1) {
		struct portfolio_study *s = study_find(p, db_column_int(st, 0));
		struct portfolio_site *site;
		if (!s || s->scope == SCOPE_NONE)
			continue;
		site = site_find(p, s, db_column_int(st, 1));
		if (s->scope == SCOPE_SITES && !site)
			continue;
		count_add(s->subjects_by_status, db_column_text(st, 2), db_column_int(st, 3));
		s->subjects += db_column_int(st, 3);
		if (site && site->known)
			s->enrolled_by_date += db_column_int(st, 4);
	}
	return step_failed(p, rc, e);
}

/* Overdue as milestone.c renders it: planned before today (UTC), no actual date. */
static int load_milestones(struct portfolio *p, struct err *e)
{
	char today[DATE_LEN];
	struct db_stmt *st;
	int rc = prepare_visible(p,
				 "SELECT x.study_id, count(*) FROM milestones x"
				 " WHERE x.planned_on < $1 AND x.actual_on IS NULL AND x.study_id",
				 " GROUP BY x.study_id", 1, &st, e);

	if (rc)
		return rc;
	date_format(day_of_us(now_us()), today);
	db_bind_text(st, 1, today);
	while ((rc = db_step(st)) == 1) {
		struct portfolio_study *s = study_find(p, db_column_int(st, 0));
		if (s)
			s->milestones_overdue = db_column_int(st, 1);
	}
	return step_failed(p, rc, e);
}

/* The plans of the studies seen whole, in enrollment_plan_load's order. */
static int load_plans(struct portfolio *p, struct err *e)
{
	struct db_stmt *st;
	size_t alloc = 0;
	int rc = prepare_visible(p,
				 "SELECT x.study_id, coalesce(x.study_site_id, 0), coalesce(x.country, ''),"
				 " x.planned_on, x.target_cumulative FROM enrollment_plan_points x"
				 " WHERE x.study_id",
				 " ORDER BY x.study_id, coalesce(x.study_site_id, 0),"
				 " coalesce(x.country, ''), x.planned_on",
				 0, &st, e);

	if (rc)
		return rc;
	while ((rc = db_step(st)) == 1) {
		struct portfolio_study *s = study_find(p, db_column_int(st, 0));
		struct enrollment_plan_point pt;
		memset(&pt, 0, sizeof(pt));
		if (!s || s->scope != SCOPE_STUDY || date_parse(db_column_text(st, 3), &pt.on))
			continue;
		pt.study_site_id = db_column_int(st, 1);
		snprintf(pt.country, sizeof(pt.country), "%s", db_column_text(st, 2));
		pt.target = db_column_int(st, 4);
		if (p->npoints == alloc) {
			alloc = alloc ? 2 * alloc : 64;
			p->points = xrealloc(p->points, alloc * sizeof(*p->points));
		}
		if (!s->npoints)
			s->first_point = p->npoints;
		s->npoints++;
		p->points[p->npoints++] = pt;
	}
	return step_failed(p, rc, e);
}

/* The study's plan as of as-of, rolled up as enrollment_report.c's
 * plan_study does: the study's own points, else its countries', else its
 * known sites'. */
static bool plan_value(const struct portfolio *p, const struct portfolio_study *s, double *out)
{
	struct enrollment_plan plan = {s->npoints, s->npoints ? p->points + s->first_point : NULL};
	double sum = 0, v;
	bool any = false;

	if (enrollment_plan_value(&plan, 0, NULL, p->as_of, out))
		return true;
	for (size_t i = 0; i < plan.npoints; i++) {
		const struct enrollment_plan_point *pt = &plan.points[i];
		if (pt->study_site_id || !pt->country[0] ||
		    (i > 0 && !plan.points[i - 1].study_site_id &&
		     !strcmp(plan.points[i - 1].country, pt->country)))
			continue;
		enrollment_plan_value(&plan, 0, pt->country, p->as_of, &v);
		sum += v;
		any = true;
	}
	for (size_t i = 0; !any && i < s->nsites; i++) {
		const struct portfolio_site *site = &p->sites[s->first_site + i];
		if (site->known && enrollment_plan_value(&plan, site->id, NULL, p->as_of, &v)) {
			sum += v;
			any = true;
		}
	}
	if (any)
		*out = sum;
	return any;
}

/* As enrollment_report.c's plan_json, so both answers agree to the digit. */
static json_t *plan_json(const struct portfolio *p, const struct portfolio_study *s)
{
	double planned = 0;
	int64_t actual = s->enrolled_by_date;

	if (s->scope != SCOPE_STUDY || !plan_value(p, s, &planned))
		return json_null();
	return json_pack("{s:o, s:I, s:o, s:o}", "planned", enrollment_number_json(planned, 1),
			 "actual", (json_int_t)actual, "difference",
			 enrollment_number_json(actual - planned, 1), "percent_of_plan",
			 planned > 0 ? enrollment_number_json(100.0 * actual / planned, 1)
				     : json_null());
}

/* The study's figures; steals its by-status objects. */
static json_t *figures_json(const struct portfolio *p, struct portfolio_study *s)
{
	json_t *by_subject = s->subjects_by_status, *by_site = s->sites_by_status;
	int64_t enrolled;

	if (s->scope == SCOPE_NONE)
		return json_null();
	/* Enrolled counts everyone who was ever enrolled, as the summary does. */
	enrolled = json_integer_value(json_object_get(by_subject, "enrolled")) +
		   json_integer_value(json_object_get(by_subject, "completed")) +
		   json_integer_value(json_object_get(by_subject, "withdrawn"));
	s->subjects_by_status = s->sites_by_status = NULL;
	return json_pack("{s:s, s:{s:I, s:o}, s:I, s:{s:I, s:o, s:I, s:I}, s:o}", "scope",
			 s->scope == SCOPE_STUDY ? "study" : "sites", "subjects", "total",
			 (json_int_t)s->subjects, "by_status", by_subject, "enrolled",
			 (json_int_t)enrolled, "sites", "total", (json_int_t)s->sites, "by_status",
			 by_site, "known", (json_int_t)s->sites_known, "active",
			 (json_int_t)s->sites_active, "plan", plan_json(p, s));
}

static void portfolio_release(struct portfolio *p)
{
	for (size_t i = 0; i < p->nstudies; i++) {
		json_decref(p->studies[i].item);
		json_decref(p->studies[i].subjects_by_status);
		json_decref(p->studies[i].sites_by_status);
	}
	free(p->studies);
	free(p->sites);
	free(p->points);
	memset(p, 0, sizeof(*p));
}

int portfolio_list(struct db *db, const struct actor *a, json_t **out, struct err *e)
{
	struct portfolio p = {.db = db, .actor = a, .as_of = date_latest_today()};
	json_t *items;
	int rc;

	*out = NULL;
	if ((rc = load_studies(&p, e)) || (rc = load_sites(&p, e)) || (rc = load_subjects(&p, e)) ||
	    (rc = load_milestones(&p, e)) || (rc = load_plans(&p, e)))
		goto done;
	items = json_array();
	for (size_t i = 0; i < p.nstudies; i++) {
		struct portfolio_study *s = &p.studies[i];
		json_object_set_new(s->item, "milestones_overdue", json_integer(s->milestones_overdue));
		json_object_set_new(s->item, "figures", figures_json(&p, s));
		json_array_append(items, s->item);
	}
	*out = json_pack("{s:o, s:o}", "as_of", enrollment_date_json(p.as_of), "items", items);
done:
	portfolio_release(&p);
	return rc;
}
