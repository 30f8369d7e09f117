#include "domain/diversity.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "domain/study.h"
#include "domain/codes.h"
#include "domain/enrollment.h"
#include "domain/enrollment_forecast.h"
#include "domain/subject.h"
#include "util/buf.h"
#include "util/date.h"
#include "util/json.h"

enum { DIM_SEX, DIM_RACE, DIM_ETHNICITY, DIM_AGE_BAND, NDIMS };

static const char *const dimensions[] = {"sex", "race", "ethnicity", "age_band", NULL};
/* Categories per dimension: its codes, then "not_recorded" for subjects
 * without a value (race and ethnicity are optional). */
#define MAX_CATEGORIES 16
#define NOT_RECORDED "not_recorded"

static const char *const *dimension_codes(int d)
{
	switch (d) {
	case DIM_SEX: return sex_codes;
	case DIM_RACE: return race_codes;
	case DIM_ETHNICITY: return ethnicity_codes;
	default: return subject_age_bands;
	}
}

static int dimension_index(const char *name)
{
	for (int d = 0; name && d < NDIMS; d++)
		if (!strcmp(dimensions[d], name))
			return d;
	return -1;
}

static size_t ncodes(int d)
{
	size_t n = 0;
	while (dimension_codes(d)[n])
		n++;
	return n;
}

/* The category index of a value, ncodes(d) for none, -1 for an unknown one. */
static int category_index(int d, const char *value)
{
	const char *const *codes = dimension_codes(d);
	if (!value)
		return (int)ncodes(d);
	for (int i = 0; codes[i]; i++)
		if (!strcmp(codes[i], value))
			return i;
	return -1;
}

static const char *category_name(int d, int c)
{
	return (size_t)c < ncodes(d) ? dimension_codes(d)[c] : NOT_RECORDED;
}

static const struct field_def fields[] = {
	FIELD_REF("study_id", F_SERVER, "studies"),
	{.name = "dimension", .type = FT_ENUM, .flags = F_REQUIRED | F_IMMUTABLE | F_FILTER,
	 .codes = dimensions},
	FIELD_TEXT("category", F_REQUIRED | F_IMMUTABLE | F_FILTER, 64),
	FIELD_INT("goal_count", 0, 1, 10000000),
	FIELD_INT("goal_percent", 0, 1, 100),
	FIELD_TEXT("notes", 0, 2000),
};

/* The category is a code of the dimension; exactly one kind of goal; one
 * goal per category and study. */
static int check(struct db *db, const json_t *old, const json_t *rec, struct err *e)
{
	int d = dimension_index(json_str(rec, "dimension"));
	const char *category = json_str(rec, "category");
	bool count = json_is_integer(json_object_get(rec, "goal_count"));
	bool percent = json_is_integer(json_object_get(rec, "goal_percent"));
	struct db_stmt *st;
	int64_t other = 0;
	int rc;

	if (d >= 0 && category && category_index(d, category) < 0) {
		struct buf b;
		buf_init(&b, 600);
		for (size_t i = 0; dimension_codes(d)[i]; i++)
			buf_printf(&b, "%s%s", i ? ", " : "", dimension_codes(d)[i]);
		err_field(e, "category", "must be a %s code: %s", dimensions[d], b.ptr);
		buf_release(&b);
	}
	if (count == percent)
		err_field(e, count ? "goal_percent" : "goal_count",
			  "give exactly one of goal_count and goal_percent");
	if (e->code)
		return e->code;
	if (old)
		return 0; /* dimension and category cannot change */
	rc = db_prepare(db,
			"SELECT id FROM diversity_goals WHERE study_id = $1 AND dimension = $2"
			" AND category = $3",
			&st);
	if (rc)
		return err_set(e, rc, "cannot read diversity goals: %s", db_errmsg(db));
	db_bind_int(st, 1, json_int(rec, "study_id", 0));
	db_bind_text(st, 2, json_str(rec, "dimension"));
	db_bind_text(st, 3, category);
	rc = db_step(st);
	if (rc < 0)
		return err_set(e, rc, "cannot read diversity goals: %s", db_errmsg(db));
	if (rc == 1) {
		other = db_column_int(st, 0);
		db_done(st);
		err_set(e, CTMS_ECONFLICT, "the study already has a goal for %s %s",
			json_str(rec, "dimension"), category);
		err_field(e, "category", "already has a goal in this study (goal %lld)",
			  (long long)other);
	}
	return e->code;
}

const struct entity_def diversity_goal_def = {
	.name = "diversity_goal",
	.table = "diversity_goals",
	.parent_field = "study_id",
	.parent_table = "studies",
	.parent_def = &study_def,
	.fields = fields,
	.nfields = NELEMS(fields),
	.check = check,
};

/* Enrolled subjects counted by category of every dimension. */
struct mix {
	double total;
	double count[NDIMS][MAX_CATEGORIES];
};

static void mix_add(struct mix *m, const struct mix *other, double weight)
{
	m->total += weight * other->total;
	for (int d = 0; d < NDIMS; d++)
		for (int c = 0; c < MAX_CATEGORIES; c++)
			m->count[d][c] += weight * other->count[d][c];
}

/* Subjects enrolled by as-of, per site and category. */
static int load_mixes(struct db *db, const struct enrollment_snapshot *s, struct mix *sites,
		      struct mix *overall, struct err *e)
{
	char as_of[DATE_LEN];
	struct db_stmt *st;
	int rc = db_prepare(db,
			    "SELECT study_site_id, sex, race, ethnicity, age, count(*) FROM subjects"
			    " WHERE study_id = $1 AND enrolled_on <= $2"
			    " GROUP BY study_site_id, sex, race, ethnicity, age",
			    &st);

	if (rc)
		return err_set(e, rc, "cannot count subjects: %s", db_errmsg(db));
	date_format(s->as_of, as_of);
	db_bind_int(st, 1, s->study_id);
	db_bind_text(st, 2, as_of);
	while ((rc = db_step(st)) == 1) {
		int64_t id = db_column_int(st, 0);
		double n = (double)db_column_int(st, 5);
		const char *value[NDIMS] = {db_column_text(st, 1), db_column_text(st, 2),
					    db_column_text(st, 3),
					    subject_age_band(db_column_int(st, 4))};
		for (size_t i = 0; i < s->nsites; i++) {
			if (s->sites[i].id != id)
				continue;
			sites[i].total += n;
			overall->total += n;
			for (int d = 0; d < NDIMS; d++) {
				int c = category_index(d, value[d]);
				if (c < 0)
					c = (int)ncodes(d); /* written behind ctms's back */
				sites[i].count[d][c] += n;
				overall->count[d][c] += n;
			}
		}
	}
	return rc < 0 ? err_set(e, rc, "cannot count subjects: %s", db_errmsg(db)) : 0;
}

/* A count and, for a cell of at least DIVERSITY_SMALL_CELL, its share of
 * the group. */
static json_t *cell_json(const char *category, double count, double total, bool whole)
{
	bool small = count < DIVERSITY_SMALL_CELL;
	json_t *o = json_pack("{s:s}", "category", category);

	json_object_set_new(o, "count", whole ? json_integer((json_int_t)llround(count))
					      : enrollment_number_json(count, 1));
	json_object_set_new(o, "percent",
			    small || !(total > 0) ? json_null()
						  : enrollment_number_json(100.0 * count / total, 1));
	json_object_set_new(o, "small_cell", json_boolean(small));
	return o;
}

/* The mix by dimension: every category for the study (all_categories), only
 * those with subjects for a site; whole counts, or projected ones to a
 * decimal. */
static json_t *mix_json(const struct mix *m, bool all_categories, bool whole)
{
	json_t *o = json_object();

	for (int d = 0; d < NDIMS; d++) {
		json_t *cells = json_array();
		for (int c = 0; c <= (int)ncodes(d); c++) {
			bool none = m->count[d][c] == 0;
			if (none && (!all_categories || (size_t)c == ncodes(d)))
				continue;
			json_array_append_new(cells, cell_json(category_name(d, c), m->count[d][c],
							       m->total, whole));
		}
		json_object_set_new(o, dimensions[d], cells);
	}
	return o;
}

struct projection {
	bool available;
	double remaining;
	double *additional;   /* per site: recruits expected until the target */
	struct mix final;     /* the projected mix at the target */
	char message[400];
};

/* The final mix if the sites go on at their forecast rates with their own
 * mix (shrunk towards the study's): site i adds remaining x its share of the
 * recruits expected up to the median completion. */
static void project(const struct enrollment_forecast *f, const struct mix *sites,
		    const struct mix *overall, struct projection *p)
{
	const struct enrollment_snapshot *s = &f->snapshot;
	double median, sum = 0;

	p->final = *overall;
	p->additional = calloc(s->nsites ? s->nsites : 1, sizeof(*p->additional));
	if (!p->additional)
		abort();
	p->remaining = f->target > f->enrolled ? (double)(f->target - f->enrolled) : 0;
	if (f->status == ENROLLMENT_FORECAST_TARGET_REACHED) {
		snprintf(p->message, sizeof(p->message),
			 "the target is reached: the final mix is the current one");
		p->available = true;
		return;
	}
	if (overall->total == 0 || f->status != ENROLLMENT_FORECAST_OK || !f->result.has_median) {
		snprintf(p->message, sizeof(p->message),
			 "no projection: %s",
			 overall->total == 0 ? "no subject is enrolled yet, so there is no mix to project"
					     : "the forecast has no median completion date (see "
					       "/forecast)");
		return;
	}
	median = f->result.median;
	for (size_t i = 0; i < s->nsites; i++) {
		p->additional[i] = enrollment_forecast_site_expected(f, i, median);
		sum += p->additional[i];
	}
	if (!(sum > 0)) {
		snprintf(p->message, sizeof(p->message), "no projection: no site is expected to recruit");
		return;
	}
	for (size_t i = 0; i < s->nsites; i++) {
		struct mix shrunk = {0};
		double n = sites[i].total, m = DIVERSITY_PSEUDO_SUBJECTS;

		p->additional[i] *= p->remaining / sum;
		/* (count + m x study share) / (n + m), then scaled to the additions */
		mix_add(&shrunk, &sites[i], 1.0);
		mix_add(&shrunk, overall, m / overall->total);
		mix_add(&p->final, &shrunk, p->additional[i] / (n + m));
	}
	p->final.total = overall->total + p->remaining;
	p->available = true;
	snprintf(p->message, sizeof(p->message),
		 "the %.0f subjects still to enroll are shared among the sites by their forecast "
		 "recruits up to the median completion, each with its own mix shrunk towards the "
		 "study's by %.0f pseudo-subjects",
		 p->remaining, DIVERSITY_PSEUDO_SUBJECTS);
}

static json_t *goal_json(struct db_stmt *st, const struct enrollment_forecast *f,
			 const struct mix *sites, const struct mix *overall,
			 const struct projection *p)
{
	const struct enrollment_snapshot *s = &f->snapshot;
	int d = dimension_index(db_column_text(st, 1));
	int c = d >= 0 ? category_index(d, db_column_text(st, 2)) : -1;
	bool is_count = db_column_type(st, 3) != DB_NULL;
	int64_t goal_count = is_count ? db_column_int(st, 3) : -1;
	int64_t goal_percent = db_column_type(st, 4) != DB_NULL ? db_column_int(st, 4) : -1;
	int64_t at_target;
	double actual, projected;
	json_t *g, *per_site;

	if (d < 0 || c < 0)
		return NULL; /* written behind ctms's back: not a goal ctms understands */
	at_target = is_count ? goal_count : (goal_percent * f->target + 99) / 100;
	actual = overall->count[d][c];
	projected = p->final.count[d][c];
	g = json_pack("{s:I, s:s, s:s, s:o, s:o, s:I, s:I}", "id", (json_int_t)db_column_int(st, 0),
		      "dimension", dimensions[d], "category", category_name(d, c), "goal_count",
		      is_count ? json_integer(goal_count) : json_null(), "goal_percent",
		      goal_percent >= 0 ? json_integer(goal_percent) : json_null(), "goal_at_target",
		      (json_int_t)at_target, "actual_count", (json_int_t)llround(actual));
	json_object_set_new(g, "actual_percent",
			    actual < DIVERSITY_SMALL_CELL || overall->total == 0
				    ? json_null()
				    : enrollment_number_json(100 * actual / overall->total, 1));
	json_object_set_new(g, "small_cell", json_boolean(actual < DIVERSITY_SMALL_CELL));
	json_object_set_new(g, "shortfall",
			    json_integer(at_target > (int64_t)actual ? at_target - (int64_t)actual : 0));
	json_object_set_new(g, "needed_percent_of_remaining",
			    p->remaining > 0 ? enrollment_number_json(
						       100 * fmax(0, at_target - actual) / p->remaining, 1)
					     : json_null());
	json_object_set_new(g, "projected_count",
			    p->available ? enrollment_number_json(projected, 1) : json_null());
	json_object_set_new(g, "projected_percent",
			    p->available && p->final.total > 0 && projected >= DIVERSITY_SMALL_CELL
				    ? enrollment_number_json(100 * projected / p->final.total, 1)
				    : json_null());
	json_object_set_new(g, "on_track",
			    p->available ? json_boolean(projected + 1e-9 >= at_target) : json_null());
	per_site = json_array();
	for (size_t i = 0; i < s->nsites; i++) {
		json_t *cell = cell_json(category_name(d, c), sites[i].count[d][c], sites[i].total, true);
		json_object_del(cell, "category");
		json_object_set_new(cell, "site_number", json_string(s->sites[i].site_number));
		json_object_set_new(cell, "enrolled", json_integer((json_int_t)sites[i].total));
		json_array_append_new(per_site, cell);
	}
	json_object_set_new(g, "sites", per_site);
	return g;
}

static int goals_json(struct db *db, const struct enrollment_forecast *f, const struct mix *sites,
		      const struct mix *overall, const struct projection *p, json_t **out,
		      struct err *e)
{
	struct db_stmt *st;
	int rc = db_prepare(db,
			    "SELECT id, dimension, category, goal_count, goal_percent FROM diversity_goals"
			    " WHERE study_id = $1 ORDER BY id",
			    &st);

	if (rc)
		return err_set(e, rc, "cannot read diversity goals: %s", db_errmsg(db));
	db_bind_int(st, 1, f->snapshot.study_id);
	*out = json_array();
	while ((rc = db_step(st)) == 1) {
		json_t *g = goal_json(st, f, sites, overall, p);
		if (g)
			json_array_append_new(*out, g);
	}
	return rc < 0 ? err_set(e, rc, "cannot read diversity goals: %s", db_errmsg(db)) : 0;
}

int diversity_report(struct db *db, int64_t study_id, const char *as_of, json_t **out,
		     struct err *e)
{
	struct enrollment_forecast f;
	struct projection p = {0};
	struct mix overall = {0}, *sites = NULL;
	json_t *request = json_object(), *goals = NULL, *report = NULL, *site_list;
	int rc;

	*out = NULL;
	if (as_of)
		json_object_set_new(request, "as_of", json_string(as_of));
	rc = enrollment_forecast_compute(db, study_id, request, &f, e);
	if (rc)
		goto done;
	sites = calloc(f.snapshot.nsites ? f.snapshot.nsites : 1, sizeof(*sites));
	if (!sites)
		abort();
	if ((rc = load_mixes(db, &f.snapshot, sites, &overall, e)))
		goto done;
	project(&f, sites, &overall, &p);
	if ((rc = goals_json(db, &f, sites, &overall, &p, &goals, e)))
		goto done;

	report = json_pack("{s:I, s:s, s:o, s:I, s:I, s:s}", "study_id", (json_int_t)study_id,
			   "protocol_number", f.snapshot.protocol_number, "as_of",
			   enrollment_date_json(f.snapshot.as_of), "target", (json_int_t)f.target,
			   "enrolled", (json_int_t)f.enrolled, "small_cell_rule",
			   "a percentage is given only for a cell of at least 5 subjects; a smaller "
			   "cell shows its count alone (percent null, small_cell true)");
	json_object_set_new(report, "goals", goals);
	goals = NULL;
	json_object_set_new(report, "overall", mix_json(&overall, true, true));
	site_list = json_array();
	for (size_t i = 0; i < f.snapshot.nsites; i++) {
		const struct enrollment_site *site = &f.snapshot.sites[i];
		json_array_append_new(
			site_list,
			json_pack("{s:s, s:I, s:s, s:I, s:o, s:o}", "site_number", site->site_number,
				  "study_site_id", (json_int_t)site->id, "country", site->country,
				  "enrolled", (json_int_t)sites[i].total, "projected_additional",
				  p.available && f.status == ENROLLMENT_FORECAST_OK
					  ? enrollment_number_json(p.additional[i], 1)
					  : json_null(),
				  "mix", mix_json(&sites[i], false, true)));
	}
	json_object_set_new(report, "sites", site_list);
	json_object_set_new(
		report, "projection",
		json_pack("{s:b, s:I, s:o, s:o, s:s}", "available", p.available, "remaining",
			  (json_int_t)llround(p.remaining), "median_completion_on",
			  enrollment_date_json(enrollment_forecast_median_day(&f)), "final_mix",
			  p.available ? mix_json(&p.final, true, false) : json_null(), "method", p.message));
	*out = report;
done:
	json_decref(goals);
	json_decref(request);
	free(p.additional);
	free(sites);
	enrollment_forecast_release(&f);
	return rc;
}
