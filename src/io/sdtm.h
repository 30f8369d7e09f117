/* CDISC SDTM import: one study from a directory of SDTM datasets as CSV
 * (dm.csv, ds.csv, sv.csv, ts.csv, tv.csv required; ae.csv and ex.csv
 * when present), written through the domain layer so every record is
 * validated and audited like any other.
 *
 * Mapping (docs and the report say the same):
 * - TS: the study (protocol number STUDYID, title TITLE, phase TPHASE,
 *   target enrollment PLANSUB, therapeutic area INDIC, sponsor SPONSOR);
 *   one protocol version "1.0", left draft (approving it takes a manager's
 *   electronic signature, which the data cannot give); the study walked
 *   planned -> start_up ->
 *   enrolling, all dated the first screening in the data (the earliest date
 *   the data proves the study was enrolling; SDTM holds no start-up dates).
 * - DM.SITEID: a study-site per site, walked to activated on its first
 *   subject's screening date; the data names no institution, investigator
 *   or city, so the institution is "<STUDYID> site <SITEID>", the
 *   investigator "Not reported", the zone the country's main one.
 * - DM: a subject per USUBJID (screening number; SUBJID as subject number
 *   once randomised), sex, race, ethnicity, age in years, the blinded arm
 *   (ARM; none for screen failures), screened on RFICDTC when present, else
 *   on the first SV visit; enrolled on RFSTDTC.
 * - DS disposition events: SCREEN FAILURE -> screen_failed, COMPLETED ->
 *   completed, any other -> withdrawn with DSDECOD (the coded reason) as
 *   reason; the verbatim DSTERM has no field and is not kept.
 * - TV: the visit schedule (number VISITNUM, name VISIT, planned day
 *   VISITDY); SV: subject visits (visit_on SVSTDTC, end_on SVENDTC), by
 *   VISITNUM to the schedule, unscheduled (named VISIT) when TV lacks it.
 * - AE: an adverse event per row (adverse_event.h), keyed by AESEQ; dates
 *   as partial as the source gives them, never completed; an onset before
 *   the subject's screening is kept with onset_before_screening_reason
 *   saying so. Codes ctms does not know are left empty and noted.
 * - EX: an exposure record per row (exposure.h), keyed by EXSEQ.
 *
 * Consent: ctms refuses to enroll a subject without a consent date (ICH E6
 * 2.8), and DM.RFICDTC is empty throughout the CDISC pilot. By default such
 * subjects stay "screened" and are reported. With consent_on_screening the
 * consent date is recorded as the subject's screening date, the latest date
 * consent can have preceded the first trial procedure, by an audited update
 * whose reason says the date is not in the source.
 *
 * Study and sites are one transaction; each subject's lifecycle is one and
 * its visits, adverse events and exposure one each (a visit the domain refuses is retried alone so the
 * rest still load). Records that already exist are left as they are and
 * counted unchanged, so re-importing the same directory writes nothing, and
 * an interrupted import resumes where it stopped. */
#ifndef CTMS_IO_SDTM_H
#define CTMS_IO_SDTM_H

#include "io/import_counts.h"
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct db;
struct actor;
struct err;

struct sdtm_options {
	bool consent_on_screening;
};

struct sdtm_report {
	int64_t study_id;
	struct import_counts study, protocol_versions, sites, definitions, subjects, visits;
	struct import_counts adverse_events, exposures;
	/* Subjects of the import by their status afterwards. */
	int64_t screened, screen_failed, enrolled, completed, withdrawn;
	int64_t missing_consent;      /* subjects with an empty DM.RFICDTC */
	int64_t consent_on_screening; /* of those, given their screening date as consent */
	int64_t not_enrolled;         /* randomised in the data, left screened: no consent date */
	int64_t unscheduled_visits;   /* SV rows with a VISITNUM not in TV */
	/* What ae.csv holds (every row, created or not): AESER Y; AESDTH Y or
	 * AEOUT FATAL; onsets given as YYYY or YYYY-MM; no onset; ends given
	 * partially; no end date; onsets before the subject's screening. */
	int64_t serious_events, deaths, partial_onsets, missing_onsets, partial_ends, no_end_date;
	int64_t onset_before_screening;
	bool has_ae, has_ex;
	/* [{"where", "key", "reason"}]: every rejected record, in file order. */
	json_t *rejected;
	/* [{"where", "note"}]: values adapted or left out. */
	json_t *notes;
};

void sdtm_report_init(struct sdtm_report *r);
void sdtm_report_release(struct sdtm_report *r);

/* Imports the SDTM datasets in dir as actor a. Rejected records go to the
 * report. Fails (CTMS_EIO, CTMS_EINVAL) when a required dataset
 * cannot be read or parsed, and with the domain's error when the study or
 * its sites cannot be written; then nothing of the study is written. */
int sdtm_import_dir(struct db *db, const struct actor *a, const char *dir,
		    const struct sdtm_options *options, struct sdtm_report *r, struct err *e);

/* Prints the counts, what was not imported and why, every rejection and
 * every note. */
void sdtm_report_print(FILE *out, const struct sdtm_report *r);

#endif
