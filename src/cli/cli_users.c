/* `ctms user ...`, `ctms token create` and `ctms settings set`: accounts for
 * bootstrapping and operators. The command line acts as the system actor
 * (an operator holding the database); every change is audited as such. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "db/db.h"
#include "domain/access.h"
#include "domain/actor.h"
#include "domain/auth.h"
#include "util/json.h"

static const char usage_user[] =
	"usage: ctms user add --db PATH --username NAME --role ROLE [--study PROTOCOL\n"
	"                     [--site SITE_NUMBER]] [--display-name NAME] [--email ADDRESS]\n"
	"                     [--unblinded] --password-stdin\n"
	"       ctms user grant --db PATH --username NAME --role ROLE [--study PROTOCOL\n"
	"                       [--site SITE_NUMBER]] [--unblinded]\n"
	"       ctms user disable|enable --db PATH --username NAME [--reason TEXT]\n"
	"       ctms user password --db PATH --username NAME --password-stdin\n"
	"       ctms user totp --db PATH --username NAME\n"
	"       ctms user list --db PATH\n"
	"Roles: admin, manager, monitor, site, safety, finance, auditor, viewer; granted\n"
	"for every study, for one study (--study), or for one study-site (--site).\n"
	"--password-stdin reads the password from the first line of standard input.\n"
	"`user totp` enrolls a second factor and prints its key (base32) once.\n";

static const char usage_token[] =
	"usage: ctms token create --db PATH --username NAME [--days N] [--name TEXT]\n"
	"Creates an API token for the user and prints it once; scripts send it as\n"
	"Authorization: Bearer <token>. --days 0: no expiry (default 90).\n";

static const char usage_settings[] =
	"usage: ctms settings set --db PATH NAME VALUE\n"
	"Names: lockout_failures (5), lockout_minutes (15), idle_minutes (30),\n"
	"absolute_hours (12), password_min (12), totp_roles (none; e.g. admin,manager).\n";

struct user_options {
	const char *db, *username, *role, *study, *site, *display, *email, *reason, *days, *name;
	bool password_stdin, unblinded, help;
	const char *bad;
};

static int parse(int argc, char **argv, int first, struct user_options *o)
{
	static const struct {
		const char *flag;
		size_t offset;
	} valued[] = {
		{"--db", offsetof(struct user_options, db)},
		{"--username", offsetof(struct user_options, username)},
		{"--role", offsetof(struct user_options, role)},
		{"--study", offsetof(struct user_options, study)},
		{"--site", offsetof(struct user_options, site)},
		{"--display-name", offsetof(struct user_options, display)},
		{"--email", offsetof(struct user_options, email)},
		{"--reason", offsetof(struct user_options, reason)},
		{"--days", offsetof(struct user_options, days)},
		{"--name", offsetof(struct user_options, name)},
	};
	memset(o, 0, sizeof(*o));
	o->db = getenv("CTMS_DB");
	for (int i = first; i < argc; i++) {
		const char *a = argv[i];
		bool matched = false;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			o->help = true;
			continue;
		}
		if (!strcmp(a, "--password-stdin")) {
			o->password_stdin = true;
			continue;
		}
		if (!strcmp(a, "--unblinded")) {
			o->unblinded = true;
			continue;
		}
		for (size_t k = 0; k < sizeof(valued) / sizeof(*valued) && !matched; k++) {
			size_t n = strlen(valued[k].flag);
			const char **slot = (const char **)((char *)o + valued[k].offset);
			if (!strcmp(a, valued[k].flag) && i + 1 < argc) {
				*slot = argv[++i];
				matched = true;
			} else if (!strncmp(a, valued[k].flag, n) && a[n] == '=') {
				*slot = a + n + 1;
				matched = true;
			}
		}
		if (!matched) {
			o->bad = a;
			return -1;
		}
	}
	return 0;
}

static int fail(const struct err *e)
{
	char text[2048];
	err_describe(e, text, sizeof(text));
	fprintf(stderr, "ctms: %s\n", text);
	return 1;
}

/* The first line of standard input, without its newline; NULL when empty. */
static char *read_password(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, stdin);
	if (n <= 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

/* --study PROTOCOL [--site NUMBER] as ids. */
static int resolve_scope(struct db *db, const struct user_options *o, int64_t *study,
			 int64_t *study_site, struct err *e)
{
	struct db_stmt *st;
	int rc;

	*study = *study_site = 0;
	if (o->site && !o->study)
		return err_set(e, CTMS_EINVAL, "--site needs --study");
	if (!o->study)
		return 0;
	if ((rc = db_prepare(db, "SELECT id FROM studies WHERE protocol_number = $1", &st)))
		return err_set(e, rc, "cannot read studies: %s", db_errmsg(db));
	db_bind_text(st, 1, o->study);
	if (db_step(st) != 1)
		return err_set(e, CTMS_ENOTFOUND, "no study has protocol number %s", o->study);
	*study = db_column_int(st, 0);
	db_done(st);
	if (!o->site)
		return 0;
	if ((rc = db_prepare(db, "SELECT id FROM study_sites WHERE study_id = $1 AND site_number = $2",
			     &st)))
		return err_set(e, rc, "cannot read study-sites: %s", db_errmsg(db));
	db_bind_int(st, 1, *study);
	db_bind_text(st, 2, o->site);
	if (db_step(st) != 1)
		return err_set(e, CTMS_ENOTFOUND, "study %s has no site number %s", o->study, o->site);
	*study_site = db_column_int(st, 0);
	db_done(st);
	return 0;
}

static int grant_from_options(struct db *db, const struct user_options *o, int64_t user_id,
			      struct err *e)
{
	enum role role;
	int64_t study, site, id;
	int rc;

	if (role_parse(o->role, &role))
		return err_set(e, CTMS_EINVAL, "--role must be one of: admin, manager, monitor, site, "
					       "safety, finance, auditor, viewer");
	if ((rc = resolve_scope(db, o, &study, &site, e)))
		return rc;
	return grant_add(db, actor_system(), user_id, role, study, site, o->unblinded, &id, e);
}

static int user_add_cmd(struct db *db, const struct user_options *o, struct err *e)
{
	enum role role;
	int64_t id;
	char *password;
	int rc;

	if (!o->username || !o->role || !o->password_stdin)
		return err_set(e, CTMS_EINVAL, "user add needs --username, --role and --password-stdin");
	if (role_parse(o->role, &role))
		return grant_from_options(db, o, 0, e);
	if (!(password = read_password()))
		return err_set(e, CTMS_EINVAL, "no password on standard input");
	json_t *input = json_pack("{s:s, s:s, s:s}", "username", o->username, "display_name",
				  o->display ? o->display : o->username, "password", password);
	if (o->email)
		json_object_set_new(input, "email", json_string(o->email));
	/* The user and the first grant together: all or nothing. */
	if ((rc = db_begin(db)))
		return err_set(e, rc, "the store is busy; try again");
	rc = user_add(db, actor_system(), input, &id, e);
	if (!rc)
		rc = grant_from_options(db, o, id, e);
	if (rc)
		db_rollback(db);
	else if ((rc = db_commit(db)))
		err_set(e, rc, "cannot commit: %s", db_errmsg(db));
	json_decref(input);
	free(password);
	if (!rc)
		printf("user %s added (id %lld) as %s\n", o->username, (long long)id, o->role);
	return rc;
}

static void print_users(const json_t *items)
{
	size_t i;
	json_t *u;
	printf("%-24s %-28s %-9s %-5s %s\n", "USERNAME", "NAME", "STATUS", "TOTP", "GRANTS");
	json_array_foreach(items, i, u) {
		size_t j;
		json_t *g;
		printf("%-24s %-28s %-9s %-5s ", json_str(u, "username"), json_str(u, "display_name"),
		       json_str(u, "status"), json_is_true(json_object_get(u, "totp")) ? "yes" : "no");
		json_array_foreach(json_object_get(u, "grants"), j, g) {
			printf("%s%s", j ? ", " : "", json_str(g, "role"));
			if (json_int(g, "study_site_id", 0))
				printf("@study-site %lld", (long long)json_int(g, "study_site_id", 0));
			else if (json_int(g, "study_id", 0))
				printf("@study %lld", (long long)json_int(g, "study_id", 0));
			if (json_is_true(json_object_get(g, "unblinded")))
				printf(" (unblinded)");
		}
		printf("\n");
	}
}

int cli_user(int argc, char **argv)
{
	struct user_options o;
	const char *sub = argc > 2 ? argv[2] : NULL;
	struct db *db;
	struct err e;
	int64_t id = 0;
	int rc;

	if (!sub || !strcmp(sub, "--help") || !strcmp(sub, "-h")) {
		fputs(usage_user, sub ? stdout : stderr);
		return sub ? 0 : 2;
	}
	if (parse(argc, argv, 3, &o)) {
		fprintf(stderr, "ctms: unknown or incomplete option %s\n%s", o.bad, usage_user);
		return 2;
	}
	if (o.help) {
		fputs(usage_user, stdout);
		return 0;
	}
	static const char *const subs[] = {"add", "grant", "disable", "enable", "password", "totp",
					   "list", NULL};
	bool known = false;
	for (size_t i = 0; subs[i]; i++)
		known |= !strcmp(sub, subs[i]);
	if (!known) {
		fprintf(stderr, "ctms: unknown user command '%s'\n%s", sub, usage_user);
		return 2;
	}
	err_init(&e);
	if (cli_open_db(o.db, &db, &e))
		return fail(&e);
	if (!strcmp(sub, "add")) {
		rc = user_add_cmd(db, &o, &e);
	} else if (!strcmp(sub, "list")) {
		json_t *items;
		if (!(rc = user_list(db, &items, &e))) {
			print_users(items);
			json_decref(items);
		}
	} else if (!o.username) {
		rc = err_set(&e, CTMS_EINVAL, "user %s needs --username", sub);
	} else if ((rc = user_find(db, o.username, &id, &e))) {
		/* reported below */
	} else if (!strcmp(sub, "grant")) {
		if (!(rc = grant_from_options(db, &o, id, &e)))
			printf("granted %s to %s\n", o.role, o.username);
	} else if (!strcmp(sub, "disable") || !strcmp(sub, "enable")) {
		rc = user_set_status(db, actor_system(), id, sub[0] == 'd' ? "disabled" : "active",
				     o.reason, &e);
		if (!rc)
			printf("user %s %sd\n", o.username, sub);
	} else if (!strcmp(sub, "password")) {
		char *password = o.password_stdin ? read_password() : NULL;
		rc = password ? user_set_password(db, actor_system(), id, password, &e)
			      : err_set(&e, CTMS_EINVAL, "give the new password with --password-stdin");
		free(password);
		if (!rc)
			printf("password of %s changed\n", o.username);
	} else {
		char *secret = NULL;
		if (!(rc = user_enroll_totp(db, actor_system(), id, &secret, &e))) {
			printf("%s\notpauth://totp/ctms:%s?secret=%s&issuer=ctms\n", secret, o.username,
			       secret);
			free(secret);
		}
	}
	db_close(db);
	return rc ? fail(&e) : 0;
}

int cli_token(int argc, char **argv)
{
	struct user_options o;
	struct db *db;
	struct err e;
	int64_t id = 0, token_id;
	char *token = NULL, *end = NULL;
	long days = 90;
	int rc;

	if (argc < 3 || strcmp(argv[2], "create")) {
		bool help = argc >= 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"));
		fputs(usage_token, help ? stdout : stderr);
		return help ? 0 : 2;
	}
	if (parse(argc, argv, 3, &o)) {
		fprintf(stderr, "ctms: unknown or incomplete option %s\n%s", o.bad, usage_token);
		return 2;
	}
	if (o.help) {
		fputs(usage_token, stdout);
		return 0;
	}
	err_init(&e);
	if (o.days && ((days = strtol(o.days, &end, 10)) < 0 || *end || end == o.days))
		return fprintf(stderr, "ctms: --days takes a whole number\n"), 2;
	if (!o.username)
		return fprintf(stderr, "ctms: token create needs --username\n%s", usage_token), 2;
	if (cli_open_db(o.db, &db, &e))
		return fail(&e);
	rc = user_find(db, o.username, &id, &e);
	if (!rc)
		rc = token_create(db, actor_system(), id, o.name ? o.name : "command line", (int)days,
				  &token, &token_id, &e);
	db_close(db);
	if (rc)
		return fail(&e);
	printf("%s\n", token);
	free(token);
	return 0;
}

int cli_settings(int argc, char **argv)
{
	struct user_options o;
	struct db *db;
	struct err e;
	int rc;

	if (argc < 5 || strcmp(argv[2], "set")) {
		bool help = argc >= 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"));
		fputs(usage_settings, help ? stdout : stderr);
		return help ? 0 : 2;
	}
	/* ctms settings set [--db PATH] NAME VALUE */
	const char *name = argv[argc - 2], *value = argv[argc - 1];
	if (parse(argc - 2, argv, 3, &o) || o.help) {
		fputs(usage_settings, o.help ? stdout : stderr);
		return o.help ? 0 : 2;
	}
	err_init(&e);
	if (cli_open_db(o.db, &db, &e))
		return fail(&e);
	rc = auth_setting_set(db, actor_system(), name, value, &e);
	db_close(db);
	if (rc)
		return fail(&e);
	printf("%s = %s\n", name, value);
	return 0;
}
