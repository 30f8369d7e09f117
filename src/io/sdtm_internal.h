/* Shared between the SDTM importer's files (sdtm.c: the study, its sites
 * and schedule, the report; sdtm_subjects.c: subjects; sdtm_visits.c:
 * their visits; sdtm_events.c: adverse events and exposure). */
#ifndef CTMS_IO_SDTM_INTERNAL_H
#define CTMS_IO_SDTM_INTERNAL_H

#include "domain/record.h"
#include "io/sdtm.h"
#include "io/csv_read.h"
#include "util/date.h"

struct sdtm_subject {
	size_t row;               /* in dm.csv */
	const char *usubjid;
	char screened_on[DATE_LEN];
	char consented_on[DATE_LEN]; /* "" when DM.RFICDTC is empty */
	char enrolled_on[DATE_LEN];  /* "" when never randomised */
	char ended_on[DATE_LEN];     /* the disposition date */
	const char *target;          /* the status the data ends in */
	char reason[512];
	char status[16];             /* in ctms, as the import goes */
	int64_t id;
	bool skip;                   /* rejected: no further writes */
	bool existed;                /* already in ctms before this import */
};

struct sdtm_import {
	struct db *db;
	const struct actor *a;
	const struct sdtm_options *options;
	struct sdtm_report *r;
	struct csv_table dm, ds, sv, ts, tv;
	struct csv_table ae, ex; /* optional: no columns when the file is absent */
	const char *study_number; /* STUDYID */
	int64_t study_id;
	struct sdtm_subject *subjects; /* dm.nrows */
	char first_screening[DATE_LEN];
};

void sdtm_reject(struct sdtm_report *r, const char *where, const char *key, const char *fmt,
		 ...) __attribute__((format(printf, 4, 5)));
void sdtm_note(struct sdtm_report *r, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Reads each DM subject's dates and disposition (DS) and screening date
 * (SV); rejects subjects that cannot be placed. */
void sdtm_subjects_plan(struct sdtm_import *im);
/* Writes the subjects, their lifecycles and their visits. */
int sdtm_subjects_import(struct sdtm_import *im, struct err *e);
/* Writes the SV visits of the subjects written (sdtm_visits.c). */
int sdtm_visits_import(struct sdtm_import *im, struct err *e);
/* Writes the AE adverse events and EX exposure of the subjects written
 * (sdtm_events.c). */
int sdtm_events_import(struct sdtm_import *im, struct err *e);

#endif
