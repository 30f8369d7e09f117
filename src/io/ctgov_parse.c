#include "io/ctgov_parse.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/json.h"

/* Records parsed ahead of the writer, at most: bounds the memory held. */
#define AHEAD 32
/* Threads parsing, at most: one per core, as parsing costs more than
 * writing and the writer spends part of its time waiting for them. */
#define PARSERS 4
/* How much the parsers yield to the writer (a nice value, 0 to 19). */
#define PARSER_NICE 10
/* A buffer this small is parsed by the writer itself. */
#define THREADED_MIN_BYTES (256 * 1024)

struct slot {
	struct ctgov_item item;
	bool ready;
};

struct ctgov_parser {
	const char *data;
	size_t len;
	size_t scan;        /* offset of the next line to hand out */
	size_t line;        /* number of the last line scanned */
	uint64_t claimed;   /* items handed to a parser */
	uint64_t taken;     /* items taken by the writer */
	bool end;           /* every line is handed out; claimed is the total */
	bool stopping;
	struct slot slots[AHEAD];
	pthread_mutex_t lock;
	pthread_cond_t parsed; /* a slot became ready, or the end was reached */
	pthread_cond_t freed;  /* the writer took a slot or gave a record back, or stop */
	pthread_t threads[PARSERS];
	int nthreads;
	json_t **recycled; /* records to free, given back by the writer */
	size_t nrecycled, recycled_cap;
};

void ctgov_parse_item(struct ctgov_item *it)
{
	json_error_t error;

	it->record = json_loadb(it->text, it->len, JSON_REJECT_DUPLICATES, &error);
	if (!it->record) {
		char message[256];
		snprintf(message, sizeof(message), "not JSON: %s (column %d)", error.text,
			 error.column);
		it->error = xstrdup(message);
	}
}

void ctgov_item_release(struct ctgov_item *it)
{
	json_decref(it->record);
	free(it->error);
	it->record = NULL;
	it->error = NULL;
}

static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

/* Hands out the next non-blank line as an item of its slot (lock held);
 * false, with the end marked, when none is left. */
static bool claim(struct ctgov_parser *p, struct ctgov_item **out)
{
	while (p->scan < p->len) {
		const char *s = p->data + p->scan;
		const char *nl = memchr(s, '\n', p->len - p->scan);
		size_t line = nl ? (size_t)(nl - s) + 1 : p->len - p->scan;
		p->scan += line;
		p->line++;
		if (blank(s, line))
			continue;
		struct ctgov_item *it = &p->slots[p->claimed++ % AHEAD].item;
		*it = (struct ctgov_item){.text = s, .len = line, .number = p->line};
		*out = it;
		return true;
	}
	p->end = true;
	pthread_cond_broadcast(&p->parsed);
	return false;
}

/* Frees the records given back (lock held; released while freeing). */
static void free_recycled(struct ctgov_parser *p)
{
	while (p->nrecycled) {
		json_t *batch[AHEAD];
		size_t n = p->nrecycled < AHEAD ? p->nrecycled : AHEAD;
		p->nrecycled -= n;
		memcpy(batch, p->recycled + p->nrecycled, n * sizeof(*batch));
		pthread_mutex_unlock(&p->lock);
		for (size_t i = 0; i < n; i++)
			json_decref(batch[i]);
		pthread_mutex_lock(&p->lock);
	}
}

/* Parsers yield to the writer: when the writer is the slower, the cores
 * it needs are not shared evenly with threads that would only fill the
 * queue and wait; when parsing is the slower, the writer mostly waits and
 * the parsers have the cores. Linux sets a nice value per thread. */
static void yield_to_writer(void)
{
#ifdef __linux__
	setpriority(PRIO_PROCESS, (id_t)gettid(), PARSER_NICE);
#endif
}

static void *parse_lines(void *arg)
{
	struct ctgov_parser *p = arg;
	struct ctgov_item *it;

	yield_to_writer();
	pthread_mutex_lock(&p->lock);
	for (;;) {
		free_recycled(p);
		while (!p->stopping && !p->nrecycled && p->claimed - p->taken >= AHEAD)
			pthread_cond_wait(&p->freed, &p->lock);
		if (p->nrecycled)
			continue;
		if (p->stopping || p->end || !claim(p, &it))
			break;
		uint64_t index = p->claimed - 1;
		pthread_mutex_unlock(&p->lock);
		ctgov_parse_item(it);
		pthread_mutex_lock(&p->lock);
		p->slots[index % AHEAD].ready = true;
		pthread_cond_broadcast(&p->parsed);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct ctgov_parser *ctgov_parser_start(const char *data, size_t len)
{
	struct ctgov_parser *p = xcalloc(1, sizeof(*p));

	p->data = data;
	p->len = len;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->parsed, NULL);
	pthread_cond_init(&p->freed, NULL);
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int threads = cores < 1 ? 1 : cores > PARSERS ? PARSERS : (int)cores;

	for (int i = 0; len >= THREADED_MIN_BYTES && i < threads; i++)
		if (pthread_create(&p->threads[p->nthreads], NULL, parse_lines, p) == 0)
			p->nthreads++;
	return p;
}

bool ctgov_parser_next(struct ctgov_parser *p, struct ctgov_item *it)
{
	struct slot *slot;
	struct ctgov_item *mine;

	pthread_mutex_lock(&p->lock);
	if (!p->nthreads) {
		/* No thread: the writer parses the line itself. */
		bool more = !p->end && claim(p, &mine);
		p->taken = p->claimed;
		pthread_mutex_unlock(&p->lock);
		if (more) {
			ctgov_parse_item(mine);
			*it = *mine;
		}
		return more;
	}
	slot = &p->slots[p->taken % AHEAD];
	while (!slot->ready && !(p->end && p->taken == p->claimed))
		pthread_cond_wait(&p->parsed, &p->lock);
	if (!slot->ready) {
		pthread_mutex_unlock(&p->lock);
		return false;
	}
	*it = slot->item;
	slot->ready = false;
	p->taken++;
	pthread_cond_broadcast(&p->freed);
	pthread_mutex_unlock(&p->lock);
	return true;
}

void ctgov_parser_recycle(struct ctgov_parser *p, json_t *record)
{
	if (!record)
		return;
	pthread_mutex_lock(&p->lock);
	if (!p->nthreads || p->stopping) {
		pthread_mutex_unlock(&p->lock);
		json_decref(record);
		return;
	}
	if (p->nrecycled == p->recycled_cap) {
		p->recycled_cap = p->recycled_cap ? p->recycled_cap * 2 : 2 * AHEAD;
		p->recycled = xrealloc(p->recycled, p->recycled_cap * sizeof(*p->recycled));
	}
	p->recycled[p->nrecycled++] = record;
	pthread_cond_broadcast(&p->freed);
	pthread_mutex_unlock(&p->lock);
}

void ctgov_parser_stop(struct ctgov_parser *p)
{
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->freed);
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	for (size_t i = 0; i < AHEAD; i++)
		if (p->slots[i].ready)
			ctgov_item_release(&p->slots[i].item);
	for (size_t i = 0; i < p->nrecycled; i++)
		json_decref(p->recycled[i]);
	free(p->recycled);
	pthread_cond_destroy(&p->freed);
	pthread_cond_destroy(&p->parsed);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
