#include "io/csv.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

void export_table_init(struct export_table *t)
{
	t->columns = json_array();
	t->rows = json_array();
}

void export_table_release(struct export_table *t)
{
	json_decref(t->columns);
	json_decref(t->rows);
	t->columns = t->rows = NULL;
}

/* The column index of name, added at the end when new. */
static size_t column_of(json_t *columns, json_t *index, const char *name)
{
	json_t *at = json_object_get(index, name);

	if (at)
		return (size_t)json_integer_value(at);
	json_array_append_new(columns, json_string(name));
	json_object_set_new(index, name, json_integer((json_int_t)json_array_size(columns) - 1));
	return json_array_size(columns) - 1;
}

static json_t *cell_of(const json_t *v)
{
	if (json_is_array(v)) {
		char *text = json_dumps(v, JSON_COMPACT);
		json_t *cell = json_string(text ? text : "");
		free(text);
		return cell;
	}
	return json_incref((json_t *)v);
}

/* Collects the cells of obj into row (an object keyed by column), nested
 * objects under prefix "outer.". */
static void flatten(json_t *columns, json_t *index, json_t *row, const json_t *obj,
		    const char *prefix)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		struct buf name;
		buf_init(&name, 4096);
		buf_printf(&name, "%s%s", prefix, key);
		if (json_is_object(v)) {
			buf_putc(&name, '.');
			flatten(columns, index, row, v, name.ptr);
		} else {
			column_of(columns, index, name.ptr);
			json_object_set_new(row, name.ptr, cell_of(v));
		}
		buf_release(&name);
	}
}

void export_table_from_items(struct export_table *t, const json_t *items)
{
	json_t *index = json_object(), *flat = json_array(), *item, *row;
	size_t i, j;

	json_array_foreach(items, i, item) {
		row = json_object();
		if (json_is_object(item))
			flatten(t->columns, index, row, item, "");
		json_array_append_new(flat, row);
	}
	json_array_foreach(flat, i, row) {
		json_t *cells = json_array(), *name;
		json_array_foreach(t->columns, j, name) {
			json_t *v = json_object_get(row, json_string_value(name));
			json_array_append(cells, v ? v : json_null());
		}
		json_array_append_new(t->rows, cells);
	}
	json_decref(flat);
	json_decref(index);
}

/* Characters a spreadsheet may take as the start of a formula. */
static bool formula_start(char c)
{
	return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r';
}

static int put_text(struct buf *out, const char *s, size_t len, bool guard)
{
	bool quote = guard || strpbrk(s, "\",\r\n") != NULL;
	int rc = 0;

	if (quote)
		rc |= buf_putc(out, '"');
	if (guard)
		rc |= buf_putc(out, '\'');
	for (size_t i = 0; i < len && !rc; i++) {
		if (s[i] == '"')
			rc |= buf_putc(out, '"');
		rc |= buf_putc(out, s[i]);
	}
	if (quote)
		rc |= buf_putc(out, '"');
	return rc ? CTMS_ETOOBIG : 0;
}

static int put_cell(struct buf *out, const json_t *v)
{
	const char *s;

	switch (json_typeof(v)) {
	case JSON_STRING:
		s = json_string_value(v);
		return put_text(out, s, json_string_length(v), s[0] && formula_start(s[0]));
	case JSON_INTEGER:
		return buf_printf(out, "%lld", (long long)json_integer_value(v));
	case JSON_REAL:
		return buf_printf(out, "%.15g", json_real_value(v));
	case JSON_TRUE:
		return buf_puts(out, "true");
	case JSON_FALSE:
		return buf_puts(out, "false");
	default:
		return 0;
	}
}

static int put_row(struct buf *out, const json_t *cells)
{
	json_t *v;
	size_t i;
	int rc = 0;

	json_array_foreach(cells, i, v) {
		if (i && (rc = buf_putc(out, ',')))
			return rc;
		if ((rc = put_cell(out, v)))
			return rc;
	}
	return buf_puts(out, "\r\n");
}

int csv_write(const struct export_table *t, struct buf *out)
{
	json_t *row;
	size_t i;
	int rc = put_row(out, t->columns);

	json_array_foreach(t->rows, i, row) {
		if (rc)
			break;
		rc = put_row(out, row);
	}
	return rc ? CTMS_ETOOBIG : 0;
}
