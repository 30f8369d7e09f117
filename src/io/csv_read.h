/* Reading CSV: RFC 4180 with a header row, fields quoted when they hold
 * commas, quotes ("" inside a quoted field) or line breaks; LF or CRLF line
 * ends; an optional UTF-8 byte order mark; blank lines skipped. Values are
 * bytes as written: checking their encoding is the caller's (jansson's
 * json_string refuses invalid UTF-8).
 *
 * Used by the SDTM importer (datasets converted to CSV) and by the CSV
 * imports of sites and subjects (csv_import.h). */
#ifndef CTMS_IO_CSV_READ_H
#define CTMS_IO_CSV_READ_H

#include <stdbool.h>
#include <stddef.h>

struct err;

#define CSV_MAX_BYTES (256L * 1024 * 1024)

struct csv_table {
	size_t ncolumns, nrows;
	char **header;  /* ncolumns names */
	char **cells;   /* nrows * ncolumns values, row by row; "" for empty or missing */
	char *text;     /* every value, NUL-terminated one after another: the
			 * names and cells point into it */
	size_t *widths; /* per row: the number of fields it had */
	size_t *lines;  /* per row: the line of the file it starts on (the header is line 1) */
	char *name;     /* the file name, for reports */
};

/* Parses data (len bytes) into *t; name is the file name for messages.
 * strict: a row with another number of fields than the header is an error
 * (CTMS_EINVAL naming it); otherwise such a row is kept, padded or cut,
 * with its real width in widths[] for the caller to report. CTMS_EINVAL
 * also for a quoted field that is not closed, and for no header row.
 * Release *t with csv_release, also after a failure. */
int csv_parse(const char *data, size_t len, const char *name, bool strict, struct csv_table *t,
	      struct err *e);
/* Reads the file at path (at most CSV_MAX_BYTES) and parses it as above;
 * CTMS_EIO when it cannot be read. */
int csv_load(const char *path, bool strict, struct csv_table *t, struct err *e);
void csv_release(struct csv_table *t);
/* The bytes of the file at path (at most CSV_MAX_BYTES), NUL-terminated, in
 * *data (the caller frees it, also after a failure); CTMS_EIO when it cannot
 * be read. */
int csv_read_file(const char *path, char **data, size_t *len, struct err *e);

/* The index of column name, or -1 when the table has no such column. */
int csv_column(const struct csv_table *t, const char *name);
/* The value at row, column (from csv_column); "" when column is -1. */
const char *csv_cell(const struct csv_table *t, size_t row, int column);

#endif
