/* Sites, the institutions shared by studies (src/domain/site.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "domain/actor.h"
#include "domain/site.h"
#include "support.h"
#include "util/json.h"

static int create(struct db *db, json_t *in, json_t **out, struct err *e)
{
	int rc = record_create(db, actor_system(), &site_def, 0, in, out, e);
	json_decref(in);
	return rc;
}

static void one_site_per_name_and_country(void **state)
{
	struct db *db = *state;
	struct err e = {0};
	json_t *out = NULL;
	int64_t events, first;

	assert_int_equal(create(db, json_pack("{s:s, s:s, s:s}", "name", "St Mary", "country", "GB",
					      "city", "London"),
				&out, &e),
			 0);
	first = json_int(out, "id", 0);
	json_decref(out);
	events = test_audit_count(db);
	assert_int_equal(create(db, json_pack("{s:s, s:s}", "name", "St Mary", "country", "GB"), &out, &e),
			 CTMS_ECONFLICT);
	assert_true(test_err_names(&e, "name"));
	assert_null(out);
	assert_int_equal(test_audit_count(db), events);
	err_release(&e);
	e = (struct err){0};
	/* the same name in another country is another site */
	assert_int_equal(create(db, json_pack("{s:s, s:s}", "name", "St Mary", "country", "IE"), &out, &e),
			 0);
	int64_t second = json_int(out, "id", 0);
	json_decref(out);
	/* renaming onto an existing site conflicts too */
	assert_int_equal(test_patch(db, &site_def, second, json_pack("{s:s}", "country", "GB"), &e),
			 CTMS_ECONFLICT);
	assert_true(test_err_names(&e, "name"));
	err_release(&e);
	e = (struct err){0};
	/* and a patch that keeps the site's own name is no conflict with itself */
	assert_int_equal(test_patch(db, &site_def, first, json_pack("{s:s, s:s}", "name", "St Mary",
								   "postal_code", "W2 1NY"),
				    &e),
			 0);
	err_release(&e);
}

static void refuses_bad_sites(void **state)
{
	static const char *const bad[] = {
		"{\"country\":\"FR\"}",
		"{\"name\":\"Clinic\"}",
		"{\"name\":\"Clinic\",\"country\":\"France\"}",
		"{\"name\":\"Clinic\",\"country\":\"FR\",\"organisation_id\":5}",
		"{\"name\":\"Clinic\",\"country\":\"FR\",\"postal_code\":\"123456789012345678901\"}",
		"{\"name\":\"Clinic\",\"country\":\"FR\",\"phone\":\"+33\"}",
	};
	struct db *db = *state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct err e = {0};
		json_t *out = NULL;
		int rc = create(db, json_loads(bad[i], 0, NULL), &out, &e);
		if (rc != CTMS_EINVAL || !e.fields)
			fail_msg("%s gave %s", bad[i], err_name(rc));
		assert_null(out);
		assert_int_equal(test_audit_count(db), 0);
		err_release(&e);
	}
}

/* A place for site_find_or_create (city may be NULL); caller releases. */
static json_t *place(const char *name, const char *city, const char *country)
{
	return json_pack("{s:s, s:s?, s:s}", "name", name, "city", city, "country", country);
}

static void find_or_create_reuses_a_site(void **state)
{
	struct db *db = *state;
	struct err e = {0};
	int64_t a = 0, b = 0, c = 0, events;
	json_t *rochester = place("Mayo Clinic", "Rochester", "US");
	json_t *anywhere = place("Mayo Clinic", NULL, "US");
	json_t *canada = place("Mayo Clinic", NULL, "CA");

	json_object_set_new(rochester, "latitude", json_real(44.02163));
	json_object_set_new(rochester, "longitude", json_real(-92.4699));
	json_object_set_new(rochester, "region", json_string("Minnesota"));
	assert_int_equal(site_find_or_create(db, actor_system(), rochester, &a, &e), 0);
	assert_true(a > 0);
	assert_int_equal(test_audit_count(db), 1);
	events = test_audit_count(db);
	assert_int_equal(site_find_or_create(db, actor_system(), anywhere, &b, &e), 0);
	assert_int_equal(b, a);
	assert_int_equal(test_audit_count(db), events);
	assert_int_equal(site_find_or_create(db, actor_system(), canada, &c, &e), 0);
	assert_true(c != a);
	json_decref(rochester);
	json_decref(anywhere);
	json_decref(canada);
	err_release(&e);
}

/* Decimal degrees come back as the numbers given; out of range is refused. */
static void keeps_the_geo_point(void **state)
{
	struct db *db = *state;
	struct err e = {0};
	json_t *out = NULL;

	assert_int_equal(create(db, json_pack("{s:s, s:s, s:f, s:f}", "name", "Charité", "country",
					      "DE", "latitude", 52.52437, "longitude", 13.41053),
				&out, &e),
			 0);
	assert_true(json_is_real(json_object_get(out, "latitude")));
	assert_true(json_real_value(json_object_get(out, "latitude")) == 52.52437);
	assert_true(json_real_value(json_object_get(out, "longitude")) == 13.41053);
	json_decref(out);
	out = NULL;
	assert_int_equal(create(db, json_pack("{s:s, s:s, s:f}", "name", "Nowhere", "country", "DE",
					      "latitude", 91.0),
				&out, &e),
			 CTMS_EINVAL);
	assert_null(out);
	err_release(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(one_site_per_name_and_country, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(refuses_bad_sites, test_db_setup, test_db_teardown),
		cmocka_unit_test_setup_teardown(find_or_create_reuses_a_site, test_db_setup,
						test_db_teardown),
		cmocka_unit_test_setup_teardown(keeps_the_geo_point, test_db_setup, test_db_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
