/* Adverse events (AE) and exposure (EX) of an SDTM import (sdtm.h for the
 * mapping). A subject's records of one dataset are one transaction; when
 * the domain refuses one, each is retried alone so the others load and the
 * refused one is reported with its reason. A record is keyed by its
 * subject and sequence number (AESEQ, EXSEQ), so a re-import writes
 * nothing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "domain/adverse_event.h"
#include "domain/exposure.h"
#include "io/sdtm_internal.h"
#include "util/json.h"

struct event_kind {
	const char *dataset; /* "ae.csv" */
	const struct entity_def *def;
	const struct csv_table *t;
	struct import_counts *counts;
	/* The record input of row; NULL with why set when it cannot be mapped. */
	json_t *(*map)(struct sdtm_import *im, const struct sdtm_subject *s, size_t row, char *why,
		       size_t len);
};

static const char *cell(const struct csv_table *t, size_t row, const char *column)
{
	return csv_cell(t, row, csv_column(t, column));
}

static void where_of(const struct event_kind *k, size_t row, char *where, size_t len)
{
	snprintf(where, len, "%s:%zu", k->dataset, k->t->lines ? k->t->lines[row] : row + 2);
}

/* A positive sequence number, or 0. */
static int64_t sequence(const char *text)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(text, &end, 10);
	/* SAS numbers may come as "3" or "3.0". */
	if (end != text && !strcmp(end, ".0"))
		end += 2;
	return errno || *end || end == text || v < 1 || v > 99999999 ? 0 : (int64_t)v;
}

static bool is_code(const char *const *codes, const char *value)
{
	for (size_t i = 0; codes[i]; i++)
		if (!strcmp(codes[i], value))
			return true;
	return false;
}

/* Sets field to the value of column when it is one of codes; notes a value
 * that is not. */
static void set_code(struct sdtm_import *im, const char *where, json_t *in, const char *field,
		     const char *value, const char *column, const char *const *codes)
{
	if (!value[0])
		return;
	if (is_code(codes, value))
		json_object_set_new(in, field, json_string(value));
	else
		sdtm_note(im->r, where, "%s '%s' is not a CDISC code ctms knows; %s left empty", column,
			  value, field);
}

static void set_text(json_t *in, const char *field, const char *value)
{
	if (value[0])
		json_object_set_new(in, field, json_string(value));
}

/* An ISO 8601 date of the source, cut at its time; "" when empty or not a
 * date, noted. Never completed: a partial date stays partial. */
static void set_date(struct sdtm_import *im, const char *where, json_t *in, const char *field,
		     const char *value, const char *column, bool *partial)
{
	char day[DATE_LEN];
	size_t len = strcspn(value, "T");

	*partial = false;
	if (!value[0])
		return;
	if (len < sizeof(day)) {
		memcpy(day, value, len);
		day[len] = '\0';
		if (partial_date_valid(day)) {
			*partial = len < 10;
			json_object_set_new(in, field, json_string(day));
			return;
		}
	}
	sdtm_note(im->r, where, "%s '%s' is not an ISO 8601 date; %s left empty", column, value, field);
}

static json_t *ae_fields(struct sdtm_import *im, const struct sdtm_subject *s, size_t row,
			 char *why, size_t len)
{
	static const struct {
		const char *column, *field;
	} criteria[] = {
		{"AESDTH", "results_in_death"}, {"AESLIFE", "life_threatening"},
		{"AESHOSP", "hospitalisation"}, {"AESDISAB", "disability"},
		{"AESCONG", "congenital_anomaly"}, {"AESMIE", "medically_important"},
		{"AESCAN", "cancer"},		{"AESOD", "overdose"},
	};
	const struct csv_table *t = &im->ae;
	const char *term = cell(t, row, "AETERM"), *serious = cell(t, row, "AESER");
	const char *onset = cell(t, row, "AESTDTC");
	int64_t seq = sequence(cell(t, row, "AESEQ"));
	char where[64];
	bool partial;
	json_t *in;

	snprintf(where, sizeof(where), "ae.csv:%zu", t->lines[row]);
	if (!seq) {
		snprintf(why, len, "AESEQ '%s' is not a sequence number", cell(t, row, "AESEQ"));
		return NULL;
	}
	if (!term[0]) {
		snprintf(why, len, "AETERM is empty: an adverse event needs its reported term");
		return NULL;
	}
	if (strcmp(serious, "Y") && strcmp(serious, "N")) {
		snprintf(why, len, "AESER '%s' is not Y or N", serious);
		return NULL;
	}
	in = json_pack("{s:I, s:s, s:s}", "sequence_number", (json_int_t)seq, "term", term, "serious",
		       serious);
	if (!in) {
		snprintf(why, len, "AETERM is not valid UTF-8");
		return NULL;
	}
	im->r->serious_events += !strcmp(serious, "Y");
	im->r->deaths += !strcmp(cell(t, row, "AESDTH"), "Y") || !strcmp(cell(t, row, "AEOUT"), "FATAL");
	set_text(in, "decoded_term", cell(t, row, "AEDECOD"));
	set_text(in, "body_system", cell(t, row, "AEBODSYS"));
	set_text(in, "relationship", cell(t, row, "AEREL"));
	set_date(im, where, in, "onset_on", onset, "AESTDTC", &partial);
	im->r->partial_onsets += partial;
	if (!json_object_get(in, "onset_on"))
		im->r->missing_onsets++;
	set_date(im, where, in, "end_on", cell(t, row, "AEENDTC"), "AEENDTC", &partial);
	im->r->partial_ends += partial;
	set_code(im, where, in, "severity", cell(t, row, "AESEV"), "AESEV",
		 adverse_event_severity_codes);
	set_code(im, where, in, "action_taken", cell(t, row, "AEACN"), "AEACN",
		 adverse_event_action_codes);
	set_code(im, where, in, "outcome", cell(t, row, "AEOUT"), "AEOUT", adverse_event_outcome_codes);
	for (size_t i = 0; i < NELEMS(criteria); i++)
		set_code(im, where, in, criteria[i].field, cell(t, row, criteria[i].column),
			 criteria[i].column, yes_no_codes);
	onset = json_str(in, "onset_on");
	if (onset && partial_date_before(onset, s->screened_on)) {
		/* The source says so; ctms records it as such and says why. */
		json_object_set_new(in, "onset_before_screening_reason",
				    json_string("SDTM AESTDTC precedes the subject's screening date; "
						"recorded as the source has it"));
		im->r->onset_before_screening++;
		sdtm_note(im->r, where, "%s AESEQ %lld: onset %s is before the screening on %s; kept "
			  "as in the source, with the reason recorded", s->usubjid, (long long)seq,
			  onset, s->screened_on);
	}
	if (!json_object_get(in, "end_on"))
		im->r->no_end_date++;
	return in;
}

/* EXDOSE as a decimal number ctms keeps as text: "54", "0.5"; SAS may
 * write "54.0", kept as written. */
static bool dose_valid(const char *s)
{
	size_t digits = strspn(s, "0123456789");
	if (!digits)
		return false;
	if (!s[digits])
		return true;
	return s[digits] == '.' && s[digits + 1] &&
	       strspn(s + digits + 1, "0123456789") == strlen(s + digits + 1);
}

static json_t *ex_fields(struct sdtm_import *im, const struct sdtm_subject *s, size_t row,
			 char *why, size_t len)
{
	const struct csv_table *t = &im->ex;
	const char *dose = cell(t, row, "EXDOSE");
	int64_t seq = sequence(cell(t, row, "EXSEQ"));
	char where[64];
	bool partial;
	json_t *in;

	(void)s;
	snprintf(where, sizeof(where), "ex.csv:%zu", t->lines[row]);
	if (!seq) {
		snprintf(why, len, "EXSEQ '%s' is not a sequence number", cell(t, row, "EXSEQ"));
		return NULL;
	}
	in = json_pack("{s:I}", "sequence_number", (json_int_t)seq);
	set_date(im, where, in, "start_on", cell(t, row, "EXSTDTC"), "EXSTDTC", &partial);
	if (!json_object_get(in, "start_on")) {
		snprintf(why, len, "EXSTDTC '%s' is not a date: exposure needs its start",
			 cell(t, row, "EXSTDTC"));
		json_decref(in);
		return NULL;
	}
	set_date(im, where, in, "end_on", cell(t, row, "EXENDTC"), "EXENDTC", &partial);
	set_text(in, "treatment", cell(t, row, "EXTRT"));
	if (dose[0] && dose_valid(dose))
		json_object_set_new(in, "dose", json_string(dose));
	else if (dose[0])
		sdtm_note(im->r, where, "EXDOSE '%s' is not a decimal number; dose left empty", dose);
	set_text(in, "dose_unit", cell(t, row, "EXDOSU"));
	set_text(in, "dose_form", cell(t, row, "EXDOSFRM"));
	set_text(in, "dose_frequency", cell(t, row, "EXDOSFRQ"));
	set_text(in, "route", cell(t, row, "EXROUTE"));
	return in;
}

static void reject_row(struct sdtm_import *im, const struct event_kind *k, size_t row,
		       const char *usubjid, const struct err *e, const char *why)
{
	char where[64], text[1024];

	where_of(k, row, where, sizeof(where));
	if (e)
		err_describe(e, text, sizeof(text));
	sdtm_reject(im->r, where, usubjid, "%s", e ? text : why);
	k->counts->rejected++;
}

/* Writes inputs (for rows) under the subject: all in one transaction, or
 * each alone when the domain refuses one. */
static int write_rows(struct sdtm_import *im, const struct event_kind *k,
		      const struct sdtm_subject *s, json_t *inputs, json_t *rows, struct err *e)
{
	size_t i;
	json_t *in;
	int rc = db_begin(im->db);

	if (rc)
		return err_set(e, rc, "the store is busy");
	json_array_foreach(inputs, i, in)
		if ((rc = record_create(im->db, im->a, k->def, s->id, in, NULL, e)))
			break;
	if (rc)
		db_rollback(im->db);
	else if ((rc = db_commit(im->db)))
		err_set(e, rc, "cannot commit: %s", db_errmsg(im->db));
	if (!rc) {
		k->counts->created += (int64_t)json_array_size(inputs);
		return 0;
	}
	err_release(e);
	err_init(e);
	json_array_foreach(inputs, i, in) {
		struct err one;
		err_init(&one);
		if (record_create(im->db, im->a, k->def, s->id, in, NULL, &one))
			reject_row(im, k, (size_t)json_integer_value(json_array_get(rows, i)), s->usubjid,
				   &one, NULL);
		else
			k->counts->created++;
		err_release(&one);
	}
	return 0;
}

/* {sequence_number: true} of the subject's records already in ctms. */
static int existing_sequences(struct sdtm_import *im, const struct event_kind *k,
			      const struct sdtm_subject *s, json_t *out, struct err *e)
{
	struct list_query q = {.parent_id = s->id, .limit = 1000};
	json_t *items, *rec;
	int64_t next = 0;
	size_t i;
	int rc;

	if (!s->existed)
		return 0;
	do {
		q.after_id = next;
		if ((rc = record_list(im->db, im->a, k->def, &q, &items, &next, e)))
			return rc;
		json_array_foreach(items, i, rec) {
			char key[32];
			snprintf(key, sizeof(key), "%lld", (long long)json_int(rec, "sequence_number", 0));
			json_object_set_new(out, key, json_true());
		}
		json_decref(items);
	} while (next);
	return 0;
}

static int subject_rows(struct sdtm_import *im, const struct event_kind *k,
			const struct sdtm_subject *s, const json_t *rows, struct err *e)
{
	json_t *existing = json_object(), *inputs = json_array(), *kept = json_array(), *row;
	char why[512], key[32];
	size_t i;
	int rc = existing_sequences(im, k, s, existing, e);

	json_array_foreach(rows, i, row) {
		size_t r = (size_t)json_integer_value(row);
		json_t *in;
		if (rc)
			break;
		in = k->map(im, s, r, why, sizeof(why));
		if (!in) {
			reject_row(im, k, r, s->usubjid, NULL, why);
			continue;
		}
		snprintf(key, sizeof(key), "%lld", (long long)json_int(in, "sequence_number", 0));
		if (json_object_get(existing, key)) {
			k->counts->unchanged++;
			json_decref(in);
		} else {
			json_object_set_new(existing, key, json_true());
			json_array_append_new(inputs, in);
			json_array_append(kept, row);
		}
	}
	if (!rc && json_array_size(inputs))
		rc = write_rows(im, k, s, inputs, kept, e);
	json_decref(existing);
	json_decref(inputs);
	json_decref(kept);
	return rc;
}

static int import_kind(struct sdtm_import *im, const struct event_kind *k, struct err *e)
{
	int subject = csv_column(k->t, "USUBJID");
	json_t *by_subject = json_object(), *rows;
	const char *id;
	int rc = 0;

	for (size_t i = 0; i < k->t->nrows; i++) {
		id = csv_cell(k->t, i, subject);
		if (!(rows = json_object_get(by_subject, id)))
			json_object_set_new(by_subject, id, rows = json_array());
		json_array_append_new(rows, json_integer((json_int_t)i));
	}
	for (size_t i = 0; !rc && i < im->dm.nrows; i++) {
		const struct sdtm_subject *s = &im->subjects[i];
		size_t r;
		json_t *row;
		if (!(rows = json_object_get(by_subject, s->usubjid)))
			continue;
		if (s->skip || !s->id)
			json_array_foreach(rows, r, row)
				reject_row(im, k, (size_t)json_integer_value(row), s->usubjid, NULL,
					   "the subject was rejected");
		else
			rc = subject_rows(im, k, s, rows, e);
		json_object_del(by_subject, s->usubjid);
	}
	json_object_foreach(by_subject, id, rows) {
		size_t r;
		json_t *row;
		json_array_foreach(rows, r, row)
			reject_row(im, k, (size_t)json_integer_value(row), id, NULL,
				   "USUBJID is not a subject of dm.csv");
	}
	json_decref(by_subject);
	return rc;
}

int sdtm_events_import(struct sdtm_import *im, struct err *e)
{
	const struct event_kind kinds[] = {
		{"ae.csv", &adverse_event_def, &im->ae, &im->r->adverse_events, ae_fields},
		{"ex.csv", &exposure_def, &im->ex, &im->r->exposures, ex_fields},
	};
	int rc = 0;

	for (size_t i = 0; !rc && i < NELEMS(kinds); i++)
		if (kinds[i].t->ncolumns)
			rc = import_kind(im, &kinds[i], e);
	return rc;
}
