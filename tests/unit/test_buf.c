/* The capped growable buffer (src/util/buf.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/buf.h"

static void a_new_buffer_is_an_empty_string(void **state)
{
	struct buf b;
	(void)state;
	buf_init(&b, 100);
	assert_non_null(b.ptr);
	assert_string_equal(b.ptr, "");
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, 100);
	buf_reset(&b);
	assert_string_equal(b.ptr, "");
	buf_release(&b);
	assert_string_equal(b.ptr, "");
}

static void grows_byte_by_byte_and_stays_terminated(void **state)
{
	struct buf b;
	(void)state;
	buf_init(&b, 1 << 20);
	for (size_t i = 0; i < 5000; i++) {
		assert_int_equal(buf_putc(&b, (char)('a' + i % 26)), 0);
		assert_int_equal(b.len, i + 1);
		assert_true(b.alloc > b.len);
		assert_int_equal(b.ptr[b.len], '\0');
	}
	for (size_t i = 0; i < 5000; i++)
		if (b.ptr[i] != (char)('a' + i % 26))
			fail_msg("byte %zu is '%c'", i, b.ptr[i]);
	assert_int_equal(strlen(b.ptr), 5000);
	buf_release(&b);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.alloc, 0);
}

static void adds_bytes_with_embedded_nuls(void **state)
{
	struct buf b;
	(void)state;
	buf_init(&b, 64);
	assert_int_equal(buf_add(&b, "a\0b", 3), 0);
	assert_int_equal(buf_add(&b, "", 0), 0);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.ptr, "a\0b", 4);
	buf_release(&b);
}

static void cap_refusal_leaves_the_buffer_unchanged(void **state)
{
	char big[300];
	struct buf b;
	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';

	buf_init(&b, 8);
	assert_int_equal(buf_puts(&b, "1234567"), 0);
	assert_int_equal(buf_putc(&b, '8'), 0); /* exactly at the cap */
	assert_int_equal(b.len, 8);
	char *before = b.ptr;
	size_t alloc = b.alloc;

	assert_int_equal(buf_putc(&b, '9'), CTMS_ETOOBIG);
	assert_int_equal(buf_puts(&b, "more"), CTMS_ETOOBIG);
	assert_int_equal(buf_add(&b, "x", SIZE_MAX), CTMS_ETOOBIG);
	assert_int_equal(buf_printf(&b, "%d", 5), CTMS_ETOOBIG);
	assert_int_equal(buf_printf(&b, "%s", big), CTMS_ETOOBIG); /* the long path */
	assert_int_equal(b.len, 8);
	assert_ptr_equal(b.ptr, before);
	assert_int_equal(b.alloc, alloc);
	assert_string_equal(b.ptr, "12345678");

	/* an empty add still fits */
	assert_int_equal(buf_add(&b, "", 0), 0);
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.ptr, "");
	assert_int_equal(buf_puts(&b, "abcdefgh"), 0);
	assert_string_equal(b.ptr, "abcdefgh");
	buf_release(&b);

	/* a refused first append leaves an untouched empty buffer */
	buf_init(&b, 2);
	assert_int_equal(buf_puts(&b, "abc"), CTMS_ETOOBIG);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.ptr, "");
	buf_release(&b);
}

static void printf_formats_short_and_long_output(void **state)
{
	char big[1000];
	struct buf b;
	(void)state;
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';

	buf_init(&b, 4096);
	assert_int_equal(buf_printf(&b, "%s=%d;", "n", 42), 0);
	assert_int_equal(buf_printf(&b, "%05.1f|%lld", 2.5, (long long)INT64_MIN), 0);
	assert_string_equal(b.ptr, "n=42;002.5|-9223372036854775808");
	buf_reset(&b);
	/* past the 256-byte fast path */
	assert_int_equal(buf_printf(&b, "<%s>", big), 0);
	assert_int_equal(b.len, 1001);
	assert_int_equal(b.ptr[0], '<');
	assert_int_equal(b.ptr[1000], '>');
	assert_int_equal(b.ptr[1001], '\0');
	assert_int_equal(strspn(b.ptr + 1, "y"), 999);
	/* long output appended after existing content */
	assert_int_equal(buf_printf(&b, "%s", big), 0);
	assert_int_equal(b.len, 2000);
	assert_int_equal(strlen(b.ptr), 2000);
	buf_release(&b);
}

static void detach_hands_over_the_string(void **state)
{
	struct buf b;
	char *s;
	(void)state;
	buf_init(&b, 100);
	assert_int_equal(buf_puts(&b, "hello"), 0);
	s = buf_detach(&b);
	assert_string_equal(s, "hello");
	/* the buffer starts over with the same cap */
	assert_int_equal(b.len, 0);
	assert_int_equal(b.alloc, 0);
	assert_int_equal(b.max, 100);
	assert_string_equal(b.ptr, "");
	assert_int_equal(buf_puts(&b, "again"), 0);
	assert_string_equal(s, "hello");
	free(s);

	s = buf_detach(&b);
	assert_string_equal(s, "again");
	free(s);

	/* an empty buffer still gives a string the caller can free */
	s = buf_detach(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
	buf_release(&b);
}

static void string_helpers_copy(void **state)
{
	char *a, *b;
	(void)state;
	a = xstrdup("trial");
	b = xstrndup("trial-and-error", 5);
	assert_string_equal(a, "trial");
	assert_string_equal(b, "trial");
	assert_ptr_not_equal(a, b);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_new_buffer_is_an_empty_string),
		cmocka_unit_test(grows_byte_by_byte_and_stays_terminated),
		cmocka_unit_test(adds_bytes_with_embedded_nuls),
		cmocka_unit_test(cap_refusal_leaves_the_buffer_unchanged),
		cmocka_unit_test(printf_formats_short_and_long_output),
		cmocka_unit_test(detach_hands_over_the_string),
		cmocka_unit_test(string_helpers_copy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
