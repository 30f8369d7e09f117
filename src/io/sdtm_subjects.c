/* The subjects of an SDTM import: DM demographics, DS dispositions, SV
 * visits (sdtm.h for the mapping). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "domain/codes.h"
#include "domain/subject.h"
#include "domain/visit.h"
#include "io/sdtm_internal.h"
#include "util/json.h"

#define SCREEN_FAILURE "SCREEN FAILURE"

static bool is_code(const char *const *codes, const char *value)
{
	for (size_t i = 0; codes[i]; i++)
		if (!strcmp(codes[i], value))
			return true;
	return false;
}

/* {USUBJID: earliest SVSTDTC date} */
static json_t *first_visits(const struct csv_table *sv)
{
	int subject = csv_column(sv, "USUBJID"), start = csv_column(sv, "SVSTDTC");
	json_t *first = json_object();
	char day[DATE_LEN];

	for (size_t i = 0; i < sv->nrows; i++) {
		const char *id = csv_cell(sv, i, subject), *known = json_str(first, id);
		if (!date_of_iso8601(csv_cell(sv, i, start), day) && (!known || strcmp(day, known) < 0))
			json_object_set_new(first, id, json_string(day));
	}
	return first;
}

/* {USUBJID: row of its disposition event}: the latest when there are several. */
static json_t *dispositions(struct sdtm_import *im)
{
	const struct csv_table *ds = &im->ds;
	int subject = csv_column(ds, "USUBJID"), category = csv_column(ds, "DSCAT");
	int start = csv_column(ds, "DSSTDTC");
	json_t *rows = json_object();

	for (size_t i = 0; i < ds->nrows; i++) {
		const char *id = csv_cell(ds, i, subject);
		json_t *known = json_object_get(rows, id);
		if (strcmp(csv_cell(ds, i, category), "DISPOSITION EVENT"))
			continue;
		if (known) {
			char where[64];
			size_t k = (size_t)json_integer_value(known);
			snprintf(where, sizeof(where), "ds.csv:%zu", i + 2);
			sdtm_note(im->r, where, "%s has a second disposition event; the later one counts",
				  id);
			if (strcmp(csv_cell(ds, i, start), csv_cell(ds, k, start)) < 0)
				continue;
		}
		json_object_set_new(rows, id, json_integer((json_int_t)i));
	}
	return rows;
}

static void plan_disposition(struct sdtm_import *im, struct sdtm_subject *s, const json_t *row,
			     const char *where)
{
	const struct csv_table *ds = &im->ds;
	size_t i = (size_t)json_integer_value(row);
	const char *decod = csv_cell(ds, i, csv_column(ds, "DSDECOD"));
	const char *term = csv_cell(ds, i, csv_column(ds, "DSTERM"));

	s->target = s->enrolled_on[0] ? "enrolled" : "screened";
	if (!row)
		return;
	if (date_of_iso8601(csv_cell(ds, i, csv_column(ds, "DSSTDTC")), s->ended_on)) {
		sdtm_note(im->r, where, "%s: the disposition %s has no full date; not recorded",
			  s->usubjid, decod);
		return;
	}
	if (!strcmp(decod, SCREEN_FAILURE) && !s->enrolled_on[0]) {
		s->target = "screen_failed";
		snprintf(s->reason, sizeof(s->reason), "%s", term[0] ? term : decod);
	} else if (!s->enrolled_on[0]) {
		sdtm_note(im->r, where, "%s: disposition %s but no RFSTDTC; left screened", s->usubjid,
			  decod);
	} else if (!strcmp(decod, "COMPLETED")) {
		s->target = "completed";
	} else {
		/* The coded reason (CDISC NCOMPLT), so reports group by it. */
		s->target = "withdrawn";
		snprintf(s->reason, sizeof(s->reason), "%s", decod);
	}
}

void sdtm_subjects_plan(struct sdtm_import *im)
{
	const struct csv_table *dm = &im->dm;
	int id = csv_column(dm, "USUBJID"), consent = csv_column(dm, "RFICDTC");
	int start = csv_column(dm, "RFSTDTC");
	json_t *first = first_visits(&im->sv), *disposed = dispositions(im);

	for (size_t i = 0; i < dm->nrows; i++) {
		struct sdtm_subject *s = &im->subjects[i];
		const char *visit, *consented = csv_cell(dm, i, consent);
		char where[64];

		snprintf(where, sizeof(where), "dm.csv:%zu", i + 2);
		s->row = i;
		s->usubjid = csv_cell(dm, i, id);
		visit = json_str(first, s->usubjid);
		if (date_of_iso8601(consented, s->consented_on)) {
			im->r->missing_consent++;
			if (consented[0])
				sdtm_note(im->r, where, "%s: RFICDTC '%s' is not a full date; not recorded",
					  s->usubjid, consented);
		}
		if (visit)
			memcpy(s->screened_on, visit, DATE_LEN);
		if (s->consented_on[0] && (!visit || strcmp(s->consented_on, visit) < 0))
			memcpy(s->screened_on, s->consented_on, DATE_LEN);
		if (!s->screened_on[0]) {
			sdtm_reject(im->r, where, s->usubjid,
				    "no screening date: RFICDTC is empty and SV holds no dated visit");
			im->r->subjects.rejected++;
			s->skip = true;
			continue;
		}
		const char *rfstdtc = csv_cell(dm, i, start);
		if (date_of_iso8601(rfstdtc, s->enrolled_on) && rfstdtc[0])
			sdtm_note(im->r, where, "%s: RFSTDTC '%s' is not a full date; not enrolled",
				  s->usubjid, rfstdtc);
		plan_disposition(im, s, json_object_get(disposed, s->usubjid), where);
	}
	json_decref(first);
	json_decref(disposed);
}

/* The subject's fields from DM; NULL with why set when one cannot be mapped. */
static json_t *subject_fields(struct sdtm_import *im, const struct sdtm_subject *s, char *why,
			      size_t len)
{
	const struct csv_table *dm = &im->dm;
	size_t i = s->row;
#define DM(name) csv_cell(dm, i, csv_column(dm, name))
	const char *sex = DM("SEX"), *race = DM("RACE"), *ethnic = DM("ETHNIC"), *age = DM("AGE");
	const char *unit = DM("AGEU"), *arm = DM("ARM");
	char *end;
	long long years;
	json_t *in;

	errno = 0;
	years = strtoll(age, &end, 10);
	if (!age[0] || *end || errno || (unit[0] && strcmp(unit, "YEARS"))) {
		snprintf(why, len, "AGE '%s' %s is not an age in years", age, unit);
		return NULL;
	}
	if (!is_code(sex_codes, sex)) {
		snprintf(why, len, "SEX '%s' is not F, M, U or UNDIFFERENTIATED", sex);
		return NULL;
	}
	in = json_pack("{s:s, s:s, s:s, s:I, s:s}", "site_number", DM("SITEID"), "screening_number",
		       s->usubjid, "sex", sex, "age", (json_int_t)years, "screened_on", s->screened_on);
	if (!in) {
		snprintf(why, len, "a DM value is not valid UTF-8");
		return NULL;
	}
	if (race[0] && is_code(race_codes, race))
		json_object_set_new(in, "race", json_string(race));
	else if (race[0])
		sdtm_note(im->r, "dm.csv", "%s: RACE '%s' has no ctms code; left empty", s->usubjid, race);
	if (ethnic[0] && is_code(ethnicity_codes, ethnic))
		json_object_set_new(in, "ethnicity", json_string(ethnic));
	else if (ethnic[0])
		sdtm_note(im->r, "dm.csv", "%s: ETHNIC '%s' has no ctms code; left empty", s->usubjid,
			  ethnic);
	/* Screen failures were never randomised: DM.ARM "Screen Failure" is no arm. */
	if (arm[0] && s->enrolled_on[0])
		json_object_set_new(in, "arm", json_string(arm));
	if (s->enrolled_on[0] && DM("SUBJID")[0])
		json_object_set_new(in, "subject_number", json_string(DM("SUBJID")));
	if (s->consented_on[0])
		json_object_set_new(in, "consented_on", json_string(s->consented_on));
#undef DM
	return in;
}

static int step(struct sdtm_import *im, struct sdtm_subject *s, const char *to, const char *on,
		const char *reason, struct err *e)
{
	struct transition t = {to, on, reason && reason[0] ? reason : NULL};
	int rc = record_transition(im->db, im->a, &subject_def, s->id, 0, &t, NULL, e);
	if (!rc)
		snprintf(s->status, sizeof(s->status), "%s", to);
	return rc;
}

/* Creates the subject (or finds it) and records a screen failure. */
static int screen(struct sdtm_import *im, struct sdtm_subject *s, const json_t *existing,
		  struct err *e)
{
	char why[600];
	json_t *in = subject_fields(im, s, why, sizeof(why)), *old, *rec = NULL;
	int rc = 0;

	if (!in)
		return err_set(e, CTMS_EINVAL, "%s", why);
	old = json_object_get(existing, s->usubjid);
	if (old) {
		static const char *const compared[] = {"sex", "age", "race", "ethnicity", "screened_on",
						       "site_number"};
		for (size_t i = 0; i < NELEMS(compared); i++)
			if (!json_same(json_object_get(old, compared[i]), json_object_get(in, compared[i])))
				sdtm_note(im->r, "dm.csv", "%s: %s differs from the record in ctms; left as is",
					  s->usubjid, compared[i]);
		s->id = json_int(old, "id", 0);
		s->existed = true;
		snprintf(s->status, sizeof(s->status), "%s", json_str(old, "status"));
		im->r->subjects.unchanged++;
	} else {
		rc = record_create(im->db, im->a, &subject_def, im->study_id, in, &rec, e);
		s->id = json_int(rec, "id", 0);
		snprintf(s->status, sizeof(s->status), "%s", rc ? "" : json_str(rec, "status"));
	}
	if (!rc && !strcmp(s->target, "screen_failed") && !strcmp(s->status, "screened"))
		rc = step(im, s, "screen_failed", s->ended_on, s->reason, e);
	if (!rc && !old)
		im->r->subjects.created++;
	json_decref(rec);
	json_decref(in);
	return rc;
}

/* Enrollment, after consent, then completion or withdrawal. */
static int enroll(struct sdtm_import *im, struct sdtm_subject *s, const json_t *existing,
		  struct err *e)
{
	const json_t *old = json_object_get(existing, s->usubjid);
	bool consented = s->consented_on[0] || json_str(old, "consented_on");
	int rc = 0;

	if (strcmp(s->status, "screened"))
		goto decided;
	if (!consented && im->options->consent_on_screening) {
		json_t *patch = json_pack(
			"{s:s, s:s}", "consented_on", s->screened_on, "change_reason",
			"SDTM DM.RFICDTC is empty: consent date not in the source; recorded as the "
			"screening date, the latest date consent can have preceded screening");
		json_t *cur = NULL;
		rc = record_get(im->db, im->a, &subject_def, s->id, &cur, e);
		if (!rc)
			rc = record_update(im->db, im->a, &subject_def, s->id, json_int(cur, "version", 0),
					   patch, NULL, e);
		json_decref(cur);
		json_decref(patch);
		consented = !rc;
		im->r->consent_on_screening += !rc;
	}
	if (!rc && !consented) {
		im->r->not_enrolled++;
		return 0;
	}
	if (!rc)
		rc = step(im, s, "enrolled", s->enrolled_on, NULL, e);
decided:
	if (!rc && !strcmp(s->status, "enrolled") && strcmp(s->target, "enrolled"))
		rc = step(im, s, s->target, s->ended_on, s->reason, e);
	return rc;
}

typedef int (*subject_step)(struct sdtm_import *, struct sdtm_subject *, const json_t *,
			    struct err *);

/* One subject's step in its own transaction; a failure rejects the subject. */
static void in_transaction(struct sdtm_import *im, struct sdtm_subject *s, subject_step fn,
			   const json_t *existing)
{
	struct err e;
	int rc;

	err_init(&e);
	rc = db_begin(im->db);
	if (!rc) {
		rc = fn(im, s, existing, &e);
		if (rc)
			db_rollback(im->db);
		else if ((rc = db_commit(im->db)))
			err_set(&e, rc, "cannot commit: %s", db_errmsg(im->db));
	} else {
		err_set(&e, rc, "the store is busy");
	}
	if (rc) {
		char where[64], why[1024];
		snprintf(where, sizeof(where), "dm.csv:%zu", s->row + 2);
		err_describe(&e, why, sizeof(why));
		sdtm_reject(im->r, where, s->usubjid, "%s", why);
		if (fn == screen) {
			im->r->subjects.rejected++;
			s->skip = true;
		}
	}
	err_release(&e);
}

static int by_screening(const void *x, const void *y)
{
	const struct sdtm_subject *a = *(struct sdtm_subject *const *)x;
	const struct sdtm_subject *b = *(struct sdtm_subject *const *)y;
	int c = strcmp(a->screened_on, b->screened_on);
	return c ? c : (a->row > b->row) - (a->row < b->row);
}

static int by_enrollment(const void *x, const void *y)
{
	const struct sdtm_subject *a = *(struct sdtm_subject *const *)x;
	const struct sdtm_subject *b = *(struct sdtm_subject *const *)y;
	int c = strcmp(a->enrolled_on, b->enrolled_on);
	return c ? c : (a->row > b->row) - (a->row < b->row);
}

int sdtm_subjects_import(struct sdtm_import *im, struct err *e)
{
	size_t n = im->dm.nrows;
	struct sdtm_subject **order = calloc(n ? n : 1, sizeof(*order));
	json_t *existing = NULL;
	int rc;

	if (!order)
		abort();
	rc = record_index(im->db, im->a, &subject_def, im->study_id, "screening_number", &existing, e);
	for (size_t i = 0; i < n; i++)
		order[i] = &im->subjects[i];
	/* Screening, then enrollment, each in date order: a site moves to
	 * enrolling on its first enrollment in the data. */
	qsort(order, n, sizeof(*order), by_screening);
	for (size_t i = 0; !rc && i < n; i++)
		if (!order[i]->skip)
			in_transaction(im, order[i], screen, existing);
	qsort(order, n, sizeof(*order), by_enrollment);
	for (size_t i = 0; !rc && i < n; i++)
		if (!order[i]->skip && order[i]->enrolled_on[0])
			in_transaction(im, order[i], enroll, existing);
	for (size_t i = 0; i < n; i++) {
		const char *status = im->subjects[i].skip ? "" : im->subjects[i].status;
		im->r->screened += !strcmp(status, "screened");
		im->r->screen_failed += !strcmp(status, "screen_failed");
		im->r->enrolled += !strcmp(status, "enrolled");
		im->r->completed += !strcmp(status, "completed");
		im->r->withdrawn += !strcmp(status, "withdrawn");
	}
	json_decref(existing);
	free(order);
	if (!rc)
		rc = sdtm_visits_import(im, e);
	if (!rc)
		rc = sdtm_events_import(im, e);
	return rc;
}
