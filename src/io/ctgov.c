#include "io/ctgov.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "domain/codes.h"
#include "domain/organisation.h"
#include "domain/record.h"
#include "domain/site.h"
#include "domain/study.h"
#include "domain/study_site.h"
#include "io/ctgov_internal.h"
#include "util/buf.h"
#include "util/date.h"
#include "util/json.h"

void ctgov_report_init(struct ctgov_report *r)
{
	memset(r, 0, sizeof(*r));
	r->rejected = json_array();
	r->notes = json_array();
}

void ctgov_report_release(struct ctgov_report *r)
{
	json_decref(r->rejected);
	json_decref(r->notes);
	r->rejected = r->notes = NULL;
}

static void merge(struct ctgov_report *r, const struct outcome *o)
{
	r->studies.created += o->created;
	r->studies.updated += o->updated;
	r->studies.unchanged += !o->created && !o->updated;
	r->study_sites.created += o->sites.created;
	r->study_sites.updated += o->sites.updated;
	r->study_sites.unchanged += o->sites.unchanged;
	r->study_sites.rejected += o->sites.rejected;
	r->month_dates += o->month_dates;
	r->phase_absent += o->phase_absent;
	r->zone_main += o->zone_main;
	r->no_investigator += o->no_investigator;
	r->city_merged += o->city_merged;
	json_array_extend(r->rejected, o->rejected);
	json_array_extend(r->notes, o->notes);
}

/* Everything of one report into another. */
static void merge_report(struct ctgov_report *r, const struct ctgov_report *part)
{
	const struct ctgov_counts *from[] = {&part->studies, &part->study_sites};
	struct ctgov_counts *to[] = {&r->studies, &r->study_sites};

	for (int i = 0; i < 2; i++) {
		to[i]->created += from[i]->created;
		to[i]->updated += from[i]->updated;
		to[i]->unchanged += from[i]->unchanged;
		to[i]->rejected += from[i]->rejected;
	}
	r->month_dates += part->month_dates;
	r->phase_absent += part->phase_absent;
	r->zone_main += part->zone_main;
	r->no_investigator += part->no_investigator;
	r->city_merged += part->city_merged;
	json_array_extend(r->rejected, part->rejected);
	json_array_extend(r->notes, part->notes);
}

/* One record, in its own transaction; or, in a batch, inside the caller's,
 * answering the store's refusal instead of reporting it (the batch is then
 * done again a record at a time). */
static int import_one(struct db *db, const struct actor *a, const json_t *record,
		      const char *where, struct ctgov_report *r, bool batch)
{
	const json_t *ps = ctgov_at(record, "protocolSection", NULL);
	const json_t *locations = ctgov_at(ps, "contactsLocationsModule", "locations", NULL);
	const char *nct = ctgov_text(ctgov_at(ps, "identificationModule", "nctId", NULL));
	struct outcome o = {.where = where, .nct = nct};
	json_t *study = NULL, *sites = NULL, *loc;
	char why[1024];
	struct err e;
	size_t i;
	int rc = 0;

	if (!json_is_object(ps)) {
		ctgov_reject(r->rejected, where, NULL, NULL,
			     json_is_object(record) ? "no protocolSection object: not a CT.gov study record"
						    : "not a JSON object: not a CT.gov study record");
		r->studies.rejected++;
		return 0;
	}
	if (!nct || !ctgov_nct_valid(nct)) {
		ctgov_reject(r->rejected, where, nct, NULL,
			     "invalid NCT id '%s': expected NCT followed by 8 digits", nct ? nct : "");
		r->studies.rejected++;
		return 0;
	}
	o.rejected = json_array();
	o.notes = json_array();
	study = ctgov_map_study(ps, &o, why, sizeof(why));
	if (!study) {
		ctgov_reject(r->rejected, where, nct, NULL, "%s", why);
		r->studies.rejected++;
		goto done;
	}
	sites = json_array();
	json_array_foreach(locations, i, loc) {
		char number[24];
		json_t *site;
		snprintf(number, sizeof(number), "%03zu", i + 1);
		site = ctgov_map_location(loc, &o, number, why, sizeof(why));
		if (site) {
			json_array_append_new(sites, site);
		} else {
			ctgov_reject(o.rejected, where, nct, number, "%s", why);
			o.sites.rejected++;
		}
	}

	err_init(&e);
	rc = db_begin(db);
	if (rc) {
		err_set(&e, rc, "the store is busy");
	} else {
		rc = ctgov_import_study(db, a, ps, study, sites, &o, &e);
		if (rc)
			db_rollback(db);
		else if ((rc = db_commit(db)))
			err_set(&e, rc, "cannot commit: %s", db_errmsg(db));
	}
	if (rc && batch) {
		err_release(&e);
		goto done;
	}
	if (rc) {
		err_describe(&e, why, sizeof(why));
		ctgov_reject(r->rejected, where, nct, NULL, "%s", why);
		r->studies.rejected++;
		rc = 0;
	} else {
		merge(r, &o);
	}
	err_release(&e);
done:
	json_decref(study);
	json_decref(sites);
	json_decref(o.rejected);
	json_decref(o.notes);
	return rc;
}

void ctgov_import_record(struct db *db, const struct actor *a, const json_t *record,
			 const char *where, struct ctgov_report *r)
{
	import_one(db, a, record, where, r, false);
}

/* Records are written in batches of this many, each batch one transaction:
 * a commit (and its fsync) per batch, not per study. */
#define BATCH 250

/* A record of the input, or the reason its text is not JSON. */
struct item {
	json_t *record;
	char *error;
	char where[512];
};

static int import_item(struct db *db, const struct actor *a, const struct item *it,
		       struct ctgov_report *r, bool batch)
{
	if (it->error) {
		ctgov_reject(r->rejected, it->where, NULL, NULL, "%s", it->error);
		r->studies.rejected++;
		return 0;
	}
	return import_one(db, a, it->record, it->where, r, batch);
}

/* The items in one transaction; when the store refuses one study, the
 * batch is rolled back and done again a study at a time, so a study that
 * fails still leaves the others loaded. Releases the items. */
static void import_batch(struct db *db, const struct actor *a, struct item *items, size_t n,
			 struct ctgov_report *r)
{
	struct ctgov_report part;
	int rc = db_begin(db);

	ctgov_report_init(&part);
	for (size_t i = 0; !rc && i < n; i++)
		rc = import_item(db, a, &items[i], &part, true);
	if (!rc)
		rc = db_commit(db);
	else if (db_in_transaction(db))
		db_rollback(db);
	if (!rc)
		merge_report(r, &part);
	for (size_t i = 0; i < n; i++) {
		if (rc)
			import_item(db, a, &items[i], r, false);
		json_decref(items[i].record);
		free(items[i].error);
		items[i].record = NULL;
		items[i].error = NULL;
	}
	ctgov_report_release(&part);
}

/* One line of JSON lines as an item. */
static void parse_line(const char *data, size_t len, struct item *it)
{
	json_error_t error;

	it->record = json_loadb(data, len, JSON_REJECT_DUPLICATES, &error);
	if (!it->record) {
		char message[256];
		snprintf(message, sizeof(message), "not JSON: %s (column %d)", error.text,
			 error.column);
		it->error = xstrdup(message);
	}
}

static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

/* One JSON array of records, all parsed before any is imported. */
static int import_array(struct db *db, const struct actor *a, const char *name, const char *data,
			size_t len, struct ctgov_report *r, struct err *e)
{
	json_error_t error;
	json_t *all = json_loadb(data, len, JSON_REJECT_DUPLICATES, &error), *record;
	size_t i;

	if (!json_is_array(all)) {
		json_decref(all);
		return err_set(e, CTMS_EINVAL, "%s is not a JSON array: %s (line %d, column %d)", name,
			       error.text, error.line, error.column);
	}
	struct item *items = xcalloc(BATCH, sizeof(*items));
	size_t n = 0;
	json_array_foreach(all, i, record) {
		snprintf(items[n].where, sizeof(items[n].where), "%s[%zu]", name, i);
		items[n++].record = json_incref(record);
		if (n == BATCH) {
			import_batch(db, a, items, n, r);
			n = 0;
		}
	}
	import_batch(db, a, items, n, r);
	free(items);
	json_decref(all);
	return 0;
}

int ctgov_import_buffer(struct db *db, const struct actor *a, const char *name, const char *data,
			size_t len, struct ctgov_report *r, struct err *e)
{
	size_t i = 0, number = 0, n = 0;
	struct item *items;

	while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
		i++;
	if (i < len && data[i] == '[')
		return import_array(db, a, name, data, len, r, e);
	items = xcalloc(BATCH, sizeof(*items));
	for (i = 0; i < len;) {
		const char *end = memchr(data + i, '\n', len - i);
		size_t line = end ? (size_t)(end - (data + i)) + 1 : len - i;
		number++;
		if (!blank(data + i, line)) {
			snprintf(items[n].where, sizeof(items[n].where), "%s:%zu", name, number);
			parse_line(data + i, line, &items[n]);
			if (++n == BATCH) {
				import_batch(db, a, items, n, r);
				n = 0;
			}
		}
		i += line;
	}
	import_batch(db, a, items, n, r);
	free(items);
	return 0;
}

int ctgov_import_file(struct db *db, const struct actor *a, const char *path,
		      struct ctgov_report *r, struct err *e)
{
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	FILE *f = fopen(path, "rb");
	struct buf b;
	char chunk[1 << 16];
	size_t n;
	int rc = 0;

	if (!f)
		return err_set(e, CTMS_EIO, "cannot read %s: %s", path, strerror(errno));
	buf_init(&b, CTGOV_MAX_FILE_BYTES);
	while (!rc && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_add(&b, chunk, n))
			rc = err_set(e, CTMS_EIO, "%s is larger than %ld MB", path,
				     (long)(CTGOV_MAX_FILE_BYTES >> 20));
	if (!rc && ferror(f))
		rc = err_set(e, CTMS_EIO, "cannot read %s: %s", path, strerror(errno));
	fclose(f);
	if (!rc)
		rc = ctgov_import_buffer(db, a, name, b.ptr ? b.ptr : "", b.len, r, e);
	buf_release(&b);
	return rc;
}

static json_t *counts_json(const struct ctgov_counts *c)
{
	return json_pack("{s:I, s:I, s:I, s:I}", "created", (json_int_t)c->created, "updated",
			 (json_int_t)c->updated, "unchanged", (json_int_t)c->unchanged, "rejected",
			 (json_int_t)c->rejected);
}

json_t *ctgov_report_json(const struct ctgov_report *r)
{
	return json_pack("{s:o, s:o, s:{s:I, s:I, s:I, s:I, s:I}, s:O, s:O}", "studies",
			 counts_json(&r->studies), "study_sites", counts_json(&r->study_sites),
			 "adapted", "month_dates", (json_int_t)r->month_dates, "phase_absent",
			 (json_int_t)r->phase_absent, "zone_main", (json_int_t)r->zone_main,
			 "no_investigator", (json_int_t)r->no_investigator, "city_merged",
			 (json_int_t)r->city_merged, "rejected", r->rejected, "notes", r->notes);
}

static void print_counts(FILE *out, const char *what, const struct ctgov_counts *c)
{
	fprintf(out, "%s: %lld created, %lld updated, %lld unchanged, %lld rejected\n", what,
		(long long)c->created, (long long)c->updated, (long long)c->unchanged,
		(long long)c->rejected);
}

void ctgov_report_print(FILE *out, const struct ctgov_report *r)
{
	const json_t *item;
	size_t i;

	print_counts(out, "studies", &r->studies);
	print_counts(out, "study-sites", &r->study_sites);
	fprintf(out,
		"adapted: %lld dates given as YYYY-MM recorded as the first of the month; %lld "
		"studies without a phase recorded as NA; %lld sites given their country's main time "
		"zone; %lld sites without a named investigator recorded as \"" NOT_REPORTED "\"; %lld "
		"sites named \"facility, city\" as their facility name is a site in another city\n",
		(long long)r->month_dates, (long long)r->phase_absent, (long long)r->zone_main,
		(long long)r->no_investigator, (long long)r->city_merged);
	json_array_foreach(r->rejected, i, item) {
		const char *nct = json_str(item, "nct_id"), *location = json_str(item, "location");
		fprintf(out, "rejected %s %s%s%s%s%s: %s\n", location ? "study-site" : "study",
			json_str(item, "where"), nct ? " " : "", nct ? nct : "",
			location ? " location " : "", location ? location : "",
			json_str(item, "reason"));
	}
	json_array_foreach(r->notes, i, item)
		fprintf(out, "note %s %s: %s\n", json_str(item, "where"), json_str(item, "nct_id"),
			json_str(item, "note"));
}
