/* libFuzzer harness for the ClinicalTrials.gov record import
 * (ctgov_import_record, io/ctgov.h): bytes parsed as JSON as the importer
 * does, then mapped and written into an in-memory SQLite database through
 * the domain layer. Any input is reported or imported, never a crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "db/db.h"
#include "domain/actor.h"
#include "io/ctgov.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct db *db;
static unsigned long runs;

/* A fresh database now and then keeps memory flat over long runs. */
static void reopen(void)
{
	struct err e;

	err_init(&e);
	if (db)
		db_close(db);
	db = NULL;
	if (db_open(":memory:", &db, &e) || db_migrate(db, &e)) {
		fprintf(stderr, "fuzz_ctgov: cannot open an in-memory database: %s\n", e.detail);
		abort();
	}
	err_release(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctgov_report r;
	json_error_t error;
	json_t *record;

	if (!db || ++runs % 5000 == 0)
		reopen();
	record = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &error);
	if (!record)
		return 0;
	ctgov_report_init(&r);
	ctgov_import_record(db, actor_system(), record, "fuzz:1", &r);
	if (!json_is_array(r.rejected) || !json_is_array(r.notes))
		__builtin_trap();
	ctgov_report_release(&r);
	json_decref(record);
	return 0;
}
