#include "http/request.h"

#include <errno.h>
#include <microhttpd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"
#include "util/json.h"

const char *request_header(struct request *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *request_query(struct request *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

json_t *request_json(struct request *r)
{
	struct err e;
	json_t *v;

	err_init(&e);
	const char *type = request_header(r, "Content-Type");
	size_t n = type ? strcspn(type, ";") : 0;
	while (n && type[n - 1] == ' ')
		n--;
	/* Only JSON: an HTML form of another site cannot send it without the
	 * browser asking first (CORS), so it cannot sign anyone in or write. */
	if (!type || !((n == 16 && !strncasecmp(type, "application/json", 16)) ||
		       (n > 17 && !strncasecmp(type + n - 5, "+json", 5) &&
			!strncasecmp(type, "application/", 12)))) {
		err_set(&e, CTMS_EMEDIATYPE, "send the body as Content-Type: application/json");
		v = NULL;
	} else if (!r->body || r->body_len == 0) {
		err_set(&e, CTMS_EBADREQ, "the request needs a JSON object body");
		v = NULL;
	} else {
		v = json_parse_object(r->body, r->body_len, &e);
	}
	if (!v)
		reply_error(r, &e, NULL);
	err_release(&e);
	return v;
}

static void set_reply(struct request *r, int status, char *body, size_t len, const char *type)
{
	free(r->reply);
	r->status = status;
	r->reply = body;
	r->reply_len = len;
	r->content_type = type;
}

void reply_json(struct request *r, int status, json_t *body)
{
	size_t len;
	char *text = json_render(body, &len);
	json_decref(body);
	set_reply(r, status, text, len, "application/json");
}

void reply_record(struct request *r, int status, json_t *rec)
{
	snprintf(r->etag, sizeof(r->etag), "\"%lld\"", (long long)json_int(rec, "version", 0));
	reply_json(r, status, rec);
}

void reply_text(struct request *r, int status, const char *content_type, const char *text)
{
	set_reply(r, status, xstrdup(text), strlen(text), content_type);
}

/* Cursors are opaque to clients: base64url of "after:<id>". */
char *request_cursor_encode(int64_t after)
{
	char raw[32], *out = xmalloc(64);
	int n = snprintf(raw, sizeof(raw), "after:%lld", (long long)after);
	sodium_bin2base64(out, 64, (const unsigned char *)raw, (size_t)n,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return out;
}

int request_cursor_decode(const char *s, int64_t *after)
{
	unsigned char raw[32];
	size_t len;
	char text[33], *end;

	if (strlen(s) > 40 || sodium_base642bin(raw, sizeof(raw) - 1, s, strlen(s), NULL, &len, NULL,
						sodium_base64_VARIANT_URLSAFE_NO_PADDING))
		return CTMS_EINVAL;
	memcpy(text, raw, len);
	text[len] = '\0';
	if (strncmp(text, "after:", 6))
		return CTMS_EINVAL;
	errno = 0;
	*after = strtoll(text + 6, &end, 10);
	return errno || *end || end == text + 6 || *after < 0 ? CTMS_EINVAL : 0;
}
