#include "io/sdtm_csv.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

#define SDTM_CSV_MAX_BYTES (256L * 1024 * 1024)

struct cells {
	char **items;
	size_t n, cap;
};

static void cells_push(struct cells *c, char *value)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 256;
		c->items = realloc(c->items, c->cap * sizeof(*c->items));
		if (!c->items)
			abort();
	}
	c->items[c->n++] = value;
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

static int read_all(const char *path, char **data, size_t *len, struct err *e)
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
	if (size > SDTM_CSV_MAX_BYTES) {
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

/* Splits data into fields; each record's fields go to out, its field count
 * to widths. */
static int parse(const char *data, size_t len, const char *name, struct cells *out,
		 struct cells *widths, struct err *e)
{
	size_t i = 0, line = 1, fields = 0;
	char *field = malloc(len + 1);

	if (!field)
		abort();
	if (len >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3))
		i = 3;
	while (i < len) {
		size_t n = 0, start_line = line;
		bool end_of_record = false;
		if (data[i] == '"') {
			i++;
			for (;;) {
				if (i >= len) {
					free(field);
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
		cells_push(out, copy(field, n));
		fields++;
		if (end_of_record) {
			cells_push(widths, (char *)(uintptr_t)fields);
			fields = 0;
		}
	}
	if (fields)
		cells_push(widths, (char *)(uintptr_t)fields);
	free(field);
	return 0;
}

int sdtm_table_load(const char *path, struct sdtm_table *t, struct err *e)
{
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	struct cells all = {0}, widths = {0};
	char *data = NULL;
	size_t len = 0;
	int rc;

	memset(t, 0, sizeof(*t));
	t->name = copy(name, strlen(name));
	rc = read_all(path, &data, &len, e);
	if (!rc)
		rc = parse(data, len, name, &all, &widths, e);
	free(data);
	if (!rc && widths.n == 0)
		rc = err_set(e, CTMS_EINVAL, "%s has no header row", name);
	if (!rc) {
		size_t ncolumns = (size_t)(uintptr_t)widths.items[0];
		for (size_t r = 1; r < widths.n; r++) {
			if ((size_t)(uintptr_t)widths.items[r] != ncolumns) {
				rc = err_set(e, CTMS_EINVAL,
					     "%s record %zu has %zu fields; the header has %zu", name,
					     r + 1, (size_t)(uintptr_t)widths.items[r], ncolumns);
				break;
			}
		}
		t->ncolumns = ncolumns;
		t->nrows = widths.n - 1;
	}
	free(widths.items);
	if (rc) {
		for (size_t i = 0; i < all.n; i++)
			free(all.items[i]);
		free(all.items);
		t->ncolumns = t->nrows = 0;
		return rc;
	}
	t->header = all.items;
	t->cells = all.items + t->ncolumns;
	return 0;
}

void sdtm_table_release(struct sdtm_table *t)
{
	size_t n = t->ncolumns * (t->nrows + 1);
	for (size_t i = 0; i < n; i++)
		free(t->header[i]);
	free(t->header);
	free(t->name);
	memset(t, 0, sizeof(*t));
}

int sdtm_table_column(const struct sdtm_table *t, const char *name)
{
	for (size_t i = 0; i < t->ncolumns; i++)
		if (!strcmp(t->header[i], name))
			return (int)i;
	return -1;
}

const char *sdtm_table_cell(const struct sdtm_table *t, size_t row, int column)
{
	if (column < 0 || row >= t->nrows || (size_t)column >= t->ncolumns)
		return "";
	return t->cells[row * t->ncolumns + (size_t)column];
}
