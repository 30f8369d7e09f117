#include "io/ctgov_export.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "domain/organisation.h"
#include "domain/record.h"
#include "domain/site.h"
#include "domain/study.h"
#include "domain/study_site.h"
#include "domain/subject.h"
#include "util/buf.h"
#include "util/json.h"

#define NOT_REPORTED "Not reported"

/* ISO 3166-1 codes and the names ClinicalTrials.gov writes for them (the
 * countries its records in data/ctgov name; ctgov_country_code() reads
 * each name back to its code). */
static const struct {
	const char *code, *name;
} countries[] = {
	{"AE", "United Arab Emirates"},
	{"AG", "Antigua and Barbuda"},
	{"AR", "Argentina"},
	{"AT", "Austria"},
	{"AU", "Australia"},
	{"BE", "Belgium"},
	{"BG", "Bulgaria"},
	{"BR", "Brazil"},
	{"CA", "Canada"},
	{"CH", "Switzerland"},
	{"CL", "Chile"},
	{"CN", "China"},
	{"CO", "Colombia"},
	{"CU", "Cuba"},
	{"CZ", "Czechia"},
	{"DE", "Germany"},
	{"DK", "Denmark"},
	{"EC", "Ecuador"},
	{"EE", "Estonia"},
	{"EG", "Egypt"},
	{"ES", "Spain"},
	{"FI", "Finland"},
	{"FR", "France"},
	{"GB", "United Kingdom"},
	{"GE", "Georgia"},
	{"GR", "Greece"},
	{"HK", "Hong Kong"},
	{"HR", "Croatia"},
	{"HU", "Hungary"},
	{"ID", "Indonesia"},
	{"IE", "Ireland"},
	{"IL", "Israel"},
	{"IN", "India"},
	{"IQ", "Iraq"},
	{"IR", "Iran, Islamic Republic of"},
	{"IT", "Italy"},
	{"JM", "Jamaica"},
	{"JO", "Jordan"},
	{"JP", "Japan"},
	{"KG", "Kyrgyzstan"},
	{"KR", "Korea, Republic of"},
	{"KW", "Kuwait"},
	{"KZ", "Kazakhstan"},
	{"LB", "Lebanon"},
	{"LT", "Lithuania"},
	{"LV", "Latvia"},
	{"MX", "Mexico"},
	{"MY", "Malaysia"},
	{"NL", "Netherlands"},
	{"NO", "Norway"},
	{"NZ", "New Zealand"},
	{"PA", "Panama"},
	{"PE", "Peru"},
	{"PH", "Philippines"},
	{"PK", "Pakistan"},
	{"PL", "Poland"},
	{"PR", "Puerto Rico"},
	{"PS", "Palestinian Territories, Occupied"},
	{"PT", "Portugal"},
	{"PY", "Paraguay"},
	{"RO", "Romania"},
	{"RS", "Serbia"},
	{"RU", "Russia"},
	{"SA", "Saudi Arabia"},
	{"SE", "Sweden"},
	{"SG", "Singapore"},
	{"SI", "Slovenia"},
	{"SK", "Slovakia"},
	{"TH", "Thailand"},
	{"TR", "Turkey"},
	{"TW", "Taiwan"},
	{"UA", "Ukraine"},
	{"US", "United States"},
	{"UY", "Uruguay"},
	{"VN", "Vietnam"},
	{"ZA", "South Africa"},
};

const char *ctgov_export_country(const char *code)
{
	for (size_t i = 0; code && i < sizeof(countries) / sizeof(countries[0]); i++)
		if (!strcmp(countries[i].code, code))
			return countries[i].name;
	return NULL;
}

/* The study lifecycle (study.c) as CT.gov's overallStatus. */
const char *ctgov_export_status(const char *status)
{
	static const char *const map[][2] = {
		{"planned", "NOT_YET_RECRUITING"}, {"start_up", "NOT_YET_RECRUITING"},
		{"enrolling", "RECRUITING"},	   {"follow_up", "ACTIVE_NOT_RECRUITING"},
		{"closed", "COMPLETED"},	   {"terminated", "TERMINATED"},
		{"withdrawn", "WITHDRAWN"},
	};
	for (size_t i = 0; status && i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(map[i][0], status))
			return map[i][1];
	return "UNKNOWN";
}

/* A study-site's lifecycle as a location's recruitment status. */
static const char *location_status(const json_t *site)
{
	const char *status = json_str(site, "status");

	if (!status)
		return NULL;
	if (!strcmp(status, "enrolling"))
		return "RECRUITING";
	if (!strcmp(status, "closed"))
		return json_str(site, "enrolling_on") ? "COMPLETED" : "WITHDRAWN";
	return "NOT_YET_RECRUITING";
}

static void set_text(json_t *obj, const char *key, const char *value)
{
	if (value)
		json_object_set_new(obj, key, json_string(value));
}

/* The type of a planned date or count: the registered one; for a study
 * registered without one, none (nothing is invented); for a study made in
 * ctms, an estimate. */
static const char *planned_type(const json_t *study, const char *field)
{
	const char *type = json_str(study, field);

	if (type || json_str(study, "registry_status"))
		return type;
	return "ESTIMATED";
}

/* {"date", "type"}: the actual date when the lifecycle has one, else the
 * planned one with its type; NULL when there is neither. */
static json_t *date_struct(const char *actual, const char *planned, const char *type)
{
	if (actual)
		return json_pack("{s:s, s:s}", "date", actual, "type", "ACTUAL");
	if (planned)
		return json_pack("{s:s, s:s*}", "date", planned, "type", type);
	return NULL;
}

/* ctms keeps one phase code; CT.gov lists the phases a combined one spans. */
static json_t *phases_of(const char *phase)
{
	if (!phase)
		return json_array();
	if (!strcmp(phase, "PHASE1_PHASE2"))
		return json_pack("[s, s]", "PHASE1", "PHASE2");
	if (!strcmp(phase, "PHASE2_PHASE3"))
		return json_pack("[s, s]", "PHASE2", "PHASE3");
	return json_pack("[s]", phase);
}

static json_t *identification(const json_t *study)
{
	json_t *m = json_object();

	set_text(m, "nctId", json_str(study, "nct_id"));
	json_object_set_new(m, "orgStudyIdInfo",
			    json_pack("{s:s}", "id", json_str(study, "protocol_number")));
	/* ctms keeps one title: the official one, which also serves as the brief. */
	set_text(m, "briefTitle", json_str(study, "title"));
	set_text(m, "officialTitle", json_str(study, "title"));
	set_text(m, "acronym", json_str(study, "acronym"));
	return m;
}

/* The registry's status while the study is still planned in ctms (an
 * imported registration), else the one its lifecycle gives. */
static json_t *status_module(const json_t *study)
{
	const char *status = json_str(study, "status");
	const char *registered = json_str(study, "registry_status");
	bool planned = !status || !strcmp(status, "planned");
	const char *ended = json_str(study, "closed_on") ? json_str(study, "closed_on")
							 : json_str(study, "terminated_on");
	json_t *m = json_pack("{s:s}", "overallStatus", planned && registered
								? registered
								: ctgov_export_status(status)),
	       *d;

	if (status && (!strcmp(status, "terminated") || !strcmp(status, "withdrawn")))
		set_text(m, "whyStopped", json_str(study, "status_reason"));
	else if (planned)
		set_text(m, "whyStopped", json_str(study, "why_stopped"));
	if ((d = date_struct(json_str(study, "enrolling_on"), json_str(study, "planned_start_on"),
			     planned_type(study, "start_date_type"))))
		json_object_set_new(m, "startDateStruct", d);
	if ((d = date_struct(ended, json_str(study, "planned_end_on"),
			     planned_type(study, "completion_date_type"))))
		json_object_set_new(m, "completionDateStruct", d);
	return m;
}

static json_t *design(const json_t *study)
{
	static const char *const info_fields[][2] = {
		{"allocation", "allocation"},
		{"intervention_model", "interventionModel"},
		{"observational_model", "observationalModel"},
		{"primary_purpose", "primaryPurpose"},
	};
	const char *type = planned_type(study, "target_enrollment_type");
	json_t *m = json_object(), *info = json_object();

	set_text(m, "studyType", json_str(study, "study_type"));
	json_object_set_new(m, "phases", phases_of(json_str(study, "phase")));
	for (size_t i = 0; i < sizeof(info_fields) / sizeof(info_fields[0]); i++)
		set_text(info, info_fields[i][1], json_str(study, info_fields[i][0]));
	if (json_str(study, "masking"))
		json_object_set_new(info, "maskingInfo",
				    json_pack("{s:s}", "masking", json_str(study, "masking")));
	if (json_object_size(info))
		json_object_set_new(m, "designInfo", info);
	else
		json_decref(info);
	json_object_set_new(m, "enrollmentInfo",
			    json_pack("{s:I, s:s*}", "count",
				      (json_int_t)json_int(study, "target_enrollment", 0), "type", type));
	return m;
}

/* The eligibility summary, or NULL when none is kept. */
static json_t *eligibility(const json_t *study)
{
	json_t *m = json_object(), *v = json_object_get(study, "healthy_volunteers");

	set_text(m, "eligibilityCriteria", json_str(study, "eligibility_criteria"));
	if (json_is_boolean(v))
		json_object_set(m, "healthyVolunteers", v);
	set_text(m, "sex", json_str(study, "eligibility_sex"));
	set_text(m, "minimumAge", json_str(study, "eligibility_minimum_age"));
	set_text(m, "maximumAge", json_str(study, "eligibility_maximum_age"));
	if (json_object_size(m))
		return m;
	json_decref(m);
	return NULL;
}

/* One location: the site's institution and place, its investigator. */
static json_t *location(struct db *db, const struct actor *a, const json_t *ss)
{
	json_t *loc = json_object(), *site = NULL;
	const char *investigator = json_str(ss, "investigator_name");
	const char *country = json_str(ss, "country");
	struct err e;

	err_init(&e);
	set_text(loc, "facility", json_str(ss, "institution_name"));
	set_text(loc, "status", location_status(ss));
	set_text(loc, "city", json_str(ss, "city"));
	if (!record_get(db, a, &site_def, json_int(ss, "site_id", 0), &site, &e)) {
		set_text(loc, "state", json_str(site, "region"));
		set_text(loc, "zip", json_str(site, "postal_code"));
		if (json_is_number(json_object_get(site, "latitude")) &&
		    json_is_number(json_object_get(site, "longitude")))
			json_object_set_new(loc, "geoPoint",
					    json_pack("{s:O, s:O}", "lat", json_object_get(site, "latitude"),
						      "lon", json_object_get(site, "longitude")));
	}
	set_text(loc, "country", ctgov_export_country(country) ? ctgov_export_country(country)
							     : country);
	if (investigator && strcmp(investigator, NOT_REPORTED))
		json_object_set_new(loc, "contacts",
				    json_pack("[{s:s, s:s}]", "name", investigator, "role",
					      "PRINCIPAL_INVESTIGATOR"));
	json_decref(site);
	err_release(&e);
	return loc;
}

/* Site numbers in their order: shorter first ("999" before "1000"), then
 * alphabetical. */
static int by_number(const void *x, const void *y)
{
	const char *a = json_str(*(json_t *const *)x, "site_number");
	const char *b = json_str(*(json_t *const *)y, "site_number");
	size_t la = strlen(a ? a : ""), lb = strlen(b ? b : "");

	if (la != lb)
		return la < lb ? -1 : 1;
	return strcmp(a ? a : "", b ? b : "");
}

static void sort_by_number(json_t *sites)
{
	size_t n = json_array_size(sites);
	json_t **v = xcalloc(n ? n : 1, sizeof(*v));

	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(sites, i));
	qsort(v, n, sizeof(*v), by_number);
	json_array_clear(sites);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(sites, v[i]);
	free(v);
}

/* Every study-site of the study the actor may see, by site number. */
static int locations(struct db *db, const struct actor *a, int64_t study_id, json_t **out,
		     struct err *e)
{
	json_t *ss, *sorted;
	size_t i;
	int rc = record_list_all(db, a, &study_site_def, study_id, &sorted, e);

	*out = json_array();
	/* Imported locations are numbered in their record's order (ctgov.h). */
	if (!rc)
		sort_by_number(sorted);
	json_array_foreach(sorted, i, ss)
		if (!rc)
			json_array_append_new(*out, location(db, a, ss));
	json_decref(sorted);
	return rc;
}

/* The distinct arms (strings, in order of first appearance) of the
 * study's subjects as the actor is shown them: none for a blinded actor,
 * who is shown no arm. */
static int study_arms(struct db *db, const struct actor *a, int64_t study_id, json_t **out,
		      struct err *e)
{
	json_t *subjects, *subject, *seen = json_object();
	size_t i;
	int rc = record_list_all(db, a, &subject_def, study_id, &subjects, e);

	*out = json_array();
	json_array_foreach(subjects, i, subject) {
		const char *arm = json_str(subject, "arm");
		if (!rc && arm && !json_object_get(seen, arm)) {
			json_object_set_new(seen, arm, json_true());
			json_array_append_new(*out, json_string(arm));
		}
	}
	json_decref(subjects);
	json_decref(seen);
	if (rc) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

/* armGroups: the registered arms, else the labels of the subjects' arms
 * (strings). */
static json_t *arms_module(const json_t *registered, const json_t *labels)
{
	json_t *groups = json_array(), *arm, *group;
	size_t i;

	json_array_foreach(registered, i, arm) {
		group = json_pack("{s:O?}", "label", json_object_get(arm, "label"));
		set_text(group, "type", json_str(arm, "type"));
		set_text(group, "description", json_str(arm, "description"));
		if (json_object_get(arm, "interventions"))
			json_object_set(group, "interventionNames", json_object_get(arm, "interventions"));
		json_array_append_new(groups, group);
	}
	if (!json_array_size(registered))
		json_array_foreach(labels, i, arm)
			json_array_append_new(groups, json_pack("{s:O}", "label", arm));
	return json_pack("{s:o}", "armGroups", groups);
}

/* The sponsor and collaborators, or NULL when neither is kept. */
static json_t *sponsors(struct db *db, const struct actor *a, const json_t *study)
{
	json_t *m = json_object(), *sponsor = NULL, *name;
	const json_t *collaborators = json_object_get(study, "collaborators");
	struct err ignored;
	size_t i;

	err_init(&ignored);
	if (json_int(study, "sponsor_id", 0) &&
	    !record_get(db, a, &organisation_def, json_int(study, "sponsor_id", 0), &sponsor,
			&ignored))
		json_object_set_new(m, "leadSponsor",
				    json_pack("{s:s}", "name", json_str(sponsor, "name")));
	if (json_array_size(collaborators)) {
		json_t *list = json_array();
		json_array_foreach(collaborators, i, name)
			json_array_append_new(list, json_pack("{s:O}", "name", name));
		json_object_set_new(m, "collaborators", list);
	}
	json_decref(sponsor);
	err_release(&ignored);
	if (json_object_size(m))
		return m;
	json_decref(m);
	return NULL;
}

int ctgov_export_study(struct db *db, const struct actor *a, int64_t study_id, json_t **out,
		       struct err *e)
{
	json_t *study = NULL, *ps, *m, *locs = NULL, *arms = NULL;
	const char *area;
	int rc;

	*out = NULL;
	if ((rc = record_get(db, a, &study_def, study_id, &study, e)))
		return rc;
	if ((rc = locations(db, a, study_id, &locs, e)) ||
	    (rc = study_arms(db, a, study_id, &arms, e)))
		goto done;
	ps = json_object();
	json_object_set_new(ps, "identificationModule", identification(study));
	json_object_set_new(ps, "statusModule", status_module(study));
	if ((m = sponsors(db, a, study)))
		json_object_set_new(ps, "sponsorCollaboratorsModule", m);
	if (json_array_size(json_object_get(study, "conditions")))
		json_object_set_new(ps, "conditionsModule",
				    json_pack("{s:O}", "conditions", json_object_get(study, "conditions")));
	else if ((area = json_str(study, "therapeutic_area")))
		json_object_set_new(ps, "conditionsModule", json_pack("{s:[s]}", "conditions", area));
	json_object_set_new(ps, "designModule", design(study));
	if (json_array_size(json_object_get(study, "arms")) || json_array_size(arms))
		json_object_set_new(ps, "armsInterventionsModule",
				    arms_module(json_object_get(study, "arms"), arms));
	if ((m = eligibility(study)))
		json_object_set_new(ps, "eligibilityModule", m);
	json_object_set_new(ps, "contactsLocationsModule", json_pack("{s:O}", "locations", locs));
	*out = json_pack("{s:o}", "protocolSection", ps);
done:
	json_decref(arms);
	json_decref(locs);
	json_decref(study);
	return rc;
}
