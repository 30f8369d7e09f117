#include "io/ctgov.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db/db.h"
#include "domain/audit.h"
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

/* Appends the items of from to a report's list while it has room; counts
 * the others in *unlisted. */
static void extend_listed(json_t *to, const json_t *from, int64_t *unlisted)
{
	json_t *v;
	size_t i;

	json_array_foreach(from, i, v) {
		if (json_array_size(to) < CTGOV_REPORT_LIST_MAX)
			json_array_append(to, v);
		else
			(*unlisted)++;
	}
}

void ctgov_report_reject(struct ctgov_report *r, const char *where, const char *nct,
			 const char *fmt, ...)
{
	char reason[1024];
	va_list ap;

	r->studies.rejected++;
	if (json_array_size(r->rejected) >= CTGOV_REPORT_LIST_MAX) {
		r->rejected_unlisted++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	ctgov_reject(r->rejected, where, nct, NULL, "%s", reason);
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
	extend_listed(r->rejected, o->rejected, &r->rejected_unlisted);
	extend_listed(r->notes, o->notes, &r->notes_unlisted);
}

/* Everything of one report into another. */
void ctgov_report_merge(struct ctgov_report *r, const struct ctgov_report *part)
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
	r->rejected_unlisted += part->rejected_unlisted;
	r->notes_unlisted += part->notes_unlisted;
	extend_listed(r->rejected, part->rejected, &r->rejected_unlisted);
	extend_listed(r->notes, part->notes, &r->notes_unlisted);
}

int ctgov_txn_begin(struct db *db)
{
	struct err e;
	int rc = db_begin(db);

	if (rc)
		return rc;
	err_init(&e);
	rc = audit_batch_begin(db, &e);
	err_release(&e);
	if (rc)
		db_rollback(db);
	return rc;
}

int ctgov_txn_commit(struct db *db)
{
	struct err e;
	int rc;

	err_init(&e);
	rc = audit_batch_end(db, true, &e);
	err_release(&e);
	if (rc) {
		db_rollback(db);
		return rc;
	}
	return db_commit(db);
}

void ctgov_txn_rollback(struct db *db)
{
	struct err e;

	err_init(&e);
	audit_batch_end(db, false, &e);
	err_release(&e);
	db_rollback(db);
}

/* One record, in its own transaction; or, in a batch, inside the caller's,
 * answering the store's refusal instead of reporting it (the caller rolls
 * back and does the record again on its own). */
int ctgov_import_one(struct db *db, const struct actor *a, const json_t *record,
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
		ctgov_report_reject(r, where, NULL, "%s",
				    json_is_object(record)
					    ? "no protocolSection object: not a CT.gov study record"
					    : "not a JSON object: not a CT.gov study record");
		return 0;
	}
	if (!nct || !study_nct_valid(nct)) {
		ctgov_report_reject(r, where, nct, "invalid NCT id '%s': expected NCT followed by 8 digits",
				    nct ? nct : "");
		return 0;
	}
	o.rejected = json_array();
	o.notes = json_array();
	study = ctgov_map_study(ps, &o, why, sizeof(why));
	if (!study) {
		ctgov_report_reject(r, where, nct, "%s", why);
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
	rc = batch ? db_begin(db) : ctgov_txn_begin(db);
	if (rc) {
		err_set(&e, rc, "the store is busy");
	} else {
		rc = ctgov_import_study(db, a, ps, study, sites, &o, &e);
		if (rc && batch)
			db_rollback(db);
		else if (rc)
			ctgov_txn_rollback(db);
		else if ((rc = batch ? db_commit(db) : ctgov_txn_commit(db)))
			err_set(&e, rc, "cannot commit: %s", db_errmsg(db));
	}
	if (rc && batch) {
		err_release(&e);
		goto done;
	}
	if (rc) {
		err_describe(&e, why, sizeof(why));
		ctgov_report_reject(r, where, nct, "%s", why);
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
	ctgov_import_one(db, a, record, where, r, false);
}

/* The whole of f in *data (the caller frees it) and *len. The file's size
 * sizes the buffer, so the text is read once, straight into it: a buffer
 * grown chunk by chunk copied a large file three times, before any record
 * could be parsed. */
static int read_all(FILE *f, const char *path, char **data, size_t *len, struct err *e)
{
	struct stat st;
	size_t cap = 1 << 16, n;

	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0 &&
	    st.st_size <= CTGOV_MAX_FILE_BYTES)
		cap = (size_t)st.st_size + 1; /* one more byte to see the end */
	*data = xmalloc(cap);
	*len = 0;
	while ((n = fread(*data + *len, 1, cap - *len, f)) > 0) {
		*len += n;
		if (*len > CTGOV_MAX_FILE_BYTES)
			return err_set(e, CTMS_EIO, "%s is larger than %ld MB", path,
				       (long)(CTGOV_MAX_FILE_BYTES >> 20));
		if (*len == cap) {
			cap *= 2;
			*data = xrealloc(*data, cap);
		}
	}
	if (ferror(f))
		return err_set(e, CTMS_EIO, "cannot read %s: %s", path, strerror(errno));
	return 0;
}

int ctgov_import_file(struct db *db, const struct actor *a, const char *path,
		      struct ctgov_report *r, struct err *e)
{
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t len = 0;
	int rc;

	if (!f)
		return err_set(e, CTMS_EIO, "cannot read %s: %s", path, strerror(errno));
	rc = read_all(f, path, &data, &len, e);
	fclose(f);
	if (!rc)
		rc = ctgov_import_buffer(db, a, name, data, len, r, e);
	free(data);
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
	return json_pack("{s:o, s:o, s:{s:I, s:I, s:I, s:I, s:I}, s:O, s:I, s:O, s:I}", "studies",
			 counts_json(&r->studies), "study_sites", counts_json(&r->study_sites),
			 "adapted", "month_dates", (json_int_t)r->month_dates, "phase_absent",
			 (json_int_t)r->phase_absent, "zone_main", (json_int_t)r->zone_main,
			 "no_investigator", (json_int_t)r->no_investigator, "city_merged",
			 (json_int_t)r->city_merged, "rejected", r->rejected, "rejected_not_listed",
			 (json_int_t)r->rejected_unlisted, "notes", r->notes, "notes_not_listed",
			 (json_int_t)r->notes_unlisted);
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
	if (r->rejected_unlisted)
		fprintf(out, "rejected: %lld more not listed (the first %d are)\n",
			(long long)r->rejected_unlisted, CTGOV_REPORT_LIST_MAX);
	json_array_foreach(r->notes, i, item)
		fprintf(out, "note %s %s: %s\n", json_str(item, "where"), json_str(item, "nct_id"),
			json_str(item, "note"));
	if (r->notes_unlisted)
		fprintf(out, "notes: %lld more not listed (the first %d are)\n",
			(long long)r->notes_unlisted, CTGOV_REPORT_LIST_MAX);
}
