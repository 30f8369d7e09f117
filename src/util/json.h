/* JSON conventions (jansson): strict parsing, canonical output. */
#ifndef CTMS_JSON_H
#define CTMS_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct err;

/* Parses a request body: rejects duplicate keys, invalid UTF-8 and NUL
 * characters (jansson's defaults), and anything but an object. On failure
 * fills e with CTMS_EBADREQ and the line and column. */
json_t *json_parse_object(const char *data, size_t len, struct err *e);

/* Canonical text (sorted keys, compact, no escaping of '/'): the form that is
 * hashed for the audit chain and signatures. Caller frees. */
char *json_canonical(const json_t *v);

/* Dumps for a response: compact, keys in insertion order. Caller frees. */
char *json_render(const json_t *v, size_t *len);

/* Typed getters that return a default when the key is absent or null. */
const char *json_str(const json_t *obj, const char *key);
int64_t json_int(const json_t *obj, const char *key, int64_t dflt);

/* True when a and b are both absent/null, or equal JSON values. */
bool json_same(const json_t *a, const json_t *b);

#include "util/err.h"
#endif
