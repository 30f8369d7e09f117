#include "io/fhir.h"

#include <stdio.h>
#include <string.h>

#include "domain/organisation.h"
#include "domain/record.h"
#include "domain/site.h"
#include "domain/study.h"
#include "domain/study_site.h"
#include "domain/subject.h"
#include "util/buf.h"
#include "util/date.h"
#include "util/hash.h"
#include "util/json.h"

#define PHASE_SYSTEM "http://terminology.hl7.org/CodeSystem/research-study-phase"
#define V2_0203 "http://terminology.hl7.org/CodeSystem/v2-0203"
#define NCT_SYSTEM "https://clinicaltrials.gov/show/"

static const char *lookup(const char *const map[][2], size_t n, const char *key)
{
	for (size_t i = 0; key && i < n; i++)
		if (!strcmp(map[i][0], key))
			return map[i][1];
	return NULL;
}

/* R4 research-study-status: planned is a protocol not yet approved to
 * start (in-review), start-up an approved one awaiting its first subject;
 * follow-up takes no one new (closed-to-accrual); terminated stopped early
 * for good (administratively-completed). */
const char *fhir_study_status(const char *status)
{
	static const char *const map[][2] = {
		{"planned", "in-review"},	  {"start_up", "approved"},
		{"enrolling", "active"},	  {"follow_up", "closed-to-accrual"},
		{"closed", "completed"},	  {"terminated", "administratively-completed"},
		{"withdrawn", "withdrawn"},
	};
	return lookup(map, sizeof(map) / sizeof(map[0]), status);
}

const char *fhir_study_phase(const char *phase)
{
	static const char *const map[][2] = {
		{"NA", "n-a"},
		{"EARLY_PHASE1", "early-phase-1"},
		{"PHASE1", "phase-1"},
		{"PHASE1_PHASE2", "phase-1-phase-2"},
		{"PHASE2", "phase-2"},
		{"PHASE2_PHASE3", "phase-2-phase-3"},
		{"PHASE3", "phase-3"},
		{"PHASE4", "phase-4"},
	};
	return lookup(map, sizeof(map) / sizeof(map[0]), phase);
}

/* R4 research-subject-status. */
const char *fhir_subject_status(const char *status)
{
	static const char *const map[][2] = {
		{"screened", "screening"}, {"screen_failed", "ineligible"}, {"enrolled", "on-study"},
		{"completed", "off-study"}, {"withdrawn", "withdrawn"},
	};
	return lookup(map, sizeof(map) / sizeof(map[0]), status);
}

static const char *first(const char *a, const char *b)
{
	return a ? a : b;
}

/* A fresh urn:uuid (random, version 4) for a Bundle entry's fullUrl. */
static json_t *new_urn(void)
{
	char hex[33], urn[64];

	random_hex(hex, 16);
	hex[12] = '4';
	hex[16] = "89ab"[hex[16] % 4];
	snprintf(urn, sizeof(urn), "urn:uuid:%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
		 hex + 16, hex + 20);
	return json_string(urn);
}

/* Appends resource (stolen) to the bundle; answers a Reference to it. */
static json_t *add_entry(json_t *bundle, json_t *resource)
{
	json_t *urn = new_urn();
	json_array_append_new(json_object_get(bundle, "entry"),
			      json_pack("{s:O, s:o}", "fullUrl", urn, "resource", resource));
	return json_pack("{s:o}", "reference", urn);
}

static json_t *resource_id(const char *kind, int64_t id)
{
	char text[64];
	snprintf(text, sizeof(text), "%s-%lld", kind, (long long)id);
	return json_string(text);
}

static void set_text(json_t *obj, const char *key, const char *value)
{
	if (value)
		json_object_set_new(obj, key, json_string(value));
}

/* A Period from start to end; NULL when neither is known. */
static json_t *period(const char *start, const char *end)
{
	json_t *p;

	if (!start && !end)
		return NULL;
	p = json_object();
	set_text(p, "start", start);
	set_text(p, "end", end);
	return p;
}

static json_t *organization(const json_t *org)
{
	json_t *r = json_pack("{s:s, s:o, s:b}", "resourceType", "Organization", "id",
			      resource_id("organisation", json_int(org, "id", 0)), "active", 1);
	set_text(r, "name", json_str(org, "name"));
	return r;
}

static json_t *location(struct db *db, const struct actor *a, const json_t *ss)
{
	json_t *r = json_pack("{s:s, s:o}", "resourceType", "Location", "id",
			      resource_id("study-site", json_int(ss, "id", 0)));
	json_t *address = json_object(), *site = NULL;
	struct err e;

	json_object_set_new(r, "identifier",
			    json_pack("[{s:s, s:s}]", "use", "usual", "value",
				      json_str(ss, "site_number")));
	json_object_set_new(r, "status", json_string(strcmp(first(json_str(ss, "status"), ""), "closed")
							     ? "active" : "inactive"));
	set_text(r, "name", json_str(ss, "institution_name"));
	set_text(address, "city", json_str(ss, "city"));
	err_init(&e);
	if (!record_get(db, a, &site_def, json_int(ss, "site_id", 0), &site, &e)) {
		set_text(address, "state", json_str(site, "region"));
		set_text(address, "postalCode", json_str(site, "postal_code"));
	}
	err_release(&e);
	json_decref(site);
	set_text(address, "country", json_str(ss, "country"));
	json_object_set_new(r, "address", address);
	return r;
}

/* The enrollment target: R4 ResearchStudy.enrollment names the Group of
 * people the study means to enrol; its quantity is the target. */
static json_t *enrollment_group(const json_t *study)
{
	return json_pack("{s:s, s:s, s:s, s:b, s:I, s:s}", "resourceType", "Group", "id",
			 "enrollment-target", "type", "person", "actual", 0, "quantity",
			 (json_int_t)json_int(study, "target_enrollment", 0), "name",
			 "Target enrollment");
}

static json_t *research_study(const json_t *study)
{
	const char *phase = fhir_study_phase(json_str(study, "phase"));
	const char *status = json_str(study, "status");
	const char *ended = first(json_str(study, "closed_on"),
				  first(json_str(study, "terminated_on"), json_str(study, "withdrawn_on")));
	json_t *r = json_pack("{s:s, s:o}", "resourceType", "ResearchStudy", "id",
			      resource_id("study", json_int(study, "id", 0)));
	json_t *ids = json_pack("[{s:s, s:s}]", "use", "usual", "value",
				json_str(study, "protocol_number")), *p;

	if (json_str(study, "nct_id"))
		json_array_append_new(ids, json_pack("{s:s, s:s, s:s}", "use", "official", "system",
						     NCT_SYSTEM, "value", json_str(study, "nct_id")));
	json_object_set_new(r, "contained", json_pack("[o]", enrollment_group(study)));
	json_object_set_new(r, "identifier", ids);
	set_text(r, "title", json_str(study, "title"));
	set_text(r, "status", fhir_study_status(status));
	if (phase)
		json_object_set_new(r, "phase",
				    json_pack("{s:[{s:s, s:s}]}", "coding", "system", PHASE_SYSTEM,
					      "code", phase));
	if (json_array_size(json_object_get(study, "conditions"))) {
		json_t *list = json_array(), *c;
		size_t i;
		json_array_foreach(json_object_get(study, "conditions"), i, c)
			json_array_append_new(list, json_pack("{s:O}", "text", c));
		json_object_set_new(r, "condition", list);
	} else if (json_str(study, "therapeutic_area")) {
		json_object_set_new(r, "condition",
				    json_pack("[{s:s}]", "text", json_str(study, "therapeutic_area")));
	}
	if ((p = period(first(json_str(study, "enrolling_on"), json_str(study, "planned_start_on")),
			first(ended, json_str(study, "planned_end_on")))))
		json_object_set_new(r, "period", p);
	json_object_set_new(r, "enrollment", json_pack("[{s:s}]", "reference", "#enrollment-target"));
	if (status && (!strcmp(status, "terminated") || !strcmp(status, "withdrawn")) &&
	    json_str(study, "status_reason"))
		json_object_set_new(r, "reasonStopped",
				    json_pack("{s:s}", "text", json_str(study, "status_reason")));
	return r;
}

/* The subject's individual: a Patient known only by the screening number
 * the study gave it, a logical reference with no Patient resource. */
static json_t *individual(const json_t *subject, const json_t *study)
{
	char assigner[128];

	snprintf(assigner, sizeof(assigner), "Study %s", json_str(study, "protocol_number"));
	return json_pack("{s:s, s:{s:{s:[{s:s, s:s}]}, s:s, s:{s:s}}, s:s}", "type", "Patient",
			 "identifier", "type", "coding", "system", V2_0203, "code", "ANON", "value",
			 json_str(subject, "screening_number"), "assigner", "display", assigner,
			 "display", "Subject by screening number");
}

static json_t *research_subject(const json_t *subject, const json_t *study, json_t *study_ref)
{
	json_t *r = json_pack("{s:s, s:o}", "resourceType", "ResearchSubject", "id",
			      resource_id("subject", json_int(subject, "id", 0)));
	json_t *p;
	const char *start = first(json_str(subject, "consented_on"),
				  first(json_str(subject, "enrolled_on"), json_str(subject, "screened_on")));
	const char *end = first(json_str(subject, "completed_on"),
				first(json_str(subject, "withdrawn_on"),
				      json_str(subject, "screen_failed_on")));

	json_object_set_new(
		r, "identifier",
		json_pack("[{s:{s:[{s:s, s:s}]}, s:s}]", "type", "coding", "system", V2_0203, "code",
			  "ANON", "value",
			  first(json_str(subject, "subject_number"), json_str(subject, "screening_number"))));
	set_text(r, "status", fhir_subject_status(json_str(subject, "status")));
	if ((p = period(start, end)))
		json_object_set_new(r, "period", p);
	json_object_set_new(r, "study", json_deep_copy(study_ref));
	json_object_set_new(r, "individual", individual(subject, study));
	/* present() (record.c) drops the arm for a blinded actor. */
	set_text(r, "assignedArm", json_str(subject, "arm"));
	return r;
}

/* ResearchStudy.arm: the study's registered arms; else the distinct arms
 * of the subjects as the actor is shown them (none for a blinded actor,
 * who is shown no arm); NULL when there are none. */
static json_t *study_arms(const json_t *study, const json_t *subjects)
{
	json_t *arms = json_array(), *seen = json_object(), *subject, *registered;
	size_t i;

	json_array_foreach(json_object_get(study, "arms"), i, registered) {
		json_t *a = json_pack("{s:O}", "name", json_object_get(registered, "label"));
		if (json_str(registered, "type"))
			json_object_set_new(a, "type",
					    json_pack("{s:s}", "text", json_str(registered, "type")));
		if (json_str(registered, "description"))
			json_object_set_new(a, "description",
					    json_string(json_str(registered, "description")));
		json_array_append_new(arms, a);
	}
	if (json_array_size(arms))
		subjects = NULL;

	json_array_foreach(subjects, i, subject) {
		const char *arm = json_str(subject, "arm");
		if (arm && !json_object_get(seen, arm)) {
			json_object_set_new(seen, arm, json_true());
			json_array_append_new(arms, json_pack("{s:s}", "name", arm));
		}
	}
	json_decref(seen);
	if (json_array_size(arms))
		return arms;
	json_decref(arms);
	return NULL;
}

/* The study's sponsor, sites and subjects, as entries after the study. */
static int add_parts(struct db *db, const struct actor *a, const json_t *study, json_t *bundle,
		     json_t *rs, json_t *study_ref, struct err *e)
{
	json_t *sites = NULL, *subjects = NULL, *org = NULL, *arms, *v;
	struct err ignored;
	size_t i;
	int rc;

	err_init(&ignored);
	if (json_int(study, "sponsor_id", 0) &&
	    !record_get(db, a, &organisation_def, json_int(study, "sponsor_id", 0), &org, &ignored))
		json_object_set_new(rs, "sponsor", add_entry(bundle, organization(org)));
	err_release(&ignored);
	json_decref(org);
	if ((rc = record_list_all(db, a, &study_site_def, json_int(study, "id", 0), &sites, e)))
		goto done;
	if (json_array_size(sites))
		json_object_set_new(rs, "site", json_array());
	json_array_foreach(sites, i, v)
		json_array_append_new(json_object_get(rs, "site"), add_entry(bundle, location(db, a, v)));
	if ((rc = record_list_all(db, a, &subject_def, json_int(study, "id", 0), &subjects, e)))
		goto done;
	if ((arms = study_arms(study, subjects)))
		json_object_set_new(rs, "arm", arms);
	json_array_foreach(subjects, i, v)
		json_decref(add_entry(bundle, research_subject(v, study, study_ref)));
done:
	json_decref(sites);
	json_decref(subjects);
	return rc;
}

int fhir_study_bundle(struct db *db, const struct actor *a, int64_t study_id, json_t **out,
		      struct err *e)
{
	json_t *study = NULL, *bundle, *rs, *ref;
	char now[TIMESTAMP_LEN];
	int rc;

	*out = NULL;
	if ((rc = record_get(db, a, &study_def, study_id, &study, e)))
		return rc;
	timestamp_format(now_us(), now);
	bundle = json_pack("{s:s, s:o, s:{s:s}, s:s, s:s, s:[]}", "resourceType", "Bundle", "id",
			   resource_id("study", study_id), "meta", "lastUpdated", now, "type",
			   "collection", "timestamp", now, "entry");
	rs = research_study(study);
	ref = add_entry(bundle, json_incref(rs));
	rc = add_parts(db, a, study, bundle, rs, ref, e);
	json_decref(rs);
	json_decref(ref);
	json_decref(study);
	if (rc)
		json_decref(bundle);
	else
		*out = bundle;
	return rc;
}
