/* Electronic signatures (21 CFR 11.50, 11.70, 11.200).
 *
 * A signature binds a signer's printed name, the UTC time and the meaning
 * (authored, reviewed, approved, responsible) to one version of a record
 * through the SHA-256 of the record's signed content: its kind, id and
 * every field a user writes (not the lifecycle the system moves, not
 * blinded fields). Every view of a signable record lists its signatures;
 * one whose content has changed since is shown invalid, never silently
 * kept. Signatures, like audit events, are never updated or deleted.
 *
 * Re-authentication (password, and username on a session's first signing)
 * is the caller's: auth_reauthenticate (auth.h). */
#ifndef CTMS_SIGNATURE_H
#define CTMS_SIGNATURE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/hash.h"

struct db;
struct err;
struct actor;
struct entity_def;

extern const char *const signature_meanings[]; /* NULL-terminated */

/* The signable kind named entity ("protocol_version"), or NULL. */
const struct entity_def *signature_kind(const char *entity);

/* The SHA-256 (hex) of a record's signed content. */
void signature_content_hash(const struct entity_def *def, const json_t *rec,
			    char out[SHA256_HEX_LEN]);

/* Signs record id of kind def as the actor, who must be able to read it and
 * hold a role that signs (access.h CAP_SIGN). Writes the signature and its
 * audit event in one transaction and marks the actor's session as having
 * signed. *out: the signature as JSON. */
int signature_create(struct db *db, const struct actor *a, const struct entity_def *def,
		     int64_t id, const char *meaning, const char *reason, json_t **out,
		     struct err *e);

/* The signatures of one record (which the caller has shown the actor may
 * read), oldest first, each with "valid" against rec's current content. */
int signature_list(struct db *db, const struct entity_def *def, const json_t *rec, json_t **items,
		   struct err *e);

/* Adds "signatures": [{id, signer_name, meaning, signed_at, valid}] to each
 * record of items (one kind, ascending ids): the manifestation every view
 * shows. Does nothing for kinds that are not signable. */
void signature_render(struct db *db, const struct entity_def *def, json_t *items);

/* Whether rec (of kind def) carries a valid signature of this meaning by a
 * user holding the manager role over its study. */
bool signature_by_manager(struct db *db, const struct entity_def *def, const json_t *rec,
			  const char *meaning);

/* For `ctms audit verify`: rebuilds from the audit trail the version of
 * each signed record that was signed and checks its hash. 0 when all
 * match (*count signatures); CTMS_EINTEGRITY with the first failing
 * signature's id in *bad. */
int signature_verify_all(struct db *db, int64_t *count, int64_t *bad, struct err *e);

#endif
