/* SQLite backend of db.h: one file (or ":memory:"), WAL, foreign keys on. */
#include "db/db_backend.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

#define STMT_BUCKETS 256

struct sqlite_stmt {
	struct db_stmt base;
	sqlite3_stmt *stmt;
	char *sql;
	size_t sql_len;
	struct sqlite_stmt *next; /* bucket chain */
	/* "INSERT INTO t (...) VALUES (...) RETURNING id", the one form
	 * record.c writes (one row, into a table whose id is its INTEGER
	 * PRIMARY KEY), runs as the plain INSERT and answers the new rowid as
	 * its one row. SQLite collects RETURNING rows in a temporary b-tree it
	 * opens and closes on every execution: a sixth of the time of
	 * `ctms demo --scale 1`, more than the insert itself. */
	bool returns_rowid;
	bool row_ready;
	bool params_in_order; /* "$N" is the Nth parameter: bind by number */
	sqlite3_int64 rowid;
	char rowid_text[24];
};

struct sqlite_db {
	struct db base;
	sqlite3 *handle;
	struct sqlite_stmt *buckets[STMT_BUCKETS];
};

static const struct db_ops sqlite_ops;

static struct sqlite_db *conn(struct db *db)
{
	return (struct sqlite_db *)db;
}

static struct sqlite_stmt *stmt(struct db_stmt *st)
{
	return (struct sqlite_stmt *)st;
}

/* Every db_prepare looks its text up here, and the texts run to hundreds of
 * bytes: they are hashed eight bytes at a time (FNV-1a over words). */
static unsigned hash_sql(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325u ^ len, w;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, s + i, 8);
		h = (h ^ w) * 0x100000001b3u;
	}
	w = 0;
	memcpy(&w, s + i, len - i);
	h = (h ^ w) * 0x100000001b3u;
	return (unsigned)((h ^ (h >> 29) ^ (h >> 47)) % STMT_BUCKETS);
}

static int map_rc(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_CONSTRAINT:
		return CTMS_ECONFLICT;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return CTMS_EBUSY;
	case SQLITE_NOMEM:
		abort();
	default:
		return CTMS_EDB;
	}
}

static int sqlite_exec(struct db *db, const char *sql, struct err *e)
{
	char *msg = NULL;
	int rc = sqlite3_exec(conn(db)->handle, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		int code = map_rc(rc);
		err_set(e, code, "database error: %s", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return code;
	}
	return 0;
}

static void sqlite_close(struct db *db)
{
	struct sqlite_db *c = conn(db);
	for (int i = 0; i < STMT_BUCKETS; i++) {
		struct sqlite_stmt *s = c->buckets[i];
		while (s) {
			struct sqlite_stmt *next = s->next;
			sqlite3_finalize(s->stmt);
			free(s->sql);
			free(s);
			s = next;
		}
	}
	sqlite3_close(c->handle);
	free(db->url);
	free(c);
}

int db_sqlite_open(const char *url, struct db **out, struct err *e)
{
	struct sqlite_db *c = xcalloc(1, sizeof(*c));
	int rc;

	*out = NULL;
	c->base.ops = &sqlite_ops;
	rc = sqlite3_open_v2(url, &c->handle,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		err_set(e, CTMS_EIO, "cannot open database %s: %s", url,
			c->handle ? sqlite3_errmsg(c->handle) : sqlite3_errstr(rc));
		sqlite3_close(c->handle);
		free(c);
		return CTMS_EIO;
	}
	c->base.url = xstrdup(url);
	sqlite3_busy_timeout(c->handle, 10000);
	sqlite3_extended_result_codes(c->handle, 1);
	rc = sqlite_exec(&c->base,
			 "PRAGMA foreign_keys = ON;"
			 "PRAGMA journal_mode = WAL;"
			 /* FULL syncs the WAL at every commit, so an acknowledged write
			  * survives power loss and an OS crash, as on PostgreSQL
			  * (synchronous_commit = on). NORMAL survives only a crash of
			  * the process: it may lose every commit since the last
			  * checkpoint. The cost is one fsync per write transaction:
			  * creating organisations with wrk on a 2-core VM, about
			  * 2,000/s against 4,400/s with NORMAL. */
			 "PRAGMA synchronous = FULL;"
			 "PRAGMA trusted_schema = OFF;"
			 /* Up to 32 MiB of pages per connection, taken as used
			  * (2 MiB by default): a bulk import writes its file in one
			  * transaction, and a transaction larger than the cache
			  * spills dirty pages into the WAL before its commit. */
			 "PRAGMA cache_size = -32768;",
			 e);
	if (rc) {
		sqlite_close(&c->base);
		return rc;
	}
	*out = &c->base;
	return 0;
}

/* Writers of this process queue on a mutex before they ask SQLite for the
 * write lock. SQLite's busy handler would make them sleep 1 to 100 ms between
 * tries, and overlapping writers keep the WAL from restarting; a queue in the
 * process costs neither (measured: bench/README.md). Writers in other
 * processes still meet the busy timeout. */
static pthread_mutex_t writer_queue = PTHREAD_MUTEX_INITIALIZER;

/* IMMEDIATE takes the write lock at once, so writers queue (busy timeout)
 * instead of failing when a read transaction tries to upgrade. */
static int sqlite_begin(struct db *db)
{
	pthread_mutex_lock(&writer_queue);
	int rc = map_rc(sqlite3_exec(conn(db)->handle, "BEGIN IMMEDIATE", NULL, NULL, NULL));
	if (rc)
		pthread_mutex_unlock(&writer_queue);
	return rc;
}

/* On failure the caller rolls back, which releases the queue. */
static int sqlite_commit(struct db *db)
{
	int rc = map_rc(sqlite3_exec(conn(db)->handle, "COMMIT", NULL, NULL, NULL));
	if (!rc)
		pthread_mutex_unlock(&writer_queue);
	return rc;
}

static void sqlite_rollback(struct db *db)
{
	sqlite3_exec(conn(db)->handle, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_unlock(&writer_queue);
}

/* SQLite numbers "$N" parameters in order of first appearance, not by N, so
 * binding goes through the parameter's name. */
static int param_index(struct db_stmt *st, int n)
{
	if (stmt(st)->params_in_order)
		return n >= 1 && n <= sqlite3_bind_parameter_count(stmt(st)->stmt) ? n : 0;
	char name[16];
	int len = 0, v = n;
	char digits[12];
	do {
		digits[len++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && len < 11);
	name[0] = '$';
	for (int i = 0; i < len; i++)
		name[1 + i] = digits[len - 1 - i];
	name[1 + len] = '\0';
	return sqlite3_bind_parameter_index(stmt(st)->stmt, name);
}

static int sqlite_prepare(struct db *db, const char *sql, struct db_stmt **out)
{
	struct sqlite_db *c = conn(db);
	size_t len = strlen(sql);
	unsigned h = hash_sql(sql, len);
	struct sqlite_stmt *s;

	for (s = c->buckets[h]; s; s = s->next) {
		if (s->sql_len == len && !memcmp(s->sql, sql, len)) {
			sqlite3_reset(s->stmt);
			sqlite3_clear_bindings(s->stmt);
			s->row_ready = false;
			*out = &s->base;
			return 0;
		}
	}
	/* Anything that could insert no row or several keeps SQLite's RETURNING. */
	static const char returning[] = " RETURNING id";
	size_t tail = sizeof(returning) - 1;
	bool returns_rowid = !strncmp(sql, "INSERT INTO ", 12) && len > tail &&
			     !strcmp(sql + len - tail, returning) && !strstr(sql, " SELECT ") &&
			     !strstr(sql, " ON CONFLICT ") && !strstr(sql, "), (");
	sqlite3_stmt *handle;
	int rc = sqlite3_prepare_v3(c->handle, sql, returns_rowid ? (int)(len - tail) : -1,
				    SQLITE_PREPARE_PERSISTENT, &handle, NULL);
	if (rc != SQLITE_OK) {
		*out = NULL;
		return map_rc(rc) ? map_rc(rc) : CTMS_EDB;
	}
	s = xcalloc(1, sizeof(*s));
	s->base.db = db;
	s->stmt = handle;
	s->sql = xstrdup(sql);
	s->sql_len = len;
	s->returns_rowid = returns_rowid;
	s->params_in_order = true;
	for (int i = 1; i <= sqlite3_bind_parameter_count(handle) && s->params_in_order; i++) {
		const char *name = sqlite3_bind_parameter_name(handle, i);
		char expect[16];
		snprintf(expect, sizeof(expect), "$%d", i);
		s->params_in_order = name && !strcmp(name, expect);
	}
	s->next = c->buckets[h];
	c->buckets[h] = s;
	*out = &s->base;
	return 0;
}

static int sqlite_bind_text(struct db_stmt *st, int n, const char *s)
{
	int i = param_index(st, n);
	if (!i)
		return CTMS_EDB;
	if (!s)
		return map_rc(sqlite3_bind_null(stmt(st)->stmt, i));
	return map_rc(sqlite3_bind_text(stmt(st)->stmt, i, s, -1, SQLITE_TRANSIENT));
}

static int sqlite_bind_int(struct db_stmt *st, int n, int64_t v)
{
	int i = param_index(st, n);
	return i ? map_rc(sqlite3_bind_int64(stmt(st)->stmt, i, v)) : CTMS_EDB;
}

static int sqlite_bind_null(struct db_stmt *st, int n)
{
	int i = param_index(st, n);
	return i ? map_rc(sqlite3_bind_null(stmt(st)->stmt, i)) : CTMS_EDB;
}

static int sqlite_step(struct db_stmt *st)
{
	struct sqlite_stmt *ss = stmt(st);
	sqlite3_stmt *s = ss->stmt;
	if (ss->returns_rowid && ss->row_ready) {
		ss->row_ready = false;
		return 0;
	}
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE && ss->returns_rowid) {
		ss->rowid = sqlite3_last_insert_rowid(sqlite3_db_handle(s));
		ss->row_ready = true;
		sqlite3_reset(s);
		return 1;
	}
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return 0;
	}
	sqlite3_reset(s);
	return map_rc(rc) ? map_rc(rc) : CTMS_EDB;
}

static void sqlite_done(struct db_stmt *st)
{
	stmt(st)->row_ready = false;
	sqlite3_reset(stmt(st)->stmt);
}

static void sqlite_done_all(struct db *db)
{
	sqlite3_stmt *s = NULL;
	while ((s = sqlite3_next_stmt(conn(db)->handle, s)))
		if (sqlite3_stmt_busy(s))
			sqlite3_reset(s);
}

static int sqlite_column_count(struct db_stmt *st)
{
	if (stmt(st)->row_ready)
		return 1;
	return sqlite3_column_count(stmt(st)->stmt);
}

static const char *sqlite_column_name(struct db_stmt *st, int i)
{
	if (stmt(st)->row_ready)
		return "id";
	return sqlite3_column_name(stmt(st)->stmt, i);
}

static enum db_type sqlite_column_type(struct db_stmt *st, int i)
{
	if (stmt(st)->row_ready)
		return DB_INT;
	switch (sqlite3_column_type(stmt(st)->stmt, i)) {
	case SQLITE_INTEGER: return DB_INT;
	case SQLITE_FLOAT: return DB_REAL;
	case SQLITE_NULL: return DB_NULL;
	default: return DB_TEXT;
	}
}

static int64_t sqlite_column_int(struct db_stmt *st, int i)
{
	if (stmt(st)->row_ready)
		return stmt(st)->rowid;
	return sqlite3_column_int64(stmt(st)->stmt, i);
}

static const char *sqlite_column_text(struct db_stmt *st, int i)
{
	struct sqlite_stmt *s = stmt(st);
	if (s->row_ready) {
		snprintf(s->rowid_text, sizeof(s->rowid_text), "%lld", (long long)s->rowid);
		return s->rowid_text;
	}
	return (const char *)sqlite3_column_text(s->stmt, i);
}

static int64_t sqlite_changes(struct db *db)
{
	return sqlite3_changes64(conn(db)->handle);
}

static const char *sqlite_errmsg(struct db *db)
{
	return sqlite3_errmsg(conn(db)->handle);
}

static int sqlite_backup(struct db *db, const char *path, struct err *e)
{
	sqlite3 *dest;
	int rc = sqlite3_open(path, &dest);
	if (rc == SQLITE_OK) {
		sqlite3_backup *b = sqlite3_backup_init(dest, "main", conn(db)->handle, "main");
		if (b) {
			do {
				rc = sqlite3_backup_step(b, 256);
				if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
					sqlite3_sleep(20);
			} while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
			sqlite3_backup_finish(b);
		}
		rc = sqlite3_errcode(dest);
	}
	if (rc != SQLITE_OK) {
		err_set(e, CTMS_EIO, "backup to %s failed: %s", path, sqlite3_errmsg(dest));
		sqlite3_close(dest);
		return CTMS_EIO;
	}
	sqlite3_close(dest);
	return 0;
}

/* The migrations are written in SQLite's dialect. */
static char *sqlite_schema_sql(const char *portable)
{
	return xstrdup(portable);
}

static const struct db_ops sqlite_ops = {
	.name = "sqlite",
	.close = sqlite_close,
	.exec = sqlite_exec,
	.begin = sqlite_begin,
	.commit = sqlite_commit,
	.rollback = sqlite_rollback,
	.prepare = sqlite_prepare,
	.bind_text = sqlite_bind_text,
	.bind_int = sqlite_bind_int,
	.bind_null = sqlite_bind_null,
	.step = sqlite_step,
	.done = sqlite_done,
	.done_all = sqlite_done_all,
	.column_count = sqlite_column_count,
	.column_name = sqlite_column_name,
	.column_type = sqlite_column_type,
	.column_int = sqlite_column_int,
	.column_text = sqlite_column_text,
	.changes = sqlite_changes,
	.errmsg = sqlite_errmsg,
	.backup = sqlite_backup,
	.schema_sql = sqlite_schema_sql,
	.table_exists_sql = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
};
