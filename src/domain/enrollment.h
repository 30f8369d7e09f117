/* Enrollment tracking: what a study's dated records say about recruitment,
 * as of any date.
 *
 * Every figure is computed from the dated records alone (a subject's
 * screened_on, screen_failed_on, enrolled_on, completed_on, withdrawn_on; a
 * study-site's lifecycle dates), ignoring anything dated after as-of: a
 * subject enrolled after as-of counts as not yet enrolled, a site activated
 * after as-of is not active, a site first dated after as-of is not known
 * yet. That makes a past date's answer the one a manager would have had on
 * that day, which is what a backtest needs.
 *
 * Conventions, stated once:
 *   - a site recruits from its activated_on to its closed_on, both days
 *     counted, so a site activated and closed on the same day was active
 *     one day; its active days as of D are min(D, closed_on) - activated_on
 *     + 1;
 *   - a site-month is 30.4375 days (365.25 / 12);
 *   - "enrolled" counts everyone ever enrolled (enrolled, completed or
 *     withdrawn since); "active" is enrolled and neither completed nor
 *     withdrawn; "in_screening" is screened and neither screen-failed nor
 *     enrolled;
 *   - the plan is piecewise linear between its points, 0 before the first
 *     point and flat after the last (enrollment_plan.h). */
#ifndef CTMS_ENROLLMENT_H
#define CTMS_ENROLLMENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;
struct err;

#define ENROLLMENT_DAYS_PER_MONTH 30.4375
/* A day number meaning "no date". */
#define ENROLLMENT_NO_DAY INT32_MIN

/* One study-site as of the snapshot's date. */
struct enrollment_site {
	int64_t id;
	char site_number[33];
	char country[3];
	int64_t target;                /* target_enrollment, or -1 when not set */
	int32_t activated_on;          /* day numbers, or ENROLLMENT_NO_DAY (also when */
	int32_t closed_on;             /* dated after as-of: not yet, as of then) */
	int32_t planned_activation_on; /* the plan as recorded now, or ENROLLMENT_NO_DAY */
	bool active;                   /* activated by as-of and not closed by then */
	bool closed;                   /* closed on or before as-of */
	int32_t active_days;           /* days recruiting up to as-of (0 if never activated) */
	int64_t screened, screen_failed, enrolled, completed, withdrawn;
	int32_t first_screened_on, first_enrolled_on; /* or ENROLLMENT_NO_DAY */
};

/* A count of screen failures or withdrawals with one reason, at one site. */
struct enrollment_reason {
	size_t site;        /* index into sites */
	bool withdrawal;    /* false: screen failure */
	char *reason;       /* owned; "not recorded" for a missing reason */
	int64_t count;
};

/* A study's sites and subjects as of one date. */
struct enrollment_snapshot {
	int64_t study_id;
	char protocol_number[65];
	char status[16];         /* the study's status now */
	int64_t target;          /* the study's target_enrollment */
	int32_t as_of;
	int32_t first_day;       /* the study's first dated record */
	int32_t enrollment_ended_on; /* left enrolling (follow_up, terminated, ...) by as-of,
					or ENROLLMENT_NO_DAY */
	size_t nsites;
	struct enrollment_site *sites; /* known by as-of, in site_number order */
	size_t nreasons;
	struct enrollment_reason *reasons;
};

/* Loads the snapshot of study_id as of as_of (YYYY-MM-DD; NULL means today,
 * the latest calendar date anywhere on Earth). Refuses, with a field error on
 * "as_of", a date that is not a calendar date, lies in the future, or
 * precedes the study's first dated record (the earliest lifecycle date of
 * the study or its sites, or screening of its subjects; for a study with
 * none, the day it was created). CTMS_ENOTFOUND for an unknown study. The
 * caller releases *out with enrollment_snapshot_release, also after a
 * failure. */
int enrollment_snapshot_load(struct db *db, int64_t study_id, const char *as_of,
			     struct enrollment_snapshot *out, struct err *e);
void enrollment_snapshot_release(struct enrollment_snapshot *s);

/* Subjects ever enrolled at the snapshot's sites. */
int64_t enrollment_snapshot_enrolled(const struct enrollment_snapshot *s);

/* The tracking report (docs/openapi.yaml, EnrollmentReport): totals for the
 * study and, with by "site", "country" or "month" (NULL: none), one group
 * per site, country or calendar month. A by that is none of these is refused
 * with a field error on "by". *out is a new reference. */
int enrollment_report(struct db *db, int64_t study_id, const char *as_of, const char *by,
		      json_t **out, struct err *e);

/* The YYYY-MM-DD of a day number as a JSON string, or null for
 * ENROLLMENT_NO_DAY or a day outside the years 1900 to 2199. */
json_t *enrollment_date_json(int32_t day);
/* A JSON real rounded to `decimals` places, or null when x is not finite. */
json_t *enrollment_number_json(double x, int decimals);

#endif
