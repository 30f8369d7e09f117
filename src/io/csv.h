/* Tables for export, and their CSV form.
 *
 * A table is what a spreadsheet holds: named columns and rows of scalar
 * cells. export_table_from_items() builds one from a list as the API answers it
 * (an array of JSON objects), so the columns are exactly the fields the
 * actor was shown: a field the JSON leaves out (a blinded arm) has no
 * column. csv_write() and xlsx_write() (xlsx.h) turn a table into bytes;
 * neither reads the store or knows about HTTP. */
#ifndef CTMS_IO_CSV_H
#define CTMS_IO_CSV_H

#include <jansson.h>

struct buf;

struct export_table {
	json_t *columns; /* array of column names (strings) */
	/* array of rows; a row is an array with one cell per column: a string,
	 * an integer, a real, true/false, or null for an empty cell */
	json_t *rows;
};

void export_table_init(struct export_table *t);
void export_table_release(struct export_table *t);

/* Fills t (initialised, empty) from items, an array of objects. Columns
 * come in the order fields first appear; a nested object becomes one
 * column per member, named "outer.inner"; an array becomes one cell
 * holding its compact JSON text. An item lacking a field has an empty cell
 * there. */
void export_table_from_items(struct export_table *t, const json_t *items);

/* Appends t as CSV (RFC 4180) to out: UTF-8, CRLF line ends, a header row,
 * every field with a quote, comma, CR or LF quoted and its quotes doubled.
 * Against formula injection (OWASP "CSV Injection"), a text cell starting
 * with = + - @, tab or CR is written with a leading single quote; numbers
 * are written as they are. Returns 0, or CTMS_ETOOBIG when out's cap is
 * reached (out then holds a truncated text the caller discards). */
int csv_write(const struct export_table *t, struct buf *out);

#endif
