#include "http/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "domain/actor.h"
#include "domain/idempotency.h"
#include "http/request.h"
#include "http/router.h"
#include "util/buf.h"
#include "util/date.h"
#include "util/hash.h"

struct server {
	struct MHD_Daemon *daemon;
	struct db_pool *pool;
	struct server_config config;
};

/* Per-connection state across the access handler's calls. */
struct exchange {
	struct request r;
	struct buf body;
	enum ctms_err refused; /* set on the first call: answer this instead */
	char refused_detail[128];
	bool close; /* ambiguous framing: close the connection after answering */
	int64_t started_us;
};

static struct {
	_Atomic uint64_t by_class[6]; /* 1xx..5xx */
	_Atomic uint64_t duration_us;
	_Atomic uint64_t requests;
	int64_t started_us;
} metrics;

void server_config_defaults(struct server_config *c)
{
	c->host = "127.0.0.1";
	c->port = 8080;
	c->threads = 4;
	c->max_body = 1 << 20;
	c->conn_limit = 512;
	c->conn_timeout = 30;
}

struct header_count {
	int content_length;
	int transfer_encoding;
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
				    const char *value)
{
	struct header_count *h = cls;
	(void)kind;
	(void)value;
	if (!strcasecmp(key, "Content-Length"))
		h->content_length++;
	else if (!strcasecmp(key, "Transfer-Encoding"))
		h->transfer_encoding++;
	return MHD_YES;
}

/* Request smuggling defences MHD does not apply itself (STYLE.md). */
static void check_framing(struct exchange *x, struct MHD_Connection *conn, size_t max_body)
{
	struct header_count h = {0};
	const char *cl;

	MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, &h);
	if (h.content_length > 1 || (h.content_length && h.transfer_encoding)) {
		x->refused = CTMS_EBADREQ;
		/* RFC 9112 6.1: whatever follows on this connection may be a
		 * smuggled request; answer and close it. */
		x->close = true;
		snprintf(x->refused_detail, sizeof(x->refused_detail),
			 "conflicting Content-Length and Transfer-Encoding headers");
		return;
	}
	cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
	if (cl && strtoull(cl, NULL, 10) > max_body) {
		x->refused = CTMS_ETOOBIG;
		snprintf(x->refused_detail, sizeof(x->refused_detail),
			 "the request body is larger than %zu bytes", max_body);
	}
}

/* A replayed record carries the ETag its first answer had. */
static void replay_etag(struct request *r, const char *body)
{
	json_t *v = json_loads(body, 0, NULL);
	json_t *version = json_object_get(v, "version");
	if (json_is_object(v) && json_is_integer(version))
		snprintf(r->etag, sizeof(r->etag), "\"%lld\"", (long long)json_integer_value(version));
	json_decref(v);
}

static void idempotent_dispatch(struct request *r, const struct route *route, const char *key)
{
	struct idempotent_reply stored = {0};
	char hash[SHA256_HEX_LEN];
	struct buf material;
	struct err e;
	int rc;

	err_init(&e);
	if (strlen(key) == 0 || strlen(key) > 255) {
		reply_problem(r, CTMS_EBADREQ, "Idempotency-Key must be 1 to 255 characters");
		return;
	}
	buf_init(&material, SIZE_MAX / 2);
	buf_printf(&material, "%s %s\n", r->method, r->path);
	buf_add(&material, r->body ? r->body : "", r->body_len);
	sha256_hex(material.ptr, material.len, hash);
	buf_release(&material);

	if ((rc = db_begin(r->db))) {
		err_set(&e, rc, "the store is busy; try again");
		reply_error(r, &e, NULL);
		goto done;
	}
	rc = idempotency_lookup(r->db, key, r->actor->id, hash, &stored, &e);
	if (rc == 0) {
		db_rollback(r->db);
		r->status = stored.status;
		r->reply = stored.body;
		r->reply_len = strlen(stored.body);
		r->content_type = stored.status >= 400 ? "application/problem+json" : "application/json";
		r->location = stored.location;
		replay_etag(r, stored.body);
		stored.body = stored.location = NULL;
		goto done;
	}
	if (rc != CTMS_ENOTFOUND) {
		db_rollback(r->db);
		if (rc == CTMS_ECONFLICT) {
			e.code = CTMS_EINVAL; /* 422: the key's request differs from this one */
		}
		reply_error(r, &e, NULL);
		goto done;
	}
	route->handler(r);
	if (r->status >= 200 && r->status < 300) {
		stored.status = r->status;
		stored.body = r->reply;
		stored.location = r->location;
		rc = idempotency_store(r->db, key, r->actor->id, hash, &stored, &e);
		stored.body = stored.location = NULL;
		if (!rc)
			rc = db_commit(r->db);
		else
			db_rollback(r->db);
		if (rc) {
			free(r->location);
			r->location = NULL;
			if (!e.code)
				err_set(&e, rc, "cannot commit the request");
			reply_error(r, &e, NULL);
		}
	} else {
		db_rollback(r->db);
	}
done:
	idempotent_reply_release(&stored);
	err_release(&e);
}

static void dispatch(struct server *s, struct request *r)
{
	const struct route *route;
	char *allow = NULL;
	int rc = router_match(routes, nroutes, r->method, r->path, r, &route, &allow);

	if (rc == CTMS_EMETHOD) {
		r->allow = allow;
		reply_problem(r, CTMS_EMETHOD, "this resource does not support the method");
		return;
	}
	if (rc) {
		reply_problem(r, CTMS_ENOTFOUND, "no resource at this path");
		return;
	}
	r->db = db_pool_acquire(s->pool);
	r->actor = actor_system();
	const char *key = request_header(r, "Idempotency-Key");
	if (key && !strcmp(r->method, "POST"))
		idempotent_dispatch(r, route, key);
	else
		route->handler(r);
	db_pool_release(s->pool, r->db);
	r->db = NULL;
	if (!r->status)
		reply_problem(r, CTMS_EDB, "the handler gave no answer");
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, struct exchange *x)
{
	struct request *r = &x->r;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char num[24];

	resp = MHD_create_response_from_buffer(r->reply_len, r->reply, MHD_RESPMEM_MUST_FREE);
	r->reply = NULL;
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", r->content_type ? r->content_type : "text/plain");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (r->etag[0])
		MHD_add_response_header(resp, "ETag", r->etag);
	if (r->location)
		MHD_add_response_header(resp, "Location", r->location);
	if (r->allow)
		MHD_add_response_header(resp, "Allow", r->allow);
	if (x->close)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	if (r->retry_after) {
		snprintf(num, sizeof(num), "%d", r->retry_after);
		MHD_add_response_header(resp, "Retry-After", num);
	}
	ret = MHD_queue_response(conn, (unsigned)r->status, resp);
	MHD_destroy_response(resp);

	int cls = r->status / 100;
	if (cls >= 1 && cls <= 5)
		atomic_fetch_add(&metrics.by_class[cls], 1);
	atomic_fetch_add(&metrics.requests, 1);
	atomic_fetch_add(&metrics.duration_us, (uint64_t)(now_us() - x->started_us));
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct server *s = cls;
	struct exchange *x = *con_cls;
	(void)version;

	if (!x) {
		x = xcalloc(1, sizeof(*x));
		x->started_us = now_us();
		buf_init(&x->body, s->config.max_body);
		x->r.conn = conn;
		x->r.method = method;
		x->r.path = url;
		check_framing(x, conn, s->config.max_body);
		*con_cls = x;
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!x->refused && buf_add(&x->body, upload_data, *upload_data_size)) {
			x->refused = CTMS_ETOOBIG;
			snprintf(x->refused_detail, sizeof(x->refused_detail),
				 "the request body is larger than %zu bytes", s->config.max_body);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (x->refused) {
		reply_problem(&x->r, x->refused, x->refused_detail);
	} else {
		x->r.body = x->body.ptr;
		x->r.body_len = x->body.len;
		dispatch(s, &x->r);
	}
	return send_reply(conn, x);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct exchange *x = *con_cls;
	(void)cls;
	(void)conn;
	(void)toe;
	if (!x)
		return;
	free(x->r.reply);
	free(x->r.location);
	free(x->r.allow);
	buf_release(&x->body);
	free(x);
	*con_cls = NULL;
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	fputs("ctms: http: ", stderr);
	vfprintf(stderr, fmt, ap);
}

int server_start(struct db_pool *pool, const struct server_config *c, struct server **out,
		 struct err *e)
{
	struct server *s = xcalloc(1, sizeof(*s));
	struct sockaddr_storage addr = {0};
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;

	s->pool = pool;
	s->config = *c;
	if (strchr(c->host, ':')) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)c->port);
		if (inet_pton(AF_INET6, c->host, &a6->sin6_addr) != 1)
			goto bad_host;
		flags |= MHD_USE_IPv6;
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)c->port);
		if (inet_pton(AF_INET, c->host, &a4->sin_addr) != 1)
			goto bad_host;
	}
	metrics.started_us = now_us();
	s->daemon = MHD_start_daemon(
		flags, (uint16_t)c->port, NULL, NULL, on_request, s,
		MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)c->threads,
		MHD_OPTION_CONNECTION_LIMIT, c->conn_limit,
		MHD_OPTION_CONNECTION_TIMEOUT, c->conn_timeout,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)128 * 1024,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, c->conn_limit,
		MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
		MHD_OPTION_END);
	if (!s->daemon) {
		free(s);
		return err_set(e, CTMS_EIO, "cannot listen on %s:%d (address in use or not permitted?)",
			       c->host, c->port);
	}
	*out = s;
	return 0;
bad_host:
	free(s);
	return err_set(e, CTMS_EINVAL, "listen address %s is not a numeric IP address", c->host);
}

int server_port(const struct server *s)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	return info ? info->port : -1;
}

void server_stop(struct server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->daemon);
	free(s);
}

void server_metrics(struct buf *out)
{
	buf_puts(out, "# HELP ctms_http_requests_total HTTP requests answered, by status class.\n"
		      "# TYPE ctms_http_requests_total counter\n");
	for (int i = 1; i <= 5; i++)
		buf_printf(out, "ctms_http_requests_total{class=\"%dxx\"} %llu\n", i,
			   (unsigned long long)atomic_load(&metrics.by_class[i]));
	buf_printf(out,
		   "# HELP ctms_http_request_duration_seconds_sum Time spent answering requests.\n"
		   "# TYPE ctms_http_request_duration_seconds_sum counter\n"
		   "ctms_http_request_duration_seconds_sum %.6f\n"
		   "# HELP ctms_uptime_seconds Seconds since the server started.\n"
		   "# TYPE ctms_uptime_seconds gauge\n"
		   "ctms_uptime_seconds %.0f\n",
		   (double)atomic_load(&metrics.duration_us) / 1e6,
		   (double)(now_us() - metrics.started_us) / 1e6);
}
