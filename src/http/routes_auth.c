/* Handlers for signing in and out, and for administering users, their
 * grants and API tokens. The rules are in domain/auth.c and access.c. */
#include "http/routes_auth.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "domain/access.h"
#include "domain/auth.h"
#include "domain/record.h"
#include "domain/signature.h"
#include "http/dispatch.h"
#include "http/routes_export.h"
#include "util/buf.h"
#include "util/date.h"
#include "util/json.h"

static void reply_err(struct request *r, struct err *e)
{
	reply_error(r, e, NULL);
	err_release(e);
}

/* Only the fields named may appear, each a string (or null when nullable). */
static bool only_fields(const json_t *body, const char *const *names, struct err *e)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)body, key, v) {
		bool known = false;
		for (size_t i = 0; names[i]; i++)
			known |= !strcmp(key, names[i]);
		if (!known)
			err_field(e, key, "is not a field of this request");
	}
	return !e->code;
}

static bool administer(struct request *r)
{
	struct err e;
	err_init(&e);
	if (access_capability(r->actor, CAP_ADMINISTER, 0, &e)) {
		reply_err(r, &e);
		return false;
	}
	err_release(&e);
	return true;
}

/* The actor may act on this user's own account, or administers. */
static bool self_or_admin(struct request *r, int64_t user_id)
{
	return r->actor->id == user_id || administer(r);
}

static void set_session_cookie(struct request *r, const char *token, int64_t max_age)
{
	struct buf b;
	buf_init(&b, 256);
	buf_printf(&b, "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld", SESSION_COOKIE,
		   token, (long long)max_age);
	free(r->set_cookie);
	r->set_cookie = buf_detach(&b);
}

void h_login(struct request *r)
{
	static const char *const fields[] = {"username", "password", "totp", NULL};
	json_t *body = request_json(r), *user = NULL;
	struct session_grant g;
	struct login in;
	struct err e;

	if (!body)
		return;
	err_init(&e);
	if (!only_fields(body, fields, &e)) {
		json_decref(body);
		reply_err(r, &e);
		return;
	}
	in.username = json_str(body, "username");
	in.password = json_str(body, "password");
	in.totp = json_str(body, "totp");
	if (auth_login(r->db, &in, &g, &e) || user_get(r->db, g.user_id, &user, &e)) {
		json_decref(body);
		reply_err(r, &e);
		return;
	}
	char at[TIMESTAMP_LEN];
	timestamp_format(g.expires_at, at);
	set_session_cookie(r, g.token, (g.expires_at - now_us()) / 1000000);
	reply_json(r, 201, json_pack("{s:o, s:s, s:s}", "user", user, "csrf_token", g.csrf,
				     "expires_at", at));
	sodium_memzero(&g, sizeof(g));
	json_decref(body);
	err_release(&e);
}

void h_logout(struct request *r)
{
	struct err e;
	err_init(&e);
	if (auth_logout(r->db, r->actor, &e)) {
		reply_err(r, &e);
		return;
	}
	set_session_cookie(r, "", 0);
	reply_text(r, 204, "text/plain", "");
	err_release(&e);
}

void h_me(struct request *r)
{
	json_t *user;
	struct err e;
	err_init(&e);
	if (user_get(r->db, r->actor->id, &user, &e)) {
		reply_err(r, &e);
		return;
	}
	json_object_set_new(user, "session", r->actor->session_id ? json_true() : json_false());
	reply_json(r, 200, user);
	err_release(&e);
}

void h_users(struct request *r)
{
	json_t *items;
	struct err e;
	if (!administer(r))
		return;
	err_init(&e);
	if (user_list(r->db, &items, &e)) {
		reply_err(r, &e);
		return;
	}
	reply_list(r, items);
	err_release(&e);
}

void h_user_create(struct request *r)
{
	json_t *body, *user;
	int64_t id;
	struct err e;

	if (!administer(r) || !(body = request_json(r)))
		return;
	err_init(&e);
	if (user_add(r->db, r->actor, body, &id, &e) || user_get(r->db, id, &user, &e)) {
		json_decref(body);
		reply_err(r, &e);
		return;
	}
	struct buf loc;
	buf_init(&loc, 64);
	buf_printf(&loc, "/api/v1/users/%lld", (long long)id);
	r->location = buf_detach(&loc);
	reply_json(r, 201, user);
	json_decref(body);
	err_release(&e);
}

void h_user_get(struct request *r)
{
	json_t *user;
	struct err e;
	if (!self_or_admin(r, r->ids[0]))
		return;
	err_init(&e);
	if (user_get(r->db, r->ids[0], &user, &e)) {
		reply_err(r, &e);
		return;
	}
	reply_json(r, 200, user);
	err_release(&e);
}

/* {"status": "active"|"disabled", "reason"} (administrators) or
 * {"password", "current_password"} (the user, or an administrator resetting it). */
void h_user_patch(struct request *r)
{
	static const char *const fields[] = {"status", "reason", "password", "current_password", "totp",
					     NULL};
	json_t *body, *user;
	struct err e;
	int64_t id = r->ids[0];
	bool admin;

	if (!self_or_admin(r, id) || !(body = request_json(r)))
		return;
	err_init(&e);
	admin = !access_capability(r->actor, CAP_ADMINISTER, 0, &e);
	err_release(&e);
	err_init(&e);
	if (!only_fields(body, fields, &e))
		goto fail;
	if (json_object_get(body, "status")) {
		if (!admin) {
			err_set(&e, CTMS_EFORBIDDEN, "only an administrator enables or disables accounts");
			goto fail;
		}
		if (user_set_status(r->db, r->actor, id, json_str(body, "status"), json_str(body, "reason"),
				    &e))
			goto fail;
	}
	if (json_object_get(body, "password")) {
		if (!admin && r->actor->id != id) {
			err_set(&e, CTMS_ENOTFOUND, "user %lld was not found", (long long)id);
			goto fail;
		}
		/* Changing one's own password takes the current one. */
		if (r->actor->id == id) {
			json_t *me = NULL;
			int rc = user_get(r->db, id, &me, &e);
			if (!rc)
				rc = auth_reauthenticate(r->db, r->actor, json_str(me, "username"),
							 json_str(body, "current_password"),
							 json_str(body, "totp"), &e);
			json_decref(me);
			if (rc)
				goto fail;
		}
		if (user_set_password(r->db, r->actor, id, json_str(body, "password"), &e))
			goto fail;
	}
	if (user_get(r->db, id, &user, &e))
		goto fail;
	reply_json(r, 200, user);
	json_decref(body);
	err_release(&e);
	return;
fail:
	json_decref(body);
	reply_err(r, &e);
}

/* {"role", "study_id"?, "study_site_id"?, "unblinded"?} */
void h_grant_create(struct request *r)
{
	static const char *const fields[] = {"role", "study_id", "study_site_id", "unblinded", NULL};
	json_t *body, *user;
	enum role role = NROLES;
	int64_t id;
	struct err e;

	if (!administer(r) || !(body = request_json(r)))
		return;
	err_init(&e);
	if (only_fields(body, fields, &e)) {
		json_t *s = json_object_get(body, "study_id"), *ss = json_object_get(body, "study_site_id"),
		       *u = json_object_get(body, "unblinded");
		if (role_parse(json_str(body, "role"), &role))
			err_field(&e, "role", "must be one of: admin, manager, monitor, site, safety, "
					      "finance, auditor, viewer");
		if (s && !json_is_null(s) && (!json_is_integer(s) || json_integer_value(s) < 1))
			err_field(&e, "study_id", "must be the id of a study, or null for every study");
		if (ss && !json_is_null(ss) && (!json_is_integer(ss) || json_integer_value(ss) < 1))
			err_field(&e, "study_site_id", "must be the id of a study-site, or null");
		if (u && !json_is_boolean(u))
			err_field(&e, "unblinded", "must be true or false");
	}
	if (e.code || grant_add(r->db, r->actor, r->ids[0], role, json_int(body, "study_id", 0),
				json_int(body, "study_site_id", 0),
				json_is_true(json_object_get(body, "unblinded")), &id, &e) ||
	    user_get(r->db, r->ids[0], &user, &e)) {
		json_decref(body);
		reply_err(r, &e);
		return;
	}
	reply_json(r, 201, user);
	json_decref(body);
	err_release(&e);
}

void h_grant_delete(struct request *r)
{
	struct err e;
	if (!administer(r))
		return;
	err_init(&e);
	if (grant_revoke(r->db, r->actor, r->ids[0], &e)) {
		reply_err(r, &e);
		return;
	}
	reply_text(r, 204, "text/plain", "");
	err_release(&e);
}

void h_tokens(struct request *r)
{
	json_t *items;
	struct err e;
	if (!self_or_admin(r, r->ids[0]))
		return;
	err_init(&e);
	if (token_list(r->db, r->ids[0], &items, &e)) {
		reply_err(r, &e);
		return;
	}
	reply_list(r, items);
	err_release(&e);
}

/* {"name", "days"}: answers the token once; only its hash is kept. */
void h_token_create(struct request *r)
{
	static const char *const fields[] = {"name", "days", "password", "totp", NULL};
	json_t *body, *days, *me = NULL;
	char *token = NULL;
	int64_t id;
	struct err e;

	if (!self_or_admin(r, r->ids[0]) || !(body = request_json(r)))
		return;
	err_init(&e);
	days = json_object_get(body, "days");
	if (only_fields(body, fields, &e) && days && !json_is_integer(days))
		err_field(&e, "days", "must be a whole number of days (0: no expiry)");
	if (json_object_get(body, "name") && !json_is_string(json_object_get(body, "name")))
		err_field(&e, "name", "must be a string");
	/* A token outlives the session that asks for it: from a browser
	 * session, the user proves who they are again (password, and the TOTP
	 * code when enrolled), so a session taken over cannot mint a lasting
	 * credential. A script holding a token already holds one. */
	if (!e.code && r->actor->session_id) {
		if (!json_str(body, "password"))
			err_field(&e, "password", "is required: a token from a signed-in session takes "
						  "your password again");
		else if (!user_get(r->db, r->actor->id, &me, &e))
			auth_reauthenticate(r->db, r->actor, json_str(me, "username"),
					    json_str(body, "password"), json_str(body, "totp"), &e);
		json_decref(me);
	}
	/* A token outlives no session by much unless an administrator says so. */
	struct err probe;
	err_init(&probe);
	bool admin = !access_capability(r->actor, CAP_ADMINISTER, 0, &probe);
	err_release(&probe);
	if (!e.code && !admin && days &&
	    (json_integer_value(days) == 0 || json_integer_value(days) > 90))
		err_field(&e, "days", "must be from 1 to 90 for your own tokens; an administrator "
				      "issues longer ones");
	if (e.code || token_create(r->db, r->actor, r->ids[0], json_str(body, "name"),
				   days ? (int)json_integer_value(days) : 90, &token, &id, &e)) {
		json_decref(body);
		reply_err(r, &e);
		return;
	}
	reply_json(r, 201, json_pack("{s:I, s:s}", "id", (json_int_t)id, "token", token));
	sodium_memzero(token, strlen(token));
	free(token);
	json_decref(body);
	err_release(&e);
}

void h_token_delete(struct request *r)
{
	struct err e;
	int64_t owner = 0;
	err_init(&e);
	/* The owner revokes their own; an administrator any. */
	if (db_query_int(r->db, "SELECT user_id FROM api_tokens WHERE id = $1", &owner, 1, r->ids[0]) ||
	    (owner != r->actor->id && access_capability(r->actor, CAP_ADMINISTER, 0, &e))) {
		e.code = CTMS_OK;
		err_set(&e, CTMS_ENOTFOUND, "token %lld was not found", (long long)r->ids[0]);
		reply_err(r, &e);
		return;
	}
	if (token_revoke(r->db, r->actor, r->ids[0], &e)) {
		reply_err(r, &e);
		return;
	}
	reply_text(r, 204, "text/plain", "");
	err_release(&e);
}

/* POST /api/v1/signatures {entity, id, meaning, password, username?, totp?,
 * reason?}: re-authenticates (11.200), then signs (11.50, 11.70). */
void h_sign(struct request *r)
{
	static const char *const fields[] = {"entity", "id", "meaning", "password", "username", "totp",
					     "reason", NULL};
	const struct entity_def *def;
	json_t *body, *rec = NULL, *sig = NULL;
	struct err e;

	if (!(body = request_json(r)))
		return;
	err_init(&e);
	only_fields(body, fields, &e);
	def = signature_kind(json_str(body, "entity"));
	if (!def)
		err_field(&e, "entity", "must be a kind of record that is signed: study, protocol_version, "
					"study_site, subject, milestone, subject_visit");
	if (!json_is_integer(json_object_get(body, "id")) || json_int(body, "id", 0) < 1)
		err_field(&e, "id", "must be the id of the record to sign");
	if (!json_str(body, "password"))
		err_field(&e, "password", "is required: signing re-authenticates (21 CFR 11.200)");
	/* Who may not see the record learns nothing, not even that it exists;
	 * then the signer proves who they are; then the signature. */
	if (e.code || record_get(r->db, r->actor, def, json_int(body, "id", 0), &rec, &e) ||
	    auth_reauthenticate(r->db, r->actor, json_str(body, "username"), json_str(body, "password"),
				json_str(body, "totp"), &e) ||
	    signature_create(r->db, r->actor, def, json_int(body, "id", 0), json_str(body, "meaning"),
			     json_str(body, "reason"), &sig, &e)) {
		json_decref(rec);
		json_decref(body);
		reply_err(r, &e);
		return;
	}
	struct buf loc;
	buf_init(&loc, 64);
	buf_printf(&loc, "/api/v1/signatures?entity=%s&id=%lld", def->name,
		   (long long)json_int(body, "id", 0));
	r->location = buf_detach(&loc);
	reply_json(r, 201, sig);
	json_decref(rec);
	json_decref(body);
	err_release(&e);
}

/* GET /api/v1/signatures?entity=&id= */
void h_signatures(struct request *r)
{
	const char *entity = request_query(r, "entity"), *id = request_query(r, "id");
	const struct entity_def *def = signature_kind(entity);
	json_t *rec = NULL, *items;
	char *end = NULL;
	long long n = id ? strtoll(id, &end, 10) : 0;
	struct err e;

	err_init(&e);
	if (!def)
		err_field(&e, "entity", "must be a kind of record that is signed: study, protocol_version, "
					"study_site, subject, milestone, subject_visit");
	if (!id || *end || n < 1)
		err_field(&e, "id", "must be the id of a record");
	if (e.code || record_get(r->db, r->actor, def, n, &rec, &e) ||
	    signature_list(r->db, def, rec, &items, &e)) {
		json_decref(rec);
		reply_err(r, &e);
		return;
	}
	reply_list(r, items);
	json_decref(rec);
	err_release(&e);
}
