/* PostgreSQL backend of db.h, through libpq.
 *
 * Every statement is prepared once per connection (PQprepare under a
 * generated name) and cached by its SQL text, like SQLite's cache. Values go
 * to the server as text and the server infers each parameter's type from the
 * SQL; results come back as text and are typed from the column's type OID.
 * A result is fetched whole when the statement first steps, so several
 * statements of one connection can be read at once, as on SQLite. */
#include "db/db_backend.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"

#define STMT_BUCKETS 256

/* Type OIDs from the server's catalog/pg_type.h (stable across versions). */
#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700

/* Key of the advisory lock every write transaction takes (ASCII "ctms"). */
#define WRITE_LOCK_KEY 1668576627

struct pg_param {
	char *text;    /* owned copy of a text value, or NULL */
	char num[24];  /* an integer value, formatted */
	bool is_num;
};

struct pg_stmt {
	struct db_stmt base;
	char *sql;
	char name[24];
	unsigned session;        /* the connection's session it was prepared in */
	int nparams;
	struct pg_param *params; /* nparams entries; unbound is NULL */
	const char **values;     /* scratch for PQexecPrepared */
	PGresult *desc;          /* column names and types, before any step */
	PGresult *result;        /* the rows of the current execution, or NULL */
	int row;                 /* the current row of result */
	struct pg_stmt *next;    /* bucket chain */
};

struct pg_db {
	struct db base;
	PGconn *conn;
	unsigned session; /* bumped on every reconnect: prepared names are gone */
	unsigned named;   /* statements named so far */
	int64_t changes;
	char errmsg[512];
	struct pg_stmt *buckets[STMT_BUCKETS];
};

static const struct db_ops postgres_ops;

static struct pg_db *conn(struct db *db)
{
	return (struct pg_db *)db;
}

static struct pg_stmt *stmt(struct db_stmt *st)
{
	return (struct pg_stmt *)st;
}

static unsigned hash_sql(const char *s)
{
	unsigned h = 5381;
	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h % STMT_BUCKETS;
}

static void set_errmsg(struct pg_db *c, const char *msg)
{
	size_t n;
	snprintf(c->errmsg, sizeof(c->errmsg), "%s", msg && msg[0] ? msg : "unknown error");
	n = strlen(c->errmsg);
	while (n > 0 && (c->errmsg[n - 1] == '\n' || c->errmsg[n - 1] == ' '))
		c->errmsg[--n] = '\0';
}

/* The connection URL with any password replaced, for messages. */
static void redact_url(const char *url, char *out, size_t len)
{
	const char *start = strstr(url, "://");
	const char *at, *colon, *slash;

	snprintf(out, len, "%s", url);
	if (!start)
		return;
	start += 3;
	slash = strchr(start, '/');
	at = strchr(start, '@');
	if (!at || (slash && at > slash))
		return;
	colon = memchr(start, ':', (size_t)(at - start));
	if (colon)
		snprintf(out, len, "%.*s***%s", (int)(colon + 1 - url), url, at);
}

/* Maps a failed result (or none: res NULL) to a ctms_err and keeps its message. */
static int fail(struct pg_db *c, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	set_errmsg(c, msg ? msg : PQerrorMessage(c->conn));
	if (PQstatus(c->conn) == CONNECTION_BAD)
		return CTMS_EIO;
	if (!state)
		return CTMS_EDB;
	if (!strncmp(state, "23", 2)) /* integrity constraint violation */
		return CTMS_ECONFLICT;
	if (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03"))
		return CTMS_EBUSY; /* serialization failure, deadlock, lock timeout */
	if (!strncmp(state, "08", 2)) /* connection exception */
		return CTMS_EIO;
	return CTMS_EDB;
}

/* Runs SQL text with no parameters; several statements allowed. */
static int run(struct pg_db *c, const char *sql)
{
	PGresult *res = PQexec(c->conn, sql);
	ExecStatusType status = PQresultStatus(res);
	int rc = 0;

	if (!res || (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK &&
		     status != PGRES_EMPTY_QUERY))
		rc = fail(c, res);
	PQclear(res);
	return rc;
}

static void ignore_notice(void *arg, const char *message)
{
}

/* Settings every session gets. lock_timeout bounds the wait for the write
 * lock like SQLite's busy timeout (then CTMS_EBUSY); timestamps are integers,
 * but anything the server formats is UTC. */
static int session_setup(struct pg_db *c)
{
	PQsetNoticeProcessor(c->conn, ignore_notice, NULL);
	return run(c,
		   "SET client_encoding = 'UTF8';"
		   "SET lock_timeout = '10s';"
		   "SET TIME ZONE 'UTC';"
		   "SET client_min_messages = warning");
}

/* A connection that died is reopened, but only between transactions: inside
 * one, the work done so far is lost and the caller must see the failure. */
static int ensure_connected(struct pg_db *c, bool may_reconnect)
{
	if (PQstatus(c->conn) == CONNECTION_OK)
		return 0;
	if (!may_reconnect) {
		set_errmsg(c, "the connection to the server was lost");
		return CTMS_EIO;
	}
	PQreset(c->conn);
	c->session++;
	if (PQstatus(c->conn) != CONNECTION_OK) {
		set_errmsg(c, PQerrorMessage(c->conn));
		return CTMS_EIO;
	}
	return session_setup(c);
}

static void clear_params(struct pg_stmt *s)
{
	for (int i = 0; i < s->nparams; i++) {
		free(s->params[i].text);
		s->params[i].text = NULL;
		s->params[i].is_num = false;
	}
}

static void reset_stmt(struct pg_stmt *s)
{
	PQclear(s->result);
	s->result = NULL;
	s->row = -1;
}

static void free_stmt(struct pg_stmt *s)
{
	reset_stmt(s);
	clear_params(s);
	PQclear(s->desc);
	free(s->params);
	free(s->values);
	free(s->sql);
	free(s);
}

static void postgres_close(struct db *db)
{
	struct pg_db *c = conn(db);
	for (int i = 0; i < STMT_BUCKETS; i++) {
		struct pg_stmt *s = c->buckets[i];
		while (s) {
			struct pg_stmt *next = s->next;
			free_stmt(s);
			s = next;
		}
	}
	PQfinish(c->conn);
	free(db->url);
	free(c);
}

int db_postgres_open(const char *url, struct db **out, struct err *e)
{
	static const char *const keys[] = {"dbname", "fallback_application_name", NULL};
	const char *values[] = {url, "ctms", NULL};
	struct pg_db *c = xcalloc(1, sizeof(*c));
	char shown[512];
	int rc;

	*out = NULL;
	c->base.ops = &postgres_ops;
	c->conn = PQconnectdbParams(keys, values, 1);
	if (!c->conn)
		abort();
	if (PQstatus(c->conn) != CONNECTION_OK) {
		redact_url(url, shown, sizeof(shown));
		set_errmsg(c, PQerrorMessage(c->conn));
		err_set(e, CTMS_EIO, "cannot connect to %s: %s", shown, c->errmsg);
		PQfinish(c->conn);
		free(c);
		return CTMS_EIO;
	}
	c->base.url = xstrdup(url);
	rc = session_setup(c);
	if (rc) {
		err_set(e, rc, "cannot set up the session: %s", c->errmsg);
		postgres_close(&c->base);
		return rc;
	}
	*out = &c->base;
	return 0;
}

static int postgres_exec(struct db *db, const char *sql, struct err *e)
{
	struct pg_db *c = conn(db);
	int rc = ensure_connected(c, db->depth == 0);
	if (!rc)
		rc = run(c, sql);
	if (rc)
		err_set(e, rc, "database error: %s", c->errmsg);
	return rc;
}

/* Write transactions are serialised, as BEGIN IMMEDIATE serialises them on
 * SQLite: every writer first takes one transaction-scoped advisory lock, so
 * writers queue (up to lock_timeout) instead of interleaving. The audit
 * trail needs this: an append reads audit_head, inserts the next event and
 * moves the head, and two writers reading the same head would race for the
 * same sequence number. The lock is held by the server, not by this
 * process, so it orders the writers of every ctms server sharing the
 * database and the hash chain stays one chain. READ COMMITTED (explicit, in
 * case the server's default differs) matters too: each statement after the
 * lock sees what the previous writer committed, whereas a snapshot taken
 * before the wait (REPEATABLE READ) would not. */
static int postgres_begin(struct db *db)
{
	struct pg_db *c = conn(db);
	char sql[128];
	int rc = ensure_connected(c, true);

	if (rc)
		return rc;
	snprintf(sql, sizeof(sql),
		 "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock(%d)",
		 WRITE_LOCK_KEY);
	rc = run(c, sql);
	if (rc == CTMS_EIO && !ensure_connected(c, true)) /* nothing was done: try once more */
		rc = run(c, sql);
	if (rc && PQstatus(c->conn) == CONNECTION_OK && PQtransactionStatus(c->conn) != PQTRANS_IDLE)
		PQclear(PQexec(c->conn, "ROLLBACK"));
	return rc;
}

static int postgres_commit(struct db *db)
{
	struct pg_db *c = conn(db);
	PGresult *res;
	int rc = 0;

	/* A failed statement aborts the whole transaction on PostgreSQL, and
	 * COMMIT of an aborted transaction quietly rolls back: report it. */
	if (PQtransactionStatus(c->conn) == PQTRANS_INERROR) {
		set_errmsg(c, "the transaction was aborted by an earlier error");
		return CTMS_EDB;
	}
	res = PQexec(c->conn, "COMMIT");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = fail(c, res);
	else if (strcmp(PQcmdStatus(res), "COMMIT")) {
		set_errmsg(c, "the transaction was rolled back");
		rc = CTMS_EDB;
	}
	PQclear(res);
	return rc;
}

static void postgres_rollback(struct db *db)
{
	struct pg_db *c = conn(db);
	if (PQstatus(c->conn) == CONNECTION_OK && PQtransactionStatus(c->conn) != PQTRANS_IDLE)
		PQclear(PQexec(c->conn, "ROLLBACK"));
}

/* Prepares s->sql under s->name in the current session. */
static int server_prepare(struct pg_db *c, struct pg_stmt *s)
{
	PGresult *res = PQprepare(c->conn, s->name, s->sql, 0, NULL);
	int rc = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = fail(c, res);
	PQclear(res);
	if (rc)
		return rc;
	res = PQdescribePrepared(c->conn, s->name);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		rc = fail(c, res);
		PQclear(res);
		return rc;
	}
	PQclear(s->desc);
	s->desc = res;
	s->session = c->session;
	return 0;
}

static int postgres_prepare(struct db *db, const char *sql, struct db_stmt **out)
{
	struct pg_db *c = conn(db);
	unsigned h = hash_sql(sql);
	struct pg_stmt *s;
	int rc;

	*out = NULL;
	rc = ensure_connected(c, db->depth == 0);
	if (rc)
		return rc;
	for (s = c->buckets[h]; s; s = s->next) {
		if (!strcmp(s->sql, sql)) {
			reset_stmt(s);
			clear_params(s);
			if (s->session != c->session && (rc = server_prepare(c, s)))
				return rc;
			*out = &s->base;
			return 0;
		}
	}
	s = xcalloc(1, sizeof(*s));
	s->base.db = db;
	s->sql = xstrdup(sql);
	s->row = -1;
	snprintf(s->name, sizeof(s->name), "ctms_%u", c->named++);
	rc = server_prepare(c, s);
	if (rc == CTMS_EIO && db->depth == 0 && !ensure_connected(c, true))
		rc = server_prepare(c, s);
	if (rc) {
		free_stmt(s);
		return rc;
	}
	s->nparams = PQnparams(s->desc);
	s->params = xcalloc((size_t)s->nparams + 1, sizeof(*s->params));
	s->values = xcalloc((size_t)s->nparams + 1, sizeof(*s->values));
	s->next = c->buckets[h];
	c->buckets[h] = s;
	*out = &s->base;
	return 0;
}

static struct pg_param *param(struct db_stmt *st, int n)
{
	struct pg_stmt *s = stmt(st);
	if (n < 1 || n > s->nparams)
		return NULL;
	struct pg_param *p = &s->params[n - 1];
	free(p->text);
	p->text = NULL;
	p->is_num = false;
	return p;
}

static int postgres_bind_text(struct db_stmt *st, int n, const char *v)
{
	struct pg_param *p = param(st, n);
	if (!p)
		return CTMS_EDB;
	if (v)
		p->text = xstrdup(v);
	return 0;
}

static int postgres_bind_int(struct db_stmt *st, int n, int64_t v)
{
	struct pg_param *p = param(st, n);
	if (!p)
		return CTMS_EDB;
	snprintf(p->num, sizeof(p->num), "%lld", (long long)v);
	p->is_num = true;
	return 0;
}

static int postgres_bind_null(struct db_stmt *st, int n)
{
	return param(st, n) ? 0 : CTMS_EDB;
}

/* db_changes counts rows of the last INSERT/UPDATE/DELETE, as on SQLite:
 * other statements leave it alone. */
static void note_changes(struct pg_db *c, PGresult *res)
{
	const char *tag = PQcmdStatus(res);
	if (!strncmp(tag, "INSERT", 6) || !strncmp(tag, "UPDATE", 6) || !strncmp(tag, "DELETE", 6) ||
	    !strncmp(tag, "MERGE", 5))
		c->changes = strtoll(PQcmdTuples(res), NULL, 10);
}

/* Whether running sql twice is harmless: a query outside any transaction.
 * Only such a statement is retried after the connection was lost under it,
 * since a write might have been applied before the loss was seen. */
static bool may_retry(const struct pg_db *c, const char *sql)
{
	while (*sql == ' ' || *sql == '\n' || *sql == '\t' || *sql == '(')
		sql++;
	return c->base.depth == 0 && !strncasecmp(sql, "SELECT", 6);
}

static int execute(struct pg_db *c, struct pg_stmt *s, bool retry)
{
	PGresult *res;
	int rc;

	if (s->session != c->session) {
		if ((rc = ensure_connected(c, c->base.depth == 0)) || (rc = server_prepare(c, s)))
			return rc;
	}
	for (int i = 0; i < s->nparams; i++) {
		const struct pg_param *p = &s->params[i];
		s->values[i] = p->is_num ? p->num : p->text;
	}
	res = PQexecPrepared(c->conn, s->name, s->nparams, s->values, NULL, NULL, 0);
	if (retry && PQstatus(c->conn) == CONNECTION_BAD && may_retry(c, s->sql)) {
		PQclear(res);
		if ((rc = ensure_connected(c, true)))
			return rc;
		return execute(c, s, false);
	}
	switch (PQresultStatus(res)) {
	case PGRES_TUPLES_OK:
		note_changes(c, res);
		s->result = res;
		s->row = -1;
		return 0;
	case PGRES_COMMAND_OK:
		note_changes(c, res);
		PQclear(res);
		return 0;
	default:
		rc = fail(c, res);
		PQclear(res);
		return rc;
	}
}

static int postgres_step(struct db_stmt *st)
{
	struct pg_stmt *s = stmt(st);
	if (!s->result) {
		int rc = execute(conn(st->db), s, true);
		if (rc)
			return rc;
		if (!s->result)
			return 0;
	}
	if (++s->row < PQntuples(s->result))
		return 1;
	reset_stmt(s);
	return 0;
}

static void postgres_done(struct db_stmt *st)
{
	reset_stmt(stmt(st));
}

static void postgres_done_all(struct db *db)
{
	struct pg_db *c = conn(db);
	for (int i = 0; i < STMT_BUCKETS; i++)
		for (struct pg_stmt *s = c->buckets[i]; s; s = s->next)
			if (s->result)
				reset_stmt(s);
}

/* The result that describes the statement's columns. */
static const PGresult *shape(struct pg_stmt *s)
{
	return s->result ? s->result : s->desc;
}

/* Column i of the current row as text, or NULL for SQL NULL (or no row). */
static const char *value(struct pg_stmt *s, int i)
{
	if (!s->result || s->row < 0 || s->row >= PQntuples(s->result) || i < 0 ||
	    i >= PQnfields(s->result) || PQgetisnull(s->result, s->row, i))
		return NULL;
	return PQgetvalue(s->result, s->row, i);
}

static int postgres_column_count(struct db_stmt *st)
{
	return PQnfields(shape(stmt(st)));
}

static const char *postgres_column_name(struct db_stmt *st, int i)
{
	return PQfname(shape(stmt(st)), i);
}

/* Booleans read as integers 0/1, as SQLite answers comparisons. A numeric
 * with no fraction (sum() of integers answers numeric here, integer on
 * SQLite) reads as an integer, so both stores give the same JSON. */
static enum db_type postgres_column_type(struct db_stmt *st, int i)
{
	struct pg_stmt *s = stmt(st);
	const char *v = value(s, i);

	if (!v)
		return DB_NULL;
	switch (PQftype(s->result, i)) {
	case OID_INT2:
	case OID_INT4:
	case OID_INT8:
	case OID_BOOL:
		return DB_INT;
	case OID_NUMERIC:
		return strpbrk(v, ".eEIN") ? DB_REAL : DB_INT;
	case OID_FLOAT4:
	case OID_FLOAT8:
		return DB_REAL;
	default:
		return DB_TEXT;
	}
}

static int64_t postgres_column_int(struct db_stmt *st, int i)
{
	struct pg_stmt *s = stmt(st);
	const char *v = value(s, i);
	char *end;
	long long n;

	if (!v)
		return 0;
	if (PQftype(s->result, i) == OID_BOOL)
		return v[0] == 't';
	n = strtoll(v, &end, 10);
	if (*end == '.' || *end == 'e' || *end == 'E')
		return (int64_t)strtod(v, NULL);
	return n;
}

static const char *postgres_column_text(struct db_stmt *st, int i)
{
	struct pg_stmt *s = stmt(st);
	const char *v = value(s, i);

	if (v && PQftype(s->result, i) == OID_BOOL)
		return v[0] == 't' ? "1" : "0";
	return v;
}

static int64_t postgres_changes(struct db *db)
{
	return conn(db)->changes;
}

static const char *postgres_errmsg(struct db *db)
{
	struct pg_db *c = conn(db);
	return c->errmsg[0] ? c->errmsg : "not an error";
}

static int postgres_backup(struct db *db, const char *path, struct err *e)
{
	return err_set(e, CTMS_EINVAL,
		       "ctms does not back up a PostgreSQL database itself: use pg_dump "
		       "(pg_dump --format=custom --file=%s DBURL) or pg_basebackup for a physical copy",
		       path);
}

/* The migrations are written in SQLite's dialect; the differences that
 * matter for PostgreSQL are the integer types. SQLite's INTEGER is 64-bit
 * and an INTEGER PRIMARY KEY numbers rows by itself; here INTEGER is 32-bit,
 * so every INTEGER becomes BIGINT (timestamps are microseconds, ids grow)
 * and an INTEGER PRIMARY KEY becomes an identity column, which also takes
 * explicit values as SQLite's does. Words inside quotes are left alone. */
static char *postgres_schema_sql(const char *portable)
{
	static const char integer_pk[] = "INTEGER PRIMARY KEY";
	struct buf b;
	const char *p = portable;
	char quote = 0;

	buf_init(&b, SIZE_MAX / 2);
	while (*p) {
		bool word_start = p == portable || !(p[-1] == '_' || (p[-1] >= 'a' && p[-1] <= 'z') ||
						     (p[-1] >= 'A' && p[-1] <= 'Z') ||
						     (p[-1] >= '0' && p[-1] <= '9'));
		if (quote) {
			if (*p == quote)
				quote = 0;
		} else if (*p == '\'' || *p == '"') {
			quote = *p;
		} else if (word_start && !strncmp(p, integer_pk, sizeof(integer_pk) - 1)) {
			buf_puts(&b, "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
			p += sizeof(integer_pk) - 1;
			continue;
		} else if (word_start && !strncmp(p, "INTEGER", 7) &&
			   !(p[7] == '_' || (p[7] >= 'a' && p[7] <= 'z') || (p[7] >= 'A' && p[7] <= 'Z') ||
			     (p[7] >= '0' && p[7] <= '9'))) {
			buf_puts(&b, "BIGINT");
			p += 7;
			continue;
		}
		buf_putc(&b, *p++);
	}
	return buf_detach(&b);
}

static const struct db_ops postgres_ops = {
	.name = "postgresql",
	.close = postgres_close,
	.exec = postgres_exec,
	.begin = postgres_begin,
	.commit = postgres_commit,
	.rollback = postgres_rollback,
	.prepare = postgres_prepare,
	.bind_text = postgres_bind_text,
	.bind_int = postgres_bind_int,
	.bind_null = postgres_bind_null,
	.step = postgres_step,
	.done = postgres_done,
	.done_all = postgres_done_all,
	.column_count = postgres_column_count,
	.column_name = postgres_column_name,
	.column_type = postgres_column_type,
	.column_int = postgres_column_int,
	.column_text = postgres_column_text,
	.changes = postgres_changes,
	.errmsg = postgres_errmsg,
	.backup = postgres_backup,
	.schema_sql = postgres_schema_sql,
	.table_exists_sql = "SELECT count(*) FROM pg_catalog.pg_tables"
			    " WHERE schemaname = current_schema() AND tablename = $1",
};
