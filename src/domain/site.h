/* Sites: the institutions (hospitals, clinics) where studies run. A site
 * takes part in studies through study-sites (study_site.h). */
#ifndef CTMS_SITE_H
#define CTMS_SITE_H

#include "domain/record.h"

extern const struct entity_def site_def;

/* Finds the site with place's name in its country, or creates it
 * (audited) from place's name, country and, when given, city, region,
 * postal_code, latitude and longitude. *id receives its id. An existing site keeps its
 * own place: it is shared by every study that runs there. */
int site_find_or_create(struct db *db, const struct actor *a, const json_t *place, int64_t *id,
			struct err *e);

#endif
