/* Sign-in, sessions, API tokens and re-authentication (auth.h). */
#include "domain/auth.h"

#include <liboath/oath.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/db.h"
#include "domain/access.h"
#include "domain/audit.h"
#include "domain/auth_internal.h"
#include "util/buf.h"
#include "util/date.h"
#include "util/hash.h"
#include "util/json.h"

#define TOUCH_EVERY_US MINUTE_US /* sessions record activity at most once a minute */
#define TOTP_STEP 30

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[crypto_pwhash_STRBYTES];

static void make_dummy(void)
{
	char pw[33];
	random_hex(pw, 16);
	if (crypto_pwhash_str_alg(dummy_hash, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
				  crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13))
		dummy_hash[0] = '\0';
}

static bool password_verify(const char *hash, const char *password)
{
	if (!password || strlen(password) > PASSWORD_MAX)
		password = "";
	if (!hash) {
		/* An unknown user costs what a known one does. */
		pthread_once(&dummy_once, make_dummy);
		volatile int ignored = crypto_pwhash_str_verify(dummy_hash, password, strlen(password));
		(void)ignored;
		return false;
	}
	return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

/* ---- TOTP (RFC 6238, HMAC-SHA-1, 30 s, 6 digits, one step either way) ---- */

static pthread_once_t oath_once = PTHREAD_ONCE_INIT;
static void oath_setup(void)
{
	oath_init();
}

void auth_oath_init(void)
{
	pthread_once(&oath_once, oath_setup);
}

/* ---- actors --------------------------------------------------------------- */

void actor_free(struct actor *a)
{
	if (!a)
		return;
	free((char *)a->name);
	free((struct grant *)a->grants);
	free(a);
}

int auth_actor(struct db *db, int64_t user_id, struct actor **out, struct err *e)
{
	struct db_stmt *st;
	struct actor *a;
	struct grant *grants = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*out = NULL;
	rc = db_prepare(db, "SELECT display_name FROM users WHERE id = $1 AND status = 'active'", &st);
	if (rc)
		return err_set(e, rc, "cannot read users: %s", db_errmsg(db));
	db_bind_int(st, 1, user_id);
	rc = db_step(st);
	if (rc != 1)
		return rc < 0 ? err_set(e, rc, "cannot read users: %s", db_errmsg(db))
			      : err_set(e, CTMS_EUNAUTH, "the account is not active");
	a = xcalloc(1, sizeof(*a));
	a->id = user_id;
	a->name = xstrdup(db_column_text(st, 0));
	db_done(st);
	rc = db_prepare(db,
			"SELECT role, study_id, study_site_id, unblinded FROM grants"
			" WHERE user_id = $1 AND revoked_at IS NULL ORDER BY id",
			&st);
	if (rc) {
		actor_free(a);
		return err_set(e, rc, "cannot read grants: %s", db_errmsg(db));
	}
	db_bind_int(st, 1, user_id);
	while ((rc = db_step(st)) == 1) {
		enum role r;
		if (role_parse(db_column_text(st, 0), &r))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 4;
			grants = xrealloc(grants, cap * sizeof(*grants));
		}
		grants[n].role = r;
		grants[n].study_id = db_column_type(st, 1) == DB_NULL ? 0 : db_column_int(st, 1);
		grants[n].study_site_id = db_column_type(st, 2) == DB_NULL ? 0 : db_column_int(st, 2);
		grants[n].unblinded = db_column_int(st, 3) != 0;
		n++;
	}
	a->grants = grants;
	a->ngrants = n;
	if (rc < 0) {
		actor_free(a);
		return err_set(e, rc, "cannot read grants: %s", db_errmsg(db));
	}
	*out = a;
	return 0;
}

/* ---- sign-in --------------------------------------------------------------------- */

struct account {
	int64_t id, failed, locked_until, totp_last_step;
	char status[16];
	char *name, *hash, *totp;
	unsigned roles; /* bits of the roles granted */
};

/* A code is good once (RFC 6238 section 5.2): its time step must come
 * after the last one accepted, which the caller then records. */
static bool totp_valid(const struct account *acc, const char *code, int64_t *step)
{
	char *key = NULL;
	size_t len = 0;
	time_t now = time(NULL);
	int pos = 0;
	bool ok;

	if (!acc->totp || !code || strlen(code) != 6)
		return false;
	pthread_once(&oath_once, oath_setup);
	if (oath_base32_decode(acc->totp, strlen(acc->totp), &key, &len) != OATH_OK)
		return false;
	ok = oath_totp_validate2(key, len, now, TOTP_STEP, 0, 1, &pos, code) >= 0;
	free(key);
	*step = (int64_t)(now / TOTP_STEP) + pos;
	return ok && *step > acc->totp_last_step;
}

static int totp_used(struct db *db, int64_t user_id, int64_t step)
{
	return exec_user(db, "UPDATE users SET totp_last_step = $3, updated_at = $2 WHERE id = $1",
			 user_id, NULL, step, false);
}

static void account_release(struct account *acc)
{
	free(acc->name);
	if (acc->hash)
		sodium_memzero(acc->hash, strlen(acc->hash));
	free(acc->hash);
	free(acc->totp);
}

/* 0 with the account, CTMS_ENOTFOUND, or a store error. */
static int account_load(struct db *db, const char *username, int64_t id, struct account *acc)
{
	struct db_stmt *st;
	int rc;

	memset(acc, 0, sizeof(*acc));
	rc = db_prepare(db,
			username ? "SELECT id, display_name, status, password_hash, totp_secret,"
				   " failed_logins, locked_until, totp_last_step FROM users WHERE username = $1"
				 : "SELECT id, display_name, status, password_hash, totp_secret,"
				   " failed_logins, locked_until, totp_last_step FROM users WHERE id = $1",
			&st);
	if (rc)
		return rc;
	if (username)
		db_bind_text(st, 1, username);
	else
		db_bind_int(st, 1, id);
	rc = db_step(st);
	if (rc != 1)
		return rc == 0 ? CTMS_ENOTFOUND : rc;
	acc->id = db_column_int(st, 0);
	acc->name = xstrdup(db_column_text(st, 1));
	snprintf(acc->status, sizeof(acc->status), "%s", db_column_text(st, 2));
	acc->hash = xstrdup(db_column_text(st, 3));
	acc->totp = db_column_text(st, 4) ? xstrdup(db_column_text(st, 4)) : NULL;
	acc->failed = db_column_int(st, 5);
	acc->locked_until = db_column_type(st, 6) == DB_NULL ? 0 : db_column_int(st, 6);
	acc->totp_last_step = db_column_type(st, 7) == DB_NULL ? 0 : db_column_int(st, 7);
	db_done(st);
	rc = db_prepare(db, "SELECT role FROM grants WHERE user_id = $1 AND revoked_at IS NULL", &st);
	if (rc)
		return rc;
	db_bind_int(st, 1, acc->id);
	while ((rc = db_step(st)) == 1) {
		enum role r;
		if (!role_parse(db_column_text(st, 0), &r))
			acc->roles |= 1u << r;
	}
	return rc < 0 ? rc : 0;
}

/* A failed attempt: counted toward the lockout (11.300) and audited, in its
 * own committed transaction so that the refusal cannot erase it. */
static int record_failure(struct db *db, const struct auth_settings *s, struct account *acc,
			  const char *username, const char *action, const char *why, struct err *e)
{
	struct actor anonymous = {.id = acc->id, .name = acc->id ? acc->name : "anonymous"};
	json_t *changes = json_array();
	int rc = 0;

	if (!acc->id) {
		/* Not the name as typed: people type passwords into the username
		 * field, and the trail keeps everything forever. A digest still
		 * ties repeated attempts together, and to a name one suspects. */
		char digest[SHA256_HEX_LEN];
		sha256_hex(username, strlen(username), digest);
		digest[16] = '\0';
		change_text(changes, "username_sha256", NULL, digest);
	} else if (strcmp(why, "account locked")) {
		int64_t failed = acc->failed + 1, until = 0;
		if (failed >= s->lockout_failures) {
			until = now_us() + (int64_t)s->lockout_minutes * MINUTE_US;
			failed = 0;
		}
		change_int(changes, "failed_logins", acc->failed, failed, false, false);
		if (until) {
			change_int(changes, "locked_until", acc->locked_until, until, !acc->locked_until,
				   false);
			acc->locked_until = until;
		}
		rc = exec_user(db,
			       until ? "UPDATE users SET failed_logins = 0, locked_until = $3, updated_at = $2"
				       " WHERE id = $1"
				     : "UPDATE users SET failed_logins = $3, updated_at = $2 WHERE id = $1",
			       acc->id, NULL, until ? until : failed, false);
		acc->failed = failed;
	}
	if (!rc)
		rc = audit_append(db, &anonymous, "user", acc->id, action, changes, why, e);
	json_decref(changes);
	return auth_finish(db, rc, e, "record the failed attempt");
}

static int refuse(const struct account *acc, bool locked, struct err *e)
{
	if (locked) {
		char at[TIMESTAMP_LEN];
		timestamp_format(acc->locked_until, at);
		return err_set(e, CTMS_ELOCKED,
			       "the account is locked after repeated failed sign-ins until %s", at);
	}
	return err_set(e, CTMS_EUNAUTH, "the username, password or second factor is not right");
}

int auth_login(struct db *db, const struct login *in, struct session_grant *out, struct err *e)
{
	struct auth_settings s;
	struct account acc;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!in->username || !in->password)
		return err_set(e, CTMS_EUNAUTH, "username and password are required");
	if ((rc = auth_settings_load(db, &s, e)))
		return rc;
	/* The password check (argon2id, deliberately slow) runs outside any
	 * transaction, so that a flood of sign-ins cannot hold the write lock
	 * every other request needs; the outcome is then applied to the
	 * account as it stands, re-read under the lock. */
	const char *username = strlen(in->username) <= 64 ? in->username : "";
	bool right = false;
	rc = account_load(db, username, 0, &acc);
	if (rc && rc != CTMS_ENOTFOUND) {
		account_release(&acc);
		return err_set(e, rc, "cannot sign in: %s", db_errmsg(db));
	}
	right = password_verify(rc ? NULL : acc.hash, in->password) && !rc;
	char *verified = right ? xstrdup(acc.hash) : NULL;
	account_release(&acc);
	if ((rc = db_begin(db))) {
		free(verified);
		return err_set(e, rc, "the store is busy; try again");
	}
	rc = account_load(db, username, 0, &acc);
	/* a password changed in between: the check was against the old one */
	if (right && (rc || strcmp(verified, acc.hash)))
		right = false;
	if (verified)
		sodium_memzero(verified, strlen(verified));
	free(verified);
	if (rc && rc != CTMS_ENOTFOUND) {
		account_release(&acc);
		return auth_finish(db, rc, e, "sign in");
	}
	if (rc == CTMS_ENOTFOUND) {
		record_failure(db, &s, &acc, in->username, "login_failed", "unknown user", e);
		account_release(&acc);
		e->code = CTMS_OK;
		e->detail[0] = '\0';
		return refuse(&acc, false, e);
	}
	int64_t now = now_us();
	if (acc.locked_until > now) {
		record_failure(db, &s, &acc, in->username, "login_failed", "account locked", e);
		rc = refuse(&acc, true, e);
		account_release(&acc);
		return rc;
	}
	const char *why = NULL;
	int64_t step = 0;
	if (!right)
		why = "wrong password";
	else if (strcmp(acc.status, "active"))
		why = "account disabled";
	else if (acc.totp && !totp_valid(&acc, in->totp, &step))
		why = in->totp ? "wrong or reused second factor" : "second factor missing";
	else if (!acc.totp && (acc.roles & s.totp_roles))
		why = "second factor required by role, none enrolled";
	if (why) {
		record_failure(db, &s, &acc, in->username, "login_failed", why, e);
		e->code = CTMS_OK;
		e->detail[0] = '\0';
		if (!strcmp(why, "second factor missing"))
			rc = err_set(e, CTMS_EUNAUTH, "enter the code from your authenticator app (totp)");
		else if (!strncmp(why, "second factor required", 22))
			rc = err_set(e, CTMS_EFORBIDDEN, "your role requires a second factor: ask an "
							 "administrator to enroll one");
		else
			rc = refuse(&acc, false, e);
		account_release(&acc);
		return rc;
	}
	if (acc.totp && (rc = totp_used(db, acc.id, step))) {
		account_release(&acc);
		return auth_finish(db, rc, e, "sign in");
	}
	/* A new session every time: an identifier known before sign-in is never
	 * the signed-in one (no session fixation). */
	char token_hash[SHA256_HEX_LEN], csrf_hash[SHA256_HEX_LEN];
	struct db_stmt *st;
	random_hex(out->token, 32);
	random_hex(out->csrf, 32);
	sha256_hex(out->token, strlen(out->token), token_hash);
	sha256_hex(out->csrf, strlen(out->csrf), csrf_hash);
	out->user_id = acc.id;
	out->expires_at = now + (int64_t)s.absolute_hours * 60 * MINUTE_US;
	rc = db_prepare(db,
			"INSERT INTO sessions (user_id, token_hash, csrf_hash, created_at, last_seen_at,"
			" expires_at) VALUES ($1, $2, $3, $4, $4, $5) RETURNING id",
			&st);
	if (!rc) {
		db_bind_int(st, 1, acc.id);
		db_bind_text(st, 2, token_hash);
		db_bind_text(st, 3, csrf_hash);
		db_bind_int(st, 4, now);
		db_bind_int(st, 5, out->expires_at);
		rc = db_step(st);
		if (rc == 1) {
			out->session_id = db_column_int(st, 0);
			db_done(st);
			rc = 0;
		} else {
			rc = rc ? rc : CTMS_EDB;
		}
	}
	if (!rc && (acc.failed || acc.locked_until))
		rc = exec_id(db, "UPDATE users SET failed_logins = 0, locked_until = NULL, updated_at = $2"
				 " WHERE id = $1", acc.id);
	if (!rc) {
		struct actor who = {.id = acc.id, .name = acc.name};
		json_t *changes = json_array();
		change_int(changes, "session_id", 0, out->session_id, true, false);
		if (acc.failed)
			change_int(changes, "failed_logins", acc.failed, 0, false, false);
		rc = audit_append(db, &who, "user", acc.id, "login", changes, NULL, e);
		json_decref(changes);
	}
	account_release(&acc);
	rc = auth_finish(db, rc, e, "sign in");
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

int auth_logout(struct db *db, const struct actor *a, struct err *e)
{
	int rc;

	if (!a->session_id)
		return err_set(e, CTMS_EBADREQ, "this request is not made with a session");
	if ((rc = db_begin(db)))
		return err_set(e, rc, "the store is busy; try again");
	rc = exec_id(db, "UPDATE sessions SET ended_at = $2 WHERE id = $1 AND ended_at IS NULL", a->session_id);
	if (!rc) {
		json_t *changes = json_array();
		change_int(changes, "session_id", 0, a->session_id, true, false);
		rc = audit_append(db, a, "user", a->id, "logout", changes, NULL, e);
		json_decref(changes);
	}
	return auth_finish(db, rc, e, "sign out");
}

/* Records that a session or token was used (bookkeeping, not a change to
 * any record: not audited); a failure leaves the request unharmed. */
static void touch(struct db *db, const char *sql, int64_t id)
{
	if (db_begin(db))
		return;
	if (exec_id(db, sql, id))
		db_rollback(db);
	else
		db_commit(db);
}

static int unauth(struct err *e, const char *why)
{
	return err_set(e, CTMS_EUNAUTH, "%s", why);
}

int auth_session(struct db *db, const char *token, bool csrf_required, const char *csrf,
		 struct actor **out, struct err *e)
{
	struct auth_settings s;
	char token_hash[SHA256_HEX_LEN], csrf_hash[SHA256_HEX_LEN], want_csrf[SHA256_HEX_LEN];
	struct db_stmt *st;
	int64_t id, user_id, last_seen, expires, now = now_us();
	bool ended, signed_once;
	int rc;

	*out = NULL;
	if (!token || strlen(token) != 64)
		return unauth(e, "the session is not valid: sign in again");
	if ((rc = auth_settings_load(db, &s, e)))
		return rc;
	sha256_hex(token, strlen(token), token_hash);
	rc = db_prepare(db,
			"SELECT id, user_id, csrf_hash, last_seen_at, expires_at, ended_at IS NOT NULL,"
			" signed FROM sessions WHERE token_hash = $1",
			&st);
	if (rc)
		return err_set(e, rc, "cannot read sessions: %s", db_errmsg(db));
	db_bind_text(st, 1, token_hash);
	rc = db_step(st);
	if (rc != 1)
		return rc < 0 ? err_set(e, rc, "cannot read sessions: %s", db_errmsg(db))
			      : unauth(e, "the session is not valid: sign in again");
	id = db_column_int(st, 0);
	user_id = db_column_int(st, 1);
	snprintf(want_csrf, sizeof(want_csrf), "%s", db_column_text(st, 2));
	last_seen = db_column_int(st, 3);
	expires = db_column_int(st, 4);
	ended = db_column_int(st, 5) != 0;
	signed_once = db_column_int(st, 6) != 0;
	db_done(st);
	if (ended)
		return unauth(e, "the session has ended: sign in again");
	if (now >= expires || now - last_seen > (int64_t)s.idle_minutes * MINUTE_US)
		return unauth(e, "the session has expired: sign in again");
	if (csrf_required) {
		if (!csrf || strlen(csrf) != 64)
			return err_set(e, CTMS_EFORBIDDEN,
				       "send the X-CSRF-Token header with the token given at sign-in");
		sha256_hex(csrf, strlen(csrf), csrf_hash);
		if (sodium_memcmp(csrf_hash, want_csrf, 64))
			return err_set(e, CTMS_EFORBIDDEN, "the X-CSRF-Token header does not match the session");
	}
	if (now - last_seen > TOUCH_EVERY_US)
		touch(db, "UPDATE sessions SET last_seen_at = $2 WHERE id = $1", id);
	if ((rc = auth_actor(db, user_id, out, e)))
		return rc;
	(*out)->session_id = id;
	(*out)->session_signed = signed_once;
	return 0;
}

int auth_bearer(struct db *db, const char *token, struct actor **out, struct err *e)
{
	char token_hash[SHA256_HEX_LEN];
	struct db_stmt *st;
	int64_t id, user_id, expires, last_used, now = now_us();
	bool revoked, has_expiry;
	int rc;

	*out = NULL;
	if (!token || strlen(token) > 128)
		return unauth(e, "the API token is not valid");
	sha256_hex(token, strlen(token), token_hash);
	rc = db_prepare(db,
			"SELECT id, user_id, expires_at, revoked_at IS NOT NULL, last_used_at"
			" FROM api_tokens WHERE token_hash = $1",
			&st);
	if (rc)
		return err_set(e, rc, "cannot read tokens: %s", db_errmsg(db));
	db_bind_text(st, 1, token_hash);
	rc = db_step(st);
	if (rc != 1)
		return rc < 0 ? err_set(e, rc, "cannot read tokens: %s", db_errmsg(db))
			      : unauth(e, "the API token is not valid");
	id = db_column_int(st, 0);
	user_id = db_column_int(st, 1);
	has_expiry = db_column_type(st, 2) != DB_NULL;
	expires = has_expiry ? db_column_int(st, 2) : 0;
	revoked = db_column_int(st, 3) != 0;
	last_used = db_column_type(st, 4) == DB_NULL ? 0 : db_column_int(st, 4);
	db_done(st);
	if (revoked)
		return unauth(e, "the API token has been revoked");
	if (has_expiry && now >= expires)
		return unauth(e, "the API token has expired");
	if (now - last_used > TOUCH_EVERY_US)
		touch(db, "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1", id);
	return auth_actor(db, user_id, out, e);
}

int auth_reauthenticate(struct db *db, const struct actor *a, const char *username,
			const char *password, const char *totp, struct err *e)
{
	struct auth_settings s;
	struct account acc;
	const char *why = NULL;
	int rc;

	if (a->system || !a->id)
		return err_set(e, CTMS_EFORBIDDEN, "only a signed-in user can sign");
	/* 11.200(a)(1): the first signing of a session (and every signing
	 * outside one) takes both components. */
	if ((!a->session_id || !a->session_signed) && !username)
		return err_field(e, "username",
				 "is required for the first signature of a session (21 CFR 11.200)");
	if ((rc = auth_settings_load(db, &s, e)))
		return rc;
	if ((rc = db_begin(db)))
		return err_set(e, rc, "the store is busy; try again");
	if ((rc = account_load(db, NULL, a->id, &acc))) {
		account_release(&acc);
		return auth_finish(db, rc == CTMS_ENOTFOUND ? CTMS_EUNAUTH : rc, e, "check the signer");
	}
	char own[72] = "";
	struct db_stmt *st;
	if (!db_prepare(db, "SELECT username FROM users WHERE id = $1", &st)) {
		db_bind_int(st, 1, a->id);
		if (db_step(st) == 1) {
			snprintf(own, sizeof(own), "%s", db_column_text(st, 0));
			db_done(st);
		}
	}
	if (acc.locked_until > now_us())
		why = "account locked";
	else if (username && strcmp(username, own))
		why = "username is not the signer's";
	if (!password_verify(acc.hash, password) && !why)
		why = "wrong password";
	int64_t step = 0;
	if (!why && acc.totp && !totp_valid(&acc, totp, &step))
		why = "wrong or reused second factor";
	if (why) {
		record_failure(db, &s, &acc, own, "signature_auth_failed", why, e);
		e->code = CTMS_OK;
		e->detail[0] = '\0';
		if (!strcmp(why, "account locked"))
			rc = refuse(&acc, true, e);
		else
			rc = err_set(e, CTMS_EFORBIDDEN,
				     "re-authentication failed: the username, password or second factor "
				     "is not the signed-in user's");
		account_release(&acc);
		return rc;
	}
	/* The code is spent; nothing else changed. */
	bool spent = acc.totp != NULL;
	rc = spent ? totp_used(db, acc.id, step) : 0;
	account_release(&acc);
	if (rc)
		return auth_finish(db, rc, e, "check the signer");
	if (spent) {
		if ((rc = db_commit(db)))
			return err_set(e, rc, "cannot check the signer: %s", db_errmsg(db));
	} else {
		db_rollback(db); /* read only */
	}
	return 0;
}

int auth_session_signed(struct db *db, const struct actor *a, struct err *e)
{
	if (!a->session_id || a->session_signed)
		return 0;
	int rc = exec_id(db, "UPDATE sessions SET signed = 1 WHERE id = $1", a->session_id);
	return rc ? err_set(e, rc, "cannot update the session: %s", db_errmsg(db)) : 0;
}

/* ---- API tokens ---------------------------------------------------------------- */

int token_create(struct db *db, const struct actor *a, int64_t user_id, const char *name, int days,
		 char **token, int64_t *id, struct err *e)
{
	char secret[65], hash[SHA256_HEX_LEN], status[16], username[72];
	struct buf t;
	struct db_stmt *st;
	int64_t now = now_us();
	int rc;

	*token = NULL;
	*id = 0;
	if (!name)
		name = "token";
	if (!text_ok(name, 200))
		return err_field(e, "name", "must be 1 to 200 characters");
	if (days < 0 || days > 3660)
		return err_field(e, "days", "must be from 0 (no expiry) to 3660");
	if ((rc = db_begin(db)))
		return err_set(e, rc, "the store is busy; try again");
	if ((rc = user_status(db, user_id, status, username, e)))
		return auth_finish(db, rc, e, "create the token");
	random_hex(secret, 32);
	buf_init(&t, 80);
	buf_printf(&t, "ctms_%s", secret);
	sha256_hex(t.ptr, t.len, hash);
	rc = db_prepare(db,
			"INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at)"
			" VALUES ($1, $2, $3, $4, $5) RETURNING id",
			&st);
	if (!rc) {
		db_bind_int(st, 1, user_id);
		db_bind_text(st, 2, name);
		db_bind_text(st, 3, hash);
		db_bind_int(st, 4, now);
		if (days)
			db_bind_int(st, 5, now + (int64_t)days * 24 * 60 * MINUTE_US);
		else
			db_bind_null(st, 5);
		rc = db_step(st);
		if (rc == 1) {
			*id = db_column_int(st, 0);
			db_done(st);
			rc = 0;
		} else {
			rc = rc ? rc : CTMS_EDB;
		}
	}
	if (!rc) {
		json_t *changes = json_array();
		change_int(changes, "user_id", 0, user_id, true, false);
		change_text(changes, "name", NULL, name);
		change_int(changes, "days", 0, days, true, !days);
		rc = audit_append(db, a, "api_token", *id, "create", changes, NULL, e);
		json_decref(changes);
	}
	rc = auth_finish(db, rc, e, "create the token");
	if (rc)
		buf_release(&t);
	else
		*token = buf_detach(&t);
	sodium_memzero(secret, sizeof(secret));
	return rc;
}

int token_revoke(struct db *db, const struct actor *a, int64_t token_id, struct err *e)
{
	int64_t live = 0;
	int rc;

	if ((rc = db_begin(db)))
		return err_set(e, rc, "the store is busy; try again");
	rc = db_query_int(db, "SELECT count(*) FROM api_tokens WHERE id = $1 AND revoked_at IS NULL",
			  &live, 1, token_id);
	if (!rc && !live)
		return auth_finish(db, 0, (err_set(e, CTMS_ENOTFOUND, "token %lld was not found",
					      (long long)token_id), e),
			      "revoke the token");
	if (!rc)
		rc = exec_id(db, "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1", token_id);
	if (!rc) {
		json_t *changes = json_array();
		change_text(changes, "revoked", NULL, "true");
		rc = audit_append(db, a, "api_token", token_id, "revoke", changes, NULL, e);
		json_decref(changes);
	}
	return auth_finish(db, rc, e, "revoke the token");
}

int token_list(struct db *db, int64_t user_id, json_t **items, struct err *e)
{
	struct db_stmt *st;
	char at[TIMESTAMP_LEN];
	int rc = db_prepare(db,
			    "SELECT id, name, created_at, expires_at, revoked_at, last_used_at"
			    " FROM api_tokens WHERE user_id = $1 ORDER BY id",
			    &st);
	*items = NULL;
	if (rc)
		return err_set(e, rc, "cannot read tokens: %s", db_errmsg(db));
	db_bind_int(st, 1, user_id);
	*items = json_array();
	while ((rc = db_step(st)) == 1) {
		json_t *t = json_object();
		json_object_set_new(t, "id", json_integer(db_column_int(st, 0)));
		json_object_set_new(t, "name", json_string(db_column_text(st, 1)));
		timestamp_format(db_column_int(st, 2), at);
		json_object_set_new(t, "created_at", json_string(at));
		for (int c = 3; c <= 5; c++) {
			static const char *const keys[] = {"expires_at", "revoked_at", "last_used_at"};
			if (db_column_type(st, c) == DB_NULL) {
				json_object_set_new(t, keys[c - 3], json_null());
			} else {
				timestamp_format(db_column_int(st, c), at);
				json_object_set_new(t, keys[c - 3], json_string(at));
			}
		}
		json_array_append_new(*items, t);
	}
	if (rc < 0) {
		json_decref(*items);
		*items = NULL;
		return err_set(e, rc, "cannot read tokens: %s", db_errmsg(db));
	}
	return 0;
}
