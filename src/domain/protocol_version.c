#include "domain/protocol_version.h"

#include <string.h>

#include "db/db.h"
#include "domain/signature.h"
#include "domain/study.h"
#include "util/json.h"

static const char *const states[] = {"draft", "approved", "rejected", NULL};

static const struct state_def lifecycle_states[] = {
	{"draft", (const char *const[]){"approved", "rejected", NULL}, false, NULL},
	{"approved", (const char *const[]){NULL}, false, NULL},
	{"rejected", (const char *const[]){NULL}, true, NULL},
};

static const struct state_machine lifecycle = {lifecycle_states, NELEMS(lifecycle_states)};

static const struct field_def fields[] = {
	FIELD_REF("study_id", F_SERVER, "studies"),
	FIELD_TEXT("number", F_REQUIRED | F_IMMUTABLE | F_UNIQUE | F_FILTER, 32),
	FIELD_DATE("version_date", F_REQUIRED),
	FIELD_TEXT("summary", 0, 4000),
	FIELD_STATUS(states),
	FIELD_TEXT("status_reason", F_SERVER, 1000),
	FIELD_DATE("approved_on", F_SERVER),
	FIELD_DATE("rejected_on", F_SERVER),
};

static int check(struct db *db, const json_t *old, const json_t *rec, struct err *e)
{
	if (old && strcmp(json_str(old, "status"), "draft"))
		return err_set(e, CTMS_ECONFLICT,
			       "protocol version %s is %s and can no longer be edited; an amendment is a "
			       "new protocol version",
			       json_str(old, "number"), json_str(old, "status"));
	return 0;
}

static int on_transition(struct db *db, const struct actor *a, const json_t *old, json_t *rec,
			 struct err *e)
{
	const char *approved = json_str(rec, "approved_on");
	const char *dated = json_str(rec, "version_date");
	if (approved && !json_str(old, "approved_on") && strcmp(approved, dated) < 0)
		return err_field(e, "on", "is before the version's date %s", dated);
	/* 21 CFR 11.50, 11.70: a protocol version becomes current only with a
	 * manager's valid "approved" signature on the content approved. */
	if (!strcmp(json_str(rec, "status"), "approved") &&
	    !signature_by_manager(db, &protocol_version_def, old, "approved"))
		return err_set(e, CTMS_ESTATE,
			       "protocol version %s needs a valid \"approved\" electronic signature by a "
			       "manager before it is approved (POST /api/v1/signatures)",
			       json_str(old, "number"));
	return 0;
}

static void render(struct db *db, json_t *rec)
{
	int64_t current = 0;
	db_query_int(db,
		     "SELECT id FROM protocol_versions WHERE study_id = $1 AND status = 'approved'"
		     " ORDER BY version_date DESC, id DESC LIMIT 1",
		     &current, 1, json_int(rec, "study_id", 0));
	json_object_set_new(rec, "current", json_boolean(current == json_int(rec, "id", 0)));
}

const struct entity_def protocol_version_def = {
	.name = "protocol_version",
	.table = "protocol_versions",
	.parent_field = "study_id",
	.parent_table = "studies",
	.parent_def = &study_def,
	.fields = fields,
	.nfields = NELEMS(fields),
	.sm = &lifecycle,
	.check = check,
	.on_transition = on_transition,
	.render = render,
};

int protocol_version_approved(struct db *db, int64_t study_id, const char *number, struct err *e)
{
	struct db_stmt *st;
	int rc = db_prepare(db,
			    "SELECT 1 FROM protocol_versions WHERE study_id = $1 AND number = $2"
			    " AND status = 'approved'",
			    &st);
	if (rc)
		return err_set(e, rc, "cannot read protocol versions: %s", db_errmsg(db));
	db_bind_int(st, 1, study_id);
	db_bind_text(st, 2, number);
	rc = db_step(st);
	if (rc == 1) {
		db_done(st);
		return 0;
	}
	return rc == 0 ? CTMS_ENOTFOUND : err_set(e, rc, "cannot read protocol versions");
}
