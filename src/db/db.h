/* The store: one interface over SQLite and PostgreSQL.
 *
 * SQL given to db_prepare uses $1, $2 ... placeholders, which both backends
 * accept; values are always bound, never spliced into the text. Prepared
 * statements are cached per connection by their text, so callers never
 * finalize them: they call db_done() when they stop reading early.
 *
 * Portable SQL, as both backends run it: PostgreSQL infers each parameter's
 * type from its context, so a parameter with none (`$1 IS NULL`, `SELECT $1`)
 * needs a CAST; an error inside a transaction aborts the whole transaction
 * on PostgreSQL, so a caller rolls back after any failed statement.
 *
 * A struct db is one connection and is used by one thread at a time; a
 * struct db_pool hands connections to server threads. */
#ifndef CTMS_DB_H
#define CTMS_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;
struct db;
struct db_stmt;

enum db_type { DB_NULL, DB_INT, DB_TEXT, DB_REAL };

/* Opens a connection. A URL starting postgresql:// or postgres:// (a libpq
 * connection URI) opens PostgreSQL; anything else is a SQLite file path
 * (created if absent) or ":memory:", with foreign keys on, WAL and a busy
 * timeout. Fails with CTMS_EIO when the store cannot be reached. */
int db_open(const char *url, struct db **out, struct err *e);
void db_close(struct db *db);
/* The URL the connection was opened with (for opening siblings). */
const char *db_url(const struct db *db);

/* Write transactions nest: the outermost db_begin starts one; inner calls
 * only count. Writers queue, one at a time, instead of failing: BEGIN
 * IMMEDIATE on SQLite; on PostgreSQL BEGIN and one advisory lock that every
 * writer of every server on the database takes (CTMS_EBUSY after 10 s).
 * db_rollback anywhere dooms the whole transaction: the outermost db_commit
 * then rolls back and returns CTMS_EDB. */
int db_begin(struct db *db);
int db_commit(struct db *db);
void db_rollback(struct db *db);
bool db_in_transaction(const struct db *db);

/* Runs SQL text with no parameters (schema, pragmas); several statements allowed. */
int db_exec(struct db *db, const char *sql, struct err *e);

int db_prepare(struct db *db, const char *sql, struct db_stmt **out);
int db_bind_text(struct db_stmt *st, int n, const char *s); /* s NULL binds NULL */
int db_bind_int(struct db_stmt *st, int n, int64_t v);
int db_bind_null(struct db_stmt *st, int n);
/* 1 when a row is ready, 0 when done (the statement is reset), or a negative
 * ctms_err: CTMS_ECONFLICT for a constraint violation, CTMS_EBUSY when the
 * store stayed locked past the timeout (or PostgreSQL reports a
 * serialization failure or deadlock), CTMS_EIO when the connection to the
 * server was lost, CTMS_EDB otherwise. */
int db_step(struct db_stmt *st);
/* Resets a statement that was not read to the end. */
void db_done(struct db_stmt *st);
/* Resets every statement of the connection (returning it to a pool). */
void db_done_all(struct db *db);

/* Column types are the stored value's: integers (and PostgreSQL booleans, as
 * 0/1) are DB_INT, floating point DB_REAL, SQL NULL DB_NULL, the rest text. */
int db_column_count(struct db_stmt *st);
const char *db_column_name(struct db_stmt *st, int i);
enum db_type db_column_type(struct db_stmt *st, int i);
int64_t db_column_int(struct db_stmt *st, int i);
/* Valid until the next step or reset; NULL for SQL NULL. */
const char *db_column_text(struct db_stmt *st, int i);

/* Rows changed by the last INSERT/UPDATE/DELETE of this connection. */
int64_t db_changes(struct db *db);
/* The last error message of the connection, for logs. */
const char *db_errmsg(struct db *db);

/* One-row helpers: run sql with the given int parameters and read column 0. */
int db_query_int(struct db *db, const char *sql, int64_t *out, int nparams, ...);

/* A fixed set of connections shared by server threads. */
struct db_pool;
int db_pool_open(const char *url, int size, struct db_pool **out, struct err *e);
struct db *db_pool_acquire(struct db_pool *p);
void db_pool_release(struct db_pool *p, struct db *db);
void db_pool_close(struct db_pool *p);

/* Schema: applies numbered migrations; refuses a database newer than the binary. */
int db_migrate(struct db *db, struct err *e);
int db_schema_version(struct db *db, int *version);
int db_latest_schema_version(void);

/* PostgreSQL: lets the role the servers connect as read and write every
 * table, except that the append-only tables (audit trail, signatures) get
 * SELECT and INSERT only, so the application cannot alter them even with
 * the triggers gone (the triggers belong to the owner, who runs init).
 * Idempotent; run after every migration. CTMS_EINVAL on SQLite or for a
 * role name that is not a plain identifier. */
int db_grant_app_role(struct db *db, const char *role, struct err *e);

/* Online copy of the whole database into path (SQLite backup API). On
 * PostgreSQL it fails with CTMS_EINVAL: pg_dump or pg_basebackup does that. */
int db_backup(struct db *db, const char *path, struct err *e);

#include "util/err.h"
#endif
