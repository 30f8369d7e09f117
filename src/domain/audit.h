/* The audit trail (21 CFR 11.10(e); EU Annex 11 §9).
 *
 * Every create, update and transition appends one event in the caller's
 * transaction: actor, UTC time, entity, id, action, each changed field with
 * its old and new value, and the reason when one was given. Events form a
 * SHA-256 hash chain: hash = SHA-256(canonical JSON of the event including
 * the previous event's hash), so an edited, inserted or deleted event breaks
 * the chain at a point audit_verify names. The store refuses UPDATE and
 * DELETE on the table (triggers); the application never issues them. */
#ifndef CTMS_AUDIT_H
#define CTMS_AUDIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct db;
struct err;
struct actor;

/* Appends an event. changes is an array of {"field","old","new"} objects
 * (borrowed). Must run inside a write transaction (db_begin). */
int audit_append(struct db *db, const struct actor *a, const char *entity, int64_t entity_id,
		 const char *action, const json_t *changes, const char *reason, struct err *e);

/* A bulk writer that holds one write transaction for many events (ctms
 * demo --scale) brackets them with these: in between, audit_append on db
 * keeps the chain head in memory instead of reading and rewriting the
 * audit_head row for every event, and audit_batch_end writes the row once,
 * in the same transaction, before the commit (keep true) or leaves it
 * (keep false, when the transaction is being rolled back). The events and
 * their hashes are the same either way. Nothing else may write audit events
 * on db in between; begin fails outside a transaction or when a batch is
 * already open on this thread. */
int audit_batch_begin(struct db *db, struct err *e);
int audit_batch_end(struct db *db, bool keep, struct err *e);

/* Adds {"field": name, "old": old, "new": new} to changes (values borrowed,
 * NULL meaning JSON null). */
void audit_change(json_t *changes, const char *field, const json_t *old_value,
		  const json_t *new_value);

/* Walks the whole chain. Returns 0 when intact, with the number of events in
 * *count; CTMS_EINTEGRITY with the first broken event's seq in *broken and
 * the reason in e; another error when the store fails. */
int audit_verify(struct db *db, int64_t *count, int64_t *broken, struct err *e);

struct audit_query {
	const char *entity; /* NULL: any */
	int64_t entity_id;  /* 0: any */
	bool by_actor;      /* only the events of actor_id (0: the system actor) */
	int64_t actor_id;
	int64_t from_us, to_us; /* events at from_us up to to_us inclusive; 0: open */
	int64_t after_seq;  /* cursor: events after this seq */
	int limit;
};

/* Lists events oldest first as JSON objects; *next_seq is the cursor for
 * the following page, or 0 at the end. */
int audit_list(struct db *db, const struct audit_query *q, json_t **items, int64_t *next_seq,
	       struct err *e);

#endif
