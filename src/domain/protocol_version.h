/* Protocol versions and amendments of a study: draft -> approved | rejected.
 * An approved version is never edited (an amendment is a new version); the
 * study's current version is derived as the latest approved one. */
#ifndef CTMS_PROTOCOL_VERSION_H
#define CTMS_PROTOCOL_VERSION_H

#include "domain/record.h"

extern const struct entity_def protocol_version_def;

/* 0 when the study has an approved version with this number, else
 * CTMS_ENOTFOUND. */
int protocol_version_approved(struct db *db, int64_t study_id, const char *number,
			      struct err *e);

#endif
