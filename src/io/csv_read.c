#include "io/csv_read.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

/* A growable array of pointers or sizes. */
struct list {
	void **items;
	size_t n, cap;
};

static void list_push(struct list *l, void *item)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->items = realloc(l->items, l->cap * sizeof(*l->items));
		if (!l->items)
			abort();
	}
	l->items[l->n++] = item;
}

static char *copy(const char *s, size_t len)
{
	char *out = malloc(len + 1);
	if (!out)
		abort();
	memcpy(out, s, len);
	out[len] = '\0';
	return out;
}

int csv_read_file(const char *path, char **data, size_t *len, struct err *e)
{
	FILE *f = fopen(path, "rb");
	long size;

	*data = NULL;
	if (!f)
		return err_set(e, CTMS_EIO, "cannot read %s: %s", path, strerror(errno));
	if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return err_set(e, CTMS_EIO, "cannot read %s: %s", path, strerror(errno));
	}
	if (size > CSV_MAX_BYTES) {
		fclose(f);
		return err_set(e, CTMS_EIO, "%s is larger than 256 MB", path);
	}
	*data = malloc((size_t)size + 1);
	if (!*data)
		abort();
	*len = fread(*data, 1, (size_t)size, f);
	(*data)[*len] = '\0';
	if (ferror(f) || *len != (size_t)size) {
		fclose(f);
		return err_set(e, CTMS_EIO, "cannot read %s", path);
	}
	fclose(f);
	return 0;
}

/* The records of data: every field to fields (pointing into text, where
 * the values are written one after another), per record its field count to
 * widths and its first line to lines. */
struct records {
	struct list fields, widths, lines;
	char *text;
	size_t used;
};

static int split(const char *data, size_t len, const char *name, struct records *out,
		 struct err *e)
{
	size_t i = 0, line = 1, fields = 0, record_line = 1;
	char *field;

	/* Each byte read gives at most one byte of value, and each value one
	 * NUL; there are at most len + 1 values. */
	out->text = malloc(2 * len + 2);
	if (!out->text)
		abort();
	if (len >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3))
		i = 3;
	while (i < len) {
		size_t n = 0, start_line = line;
		bool end_of_record = false, quoted = false, by_comma = false;
		field = out->text + out->used;
		if (fields == 0)
			record_line = line;
		if (data[i] == '"') {
			quoted = true;
			i++;
			for (;;) {
				if (i >= len) {
					return err_set(e, CTMS_EINVAL,
						       "%s line %zu: a quoted field is not closed", name,
						       start_line);
				}
				if (data[i] == '"' && i + 1 < len && data[i + 1] == '"') {
					field[n++] = '"';
					i += 2;
				} else if (data[i] == '"') {
					i++;
					break;
				} else {
					line += data[i] == '\n';
					field[n++] = data[i++];
				}
			}
		}
		while (i < len && data[i] != ',' && data[i] != '\n' && data[i] != '\r')
			field[n++] = data[i++];
		if (i < len && data[i] == ',') {
			i++;
			by_comma = true;
			if (i >= len)
				end_of_record = true;
		} else {
			end_of_record = true;
			if (i < len && data[i] == '\r')
				i++;
			if (i < len && data[i] == '\n')
				i++;
			line++;
		}
		/* A blank line is no record. */
		if (end_of_record && !by_comma && fields == 0 && n == 0 && !quoted)
			continue;
		field[n] = '\0';
		out->used += n + 1;
		list_push(&out->fields, field);
		fields++;
		if (end_of_record) {
			list_push(&out->widths, (void *)(uintptr_t)fields);
			list_push(&out->lines, (void *)(uintptr_t)record_line);
			fields = 0;
		}
	}
	if (fields) {
		list_push(&out->widths, (void *)(uintptr_t)fields);
		list_push(&out->lines, (void *)(uintptr_t)record_line);
	}
	return 0;
}

/* Lays the records out as a table of ncolumns per row. */
static void arrange(struct records *rec, struct csv_table *t)
{
	size_t ncolumns = (size_t)(uintptr_t)rec->widths.items[0], next = ncolumns;

	t->ncolumns = ncolumns;
	t->nrows = rec->widths.n - 1;
	t->header = malloc((ncolumns * (t->nrows + 1) + 1) * sizeof(*t->header));
	t->widths = malloc((t->nrows + 1) * sizeof(*t->widths));
	t->lines = malloc((t->nrows + 1) * sizeof(*t->lines));
	if (!t->header || !t->widths || !t->lines)
		abort();
	/* The text ends with a NUL of its own: the value of a missing cell. */
	char *empty = rec->text + rec->used;

	*empty = '\0';
	t->text = rec->text;
	rec->text = NULL;
	for (size_t c = 0; c < ncolumns; c++)
		t->header[c] = rec->fields.items[c];
	t->cells = t->header + ncolumns;
	for (size_t r = 0; r < t->nrows; r++) {
		size_t width = (size_t)(uintptr_t)rec->widths.items[r + 1];
		t->widths[r] = width;
		t->lines[r] = (size_t)(uintptr_t)rec->lines.items[r + 1];
		for (size_t c = 0; c < width; c++, next++)
			if (c < ncolumns)
				t->cells[r * ncolumns + c] = rec->fields.items[next];
		for (size_t c = width; c < ncolumns; c++)
			t->cells[r * ncolumns + c] = empty;
	}
}

int csv_parse(const char *data, size_t len, const char *name, bool strict, struct csv_table *t,
	      struct err *e)
{
	struct records rec = {0};
	int rc;

	memset(t, 0, sizeof(*t));
	t->name = copy(name, strlen(name));
	rc = split(data, len, name, &rec, e);
	if (!rc && rec.widths.n == 0)
		rc = err_set(e, CTMS_EINVAL, "%s has no header row", name);
	for (size_t r = 1; !rc && strict && r < rec.widths.n; r++) {
		size_t width = (size_t)(uintptr_t)rec.widths.items[r];
		size_t ncolumns = (size_t)(uintptr_t)rec.widths.items[0];
		if (width != ncolumns)
			rc = err_set(e, CTMS_EINVAL, "%s line %zu has %zu fields; the header has %zu", name,
				     (size_t)(uintptr_t)rec.lines.items[r], width, ncolumns);
	}
	if (!rc)
		arrange(&rec, t);
	free(rec.text);
	free(rec.fields.items);
	free(rec.widths.items);
	free(rec.lines.items);
	return rc;
}

int csv_load(const char *path, bool strict, struct csv_table *t, struct err *e)
{
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	char *data = NULL;
	size_t len = 0;
	int rc;

	memset(t, 0, sizeof(*t));
	rc = csv_read_file(path, &data, &len, e);
	if (rc) {
		t->name = copy(name, strlen(name));
		free(data);
		return rc;
	}
	rc = csv_parse(data, len, name, strict, t, e);
	free(data);
	return rc;
}

void csv_release(struct csv_table *t)
{
	free(t->text);
	free(t->header);
	free(t->widths);
	free(t->lines);
	free(t->name);
	memset(t, 0, sizeof(*t));
}

int csv_column(const struct csv_table *t, const char *name)
{
	for (size_t i = 0; i < t->ncolumns; i++)
		if (!strcmp(t->header[i], name))
			return (int)i;
	return -1;
}

const char *csv_cell(const struct csv_table *t, size_t row, int column)
{
	if (column < 0 || row >= t->nrows || (size_t)column >= t->ncolumns)
		return "";
	return t->cells[row * t->ncolumns + (size_t)column];
}
