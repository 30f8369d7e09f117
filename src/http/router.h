/* The route table: method + path pattern -> handler. A pattern segment
 * "{id}" matches a positive decimal integer, collected into r->ids. */
#ifndef CTMS_ROUTER_H
#define CTMS_ROUTER_H

#include <stddef.h>
#include <stdio.h>

#include "http/request.h"

typedef void (*handler_fn)(struct request *r);

struct route {
	const char *method;
	const char *pattern;
	handler_fn handler;
	const void *arg;
	unsigned flags; /* ROUTE_PUBLIC: answered without credentials */
};

#define ROUTE_PUBLIC 1u
#define ROUTE_SECRET 2u /* answers a secret: never stored for Idempotency-Key replays */

/* Every route ctms serves (routes.c). */
extern const struct route routes[];
extern const size_t nroutes;

/* Matches path (without query) against the table. Returns 0 and the route,
 * filling r->ids; CTMS_ENOTFOUND when no pattern matches; CTMS_EMETHOD when
 * patterns match but not with this method, with *allow (caller frees) the
 * methods that would. */
int router_match(const struct route *table, size_t n, const char *method, const char *path,
		 struct request *r, const struct route **out, char **allow);

/* Prints "METHOD PATTERN" per route, the form the OpenAPI test compares. */
void router_print(FILE *f);

#endif
