#include "domain/site.h"

#include "db/db.h"
#include "domain/codes.h"
#include "util/json.h"

static const struct field_def fields[] = {
	FIELD_TEXT("name", F_REQUIRED | F_FILTER, 200),
	FIELD_TEXT("address", 0, 500),
	FIELD_TEXT("city", F_FILTER, 100),
	FIELD_TEXT("region", 0, 100),
	FIELD_TEXT("postal_code", 0, 20),
	FIELD_COUNTRY("country", F_REQUIRED | F_FILTER),
	FIELD_REF("organisation_id", 0, "organisations"),
	FIELD_REAL("latitude", 0, -90, 90),
	FIELD_REAL("longitude", 0, -180, 180),
};

static int find(struct db *db, const char *name, const char *country, int64_t not_id, int64_t *id,
		struct err *e)
{
	struct db_stmt *st;
	int rc = db_prepare(db, "SELECT id FROM sites WHERE name = $1 AND country = $2 AND id <> $3", &st);
	if (rc)
		return err_set(e, rc, "cannot read sites: %s", db_errmsg(db));
	db_bind_text(st, 1, name);
	db_bind_text(st, 2, country);
	db_bind_int(st, 3, not_id);
	rc = db_step(st);
	if (rc == 1) {
		*id = db_column_int(st, 0);
		db_done(st);
		return 0;
	}
	return rc == 0 ? CTMS_ENOTFOUND : err_set(e, rc, "cannot read sites: %s", db_errmsg(db));
}

/* One record per institution and country. */
static int check(struct db *db, const json_t *old, const json_t *rec, struct err *e)
{
	int64_t other = 0;
	int rc = find(db, json_str(rec, "name"), json_str(rec, "country"), json_int(rec, "id", 0),
		      &other, e);
	if (rc == 0) {
		err_set(e, CTMS_ECONFLICT, "a site with this name already exists in this country");
		return err_field(e, "name", "is already used by site %lld in %s", (long long)other,
				 json_str(rec, "country"));
	}
	return rc == CTMS_ENOTFOUND ? 0 : rc;
}

const struct entity_def site_def = {
	.name = "site",
	.table = "sites",
	.fields = fields,
	.nfields = NELEMS(fields),
	.check = check,
};

int site_find_or_create(struct db *db, const struct actor *a, const json_t *place, int64_t *id,
			struct err *e)
{
	static const char *const copied[] = {"city", "region", "postal_code", "latitude",
					     "longitude", NULL};
	const char *name = json_str(place, "name"), *country = json_str(place, "country");
	json_t *input, *v;
	int rc = find(db, name, country, 0, id, e);

	if (rc != CTMS_ENOTFOUND)
		return rc;
	input = json_pack("{s:s, s:s}", "name", name, "country", country);
	for (int i = 0; copied[i]; i++)
		if ((v = json_object_get(place, copied[i])) && !json_is_null(v))
			json_object_set(input, copied[i], v);
	rc = record_create_id(db, a, &site_def, 0, input, id, e);
	json_decref(input);
	return rc;
}
