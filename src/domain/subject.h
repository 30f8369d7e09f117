/* Subjects at a study-site: screened -> screen_failed | enrolled, enrolled
 * -> completed | withdrawn. No names or other direct identifiers are kept:
 * a screening number, demographics coded in CDISC SDTM terminology and the
 * age in whole years at screening. */
#ifndef CTMS_SUBJECT_H
#define CTMS_SUBJECT_H

#include "domain/record.h"

extern const struct entity_def subject_def;

/* The FDA age group of an age in whole years: "0-17", "18-64", "65-74",
 * "75-84", "85+". */
const char *subject_age_band(int64_t age);
/* Those groups in order, NULL-terminated. */
extern const char *const subject_age_bands[];

#endif
