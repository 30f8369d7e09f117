#include "cli/import_command.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "db/db.h"
#include "domain/actor.h"
#include "domain/auth.h"
#include "io/ctgov.h"
#include "io/sdtm.h"

const char import_usage[] =
	"usage: ctms import ctgov --db PATH FILE...\n"
	"       ctms import sdtm --db PATH [--consent-on-screening] DIR\n"
	"Imports ClinicalTrials.gov API v2 study records (one JSON study per line, or\n"
	"one JSON array): a study per NCT id, created or updated field by field, and a\n"
	"study-site per location, numbered 001, 002, ... in the record's order. Each\n"
	"study is one transaction. Re-importing the same record changes nothing.\n"
	"Prints the counts, what was adapted, and every rejected record with its\n"
	"reason. Exits 0 when the files were read (even with rejections), 1 when one\n"
	"could not be read.\n"
	"\n"
	"sdtm builds one study from a directory of CDISC SDTM datasets as CSV (dm, ds,\n"
	"sv, ts, tv; ae and ex are counted, not imported): its sites, subjects with\n"
	"their disposition, visit schedule and subject visits. The protocol version is\n"
	"approved with the signature of the demo manager (" DEMO_SIGNER "). Subjects\n"
	"without a consent date (DM.RFICDTC) cannot be enrolled; with\n"
	"--consent-on-screening their screening date is recorded as consent date, with\n"
	"an audited reason saying the date is not in the source. Re-importing the same\n"
	"directory changes nothing.\n";

/* `ctms import sdtm`: argv[3..] are the options and the directory. */
static int import_sdtm(int argc, char **argv)
{
	struct sdtm_options options = {0};
	const char *db_path = getenv("CTMS_DB"), *dir = NULL;
	struct actor *signer = NULL;
	struct sdtm_report report;
	struct db *db = NULL;
	struct err e;
	int status = 0;

	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(import_usage, stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--db") && i + 1 < argc) {
			db_path = argv[++i];
		} else if (!strncmp(argv[i], "--db=", 5)) {
			db_path = argv[i] + 5;
		} else if (!strcmp(argv[i], "--consent-on-screening")) {
			options.consent_on_screening = true;
		} else if (!strncmp(argv[i], "--", 2) || dir) {
			fprintf(stderr, "ctms: unknown option or extra argument %s\n%s", argv[i],
				import_usage);
			return 2;
		} else {
			dir = argv[i];
		}
	}
	if (!dir) {
		fprintf(stderr, "ctms: import sdtm needs a DIR\n%s", import_usage);
		return 2;
	}
	err_init(&e);
	sdtm_report_init(&report);
	if (!db_path || !db_path[0]) {
		err_set(&e, CTMS_EINVAL, "no database: give --db PATH or set CTMS_DB");
	} else if (!cli_open_db(db_path, &db, &e)) {
		if (!demo_signer(db, &signer, &e) &&
		    !sdtm_import_dir(db, actor_system(), signer, dir, &options, &report, &e)) {
			printf("import %s\n", dir);
			sdtm_report_print(stdout, &report);
		}
		actor_free(signer);
		db_close(db);
	}
	if (e.code) {
		char text[2048];
		err_describe(&e, text, sizeof(text));
		fprintf(stderr, "ctms: %s\n", text);
		status = 1;
	}
	sdtm_report_release(&report);
	err_release(&e);
	return status;
}

int import_command(int argc, char **argv)
{
	const char *db_path = getenv("CTMS_DB");
	const char **files = calloc((size_t)argc, sizeof(*files));
	struct ctgov_report report;
	struct db *db = NULL;
	struct err e;
	int nfiles = 0, status = 0;

	if (!files)
		abort();
	if (argc >= 3 && !strcmp(argv[2], "sdtm")) {
		free(files);
		return import_sdtm(argc, argv);
	}
	if (argc < 3 || strcmp(argv[2], "ctgov")) {
		bool help = argc >= 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"));
		if (!help && argc >= 3)
			fprintf(stderr, "ctms: unknown import format '%s'\n", argv[2]);
		fputs(import_usage, help ? stdout : stderr);
		free(files);
		return help ? 0 : 2;
	}
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(import_usage, stdout);
			free(files);
			return 0;
		}
		if (!strcmp(argv[i], "--db") && i + 1 < argc) {
			db_path = argv[++i];
		} else if (!strncmp(argv[i], "--db=", 5)) {
			db_path = argv[i] + 5;
		} else if (!strncmp(argv[i], "--", 2)) {
			fprintf(stderr, "ctms: unknown or incomplete option %s\n%s", argv[i],
				import_usage);
			free(files);
			return 2;
		} else {
			files[nfiles++] = argv[i];
		}
	}
	if (!nfiles) {
		fprintf(stderr, "ctms: import ctgov needs at least one FILE\n%s", import_usage);
		free(files);
		return 2;
	}
	err_init(&e);
	if (!db_path || !db_path[0]) {
		err_set(&e, CTMS_EINVAL, "no database: give --db PATH or set CTMS_DB");
	} else if (!cli_open_db(db_path, &db, &e)) {
		for (int i = 0; i < nfiles; i++) {
			ctgov_report_init(&report);
			if (ctgov_import_file(db, actor_system(), files[i], &report, &e)) {
				status = 1;
				ctgov_report_release(&report);
				break;
			}
			printf("import %s\n", files[i]);
			ctgov_report_print(stdout, &report);
			ctgov_report_release(&report);
		}
		db_close(db);
	}
	if (e.code) {
		char text[2048];
		err_describe(&e, text, sizeof(text));
		fprintf(stderr, "ctms: %s\n", text);
		status = 1;
	}
	err_release(&e);
	free(files);
	return status;
}
