/* Accounts: settings, users, passwords and grants (auth.h). Sign-in,
 * sessions and tokens are in auth.c. */
#include "domain/auth.h"

#include <ctype.h>
#include <liboath/oath.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db/db.h"
#include "domain/access.h"
#include "domain/audit.h"
#include "domain/auth_internal.h"
#include "util/buf.h"
#include "util/date.h"
#include "util/hash.h"
#include "util/json.h"

/* ---- settings ---------------------------------------------------------- */

static const struct setting {
	const char *name;
	int dflt, min, max;
	size_t offset;
} settings[] = {
	{"lockout_failures", 5, 1, 100, offsetof(struct auth_settings, lockout_failures)},
	{"lockout_minutes", 15, 1, 24 * 60, offsetof(struct auth_settings, lockout_minutes)},
	{"idle_minutes", 30, 1, 24 * 60, offsetof(struct auth_settings, idle_minutes)},
	{"absolute_hours", 12, 1, 24 * 7, offsetof(struct auth_settings, absolute_hours)},
	{"password_min", 12, 8, 128, offsetof(struct auth_settings, password_min)},
};

/* "admin,manager" as bits (1 << role); CTMS_EINVAL naming a non-role. */
static int parse_roles(const char *text, unsigned *bits)
{
	char *copy = xstrdup(text), *save = NULL;
	int rc = 0;
	*bits = 0;
	for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		enum role r;
		if (role_parse(tok, &r)) {
			rc = CTMS_EINVAL;
			break;
		}
		*bits |= 1u << r;
	}
	free(copy);
	return rc;
}

int auth_settings_load(struct db *db, struct auth_settings *s, struct err *e)
{
	struct db_stmt *st;
	int rc;

	for (size_t i = 0; i < sizeof(settings) / sizeof(*settings); i++)
		*(int *)((char *)s + settings[i].offset) = settings[i].dflt;
	s->totp_roles = 0;
	rc = db_prepare(db, "SELECT name, value FROM settings", &st);
	if (rc)
		return err_set(e, rc, "cannot read settings: %s", db_errmsg(db));
	while ((rc = db_step(st)) == 1) {
		const char *name = db_column_text(st, 0), *value = db_column_text(st, 1);
		if (!strcmp(name, "totp_roles")) {
			parse_roles(value, &s->totp_roles);
			continue;
		}
		for (size_t i = 0; i < sizeof(settings) / sizeof(*settings); i++)
			if (!strcmp(name, settings[i].name))
				*(int *)((char *)s + settings[i].offset) = (int)strtol(value, NULL, 10);
	}
	return rc < 0 ? err_set(e, rc, "cannot read settings: %s", db_errmsg(db)) : 0;
}

int auth_setting_set(struct db *db, const struct actor *a, const char *name, const char *value,
		     struct err *e)
{
	const struct setting *known = NULL;
	unsigned bits;
	char *end;
	long v = 0;
	int rc;

	for (size_t i = 0; name && i < sizeof(settings) / sizeof(*settings); i++)
		if (!strcmp(name, settings[i].name))
			known = &settings[i];
	if (!known && (!name || strcmp(name, "totp_roles")))
		return err_field(e, "name", "must be one of: lockout_failures, lockout_minutes, "
					    "idle_minutes, absolute_hours, password_min, totp_roles");
	if (!value)
		return err_field(e, "value", "is required");
	if (known) {
		v = strtol(value, &end, 10);
		if (*end || end == value || v < known->min || v > known->max)
			return err_field(e, "value", "%s must be a whole number from %d to %d", name,
					 known->min, known->max);
	} else if (parse_roles(value, &bits)) {
		return err_field(e, "value", "totp_roles must list roles separated by commas "
					     "(admin, manager, monitor, site, safety, finance, auditor, viewer)");
	}
	if ((rc = db_begin(db)))
		return err_set(e, rc, "the store is busy; try again");
	struct db_stmt *st;
	char old[256] = "";
	rc = db_prepare(db, "SELECT value FROM settings WHERE name = $1", &st);
	if (!rc) {
		db_bind_text(st, 1, name);
		if ((rc = db_step(st)) == 1) {
			snprintf(old, sizeof(old), "%s", db_column_text(st, 0));
			db_done(st);
		}
		rc = rc < 0 ? rc : 0;
	}
	if (!rc)
		rc = db_prepare(db,
				"INSERT INTO settings (name, value, updated_at) VALUES ($1, $2, $3)"
				" ON CONFLICT (name) DO UPDATE SET value = excluded.value,"
				" updated_at = excluded.updated_at",
				&st);
	if (!rc) {
		db_bind_text(st, 1, name);
		db_bind_text(st, 2, value);
		db_bind_int(st, 3, now_us());
		rc = db_step(st) < 0 ? CTMS_EDB : 0;
	}
	if (!rc) {
		json_t *changes = json_array(), *ov = old[0] ? json_string(old) : NULL,
		       *nv = json_string(value);
		audit_change(changes, name, ov, nv);
		rc = audit_append(db, a, "setting", 0, "update", changes, NULL, e);
		json_decref(ov);
		json_decref(nv);
		json_decref(changes);
	}
	if (rc) {
		db_rollback(db);
		return e->code ? e->code : err_set(e, rc, "cannot save the setting: %s", db_errmsg(db));
	}
	rc = db_commit(db);
	return rc ? err_set(e, rc, "cannot save the setting: %s", db_errmsg(db)) : 0;
}

/* ---- passwords ----------------------------------------------------------- */

/* Characters, not bytes: UTF-8 continuation bytes do not count. */
static size_t utf8_length(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

static bool contains_folded(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; n && *hay; hay++)
		if (!strncasecmp(hay, needle, n))
			return true;
	return false;
}

int password_check(struct db *db, const char *username, const char *password,
			  struct err *e)
{
	struct auth_settings s;
	int rc = auth_settings_load(db, &s, e);
	if (rc)
		return rc;
	if (!password)
		return err_field(e, "password", "is required");
	if (strlen(password) > PASSWORD_MAX)
		return err_field(e, "password", "must be at most %d bytes long", PASSWORD_MAX);
	if ((int)utf8_length(password) < s.password_min)
		return err_field(e, "password", "must be at least %d characters long", s.password_min);
	if (username && contains_folded(password, username))
		return err_field(e, "password", "must not contain the username");
	return 0;
}

/* argon2id (RFC 9106) with libsodium's interactive limits. */
int password_hash(const char *password, char out[crypto_pwhash_STRBYTES], struct err *e)
{
	if (crypto_pwhash_str_alg(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
				  crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13))
		return err_set(e, CTMS_EIO, "cannot hash the password: out of memory");
	return 0;
}


/* ---- users ----------------------------------------------------------------- */

static bool username_valid(const char *u)
{
	size_t n = u ? strlen(u) : 0;
	if (n < 2 || n > 64 || !isalnum((unsigned char)u[0]))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)u[i];
		if (!(islower(c) || isdigit(c) || c == '.' || c == '_' || c == '-' || c == '@'))
			return false;
	}
	return true;
}

bool text_ok(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	if (!n || n > max || s[0] == ' ' || s[n - 1] == ' ')
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20)
			return false;
	return true;
}

void change_text(json_t *changes, const char *field, const char *old, const char *new)
{
	json_t *o = old ? json_string(old) : NULL, *n = new ? json_string(new) : NULL;
	audit_change(changes, field, o, n);
	json_decref(o);
	json_decref(n);
}

void change_int(json_t *changes, const char *field, int64_t old, int64_t new, bool old_null,
		       bool new_null)
{
	json_t *o = old_null ? NULL : json_integer(old), *n = new_null ? NULL : json_integer(new);
	audit_change(changes, field, o, n);
	json_decref(o);
	json_decref(n);
}

/* Runs sql (parameters: texts then ints as given) inside the caller's transaction. */
int exec_user(struct db *db, const char *sql, int64_t id, const char *t1, int64_t i1,
		     bool i1_null)
{
	struct db_stmt *st;
	int rc = db_prepare(db, sql, &st);
	if (rc)
		return rc;
	db_bind_int(st, 1, id);
	db_bind_int(st, 2, now_us());
	if (t1)
		db_bind_text(st, 3, t1);
	else if (i1_null)
		db_bind_null(st, 3);
	else
		db_bind_int(st, 3, i1);
	rc = db_step(st);
	return rc < 0 ? rc : 0;
}

/* Runs sql whose parameters are $1 the id and, when it names it, $2 the time. */
int exec_id(struct db *db, const char *sql, int64_t id)
{
	struct db_stmt *st;
	int rc = db_prepare(db, sql, &st);
	if (rc)
		return rc;
	db_bind_int(st, 1, id);
	if (strstr(sql, "$2"))
		db_bind_int(st, 2, now_us());
	rc = db_step(st);
	return rc < 0 ? rc : 0;
}

int auth_finish(struct db *db, int rc, struct err *e, const char *what)
{
	if (rc || e->code) {
		db_rollback(db);
		if (!e->code)
			err_set(e, rc, "cannot %s: %s", what, db_errmsg(db));
		return e->code;
	}
	rc = db_commit(db);
	return rc ? err_set(e, rc, "cannot %s: %s", what, db_errmsg(db)) : 0;
}

int user_add(struct db *db, const struct actor *a, const json_t *input, int64_t *id, struct err *e)
{
	static const char *const known[] = {"username", "display_name", "email", "password", NULL};
	const char *username = json_str(input, "username"), *display = json_str(input, "display_name"),
		   *email = json_str(input, "email"), *password = json_str(input, "password");
	char hash[crypto_pwhash_STRBYTES];
	const char *key;
	json_t *v;
	int rc;

	*id = 0;
	if (!json_is_object(input))
		return err_set(e, CTMS_EBADREQ, "the body must be a JSON object");
	json_object_foreach((json_t *)input, key, v) {
		bool ok = false;
		for (size_t i = 0; known[i]; i++)
			ok |= !strcmp(key, known[i]);
		if (!ok)
			err_field(e, key, "is not a field of a user");
		else if (!json_is_string(v) && !(json_is_null(v) && !strcmp(key, "email")))
			err_field(e, key, "must be a string");
	}
	if (e->code)
		return e->code;
	if (!username_valid(username))
		err_field(e, "username", "must be 2 to 64 lower-case letters, digits, '.', '_', '-' or '@', "
					 "starting with a letter or digit");
	if (!text_ok(display, 200))
		err_field(e, "display_name", "is required: the printed name shown in signatures (1 to 200 "
					     "characters, no control characters)");
	if (email && (!text_ok(email, 254) || !strchr(email, '@')))
		err_field(e, "email", "must be an e-mail address");
	if (e->code)
		return e->code;
	if ((rc = password_check(db, username, password, e)))
		return rc;
	if ((rc = password_hash(password, hash, e)))
		return rc;
	if ((rc = db_begin(db)))
		return err_set(e, rc, "the store is busy; try again");
	struct db_stmt *st;
	int64_t now = now_us();
	rc = db_prepare(db,
			"INSERT INTO users (created_at, updated_at, username, display_name, email, status,"
			" password_hash, password_changed_at) VALUES ($1, $1, $2, $3, $4, 'active', $5, $1)"
			" RETURNING id",
			&st);
	if (!rc) {
		db_bind_int(st, 1, now);
		db_bind_text(st, 2, username);
		db_bind_text(st, 3, display);
		db_bind_text(st, 4, email);
		db_bind_text(st, 5, hash);
		rc = db_step(st);
		if (rc == 1) {
			*id = db_column_int(st, 0);
			db_done(st);
			rc = 0;
		} else if (rc == CTMS_ECONFLICT) {
			err_field(e, "username", "is already taken");
			err_set(e, CTMS_ECONFLICT, "a user named %s already exists", username);
		} else {
			rc = rc ? rc : CTMS_EDB;
		}
	}
	if (!rc && !e->code) {
		json_t *changes = json_array();
		change_text(changes, "username", NULL, username);
		change_text(changes, "display_name", NULL, display);
		change_text(changes, "email", NULL, email);
		change_text(changes, "status", NULL, "active");
		change_text(changes, "password", NULL, "(set)");
		rc = audit_append(db, a, "user", *id, "create", changes, NULL, e);
		json_decref(changes);
	}
	return auth_finish(db, rc, e, "add the user");
}

int user_find(struct db *db, const char *username, int64_t *id, struct err *e)
{
	struct db_stmt *st;
	int rc = db_prepare(db, "SELECT id FROM users WHERE username = $1", &st);
	*id = 0;
	if (rc)
		return err_set(e, rc, "cannot read users: %s", db_errmsg(db));
	db_bind_text(st, 1, username);
	rc = db_step(st);
	if (rc == 1) {
		*id = db_column_int(st, 0);
		db_done(st);
		return 0;
	}
	if (rc == 0)
		return err_set(e, CTMS_ENOTFOUND, "no user is named %s", username ? username : "");
	return err_set(e, rc, "cannot read users: %s", db_errmsg(db));
}

/* Reads the user's status (and username) inside a transaction. */
int user_status(struct db *db, int64_t id, char status[16], char username[72],
		       struct err *e)
{
	struct db_stmt *st;
	int rc = db_prepare(db, "SELECT status, username FROM users WHERE id = $1", &st);
	if (rc)
		return err_set(e, rc, "cannot read users: %s", db_errmsg(db));
	db_bind_int(st, 1, id);
	rc = db_step(st);
	if (rc == 1) {
		snprintf(status, 16, "%s", db_column_text(st, 0));
		snprintf(username, 72, "%s", db_column_text(st, 1));
		db_done(st);
		return 0;
	}
	return rc == 0 ? err_set(e, CTMS_ENOTFOUND, "user %lld was not found", (long long)id)
		       : err_set(e, rc, "cannot read users: %s", db_errmsg(db));
}

int user_set_status(struct db *db, const struct actor *a, int64_t id, const char *status,
		    const char *reason, struct err *e)
{
	char old[16], username[72];
	int rc;

	if (!status || (strcmp(status, "active") && strcmp(status, "disabled")))
		return err_field(e, "status", "must be active or disabled");
	if ((rc = db_begin(db)))
		return err_set(e, rc, "the store is busy; try again");
	if ((rc = user_status(db, id, old, username, e)))
		return auth_finish(db, rc, e, "change the user");
	if (!strcmp(old, status))
		return auth_finish(db, 0, e, "change the user");
	rc = exec_user(db,
		       "UPDATE users SET version = version + 1, updated_at = $2, status = $3,"
		       " failed_logins = 0, locked_until = NULL WHERE id = $1",
		       id, status, 0, false);
	if (!rc) {
		json_t *changes = json_array();
		change_text(changes, "status", old, status);
		rc = audit_append(db, a, "user", id, "update", changes, reason, e);
		json_decref(changes);
	}
	/* A disabled account's sessions and tokens stop at once. */
	if (!rc && !strcmp(status, "disabled"))
		rc = exec_id(db, "UPDATE sessions SET ended_at = $2 WHERE user_id = $1 AND ended_at IS NULL", id);
	return auth_finish(db, rc, e, "change the user");
}

/* Revokes every live API token of user id, each with its audit event,
 * inside the caller's transaction. */
static int revoke_tokens(struct db *db, const struct actor *a, int64_t id, struct err *e)
{
	struct db_stmt *st;
	int64_t *ids = NULL;
	size_t n = 0, alloc = 0;
	int rc = db_prepare(db, "SELECT id FROM api_tokens WHERE user_id = $1 AND revoked_at IS NULL"
				" ORDER BY id", &st);

	if (rc)
		return err_set(e, rc, "cannot read the tokens: %s", db_errmsg(db));
	db_bind_int(st, 1, id);
	while ((rc = db_step(st)) == 1) {
		if (n == alloc) {
			alloc = alloc ? 2 * alloc : 8;
			ids = xrealloc(ids, alloc * sizeof(*ids));
		}
		ids[n++] = db_column_int(st, 0);
	}
	rc = rc < 0 ? err_set(e, rc, "cannot read the tokens: %s", db_errmsg(db)) : 0;
	for (size_t i = 0; !rc && i < n; i++) {
		json_t *changes = json_array();
		change_text(changes, "revoked", NULL, "true");
		rc = exec_id(db, "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1", ids[i]);
		if (!rc)
			rc = audit_append(db, a, "api_token", ids[i], "revoke", changes,
					  "the owner's password changed", e);
		json_decref(changes);
	}
	free(ids);
	return rc;
}

int user_set_password(struct db *db, const struct actor *a, int64_t id, const char *password,
		      struct err *e)
{
	char status[16], username[72], hash[crypto_pwhash_STRBYTES];
	int rc;

	if ((rc = db_begin(db)))
		return err_set(e, rc, "the store is busy; try again");
	if ((rc = user_status(db, id, status, username, e)) || (rc = password_check(db, username, password, e)) ||
	    (rc = password_hash(password, hash, e)))
		return auth_finish(db, rc, e, "set the password");
	rc = exec_user(db,
		       "UPDATE users SET version = version + 1, updated_at = $2, password_hash = $3,"
		       " password_changed_at = $2, failed_logins = 0, locked_until = NULL WHERE id = $1",
		       id, hash, 0, false);
	if (!rc) {
		json_t *changes = json_array();
		change_text(changes, "password", "(set)", "(changed)");
		rc = audit_append(db, a, "user", id, "update", changes, NULL, e);
		json_decref(changes);
	}
	/* A new password ends every session signed in with the old one, and
	 * revokes every API token: a password is changed because it may be
	 * known, and whoever knew it may have minted a token with it. */
	if (!rc)
		rc = exec_id(db, "UPDATE sessions SET ended_at = $2 WHERE user_id = $1 AND ended_at IS NULL",
			     id);
	if (!rc)
		rc = revoke_tokens(db, a, id, e);
	return auth_finish(db, rc, e, "set the password");
}

int user_enroll_totp(struct db *db, const struct actor *a, int64_t id, char **secret,
		     struct err *e)
{
	char status[16], username[72];
	unsigned char key[20];
	char *b32 = NULL;
	size_t len = 0;
	int rc;

	*secret = NULL;
	auth_oath_init();
	randombytes_buf(key, sizeof(key));
	if (oath_base32_encode((const char *)key, sizeof(key), &b32, &len) != OATH_OK)
		return err_set(e, CTMS_EIO, "cannot encode the second-factor key");
	if ((rc = db_begin(db))) {
		free(b32);
		return err_set(e, rc, "the store is busy; try again");
	}
	if (!(rc = user_status(db, id, status, username, e)))
		rc = exec_user(db,
			       "UPDATE users SET version = version + 1, updated_at = $2, totp_secret = $3,"
			       " totp_last_step = NULL"
			       " WHERE id = $1",
			       id, b32, 0, false);
	if (!rc) {
		json_t *changes = json_array();
		change_text(changes, "totp", NULL, "(enrolled)");
		rc = audit_append(db, a, "user", id, "update", changes, NULL, e);
		json_decref(changes);
	}
	rc = auth_finish(db, rc, e, "enroll the second factor");
	if (rc)
		free(b32);
	else
		*secret = b32;
	return rc;
}

static json_t *grants_json(struct db *db, int64_t user_id)
{
	struct db_stmt *st;
	json_t *list = json_array();
	if (db_prepare(db,
		       "SELECT id, role, study_id, study_site_id, unblinded FROM grants"
		       " WHERE user_id = $1 AND revoked_at IS NULL ORDER BY id",
		       &st))
		return list;
	db_bind_int(st, 1, user_id);
	while (db_step(st) == 1) {
		json_t *g = json_object();
		json_object_set_new(g, "id", json_integer(db_column_int(st, 0)));
		json_object_set_new(g, "role", json_string(db_column_text(st, 1)));
		json_object_set_new(g, "study_id", db_column_type(st, 2) == DB_NULL
							   ? json_null()
							   : json_integer(db_column_int(st, 2)));
		json_object_set_new(g, "study_site_id", db_column_type(st, 3) == DB_NULL
								? json_null()
								: json_integer(db_column_int(st, 3)));
		json_object_set_new(g, "unblinded", json_boolean(db_column_int(st, 4)));
		json_array_append_new(list, g);
	}
	return list;
}

static const char user_columns[] =
	"SELECT id, version, created_at, updated_at, username, display_name, email, status,"
	" totp_secret IS NOT NULL, locked_until, password_changed_at FROM users";

static json_t *user_row(struct db_stmt *st)
{
	char at[TIMESTAMP_LEN];
	json_t *u = json_object();
	json_object_set_new(u, "id", json_integer(db_column_int(st, 0)));
	json_object_set_new(u, "version", json_integer(db_column_int(st, 1)));
	timestamp_format(db_column_int(st, 2), at);
	json_object_set_new(u, "created_at", json_string(at));
	timestamp_format(db_column_int(st, 3), at);
	json_object_set_new(u, "updated_at", json_string(at));
	json_object_set_new(u, "username", json_string(db_column_text(st, 4)));
	json_object_set_new(u, "display_name", json_string(db_column_text(st, 5)));
	json_object_set_new(u, "email", db_column_text(st, 6) ? json_string(db_column_text(st, 6))
							      : json_null());
	json_object_set_new(u, "status", json_string(db_column_text(st, 7)));
	json_object_set_new(u, "totp", json_boolean(db_column_int(st, 8)));
	if (db_column_type(st, 9) != DB_NULL && db_column_int(st, 9) > now_us()) {
		timestamp_format(db_column_int(st, 9), at);
		json_object_set_new(u, "locked_until", json_string(at));
	} else {
		json_object_set_new(u, "locked_until", json_null());
	}
	timestamp_format(db_column_int(st, 10), at);
	json_object_set_new(u, "password_changed_at", json_string(at));
	return u;
}

int user_get(struct db *db, int64_t id, json_t **out, struct err *e)
{
	struct db_stmt *st;
	struct buf sql;
	int rc;

	*out = NULL;
	buf_init(&sql, 512);
	buf_printf(&sql, "%s WHERE id = $1", user_columns);
	rc = db_prepare(db, sql.ptr, &st);
	buf_release(&sql);
	if (rc)
		return err_set(e, rc, "cannot read users: %s", db_errmsg(db));
	db_bind_int(st, 1, id);
	rc = db_step(st);
	if (rc == 1) {
		*out = user_row(st);
		db_done(st);
		json_object_set_new(*out, "grants", grants_json(db, id));
		return 0;
	}
	return rc == 0 ? err_set(e, CTMS_ENOTFOUND, "user %lld was not found", (long long)id)
		       : err_set(e, rc, "cannot read users: %s", db_errmsg(db));
}

int user_list(struct db *db, json_t **items, struct err *e)
{
	struct db_stmt *st;
	struct buf sql;
	int rc;

	*items = NULL;
	buf_init(&sql, 512);
	buf_printf(&sql, "%s ORDER BY username", user_columns);
	rc = db_prepare(db, sql.ptr, &st);
	buf_release(&sql);
	if (rc)
		return err_set(e, rc, "cannot read users: %s", db_errmsg(db));
	*items = json_array();
	while ((rc = db_step(st)) == 1)
		json_array_append_new(*items, user_row(st));
	if (rc < 0) {
		json_decref(*items);
		*items = NULL;
		return err_set(e, rc, "cannot read users: %s", db_errmsg(db));
	}
	for (size_t i = 0; i < json_array_size(*items); i++) {
		json_t *u = json_array_get(*items, i);
		json_object_set_new(u, "grants", grants_json(db, json_int(u, "id", 0)));
	}
	return 0;
}

/* ---- grants ------------------------------------------------------------------- */

int grant_add(struct db *db, const struct actor *a, int64_t user_id, enum role role,
	      int64_t study_id, int64_t study_site_id, bool unblinded, int64_t *id, struct err *e)
{
	char status[16], username[72];
	struct db_stmt *st;
	int rc;

	*id = 0;
	if (role < 0 || role >= NROLES)
		return err_field(e, "role", "must be one of: admin, manager, monitor, site, safety, "
					    "finance, auditor, viewer");
	if ((rc = db_begin(db)))
		return err_set(e, rc, "the store is busy; try again");
	if ((rc = user_status(db, user_id, status, username, e)))
		return auth_finish(db, rc, e, "grant the role");
	if (study_site_id) {
		int64_t of = 0;
		rc = db_query_int(db, "SELECT study_id FROM study_sites WHERE id = $1", &of, 1, study_site_id);
		if (rc == CTMS_ENOTFOUND || (!rc && study_id && of != study_id))
			return auth_finish(db, 0,
				      (err_field(e, "study_site_id", "is not a study-site of the study"), e),
				      "grant the role");
		if (rc)
			return auth_finish(db, rc, e, "grant the role");
		study_id = of;
	} else if (study_id) {
		int64_t one = 0;
		rc = db_query_int(db, "SELECT 1 FROM studies WHERE id = $1", &one, 1, study_id);
		if (rc == CTMS_ENOTFOUND)
			return auth_finish(db, 0, (err_field(e, "study_id", "is not a study"), e),
				      "grant the role");
		if (rc)
			return auth_finish(db, rc, e, "grant the role");
	}
	rc = db_prepare(db,
			"INSERT INTO grants (created_at, updated_at, user_id, role, study_id, study_site_id,"
			" unblinded) VALUES ($1, $1, $2, $3, $4, $5, $6) RETURNING id",
			&st);
	if (!rc) {
		db_bind_int(st, 1, now_us());
		db_bind_int(st, 2, user_id);
		db_bind_text(st, 3, role_name(role));
		if (study_id)
			db_bind_int(st, 4, study_id);
		else
			db_bind_null(st, 4);
		if (study_site_id)
			db_bind_int(st, 5, study_site_id);
		else
			db_bind_null(st, 5);
		db_bind_int(st, 6, unblinded);
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
		change_text(changes, "role", NULL, role_name(role));
		change_int(changes, "study_id", 0, study_id, true, !study_id);
		change_int(changes, "study_site_id", 0, study_site_id, true, !study_site_id);
		json_t *b = json_boolean(unblinded);
		audit_change(changes, "unblinded", NULL, b);
		json_decref(b);
		rc = audit_append(db, a, "grant", *id, "create", changes, NULL, e);
		json_decref(changes);
	}
	return auth_finish(db, rc, e, "grant the role");
}

int grant_revoke(struct db *db, const struct actor *a, int64_t grant_id, struct err *e)
{
	int64_t live = 0;
	int rc;

	if ((rc = db_begin(db)))
		return err_set(e, rc, "the store is busy; try again");
	rc = db_query_int(db, "SELECT count(*) FROM grants WHERE id = $1 AND revoked_at IS NULL", &live,
			  1, grant_id);
	if (!rc && !live)
		return auth_finish(db, 0, (err_set(e, CTMS_ENOTFOUND, "grant %lld was not found",
					      (long long)grant_id), e),
			      "revoke the grant");
	if (!rc)
		rc = exec_id(db, "UPDATE grants SET version = version + 1, updated_at = $2, revoked_at = $2"
				   " WHERE id = $1", grant_id);
	if (!rc) {
		json_t *changes = json_array();
		change_text(changes, "revoked", NULL, "true");
		rc = audit_append(db, a, "grant", grant_id, "revoke", changes, NULL, e);
		json_decref(changes);
	}
	return auth_finish(db, rc, e, "revoke the grant");
}
