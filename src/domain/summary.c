#include "domain/summary.h"

#include "db/db.h"
#include "util/err.h"

static int count_by_status(struct db *db, const char *sql, int64_t study_id, json_t *into,
			   int64_t *total, struct err *e)
{
	struct db_stmt *st;
	int rc = db_prepare(db, sql, &st);
	if (rc)
		return err_set(e, rc, "cannot summarise the study: %s", db_errmsg(db));
	db_bind_int(st, 1, study_id);
	while ((rc = db_step(st)) == 1) {
		json_object_set_new(into, db_column_text(st, 0), json_integer(db_column_int(st, 1)));
		*total += db_column_int(st, 1);
	}
	return rc < 0 ? err_set(e, rc, "cannot summarise the study: %s", db_errmsg(db)) : 0;
}

int study_summary(struct db *db, int64_t study_id, json_t **out, struct err *e)
{
	static const char *const subject_states[] = {"screened", "screen_failed", "enrolled",
						     "completed", "withdrawn"};
	static const char *const site_states[] = {"identified", "feasibility", "selected",
						  "approved",   "contracted",  "initiated",
						  "activated",  "enrolling",   "closed"};
	struct db_stmt *st;
	int64_t target = 0, subjects = 0, sites = 0;
	json_t *by_subject = json_object(), *by_site = json_object();
	int rc;

	*out = NULL;
	for (size_t i = 0; i < sizeof(subject_states) / sizeof(*subject_states); i++)
		json_object_set_new(by_subject, subject_states[i], json_integer(0));
	for (size_t i = 0; i < sizeof(site_states) / sizeof(*site_states); i++)
		json_object_set_new(by_site, site_states[i], json_integer(0));

	rc = db_prepare(db, "SELECT target_enrollment, protocol_number, status FROM studies WHERE id = $1",
			&st);
	if (rc) {
		err_set(e, rc, "cannot read study: %s", db_errmsg(db));
		goto fail;
	}
	db_bind_int(st, 1, study_id);
	rc = db_step(st);
	if (rc != 1) {
		rc = rc == 0 ? err_set(e, CTMS_ENOTFOUND, "study %lld was not found", (long long)study_id)
			     : err_set(e, rc, "cannot read study: %s", db_errmsg(db));
		goto fail;
	}
	target = db_column_int(st, 0);
	json_t *head = json_pack("{s:I, s:s, s:s}", "study_id", (json_int_t)study_id,
				 "protocol_number", db_column_text(st, 1), "status", db_column_text(st, 2));
	db_done(st);

	rc = count_by_status(db,
			     "SELECT status, count(*) FROM subjects WHERE study_id = $1 GROUP BY status",
			     study_id, by_subject, &subjects, e);
	if (!rc)
		rc = count_by_status(db,
				     "SELECT status, count(*) FROM study_sites WHERE study_id = $1"
				     " GROUP BY status",
				     study_id, by_site, &sites, e);
	if (rc) {
		json_decref(head);
		goto fail;
	}
	/* Enrolled counts everyone who was ever enrolled, whatever happened since. */
	int64_t enrolled = json_integer_value(json_object_get(by_subject, "enrolled")) +
			   json_integer_value(json_object_get(by_subject, "completed")) +
			   json_integer_value(json_object_get(by_subject, "withdrawn"));
	json_object_set_new(head, "subjects", json_pack("{s:I, s:o}", "total", (json_int_t)subjects,
						       "by_status", by_subject));
	json_object_set_new(head, "sites", json_pack("{s:I, s:o}", "total", (json_int_t)sites,
						    "by_status", by_site));
	json_object_set_new(
		head, "enrollment",
		json_pack("{s:I, s:I, s:f}", "enrolled", (json_int_t)enrolled, "target", (json_int_t)target,
			  "percent_of_target",
			  target ? (double)((enrolled * 1000 + target / 2) / target) / 10.0 : 0.0));
	*out = head;
	return 0;
fail:
	json_decref(by_subject);
	json_decref(by_site);
	return rc;
}
