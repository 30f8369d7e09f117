/* `ctms enrollment` and `ctms diversity`: a study's tracking and diversity
 * reports as tables for a terminal, the same answers
 * GET /api/v1/studies/{id}/enrollment and GET /api/v1/studies/{id}/diversity
 * give as JSON. Both only read. */
#ifndef CTMS_REPORT_TABLES_H
#define CTMS_REPORT_TABLES_H

#include <stdio.h>

struct db;
struct err;

/* Finds the study by protocol number, builds its tracking report as of
 * as_of (NULL: today) with groups by "site", "country" or "month" (NULL:
 * totals only), and prints it to out. Returns 0, or a negative ctms_err with
 * e saying why: CTMS_ENOTFOUND for no such study, CTMS_EINVAL with a field
 * error on "--as-of" or "--by" for a bad date or grouping. */
int enrollment_table_print(FILE *out, struct db *db, const char *protocol, const char *as_of,
			   const char *by, struct err *e);

/* Finds the study by protocol number, builds its diversity report as of
 * as_of (NULL: today) and prints it to out: every dimension's categories
 * with goal, actual and projected final mix, then each goal's standing and
 * the sites. Small cells show their count alone, as the JSON does. Returns 0
 * or a negative ctms_err as enrollment_table_print. */
int diversity_table_print(FILE *out, struct db *db, const char *protocol, const char *as_of,
			  struct err *e);

#endif
