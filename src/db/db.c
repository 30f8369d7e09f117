/* The public face of the store: picks a backend by URL, nests write
 * transactions the same way for every backend, and holds the pool and the
 * helpers that need nothing backend-specific. */
#include "db/db.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_backend.h"
#include "util/buf.h"

struct db_pool {
	pthread_mutex_t lock;
	pthread_cond_t available;
	struct db **free_list;
	int nfree;
	int size;
};

bool db_url_is_postgres(const char *url)
{
	return !strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11);
}

bool db_is_postgres(const struct db *db)
{
	return !strcmp(db->ops->name, "postgresql");
}

int db_open(const char *url, struct db **out, struct err *e)
{
	if (db_url_is_postgres(url))
		return db_postgres_open(url, out, e);
	return db_sqlite_open(url, out, e);
}

void db_close(struct db *db)
{
	if (db)
		db->ops->close(db);
}

const char *db_url(const struct db *db)
{
	return db->url;
}

int db_exec(struct db *db, const char *sql, struct err *e)
{
	return db->ops->exec(db, sql, e);
}

int db_begin(struct db *db)
{
	if (db->depth++ > 0)
		return 0;
	db_done_all(db);
	db->doomed = false;
	int rc = db->ops->begin(db);
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
		db->ops->rollback(db);
		return CTMS_EDB;
	}
	int rc = db->ops->commit(db);
	if (rc)
		db->ops->rollback(db);
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
	db->ops->rollback(db);
}

bool db_in_transaction(const struct db *db)
{
	return db->depth > 0;
}

int db_prepare(struct db *db, const char *sql, struct db_stmt **out)
{
	return db->ops->prepare(db, sql, out);
}

int db_bind_text(struct db_stmt *st, int n, const char *s)
{
	return st->db->ops->bind_text(st, n, s);
}

int db_bind_int(struct db_stmt *st, int n, int64_t v)
{
	return st->db->ops->bind_int(st, n, v);
}

int db_bind_null(struct db_stmt *st, int n)
{
	return st->db->ops->bind_null(st, n);
}

int db_step(struct db_stmt *st)
{
	return st->db->ops->step(st);
}

void db_done(struct db_stmt *st)
{
	if (st)
		st->db->ops->done(st);
}

void db_done_all(struct db *db)
{
	db->ops->done_all(db);
}

int db_column_count(struct db_stmt *st)
{
	return st->db->ops->column_count(st);
}

const char *db_column_name(struct db_stmt *st, int i)
{
	return st->db->ops->column_name(st, i);
}

enum db_type db_column_type(struct db_stmt *st, int i)
{
	return st->db->ops->column_type(st, i);
}

int64_t db_column_int(struct db_stmt *st, int i)
{
	return st->db->ops->column_int(st, i);
}

const char *db_column_text(struct db_stmt *st, int i)
{
	return st->db->ops->column_text(st, i);
}

int64_t db_changes(struct db *db)
{
	return db->ops->changes(db);
}

const char *db_errmsg(struct db *db)
{
	return db->ops->errmsg(db);
}

int db_backup(struct db *db, const char *path, struct err *e)
{
	return db->ops->backup(db, path, e);
}

int db_query_int(struct db *db, const char *sql, int64_t *out, int nparams, ...)
{
	struct db_stmt *st;
	va_list ap;
	int rc = db_prepare(db, sql, &st);

	if (rc)
		return rc;
	va_start(ap, nparams);
	for (int i = 1; i <= nparams; i++)
		db_bind_int(st, i, va_arg(ap, int64_t));
	va_end(ap);
	rc = db_step(st);
	if (rc == 1) {
		*out = db_column_int(st, 0);
		db_done(st);
		return 0;
	}
	return rc == 0 ? CTMS_ENOTFOUND : rc;
}

int db_pool_open(const char *url, int size, struct db_pool **out, struct err *e)
{
	struct db_pool *p = xcalloc(1, sizeof(*p));
	int rc = 0;

	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->available, NULL);
	p->free_list = xcalloc((size_t)size, sizeof(*p->free_list));
	p->size = size;
	for (int i = 0; i < size && !rc; i++) {
		rc = db_open(url, &p->free_list[i], e);
		if (!rc)
			p->nfree++;
	}
	if (rc) {
		db_pool_close(p);
		*out = NULL;
		return rc;
	}
	*out = p;
	return 0;
}

struct db *db_pool_acquire(struct db_pool *p)
{
	pthread_mutex_lock(&p->lock);
	while (p->nfree == 0)
		pthread_cond_wait(&p->available, &p->lock);
	struct db *db = p->free_list[--p->nfree];
	pthread_mutex_unlock(&p->lock);
	return db;
}

void db_pool_release(struct db_pool *p, struct db *db)
{
	while (db_in_transaction(db))
		db_rollback(db);
	db_done_all(db);
	pthread_mutex_lock(&p->lock);
	p->free_list[p->nfree++] = db;
	pthread_cond_signal(&p->available);
	pthread_mutex_unlock(&p->lock);
}

void db_pool_close(struct db_pool *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->nfree; i++)
		db_close(p->free_list[i]);
	free(p->free_list);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->available);
	free(p);
}
