#include "domain/signature.h"

#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "domain/access.h"
#include "domain/actor.h"
#include "domain/audit.h"
#include "domain/auth.h"
#include "domain/milestone.h"
#include "domain/protocol_version.h"
#include "domain/record.h"
#include "domain/study.h"
#include "domain/study_site.h"
#include "domain/subject.h"
#include "domain/visit.h"
#include "util/buf.h"
#include "util/date.h"
#include "util/json.h"

const char *const signature_meanings[] = {"authored", "reviewed", "approved", "responsible", NULL};

static const struct entity_def *const signable[] = {
	&study_def, &protocol_version_def, &study_site_def, &subject_def, &milestone_def,
	&subject_visit_def,
};
#define NSIGNABLE (sizeof(signable) / sizeof(*signable))

const struct entity_def *signature_kind(const char *entity)
{
	for (size_t i = 0; entity && i < NSIGNABLE; i++)
		if (!strcmp(signable[i]->name, entity))
			return signable[i];
	return NULL;
}

/* What a signer vouches for: the fields users write. */
static bool signed_field(const struct field_def *f)
{
	return !(f->flags & (F_SERVER | F_VIRTUAL | F_BLINDED));
}

void signature_content_hash(const struct entity_def *def, const json_t *rec,
			    char out[SHA256_HEX_LEN])
{
	json_t *fields = json_object(), *content;
	for (size_t i = 0; i < def->nfields; i++) {
		const struct field_def *f = &def->fields[i];
		json_t *v = json_object_get(rec, f->name);
		if (signed_field(f))
			json_object_set(fields, f->name, v ? v : json_null());
	}
	content = json_pack("{s:s, s:I, s:o}", "entity", def->name, "id",
			    (json_int_t)json_int(rec, "id", 0), "fields", fields);
	char *text = json_canonical(content);
	sha256_hex(text, strlen(text), out);
	free(text);
	json_decref(content);
}

static const char signature_columns[] =
	"SELECT id, entity, entity_id, record_version, meaning, signer_id, signer_name, created_at,"
	" content_hash, reason FROM signatures";

static json_t *signature_row(struct db_stmt *st, const char *current_hash)
{
	char at[TIMESTAMP_LEN];
	json_t *s = json_object();
	json_object_set_new(s, "id", json_integer(db_column_int(st, 0)));
	json_object_set_new(s, "entity", json_string(db_column_text(st, 1)));
	json_object_set_new(s, "entity_id", json_integer(db_column_int(st, 2)));
	json_object_set_new(s, "record_version", json_integer(db_column_int(st, 3)));
	json_object_set_new(s, "meaning", json_string(db_column_text(st, 4)));
	json_object_set_new(s, "signer_id", json_integer(db_column_int(st, 5)));
	json_object_set_new(s, "signer_name", json_string(db_column_text(st, 6)));
	timestamp_format(db_column_int(st, 7), at);
	json_object_set_new(s, "signed_at", json_string(at));
	json_object_set_new(s, "content_hash", json_string(db_column_text(st, 8)));
	json_object_set_new(s, "reason", db_column_text(st, 9) ? json_string(db_column_text(st, 9))
							       : json_null());
	json_object_set_new(s, "valid", json_boolean(current_hash &&
						      !strcmp(current_hash, db_column_text(st, 8))));
	return s;
}

int signature_create(struct db *db, const struct actor *a, const struct entity_def *def,
		     int64_t id, const char *meaning, const char *reason, json_t **out,
		     struct err *e)
{
	json_t *rec = NULL;
	char hash[SHA256_HEX_LEN];
	struct db_stmt *st;
	int64_t study, site, sig_id = 0, now = now_us();
	bool known = false;
	int rc;

	*out = NULL;
	for (size_t i = 0; meaning && signature_meanings[i]; i++)
		known |= !strcmp(meaning, signature_meanings[i]);
	if (!known)
		return err_field(e, "meaning", "must be one of: authored, reviewed, approved, responsible");
	if (reason && strlen(reason) > 1000)
		return err_field(e, "reason", "must be at most 1000 bytes long");
	if ((rc = db_begin(db)))
		return err_set(e, rc, "the store is busy; try again");
	/* The version signed is the one read inside the transaction. */
	if ((rc = record_get(db, a, def, id, &rec, e)))
		goto done;
	access_scope_of(def, rec, &study, &site);
	if ((rc = access_capability_at(a, CAP_SIGN, study, site, e)))
		goto done;
	signature_content_hash(def, rec, hash);
	rc = db_prepare(db,
			"INSERT INTO signatures (created_at, entity, entity_id, record_version, meaning,"
			" signer_id, signer_name, content_hash, reason)"
			" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
			&st);
	if (!rc) {
		db_bind_int(st, 1, now);
		db_bind_text(st, 2, def->name);
		db_bind_int(st, 3, id);
		db_bind_int(st, 4, json_int(rec, "version", 0));
		db_bind_text(st, 5, meaning);
		db_bind_int(st, 6, a->id);
		db_bind_text(st, 7, a->name);
		db_bind_text(st, 8, hash);
		db_bind_text(st, 9, reason && reason[0] ? reason : NULL);
		rc = db_step(st);
		if (rc == 1) {
			sig_id = db_column_int(st, 0);
			db_done(st);
			rc = 0;
		} else {
			rc = rc ? rc : CTMS_EDB;
		}
	}
	if (!rc) {
		json_t *changes = json_array(), *v;
		audit_change(changes, "entity", NULL, v = json_string(def->name));
		json_decref(v);
		audit_change(changes, "entity_id", NULL, v = json_integer(id));
		json_decref(v);
		audit_change(changes, "record_version", NULL, v = json_integer(json_int(rec, "version", 0)));
		json_decref(v);
		audit_change(changes, "meaning", NULL, v = json_string(meaning));
		json_decref(v);
		audit_change(changes, "signer_name", NULL, v = json_string(a->name));
		json_decref(v);
		audit_change(changes, "content_hash", NULL, v = json_string(hash));
		json_decref(v);
		rc = audit_append(db, a, "signature", sig_id, "sign", changes, reason, e);
		json_decref(changes);
	}
	if (!rc)
		rc = auth_session_signed(db, a, e);
done:
	json_decref(rec);
	if (rc || e->code) {
		db_rollback(db);
		return e->code ? e->code : err_set(e, rc, "cannot sign: %s", db_errmsg(db));
	}
	if ((rc = db_commit(db)))
		return err_set(e, rc, "cannot sign: %s", db_errmsg(db));
	struct buf sql;
	buf_init(&sql, 512);
	buf_printf(&sql, "%s WHERE id = $1", signature_columns);
	rc = db_prepare(db, sql.ptr, &st);
	buf_release(&sql);
	if (!rc) {
		db_bind_int(st, 1, sig_id);
		if (db_step(st) == 1) {
			*out = signature_row(st, hash);
			db_done(st);
		}
	}
	return *out ? 0 : err_set(e, CTMS_EDB, "cannot read the signature back");
}

int signature_list(struct db *db, const struct entity_def *def, const json_t *rec, json_t **items,
		   struct err *e)
{
	char hash[SHA256_HEX_LEN];
	struct db_stmt *st;
	struct buf sql;
	int rc;

	*items = NULL;
	signature_content_hash(def, rec, hash);
	buf_init(&sql, 512);
	buf_printf(&sql, "%s WHERE entity = $1 AND entity_id = $2 ORDER BY id", signature_columns);
	rc = db_prepare(db, sql.ptr, &st);
	buf_release(&sql);
	if (rc)
		return err_set(e, rc, "cannot read signatures: %s", db_errmsg(db));
	db_bind_text(st, 1, def->name);
	db_bind_int(st, 2, json_int(rec, "id", 0));
	*items = json_array();
	while ((rc = db_step(st)) == 1)
		json_array_append_new(*items, signature_row(st, hash));
	if (rc < 0) {
		json_decref(*items);
		*items = NULL;
		return err_set(e, rc, "cannot read signatures: %s", db_errmsg(db));
	}
	return 0;
}

void signature_render(struct db *db, const struct entity_def *def, json_t *items)
{
	struct db_stmt *st;
	size_t n = json_array_size(items), at = 0;

	if (!signature_kind(def->name) || !n)
		return;
	for (size_t i = 0; i < n; i++)
		json_object_set_new(json_array_get(items, i), "signatures", json_array());
	if (db_prepare(db,
		       "SELECT id, entity_id, meaning, signer_name, created_at, content_hash"
		       " FROM signatures WHERE entity = $1 AND entity_id >= $2 AND entity_id <= $3"
		       " ORDER BY entity_id, id",
		       &st))
		return;
	db_bind_text(st, 1, def->name);
	db_bind_int(st, 2, json_int(json_array_get(items, 0), "id", 0));
	db_bind_int(st, 3, json_int(json_array_get(items, n - 1), "id", 0));
	while (db_step(st) == 1) {
		int64_t id = db_column_int(st, 1);
		while (at < n && json_int(json_array_get(items, at), "id", 0) < id)
			at++;
		if (at == n)
			continue;
		json_t *rec = json_array_get(items, at);
		if (json_int(rec, "id", 0) != id)
			continue;
		char hash[SHA256_HEX_LEN], when[TIMESTAMP_LEN];
		signature_content_hash(def, rec, hash);
		timestamp_format(db_column_int(st, 4), when);
		json_array_append_new(json_object_get(rec, "signatures"),
				      json_pack("{s:I, s:s, s:s, s:s, s:b}", "id",
						(json_int_t)db_column_int(st, 0), "signer_name",
						db_column_text(st, 3), "meaning", db_column_text(st, 2),
						"signed_at", when, "valid",
						!strcmp(hash, db_column_text(st, 5))));
	}
}

bool signature_by_manager(struct db *db, const struct entity_def *def, const json_t *rec,
			  const char *meaning)
{
	char hash[SHA256_HEX_LEN];
	struct db_stmt *st;
	int64_t study, site, found = 0;

	signature_content_hash(def, rec, hash);
	access_scope_of(def, rec, &study, &site);
	if (db_prepare(db,
		       "SELECT count(*) FROM signatures s WHERE s.entity = $1 AND s.entity_id = $2"
		       " AND s.meaning = $3 AND s.content_hash = $4 AND EXISTS (SELECT 1 FROM grants g"
		       " WHERE g.user_id = s.signer_id AND g.role = 'manager' AND g.revoked_at IS NULL"
		       " AND g.study_site_id IS NULL AND (g.study_id IS NULL OR g.study_id = $5))",
		       &st))
		return false;
	db_bind_text(st, 1, def->name);
	db_bind_int(st, 2, json_int(rec, "id", 0));
	db_bind_text(st, 3, meaning);
	db_bind_text(st, 4, hash);
	db_bind_int(st, 5, study);
	if (db_step(st) == 1) {
		found = db_column_int(st, 0);
		db_done(st);
	}
	return found > 0;
}

/* The record as it stood at version, rebuilt from its audit events (each
 * event of a record is one version: create is 1). */
static json_t *replay(struct db *db, const struct entity_def *def, int64_t id, int64_t version)
{
	struct db_stmt *st;
	json_t *rec = json_pack("{s:I}", "id", (json_int_t)id);
	int64_t at = 0;

	if (db_prepare(db,
		       "SELECT changes FROM audit_event WHERE entity = $1 AND entity_id = $2 ORDER BY seq",
		       &st)) {
		json_decref(rec);
		return NULL;
	}
	db_bind_text(st, 1, def->name);
	db_bind_int(st, 2, id);
	while (at < version && db_step(st) == 1) {
		json_t *changes = json_loads(db_column_text(st, 0), 0, NULL), *c;
		size_t i;
		json_array_foreach(changes, i, c) {
			const char *field = json_str(c, "field");
			if (field)
				json_object_set(rec, field, json_object_get(c, "new"));
		}
		json_decref(changes);
		at++;
	}
	if (at == version)
		db_done(st);
	if (at != version) {
		json_decref(rec);
		return NULL;
	}
	return rec;
}

int signature_verify_all(struct db *db, int64_t *count, int64_t *bad, struct err *e)
{
	struct db_stmt *st;
	json_t *sigs = json_array();
	int rc;

	*count = *bad = 0;
	rc = db_prepare(db, "SELECT id, entity, entity_id, record_version, content_hash FROM signatures"
			    " ORDER BY id",
			&st);
	if (rc) {
		json_decref(sigs);
		return err_set(e, rc, "cannot read signatures: %s", db_errmsg(db));
	}
	while ((rc = db_step(st)) == 1)
		json_array_append_new(sigs, json_pack("{s:I, s:s, s:I, s:I, s:s}", "id",
						      (json_int_t)db_column_int(st, 0), "entity",
						      db_column_text(st, 1), "entity_id",
						      (json_int_t)db_column_int(st, 2), "version",
						      (json_int_t)db_column_int(st, 3), "hash",
						      db_column_text(st, 4)));
	if (rc < 0) {
		json_decref(sigs);
		return err_set(e, rc, "cannot read signatures: %s", db_errmsg(db));
	}
	for (size_t i = 0; i < json_array_size(sigs); i++) {
		json_t *s = json_array_get(sigs, i);
		const struct entity_def *def = signature_kind(json_str(s, "entity"));
		json_t *rec = def ? replay(db, def, json_int(s, "entity_id", 0), json_int(s, "version", 0))
				  : NULL;
		char hash[SHA256_HEX_LEN] = "";
		if (rec)
			signature_content_hash(def, rec, hash);
		json_decref(rec);
		if (strcmp(hash, json_str(s, "hash"))) {
			*bad = json_int(s, "id", 0);
			err_set(e, CTMS_EINTEGRITY,
				"signature %lld does not match version %lld of %s %lld in the audit trail",
				(long long)*bad, (long long)json_int(s, "version", 0), json_str(s, "entity"),
				(long long)json_int(s, "entity_id", 0));
			json_decref(sigs);
			return CTMS_EINTEGRITY;
		}
		++*count;
	}
	json_decref(sigs);
	return 0;
}
