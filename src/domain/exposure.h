/* Exposure of a subject to study treatment (CDISC SDTM EX): what was given,
 * how much, in what form, how often and by which route, from when to when.
 *
 * The treatment and the dose tell the randomised arm (placebo is dose 0),
 * so both are blinded like a subject's arm: shown to and set by unblinded
 * roles only, and a blinded site records the rest (dates, unit, form,
 * route). Dates are ISO 8601 of full or reduced precision as for adverse
 * events (adverse_event.h); treatment does not start before screening or
 * end before it starts. Each record has a sequence number unique within
 * its subject (SDTM EXSEQ). */
#ifndef CTMS_EXPOSURE_H
#define CTMS_EXPOSURE_H

#include "domain/record.h"

extern const struct entity_def exposure_def;

#endif
