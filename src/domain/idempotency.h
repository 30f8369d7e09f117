/* Idempotency keys: a POST retried with the same Idempotency-Key header gets
 * the first answer again instead of a second record. Kept in the store, so
 * a retry reaching another server is answered the same way. Keys are
 * per actor and kept for 24 hours. */
#ifndef CTMS_IDEMPOTENCY_H
#define CTMS_IDEMPOTENCY_H

#include <stdint.h>

struct db;
struct err;

struct idempotent_reply {
	int status;
	char *location; /* may be NULL */
	char *body;
};

void idempotent_reply_release(struct idempotent_reply *r);

/* 0 and the stored reply when the key was used with the same request;
 * CTMS_ENOTFOUND when the key is new; CTMS_ECONFLICT when it was used for a
 * different request. Call inside the request's transaction. */
int idempotency_lookup(struct db *db, const char *key, int64_t actor_id, const char *request_hash,
		       struct idempotent_reply *out, struct err *e);
int idempotency_store(struct db *db, const char *key, int64_t actor_id, const char *request_hash,
		      const struct idempotent_reply *reply, struct err *e);
/* Forgets keys older than max_age_us. */
int idempotency_prune(struct db *db, int64_t max_age_us, struct err *e);

#endif
