/* The ODM import (odm.h): plan each subject from the parsed document, then
 * write it through the domain. */
#include "io/odm.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db/db.h"
#include "domain/access.h"
#include "domain/codes.h"
#include "domain/record.h"
#include "domain/study.h"
#include "domain/study_site.h"
#include "domain/subject.h"
#include "domain/visit.h"
#include "io/odm_internal.h"
#include "io/odm_parse.h"
#include "util/buf.h"
#include "util/date.h"
#include "util/json.h"


void odm_report_init(struct odm_report *r)
{
	memset(r, 0, sizeof(*r));
	r->rejected = json_array();
	r->notes = json_array();
}

void odm_report_release(struct odm_report *r)
{
	json_decref(r->rejected);
	json_decref(r->notes);
	r->rejected = r->notes = NULL;
}

void odm_reject(struct import *im, json_int_t line, const char *key, const char *fmt, ...)
{
	char reason[1024], where[32];
	va_list ap;

	if (json_array_size(im->r->rejected) >= ODM_REPORT_LIST_MAX) {
		im->r->rejected_unlisted++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	snprintf(where, sizeof(where), "line %lld", (long long)line);
	json_array_append_new(im->r->rejected, json_pack("{s:s, s:s?, s:s}", "where", where, "key",
							 key, "reason", reason));
}

void odm_note(struct import *im, json_int_t line, const char *fmt, ...)
{
	char message[1024], where[32];
	va_list ap;

	if (json_array_size(im->r->notes) >= ODM_REPORT_LIST_MAX) {
		im->r->notes_unlisted++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	snprintf(where, sizeof(where), "line %lld", (long long)line);
	json_array_append_new(im->r->notes, json_pack("{s:s, s:s}", "where", where, "note", message));
}

static int find_study(struct import *im, const char *protocol, struct err *e)
{
	struct list_filter filter = {"protocol_number", protocol};
	struct list_query q = {.limit = 1, .filters = &filter, .nfilters = 1};
	json_t *items = NULL;
	int64_t next;
	int rc = record_list(im->db, im->a, &study_def, &q, &items, &next, e);

	if (!rc && !json_array_size(items))
		rc = err_set(e, CTMS_ENOTFOUND, "no study has the protocol number '%s'", protocol);
	if (!rc)
		im->study_id = json_int(json_array_get(items, 0), "id", 0);
	json_decref(items);
	return rc;
}

const json_t *odm_event_def(struct import *im, const char *oid)
{
	return json_object_get(json_object_get(im->doc, "event_defs"), oid ? oid : "");
}

bool odm_unscheduled(const json_t *def)
{
	return json_str(def, "type") && !strcmp(json_str(def, "type"), "Unscheduled");
}

bool odm_common(const json_t *def)
{
	return json_str(def, "type") && !strcmp(json_str(def, "type"), "Common");
}

/* The definition number a scheduled event maps to, planning a new
 * definition (into create) when the study has none. */
static const char *plan_definition(struct import *im, const char *oid, json_t *create)
{
	const json_t *def = odm_event_def(im, oid);
	const char *name = json_str(def, "name") ? json_str(def, "name") : oid, *number;
	json_t *d;
	void *iter;
	char generated[24];

	if ((number = json_str(im->event_map, oid)))
		return number;
	if (json_object_get(im->definitions, oid)) {
		number = oid;
	} else {
		for (iter = json_object_iter(im->definitions); iter;
		     iter = json_object_iter_next(im->definitions, iter)) {
			d = json_object_iter_value(iter);
			if (!strcmp(json_str(d, "name"), name)) {
				number = json_object_iter_key(iter);
				break;
			}
		}
	}
	if (!number) {
		number = oid;
		if (strlen(oid) > 16) {
			snprintf(generated, sizeof(generated), "E%zu", json_object_size(im->definitions) + 1);
			number = generated;
		}
		d = json_pack("{s:s, s:s%}", "number", number, "name", name, strlen(name) > 200 ? 200 : strlen(name));
		json_object_set_new(create, number, json_incref(d));
		json_object_set_new(im->definitions, number, d);
	}
	json_object_set_new(im->event_map, oid, json_string(number));
	return json_str(im->event_map, oid);
}

/* The date of an event: its SVSTDTC-like item, else its AuditRecord. */
int odm_event_date(struct import *im, const json_t *ev, char on[DATE_LEN], bool *by_audit,
		      char *why, size_t len)
{
	const char *start = json_str(ev, "start"), *stamp = json_str(ev, "stamp");

	*by_audit = false;
	if (start) {
		if (!date_of_iso8601(start, on))
			return 0;
		snprintf(why, len, "visit date '%.40s' is not a full date (YYYY-MM-DD)", start);
		return -1;
	}
	if (stamp && !date_of_iso8601(stamp, on)) {
		*by_audit = true;
		return 0;
	}
	snprintf(why, len, "no visit date: the event has no SVSTDTC/VISITDTC item and no dated AuditRecord");
	return -1;
}

/* Plans the visit definitions the dated events need and writes the new
 * ones in one transaction. */
static int ensure_definitions(struct import *im, struct err *e)
{
	json_t *create = json_object(), *subject, *ev, *d;
	const char *number;
	size_t i, k;
	int rc = 0;

	json_array_foreach(json_object_get(im->doc, "subjects"), i, subject)
		json_array_foreach(json_object_get(subject, "events"), k, ev) {
			const json_t *def = odm_event_def(im, json_str(ev, "oid"));
			char on[DATE_LEN], why[8];
			bool by_audit;
			if (!json_str(ev, "oid") || odm_unscheduled(def) ||
			    odm_event_date(im, ev, on, &by_audit, why, sizeof(why)))
				continue;
			plan_definition(im, json_str(ev, "oid"), create);
		}
	if (json_object_size(create) && !(rc = db_begin(im->db))) {
		json_object_foreach(create, number, d) {
			if ((rc = record_create(im->db, im->a, &visit_definition_def, im->study_id, d, NULL, e)))
				break;
		}
		if (rc)
			db_rollback(im->db);
		else if ((rc = db_commit(im->db)))
			err_set(e, rc, "cannot commit the visit definitions: %s", db_errmsg(im->db));
	} else if (rc) {
		err_set(e, rc, "the store is busy");
	}
	if (!rc)
		im->r->definitions.created += (int64_t)json_object_size(create);
	json_decref(create);
	return rc;
}


int odm_import(struct db *db, const struct actor *a, const char *protocol, const char *data,
	       size_t len, const struct odm_options *options, struct odm_report *r, struct err *e)
{
	static const struct odm_options none;
	struct import im = {.db = db, .a = a, .options = options ? options : &none, .r = r};
	int rc = odm_parse(data, len, &im.doc, e);

	if (!rc)
		rc = find_study(&im, protocol, e);
	if (!rc) {
		r->study_id = im.study_id;
		r->audit_records = json_int(im.doc, "audit_records", 0);
		r->vendor_elements = json_int(im.doc, "vendor_elements", 0);
		r->item_data = json_int(im.doc, "item_data", 0);
		im.event_map = json_object();
		rc = record_index(im.db, im.a, &study_site_def, im.study_id, "site_number", &im.sites, e);
	}
	if (!rc)
		rc = record_index(im.db, im.a, &visit_definition_def, im.study_id, "number", &im.definitions, e);
	if (!rc)
		rc = ensure_definitions(&im, e);
	if (!rc)
		rc = odm_subjects_import(&im, e);
	json_decref(im.doc);
	json_decref(im.sites);
	json_decref(im.definitions);
	json_decref(im.event_map);
	return rc;
}

int odm_import_file(struct db *db, const struct actor *a, const char *protocol, const char *path,
		    const struct odm_options *options, struct odm_report *r, struct err *e)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char chunk[65536];
	size_t n;
	int rc = 0;

	if (!f)
		return err_set(e, CTMS_EIO, "cannot read %s: %s", path, strerror(errno));
	buf_init(&b, ODM_MAX_BYTES);
	while (!rc && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_add(&b, chunk, n))
			rc = err_set(e, CTMS_ETOOBIG, "%s is larger than the %zu bytes an ODM import takes",
				     path, ODM_MAX_BYTES);
	if (!rc && ferror(f))
		rc = err_set(e, CTMS_EIO, "cannot read %s", path);
	fclose(f);
	if (!rc)
		rc = odm_import(db, a, protocol, b.ptr, b.len, options, r, e);
	buf_release(&b);
	return rc;
}

static json_t *counts_json(const struct import_counts *c)
{
	return json_pack("{s:I, s:I, s:I}", "created", (json_int_t)c->created, "unchanged",
			 (json_int_t)c->unchanged, "rejected", (json_int_t)c->rejected);
}

json_t *odm_report_json(const struct odm_report *r)
{
	return json_pack("{s:I, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:O, s:I, "
			 "s:O, s:I}",
			 "study_id", (json_int_t)r->study_id, "visit_definitions",
			 counts_json(&r->definitions), "subjects", counts_json(&r->subjects), "visits",
			 counts_json(&r->visits), "audit_records", (json_int_t)r->audit_records,
			 "vendor_elements", (json_int_t)r->vendor_elements, "item_data",
			 (json_int_t)r->item_data, "common_events", (json_int_t)r->common_events,
			 "duplicate_subjects", (json_int_t)r->duplicate_subjects, "sex_unknown",
			 (json_int_t)r->sex_unknown, "age_from_birth", (json_int_t)r->age_from_birth,
			 "dated_by_audit", (json_int_t)r->dated_by_audit, "rejected", r->rejected,
			 "rejected_not_listed", (json_int_t)r->rejected_unlisted, "notes", r->notes,
			 "notes_not_listed", (json_int_t)r->notes_unlisted);
}

void odm_report_print(FILE *out, const struct odm_report *r)
{
	const json_t *item;
	size_t i;

	fprintf(out, "study id: %lld\n", (long long)r->study_id);
	import_counts_print(out, "visit definitions", &r->definitions);
	import_counts_print(out, "subjects", &r->subjects);
	import_counts_print(out, "visits", &r->visits);
	fprintf(out, "duplicate subjects: %lld\n", (long long)r->duplicate_subjects);
	fprintf(out,
		"read: %lld item data, %lld audit records (a subject's or event's is the reason of "
		"the audit event that creates its record; their dates date what nothing else "
		"dates), %lld vendor extension elements (ignored)\n",
		(long long)r->item_data, (long long)r->audit_records, (long long)r->vendor_elements);
	fprintf(out,
		"adapted: %lld undated Common events taken as subject-level data, not visits; %lld "
		"visits dated by their AuditRecord; %lld subjects without a sex code recorded U; %lld "
		"ages computed from the birth date\n",
		(long long)r->common_events, (long long)r->dated_by_audit, (long long)r->sex_unknown,
		(long long)r->age_from_birth);
	json_array_foreach(r->rejected, i, item)
		fprintf(out, "rejected %s %s: %s\n", json_str(item, "where"),
			json_str(item, "key") ? json_str(item, "key") : "-", json_str(item, "reason"));
	if (r->rejected_unlisted)
		fprintf(out, "rejected: %lld more not listed (the first %d are)\n",
			(long long)r->rejected_unlisted, ODM_REPORT_LIST_MAX);
	json_array_foreach(r->notes, i, item)
		fprintf(out, "note %s: %s\n", json_str(item, "where"), json_str(item, "note"));
	if (r->notes_unlisted)
		fprintf(out, "notes: %lld more not listed (the first %d are)\n",
			(long long)r->notes_unlisted, ODM_REPORT_LIST_MAX);
}
