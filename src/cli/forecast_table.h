/* `ctms forecast`: a study's enrollment forecast as a table for a terminal,
 * the same answer GET /api/v1/studies/{id}/forecast gives as JSON. */
#ifndef CTMS_FORECAST_TABLE_H
#define CTMS_FORECAST_TABLE_H

#include <stdint.h>
#include <stdio.h>

struct db;
struct err;

/* The id of the study with this protocol number, as the command line's
 * system actor; CTMS_ENOTFOUND naming it when there is none. */
int study_by_protocol(struct db *db, const char *protocol, int64_t *id, struct err *e);

/* Finds the study by protocol number, forecasts it with target (NULL: the
 * study's target_enrollment) as of as_of (NULL: today), and prints the
 * table to out. Returns 0, or a negative ctms_err with e saying why
 * (CTMS_ENOTFOUND for no such study, CTMS_EINVAL for a bad target or date). */
int forecast_table_print(FILE *out, struct db *db, const char *protocol, const char *target,
			 const char *as_of, struct err *e);

#endif
