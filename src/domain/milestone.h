/* Milestones of a study or of one of its sites, with baseline, planned and
 * actual dates. Whether one is overdue is derived from these dates, never
 * stored. */
#ifndef CTMS_MILESTONE_H
#define CTMS_MILESTONE_H

#include "domain/record.h"

extern const struct entity_def milestone_def;

#endif
