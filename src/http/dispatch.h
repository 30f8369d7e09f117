/* Running one request once it has fully arrived. */
#ifndef CTMS_DISPATCH_H
#define CTMS_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "http/router.h"

struct MHD_Connection;

/* Request smuggling defences MHD does not apply itself (STYLE.md): two
 * Content-Length headers, or Content-Length with Transfer-Encoding, answer
 * CTMS_EBADREQ and set *close; a declared body over max_body answers
 * CTMS_ETOOBIG. detail receives the reason. */
enum ctms_err dispatch_check_framing(struct MHD_Connection *conn, size_t max_body, char *detail,
				    size_t len, bool *close);

/* Runs the route's handler on r (r->db and r->actor set). A POST with an
 * Idempotency-Key runs inside one transaction with its key: a retry with
 * the same key and body replays the first 2xx answer (with its ETag), the
 * same key with another body answers 422. */
void dispatch_run(struct request *r, const struct route *route);

/* The browser session's cookie. */
#define SESSION_COOKIE "ctms_session"

#endif
