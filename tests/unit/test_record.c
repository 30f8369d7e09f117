/* The record engine (src/domain/record.c): validation, writes with their
 * audit events, If-Match, lifecycle input and lists. Most tests use a small
 * record kind defined here ("gadget", with a field of every type) so they
 * depend on the engine alone; a few use studies for lifecycles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "db/db.h"
#include "domain/actor.h"
#include "domain/audit.h"
#include "domain/organisation.h"
#include "domain/protocol_version.h"
#include "domain/study.h"
#include "support.h"
#include "util/buf.h"
#include "util/json.h"

static const char *const gadget_kinds[] = {"small", "large", NULL};

static const struct field_def gadget_fields[] = {
	FIELD_TEXT("code", F_REQUIRED | F_IMMUTABLE | F_UNIQUE | F_FILTER, 8),
	FIELD_TEXT("label", 0, 0), /* the default maximum length */
	FIELD_INT("size", F_FILTER, 1, 100),
	{.name = "active", .type = FT_BOOL, .flags = F_FILTER},
	FIELD_DATE("made_on", 0),
	FIELD_ENUM("kind", F_REQUIRED | F_FILTER, gadget_kinds),
	FIELD_REF("owner_id", 0, "organisations"),
	{.name = "zone", .type = FT_TIMEZONE},
	FIELD_TEXT("stamp", F_SERVER, 20),
};

static const struct entity_def gadget_def = {
	.name = "gadget",
	.table = "gadgets",
	.fields = gadget_fields,
	.nfields = NELEMS(gadget_fields),
};

static int setup(void **state)
{
	struct err e = {0};
	int rc = test_db_setup(state);
	if (rc)
		return rc;
	rc = db_exec(*state,
		     "CREATE TABLE gadgets (id INTEGER PRIMARY KEY, version INTEGER NOT NULL DEFAULT 1,"
		     " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, code TEXT NOT NULL,"
		     " label TEXT, size INTEGER, active INTEGER, made_on TEXT, kind TEXT NOT NULL,"
		     " owner_id INTEGER REFERENCES organisations(id), zone TEXT, stamp TEXT)",
		     &e);
	err_release(&e);
	return rc;
}

static int64_t gadget_rows(struct db *db)
{
	int64_t n = -1;
	assert_int_equal(db_query_int(db, "SELECT count(*) FROM gadgets", &n, 0), 0);
	return n;
}

static json_t *create_gadget(struct db *db, json_t *input)
{
	struct err e = {0};
	json_t *rec = NULL;
	int rc;

	assert_non_null(input);
	rc = record_create(db, actor_system(), &gadget_def, 0, input, &rec, &e);
	test_expect_ok(rc, &e, "creating a gadget");
	json_decref(input);
	err_release(&e);
	return rec;
}

static int64_t organisation(struct db *db, const char *name)
{
	struct err e = {0};
	json_t *rec = NULL, *in = json_pack("{s:s, s:s}", "name", name, "kind", "sponsor");
	int rc = record_create(db, actor_system(), &organisation_def, 0, in, &rec, &e);
	int64_t id;

	test_expect_ok(rc, &e, "creating an organisation");
	id = json_int(rec, "id", 0);
	json_decref(rec);
	json_decref(in);
	err_release(&e);
	return id;
}

static void field_validation_per_type(void **state)
{
	char long_text[2002];
	static const struct {
		const char *field, *value; /* value as JSON text; NULL: see below */
		bool ok;
	} cases[] = {
		{"code", "\"ABC\"", true},
		{"code", "\"ABCDEFGH\"", true},
		{"code", "\"ABCDEFGHI\"", false},
		{"code", "\"\"", false},
		{"code", "\" AB\"", false},
		{"code", "\"AB \"", false},
		{"code", "\"A\\u0001B\"", false},
		{"code", "\"A\\u001bB\"", false},
		{"code", "\"A\\tB\"", true},
		{"code", "123", false},
		{"code", "null", false},
		{"code", "[\"A\"]", false},
		{"label", "\"\"", true},
		{"label", "null", true},
		{"label", "\"two\\nlines\"", true},
		{"label", "\"caf\\u00e9\"", true},
		{"label", "\"carriage\\rreturn\"", false},
		{"size", "1", true},
		{"size", "100", true},
		{"size", "0", false},
		{"size", "101", false},
		{"size", "-5", false},
		{"size", "1.5", false},
		{"size", "2.0", false},
		{"size", "\"5\"", false},
		{"size", "true", false},
		{"size", "null", true},
		{"active", "true", true},
		{"active", "false", true},
		{"active", "1", false},
		{"active", "\"true\"", false},
		{"made_on", "\"2024-02-29\"", true},
		{"made_on", "\"2023-02-29\"", false},
		{"made_on", "\"2024-1-1\"", false},
		{"made_on", "\"2024-01-01T00:00:00Z\"", false},
		{"made_on", "20240101", false},
		{"kind", "\"small\"", true},
		{"kind", "\"SMALL\"", false},
		{"kind", "\"medium\"", false},
		{"kind", "1", false},
		{"kind", "null", false},
		{"owner_id", "1", true},
		{"owner_id", "0", false},
		{"owner_id", "-1", false},
		{"owner_id", "\"1\"", false},
		{"owner_id", "1.0", false},
		{"zone", "\"Europe/Paris\"", true},
		{"zone", "\"Mars/Olympus_Mons\"", false},
		{"zone", "\"../../etc/passwd\"", false},
		{"zone", "7", false},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct err e = {0};
		json_t *v = json_loads(cases[i].value, JSON_DECODE_ANY, NULL);
		const struct field_def *f = record_field(&gadget_def, cases[i].field);
		int rc;

		assert_non_null(v);
		assert_non_null(f);
		rc = field_validate(f, v, &e);
		if ((rc == 0) != cases[i].ok)
			fail_msg("%s = %s: %s", cases[i].field, cases[i].value,
				 rc ? "refused" : "accepted");
		if (!cases[i].ok) {
			assert_int_equal(rc, CTMS_EINVAL);
			assert_true(test_err_names(&e, cases[i].field));
		}
		json_decref(v);
		err_release(&e);
	}

	/* lengths: the default maximum is 2000 bytes */
	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[2000] = '\0';
	{
		struct err e = {0};
		json_t *v = json_string(long_text);
		assert_int_equal(field_validate(record_field(&gadget_def, "label"), v, &e), 0);
		json_decref(v);
		long_text[2000] = 'x';
		long_text[2001] = '\0';
		v = json_string(long_text);
		assert_int_equal(field_validate(record_field(&gadget_def, "label"), v, &e), CTMS_EINVAL);
		assert_true(test_err_names(&e, "label"));
		json_decref(v);
		err_release(&e);
	}
	/* a NUL inside a string */
	{
		struct err e = {0};
		json_t *v = json_stringn("A\0B", 3);
		assert_int_equal(field_validate(record_field(&gadget_def, "code"), v, &e), CTMS_EINVAL);
		json_decref(v);
		err_release(&e);
	}
}


/* The last audit event, as audit_list gives it (new reference). */
static json_t *last_event(struct db *db)
{
	struct audit_query q = {.limit = 1000};
	struct err e = {0};
	json_t *items = NULL, *ev;
	int64_t next;

	assert_int_equal(audit_list(db, &q, &items, &next, &e), 0);
	assert_true(json_array_size(items) > 0);
	ev = json_incref(json_array_get(items, json_array_size(items) - 1));
	json_decref(items);
	err_release(&e);
	return ev;
}

static void create_stores_the_record_and_its_audit_event(void **state)
{
	struct db *db = *state;
	int64_t org = organisation(db, "Acme Devices");
	int64_t before = test_audit_count(db);
	json_t *input = json_pack("{s:s, s:s, s:i, s:b, s:s, s:s, s:I, s:s, s:n}", "code", "G-1",
				  "label", "first", "size", 5, "active", 1, "made_on", "2024-05-01",
				  "kind", "small", "owner_id", (json_int_t)org, "zone", "Asia/Tokyo",
				  "stamp");
	json_t *rec, *again = NULL, *ev, *changes;
	struct err e = {0};

	/* stamp is server-set even as null */
	assert_int_equal(record_create(db, actor_system(), &gadget_def, 0, input, &rec, &e),
			 CTMS_EINVAL);
	assert_true(test_err_names(&e, "stamp"));
	assert_null(rec);
	err_release(&e);
	json_object_del(input, "stamp");

	rec = create_gadget(db, input);
	assert_true(json_int(rec, "id", 0) > 0);
	assert_int_equal(json_int(rec, "version", 0), 1);
	assert_string_equal(json_str(rec, "code"), "G-1");
	assert_string_equal(json_str(rec, "label"), "first");
	assert_int_equal(json_int(rec, "size", 0), 5);
	assert_true(json_is_true(json_object_get(rec, "active")));
	assert_string_equal(json_str(rec, "made_on"), "2024-05-01");
	assert_int_equal(json_int(rec, "owner_id", 0), org);
	assert_string_equal(json_str(rec, "zone"), "Asia/Tokyo");
	assert_true(json_is_null(json_object_get(rec, "stamp")));
	assert_int_equal(strlen(json_str(rec, "created_at")), TIMESTAMP_LEN - 1);
	assert_string_equal(json_str(rec, "created_at"), json_str(rec, "updated_at"));

	assert_int_equal(record_get(db, actor_system(), &gadget_def, json_int(rec, "id", 0), &again, &e), 0);
	assert_true(json_equal(rec, again));

	/* one event, listing each given field from null */
	assert_int_equal(test_audit_count(db), before + 1);
	ev = last_event(db);
	assert_string_equal(json_str(ev, "entity"), "gadget");
	assert_int_equal(json_int(ev, "entity_id", 0), json_int(rec, "id", 0));
	assert_string_equal(json_str(ev, "action"), "create");
	assert_string_equal(json_str(ev, "actor"), "system");
	changes = json_object_get(ev, "changes");
	assert_int_equal(json_array_size(changes), 8);
	for (size_t i = 0; i < json_array_size(changes); i++) {
		json_t *c = json_array_get(changes, i);
		const char *field = json_str(c, "field");
		assert_true(json_is_null(json_object_get(c, "old")));
		assert_true(json_equal(json_object_get(c, "new"), json_object_get(rec, field)));
	}
	json_decref(ev);
	json_decref(again);
	json_decref(rec);
	err_release(&e);
}

static void create_refuses_bad_input_and_writes_nothing(void **state)
{
	static const struct {
		const char *input;
		int code;
		const char *fields[3];
	} cases[] = {
		{"{\"code\":\"G\",\"kind\":\"small\",\"colour\":\"red\"}", CTMS_EINVAL, {"colour"}},
		{"{\"kind\":\"small\"}", CTMS_EINVAL, {"code"}},
		{"{}", CTMS_EINVAL, {"code", "kind"}},
		{"{\"code\":\"G\",\"kind\":\"small\",\"stamp\":\"x\"}", CTMS_EINVAL, {"stamp"}},
		{"{\"code\":\"G\",\"kind\":\"small\",\"id\":5}", CTMS_EINVAL, {"id"}},
		{"{\"code\":\"G\",\"kind\":\"small\",\"version\":1}", CTMS_EINVAL, {"version"}},
		{"{\"code\":\"G\",\"kind\":\"small\",\"created_at\":\"2024-01-01\"}", CTMS_EINVAL,
		 {"created_at"}},
		{"{\"code\":\"G\",\"kind\":\"small\",\"change_reason\":\"x\"}", CTMS_EINVAL,
		 {"change_reason"}},
		{"{\"code\":1,\"kind\":\"small\",\"size\":\"big\"}", CTMS_EINVAL, {"code", "size"}},
		{"{\"code\":\"G\",\"kind\":\"huge\"}", CTMS_EINVAL, {"kind"}},
		{"{\"code\":\"G\",\"kind\":null}", CTMS_EINVAL, {"kind"}},
		{"{\"code\":\"G\",\"kind\":\"small\",\"owner_id\":999}", CTMS_EINVAL, {"owner_id"}},
		{"{\"code\":\"G\",\"kind\":\"small\",\"made_on\":\"2024-02-30\"}", CTMS_EINVAL,
		 {"made_on"}},
		{"{\"code\":\"G\",\"kind\":\"small\",\"zone\":\"Nowhere/City\"}", CTMS_EINVAL, {"zone"}},
		{"{\"code\":\"G\",\"kind\":\"small\",\"active\":\"yes\",\"size\":1000}", CTMS_EINVAL,
		 {"active", "size"}},
		{"[{\"code\":\"G\",\"kind\":\"small\"}]", CTMS_EBADREQ, {NULL}},
		{"\"G\"", CTMS_EBADREQ, {NULL}},
	};
	struct db *db = *state;
	int64_t events = test_audit_count(db);

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct err e = {0};
		json_t *out = (json_t *)1;
		json_t *in = json_loads(cases[i].input, JSON_DECODE_ANY, NULL);
		int rc;

		assert_non_null(in);
		rc = record_create(db, actor_system(), &gadget_def, 0, in, &out, &e);
		if (rc != cases[i].code)
			fail_msg("%s gave %s, expected %s", cases[i].input, err_name(rc),
				 err_name(cases[i].code));
		assert_int_equal(e.code, rc);
		assert_null(out);
		for (int k = 0; k < 3 && cases[i].fields[k]; k++)
			if (!test_err_names(&e, cases[i].fields[k]))
				fail_msg("%s: no message for %s", cases[i].input, cases[i].fields[k]);
		assert_int_equal(gadget_rows(db), 0);
		assert_int_equal(test_audit_count(db), events);
		json_decref(in);
		err_release(&e);
	}
}

static void unique_fields_conflict(void **state)
{
	struct db *db = *state;
	struct err e = {0};
	json_t *out = NULL, *in = json_pack("{s:s, s:s}", "code", "G-1", "kind", "large");
	int64_t events;

	json_decref(create_gadget(db, json_pack("{s:s, s:s}", "code", "G-1", "kind", "small")));
	events = test_audit_count(db);
	assert_int_equal(record_create(db, actor_system(), &gadget_def, 0, in, &out, &e),
			 CTMS_ECONFLICT);
	assert_true(test_err_names(&e, "code"));
	assert_null(out);
	assert_int_equal(gadget_rows(db), 1);
	assert_int_equal(test_audit_count(db), events);
	json_decref(in);
	err_release(&e);
	/* another code is fine */
	json_decref(create_gadget(db, json_pack("{s:s, s:s}", "code", "G-2", "kind", "large")));
	assert_int_equal(gadget_rows(db), 2);
}

static void update_changes_fields_and_audits_each(void **state)
{
	struct db *db = *state;
	json_t *rec = create_gadget(db, json_pack("{s:s, s:s, s:s}", "code", "G-1", "kind", "small",
						 "label", "first"));
	int64_t id = json_int(rec, "id", 0), events = test_audit_count(db);
	json_t *patch = json_pack("{s:s, s:i, s:s}", "label", "second", "size", 7, "change_reason",
				  "typo fixed");
	json_t *out = NULL, *ev, *changes;
	struct err e = {0};

	assert_int_equal(record_update(db, actor_system(), &gadget_def, id, 1, patch, &out, &e), 0);
	assert_int_equal(json_int(out, "version", 0), 2);
	assert_string_equal(json_str(out, "label"), "second");
	assert_int_equal(json_int(out, "size", 0), 7);
	assert_string_equal(json_str(out, "code"), "G-1");
	assert_string_equal(json_str(out, "created_at"), json_str(rec, "created_at"));
	assert_true(strcmp(json_str(out, "updated_at"), json_str(rec, "updated_at")) >= 0);
	assert_null(json_object_get(out, "change_reason"));
	assert_int_equal(test_audit_count(db), events + 1);
	ev = last_event(db);
	assert_string_equal(json_str(ev, "action"), "update");
	assert_string_equal(json_str(ev, "reason"), "typo fixed");
	changes = json_object_get(ev, "changes");
	assert_int_equal(json_array_size(changes), 2);
	assert_string_equal(json_str(json_array_get(changes, 0), "field"), "label");
	assert_string_equal(json_str(json_array_get(changes, 0), "old"), "first");
	assert_string_equal(json_str(json_array_get(changes, 0), "new"), "second");
	assert_string_equal(json_str(json_array_get(changes, 1), "field"), "size");
	assert_true(json_is_null(json_object_get(json_array_get(changes, 1), "old")));
	assert_int_equal(json_int(json_array_get(changes, 1), "new", 0), 7);
	json_decref(ev);
	json_decref(out);
	json_decref(patch);

	/* null clears an optional field */
	patch = json_pack("{s:n}", "label");
	assert_int_equal(record_update(db, actor_system(), &gadget_def, id, 2, patch, &out, &e), 0);
	assert_int_equal(json_int(out, "version", 0), 3);
	assert_true(json_is_null(json_object_get(out, "label")));
	assert_int_equal(test_audit_count(db), events + 2);
	ev = last_event(db);
	assert_true(json_is_null(json_object_get(ev, "reason")));
	json_decref(ev);
	json_decref(out);
	json_decref(patch);
	json_decref(rec);
	err_release(&e);
}

static void update_refuses_bad_patches_and_writes_nothing(void **state)
{
	static const struct {
		const char *patch;
		int code;
		const char *field;
	} cases[] = {
		{"{\"code\":\"G-9\"}", CTMS_EINVAL, "code"},
		{"{\"stamp\":\"x\"}", CTMS_EINVAL, "stamp"},
		{"{\"colour\":\"red\"}", CTMS_EINVAL, "colour"},
		{"{\"kind\":null}", CTMS_EINVAL, "kind"},
		{"{\"kind\":\"medium\"}", CTMS_EINVAL, "kind"},
		{"{\"size\":0}", CTMS_EINVAL, "size"},
		{"{\"label\":\"ok\",\"size\":\"5\"}", CTMS_EINVAL, "size"},
		{"{\"owner_id\":12345}", CTMS_EINVAL, "owner_id"},
		{"{\"change_reason\":5}", CTMS_EINVAL, "change_reason"},
		{"{\"id\":2}", CTMS_EINVAL, "id"},
		{"{\"version\":5}", CTMS_EINVAL, "version"},
		{"{\"updated_at\":\"2024-01-01\"}", CTMS_EINVAL, "updated_at"},
		{"[]", CTMS_EBADREQ, NULL},
	};
	struct db *db = *state;
	json_t *rec = create_gadget(db, json_pack("{s:s, s:s, s:s}", "code", "G-1", "kind", "small",
						 "label", "first"));
	int64_t id = json_int(rec, "id", 0), events = test_audit_count(db);
	char long_reason[1010];

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct err e = {0};
		json_t *out = NULL, *now;
		json_t *patch = json_loads(cases[i].patch, JSON_DECODE_ANY, NULL);
		int rc = record_update(db, actor_system(), &gadget_def, id, 1, patch, &out, &e);

		if (rc != cases[i].code)
			fail_msg("%s gave %s, expected %s", cases[i].patch, err_name(rc),
				 err_name(cases[i].code));
		if (cases[i].field && !test_err_names(&e, cases[i].field))
			fail_msg("%s: no message for %s", cases[i].patch, cases[i].field);
		assert_null(out);
		assert_int_equal(test_audit_count(db), events);
		now = test_get(db, &gadget_def, id);
		assert_true(json_equal(now, rec));
		json_decref(now);
		json_decref(patch);
		err_release(&e);
	}
	/* an over-long change reason */
	memset(long_reason, 'r', sizeof(long_reason) - 1);
	long_reason[1001] = '\0';
	{
		struct err e = {0};
		assert_int_equal(test_patch(db, &gadget_def, id,
					    json_pack("{s:s, s:s}", "label", "x", "change_reason", long_reason),
					    &e),
				 CTMS_EINVAL);
		assert_true(test_err_names(&e, "change_reason"));
		assert_int_equal(test_audit_count(db), events);
		err_release(&e);
	}
	json_decref(rec);
}

static void a_patch_that_changes_nothing_writes_nothing(void **state)
{
	static const char *const patches[] = {
		"{}",
		"{\"label\":\"first\"}",
		"{\"label\":\"first\",\"kind\":\"small\"}",
		"{\"size\":null}",
		"{\"active\":true}",
		"{\"change_reason\":\"nothing really\"}",
	};
	struct db *db = *state;
	json_t *rec = create_gadget(db, json_pack("{s:s, s:s, s:s, s:b}", "code", "G-1", "kind",
						 "small", "label", "first", "active", 1));
	int64_t id = json_int(rec, "id", 0), events = test_audit_count(db);

	for (size_t i = 0; i < sizeof(patches) / sizeof(*patches); i++) {
		struct err e = {0};
		json_t *out = NULL, *patch = json_loads(patches[i], 0, NULL);
		int rc = record_update(db, actor_system(), &gadget_def, id, 1, patch, &out, &e);

		test_expect_ok(rc, &e, patches[i]);
		if (json_int(out, "version", 0) != 1)
			fail_msg("%s moved the version to %lld", patches[i],
				 (long long)json_int(out, "version", 0));
		assert_true(json_equal(out, rec));
		assert_int_equal(test_audit_count(db), events);
		json_decref(out);
		json_decref(patch);
		err_release(&e);
	}
	json_decref(rec);
}

static void a_stale_version_is_refused_with_the_current_record(void **state)
{
	struct db *db = *state;
	json_t *rec = create_gadget(db, json_pack("{s:s, s:s, s:s}", "code", "G-1", "kind", "small",
						 "label", "first"));
	int64_t id = json_int(rec, "id", 0), events;
	json_t *patch = json_pack("{s:s}", "label", "mine"), *out = NULL;
	struct err e = {0};

	assert_int_equal(test_patch(db, &gadget_def, id, json_pack("{s:s}", "label", "theirs"), &e), 0);
	events = test_audit_count(db);

	/* an older and a newer version are both stale */
	static const int64_t stale[] = {1, 3, 99};
	for (size_t i = 0; i < sizeof(stale) / sizeof(*stale); i++) {
		assert_int_equal(record_update(db, actor_system(), &gadget_def, id, stale[i], patch, &out, &e),
				 CTMS_ESTALE);
		assert_non_null(out);
		assert_int_equal(json_int(out, "version", 0), 2);
		assert_string_equal(json_str(out, "label"), "theirs");
		assert_int_equal(test_audit_count(db), events);
		json_decref(out);
		out = NULL;
		err_release(&e);
		e = (struct err){0};
	}
	{
		json_t *now = test_get(db, &gadget_def, id);
		assert_string_equal(json_str(now, "label"), "theirs");
		json_decref(now);
	}

	/* the current version goes through */
	assert_int_equal(record_update(db, actor_system(), &gadget_def, id, 2, patch, &out, &e), 0);
	assert_int_equal(json_int(out, "version", 0), 3);
	assert_string_equal(json_str(out, "label"), "mine");
	json_decref(out);
	json_decref(patch);
	json_decref(rec);
	err_release(&e);
}

static void missing_records_are_not_found(void **state)
{
	struct db *db = *state;
	struct err e = {0};
	json_t *out = (json_t *)1, *patch = json_pack("{s:s}", "label", "x");
	struct transition t = {"start_up", "2024-02-01", NULL};
	int64_t events = test_audit_count(db);

	assert_int_equal(record_get(db, actor_system(), &gadget_def, 999, &out, &e), CTMS_ENOTFOUND);
	assert_null(out);
	err_release(&e);
	e = (struct err){0};
	assert_int_equal(record_update(db, actor_system(), &gadget_def, 999, 0, patch, &out, &e),
			 CTMS_ENOTFOUND);
	assert_null(out);
	err_release(&e);
	e = (struct err){0};
	assert_int_equal(record_transition(db, actor_system(), &study_def, 999, 0, &t, &out, &e),
			 CTMS_ENOTFOUND);
	assert_null(out);
	err_release(&e);
	e = (struct err){0};
	/* a child under a parent that does not exist */
	json_t *in = json_pack("{s:s, s:s}", "number", "1.0", "version_date", "2024-01-01");
	assert_int_equal(record_create(db, actor_system(), &protocol_version_def, 999, in, &out, &e),
			 CTMS_ENOTFOUND);
	assert_non_null(strstr(e.detail, "study 999"));
	assert_null(out);
	assert_int_equal(test_audit_count(db), events);
	json_decref(in);
	json_decref(patch);
	err_release(&e);
}

static void a_record_without_lifecycle_has_no_transitions(void **state)
{
	struct db *db = *state;
	struct err e = {0};
	json_t *rec = create_gadget(db, json_pack("{s:s, s:s}", "code", "G-1", "kind", "small"));
	json_t *out = NULL;
	struct transition t = {"active", "2024-02-01", NULL};
	int64_t events = test_audit_count(db);

	assert_int_equal(record_transition(db, actor_system(), &gadget_def, json_int(rec, "id", 0), 0,
					   &t, &out, &e),
			 CTMS_EINVAL);
	assert_null(out);
	assert_int_equal(test_audit_count(db), events);
	json_decref(rec);
	err_release(&e);
}

static void transition_input_is_checked_before_anything_is_written(void **state)
{
	char tomorrow[DATE_LEN], today[DATE_LEN], long_reason[1010];
	struct db *db = *state;
	int64_t id = test_study(db, "LIFE-1");
	int64_t events = test_audit_count(db);

	test_day_from_today(1, tomorrow);
	test_day_from_today(0, today);
	memset(long_reason, 'r', sizeof(long_reason) - 1);
	long_reason[1001] = '\0';
	const struct {
		struct transition t;
		const char *fields[2];
	} cases[] = {
		{{"paused", "2024-02-01", NULL}, {"to"}},
		{{NULL, "2024-02-01", NULL}, {"to"}},
		{{"", "2024-02-01", NULL}, {"to"}},
		{{"start_up", NULL, NULL}, {"on"}},
		{{"start_up", "", NULL}, {"on"}},
		{{"start_up", "2024-02-30", NULL}, {"on"}},
		{{"start_up", "yesterday", NULL}, {"on"}},
		{{"start_up", "2024-02-01T10:00:00Z", NULL}, {"on"}},
		{{"start_up", tomorrow, NULL}, {"on"}},
		{{"start_up", "2199-12-31", NULL}, {"on"}},
		{{"start_up", "2024-02-01", long_reason}, {"reason"}},
		{{"start_up", "2024-02-01", "bell\x07"}, {"reason"}},
		{{"nowhere", "someday", NULL}, {"to", "on"}},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct err e = {0};
		json_t *out = NULL;
		int rc = record_transition(db, actor_system(), &study_def, id, 0, &cases[i].t, &out, &e);

		if (rc != CTMS_EINVAL)
			fail_msg("case %zu (to %s on %s) gave %s", i, cases[i].t.to ? cases[i].t.to : "NULL",
				 cases[i].t.on ? cases[i].t.on : "NULL", err_name(rc));
		for (int k = 0; k < 2 && cases[i].fields[k]; k++)
			if (!test_err_names(&e, cases[i].fields[k]))
				fail_msg("case %zu: no message for %s", i, cases[i].fields[k]);
		assert_null(out);
		assert_int_equal(test_audit_count(db), events);
		assert_string_equal(test_status(db, &study_def, id), "planned");
		err_release(&e);
	}
	/* the latest "today" on Earth is not in the future */
	test_move_ok(db, &study_def, id, "start_up", today, NULL);
}

static void a_stale_version_cannot_transition(void **state)
{
	struct db *db = *state;
	int64_t id = test_study(db, "LIFE-2");
	struct transition t = {"start_up", "2024-02-01", NULL};
	struct err e = {0};
	json_t *out = NULL;
	int64_t events;

	assert_int_equal(test_patch(db, &study_def, id, json_pack("{s:s}", "acronym", "L2"), &e), 0);
	events = test_audit_count(db);
	assert_int_equal(record_transition(db, actor_system(), &study_def, id, 1, &t, &out, &e),
			 CTMS_ESTALE);
	assert_non_null(out);
	assert_int_equal(json_int(out, "version", 0), 2);
	assert_string_equal(json_str(out, "status"), "planned");
	assert_int_equal(test_audit_count(db), events);
	json_decref(out);
	err_release(&e);
	e = (struct err){0};
	assert_int_equal(record_transition(db, actor_system(), &study_def, id, 2, &t, &out, &e), 0);
	assert_int_equal(json_int(out, "version", 0), 3);
	assert_string_equal(json_str(out, "status"), "start_up");
	json_decref(out);
	err_release(&e);
}

/* Lists the gadgets with the query, checking the codes of the page in order. */
static int64_t expect_page(struct db *db, const struct list_query *q, const char *codes)
{
	struct err e = {0};
	json_t *items = NULL;
	int64_t next = -1;
	struct buf got;
	int rc = record_list(db, actor_system(), &gadget_def, q, &items, &next, &e);

	test_expect_ok(rc, &e, "record_list");
	buf_init(&got, 1000);
	for (size_t i = 0; i < json_array_size(items); i++)
		buf_printf(&got, "%s%s", i ? " " : "", json_str(json_array_get(items, i), "code"));
	if (strcmp(got.ptr, codes))
		fail_msg("listed \"%s\", expected \"%s\"", got.ptr, codes);
	buf_release(&got);
	json_decref(items);
	err_release(&e);
	return next;
}

static void lists_page_by_id(void **state)
{
	struct db *db = *state;
	int64_t ids[8];
	struct list_query q = {.limit = 3};

	for (int i = 1; i <= 7; i++) {
		char code[8];
		snprintf(code, sizeof(code), "G-%d", i);
		json_t *rec = create_gadget(db, json_pack("{s:s, s:s, s:i, s:b}", "code", code, "kind",
							 i % 2 ? "small" : "large", "size", i, "active",
							 i % 2));
		ids[i] = json_int(rec, "id", 0);
		json_decref(rec);
	}
	q.after_id = expect_page(db, &q, "G-1 G-2 G-3");
	assert_int_equal(q.after_id, ids[3]);
	q.after_id = expect_page(db, &q, "G-4 G-5 G-6");
	assert_int_equal(q.after_id, ids[6]);
	assert_int_equal(expect_page(db, &q, "G-7"), 0);

	/* a page that ends exactly at the last record has no next page */
	q = (struct list_query){.limit = 7};
	assert_int_equal(expect_page(db, &q, "G-1 G-2 G-3 G-4 G-5 G-6 G-7"), 0);
	q = (struct list_query){.limit = 6};
	assert_int_equal(expect_page(db, &q, "G-1 G-2 G-3 G-4 G-5 G-6"), ids[6]);
	/* default and clamped limits */
	q = (struct list_query){.limit = 0};
	assert_int_equal(expect_page(db, &q, "G-1 G-2 G-3 G-4 G-5 G-6 G-7"), 0);
	q = (struct list_query){.limit = 1000000};
	assert_int_equal(expect_page(db, &q, "G-1 G-2 G-3 G-4 G-5 G-6 G-7"), 0);
	q = (struct list_query){.limit = 10, .after_id = ids[7]};
	assert_int_equal(expect_page(db, &q, ""), 0);
}

static void lists_filter_by_declared_fields_only(void **state)
{
	struct db *db = *state;
	for (int i = 1; i <= 7; i++) {
		char code[8];
		snprintf(code, sizeof(code), "G-%d", i);
		json_decref(create_gadget(db, json_pack("{s:s, s:s, s:i, s:b, s:s}", "code", code, "kind",
						       i % 2 ? "small" : "large", "size", i, "active",
						       i % 2, "label", "same")));
	}
	static const struct {
		struct list_filter filters[2];
		size_t n;
		int limit;
		const char *pages[3];
	} cases[] = {
		{{{"kind", "large"}}, 1, 10, {"G-2 G-4 G-6"}},
		{{{"kind", "large"}}, 1, 2, {"G-2 G-4", "G-6"}},
		{{{"kind", "small"}, {"size", "5"}}, 2, 10, {"G-5"}},
		{{{"kind", "large"}, {"size", "5"}}, 2, 10, {""}},
		{{{"size", "3"}}, 1, 10, {"G-3"}},
		{{{"size", "three"}}, 1, 10, {""}},
		{{{"size", "3x"}}, 1, 10, {""}},
		{{{"active", "1"}}, 1, 3, {"G-1 G-3 G-5", "G-7"}},
		{{{"active", "0"}}, 1, 10, {"G-2 G-4 G-6"}},
		{{{"code", "G-5"}}, 1, 10, {"G-5"}},
		{{{"code", "g-5"}}, 1, 10, {""}},
		{{{"code", "x' OR '1'='1"}}, 1, 10, {""}},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct list_query q = {.limit = cases[i].limit, .filters = cases[i].filters,
				       .nfilters = cases[i].n};
		for (int p = 0; p < 3 && cases[i].pages[p]; p++) {
			q.after_id = expect_page(db, &q, cases[i].pages[p]);
			if ((p + 1 < 3 && cases[i].pages[p + 1]) != (q.after_id != 0))
				fail_msg("case %zu page %d: next_after %lld", i, p, (long long)q.after_id);
		}
	}

	/* fields that are not filters, and names that are not fields */
	static const struct list_filter refused[] = {{"label", "same"}, {"nope", "1"}, {"stamp", "x"},
						     {"id", "1"}};
	for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
		struct list_query q = {.limit = 10, .filters = &refused[i], .nfilters = 1};
		struct err e = {0};
		json_t *items = (json_t *)1;
		int64_t next = -1;
		assert_int_equal(record_list(db, actor_system(), &gadget_def, &q, &items, &next, &e), CTMS_EINVAL);
		assert_true(test_err_names(&e, refused[i].field));
		assert_null(items);
		err_release(&e);
	}
}

/* record_find: the lowest id matching, within what the actor may read;
 * record_read: the record as stored, without what render adds. */
static void find_and_read_answer_what_the_actor_may_see(void **state)
{
	struct db *db = *state;
	int64_t ids[4], a = test_study(db, "FIND-A"), b = test_study(db, "FIND-B"), id = -1;
	struct grant grant = {.role = ROLE_MANAGER, .study_id = a};
	struct actor manager = {.id = 42, .name = "Manager", .grants = &grant, .ngrants = 1};
	struct err e = {0};
	json_t *got = NULL, *full = NULL;

	for (int i = 0; i < 4; i++) {
		char code[8];
		snprintf(code, sizeof(code), "F-%d", i);
		json_t *rec = create_gadget(db, json_pack("{s:s, s:s}", "code", code, "kind",
							 i % 2 ? "small" : "large"));
		ids[i] = json_int(rec, "id", 0);
		json_decref(rec);
	}
	struct list_filter by_code = {"code", "F-2"}, by_kind[] = {{"kind", "small"}},
			   none = {"code", "F-9"}, not_a_filter = {"label", "x"};
	assert_int_equal(record_find(db, actor_system(), &gadget_def, &by_code, 1, &id, &e), 0);
	assert_int_equal(id, ids[2]);
	assert_int_equal(record_find(db, actor_system(), &gadget_def, by_kind, 1, &id, &e), 0);
	assert_int_equal(id, ids[1]);
	assert_int_equal(record_find(db, actor_system(), &gadget_def, &none, 1, &id, &e), 0);
	assert_int_equal(id, 0);
	assert_int_equal(record_find(db, actor_system(), &gadget_def, &not_a_filter, 1, &id, &e),
			 CTMS_EINVAL);
	assert_true(test_err_names(&e, "label"));
	err_release(&e);
	e = (struct err){0};

	/* A study out of the actor's grants is not found, and cannot be read
	 * (lists check the grants as stored). */
	char sql[512];
	snprintf(sql, sizeof(sql),
		 "INSERT INTO users (id, created_at, updated_at, username, display_name, status,"
		 " password_hash, password_changed_at) VALUES (42, 0, 0, 'manager', 'Manager', 'active',"
		 " 'x', 0); INSERT INTO grants (created_at, updated_at, user_id, role, study_id)"
		 " VALUES (0, 0, 42, 'manager', %lld)",
		 (long long)a);
	assert_int_equal(db_exec(db, sql, &e), 0);
	struct list_filter number_a = {"protocol_number", "FIND-A"}, number_b = {"protocol_number", "FIND-B"};
	assert_int_equal(record_find(db, &manager, &study_def, &number_a, 1, &id, &e), 0);
	assert_int_equal(id, a);
	assert_int_equal(record_find(db, &manager, &study_def, &number_b, 1, &id, &e), 0);
	assert_int_equal(id, 0);
	assert_int_equal(record_find(db, actor_system(), &study_def, &number_b, 1, &id, &e), 0);
	assert_int_equal(id, b);
	assert_int_equal(record_read(db, &manager, &study_def, b, &got, &e), CTMS_ENOTFOUND);
	assert_null(got);
	err_release(&e);
	e = (struct err){0};

	/* The stored fields, as record_get has them, without the derived ones. */
	assert_int_equal(record_read(db, &manager, &study_def, a, &got, &e), 0);
	assert_int_equal(record_get(db, &manager, &study_def, a, &full, &e), 0);
	assert_null(json_object_get(got, "current_protocol_version"));
	assert_non_null(json_object_get(full, "current_protocol_version"));
	json_object_del(full, "current_protocol_version");
	json_object_del(full, "signatures");
	assert_true(json_equal(got, full));
	json_decref(got);
	json_decref(full);
	err_release(&e);
}

static void children_list_and_read_under_their_parent(void **state)
{
	struct db *db = *state;
	int64_t a = test_study(db, "PARENT-A"), b = test_study(db, "PARENT-B");
	int64_t a1 = test_protocol_version(db, a, "1.0", "2024-01-01", NULL);
	int64_t b1 = test_protocol_version(db, b, "1.0", "2024-01-01", NULL);
	int64_t a2 = test_protocol_version(db, a, "2.0", "2024-02-01", NULL);
	struct list_query q = {.parent_id = a, .limit = 10};
	struct err e = {0};
	json_t *items = NULL, *out = NULL;
	int64_t next;

	assert_int_equal(record_list(db, actor_system(), &protocol_version_def, &q, &items, &next, &e), 0);
	assert_int_equal(json_array_size(items), 2);
	assert_int_equal(json_int(json_array_get(items, 0), "id", 0), a1);
	assert_int_equal(json_int(json_array_get(items, 1), "id", 0), a2);
	json_decref(items);
	q.parent_id = 0; /* every study */
	assert_int_equal(record_list(db, actor_system(), &protocol_version_def, &q, &items, &next, &e), 0);
	assert_int_equal(json_array_size(items), 3);
	json_decref(items);

	assert_int_equal(record_get_child(db, actor_system(), &protocol_version_def, b, b1, &out, &e), 0);
	json_decref(out);
	assert_int_equal(record_get_child(db, actor_system(), &protocol_version_def, b, a1, &out, &e), CTMS_ENOTFOUND);
	assert_null(out);
	err_release(&e);
}

/* A caller that passes out NULL (a bulk writer) gets the same write and the
 * same audit event, only not the record back. */
static void writes_without_out_skip_only_the_read_back(void **state)
{
	struct db *db = *state;
	struct transition t = {"start_up", "2024-02-01", NULL};
	struct err e = {0};
	int64_t before = test_audit_count(db), id = 0, version = 0, study;
	json_t *input = json_pack("{s:s, s:s, s:i}", "code", "G-9", "kind", "small", "size", 3);
	json_t *patch = json_pack("{s:i, s:s}", "size", 4, "change_reason", "recount");
	json_t *rec;

	assert_int_equal(record_create(db, actor_system(), &gadget_def, 0, input, NULL, &e), 0);
	assert_int_equal(gadget_rows(db), 1);
	assert_int_equal(test_audit_count(db), before + 1);
	assert_int_equal(db_query_int(db, "SELECT id FROM gadgets WHERE code = 'G-9'", &id, 0), 0);

	assert_int_equal(record_update(db, actor_system(), &gadget_def, id, 1, patch, NULL, &e), 0);
	assert_int_equal(db_query_int(db, "SELECT version FROM gadgets WHERE id = $1", &version, 1, id),
			 0);
	assert_int_equal(version, 2);
	assert_int_equal(test_audit_count(db), before + 2);
	/* a stale version is still refused, and writes nothing */
	assert_int_equal(record_update(db, actor_system(), &gadget_def, id, 1, patch, NULL, &e),
			 CTMS_ESTALE);
	assert_int_equal(test_audit_count(db), before + 2);
	err_release(&e);
	err_init(&e);

	study = test_study(db, "OUT-NULL");
	before = test_audit_count(db);
	assert_int_equal(record_transition(db, actor_system(), &study_def, study, 0, &t, NULL, &e), 0);
	rec = test_get(db, &study_def, study);
	assert_string_equal(json_str(rec, "status"), "start_up");
	assert_string_equal(json_str(rec, "start_up_on"), "2024-02-01");
	assert_int_equal(test_audit_count(db), before + 1);
	json_decref(rec);
	json_decref(input);
	json_decref(patch);
	err_release(&e);
}

/* A reference that ctms sets itself is not looked up again by the engine;
 * should a hook ever set one that names no row, the store refuses it and
 * nothing is written. */
static int set_missing_owner(struct db *db, const struct actor *a, json_t *values, struct err *e)
{
	json_object_set_new(values, "owner_id", json_integer(999));
	return 0;
}

static const struct field_def owned_fields[] = {
	FIELD_TEXT("code", F_REQUIRED, 8),
	FIELD_ENUM("kind", F_REQUIRED, gadget_kinds),
	FIELD_REF("owner_id", F_SERVER, "organisations"),
};

static const struct entity_def owned_gadget_def = {
	.name = "gadget",
	.table = "gadgets",
	.fields = owned_fields,
	.nfields = NELEMS(owned_fields),
	.prepare = set_missing_owner,
};

static void a_server_set_reference_to_no_row_is_refused(void **state)
{
	struct db *db = *state;
	struct err e = {0};
	int64_t before = test_audit_count(db);
	json_t *input = json_pack("{s:s, s:s}", "code", "G-10", "kind", "large");
	json_t *rec = NULL;

	assert_int_not_equal(record_create(db, actor_system(), &owned_gadget_def, 0, input, &rec, &e),
			     0);
	assert_null(rec);
	assert_int_equal(gadget_rows(db), 0);
	assert_int_equal(test_audit_count(db), before);
	json_decref(input);
	err_release(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(field_validation_per_type),
		cmocka_unit_test_setup_teardown(create_stores_the_record_and_its_audit_event, setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(create_refuses_bad_input_and_writes_nothing, setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(unique_fields_conflict, setup, test_db_teardown),
		cmocka_unit_test_setup_teardown(update_changes_fields_and_audits_each, setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(update_refuses_bad_patches_and_writes_nothing, setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(a_patch_that_changes_nothing_writes_nothing, setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(a_stale_version_is_refused_with_the_current_record, setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(missing_records_are_not_found, setup, test_db_teardown),
		cmocka_unit_test_setup_teardown(a_record_without_lifecycle_has_no_transitions, setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(transition_input_is_checked_before_anything_is_written,
						setup, test_db_teardown),
		cmocka_unit_test_setup_teardown(a_stale_version_cannot_transition, setup, test_db_teardown),
		cmocka_unit_test_setup_teardown(lists_page_by_id, setup, test_db_teardown),
		cmocka_unit_test_setup_teardown(lists_filter_by_declared_fields_only, setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(find_and_read_answer_what_the_actor_may_see, setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(children_list_and_read_under_their_parent, setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(writes_without_out_skip_only_the_read_back, setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(a_server_set_reference_to_no_row_is_refused, setup,
						test_db_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
