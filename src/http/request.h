/* One HTTP request as the handlers see it, and the replies they give.
 *
 * Handlers are plain functions: read the request, call the domain, call one
 * reply_* function. The server owns the struct and frees everything in it
 * after the response has gone out. */
#ifndef CTMS_REQUEST_H
#define CTMS_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct MHD_Connection;
struct db;
struct actor;

#define REQUEST_MAX_IDS 2

struct request {
	/* in */
	const char *method;
	const char *path;
	struct MHD_Connection *conn;
	const char *body;
	size_t body_len;
	int64_t ids[REQUEST_MAX_IDS]; /* numeric path parameters, in order */
	int nids;
	const void *route_arg; /* the route's argument: an entity_def for generic handlers */
	struct db *db;
	const struct actor *actor;

	/* out */
	int status;
	char *reply;        /* body, owned */
	size_t reply_len;
	const char *content_type;
	char etag[32];
	char *location;     /* owned */
	char *allow;        /* owned; for 405 */
	int retry_after;    /* seconds, for 503 */
	char *set_cookie;   /* owned; Set-Cookie of a sign-in or sign-out */
	const char *cache_control; /* static; NULL: no-store */
	const char *content_security_policy; /* static; NULL: none */
	char content_disposition[160]; /* a download's Content-Disposition, or "" */
	char next_cursor[64]; /* a paged download's next cursor (X-Next-Cursor), or "" */
};

const char *request_header(struct request *r, const char *name);
/* List cursors, opaque to clients: the position after which the next page
 * starts. Encode returns a string the caller frees; decode returns 0, or
 * CTMS_EINVAL for a cursor this server did not issue. */
char *request_cursor_encode(int64_t after);
int request_cursor_decode(const char *s, int64_t *after);
/* The value of a query parameter, or NULL. */
const char *request_query(struct request *r, const char *name);
/* Parses the body as a JSON object; on failure replies 400 and returns NULL. */
json_t *request_json(struct request *r);

/* Reply with a JSON body (stolen). */
void reply_json(struct request *r, int status, json_t *body);
/* Reply with a record (stolen), setting ETag from its version. */
void reply_record(struct request *r, int status, json_t *rec);
/* Reply with RFC 9457 problem details built from e; for CTMS_ESTALE,
 * current (stolen, may be NULL) is the record as it now stands. */
void reply_error(struct request *r, const struct err *e, json_t *current);
void reply_problem(struct request *r, enum ctms_err code, const char *detail);
void reply_text(struct request *r, int status, const char *content_type, const char *text);

/* HTTP status for an error code. */
int err_http_status(enum ctms_err code);

#endif
