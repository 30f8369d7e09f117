/* The visit schedule of a study (CDISC SDTM TV) and the visits subjects
 * made (SDTM SV). Study days follow the SDTM convention: day 1 is the day of
 * enrollment, the day before it is day -1, there is no day 0. Whether a
 * visit fell inside its window is derived on every read. */
#ifndef CTMS_VISIT_H
#define CTMS_VISIT_H

#include "domain/record.h"

extern const struct entity_def visit_definition_def;
extern const struct entity_def subject_visit_def;

/* The calendar day of study day `day` for a subject enrolled on day
 * `enrolled` (both day numbers): day 1 is the enrollment day. */
int32_t visit_planned_day(int32_t enrolled, int64_t day);

#endif
