/* The HTTP server: libmicrohttpd's epoll threads read requests and write
 * answers; a pool of worker threads runs the handlers, each borrowing a
 * database connection from the pool.
 *
 * Load is bounded, not queued without limit (docs/api.md, "Overload and slow
 * clients"):
 *   - at most max_inflight requests are admitted (queued for or running on a
 *     worker); a request beyond that is answered 503 at once, Retry-After 1,
 *     without touching the database;
 *   - at most conn_limit connections are served; a request on a connection
 *     opened beyond that is answered 503 and the connection closed; MHD
 *     accepts a reserve of conn_limit / 8 (at least 16) such connections,
 *     and beyond that leaves new connections in the kernel's listen queue;
 *   - a client has conn_timeout seconds to send a request's head, then as
 *     long again for its body, and an idle connection is closed after
 *     conn_timeout seconds: a client that trickles bytes cannot hold a
 *     connection;
 *   - one address may hold at most per_ip_limit connections (0: no limit,
 *     for a server behind a reverse proxy, where every client is the proxy). */
#ifndef CTMS_SERVER_H
#define CTMS_SERVER_H

#include <stddef.h>
#include <stdint.h>

struct db_pool;
struct server;
struct buf;

struct server_config {
	const char *host;       /* numeric IPv4 or IPv6 address */
	int port;               /* 0: any free port */
	int threads;            /* worker threads (and database connections) */
	size_t max_body;        /* bytes; larger bodies get 413 */
	unsigned conn_limit;    /* connections served; requests beyond get 503 */
	unsigned conn_timeout;  /* seconds for a request to arrive; idle limit */
	unsigned per_ip_limit;  /* connections from one address; 0: no limit */
	unsigned max_inflight;  /* requests admitted at once; 0: 64 per thread */
};

/* Defaults: 127.0.0.1:8080, 4 threads, 1 MiB bodies, 1024 connections,
 * 15 s timeout, 128 connections per address, 64 requests per thread. */
void server_config_defaults(struct server_config *c);

struct err;
/* Starts serving; the pool must hold at least c->threads connections.
 * Raises the process's open-file limit when the connection limit needs it. */
int server_start(struct db_pool *pool, const struct server_config *c, struct server **out,
		 struct err *e);
/* The port actually bound (useful with port 0). */
int server_port(const struct server *s);
/* Stops accepting, finishes the requests admitted (later requests on open
 * connections get 503 and are closed), waits up to 2 s for their answers
 * to go out, then closes every connection and frees the server. */
void server_stop(struct server *s);

/* Prometheus text exposition of the server's counters. */
void server_metrics(struct buf *out);

#endif
