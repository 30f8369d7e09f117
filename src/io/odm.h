/* CDISC ODM 1.3.x import and ODM 1.3.2 export of a study's subjects and
 * visits (docs/formats.md has the field tables).
 *
 * Import: the ClinicalData of an ODM file goes into an existing study,
 * named by its protocol number, through the domain layer, so every record
 * is validated and audited like any other.
 * - SubjectData: a subject per SubjectKey (its screening number), at the
 *   study-site named by its SiteRef (or its AuditRecord's LocationRef):
 *   the site whose number is the LocationOID, else whose institution is the
 *   AdminData Location's name; subjects naming no site go to the default
 *   site when one is given. Sex, age, race, ethnicity, consent date, subject
 *   number and arm come from items with those roles (odm_item_role); the
 *   screening date from a SCRNDAT item, else the consent date, else the
 *   first visit, else the subject's AuditRecord.
 * - StudyEventData: a subject visit dated by its SVSTDTC/VISITDTC item,
 *   else by its AuditRecord; scheduled at the visit definition whose number
 *   is the StudyEventOID or whose name is the StudyEventDef's name (created
 *   when the study has none), unscheduled for StudyEventDef Type
 *   "Unscheduled". An undated "Common" event holds subject-level data and
 *   is no visit.
 * - AuditRecords are counted, and their dates serve as above; ctms's own
 *   trail records the import. Vendor extensions are counted and ignored.
 *
 * Transactions: the visit definitions the file needs are one transaction
 * (the import stops, writing nothing, when it fails); then each subject
 * with its visits is one; a subject the domain refuses is reported and the
 * rest still load; a visit refused is retried alone and reported. Records
 * that already exist (subject by screening number, visit by definition or
 * by name and date) are left as they are and counted unchanged, so a
 * re-import writes nothing. */
#ifndef CTMS_IO_ODM_H
#define CTMS_IO_ODM_H

#include "io/import_counts.h"
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

struct db;
struct actor;
struct err;

struct odm_options {
	const char *default_site; /* site number for subjects that name none, or NULL */
};

struct odm_report {
	int64_t study_id;
	struct import_counts definitions, subjects, visits;
	int64_t audit_records, vendor_elements, item_data;
	int64_t common_events;      /* undated Common events: subject-level data, no visit */
	int64_t duplicate_subjects; /* SubjectKeys seen again in the file */
	int64_t sex_unknown;        /* subjects recorded with sex U: the file says none */
	int64_t age_from_birth;     /* ages computed from a birth date */
	int64_t dated_by_audit;     /* visits dated by their AuditRecord */
	/* [{"where", "key", "reason"}]: the rejected records in file order, the
	 * first ODM_REPORT_LIST_MAX; rejected_unlisted counts the others. */
	json_t *rejected;
	int64_t rejected_unlisted;
	/* [{"where", "note"}]: values adapted or left out; bounded the same way. */
	json_t *notes;
	int64_t notes_unlisted;
};

#define ODM_REPORT_LIST_MAX 1000

void odm_report_init(struct odm_report *r);
void odm_report_release(struct odm_report *r);

/* Imports the ODM document data[0..len) into the study with protocol
 * number protocol, as actor a. Fails, writing nothing, when the document
 * is not ODM (CTMS_EINVAL, CTMS_ETOOBIG), the study is not visible
 * (CTMS_ENOTFOUND) or the visit definitions cannot be written; rejected
 * records go to the report. */
int odm_import(struct db *db, const struct actor *a, const char *protocol, const char *data,
	       size_t len, const struct odm_options *options, struct odm_report *r, struct err *e);

/* Reads the file at path (CTMS_EIO when it cannot) and imports it. */
int odm_import_file(struct db *db, const struct actor *a, const char *protocol, const char *path,
		    const struct odm_options *options, struct odm_report *r, struct err *e);

/* The report as JSON (a new object): counts, "rejected" and "notes". */
json_t *odm_report_json(const struct odm_report *r);
void odm_report_print(FILE *out, const struct odm_report *r);

/* The ODM 1.3.2 document of a study's subjects and visits as actor a sees
 * them (access rules apply: only visible sites and subjects, the arm only
 * for an unblinded actor); *xml is a NUL-terminated string the caller
 * frees. CTMS_ENOTFOUND when the study is not visible. */
int odm_export(struct db *db, const struct actor *a, int64_t study_id, char **xml, size_t *len,
	       struct err *e);

#endif
