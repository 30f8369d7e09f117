#include "io/import_counts.h"

void import_counts_print(FILE *out, const char *what, const struct import_counts *c)
{
	fprintf(out, "%s: %lld created, %lld unchanged, %lld rejected\n", what, (long long)c->created,
		(long long)c->unchanged, (long long)c->rejected);
}
