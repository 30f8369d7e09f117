#include "cli/cli.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "domain/audit.h"
#include "http/router.h"
#include "http/server.h"
#include "util/buf.h"
#include "util/hash.h"

#define CTMS_VERSION "0.1.0"

struct options {
	const char *db;
	const char *listen;
	const char *threads;
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
	"  demo          load the demo portfolio into an empty database\n"
	"  routes        list the HTTP routes\n"
	"  version       print the version\n"
	"\n"
	"Every command that opens a database takes --db PATH (or CTMS_DB in the\n"
	"environment). `ctms <command> --help` describes a command.\n";

static const char usage_init[] =
	"usage: ctms init --db PATH\n"
	"Creates the database if absent and applies the numbered schema migrations.\n"
	"Refuses a database whose schema is newer than this ctms.\n";
static const char usage_serve[] =
	"usage: ctms serve --db PATH [--listen HOST:PORT] [--threads N]\n"
	"Serves the API (default 127.0.0.1:8080; port 0 picks a free port).\n"
	"Prints the address once listening; stops cleanly on SIGTERM or SIGINT.\n";
static const char usage_audit[] =
	"usage: ctms audit verify --db PATH\n"
	"Walks the audit trail's hash chain. Exits 0 when intact; otherwise exits 1\n"
	"and names the first broken event.\n";
static const char usage_demo[] =
	"usage: ctms demo --db PATH\n"
	"Loads a small demo portfolio (studies, sites, subjects, milestones) into a\n"
	"database that has no studies yet.\n";

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
		if (!strncmp(a, "--db", 4))
			slot = &o->db;
		else if (!strncmp(a, "--listen", 8))
			slot = &o->listen;
		else if (!strncmp(a, "--threads", 9))
			slot = &o->threads;
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

static int cmd_init(const struct options *o)
{
	struct db *db;
	struct err e;
	err_init(&e);
	if (open_db(o, true, &db, &e))
		return fail(&e);
	printf("ctms: %s is at schema version %d\n", o->db, db_latest_schema_version());
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
	if (open_db(o, false, &db, &e))
		return fail(&e);
	db_close(db);
	if (db_pool_open(o->db, config.threads, &pool, &e))
		return fail(&e);

	/* Block the signals before MHD starts its threads, so only sigwait sees them. */
	sigemptyset(&signals);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (server_start(pool, &config, &server, &e)) {
		db_pool_close(pool);
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
	db_close(db);
	if (rc == CTMS_EINTEGRITY) {
		printf("audit trail BROKEN at event %lld: %s\n", (long long)broken, e.detail);
		return 1;
	}
	if (rc)
		return fail(&e);
	printf("audit trail intact: %lld events\n", (long long)count);
	return 0;
}

static int cmd_demo(const struct options *o)
{
	struct db *db;
	struct err e;
	err_init(&e);
	if (open_db(o, true, &db, &e))
		return fail(&e);
	int rc = demo_load(db, &e);
	db_close(db);
	if (rc)
		return fail(&e);
	return 0;
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
	return cmd_demo(&o);
}
