/* Shared between the two halves of the record engine (record.h):
 * record.c validates and writes, record_read.c reads and lists. */
#ifndef CTMS_RECORD_INTERNAL_H
#define CTMS_RECORD_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "domain/access.h"
#include "domain/record.h"

struct buf;

/* Statements are at most this long. */
#define RECORD_SQL_MAX (64 * 1024)

/* A field stored in a column of the record's table (not virtual). */
static inline bool record_is_column(const struct field_def *f)
{
	return !(f->flags & F_VIRTUAL);
}

/* Appends each string up to a NULL: statements are put together from the
 * names in the field tables on every write, by appending strings rather
 * than through printf. */
void record_put_sql(struct buf *b, ...);

/* Loads one record as stored (no derived fields, no access check) into
 * *out, a new reference; CTMS_ENOTFOUND naming it when it does not exist. */
int record_load(struct db *db, const struct entity_def *def, int64_t id, json_t **out,
		struct err *e);

/* Turns a loaded record into what the actor is shown: derived fields (the
 * render hook), signatures, and blinded fields left out for blinded roles. */
void record_decorate(struct db *db, const struct actor *a, const struct entity_def *def,
		     json_t *rec);

/* Appends codes as "a, b, c" ("none" for none), cut short at the buffer's cap. */
void record_list_codes(struct buf *b, const char *const *codes);

/* Whether s holds a control character other than tab and newline. */
bool record_has_control(const char *s);

/* Loads the record to change inside the open transaction into *old and
 * checks that the actor may do op and that if_match (unless 0) is its
 * version; when it is not, *out (unless out is NULL) gets the current
 * record as the actor sees it, and the answer is CTMS_ESTALE. */
int record_load_for_write(struct db *db, const struct actor *a, const struct entity_def *def,
			  enum access_op op, int64_t id, int64_t if_match, json_t **old, json_t **out,
			  struct err *e);

/* Ends a write begun with db_begin: when rc is 0 commits and reads the
 * record back into *out (unless out is NULL), else rolls back. Answers the
 * final result. */
int record_finish_write(struct db *db, const struct actor *a, const struct entity_def *def,
			int64_t id, int rc, json_t **out, struct err *e);

#endif
