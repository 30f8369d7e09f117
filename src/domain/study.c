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

/* Registration data, in ClinicalTrials.gov's codes (its API v2 enums), so
 * that a record reads the same in both places. */
static const char *const registry_statuses[] = {
	"NOT_YET_RECRUITING", "RECRUITING", "ENROLLING_BY_INVITATION", "ACTIVE_NOT_RECRUITING",
	"SUSPENDED", "TERMINATED", "COMPLETED", "WITHDRAWN", "UNKNOWN", "WITHHELD",
	"AVAILABLE", "NO_LONGER_AVAILABLE", "TEMPORARILY_NOT_AVAILABLE", "APPROVED_FOR_MARKETING",
	NULL,
};
static const char *const date_types[] = {"ACTUAL", "ESTIMATED", NULL};
static const char *const study_types[] = {"INTERVENTIONAL", "OBSERVATIONAL", "EXPANDED_ACCESS", NULL};
static const char *const allocations[] = {"RANDOMIZED", "NON_RANDOMIZED", "NA", NULL};
static const char *const intervention_models[] = {
	"SINGLE_GROUP", "PARALLEL", "CROSSOVER", "FACTORIAL", "SEQUENTIAL", NULL,
};
static const char *const observational_models[] = {
	"COHORT", "CASE_CONTROL", "CASE_ONLY", "CASE_CROSSOVER", "ECOLOGIC_OR_COMMUNITY",
	"FAMILY_BASED", "DEFINED_POPULATION", "NATURAL_HISTORY", "OTHER", NULL,
};
static const char *const maskings[] = {"NONE", "SINGLE", "DOUBLE", "TRIPLE", "QUADRUPLE", NULL};
static const char *const purposes[] = {
	"TREATMENT", "PREVENTION", "DIAGNOSTIC", "ECT", "SUPPORTIVE_CARE", "SCREENING",
	"HEALTH_SERVICES_RESEARCH", "BASIC_SCIENCE", "DEVICE_FEASIBILITY", "OTHER", NULL,
};
static const char *const arm_types[] = {
	"EXPERIMENTAL", "ACTIVE_COMPARATOR", "PLACEBO_COMPARATOR", "SHAM_COMPARATOR",
	"NO_INTERVENTION", "OTHER", NULL,
};
static const char *const sexes[] = {"ALL", "FEMALE", "MALE", NULL};

static const struct field_def condition = FIELD_TEXT("condition", F_REQUIRED, 300);
static const struct field_def collaborator = FIELD_TEXT("collaborator", F_REQUIRED, 200);
static const struct field_def intervention = FIELD_TEXT("intervention", F_REQUIRED, 300);
static const struct field_def arm_members[] = {
	FIELD_TEXT("label", F_REQUIRED, 200),
	FIELD_ENUM("type", 0, arm_types),
	FIELD_TEXT("description", 0, 4000),
	FIELD_LIST("interventions", 0, 100, &intervention),
};
static const struct field_def arm = {
	.name = "arm", .type = FT_OBJECT, .members = arm_members, .nmembers = NELEMS(arm_members),
};

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
	FIELD_ENUM("registry_status", F_FILTER, registry_statuses),
	FIELD_TEXT("why_stopped", 0, 1000),
	FIELD_ENUM("start_date_type", 0, date_types),
	FIELD_ENUM("completion_date_type", 0, date_types),
	FIELD_ENUM("target_enrollment_type", 0, date_types),
	FIELD_ENUM("study_type", F_FILTER, study_types),
	FIELD_ENUM("allocation", 0, allocations),
	FIELD_ENUM("intervention_model", 0, intervention_models),
	FIELD_ENUM("observational_model", 0, observational_models),
	FIELD_ENUM("masking", 0, maskings),
	FIELD_ENUM("primary_purpose", 0, purposes),
	FIELD_LIST("conditions", 0, 200, &condition),
	FIELD_LIST("collaborators", 0, 100, &collaborator),
	FIELD_LIST("arms", 0, 100, &arm),
	FIELD_ENUM("eligibility_sex", 0, sexes),
	FIELD_TEXT("eligibility_minimum_age", 0, 32),
	FIELD_TEXT("eligibility_maximum_age", 0, 32),
	{.name = "healthy_volunteers", .type = FT_BOOL},
	FIELD_TEXT("eligibility_criteria", 0, 30000),
};

bool study_nct_valid(const char *s)
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

	if (nct && !study_nct_valid(nct))
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
