/* Organisations: sponsors, CROs, vendors, institutions, regulators, ethics
 * committees. */
#ifndef CTMS_ORGANISATION_H
#define CTMS_ORGANISATION_H

#include "domain/record.h"

extern const struct entity_def organisation_def;

#endif
