#include "util/json.h"

#include <stdlib.h>
#include <string.h>

json_t *json_parse_object(const char *data, size_t len, struct err *e)
{
	json_error_t je;
	json_t *v = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);

	if (!v) {
		err_set(e, CTMS_EBADREQ, "the body is not valid JSON: %s (line %d, column %d)", je.text,
			je.line, je.column);
		return NULL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		err_set(e, CTMS_EBADREQ, "the body must be a JSON object");
		return NULL;
	}
	return v;
}

char *json_canonical(const json_t *v)
{
	return json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
}

char *json_render(const json_t *v, size_t *len)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
	if (!s)
		abort();
	if (len)
		*len = strlen(s);
	return s;
}

const char *json_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

int64_t json_int(const json_t *obj, const char *key, int64_t dflt)
{
	json_t *v = json_object_get(obj, key);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

bool json_same(const json_t *a, const json_t *b)
{
	bool an = !a || json_is_null(a), bn = !b || json_is_null(b);
	if (an || bn)
		return an && bn;
	return json_equal((json_t *)a, (json_t *)b);
}
