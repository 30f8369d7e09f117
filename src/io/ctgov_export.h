/* A study as ClinicalTrials.gov registers it: the protocolSection of the
 * CT.gov API v2 study record, built from what ctms keeps, so registration
 * data stays in one place. The mapping is in docs/formats-exports.md.
 *
 * The record reads back through ctgov_import_record() (ctgov.h): a study
 * imported from CT.gov and exported again imports as unchanged. */
#ifndef CTMS_IO_CTGOV_EXPORT_H
#define CTMS_IO_CTGOV_EXPORT_H

#include <jansson.h>
#include <stdint.h>

struct db;
struct actor;
struct err;

/* *out receives {"protocolSection": {...}} for study_id (a new reference),
 * read through the domain as the actor: CTMS_ENOTFOUND when the study does
 * not exist or the actor may not see it; sites the actor may not see are
 * left out. */
int ctgov_export_study(struct db *db, const struct actor *a, int64_t study_id, json_t **out,
		       struct err *e);

/* The CT.gov overallStatus for a ctms study status, and the CT.gov name of
 * an ISO 3166-1 country code (the spelling ctgov_country_code() reads
 * back), or NULL for a code it does not know. Static storage. */
const char *ctgov_export_status(const char *status);
const char *ctgov_export_country(const char *code);

#endif
