/* Downloads of lists (CSV, XLSX) and of a study (FHIR R4, CT.gov JSON).
 * Handlers choose and reply; the writers in io/ turn rows into bytes. */
#include "http/routes_export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "domain/record.h"
#include "io/csv.h"
#include "io/ctgov_export.h"
#include "io/fhir.h"
#include "io/xlsx.h"
#include "util/buf.h"

#define XLSX_TYPE "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#define CSV_MAX ((size_t)256 << 20)

/* Whether an Accept header names type (ignoring case, parameters and
 * ranges refused with q=0). */
static bool accepts(const char *accept, const char *type)
{
	size_t tlen = strlen(type);

	for (const char *p = accept; p && *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		size_t n = strcspn(p, ",;");
		const char *end = p + strcspn(p, ",");
		while (n && p[n - 1] == ' ')
			n--;
		if (n == tlen && !strncasecmp(p, type, tlen)) {
			const char *q = strstr(p, "q=");
			bool refused = q && q < end && strtod(q + 2, NULL) <= 0;
			if (!refused)
				return true;
		}
		p = *end ? end + 1 : end;
	}
	return false;
}

int list_format(struct request *r, enum list_format *f)
{
	const char *format = request_query(r, "format");
	const char *accept = request_header(r, "Accept");

	*f = LIST_JSON;
	if (format) {
		if (!strcmp(format, "csv"))
			*f = LIST_CSV;
		else if (!strcmp(format, "xlsx"))
			*f = LIST_XLSX;
		else if (strcmp(format, "json")) {
			reply_problem(r, CTMS_EBADREQ, "format must be json, csv or xlsx");
			return CTMS_EBADREQ;
		}
		return 0;
	}
	if (accepts(accept, "text/csv"))
		*f = LIST_CSV;
	else if (accepts(accept, XLSX_TYPE))
		*f = LIST_XLSX;
	return 0;
}

bool export_paged(struct request *r)
{
	return request_query(r, "limit") || request_query(r, "cursor");
}

/* The download's name: the path after /api/v1/, "/" as "-". */
static void download_name(struct request *r, char *out, size_t len, const char **sheet)
{
	const char *path = r->path, *last;
	size_t n = 0;

	if (!strncmp(path, "/api/v1/", 8))
		path += 8;
	last = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	*sheet = last;
	for (; *path && n + 1 < len; path++)
		out[n++] = *path == '/' ? '-' : *path;
	out[n] = '\0';
}

/* An empty list's header: the record's own columns a blinded reader too is
 * shown. */
static void header_of(struct export_table *t, const struct entity_def *def)
{
	json_array_append_new(t->columns, json_string("id"));
	json_array_append_new(t->columns, json_string("version"));
	for (size_t i = 0; i < def->nfields; i++)
		if (!(def->fields[i].flags & (F_VIRTUAL | F_BLINDED)))
			json_array_append_new(t->columns, json_string(def->fields[i].name));
	json_array_append_new(t->columns, json_string("created_at"));
	json_array_append_new(t->columns, json_string("updated_at"));
}

void export_items(struct request *r, enum list_format f, const json_t *items,
		  const struct entity_def *def)
{
	struct export_table t;
	struct err e;
	char name[128];
	const char *sheet;
	char *bytes = NULL;
	size_t len = 0;
	int rc;

	err_init(&e);
	export_table_init(&t);
	export_table_from_items(&t, items);
	if (!json_array_size(items) && def)
		header_of(&t, def);
	download_name(r, name, sizeof(name), &sheet);
	if (f == LIST_CSV) {
		struct buf b;
		buf_init(&b, CSV_MAX);
		if ((rc = csv_write(&t, &b)))
			err_set(&e, rc, "the CSV text would exceed %zu MB", CSV_MAX >> 20);
		len = b.len;
		bytes = buf_detach(&b);
	} else {
		rc = xlsx_write(&t, sheet, &bytes, &len, &e);
	}
	export_table_release(&t);
	if (rc) {
		free(bytes);
		reply_error(r, &e, NULL);
		err_release(&e);
		return;
	}
	err_release(&e);
	free(r->reply);
	r->status = 200;
	r->reply = bytes;
	r->reply_len = len;
	r->content_type = f == LIST_CSV ? "text/csv; charset=utf-8; header=present" : XLSX_TYPE;
	snprintf(r->content_disposition, sizeof(r->content_disposition),
		 "attachment; filename=\"%s.%s\"", name, f == LIST_CSV ? "csv" : "xlsx");
}

int export_collect(struct request *r, export_page_fn page, void *query, int64_t after, int limit,
		   bool paged, const char *what, json_t **all, struct err *e)
{
	json_t *items;
	int64_t next = 0;
	int rc;

	*all = json_array();
	do {
		if ((rc = page(r, query, after, paged ? limit : 1000, &items, &next, e)))
			break;
		json_array_extend(*all, items);
		json_decref(items);
		after = next;
		if (json_array_size(*all) > EXPORT_ROWS_MAX)
			rc = err_set(e, CTMS_EINVAL,
				     "the export would hold more than %d %s: narrow it with filters, or "
				     "page through it with limit and cursor",
				     EXPORT_ROWS_MAX, what);
	} while (!rc && next && !paged);
	if (rc) {
		json_decref(*all);
		*all = NULL;
		return rc;
	}
	if (paged && next) {
		char *cursor = request_cursor_encode(next);
		snprintf(r->next_cursor, sizeof(r->next_cursor), "%s", cursor);
		free(cursor);
	}
	return 0;
}

void reply_list(struct request *r, json_t *items)
{
	enum list_format f;

	if (list_format(r, &f)) {
		json_decref(items);
		return;
	}
	if (f == LIST_JSON) {
		reply_json(r, 200, json_pack("{s:o, s:n}", "items", items, "next_cursor"));
		return;
	}
	export_items(r, f, items, NULL);
	json_decref(items);
}

struct record_pages {
	const struct entity_def *def;
	struct list_query *q;
};

static int record_page(struct request *r, void *query, int64_t after, int limit, json_t **items,
		       int64_t *next, struct err *e)
{
	struct record_pages *p = query;

	p->q->after_id = after;
	p->q->limit = limit;
	return record_list(r->db, r->actor, p->def, p->q, items, next, e);
}

void export_records(struct request *r, enum list_format f, const struct entity_def *def,
		    struct list_query *q, bool paged)
{
	struct record_pages pages = {def, q};
	json_t *all;
	struct err e;

	err_init(&e);
	if (export_collect(r, record_page, &pages, q->after_id, q->limit, paged, "rows", &all, &e))
		reply_error(r, &e, NULL);
	else
		export_items(r, f, all, def);
	json_decref(all);
	err_release(&e);
}

/* A study's export: 404 for a study the actor may not see. */
static void study_export(struct request *r,
			 int (*build)(struct db *, const struct actor *, int64_t, json_t **,
				      struct err *),
			 const char *type)
{
	json_t *doc;
	struct err e;

	err_init(&e);
	if (build(r->db, r->actor, r->ids[0], &doc, &e)) {
		reply_error(r, &e, NULL);
	} else {
		reply_json(r, 200, doc);
		r->content_type = type;
	}
	err_release(&e);
}

void h_study_fhir(struct request *r)
{
	study_export(r, fhir_study_bundle, "application/fhir+json");
}

void h_study_ctgov(struct request *r)
{
	study_export(r, ctgov_export_study, "application/json");
}
