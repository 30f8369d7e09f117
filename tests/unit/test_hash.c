/* SHA-256 and random tokens (src/util/hash.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util/hash.h"

static void sha256_matches_the_fips_vectors(void **state)
{
	static const struct {
		const char *input, *digest;
	} cases[] = {
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	};
	(void)state;
	assert_int_equal(crypto_setup(), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char out[SHA256_HEX_LEN];
		sha256_hex(cases[i].input, strlen(cases[i].input), out);
		assert_string_equal(out, cases[i].digest);
	}
}

static void random_tokens_are_hex_and_differ(void **state)
{
	char a[33], b[33], big[129];
	(void)state;
	assert_int_equal(crypto_setup(), 0);
	random_hex(a, 16);
	random_hex(b, 16);
	assert_int_equal(strlen(a), 32);
	assert_int_equal(strspn(a, "0123456789abcdef"), 32);
	assert_string_not_equal(a, b);
	/* more than 64 bytes are capped at 64 */
	random_hex(big, 100);
	assert_int_equal(strlen(big), 128);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sha256_matches_the_fips_vectors),
		cmocka_unit_test(random_tokens_are_hex_and_differ),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
