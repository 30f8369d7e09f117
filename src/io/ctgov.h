/* ClinicalTrials.gov API v2 import: study records (the JSON CT.gov serves
 * for one study, with its protocolSection) become ctms studies, their
 * locations study-sites, through the domain layer, so every write is
 * validated and audited like any other.
 *
 * A study is keyed by its NCT id: the first import creates it, a later one
 * compares each mapped field with what ctms holds and updates only the
 * fields that differ; an identical record writes nothing, not even an
 * audit event. A location is keyed by its position in the record's location
 * list, which gives its site number ("001", "002", ...). The studies of
 * a file or request are written in one transaction; when the store refuses
 * a study, the transaction is rolled back, the studies before it are
 * written again and the refused one on its own, so a study that fails is
 * reported and leaves the others loaded.
 *
 * Anything that does not fit a ctms field is reported, never invented: a
 * study or a location that cannot be mapped is rejected with its reason;
 * a value that had to be adapted (a YYYY-MM date taken as the first of the
 * month, an absent phase taken as NA, a time zone taken as the country's
 * main one) is counted in the report. */
#ifndef CTMS_IO_CTGOV_H
#define CTMS_IO_CTGOV_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

struct db;
struct actor;
struct err;

struct ctgov_counts {
	int64_t created, updated, unchanged, rejected;
};

struct ctgov_report {
	struct ctgov_counts studies, study_sites;
	int64_t month_dates;     /* YYYY-MM dates recorded as the first of the month */
	int64_t phase_absent;    /* studies without a phase, recorded as NA */
	int64_t zone_main;       /* sites given their multi-zone country's main zone */
	int64_t no_investigator; /* sites whose investigator is "Not reported" */
	int64_t city_merged;     /* sites named "facility, city": the facility is a site elsewhere */
	/* [{"where", "nct_id"?, "location"?, "reason"}]: the rejected studies
	 * and study-sites, in file order, the first CTGOV_REPORT_LIST_MAX of
	 * them; rejected_unlisted counts the others (a file of millions of bad
	 * lines is reported in bounded memory). */
	json_t *rejected;
	int64_t rejected_unlisted;
	/* [{"where", "nct_id", "note"}]: values left out of an imported study;
	 * bounded the same way. */
	json_t *notes;
	int64_t notes_unlisted;
};

#define CTGOV_REPORT_LIST_MAX 1000

void ctgov_report_init(struct ctgov_report *r);
void ctgov_report_release(struct ctgov_report *r);

/* Imports one study record (a JSON value as CT.gov serves it); where names
 * it in the report ("studies.jsonl:12"). Outcomes go to the report; the
 * function itself does not fail. */
void ctgov_import_record(struct db *db, const struct actor *a, const json_t *record,
			 const char *where, struct ctgov_report *r);

/* Imports len bytes holding one JSON study per line or one JSON array of
 * studies; name names them in the report ("studies.jsonl:12", "body[3]").
 * A line or element that is not a study record is rejected in the report,
 * and the others are imported. Returns CTMS_EINVAL, and imports nothing,
 * when an array is not valid JSON as a whole. */
int ctgov_import_buffer(struct db *db, const struct actor *a, const char *name, const char *data,
			size_t len, struct ctgov_report *r, struct err *e);

#define CTGOV_MAX_FILE_BYTES (1L << 30)

/* Reads a file (at most CTGOV_MAX_FILE_BYTES) and imports it as
 * ctgov_import_buffer does. Returns CTMS_EIO, and imports nothing, when
 * the file cannot be read. */
int ctgov_import_file(struct db *db, const struct actor *a, const char *path,
		      struct ctgov_report *r, struct err *e);

/* The report as JSON: {"studies": counts, "study_sites": counts,
 * "adapted": {...}, "rejected": [...], "notes": [...]}, counts being
 * {"created", "updated", "unchanged", "rejected"}. A new reference. */
json_t *ctgov_report_json(const struct ctgov_report *r);

/* Prints the counts, the adaptations, every rejection and every note. */
void ctgov_report_print(FILE *out, const struct ctgov_report *r);

#endif
