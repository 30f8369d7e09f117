/* CSV import of a study's sites (study-sites) and subjects, for the command
 * line (`ctms import csv`) and the API (POST
 * /api/v1/studies/{id}/imports/{sites|subjects}).
 *
 * The columns are the fields of the record as the API takes them at
 * creation, by the same names (docs/formats-imports.md; a template is the
 * header row, csv_import_template). A header row is required; a column it
 * names that is not such a field, or a required field without a column, is
 * reported. An empty cell is an absent value. Every row is one record,
 * created through the domain layer with its audit event.
 *
 * The file is one transaction: when any row is bad, nothing is written,
 * and every bad row is reported with its line and reason (each row is
 * checked against the store as it stands; rows of the same file are
 * checked against each other for their unique keys). */
#ifndef CTMS_IO_CSV_IMPORT_H
#define CTMS_IO_CSV_IMPORT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct db;
struct actor;
struct err;
struct entity_def;

enum csv_import_kind { CSV_IMPORT_SITES, CSV_IMPORT_SUBJECTS };

struct csv_import_report {
	int64_t rows;    /* data rows in the file */
	int64_t created; /* records written: rows, or 0 when any row is bad */
	/* [{"line", "field"?, "message"}], in line order; line 1 is the header. */
	json_t *errors;
};

void csv_import_report_init(struct csv_import_report *r);
void csv_import_report_release(struct csv_import_report *r);

/* "sites" or "subjects"; CTMS_EINVAL for another name. */
int csv_import_kind_parse(const char *name, enum csv_import_kind *out);
const char *csv_import_kind_name(enum csv_import_kind kind);
/* The record kind a CSV kind creates. */
const struct entity_def *csv_import_def(enum csv_import_kind kind);

/* The template: the header row of every column, in field order, with its
 * line end. A new string the caller frees. */
char *csv_import_template(enum csv_import_kind kind);

/* Imports the CSV in data (len bytes; name names it in messages) into the
 * study as actor a. 0 when every row was written; CTMS_EINVAL when any row
 * or the header is bad, the reasons in r->errors and nothing written;
 * another code (in e) when the store fails. */
int csv_import(struct db *db, const struct actor *a, int64_t study_id, enum csv_import_kind kind,
	       const char *name, const char *data, size_t len, struct csv_import_report *r,
	       struct err *e);

/* Prints the counts and every error ("line N: field: message"). */
void csv_import_report_print(FILE *out, const char *name, const struct csv_import_report *r);

#endif
