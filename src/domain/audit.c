#include "domain/audit.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "domain/actor.h"
#include "util/buf.h"
#include "util/date.h"
#include "util/hash.h"
#include "util/json.h"

#define GENESIS_HASH "0000000000000000000000000000000000000000000000000000000000000000"

struct event {
	int64_t seq, at, actor_id, entity_id;
	const char *actor_name, *entity, *action, *changes, *reason, *prev_hash;
};

/* Writes v in decimal at p (at least 21 bytes); answers the length. */
static size_t format_int(char *p, int64_t v)
{
	char digits[20];
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	size_t n = 0, len = 0;

	do {
		digits[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		p[len++] = '-';
	while (n)
		p[len++] = digits[--n];
	return len;
}

/* "LEN:TEXT;", or "-;" for NULL, at p; answers the bytes written. With p
 * NULL only counts them. */
static size_t put_field(char *p, const char *s)
{
	char prefix[24];
	size_t len, n;

	if (!s) {
		if (p)
			memcpy(p, "-;", 2);
		return 2;
	}
	len = strlen(s);
	n = format_int(prefix, (int64_t)len);
	prefix[n++] = ':';
	if (p) {
		memcpy(p, prefix, n);
		memcpy(p + n, s, len);
		p[n + len] = ';';
	}
	return n + len + 1;
}

static size_t put_int(char *p, int64_t v)
{
	char s[24];
	s[format_int(s, v)] = '\0';
	return put_field(p, s);
}

/* The hashed form: each column length-prefixed, so no value can imitate a
 * separator and the form does not depend on any serialiser's whims. It is
 * measured first and written into one allocation: this runs for every
 * event written and every event verified. */
static void event_hash(const struct event *ev, char out[SHA256_HEX_LEN])
{
	char small[2048], *form = NULL;

	for (int pass = 0; pass < 2; pass++) {
		size_t n = 0;
		n += put_field(form ? form + n : NULL, ev->prev_hash);
		n += put_int(form ? form + n : NULL, ev->seq);
		n += put_int(form ? form + n : NULL, ev->at);
		n += put_int(form ? form + n : NULL, ev->actor_id);
		n += put_field(form ? form + n : NULL, ev->actor_name);
		n += put_field(form ? form + n : NULL, ev->entity);
		n += put_int(form ? form + n : NULL, ev->entity_id);
		n += put_field(form ? form + n : NULL, ev->action);
		n += put_field(form ? form + n : NULL, ev->changes);
		n += put_field(form ? form + n : NULL, ev->reason);
		if (form)
			sha256_hex(form, n, out);
		else /* most events fit on the stack */
			form = n <= sizeof(small) ? small : xmalloc(n);
	}
	if (form != small)
		free(form);
}

/* Canonical JSON written directly: byte for byte the text json_canonical
 * makes (keys sorted by their bytes, compact, only '"', '\\' and control
 * characters escaped, integers in decimal). jansson's own dump guards every
 * array and object against cycles with a hashtable keyed by the printed
 * pointer, which made it a tenth of the cost of a record write. Answers
 * false for a value it does not write (nesting past 32 levels); the caller
 * then uses json_canonical. */
struct out {
	char *p;
	size_t len, cap;
};

static void out_grow(struct out *o, size_t n)
{
	o->cap = o->cap * 2 > o->len + n + 1 ? o->cap * 2 : o->len + n + 1;
	o->p = xrealloc(o->p, o->cap);
}

/* The appends are inline: the text is written a few bytes at a time. */
static inline void out_add(struct out *o, const char *s, size_t n)
{
	if (o->cap - o->len <= n)
		out_grow(o, n);
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static inline void out_putc(struct out *o, char c)
{
	if (o->cap - o->len <= 1)
		out_grow(o, 1);
	o->p[o->len++] = c;
}

static bool put_json(struct out *o, const json_t *v, int depth);

static void put_json_string(struct out *o, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t from = 0;

	out_putc(o, '"');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		out_add(o, s + from, i - from);
		switch (c) {
		case '"': out_add(o, "\\\"", 2); break;
		case '\\': out_add(o, "\\\\", 2); break;
		case '\b': out_add(o, "\\b", 2); break;
		case '\f': out_add(o, "\\f", 2); break;
		case '\n': out_add(o, "\\n", 2); break;
		case '\r': out_add(o, "\\r", 2); break;
		case '\t': out_add(o, "\\t", 2); break;
		default: {
			char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			out_add(o, esc, sizeof(esc));
			break;
		}
		}
		from = i + 1;
	}
	out_add(o, s + from, len - from);
	out_putc(o, '"');
}

struct json_key {
	const char *key;
	size_t len;
	const json_t *value;
};

/* jansson's order: bytes, then the shorter key first. */
static int compare_keys(const void *a, const void *b)
{
	const struct json_key *x = a, *y = b;
	int rc = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);
	return rc ? rc : (x->len > y->len) - (x->len < y->len);
}

/* The same order for the few keys of a change ({"field","new","old"}):
 * an insertion sort, without qsort's indirect calls and merge buffer. */
static void sort_few_keys(struct json_key *keys, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct json_key k = keys[i];
		size_t j = i;
		while (j > 0 && compare_keys(&keys[j - 1], &k) > 0) {
			keys[j] = keys[j - 1];
			j--;
		}
		keys[j] = k;
	}
}

static bool put_json_object(struct out *o, const json_t *v, int depth)
{
	struct json_key few[8], *keys = few;
	size_t n = json_object_size(v), i = 0;
	bool ok = true;

	if (n > sizeof(few) / sizeof(*few))
		keys = xmalloc(n * sizeof(*keys));
	for (void *it = json_object_iter((json_t *)v); it && i < n;
	     it = json_object_iter_next((json_t *)v, it)) {
		keys[i].key = json_object_iter_key(it);
		keys[i].len = json_object_iter_key_len(it);
		keys[i++].value = json_object_iter_value(it);
	}
	if (n <= sizeof(few) / sizeof(*few))
		sort_few_keys(keys, n);
	else
		qsort(keys, n, sizeof(*keys), compare_keys);
	out_putc(o, '{');
	for (i = 0; i < n && ok; i++) {
		if (i)
			out_putc(o, ',');
		put_json_string(o, keys[i].key, keys[i].len);
		out_putc(o, ':');
		ok = put_json(o, keys[i].value, depth + 1);
	}
	out_putc(o, '}');
	if (keys != few)
		free(keys);
	return ok;
}

/* A real as json_canonical writes it (jansson, JSON_REAL_PRECISION(15)):
 * "%.15g"; ".0" added when that would read back as an integer; the
 * exponent without a '+' or leading zeros. 0 when it does not fit. */
static size_t format_real(char *out, size_t size, double value)
{
	int n = snprintf(out, size, "%.15g", value);
	size_t len;
	char *start, *end;

	if (n < 0 || (size_t)n >= size)
		return 0;
	len = (size_t)n;
	if (!strchr(out, '.') && !strchr(out, 'e')) {
		if (len + 3 >= size)
			return 0;
		memcpy(out + len, ".0", 3);
		len += 2;
	}
	if ((start = strchr(out, 'e'))) {
		start++;
		end = start + 1;
		if (*start == '-')
			start++;
		while (*end == '0')
			end++;
		if (end != start) {
			memmove(start, end, len - (size_t)(end - out));
			len -= (size_t)(end - start);
			out[len] = '\0';
		}
	}
	return len;
}

static bool put_json(struct out *o, const json_t *v, int depth)
{
	char digits[40];
	size_t n;

	if (depth > 32)
		return false;
	switch (json_typeof(v)) {
	case JSON_NULL:
		out_add(o, "null", 4);
		return true;
	case JSON_TRUE:
		out_add(o, "true", 4);
		return true;
	case JSON_FALSE:
		out_add(o, "false", 5);
		return true;
	case JSON_INTEGER:
		out_add(o, digits, format_int(digits, json_integer_value(v)));
		return true;
	case JSON_REAL:
		if (!isfinite(json_real_value(v)) ||
		    !(n = format_real(digits, sizeof(digits), json_real_value(v))))
			return false;
		out_add(o, digits, n);
		return true;
	case JSON_STRING:
		put_json_string(o, json_string_value(v), json_string_length(v));
		return true;
	case JSON_ARRAY:
		out_putc(o, '[');
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i)
				out_putc(o, ',');
			if (!put_json(o, json_array_get(v, i), depth + 1))
				return false;
		}
		out_putc(o, ']');
		return true;
	case JSON_OBJECT:
		return put_json_object(o, v, depth);
	default:
		return false;
	}
}

static char *changes_canonical(const json_t *changes)
{
	struct out o = {xmalloc(512), 0, 512};

	if (put_json(&o, changes, 0)) {
		o.p[o.len] = '\0';
		return o.p;
	}
	free(o.p);
	return json_canonical(changes);
}

/* The chain head of a bulk write (audit_batch_begin): while batch.db is
 * set, audit_append on that connection takes the previous event's seq and
 * hash from here instead of reading audit_head, and leaves the row to
 * audit_batch_end. One per thread: a connection is used by one thread at a
 * time. */
static _Thread_local struct {
	struct db *db;
	int64_t seq;
	char hash[SHA256_HEX_LEN];
	bool moved; /* an event was appended since audit_batch_begin */
} batch;

/* The head as stored: seq 0 and the genesis hash for an empty chain. */
static int read_head(struct db *db, int64_t *seq, char hash[SHA256_HEX_LEN])
{
	struct db_stmt *st;
	int rc = db_prepare(db, "SELECT seq, hash FROM audit_head WHERE one = 1", &st);

	*seq = 0;
	snprintf(hash, SHA256_HEX_LEN, "%s", GENESIS_HASH);
	if (rc)
		return rc;
	rc = db_step(st);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		*seq = db_column_int(st, 0);
		snprintf(hash, SHA256_HEX_LEN, "%s", db_column_text(st, 1));
		db_done(st);
	}
	return 0;
}

static int write_head(struct db *db, int64_t seq, const char *hash)
{
	struct db_stmt *st;
	int rc = db_prepare(db,
			    "INSERT INTO audit_head (one, seq, hash) VALUES (1, $1, $2)"
			    " ON CONFLICT (one) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
			    &st);
	if (rc)
		return rc;
	db_bind_int(st, 1, seq);
	db_bind_text(st, 2, hash);
	rc = db_step(st);
	return rc < 0 ? rc : 0;
}

int audit_batch_begin(struct db *db, struct err *e)
{
	int rc;

	if (!db_in_transaction(db))
		return err_set(e, CTMS_EDB, "an audit batch runs inside one write transaction");
	if (batch.db)
		return err_set(e, CTMS_EDB, "an audit batch is already open on this thread");
	rc = read_head(db, &batch.seq, batch.hash);
	if (rc)
		return err_set(e, rc, "cannot read the audit chain head: %s", db_errmsg(db));
	batch.db = db;
	batch.moved = false;
	return 0;
}

int audit_batch_end(struct db *db, bool keep, struct err *e)
{
	int rc = 0;

	if (batch.db != db)
		return err_set(e, CTMS_EDB, "no audit batch is open on this connection");
	batch.db = NULL;
	if (!keep || !batch.moved)
		return 0;
	if (!db_in_transaction(db))
		return err_set(e, CTMS_EDB, "an audit batch ends inside its write transaction");
	rc = write_head(db, batch.seq, batch.hash);
	if (rc)
		return err_set(e, rc, "cannot move the audit chain head: %s", db_errmsg(db));
	return 0;
}

void audit_change(json_t *changes, const char *field, const json_t *old_value,
		  const json_t *new_value)
{
	json_t *o = json_object();
	/* The keys are these literals: no UTF-8 check needed. */
	json_object_set_new_nocheck(o, "field", json_string(field));
	json_object_set_nocheck(o, "old", old_value ? (json_t *)old_value : json_null());
	json_object_set_nocheck(o, "new", new_value ? (json_t *)new_value : json_null());
	json_array_append_new(changes, o);
}

int audit_append(struct db *db, const struct actor *a, const char *entity, int64_t entity_id,
		 const char *action, const json_t *changes, const char *reason, struct err *e)
{
	struct db_stmt *st;
	struct event ev = {0};
	char prev[SHA256_HEX_LEN];
	char hash[SHA256_HEX_LEN];
	char *changes_text = NULL;
	bool batched = batch.db == db;
	int rc;

	if (!db_in_transaction(db))
		return err_set(e, CTMS_EDB, "audit events are written inside the change's transaction");
	if (batched) {
		ev.seq = batch.seq;
		memcpy(prev, batch.hash, sizeof(prev));
	} else if ((rc = read_head(db, &ev.seq, prev))) {
		goto fail;
	}
	ev.seq += 1;
	ev.at = now_us();
	ev.actor_id = a->id;
	ev.actor_name = a->name;
	ev.entity = entity;
	ev.entity_id = entity_id;
	ev.action = action;
	changes_text = changes_canonical(changes);
	ev.changes = changes_text;
	ev.reason = reason && reason[0] ? reason : NULL;
	ev.prev_hash = prev;
	event_hash(&ev, hash);

	rc = db_prepare(db,
			"INSERT INTO audit_event (seq, at, actor_id, actor_name, entity, entity_id, action,"
			" changes, reason, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
			&st);
	if (rc)
		goto fail;
	db_bind_int(st, 1, ev.seq);
	db_bind_int(st, 2, ev.at);
	db_bind_int(st, 3, ev.actor_id);
	db_bind_text(st, 4, ev.actor_name);
	db_bind_text(st, 5, ev.entity);
	db_bind_int(st, 6, ev.entity_id);
	db_bind_text(st, 7, ev.action);
	db_bind_text(st, 8, ev.changes);
	db_bind_text(st, 9, ev.reason);
	db_bind_text(st, 10, ev.prev_hash);
	db_bind_text(st, 11, hash);
	rc = db_step(st);
	if (rc < 0)
		goto fail;
	if (batched) {
		batch.seq = ev.seq;
		memcpy(batch.hash, hash, sizeof(batch.hash));
		batch.moved = true;
	} else if ((rc = write_head(db, ev.seq, hash))) {
		goto fail;
	}
	free(changes_text);
	return 0;
fail:
	free(changes_text);
	return err_set(e, rc ? rc : CTMS_EDB, "cannot append to the audit trail: %s", db_errmsg(db));
}

int audit_verify(struct db *db, int64_t *count, int64_t *broken, struct err *e)
{
	struct db_stmt *st;
	char prev[SHA256_HEX_LEN] = GENESIS_HASH;
	char hash[SHA256_HEX_LEN];
	int64_t expect_seq = 1, head_seq = 0;
	bool head_present = false;
	char head_hash[SHA256_HEX_LEN] = "";
	int rc;

	*count = 0;
	*broken = 0;
	rc = db_prepare(db, "SELECT seq, hash FROM audit_head WHERE one = 1", &st);
	if (rc)
		return err_set(e, rc, "cannot read the audit chain head: %s", db_errmsg(db));
	if (db_step(st) == 1) {
		head_present = true;
		head_seq = db_column_int(st, 0);
		snprintf(head_hash, sizeof(head_hash), "%s", db_column_text(st, 1));
		db_done(st);
	}
	rc = db_prepare(db,
			"SELECT seq, at, actor_id, actor_name, entity, entity_id, action, changes, reason,"
			" prev_hash, hash FROM audit_event ORDER BY seq",
			&st);
	if (rc)
		return err_set(e, rc, "cannot read the audit trail: %s", db_errmsg(db));
	while ((rc = db_step(st)) == 1) {
		struct event ev = {
			.seq = db_column_int(st, 0),
			.at = db_column_int(st, 1),
			.actor_id = db_column_int(st, 2),
			.actor_name = db_column_text(st, 3),
			.entity = db_column_text(st, 4),
			.entity_id = db_column_int(st, 5),
			.action = db_column_text(st, 6),
			.changes = db_column_text(st, 7),
			.reason = db_column_text(st, 8),
			.prev_hash = db_column_text(st, 9),
		};
		const char *stored = db_column_text(st, 10);
		const char *why = NULL;

		if (ev.seq != expect_seq)
			why = "events are missing before it (sequence gap)";
		else if (!ev.prev_hash || strcmp(ev.prev_hash, prev))
			why = "its previous-hash does not match the event before it";
		else {
			event_hash(&ev, hash);
			if (!stored || strcmp(stored, hash))
				why = "its content does not match its hash (the event was altered)";
		}
		if (why) {
			*broken = ev.seq;
			db_done(st);
			return err_set(e, CTMS_EINTEGRITY, "audit event %lld is broken: %s", (long long)ev.seq,
				       why);
		}
		snprintf(prev, sizeof(prev), "%s", stored);
		expect_seq++;
		(*count)++;
	}
	if (rc < 0)
		return err_set(e, rc, "cannot read the audit trail: %s", db_errmsg(db));
	if (head_seq > *count) {
		*broken = *count + 1;
		return err_set(e, CTMS_EINTEGRITY,
			       "audit event %lld is broken: the chain head records %lld events but only "
			       "%lld remain (events were deleted from the end)",
			       (long long)(*count + 1), (long long)head_seq, (long long)*count);
	}
	if (head_seq < *count || (head_seq && strcmp(head_hash, prev))) {
		/* Either events after the head were added behind the application's
		 * back, or the last events were removed and the head rewritten to
		 * hide it: the first event that cannot be vouched for is named. */
		*broken = head_present && head_seq < *count ? head_seq + 1 : *count + 1;
		return err_set(e, CTMS_EINTEGRITY,
			       "audit event %lld is broken: the chain head (seq %lld) does not match the "
			       "last event (seq %lld): the head was altered, or events were added or "
			       "removed behind the application's back",
			       (long long)*broken, (long long)head_seq, (long long)*count);
	}
	return 0;
}

int audit_list(struct db *db, const struct audit_query *q, json_t **items, int64_t *next_seq,
	       struct err *e)
{
	struct db_stmt *st;
	struct buf sql;
	int rc, n = 0, p = 1;
	int limit = q->limit > 0 ? q->limit : 100;

	*items = json_array();
	*next_seq = 0;
	/* Only the filters given, so each query uses its index. */
	buf_init(&sql, 1024);
	buf_puts(&sql, "SELECT seq, at, actor_id, actor_name, entity, entity_id, action, changes, reason,"
		       " hash FROM audit_event WHERE seq > $1");
	if (q->entity)
		buf_printf(&sql, " AND entity = $%d", ++p);
	if (q->entity_id)
		buf_printf(&sql, " AND entity_id = $%d", ++p);
	if (q->by_actor)
		buf_printf(&sql, " AND actor_id = $%d", ++p);
	if (q->from_us)
		buf_printf(&sql, " AND at >= $%d", ++p);
	if (q->to_us)
		buf_printf(&sql, " AND at <= $%d", ++p);
	buf_printf(&sql, " ORDER BY seq LIMIT $%d", ++p);
	rc = db_prepare(db, sql.ptr, &st);
	buf_release(&sql);
	if (rc)
		return err_set(e, rc, "cannot read the audit trail: %s", db_errmsg(db));
	p = 1;
	db_bind_int(st, p, q->after_seq);
	if (q->entity)
		db_bind_text(st, ++p, q->entity);
	if (q->entity_id)
		db_bind_int(st, ++p, q->entity_id);
	if (q->by_actor)
		db_bind_int(st, ++p, q->actor_id);
	if (q->from_us)
		db_bind_int(st, ++p, q->from_us);
	if (q->to_us)
		db_bind_int(st, ++p, q->to_us);
	db_bind_int(st, ++p, limit + 1);
	while ((rc = db_step(st)) == 1) {
		char ts[TIMESTAMP_LEN];
		if (++n > limit) {
			db_done(st);
			break;
		}
		timestamp_format(db_column_int(st, 1), ts);
		json_t *changes = json_loads(db_column_text(st, 7), 0, NULL);
		const char *reason = db_column_text(st, 8);
		json_t *ev = json_object();
		json_object_set_new(ev, "seq", json_integer(db_column_int(st, 0)));
		json_object_set_new(ev, "at", json_string(ts));
		json_object_set_new(ev, "actor_id", json_integer(db_column_int(st, 2)));
		json_object_set_new(ev, "actor", json_string(db_column_text(st, 3)));
		json_object_set_new(ev, "entity", json_string(db_column_text(st, 4)));
		json_object_set_new(ev, "entity_id", json_integer(db_column_int(st, 5)));
		json_object_set_new(ev, "action", json_string(db_column_text(st, 6)));
		json_object_set_new(ev, "changes", changes ? changes : json_array());
		json_object_set_new(ev, "reason", reason ? json_string(reason) : json_null());
		json_object_set_new(ev, "hash", json_string(db_column_text(st, 9)));
		*next_seq = db_column_int(st, 0);
		json_array_append_new(*items, ev);
	}
	if (rc < 0) {
		json_decref(*items);
		*items = NULL;
		return err_set(e, rc, "cannot read the audit trail: %s", db_errmsg(db));
	}
	if (n <= limit)
		*next_seq = 0;
	return 0;
}
