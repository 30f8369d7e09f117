/* Helpers shared by the account modules (user.c, auth.c); not an interface
 * for anything else. */
#ifndef CTMS_AUTH_INTERNAL_H
#define CTMS_AUTH_INTERNAL_H

#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;
struct err;

#define MINUTE_US (60LL * 1000000)
#define PASSWORD_MAX 1024

/* Length, number of characters and not containing the username. */
int password_check(struct db *db, const char *username, const char *password, struct err *e);
/* argon2id (RFC 9106) with libsodium's interactive limits. */
int password_hash(const char *password, char out[crypto_pwhash_STRBYTES], struct err *e);
/* 1 to max bytes, no control characters, no leading or trailing space. */
bool text_ok(const char *s, size_t max);
/* Audit change entries for text and integer values (NULL / *_null: none). */
void change_text(json_t *changes, const char *field, const char *old, const char *new);
void change_int(json_t *changes, const char *field, int64_t old, int64_t new, bool old_null,
		bool new_null);
/* Runs sql with $1 the id, $2 the time and $3 t1 (or i1, or NULL). */
int exec_user(struct db *db, const char *sql, int64_t id, const char *t1, int64_t i1,
	      bool i1_null);
/* Runs sql whose parameters are $1 the id and, when it names it, $2 the time. */
int exec_id(struct db *db, const char *sql, int64_t id);
/* Commits the transaction, or rolls it back when rc or e holds an error. */
int auth_finish(struct db *db, int rc, struct err *e, const char *what);
/* A user's status and username, inside a transaction. */
int user_status(struct db *db, int64_t id, char status[16], char username[72], struct err *e);
/* liboath's one-time set-up. */
void auth_oath_init(void);

#endif
