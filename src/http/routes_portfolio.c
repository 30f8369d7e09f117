/* The portfolio route: no query parameters (a typo is refused rather than
 * silently ignored), the domain's answer as it is. */
#include "http/routes_portfolio.h"

#include <microhttpd.h>

#include "domain/portfolio.h"
#include "util/err.h"

static enum MHD_Result refuse_param(void *cls, enum MHD_ValueKind kind, const char *key,
				    const char *value)
{
	(void)kind;
	(void)value;
	err_field(cls, key, "is not a query parameter of the portfolio (it takes none)");
	return MHD_YES;
}

void h_portfolio(struct request *r)
{
	json_t *portfolio;
	struct err e;

	err_init(&e);
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, refuse_param, &e);
	if (e.code || portfolio_list(r->db, r->actor, &portfolio, &e))
		reply_error(r, &e, NULL);
	else
		reply_json(r, 200, portfolio);
	err_release(&e);
}
