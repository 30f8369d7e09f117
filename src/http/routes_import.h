/* Handlers of the import routes (routes_import.c): ClinicalTrials.gov
 * records, CSV files of a study's sites and subjects, and the CSV
 * templates. */
#ifndef CTMS_ROUTES_IMPORT_H
#define CTMS_ROUTES_IMPORT_H

#include "http/request.h"
#include "io/csv_import.h"

/* Route arguments of the CSV routes: which kind they import. */
extern const enum csv_import_kind import_sites_kind, import_subjects_kind;

void h_import_ctgov(struct request *r);
void h_import_csv(struct request *r);
void h_import_template(struct request *r);

#endif
