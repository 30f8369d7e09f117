#include "util/err.h"

#include <stdio.h>
#include <string.h>

void err_init(struct err *e)
{
	memset(e, 0, sizeof(*e));
}

void err_release(struct err *e)
{
	json_decref(e->fields);
	e->fields = NULL;
}

static void set_detail(struct err *e, const char *fmt, va_list ap)
{
	vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
}

int err_set(struct err *e, enum ctms_err code, const char *fmt, ...)
{
	if (!e)
		return code;
	if (e->code == CTMS_OK || (e->code == CTMS_EINVAL && !e->detail[0])) {
		va_list ap;
		e->code = code;
		va_start(ap, fmt);
		set_detail(e, fmt, ap);
		va_end(ap);
	}
	return e->code;
}

int err_field(struct err *e, const char *field, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!e)
		return CTMS_EINVAL;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!e->fields)
		e->fields = json_array();
	json_array_append_new(e->fields, json_pack("{s:s, s:s}", "field", field, "message", msg));
	if (e->code == CTMS_OK)
		e->code = CTMS_EINVAL;
	return e->code;
}

const char *err_name(enum ctms_err code)
{
	switch (code) {
	case CTMS_OK: return "ok";
	case CTMS_EINVAL: return "validation";
	case CTMS_ENOTFOUND: return "not-found";
	case CTMS_ECONFLICT: return "conflict";
	case CTMS_ESTALE: return "stale-version";
	case CTMS_ESTATE: return "illegal-transition";
	case CTMS_EDB: return "store-failure";
	case CTMS_ETOOBIG: return "too-large";
	case CTMS_EBADREQ: return "bad-request";
	case CTMS_EPRECOND: return "precondition-required";
	case CTMS_EBUSY: return "busy";
	case CTMS_EMETHOD: return "method-not-allowed";
	case CTMS_EIO: return "io";
	case CTMS_ESCHEMA: return "schema-too-new";
	case CTMS_EINTEGRITY: return "integrity";
	case CTMS_EUNAUTH: return "unauthenticated";
	case CTMS_EFORBIDDEN: return "forbidden";
	case CTMS_ELOCKED: return "locked";
	case CTMS_EMEDIATYPE: return "unsupported-media-type";
	}
	return "unknown";
}

void err_describe(const struct err *e, char *out, size_t len)
{
	size_t i, n;
	json_t *f;
	int used = snprintf(out, len, "%s", e->detail[0] ? e->detail : err_name(e->code));

	json_array_foreach(e->fields, i, f) {
		if (used < 0 || (size_t)used >= len)
			break;
		n = (size_t)used;
		used += snprintf(out + n, len - n, "%s%s %s", i || e->detail[0] ? "; " : ": ",
				 json_string_value(json_object_get(f, "field")),
				 json_string_value(json_object_get(f, "message")));
	}
}
