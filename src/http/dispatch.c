/* Running one request: framing checks, and Idempotency-Key replays around
 * the route's handler. */
#include "http/dispatch.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db/db.h"
#include "domain/actor.h"
#include "domain/auth.h"
#include "domain/idempotency.h"
#include "util/buf.h"
#include "util/hash.h"
#include "util/json.h"

struct header_count {
	int content_length;
	int transfer_encoding;
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
				    const char *value)
{
	struct header_count *h = cls;
	(void)kind;
	(void)value;
	if (!strcasecmp(key, "Content-Length"))
		h->content_length++;
	else if (!strcasecmp(key, "Transfer-Encoding"))
		h->transfer_encoding++;
	return MHD_YES;
}

enum ctms_err dispatch_check_framing(struct MHD_Connection *conn, size_t max_body, char *detail,
				    size_t len, bool *close)
{
	struct header_count h = {0};
	const char *cl;

	MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, &h);
	if (h.content_length > 1 || (h.content_length && h.transfer_encoding)) {
		/* RFC 9112 6.1: whatever follows on this connection may be a
		 * smuggled request; answer and close it. */
		*close = true;
		snprintf(detail, len, "conflicting Content-Length and Transfer-Encoding headers");
		return CTMS_EBADREQ;
	}
	cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
	if (cl && strtoull(cl, NULL, 10) > max_body) {
		snprintf(detail, len, "the request body is larger than %zu bytes", max_body);
		return CTMS_ETOOBIG;
	}
	return CTMS_OK;
}

/* A replayed record carries the ETag its first answer had. */
static void replay_etag(struct request *r, const char *body)
{
	json_t *v = json_loads(body, 0, NULL);
	json_t *version = json_object_get(v, "version");
	if (json_is_object(v) && json_is_integer(version))
		snprintf(r->etag, sizeof(r->etag), "\"%lld\"", (long long)json_integer_value(version));
	json_decref(v);
}

static void idempotent_dispatch(struct request *r, const struct route *route, const char *key)
{
	struct idempotent_reply stored = {0};
	char hash[SHA256_HEX_LEN];
	struct buf material;
	struct err e;
	int rc;

	err_init(&e);
	if (strlen(key) == 0 || strlen(key) > 255) {
		reply_problem(r, CTMS_EBADREQ, "Idempotency-Key must be 1 to 255 characters");
		return;
	}
	buf_init(&material, SIZE_MAX / 2);
	buf_printf(&material, "%s %s\n", r->method, r->path);
	buf_add(&material, r->body ? r->body : "", r->body_len);
	sha256_hex(material.ptr, material.len, hash);
	buf_release(&material);

	if ((rc = db_begin(r->db))) {
		err_set(&e, rc, "the store is busy; try again");
		reply_error(r, &e, NULL);
		goto done;
	}
	rc = idempotency_lookup(r->db, key, r->actor->id, hash, &stored, &e);
	if (rc == 0) {
		db_rollback(r->db);
		r->status = stored.status;
		r->reply = stored.body;
		r->reply_len = strlen(stored.body);
		r->content_type = stored.status >= 400 ? "application/problem+json" : "application/json";
		r->location = stored.location;
		replay_etag(r, stored.body);
		stored.body = stored.location = NULL;
		goto done;
	}
	if (rc != CTMS_ENOTFOUND) {
		db_rollback(r->db);
		if (rc == CTMS_ECONFLICT) {
			e.code = CTMS_EINVAL; /* 422: the key's request differs from this one */
		}
		reply_error(r, &e, NULL);
		goto done;
	}
	route->handler(r);
	if (r->status >= 200 && r->status < 300) {
		stored.status = r->status;
		stored.body = r->reply;
		stored.location = r->location;
		rc = idempotency_store(r->db, key, r->actor->id, hash, &stored, &e);
		stored.body = stored.location = NULL;
		if (!rc)
			rc = db_commit(r->db);
		else
			db_rollback(r->db);
		if (rc) {
			free(r->location);
			r->location = NULL;
			if (!e.code)
				err_set(&e, rc, "cannot commit the request");
			reply_error(r, &e, NULL);
		}
	} else {
		db_rollback(r->db);
	}
done:
	idempotent_reply_release(&stored);
	err_release(&e);
}

/* Who is asking: a bearer token (scripts, integrations) or the session
 * cookie of a browser, whose state-changing requests must also carry the
 * session's CSRF token (a page of another site cannot read it). */
static int authenticate(struct request *r, struct actor **out, struct err *e)
{
	const char *auth = request_header(r, "Authorization");
	const char *cookie = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, SESSION_COOKIE);

	if (auth) {
		if (strncasecmp(auth, "Bearer ", 7))
			return err_set(e, CTMS_EUNAUTH, "Authorization must be \"Bearer <token>\"");
		return auth_bearer(r->db, auth + 7, out, e);
	}
	if (cookie) {
		bool safe = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
		return auth_session(r->db, cookie, !safe, request_header(r, "X-CSRF-Token"), out, e);
	}
	return err_set(e, CTMS_EUNAUTH,
		       "sign in first (POST /api/v1/sessions) or send Authorization: Bearer <token>");
}

void dispatch_run(struct request *r, const struct route *route)
{
	const char *key = request_header(r, "Idempotency-Key");
	struct actor *actor = NULL;

	if (!(route->flags & ROUTE_PUBLIC)) {
		struct err e;
		err_init(&e);
		if (authenticate(r, &actor, &e)) {
			reply_error(r, &e, NULL);
			err_release(&e);
			return;
		}
		err_release(&e);
		r->actor = actor;
	}
	if (key && !strcmp(r->method, "POST") && r->actor && !(route->flags & ROUTE_SECRET))
		idempotent_dispatch(r, route, key);
	else
		route->handler(r);
	if (!r->status)
		reply_problem(r, CTMS_EDB, "the handler gave no answer");
	r->actor = NULL;
	actor_free(actor);
}
