#include "util/hash.h"

#include <sodium.h>

int crypto_setup(void)
{
	return sodium_init() < 0 ? CTMS_EIO : 0;
}

void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN])
{
	unsigned char digest[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(digest, data, len);
	sodium_bin2hex(out, SHA256_HEX_LEN, digest, sizeof(digest));
}

void random_hex(char *out, size_t nbytes)
{
	unsigned char bytes[64];
	if (nbytes > sizeof(bytes))
		nbytes = sizeof(bytes);
	randombytes_buf(bytes, nbytes);
	sodium_bin2hex(out, nbytes * 2 + 1, bytes, nbytes);
}
