/* SHA-256 (libsodium) and random tokens. */
#ifndef CTMS_HASH_H
#define CTMS_HASH_H

#include <stddef.h>

#define SHA256_HEX_LEN 65 /* 64 hex digits and NUL */

/* Initialises libsodium once; safe to call from several threads. */
int crypto_setup(void);
void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN]);
/* Fills out with n random bytes as 2n lower-case hex digits and a NUL. */
void random_hex(char *out, size_t nbytes);

#include "util/err.h"
#endif
