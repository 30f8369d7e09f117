/* Study-sites: a site's participation in one study, numbered within the
 * study, with its investigator, country, time zone and activation
 * lifecycle identified -> feasibility -> selected -> approved -> contracted
 * -> initiated -> activated -> enrolling -> closed (closed is reachable from
 * every step: a site dropped during start-up). Each step is dated. */
#ifndef CTMS_STUDY_SITE_H
#define CTMS_STUDY_SITE_H

#include "domain/record.h"

extern const struct entity_def study_site_def;

#endif
