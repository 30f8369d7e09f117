/* Shared between the ODM importer's files (odm_import.c: the document, the
 * study and its visit definitions, the report; odm_subjects.c: subjects
 * and their visits). */
#ifndef CTMS_IO_ODM_INTERNAL_H
#define CTMS_IO_ODM_INTERNAL_H

#include <stdbool.h>

#include "domain/record.h"
#include "io/odm.h"
#include "util/date.h"

struct import {
	struct db *db;
	const struct actor *a;
	const struct odm_options *options;
	struct odm_report *r;
	json_t *doc;         /* odm_parse's description */
	int64_t study_id;
	json_t *sites;       /* {site_number: study-site} */
	json_t *definitions; /* {number: visit definition} */
	json_t *event_map;   /* {StudyEventOID: definition number} */
};

void odm_reject(struct import *im, json_int_t line, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void odm_note(struct import *im, json_int_t line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
const json_t *odm_event_def(struct import *im, const char *oid);
bool odm_unscheduled(const json_t *def);
bool odm_common(const json_t *def);
/* The date of an event (its SVSTDTC-like item, else its AuditRecord); -1
 * with why set when it has no full date. */
int odm_event_date(struct import *im, const json_t *ev, char on[DATE_LEN], bool *by_audit,
		   char *why, size_t len);

/* Plans and writes every subject of the document with its visits. */
int odm_subjects_import(struct import *im, struct err *e);

#endif
