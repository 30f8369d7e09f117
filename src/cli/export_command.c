#include "cli/export_command.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_args.h"
#include "db/db.h"
#include "domain/actor.h"
#include "domain/record.h"
#include "domain/study.h"
#include "io/odm.h"
#include "util/json.h"

const char export_usage[] =
	"usage: ctms export odm --db PATH --study PROTOCOL [--out FILE]\n"
	"Writes the study's subjects and visits as a CDISC ODM 1.3.2 document (the\n"
	"layout of GET /api/v1/studies/{id}/odm) to FILE, or to standard output.\n";

static int study_id_of(struct db *db, const char *protocol, int64_t *id, struct err *e)
{
	struct list_filter filter = {"protocol_number", protocol};
	struct list_query q = {.limit = 1, .filters = &filter, .nfilters = 1};
	json_t *items = NULL;
	int64_t next;
	int rc = record_list(db, actor_system(), &study_def, &q, &items, &next, e);

	*id = json_int(json_array_get(items, 0), "id", 0);
	json_decref(items);
	if (!rc && !*id)
		rc = err_set(e, CTMS_ENOTFOUND, "no study has the protocol number '%s'", protocol);
	return rc;
}

static int write_out(const char *path, const char *xml, size_t len, struct err *e)
{
	FILE *f = path ? fopen(path, "wb") : stdout;

	if (!f)
		return err_set(e, CTMS_EIO, "cannot write %s", path);
	if (fwrite(xml, 1, len, f) != len || (path ? fclose(f) : fflush(f)))
		return err_set(e, CTMS_EIO, "cannot write %s", path ? path : "standard output");
	return 0;
}

int export_command(int argc, char **argv)
{
	const char *db_path = getenv("CTMS_DB"), *study = NULL, *out = NULL;
	struct db *db = NULL;
	char *xml = NULL;
	size_t len = 0;
	int64_t id = 0;
	struct err e;
	int status = 0;

	if (argc < 3 || strcmp(argv[2], "odm")) {
		bool help = argc >= 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"));
		fputs(export_usage, help ? stdout : stderr);
		return help ? 0 : 2;
	}
	const struct cli_option opts[] = {
		{"--db", &db_path, NULL},
		{"--study", &study, NULL},
		{"--out", &out, NULL},
	};
	int n, rc = cli_args(argc, argv, 3, opts, 3, NULL, 0, &n, export_usage);

	if (rc)
		return rc == 1 ? 0 : rc;
	if (!study) {
		fprintf(stderr, "ctms: export odm needs --study PROTOCOL\n%s", export_usage);
		return 2;
	}
	err_init(&e);
	if (!db_path || !db_path[0]) {
		err_set(&e, CTMS_EINVAL, "no database: give --db PATH or set CTMS_DB");
	} else if (!cli_open_db(db_path, &db, &e)) {
		if (!study_id_of(db, study, &id, &e) && !odm_export(db, actor_system(), id, &xml, &len, &e))
			write_out(out, xml, len, &e);
		db_close(db);
	}
	if (e.code) {
		char text[2048];
		err_describe(&e, text, sizeof(text));
		fprintf(stderr, "ctms: %s\n", text);
		status = 1;
	}
	free(xml);
	err_release(&e);
	return status;
}
