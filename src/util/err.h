/* Error codes and error details shared by every layer.
 *
 * Functions return 0 or a negative enum ctms_err; a caller that wants to know
 * why passes a struct err, which collects a human-readable detail and, for
 * validation failures, one entry per offending field. */
#ifndef CTMS_ERR_H
#define CTMS_ERR_H

#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>

enum ctms_err {
	CTMS_OK = 0,
	CTMS_EINVAL = -1,     /* input failed validation (422, or 400 when unparsable) */
	CTMS_ENOTFOUND = -2,  /* no such record, or not visible to the actor (404) */
	CTMS_ECONFLICT = -3,  /* uniqueness or a rule about other records (409) */
	CTMS_ESTALE = -4,     /* If-Match names an older version (412) */
	CTMS_ESTATE = -5,     /* illegal state transition (409) */
	CTMS_EDB = -6,        /* the store failed (500/503) */
	CTMS_ETOOBIG = -7,    /* request body over the limit (413) */
	CTMS_EBADREQ = -8,    /* malformed request: JSON syntax, headers (400) */
	CTMS_EPRECOND = -9,   /* If-Match required but absent (428) */
	CTMS_EBUSY = -10,     /* the store is locked or overloaded (503) */
	CTMS_EMETHOD = -11,   /* method not allowed on this route (405) */
	CTMS_EIO = -12,       /* file or system error */
	CTMS_ESCHEMA = -13,   /* database schema newer than the binary */
	CTMS_EINTEGRITY = -14, /* audit chain or stored data failed verification */
	CTMS_EUNAUTH = -15,    /* no valid credentials: sign in first (401) */
	CTMS_EFORBIDDEN = -16, /* the actor's roles do not allow this (403) */
	CTMS_ELOCKED = -17,    /* the account is locked after failed sign-ins (423) */
	CTMS_EMEDIATYPE = -18  /* the body is not JSON (415) */
};

struct err {
	enum ctms_err code;
	char detail[512];
	json_t *fields; /* array of {"field": ..., "message": ...}, or NULL */
};

/* A zeroed struct err is ready to use; err_release frees what it holds. */
void err_init(struct err *e);
void err_release(struct err *e);

/* Sets the code and the detail (printf format) unless a code with a detail
 * is already set, so the first described cause wins; a validation code that
 * so far carries only field messages gives way (a uniqueness conflict found
 * after field errors answers 409 with all the fields). Returns the code now
 * set, for `return err_set(...)`. */
int err_set(struct err *e, enum ctms_err code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Adds a field-level message and sets the code to CTMS_EINVAL if unset. */
int err_field(struct err *e, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Writes the detail and every field message on one line, for the command line. */
void err_describe(const struct err *e, char *out, size_t len);

/* A short fixed name of a code ("not_found"), for logs and problem types. */
const char *err_name(enum ctms_err code);

#include "util/banned.h"
#endif
