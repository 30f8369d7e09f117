#include "http/router.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

/* Compares one segment; a "{...}" pattern segment takes a positive integer. */
static bool segment_match(const char *pat, size_t plen, const char *seg, size_t slen,
			  int64_t *id, bool *is_param)
{
	*is_param = plen >= 2 && pat[0] == '{' && pat[plen - 1] == '}';
	if (!*is_param)
		return plen == slen && !memcmp(pat, seg, plen);
	if (slen == 0 || slen > 18)
		return false;
	int64_t v = 0;
	for (size_t i = 0; i < slen; i++) {
		if (seg[i] < '0' || seg[i] > '9')
			return false;
		v = v * 10 + (seg[i] - '0');
	}
	*id = v;
	return v > 0;
}

static bool path_match(const char *pattern, const char *path, int64_t *ids, int *nids)
{
	const char *p = pattern, *s = path;

	*nids = 0;
	while (*p && *s) {
		const char *pe = strchr(p + 1, '/'), *se = strchr(s + 1, '/');
		size_t plen = pe ? (size_t)(pe - p) : strlen(p);
		size_t slen = se ? (size_t)(se - s) : strlen(s);
		int64_t id = 0;
		bool is_param;
		if (*p != '/' || *s != '/')
			return false;
		if (!segment_match(p + 1, plen - 1, s + 1, slen - 1, &id, &is_param))
			return false;
		if (is_param) {
			if (*nids >= REQUEST_MAX_IDS)
				return false;
			ids[(*nids)++] = id;
		}
		p += plen;
		s += slen;
	}
	return !*p && !*s;
}

int router_match(const struct route *table, size_t n, const char *method, const char *path,
		 struct request *r, const struct route **out, char **allow)
{
	struct buf methods;
	int64_t ids[REQUEST_MAX_IDS];
	int nids;

	*out = NULL;
	*allow = NULL;
	buf_init(&methods, 256);
	for (size_t i = 0; i < n; i++) {
		if (!path_match(table[i].pattern, path, ids, &nids))
			continue;
		if (!strcmp(table[i].method, method) ||
		    (!strcmp(method, "HEAD") && !strcmp(table[i].method, "GET"))) {
			memcpy(r->ids, ids, sizeof(ids));
			r->nids = nids;
			r->route_arg = table[i].arg;
			*out = &table[i];
			buf_release(&methods);
			return 0;
		}
		buf_printf(&methods, "%s%s", methods.len ? ", " : "", table[i].method);
	}
	if (methods.len) {
		*allow = buf_detach(&methods);
		return CTMS_EMETHOD;
	}
	buf_release(&methods);
	return CTMS_ENOTFOUND;
}

void router_print(FILE *f)
{
	for (size_t i = 0; i < nroutes; i++)
		fprintf(f, "%s %s\n", routes[i].method, routes[i].pattern);
}
