/* The HTTP server: libmicrohttpd with an epoll internal thread and a small
 * thread pool; each request borrows a database connection from the pool. */
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
	unsigned conn_limit;    /* simultaneous connections */
	unsigned conn_timeout;  /* seconds a connection may stay idle */
};

void server_config_defaults(struct server_config *c);

struct err;
int server_start(struct db_pool *pool, const struct server_config *c, struct server **out,
		 struct err *e);
/* The port actually bound (useful with port 0). */
int server_port(const struct server *s);
/* Stops accepting, finishes requests in flight, frees the server. */
void server_stop(struct server *s);

/* Prometheus text exposition of the server's counters. */
void server_metrics(struct buf *out);

#endif
