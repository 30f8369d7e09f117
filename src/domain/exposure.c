#include "domain/exposure.h"

#include <stdlib.h>
#include <string.h>

#include "domain/adverse_event.h"
#include "domain/subject.h"
#include "util/date.h"
#include "util/json.h"

static const struct field_def fields[] = {
	FIELD_REF("study_id", F_SERVER | F_FILTER, "studies"),
	FIELD_REF("subject_id", F_SERVER | F_FILTER, "subjects"),
	FIELD_INT("sequence_number", F_IMMUTABLE | F_UNIQUE, 1, 99999999),
	FIELD_TEXT("treatment", F_BLINDED, 200),
	/* A decimal number as text, so 0.125 stays 0.125. */
	FIELD_TEXT("dose", F_BLINDED, 24),
	FIELD_TEXT("dose_unit", 0, 40),
	FIELD_TEXT("dose_form", 0, 80),
	FIELD_TEXT("dose_frequency", 0, 40),
	FIELD_TEXT("route", 0, 80),
	FIELD_TEXT("start_on", F_REQUIRED, 10),
	FIELD_TEXT("end_on", 0, 10),
};

/* A non-negative decimal: digits, optionally a point and more digits. */
static bool decimal_valid(const char *s)
{
	size_t digits = strspn(s, "0123456789");
	if (!digits)
		return false;
	if (s[digits] == '\0')
		return true;
	return s[digits] == '.' && s[digits + 1] && strspn(s + digits + 1, "0123456789") ==
							   strlen(s + digits + 1);
}

static int prepare(struct db *db, const struct actor *a, json_t *values, struct err *e)
{
	(void)a;
	return subject_record_prepare(db, "exposures", values, e);
}

static int check(struct db *db, const json_t *old, const json_t *rec, struct err *e)
{
	const char *start = json_str(rec, "start_on"), *end = json_str(rec, "end_on");
	const char *dose = json_str(rec, "dose");
	char screened[DATE_LEN];
	int rc;

	(void)old;
	if (!start)
		err_field(e, "start_on", "cannot be null");
	partial_date_check(rec, "start_on", e);
	partial_date_check(rec, "end_on", e);
	if (dose && !decimal_valid(dose))
		err_field(e, "dose", "must be a decimal number such as 54 or 0.5");
	if (e->code)
		return e->code;
	if (start && end && partial_date_before(end, start))
		err_field(e, "end_on", "is before the start on %s", start);
	rc = subject_screened_on(db, json_int(rec, "subject_id", 0), screened, e);
	if (rc)
		return rc;
	if (start && screened[0] && partial_date_before(start, screened))
		err_field(e, "start_on", "is before the subject's screening on %s", screened);
	return e->code;
}

const struct entity_def exposure_def = {
	.name = "exposure",
	.table = "exposures",
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
