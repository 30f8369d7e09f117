#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/forecast_table.h"
#include "cli/report_tables.h"
#include "db/db.h"
#include "domain/audit.h"
#include "domain/signature.h"
#include "http/router.h"
#include "http/server.h"
#include "http/static.h"
#include "cli/import_command.h"
#include "cli/export_command.h"
#include "util/buf.h"
#include "util/hash.h"

#define CTMS_VERSION "0.1.0"

struct options {
	const char *db;
	const char *listen;
	const char *threads;
	const char *max_inflight;
	const char *max_connections;
	const char *per_ip_limit;
	const char *timeout;
	const char *web;
	const char *app_role;
	const char *to;
	const char *scale;
	const char *seed;
	const char *studies;
	bool force;
	const char *study;
	const char *target;
	const char *as_of;
	const char *by;
	bool help;
	const char *bad;
};

static const char usage_main[] =
	"usage: ctms <command> [options]\n"
	"\n"
	"commands:\n"
	"  init          create a database or migrate it to this version's schema\n"
	"  serve         serve the HTTP API\n"
	"  audit verify  check the audit trail's hash chain\n"
	"  backup        copy a live SQLite database and check the copy\n"
	"  demo          load the demo portfolio into an empty database\n"
	"  enrollment    a study's enrollment tracking as a table\n"
	"  diversity     a study's diversity goals and enrollment mix as a table\n"
	"  forecast      a study's enrollment forecast as a table\n"
	"  import ctgov  import ClinicalTrials.gov study records\n"
	"  import sdtm   import a study from CDISC SDTM datasets as CSV\n"
	"  import csv    import a study's sites or subjects from a CSV file\n"
	"  import odm    import subjects and visits from a CDISC ODM 1.3 file\n"
	"  export odm    write a study's subjects and visits as CDISC ODM 1.3.2\n"
	"  routes        list the HTTP routes\n"
	"  user          add, grant, disable, enable or list users\n"
	"  token         create an API token for a user\n"
	"  settings      set sign-in and session limits\n"
	"  version       print the version\n"
	"\n"
	"Every command that opens a database takes --db PATH (or CTMS_DB in the\n"
	"environment). `ctms <command> --help` describes a command.\n";

static const char usage_init[] =
	"usage: ctms init --db PATH [--app-role ROLE]\n"
	"Creates the database if absent and applies the numbered schema migrations.\n"
	"Refuses a database whose schema is newer than this ctms.\n"
	"  --app-role ROLE  PostgreSQL: grant the role the servers connect as what they\n"
	"                   need, with only SELECT and INSERT on the audit trail and the\n"
	"                   signatures (run init as the owner, serve as ROLE)\n";
static const char usage_serve[] =
	"usage: ctms serve --db PATH [--listen HOST:PORT] [--threads N] [--max-inflight N]\n"
	"                  [--max-connections N] [--per-ip-limit N] [--timeout SECONDS]\n"
	"Serves the API (default 127.0.0.1:8080; port 0 picks a free port).\n"
	"Prints the address once listening; stops cleanly on SIGTERM or SIGINT.\n"
	"  --threads N          workers and database connections (default 4)\n"
	"  --max-inflight N     requests in progress at once; more get 503 (default 64 per thread)\n"
	"  --max-connections N  connections served; requests on more get 503 (default 1024)\n"
	"  --per-ip-limit N     connections from one address (default 128; 0: no limit,\n"
	"                       for a server behind a reverse proxy)\n"
	"  --timeout SECONDS    for a request to arrive, and for an idle connection (default 15)\n"
	"  --web DIR            the web application's files (default: web/dist of the source\n"
	"                       tree, ../web/dist beside the binary's directory); served to\n"
	"                       browsers when present, the API works without them\n";
static const char usage_audit[] =
	"usage: ctms audit verify --db PATH\n"
	"Walks the audit trail's hash chain. Exits 0 when intact; otherwise exits 1\n"
	"and names the first broken event.\n";
static const char usage_backup[] =
	"usage: ctms backup --db SRC --to FILE [--force]\n"
	"Copies the SQLite database SRC into FILE while servers keep writing to it:\n"
	"the copy is one consistent snapshot holding every write acknowledged before\n"
	"the command started. Then checks the copy (PRAGMA integrity_check and the\n"
	"audit chain) and prints \"backup FILE: N audit events, intact\". Refuses an\n"
	"existing FILE unless --force; FILE is replaced only by a checked copy.\n"
	"Restore: stop the server, delete DB-wal and DB-shm, cp FILE DB.\n"
	"A PostgreSQL database is backed up with pg_dump or pg_basebackup (exit 2).\n";
static const char usage_demo[] =
	"usage: ctms demo --db PATH [--scale N [--seed S] [--studies K]]\n"
	"Loads a small demo portfolio (studies, sites, subjects, milestones) into a\n"
	"database that has no studies yet.\n"
	"With --scale N (1 to 100), generates a synthetic portfolio instead: about\n"
	"20·N studies, 500·N study-sites, 20,000·N subjects and 200,000·N visits,\n"
	"every record written through the same rules and audit trail as the API.\n"
	"The same N and seed (default 1) give the same portfolio on any day; it\n"
	"needs an empty database. --studies K (at most 20·N) writes K studies with\n"
	"sites, subjects and visits in the same proportions, for quick tests.\n";

static const char usage_forecast[] =
	"usage: ctms forecast --db PATH --study PROTOCOL [--target N] [--as-of YYYY-MM-DD]\n"
	"Prints the study's enrollment forecast (as GET /api/v1/studies/{id}/forecast):\n"
	"when the target is reached (median and 90% interval), recruits expected in the\n"
	"next 30, 90 and 180 days, each site's rate, the fitted model and the warnings.\n"
	"  --target N      the total enrollment to reach (default: the study's target)\n"
	"  --as-of DATE    forecast from this past date, ignoring anything dated later\n";

static const char usage_enrollment[] =
	"usage: ctms enrollment --db PATH --study PROTOCOL [--as-of YYYY-MM-DD] [--by site|country|month]\n"
	"Prints the study's enrollment tracking (as GET /api/v1/studies/{id}/enrollment):\n"
	"subjects screened, screen-failed and withdrawn with their reasons, enrolled, active\n"
	"and completed; the plan against the actual where the study has a plan; sites, the\n"
	"rate per site-month, days from activation to the first subject and the sites that\n"
	"enrolled nobody while active. Writes nothing.\n"
	"  --as-of DATE    the figures as they stood on this past date (default: today)\n"
	"  --by GROUP      one row per site, country or calendar month as well\n";

static const char usage_diversity[] =
	"usage: ctms diversity --db PATH --study PROTOCOL [--as-of YYYY-MM-DD]\n"
	"Prints the study's diversity report (as GET /api/v1/studies/{id}/diversity): for\n"
	"sex, race, ethnicity and age band, each category's goal, the subjects enrolled (a\n"
	"percentage only for a cell of at least 5) and the projected final mix; then how each\n"
	"goal stands, site by site. Writes nothing.\n"
	"  --as-of DATE    the report as it stood on this past date (default: today)\n";

static int parse_options(int argc, char **argv, int first, struct options *o)
{
	memset(o, 0, sizeof(*o));
	o->db = getenv("CTMS_DB");
	for (int i = first; i < argc; i++) {
		const char *a = argv[i];
		const char **slot = NULL;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			o->help = true;
			continue;
		}
		if (!strcmp(a, "--force")) {
			o->force = true;
			continue;
		}
		if (!strcmp(a, "--to") || !strncmp(a, "--to=", 5))
			slot = &o->to;
		else if (!strncmp(a, "--app-role", 10))
			slot = &o->app_role;
		else if (!strncmp(a, "--db", 4))
			slot = &o->db;
		else if (!strncmp(a, "--study", 7))
			slot = &o->study;
		else if (!strncmp(a, "--target", 8))
			slot = &o->target;
		else if (!strncmp(a, "--as-of", 7))
			slot = &o->as_of;
		else if (!strncmp(a, "--by", 4))
			slot = &o->by;
		else if (!strncmp(a, "--listen", 8))
			slot = &o->listen;
		else if (!strncmp(a, "--threads", 9))
			slot = &o->threads;
		else if (!strncmp(a, "--max-inflight", 14))
			slot = &o->max_inflight;
		else if (!strncmp(a, "--max-connections", 17))
			slot = &o->max_connections;
		else if (!strncmp(a, "--per-ip-limit", 14))
			slot = &o->per_ip_limit;
		else if (!strncmp(a, "--timeout", 9))
			slot = &o->timeout;
		else if (!strncmp(a, "--web", 5))
			slot = &o->web;
		else if (!strncmp(a, "--scale", 7))
			slot = &o->scale;
		else if (!strncmp(a, "--seed", 6))
			slot = &o->seed;
		else if (!strncmp(a, "--studies", 9))
			slot = &o->studies;
		if (!slot) {
			o->bad = a;
			return -1;
		}
		const char *eq = strchr(a, '=');
		if (eq) {
			*slot = eq + 1;
		} else if (i + 1 < argc) {
			*slot = argv[++i];
		} else {
			o->bad = a;
			return -1;
		}
	}
	return 0;
}

/* The database name for messages: a URL's password is never printed. */
static void db_display_name(const char *db, char *out, size_t len)
{
	const char *scheme = strstr(db, "://");
	const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
	const char *colon = at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;

	if (!colon)
		snprintf(out, len, "%s", db);
	else
		snprintf(out, len, "%.*s:***%s", (int)(colon - db), db, at);
}

static int fail(const struct err *e)
{
	char text[2048];
	err_describe(e, text, sizeof(text));
	fprintf(stderr, "ctms: %s\n", text);
	return 1;
}

/* Opens the database named by --db and checks its schema is current. */
static int open_db(const struct options *o, bool migrate, struct db **db, struct err *e)
{
	int version;
	int rc;

	if (!o->db || !o->db[0])
		return err_set(e, CTMS_EINVAL, "no database: give --db PATH or set CTMS_DB");
	/* Only init and demo create a database file; a typo elsewhere must not. */
	if (!migrate && !strstr(o->db, "://") && strcmp(o->db, ":memory:") && access(o->db, F_OK))
		return err_set(e, CTMS_EIO, "%s does not exist; create it with `ctms init --db %s`",
			       o->db, o->db);
	if ((rc = db_open(o->db, db, e)))
		return rc;
	if (migrate)
		rc = db_migrate(*db, e);
	else if ((rc = db_schema_version(*db, &version)) == 0 && version > db_latest_schema_version())
		rc = err_set(e, CTMS_ESCHEMA,
			     "%s is at schema version %d, newer than this ctms (%d); use a newer ctms",
			     o->db, version, db_latest_schema_version());
	else if (rc == 0 && version != db_latest_schema_version())
		rc = err_set(e, CTMS_ESCHEMA,
			     version == 0 ? "%s is not a ctms database; run `ctms init --db %s` first"
					  : "%s needs migrating; run `ctms init --db %s`",
			     o->db, o->db);
	if (rc) {
		db_close(*db);
		*db = NULL;
	}
	return rc;
}

int cli_open_db(const char *db, struct db **out, struct err *e)
{
	struct options o = {.db = db};
	return open_db(&o, false, out, e);
}

static int cmd_init(const struct options *o)
{
	struct db *db;
	struct err e;
	err_init(&e);
	if (open_db(o, true, &db, &e))
		return fail(&e);
	if (o->app_role && db_grant_app_role(db, o->app_role, &e)) {
		db_close(db);
		return fail(&e);
	}
	printf("ctms: %s is at schema version %d\n", o->db, db_latest_schema_version());
	if (o->app_role)
		printf("ctms: %s may read and write, and only append to the audit trail and signatures\n",
		       o->app_role);
	db_close(db);
	return 0;
}

static int parse_listen(const char *s, struct server_config *c, struct err *e)
{
	static char host[64];
	const char *colon = strrchr(s, ':');
	char *end;
	size_t hlen;

	if (!colon)
		return err_set(e, CTMS_EINVAL, "--listen takes HOST:PORT, such as 127.0.0.1:8080");
	hlen = (size_t)(colon - s);
	if (s[0] == '[' && hlen >= 2 && s[hlen - 1] == ']') {
		s++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return err_set(e, CTMS_EINVAL, "--listen has no usable host");
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	errno = 0;
	long port = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port < 0 || port > 65535)
		return err_set(e, CTMS_EINVAL, "--listen has an invalid port");
	c->host = host;
	c->port = (int)port;
	return 0;
}

/* Parses --NAME's value as a whole number from min to max; returns -1 and
 * says why otherwise. An absent option leaves *out as it was. */
static int parse_count(const char *value, const char *name, unsigned min, unsigned max,
		       unsigned *out)
{
	char *end;
	long long n;

	if (!value)
		return 0;
	errno = 0;
	n = strtoll(value, &end, 10);
	if (errno || *end || end == value || n < min || n > max) {
		fprintf(stderr, "ctms: --%s takes a number from %u to %u\n", name, min, max);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

/* The web application (--web DIR, else web/dist of the source tree): a
 * missing directory serves the API alone; an unreadable one is an error. */
static int load_web(const char *dir, struct err *e)
{
	char fallback[4096];
	bool loaded;
	int rc;

	if (!dir) {
		if (static_default_dir(fallback, sizeof(fallback)))
			return 0;
		dir = fallback;
	}
	if ((rc = static_load(dir, &loaded, e)))
		return rc;
	if (!loaded)
		fprintf(stderr, "ctms: no web application in %s; serving the API only\n", dir);
	return 0;
}

static int cmd_serve(const struct options *o)
{
	struct server_config config;
	struct db_pool *pool = NULL;
	struct server *server = NULL;
	struct db *db;
	struct err e;
	sigset_t signals;
	int sig;

	err_init(&e);
	server_config_defaults(&config);
	if (o->listen && parse_listen(o->listen, &config, &e))
		return fail(&e);
	if (o->threads) {
		char *end;
		long n = strtol(o->threads, &end, 10);
		if (*end || end == o->threads || n < 1 || n > 64) {
			fprintf(stderr, "ctms: --threads takes a number from 1 to 64\n");
			return 2;
		}
		config.threads = (int)n;
	}
	if (parse_count(o->max_inflight, "max-inflight", 1, 100000, &config.max_inflight) ||
	    parse_count(o->max_connections, "max-connections", 1, 100000, &config.conn_limit) ||
	    parse_count(o->per_ip_limit, "per-ip-limit", 0, 100000, &config.per_ip_limit) ||
	    parse_count(o->timeout, "timeout", 1, 3600, &config.conn_timeout))
		return 2;
	if (open_db(o, false, &db, &e))
		return fail(&e);
	db_close(db);
	if (load_web(o->web, &e))
		return fail(&e);
	if (db_pool_open(o->db, config.threads, &pool, &e)) {
		static_release();
		return fail(&e);
	}

	/* Block the signals before MHD starts its threads, so only sigwait sees them. */
	sigemptyset(&signals);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (server_start(pool, &config, &server, &e)) {
		db_pool_close(pool);
		static_release();
		return fail(&e);
	}
	char shown[512];
	db_display_name(o->db, shown, sizeof(shown));
	printf("ctms: serving %s on http://%s%s%s:%d\n", shown, strchr(config.host, ':') ? "[" : "",
	       config.host, strchr(config.host, ':') ? "]" : "", server_port(server));
	fflush(stdout);
	sigwait(&signals, &sig);
	fprintf(stderr, "ctms: stopping on signal %d\n", sig);
	server_stop(server);
	db_pool_close(pool);
	static_release();
	return 0;
}

static int cmd_audit(int argc, char **argv)
{
	struct options o;
	struct db *db;
	struct err e;
	int64_t count, broken;

	if (argc < 3 || strcmp(argv[2], "verify")) {
		fputs(usage_audit, argc >= 3 && !strcmp(argv[2], "--help") ? stdout : stderr);
		return argc >= 3 && !strcmp(argv[2], "--help") ? 0 : 2;
	}
	if (parse_options(argc, argv, 3, &o)) {
		fprintf(stderr, "ctms: unknown or incomplete option %s\n%s", o.bad, usage_audit);
		return 2;
	}
	if (o.help) {
		fputs(usage_audit, stdout);
		return 0;
	}
	err_init(&e);
	if (open_db(&o, false, &db, &e))
		return fail(&e);
	int rc = audit_verify(db, &count, &broken, &e);
	int64_t signatures = 0, bad = 0;
	/* 11.70: every signature still matches the version it signed. */
	int src = rc ? 0 : signature_verify_all(db, &signatures, &bad, &e);
	db_close(db);
	if (rc == CTMS_EINTEGRITY) {
		printf("audit trail BROKEN at event %lld: %s\n", (long long)broken, e.detail);
		return 1;
	}
	if (rc)
		return fail(&e);
	if (src == CTMS_EINTEGRITY) {
		printf("audit trail intact: %lld events; signature %lld BROKEN: %s\n", (long long)count,
		       (long long)bad, e.detail);
		return 1;
	}
	if (src)
		return fail(&e);
	printf("audit trail intact: %lld events; %lld signatures match the versions they signed\n",
	       (long long)count, (long long)signatures);
	return 0;
}

static int cmd_demo(const struct options *o)
{
	struct db *db;
	struct err e;
	unsigned scale = 0, studies = 0;
	unsigned long long seed = 1;
	char *end;

	if (parse_count(o->scale, "scale", 1, 100, &scale) ||
	    parse_count(o->studies, "studies", 1, 20 * (scale ? scale : 1), &studies))
		return 2;
	if (o->seed) {
		errno = 0;
		seed = strtoull(o->seed, &end, 10);
	}
	if ((o->seed && (errno || *end || end == o->seed || o->seed[0] == '-')) ||
	    ((o->seed || o->studies) && !o->scale)) {
		fprintf(stderr, "ctms: --seed takes a whole number; --seed and --studies go with --scale\n");
		return 2;
	}
	err_init(&e);
	if (open_db(o, true, &db, &e))
		return fail(&e);
	int rc = studies ? demo_generate_studies(db, (int)studies, seed, &e)
		 : scale ? demo_generate(db, (int)scale, seed, &e)
			 : demo_load(db, &e);
	db_close(db);
	if (rc)
		return fail(&e);
	return 0;
}

/* Checks a copy the way an inspector would: SQLite's own structural check,
 * then the audit chain, which also proves the copy is one consistent
 * snapshot (a torn copy breaks the chain or the head). */
static int backup_check(const char *path, int64_t *events, struct err *e)
{
	struct db *copy;
	struct db_stmt *st;
	int64_t broken;
	int rc = db_open(path, &copy, e);

	if (rc)
		return rc;
	rc = db_prepare(copy, "PRAGMA integrity_check", &st);
	if (rc == 0)
		rc = db_step(st);
	if (rc == 1) {
		const char *verdict = db_column_text(st, 0);
		rc = verdict && !strcmp(verdict, "ok")
			     ? 0
			     : err_set(e, CTMS_EINTEGRITY, "PRAGMA integrity_check: %s",
				       verdict ? verdict : "(null)");
		db_done(st);
	} else {
		rc = err_set(e, rc ? rc : CTMS_EDB, "PRAGMA integrity_check failed: %s",
			     db_errmsg(copy));
	}
	if (rc == 0)
		rc = audit_verify(copy, events, &broken, e);
	db_close(copy);
	return rc;
}

/* Makes the finished copy durable under its final name: the file's data,
 * then the directory entry the rename created. */
static int backup_publish(const char *tmp, const char *path, struct err *e)
{
	char dir[4096];
	int fd = open(tmp, O_RDONLY);

	if (fd < 0 || fsync(fd)) {
		if (fd >= 0)
			close(fd);
		return err_set(e, CTMS_EIO, "cannot sync %s: %s", tmp, strerror(errno));
	}
	close(fd);
	if (rename(tmp, path))
		return err_set(e, CTMS_EIO, "cannot rename %s to %s: %s", tmp, path,
			       strerror(errno));
	snprintf(dir, sizeof(dir), "%s", path);
	fd = open(dirname(dir), O_RDONLY | O_DIRECTORY);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}

/* Removes a copy that is not to be kept, with the files SQLite keeps beside it. */
static void backup_discard(const char *tmp)
{
	static const char *const suffixes[] = {"", "-journal", "-wal", "-shm"};
	char name[4200];

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(name, sizeof(name), "%s%s", tmp, suffixes[i]);
		unlink(name);
	}
}

/* Refuses a target that would destroy something: an existing file without
 * --force, the source itself, or a file with a write-ahead log beside it (a
 * stale FILE-wal would be replayed onto the new copy when it is opened). */
static int backup_target_ok(const struct options *o, struct err *e)
{
	char wal[4096];
	struct stat src, dst;

	if (stat(o->to, &dst))
		return errno == ENOENT ? 0
				       : err_set(e, CTMS_EIO, "cannot use %s: %s", o->to, strerror(errno));
	if (!o->force)
		return err_set(e, CTMS_EINVAL, "%s exists; give --force to replace it", o->to);
	if (!stat(o->db, &src) && src.st_dev == dst.st_dev && src.st_ino == dst.st_ino)
		return err_set(e, CTMS_EINVAL, "%s is the database itself", o->to);
	snprintf(wal, sizeof(wal), "%s-wal", o->to);
	if (!access(wal, F_OK))
		return err_set(e, CTMS_EINVAL,
			       "%s exists: %s is in use or was not closed cleanly; stop what uses it, or"
			       " delete %s-wal and %s-shm if nothing does",
			       wal, o->to, o->to, o->to);
	return 0;
}

static int cmd_backup(const struct options *o)
{
	struct db *db = NULL;
	struct err e;
	char tmp[4096];
	int64_t events = 0;
	int rc;

	err_init(&e);
	if (!o->to || !o->to[0]) {
		fprintf(stderr, "ctms: backup needs --to FILE\n%s", usage_backup);
		return 2;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.%ld.partial", o->to, (long)getpid()) >= (int)sizeof(tmp)) {
		fprintf(stderr, "ctms: --to is too long\n");
		return 2;
	}
	if (o->db && strstr(o->db, "://")) {
		/* PostgreSQL: its own tools copy it consistently while it serves. */
		fprintf(stderr,
			"ctms: backup copies SQLite databases; back up PostgreSQL with its own tools:\n"
			"  pg_dump --format=custom --file=FILE DBURL   (logical, restore with pg_restore)\n"
			"  pg_basebackup -D DIR -d DBURL               (physical, whole cluster)\n"
			"see docs/operations.md\n");
		return 2;
	}
	if (backup_target_ok(o, &e))
		return fail(&e);
	if (open_db(o, false, &db, &e))
		return fail(&e);
	backup_discard(tmp);
	/* SQLite's backup restarts from the first page whenever another process
	 * writes between two of its steps, so under steady writes a large
	 * database would never finish copying. A read transaction held across
	 * the copy pins one WAL snapshot: the servers write on, and the copy is
	 * exactly that snapshot. */
	rc = db_exec(db, "BEGIN; SELECT count(*) FROM audit_head", &e);
	if (rc == 0) {
		struct err ignored;
		err_init(&ignored);
		rc = db_backup(db, tmp, &e);
		db_exec(db, "COMMIT", &ignored);
		err_release(&ignored);
	}
	db_close(db);
	if (rc == CTMS_EINVAL) { /* a store that ctms does not copy itself */
		fprintf(stderr, "ctms: %s\nsee docs/operations.md\n", e.detail);
		return 2;
	}
	if (rc == 0)
		rc = backup_check(tmp, &events, &e);
	if (rc == 0)
		rc = backup_publish(tmp, o->to, &e);
	if (rc) {
		char text[2048];
		backup_discard(tmp);
		err_describe(&e, text, sizeof(text));
		fprintf(stderr, "ctms: backup %s FAILED, %s is unchanged: %s\n", o->to, o->to, text);
		return 1;
	}
	printf("backup %s: %lld audit events, intact\n", o->to, (long long)events);
	return 0;
}

static int cmd_forecast(const struct options *o)
{
	struct db *db;
	struct err e;
	int rc;

	if (!o->study) {
		fprintf(stderr, "ctms: forecast needs --study PROTOCOL\n%s", usage_forecast);
		return 2;
	}
	err_init(&e);
	if (open_db(o, false, &db, &e))
		return fail(&e);
	rc = forecast_table_print(stdout, db, o->study, o->target, o->as_of, &e);
	db_close(db);
	rc = rc ? fail(&e) : 0;
	err_release(&e);
	return rc;
}

/* `ctms enrollment` and `ctms diversity`: the reports as the system actor
 * reads them; a study that is not found, or a bad date or grouping, exits 1. */
static int cmd_report(const struct options *o, const char *usage)
{
	bool diversity = usage == usage_diversity;
	struct db *db;
	struct err e;
	int rc;

	if (!o->study) {
		fprintf(stderr, "ctms: %s needs --study PROTOCOL\n%s",
			diversity ? "diversity" : "enrollment", usage);
		return 2;
	}
	if (diversity && o->by) {
		fprintf(stderr, "ctms: diversity takes no --by\n%s", usage);
		return 2;
	}
	err_init(&e);
	if (open_db(o, false, &db, &e)) {
		rc = fail(&e);
		err_release(&e);
		return rc;
	}
	rc = diversity ? diversity_table_print(stdout, db, o->study, o->as_of, &e)
		       : enrollment_table_print(stdout, db, o->study, o->as_of, o->by, &e);
	db_close(db);
	rc = rc ? fail(&e) : 0;
	err_release(&e);
	return rc;
}

int cli_main(int argc, char **argv)
{
	struct options o;
	const char *cmd = argc > 1 ? argv[1] : NULL;
	const char *usage = NULL;

	if (crypto_setup()) {
		fprintf(stderr, "ctms: cannot initialise the crypto library\n");
		return 1;
	}
	if (!cmd || !strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		fputs(usage_main, cmd ? stdout : stderr);
		return cmd ? 0 : 2;
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("ctms %s (schema %d)\n", CTMS_VERSION, db_latest_schema_version());
		return 0;
	}
	if (!strcmp(cmd, "audit"))
		return cmd_audit(argc, argv);
	if (!strcmp(cmd, "import"))
		return import_command(argc, argv);
	if (!strcmp(cmd, "export"))
		return export_command(argc, argv);
	if (!strcmp(cmd, "user"))
		return cli_user(argc, argv);
	if (!strcmp(cmd, "token"))
		return cli_token(argc, argv);
	if (!strcmp(cmd, "settings"))
		return cli_settings(argc, argv);
	if (!strcmp(cmd, "routes")) {
		router_print(stdout);
		return 0;
	}
	if (!strcmp(cmd, "init"))
		usage = usage_init;
	else if (!strcmp(cmd, "serve"))
		usage = usage_serve;
	else if (!strcmp(cmd, "demo"))
		usage = usage_demo;
	else if (!strcmp(cmd, "backup"))
		usage = usage_backup;
	else if (!strcmp(cmd, "forecast"))
		usage = usage_forecast;
	else if (!strcmp(cmd, "enrollment"))
		usage = usage_enrollment;
	else if (!strcmp(cmd, "diversity"))
		usage = usage_diversity;
	else {
		fprintf(stderr, "ctms: unknown command '%s'\n%s", cmd, usage_main);
		return 2;
	}
	if (parse_options(argc, argv, 2, &o)) {
		fprintf(stderr, "ctms: unknown or incomplete option %s\n%s", o.bad, usage);
		return 2;
	}
	if (o.help) {
		fputs(usage, stdout);
		return 0;
	}
	if (usage == usage_init)
		return cmd_init(&o);
	if (usage == usage_serve)
		return cmd_serve(&o);
	if (usage == usage_backup)
		return cmd_backup(&o);
	if (usage == usage_forecast)
		return cmd_forecast(&o);
	if (usage == usage_enrollment || usage == usage_diversity)
		return cmd_report(&o, usage);
	return cmd_demo(&o);
}
