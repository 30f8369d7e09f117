#include "domain/study.h"

#include <stdio.h>
#include <string.h>

#include "db/db.h"
#include "domain/codes.h"
#include "util/json.h"

static const char *const states[] = {
	"planned", "start_up", "enrolling", "follow_up", "closed", "terminated", "withdrawn", NULL,
};

static const struct state_def lifecycle_states[] = {
	{"planned", (const char *const[]){"start_up", "withdrawn", NULL}, false, NULL},
	{"start_up", (const char *const[]){"enrolling", "withdrawn", NULL}, false, NULL},
	{"enrolling", (const char *const[]){"follow_up", "terminated", NULL}, false, NULL},
	{"follow_up", (const char *const[]){"closed", "terminated", NULL}, false, NULL},
	{"closed", (const char *const[]){NULL}, false, NULL},
	{"terminated", (const char *const[]){NULL}, true, NULL},
	{"withdrawn", (const char *const[]){NULL}, true, NULL},
};

static const struct state_machine lifecycle = {lifecycle_states, NELEMS(lifecycle_states)};

static const struct field_def fields[] = {
	FIELD_TEXT("protocol_number", F_REQUIRED | F_UNIQUE | F_FILTER, 64),
	FIELD_TEXT("nct_id", F_UNIQUE | F_FILTER, 11),
	FIELD_TEXT("title", F_REQUIRED, 1000),
	FIELD_TEXT("acronym", 0, 64),
	FIELD_ENUM("phase", F_REQUIRED | F_FILTER, phase_codes),
	FIELD_TEXT("therapeutic_area", F_FILTER, 200),
	FIELD_REF("sponsor_id", F_FILTER, "organisations"),
	FIELD_INT("target_enrollment", F_REQUIRED, 1, 10000000),
	FIELD_DATE("planned_start_on", 0),
	FIELD_DATE("planned_end_on", 0),
	FIELD_STATUS(states),
	FIELD_TEXT("status_reason", F_SERVER, 1000),
	FIELD_DATE("start_up_on", F_SERVER),
	FIELD_DATE("enrolling_on", F_SERVER),
	FIELD_DATE("follow_up_on", F_SERVER),
	FIELD_DATE("closed_on", F_SERVER),
	FIELD_DATE("terminated_on", F_SERVER),
	FIELD_DATE("withdrawn_on", F_SERVER),
};

static bool nct_valid(const char *s)
{
	if (strlen(s) != 11 || strncmp(s, "NCT", 3))
		return false;
	for (int i = 3; i < 11; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int check(struct db *db, const json_t *old, const json_t *rec, struct err *e)
{
	const char *nct = json_str(rec, "nct_id");
	const char *start = json_str(rec, "planned_start_on"), *end = json_str(rec, "planned_end_on");

	if (nct && !nct_valid(nct))
		err_field(e, "nct_id", "must be a ClinicalTrials.gov id: NCT and 8 digits");
	if (start && end && strcmp(end, start) < 0)
		err_field(e, "planned_end_on", "is before planned_start_on (%s)", start);
	return e->code;
}

/* The current protocol version is derived: the latest approved one. */
static void render(struct db *db, json_t *rec)
{
	struct db_stmt *st;
	json_t *current = json_null();

	if (!db_prepare(db,
			"SELECT id, number FROM protocol_versions WHERE study_id = $1 AND status = 'approved'"
			" ORDER BY version_date DESC, id DESC LIMIT 1",
			&st)) {
		db_bind_int(st, 1, json_int(rec, "id", 0));
		if (db_step(st) == 1) {
			current = json_pack("{s:I, s:s}", "id", (json_int_t)db_column_int(st, 0), "number",
					    db_column_text(st, 1));
			db_done(st);
		}
	}
	json_object_set_new(rec, "current_protocol_version", current);
}

const struct entity_def study_def = {
	.name = "study",
	.table = "studies",
	.fields = fields,
	.nfields = NELEMS(fields),
	.sm = &lifecycle,
	.check = check,
	.render = render,
};

int study_status(struct db *db, int64_t study_id, char *status, size_t len, struct err *e)
{
	struct db_stmt *st;
	int rc = db_prepare(db, "SELECT status FROM studies WHERE id = $1", &st);
	if (rc)
		return err_set(e, rc, "cannot read study: %s", db_errmsg(db));
	db_bind_int(st, 1, study_id);
	rc = db_step(st);
	if (rc == 1) {
		snprintf(status, len, "%s", db_column_text(st, 0));
		db_done(st);
		return 0;
	}
	return rc == 0 ? err_set(e, CTMS_ENOTFOUND, "study %lld was not found", (long long)study_id)
		       : err_set(e, rc, "cannot read study: %s", db_errmsg(db));
}
