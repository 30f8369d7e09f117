/* CSV tables as the SDTM datasets are shipped here (one file per domain,
 * converted from SAS transport files, every value as text): RFC 4180 with
 * a header row, fields quoted when they hold commas, quotes ("" inside a
 * quoted field) or line breaks; LF or CRLF line ends; an optional UTF-8
 * byte order mark. */
#ifndef CTMS_IO_SDTM_CSV_H
#define CTMS_IO_SDTM_CSV_H

#include <stddef.h>

struct err;

struct sdtm_table {
	size_t ncolumns, nrows;
	char **header;   /* ncolumns names */
	char **cells;    /* nrows * ncolumns values, row by row; "" for empty */
	char *name;      /* the file name, for the report */
};

/* Reads path into *t (released with sdtm_table_release, also after a
 * failure). CTMS_EIO when the file cannot be read; CTMS_EINVAL naming the
 * line when a quoted field is not closed, or a row has a different number
 * of fields than the header. Files are capped at 256 MB. */
int sdtm_table_load(const char *path, struct sdtm_table *t, struct err *e);
void sdtm_table_release(struct sdtm_table *t);

/* The index of column name, or -1 when the table has no such column. */
int sdtm_table_column(const struct sdtm_table *t, const char *name);
/* The value at row, column (from sdtm_table_column); "" when column is -1. */
const char *sdtm_table_cell(const struct sdtm_table *t, size_t row, int column);

#endif
