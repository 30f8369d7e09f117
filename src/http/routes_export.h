/* Downloads: any list as CSV or Excel, and a study as FHIR R4 or as a
 * ClinicalTrials.gov protocol section (routes_export.c).
 *
 * A list route asks list_format() which form the client wants and, for a
 * download, hands its records to export_records() or export_items(); the
 * JSON answer is unchanged. What a download holds is what the JSON list
 * holds for the same actor: the same access filter, the same fields, the
 * blinded ones left out for blinded roles. */
#ifndef CTMS_ROUTES_EXPORT_H
#define CTMS_ROUTES_EXPORT_H

#include <jansson.h>
#include <stdbool.h>

#include "http/request.h"

struct entity_def;
struct list_query;

enum list_format { LIST_JSON, LIST_CSV, LIST_XLSX };

/* A download holds at most this many rows; a longer one is refused (422)
 * with a hint to filter or page. */
#define EXPORT_ROWS_MAX 50000

/* The form a list request asks for: ?format=csv|xlsx|json first, else an
 * Accept header naming text/csv or the .xlsx media type, else JSON. An
 * unknown format replies 400 and returns CTMS_EBADREQ. */
int list_format(struct request *r, enum list_format *f);

/* True when the request pages itself (limit or cursor given): its download
 * is then that one page, else the whole filtered list. */
bool export_paged(struct request *r);

/* One page of a list for a download: the items after position after (at
 * most limit, a new array in *items); *next is the next page's position,
 * or 0 after the last. */
typedef int (*export_page_fn)(struct request *r, void *query, int64_t after, int limit,
			      json_t **items, int64_t *next, struct err *e);

/* Collects a list into *all (a new array; NULL on error): one page of limit
 * when paged, whose next position goes out as the X-Next-Cursor header;
 * else every page from after on, up to EXPORT_ROWS_MAX rows (more is
 * CTMS_EINVAL, the message naming what the rows are). */
int export_collect(struct request *r, export_page_fn page, void *query, int64_t after, int limit,
		   bool paged, const char *what, json_t **all, struct err *e);

/* Replies with a whole list in one page, items (stolen): as JSON
 * {"items", "next_cursor": null}, or as CSV or Excel when the request asks
 * for a download (list_format). */
void reply_list(struct request *r, json_t *items);

/* Replies with a download of the records q selects: one page of q->limit
 * when paged, else every page from q->after_id on, up to EXPORT_ROWS_MAX. */
void export_records(struct request *r, enum list_format f, const struct entity_def *def,
		    struct list_query *q, bool paged);

/* Replies with items (borrowed; objects as the JSON list holds them) as a
 * CSV or XLSX download named after the request's path. def, when not NULL,
 * gives an empty list its header row. */
void export_items(struct request *r, enum list_format f, const json_t *items,
		  const struct entity_def *def);

/* GET /api/v1/studies/{id}/fhir and /ctgov. */
void h_study_fhir(struct request *r);
void h_study_ctgov(struct request *r);

#endif
