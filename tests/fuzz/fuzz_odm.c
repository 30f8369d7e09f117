/* libFuzzer harness for the ODM parser (io/odm_parse.h): any bytes in, a
 * description or an error out, never a crash, leak or hang. Needs no
 * database. */
#include <stddef.h>
#include <stdint.h>

#include "io/odm_parse.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *out = NULL;
	struct err e;

	err_init(&e);
	if (!odm_parse((const char *)data, size, &out, &e) && !json_is_object(out))
		__builtin_trap();
	json_decref(out);
	err_release(&e);
	return 0;
}
