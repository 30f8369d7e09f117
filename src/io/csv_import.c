#include "io/csv_import.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db/db.h"
#include "domain/record.h"
#include "domain/study_site.h"
#include "domain/subject.h"
#include "io/csv_read.h"
#include "util/buf.h"
#include "util/json.h"

/* Rows reported before the import gives up listing more. */
#define MAX_ERRORS 1000

void csv_import_report_init(struct csv_import_report *r)
{
	memset(r, 0, sizeof(*r));
	r->errors = json_array();
}

void csv_import_report_release(struct csv_import_report *r)
{
	json_decref(r->errors);
	r->errors = NULL;
}

int csv_import_kind_parse(const char *name, enum csv_import_kind *out)
{
	if (name && !strcmp(name, "sites"))
		*out = CSV_IMPORT_SITES;
	else if (name && !strcmp(name, "subjects"))
		*out = CSV_IMPORT_SUBJECTS;
	else
		return CTMS_EINVAL;
	return 0;
}

const char *csv_import_kind_name(enum csv_import_kind kind)
{
	return kind == CSV_IMPORT_SITES ? "sites" : "subjects";
}

const struct entity_def *csv_import_def(enum csv_import_kind kind)
{
	return kind == CSV_IMPORT_SITES ? &study_site_def : &subject_def;
}

/* The fields a row may set: those the API takes at creation. */
static bool is_column(const struct field_def *f)
{
	return !(f->flags & F_SERVER);
}

char *csv_import_template(enum csv_import_kind kind)
{
	const struct entity_def *def = csv_import_def(kind);
	struct buf b;
	int n = 0;

	buf_init(&b, 4096);
	for (size_t i = 0; i < def->nfields; i++)
		if (is_column(&def->fields[i]))
			buf_printf(&b, "%s%s", n++ ? "," : "", def->fields[i].name);
	buf_puts(&b, "\r\n");
	return buf_detach(&b);
}

static void add_error(struct csv_import_report *r, size_t line, const char *field,
		      const char *message)
{
	json_t *item;

	if (json_array_size(r->errors) == MAX_ERRORS) {
		item = json_pack("{s:I, s:s}", "line", (json_int_t)line, "message",
				 "more rows are bad; only the first ones are listed");
	} else if (json_array_size(r->errors) > MAX_ERRORS) {
		return;
	} else {
		item = json_pack("{s:I, s:s}", "line", (json_int_t)line, "message", message);
		if (field)
			json_object_set_new(item, "field", json_string(field));
	}
	json_array_append_new(r->errors, item);
}

/* Whether the errors listed have reached their bound (the last one says
 * more rows are bad). */
static bool errors_full(const struct csv_import_report *r)
{
	return json_array_size(r->errors) > MAX_ERRORS;
}

/* The messages of a domain error, on line. */
static void add_domain_error(struct csv_import_report *r, size_t line, const struct err *e)
{
	size_t i;
	json_t *f;

	json_array_foreach(e->fields, i, f)
		add_error(r, line, json_str(f, "field"), json_str(f, "message"));
	/* The fields say it; a detail alone says what is wrong with the row. */
	if (!json_array_size(e->fields))
		add_error(r, line, NULL, e->detail[0] ? e->detail : err_name(e->code));
}

/* The header's columns as fields of def (NULL for an unknown one);
 * reports unknown, repeated and missing required columns. */
static void check_header(const struct csv_table *t, const struct entity_def *def,
			 const struct field_def **columns, struct csv_import_report *r)
{
	char message[1200];
	struct buf known;

	buf_init(&known, 1000);
	for (size_t i = 0; i < def->nfields; i++)
		if (is_column(&def->fields[i]))
			buf_printf(&known, "%s%s", known.len ? ", " : "", def->fields[i].name);
	for (size_t c = 0; c < t->ncolumns; c++) {
		const struct field_def *f = record_field(def, t->header[c]);
		columns[c] = f && is_column(f) ? f : NULL;
		if (!columns[c]) {
			snprintf(message, sizeof(message), "column '%.100s' is not a field of a %s (%s)",
				 t->header[c], def->name, known.ptr);
			add_error(r, 1, t->header[c], message);
		}
		for (size_t d = 0; d < c; d++)
			if (!strcmp(t->header[c], t->header[d]))
				add_error(r, 1, t->header[c], "column is given twice");
	}
	for (size_t i = 0; i < def->nfields; i++) {
		const struct field_def *f = &def->fields[i];
		bool present = false;
		if (!(f->flags & F_REQUIRED) || !is_column(f))
			continue;
		for (size_t c = 0; c < t->ncolumns; c++)
			present |= columns[c] == f;
		if (!present) {
			snprintf(message, sizeof(message), "the required column '%s' is missing", f->name);
			add_error(r, 1, f->name, message);
		}
	}
	buf_release(&known);
}

/* A cell as the JSON value of field f; NULL with why set when it is not. */
static json_t *cell_json(const struct field_def *f, const char *text, const char **why)
{
	char *end;
	long long v;

	*why = NULL;
	switch (f->type) {
	case FT_INT:
	case FT_REF:
		errno = 0;
		v = strtoll(text, &end, 10);
		if (errno || *end || end == text) {
			*why = "must be an integer";
			return NULL;
		}
		return json_integer(v);
	case FT_REAL: {
		errno = 0;
		double d = strtod(text, &end);
		if (errno || *end || end == text) {
			*why = "must be a number";
			return NULL;
		}
		return json_real(d);
	}
	case FT_BOOL:
		if (!strcasecmp(text, "true") || !strcmp(text, "1") || !strcasecmp(text, "yes"))
			return json_true();
		if (!strcasecmp(text, "false") || !strcmp(text, "0") || !strcasecmp(text, "no"))
			return json_false();
		*why = "must be true or false";
		return NULL;
	default:
		break;
	}
	json_t *s = json_string(text);
	if (!s)
		*why = "is not valid UTF-8";
	return s;
}

/* The record input of row; NULL when a cell is bad (reported). */
static json_t *row_input(const struct csv_table *t, size_t row,
			 const struct field_def *const *columns, struct csv_import_report *r)
{
	json_t *in = json_object();
	bool bad = false;

	if (t->widths[row] != t->ncolumns) {
		char message[128];
		snprintf(message, sizeof(message), "the row has %zu fields; the header has %zu",
			 t->widths[row], t->ncolumns);
		add_error(r, t->lines[row], NULL, message);
		json_decref(in);
		return NULL;
	}
	for (size_t c = 0; c < t->ncolumns; c++) {
		const char *text = csv_cell(t, row, (int)c), *why;
		json_t *v;
		struct err e;
		if (!text[0] || !columns[c])
			continue;
		if (!(v = cell_json(columns[c], text, &why))) {
			add_error(r, t->lines[row], columns[c]->name, why);
			bad = true;
			continue;
		}
		err_init(&e);
		if (field_validate(columns[c], v, &e)) {
			add_domain_error(r, t->lines[row], &e);
			bad = true;
		}
		err_release(&e);
		json_object_set_new(in, columns[c]->name, v);
	}
	if (bad) {
		json_decref(in);
		return NULL;
	}
	return in;
}

/* Unique keys given twice in the file: the second is reported. */
static void check_duplicates(const struct csv_table *t, const struct entity_def *def,
			     json_t *inputs, struct csv_import_report *r)
{
	for (size_t i = 0; i < def->nfields; i++) {
		const struct field_def *f = &def->fields[i];
		json_t *seen, *in;
		size_t row;
		if (!(f->flags & F_UNIQUE) || !is_column(f))
			continue;
		seen = json_object();
		json_array_foreach(inputs, row, in) {
			const char *key = json_is_object(in) ? json_str(in, f->name) : NULL;
			char message[200];
			if (!key)
				continue;
			if (json_object_get(seen, key)) {
				snprintf(message, sizeof(message), "is given again: line %lld has it too",
					 (long long)json_integer_value(json_object_get(seen, key)));
				add_error(r, t->lines[row], f->name, message);
				continue;
			}
			json_object_set_new(seen, key, json_integer((json_int_t)t->lines[row]));
		}
		json_decref(seen);
	}
}

static int by_line(const void *x, const void *y)
{
	const json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
	int64_t la = json_int(a, "line", 0), lb = json_int(b, "line", 0);
	return (la > lb) - (la < lb);
}

/* Errors in line order; those of one line in the order found. */
static void sort_by_line(json_t *errors)
{
	size_t n = json_array_size(errors);
	json_t **items = calloc(n ? n : 1, sizeof(*items));

	if (!items)
		abort();
	for (size_t i = 0; i < n; i++)
		items[i] = json_incref(json_array_get(errors, i));
	/* Stable: equal lines keep their order, by insertion. */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && by_line(&items[j - 1], &items[j]) > 0; j--) {
			json_t *tmp = items[j];
			items[j] = items[j - 1];
			items[j - 1] = tmp;
		}
	json_array_clear(errors);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(errors, items[i]);
	free(items);
}

/* Creates rows from..n-1 one by one in transactions rolled back: the
 * errors of each against the store as it stands. */
static int try_rows(struct db *db, const struct actor *a, int64_t study_id,
		    const struct entity_def *def, const struct csv_table *t, json_t *inputs,
		    size_t from, struct csv_import_report *r, struct err *e)
{
	for (size_t row = from; row < json_array_size(inputs); row++) {
		struct err one;
		int rc;
		if (!json_is_object(json_array_get(inputs, row)))
			continue; /* its cells are bad: reported already */
		rc = db_begin(db);
		if (rc)
			return err_set(e, rc, "the store is busy");
		err_init(&one);
		if (record_create(db, a, def, study_id, json_array_get(inputs, row), NULL, &one))
			add_domain_error(r, t->lines[row], &one);
		err_release(&one);
		db_rollback(db);
	}
	return 0;
}

/* All rows in one transaction; on the first refusal, the rest are tried
 * alone so that every bad row is reported. */
static int write_rows(struct db *db, const struct actor *a, int64_t study_id,
		      const struct entity_def *def, const struct csv_table *t, json_t *inputs,
		      struct csv_import_report *r, struct err *e)
{
	size_t row;
	int rc = db_begin(db);

	if (rc)
		return err_set(e, rc, "the store is busy");
	for (row = 0; row < json_array_size(inputs); row++) {
		struct err one;
		err_init(&one);
		rc = record_create(db, a, def, study_id, json_array_get(inputs, row), NULL, &one);
		if (rc) {
			add_domain_error(r, t->lines[row], &one);
			err_release(&one);
			break;
		}
		err_release(&one);
	}
	if (!rc) {
		if ((rc = db_commit(db)))
			return err_set(e, rc, "cannot commit the import: %s", db_errmsg(db));
		r->created = (int64_t)json_array_size(inputs);
		return 0;
	}
	db_rollback(db);
	return try_rows(db, a, study_id, def, t, inputs, row + 1, r, e);
}

int csv_import(struct db *db, const struct actor *a, int64_t study_id, enum csv_import_kind kind,
	       const char *name, const char *data, size_t len, struct csv_import_report *r,
	       struct err *e)
{
	const struct entity_def *def = csv_import_def(kind);
	const struct field_def **columns = NULL;
	json_t *inputs = json_array();
	struct csv_table t;
	struct err parse;
	int rc = 0;

	err_init(&parse);
	if (csv_parse(data, len, name, false, &t, &parse)) {
		add_error(r, 1, NULL, parse.detail);
		goto done;
	}
	r->rows = (int64_t)t.nrows;
	columns = calloc(t.ncolumns ? t.ncolumns : 1, sizeof(*columns));
	if (!columns)
		abort();
	check_header(&t, def, columns, r);
	if (json_array_size(r->errors))
		goto done;
	if (!t.nrows)
		add_error(r, 2, NULL, "the file has a header but no rows");
	for (size_t row = 0; row < t.nrows && !errors_full(r); row++) {
		json_t *in = row_input(&t, row, columns, r);
		/* A bad row keeps its place (null), so rows and lines stay aligned. */
		json_array_append_new(inputs, in ? in : json_null());
	}
	/* Past the listed errors nothing more is checked: the file is refused
	 * already, and a huge file of bad rows is refused in bounded memory. */
	if (errors_full(r))
		goto done;
	check_duplicates(&t, def, inputs, r);
	/* With bad cells nothing is written, but the other rows are still
	 * checked against the store, so one run reports every bad row. */
	rc = json_array_size(r->errors) ? try_rows(db, a, study_id, def, &t, inputs, 0, r, e)
					 : write_rows(db, a, study_id, def, &t, inputs, r, e);
	if (rc) {
		json_decref(inputs);
		free(columns);
		csv_release(&t);
		err_release(&parse);
		return rc;
	}
	sort_by_line(r->errors);
done:
	json_decref(inputs);
	free(columns);
	csv_release(&t);
	err_release(&parse);
	if (json_array_size(r->errors)) {
		r->created = 0;
		return err_set(e, CTMS_EINVAL, "%s: %zu errors; nothing was imported", name,
			       json_array_size(r->errors));
	}
	return 0;
}

void csv_import_report_print(FILE *out, const char *name, const struct csv_import_report *r)
{
	size_t i;
	json_t *item;

	fprintf(out, "import %s\nrows: %lld; created: %lld; errors: %zu\n", name, (long long)r->rows,
		(long long)r->created, json_array_size(r->errors));
	json_array_foreach(r->errors, i, item) {
		const char *field = json_str(item, "field");
		fprintf(out, "error line %lld%s%s: %s\n", (long long)json_int(item, "line", 0),
			field ? ": " : "", field ? field : "", json_str(item, "message"));
	}
	if (json_array_size(r->errors))
		fprintf(out, "nothing was imported\n");
}
