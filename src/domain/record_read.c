/* The reading half of the record engine (record.h): records as stored,
 * what an actor is shown of them, lists and look-ups. */
#include "domain/record.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "domain/access.h"
#include "domain/actor.h"
#include "domain/record_internal.h"
#include "domain/signature.h"
#include "util/buf.h"
#include "util/date.h"
#include "util/json.h"

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

static void select_sql(struct buf *b, const struct entity_def *def)
{
	buf_puts(b, "SELECT t.id, t.version");
	for (size_t i = 0; i < def->nfields; i++)
		if (record_is_column(&def->fields[i]))
			record_put_sql(b, ", t.", def->fields[i].name, NULL);
	if (def->join_columns)
		record_put_sql(b, ", ", def->join_columns, NULL);
	record_put_sql(b, ", t.created_at, t.updated_at FROM ", def->table, " t", NULL);
	if (def->join)
		record_put_sql(b, " ", def->join, NULL);
}

/* Loads one record as stored (no derived fields). */
int record_load(struct db *db, const struct entity_def *def, int64_t id, json_t **out,
		struct err *e)
{
	struct buf sql;
	struct db_stmt *st;
	int rc;

	*out = NULL;
	buf_init(&sql, RECORD_SQL_MAX);
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

void record_decorate(struct db *db, const struct actor *a, const struct entity_def *def,
		     json_t *rec)
{
	json_t *one = json_array();

	render(db, def, rec);
	json_array_append(one, rec);
	signature_render(db, def, one);
	json_decref(one);
	present(a, def, rec);
}

int record_get(struct db *db, const struct actor *a, const struct entity_def *def, int64_t id,
	       json_t **out, struct err *e)
{
	int rc = record_load(db, def, id, out, e);
	if (!rc && (rc = access_read(a, def, *out, e))) {
		json_decref(*out);
		*out = NULL;
	}
	if (!rc)
		record_decorate(db, a, def, *out);
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

/* The filters name filter fields of def. */
static int check_filters(const struct entity_def *def, const struct list_query *q, struct err *e)
{
	for (size_t i = 0; i < q->nfilters; i++) {
		const struct field_def *f = record_field(def, q->filters[i].field);
		if (!f || !(f->flags & F_FILTER))
			err_field(e, q->filters[i].field, "is not a filter of %s lists", def->name);
	}
	return e->code;
}

/* " WHERE ..." of a list after its select: the cursor ($1), the parent,
 * the filters and the rows the actor may read, in id order, with the limit
 * as the last parameter. *user_param as access_list_filter sets it. */
static void list_where_sql(struct buf *sql, const struct actor *a, const struct entity_def *def,
			   const struct list_query *q, int *user_param)
{
	int n = 1;

	buf_puts(sql, " WHERE t.id > $1");
	if (def->parent_field && q->parent_id)
		buf_printf(sql, " AND t.%s = $%d", def->parent_field, ++n);
	for (size_t i = 0; i < q->nfilters; i++)
		buf_printf(sql, " AND t.%s = $%d", q->filters[i].field, ++n);
	access_list_filter(a, def, sql, &n, user_param);
	buf_printf(sql, " ORDER BY t.id LIMIT $%d", ++n);
}

/* Binds the parameters of list_where_sql; limit is the LIMIT bound. */
static void list_bind(struct db_stmt *st, const struct actor *a, const struct entity_def *def,
		      const struct list_query *q, int user_param, int limit)
{
	int n = 1;

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
	db_bind_int(st, ++n, limit);
}

/* The statement of a list of def: its columns, or only the id. */
static int list_prepare(struct db *db, const struct actor *a, const struct entity_def *def,
			const struct list_query *q, bool id_only, struct db_stmt **st,
			int *user_param)
{
	struct buf sql;
	int rc;

	buf_init(&sql, RECORD_SQL_MAX);
	if (id_only) {
		record_put_sql(&sql, "SELECT t.id FROM ", def->table, " t", NULL);
		if (def->join)
			record_put_sql(&sql, " ", def->join, NULL);
	} else {
		select_sql(&sql, def);
	}
	list_where_sql(&sql, a, def, q, user_param);
	rc = db_prepare(db, sql.ptr, st);
	buf_release(&sql);
	return rc;
}

int record_list(struct db *db, const struct actor *a, const struct entity_def *def,
		const struct list_query *q, json_t **items, int64_t *next_after, struct err *e)
{
	struct db_stmt *st;
	int limit = q->limit > 0 ? q->limit : 50, rc, count = 0, user_param;

	*items = NULL;
	*next_after = 0;
	if (limit > 1000)
		limit = 1000;
	if ((rc = check_filters(def, q, e)))
		return rc;
	if ((rc = list_prepare(db, a, def, q, false, &st, &user_param)))
		return err_set(e, rc, "cannot list %s: %s", def->table, db_errmsg(db));
	list_bind(st, a, def, q, user_param, limit + 1);
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

int record_find(struct db *db, const struct actor *a, const struct entity_def *def,
		const struct list_filter *filters, size_t nfilters, int64_t *id, struct err *e)
{
	struct list_query q = {.limit = 1, .filters = filters, .nfilters = nfilters};
	struct db_stmt *st;
	int rc, user_param;

	*id = 0;
	if ((rc = check_filters(def, &q, e)))
		return rc;
	if ((rc = list_prepare(db, a, def, &q, true, &st, &user_param)))
		return err_set(e, rc, "cannot read %s: %s", def->table, db_errmsg(db));
	list_bind(st, a, def, &q, user_param, 1);
	rc = db_step(st);
	if (rc == 1) {
		*id = db_column_int(st, 0);
		db_done(st);
		return 0;
	}
	return rc < 0 ? err_set(e, rc, "cannot read %s: %s", def->table, db_errmsg(db)) : 0;
}

int record_read(struct db *db, const struct actor *a, const struct entity_def *def, int64_t id,
		json_t **out, struct err *e)
{
	int rc = record_load(db, def, id, out, e);

	if (!rc && (rc = access_read(a, def, *out, e))) {
		json_decref(*out);
		*out = NULL;
	}
	if (!rc)
		present(a, def, *out);
	return rc;
}

int record_list_all(struct db *db, const struct actor *a, const struct entity_def *def,
		    int64_t parent_id, json_t **out, struct err *e)
{
	struct list_query q = {.parent_id = parent_id, .limit = 1000};
	json_t *items;
	int64_t next = 0;
	int rc;

	*out = json_array();
	do {
		q.after_id = next;
		if ((rc = record_list(db, a, def, &q, &items, &next, e)))
			return rc;
		json_array_extend(*out, items);
		json_decref(items);
	} while (next);
	return 0;
}

int record_index(struct db *db, const struct actor *a, const struct entity_def *def,
		 int64_t parent_id, const char *key_field, json_t **out, struct err *e)
{
	json_t *all, *rec;
	size_t i;
	int rc = record_list_all(db, a, def, parent_id, &all, e);

	*out = json_object();
	json_array_foreach(all, i, rec)
		if (json_str(rec, key_field))
			json_object_set(*out, json_str(rec, key_field), rec);
	json_decref(all);
	return rc;
}
