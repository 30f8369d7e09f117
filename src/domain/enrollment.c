/* Loading a study's recruitment as of a date (the snapshot every enrollment
 * figure, forecast and diversity report starts from). The report itself is
 * in enrollment_report.c. */
#include "domain/enrollment.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "util/buf.h"
#include "util/date.h"
#include "util/err.h"

json_t *enrollment_date_json(int32_t day)
{
	char text[DATE_LEN];

	if (day == ENROLLMENT_NO_DAY || day < days_from_civil(1900, 1, 1) ||
	    day > days_from_civil(2199, 12, 31))
		return json_null();
	date_format(day, text);
	return json_string(text);
}

json_t *enrollment_number_json(double x, int decimals)
{
	double scale = pow(10, decimals);

	if (!isfinite(x))
		return json_null();
	x = round(x * scale) / scale;
	return json_real(x == 0 ? 0.0 : x); /* never -0 */
}

/* A stored date, or ENROLLMENT_NO_DAY for NULL or anything unparsable. */
static int32_t column_day(struct db_stmt *st, int i)
{
	int32_t day;
	const char *text = db_column_text(st, i);
	return text && !date_parse(text, &day) ? day : ENROLLMENT_NO_DAY;
}

static int32_t earlier(int32_t a, int32_t b)
{
	if (a == ENROLLMENT_NO_DAY)
		return b;
	if (b == ENROLLMENT_NO_DAY)
		return a;
	return a < b ? a : b;
}

/* The as-of date: today by default; never in the future. */
static int parse_as_of(const char *as_of, int32_t *day, struct err *e)
{
	if (!as_of) {
		*day = date_latest_today();
		return 0;
	}
	if (date_parse(as_of, day))
		return err_field(e, "as_of", "must be a calendar date YYYY-MM-DD");
	if (*day > date_latest_today())
		return err_field(e, "as_of",
				 "is in the future: figures exist up to today; a forecast looks ahead "
				 "from as_of");
	return 0;
}

/* The study: its target, status, when it left enrolling (by as-of) and its
 * earliest lifecycle date. */
static int load_study(struct db *db, struct enrollment_snapshot *s, int32_t *first,
		      struct err *e)
{
	struct db_stmt *st;
	int rc = db_prepare(db,
			    "SELECT protocol_number, status, target_enrollment, start_up_on, enrolling_on,"
			    " follow_up_on, closed_on, terminated_on, withdrawn_on, created_at"
			    " FROM studies WHERE id = $1",
			    &st);

	if (rc)
		return err_set(e, rc, "cannot read study: %s", db_errmsg(db));
	db_bind_int(st, 1, s->study_id);
	rc = db_step(st);
	if (rc != 1)
		return rc == 0 ? err_set(e, CTMS_ENOTFOUND, "study %lld was not found",
					 (long long)s->study_id)
			       : err_set(e, rc, "cannot read study: %s", db_errmsg(db));
	snprintf(s->protocol_number, sizeof(s->protocol_number), "%s", db_column_text(st, 0));
	snprintf(s->status, sizeof(s->status), "%s", db_column_text(st, 1));
	s->target = db_column_int(st, 2);
	for (int i = 3; i <= 8; i++) {
		int32_t day = column_day(st, i);
		*first = earlier(*first, day);
		/* follow_up, closed, terminated, withdrawn: enrollment is over */
		if (i >= 5 && day != ENROLLMENT_NO_DAY && day <= s->as_of)
			s->enrollment_ended_on = earlier(s->enrollment_ended_on, day);
	}
	if (*first == ENROLLMENT_NO_DAY)
		*first = day_of_us(db_column_int(st, 9));
	db_done(st);
	return 0;
}

static int compare_site_number(const void *pa, const void *pb)
{
	const struct enrollment_site *a = pa, *b = pb;
	return strcmp(a->site_number, b->site_number);
}

/* The study's sites known by as-of (first dated on or before it), with their
 * dates cut at as-of. A site with no date at all counts from its creation. */
static int load_sites(struct db *db, struct enrollment_snapshot *s, int32_t *first,
		      struct err *e)
{
	struct db_stmt *st;
	size_t alloc = 0;
	int rc = db_prepare(db,
			    "SELECT id, site_number, country, target_enrollment, planned_activation_on,"
			    " identified_on, feasibility_on, selected_on, approved_on, contracted_on,"
			    " initiated_on, activated_on, enrolling_on, closed_on, created_at"
			    " FROM study_sites WHERE study_id = $1 ORDER BY id",
			    &st);

	if (rc)
		return err_set(e, rc, "cannot read study-sites: %s", db_errmsg(db));
	db_bind_int(st, 1, s->study_id);
	while ((rc = db_step(st)) == 1) {
		struct enrollment_site site;
		int32_t known = ENROLLMENT_NO_DAY, a = s->as_of;

		memset(&site, 0, sizeof(site));
		for (int i = 5; i <= 13; i++)
			known = earlier(known, column_day(st, i));
		if (known == ENROLLMENT_NO_DAY)
			known = day_of_us(db_column_int(st, 14));
		*first = earlier(*first, known);
		if (known > a)
			continue;
		site.id = db_column_int(st, 0);
		snprintf(site.site_number, sizeof(site.site_number), "%s", db_column_text(st, 1));
		snprintf(site.country, sizeof(site.country), "%s", db_column_text(st, 2));
		site.target = db_column_type(st, 3) == DB_NULL ? -1 : db_column_int(st, 3);
		site.planned_activation_on = column_day(st, 4);
		site.activated_on = column_day(st, 11);
		site.closed_on = column_day(st, 13);
		if (site.activated_on != ENROLLMENT_NO_DAY && site.activated_on > a)
			site.activated_on = ENROLLMENT_NO_DAY;
		if (site.closed_on != ENROLLMENT_NO_DAY && site.closed_on > a)
			site.closed_on = ENROLLMENT_NO_DAY;
		site.closed = site.closed_on != ENROLLMENT_NO_DAY;
		site.active = site.activated_on != ENROLLMENT_NO_DAY && !site.closed;
		if (site.activated_on != ENROLLMENT_NO_DAY)
			site.active_days = (site.closed ? site.closed_on : a) - site.activated_on + 1;
		site.first_screened_on = site.first_enrolled_on = ENROLLMENT_NO_DAY;
		if (s->nsites == alloc) {
			alloc = alloc ? 2 * alloc : 16;
			s->sites = xrealloc(s->sites, alloc * sizeof(*s->sites));
		}
		s->sites[s->nsites++] = site;
	}
	if (rc < 0)
		return err_set(e, rc, "cannot read study-sites: %s", db_errmsg(db));
	if (s->nsites > 1)
		qsort(s->sites, s->nsites, sizeof(*s->sites), compare_site_number);
	return 0;
}

static struct enrollment_site *site_by_id(struct enrollment_snapshot *s, int64_t id, size_t *index)
{
	for (size_t i = 0; i < s->nsites; i++) {
		if (s->sites[i].id == id) {
			if (index)
				*index = i;
			return &s->sites[i];
		}
	}
	return NULL;
}

/* Subjects counted per site as of the date, in one pass over the study's
 * subjects (the index on subjects(study_id, status) serves it). */
static int load_counts(struct db *db, struct enrollment_snapshot *s, int32_t *first,
		       struct err *e)
{
	char as_of[DATE_LEN];
	struct db_stmt *st;
	int rc = db_prepare(db,
			    "SELECT study_site_id,"
			    " sum(CASE WHEN screened_on <= $2 THEN 1 ELSE 0 END),"
			    " sum(CASE WHEN screen_failed_on <= $2 THEN 1 ELSE 0 END),"
			    " sum(CASE WHEN enrolled_on <= $2 THEN 1 ELSE 0 END),"
			    " sum(CASE WHEN completed_on <= $2 THEN 1 ELSE 0 END),"
			    " sum(CASE WHEN withdrawn_on <= $2 THEN 1 ELSE 0 END),"
			    " min(CASE WHEN screened_on <= $2 THEN screened_on END),"
			    " min(CASE WHEN enrolled_on <= $2 THEN enrolled_on END),"
			    " min(screened_on)"
			    " FROM subjects WHERE study_id = $1 GROUP BY study_site_id",
			    &st);

	if (rc)
		return err_set(e, rc, "cannot count subjects: %s", db_errmsg(db));
	date_format(s->as_of, as_of);
	db_bind_int(st, 1, s->study_id);
	db_bind_text(st, 2, as_of);
	while ((rc = db_step(st)) == 1) {
		struct enrollment_site *site = site_by_id(s, db_column_int(st, 0), NULL);
		*first = earlier(*first, column_day(st, 8));
		if (!site)
			continue; /* a site not known by as-of has no subject by then */
		site->screened = db_column_int(st, 1);
		site->screen_failed = db_column_int(st, 2);
		site->enrolled = db_column_int(st, 3);
		site->completed = db_column_int(st, 4);
		site->withdrawn = db_column_int(st, 5);
		site->first_screened_on = column_day(st, 6);
		site->first_enrolled_on = column_day(st, 7);
	}
	return rc < 0 ? err_set(e, rc, "cannot count subjects: %s", db_errmsg(db)) : 0;
}

static int load_reasons(struct db *db, struct enrollment_snapshot *s, bool withdrawal,
			struct err *e)
{
	static const char *const sql[] = {
		"SELECT study_site_id, screen_failure_reason, count(*) FROM subjects"
		" WHERE study_id = $1 AND screen_failed_on <= $2"
		" GROUP BY study_site_id, screen_failure_reason",
		"SELECT study_site_id, withdrawal_reason, count(*) FROM subjects"
		" WHERE study_id = $1 AND withdrawn_on <= $2 GROUP BY study_site_id, withdrawal_reason",
	};
	char as_of[DATE_LEN];
	struct db_stmt *st;
	size_t alloc = s->nreasons;
	int rc = db_prepare(db, sql[withdrawal], &st);

	if (rc)
		return err_set(e, rc, "cannot count subjects: %s", db_errmsg(db));
	date_format(s->as_of, as_of);
	db_bind_int(st, 1, s->study_id);
	db_bind_text(st, 2, as_of);
	while ((rc = db_step(st)) == 1) {
		struct enrollment_reason *r;
		size_t index;
		if (!site_by_id(s, db_column_int(st, 0), &index))
			continue;
		if (s->nreasons == alloc) {
			alloc = alloc ? 2 * alloc : 16;
			s->reasons = xrealloc(s->reasons, alloc * sizeof(*s->reasons));
		}
		r = &s->reasons[s->nreasons++];
		r->site = index;
		r->withdrawal = withdrawal;
		r->reason = xstrdup(db_column_text(st, 1) ? db_column_text(st, 1) : "not recorded");
		r->count = db_column_int(st, 2);
	}
	return rc < 0 ? err_set(e, rc, "cannot count subjects: %s", db_errmsg(db)) : 0;
}

int enrollment_snapshot_load(struct db *db, int64_t study_id, const char *as_of,
			     struct enrollment_snapshot *out, struct err *e)
{
	int32_t first = ENROLLMENT_NO_DAY;
	int rc;

	memset(out, 0, sizeof(*out));
	out->study_id = study_id;
	out->enrollment_ended_on = ENROLLMENT_NO_DAY;
	if ((rc = parse_as_of(as_of, &out->as_of, e)))
		return rc;
	if ((rc = load_study(db, out, &first, e)) || (rc = load_sites(db, out, &first, e)) ||
	    (rc = load_counts(db, out, &first, e)) || (rc = load_reasons(db, out, false, e)) ||
	    (rc = load_reasons(db, out, true, e)))
		return rc;
	out->first_day = first;
	if (as_of && out->as_of < first) {
		char text[DATE_LEN];
		date_format(first, text);
		return err_field(e, "as_of",
				 "is before the study's first dated record (%s): there is nothing to "
				 "count yet",
				 text);
	}
	return 0;
}

void enrollment_snapshot_release(struct enrollment_snapshot *s)
{
	for (size_t i = 0; i < s->nreasons; i++)
		free(s->reasons[i].reason);
	free(s->reasons);
	free(s->sites);
	memset(s, 0, sizeof(*s));
}

int64_t enrollment_snapshot_enrolled(const struct enrollment_snapshot *s)
{
	int64_t n = 0;
	for (size_t i = 0; i < s->nsites; i++)
		n += s->sites[i].enrolled;
	return n;
}
