/* Accounts and sign-in (21 CFR 11.10(d), 11.300): users with argon2id
 * password hashes, grants of roles, failed-sign-in lockout, an optional
 * TOTP second factor (RFC 6238), sessions and API tokens kept in the store
 * (so several servers share them) as SHA-256 of the secret the client
 * holds. Every change to an account, every sign-in attempt and every
 * sign-out appends an audit event. */
#ifndef CTMS_AUTH_H
#define CTMS_AUTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "domain/actor.h"

struct db;
struct err;

/* Tunables, from the settings table with these defaults. */
struct auth_settings {
	int lockout_failures;  /* 5 */
	int lockout_minutes;   /* 15 */
	int idle_minutes;      /* 30 */
	int absolute_hours;    /* 12 */
	int password_min;      /* 12 characters */
	unsigned totp_roles;   /* bit (1 << role): a second factor is required */
};
int auth_settings_load(struct db *db, struct auth_settings *s, struct err *e);
/* Sets one named setting (audited); CTMS_EINVAL for an unknown name or value. */
int auth_setting_set(struct db *db, const struct actor *a, const char *name, const char *value,
		     struct err *e);

/* Users. input: username, display_name, email (optional), password. */
int user_add(struct db *db, const struct actor *a, const json_t *input, int64_t *id,
	     struct err *e);
int user_find(struct db *db, const char *username, int64_t *id, struct err *e);
/* status "active" or "disabled"; re-enabling also clears a lockout. */
int user_set_status(struct db *db, const struct actor *a, int64_t id, const char *status,
		    const char *reason, struct err *e);
int user_set_password(struct db *db, const struct actor *a, int64_t id, const char *password,
		      struct err *e);
/* A new base32 TOTP secret for the user (printed once to the operator). */
int user_enroll_totp(struct db *db, const struct actor *a, int64_t id, char **secret,
		     struct err *e);
/* {"id","username","display_name","email","status","totp","locked_until","grants":[...]} */
int user_get(struct db *db, int64_t id, json_t **out, struct err *e);
int user_list(struct db *db, json_t **items, struct err *e);

/* Grants a role, globally (both ids 0), for a study, or for a study-site
 * (its study is filled in). */
int grant_add(struct db *db, const struct actor *a, int64_t user_id, enum role role,
	      int64_t study_id, int64_t study_site_id, bool unblinded, int64_t *id, struct err *e);
int grant_revoke(struct db *db, const struct actor *a, int64_t grant_id, struct err *e);

/* Sign-in. A wrong password, an unknown user, a disabled account and a
 * wrong second factor all answer CTMS_EUNAUTH with the same words (and an
 * unknown user costs the same hashing time); a locked account CTMS_ELOCKED.
 * On success *token and *csrf are new secrets (64 hex digits) for the
 * client; the store keeps only their hashes. */
struct login {
	const char *username, *password, *totp;
};
struct session_grant {
	char token[65], csrf[65];
	int64_t session_id, user_id, expires_at;
};
int auth_login(struct db *db, const struct login *in, struct session_grant *out, struct err *e);
int auth_logout(struct db *db, const struct actor *a, struct err *e);

/* Resolves credentials to an actor (free with actor_free). A session token
 * must not be idle or past its absolute end; when csrf_required the CSRF
 * token must match the session's. Bearer tokens must be unrevoked and
 * unexpired. CTMS_EUNAUTH otherwise. */
int auth_session(struct db *db, const char *token, bool csrf_required, const char *csrf,
		 struct actor **out, struct err *e);
int auth_bearer(struct db *db, const char *token, struct actor **out, struct err *e);
/* The actor of a user (grants loaded), as for the command line acting as
 * someone. */
int auth_actor(struct db *db, int64_t user_id, struct actor **out, struct err *e);
void actor_free(struct actor *a);

/* Re-authentication for an electronic signature (11.200): password (and
 * the TOTP code when enrolled) of the acting user; username too unless the
 * actor's session has already signed. A failure is audited. */
int auth_reauthenticate(struct db *db, const struct actor *a, const char *username,
			const char *password, const char *totp, struct err *e);
/* Marks the actor's session as having signed (later signatures in it need
 * only the password). */
int auth_session_signed(struct db *db, const struct actor *a, struct err *e);

/* API tokens: *token (caller frees) is shown once. days 0: no expiry. */
int token_create(struct db *db, const struct actor *a, int64_t user_id, const char *name, int days,
		 char **token, int64_t *id, struct err *e);
int token_revoke(struct db *db, const struct actor *a, int64_t token_id, struct err *e);
int token_list(struct db *db, int64_t user_id, json_t **items, struct err *e);

#endif
