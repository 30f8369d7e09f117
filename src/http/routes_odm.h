/* CDISC ODM over HTTP (routes_odm.c): POST /api/v1/imports/odm?study=
 * PROTOCOL[&site=NUMBER] takes an ODM 1.3.x document (Content-Type application/xml) and
 * answers the import report; GET /api/v1/studies/{id}/odm answers the
 * study's subjects and visits as ODM 1.3.2 (io/odm.h). */
#ifndef CTMS_ROUTES_ODM_H
#define CTMS_ROUTES_ODM_H

#include "http/request.h"

void h_odm_import(struct request *r);
void h_study_odm(struct request *r);

#endif
