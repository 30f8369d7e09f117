#include "domain/study_site.h"

#include <string.h>

#include "domain/codes.h"
#include "domain/site.h"
#include "domain/study.h"
#include "util/date.h"
#include "util/json.h"

static const char *const states[] = {
	"identified", "feasibility", "selected", "approved", "contracted",
	"initiated",  "activated",   "enrolling", "closed",  NULL,
};

#define NEXT(...) (const char *const[]){__VA_ARGS__, NULL}
static const struct state_def lifecycle_states[] = {
	{"identified", NEXT("feasibility", "closed"), false, NULL},
	{"feasibility", NEXT("selected", "closed"), false, NULL},
	{"selected", NEXT("approved", "closed"), false, NULL},
	{"approved", NEXT("contracted", "closed"), false, NULL},
	{"contracted", NEXT("initiated", "closed"), false, NULL},
	{"initiated", NEXT("activated", "closed"), false, NULL},
	{"activated", NEXT("enrolling", "closed"), false, NULL},
	{"enrolling", NEXT("closed"), false, NULL},
	{"closed", (const char *const[]){NULL}, true, NULL},
};

static const struct state_machine lifecycle = {lifecycle_states, NELEMS(lifecycle_states)};

static const struct field_def fields[] = {
	FIELD_REF("study_id", F_SERVER, "studies"),
	FIELD_REF("site_id", F_SERVER | F_FILTER, "sites"),
	FIELD_TEXT("institution_name", F_VIRTUAL | F_REQUIRED, 200),
	FIELD_TEXT("city", F_VIRTUAL, 100),
	FIELD_TEXT("region", F_VIRTUAL, 100),
	FIELD_TEXT("postal_code", F_VIRTUAL, 20),
	FIELD_REAL("latitude", F_VIRTUAL, -90, 90),
	FIELD_REAL("longitude", F_VIRTUAL, -180, 180),
	FIELD_TEXT("site_number", F_REQUIRED | F_IMMUTABLE | F_UNIQUE | F_FILTER, 32),
	FIELD_TEXT("investigator_name", F_REQUIRED, 200),
	FIELD_COUNTRY("country", F_REQUIRED | F_IMMUTABLE | F_FILTER),
	{.name = "time_zone", .type = FT_TIMEZONE, .flags = F_REQUIRED},
	FIELD_INT("target_enrollment", 0, 0, 1000000),
	FIELD_DATE("planned_activation_on", 0),
	FIELD_STATUS(states),
	FIELD_TEXT("status_reason", F_SERVER, 1000),
	FIELD_DATE("identified_on", F_IMMUTABLE),
	FIELD_DATE("feasibility_on", F_SERVER),
	FIELD_DATE("selected_on", F_SERVER),
	FIELD_DATE("approved_on", F_SERVER),
	FIELD_DATE("contracted_on", F_SERVER),
	FIELD_DATE("initiated_on", F_SERVER),
	FIELD_DATE("activated_on", F_SERVER),
	FIELD_DATE("enrolling_on", F_SERVER),
	FIELD_DATE("closed_on", F_SERVER),
};

/* The institution is a site record shared by all the studies it runs. */
static int prepare(struct db *db, const struct actor *a, json_t *values, struct err *e)
{
	char status[32];
	json_t *place;
	int64_t site_id;
	int rc = study_status(db, json_int(values, "study_id", 0), status, sizeof(status), e);

	if (rc)
		return rc;
	if (!strcmp(status, "closed") || !strcmp(status, "terminated") || !strcmp(status, "withdrawn"))
		return err_set(e, CTMS_ECONFLICT, "the study is %s; it takes no new sites", status);
	place = json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?}", "name",
			  json_object_get(values, "institution_name"), "country",
			  json_object_get(values, "country"), "city", json_object_get(values, "city"),
			  "region", json_object_get(values, "region"), "postal_code",
			  json_object_get(values, "postal_code"), "latitude",
			  json_object_get(values, "latitude"), "longitude",
			  json_object_get(values, "longitude"));
	rc = site_find_or_create(db, a, place, &site_id, e);
	json_decref(place);
	if (rc)
		return rc;
	json_object_set_new(values, "site_id", json_integer(site_id));
	return 0;
}

static int check(struct db *db, const json_t *old, const json_t *rec, struct err *e)
{
	const char *identified = json_str(rec, "identified_on");
	int32_t day;
	if (!old && identified && !date_parse(identified, &day) && day > date_latest_today())
		return err_field(e, "identified_on", "is in the future");
	return 0;
}

/* A site is activated only for a study that is starting up or enrolling. */
static int on_transition(struct db *db, const struct actor *a, const json_t *old, json_t *rec,
			 struct err *e)
{
	const char *to = json_str(rec, "status");
	char study_status_text[32];
	int rc;

	if (strcmp(to, "activated") && strcmp(to, "enrolling"))
		return 0;
	rc = study_status(db, json_int(rec, "study_id", 0), study_status_text,
			  sizeof(study_status_text), e);
	if (rc)
		return rc;
	if (strcmp(study_status_text, "start_up") && strcmp(study_status_text, "enrolling"))
		return err_set(e, CTMS_ECONFLICT,
			       "the study is %s; a site can be activated only while the study is in "
			       "start_up or enrolling",
			       study_status_text);
	return 0;
}

const struct entity_def study_site_def = {
	.name = "study_site",
	.table = "study_sites",
	.parent_field = "study_id",
	.parent_table = "studies",
	.parent_def = &study_def,
	.fields = fields,
	.nfields = NELEMS(fields),
	.sm = &lifecycle,
	.join = "JOIN sites s ON s.id = t.site_id",
	.join_columns = "s.name AS institution_name, s.city AS city, s.region AS region,"
			" s.postal_code AS postal_code, s.latitude AS latitude, s.longitude AS longitude",
	.prepare = prepare,
	.check = check,
	.on_transition = on_transition,
};
