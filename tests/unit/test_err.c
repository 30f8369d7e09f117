/* Error codes and details (src/util/err.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util/err.h"

static void the_first_cause_wins(void **state)
{
	struct err e;
	(void)state;
	err_init(&e);
	assert_int_equal(e.code, CTMS_OK);
	assert_int_equal(err_set(&e, CTMS_ENOTFOUND, "study %d was not found", 7), CTMS_ENOTFOUND);
	assert_string_equal(e.detail, "study 7 was not found");
	/* a later cause keeps the first code and detail */
	assert_int_equal(err_set(&e, CTMS_EDB, "the store failed"), CTMS_ENOTFOUND);
	assert_string_equal(e.detail, "study 7 was not found");
	err_release(&e);
	/* no struct: the code comes back all the same */
	assert_int_equal(err_set(NULL, CTMS_ESTALE, "x"), CTMS_ESTALE);
	assert_int_equal(err_field(NULL, "f", "x"), CTMS_EINVAL);
}

static void field_messages_collect(void **state)
{
	struct err e = {0};
	(void)state;
	assert_int_equal(err_field(&e, "title", "is required"), CTMS_EINVAL);
	assert_int_equal(err_field(&e, "phase", "must be one of: %s", "PHASE1, PHASE2"), CTMS_EINVAL);
	assert_int_equal(json_array_size(e.fields), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(e.fields, 1), "field")),
			    "phase");
	assert_string_equal(json_string_value(json_object_get(json_array_get(e.fields, 1), "message")),
			    "must be one of: PHASE1, PHASE2");
	/* a field message after another cause keeps that cause's code */
	struct err c = {0};
	err_set(&c, CTMS_ECONFLICT, "another study already has this protocol_number");
	assert_int_equal(err_field(&c, "protocol_number", "is already used"), CTMS_ECONFLICT);
	err_release(&c);
	err_release(&e);
	assert_null(e.fields);
	err_release(&e); /* twice is harmless */
}

static void describe_puts_everything_on_one_line(void **state)
{
	struct err e = {0};
	char out[200], tiny[12];
	(void)state;
	err_field(&e, "title", "is required");
	err_field(&e, "phase", "is wrong");
	err_describe(&e, out, sizeof(out));
	assert_string_equal(out, "validation: title is required; phase is wrong");
	err_release(&e);

	e = (struct err){0};
	err_set(&e, CTMS_EINTEGRITY, "audit event 4 is broken");
	err_describe(&e, out, sizeof(out));
	assert_string_equal(out, "audit event 4 is broken");
	err_field(&e, "seq", "is 4");
	err_describe(&e, out, sizeof(out));
	assert_string_equal(out, "audit event 4 is broken; seq is 4");
	/* a short buffer is cut, still terminated */
	err_describe(&e, tiny, sizeof(tiny));
	assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
	err_release(&e);
}

static void every_code_has_its_own_name(void **state)
{
	static const enum ctms_err codes[] = {
		CTMS_OK,     CTMS_EINVAL,  CTMS_ENOTFOUND, CTMS_ECONFLICT, CTMS_ESTALE,
		CTMS_ESTATE, CTMS_EDB,     CTMS_ETOOBIG,   CTMS_EBADREQ,   CTMS_EPRECOND,
		CTMS_EBUSY,  CTMS_EMETHOD, CTMS_EIO,       CTMS_ESCHEMA,   CTMS_EINTEGRITY,
	};
	(void)state;
	for (size_t i = 0; i < sizeof(codes) / sizeof(*codes); i++) {
		assert_string_not_equal(err_name(codes[i]), "unknown");
		for (size_t k = 0; k < i; k++)
			assert_string_not_equal(err_name(codes[i]), err_name(codes[k]));
	}
	assert_string_equal(err_name((enum ctms_err)-999), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_first_cause_wins),
		cmocka_unit_test(field_messages_collect),
		cmocka_unit_test(describe_puts_everything_on_one_line),
		cmocka_unit_test(every_code_has_its_own_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
