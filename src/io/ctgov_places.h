/* Places in ClinicalTrials.gov records: the country names CT.gov writes
 * (its own spelling, not ISO's) mapped to ISO 3166-1 alpha-2 codes, and the
 * IANA time zone a site there most likely keeps.
 *
 * The zone comes from the state or province where a country spans several
 * zones and the table knows the state (United States, Canada, Australia,
 * Brazil); otherwise it is the country's main zone, the one most of its
 * population keeps. */
#ifndef CTMS_IO_CTGOV_PLACES_H
#define CTMS_IO_CTGOV_PLACES_H

#include <stdbool.h>

/* The ISO code for a CT.gov country name ("Korea, Republic of" -> "KR"), or
 * NULL for a name the table does not know. Static storage. */
const char *ctgov_country_code(const char *name);

/* The time zone for a site in country (an ISO code from ctgov_country_code)
 * and state (may be NULL). *guessed is set when the country spans several
 * zones and the zone is its main one, not one found from the state. NULL
 * when the country has no entry. Static storage. */
const char *ctgov_time_zone(const char *country, const char *state, bool *guessed);

#endif
