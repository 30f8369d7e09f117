/* The portfolio: every study the actor may see, each with the figures the
 * portfolio screen shows, in a fixed number of queries however many
 * studies there are (docs/openapi.yaml, Portfolio).
 *
 * Each figure is the one the study's own reports give, as of today:
 *   - subjects and sites by status, and "enrolled" (ever enrolled:
 *     enrolled, completed or withdrawn), as GET .../summary counts them;
 *   - sites known and active, and the plan (planned, actual, difference,
 *     percent_of_plan), as the totals of GET .../enrollment give them;
 *   - milestones_overdue: milestones planned before today (UTC) with no
 *     actual date, as the milestone records flag them.
 *
 * Who sees which figures follows access.h. The study list is the study
 * list's (the same filter). Figures over the whole study need the
 * study-reports capability for that study (a global or study grant);
 * an actor who holds it only through study-site grants sees "scope":
 * "sites" figures counted over those study-sites alone (grants whose role
 * may read subjects), and no plan, which is study-wide; anyone else sees
 * "figures": null. Milestones are study-level records every reader of the
 * study may read, so their count is always given. */
#ifndef CTMS_PORTFOLIO_H
#define CTMS_PORTFOLIO_H

#include <jansson.h>

struct actor;
struct db;
struct err;

/* *out: a new {"as_of", "items": [...]} with one item per visible study,
 * in id order. 0, or a negative ctms_err with e set. */
int portfolio_list(struct db *db, const struct actor *a, json_t **out, struct err *e);

#endif
