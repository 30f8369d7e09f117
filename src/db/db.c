/* Backend-neutral parts of the store: the connection pool and helpers. */
#include "db/db.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>

#include "util/buf.h"

struct db_pool {
	pthread_mutex_t lock;
	pthread_cond_t available;
	struct db **free_list;
	int nfree;
	int size;
};

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
