#include "domain/adverse_event.h"

#include <stdio.h>
#include <string.h>

#include "db/db.h"
#include "domain/subject.h"
#include "util/buf.h"
#include "util/date.h"
#include "util/json.h"

const char *const adverse_event_severity_codes[] = {"MILD", "MODERATE", "SEVERE", NULL};
const char *const adverse_event_outcome_codes[] = {
	"FATAL",
	"NOT RECOVERED/NOT RESOLVED",
	"RECOVERED/RESOLVED",
	"RECOVERED/RESOLVED WITH SEQUELAE",
	"RECOVERING/RESOLVING",
	"UNKNOWN",
	NULL,
};
const char *const adverse_event_action_codes[] = {
	"DOSE INCREASED",   "DOSE NOT CHANGED", "DOSE RATE REDUCED", "DOSE REDUCED",
	"DRUG INTERRUPTED", "DRUG WITHDRAWN",	"NOT APPLICABLE",    "UNKNOWN",
	NULL,
};
const char *const yes_no_codes[] = {"Y", "N", NULL};

#define FIELD_YN(n, fl) \
	{.name = (n), .type = FT_ENUM, .flags = (fl), .codes = yes_no_codes, .hint = "Y or N"}

static const struct field_def fields[] = {
	FIELD_REF("study_id", F_SERVER | F_FILTER, "studies"),
	FIELD_REF("subject_id", F_SERVER | F_FILTER, "subjects"),
	FIELD_INT("sequence_number", F_IMMUTABLE | F_UNIQUE, 1, 99999999),
	FIELD_TEXT("term", F_REQUIRED, 200),
	FIELD_TEXT("decoded_term", F_FILTER, 200),
	FIELD_TEXT("body_system", F_FILTER, 200),
	FIELD_TEXT("onset_on", 0, 10),
	FIELD_TEXT("end_on", 0, 10),
	FIELD_TEXT("onset_before_screening_reason", 0, 1000),
	FIELD_ENUM("severity", F_FILTER, adverse_event_severity_codes),
	FIELD_YN("serious", F_REQUIRED | F_FILTER),
	/* The seriousness criteria (ICH E2A II.B; SDTM AESDTH, AESLIFE,
	 * AESHOSP, AESDISAB, AESCONG, AESMIE, and AESCAN, AESOD of SDTMIG 3.1). */
	FIELD_YN("results_in_death", F_FILTER),
	FIELD_YN("life_threatening", 0),
	FIELD_YN("hospitalisation", 0),
	FIELD_YN("disability", 0),
	FIELD_YN("congenital_anomaly", 0),
	FIELD_YN("medically_important", 0),
	FIELD_YN("cancer", 0),
	FIELD_YN("overdose", 0),
	/* Causality is sponsor-defined terminology in SDTM (AEREL): text. */
	FIELD_TEXT("relationship", F_FILTER, 40),
	FIELD_ENUM("action_taken", 0, adverse_event_action_codes),
	FIELD_ENUM("outcome", F_FILTER, adverse_event_outcome_codes),
};

bool partial_date_valid(const char *s)
{
	char full[DATE_LEN];
	size_t len = s ? strlen(s) : 0;

	if (len != 4 && len != 7 && len != 10)
		return false;
	if (len == 10)
		return date_valid(s);
	/* Complete with the first day of the year or month only to check it. */
	memcpy(full, s, len);
	memcpy(full + len, "-01-01", sizeof(full) - len);
	full[DATE_LEN - 1] = '\0';
	return date_valid(full);
}

bool partial_date_before(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	return strncmp(a, b, la < lb ? la : lb) < 0;
}

int subject_screened_on(struct db *db, int64_t subject_id, char *out, struct err *e)
{
	struct db_stmt *st;
	int rc = db_prepare(db, "SELECT screened_on FROM subjects WHERE id = $1", &st);

	out[0] = '\0';
	if (rc)
		return err_set(e, rc, "cannot read the subject: %s", db_errmsg(db));
	db_bind_int(st, 1, subject_id);
	rc = db_step(st);
	if (rc < 0)
		return err_set(e, rc, "cannot read the subject: %s", db_errmsg(db));
	if (rc == 1) {
		snprintf(out, DATE_LEN, "%s", db_column_text(st, 0) ? db_column_text(st, 0) : "");
		db_done(st);
	}
	return 0;
}

int subject_record_prepare(struct db *db, const char *table, json_t *values, struct err *e)
{
	const char *next_sql = !strcmp(table, "exposures")
				       ? "SELECT coalesce(max(sequence_number), 0) + 1 FROM exposures"
					 " WHERE subject_id = $1"
				       : "SELECT coalesce(max(sequence_number), 0) + 1 FROM adverse_events"
					 " WHERE subject_id = $1";
	int64_t subject_id = json_int(values, "subject_id", 0), next = 0;
	struct db_stmt *st;
	int rc = db_prepare(db, "SELECT study_id, study_site_id FROM subjects WHERE id = $1", &st);

	if (rc)
		return err_set(e, rc, "cannot read the subject: %s", db_errmsg(db));
	db_bind_int(st, 1, subject_id);
	rc = db_step(st);
	if (rc != 1)
		return err_set(e, rc ? rc : CTMS_ENOTFOUND, "cannot read the subject: %s", db_errmsg(db));
	json_object_set_new(values, "study_id", json_integer(db_column_int(st, 0)));
	json_object_set_new(values, "study_site_id", json_integer(db_column_int(st, 1)));
	db_done(st);
	if (json_object_get(values, "sequence_number"))
		return 0;
	rc = db_query_int(db, next_sql, &next, 1, subject_id);
	if (rc)
		return err_set(e, rc, "cannot number the record: %s", db_errmsg(db));
	json_object_set_new(values, "sequence_number", json_integer(next));
	return 0;
}

void partial_date_check(const json_t *rec, const char *field, struct err *e)
{
	const char *s = json_str(rec, field);
	char today[DATE_LEN];

	if (!s)
		return;
	if (!partial_date_valid(s)) {
		err_field(e, field, "must be an ISO 8601 date YYYY-MM-DD, or YYYY-MM or YYYY when the "
				    "day or month is not known");
		return;
	}
	date_format(date_latest_today(), today);
	if (partial_date_before(today, s))
		err_field(e, field, "is in the future");
}

static int prepare(struct db *db, const struct actor *a, json_t *values, struct err *e)
{
	(void)a;
	return subject_record_prepare(db, "adverse_events", values, e);
}

static int check(struct db *db, const json_t *old, const json_t *rec, struct err *e)
{
	const char *onset = json_str(rec, "onset_on"), *end = json_str(rec, "end_on");
	char screened[DATE_LEN];
	int rc;

	(void)old;
	partial_date_check(rec, "onset_on", e);
	partial_date_check(rec, "end_on", e);
	if (e->code)
		return e->code;
	if (onset && end && partial_date_before(end, onset))
		err_field(e, "end_on", "is before the onset on %s", onset);
	rc = subject_screened_on(db, json_int(rec, "subject_id", 0), screened, e);
	if (rc)
		return rc;
	if (onset && screened[0] && partial_date_before(onset, screened) &&
	    !json_str(rec, "onset_before_screening_reason"))
		err_field(e, "onset_on",
			  "is before the subject's screening on %s: an event that began before "
			  "screening is medical history; to record it as an adverse event all the "
			  "same, give onset_before_screening_reason",
			  screened);
	if (!json_str(rec, "serious"))
		err_field(e, "serious", "cannot be null: Y or N");
	return e->code;
}

const struct entity_def adverse_event_def = {
	.name = "adverse_event",
	.table = "adverse_events",
	.parent_field = "subject_id",
	.parent_table = "subjects",
	.parent_def = &subject_def,
	.fields = fields,
	.nfields = NELEMS(fields),
	.join = "JOIN subjects sj ON sj.id = t.subject_id",
	.join_columns = "sj.study_site_id AS study_site_id, sj.screening_number AS screening_number",
	.prepare = prepare,
	.check = check,
};
