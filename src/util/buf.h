/* A growable, always NUL-terminated byte buffer with a mandatory size cap.
 *
 *	struct buf b;
 *	buf_init(&b, 4096);
 *	buf_puts(&b, "SELECT ");
 *	...
 *	use(b.ptr, b.len);
 *	buf_release(&b);
 *
 * Appends past the cap fail with CTMS_ETOOBIG and leave the buffer as it was.
 * Allocation failure aborts (see xmalloc). */
#ifndef CTMS_BUF_H
#define CTMS_BUF_H

#include <stddef.h>

struct buf {
	char *ptr;  /* never NULL after buf_init; "" when empty */
	size_t len;
	size_t alloc;
	size_t max;
};

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
void buf_reset(struct buf *b);
/* Hands the string to the caller, who frees it; the buffer is re-initialised. */
char *buf_detach(struct buf *b);

int buf_add(struct buf *b, const void *data, size_t len);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Allocation wrappers that abort on failure: ctms never limps on without memory. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#include "util/err.h"
#endif
