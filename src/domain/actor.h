/* Who is acting. Every domain call receives one; the audit trail records it,
 * and the access rules (access.h) decide from its grants what it may see and
 * do. */
#ifndef CTMS_ACTOR_H
#define CTMS_ACTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum role {
	ROLE_ADMIN,
	ROLE_MANAGER, /* clinical project or trial manager */
	ROLE_MONITOR, /* clinical research associate */
	ROLE_SITE,    /* site coordinator or investigator */
	ROLE_SAFETY,
	ROLE_FINANCE,
	ROLE_AUDITOR, /* reads everything, the audit trail too; changes nothing */
	ROLE_VIEWER,  /* sponsor: read-only dashboards, no subject-level records */
	NROLES
};

/* A role granted globally (study_id 0), for one study, or for one
 * study-site (study_site_id set; study_id is then that site's study). */
struct grant {
	enum role role;
	int64_t study_id;
	int64_t study_site_id;
	bool unblinded; /* may see randomised arms in its scope */
};

struct actor {
	int64_t id;       /* the user's id; 0 for the built-in system actor */
	const char *name; /* printed name, as recorded in the audit trail */
	bool system;      /* the command line's operator: every right */
	const struct grant *grants;
	size_t ngrants;
	int64_t session_id; /* the signed-in session, 0 for a token or none */
	bool session_signed; /* that session has already signed once (11.200) */
};

/* The built-in actor of the command line (an operator with the database in
 * hand) and of the store's own housekeeping. */
const struct actor *actor_system(void);

#endif
