/* Controlled terminology shared by the records. */
#ifndef CTMS_CODES_H
#define CTMS_CODES_H

#include <stdbool.h>

/* ISO 3166-1 alpha-2 country codes (officially assigned). */
extern const char *const country_codes[];
bool country_valid(const char *code);

/* ClinicalTrials.gov phase codes. */
extern const char *const phase_codes[];
/* CDISC SDTM controlled terminology: SEX (C66731), RACE (C74457),
 * ETHNIC (C66790). */
extern const char *const sex_codes[];
extern const char *const race_codes[];
extern const char *const ethnicity_codes[];

#endif
