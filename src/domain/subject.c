#include "domain/subject.h"

#include <string.h>

#include "db/db.h"
#include "domain/access.h"
#include "domain/codes.h"
#include "domain/protocol_version.h"
#include "domain/study.h"
#include "domain/study_site.h"
#include "util/date.h"
#include "util/json.h"

static const char *const states[] = {
	"screened", "screen_failed", "enrolled", "completed", "withdrawn", NULL,
};

static const struct state_def lifecycle_states[] = {
	{"screened", (const char *const[]){"screen_failed", "enrolled", NULL}, false, NULL},
	{"screen_failed", (const char *const[]){NULL}, true, "screen_failure_reason"},
	{"enrolled", (const char *const[]){"completed", "withdrawn", NULL}, false, NULL},
	{"completed", (const char *const[]){NULL}, false, NULL},
	{"withdrawn", (const char *const[]){NULL}, true, "withdrawal_reason"},
};

static const struct state_machine lifecycle = {lifecycle_states, NELEMS(lifecycle_states)};

static const struct field_def fields[] = {
	FIELD_REF("study_id", F_SERVER, "studies"),
	FIELD_REF("study_site_id", F_SERVER | F_FILTER, "study_sites"),
	FIELD_TEXT("site_number", F_VIRTUAL | F_REQUIRED, 32),
	FIELD_TEXT("screening_number", F_REQUIRED | F_IMMUTABLE | F_UNIQUE | F_FILTER, 32),
	FIELD_TEXT("subject_number", F_UNIQUE | F_FILTER, 32),
	FIELD_ENUM("sex", F_REQUIRED | F_FILTER, sex_codes),
	FIELD_ENUM("race", F_FILTER, race_codes),
	FIELD_ENUM("ethnicity", F_FILTER, ethnicity_codes),
	FIELD_INT("age", F_REQUIRED, 0, 130),
	FIELD_DATE("consented_on", 0),
	FIELD_TEXT("consent_version", 0, 32),
	FIELD_STATUS(states),
	FIELD_TEXT("status_reason", F_SERVER, 1000),
	FIELD_DATE("screened_on", F_REQUIRED | F_IMMUTABLE),
	FIELD_DATE("screen_failed_on", F_SERVER),
	FIELD_TEXT("screen_failure_reason", F_SERVER, 1000),
	FIELD_DATE("enrolled_on", F_SERVER),
	FIELD_DATE("completed_on", F_SERVER),
	FIELD_DATE("withdrawn_on", F_SERVER),
	FIELD_TEXT("withdrawal_reason", F_SERVER, 1000),
	/* The randomised arm: blinded (ICH E9 2.3.1) to every role without an
	 * unblinded grant, in records, lists and the audit trail view. */
	FIELD_TEXT("arm", F_BLINDED, 200),
};

const char *const subject_age_bands[] = {"0-17", "18-64", "65-74", "75-84", "85+", NULL};

const char *subject_age_band(int64_t age)
{
	if (age < 18)
		return "0-17";
	if (age < 65)
		return "18-64";
	if (age < 75)
		return "65-74";
	if (age < 85)
		return "75-84";
	return "85+";
}

/* Screening happens at an activated or enrolling site of an enrolling
 * study, on or after the site's activation. */
static int prepare(struct db *db, const struct actor *a, json_t *values, struct err *e)
{
	int64_t study_id = json_int(values, "study_id", 0);
	const char *site_number = json_str(values, "site_number");
	const char *screened = json_str(values, "screened_on");
	char study_status_text[32];
	struct db_stmt *st;
	int rc;

	rc = study_status(db, study_id, study_status_text, sizeof(study_status_text), e);
	if (rc)
		return rc;
	rc = db_prepare(db,
			"SELECT id, status, activated_on FROM study_sites WHERE study_id = $1"
			" AND site_number = $2",
			&st);
	if (rc)
		return err_set(e, rc, "cannot read study-sites: %s", db_errmsg(db));
	db_bind_int(st, 1, study_id);
	db_bind_text(st, 2, site_number);
	rc = db_step(st);
	if (rc < 0)
		return err_set(e, rc, "cannot read study-sites: %s", db_errmsg(db));
	if (rc == 0)
		return err_field(e, "site_number", "names no site of this study");
	/* A site the actor may not see answers as one that does not exist. */
	json_t *scope = json_pack("{s:I, s:I}", "id", (json_int_t)db_column_int(st, 0), "study_id",
				  (json_int_t)study_id);
	struct err hidden = {0};
	bool visible = !access_read(a, &study_site_def, scope, &hidden);
	json_decref(scope);
	err_release(&hidden);
	if (!visible) {
		db_done(st);
		return err_field(e, "site_number", "names no site of this study");
	}
	json_object_set_new(values, "study_site_id", json_integer(db_column_int(st, 0)));
	if (strcmp(db_column_text(st, 1), "activated") && strcmp(db_column_text(st, 1), "enrolling")) {
		err_set(e, CTMS_ECONFLICT,
			"site %s is %s; subjects may be screened only at an activated or enrolling site",
			site_number, db_column_text(st, 1));
		db_done(st);
		return CTMS_ECONFLICT;
	}
	if (screened && db_column_text(st, 2) && strcmp(screened, db_column_text(st, 2)) < 0)
		err_field(e, "screened_on", "is before the site's activation on %s",
			  db_column_text(st, 2));
	db_done(st);
	if (strcmp(study_status_text, "enrolling"))
		return err_set(e, CTMS_ECONFLICT,
			       "the study is %s; subjects may be screened only while it is enrolling",
			       study_status_text);
	return e->code;
}

static int check(struct db *db, const json_t *old, const json_t *rec, struct err *e)
{
	const char *consented = json_str(rec, "consented_on");
	const char *version = json_str(rec, "consent_version");
	const char *enrolled = json_str(rec, "enrolled_on");
	int32_t day;

	if (!old) {
		if (!date_parse(json_str(rec, "screened_on"), &day) && day > date_latest_today())
			err_field(e, "screened_on", "is in the future");
	}
	if (consented && !date_parse(consented, &day) && day > date_latest_today())
		err_field(e, "consented_on", "is in the future");
	if (consented && enrolled && strcmp(consented, enrolled) > 0)
		err_field(e, "consented_on", "is after the enrollment on %s", enrolled);
	if (!consented && enrolled)
		err_field(e, "consented_on", "cannot be removed: the subject was enrolled on %s",
			  enrolled);
	if (version && (!old || !json_same(json_object_get(rec, "consent_version"),
					   json_object_get(old, "consent_version")))) {
		int rc = protocol_version_approved(db, json_int(rec, "study_id", 0), version, e);
		if (rc == CTMS_ENOTFOUND)
			err_field(e, "consent_version", "names no approved protocol version of this study");
		else if (rc)
			return rc;
	}
	return e->code;
}

/* ICH E6(R3) 2.8: consent is obtained before participation, so enrollment
 * needs a consent date on or before it. The first enrollment at an
 * activated site moves the site to enrolling. */
static int on_transition(struct db *db, const struct actor *a, const json_t *old, json_t *rec,
			 struct err *e)
{
	const char *consented = json_str(rec, "consented_on");
	const char *on = json_str(rec, "enrolled_on");
	char study_status_text[32];
	struct db_stmt *st;
	int rc;

	if (strcmp(json_str(rec, "status"), "enrolled"))
		return 0;
	/* As for screening: no one joins a study whose enrollment has ended. */
	rc = study_status(db, json_int(rec, "study_id", 0), study_status_text,
			  sizeof(study_status_text), e);
	if (rc)
		return rc;
	if (strcmp(study_status_text, "enrolling"))
		return err_set(e, CTMS_ECONFLICT,
			       "the study is %s; subjects may be enrolled only while it is enrolling",
			       study_status_text);
	if (!consented)
		return err_field(e, "consented_on",
				 "must be recorded (PATCH the subject) before enrollment: consent comes "
				 "before participation");
	if (strcmp(consented, on) > 0)
		return err_field(e, "on", "is before the consent on %s", consented);
	rc = db_prepare(db, "SELECT status FROM study_sites WHERE id = $1", &st);
	if (rc)
		return err_set(e, rc, "cannot read study-site: %s", db_errmsg(db));
	db_bind_int(st, 1, json_int(rec, "study_site_id", 0));
	rc = db_step(st);
	if (rc != 1)
		return err_set(e, rc ? rc : CTMS_EDB, "cannot read study-site: %s", db_errmsg(db));
	bool activated = !strcmp(db_column_text(st, 0), "activated");
	bool enrolling = !strcmp(db_column_text(st, 0), "enrolling");
	db_done(st);
	if (activated) {
		/* The rule moves the site, on the enrolling actor's behalf: its
		 * audit event names them, but their roles need not move sites. */
		struct actor by_rule = *a;
		struct transition t = {"enrolling", on, "first subject enrolled"};
		json_t *site = NULL;
		by_rule.system = true;
		rc = record_transition(db, &by_rule, &study_site_def, json_int(rec, "study_site_id", 0), 0,
				       &t, &site, e);
		json_decref(site);
		return rc;
	}
	if (!enrolling)
		return err_set(e, CTMS_ECONFLICT, "the subject's site is not enrolling");
	return 0;
}

static void render(struct db *db, json_t *rec)
{
	json_object_set_new(rec, "age_band", json_string(subject_age_band(json_int(rec, "age", 0))));
}

const struct entity_def subject_def = {
	.name = "subject",
	.table = "subjects",
	.parent_field = "study_id",
	.parent_table = "studies",
	.parent_def = &study_def,
	.fields = fields,
	.nfields = NELEMS(fields),
	.sm = &lifecycle,
	.join = "JOIN study_sites ss ON ss.id = t.study_site_id",
	.join_columns = "ss.site_number AS site_number",
	.prepare = prepare,
	.check = check,
	.on_transition = on_transition,
	.render = render,
};
