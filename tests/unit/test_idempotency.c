/* Idempotency keys (src/domain/idempotency.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "domain/idempotency.h"
#include "support.h"

static void a_stored_reply_is_given_again(void **state)
{
	struct db *db = *state;
	struct err e = {0};
	struct idempotent_reply first = {201, "/api/v1/studies/4", "{\"id\":4}"}, again = {0};

	assert_int_equal(db_begin(db), 0);
	assert_int_equal(idempotency_lookup(db, "key-1", 0, "hash-a", &again, &e), CTMS_ENOTFOUND);
	assert_int_equal(idempotency_store(db, "key-1", 0, "hash-a", &first, &e), 0);
	assert_int_equal(db_commit(db), 0);

	assert_int_equal(idempotency_lookup(db, "key-1", 0, "hash-a", &again, &e), 0);
	assert_int_equal(again.status, 201);
	assert_string_equal(again.location, "/api/v1/studies/4");
	assert_string_equal(again.body, "{\"id\":4}");
	idempotent_reply_release(&again);
	assert_null(again.body);

	/* the same key for another request is a conflict; for another actor, new */
	assert_int_equal(idempotency_lookup(db, "key-1", 0, "hash-b", &again, &e), CTMS_ECONFLICT);
	assert_null(again.body);
	err_release(&e);
	e = (struct err){0};
	assert_int_equal(idempotency_lookup(db, "key-1", 5, "hash-a", &again, &e), CTMS_ENOTFOUND);
	/* storing the key twice is refused by the store */
	assert_int_equal(idempotency_store(db, "key-1", 0, "hash-a", &first, &e), CTMS_ECONFLICT);
	err_release(&e);
}

static void a_reply_without_location(void **state)
{
	struct db *db = *state;
	struct err e = {0};
	struct idempotent_reply r = {422, NULL, "{}"}, again = {0};

	assert_int_equal(idempotency_store(db, "k", 3, "h", &r, &e), 0);
	assert_int_equal(idempotency_lookup(db, "k", 3, "h", &again, &e), 0);
	assert_null(again.location);
	assert_int_equal(again.status, 422);
	idempotent_reply_release(&again);
	err_release(&e);
}

static void old_keys_are_pruned(void **state)
{
	struct db *db = *state;
	struct err e = {0};
	struct idempotent_reply r = {200, NULL, "{}"}, again = {0};
	int64_t n = -1;

	assert_int_equal(idempotency_store(db, "old", 0, "h", &r, &e), 0);
	assert_int_equal(db_exec(db, "UPDATE idempotency_keys SET created_at = created_at - 90000000000",
				 &e),
			 0); /* 25 hours ago */
	assert_int_equal(idempotency_store(db, "new", 0, "h", &r, &e), 0);
	assert_int_equal(idempotency_prune(db, (int64_t)24 * 3600 * 1000000, &e), 0);
	assert_int_equal(db_query_int(db, "SELECT count(*) FROM idempotency_keys", &n, 0), 0);
	assert_int_equal(n, 1);
	assert_int_equal(idempotency_lookup(db, "old", 0, "h", &again, &e), CTMS_ENOTFOUND);
	assert_int_equal(idempotency_lookup(db, "new", 0, "h", &again, &e), 0);
	idempotent_reply_release(&again);
	err_release(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(a_stored_reply_is_given_again, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(a_reply_without_location, test_db_setup, test_db_teardown),
		cmocka_unit_test_setup_teardown(old_keys_are_pruned, test_db_setup, test_db_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
