#include "domain/idempotency.h"

#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "util/buf.h"
#include "util/date.h"

void idempotent_reply_release(struct idempotent_reply *r)
{
	free(r->location);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

int idempotency_lookup(struct db *db, const char *key, int64_t actor_id, const char *request_hash,
		       struct idempotent_reply *out, struct err *e)
{
	struct db_stmt *st;
	int rc = db_prepare(db,
			    "SELECT request_hash, status, location, body FROM idempotency_keys"
			    " WHERE key = $1 AND actor_id = $2",
			    &st);
	if (rc)
		return err_set(e, rc, "cannot read idempotency keys: %s", db_errmsg(db));
	db_bind_text(st, 1, key);
	db_bind_int(st, 2, actor_id);
	rc = db_step(st);
	if (rc < 0)
		return err_set(e, rc, "cannot read idempotency keys: %s", db_errmsg(db));
	if (rc == 0)
		return CTMS_ENOTFOUND;
	if (strcmp(db_column_text(st, 0), request_hash)) {
		db_done(st);
		return err_set(e, CTMS_ECONFLICT,
			       "this Idempotency-Key was already used for a different request");
	}
	out->status = (int)db_column_int(st, 1);
	out->location = db_column_text(st, 2) ? xstrdup(db_column_text(st, 2)) : NULL;
	out->body = xstrdup(db_column_text(st, 3));
	db_done(st);
	return 0;
}

int idempotency_store(struct db *db, const char *key, int64_t actor_id, const char *request_hash,
		      const struct idempotent_reply *reply, struct err *e)
{
	struct db_stmt *st;
	int rc = db_prepare(db,
			    "INSERT INTO idempotency_keys (key, actor_id, request_hash, status, location,"
			    " body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
			    &st);
	if (rc)
		return err_set(e, rc, "cannot store the idempotency key: %s", db_errmsg(db));
	db_bind_text(st, 1, key);
	db_bind_int(st, 2, actor_id);
	db_bind_text(st, 3, request_hash);
	db_bind_int(st, 4, reply->status);
	db_bind_text(st, 5, reply->location);
	db_bind_text(st, 6, reply->body);
	db_bind_int(st, 7, now_us());
	rc = db_step(st);
	return rc < 0 ? err_set(e, rc, "cannot store the idempotency key: %s", db_errmsg(db)) : 0;
}

int idempotency_prune(struct db *db, int64_t max_age_us, struct err *e)
{
	struct db_stmt *st;
	int rc = db_prepare(db, "DELETE FROM idempotency_keys WHERE created_at < $1", &st);
	if (rc)
		return err_set(e, rc, "cannot prune idempotency keys: %s", db_errmsg(db));
	db_bind_int(st, 1, now_us() - max_age_us);
	rc = db_step(st);
	return rc < 0 ? err_set(e, rc, "cannot prune idempotency keys: %s", db_errmsg(db)) : 0;
}
