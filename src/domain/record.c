#include "domain/record.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "domain/access.h"
#include "domain/actor.h"
#include "domain/audit.h"
#include "domain/record_internal.h"
#include "util/buf.h"
#include "util/date.h"
#include "util/json.h"

#define TEXT_MAX_DEFAULT 2000

const struct field_def *record_field(const struct entity_def *def, const char *name)
{
	for (size_t i = 0; i < def->nfields; i++)
		if (!strcmp(def->fields[i].name, name))
			return &def->fields[i];
	return NULL;
}

void record_list_codes(struct buf *b, const char *const *codes)
{
	for (size_t i = 0; codes && codes[i]; i++) {
		if (buf_printf(b, "%s%s", i ? ", " : "", codes[i])) {
			buf_puts(b, ", ...");
			break;
		}
	}
	if (!codes || !codes[0])
		buf_puts(b, "none");
}

/* Control characters other than tab and newline have no place in a record. */
bool record_has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
			return true;
	return false;
}

static int validate(const struct field_def *f, const json_t *v, const char *name, struct err *e);

/* The items of a list, each reported as name[i] (name[i].member for an
 * object's members). */
static int validate_list(const struct field_def *f, const json_t *v, const char *name,
			 struct err *e)
{
	const json_t *item;
	char at[128];
	size_t i;

	if (!json_is_array(v))
		return err_field(e, name, "must be a list (a JSON array)");
	if (f->max && (int64_t)json_array_size(v) > f->max)
		return err_field(e, name, "must have at most %lld items (got %zu)", (long long)f->max,
				 json_array_size(v));
	json_array_foreach(v, i, item) {
		snprintf(at, sizeof(at), "%s[%zu]", name, i);
		if (json_is_null(item))
			err_field(e, at, "must not be null");
		else
			validate(f->item, item, at, e);
	}
	return e->code;
}

static int validate_object(const struct field_def *f, const json_t *v, const char *name,
			   struct err *e)
{
	const char *key;
	json_t *member;
	char at[160];

	if (!json_is_object(v))
		return err_field(e, name, "must be an object");
	json_object_foreach((json_t *)v, key, member) {
		const struct field_def *m = NULL;
		for (size_t i = 0; i < f->nmembers && !m; i++)
			if (!strcmp(f->members[i].name, key))
				m = &f->members[i];
		snprintf(at, sizeof(at), "%s.%s", name, key);
		if (!m)
			err_field(e, at, "is not a member of %s", name);
		else
			validate(m, member, at, e);
	}
	for (size_t i = 0; i < f->nmembers; i++) {
		snprintf(at, sizeof(at), "%s.%s", name, f->members[i].name);
		if ((f->members[i].flags & F_REQUIRED) && !json_object_get(v, f->members[i].name))
			err_field(e, at, "is required");
	}
	return e->code;
}

int field_validate(const struct field_def *f, const json_t *v, struct err *e)
{
	return validate(f, v, f->name, e);
}

static int validate(const struct field_def *f, const json_t *v, const char *name, struct err *e)
{
	if (json_is_null(v)) {
		if (f->flags & F_REQUIRED)
			return err_field(e, name, "is required and cannot be null");
		return 0;
	}
	switch (f->type) {
	case FT_TEXT: {
		int64_t max = f->max ? f->max : TEXT_MAX_DEFAULT;
		int64_t min = f->min ? f->min : ((f->flags & F_REQUIRED) ? 1 : 0);
		if (!json_is_string(v))
			return err_field(e, name, "must be a string");
		size_t len = json_string_length(v);
		const char *s = json_string_value(v);
		if ((int64_t)len > max)
			return err_field(e, name, "must be at most %lld bytes long (got %zu)",
					 (long long)max, len);
		if ((int64_t)len < min)
			return err_field(e, name, "must not be empty");
		if (strlen(s) != len || record_has_control(s))
			return err_field(e, name, "must not contain control characters");
		if (len && (s[0] == ' ' || s[len - 1] == ' '))
			return err_field(e, name, "must not begin or end with a space");
		return 0;
	}
	case FT_INT:
		if (!json_is_integer(v))
			return err_field(e, name, "must be an integer");
		if ((f->min || f->max) &&
		    (json_integer_value(v) < f->min || json_integer_value(v) > f->max))
			return err_field(e, name, "must be between %lld and %lld", (long long)f->min,
					 (long long)f->max);
		return 0;
	case FT_DATE:
		if (!json_is_string(v) || !date_valid(json_string_value(v)))
			return err_field(e, name, "must be a calendar date YYYY-MM-DD");
		return 0;
	case FT_ENUM:
		if (json_is_string(v)) {
			/* The first byte sifts long lists (some 250 country codes)
			 * before strcmp: every site written checks one. */
			const char *s = json_string_value(v);
			for (size_t i = 0; f->codes[i]; i++)
				if (f->codes[i][0] == s[0] && !strcmp(f->codes[i], s))
					return 0;
		}
		if (f->hint)
			return err_field(e, name, "must be %s", f->hint);
		{
			struct buf b;
			buf_init(&b, 900);
			record_list_codes(&b, f->codes);
			err_field(e, name, "must be one of: %s", b.ptr);
			buf_release(&b);
		}
		return CTMS_EINVAL;
	case FT_REF:
		if (!json_is_integer(v) || json_integer_value(v) <= 0)
			return err_field(e, name, "must be the id (a positive integer) of a record");
		return 0;
	case FT_BOOL:
		if (!json_is_boolean(v))
			return err_field(e, name, "must be true or false");
		return 0;
	case FT_REAL:
		if (!json_is_number(v))
			return err_field(e, name, "must be a number");
		if ((f->min || f->max) &&
		    (json_number_value(v) < (double)f->min || json_number_value(v) > (double)f->max))
			return err_field(e, name, "must be between %lld and %lld", (long long)f->min,
					 (long long)f->max);
		return 0;
	case FT_LIST:
		return validate_list(f, v, name, e);
	case FT_OBJECT:
		return validate_object(f, v, name, e);
	case FT_TIMEZONE:
		if (!json_is_string(v) || !tz_valid(json_string_value(v)))
			return err_field(e, name, "must be an IANA time zone name such as Europe/Paris");
		return 0;
	}
	return err_field(e, name, "has an unknown type");
}

static int bind_json(struct db_stmt *st, int n, const json_t *v)
{
	if (!v || json_is_null(v))
		return db_bind_null(st, n);
	if (json_is_integer(v))
		return db_bind_int(st, n, json_integer_value(v));
	if (json_is_boolean(v))
		return db_bind_int(st, n, json_is_true(v));
	if (json_is_string(v))
		return db_bind_text(st, n, json_string_value(v));
	if (json_is_real(v)) {
		char text[40];
		snprintf(text, sizeof(text), "%.15g", json_real_value(v));
		return db_bind_text(st, n, text);
	}
	if (json_is_array(v) || json_is_object(v)) {
		char *text = json_canonical(v);
		int rc = db_bind_text(st, n, text);
		free(text);
		return rc;
	}
	return CTMS_EINVAL;
}

void record_put_sql(struct buf *b, ...)
{
	va_list ap;
	const char *s;

	va_start(ap, b);
	while ((s = va_arg(ap, const char *)))
		buf_puts(b, s);
	va_end(ap);
}

/* Appends the placeholder $n. */
static void put_param(struct buf *b, int n)
{
	char text[16];
	int len = (int)sizeof(text);

	text[--len] = '\0';
	do {
		text[--len] = (char)('0' + n % 10);
		n /= 10;
	} while (n && len > 1);
	text[--len] = '$';
	buf_puts(b, text + len);
}

/* Blinded fields are written only by unblinded roles: one who cannot see
 * the arm cannot set it either. input holds the fields given; rec gives
 * the record's scope. */
static int check_blinded(const struct actor *a, const struct entity_def *def, const json_t *input,
			 const json_t *rec, struct err *e)
{
	int64_t study, site;

	for (size_t i = 0; i < def->nfields; i++) {
		const struct field_def *f = &def->fields[i];
		if (!(f->flags & F_BLINDED) || !json_object_get(input, f->name))
			continue;
		access_scope_of(def, rec, &study, &site);
		if (!access_unblinded(a, study, site))
			return err_set(e, CTMS_EFORBIDDEN, "%s may be set only by a role with unblinded access",
				       f->name);
	}
	return 0;
}

static int exists(struct db *db, const char *table, int64_t id, struct err *e)
{
	struct buf sql;
	int64_t one;
	int rc;

	buf_init(&sql, 256);
	record_put_sql(&sql, "SELECT 1 FROM ", table, " WHERE id = $1", NULL);
	rc = db_query_int(db, sql.ptr, &one, 1, id);
	buf_release(&sql);
	if (rc && rc != CTMS_ENOTFOUND)
		return err_set(e, rc, "cannot read %s: %s", table, db_errmsg(db));
	return rc;
}

/* References and uniqueness, for the fields that are new or changed. */
static int check_store_rules(struct db *db, const struct entity_def *def, const json_t *old,
			     const json_t *rec, struct err *e)
{
	for (size_t i = 0; i < def->nfields; i++) {
		const struct field_def *f = &def->fields[i];
		json_t *v = json_object_get(rec, f->name);
		if (!record_is_column(f) || !v || json_is_null(v))
			continue;
		if (old && json_same(json_object_get(old, f->name), v))
			continue;
		/* A reference ctms sets itself (the parent, or an id a prepare hook
		 * read from the store in this transaction) names an existing row;
		 * the store's foreign keys stand behind it all the same. */
		if (f->type == FT_REF && f->ref_table && !(f->flags & F_SERVER)) {
			int rc = exists(db, f->ref_table, json_integer_value(v), e);
			if (rc == CTMS_ENOTFOUND)
				err_field(e, f->name, "names no existing record (id %lld)",
					  (long long)json_integer_value(v));
			else if (rc)
				return rc;
		}
		if (f->flags & F_UNIQUE) {
			struct buf sql;
			struct db_stmt *st;
			int rc;
			buf_init(&sql, 512);
			record_put_sql(&sql, "SELECT id FROM ", def->table, " WHERE ", f->name, " = $1 AND id <> $2",
				NULL);
			if (def->parent_field)
				record_put_sql(&sql, " AND ", def->parent_field, " = $3", NULL);
			rc = db_prepare(db, sql.ptr, &st);
			buf_release(&sql);
			if (rc)
				return err_set(e, rc, "cannot check %s: %s", f->name, db_errmsg(db));
			bind_json(st, 1, v);
			db_bind_int(st, 2, json_int(rec, "id", 0));
			if (def->parent_field)
				bind_json(st, 3, json_object_get(rec, def->parent_field));
			rc = db_step(st);
			if (rc < 0)
				return err_set(e, rc, "cannot check %s: %s", f->name, db_errmsg(db));
			if (rc == 1) {
				/* No id: the other record may be one the actor may
				 * not see (another site's subject). */
				db_done(st);
				err_set(e, CTMS_ECONFLICT, "another %s already has this %s", def->name, f->name);
				err_field(e, f->name, "is already used by another %s%s", def->name,
					  def->parent_field ? " in the same study" : "");
			}
		}
	}
	return e->code;
}

/* Keys of input that the record may not take, and bad values. */
static void validate_input(const struct entity_def *def, const json_t *input, bool creating,
			   struct err *e)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)input, key, v) {
		const struct field_def *f = record_field(def, key);
		if (!creating && !strcmp(key, "change_reason")) {
			if (!json_is_string(v) || json_string_length(v) > 1000)
				err_field(e, key, "must be a string of at most 1000 bytes");
			continue;
		}
		if (!f) {
			err_field(e, key, "is not a field of a %s", def->name);
			continue;
		}
		if (f->flags & F_SERVER) {
			if (def->sm && (!strcmp(key, "status") || strstr(key, "_on")))
				err_field(e, key, "is set by the lifecycle; use the transition action");
			else
				err_field(e, key, "is set by ctms and cannot be given");
			continue;
		}
		if (!creating && (f->flags & (F_IMMUTABLE | F_VIRTUAL))) {
			err_field(e, key, "cannot be changed after creation");
			continue;
		}
		field_validate(f, v, e);
	}
	if (!creating)
		return;
	for (size_t i = 0; i < def->nfields; i++) {
		const struct field_def *f = &def->fields[i];
		if ((f->flags & F_REQUIRED) && !(f->flags & F_SERVER) && !json_object_get(input, f->name))
			err_field(e, f->name, "is required");
	}
}

/* The INSERT text of each (entity, fields present) pair seen, built once:
 * a bulk writer inserts the same few shapes over and over, and building the
 * text each time was a twentieth of its cost. Entries are never freed or
 * replaced, so a text handed out stays valid; when the table is full (API
 * clients may send many shapes), the text is built for the one call. */
#define INSERT_SQL_SLOTS 512

struct insert_sql {
	const struct entity_def *def;
	uint64_t fields; /* bit i: def->fields[i] is present */
	char *sql;
};

static struct insert_sql insert_sql_table[INSERT_SQL_SLOTS];
static int insert_sql_count;
static pthread_mutex_t insert_sql_lock = PTHREAD_MUTEX_INITIALIZER;

static char *build_insert_sql(const struct entity_def *def, const struct field_def *const *present,
			      int n)
{
	struct buf sql;

	buf_init(&sql, RECORD_SQL_MAX);
	record_put_sql(&sql, "INSERT INTO ", def->table, " (version, created_at, updated_at", NULL);
	for (int i = 0; i < n; i++)
		record_put_sql(&sql, ", ", present[i]->name, NULL);
	buf_puts(&sql, ") VALUES (1, $1, $1");
	for (int i = 0; i < n; i++) {
		buf_puts(&sql, ", ");
		put_param(&sql, i + 2);
	}
	buf_puts(&sql, ") RETURNING id");
	return buf_detach(&sql);
}

/* The statement text for these fields of def; *owned is set when the
 * caller must free it (not cached: a table full, or an entity of more than
 * 64 fields). */
static const char *insert_sql(const struct entity_def *def, const struct field_def *const *present,
			      int n, uint64_t fields, char **owned)
{
	const char *sql = NULL;
	size_t h;

	*owned = NULL;
	if (def->nfields > 64)
		return *owned = build_insert_sql(def, present, n);
	h = ((uintptr_t)def >> 4) ^ fields ^ (fields >> 17) ^ (fields >> 37);
	pthread_mutex_lock(&insert_sql_lock);
	for (size_t k = 0; k < INSERT_SQL_SLOTS; k++) {
		struct insert_sql *slot = &insert_sql_table[(h + k) % INSERT_SQL_SLOTS];
		if (!slot->sql) {
			/* Keep a quarter free, so a miss stops soon. */
			if (insert_sql_count < INSERT_SQL_SLOTS * 3 / 4) {
				slot->def = def;
				slot->fields = fields;
				slot->sql = build_insert_sql(def, present, n);
				insert_sql_count++;
				sql = slot->sql;
			}
			break;
		}
		if (slot->def == def && slot->fields == fields) {
			sql = slot->sql;
			break;
		}
	}
	pthread_mutex_unlock(&insert_sql_lock);
	return sql ? sql : (*owned = build_insert_sql(def, present, n));
}

/* Inserts the column fields present in values; adds each to changes. */
static int insert_row(struct db *db, const struct entity_def *def, const json_t *values,
		      int64_t *id, json_t *changes, struct err *e)
{
	const struct field_def *present[64];
	struct db_stmt *st;
	uint64_t fields = 0;
	char *owned;
	int rc, n = 0;

	for (size_t i = 0; i < def->nfields && n < (int)NELEMS(present); i++) {
		const struct field_def *f = &def->fields[i];
		json_t *v = json_object_get(values, f->name);
		if (record_is_column(f) && v && !json_is_null(v)) {
			present[n++] = f;
			if (i < 64)
				fields |= (uint64_t)1 << i;
			audit_change(changes, f->name, NULL, v);
		}
	}
	rc = db_prepare(db, insert_sql(def, present, n, fields, &owned), &st);
	free(owned);
	if (rc)
		return err_set(e, rc, "cannot write %s: %s", def->name, db_errmsg(db));
	db_bind_int(st, 1, now_us());
	for (int i = 0; i < n; i++)
		bind_json(st, i + 2, json_object_get(values, present[i]->name));
	rc = db_step(st);
	if (rc == 1) {
		*id = db_column_int(st, 0);
		db_done(st);
		return 0;
	}
	return err_set(e, rc < 0 ? rc : CTMS_EDB, "cannot write %s: %s", def->name, db_errmsg(db));
}

/* Ends a write begun with db_begin: on success commits and reads the record
 * back into *out (unless out is NULL); on failure rolls back. Returns the
 * final result. */
int record_finish_write(struct db *db, const struct actor *a, const struct entity_def *def,
			int64_t id, int rc, json_t **out, struct err *e)
{
	if (rc) {
		db_rollback(db);
		return rc;
	}
	rc = db_commit(db);
	if (rc)
		return err_set(e, rc, "cannot commit %s: %s", def->name, db_errmsg(db));
	return out ? record_get(db, a, def, id, out, e) : 0;
}

int record_parent_exists(struct db *db, const struct actor *a, const struct entity_def *def,
			 int64_t parent_id, struct err *e)
{
	json_t *parent = NULL;
	int rc;

	if (a->system || !def->parent_def) {
		rc = exists(db, def->parent_table, parent_id, e);
	} else {
		/* A parent the actor may not see does not exist for it. */
		rc = record_load(db, def->parent_def, parent_id, &parent, e);
		if (!rc && access_read(a, def->parent_def, parent, e))
			rc = CTMS_ENOTFOUND;
		json_decref(parent);
	}
	if (rc == CTMS_ENOTFOUND) {
		e->code = CTMS_OK;
		e->detail[0] = '\0';
		err_set(e, CTMS_ENOTFOUND, "%.*s %lld was not found",
			(int)(strlen(def->parent_field) - 3), def->parent_field, (long long)parent_id);
	}
	return rc;
}

/* Creates the record; *id receives its id (0 on failure). reason goes with
 * the creation's audit event. */
static int create(struct db *db, const struct actor *a, const struct entity_def *def,
		  int64_t parent_id, const json_t *input, const char *reason, int64_t *id,
		  struct err *e)
{
	json_t *values = NULL, *changes = NULL;
	int rc;

	*id = 0;
	if (!json_is_object(input))
		return err_set(e, CTMS_EBADREQ, "the body must be a JSON object");
	validate_input(def, input, true, e);
	if (e->code)
		return e->code;
	values = json_deep_copy(input);

	rc = db_begin(db);
	if (rc) {
		err_set(e, rc, "the store is busy; try again");
		goto done;
	}
	if (def->parent_field) {
		if ((rc = record_parent_exists(db, a, def, parent_id, e)))
			goto finish;
		json_object_set_new(values, def->parent_field, json_integer(parent_id));
	}
	if (def->sm)
		json_object_set_new(values, "status", json_string(def->sm->states[0].name));
	if (def->prepare && (rc = def->prepare(db, a, values, e)))
		goto finish;
	if ((rc = access_write(a, def, ACCESS_CREATE, values, e)) ||
	    (rc = check_blinded(a, def, values, values, e)))
		goto finish;
	if (def->check && (rc = def->check(db, NULL, values, e)))
		goto finish;
	if ((rc = check_store_rules(db, def, NULL, values, e)))
		goto finish;

	changes = json_array();
	rc = insert_row(db, def, values, id, changes, e);
	if (rc)
		goto finish;
	rc = audit_append(db, a, def->name, *id, "create", changes, reason, e);
finish:
	rc = record_finish_write(db, a, def, *id, rc ? rc : e->code, NULL, e);
done:
	json_decref(values);
	json_decref(changes);
	rc = rc ? rc : e->code;
	if (rc)
		*id = 0;
	return rc;
}

int record_create_id(struct db *db, const struct actor *a, const struct entity_def *def,
		     int64_t parent_id, const json_t *input, int64_t *id, struct err *e)
{
	return create(db, a, def, parent_id, input, NULL, id, e);
}

int record_create_noted(struct db *db, const struct actor *a, const struct entity_def *def,
			int64_t parent_id, const json_t *input, const char *reason, json_t **out,
			struct err *e)
{
	int64_t id;
	int rc = create(db, a, def, parent_id, input, reason, &id, e);

	if (out)
		*out = NULL;
	return rc || !out ? rc : record_get(db, a, def, id, out, e);
}

int record_create(struct db *db, const struct actor *a, const struct entity_def *def,
		  int64_t parent_id, const json_t *input, json_t **out, struct err *e)
{
	return record_create_noted(db, a, def, parent_id, input, NULL, out, e);
}

int record_apply(struct db *db, const struct actor *a, const struct entity_def *def,
		 const json_t *old, const json_t *rec, const char *action, const char *reason,
		 struct err *e)
{
	const struct field_def *changed[64];
	json_t *changes = json_array();
	struct buf sql;
	struct db_stmt *st;
	int rc = 0, n = 0;
	int64_t id = json_int(old, "id", 0);

	for (size_t i = 0; i < def->nfields && n < (int)NELEMS(changed); i++) {
		const struct field_def *f = &def->fields[i];
		json_t *ov = json_object_get(old, f->name), *nv = json_object_get(rec, f->name);
		if (record_is_column(f) && nv && !json_same(ov, nv)) {
			changed[n++] = f;
			audit_change(changes, f->name, ov, nv);
		}
	}
	if (n == 0)
		goto done;
	buf_init(&sql, RECORD_SQL_MAX);
	record_put_sql(&sql, "UPDATE ", def->table, " SET version = version + 1, updated_at = $1", NULL);
	for (int i = 0; i < n; i++) {
		record_put_sql(&sql, ", ", changed[i]->name, " = ", NULL);
		put_param(&sql, i + 2);
	}
	buf_puts(&sql, " WHERE id = ");
	put_param(&sql, n + 2);
	buf_puts(&sql, " AND version = ");
	put_param(&sql, n + 3);
	rc = db_prepare(db, sql.ptr, &st);
	buf_release(&sql);
	if (rc) {
		err_set(e, rc, "cannot write %s: %s", def->name, db_errmsg(db));
		goto done;
	}
	db_bind_int(st, 1, now_us());
	for (int i = 0; i < n; i++)
		bind_json(st, i + 2, json_object_get(rec, changed[i]->name));
	db_bind_int(st, n + 2, id);
	db_bind_int(st, n + 3, json_int(old, "version", 0));
	rc = db_step(st);
	if (rc < 0) {
		err_set(e, rc, "cannot write %s: %s", def->name, db_errmsg(db));
		goto done;
	}
	if (db_changes(db) != 1) {
		rc = err_set(e, CTMS_ESTALE, "%s %lld changed while it was being written", def->name,
			     (long long)id);
		goto done;
	}
	rc = audit_append(db, a, def->name, id, action, changes, reason, e);
done:
	json_decref(changes);
	return rc;
}

/* Loads the record to change inside the open transaction and checks If-Match. */
int record_load_for_write(struct db *db, const struct actor *a, const struct entity_def *def,
			  enum access_op op, int64_t id, int64_t if_match, json_t **old, json_t **out,
			  struct err *e)
{
	int rc = record_load(db, def, id, old, e);
	if (rc)
		return rc;
	if ((rc = access_write(a, def, op, *old, e)))
		return rc;
	if (if_match && json_int(*old, "version", 0) != if_match) {
		if (out) {
			*out = json_deep_copy(*old);
			record_decorate(db, a, def, *out);
		}
		return err_set(e, CTMS_ESTALE,
			       "%s %lld is at version %lld, not %lld: it changed since you read it",
			       def->name, (long long)id, (long long)json_int(*old, "version", 0),
			       (long long)if_match);
	}
	return 0;
}

int record_update(struct db *db, const struct actor *a, const struct entity_def *def, int64_t id,
		  int64_t if_match, const json_t *patch, json_t **out, struct err *e)
{
	json_t *old = NULL, *rec = NULL;
	const char *key;
	json_t *v;
	int rc;

	if (out)
		*out = NULL;
	if (!json_is_object(patch))
		return err_set(e, CTMS_EBADREQ, "the body must be a JSON object");
	rc = db_begin(db);
	if (rc)
		return err_set(e, rc, "the store is busy; try again");
	/* Who may change it first: a record out of scope is not found, whatever
	 * the patch says. */
	rc = record_load_for_write(db, a, def, ACCESS_UPDATE, id, if_match, &old, out, e);
	if (rc)
		goto finish;
	validate_input(def, patch, false, e);
	if ((rc = e->code))
		goto finish;
	rec = json_deep_copy(old);
	json_object_foreach((json_t *)patch, key, v) {
		if (strcmp(key, "change_reason"))
			json_object_set(rec, key, v);
	}
	if ((rc = check_blinded(a, def, patch, old, e)))
		goto finish;
	if (def->check && (rc = def->check(db, old, rec, e)))
		goto finish;
	if ((rc = check_store_rules(db, def, old, rec, e)))
		goto finish;
	rc = record_apply(db, a, def, old, rec, "update", json_str(patch, "change_reason"), e);
finish:
	rc = record_finish_write(db, a, def, id, rc, out, e);
	json_decref(old);
	json_decref(rec);
	return rc ? rc : e->code;
}
