/* Allocation for the analytics modules, which stand alone (they link only
 * GSL and libm): like xmalloc in util/buf.h, failure aborts, because ctms never
 * limps on without memory. */
#ifndef CTMS_ANALYTICS_ALLOC_H
#define CTMS_ANALYTICS_ALLOC_H

#include <stddef.h>

/* Returns zeroed storage for count elements of size bytes each; aborts when the
 * product overflows or memory runs out. Never returns NULL; free() releases. */
void *analytics_calloc(size_t count, size_t size);

#include "util/err.h"
#endif
