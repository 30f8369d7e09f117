/* The writes of one ClinicalTrials.gov study: its sponsor, the study
 * (created, or updated field by field), its study-sites (ctgov.h). */
#include <stdio.h>
#include <string.h>

#include "db/db.h"
#include "domain/organisation.h"
#include "domain/record.h"
#include "domain/site.h"
#include "domain/study.h"
#include "domain/study_site.h"
#include "io/ctgov_internal.h"
#include "util/json.h"

/* The id of the first record of def with field = value, or 0. */
static int find_id(struct db *db, const struct actor *a, const struct entity_def *def,
		   const char *field, const char *value, int64_t *id, struct err *e)
{
	struct list_filter filter = {field, value};

	return record_find(db, a, def, &filter, 1, id, e);
}

static int sponsor_id(struct db *db, const struct actor *a, const json_t *ps, struct outcome *o,
		      json_t **id, struct err *e)
{
	const char *name = ctgov_text(ctgov_at(ps, "sponsorCollaboratorsModule", "leadSponsor", "name", NULL));
	json_t *input;
	int64_t org = 0;
	char why[600];
	int rc;

	*id = json_null();
	if (!name)
		return 0;
	input = json_pack("{s:s, s:s}", "name", name, "kind", "sponsor");
	if (!input || !ctgov_fits(&organisation_def, "name", json_object_get(input, "name"), why,
				  sizeof(why))) {
		ctgov_note(o, "lead sponsor left out: %s", input ? why : "its name is not valid UTF-8");
		json_decref(input);
		return 0;
	}
	rc = find_id(db, a, &organisation_def, "name", name, &org, e);
	if (!rc && !org)
		rc = record_create_id(db, a, &organisation_def, 0, input, &org, e);
	if (!rc)
		*id = json_integer(org);
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
	json_t *old = NULL, *patch;
	const char *number = json_str(wanted, "protocol_number");
	int64_t id = 0, holder = 0;
	int rc = find_id(db, a, &study_def, "nct_id", o->nct, &id, e);

	if (!rc && id)
		rc = record_read(db, a, &study_def, id, &old, e);
	if (rc)
		return rc;
	/* protocol numbers are unique: one held by another study gives way to the NCT id. */
	rc = find_id(db, a, &study_def, "protocol_number", number, &holder, e);
	if (rc)
		goto done;
	if (holder && holder != id) {
		ctgov_note(o, "protocol number '%s' belongs to study %lld; the NCT id is used", number,
			   (long long)holder);
		json_object_set_new(wanted, "protocol_number", json_string(o->nct));
	}
	if (!old) {
		drop_nulls(wanted);
		rc = record_create_id(db, a, &study_def, 0, wanted, study_id, e);
		o->created = !rc;
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

/* ctms keeps one site per institution name and country (site.h), but
 * sponsors name many sites alike ("Research Site"): a location whose
 * facility name is already a site in another city of the country becomes
 * the institution "facility, city", so each keeps its own city. */
static int qualify_institution(struct db *db, const struct actor *a, json_t *wanted,
			       struct outcome *o, struct err *e)
{
	const char *name = json_str(wanted, "institution_name"), *city = json_str(wanted, "city");
	struct list_filter filters[] = {{"name", name}, {"country", json_str(wanted, "country")}};
	json_t *site = NULL, *v;
	int64_t id = 0;
	char qualified[512];
	int rc = record_find(db, a, &site_def, filters, NELEMS(filters), &id, e);

	if (!rc && id && city)
		rc = record_read(db, a, &site_def, id, &site, e);
	if (rc || !site || json_same(json_object_get(site, "city"), json_object_get(wanted, "city")))
		goto done;
	snprintf(qualified, sizeof(qualified), "%s, %s", name, city);
	v = json_string(qualified);
	if (v && ctgov_fits(&site_def, "name", v, NULL, 0)) {
		json_object_set_new(wanted, "institution_name", v);
		o->city_merged++;
	} else {
		json_decref(v);
		ctgov_note(o, "location %s (%s, %s) shares site '%s' of another city: '%s' is too long",
			   json_str(wanted, "site_number"), name, city, name, qualified);
	}
done:
	json_decref(site);
	return rc;
}

static int write_site(struct db *db, const struct actor *a, int64_t study_id, const json_t *old,
		      json_t *wanted, struct outcome *o, struct err *e)
{
	/* The city, region and geo point are the shared site's (site.h: one
	 * site per name and country), so they are not the study-site's to
	 * compare. */
	static const char *const fixed[] = {"institution_name", "country", NULL};
	static const char *const shared[] = {"city", "region", "postal_code", "latitude",
					     "longitude", NULL};
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
	for (int i = 0; shared[i]; i++)
		json_object_del(wanted, shared[i]);
	for (int i = 0; fixed[i]; i++) {
		if (!json_same(json_object_get(old, fixed[i]), json_object_get(wanted, fixed[i]))) {
			ctgov_reject(o->rejected, o->where, o->nct, number,
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
int ctgov_import_study(struct db *db, const struct actor *a, const json_t *ps, json_t *study,
		       json_t *sites, struct outcome *o, struct err *e)
{
	json_t *existing = NULL, *sponsor, *site;
	int64_t study_id = 0;
	size_t i;
	int rc = sponsor_id(db, a, ps, o, &sponsor, e);

	json_object_set_new(study, "sponsor_id", sponsor);
	if (!rc)
		rc = write_study(db, a, study, o, &study_id, e);
	/* A study created just now has no study-sites yet. */
	if (!rc && !o->created)
		rc = record_index(db, a, &study_site_def, study_id, "site_number", &existing, e);
	json_array_foreach(sites, i, site) {
		if (rc)
			break;
		rc = write_site(db, a, study_id,
				json_object_get(existing, json_str(site, "site_number")), site, o, e);
	}
	json_decref(existing);
	return rc;
}
