#include "cli/import_command.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_args.h"
#include "db/db.h"
#include "domain/actor.h"
#include "domain/auth.h"
#include "cli/forecast_table.h"
#include "io/csv_import.h"
#include "io/csv_read.h"
#include "io/ctgov.h"
#include "io/sdtm.h"
#include "io/odm.h"

const char import_usage[] =
	"usage: ctms import ctgov --db PATH FILE...\n"
	"       ctms import sdtm --db PATH [--consent-on-screening] DIR\n"
	"Imports ClinicalTrials.gov API v2 study records (one JSON study per line, or\n"
	"one JSON array): a study per NCT id, created or updated field by field, and a\n"
	"study-site per location, numbered 001, 002, ... in the record's order. A study\n"
	"that fails leaves the others loaded. Re-importing the same record changes nothing.\n"
	"Prints the counts, what was adapted, and every rejected record with its\n"
	"reason. Exits 0 when the files were read (even with rejections), 1 when one\n"
	"could not be read.\n"
	"\n"
	"sdtm builds one study from a directory of CDISC SDTM datasets as CSV (dm, ds,\n"
	"sv, ts, tv; ae and ex when present): its sites, subjects with their\n"
	"disposition, visit schedule, subject visits, adverse events and exposure.\n"
	"Its protocol version 1.0 is left draft: approving it takes a manager's\n"
	"electronic signature, which the data does not carry. Subjects\n"
	"without a consent date (DM.RFICDTC) cannot be enrolled; with\n"
	"--consent-on-screening their screening date is recorded as consent date, with\n"
	"an audited reason saying the date is not in the source. Re-importing the same\n"
	"directory changes nothing.\n"
	"\n"
	"       ctms import odm --db PATH --study PROTOCOL [--site NUMBER] FILE\n"
	"odm loads the ClinicalData of a CDISC ODM 1.3.x file into an existing study:\n"
	"a subject per SubjectData at the study-site its SiteRef names (--site for\n"
	"subjects naming none), a visit per dated StudyEventData, visit definitions\n"
	"from the StudyEventDefs where the study lacks them. Each subject with its\n"
	"visits is one transaction; re-importing the same file changes nothing.\n"
	"\n"
	"       ctms import csv --db PATH --study PROTOCOL --kind sites|subjects FILE\n"
	"       ctms import csv --template sites|subjects\n"
	"csv creates a study's sites or subjects from a CSV file whose header row names\n"
	"the fields (docs/formats-imports.md; --template prints the header). The file is\n"
	"one transaction: when any row is bad nothing is written, every bad row is\n"
	"reported with its line, and the exit status is 1.\n";

/* Prints e's error, if any, as the command's failure; true when it did. */
static bool print_failure(const struct err *e)
{
	char text[2048];

	if (!e->code)
		return false;
	err_describe(e, text, sizeof(text));
	fprintf(stderr, "ctms: %s\n", text);
	return true;
}

/* `ctms import sdtm`: argv[3..] are the options and the directory. */
static int import_sdtm(int argc, char **argv)
{
	struct sdtm_options options = {0};
	const char *db_path = getenv("CTMS_DB"), *dir = NULL;
	struct sdtm_report report;
	struct db *db = NULL;
	struct err e;
	int status = 0;

	const struct cli_option opts[] = {
		{"--db", &db_path, NULL},
		{"--consent-on-screening", NULL, &options.consent_on_screening},
	};
	int n, rc = cli_args(argc, argv, 3, opts, 2, &dir, 1, &n, import_usage);

	if (rc)
		return rc == 1 ? 0 : rc;
	if (!dir) {
		fprintf(stderr, "ctms: import sdtm needs a DIR\n%s", import_usage);
		return 2;
	}
	err_init(&e);
	sdtm_report_init(&report);
	if (!cli_open_db(db_path, &db, &e)) {
		if (!sdtm_import_dir(db, actor_system(), dir, &options, &report, &e)) {
			printf("import %s\n", dir);
			sdtm_report_print(stdout, &report);
		}
		db_close(db);
	}
	if (print_failure(&e))
		status = 1;
	sdtm_report_release(&report);
	err_release(&e);
	return status;
}

/* `ctms import odm`: argv[3..] are the options and the file. */
static int import_odm(int argc, char **argv)
{
	struct odm_options options = {0};
	const char *db_path = getenv("CTMS_DB"), *file = NULL, *study = NULL;
	struct odm_report report;
	struct db *db = NULL;
	struct err e;
	int status = 0;

	const struct cli_option opts[] = {
		{"--db", &db_path, NULL},
		{"--study", &study, NULL},
		{"--site", &options.default_site, NULL},
	};
	int n, rc = cli_args(argc, argv, 3, opts, 3, &file, 1, &n, import_usage);

	if (rc)
		return rc == 1 ? 0 : rc;
	if (!file || !study) {
		fprintf(stderr, "ctms: import odm needs --study PROTOCOL and a FILE\n%s", import_usage);
		return 2;
	}
	err_init(&e);
	odm_report_init(&report);
	if (!cli_open_db(db_path, &db, &e)) {
		if (!odm_import_file(db, actor_system(), study, file, &options, &report, &e)) {
			printf("import %s\n", file);
			odm_report_print(stdout, &report);
		}
		db_close(db);
	}
	if (print_failure(&e))
		status = 1;
	odm_report_release(&report);
	err_release(&e);
	return status;
}

/* `ctms import csv`: argv[3..] are the options and the file. */
static int import_csv(int argc, char **argv)
{
	const char *db_path = getenv("CTMS_DB"), *file = NULL, *protocol = NULL, *kind_name = NULL;
	const char *template_kind = NULL;
	enum csv_import_kind kind;
	struct csv_import_report report;
	struct db *db = NULL;
	char *data = NULL;
	size_t len = 0;
	int64_t study_id = 0;
	struct err e;
	int status = 0;

	const struct cli_option opts[] = {
		{"--db", &db_path, NULL},
		{"--study", &protocol, NULL},
		{"--kind", &kind_name, NULL},
		{"--template", &template_kind, NULL},
	};
	int n, rc = cli_args(argc, argv, 3, opts, 4, &file, 1, &n, import_usage);

	if (rc)
		return rc == 1 ? 0 : rc;
	if (template_kind) {
		if (csv_import_kind_parse(template_kind, &kind)) {
			fprintf(stderr, "ctms: --template takes sites or subjects\n");
			return 2;
		}
		char *text = csv_import_template(kind);
		fputs(text, stdout);
		free(text);
		return 0;
	}
	if (!file || !protocol || csv_import_kind_parse(kind_name, &kind)) {
		fprintf(stderr,
			"ctms: import csv needs --study PROTOCOL, --kind sites|subjects and a FILE\n%s",
			import_usage);
		return 2;
	}
	err_init(&e);
	csv_import_report_init(&report);
	if (!cli_open_db(db_path, &db, &e)) {
		if (!study_by_protocol(db, protocol, &study_id, &e) &&
		    !csv_read_file(file, &data, &len, &e)) {
			rc = csv_import(db, actor_system(), study_id, kind, file, data, len, &report, &e);
			/* Bad rows are the report, not a failure to run. */
			if (!rc || json_array_size(report.errors)) {
				csv_import_report_print(stdout, file, &report);
				status = rc ? 1 : 0;
				err_release(&e);
				err_init(&e);
			}
		}
		free(data);
		db_close(db);
	}
	if (print_failure(&e))
		status = 1;
	csv_import_report_release(&report);
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
	if (argc >= 3 && !strcmp(argv[2], "odm")) {
		free(files);
		return import_odm(argc, argv);
	}
	if (argc >= 3 && !strcmp(argv[2], "sdtm")) {
		free(files);
		return import_sdtm(argc, argv);
	}
	if (argc >= 3 && !strcmp(argv[2], "csv")) {
		free(files);
		return import_csv(argc, argv);
	}
	if (argc < 3 || strcmp(argv[2], "ctgov")) {
		bool help = argc >= 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"));
		if (!help && argc >= 3)
			fprintf(stderr, "ctms: unknown import format '%s'\n", argv[2]);
		fputs(import_usage, help ? stdout : stderr);
		free(files);
		return help ? 0 : 2;
	}
	const struct cli_option opts[] = {{"--db", &db_path, NULL}};
	int rc = cli_args(argc, argv, 3, opts, 1, files, argc, &nfiles, import_usage);

	if (rc) {
		free(files);
		return rc == 1 ? 0 : rc;
	}
	if (!nfiles) {
		fprintf(stderr, "ctms: import ctgov needs at least one FILE\n%s", import_usage);
		free(files);
		return 2;
	}
	err_init(&e);
	if (!cli_open_db(db_path, &db, &e)) {
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
	if (print_failure(&e))
		status = 1;
	err_release(&e);
	free(files);
	return status;
}
