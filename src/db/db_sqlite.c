/* SQLite backend of db.h. */
#include "db/db.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

#define STMT_BUCKETS 256

struct db_stmt {
	sqlite3_stmt *stmt;
	struct db *db;
	char *sql;
	struct db_stmt *next; /* bucket chain */
};

struct db {
	sqlite3 *handle;
	char *url;
	int depth;   /* nesting of db_begin */
	bool doomed; /* an inner level rolled back */
	struct db_stmt *buckets[STMT_BUCKETS];
};

static unsigned hash_sql(const char *s)
{
	unsigned h = 5381;
	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h % STMT_BUCKETS;
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

int db_open(const char *url, struct db **out, struct err *e)
{
	struct db *db = xcalloc(1, sizeof(*db));
	int rc;

	*out = NULL;
	rc = sqlite3_open_v2(url, &db->handle,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		err_set(e, CTMS_EIO, "cannot open database %s: %s", url,
			db->handle ? sqlite3_errmsg(db->handle) : sqlite3_errstr(rc));
		sqlite3_close(db->handle);
		free(db);
		return CTMS_EIO;
	}
	db->url = xstrdup(url);
	sqlite3_busy_timeout(db->handle, 10000);
	sqlite3_extended_result_codes(db->handle, 1);
	rc = db_exec(db,
		     "PRAGMA foreign_keys = ON;"
		     "PRAGMA journal_mode = WAL;"
		     "PRAGMA synchronous = NORMAL;"
		     "PRAGMA trusted_schema = OFF;",
		     e);
	if (rc) {
		db_close(db);
		return rc;
	}
	*out = db;
	return 0;
}

void db_close(struct db *db)
{
	if (!db)
		return;
	for (int i = 0; i < STMT_BUCKETS; i++) {
		struct db_stmt *s = db->buckets[i];
		while (s) {
			struct db_stmt *next = s->next;
			sqlite3_finalize(s->stmt);
			free(s->sql);
			free(s);
			s = next;
		}
	}
	sqlite3_close(db->handle);
	free(db->url);
	free(db);
}

const char *db_url(const struct db *db)
{
	return db->url;
}

int db_exec(struct db *db, const char *sql, struct err *e)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db->handle, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		int code = map_rc(rc);
		err_set(e, code, "database error: %s", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return code;
	}
	return 0;
}

int db_begin(struct db *db)
{
	if (db->depth++ > 0)
		return 0;
	db_done_all(db);
	db->doomed = false;
	int rc = map_rc(sqlite3_exec(db->handle, "BEGIN IMMEDIATE", NULL, NULL, NULL));
	if (rc)
		db->depth = 0;
	return rc;
}

int db_commit(struct db *db)
{
	if (db->depth <= 0)
		return CTMS_EDB;
	if (--db->depth > 0)
		return db->doomed ? CTMS_EDB : 0;
	db_done_all(db);
	if (db->doomed) {
		sqlite3_exec(db->handle, "ROLLBACK", NULL, NULL, NULL);
		return CTMS_EDB;
	}
	int rc = map_rc(sqlite3_exec(db->handle, "COMMIT", NULL, NULL, NULL));
	if (rc)
		sqlite3_exec(db->handle, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

void db_rollback(struct db *db)
{
	if (db->depth <= 0)
		return;
	db->doomed = true;
	if (--db->depth > 0)
		return;
	db_done_all(db);
	sqlite3_exec(db->handle, "ROLLBACK", NULL, NULL, NULL);
}

bool db_in_transaction(const struct db *db)
{
	return db->depth > 0;
}

/* SQLite numbers "$N" parameters in order of first appearance, not by N, so
 * binding goes through the parameter's name. */
static int param_index(struct db_stmt *st, int n)
{
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
	return sqlite3_bind_parameter_index(st->stmt, name);
}

int db_prepare(struct db *db, const char *sql, struct db_stmt **out)
{
	unsigned h = hash_sql(sql);
	struct db_stmt *s;

	for (s = db->buckets[h]; s; s = s->next) {
		if (!strcmp(s->sql, sql)) {
			sqlite3_reset(s->stmt);
			sqlite3_clear_bindings(s->stmt);
			*out = s;
			return 0;
		}
	}
	sqlite3_stmt *stmt;
	int rc = sqlite3_prepare_v3(db->handle, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
	if (rc != SQLITE_OK) {
		*out = NULL;
		return map_rc(rc) ? map_rc(rc) : CTMS_EDB;
	}
	s = xcalloc(1, sizeof(*s));
	s->stmt = stmt;
	s->db = db;
	s->sql = xstrdup(sql);
	s->next = db->buckets[h];
	db->buckets[h] = s;
	*out = s;
	return 0;
}

int db_bind_text(struct db_stmt *st, int n, const char *s)
{
	int i = param_index(st, n);
	if (!i)
		return CTMS_EDB;
	if (!s)
		return map_rc(sqlite3_bind_null(st->stmt, i));
	return map_rc(sqlite3_bind_text(st->stmt, i, s, -1, SQLITE_TRANSIENT));
}

int db_bind_int(struct db_stmt *st, int n, int64_t v)
{
	int i = param_index(st, n);
	return i ? map_rc(sqlite3_bind_int64(st->stmt, i, v)) : CTMS_EDB;
}

int db_bind_null(struct db_stmt *st, int n)
{
	int i = param_index(st, n);
	return i ? map_rc(sqlite3_bind_null(st->stmt, i)) : CTMS_EDB;
}

int db_step(struct db_stmt *st)
{
	int rc = sqlite3_step(st->stmt);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st->stmt);
		return 0;
	}
	sqlite3_reset(st->stmt);
	return map_rc(rc) ? map_rc(rc) : CTMS_EDB;
}

void db_done(struct db_stmt *st)
{
	if (st)
		sqlite3_reset(st->stmt);
}

void db_done_all(struct db *db)
{
	sqlite3_stmt *s = NULL;
	while ((s = sqlite3_next_stmt(db->handle, s)))
		if (sqlite3_stmt_busy(s))
			sqlite3_reset(s);
}

int db_column_count(struct db_stmt *st)
{
	return sqlite3_column_count(st->stmt);
}

const char *db_column_name(struct db_stmt *st, int i)
{
	return sqlite3_column_name(st->stmt, i);
}

enum db_type db_column_type(struct db_stmt *st, int i)
{
	switch (sqlite3_column_type(st->stmt, i)) {
	case SQLITE_INTEGER: return DB_INT;
	case SQLITE_FLOAT: return DB_REAL;
	case SQLITE_NULL: return DB_NULL;
	default: return DB_TEXT;
	}
}

int64_t db_column_int(struct db_stmt *st, int i)
{
	return sqlite3_column_int64(st->stmt, i);
}

const char *db_column_text(struct db_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st->stmt, i);
}

int64_t db_changes(struct db *db)
{
	return sqlite3_changes64(db->handle);
}

const char *db_errmsg(struct db *db)
{
	return sqlite3_errmsg(db->handle);
}

int db_backup(struct db *db, const char *path, struct err *e)
{
	sqlite3 *dest;
	int rc = sqlite3_open(path, &dest);
	if (rc == SQLITE_OK) {
		sqlite3_backup *b = sqlite3_backup_init(dest, "main", db->handle, "main");
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
