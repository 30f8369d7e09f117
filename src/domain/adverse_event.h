/* Adverse events of a subject (CDISC SDTM AE): the reported and the coded
 * term, body system, onset and end, severity, seriousness with its
 * criteria, relationship to the study drug, action taken and outcome.
 *
 * Dates keep the precision the reporter had: YYYY, YYYY-MM or YYYY-MM-DD
 * (ISO 8601 reduced precision, as SDTM --STDTC/--ENDTC), never completed by
 * guessing. Two dates are ordered only where their precision tells:
 * 2013-02 is not before 2013-02-15, 2013-01 is.
 *
 * An event whose onset precedes the subject's screening is medical
 * history, not an adverse event of the trial, and is refused — unless
 * onset_before_screening_reason says why it is recorded all the same (a
 * condition that worsened during the trial; a source that records it so).
 *
 * Each event has a sequence number unique within its subject (SDTM AESEQ),
 * the next free one when none is given. */
#ifndef CTMS_ADVERSE_EVENT_H
#define CTMS_ADVERSE_EVENT_H

#include <stdbool.h>

#include "domain/record.h"

extern const struct entity_def adverse_event_def;

/* CDISC controlled terminology: AESEV (C66769), OUT (C66768), ACN (C66767),
 * NY (C66742, Y and N only). NULL-terminated. */
extern const char *const adverse_event_severity_codes[];
extern const char *const adverse_event_outcome_codes[];
extern const char *const adverse_event_action_codes[];
extern const char *const yes_no_codes[];

/* An ISO 8601 date of full or reduced precision: YYYY, YYYY-MM or
 * YYYY-MM-DD, with a real month and day. */
bool partial_date_valid(const char *s);
/* Whether a certainly precedes b: compared to the precision of the less
 * precise of the two. Both must be valid. */
bool partial_date_before(const char *a, const char *b);

/* For hooks of records owned by a subject (adverse events, exposure):
 * sets study_id and study_site_id (the scope access checks, not a column)
 * from the subject, and the next free sequence_number of table when none
 * is given. */
int subject_record_prepare(struct db *db, const char *table, json_t *values, struct err *e);

/* Checks a partial date field of rec: its form, and that it is not in the
 * future. */
void partial_date_check(const json_t *rec, const char *field, struct err *e);

/* The subject's screening date into out (DATE_LEN bytes); "" when unknown. */
int subject_screened_on(struct db *db, int64_t subject_id, char *out, struct err *e);

#endif
