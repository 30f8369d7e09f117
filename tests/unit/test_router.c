/* Method + path matching (src/http/router.c) over a small table and over the
 * real route table (src/http/routes.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http/router.h"
#include "util/buf.h"

static const int things, thing, thing_patch, part, actions, ping;

static const struct route table[] = {
	{"GET", "/things", NULL, &things, 0},
	{"POST", "/things", NULL, &things, 0},
	{"GET", "/things/{id}", NULL, &thing, 0},
	{"PATCH", "/things/{id}", NULL, &thing_patch, 0},
	{"GET", "/things/{id}/parts/{id}", NULL, &part, 0},
	{"POST", "/actions", NULL, &actions, 0},
	{"GET", "/ping", NULL, &ping, 0},
};
#define NTABLE (sizeof(table) / sizeof(*table))

static void matches_method_and_path(void **state)
{
	static const struct {
		const char *method, *path;
		size_t route;
		int nids;
		int64_t ids[2];
	} cases[] = {
		{"GET", "/things", 0, 0, {0, 0}},
		{"POST", "/things", 1, 0, {0, 0}},
		{"GET", "/things/42", 2, 1, {42, 0}},
		{"PATCH", "/things/42", 3, 1, {42, 0}},
		{"GET", "/things/1", 2, 1, {1, 0}},
		{"GET", "/things/999999999999999999", 2, 1, {999999999999999999LL, 0}},
		{"GET", "/things/5/parts/7", 4, 2, {5, 7}},
		{"POST", "/actions", 5, 0, {0, 0}},
		{"GET", "/ping", 6, 0, {0, 0}},
		/* HEAD is answered by the GET route */
		{"HEAD", "/things", 0, 0, {0, 0}},
		{"HEAD", "/things/9", 2, 1, {9, 0}},
		{"HEAD", "/things/9/parts/3", 4, 2, {9, 3}},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct request r;
		const struct route *out = NULL;
		char *allow = NULL;
		int rc;

		memset(&r, 0, sizeof(r));
		rc = router_match(table, NTABLE, cases[i].method, cases[i].path, &r, &out, &allow);
		if (rc)
			fail_msg("%s %s: %s", cases[i].method, cases[i].path, err_name(rc));
		assert_ptr_equal(out, &table[cases[i].route]);
		assert_ptr_equal(r.route_arg, table[cases[i].route].arg);
		assert_null(allow);
		assert_int_equal(r.nids, cases[i].nids);
		for (int k = 0; k < cases[i].nids; k++)
			assert_true(r.ids[k] == cases[i].ids[k]);
	}
}

static void id_segments_take_positive_integers_only(void **state)
{
	static const char *const paths[] = {
		"/things/0",
		"/things/00",
		"/things/-1",
		"/things/+1",
		"/things/abc",
		"/things/1a",
		"/things/1.5",
		"/things/1e3",
		"/things/%31",
		"/things/ 1",
		"/things/1234567890123456789", /* 19 digits */
		"/things/99999999999999999999",
		"/things/1/parts/0",
		"/things/0/parts/1",
		"/things/x/parts/1",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(paths) / sizeof(*paths); i++) {
		struct request r;
		const struct route *out = (const struct route *)1;
		char *allow = (char *)1;
		int rc;

		memset(&r, 0, sizeof(r));
		rc = router_match(table, NTABLE, "GET", paths[i], &r, &out, &allow);
		if (rc != CTMS_ENOTFOUND)
			fail_msg("GET %s gave %s, expected not-found", paths[i], err_name(rc));
		assert_null(out);
		assert_null(allow);
	}
}

static void unknown_paths_are_not_found(void **state)
{
	static const char *const paths[] = {
		"", "/", "/things/", "//things", "/things//", "/Things", "/thing", "/thingsx",
		"/ping/", "/pin", "/pingpong", "/things/1/", "/things/1/parts", "/things/1/parts/",
		"/things/1/parts/2/more", "things", "/things/1/other/2",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(paths) / sizeof(*paths); i++) {
		static const char *const methods[] = {"GET", "POST", "DELETE", "HEAD"};
		for (size_t m = 0; m < sizeof(methods) / sizeof(*methods); m++) {
			struct request r;
			const struct route *out;
			char *allow;
			int rc;

			memset(&r, 0, sizeof(r));
			rc = router_match(table, NTABLE, methods[m], paths[i], &r, &out, &allow);
			if (rc != CTMS_ENOTFOUND)
				fail_msg("%s \"%s\" gave %s, expected not-found", methods[m], paths[i],
					 err_name(rc));
			assert_null(out);
			assert_null(allow);
		}
	}
}

static void other_methods_get_405_with_the_allowed_ones(void **state)
{
	static const struct {
		const char *method, *path, *allow;
	} cases[] = {
		{"DELETE", "/things/5", "GET, PATCH"},
		{"PUT", "/things/5", "GET, PATCH"},
		{"POST", "/things/5", "GET, PATCH"},
		{"DELETE", "/things", "GET, POST"},
		{"PATCH", "/things", "GET, POST"},
		{"get", "/things", "GET, POST"}, /* methods are case-sensitive */
		{"GET", "/actions", "POST"},
		{"HEAD", "/actions", "POST"}, /* HEAD falls back to GET only */
		{"POST", "/things/5/parts/6", "GET"},
		{"POST", "/ping", "GET"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct request r;
		const struct route *out;
		char *allow = NULL;
		int rc;

		memset(&r, 0, sizeof(r));
		rc = router_match(table, NTABLE, cases[i].method, cases[i].path, &r, &out, &allow);
		if (rc != CTMS_EMETHOD)
			fail_msg("%s %s gave %s, expected method-not-allowed", cases[i].method,
				 cases[i].path, err_name(rc));
		assert_null(out);
		assert_non_null(allow);
		assert_string_equal(allow, cases[i].allow);
		free(allow);
	}
}

/* Each real route, with its {id} segments filled in, reaches itself: no route
 * is shadowed by an earlier one, and the ids come out in order. */
static void every_real_route_is_reachable(void **state)
{
	(void)state;
	assert_true(nroutes > 10);
	for (size_t i = 0; i < nroutes; i++) {
		struct buf path;
		struct request r;
		const struct route *out = NULL;
		char *allow = NULL;
		const char *p = routes[i].pattern;
		int nparams = 0, rc;

		buf_init(&path, 1024);
		while (*p) {
			if (*p == '{') {
				const char *close = strchr(p, '}');
				assert_non_null(close);
				buf_printf(&path, "%d", 10 + ++nparams);
				p = close + 1;
			} else {
				buf_putc(&path, *p++);
			}
		}
		memset(&r, 0, sizeof(r));
		rc = router_match(routes, nroutes, routes[i].method, path.ptr, &r, &out, &allow);
		if (rc || out != &routes[i])
			fail_msg("%s %s (as %s) reached %s %s", routes[i].method, routes[i].pattern,
				 path.ptr, out ? out->method : "nothing", out ? out->pattern : "");
		assert_non_null(routes[i].handler);
		assert_int_equal(r.nids, nparams);
		for (int k = 0; k < nparams; k++)
			assert_int_equal(r.ids[k], 11 + k);
		if (!strcmp(routes[i].method, "GET")) {
			memset(&r, 0, sizeof(r));
			rc = router_match(routes, nroutes, "HEAD", path.ptr, &r, &out, &allow);
			assert_int_equal(rc, 0);
			assert_ptr_equal(out, &routes[i]);
		}
		buf_release(&path);
	}
}

static void real_routes_answer_405_and_404(void **state)
{
	static const struct {
		const char *method, *path;
		int rc;
		const char *allow;
	} cases[] = {
		{"DELETE", "/api/v1/studies/3", CTMS_EMETHOD, "GET, PATCH"},
		{"PUT", "/api/v1/studies", CTMS_EMETHOD, "GET, POST"},
		{"GET", "/api/v1/studies/3/transition", CTMS_EMETHOD, "POST"},
		{"POST", "/api/v1/studies/3/summary", CTMS_EMETHOD, "GET"},
		{"DELETE", "/api/v1/audit", CTMS_EMETHOD, "GET"},
		{"POST", "/healthz", CTMS_EMETHOD, "GET"},
		{"DELETE", "/api/v1/subjects/8", CTMS_EMETHOD, "GET, PATCH"},
		{"GET", "/api/v1/nothing", CTMS_ENOTFOUND, NULL},
		{"GET", "/api/v1/studies/0", CTMS_ENOTFOUND, NULL},
		{"GET", "/api/v1/studies/abc", CTMS_ENOTFOUND, NULL},
		{"GET", "/api/v1/studies/3/", CTMS_ENOTFOUND, NULL},
		{"GET", "/api/v2/studies", CTMS_ENOTFOUND, NULL},
		{"GET", "/api/v1/studies/3/subjects/4", CTMS_ENOTFOUND, NULL},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct request r;
		const struct route *out;
		char *allow = NULL;
		int rc;

		memset(&r, 0, sizeof(r));
		rc = router_match(routes, nroutes, cases[i].method, cases[i].path, &r, &out, &allow);
		if (rc != cases[i].rc)
			fail_msg("%s %s gave %s, expected %s", cases[i].method, cases[i].path,
				 err_name(rc), err_name(cases[i].rc));
		if (cases[i].allow) {
			assert_non_null(allow);
			assert_string_equal(allow, cases[i].allow);
		} else {
			assert_null(allow);
		}
		free(allow);
	}
}

static void real_routes_pass_the_ids_and_the_record_kind(void **state)
{
	struct request r;
	const struct route *out;
	char *allow;
	const void *study_arg = NULL;
	(void)state;

	memset(&r, 0, sizeof(r));
	assert_int_equal(router_match(routes, nroutes, "GET", "/api/v1/studies/77", &r, &out, &allow), 0);
	assert_int_equal(r.nids, 1);
	assert_int_equal(r.ids[0], 77);
	assert_non_null(r.route_arg);
	study_arg = r.route_arg;

	memset(&r, 0, sizeof(r));
	assert_int_equal(
		router_match(routes, nroutes, "POST", "/api/v1/studies/77/transition", &r, &out, &allow), 0);
	assert_ptr_equal(r.route_arg, study_arg);

	memset(&r, 0, sizeof(r));
	assert_int_equal(
		router_match(routes, nroutes, "POST", "/api/v1/studies/5/subjects", &r, &out, &allow), 0);
	assert_int_equal(r.ids[0], 5);
	assert_ptr_not_equal(r.route_arg, study_arg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(matches_method_and_path),
		cmocka_unit_test(id_segments_take_positive_integers_only),
		cmocka_unit_test(unknown_paths_are_not_found),
		cmocka_unit_test(other_methods_get_405_with_the_allowed_ones),
		cmocka_unit_test(every_real_route_is_reachable),
		cmocka_unit_test(real_routes_answer_405_and_404),
		cmocka_unit_test(real_routes_pass_the_ids_and_the_record_kind),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
