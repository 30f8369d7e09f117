/* Diversity goals for enrollment (FDA diversity action plans, FDORA 2022;
 * RULES.md, "Diversity in enrollment"): per study, a goal for a category of
 * sex, race, ethnicity or age band, as a count or as a percentage of the
 * study's target, tracked against actual enrollment overall and per site,
 * with the final mix projected if the sites go on recruiting at their
 * forecast rates with their current mix.
 *
 * Goals are minimums ("at least 30% of subjects aged 65 or over"). A goal
 * is a record (created, changed with If-Match, audited, never deleted). */
#ifndef CTMS_DIVERSITY_H
#define CTMS_DIVERSITY_H

#include <jansson.h>

#include "domain/record.h"

extern const struct entity_def diversity_goal_def;

/* Small cells: a percentage is given only for a cell of at least this many
 * subjects; a smaller cell shows its count alone, since 1 of 2 is not 50%
 * in any useful sense. */
#define DIVERSITY_SMALL_CELL 5
/* A site's mix is shrunk towards the study's by this many pseudo-subjects
 * before it is projected (a Dirichlet prior), so that a site with two
 * subjects does not project its 50/50 split onto all its future recruits. */
#define DIVERSITY_PSEUDO_SUBJECTS 5.0

/* The report (docs/openapi.yaml, Diversity) as of as_of (NULL: today, with
 * the as-of rules of enrollment.h). *out is a new reference. */
int diversity_report(struct db *db, int64_t study_id, const char *as_of, json_t **out,
		     struct err *e);

#endif
