/* Studies: the trial, identified by its protocol number, with its lifecycle
 * planned -> start_up -> enrolling -> follow_up -> closed, and the exits
 * withdrawn (before enrolling) and terminated (stopped early). */
#ifndef CTMS_STUDY_H
#define CTMS_STUDY_H

#include <stdbool.h>

#include "domain/record.h"

extern const struct entity_def study_def;

/* The status of a study, copied into status (at least 16 bytes). */
int study_status(struct db *db, int64_t study_id, char *status, size_t len, struct err *e);

/* A ClinicalTrials.gov id: NCT followed by 8 digits. */
bool study_nct_valid(const char *s);

#endif
