/* Who may see and do what (21 CFR 11.10(d), (g): authority checks on every
 * action). The rules live here, in the domain, so the API and the command
 * line enforce the same ones; the record engine (record.c) asks before it
 * reads or writes, and the reports ask before they count.
 *
 * A grant gives a role within a scope: everything (global), one study, or
 * one study-site. A record is in a grant's scope when it belongs to that
 * study or study-site; reference records (organisations, institutions) are
 * in every scope. Study-level records (the study, its protocol versions,
 * schedule, milestones, plan) are readable from a study-site grant of their
 * study but writable only from a study or global grant.
 *
 * Outside the actor's scope a record does not exist (CTMS_ENOTFOUND, so its
 * existence never leaks); inside it, an action the roles do not allow is
 * CTMS_EFORBIDDEN. */
#ifndef CTMS_ACCESS_H
#define CTMS_ACCESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "domain/actor.h"

struct buf;
struct err;
struct entity_def;

enum access_op {
	ACCESS_READ = 1 << 0,
	ACCESS_CREATE = 1 << 1,
	ACCESS_UPDATE = 1 << 2,
	ACCESS_TRANSITION = 1 << 3,
};

/* Capabilities that are not a kind of record. */
enum access_capability {
	CAP_STUDY_REPORTS, /* summary, enrollment, forecast, diversity of a study */
	CAP_AUDIT_TRAIL,   /* GET /audit: every event */
	CAP_ADMINISTER,    /* users, grants, tokens, settings */
	CAP_SIGN,          /* electronic signatures on records the actor may read */
};

extern const char *const role_names[]; /* NULL-terminated, in enum role order */
const char *role_name(enum role r);
/* 0 and *out, or CTMS_EINVAL for a name that is not a role. */
int role_parse(const char *name, enum role *out);

/* Whether role r may do op on records of the kind def, in its scope. */
bool access_role_allows(enum role r, const struct entity_def *def, enum access_op op);

/* The scope of a record (or of a record about to be created, from its
 * values): its study and study-site ids, 0 where it has none. */
void access_scope_of(const struct entity_def *def, const json_t *rec, int64_t *study_id,
		     int64_t *study_site_id);

/* May a read op on rec; 0, or CTMS_ENOTFOUND naming the record. */
int access_read(const struct actor *a, const struct entity_def *def, const json_t *rec,
		struct err *e);
/* May do op (create, update, transition) on rec (for create: the values
 * about to be written); 0, CTMS_ENOTFOUND when rec is not visible, or
 * CTMS_EFORBIDDEN. */
int access_write(const struct actor *a, const struct entity_def *def, enum access_op op,
		 const json_t *rec, struct err *e);

/* Appends to sql a condition (starting " AND ") that keeps only the rows of
 * table alias t the actor may read; *n is the last parameter number used,
 * and grows by one when the condition needs the actor's id, which the
 * caller then binds at *user_param (else *user_param is 0). */
void access_list_filter(const struct actor *a, const struct entity_def *def, struct buf *sql,
			int *n, int *user_param);

/* A capability over one study (study_id) or over everything (0): 0, or
 * CTMS_ENOTFOUND when the study is outside every grant, or CTMS_EFORBIDDEN. */
int access_capability(const struct actor *a, enum access_capability c, int64_t study_id,
		      struct err *e);
/* The same for a record at a study-site: a grant over that study-site
 * counts as well (a site investigator signs the site's records). */
int access_capability_at(const struct actor *a, enum access_capability c, int64_t study_id,
			 int64_t study_site_id, struct err *e);

/* Whether the actor may see randomised arms of a record in this scope. */
bool access_unblinded(const struct actor *a, int64_t study_id, int64_t study_site_id);

#endif
