#include "domain/visit.h"

#include <string.h>

#include "db/db.h"
#include "domain/study.h"
#include "domain/subject.h"
#include "util/date.h"
#include "util/json.h"

static const char *const kinds[] = {"in_person", "remote", "phone", NULL};

static const struct field_def definition_fields[] = {
	FIELD_REF("study_id", F_SERVER, "studies"),
	FIELD_TEXT("number", F_REQUIRED | F_IMMUTABLE | F_UNIQUE | F_FILTER, 16),
	FIELD_TEXT("name", F_REQUIRED, 200),
	FIELD_INT("planned_day", 0, -3650, 3650),
	FIELD_INT("window_before", 0, 0, 365),
	FIELD_INT("window_after", 0, 0, 365),
	FIELD_ENUM("kind", F_FILTER, kinds),
};

int32_t visit_planned_day(int32_t enrolled, int64_t day)
{
	return (int32_t)(day >= 1 ? enrolled + day - 1 : enrolled + day);
}

static int definition_prepare(struct db *db, const struct actor *a, json_t *values, struct err *e)
{
	if (!json_object_get(values, "kind"))
		json_object_set_new(values, "kind", json_string("in_person"));
	if (!json_object_get(values, "window_before"))
		json_object_set_new(values, "window_before", json_integer(0));
	if (!json_object_get(values, "window_after"))
		json_object_set_new(values, "window_after", json_integer(0));
	return 0;
}

static int definition_check(struct db *db, const json_t *old, const json_t *rec, struct err *e)
{
	json_t *day = json_object_get(rec, "planned_day");
	if (json_is_integer(day) && json_integer_value(day) == 0)
		return err_field(e, "planned_day",
				 "cannot be 0: day 1 is the day of enrollment and the day before it is -1");
	static const char *const not_null[] = {"window_before", "window_after", "kind"};
	for (size_t i = 0; i < NELEMS(not_null); i++)
		if (json_is_null(json_object_get(rec, not_null[i])))
			err_field(e, not_null[i], "cannot be null");
	return e->code;
}

const struct entity_def visit_definition_def = {
	.name = "visit_definition",
	.table = "visit_definitions",
	.parent_field = "study_id",
	.parent_table = "studies",
	.parent_def = &study_def,
	.fields = definition_fields,
	.nfields = NELEMS(definition_fields),
	.prepare = definition_prepare,
	.check = definition_check,
};

static const struct field_def visit_fields[] = {
	FIELD_REF("study_id", F_SERVER, "studies"),
	FIELD_REF("subject_id", F_SERVER, "subjects"),
	FIELD_TEXT("visit_number", F_VIRTUAL, 16),
	FIELD_REF("visit_definition_id", F_SERVER | F_FILTER, "visit_definitions"),
	/* optional (a scheduled visit takes its definition's), never empty */
	{.name = "name", .type = FT_TEXT, .min = 1, .max = 200},
	FIELD_DATE("visit_on", F_REQUIRED),
	FIELD_DATE("end_on", 0),
	FIELD_ENUM("kind", F_FILTER, kinds),
	FIELD_TEXT("notes", 0, 2000),
};

/* A scheduled visit names its definition by number; an unscheduled one
 * needs a name. Name and kind default to the definition's. */
static int visit_prepare(struct db *db, const struct actor *a, json_t *values, struct err *e)
{
	const char *number = json_str(values, "visit_number");
	struct db_stmt *st;
	int64_t study_id = 0;
	int rc;

	/* study_site_id is not a column: the scope the access rules check the
	 * new visit in. */
	int64_t study_site_id = 0;
	rc = db_prepare(db, "SELECT study_id, study_site_id FROM subjects WHERE id = $1", &st);
	if (rc)
		return err_set(e, rc, "cannot read the subject: %s", db_errmsg(db));
	db_bind_int(st, 1, json_int(values, "subject_id", 0));
	rc = db_step(st);
	if (rc != 1)
		return err_set(e, rc ? rc : CTMS_ENOTFOUND, "cannot read the subject: %s", db_errmsg(db));
	study_id = db_column_int(st, 0);
	study_site_id = db_column_int(st, 1);
	db_done(st);
	json_object_set_new(values, "study_id", json_integer(study_id));
	json_object_set_new(values, "study_site_id", json_integer(study_site_id));
	if (!number) {
		if (!json_str(values, "name"))
			err_field(e, "name", "is required for an unscheduled visit (one without visit_number)");
		if (!json_object_get(values, "kind"))
			json_object_set_new(values, "kind", json_string("in_person"));
		return e->code;
	}
	rc = db_prepare(db,
			"SELECT id, name, kind FROM visit_definitions WHERE study_id = $1 AND number = $2",
			&st);
	if (rc)
		return err_set(e, rc, "cannot read the visit schedule: %s", db_errmsg(db));
	db_bind_int(st, 1, study_id);
	db_bind_text(st, 2, number);
	rc = db_step(st);
	if (rc < 0)
		return err_set(e, rc, "cannot read the visit schedule: %s", db_errmsg(db));
	if (rc == 0)
		return err_field(e, "visit_number", "names no visit of this study's schedule");
	json_object_set_new(values, "visit_definition_id", json_integer(db_column_int(st, 0)));
	if (!json_str(values, "name"))
		json_object_set_new(values, "name", json_string(db_column_text(st, 1)));
	if (!json_object_get(values, "kind"))
		json_object_set_new(values, "kind", json_string(db_column_text(st, 2)));
	db_done(st);
	return 0;
}

static int visit_check(struct db *db, const json_t *old, const json_t *rec, struct err *e)
{
	const char *on = json_str(rec, "visit_on"), *end = json_str(rec, "end_on");
	int64_t definition = json_int(rec, "visit_definition_id", 0);
	struct db_stmt *st;
	int32_t day;
	int rc;

	if (!json_str(rec, "name"))
		err_field(e, "name", "cannot be null");
	if (json_is_null(json_object_get(rec, "kind")))
		err_field(e, "kind", "cannot be null");
	if (on && !date_parse(on, &day) && day > date_latest_today())
		err_field(e, "visit_on", "is in the future; record a visit once it has happened");
	if (on && end && strcmp(end, on) < 0)
		err_field(e, "end_on", "is before visit_on (%s)", on);
	rc = db_prepare(db, "SELECT screened_on FROM subjects WHERE id = $1", &st);
	if (rc)
		return err_set(e, rc, "cannot read the subject: %s", db_errmsg(db));
	db_bind_int(st, 1, json_int(rec, "subject_id", 0));
	if (db_step(st) == 1) {
		if (on && strcmp(on, db_column_text(st, 0)) < 0)
			err_field(e, "visit_on", "is before the subject's screening on %s",
				  db_column_text(st, 0));
		db_done(st);
	}
	if (definition) {
		int64_t other = 0;
		rc = db_query_int(db,
				  "SELECT id FROM subject_visits WHERE subject_id = $1 AND"
				  " visit_definition_id = $2 AND id <> $3",
				  &other, 3, json_int(rec, "subject_id", 0), definition,
				  json_int(rec, "id", 0));
		if (rc == 0) {
			err_set(e, CTMS_ECONFLICT, "this scheduled visit is already recorded");
			err_field(e, "visit_number", "is already recorded for this subject (visit %lld)",
				  (long long)other);
		} else if (rc != CTMS_ENOTFOUND) {
			return err_set(e, rc, "cannot read visits: %s", db_errmsg(db));
		}
	}
	return e->code;
}

/* planned_on, window_from, window_to and in_window, from the subject's
 * enrollment and the schedule; null where either is missing. */
static void visit_render(struct db *db, json_t *rec)
{
	struct db_stmt *st;
	json_t *planned = json_null(), *from = json_null(), *to = json_null(), *in = json_null();

	if (!db_prepare(db,
			"SELECT s.enrolled_on, vd.planned_day, vd.window_before, vd.window_after"
			" FROM subjects s JOIN visit_definitions vd ON vd.id = $2 WHERE s.id = $1",
			&st)) {
		db_bind_int(st, 1, json_int(rec, "subject_id", 0));
		db_bind_int(st, 2, json_int(rec, "visit_definition_id", 0));
		int32_t enrolled, on;
		if (db_step(st) == 1) {
			if (db_column_text(st, 0) && db_column_type(st, 1) != DB_NULL &&
			    !date_parse(db_column_text(st, 0), &enrolled) &&
			    !date_parse(json_str(rec, "visit_on"), &on)) {
				int32_t p = visit_planned_day(enrolled, db_column_int(st, 1));
				int32_t lo = p - (int32_t)db_column_int(st, 2);
				int32_t hi = p + (int32_t)db_column_int(st, 3);
				char text[DATE_LEN];
				date_format(p, text);
				json_decref(planned);
				planned = json_string(text);
				date_format(lo, text);
				json_decref(from);
				from = json_string(text);
				date_format(hi, text);
				json_decref(to);
				to = json_string(text);
				json_decref(in);
				in = json_boolean(on >= lo && on <= hi);
			}
			db_done(st);
		}
	}
	json_object_set_new(rec, "planned_on", planned);
	json_object_set_new(rec, "window_from", from);
	json_object_set_new(rec, "window_to", to);
	json_object_set_new(rec, "in_window", in);
}

const struct entity_def subject_visit_def = {
	.name = "subject_visit",
	.table = "subject_visits",
	.parent_field = "subject_id",
	.parent_table = "subjects",
	.parent_def = &subject_def,
	.fields = visit_fields,
	.nfields = NELEMS(visit_fields),
	.join = "JOIN subjects sj ON sj.id = t.subject_id"
		" LEFT JOIN visit_definitions vd ON vd.id = t.visit_definition_id",
	.join_columns = "vd.number AS visit_number, sj.study_site_id AS study_site_id",
	.prepare = visit_prepare,
	.check = visit_check,
	.render = visit_render,
};
