/* Records: the one write path every domain module goes through.
 *
 * A domain module describes its record once (struct entity_def: table,
 * fields with their types and rules, an optional lifecycle) and adds hooks
 * for the rules that span fields or records. This module then does, for
 * every kind of record alike: validate input field by field (unknown fields,
 * wrong types, lengths, codes, dates), apply the lifecycle's state machine,
 * check If-Match versions, write the row, and append the audit event with
 * each changed field, all in one transaction. Nothing is written when any
 * check fails.
 *
 * Records travel as JSON objects (jansson): {"id", "version", "created_at",
 * "updated_at", fields...}. Functions that return a record give the caller
 * a new reference in *out; the writers (record_create, record_update,
 * record_transition) take out NULL from a caller that does not need the
 * record back, and then skip reading it. */
#ifndef CTMS_RECORD_H
#define CTMS_RECORD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;
struct err;
struct actor;

enum field_type {
	FT_TEXT,  /* UTF-8 string; min/max are lengths in bytes */
	FT_INT,   /* 64-bit integer; min/max are the range */
	FT_DATE,  /* calendar date YYYY-MM-DD */
	FT_ENUM,  /* one of codes[] */
	FT_REF,   /* id of a row in ref_table */
	FT_BOOL,
	FT_TIMEZONE, /* IANA time zone name known to the system tz database */
	FT_REAL,  /* a number; min/max are the range; stored as its decimal text */
	FT_LIST,  /* JSON array of up to max items, each of the rules of item;
		   * stored as its canonical JSON text */
	FT_OBJECT, /* JSON object with members[] only (as a list item) */
};

enum field_flag {
	F_REQUIRED = 1 << 0,  /* must be given at creation */
	F_IMMUTABLE = 1 << 1, /* may be given at creation, never changed by update */
	F_SERVER = 1 << 2,    /* set by ctms only (status, lifecycle dates, parent) */
	F_VIRTUAL = 1 << 3,   /* accepted in input, resolved by the prepare hook, not a column */
	F_UNIQUE = 1 << 4,    /* unique within the parent (or globally for roots) */
	F_FILTER = 1 << 5,    /* lists may be filtered by it (?name=value) */
	F_BLINDED = 1 << 6,   /* shown to and set by unblinded roles only (the arm) */
};

struct field_def {
	const char *name;
	enum field_type type;
	unsigned flags;
	int64_t min, max;
	const char *const *codes; /* FT_ENUM: NULL-terminated list */
	const char *ref_table;    /* FT_REF */
	const char *hint;         /* FT_ENUM: what to say instead of listing codes */
	const struct field_def *item;    /* FT_LIST: the rules of each item */
	const struct field_def *members; /* FT_OBJECT: its members' rules */
	size_t nmembers;
};

struct state_def {
	const char *name;
	const char *const *next; /* NULL-terminated states reachable from here */
	bool reason_required;    /* entering this state needs a reason */
	const char *reason_field; /* field the reason is also stored in, or NULL */
};

/* A lifecycle: the record's `status` field moves along states; entering a
 * state records its date in the field "<state>_on". Dates never go
 * backwards and never lie in the future. */
struct state_machine {
	const struct state_def *states;
	size_t nstates;
};

struct entity_def {
	const char *name;         /* in the audit trail and messages: "study" */
	const char *table;        /* "studies" */
	const char *parent_field; /* "study_id" for records owned by a study */
	const char *parent_table;
	const struct entity_def *parent_def; /* its access rules decide who sees the parent */
	const struct field_def *fields;
	size_t nfields;
	const struct state_machine *sm;
	/* Extra read-only columns joined for output, e.g. a study-site's
	 * institution name: join is appended after "FROM <table> t", columns
	 * after the record's own. */
	const char *join;
	const char *join_columns;

	/* At creation, after field validation: resolve virtual fields into
	 * columns, set defaults, check the parent's state. values holds the
	 * input fields plus the parent id. */
	int (*prepare)(struct db *db, const struct actor *a, json_t *values, struct err *e);
	/* Rules across fields, on create (old NULL) and update; rec is the
	 * record as it would be written. */
	int (*check)(struct db *db, const json_t *old, const json_t *rec, struct err *e);
	/* Before a transition is written: may refuse it (the rec shows the new
	 * status and date) or change other records (audited, same transaction). */
	int (*on_transition)(struct db *db, const struct actor *a, const json_t *old, json_t *rec,
			     struct err *e);
	/* Adds derived fields to a record for output. */
	void (*render)(struct db *db, json_t *rec);
};

struct list_filter {
	const char *field;
	const char *value;
};

struct list_query {
	int64_t parent_id;  /* 0 for root records or "all" */
	int64_t after_id;   /* cursor */
	int limit;          /* 1..1000; default 50 */
	const struct list_filter *filters;
	size_t nfilters;
};

struct transition {
	const char *to;
	const char *on;     /* YYYY-MM-DD */
	const char *reason; /* may be NULL */
};

/* Shorthands for field tables. */
#define FIELD_TEXT(n, fl, mx) {.name = (n), .type = FT_TEXT, .flags = (fl), .max = (mx)}
#define FIELD_INT(n, fl, lo, hi) {.name = (n), .type = FT_INT, .flags = (fl), .min = (lo), .max = (hi)}
#define FIELD_DATE(n, fl) {.name = (n), .type = FT_DATE, .flags = (fl)}
#define FIELD_ENUM(n, fl, c) {.name = (n), .type = FT_ENUM, .flags = (fl), .codes = (c)}
#define FIELD_REAL(n, fl, lo, hi) {.name = (n), .type = FT_REAL, .flags = (fl), .min = (lo), .max = (hi)}
#define FIELD_LIST(n, fl, count, it) {.name = (n), .type = FT_LIST, .flags = (fl), .max = (count), .item = (it)}
#define FIELD_REF(n, fl, t) {.name = (n), .type = FT_REF, .flags = (fl), .ref_table = (t)}
#define FIELD_COUNTRY(n, fl) \
	{.name = (n), .type = FT_ENUM, .flags = (fl), .codes = country_codes, \
	 .hint = "an ISO 3166-1 alpha-2 country code such as US or DE"}
#define FIELD_STATUS(c) {.name = "status", .type = FT_ENUM, .flags = F_SERVER | F_FILTER, .codes = (c)}
#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

const struct field_def *record_field(const struct entity_def *def, const char *name);

/* 0 when the parent record parent_id of a child kind exists and the actor
 * may see it, else CTMS_ENOTFOUND naming it ("study 7 was not found"). */
int record_parent_exists(struct db *db, const struct actor *a, const struct entity_def *def,
			 int64_t parent_id, struct err *e);

int record_create(struct db *db, const struct actor *a, const struct entity_def *def,
		  int64_t parent_id, const json_t *input, json_t **out, struct err *e);
/* As record_create, with reason as the reason of the creation's audit event
 * (NULL for none): an importer's note of where the record came from. */
int record_create_noted(struct db *db, const struct actor *a, const struct entity_def *def,
			int64_t parent_id, const json_t *input, const char *reason, json_t **out,
			struct err *e);
/* As record_create, answering only the new record's id in *id: the record
 * is not read back. */
int record_create_id(struct db *db, const struct actor *a, const struct entity_def *def,
		     int64_t parent_id, const json_t *input, int64_t *id, struct err *e);
/* Every record of def under parent_id (0: all) that the actor may see, in
 * id order, as a new array in *out (all pages of record_list). */
int record_list_all(struct db *db, const struct actor *a, const struct entity_def *def,
		    int64_t parent_id, json_t **out, struct err *e);
/* Every record of def under parent_id (0: all) that the actor may see, as
 * {value of key_field: record} in *out (a new object; records without the
 * key are left out): what an importer compares its input with. */
int record_index(struct db *db, const struct actor *a, const struct entity_def *def,
		 int64_t parent_id, const char *key_field, json_t **out, struct err *e);
/* Reads and lists answer only what the actor may see (access.h): a record
 * out of its scope is CTMS_ENOTFOUND, a list leaves it out, and blinded
 * fields are absent for blinded roles. */
int record_get(struct db *db, const struct actor *a, const struct entity_def *def, int64_t id,
	       json_t **out, struct err *e);
/* As record_get, but answers CTMS_ENOTFOUND when the record's parent is not
 * parent_id (a child reached through the wrong parent). */
int record_get_child(struct db *db, const struct actor *a, const struct entity_def *def,
		     int64_t parent_id, int64_t id, json_t **out, struct err *e);
/* *items is a new array; *next_after is the id to continue after, or 0. */
int record_list(struct db *db, const struct actor *a, const struct entity_def *def,
		const struct list_query *q, json_t **items, int64_t *next_after, struct err *e);
/* The id of the first record (lowest id) of def that matches every filter
 * (filter fields, as in record_list) and that the actor may read, in *id;
 * 0 when none does (not an error). Nothing is read but the id: for a
 * writer that looks a record up by a unique value. */
int record_find(struct db *db, const struct actor *a, const struct entity_def *def,
		const struct list_filter *filters, size_t nfilters, int64_t *id, struct err *e);
/* As record_get, but the record as stored: without the derived fields of
 * the render hook and without signatures (blinded fields are still left
 * out for blinded roles). For a writer comparing a record with its input. */
int record_read(struct db *db, const struct actor *a, const struct entity_def *def, int64_t id,
		json_t **out, struct err *e);
/* Applies patch (fields to change; "change_reason" is the audit reason).
 * if_match must equal the stored version, else CTMS_ESTALE with the
 * current record in *out. A patch that changes nothing writes nothing. */
int record_update(struct db *db, const struct actor *a, const struct entity_def *def, int64_t id,
		  int64_t if_match, const json_t *patch, json_t **out, struct err *e);
/* Moves a record along its lifecycle. if_match 0 means "any version". */
int record_transition(struct db *db, const struct actor *a, const struct entity_def *def,
		      int64_t id, int64_t if_match, const struct transition *t, json_t **out,
		      struct err *e);

/* For hooks: a raw update of some fields of another record, bumping its
 * version and auditing each change with the given action and reason. */
int record_apply(struct db *db, const struct actor *a, const struct entity_def *def,
		 const json_t *old, const json_t *changes, const char *action, const char *reason,
		 struct err *e);

/* Checks a value against a field definition; the message names the field. */
int field_validate(const struct field_def *f, const json_t *v, struct err *e);

#endif
