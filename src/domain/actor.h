/* Who is acting. Every domain call receives one; the audit trail records it. */
#ifndef CTMS_ACTOR_H
#define CTMS_ACTOR_H

#include <stdint.h>

struct actor {
	int64_t id;       /* 0 for the built-in system actor */
	const char *name; /* printed name, as recorded in the audit trail */
};

/* The built-in actor used by the command line and, until accounts exist, by
 * every API request. */
const struct actor *actor_system(void);

#endif
