/* The tracking report: a study's recruitment figures as of a date, for the
 * study and by site, country or month (enrollment.h). */
#include "domain/enrollment.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "domain/enrollment_plan.h"
#include "util/buf.h"
#include "util/date.h"
#include "util/err.h"

/* The figures of one group of sites (the study, a country, a site). */
struct figures {
	int64_t screened, screen_failed, enrolled, completed, withdrawn;
	int64_t sites_known, sites_active, sites_closed, sites_not_yet_active;
	int64_t active_days;
	int64_t target;    /* -1: none */
	int32_t *delays;   /* days from activation to first enrollment, per site */
	size_t ndelays;
	json_t *zero_sites;
	json_t *screen_failures_by_reason, *withdrawals_by_reason;
};

static void figures_init(struct figures *f, size_t nsites)
{
	memset(f, 0, sizeof(*f));
	f->target = -1;
	f->delays = xcalloc(nsites ? nsites : 1, sizeof(*f->delays));
	f->zero_sites = json_array();
	f->screen_failures_by_reason = json_object();
	f->withdrawals_by_reason = json_object();
}

static void figures_release(struct figures *f)
{
	free(f->delays);
	json_decref(f->zero_sites);
	json_decref(f->screen_failures_by_reason);
	json_decref(f->withdrawals_by_reason);
	memset(f, 0, sizeof(*f));
}

static void figures_add_site(struct figures *f, const struct enrollment_snapshot *s, size_t index)
{
	const struct enrollment_site *site = &s->sites[index];

	f->screened += site->screened;
	f->screen_failed += site->screen_failed;
	f->enrolled += site->enrolled;
	f->completed += site->completed;
	f->withdrawn += site->withdrawn;
	f->sites_known++;
	f->sites_active += site->active;
	f->sites_closed += site->closed;
	f->sites_not_yet_active += site->activated_on == ENROLLMENT_NO_DAY && !site->closed;
	f->active_days += site->active_days;
	if (site->target >= 0)
		f->target = (f->target < 0 ? 0 : f->target) + site->target;
	if (site->first_enrolled_on != ENROLLMENT_NO_DAY && site->activated_on != ENROLLMENT_NO_DAY)
		f->delays[f->ndelays++] = site->first_enrolled_on - site->activated_on;
	if (site->active_days > 0 && site->enrolled == 0)
		json_array_append_new(f->zero_sites, json_string(site->site_number));
	for (size_t i = 0; i < s->nreasons; i++) {
		const struct enrollment_reason *r = &s->reasons[i];
		json_t *into = r->withdrawal ? f->withdrawals_by_reason : f->screen_failures_by_reason;
		if (r->site != index)
			continue;
		json_object_set_new(into, r->reason,
				    json_integer(json_integer_value(json_object_get(into, r->reason)) +
						 r->count));
	}
}

static int compare_i32(const void *pa, const void *pb)
{
	int32_t a = *(const int32_t *)pa, b = *(const int32_t *)pb;
	return (a > b) - (a < b);
}

static json_t *median_json(int32_t *v, size_t n)
{
	if (n == 0)
		return json_null();
	qsort(v, n, sizeof(*v), compare_i32);
	return enrollment_number_json(n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]), 1);
}

static json_t *percent_json(double part, double whole)
{
	return whole > 0 ? enrollment_number_json(100.0 * part / whole, 1) : json_null();
}

/* The plan of a group, as in enrollment_plan.h; the roll-ups are stated in
 * docs/openapi.yaml (EnrollmentFigures.plan). */
static bool plan_site(const struct enrollment_plan *p, const struct enrollment_site *site,
		      int32_t day, double *out)
{
	return enrollment_plan_value(p, site->id, NULL, day, out);
}

static bool plan_country(const struct enrollment_plan *p, const struct enrollment_snapshot *s,
			 const char *country, int32_t day, double *out)
{
	double sum = 0, v;
	bool any = false;

	if (enrollment_plan_value(p, 0, country, day, out))
		return true;
	for (size_t i = 0; i < s->nsites; i++) {
		if (!strcmp(s->sites[i].country, country) && plan_site(p, &s->sites[i], day, &v)) {
			sum += v;
			any = true;
		}
	}
	if (any)
		*out = sum;
	return any;
}

static bool plan_study(const struct enrollment_plan *p, const struct enrollment_snapshot *s,
		       int32_t day, double *out)
{
	double sum = 0, v;
	bool any = false;

	if (enrollment_plan_value(p, 0, NULL, day, out))
		return true;
	/* the countries that have points of their own */
	for (size_t i = 0; i < p->npoints; i++) {
		const struct enrollment_plan_point *pt = &p->points[i];
		if (pt->study_site_id || !pt->country[0] ||
		    (i > 0 && !p->points[i - 1].study_site_id &&
		     !strcmp(p->points[i - 1].country, pt->country)))
			continue;
		enrollment_plan_value(p, 0, pt->country, day, &v);
		sum += v;
		any = true;
	}
	if (!any) {
		for (size_t i = 0; i < s->nsites; i++) {
			if (plan_site(p, &s->sites[i], day, &v)) {
				sum += v;
				any = true;
			}
		}
	}
	if (any)
		*out = sum;
	return any;
}

static json_t *plan_json(bool has, double planned, int64_t actual)
{
	if (!has)
		return json_null();
	return json_pack("{s:o, s:I, s:o, s:o}", "planned", enrollment_number_json(planned, 1), "actual",
			 (json_int_t)actual, "difference", enrollment_number_json(actual - planned, 1),
			 "percent_of_plan", percent_json((double)actual, planned));
}

static json_t *figures_json(struct figures *f, bool has_plan, double planned)
{
	double site_months = f->active_days / ENROLLMENT_DAYS_PER_MONTH;
	json_t *o = json_object();

	json_object_set_new(o, "screened", json_integer(f->screened));
	json_object_set_new(o, "screen_failed", json_integer(f->screen_failed));
	json_object_set(o, "screen_failures_by_reason", f->screen_failures_by_reason);
	json_object_set_new(o, "in_screening",
			    json_integer(f->screened - f->screen_failed - f->enrolled));
	json_object_set_new(o, "enrolled", json_integer(f->enrolled));
	json_object_set_new(o, "active", json_integer(f->enrolled - f->completed - f->withdrawn));
	json_object_set_new(o, "completed", json_integer(f->completed));
	json_object_set_new(o, "withdrawn", json_integer(f->withdrawn));
	json_object_set(o, "withdrawals_by_reason", f->withdrawals_by_reason);
	json_object_set_new(o, "sites",
			    json_pack("{s:I, s:I, s:I, s:I}", "known", (json_int_t)f->sites_known,
				      "active", (json_int_t)f->sites_active, "closed",
				      (json_int_t)f->sites_closed, "not_yet_active",
				      (json_int_t)f->sites_not_yet_active));
	json_object_set_new(o, "site_months", enrollment_number_json(site_months, 2));
	json_object_set_new(o, "enrollment_rate_per_site_month",
			    site_months > 0 ? enrollment_number_json(f->enrolled / site_months, 3)
					    : json_null());
	json_object_set_new(o, "median_days_to_first_enrollment", median_json(f->delays, f->ndelays));
	json_object_set_new(o, "sites_with_first_enrollment", json_integer((json_int_t)f->ndelays));
	json_object_set(o, "zero_enrollment_sites", f->zero_sites);
	json_object_set_new(o, "target", f->target >= 0 ? json_integer(f->target) : json_null());
	json_object_set_new(o, "percent_of_target",
			    f->target > 0 ? percent_json((double)f->enrolled, (double)f->target)
					  : json_null());
	json_object_set_new(o, "plan", plan_json(has_plan, planned, f->enrolled));
	return o;
}

static const char *site_state(const struct enrollment_site *site)
{
	if (site->closed)
		return "closed";
	return site->active ? "active" : "not_yet_active";
}

/* Sets the group's "figures" from f, which it releases. */
static void group_add_figures(json_t *g, struct figures *f, bool has_plan, double planned)
{
	json_object_set_new(g, "figures", figures_json(f, has_plan, planned));
	figures_release(f);
}

static json_t *site_groups(const struct enrollment_snapshot *s, const struct enrollment_plan *p)
{
	json_t *groups = json_array();

	for (size_t i = 0; i < s->nsites; i++) {
		const struct enrollment_site *site = &s->sites[i];
		struct figures f;
		double planned = 0;
		bool has_plan = plan_site(p, site, s->as_of, &planned);
		json_t *g = json_pack("{s:s, s:I, s:s, s:s, s:o, s:o, s:o}", "site_number",
				      site->site_number, "study_site_id", (json_int_t)site->id,
				      "country", site->country, "state", site_state(site),
				      "activated_on", enrollment_date_json(site->activated_on),
				      "closed_on", enrollment_date_json(site->closed_on),
				      "planned_activation_on",
				      enrollment_date_json(site->planned_activation_on));

		figures_init(&f, 1);
		figures_add_site(&f, s, i);
		group_add_figures(g, &f, has_plan, planned);
		json_array_append_new(groups, g);
	}
	return groups;
}

static int compare_country(const void *pa, const void *pb)
{
	return strcmp(*(const char *const *)pa, *(const char *const *)pb);
}

static json_t *country_groups(const struct enrollment_snapshot *s, const struct enrollment_plan *p)
{
	const char **countries = xcalloc(s->nsites ? s->nsites : 1, sizeof(*countries));
	json_t *groups = json_array();
	size_t n = 0;

	for (size_t i = 0; i < s->nsites; i++)
		countries[n++] = s->sites[i].country;
	qsort(countries, n, sizeof(*countries), compare_country);
	for (size_t c = 0; c < n; c++) {
		struct figures f;
		double planned = 0;
		bool has_plan;

		if (c > 0 && !strcmp(countries[c], countries[c - 1]))
			continue;
		figures_init(&f, s->nsites);
		for (size_t i = 0; i < s->nsites; i++)
			if (!strcmp(s->sites[i].country, countries[c]))
				figures_add_site(&f, s, i);
		has_plan = plan_country(p, s, countries[c], s->as_of, &planned);
		json_t *g = json_pack("{s:s}", "country", countries[c]);
		group_add_figures(g, &f, has_plan, planned);
		json_array_append_new(groups, g);
	}
	free(countries);
	return groups;
}

/* Months are numbered y * 12 + (m - 1). */
static int month_of(int32_t day)
{
	int y;
	unsigned m, d;
	civil_from_days(day, &y, &m, &d);
	return y * 12 + (int)m - 1;
}

static int32_t month_first_day(int month)
{
	return days_from_civil(month / 12, (unsigned)(month % 12) + 1, 1);
}

/* Subjects per month of each dated event, up to as-of. */
static int month_events(struct db *db, const struct enrollment_snapshot *s, int first_month,
			int nmonths, int64_t (*events)[5], struct err *e)
{
	static const char *const sql[5] = {
		"SELECT substr(screened_on, 1, 7), count(*) FROM subjects WHERE study_id = $1"
		" AND screened_on <= $2 GROUP BY substr(screened_on, 1, 7)",
		"SELECT substr(screen_failed_on, 1, 7), count(*) FROM subjects WHERE study_id = $1"
		" AND screen_failed_on <= $2 GROUP BY substr(screen_failed_on, 1, 7)",
		"SELECT substr(enrolled_on, 1, 7), count(*) FROM subjects WHERE study_id = $1"
		" AND enrolled_on <= $2 GROUP BY substr(enrolled_on, 1, 7)",
		"SELECT substr(completed_on, 1, 7), count(*) FROM subjects WHERE study_id = $1"
		" AND completed_on <= $2 GROUP BY substr(completed_on, 1, 7)",
		"SELECT substr(withdrawn_on, 1, 7), count(*) FROM subjects WHERE study_id = $1"
		" AND withdrawn_on <= $2 GROUP BY substr(withdrawn_on, 1, 7)",
	};
	char as_of[DATE_LEN];

	date_format(s->as_of, as_of);
	for (int k = 0; k < 5; k++) {
		struct db_stmt *st;
		int rc = db_prepare(db, sql[k], &st);
		if (rc)
			return err_set(e, rc, "cannot count subjects: %s", db_errmsg(db));
		db_bind_int(st, 1, s->study_id);
		db_bind_text(st, 2, as_of);
		while ((rc = db_step(st)) == 1) {
			char day[DATE_LEN];
			int32_t d;
			snprintf(day, sizeof(day), "%s-01", db_column_text(st, 0));
			if (date_parse(day, &d))
				continue;
			int m = month_of(d) - first_month;
			if (m >= 0 && m < nmonths)
				events[m][k] += db_column_int(st, 1);
		}
		if (rc < 0)
			return err_set(e, rc, "cannot count subjects: %s", db_errmsg(db));
	}
	return 0;
}

static int month_groups(struct db *db, const struct enrollment_snapshot *s,
			const struct enrollment_plan *p, json_t **out, struct err *e)
{
	static const char *const names[5] = {"screened", "screen_failed", "enrolled", "completed",
					     "withdrawn"};
	int first_month = month_of(s->first_day), last_month = month_of(s->as_of);
	int nmonths = last_month >= first_month ? last_month - first_month + 1 : 0;
	int64_t (*events)[5] = xcalloc((size_t)nmonths + 1, sizeof(*events));
	int64_t cumulative = 0;
	int rc;

	*out = NULL;
	if ((rc = month_events(db, s, first_month, nmonths, events, e))) {
		free(events);
		return rc;
	}
	*out = json_array();
	for (int m = 0; m < nmonths; m++) {
		int32_t start = month_first_day(first_month + m);
		int32_t end = month_first_day(first_month + m + 1) - 1;
		int64_t active_sites = 0, site_days = 0;
		double planned = 0, site_months;
		char month[DATE_LEN];
		json_t *g;

		if (end > s->as_of)
			end = s->as_of;
		for (size_t i = 0; i < s->nsites; i++) {
			const struct enrollment_site *site = &s->sites[i];
			int32_t from, to;
			if (site->activated_on == ENROLLMENT_NO_DAY)
				continue;
			from = site->activated_on > start ? site->activated_on : start;
			to = site->closed && site->closed_on < end ? site->closed_on : end;
			if (to >= from)
				site_days += to - from + 1;
			active_sites += site->activated_on <= end && !(site->closed && site->closed_on <= end);
		}
		cumulative += events[m][2];
		site_months = site_days / ENROLLMENT_DAYS_PER_MONTH;
		date_format(start, month);
		month[7] = '\0';
		g = json_pack("{s:s, s:o}", "month", month, "through", enrollment_date_json(end));
		for (int k = 0; k < 5; k++)
			json_object_set_new(g, names[k], json_integer(events[m][k]));
		json_object_set_new(g, "cumulative_enrolled", json_integer(cumulative));
		json_object_set_new(g, "active_sites", json_integer(active_sites));
		json_object_set_new(g, "site_months", enrollment_number_json(site_months, 2));
		json_object_set_new(g, "enrollment_rate_per_site_month",
				    site_months > 0 ? enrollment_number_json(events[m][2] / site_months, 3)
						    : json_null());
		json_object_set_new(g, "planned_cumulative",
				    plan_study(p, s, end, &planned) ? enrollment_number_json(planned, 1)
								     : json_null());
		json_array_append_new(*out, g);
	}
	free(events);
	return 0;
}

int enrollment_report(struct db *db, int64_t study_id, const char *as_of, const char *by,
		      json_t **out, struct err *e)
{
	struct enrollment_snapshot s;
	struct enrollment_plan plan = {0};
	struct figures totals;
	double planned = 0;
	bool has_plan;
	json_t *report = NULL, *groups = NULL;
	int rc;

	*out = NULL;
	if (by && strcmp(by, "site") && strcmp(by, "country") && strcmp(by, "month"))
		return err_field(e, "by", "must be one of: site, country, month");
	rc = enrollment_snapshot_load(db, study_id, as_of, &s, e);
	if (!rc)
		rc = enrollment_plan_load(db, study_id, &plan, e);
	if (rc)
		goto done;

	figures_init(&totals, s.nsites);
	for (size_t i = 0; i < s.nsites; i++)
		figures_add_site(&totals, &s, i);
	totals.target = s.target;
	has_plan = plan_study(&plan, &s, s.as_of, &planned);
	report = json_pack("{s:I, s:s, s:s, s:o, s:o, s:o}", "study_id", (json_int_t)study_id,
			   "protocol_number", s.protocol_number, "status", s.status, "as_of",
			   enrollment_date_json(s.as_of), "first_record_on",
			   enrollment_date_json(s.first_day), "by", by ? json_string(by) : json_null());
	json_object_set_new(report, "totals", figures_json(&totals, has_plan, planned));
	figures_release(&totals);

	if (by && !strcmp(by, "site"))
		groups = site_groups(&s, &plan);
	else if (by && !strcmp(by, "country"))
		groups = country_groups(&s, &plan);
	else if (by && (rc = month_groups(db, &s, &plan, &groups, e)))
		goto done;
	json_object_set_new(report, "groups", groups ? groups : json_array());
	*out = report;
	report = NULL;
done:
	json_decref(report);
	enrollment_plan_release(&plan);
	enrollment_snapshot_release(&s);
	return rc ? rc : e->code;
}
