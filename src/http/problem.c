/* RFC 9457 problem details: the one table from error codes to HTTP. */
#include "http/request.h"

#include <stdio.h>
#include <string.h>

#include "util/buf.h"
#include "util/json.h"

int err_http_status(enum ctms_err code)
{
	switch (code) {
	case CTMS_OK: return 200;
	case CTMS_EINVAL: return 422;
	case CTMS_EBADREQ: return 400;
	case CTMS_ENOTFOUND: return 404;
	case CTMS_ECONFLICT: return 409;
	case CTMS_ESTATE: return 409;
	case CTMS_ESTALE: return 412;
	case CTMS_ETOOBIG: return 413;
	case CTMS_EPRECOND: return 428;
	case CTMS_EBUSY: return 503;
	case CTMS_EMETHOD: return 405;
	case CTMS_EUNAUTH: return 401;
	case CTMS_EFORBIDDEN: return 403;
	case CTMS_ELOCKED: return 423;
	case CTMS_EMEDIATYPE: return 415;
	case CTMS_EDB:
	case CTMS_EIO:
	case CTMS_ESCHEMA:
	case CTMS_EINTEGRITY: return 500;
	}
	return 500;
}

static const char *title_of(enum ctms_err code)
{
	switch (code) {
	case CTMS_EINVAL: return "The request has invalid fields";
	case CTMS_EBADREQ: return "The request is malformed";
	case CTMS_ENOTFOUND: return "Not found";
	case CTMS_ECONFLICT: return "The request conflicts with other records";
	case CTMS_ESTATE: return "The transition is not allowed";
	case CTMS_ESTALE: return "The record changed since you read it";
	case CTMS_ETOOBIG: return "The request body is too large";
	case CTMS_EPRECOND: return "If-Match is required";
	case CTMS_EBUSY: return "The service is busy";
	case CTMS_EMETHOD: return "Method not allowed";
	case CTMS_EUNAUTH: return "Sign in first";
	case CTMS_EFORBIDDEN: return "Your roles do not allow this";
	case CTMS_ELOCKED: return "The account is locked";
	case CTMS_EMEDIATYPE: return "The body must be JSON";
	default: return "Internal error";
	}
}

void reply_error(struct request *r, const struct err *e, json_t *current)
{
	enum ctms_err code = e->code ? e->code : CTMS_EDB;
	int status = err_http_status(code);
	json_t *p = json_object();

	json_object_set_new(p, "type", json_sprintf("urn:ctms:problem:%s", err_name(code)));
	json_object_set_new(p, "title", json_string(title_of(code)));
	json_object_set_new(p, "status", json_integer(status));
	/* Store failures are logged, not shown: their text may describe internals. */
	if (status >= 500 && status != 503) {
		fprintf(stderr, "ctms: %s %s failed: %s\n", r->method, r->path, e->detail);
		json_object_set_new(p, "detail", json_string("the server could not complete the request"));
	} else if (e->detail[0])
		json_object_set_new(p, "detail", json_string(e->detail));
	else if (code == CTMS_EINVAL)
		json_object_set_new(p, "detail", json_string("one or more fields are invalid"));
	if (e->fields)
		json_object_set(p, "errors", e->fields);
	if (current)
		json_object_set_new(p, "current", current);
	if (status == 503 && !r->retry_after)
		r->retry_after = 1;
	reply_json(r, status, p);
	r->content_type = "application/problem+json";
}

void reply_problem(struct request *r, enum ctms_err code, const char *detail)
{
	struct err e;
	err_init(&e);
	err_set(&e, code, "%s", detail);
	reply_error(r, &e, NULL);
	err_release(&e);
}
