#include "domain/enrollment_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "domain/study.h"
#include "domain/codes.h"
#include "util/buf.h"
#include "util/date.h"
#include "util/json.h"

static const struct field_def fields[] = {
	FIELD_REF("study_id", F_SERVER, "studies"),
	FIELD_REF("study_site_id", F_IMMUTABLE | F_FILTER, "study_sites"),
	FIELD_COUNTRY("country", F_IMMUTABLE | F_FILTER),
	FIELD_DATE("planned_on", F_REQUIRED),
	FIELD_INT("target_cumulative", F_REQUIRED, 0, 10000000),
	FIELD_TEXT("notes", 0, 2000),
};

/* The other points of the same scope, by date: unique dates, and targets
 * that never fall as dates advance. */
static int check_scope(struct db *db, const json_t *rec, struct err *e)
{
	const char *on = json_str(rec, "planned_on");
	int64_t target = json_int(rec, "target_cumulative", 0);
	struct db_stmt *st;
	int rc = db_prepare(db,
			    "SELECT id, planned_on, target_cumulative FROM enrollment_plan_points"
			    " WHERE study_id = $1 AND id <> $2 AND coalesce(study_site_id, 0) = $3"
			    " AND coalesce(country, '') = $4 ORDER BY planned_on",
			    &st);

	if (rc)
		return err_set(e, rc, "cannot read the enrollment plan: %s", db_errmsg(db));
	db_bind_int(st, 1, json_int(rec, "study_id", 0));
	db_bind_int(st, 2, json_int(rec, "id", 0));
	db_bind_int(st, 3, json_int(rec, "study_site_id", 0));
	db_bind_text(st, 4, json_str(rec, "country") ? json_str(rec, "country") : "");
	while ((rc = db_step(st)) == 1) {
		const char *other_on = db_column_text(st, 1);
		int64_t other_id = db_column_int(st, 0), other_target = db_column_int(st, 2);
		int order = strcmp(other_on, on);

		if (order == 0) {
			err_set(e, CTMS_ECONFLICT, "the plan already has a point on %s", on);
			err_field(e, "planned_on", "already has a point of this plan (point %lld)",
				  (long long)other_id);
		} else if (order < 0 && other_target > target) {
			err_field(e, "target_cumulative",
				  "is below the %lld planned by %s (point %lld): a cumulative plan "
				  "never falls",
				  (long long)other_target, other_on, (long long)other_id);
		} else if (order > 0 && other_target < target) {
			err_field(e, "target_cumulative",
				  "is above the %lld planned by the later %s (point %lld): a cumulative "
				  "plan never falls",
				  (long long)other_target, other_on, (long long)other_id);
		}
		if (e->code) {
			db_done(st);
			return e->code;
		}
	}
	return rc < 0 ? err_set(e, rc, "cannot read the enrollment plan: %s", db_errmsg(db)) : 0;
}

static int check(struct db *db, const json_t *old, const json_t *rec, struct err *e)
{
	int64_t site = json_int(rec, "study_site_id", 0);

	if (site && json_str(rec, "country"))
		return err_field(e, "country",
				 "cannot be given with study_site_id: a point belongs to the study, one "
				 "country or one site");
	if (site) {
		int64_t study = 0;
		int rc = db_query_int(db, "SELECT study_id FROM study_sites WHERE id = $1", &study, 1, site);
		if (rc && rc != CTMS_ENOTFOUND)
			return err_set(e, rc, "cannot read study-site: %s", db_errmsg(db));
		if (study != json_int(rec, "study_id", 0))
			return err_field(e, "study_site_id", "names no site of this study");
	}
	return check_scope(db, rec, e);
}

const struct entity_def enrollment_plan_point_def = {
	.name = "enrollment_plan_point",
	.table = "enrollment_plan_points",
	.parent_field = "study_id",
	.parent_table = "studies",
	.parent_def = &study_def,
	.fields = fields,
	.nfields = NELEMS(fields),
	.check = check,
};

int enrollment_plan_load(struct db *db, int64_t study_id, struct enrollment_plan *out,
			 struct err *e)
{
	struct db_stmt *st;
	size_t alloc = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = db_prepare(db,
			"SELECT coalesce(study_site_id, 0), coalesce(country, ''), planned_on,"
			" target_cumulative FROM enrollment_plan_points WHERE study_id = $1"
			" ORDER BY coalesce(study_site_id, 0), coalesce(country, ''), planned_on",
			&st);
	if (rc)
		return err_set(e, rc, "cannot read the enrollment plan: %s", db_errmsg(db));
	db_bind_int(st, 1, study_id);
	while ((rc = db_step(st)) == 1) {
		struct enrollment_plan_point *p;
		if (out->npoints == alloc) {
			alloc = alloc ? 2 * alloc : 16;
			out->points = xrealloc(out->points, alloc * sizeof(*out->points));
		}
		p = &out->points[out->npoints];
		memset(p, 0, sizeof(*p));
		if (date_parse(db_column_text(st, 2), &p->on))
			continue; /* not a date: written behind ctms's back, not a point */
		p->study_site_id = db_column_int(st, 0);
		snprintf(p->country, sizeof(p->country), "%s", db_column_text(st, 1));
		p->target = db_column_int(st, 3);
		out->npoints++;
	}
	return rc < 0 ? err_set(e, rc, "cannot read the enrollment plan: %s", db_errmsg(db)) : 0;
}

void enrollment_plan_release(struct enrollment_plan *p)
{
	free(p->points);
	memset(p, 0, sizeof(*p));
}

bool enrollment_plan_value(const struct enrollment_plan *p, int64_t study_site_id,
			   const char *country, int32_t day, double *out)
{
	const struct enrollment_plan_point *prev = NULL;
	bool any = false;

	if (!country)
		country = "";
	for (size_t i = 0; i < p->npoints; i++) {
		const struct enrollment_plan_point *pt = &p->points[i];
		if (pt->study_site_id != study_site_id || strcmp(pt->country, country))
			continue;
		any = true;
		if (pt->on <= day) {
			prev = pt;
			continue;
		}
		/* the first point after day: linear from the one before (or 0) */
		if (!prev)
			*out = 0;
		else
			*out = prev->target +
			       (double)(pt->target - prev->target) * (day - prev->on) / (pt->on - prev->on);
		return true;
	}
	if (any)
		*out = prev ? (double)prev->target : 0;
	return any;
}
