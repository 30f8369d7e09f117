/* What an import did with one kind of record: the counts every importer
 * reports, and their one-line form. */
#ifndef CTMS_IO_IMPORT_COUNTS_H
#define CTMS_IO_IMPORT_COUNTS_H

#include <stdint.h>
#include <stdio.h>

struct import_counts {
	int64_t created, unchanged, rejected;
};

/* "WHAT: N created, N unchanged, N rejected" and a newline. */
void import_counts_print(FILE *out, const char *what, const struct import_counts *c);

#endif
