#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "domain/actor.h"
#include "http/dispatch.h"
#include "http/request.h"
#include "http/router.h"
#include "http/static.h"
#include "util/buf.h"
#include "util/date.h"

/* How often the reaper looks for clients past their deadline. */
#define REAPER_PERIOD_MS 200
/* A deadline falls this long after MHD's idle timeout would, so a client that
 * sends nothing is closed by MHD and the reaper only meets slow senders. */
#define DEADLINE_SLACK_US 500000
/* How long server_stop waits for admitted requests' answers to go out. */
#define STOP_GRACE_MS 2000

/* One open connection. A client must deliver each request within its
 * deadline: MHD's own timeout only counts idle time, so a client sending a
 * byte every few seconds would otherwise hold the connection forever. */
struct tracked_conn {
	struct tracked_conn *prev, *next;
	int fd;
	_Atomic int64_t deadline_us; /* monotonic; 0 while the server has the turn */
	bool over_limit;             /* opened while conn_limit connections were open */
	bool cut;                    /* shut down by the reaper */
};

struct server {
	struct MHD_Daemon *daemon;
	struct db_pool *pool;
	struct server_config config;
	int64_t timeout_us;

	/* Admitted requests waiting for a worker, oldest first. */
	pthread_mutex_t jobs_lock;
	pthread_cond_t jobs_ready;
	struct exchange *jobs_head, *jobs_tail;
	bool stopping;
	pthread_t *workers;
	int nworkers;
	/* Admitted requests whose answer has not gone out yet. */
	_Atomic unsigned unfinished;

	/* Every open connection, for the reaper. */
	pthread_mutex_t conns_lock;
	pthread_cond_t reaper_wake;
	struct tracked_conn conns; /* list head */
	bool reaper_stop;
	bool reaper_running;
	pthread_t reaper;
};

/* Per-request state across the access handler's calls. */
struct exchange {
	struct request r;
	struct buf body;
	const struct route *route;
	struct tracked_conn *conn;
	enum ctms_err refused; /* set on the first call: answer this instead */
	char refused_detail[128];
	bool close;            /* close the connection after answering */
	bool in_flight;        /* counted in metrics.in_flight */
	bool unfinished;       /* counted in server.unfinished */
	bool answered;         /* a worker has filled r: queue the reply */
	int64_t started_us;
	struct exchange *next_job;
};

enum busy_reason { BUSY_IN_FLIGHT, BUSY_CONNECTIONS, BUSY_STOPPING, BUSY_REASONS };
static const char *const busy_reason_names[BUSY_REASONS] = {"in_flight", "connections",
							    "stopping"};

static struct {
	_Atomic uint64_t by_class[6]; /* 1xx..5xx */
	_Atomic uint64_t duration_us;
	_Atomic uint64_t requests;
	_Atomic uint64_t busy[BUSY_REASONS];
	_Atomic uint64_t slow_cut;
	_Atomic unsigned in_flight;
	_Atomic unsigned connections;
	unsigned in_flight_limit;
	unsigned connection_limit;
	int64_t started_us;
} metrics;

void server_config_defaults(struct server_config *c)
{
	c->host = "127.0.0.1";
	c->port = 8080;
	c->threads = 4;
	c->max_body = 1 << 20;
	c->conn_limit = 1024;
	c->conn_timeout = 15;
	c->per_ip_limit = 128;
	c->max_inflight = 0;
}

static int64_t monotonic_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Runs an admitted request on a worker thread, with a store connection. */
static void run_request(struct server *s, struct request *r, const struct route *route)
{
	r->db = db_pool_acquire(s->pool);
	r->actor = NULL; /* dispatch_run authenticates */
	dispatch_run(r, route);
	db_pool_release(s->pool, r->db);
	r->db = NULL;
}

static enum MHD_Result send_reply(struct server *s, struct MHD_Connection *conn,
				  struct exchange *x)
{
	struct request *r = &x->r;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char num[40];

	if (x->in_flight) {
		x->in_flight = false;
		atomic_fetch_sub(&metrics.in_flight, 1);
	}
	resp = MHD_create_response_from_buffer(r->reply_len, r->reply, MHD_RESPMEM_MUST_FREE);
	r->reply = NULL;
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", r->content_type ? r->content_type : "text/plain");
	MHD_add_response_header(resp, "Cache-Control",
				r->cache_control ? r->cache_control : "no-store");
	if (r->content_security_policy)
		MHD_add_response_header(resp, "Content-Security-Policy",
					r->content_security_policy);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (r->content_disposition[0])
		MHD_add_response_header(resp, "Content-Disposition", r->content_disposition);
	if (r->next_cursor[0])
		MHD_add_response_header(resp, "X-Next-Cursor", r->next_cursor);
	if (r->etag[0])
		MHD_add_response_header(resp, "ETag", r->etag);
	if (r->location)
		MHD_add_response_header(resp, "Location", r->location);
	if (r->allow)
		MHD_add_response_header(resp, "Allow", r->allow);
	if (r->set_cookie)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, r->set_cookie);
	if (r->status == 401)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"ctms\"");
	if (x->close) {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	} else {
		/* Clients that honour it close an idle connection before the
		 * server does, instead of racing it with a new request. */
		snprintf(num, sizeof(num), "timeout=%u", s->config.conn_timeout);
		MHD_add_response_header(resp, "Keep-Alive", num);
	}
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

static enum MHD_Result refuse_busy(struct server *s, struct MHD_Connection *conn,
				   struct exchange *x, enum busy_reason why)
{
	char detail[160];

	switch (why) {
	case BUSY_IN_FLIGHT:
		snprintf(detail, sizeof(detail),
			 "the server is at its limit of %u requests in progress; retry after "
			 "Retry-After seconds", metrics.in_flight_limit);
		break;
	case BUSY_CONNECTIONS:
		snprintf(detail, sizeof(detail),
			 "the server is at its limit of %u open connections; retry after "
			 "Retry-After seconds", s->config.conn_limit);
		x->close = true; /* the connection itself is the excess */
		break;
	default:
		snprintf(detail, sizeof(detail), "the server is shutting down; retry shortly");
		x->close = true;
		break;
	}
	atomic_fetch_add(&metrics.busy[why], 1);
	x->r.retry_after = 1;
	reply_problem(&x->r, CTMS_EBUSY, detail);
	return send_reply(s, conn, x);
}

/* The one route that reads only the server's own counters: answered at once,
 * so the server stays observable when it is refusing work. */
static bool needs_worker(const struct route *route)
{
	return strcmp(route->pattern, "/metrics") != 0;
}

/* The request has fully arrived: answer it here or hand it to a worker. */
static enum MHD_Result admit(struct server *s, struct MHD_Connection *conn, struct exchange *x)
{
	struct request *r = &x->r;
	char *allow = NULL;
	int rc;

	if (x->refused) {
		reply_problem(r, x->refused, x->refused_detail);
		return send_reply(s, conn, x);
	}
	if (x->conn && x->conn->over_limit)
		return refuse_busy(s, conn, x, BUSY_CONNECTIONS);
	r->body = x->body.ptr;
	r->body_len = x->body.len;
	rc = router_match(routes, nroutes, r->method, r->path, r, &x->route, &allow);
	if (rc == CTMS_EMETHOD) {
		r->allow = allow;
		reply_problem(r, CTMS_EMETHOD, "this resource does not support the method");
		return send_reply(s, conn, x);
	}
	if (rc) {
		/* The web application's files, answered here: read from memory. */
		if (static_serve(r))
			return send_reply(s, conn, x);
		reply_problem(r, CTMS_ENOTFOUND, "no resource at this path");
		return send_reply(s, conn, x);
	}
	if (!needs_worker(x->route)) {
		x->route->handler(r);
		return send_reply(s, conn, x);
	}
	if (atomic_fetch_add(&metrics.in_flight, 1) >= metrics.in_flight_limit) {
		atomic_fetch_sub(&metrics.in_flight, 1);
		return refuse_busy(s, conn, x, BUSY_IN_FLIGHT);
	}
	x->in_flight = true;

	pthread_mutex_lock(&s->jobs_lock);
	if (s->stopping) {
		pthread_mutex_unlock(&s->jobs_lock);
		return refuse_busy(s, conn, x, BUSY_STOPPING);
	}
	/* Suspended before a worker can see it: the worker resumes it. */
	MHD_suspend_connection(conn);
	x->unfinished = true;
	atomic_fetch_add(&s->unfinished, 1);
	x->next_job = NULL;
	if (s->jobs_tail)
		s->jobs_tail->next_job = x;
	else
		s->jobs_head = x;
	s->jobs_tail = x;
	pthread_cond_signal(&s->jobs_ready);
	pthread_mutex_unlock(&s->jobs_lock);
	return MHD_YES;
}

/* Starts the client's time to send (a request, or the rest of one), or
 * stops it while the server has the turn. */
static void set_deadline(struct server *s, struct tracked_conn *c, bool waiting_for_client)
{
	int64_t deadline = 0;

	if (!c)
		return;
	if (waiting_for_client)
		deadline = monotonic_us() + s->timeout_us + DEADLINE_SLACK_US;
	atomic_store(&c->deadline_us, deadline);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct server *s = cls;
	struct exchange *x = *con_cls;
	(void)version;

	if (!x) {
		const union MHD_ConnectionInfo *info =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		x = xcalloc(1, sizeof(*x));
		x->started_us = now_us();
		buf_init(&x->body, s->config.max_body);
		x->r.conn = conn;
		x->r.method = method;
		x->r.path = url;
		x->conn = info ? info->socket_context : NULL;
		/* The head is in; the body, if any, gets a deadline of its own. */
		set_deadline(s, x->conn, true);
		x->refused = dispatch_check_framing(conn, s->config.max_body, x->refused_detail,
						   sizeof(x->refused_detail), &x->close);
		*con_cls = x;
		return MHD_YES;
	}
	if (x->answered)
		return send_reply(s, conn, x);
	if (*upload_data_size) {
		if (!x->refused && buf_add(&x->body, upload_data, *upload_data_size)) {
			x->refused = CTMS_ETOOBIG;
			snprintf(x->refused_detail, sizeof(x->refused_detail),
				 "the request body is larger than %zu bytes", s->config.max_body);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	set_deadline(s, x->conn, false);
	return admit(s, conn, x);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct server *s = cls;
	struct exchange *x = *con_cls;
	(void)conn;
	(void)toe;
	if (!x)
		return;
	/* Kept alive, the connection now waits for the client's next request. */
	set_deadline(s, x->conn, true);
	if (x->in_flight)
		atomic_fetch_sub(&metrics.in_flight, 1);
	if (x->unfinished)
		atomic_fetch_sub(&s->unfinished, 1);
	free(x->r.reply);
	free(x->r.location);
	free(x->r.allow);
	free(x->r.set_cookie);
	buf_release(&x->body);
	free(x);
	*con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct server *s = cls;
	struct tracked_conn *c = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *info =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		c = xcalloc(1, sizeof(*c));
		c->fd = info ? info->connect_fd : -1;
		c->over_limit = atomic_fetch_add(&metrics.connections, 1) >= s->config.conn_limit;
		set_deadline(s, c, true);
		pthread_mutex_lock(&s->conns_lock);
		c->next = s->conns.next;
		c->prev = &s->conns;
		c->next->prev = c;
		s->conns.next = c;
		pthread_mutex_unlock(&s->conns_lock);
		*socket_context = c;
		return;
	}
	if (!c)
		return;
	/* MHD closes the socket after this returns: once unlinked here, the
	 * reaper can no longer shut down a descriptor that may be reused. */
	pthread_mutex_lock(&s->conns_lock);
	c->prev->next = c->next;
	c->next->prev = c->prev;
	pthread_mutex_unlock(&s->conns_lock);
	atomic_fetch_sub(&metrics.connections, 1);
	free(c);
	*socket_context = NULL;
}

/* Cuts off the clients past their deadline. shutdown() rather than close():
 * MHD sees the end of the stream and closes the connection in its own
 * thread, as if the client had gone. */
static void *reaper_main(void *arg)
{
	struct server *s = arg;
	struct timespec wake;

	pthread_mutex_lock(&s->conns_lock);
	while (!s->reaper_stop) {
		int64_t now = monotonic_us();
		for (struct tracked_conn *c = s->conns.next; c != &s->conns; c = c->next) {
			int64_t deadline = atomic_load(&c->deadline_us);
			if (deadline && now >= deadline && !c->cut && c->fd >= 0) {
				shutdown(c->fd, SHUT_RDWR);
				c->cut = true;
				atomic_fetch_add(&metrics.slow_cut, 1);
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &wake);
		wake.tv_nsec += REAPER_PERIOD_MS * 1000000L;
		if (wake.tv_nsec >= 1000000000L) {
			wake.tv_sec++;
			wake.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->reaper_wake, &s->conns_lock, &wake);
	}
	pthread_mutex_unlock(&s->conns_lock);
	return NULL;
}

static void *worker_main(void *arg)
{
	struct server *s = arg;

	for (;;) {
		struct exchange *x;
		pthread_mutex_lock(&s->jobs_lock);
		while (!s->jobs_head && !s->stopping)
			pthread_cond_wait(&s->jobs_ready, &s->jobs_lock);
		x = s->jobs_head;
		if (x) {
			s->jobs_head = x->next_job;
			if (!s->jobs_head)
				s->jobs_tail = NULL;
		}
		pthread_mutex_unlock(&s->jobs_lock);
		if (!x)
			return NULL; /* stopping, and nothing left to do */
		struct MHD_Connection *conn = x->r.conn;
		run_request(s, &x->r, x->route);
		x->answered = true;
		/* x belongs to the connection's thread again from here on. */
		MHD_resume_connection(conn);
	}
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	fputs("ctms: http: ", stderr);
	vfprintf(stderr, fmt, ap);
}

/* Each connection is a descriptor: make room for the limit if the hard
 * limit allows (the usual soft limit is 1024). */
static void raise_file_limit(unsigned connections)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)connections + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		fprintf(stderr, "ctms: cannot raise the open-file limit: %s\n", strerror(errno));
}

static void stop_threads(struct server *s)
{
	pthread_mutex_lock(&s->jobs_lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->jobs_ready);
	pthread_mutex_unlock(&s->jobs_lock);
	for (int i = 0; i < s->nworkers; i++)
		pthread_join(s->workers[i], NULL);
	s->nworkers = 0;
	if (s->reaper_running) {
		pthread_mutex_lock(&s->conns_lock);
		s->reaper_stop = true;
		pthread_cond_signal(&s->reaper_wake);
		pthread_mutex_unlock(&s->conns_lock);
		pthread_join(s->reaper, NULL);
		s->reaper_running = false;
	}
}

static void server_free(struct server *s)
{
	pthread_mutex_destroy(&s->jobs_lock);
	pthread_cond_destroy(&s->jobs_ready);
	pthread_mutex_destroy(&s->conns_lock);
	pthread_cond_destroy(&s->reaper_wake);
	free(s->workers);
	free(s);
}

static int start_threads(struct server *s, struct err *e)
{
	s->workers = xcalloc((size_t)s->config.threads, sizeof(*s->workers));
	for (int i = 0; i < s->config.threads; i++) {
		if (pthread_create(&s->workers[i], NULL, worker_main, s))
			return err_set(e, CTMS_EIO, "cannot start worker threads");
		s->nworkers++;
	}
	if (pthread_create(&s->reaper, NULL, reaper_main, s))
		return err_set(e, CTMS_EIO, "cannot start the connection reaper");
	s->reaper_running = true;
	return 0;
}

int server_start(struct db_pool *pool, const struct server_config *c, struct server **out,
		 struct err *e)
{
	struct server *s = xcalloc(1, sizeof(*s));
	struct sockaddr_storage addr = {0};
	pthread_condattr_t monotonic;
	unsigned flags =
		MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	/* Room to answer 503 on connections beyond the limit. */
	unsigned reserve = c->conn_limit / 8 > 16 ? c->conn_limit / 8 : 16;
	/* Reading and writing is cheap next to the handlers' work. */
	unsigned io_threads = c->threads > 1 ? 2 : 1;
	/* MHD warns about a pool of one thread: then it gets no pool at all. */
	struct MHD_OptionItem io_pool[] = {
		{io_threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
		 (intptr_t)io_threads, NULL},
		{MHD_OPTION_END, 0, NULL},
	};
	int rc;

	s->pool = pool;
	s->config = *c;
	s->timeout_us = (int64_t)c->conn_timeout * 1000000;
	s->conns.next = s->conns.prev = &s->conns;
	pthread_mutex_init(&s->jobs_lock, NULL);
	pthread_cond_init(&s->jobs_ready, NULL);
	pthread_mutex_init(&s->conns_lock, NULL);
	pthread_condattr_init(&monotonic);
	pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
	pthread_cond_init(&s->reaper_wake, &monotonic);
	pthread_condattr_destroy(&monotonic);

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
	metrics.in_flight_limit = c->max_inflight ? c->max_inflight : 64 * (unsigned)c->threads;
	metrics.connection_limit = c->conn_limit;
	raise_file_limit(c->conn_limit + reserve);
	if ((rc = start_threads(s, e)))
		goto fail;
	s->daemon = MHD_start_daemon(
		flags, (uint16_t)c->port, NULL, NULL, on_request, s,
		MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
		MHD_OPTION_ARRAY, io_pool,
		MHD_OPTION_CONNECTION_LIMIT, c->conn_limit + reserve,
		MHD_OPTION_CONNECTION_TIMEOUT, c->conn_timeout,
		/* MHD's default, 32 KiB: MHD zeroes the whole pool between
		 * keep-alive requests, so a larger one costs every request (bodies
		 * are buffered by ctms, not in this pool). */
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32 * 1024,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, c->per_ip_limit,
		MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
		MHD_OPTION_END);
	if (!s->daemon) {
		rc = err_set(e, CTMS_EIO, "cannot listen on %s:%d (address in use or not permitted?)",
			     c->host, c->port);
		goto fail;
	}
	*out = s;
	return 0;
bad_host:
	rc = err_set(e, CTMS_EINVAL, "listen address %s is not a numeric IP address", c->host);
fail:
	stop_threads(s);
	server_free(s);
	return rc;
}

int server_port(const struct server *s)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	return info ? info->port : -1;
}

void server_stop(struct server *s)
{
	MHD_socket listener;

	if (!s)
		return;
	listener = MHD_quiesce_daemon(s->daemon);
	/* Workers finish the queue and resume every suspended connection
	 * (MHD must not stop with one suspended); requests arriving from now
	 * on are refused. */
	stop_threads(s);
	for (int waited = 0; atomic_load(&s->unfinished) && waited < STOP_GRACE_MS; waited += 10)
		usleep(10 * 1000);
	MHD_stop_daemon(s->daemon);
	if (listener != MHD_INVALID_SOCKET)
		close(listener);
	server_free(s);
}

void server_metrics(struct buf *out)
{
	buf_puts(out, "# HELP ctms_http_requests_total HTTP requests answered, by status class.\n"
		      "# TYPE ctms_http_requests_total counter\n");
	for (int i = 1; i <= 5; i++)
		buf_printf(out, "ctms_http_requests_total{class=\"%dxx\"} %llu\n", i,
			   (unsigned long long)atomic_load(&metrics.by_class[i]));
	buf_puts(out, "# HELP ctms_http_busy_total Requests answered 503 because the server was at "
		      "a limit, by limit.\n"
		      "# TYPE ctms_http_busy_total counter\n");
	for (int i = 0; i < BUSY_REASONS; i++)
		buf_printf(out, "ctms_http_busy_total{reason=\"%s\"} %llu\n", busy_reason_names[i],
			   (unsigned long long)atomic_load(&metrics.busy[i]));
	buf_printf(out,
		   "# HELP ctms_http_requests_in_flight Requests admitted and not yet answered.\n"
		   "# TYPE ctms_http_requests_in_flight gauge\n"
		   "ctms_http_requests_in_flight %u\n"
		   "# HELP ctms_http_requests_in_flight_limit Requests admitted at most; more get "
		   "503.\n"
		   "# TYPE ctms_http_requests_in_flight_limit gauge\n"
		   "ctms_http_requests_in_flight_limit %u\n"
		   "# HELP ctms_http_connections Open connections.\n"
		   "# TYPE ctms_http_connections gauge\n"
		   "ctms_http_connections %u\n"
		   "# HELP ctms_http_connections_limit Connections served at most; requests on more "
		   "get 503.\n"
		   "# TYPE ctms_http_connections_limit gauge\n"
		   "ctms_http_connections_limit %u\n"
		   "# HELP ctms_http_slow_clients_cut_total Connections closed because a request did "
		   "not arrive in time.\n"
		   "# TYPE ctms_http_slow_clients_cut_total counter\n"
		   "ctms_http_slow_clients_cut_total %llu\n",
		   atomic_load(&metrics.in_flight), metrics.in_flight_limit,
		   atomic_load(&metrics.connections), metrics.connection_limit,
		   (unsigned long long)atomic_load(&metrics.slow_cut));
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
