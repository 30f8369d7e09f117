/* A study as HL7 FHIR R4: a Bundle of type "collection" holding one
 * ResearchStudy, the Organization of its sponsor, a Location per study-site
 * and one ResearchSubject per subject the actor may see, each subject's
 * individual a Patient known only by its screening number (no direct
 * identifier leaves ctms). The mapping is in docs/formats-exports.md.
 *
 * The randomised arm (ResearchSubject.assignedArm) is there only for an
 * actor with unblinded access, as in every other view. */
#ifndef CTMS_IO_FHIR_H
#define CTMS_IO_FHIR_H

#include <jansson.h>
#include <stdint.h>

struct db;
struct actor;
struct err;

/* *out receives the Bundle (a new reference), read through the domain as
 * the actor: CTMS_ENOTFOUND when the study does not exist or the actor may
 * not see it. */
int fhir_study_bundle(struct db *db, const struct actor *a, int64_t study_id, json_t **out,
		      struct err *e);

/* FHIR R4 codes for ctms states: ResearchStudy.status
 * (research-study-status), ResearchStudy.phase (research-study-phase) and
 * ResearchSubject.status (research-subject-status). Static storage. */
const char *fhir_study_status(const char *status);
const char *fhir_study_phase(const char *phase);
const char *fhir_subject_status(const char *status);

#endif
