/* Imports over the API: the same code paths as `ctms import`, acting as the
 * signed-in user, so the domain checks every record against their roles. */
#include "http/routes_import.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "domain/access.h"
#include "domain/actor.h"
#include "domain/record.h"
#include "domain/study.h"
#include "io/ctgov.h"
#include "util/json.h"

const enum csv_import_kind import_sites_kind = CSV_IMPORT_SITES;
const enum csv_import_kind import_subjects_kind = CSV_IMPORT_SUBJECTS;

/* The body's media type without parameters, compared case-insensitively. */
static bool media_type_is(struct request *r, const char *want)
{
	const char *type = request_header(r, "Content-Type");
	size_t n = type ? strcspn(type, ";") : 0;

	while (n && type[n - 1] == ' ')
		n--;
	return type && n == strlen(want) && !strncasecmp(type, want, n);
}

/* ClinicalTrials.gov records create studies, which only a global grant may
 * (access.h): anyone else is refused before anything is read. */
void h_import_ctgov(struct request *r)
{
	struct ctgov_report report;
	json_t *nothing = json_object();
	struct err e;
	int rc;

	err_init(&e);
	rc = access_write(r->actor, &study_def, ACCESS_CREATE, nothing, &e);
	json_decref(nothing);
	if (rc) {
		reply_error(r, &e, NULL);
		err_release(&e);
		return;
	}
	if (!media_type_is(r, "application/json") && !media_type_is(r, "application/x-ndjson") &&
	    !media_type_is(r, "application/jsonl")) {
		reply_problem(r, CTMS_EMEDIATYPE,
			      "send the records as Content-Type: application/json (an array, or one "
			      "study per line) or application/x-ndjson");
		return;
	}
	if (!r->body || !r->body_len) {
		reply_problem(r, CTMS_EBADREQ, "the request needs a body: CT.gov study records");
		return;
	}
	ctgov_report_init(&report);
	rc = ctgov_import_buffer(r->db, r->actor, "body", r->body, r->body_len, &report, &e);
	if (rc) {
		e.code = CTMS_EBADREQ; /* the body as a whole is not JSON */
		reply_error(r, &e, NULL);
	} else {
		reply_json(r, 200, ctgov_report_json(&report));
	}
	ctgov_report_release(&report);
	err_release(&e);
}

/* Whether one of the actor's grants may create records of def somewhere
 * in the study (a site grant: at its site); the rows are checked one by
 * one all the same. */
static bool may_create_in(const struct actor *a, const struct entity_def *def, int64_t study_id)
{
	if (a->system)
		return true;
	for (size_t i = 0; i < a->ngrants; i++) {
		const struct grant *g = &a->grants[i];
		bool global = !g->study_id && !g->study_site_id;
		if (access_role_allows(g->role, def, ACCESS_CREATE) && (global || g->study_id == study_id))
			return true;
	}
	return false;
}

static void reply_import_problem(struct request *r, const struct csv_import_report *report,
				 const struct err *e)
{
	json_t *p = json_pack("{s:s, s:s, s:i, s:s, s:O}", "type", "urn:ctms:problem:validation",
			      "title", "The file has invalid rows", "status", 422, "detail", e->detail,
			      "errors", report->errors);
	reply_json(r, 422, p);
	r->content_type = "application/problem+json";
}

void h_import_csv(struct request *r)
{
	enum csv_import_kind kind = *(const enum csv_import_kind *)r->route_arg;
	const struct entity_def *def = csv_import_def(kind);
	struct csv_import_report report;
	struct err e;
	int rc;

	err_init(&e);
	if ((rc = record_parent_exists(r->db, r->actor, def, r->ids[0], &e))) {
		reply_error(r, &e, NULL);
		err_release(&e);
		return;
	}
	if (kind == CSV_IMPORT_SITES) {
		/* A new study-site: as POST /studies/{id}/sites decides. */
		json_t *scope = json_pack("{s:I}", "study_id", (json_int_t)r->ids[0]);
		rc = access_write(r->actor, def, ACCESS_CREATE, scope, &e);
		json_decref(scope);
		if (rc) {
			reply_error(r, &e, NULL);
			err_release(&e);
			return;
		}
	} else if (!may_create_in(r->actor, def, r->ids[0])) {
		reply_problem(r, CTMS_EFORBIDDEN, "your roles do not allow you to create these records");
		err_release(&e);
		return;
	}
	if (!media_type_is(r, "text/csv")) {
		reply_problem(r, CTMS_EMEDIATYPE, "send the file as Content-Type: text/csv");
		err_release(&e);
		return;
	}
	csv_import_report_init(&report);
	rc = csv_import(r->db, r->actor, r->ids[0], kind, "body", r->body ? r->body : "",
			r->body_len, &report, &e);
	if (!rc)
		reply_json(r, 201, json_pack("{s:s, s:I, s:I}", "kind", csv_import_kind_name(kind),
					     "rows", (json_int_t)report.rows, "created",
					     (json_int_t)report.created));
	else if (json_array_size(report.errors))
		reply_import_problem(r, &report, &e);
	else
		reply_error(r, &e, NULL);
	csv_import_report_release(&report);
	err_release(&e);
}

void h_import_template(struct request *r)
{
	char *text = csv_import_template(*(const enum csv_import_kind *)r->route_arg);
	reply_text(r, 200, "text/csv; charset=utf-8", text);
	free(text);
}
