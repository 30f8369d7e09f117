/* A study at a glance: subjects by status, study-sites by status, and
 * enrollment against target, computed from the records (never stored). */
#ifndef CTMS_SUMMARY_H
#define CTMS_SUMMARY_H

#include <jansson.h>
#include <stdint.h>

struct db;
struct err;

int study_summary(struct db *db, int64_t study_id, json_t **out, struct err *e);

#endif
