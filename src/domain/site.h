/* Sites: the institutions (hospitals, clinics) where studies run. A site
 * takes part in studies through study-sites (study_site.h). */
#ifndef CTMS_SITE_H
#define CTMS_SITE_H

#include "domain/record.h"

extern const struct entity_def site_def;

/* Finds the site with this name in this country, or creates it (audited).
 * *id receives its id. */
int site_find_or_create(struct db *db, const struct actor *a, const char *name, const char *city,
			const char *country, int64_t *id, struct err *e);

#endif
