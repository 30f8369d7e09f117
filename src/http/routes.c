/* The API: the route table and its handlers. Handlers parse, call the
 * domain, and render; rules live in the domain. */
#include "http/router.h"

#include <errno.h>
#include <microhttpd.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "domain/access.h"
#include "domain/actor.h"
#include "domain/adverse_event.h"
#include "domain/audit.h"
#include "domain/diversity.h"
#include "domain/enrollment.h"
#include "domain/enrollment_forecast.h"
#include "domain/enrollment_plan.h"
#include "domain/exposure.h"
#include "domain/milestone.h"
#include "domain/organisation.h"
#include "domain/protocol_version.h"
#include "domain/record.h"
#include "domain/site.h"
#include "domain/study.h"
#include "domain/study_site.h"
#include "domain/subject.h"
#include "domain/summary.h"
#include "domain/visit.h"
#include "http/routes_auth.h"
#include "http/routes_import.h"
#include "http/routes_odm.h"
#include "http/routes_export.h"
#include "http/routes_portfolio.h"
#include "http/server.h"
#include "util/buf.h"
#include "util/date.h"
#include "util/json.h"

#define MAX_FILTERS 8

struct page {
	int limit;
	int64_t after;
};

/* limit and cursor; replies 400 and returns an error when either is bad. */
static int parse_page(struct request *r, struct page *p)
{
	const char *limit = request_query(r, "limit"), *cursor = request_query(r, "cursor");
	p->limit = 50;
	p->after = 0;
	if (limit) {
		char *end;
		errno = 0;
		long v = strtol(limit, &end, 10);
		if (errno || *end || end == limit || v < 1 || v > 1000) {
			reply_problem(r, CTMS_EBADREQ, "limit must be an integer from 1 to 1000");
			return CTMS_EBADREQ;
		}
		p->limit = (int)v;
	}
	if (cursor && request_cursor_decode(cursor, &p->after)) {
		reply_problem(r, CTMS_EBADREQ, "cursor is not one this server issued");
		return CTMS_EBADREQ;
	}
	return 0;
}

static void reply_page(struct request *r, json_t *items, int64_t next)
{
	json_t *body = json_object();
	json_object_set_new(body, "items", items);
	if (next) {
		char *c = request_cursor_encode(next);
		json_object_set_new(body, "next_cursor", json_string(c));
		free(c);
	} else {
		json_object_set_new(body, "next_cursor", json_null());
	}
	reply_json(r, 200, body);
}

struct filter_ctx {
	struct list_filter filters[MAX_FILTERS];
	size_t n;
	bool overflow;
};

static enum MHD_Result collect_filter(void *cls, enum MHD_ValueKind kind, const char *key,
				      const char *value)
{
	struct filter_ctx *f = cls;
	(void)kind;
	if (!strcmp(key, "limit") || !strcmp(key, "cursor") || !strcmp(key, "format"))
		return MHD_YES;
	if (f->n == MAX_FILTERS) {
		f->overflow = true;
		return MHD_NO;
	}
	f->filters[f->n].field = key;
	f->filters[f->n].value = value ? value : "";
	f->n++;
	return MHD_YES;
}

static void list_records(struct request *r, int64_t parent_id)
{
	const struct entity_def *def = r->route_arg;
	struct filter_ctx f = {0};
	struct list_query q = {0};
	struct page p;
	struct err e;
	json_t *items;
	int64_t next;
	enum list_format format;

	if (list_format(r, &format) || parse_page(r, &p))
		return;
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_filter, &f);
	if (f.overflow) {
		reply_problem(r, CTMS_EBADREQ, "too many filters");
		return;
	}
	q.parent_id = parent_id;
	q.after_id = p.after;
	q.limit = p.limit;
	q.filters = f.filters;
	q.nfilters = f.n;
	if (format != LIST_JSON) {
		export_records(r, format, def, &q, export_paged(r));
		return;
	}
	err_init(&e);
	if (record_list(r->db, r->actor, def, &q, &items, &next, &e))
		reply_error(r, &e, NULL);
	else
		reply_page(r, items, next);
	err_release(&e);
}

static void set_location(struct request *r, const char *collection, json_t *rec)
{
	struct buf b;
	buf_init(&b, 256);
	buf_printf(&b, "/api/v1/%s/%lld", collection, (long long)json_int(rec, "id", 0));
	r->location = buf_detach(&b);
}

/* The path segment under which single records of a kind live. */
static const char *collection_of(const struct entity_def *def)
{
	if (def == &study_site_def)
		return "study-sites";
	if (def == &protocol_version_def)
		return "protocol-versions";
	if (def == &visit_definition_def)
		return "visit-definitions";
	if (def == &subject_visit_def)
		return "visits";
	if (def == &enrollment_plan_point_def)
		return "enrollment-plan";
	if (def == &diversity_goal_def)
		return "diversity-goals";
	if (def == &adverse_event_def)
		return "adverse-events";
	return def->table;
}

static void create_record(struct request *r, int64_t parent_id)
{
	const struct entity_def *def = r->route_arg;
	json_t *input = request_json(r), *rec = NULL;
	struct err e;

	if (!input)
		return;
	err_init(&e);
	if (record_create(r->db, r->actor, def, parent_id, input, &rec, &e)) {
		reply_error(r, &e, NULL);
	} else {
		set_location(r, collection_of(def), rec);
		reply_record(r, 201, rec);
	}
	json_decref(input);
	err_release(&e);
}

/* A child collection answers 404 when its parent does not exist. */
static bool parent_exists(struct request *r)
{
	struct err e;
	int rc;

	err_init(&e);
	rc = record_parent_exists(r->db, r->actor, r->route_arg, r->ids[0], &e);
	if (rc)
		reply_error(r, &e, NULL);
	err_release(&e);
	return rc == 0;
}

static void h_list(struct request *r)
{
	list_records(r, 0);
}

static void h_create(struct request *r)
{
	create_record(r, 0);
}

static void h_list_child(struct request *r)
{
	if (parent_exists(r))
		list_records(r, r->ids[0]);
}

static void h_create_child(struct request *r)
{
	create_record(r, r->ids[0]);
}

static void h_get(struct request *r)
{
	json_t *rec;
	struct err e;

	err_init(&e);
	if (record_get(r->db, r->actor, r->route_arg, r->ids[0], &rec, &e))
		reply_error(r, &e, NULL);
	else
		reply_record(r, 200, rec);
	err_release(&e);
}

/* If-Match carries the version the client read: "3", W/"3" or 3. */
static int parse_if_match(struct request *r, bool required, int64_t *version)
{
	const char *h = request_header(r, "If-Match");
	char *end = NULL;

	*version = 0;
	if (!h) {
		if (required)
			reply_problem(r, CTMS_EPRECOND,
				      "send If-Match with the version (ETag) of the record you read");
		return required ? CTMS_EPRECOND : 0;
	}
	bool quoted = false;
	if (!strncmp(h, "W/", 2))
		h += 2;
	if (*h == '"') {
		h++;
		quoted = true;
	}
	errno = 0;
	*version = *h >= '0' && *h <= '9' ? strtoll(h, &end, 10) : 0;
	/* Quotes come in pairs: "3" and 3, never "3 or 3". */
	if (errno || *version < 1 || strcmp(end, quoted ? "\"" : "")) {
		reply_problem(r, CTMS_EBADREQ, "If-Match must be the record's ETag, such as \"3\"");
		return CTMS_EBADREQ;
	}
	return 0;
}

static void h_patch(struct request *r)
{
	int64_t version;
	json_t *patch, *rec = NULL;
	struct err e;

	if (parse_if_match(r, true, &version))
		return;
	if (!(patch = request_json(r)))
		return;
	err_init(&e);
	if (record_update(r->db, r->actor, r->route_arg, r->ids[0], version, patch, &rec, &e))
		reply_error(r, &e, e.code == CTMS_ESTALE ? rec : (json_decref(rec), NULL));
	else
		reply_record(r, 200, rec);
	json_decref(patch);
	err_release(&e);
}

static void h_transition(struct request *r)
{
	int64_t version;
	json_t *body, *rec = NULL, *v;
	struct transition t = {0};
	const char *key;
	struct err e;

	if (parse_if_match(r, false, &version))
		return;
	if (!(body = request_json(r)))
		return;
	err_init(&e);
	json_object_foreach(body, key, v) {
		if (strcmp(key, "to") && strcmp(key, "on") && strcmp(key, "reason"))
			err_field(&e, key, "is not a field of a transition (to, on, reason)");
		else if (!json_is_string(v) && !(json_is_null(v) && !strcmp(key, "reason")))
			err_field(&e, key, "must be a string");
	}
	if (!e.code) {
		t.to = json_str(body, "to");
		t.on = json_str(body, "on");
		t.reason = json_str(body, "reason");
		if (!t.to)
			err_field(&e, "to", "is required: the state to move to");
	}
	if (e.code || record_transition(r->db, r->actor, r->route_arg, r->ids[0], version, &t, &rec, &e))
		reply_error(r, &e, e.code == CTMS_ESTALE ? rec : (json_decref(rec), NULL));
	else
		reply_record(r, 200, rec);
	json_decref(body);
	err_release(&e);
}

/* Study-wide figures: a grant over the whole study (access.h). Replies and
 * answers false when the actor may not. */
static bool may_report(struct request *r)
{
	struct err e;
	err_init(&e);
	if (access_capability(r->actor, CAP_STUDY_REPORTS, r->ids[0], &e)) {
		reply_error(r, &e, NULL);
		err_release(&e);
		return false;
	}
	err_release(&e);
	return true;
}

static void h_summary(struct request *r)
{
	json_t *summary;
	struct err e;

	if (!may_report(r))
		return;
	err_init(&e);
	if (study_summary(r->db, r->ids[0], &summary, &e))
		reply_error(r, &e, NULL);
	else
		reply_json(r, 200, summary);
	err_release(&e);
}

/* The query parameters a report takes; anything else is refused (422), so
 * a typo never silently answers something else. */
struct report_params {
	const char *const *allowed;
	struct err *e;
	json_t *request;   /* the forecast's: query values as JSON, or NULL */
};

/* A query value as the JSON it stands for: an integer when it reads as one,
 * else the text (which the domain then refuses by name). */
static json_t *query_integer(const char *value)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(value, &end, 10);
	return errno || *end || end == value ? json_string(value) : json_integer(v);
}

static enum MHD_Result collect_report_param(void *cls, enum MHD_ValueKind kind, const char *key,
					    const char *value)
{
	struct report_params *p = cls;
	bool known = false;

	(void)kind;
	for (size_t i = 0; p->allowed[i]; i++)
		known |= !strcmp(key, p->allowed[i]);
	if (!known) {
		struct buf b;
		buf_init(&b, 200);
		for (size_t i = 0; p->allowed[i]; i++)
			buf_printf(&b, "%s%s", i ? ", " : "", p->allowed[i]);
		err_field(p->e, key, "is not a query parameter of this report (%s)", b.ptr);
		buf_release(&b);
		return MHD_YES;
	}
	if (!p->request)
		return MHD_YES;
	value = value ? value : "";
	if (!strcmp(key, "by")) {
		json_t *list = json_object_get(p->request, "by");
		if (!list)
			json_object_set_new(p->request, "by", list = json_array());
		json_array_append_new(list, json_string(value));
	} else if (json_object_get(p->request, key)) {
		err_field(p->e, key, "is given twice");
	} else {
		json_object_set_new(p->request, key,
				    strcmp(key, "as_of") ? query_integer(value) : json_string(value));
	}
	return MHD_YES;
}

/* Checks the query against allowed; replies 422 and returns false when
 * something else is there. */
static bool report_query(struct request *r, const char *const *allowed, json_t *request)
{
	struct err e;
	struct report_params p = {allowed, &e, request};

	err_init(&e);
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_report_param, &p);
	if (e.code)
		reply_error(r, &e, NULL);
	err_release(&e);
	return !e.code;
}

static void h_enrollment(struct request *r)
{
	static const char *const allowed[] = {"as_of", "by", NULL};
	json_t *report;
	struct err e;

	if (!may_report(r) || !report_query(r, allowed, NULL))
		return;
	err_init(&e);
	if (enrollment_report(r->db, r->ids[0], request_query(r, "as_of"), request_query(r, "by"),
			      &report, &e))
		reply_error(r, &e, NULL);
	else
		reply_json(r, 200, report);
	err_release(&e);
}

static void forecast_reply(struct request *r, json_t *request)
{
	json_t *forecast;
	struct err e;

	err_init(&e);
	if (enrollment_forecast(r->db, r->ids[0], request, &forecast, &e))
		reply_error(r, &e, NULL);
	else
		reply_json(r, 200, forecast);
	err_release(&e);
}

static void h_forecast(struct request *r)
{
	static const char *const allowed[] = {"target", "as_of", "by", "seed", NULL};
	json_t *request;

	if (!may_report(r))
		return;
	request = json_object();
	if (report_query(r, allowed, request))
		forecast_reply(r, request);
	json_decref(request);
}

/* The what-if: POST because it has a body; it writes nothing. */
static void h_forecast_what_if(struct request *r)
{
	static const char *const allowed[] = {NULL};
	json_t *request;

	if (!may_report(r) || !report_query(r, allowed, NULL) || !(request = request_json(r)))
		return;
	forecast_reply(r, request);
	json_decref(request);
}

static void h_diversity(struct request *r)
{
	static const char *const allowed[] = {"as_of", NULL};
	json_t *report;
	struct err e;

	if (!may_report(r) || !report_query(r, allowed, NULL))
		return;
	err_init(&e);
	if (diversity_report(r->db, r->ids[0], request_query(r, "as_of"), &report, &e))
		reply_error(r, &e, NULL);
	else
		reply_json(r, 200, report);
	err_release(&e);
}

static const struct entity_def *const audited[] = {
	&organisation_def, &site_def, &study_def, &protocol_version_def,
	&study_site_def, &subject_def, &milestone_def, &visit_definition_def, &subject_visit_def,
	&enrollment_plan_point_def, &diversity_goal_def,
	&adverse_event_def, &exposure_def,
};

static enum MHD_Result check_audit_param(void *cls, enum MHD_ValueKind kind, const char *key,
					 const char *value)
{
	struct err *e = cls;
	(void)kind;
	(void)value;
	static const char *const known[] = {"entity", "id", "actor_id", "from", "to", "limit", "cursor",
					    "format", NULL};
	bool ok = false;
	for (size_t i = 0; known[i]; i++)
		ok |= !strcmp(key, known[i]);
	if (!ok)
		err_field(e, key, "is not a filter of the audit trail (entity, id, actor_id, from, to)");
	return MHD_YES;
}

/* The arm is blinded in the trail too: events keep it (the chain hashes
 * it), the view of a blinded reader drops it, and drops every event's hash:
 * all the other inputs of the hash chain are in view, so any hash from the
 * blinded event on would let a reader try each arm until one matched.
 * Verifying the chain is `ctms audit verify`'s work, not a reader's. */
static void blind_events(json_t *items)
{
	for (size_t i = 0; i < json_array_size(items); i++) {
		json_t *ev = json_array_get(items, i), *changes = json_object_get(ev, "changes");
		const char *entity = json_str(ev, "entity");
		const struct entity_def *def = NULL;
		json_object_del(ev, "hash");
		for (size_t k = 0; entity && k < sizeof(audited) / sizeof(*audited); k++)
			if (!strcmp(entity, audited[k]->name))
				def = audited[k];
		for (size_t j = json_array_size(changes); def && j-- > 0;) {
			const struct field_def *f =
				record_field(def, json_str(json_array_get(changes, j), "field"));
			if (f && (f->flags & F_BLINDED))
				json_array_remove(changes, j);
		}
	}
}

/* The trail as a download: the one page asked for, else every event the
 * filters select, up to EXPORT_ROWS_MAX. */
static int audit_page(struct request *r, void *query, int64_t after, int limit, json_t **items,
		      int64_t *next, struct err *e)
{
	struct audit_query *q = query;

	q->after_seq = after;
	q->limit = limit;
	return audit_list(r->db, q, items, next, e);
}

static void export_audit(struct request *r, enum list_format format, struct audit_query *q,
			 bool paged)
{
	json_t *all;
	struct err e;

	err_init(&e);
	if (export_collect(r, audit_page, q, q->after_seq, q->limit, paged, "events", &all, &e)) {
		reply_error(r, &e, NULL);
	} else {
		if (!access_unblinded(r->actor, 0, 0))
			blind_events(all);
		export_items(r, format, all, NULL);
	}
	json_decref(all);
	err_release(&e);
}

static void h_audit(struct request *r)
{
	struct audit_query q = {0};
	const char *id = request_query(r, "id");
	struct page p;
	json_t *items;
	int64_t next;
	struct err e;
	bool known = false;
	enum list_format format;

	err_init(&e);
	if (access_capability(r->actor, CAP_AUDIT_TRAIL, 0, &e)) {
		reply_error(r, &e, NULL);
		err_release(&e);
		return;
	}
	err_release(&e);
	if (list_format(r, &format) || parse_page(r, &p))
		return;
	q.entity = request_query(r, "entity");
	err_init(&e);
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, check_audit_param, &e);
	/* Records, and the account events that are not records. */
	static const char *const accounts[] = {"user", "grant", "api_token", "signature", "setting"};
	for (size_t i = 0; q.entity && i < sizeof(audited) / sizeof(*audited); i++)
		known |= !strcmp(q.entity, audited[i]->name);
	for (size_t i = 0; q.entity && i < sizeof(accounts) / sizeof(*accounts); i++)
		known |= !strcmp(q.entity, accounts[i]);
	if (q.entity && !known)
		err_field(&e, "entity", "must be one of: organisation, site, study, protocol_version, "
					"study_site, subject, milestone, visit_definition, subject_visit, "
					"enrollment_plan_point, diversity_goal, adverse_event, exposure, "
					"user, grant, api_token, signature, setting");
	const char *actor = request_query(r, "actor_id"), *from = request_query(r, "from"),
		   *to = request_query(r, "to");
	if (actor) {
		char *end;
		errno = 0;
		q.actor_id = strtoll(actor, &end, 10);
		q.by_actor = true;
		if (errno || *end || end == actor || q.actor_id < 0)
			err_field(&e, "actor_id", "must be a user's id (0: the command line)");
	}
	/* A date means its whole day (UTC); a timestamp the instant. */
	if (from && timestamp_parse(from, &q.from_us))
		err_field(&e, "from", "must be a date YYYY-MM-DD or a UTC timestamp YYYY-MM-DDThh:mm:ssZ");
	if (to && timestamp_parse(to, &q.to_us))
		err_field(&e, "to", "must be a date YYYY-MM-DD or a UTC timestamp YYYY-MM-DDThh:mm:ssZ");
	else if (to && strlen(to) == 10)
		q.to_us += 86400LL * 1000000 - 1;
	if (q.from_us && q.to_us && q.from_us > q.to_us)
		err_field(&e, "to", "is before from");
	if (e.code) {
		reply_error(r, &e, NULL);
		err_release(&e);
		return;
	}
	q.after_seq = p.after;
	q.limit = p.limit;
	if (id) {
		char *end;
		errno = 0;
		q.entity_id = strtoll(id, &end, 10);
		if (errno || *end || end == id || q.entity_id < 1) {
			reply_problem(r, CTMS_EBADREQ, "id must be a positive integer");
			return;
		}
	}
	if (format != LIST_JSON) {
		export_audit(r, format, &q, export_paged(r));
		return;
	}
	err_init(&e);
	if (audit_list(r->db, &q, &items, &next, &e)) {
		reply_error(r, &e, NULL);
	} else {
		if (!access_unblinded(r->actor, 0, 0))
			blind_events(items);
		reply_page(r, items, next);
	}
	err_release(&e);
}

static void h_healthz(struct request *r)
{
	int64_t one = 0;
	if (db_query_int(r->db, "SELECT 1", &one, 0) || one != 1) {
		r->retry_after = 5;
		reply_json(r, 503, json_pack("{s:s}", "status", "store unavailable"));
		return;
	}
	reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

static void h_metrics(struct request *r)
{
	struct buf b;
	buf_init(&b, 1 << 20);
	server_metrics(&b);
	r->status = 200;
	r->reply_len = b.len;
	r->reply = buf_detach(&b);
	r->content_type = "text/plain; version=0.0.4";
}

#define RECORD_ROUTES(path, def)                                      \
	{"GET", "/api/v1/" path "/{id}", h_get, &(def), 0},              \
	{"PATCH", "/api/v1/" path "/{id}", h_patch, &(def), 0}

const struct route routes[] = {
	{"GET", "/healthz", h_healthz, NULL, ROUTE_PUBLIC},
	{"GET", "/metrics", h_metrics, NULL, ROUTE_PUBLIC},
	{"POST", "/api/v1/sessions", h_login, NULL, ROUTE_PUBLIC},
	{"GET", "/api/v1/sessions/current", h_me, NULL, 0},
	{"DELETE", "/api/v1/sessions/current", h_logout, NULL, 0},
	{"GET", "/api/v1/users", h_users, NULL, 0},
	{"POST", "/api/v1/users", h_user_create, NULL, 0},
	{"GET", "/api/v1/users/{id}", h_user_get, NULL, 0},
	{"PATCH", "/api/v1/users/{id}", h_user_patch, NULL, 0},
	{"POST", "/api/v1/users/{id}/grants", h_grant_create, NULL, 0},
	{"DELETE", "/api/v1/grants/{id}", h_grant_delete, NULL, 0},
	{"GET", "/api/v1/users/{id}/tokens", h_tokens, NULL, 0},
	{"POST", "/api/v1/users/{id}/tokens", h_token_create, NULL, ROUTE_SECRET},
	{"DELETE", "/api/v1/tokens/{id}", h_token_delete, NULL, 0},
	{"POST", "/api/v1/signatures", h_sign, NULL, 0},
	{"GET", "/api/v1/signatures", h_signatures, NULL, 0},
	{"GET", "/api/v1/organisations", h_list, &organisation_def, 0},
	{"POST", "/api/v1/organisations", h_create, &organisation_def, 0},
	RECORD_ROUTES("organisations", organisation_def),
	{"GET", "/api/v1/sites", h_list, &site_def, 0},
	{"POST", "/api/v1/sites", h_create, &site_def, 0},
	RECORD_ROUTES("sites", site_def),
	{"GET", "/api/v1/studies", h_list, &study_def, 0},
	{"POST", "/api/v1/studies", h_create, &study_def, 0},
	RECORD_ROUTES("studies", study_def),
	{"POST", "/api/v1/studies/{id}/transition", h_transition, &study_def, 0},
	{"GET", "/api/v1/studies/{id}/summary", h_summary, NULL, 0},
	{"GET", "/api/v1/studies/{id}/protocol-versions", h_list_child, &protocol_version_def, 0},
	{"POST", "/api/v1/studies/{id}/protocol-versions", h_create_child, &protocol_version_def, 0},
	RECORD_ROUTES("protocol-versions", protocol_version_def),
	{"POST", "/api/v1/protocol-versions/{id}/transition", h_transition, &protocol_version_def, 0},
	{"GET", "/api/v1/studies/{id}/sites", h_list_child, &study_site_def, 0},
	{"POST", "/api/v1/studies/{id}/sites", h_create_child, &study_site_def, 0},
	RECORD_ROUTES("study-sites", study_site_def),
	{"POST", "/api/v1/study-sites/{id}/transition", h_transition, &study_site_def, 0},
	{"GET", "/api/v1/studies/{id}/subjects", h_list_child, &subject_def, 0},
	{"POST", "/api/v1/studies/{id}/subjects", h_create_child, &subject_def, 0},
	RECORD_ROUTES("subjects", subject_def),
	{"POST", "/api/v1/subjects/{id}/transition", h_transition, &subject_def, 0},
	{"GET", "/api/v1/studies/{id}/milestones", h_list_child, &milestone_def, 0},
	{"POST", "/api/v1/studies/{id}/milestones", h_create_child, &milestone_def, 0},
	RECORD_ROUTES("milestones", milestone_def),
	{"GET", "/api/v1/studies/{id}/visit-definitions", h_list_child, &visit_definition_def, 0},
	{"POST", "/api/v1/studies/{id}/visit-definitions", h_create_child, &visit_definition_def, 0},
	RECORD_ROUTES("visit-definitions", visit_definition_def),
	{"GET", "/api/v1/subjects/{id}/visits", h_list_child, &subject_visit_def, 0},
	{"POST", "/api/v1/subjects/{id}/visits", h_create_child, &subject_visit_def, 0},
	RECORD_ROUTES("visits", subject_visit_def),
	{"GET", "/api/v1/studies/{id}/enrollment", h_enrollment, NULL, 0},
	{"GET", "/api/v1/studies/{id}/enrollment-plan", h_list_child, &enrollment_plan_point_def, 0},
	{"POST", "/api/v1/studies/{id}/enrollment-plan", h_create_child, &enrollment_plan_point_def, 0},
	RECORD_ROUTES("enrollment-plan", enrollment_plan_point_def),
	{"GET", "/api/v1/studies/{id}/forecast", h_forecast, NULL, 0},
	{"POST", "/api/v1/studies/{id}/forecast", h_forecast_what_if, NULL, 0},
	{"GET", "/api/v1/studies/{id}/diversity", h_diversity, NULL, 0},
	{"GET", "/api/v1/studies/{id}/diversity-goals", h_list_child, &diversity_goal_def, 0},
	{"POST", "/api/v1/studies/{id}/diversity-goals", h_create_child, &diversity_goal_def, 0},
	RECORD_ROUTES("diversity-goals", diversity_goal_def),
	{"GET", "/api/v1/audit", h_audit, NULL, 0},
	{"GET", "/api/v1/studies/{id}/fhir", h_study_fhir, NULL, 0},
	{"GET", "/api/v1/studies/{id}/ctgov", h_study_ctgov, NULL, 0},
	{"GET", "/api/v1/adverse-events", h_list, &adverse_event_def, 0},
	{"GET", "/api/v1/subjects/{id}/adverse-events", h_list_child, &adverse_event_def, 0},
	{"POST", "/api/v1/subjects/{id}/adverse-events", h_create_child, &adverse_event_def, 0},
	RECORD_ROUTES("adverse-events", adverse_event_def),
	{"GET", "/api/v1/exposures", h_list, &exposure_def, 0},
	{"GET", "/api/v1/subjects/{id}/exposures", h_list_child, &exposure_def, 0},
	{"POST", "/api/v1/subjects/{id}/exposures", h_create_child, &exposure_def, 0},
	RECORD_ROUTES("exposures", exposure_def),
	{"POST", "/api/v1/imports/ctgov", h_import_ctgov, NULL, 0},
	{"POST", "/api/v1/studies/{id}/imports/sites", h_import_csv, &import_sites_kind, 0},
	{"POST", "/api/v1/studies/{id}/imports/subjects", h_import_csv, &import_subjects_kind, 0},
	{"GET", "/api/v1/imports/templates/sites.csv", h_import_template, &import_sites_kind, 0},
	{"GET", "/api/v1/imports/templates/subjects.csv", h_import_template, &import_subjects_kind, 0},
	{"POST", "/api/v1/imports/odm", h_odm_import, NULL, 0},
	{"GET", "/api/v1/studies/{id}/odm", h_study_odm, NULL, 0},
	{"GET", "/api/v1/portfolio", h_portfolio, NULL, 0},
};

const size_t nroutes = sizeof(routes) / sizeof(routes[0]);
