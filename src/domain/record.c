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
#include "domain/signature.h"
#include "util/buf.h"
#include "util/date.h"
#include "util/json.h"

#define SQL_MAX (64 * 1024)
#define TEXT_MAX_DEFAULT 2000

const struct field_def *record_field(const struct entity_def *def, const char *name)
{
	for (size_t i = 0; i < def->nfields; i++)
		if (!strcmp(def->fields[i].name, name))
			return &def->fields[i];
	return NULL;
}

static const struct state_def *state_find(const struct state_machine *sm, const char *name)
{
	for (size_t i = 0; name && i < sm->nstates; i++)
		if (!strcmp(sm->states[i].name, name))
			return &sm->states[i];
	return NULL;
}

static bool is_column(const struct field_def *f)
{
	return !(f->flags & F_VIRTUAL);
}

static void list_codes(struct buf *b, const char *const *codes)
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
static bool has_control(const char *s)
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
		if (strlen(s) != len || has_control(s))
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
			for (size_t i = 0; f->codes[i]; i++)
				if (!strcmp(f->codes[i], json_string_value(v)))
					return 0;
		}
		if (f->hint)
			return err_field(e, name, "must be %s", f->hint);
		{
			struct buf b;
			buf_init(&b, 900);
			list_codes(&b, f->codes);
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

static json_t *column_json(const struct entity_def *def, struct db_stmt *st, int i)
{
	const char *name = db_column_name(st, i);
	const struct field_def *f = record_field(def, name);

	switch (db_column_type(st, i)) {
	case DB_NULL:
		return json_null();
	case DB_INT:
		if (f && f->type == FT_BOOL)
			return json_boolean(db_column_int(st, i));
		if (!strcmp(name, "created_at") || !strcmp(name, "updated_at")) {
			char ts[TIMESTAMP_LEN];
			timestamp_format(db_column_int(st, i), ts);
			return json_string(ts);
		}
		return json_integer(db_column_int(st, i));
	case DB_REAL:
	case DB_TEXT:
		break;
	}
	if (f && (f->type == FT_INT || f->type == FT_REF))
		return json_integer(strtoll(db_column_text(st, i), NULL, 10));
	if (f && f->type == FT_REAL)
		return json_real(strtod(db_column_text(st, i), NULL));
	if (f && (f->type == FT_LIST || f->type == FT_OBJECT)) {
		json_t *v = json_loads(db_column_text(st, i), JSON_DECODE_ANY, NULL);
		return v ? v : json_null();
	}
	return json_string(db_column_text(st, i));
}

static json_t *row_json(const struct entity_def *def, struct db_stmt *st)
{
	json_t *rec = json_object();
	int n = db_column_count(st);
	for (int i = 0; i < n; i++)
		json_object_set_new(rec, db_column_name(st, i), column_json(def, st, i));
	return rec;
}

/* Statements are put together from the names in the field tables on every
 * write, so by appending strings rather than through printf: this appends
 * each string up to a NULL. */
static void put_sql(struct buf *b, ...)
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

static void select_sql(struct buf *b, const struct entity_def *def)
{
	buf_puts(b, "SELECT t.id, t.version");
	for (size_t i = 0; i < def->nfields; i++)
		if (is_column(&def->fields[i]))
			put_sql(b, ", t.", def->fields[i].name, NULL);
	if (def->join_columns)
		put_sql(b, ", ", def->join_columns, NULL);
	put_sql(b, ", t.created_at, t.updated_at FROM ", def->table, " t", NULL);
	if (def->join)
		put_sql(b, " ", def->join, NULL);
}

/* Loads one record as stored (no derived fields). */
static int load(struct db *db, const struct entity_def *def, int64_t id, json_t **out,
		struct err *e)
{
	struct buf sql;
	struct db_stmt *st;
	int rc;

	*out = NULL;
	buf_init(&sql, SQL_MAX);
	select_sql(&sql, def);
	buf_puts(&sql, " WHERE t.id = $1");
	rc = db_prepare(db, sql.ptr, &st);
	buf_release(&sql);
	if (rc)
		return err_set(e, rc, "cannot read %s: %s", def->name, db_errmsg(db));
	db_bind_int(st, 1, id);
	rc = db_step(st);
	if (rc == 1) {
		*out = row_json(def, st);
		db_done(st);
		return 0;
	}
	if (rc == 0)
		return err_set(e, CTMS_ENOTFOUND, "%s %lld was not found", def->name, (long long)id);
	return err_set(e, rc, "cannot read %s: %s", def->name, db_errmsg(db));
}

static void render(struct db *db, const struct entity_def *def, json_t *rec)
{
	if (def->render)
		def->render(db, rec);
}

/* What the actor is shown: blinded fields only to unblinded roles. */
static void present(const struct actor *a, const struct entity_def *def, json_t *rec)
{
	int64_t study, site;
	bool checked = false, unblinded = false;

	for (size_t i = 0; i < def->nfields; i++) {
		if (!(def->fields[i].flags & F_BLINDED))
			continue;
		if (!checked) {
			access_scope_of(def, rec, &study, &site);
			unblinded = access_unblinded(a, study, site);
			checked = true;
		}
		if (!unblinded)
			json_object_del(rec, def->fields[i].name);
	}
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

int record_get(struct db *db, const struct actor *a, const struct entity_def *def, int64_t id,
	       json_t **out, struct err *e)
{
	int rc = load(db, def, id, out, e);
	if (!rc && (rc = access_read(a, def, *out, e))) {
		json_decref(*out);
		*out = NULL;
	}
	if (!rc) {
		json_t *one = json_array();
		render(db, def, *out);
		json_array_append(one, *out);
		signature_render(db, def, one);
		json_decref(one);
		present(a, def, *out);
	}
	return rc;
}

int record_get_child(struct db *db, const struct actor *a, const struct entity_def *def,
		     int64_t parent_id, int64_t id, json_t **out, struct err *e)
{
	int rc = record_get(db, a, def, id, out, e);
	if (!rc && def->parent_field && json_int(*out, def->parent_field, 0) != parent_id) {
		json_decref(*out);
		*out = NULL;
		return err_set(e, CTMS_ENOTFOUND, "%s %lld was not found", def->name, (long long)id);
	}
	return rc;
}

static int exists(struct db *db, const char *table, int64_t id, struct err *e)
{
	struct buf sql;
	int64_t one;
	int rc;

	buf_init(&sql, 256);
	put_sql(&sql, "SELECT 1 FROM ", table, " WHERE id = $1", NULL);
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
		if (!is_column(f) || !v || json_is_null(v))
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
			put_sql(&sql, "SELECT id FROM ", def->table, " WHERE ", f->name, " = $1 AND id <> $2",
				NULL);
			if (def->parent_field)
				put_sql(&sql, " AND ", def->parent_field, " = $3", NULL);
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

	buf_init(&sql, SQL_MAX);
	put_sql(&sql, "INSERT INTO ", def->table, " (version, created_at, updated_at", NULL);
	for (int i = 0; i < n; i++)
		put_sql(&sql, ", ", present[i]->name, NULL);
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
		if (is_column(f) && v && !json_is_null(v)) {
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
static int finish_write(struct db *db, const struct actor *a, const struct entity_def *def,
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
		rc = load(db, def->parent_def, parent_id, &parent, e);
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

int record_create(struct db *db, const struct actor *a, const struct entity_def *def,
		  int64_t parent_id, const json_t *input, json_t **out, struct err *e)
{
	return record_create_noted(db, a, def, parent_id, input, NULL, out, e);
}

int record_create_noted(struct db *db, const struct actor *a, const struct entity_def *def,
			int64_t parent_id, const json_t *input, const char *reason, json_t **out,
			struct err *e)
{
	json_t *values = NULL, *changes = NULL;
	int64_t id = 0;
	int rc;

	if (out)
		*out = NULL;
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
	rc = insert_row(db, def, values, &id, changes, e);
	if (rc)
		goto finish;
	rc = audit_append(db, a, def->name, id, "create", changes, reason, e);
finish:
	rc = finish_write(db, a, def, id, rc ? rc : e->code, out, e);
done:
	json_decref(values);
	json_decref(changes);
	return rc ? rc : e->code;
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
		if (is_column(f) && nv && !json_same(ov, nv)) {
			changed[n++] = f;
			audit_change(changes, f->name, ov, nv);
		}
	}
	if (n == 0)
		goto done;
	buf_init(&sql, SQL_MAX);
	put_sql(&sql, "UPDATE ", def->table, " SET version = version + 1, updated_at = $1", NULL);
	for (int i = 0; i < n; i++) {
		put_sql(&sql, ", ", changed[i]->name, " = ", NULL);
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
static int load_for_write(struct db *db, const struct actor *a, const struct entity_def *def,
			  enum access_op op, int64_t id, int64_t if_match, json_t **old, json_t **out,
			  struct err *e)
{
	int rc = load(db, def, id, old, e);
	if (rc)
		return rc;
	if ((rc = access_write(a, def, op, *old, e)))
		return rc;
	if (if_match && json_int(*old, "version", 0) != if_match) {
		if (out) {
			json_t *one = json_array();
			*out = json_deep_copy(*old);
			render(db, def, *out);
			json_array_append(one, *out);
			signature_render(db, def, one);
			json_decref(one);
			present(a, def, *out);
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
	rc = load_for_write(db, a, def, ACCESS_UPDATE, id, if_match, &old, out, e);
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
	rc = finish_write(db, a, def, id, rc, out, e);
	json_decref(old);
	json_decref(rec);
	return rc ? rc : e->code;
}

static int check_transition_input(const struct entity_def *def, const struct transition *t,
				  struct err *e)
{
	int32_t on;

	if (!def->sm)
		return err_set(e, CTMS_EINVAL, "a %s has no lifecycle", def->name);
	if (!t->to || !state_find(def->sm, t->to)) {
		struct buf b;
		buf_init(&b, 400);
		for (size_t i = 0; i < def->sm->nstates; i++)
			buf_printf(&b, "%s%s", i ? ", " : "", def->sm->states[i].name);
		err_field(e, "to", "must be one of the %s states: %s", def->name, b.ptr);
		buf_release(&b);
	}
	if (!t->on)
		err_field(e, "on", "is required: the date of the step, YYYY-MM-DD");
	else if (date_parse(t->on, &on))
		err_field(e, "on", "must be a calendar date YYYY-MM-DD");
	else if (on > date_latest_today())
		err_field(e, "on", "is in the future; record a step when it has happened");
	if (t->reason && (strlen(t->reason) > 1000 || has_control(t->reason)))
		err_field(e, "reason", "must be at most 1000 bytes of text");
	return e->code;
}

/* The step's date may not precede any date already on the lifecycle. */
static int check_date_order(const struct entity_def *def, const json_t *old, const char *on,
			    struct err *e)
{
	for (size_t i = 0; i < def->sm->nstates; i++) {
		char field[64];
		const char *d, *name = def->sm->states[i].name;
		size_t len = strlen(name);
		if (len + sizeof("_on") > sizeof(field))
			continue;
		memcpy(field, name, len);
		memcpy(field + len, "_on", sizeof("_on"));
		d = json_str(old, field);
		if (d && strcmp(on, d) < 0)
			return err_field(e, "on", "is before the %s's %s date %s", def->name,
					 def->sm->states[i].name, d);
	}
	return 0;
}

int record_transition(struct db *db, const struct actor *a, const struct entity_def *def,
		      int64_t id, int64_t if_match, const struct transition *t, json_t **out,
		      struct err *e)
{
	json_t *old = NULL, *rec = NULL;
	const struct state_def *from, *to;
	char field[64];
	bool allowed = false;
	int rc;

	if (out)
		*out = NULL;
	if ((rc = check_transition_input(def, t, e)))
		return rc;
	rc = db_begin(db);
	if (rc)
		return err_set(e, rc, "the store is busy; try again");
	rc = load_for_write(db, a, def, ACCESS_TRANSITION, id, if_match, &old, out, e);
	if (rc)
		goto finish;
	from = state_find(def->sm, json_str(old, "status"));
	to = state_find(def->sm, t->to);
	for (size_t i = 0; from && from->next && from->next[i]; i++)
		allowed |= !strcmp(from->next[i], to->name);
	if (!allowed) {
		struct buf b;
		buf_init(&b, 400);
		list_codes(&b, from ? from->next : NULL);
		rc = err_set(e, CTMS_ESTATE, "a %s cannot move from %s to %s; from %s it can move to: %s",
			     def->name, from ? from->name : "?", to->name, from ? from->name : "?", b.ptr);
		buf_release(&b);
		goto finish;
	}
	if (to->reason_required && (!t->reason || !t->reason[0])) {
		rc = err_field(e, "reason", "is required to move a %s to %s", def->name, to->name);
		goto finish;
	}
	if ((rc = check_date_order(def, old, t->on, e)))
		goto finish;
	rec = json_deep_copy(old);
	json_object_set_new(rec, "status", json_string(to->name));
	snprintf(field, sizeof(field), "%s_on", to->name);
	if (record_field(def, field))
		json_object_set_new(rec, field, json_string(t->on));
	if (record_field(def, "status_reason"))
		json_object_set_new(rec, "status_reason", t->reason ? json_string(t->reason) : json_null());
	if (to->reason_field)
		json_object_set_new(rec, to->reason_field, json_string(t->reason));
	if (def->on_transition && (rc = def->on_transition(db, a, old, rec, e)))
		goto finish;
	rc = record_apply(db, a, def, old, rec, "transition", t->reason, e);
finish:
	rc = finish_write(db, a, def, id, rc, out, e);
	json_decref(old);
	json_decref(rec);
	return rc ? rc : e->code;
}

int record_list(struct db *db, const struct actor *a, const struct entity_def *def,
		const struct list_query *q, json_t **items, int64_t *next_after, struct err *e)
{
	struct buf sql;
	struct db_stmt *st;
	int limit = q->limit > 0 ? q->limit : 50, n = 1, rc, count = 0, user_param;

	*items = NULL;
	*next_after = 0;
	if (limit > 1000)
		limit = 1000;
	for (size_t i = 0; i < q->nfilters; i++) {
		const struct field_def *f = record_field(def, q->filters[i].field);
		if (!f || !(f->flags & F_FILTER))
			err_field(e, q->filters[i].field, "is not a filter of %s lists", def->name);
	}
	if (e->code)
		return e->code;
	buf_init(&sql, SQL_MAX);
	select_sql(&sql, def);
	buf_puts(&sql, " WHERE t.id > $1");
	if (def->parent_field && q->parent_id)
		buf_printf(&sql, " AND t.%s = $%d", def->parent_field, ++n);
	for (size_t i = 0; i < q->nfilters; i++)
		buf_printf(&sql, " AND t.%s = $%d", q->filters[i].field, ++n);
	access_list_filter(a, def, &sql, &n, &user_param);
	buf_printf(&sql, " ORDER BY t.id LIMIT $%d", ++n);
	rc = db_prepare(db, sql.ptr, &st);
	buf_release(&sql);
	if (rc)
		return err_set(e, rc, "cannot list %s: %s", def->table, db_errmsg(db));
	n = 1;
	db_bind_int(st, n, q->after_id);
	if (def->parent_field && q->parent_id)
		db_bind_int(st, ++n, q->parent_id);
	for (size_t i = 0; i < q->nfilters; i++) {
		const struct field_def *f = record_field(def, q->filters[i].field);
		if (f->type == FT_INT || f->type == FT_REF || f->type == FT_BOOL) {
			char *end;
			long long v = strtoll(q->filters[i].value, &end, 10);
			if (*end || end == q->filters[i].value)
				v = -1; /* matches nothing, as a text id would */
			db_bind_int(st, ++n, v);
		} else {
			db_bind_text(st, ++n, q->filters[i].value);
		}
	}
	if (user_param)
		db_bind_int(st, ++n, a->id);
	db_bind_int(st, ++n, limit + 1);
	*items = json_array();
	while ((rc = db_step(st)) == 1) {
		if (++count > limit) {
			db_done(st);
			break;
		}
		json_t *rec = row_json(def, st);
		*next_after = json_int(rec, "id", 0);
		json_array_append_new(*items, rec);
	}
	if (rc < 0) {
		json_decref(*items);
		*items = NULL;
		return err_set(e, rc, "cannot list %s: %s", def->table, db_errmsg(db));
	}
	if (count <= limit)
		*next_after = 0;
	for (size_t i = 0; i < json_array_size(*items); i++)
		render(db, def, json_array_get(*items, i));
	signature_render(db, def, *items);
	for (size_t i = 0; i < json_array_size(*items); i++)
		present(a, def, json_array_get(*items, i));
	return 0;
}
