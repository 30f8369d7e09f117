#include "io/ctgov.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "domain/codes.h"
#include "domain/organisation.h"
#include "domain/record.h"
#include "domain/site.h"
#include "domain/study.h"
#include "domain/study_site.h"
#include "io/ctgov_places.h"
#include "util/date.h"
#include "util/json.h"

#define NOT_REPORTED "Not reported"

/* What one study contributes to the report; merged only once its
 * transaction has committed. */
struct outcome {
	struct ctgov_counts sites;
	int64_t month_dates, phase_absent, zone_main, no_investigator, city_merged;
	bool created, updated;
	json_t *rejected;
	json_t *notes;
	const char *where;
	const char *nct;
};

void ctgov_report_init(struct ctgov_report *r)
{
	memset(r, 0, sizeof(*r));
	r->rejected = json_array();
	r->notes = json_array();
}

void ctgov_report_release(struct ctgov_report *r)
{
	json_decref(r->rejected);
	json_decref(r->notes);
	r->rejected = r->notes = NULL;
}

/* obj.k1.k2...: the value at a path of object keys, or NULL. */
static const json_t *at(const json_t *obj, ...)
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
static const char *text(const json_t *v)
{
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;
	return s && s[0] ? s : NULL;
}

static void reject(json_t *list, const char *where, const char *nct, const char *location,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void reject(json_t *list, const char *where, const char *nct, const char *location,
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

static void note(struct outcome *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct outcome *o, const char *fmt, ...)
{
	char message[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	json_array_append_new(o->notes, json_pack("{s:s, s:s, s:s}", "where", o->where, "nct_id",
						  o->nct, "note", message));
}

static bool nct_valid(const char *s)
{
	if (strlen(s) != 11 || strncmp(s, "NCT", 3))
		return false;
	for (int i = 3; i < 11; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Whether value passes the rules of field name of def; the message goes to why. */
static bool fits(const struct entity_def *def, const char *name, const json_t *value, char *why,
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
		note(o, "%s is not valid UTF-8; %s left empty", source, field);
		v = json_null();
	} else if (value && !fits(&study_def, field, v, why, sizeof(why))) {
		note(o, "%s left empty: %s", field, why);
		json_decref(v);
		v = json_null();
	}
	json_object_set_new(study, field, v);
}

/* A CT.gov date (YYYY-MM-DD, or YYYY-MM taken as the first of the month). */
static void set_date(struct outcome *o, json_t *study, const char *field, const json_t *source,
		     const char *source_name)
{
	const char *s = text(at(source, "date", NULL));
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
		note(o, "%s.date '%s' is not a date; %s left empty", source_name, s, field);
		json_object_set_new(study, field, json_null());
		return;
	}
	json_object_set_new(study, field, json_string(day));
}

/* CT.gov lists phases; ctms has one code, combined for phase 1/2 and 2/3. */
static const char *phase_code(const json_t *phases, struct outcome *o)
{
	const char *first = text(json_array_get(phases, 0));
	const char *second = text(json_array_get(phases, 1));

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
static json_t *map_study(const json_t *ps, struct outcome *o, char *why, size_t len)
{
	const json_t *ident = at(ps, "identificationModule", NULL);
	const json_t *status = at(ps, "statusModule", NULL);
	const char *org_id = text(at(ident, "orgStudyIdInfo", "id", NULL));
	const char *official = text(at(ident, "officialTitle", NULL));
	const char *brief = text(at(ident, "briefTitle", NULL));
	const json_t *count = at(ps, "designModule", "enrollmentInfo", "count", NULL);
	const char *phase = phase_code(at(ps, "designModule", "phases", NULL), o);
	json_t *study = json_pack("{s:s}", "nct_id", o->nct), *v;

	v = org_id ? json_string(org_id) : NULL;
	if (v && fits(&study_def, "protocol_number", v, NULL, 0)) {
		json_object_set_new(study, "protocol_number", v);
	} else {
		if (org_id)
			note(o, "org study id '%.80s' does not fit protocol_number; the NCT id is used",
			     org_id);
		json_decref(v);
		json_object_set_new(study, "protocol_number", json_string(o->nct));
	}

	v = official ? json_string(official) : NULL;
	if (!v || !fits(&study_def, "title", v, NULL, 0)) {
		json_decref(v);
		v = brief ? json_string(brief) : NULL;
		if (official && v)
			note(o, "officialTitle does not fit title; briefTitle is used");
	}
	if (!v || !fits(&study_def, "title", v, why, len)) {
		if (!v)
			snprintf(why, len, "no officialTitle or briefTitle: a study needs a title");
		json_decref(v);
		goto fail;
	}
	json_object_set_new(study, "title", v);
	set_optional_text(o, study, "acronym", "acronym", text(at(ident, "acronym", NULL)));

	if (!phase) {
		char *phases = json_dumps(at(ps, "designModule", "phases", NULL), JSON_COMPACT);
		snprintf(why, len, "designModule.phases %s has no ctms phase code",
			 phases ? phases : "(unreadable)");
		free(phases);
		goto fail;
	}
	json_object_set_new(study, "phase", json_string(phase));

	v = json_is_integer(count) ? json_integer(json_integer_value(count)) : NULL;
	if (!v || !fits(&study_def, "target_enrollment", v, NULL, 0)) {
		json_decref(v);
		if (json_is_integer(count))
			snprintf(why, len,
				 "enrollmentInfo.count is %lld; a study's target_enrollment must be 1 "
				 "to 10000000",
				 (long long)json_integer_value(count));
		else
			snprintf(why, len, "no enrollmentInfo.count; a study needs a target enrollment");
		goto fail;
	}
	json_object_set_new(study, "target_enrollment", v);

	set_date(o, study, "planned_start_on", at(status, "startDateStruct", NULL), "startDateStruct");
	set_date(o, study, "planned_end_on", at(status, "completionDateStruct", NULL),
		 "completionDateStruct");
	const char *start = json_str(study, "planned_start_on"), *end = json_str(study, "planned_end_on");
	if (start && end && strcmp(end, start) < 0) {
		note(o, "completion date %s is before start date %s; planned_end_on left empty", end,
		     start);
		json_object_set_new(study, "planned_end_on", json_null());
	}
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
	const json_t *contacts = at(location, "contacts", NULL);
	const json_t *c;
	size_t i;

	for (int r = 0; r < 3; r++) {
		json_array_foreach(contacts, i, c) {
			const char *role = text(at(c, "role", NULL));
			if (text(at(c, "name", NULL)) &&
			    (roles[r] ? role && !strcmp(role, roles[r]) : true))
				return text(at(c, "name", NULL));
		}
	}
	return NULL;
}

/* The study-site fields of a location; NULL with *why set when it cannot
 * be mapped. */
static json_t *map_location(const json_t *loc, struct outcome *o, const char *number, char *why,
			    size_t len)
{
	static const char *const checked[] = {"institution_name", "city", "investigator_name", NULL};
	const char *facility = text(at(loc, "facility", NULL));
	const char *country_name = text(at(loc, "country", NULL));
	const char *city = text(at(loc, "city", NULL));
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
	zone = ctgov_time_zone(country, text(at(loc, "state", NULL)), &guessed);
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
		if (v && !fits(&study_site_def, checked[i], v, rule, sizeof(rule))) {
			snprintf(why, len, "%s does not fit: %s",
				 !strcmp(checked[i], "institution_name") ? "facility"
				 : !strcmp(checked[i], "city")		  ? "city"
									  : "investigator",
				 rule);
			json_decref(site);
			return NULL;
		}
	}
	if (!fits(&study_site_def, "time_zone", json_object_get(site, "time_zone"), why, len)) {
		json_decref(site);
		return NULL;
	}
	o->zone_main += guessed;
	o->no_investigator += !name;
	return site;
}

/* The first record of def matching field = value (a new reference), or NULL. */
static int find_one(struct db *db, const struct actor *a, const struct entity_def *def,
		    const char *field, const char *value, json_t **found, struct err *e)
{
	struct list_filter filter = {field, value};
	struct list_query q = {.limit = 1, .filters = &filter, .nfilters = 1};
	json_t *items = NULL;
	int64_t next;
	int rc = record_list(db, a, def, &q, &items, &next, e);

	*found = rc ? NULL : json_incref(json_array_get(items, 0));
	json_decref(items);
	return rc;
}

static int sponsor_id(struct db *db, const struct actor *a, const json_t *ps, struct outcome *o,
		      json_t **id, struct err *e)
{
	const char *name = text(at(ps, "sponsorCollaboratorsModule", "leadSponsor", "name", NULL));
	json_t *org = NULL, *input;
	char why[600];
	int rc;

	*id = json_null();
	if (!name)
		return 0;
	input = json_pack("{s:s, s:s}", "name", name, "kind", "sponsor");
	if (!input || !fits(&organisation_def, "name", json_object_get(input, "name"), why,
			    sizeof(why))) {
		note(o, "lead sponsor left out: %s", input ? why : "its name is not valid UTF-8");
		json_decref(input);
		return 0;
	}
	rc = find_one(db, a, &organisation_def, "name", name, &org, e);
	if (!rc && !org)
		rc = record_create(db, a, &organisation_def, 0, input, &org, e);
	if (!rc)
		*id = json_integer(json_int(org, "id", 0));
	json_decref(org);
	json_decref(input);
	return rc;
}

/* The fields of wanted that differ from rec; NULL when none do. */
static json_t *differences(const json_t *rec, const json_t *wanted)
{
	json_t *patch = json_object(), *v;
	const char *key;

	json_object_foreach((json_t *)wanted, key, v)
		if (!json_same(json_object_get(rec, key), v))
			json_object_set(patch, key, v);
	if (json_object_size(patch))
		return patch;
	json_decref(patch);
	return NULL;
}

/* Drops null fields: an absent optional field at creation. */
static void drop_nulls(json_t *obj)
{
	const char *key;
	json_t *v;
	void *tmp;

	json_object_foreach_safe(obj, tmp, key, v)
		if (json_is_null(v))
			json_object_del(obj, key);
}

/* Creates or updates the study; *study_id and *changed report what happened. */
static int write_study(struct db *db, const struct actor *a, json_t *wanted, struct outcome *o,
		       int64_t *study_id, struct err *e)
{
	json_t *old = NULL, *holder = NULL, *patch;
	int rc = find_one(db, a, &study_def, "nct_id", o->nct, &old, e);

	if (rc)
		return rc;
	/* protocol numbers are unique: one held by another study gives way to the NCT id. */
	rc = find_one(db, a, &study_def, "protocol_number", json_str(wanted, "protocol_number"),
		      &holder, e);
	if (!rc && holder && json_int(holder, "id", 0) != json_int(old, "id", -1)) {
		note(o, "protocol number '%s' belongs to study %lld; the NCT id is used",
		     json_str(wanted, "protocol_number"), (long long)json_int(holder, "id", 0));
		json_object_set_new(wanted, "protocol_number", json_string(o->nct));
	}
	json_decref(holder);
	if (rc)
		goto done;
	if (!old) {
		json_t *rec = NULL;
		drop_nulls(wanted);
		rc = record_create(db, a, &study_def, 0, wanted, &rec, e);
		*study_id = json_int(rec, "id", 0);
		o->created = !rc;
		json_decref(rec);
		goto done;
	}
	*study_id = json_int(old, "id", 0);
	patch = differences(old, wanted);
	if (patch) {
		json_object_set_new(patch, "change_reason",
				    json_string("ClinicalTrials.gov record imported"));
		rc = record_update(db, a, &study_def, *study_id, json_int(old, "version", 0), patch,
				   NULL, e);
		o->updated = !rc;
		json_decref(patch);
	}
done:
	json_decref(old);
	return rc;
}

/* The study's existing study-sites by site number: {number: record}. */
static int existing_sites(struct db *db, const struct actor *a, int64_t study_id, json_t **out,
			  struct err *e)
{
	struct list_query q = {.parent_id = study_id, .limit = 1000};
	json_t *items, *rec;
	int64_t next = 0;
	size_t i;
	int rc;

	*out = json_object();
	do {
		q.after_id = next;
		if ((rc = record_list(db, a, &study_site_def, &q, &items, &next, e)))
			return rc;
		json_array_foreach(items, i, rec)
			json_object_set(*out, json_str(rec, "site_number"), rec);
		json_decref(items);
	} while (next);
	return 0;
}

/* ctms keeps one site per institution name and country (site.h), but
 * sponsors name many sites alike ("Research Site"): a location whose
 * facility name is already a site in another city of the country becomes
 * the institution "facility, city", so each keeps its own city. */
static int qualify_institution(struct db *db, const struct actor *a, json_t *wanted,
			       struct outcome *o, struct err *e)
{
	const char *name = json_str(wanted, "institution_name"), *city = json_str(wanted, "city");
	struct list_filter filters[] = {{"name", name}, {"country", json_str(wanted, "country")}};
	struct list_query q = {.limit = 1, .filters = filters, .nfilters = 2};
	json_t *items = NULL, *v;
	int64_t next;
	char qualified[512];
	int rc = record_list(db, a, &site_def, &q, &items, &next, e);

	if (rc || !json_array_size(items) || !city ||
	    json_same(json_object_get(json_array_get(items, 0), "city"), json_object_get(wanted, "city")))
		goto done;
	snprintf(qualified, sizeof(qualified), "%s, %s", name, city);
	v = json_string(qualified);
	if (v && fits(&site_def, "name", v, NULL, 0)) {
		json_object_set_new(wanted, "institution_name", v);
		o->city_merged++;
	} else {
		json_decref(v);
		note(o, "location %s (%s, %s) shares site '%s' of another city: '%s' is too long",
		     json_str(wanted, "site_number"), name, city, name, qualified);
	}
done:
	json_decref(items);
	return rc;
}

static int write_site(struct db *db, const struct actor *a, int64_t study_id, const json_t *old,
		      json_t *wanted, struct outcome *o, struct err *e)
{
	/* The city is the shared site's (site.h: one site per name and country),
	 * so it is not the study-site's to compare. */
	static const char *const fixed[] = {"institution_name", "country", NULL};
	const char *number = json_str(wanted, "site_number");
	json_t *patch;
	int rc = qualify_institution(db, a, wanted, o, e);

	if (rc)
		return rc;
	if (!old) {
		rc = record_create(db, a, &study_site_def, study_id, wanted, NULL, e);
		o->sites.created += !rc;
		return rc;
	}
	json_object_del(wanted, "city");
	for (int i = 0; fixed[i]; i++) {
		if (!json_same(json_object_get(old, fixed[i]), json_object_get(wanted, fixed[i]))) {
			reject(o->rejected, o->where, o->nct, number,
			       "%s changed from '%s' to '%s'; a study-site keeps its institution, so "
			       "this location needs a manual review",
			       fixed[i], json_str(old, fixed[i]) ? json_str(old, fixed[i]) : "",
			       json_str(wanted, fixed[i]) ? json_str(wanted, fixed[i]) : "");
			o->sites.rejected++;
			return 0;
		}
		json_object_del(wanted, fixed[i]);
	}
	json_object_del(wanted, "site_number");
	patch = differences(old, wanted);
	if (!patch) {
		o->sites.unchanged++;
		return 0;
	}
	json_object_set_new(patch, "change_reason", json_string("ClinicalTrials.gov record imported"));
	rc = record_update(db, a, &study_site_def, json_int(old, "id", 0),
			   json_int(old, "version", 0), patch, NULL, e);
	o->sites.updated += !rc;
	json_decref(patch);
	return rc;
}

/* Everything of one study inside its transaction. */
static int import_study(struct db *db, const struct actor *a, const json_t *ps, json_t *study,
			json_t *sites, struct outcome *o, struct err *e)
{
	json_t *existing = NULL, *sponsor, *site;
	int64_t study_id = 0;
	size_t i;
	int rc = sponsor_id(db, a, ps, o, &sponsor, e);

	json_object_set_new(study, "sponsor_id", sponsor);
	if (!rc)
		rc = write_study(db, a, study, o, &study_id, e);
	if (!rc)
		rc = existing_sites(db, a, study_id, &existing, e);
	json_array_foreach(sites, i, site) {
		if (rc)
			break;
		rc = write_site(db, a, study_id,
				json_object_get(existing, json_str(site, "site_number")), site, o, e);
	}
	json_decref(existing);
	return rc;
}

static void merge(struct ctgov_report *r, const struct outcome *o)
{
	r->studies.created += o->created;
	r->studies.updated += o->updated;
	r->studies.unchanged += !o->created && !o->updated;
	r->study_sites.created += o->sites.created;
	r->study_sites.updated += o->sites.updated;
	r->study_sites.unchanged += o->sites.unchanged;
	r->study_sites.rejected += o->sites.rejected;
	r->month_dates += o->month_dates;
	r->phase_absent += o->phase_absent;
	r->zone_main += o->zone_main;
	r->no_investigator += o->no_investigator;
	r->city_merged += o->city_merged;
	json_array_extend(r->rejected, o->rejected);
	json_array_extend(r->notes, o->notes);
}

void ctgov_import_record(struct db *db, const struct actor *a, const json_t *record,
			 const char *where, struct ctgov_report *r)
{
	const json_t *ps = at(record, "protocolSection", NULL);
	const json_t *locations = at(ps, "contactsLocationsModule", "locations", NULL);
	const char *nct = text(at(ps, "identificationModule", "nctId", NULL));
	struct outcome o = {.where = where, .nct = nct};
	json_t *study = NULL, *sites = NULL, *loc;
	char why[1024];
	struct err e;
	size_t i;

	if (!json_is_object(ps)) {
		reject(r->rejected, where, NULL, NULL,
		       json_is_object(record) ? "no protocolSection object: not a CT.gov study record"
					      : "not a JSON object: not a CT.gov study record");
		r->studies.rejected++;
		return;
	}
	if (!nct || !nct_valid(nct)) {
		reject(r->rejected, where, nct, NULL,
		       "invalid NCT id '%s': expected NCT followed by 8 digits", nct ? nct : "");
		r->studies.rejected++;
		return;
	}
	o.rejected = json_array();
	o.notes = json_array();
	study = map_study(ps, &o, why, sizeof(why));
	if (!study) {
		reject(r->rejected, where, nct, NULL, "%s", why);
		r->studies.rejected++;
		goto done;
	}
	sites = json_array();
	json_array_foreach(locations, i, loc) {
		char number[24];
		json_t *site;
		snprintf(number, sizeof(number), "%03zu", i + 1);
		site = map_location(loc, &o, number, why, sizeof(why));
		if (site) {
			json_array_append_new(sites, site);
		} else {
			reject(o.rejected, where, nct, number, "%s", why);
			o.sites.rejected++;
		}
	}

	err_init(&e);
	int rc = db_begin(db);
	if (rc) {
		err_set(&e, rc, "the store is busy");
	} else {
		rc = import_study(db, a, ps, study, sites, &o, &e);
		if (rc)
			db_rollback(db);
		else if ((rc = db_commit(db)))
			err_set(&e, rc, "cannot commit: %s", db_errmsg(db));
	}
	if (rc) {
		err_describe(&e, why, sizeof(why));
		reject(r->rejected, where, nct, NULL, "%s", why);
		r->studies.rejected++;
	} else {
		merge(r, &o);
	}
	err_release(&e);
done:
	json_decref(study);
	json_decref(sites);
	json_decref(o.rejected);
	json_decref(o.notes);
}

static void import_text(struct db *db, const struct actor *a, const char *where,
			const char *data, size_t len, struct ctgov_report *r)
{
	json_error_t error;
	json_t *record = json_loadb(data, len, JSON_REJECT_DUPLICATES, &error);

	if (!record) {
		reject(r->rejected, where, NULL, NULL, "not JSON: %s (column %d)", error.text,
		       error.column);
		r->studies.rejected++;
		return;
	}
	ctgov_import_record(db, a, record, where, r);
	json_decref(record);
}

static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

int ctgov_import_file(struct db *db, const struct actor *a, const char *path,
		      struct ctgov_report *r, struct err *e)
{
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	FILE *f = fopen(path, "rb");
	char *line = NULL, where[512];
	size_t cap = 0;
	ssize_t len;
	long number = 0;
	int c;

	if (!f)
		return err_set(e, CTMS_EIO, "cannot read %s: %s", path, strerror(errno));
	while ((c = getc(f)) == ' ' || c == '\t' || c == '\r' || c == '\n')
		;
	if (c == '[') {
		/* One array: the whole file must parse before anything is imported. */
		json_error_t error;
		json_t *all, *record;
		size_t i;
		rewind(f);
		all = json_loadf(f, JSON_REJECT_DUPLICATES, &error);
		fclose(f);
		if (!json_is_array(all)) {
			json_decref(all);
			return err_set(e, CTMS_EIO, "%s is not a JSON array: %s (line %d, column %d)",
				       path, error.text, error.line, error.column);
		}
		json_array_foreach(all, i, record) {
			snprintf(where, sizeof(where), "%s[%zu]", name, i);
			ctgov_import_record(db, a, record, where, r);
		}
		json_decref(all);
		return 0;
	}
	if (c != EOF)
		ungetc(c, f);
	while ((len = getline(&line, &cap, f)) >= 0) {
		number++;
		if (blank(line, (size_t)len))
			continue;
		snprintf(where, sizeof(where), "%s:%ld", name, number);
		import_text(db, a, where, line, (size_t)len, r);
	}
	c = ferror(f);
	free(line);
	fclose(f);
	return c ? err_set(e, CTMS_EIO, "cannot read %s after line %ld", path, number) : 0;
}

static void print_counts(FILE *out, const char *what, const struct ctgov_counts *c)
{
	fprintf(out, "%s: %lld created, %lld updated, %lld unchanged, %lld rejected\n", what,
		(long long)c->created, (long long)c->updated, (long long)c->unchanged,
		(long long)c->rejected);
}

void ctgov_report_print(FILE *out, const struct ctgov_report *r)
{
	const json_t *item;
	size_t i;

	print_counts(out, "studies", &r->studies);
	print_counts(out, "study-sites", &r->study_sites);
	fprintf(out,
		"adapted: %lld dates given as YYYY-MM recorded as the first of the month; %lld "
		"studies without a phase recorded as NA; %lld sites given their country's main time "
		"zone; %lld sites without a named investigator recorded as \"" NOT_REPORTED "\"; %lld "
		"sites named \"facility, city\" as their facility name is a site in another city\n",
		(long long)r->month_dates, (long long)r->phase_absent, (long long)r->zone_main,
		(long long)r->no_investigator, (long long)r->city_merged);
	json_array_foreach(r->rejected, i, item) {
		const char *nct = json_str(item, "nct_id"), *location = json_str(item, "location");
		fprintf(out, "rejected %s %s%s%s%s%s: %s\n", location ? "study-site" : "study",
			json_str(item, "where"), nct ? " " : "", nct ? nct : "",
			location ? " location " : "", location ? location : "",
			json_str(item, "reason"));
	}
	json_array_foreach(r->notes, i, item)
		fprintf(out, "note %s %s: %s\n", json_str(item, "where"), json_str(item, "nct_id"),
			json_str(item, "note"));
}
