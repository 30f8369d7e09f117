/* A ClinicalTrials.gov record's fields mapped to ctms fields (ctgov.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/codes.h"
#include "domain/record.h"
#include "domain/study.h"
#include "domain/study_site.h"
#include "io/ctgov_internal.h"
#include "io/ctgov_places.h"
#include "util/date.h"
#include "util/json.h"

/* obj.k1.k2...: the value at a path of object keys, or NULL. */
const json_t *ctgov_at(const json_t *obj, ...)
{
	va_list ap;
	const char *key;

	va_start(ap, obj);
	while (obj && (key = va_arg(ap, const char *)))
		obj = json_is_object(obj) ? json_object_get(obj, key) : NULL;
	va_end(ap);
	return obj;
}

/* A non-empty string value, else NULL. */
const char *ctgov_text(const json_t *v)
{
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;
	return s && s[0] ? s : NULL;
}

void ctgov_reject(json_t *list, const char *where, const char *nct, const char *location,
		  const char *fmt, ...)
{
	char reason[1024];
	va_list ap;
	json_t *item = json_pack("{s:s}", "where", where);

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (nct)
		json_object_set_new(item, "nct_id", json_string(nct));
	if (location)
		json_object_set_new(item, "location", json_string(location));
	json_object_set_new(item, "reason", json_string(reason));
	json_array_append_new(list, item);
}

void ctgov_note(struct outcome *o, const char *fmt, ...)
{
	char message[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	json_array_append_new(o->notes, json_pack("{s:s, s:s, s:s}", "where", o->where, "nct_id",
						  o->nct, "note", message));
}

/* Whether value passes the rules of field name of def; the message goes to why. */
bool ctgov_fits(const struct entity_def *def, const char *name, const json_t *value, char *why,
		size_t len)
{
	struct err e;
	bool ok;

	err_init(&e);
	ok = !field_validate(record_field(def, name), value, &e);
	if (!ok && why)
		err_describe(&e, why, len);
	err_release(&e);
	return ok;
}

/* Sets an optional text field when the value fits; notes what was left out. */
static void set_optional_text(struct outcome *o, json_t *study, const char *field,
			      const char *source, const char *value)
{
	char why[600];
	json_t *v = value ? json_string(value) : json_null();

	if (value && !v) {
		ctgov_note(o, "%s is not valid UTF-8; %s left empty", source, field);
		v = json_null();
	} else if (value && !ctgov_fits(&study_def, field, v, why, sizeof(why))) {
		ctgov_note(o, "%s left empty: %s", field, why);
		json_decref(v);
		v = json_null();
	}
	json_object_set_new(study, field, v);
}

/* A CT.gov date (YYYY-MM-DD, or YYYY-MM taken as the first of the month). */
static void set_date(struct outcome *o, json_t *study, const char *field, const json_t *source,
		     const char *source_name)
{
	const char *s = ctgov_text(ctgov_at(source, "date", NULL));
	char day[16];
	int32_t days;

	if (!s) {
		json_object_set_new(study, field, json_null());
		return;
	}
	if (strlen(s) == 7) {
		snprintf(day, sizeof(day), "%s-01", s);
		o->month_dates++;
	} else {
		snprintf(day, sizeof(day), "%.10s", s);
	}
	if (strlen(s) > 10 || date_parse(day, &days)) {
		ctgov_note(o, "%s.date '%s' is not a date; %s left empty", source_name, s, field);
		json_object_set_new(study, field, json_null());
		return;
	}
	json_object_set_new(study, field, json_string(day));
}

/* Sets an optional field to v (taken over) when it fits the study's rules;
 * notes what was left out. */
static void set_optional(struct outcome *o, json_t *study, const char *field, const char *source,
			 json_t *v)
{
	char why[600];

	if (v && !ctgov_fits(&study_def, field, v, why, sizeof(why))) {
		ctgov_note(o, "%s left out: %s", source, why);
		json_decref(v);
		v = NULL;
	}
	json_object_set_new(study, field, v ? v : json_null());
}

/* A code of the source when it is text, else NULL (a new reference). */
static json_t *code_at(const json_t *v)
{
	return ctgov_text(v) ? json_string(ctgov_text(v)) : NULL;
}

/* The non-empty strings of a list, or member key of its objects; NULL for
 * none. */
static json_t *strings_of(const json_t *list, const char *key)
{
	json_t *out = json_array(), *item;
	size_t i;

	json_array_foreach(list, i, item) {
		const char *s = ctgov_text(key ? ctgov_at(item, key, NULL) : item);
		json_t *v = s ? json_string(s) : NULL;
		if (v)
			json_array_append_new(out, v);
	}
	if (json_array_size(out))
		return out;
	json_decref(out);
	return NULL;
}

/* armGroups as ctms arms: {label, type, description, interventions}. */
static json_t *arms_of(const json_t *groups)
{
	json_t *out = json_array(), *group, *arm, *v;
	size_t i;

	json_array_foreach(groups, i, group) {
		if (!ctgov_text(ctgov_at(group, "label", NULL)))
			continue;
		arm = json_object();
		json_object_set_new(arm, "label", code_at(ctgov_at(group, "label", NULL)));
		if ((v = code_at(ctgov_at(group, "type", NULL))))
			json_object_set_new(arm, "type", v);
		if ((v = code_at(ctgov_at(group, "description", NULL))))
			json_object_set_new(arm, "description", v);
		if ((v = strings_of(ctgov_at(group, "interventionNames", NULL), NULL)))
			json_object_set_new(arm, "interventions", v);
		if (json_object_get(arm, "label"))
			json_array_append_new(out, arm);
		else
			json_decref(arm);
	}
	if (json_array_size(out))
		return out;
	json_decref(out);
	return NULL;
}

/* What the record registers beyond identity: status, date types, design,
 * conditions, collaborators, arms and the eligibility summary. */
static void map_registration(const json_t *ps, struct outcome *o, json_t *study)
{
	const json_t *status = ctgov_at(ps, "statusModule", NULL);
	const json_t *info = ctgov_at(ps, "designModule", "designInfo", NULL);
	const json_t *eligibility = ctgov_at(ps, "eligibilityModule", NULL);
	const json_t *volunteers = ctgov_at(eligibility, "healthyVolunteers", NULL);
	static const struct {
		const char *field, *source;
		const char *path[4];
	} codes[] = {
		{"registry_status", "overallStatus", {"statusModule", "overallStatus"}},
		{"why_stopped", "whyStopped", {"statusModule", "whyStopped"}},
		{"target_enrollment_type", "enrollmentInfo.type", {"designModule", "enrollmentInfo", "type"}},
		{"study_type", "studyType", {"designModule", "studyType"}},
		{"allocation", "designInfo.allocation", {"designModule", "designInfo", "allocation"}},
		{"intervention_model", "designInfo.interventionModel",
		 {"designModule", "designInfo", "interventionModel"}},
		{"observational_model", "designInfo.observationalModel",
		 {"designModule", "designInfo", "observationalModel"}},
		{"primary_purpose", "designInfo.primaryPurpose",
		 {"designModule", "designInfo", "primaryPurpose"}},
		{"eligibility_sex", "eligibilityModule.sex", {"eligibilityModule", "sex"}},
		{"eligibility_minimum_age", "minimumAge", {"eligibilityModule", "minimumAge"}},
		{"eligibility_maximum_age", "maximumAge", {"eligibilityModule", "maximumAge"}},
		{"eligibility_criteria", "eligibilityCriteria", {"eligibilityModule", "eligibilityCriteria"}},
	};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		const char *const *p = codes[i].path;
		set_optional(o, study, codes[i].field, codes[i].source,
			     code_at(ctgov_at(ps, p[0], p[1], p[2], p[3], NULL)));
	}
	set_optional(o, study, "masking", "maskingInfo.masking",
		     code_at(ctgov_at(info, "maskingInfo", "masking", NULL)));
	/* A date's type goes with the date ctms keeps. */
	set_optional(o, study, "start_date_type", "startDateStruct.type",
		     json_str(study, "planned_start_on")
			     ? code_at(ctgov_at(status, "startDateStruct", "type", NULL)) : NULL);
	set_optional(o, study, "completion_date_type", "completionDateStruct.type",
		     json_str(study, "planned_end_on")
			     ? code_at(ctgov_at(status, "completionDateStruct", "type", NULL)) : NULL);
	set_optional(o, study, "conditions", "conditions",
		     strings_of(ctgov_at(ps, "conditionsModule", "conditions", NULL), NULL));
	set_optional(o, study, "collaborators", "collaborators",
		     strings_of(ctgov_at(ps, "sponsorCollaboratorsModule", "collaborators", NULL),
				"name"));
	set_optional(o, study, "arms", "armGroups",
		     arms_of(ctgov_at(ps, "armsInterventionsModule", "armGroups", NULL)));
	set_optional(o, study, "healthy_volunteers", "healthyVolunteers",
		     json_is_boolean(volunteers) ? json_boolean(json_is_true(volunteers)) : NULL);
}

/* CT.gov lists phases; ctms has one code, combined for phase 1/2 and 2/3. */
static const char *phase_code(const json_t *phases, struct outcome *o)
{
	const char *first = ctgov_text(json_array_get(phases, 0));
	const char *second = ctgov_text(json_array_get(phases, 1));

	if (!json_is_array(phases) || json_array_size(phases) == 0) {
		o->phase_absent++;
		return "NA";
	}
	if (json_array_size(phases) == 1 && first) {
		for (size_t i = 0; phase_codes[i]; i++)
			if (!strcmp(phase_codes[i], first))
				return phase_codes[i];
		return NULL;
	}
	if (json_array_size(phases) == 2 && first && second) {
		if (!strcmp(first, "PHASE1") && !strcmp(second, "PHASE2"))
			return "PHASE1_PHASE2";
		if (!strcmp(first, "PHASE2") && !strcmp(second, "PHASE3"))
			return "PHASE2_PHASE3";
	}
	return NULL;
}

/* The study fields of a protocol section; NULL with *why set when the study
 * cannot be a ctms study. */
json_t *ctgov_map_study(const json_t *ps, struct outcome *o, char *why, size_t len)
{
	const json_t *ident = ctgov_at(ps, "identificationModule", NULL);
	const json_t *status = ctgov_at(ps, "statusModule", NULL);
	const char *org_id = ctgov_text(ctgov_at(ident, "orgStudyIdInfo", "id", NULL));
	const char *official = ctgov_text(ctgov_at(ident, "officialTitle", NULL));
	const char *brief = ctgov_text(ctgov_at(ident, "briefTitle", NULL));
	const json_t *count = ctgov_at(ps, "designModule", "enrollmentInfo", "count", NULL);
	const char *phase = phase_code(ctgov_at(ps, "designModule", "phases", NULL), o);
	json_t *study = json_pack("{s:s}", "nct_id", o->nct), *v;

	v = org_id ? json_string(org_id) : NULL;
	if (v && ctgov_fits(&study_def, "protocol_number", v, NULL, 0)) {
		json_object_set_new(study, "protocol_number", v);
	} else {
		if (org_id)
			ctgov_note(o, "org study id '%.80s' does not fit protocol_number; the NCT id is used",
				   org_id);
		json_decref(v);
		json_object_set_new(study, "protocol_number", json_string(o->nct));
	}

	v = official ? json_string(official) : NULL;
	if (!v || !ctgov_fits(&study_def, "title", v, NULL, 0)) {
		json_decref(v);
		v = brief ? json_string(brief) : NULL;
		if (official && v)
			ctgov_note(o, "officialTitle does not fit title; briefTitle is used");
	}
	if (!v || !ctgov_fits(&study_def, "title", v, why, len)) {
		if (!v)
			snprintf(why, len, "no officialTitle or briefTitle: a study needs a title");
		json_decref(v);
		goto fail;
	}
	json_object_set_new(study, "title", v);
	set_optional_text(o, study, "acronym", "acronym", ctgov_text(ctgov_at(ident, "acronym", NULL)));

	if (!phase) {
		char *phases = json_dumps(ctgov_at(ps, "designModule", "phases", NULL), JSON_COMPACT);
		snprintf(why, len, "designModule.phases %s has no ctms phase code",
			 phases ? phases : "(unreadable)");
		free(phases);
		goto fail;
	}
	json_object_set_new(study, "phase", json_string(phase));

	v = json_is_integer(count) ? json_integer(json_integer_value(count)) : NULL;
	if (!v || !ctgov_fits(&study_def, "target_enrollment", v, NULL, 0)) {
		json_decref(v);
		const char *overall = ctgov_text(ctgov_at(status, "overallStatus", NULL));
		if (json_is_integer(count) && json_integer_value(count) == 0)
			snprintf(why, len,
				 "enrollmentInfo.count is 0 (%s study): it reports no participants and "
				 "keeps no planned target, and a study's target_enrollment must be 1 to "
				 "10000000",
				 overall ? overall : "no status");
		else if (json_is_integer(count))
			snprintf(why, len,
				 "enrollmentInfo.count is %lld; a study's target_enrollment must be 1 "
				 "to 10000000",
				 (long long)json_integer_value(count));
		else
			snprintf(why, len, "no enrollmentInfo.count; a study needs a target enrollment");
		goto fail;
	}
	json_object_set_new(study, "target_enrollment", v);

	set_date(o, study, "planned_start_on", ctgov_at(status, "startDateStruct", NULL), "startDateStruct");
	set_date(o, study, "planned_end_on", ctgov_at(status, "completionDateStruct", NULL),
		 "completionDateStruct");
	const char *start = json_str(study, "planned_start_on"), *end = json_str(study, "planned_end_on");
	if (start && end && strcmp(end, start) < 0) {
		ctgov_note(o, "completion date %s is before start date %s; planned_end_on left empty", end,
			   start);
		json_object_set_new(study, "planned_end_on", json_null());
	}
	map_registration(ps, o, study);
	return study;
fail:
	json_decref(study);
	return NULL;
}

/* The investigator of a location: its principal investigator, else a
 * sub-investigator, else its contact; NULL when none is named. */
static const char *investigator(const json_t *location)
{
	static const char *const roles[] = {"PRINCIPAL_INVESTIGATOR", "SUB_INVESTIGATOR", NULL};
	const json_t *contacts = ctgov_at(location, "contacts", NULL);
	const json_t *c;
	size_t i;

	for (int r = 0; r < 3; r++) {
		json_array_foreach(contacts, i, c) {
			const char *role = ctgov_text(ctgov_at(c, "role", NULL));
			if (ctgov_text(ctgov_at(c, "name", NULL)) &&
			    (roles[r] ? role && !strcmp(role, roles[r]) : true))
				return ctgov_text(ctgov_at(c, "name", NULL));
		}
	}
	return NULL;
}

/* The state, postal code and geo point of a location, where given and valid. */
static void set_place(const json_t *loc, struct outcome *o, const char *number, json_t *site)
{
	const char *state = ctgov_text(ctgov_at(loc, "state", NULL));
	const char *zip = ctgov_text(ctgov_at(loc, "zip", NULL));
	const json_t *lat = ctgov_at(loc, "geoPoint", "lat", NULL);
	const json_t *lon = ctgov_at(loc, "geoPoint", "lon", NULL);
	json_t *v = state ? json_string(state) : NULL;
	char why[600];

	if (v && ctgov_fits(&study_site_def, "region", v, why, sizeof(why))) {
		json_object_set_new(site, "region", v);
	} else if (v) {
		ctgov_note(o, "location %s: state left out: %s", number, why);
		json_decref(v);
	}
	v = zip ? json_string(zip) : NULL;
	if (v && ctgov_fits(&study_site_def, "postal_code", v, why, sizeof(why))) {
		json_object_set_new(site, "postal_code", v);
	} else if (v) {
		ctgov_note(o, "location %s: zip left out: %s", number, why);
		json_decref(v);
	}
	if (!json_is_number(lat) || !json_is_number(lon))
		return;
	json_t *la = json_real(json_number_value(lat)), *lo = json_real(json_number_value(lon));
	if (ctgov_fits(&study_site_def, "latitude", la, why, sizeof(why)) &&
	    ctgov_fits(&study_site_def, "longitude", lo, why, sizeof(why))) {
		json_object_set_new(site, "latitude", la);
		json_object_set_new(site, "longitude", lo);
		return;
	}
	ctgov_note(o, "location %s: geoPoint left out: %s", number, why);
	json_decref(la);
	json_decref(lo);
}

/* The study-site fields of a location; NULL with *why set when it cannot
 * be mapped. */
json_t *ctgov_map_location(const json_t *loc, struct outcome *o, const char *number, char *why,
			   size_t len)
{
	static const char *const checked[] = {"institution_name", "city", "investigator_name", NULL};
	const char *facility = ctgov_text(ctgov_at(loc, "facility", NULL));
	const char *country_name = ctgov_text(ctgov_at(loc, "country", NULL));
	const char *city = ctgov_text(ctgov_at(loc, "city", NULL));
	const char *name = investigator(loc);
	const char *country = ctgov_country_code(country_name);
	const char *zone;
	bool guessed;
	json_t *site;

	if (!facility) {
		snprintf(why, len, "no facility name; a study-site needs its institution");
		return NULL;
	}
	if (!country) {
		if (country_name)
			snprintf(why, len, "country '%s' is not in the import's country table",
				 country_name);
		else
			snprintf(why, len, "no country");
		return NULL;
	}
	zone = ctgov_time_zone(country, ctgov_text(ctgov_at(loc, "state", NULL)), &guessed);
	site = json_pack("{s:s?, s:s?, s:s, s:s, s:s, s:s}", "institution_name", facility, "city",
			 city, "site_number", number, "investigator_name", name ? name : NOT_REPORTED,
			 "country", country, "time_zone", zone);
	if (!site) {
		snprintf(why, len, "a text field is not valid UTF-8");
		return NULL;
	}
	for (int i = 0; checked[i]; i++) {
		json_t *v = json_object_get(site, checked[i]);
		char rule[600];
		if (v && !ctgov_fits(&study_site_def, checked[i], v, rule, sizeof(rule))) {
			snprintf(why, len, "%s does not fit: %s",
				 !strcmp(checked[i], "institution_name") ? "facility"
				 : !strcmp(checked[i], "city")		  ? "city"
									  : "investigator",
				 rule);
			json_decref(site);
			return NULL;
		}
	}
	if (!ctgov_fits(&study_site_def, "time_zone", json_object_get(site, "time_zone"), why, len)) {
		json_decref(site);
		return NULL;
	}
	set_place(loc, o, number, site);
	o->zone_main += guessed;
	o->no_investigator += !name;
	return site;
}
