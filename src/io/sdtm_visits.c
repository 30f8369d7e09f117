/* The subject visits of an SDTM import: SV rows, scheduled when TV knows
 * their VISITNUM, unscheduled otherwise. A subject's visits are one
 * transaction; when the domain refuses one, each is retried alone so the
 * others load and the refused one is reported with its reason. */
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "domain/visit.h"
#include "io/sdtm_internal.h"
#include "util/json.h"

struct visit_columns {
	int subject, number, name, start, end;
};

/* The key of a visit for re-imports: its schedule number, or for an
 * unscheduled one its name and date. */
static void visit_key(const char *number, const char *name, const char *on, char *key, size_t len)
{
	if (number)
		snprintf(key, len, "N:%s", number);
	else
		snprintf(key, len, "U:%s|%s", name ? name : "", on ? on : "");
}

/* The visit input of SV row i; NULL with why set when it cannot be mapped. */
static json_t *visit_fields(struct sdtm_import *im, const json_t *schedule,
			    const struct visit_columns *c, size_t i, char *key, size_t key_len,
			    char *why, size_t len)
{
	const char *number = csv_cell(&im->sv, i, c->number);
	const char *name = csv_cell(&im->sv, i, c->name);
	const char *start = csv_cell(&im->sv, i, c->start);
	const char *end = csv_cell(&im->sv, i, c->end);
	char on[DATE_LEN], end_on[DATE_LEN];
	json_t *in;

	if (date_of_iso8601(start, on)) {
		snprintf(why, len, "SVSTDTC '%s' is not a full date", start);
		return NULL;
	}
	in = json_pack("{s:s}", "visit_on", on);
	if (!date_of_iso8601(end, end_on))
		json_object_set_new(in, "end_on", json_string(end_on));
	if (json_object_get(schedule, number)) {
		json_object_set_new(in, "visit_number", json_string(number));
		visit_key(number, NULL, NULL, key, key_len);
	} else {
		char notes[64];
		if (!name[0])
			name = "Unscheduled";
		json_object_set_new(in, "name", json_string(name));
		snprintf(notes, sizeof(notes), "SDTM VISITNUM %s", number);
		json_object_set_new(in, "notes", json_string(notes));
		visit_key(NULL, name, on, key, key_len);
		im->r->unscheduled_visits++;
	}
	return in;
}

static void reject_visit(struct sdtm_import *im, size_t row, const char *usubjid,
			 const struct err *e, const char *why)
{
	char where[64], text[1024];

	snprintf(where, sizeof(where), "sv.csv:%zu", row + 2);
	if (e)
		err_describe(e, text, sizeof(text));
	sdtm_reject(im->r, where, usubjid, "%s", e ? text : why);
	im->r->visits.rejected++;
}

/* Writes the subject's new visits (inputs[k] for rows[k]). */
static int write_visits(struct sdtm_import *im, const struct sdtm_subject *s, json_t *inputs,
			json_t *rows, struct err *e)
{
	size_t k;
	json_t *in;
	int rc = db_begin(im->db);

	if (rc)
		return err_set(e, rc, "the store is busy");
	json_array_foreach(inputs, k, in)
		if ((rc = record_create(im->db, im->a, &subject_visit_def, s->id, in, NULL, e)))
			break;
	if (rc)
		db_rollback(im->db);
	else if ((rc = db_commit(im->db)))
		err_set(e, rc, "cannot commit: %s", db_errmsg(im->db));
	if (!rc) {
		im->r->visits.created += (int64_t)json_array_size(inputs);
		return 0;
	}
	/* One at a time: each its own transaction. */
	err_release(e);
	err_init(e);
	json_array_foreach(inputs, k, in) {
		struct err one;
		err_init(&one);
		if (record_create(im->db, im->a, &subject_visit_def, s->id, in, NULL, &one))
			reject_visit(im, (size_t)json_integer_value(json_array_get(rows, k)), s->usubjid,
				     &one, NULL);
		else
			im->r->visits.created++;
		err_release(&one);
	}
	return 0;
}

static int subject_visits(struct sdtm_import *im, const struct sdtm_subject *s,
			  const json_t *schedule, const struct visit_columns *c, const json_t *rows,
			  struct err *e)
{
	json_t *existing = json_object(), *inputs = json_array(), *kept = json_array(), *row;
	char key[512], why[512];
	size_t k;
	int rc = 0;

	if (s->existed) {
		/* Only a subject already in ctms can hold visits already. */
		json_t *items = NULL, *v;
		struct list_query q = {.parent_id = s->id, .limit = 1000};
		int64_t next = 0;
		do {
			q.after_id = next;
			if ((rc = record_list(im->db, im->a, &subject_visit_def, &q, &items, &next, e)))
				break;
			json_array_foreach(items, k, v) {
				visit_key(json_str(v, "visit_number"), json_str(v, "name"),
					  json_str(v, "visit_on"), key, sizeof(key));
				json_object_set_new(existing, key, json_true());
			}
			json_decref(items);
		} while (next);
	}
	json_array_foreach(rows, k, row) {
		size_t i = (size_t)json_integer_value(row);
		json_t *in;
		if (rc)
			break;
		in = visit_fields(im, schedule, c, i, key, sizeof(key), why, sizeof(why));
		if (!in) {
			reject_visit(im, i, s->usubjid, NULL, why);
		} else if (json_object_get(existing, key)) {
			im->r->visits.unchanged++;
			json_decref(in);
		} else {
			json_object_set_new(existing, key, json_true());
			json_array_append_new(inputs, in);
			json_array_append(kept, row);
		}
	}
	if (!rc && json_array_size(inputs))
		rc = write_visits(im, s, inputs, kept, e);
	json_decref(existing);
	json_decref(inputs);
	json_decref(kept);
	return rc;
}

int sdtm_visits_import(struct sdtm_import *im, struct err *e)
{
	struct visit_columns c = {
		csv_column(&im->sv, "USUBJID"), csv_column(&im->sv, "VISITNUM"),
		csv_column(&im->sv, "VISIT"),   csv_column(&im->sv, "SVSTDTC"),
		csv_column(&im->sv, "SVENDTC"),
	};
	int tv_number = csv_column(&im->tv, "VISITNUM");
	json_t *schedule = json_object(), *by_subject = json_object(), *rows;
	int rc = 0;

	for (size_t i = 0; i < im->tv.nrows; i++)
		json_object_set_new(schedule, csv_cell(&im->tv, i, tv_number), json_true());
	for (size_t i = 0; i < im->sv.nrows; i++) {
		const char *id = csv_cell(&im->sv, i, c.subject);
		rows = json_object_get(by_subject, id);
		if (!rows) {
			rows = json_array();
			json_object_set_new(by_subject, id, rows);
		}
		json_array_append_new(rows, json_integer((json_int_t)i));
	}
	for (size_t i = 0; !rc && i < im->dm.nrows; i++) {
		const struct sdtm_subject *s = &im->subjects[i];
		rows = json_object_get(by_subject, s->usubjid);
		if (!rows)
			continue;
		if (s->skip || !s->id) {
			size_t k;
			json_t *row;
			json_array_foreach(rows, k, row)
				reject_visit(im, (size_t)json_integer_value(row), s->usubjid, NULL,
					     "the subject was rejected");
		} else {
			rc = subject_visits(im, s, schedule, &c, rows, e);
		}
		json_object_del(by_subject, s->usubjid);
	}
	const char *id;
	json_object_foreach(by_subject, id, rows) {
		size_t k;
		json_t *row;
		json_array_foreach(rows, k, row)
			reject_visit(im, (size_t)json_integer_value(row), id, NULL,
				     "USUBJID is not a subject of dm.csv");
	}
	json_decref(schedule);
	json_decref(by_subject);
	return rc;
}
