/* Excel workbooks (.xlsx, Office Open XML) of export tables, written with
 * libxlsxwriter.
 *
 * One worksheet: a bold header row, frozen so it stays in view, with an
 * autofilter over the whole table, and columns as wide as their content
 * (within 8 and 60 characters). Cells are typed: JSON integers and reals
 * are numbers, true/false are booleans, a text that is a calendar date
 * (YYYY-MM-DD) is an Excel date formatted yyyy-mm-dd, a UTC timestamp
 * (YYYY-MM-DDThh:mm:ss[.ffffff]Z) an Excel date-time formatted
 * yyyy-mm-dd hh:mm:ss, and any other text is a text cell, never a formula.
 * Integers beyond 2^53, which a spreadsheet's numbers cannot hold exactly,
 * are written as text. */
#ifndef CTMS_IO_XLSX_H
#define CTMS_IO_XLSX_H

#include <stddef.h>

struct export_table;
struct err;

/* Writes t as a workbook whose worksheet is named sheet (cut to Excel's 31
 * characters, with characters Excel refuses replaced by "_"). On success
 * *out holds the file's bytes (the caller frees it) and *len their count.
 * The workbook is assembled in a temporary file of $TMPDIR (else /tmp),
 * removed before returning. Returns 0, CTMS_ETOOBIG for a cell over
 * Excel's 32,767 characters or a table over its 1,048,576 rows, or CTMS_EIO. */
int xlsx_write(const struct export_table *t, const char *sheet, char **out, size_t *len,
	       struct err *e);

#endif
