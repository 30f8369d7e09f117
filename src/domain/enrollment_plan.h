/* The enrollment plan of a study: points {planned_on, target_cumulative},
 * for the study as a whole, for one country (country set) or for one
 * study-site (study_site_id set). A record kind like any other (created,
 * changed with If-Match, audited; never deleted: a plan is revised by
 * changing its points, and the audit trail keeps every earlier plan).
 *
 * Within one scope, dates are unique and targets never fall as dates
 * advance. Between points the plan is linear; before the first point it is
 * 0 (add a point with target 0 on the planned first enrollment to start the
 * ramp there) and after the last it stays at the last target. */
#ifndef CTMS_ENROLLMENT_PLAN_H
#define CTMS_ENROLLMENT_PLAN_H

#include <stdbool.h>

#include "domain/record.h"

extern const struct entity_def enrollment_plan_point_def;

struct enrollment_plan_point {
	int64_t study_site_id; /* 0: not a site's point */
	char country[3];       /* "": not a country's point */
	int32_t on;            /* day number */
	int64_t target;        /* cumulative enrollment planned by that day */
};

/* Every point of a study, ordered by scope, then date. */
struct enrollment_plan {
	size_t npoints;
	struct enrollment_plan_point *points;
};

int enrollment_plan_load(struct db *db, int64_t study_id, struct enrollment_plan *out,
			 struct err *e);
void enrollment_plan_release(struct enrollment_plan *p);

/* The plan of one scope on a day: the study's (study_site_id 0, country
 * NULL), a country's (country set) or a study-site's (study_site_id set).
 * Returns false, leaving *out alone, when that scope has no points. */
bool enrollment_plan_value(const struct enrollment_plan *p, int64_t study_site_id,
			   const char *country, int32_t day, double *out);

#endif
