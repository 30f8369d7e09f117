/* GET /api/v1/portfolio: every study the actor may see with its figures
 * (domain/portfolio.h). */
#ifndef CTMS_ROUTES_PORTFOLIO_H
#define CTMS_ROUTES_PORTFOLIO_H

#include "http/request.h"

void h_portfolio(struct request *r);

#endif
