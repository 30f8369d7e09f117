/* A buffer of ClinicalTrials.gov records (ctgov.h): JSON lines parsed
 * ahead of the writer on other threads (ctgov_parse.c), or one JSON array;
 * the studies written in one transaction, with a study the store refuses
 * done again on its own. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "io/ctgov_internal.h"
#include "io/ctgov_parse.h"
#include "util/buf.h"
#include "util/json.h"

/* Studies written in one transaction: a commit (and its fsync) per this
 * many. The shipped file (964 records) is one transaction; a larger one
 * commits as it goes, so that a server sharing the database is not kept
 * from writing for the whole import, and a re-run resumes where it stopped
 * (a written study is unchanged the second time). */
#define TRANSACTION_STUDIES 1000

/* The writer: the open transaction, the items written in it and their part
 * of the report, merged into the import's report once committed. */
struct writer {
	struct db *db;
	const struct actor *a;
	const char *name;
	bool array; /* items are elements of a JSON array, not lines */
	struct ctgov_parser *parser; /* of the lines, or NULL */
	struct ctgov_report *r;
	struct ctgov_report part;
	struct ctgov_item *items; /* written in the open transaction */
	size_t n, cap;
	bool open;
};

static void item_where(const struct writer *w, const struct ctgov_item *it, char *where,
		       size_t size)
{
	snprintf(where, size, w->array ? "%s[%zu]" : "%s:%zu", w->name, it->number);
}

/* Writes one item, inside the open transaction (batch) or in its own. An
 * item whose record was released is parsed again from its text. */
static int write_item(struct writer *w, struct ctgov_item *it, struct ctgov_report *r, bool batch)
{
	char where[512];
	int rc;

	item_where(w, it, where, sizeof(where));
	if (!it->record && !it->error)
		ctgov_parse_item(it);
	if (it->error) {
		ctgov_report_reject(r, where, NULL, "%s", it->error);
		return 0;
	}
	rc = ctgov_import_one(w->db, w->a, it->record, where, r, batch);
	/* Lines are parsed again if ever needed: the transaction holds only
	 * their text, not every record it wrote. */
	if (!w->array) {
		ctgov_parser_recycle(w->parser, it->record);
		it->record = NULL;
	}
	return rc;
}

/* The items in one transaction; when the store refuses one study, the
 * transaction is rolled back and the items done again a study at a time,
 * so a study that fails still leaves the others loaded. */
static void write_again(struct writer *w, struct ctgov_item *items, size_t n)
{
	struct ctgov_report part;
	int rc = n ? ctgov_txn_begin(w->db) : 0;

	ctgov_report_init(&part);
	for (size_t i = 0; !rc && i < n; i++)
		if ((rc = write_item(w, &items[i], &part, true)))
			ctgov_txn_rollback(w->db);
	if (!rc && n)
		rc = ctgov_txn_commit(w->db);
	if (!rc)
		ctgov_report_merge(w->r, &part);
	for (size_t i = 0; rc && i < n; i++)
		write_item(w, &items[i], w->r, false);
	ctgov_report_release(&part);
}

static void forget_items(struct writer *w)
{
	for (size_t i = 0; i < w->n; i++)
		ctgov_item_release(&w->items[i]);
	w->n = 0;
	ctgov_report_release(&w->part);
	ctgov_report_init(&w->part);
}

/* Commits the open transaction; if the commit fails, its items are written
 * again a study at a time. */
static void writer_commit(struct writer *w)
{
	if (!w->open)
		return;
	w->open = false;
	if (ctgov_txn_commit(w->db)) {
		for (size_t i = 0; i < w->n; i++)
			write_item(w, &w->items[i], w->r, false);
	} else {
		ctgov_report_merge(w->r, &w->part);
	}
	forget_items(w);
}

/* Adds an item to the open transaction. When the store refuses its study,
 * the transaction is rolled back, the studies before it are written again
 * (one transaction), and this one on its own, so its reason is reported. */
static void writer_add(struct writer *w, struct ctgov_item *it)
{
	if (!w->open && ctgov_txn_begin(w->db) == 0)
		w->open = true;
	if (!w->open) {
		write_item(w, it, w->r, false); /* the store is busy: report it */
		ctgov_item_release(it);
		return;
	}
	if (write_item(w, it, &w->part, true)) {
		ctgov_txn_rollback(w->db);
		w->open = false;
		write_again(w, w->items, w->n);
		write_item(w, it, w->r, false);
		ctgov_item_release(it);
		forget_items(w);
		return;
	}
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 256;
		w->items = xrealloc(w->items, w->cap * sizeof(*w->items));
	}
	w->items[w->n++] = *it;
	if (w->n >= TRANSACTION_STUDIES)
		writer_commit(w);
}

static void writer_init(struct writer *w, struct db *db, const struct actor *a, const char *name,
			bool array, struct ctgov_report *r)
{
	memset(w, 0, sizeof(*w));
	w->db = db;
	w->a = a;
	w->name = name;
	w->array = array;
	w->r = r;
	ctgov_report_init(&w->part);
}

static void writer_finish(struct writer *w)
{
	writer_commit(w);
	forget_items(w);
	ctgov_report_release(&w->part);
	free(w->items);
}

/* One JSON array of records, all parsed before any is imported. */
static int import_array(struct db *db, const struct actor *a, const char *name, const char *data,
			size_t len, struct ctgov_report *r, struct err *e)
{
	json_error_t error;
	json_t *all = json_loadb(data, len, JSON_REJECT_DUPLICATES, &error), *record;
	struct writer w;
	size_t i;

	if (!json_is_array(all)) {
		json_decref(all);
		return err_set(e, CTMS_EINVAL, "%s is not a JSON array: %s (line %d, column %d)", name,
			       error.text, error.line, error.column);
	}
	writer_init(&w, db, a, name, true, r);
	json_array_foreach(all, i, record) {
		struct ctgov_item it = {.record = json_incref(record), .number = i};
		writer_add(&w, &it);
	}
	writer_finish(&w);
	json_decref(all);
	return 0;
}

int ctgov_import_buffer(struct db *db, const struct actor *a, const char *name, const char *data,
			size_t len, struct ctgov_report *r, struct err *e)
{
	struct ctgov_parser *p;
	struct ctgov_item it;
	struct writer w;
	size_t i = 0;

	while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
		i++;
	if (i < len && data[i] == '[')
		return import_array(db, a, name, data, len, r, e);
	writer_init(&w, db, a, name, false, r);
	p = w.parser = ctgov_parser_start(data, len);
	while (ctgov_parser_next(p, &it))
		writer_add(&w, &it);
	writer_finish(&w);
	ctgov_parser_stop(p);
	return 0;
}
