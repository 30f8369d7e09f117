#include "analytics/alloc.h"

#include <stdint.h>
#include <stdlib.h>

void *analytics_calloc(size_t count, size_t size)
{
	void *p;

	if (count == 0)
		count = 1;
	if (size == 0)
		size = 1;
	if (count > SIZE_MAX / size)
		abort();
	p = calloc(count, size);
	if (!p)
		abort();
	return p;
}
