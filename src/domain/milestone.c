#include "domain/milestone.h"

#include <string.h>

#include "db/db.h"
#include "domain/study.h"
#include "util/date.h"
#include "util/json.h"

static const char *const kinds[] = {
	"protocol_approval", "regulatory_approval", "ethics_approval", "first_site_activated",
	"first_subject_screened", "first_subject_enrolled", "last_subject_enrolled",
	"last_subject_last_visit", "database_lock", "clinical_study_report", "site_selection",
	"site_initiation", "site_activation", "site_close_out", "other", NULL,
};

static const struct field_def fields[] = {
	FIELD_REF("study_id", F_SERVER, "studies"),
	FIELD_REF("study_site_id", F_FILTER, "study_sites"),
	FIELD_TEXT("name", F_REQUIRED, 200),
	FIELD_ENUM("kind", F_REQUIRED | F_FILTER, kinds),
	FIELD_DATE("baseline_on", 0),
	FIELD_DATE("planned_on", 0),
	FIELD_DATE("actual_on", 0),
	FIELD_TEXT("notes", 0, 4000),
};

static int check(struct db *db, const json_t *old, const json_t *rec, struct err *e)
{
	const char *actual = json_str(rec, "actual_on");
	int64_t site = json_int(rec, "study_site_id", 0);
	int32_t day;

	if (actual && !date_parse(actual, &day) && day > date_latest_today())
		err_field(e, "actual_on", "is in the future; an actual date is recorded when it happens");
	if (site) {
		int64_t study = 0;
		int rc = db_query_int(db, "SELECT study_id FROM study_sites WHERE id = $1", &study, 1, site);
		if (rc && rc != CTMS_ENOTFOUND)
			return err_set(e, rc, "cannot read study-site: %s", db_errmsg(db));
		if (study != json_int(rec, "study_id", 0))
			err_field(e, "study_site_id", "names no site of this study");
	}
	return e->code;
}

/* Derived, so it cannot drift: overdue when the planned date has passed and
 * no actual date is recorded; variance against the baseline in days. */
static void render(struct db *db, json_t *rec)
{
	const char *planned = json_str(rec, "planned_on"), *baseline = json_str(rec, "baseline_on");
	const char *actual = json_str(rec, "actual_on");
	int32_t p, b, a;
	bool overdue = planned && !actual && !date_parse(planned, &p) && p < day_of_us(now_us());

	json_object_set_new(rec, "overdue", json_boolean(overdue));
	if (baseline && !date_parse(baseline, &b) && !date_parse(actual ? actual : planned ? planned : "", &a))
		json_object_set_new(rec, "variance_days", json_integer(a - b));
	else
		json_object_set_new(rec, "variance_days", json_null());
	(void)db;
}

const struct entity_def milestone_def = {
	.name = "milestone",
	.table = "milestones",
	.parent_field = "study_id",
	.parent_table = "studies",
	.parent_def = &study_def,
	.fields = fields,
	.nfields = NELEMS(fields),
	.check = check,
	.render = render,
};
