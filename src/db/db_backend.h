/* Private to src/db: what a storage backend provides behind db.h.
 *
 * A backend embeds struct db as the first member of its connection and
 * struct db_stmt as the first member of its statement, and fills a struct
 * db_ops. db.c keeps the public functions and everything the backends share
 * (transaction nesting, the pool); a backend implements only what differs.
 * Nothing outside src/db includes this header. */
#ifndef CTMS_DB_BACKEND_H
#define CTMS_DB_BACKEND_H

#include "db/db.h"

struct db_ops {
	const char *name; /* "sqlite", "postgresql" */
	void (*close)(struct db *db); /* frees the connection and its statements */
	int (*exec)(struct db *db, const char *sql, struct err *e);

	/* The outermost level of a write transaction; db.c does the nesting. */
	int (*begin)(struct db *db);
	int (*commit)(struct db *db); /* on failure the caller rolls back */
	void (*rollback)(struct db *db);

	int (*prepare)(struct db *db, const char *sql, struct db_stmt **out);
	int (*bind_text)(struct db_stmt *st, int n, const char *s);
	int (*bind_int)(struct db_stmt *st, int n, int64_t v);
	int (*bind_null)(struct db_stmt *st, int n);
	int (*step)(struct db_stmt *st);
	void (*done)(struct db_stmt *st);
	void (*done_all)(struct db *db);
	int (*column_count)(struct db_stmt *st);
	const char *(*column_name)(struct db_stmt *st, int i);
	enum db_type (*column_type)(struct db_stmt *st, int i);
	int64_t (*column_int)(struct db_stmt *st, int i);
	const char *(*column_text)(struct db_stmt *st, int i);
	int64_t (*changes)(struct db *db);
	const char *(*errmsg)(struct db *db);
	int (*backup)(struct db *db, const char *path, struct err *e);

	/* Schema text in this backend's dialect, from the portable form the
	 * migrations are written in; the caller frees it. */
	char *(*schema_sql)(const char *portable);
	/* One row, one column: non-zero when the table named $1 exists. */
	const char *table_exists_sql;
};

/* The part of a connection every backend shares. */
struct db {
	const struct db_ops *ops;
	char *url;
	int depth;   /* nesting of db_begin */
	bool doomed; /* an inner level rolled back: the outermost commit rolls back */
};

/* The part of a statement every backend shares. */
struct db_stmt {
	struct db *db;
};

/* Backend constructors: on success *out is a connection whose common part
 * is filled in (ops, url; depth 0). On failure *out is NULL and e says why. */
int db_sqlite_open(const char *url, struct db **out, struct err *e);
int db_postgres_open(const char *url, struct db **out, struct err *e);

/* Which backend db_open picks for a URL: PostgreSQL for postgresql:// and
 * postgres://, SQLite for everything else. */
bool db_url_is_postgres(const char *url);

/* The dialect of a migration fragment (see migrate.c). */
bool db_is_postgres(const struct db *db);

#endif
