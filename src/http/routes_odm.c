#include "http/routes_odm.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "domain/access.h"
#include "domain/record.h"
#include "domain/study.h"
#include "domain/subject.h"
#include "domain/visit.h"
#include "io/odm.h"
#include "util/json.h"

/* application/xml, text/xml or application/<x>+xml, parameters aside. */
static bool xml_media_type(const char *type)
{
	size_t n = type ? strcspn(type, ";") : 0;

	while (n && type[n - 1] == ' ')
		n--;
	return type && ((n == 15 && !strncasecmp(type, "application/xml", 15)) ||
			(n == 8 && !strncasecmp(type, "text/xml", 8)) ||
			(n > 16 && !strncasecmp(type, "application/", 12) &&
			 !strncasecmp(type + n - 4, "+xml", 4)));
}

/* The study of ?study=PROTOCOL as the actor sees it, and whether the actor
 * may import into it: create its visit definitions and, study-wide, its
 * subjects. Replies and returns an error when not. */
static int import_target(struct request *r, int64_t *study_id, struct err *e)
{
	const char *protocol = request_query(r, "study");
	struct list_filter filter = {"protocol_number", protocol};
	struct list_query q = {.limit = 1, .filters = &filter, .nfilters = 1};
	json_t *items = NULL, *scope;
	int64_t next;
	int rc;

	if (!protocol || !protocol[0])
		return err_field(e, "study", "is required: the protocol number of the study to import into");
	if ((rc = record_list(r->db, r->actor, &study_def, &q, &items, &next, e)))
		return rc;
	*study_id = json_int(json_array_get(items, 0), "id", 0);
	json_decref(items);
	if (!*study_id)
		return err_set(e, CTMS_ENOTFOUND, "no study has the protocol number '%s'", protocol);
	scope = json_pack("{s:I, s:I}", "study_id", (json_int_t)*study_id, "study_site_id", (json_int_t)0);
	rc = access_write(r->actor, &visit_definition_def, ACCESS_CREATE, scope, e);
	if (!rc)
		rc = access_write(r->actor, &subject_def, ACCESS_CREATE, scope, e);
	json_decref(scope);
	return rc;
}

void h_odm_import(struct request *r)
{
	struct odm_options options = {.default_site = request_query(r, "site")};
	struct odm_report report;
	int64_t study_id = 0;
	struct err e;

	err_init(&e);
	odm_report_init(&report);
	if (import_target(r, &study_id, &e)) {
		/* answered below */
	} else if (!xml_media_type(request_header(r, "Content-Type"))) {
		err_set(&e, CTMS_EMEDIATYPE, "send the ODM document as Content-Type: application/xml");
	} else if (!r->body || !r->body_len) {
		err_set(&e, CTMS_EBADREQ, "the request needs an ODM document as its body");
	} else if (!odm_import(r->db, r->actor, request_query(r, "study"), r->body, r->body_len, &options,
			       &report, &e)) {
		reply_json(r, 200, odm_report_json(&report));
	}
	if (e.code)
		reply_error(r, &e, NULL);
	odm_report_release(&report);
	err_release(&e);
}

void h_study_odm(struct request *r)
{
	char *xml = NULL;
	size_t len = 0;
	struct err e;

	err_init(&e);
	if (odm_export(r->db, r->actor, r->ids[0], &xml, &len, &e)) {
		reply_error(r, &e, NULL);
	} else {
		free(r->reply);
		r->status = 200;
		r->reply = xml;
		r->reply_len = len;
		r->content_type = "application/xml";
		snprintf(r->content_disposition, sizeof(r->content_disposition),
			 "attachment; filename=\"study-%lld-odm.xml\"", (long long)r->ids[0]);
	}
	err_release(&e);
}
