/* Shared between the files of the ClinicalTrials.gov importer (ctgov.h):
 * ctgov.c reads records and files and keeps the report, ctgov_map.c maps a
 * record's fields to ctms fields, ctgov_write.c writes one study and its
 * sites through the domain layer. */
#ifndef CTMS_IO_CTGOV_INTERNAL_H
#define CTMS_IO_CTGOV_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/ctgov.h"

struct entity_def;

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

/* obj.k1.k2...: the value at a path of object keys (NULL-terminated), or NULL. */
const json_t *ctgov_at(const json_t *obj, ...);
/* A non-empty string value, else NULL. */
const char *ctgov_text(const json_t *v);
/* Appends a rejection {where, nct_id?, location?, reason} to list. */
void ctgov_reject(json_t *list, const char *where, const char *nct, const char *location,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Counts a rejected study in r and lists it while the list has room. */
void ctgov_report_reject(struct ctgov_report *r, const char *where, const char *nct,
			 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Appends a note about the study of o. */
void ctgov_note(struct outcome *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Whether value passes the rules of field name of def; the message goes to
 * why (may be NULL). */
bool ctgov_fits(const struct entity_def *def, const char *name, const json_t *value, char *why,
		size_t len);

/* The study fields of a protocol section; NULL with why set when the study
 * cannot be a ctms study (ctgov_map.c). */
json_t *ctgov_map_study(const json_t *ps, struct outcome *o, char *why, size_t len);
/* The study-site fields of a location, numbered number; NULL with why set
 * when it cannot be mapped. */
json_t *ctgov_map_location(const json_t *loc, struct outcome *o, const char *number, char *why,
			   size_t len);

/* Writes the study (created or updated field by field) and its sites, in
 * the caller's transaction (ctgov_write.c). */
int ctgov_import_study(struct db *db, const struct actor *a, const json_t *ps, json_t *study,
		       json_t *sites, struct outcome *o, struct err *e);

/* One record (ctgov_import_record); with batch, inside the caller's open
 * transaction, answering the store's refusal instead of reporting it, so
 * the caller can roll back and do the record again on its own (ctgov.c). */
int ctgov_import_one(struct db *db, const struct actor *a, const json_t *record,
		     const char *where, struct ctgov_report *r, bool batch);
/* Adds the counts and lists of part to r. */
void ctgov_report_merge(struct ctgov_report *r, const struct ctgov_report *part);

/* The importer's write transactions: db_begin and an audit batch
 * (audit.h), so the chain head stays in memory until the commit. Begin
 * and commit answer 0 or the store's error; a failed commit is rolled
 * back. */
int ctgov_txn_begin(struct db *db);
int ctgov_txn_commit(struct db *db);
void ctgov_txn_rollback(struct db *db);

#endif
