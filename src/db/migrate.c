/* Numbered schema migrations. A migration is never edited once released: a
 * change to the schema is a new entry at the end of the list. */
#include "db/db.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "db/db_backend.h"
#include "util/buf.h"
#include "util/date.h"

/* Which stores run a fragment of a migration. */
enum dialect { ANY, SQLITE_ONLY, POSTGRES_ONLY };

/* A piece of a migration. ANY text is written in SQLite's dialect with
 * portable types and is translated by the backend (db_ops.schema_sql: on
 * PostgreSQL INTEGER becomes BIGINT, INTEGER PRIMARY KEY an identity
 * column); the others are run as written, on their store only. */
struct fragment {
	enum dialect dialect;
	const char *sql;
};

#define MAX_FRAGMENTS 8

struct migration {
	int version;
	const char *name;
	struct fragment parts[MAX_FRAGMENTS]; /* run in order; ends at a NULL sql */
};

/* Timestamps are INTEGER microseconds since the epoch (UTC); calendar dates
 * are TEXT YYYY-MM-DD; every record carries `version` for optimistic
 * concurrency. */
static const struct migration migrations[] = {
	{1, "core records and audit trail", {{ANY,
	 "CREATE TABLE audit_event ("
	 "  seq INTEGER PRIMARY KEY,"
	 "  at INTEGER NOT NULL,"
	 "  actor_id INTEGER NOT NULL,"
	 "  actor_name TEXT NOT NULL,"
	 "  entity TEXT NOT NULL,"
	 "  entity_id INTEGER NOT NULL,"
	 "  action TEXT NOT NULL,"
	 "  changes TEXT NOT NULL,"
	 "  reason TEXT,"
	 "  prev_hash TEXT NOT NULL,"
	 "  hash TEXT NOT NULL);"
	 "CREATE INDEX audit_event_entity ON audit_event(entity, entity_id, seq);"},
	 /* 21 CFR 11.10(e): the application never updates or deletes history. */
	 {SQLITE_ONLY,
	 "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event"
	 "  BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;"
	 "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event"
	 "  BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;"},
	 /* The same refusal on PostgreSQL, with TRUNCATE too; the SQLSTATE is an
	  * integrity violation (class 23), as RAISE(ABORT) is a constraint error
	  * on SQLite, so both stores answer CTMS_ECONFLICT. */
	 {POSTGRES_ONLY,
	 "CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$"
	 "  BEGIN RAISE EXCEPTION 'audit events are append-only'"
	 "    USING ERRCODE = 'restrict_violation'; END $$;"
	 "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event"
	 "  FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();"
	 "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event"
	 "  FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();"
	 "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event"
	 "  FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only();"},
	 {ANY,
	 /* The chain head: a truncated tail shows as a head the table no longer reaches. */
	 "CREATE TABLE audit_head (one INTEGER PRIMARY KEY CHECK (one = 1),"
	 "  seq INTEGER NOT NULL, hash TEXT NOT NULL);"
	 "CREATE TABLE organisations ("
	 "  id INTEGER PRIMARY KEY, version INTEGER NOT NULL DEFAULT 1,"
	 "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
	 "  name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, country TEXT);"
	 "CREATE TABLE sites ("
	 "  id INTEGER PRIMARY KEY, version INTEGER NOT NULL DEFAULT 1,"
	 "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
	 "  name TEXT NOT NULL, address TEXT, city TEXT, region TEXT, postal_code TEXT,"
	 "  country TEXT NOT NULL, organisation_id INTEGER REFERENCES organisations(id),"
	 "  UNIQUE (name, country));"
	 "CREATE TABLE studies ("
	 "  id INTEGER PRIMARY KEY, version INTEGER NOT NULL DEFAULT 1,"
	 "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
	 "  protocol_number TEXT NOT NULL UNIQUE, nct_id TEXT UNIQUE, title TEXT NOT NULL,"
	 "  acronym TEXT, phase TEXT NOT NULL, therapeutic_area TEXT,"
	 "  sponsor_id INTEGER REFERENCES organisations(id),"
	 "  target_enrollment INTEGER NOT NULL,"
	 "  planned_start_on TEXT, planned_end_on TEXT,"
	 "  status TEXT NOT NULL, status_reason TEXT,"
	 "  start_up_on TEXT, enrolling_on TEXT, follow_up_on TEXT,"
	 "  closed_on TEXT, terminated_on TEXT, withdrawn_on TEXT);"
	 "CREATE TABLE protocol_versions ("
	 "  id INTEGER PRIMARY KEY, version INTEGER NOT NULL DEFAULT 1,"
	 "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
	 "  study_id INTEGER NOT NULL REFERENCES studies(id),"
	 "  number TEXT NOT NULL, version_date TEXT NOT NULL, summary TEXT,"
	 "  status TEXT NOT NULL, status_reason TEXT,"
	 "  approved_on TEXT, rejected_on TEXT,"
	 "  UNIQUE (study_id, number));"
	 "CREATE TABLE study_sites ("
	 "  id INTEGER PRIMARY KEY, version INTEGER NOT NULL DEFAULT 1,"
	 "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
	 "  study_id INTEGER NOT NULL REFERENCES studies(id),"
	 "  site_id INTEGER NOT NULL REFERENCES sites(id),"
	 "  site_number TEXT NOT NULL, investigator_name TEXT NOT NULL,"
	 "  country TEXT NOT NULL, time_zone TEXT NOT NULL,"
	 "  target_enrollment INTEGER, planned_activation_on TEXT,"
	 "  status TEXT NOT NULL, status_reason TEXT,"
	 "  identified_on TEXT, feasibility_on TEXT, selected_on TEXT, approved_on TEXT,"
	 "  contracted_on TEXT, initiated_on TEXT, activated_on TEXT, enrolling_on TEXT,"
	 "  closed_on TEXT,"
	 "  UNIQUE (study_id, site_number));"
	 "CREATE INDEX study_sites_site ON study_sites(site_id);"
	 "CREATE TABLE subjects ("
	 "  id INTEGER PRIMARY KEY, version INTEGER NOT NULL DEFAULT 1,"
	 "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
	 "  study_id INTEGER NOT NULL REFERENCES studies(id),"
	 "  study_site_id INTEGER NOT NULL REFERENCES study_sites(id),"
	 "  screening_number TEXT NOT NULL, subject_number TEXT,"
	 "  sex TEXT NOT NULL, race TEXT, ethnicity TEXT, age INTEGER NOT NULL,"
	 "  consented_on TEXT, consent_version TEXT,"
	 "  status TEXT NOT NULL, status_reason TEXT,"
	 "  screened_on TEXT NOT NULL, screen_failed_on TEXT, screen_failure_reason TEXT,"
	 "  enrolled_on TEXT, completed_on TEXT, withdrawn_on TEXT, withdrawal_reason TEXT,"
	 "  UNIQUE (study_id, screening_number));"
	 "CREATE INDEX subjects_site ON subjects(study_site_id, status);"
	 "CREATE INDEX subjects_study_status ON subjects(study_id, status);"
	 "CREATE TABLE milestones ("
	 "  id INTEGER PRIMARY KEY, version INTEGER NOT NULL DEFAULT 1,"
	 "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
	 "  study_id INTEGER NOT NULL REFERENCES studies(id),"
	 "  study_site_id INTEGER REFERENCES study_sites(id),"
	 "  name TEXT NOT NULL, kind TEXT NOT NULL,"
	 "  baseline_on TEXT, planned_on TEXT, actual_on TEXT, notes TEXT);"
	 "CREATE INDEX milestones_study ON milestones(study_id, study_site_id);"
	 /* Idempotency-Key replays (DESIGN.md): kept in the store so any server
	  * of several answers a retry the same way. */
	 "CREATE TABLE idempotency_keys ("
	 "  key TEXT NOT NULL, actor_id INTEGER NOT NULL, request_hash TEXT NOT NULL,"
	 "  status INTEGER NOT NULL, location TEXT, body TEXT NOT NULL,"
	 "  created_at INTEGER NOT NULL, PRIMARY KEY (key, actor_id));"}}},
	{2, "visit schedule and subject visits", {{ANY,
	 /* The protocol's schedule of visits (CDISC SDTM TV): planned study day
	  * relative to day 1, the day of enrollment, and the window around it. */
	 "CREATE TABLE visit_definitions ("
	 "  id INTEGER PRIMARY KEY, version INTEGER NOT NULL DEFAULT 1,"
	 "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
	 "  study_id INTEGER NOT NULL REFERENCES studies(id),"
	 "  number TEXT NOT NULL, name TEXT NOT NULL, planned_day INTEGER,"
	 "  window_before INTEGER NOT NULL DEFAULT 0, window_after INTEGER NOT NULL DEFAULT 0,"
	 "  kind TEXT NOT NULL,"
	 "  UNIQUE (study_id, number));"
	 /* Visits that happened (CDISC SDTM SV). */
	 "CREATE TABLE subject_visits ("
	 "  id INTEGER PRIMARY KEY, version INTEGER NOT NULL DEFAULT 1,"
	 "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
	 "  study_id INTEGER NOT NULL REFERENCES studies(id),"
	 "  subject_id INTEGER NOT NULL REFERENCES subjects(id),"
	 "  visit_definition_id INTEGER REFERENCES visit_definitions(id),"
	 "  name TEXT NOT NULL, visit_on TEXT NOT NULL, end_on TEXT, kind TEXT NOT NULL,"
	 "  notes TEXT);"
	 "CREATE INDEX subject_visits_subject ON subject_visits(subject_id, visit_on);"
	 "CREATE INDEX subject_visits_study ON subject_visits(study_id, visit_on);"
	 "CREATE UNIQUE INDEX subject_visits_scheduled ON subject_visits(subject_id, visit_definition_id);"
	 "CREATE INDEX idempotency_keys_age ON idempotency_keys(created_at);"}}},
	{3, "enrollment plans and diversity goals", {{ANY,
	 /* Planned cumulative enrollment by date, for the study, one country
	  * (country set) or one study-site (study_site_id set); one point per
	  * scope and date. */
	 "CREATE TABLE enrollment_plan_points ("
	 "  id INTEGER PRIMARY KEY, version INTEGER NOT NULL DEFAULT 1,"
	 "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
	 "  study_id INTEGER NOT NULL REFERENCES studies(id),"
	 "  study_site_id INTEGER REFERENCES study_sites(id),"
	 "  country TEXT,"
	 "  planned_on TEXT NOT NULL, target_cumulative INTEGER NOT NULL, notes TEXT,"
	 "  CHECK (study_site_id IS NULL OR country IS NULL));"
	 "CREATE UNIQUE INDEX enrollment_plan_points_scope ON enrollment_plan_points("
	 "  study_id, coalesce(study_site_id, 0), coalesce(country, ''), planned_on);"
	 /* Enrollment goals by sex, race, ethnicity or age band (FDORA 2022):
	  * a count or a percentage of the study's target, one per category. */
	 "CREATE TABLE diversity_goals ("
	 "  id INTEGER PRIMARY KEY, version INTEGER NOT NULL DEFAULT 1,"
	 "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
	 "  study_id INTEGER NOT NULL REFERENCES studies(id),"
	 "  dimension TEXT NOT NULL, category TEXT NOT NULL,"
	 "  goal_count INTEGER, goal_percent INTEGER, notes TEXT,"
	 "  CHECK ((goal_count IS NULL) <> (goal_percent IS NULL)),"
	 "  UNIQUE (study_id, dimension, category));"}}},
	{4, "accounts, grants, sessions, tokens and signatures", {{ANY,
	 /* Users (21 CFR 11.300: unique ids). password_hash is libsodium's
	  * argon2id string; totp_secret the RFC 6238 key in base32. */
	 "CREATE TABLE users ("
	 "  id INTEGER PRIMARY KEY, version INTEGER NOT NULL DEFAULT 1,"
	 "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
	 "  username TEXT NOT NULL UNIQUE, display_name TEXT NOT NULL, email TEXT,"
	 "  status TEXT NOT NULL, password_hash TEXT NOT NULL,"
	 "  password_changed_at INTEGER NOT NULL, totp_secret TEXT, totp_last_step INTEGER,"
	 "  failed_logins INTEGER NOT NULL DEFAULT 0, locked_until INTEGER);"
	 /* A role granted globally (no study), for a study, or for one
	  * study-site (study_id is then the study-site's study). */
	 "CREATE TABLE grants ("
	 "  id INTEGER PRIMARY KEY, version INTEGER NOT NULL DEFAULT 1,"
	 "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
	 "  user_id INTEGER NOT NULL REFERENCES users(id), role TEXT NOT NULL,"
	 "  study_id INTEGER REFERENCES studies(id),"
	 "  study_site_id INTEGER REFERENCES study_sites(id),"
	 "  unblinded INTEGER NOT NULL DEFAULT 0, revoked_at INTEGER);"
	 "CREATE INDEX grants_user ON grants(user_id);"
	 /* Sessions and API tokens are kept as SHA-256 of the secret the client
	  * holds, so a copy of the store signs no one in. */
	 "CREATE TABLE sessions ("
	 "  id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id),"
	 "  token_hash TEXT NOT NULL UNIQUE, csrf_hash TEXT NOT NULL,"
	 "  created_at INTEGER NOT NULL, last_seen_at INTEGER NOT NULL,"
	 "  expires_at INTEGER NOT NULL, signed INTEGER NOT NULL DEFAULT 0, ended_at INTEGER);"
	 "CREATE TABLE api_tokens ("
	 "  id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id),"
	 "  name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,"
	 "  created_at INTEGER NOT NULL, expires_at INTEGER, revoked_at INTEGER,"
	 "  last_used_at INTEGER);"
	 "CREATE INDEX api_tokens_user ON api_tokens(user_id);"
	 /* Electronic signatures (11.50, 11.70): the manifestation and the
	  * SHA-256 of the signed content of one version of a record. */
	 "CREATE TABLE signatures ("
	 "  id INTEGER PRIMARY KEY, created_at INTEGER NOT NULL,"
	 "  entity TEXT NOT NULL, entity_id INTEGER NOT NULL, record_version INTEGER NOT NULL,"
	 "  meaning TEXT NOT NULL, signer_id INTEGER NOT NULL REFERENCES users(id),"
	 "  signer_name TEXT NOT NULL, content_hash TEXT NOT NULL, reason TEXT);"
	 "CREATE INDEX signatures_record ON signatures(entity, entity_id);"
	 "CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL,"
	 "  updated_at INTEGER NOT NULL);"
	 /* The randomised arm, shown only to unblinded roles. */
	 "ALTER TABLE subjects ADD COLUMN arm TEXT;"},
	 /* Signatures, like audit events, are never changed or removed. */
	 {SQLITE_ONLY,
	 "CREATE TRIGGER signatures_no_update BEFORE UPDATE ON signatures"
	 "  BEGIN SELECT RAISE(ABORT, 'signatures are append-only'); END;"
	 "CREATE TRIGGER signatures_no_delete BEFORE DELETE ON signatures"
	 "  BEGIN SELECT RAISE(ABORT, 'signatures are append-only'); END;"},
	 {POSTGRES_ONLY,
	 "CREATE TRIGGER signatures_no_update BEFORE UPDATE ON signatures"
	 "  FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();"
	 "CREATE TRIGGER signatures_no_delete BEFORE DELETE ON signatures"
	 "  FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();"}}},
	{5, "adverse events and exposure", {{ANY,
	 /* Adverse events (CDISC SDTM AE). Dates are ISO 8601 text and may be
	  * partial (YYYY or YYYY-MM) as the source has them; the Y/N flags are
	  * SDTM's own (AESER and the seriousness criteria). */
	 "CREATE TABLE adverse_events ("
	 "  id INTEGER PRIMARY KEY, version INTEGER NOT NULL DEFAULT 1,"
	 "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
	 "  study_id INTEGER NOT NULL REFERENCES studies(id),"
	 "  subject_id INTEGER NOT NULL REFERENCES subjects(id),"
	 "  sequence_number INTEGER NOT NULL,"
	 "  term TEXT NOT NULL, decoded_term TEXT, body_system TEXT,"
	 "  onset_on TEXT, end_on TEXT, onset_before_screening_reason TEXT,"
	 "  severity TEXT, serious TEXT NOT NULL,"
	 "  results_in_death TEXT, life_threatening TEXT, hospitalisation TEXT,"
	 "  disability TEXT, congenital_anomaly TEXT, medically_important TEXT,"
	 "  cancer TEXT, overdose TEXT,"
	 "  relationship TEXT, action_taken TEXT, outcome TEXT,"
	 "  UNIQUE (subject_id, sequence_number));"
	 "CREATE INDEX adverse_events_study ON adverse_events(study_id, serious);"
	 /* Exposure to study treatment (CDISC SDTM EX). */
	 "CREATE TABLE exposures ("
	 "  id INTEGER PRIMARY KEY, version INTEGER NOT NULL DEFAULT 1,"
	 "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
	 "  study_id INTEGER NOT NULL REFERENCES studies(id),"
	 "  subject_id INTEGER NOT NULL REFERENCES subjects(id),"
	 "  sequence_number INTEGER NOT NULL,"
	 "  treatment TEXT, dose TEXT, dose_unit TEXT, dose_form TEXT, dose_frequency TEXT,"
	 "  route TEXT, start_on TEXT NOT NULL, end_on TEXT,"
	 "  UNIQUE (subject_id, sequence_number));"
	 "CREATE INDEX exposures_study ON exposures(study_id);"}}},
	{6, "subject pages by study", {{ANY,
	 /* A study's subject list pages by id (WHERE study_id = $1 AND id > $2
	  * ORDER BY id): without this index PostgreSQL's generic plan walks
	  * every subject of every study in id order. */
	 "CREATE INDEX subjects_study_id ON subjects(study_id, id);"}}},
	{7, "registration data", {{ANY,
	 /* What a ClinicalTrials.gov record says of a study beyond its
	  * identity: the registry's status and date types, the design, the
	  * conditions, collaborators and arms (lists kept as JSON text), the
	  * eligibility summary; and where a site is on the map (decimal
	  * degrees as text, so both stores keep the digits as given). */
	 "ALTER TABLE studies ADD COLUMN registry_status TEXT;"
	 "ALTER TABLE studies ADD COLUMN why_stopped TEXT;"
	 "ALTER TABLE studies ADD COLUMN start_date_type TEXT;"
	 "ALTER TABLE studies ADD COLUMN completion_date_type TEXT;"
	 "ALTER TABLE studies ADD COLUMN target_enrollment_type TEXT;"
	 "ALTER TABLE studies ADD COLUMN study_type TEXT;"
	 "ALTER TABLE studies ADD COLUMN allocation TEXT;"
	 "ALTER TABLE studies ADD COLUMN intervention_model TEXT;"
	 "ALTER TABLE studies ADD COLUMN observational_model TEXT;"
	 "ALTER TABLE studies ADD COLUMN masking TEXT;"
	 "ALTER TABLE studies ADD COLUMN primary_purpose TEXT;"
	 "ALTER TABLE studies ADD COLUMN conditions TEXT;"
	 "ALTER TABLE studies ADD COLUMN collaborators TEXT;"
	 "ALTER TABLE studies ADD COLUMN arms TEXT;"
	 "ALTER TABLE studies ADD COLUMN eligibility_sex TEXT;"
	 "ALTER TABLE studies ADD COLUMN eligibility_minimum_age TEXT;"
	 "ALTER TABLE studies ADD COLUMN eligibility_maximum_age TEXT;"
	 "ALTER TABLE studies ADD COLUMN healthy_volunteers INTEGER;"
	 "ALTER TABLE studies ADD COLUMN eligibility_criteria TEXT;"
	 "ALTER TABLE sites ADD COLUMN latitude TEXT;"
	 "ALTER TABLE sites ADD COLUMN longitude TEXT;"}}},
};

#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

int db_latest_schema_version(void)
{
	return migrations[NMIGRATIONS - 1].version;
}

/* The text of a migration for db's store: its fragments in order. */
static char *migration_sql(struct db *db, const struct migration *m)
{
	enum dialect mine = db_is_postgres(db) ? POSTGRES_ONLY : SQLITE_ONLY;
	struct buf b;

	buf_init(&b, SIZE_MAX / 2);
	for (int i = 0; i < MAX_FRAGMENTS && m->parts[i].sql; i++) {
		const struct fragment *f = &m->parts[i];
		if (f->dialect == ANY) {
			char *text = db->ops->schema_sql(f->sql);
			buf_puts(&b, text);
			free(text);
		} else if (f->dialect == mine) {
			buf_puts(&b, f->sql);
		}
	}
	return buf_detach(&b);
}

static int exec_portable(struct db *db, const char *sql, struct err *e)
{
	char *text = db->ops->schema_sql(sql);
	int rc = db_exec(db, text, e);
	free(text);
	return rc;
}

int db_schema_version(struct db *db, int *version)
{
	struct db_stmt *st;
	int64_t v = 0, exists = 0;
	int rc = db_prepare(db, db->ops->table_exists_sql, &st);

	if (rc)
		return rc;
	db_bind_text(st, 1, "schema_migrations");
	rc = db_step(st);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		exists = db_column_int(st, 0);
		db_done(st);
	}
	if (exists) {
		rc = db_query_int(db, "SELECT coalesce(max(version), 0) FROM schema_migrations", &v, 0);
		if (rc)
			return rc;
	}
	*version = (int)v;
	return 0;
}

/* Migrations run in one write transaction, so two `ctms init` at once apply
 * each migration once (and on PostgreSQL, whose DDL is transactional, a
 * failed migration leaves nothing behind). */
int db_migrate(struct db *db, struct err *e)
{
	int current, rc;

	rc = db_begin(db);
	if (rc)
		return err_set(e, rc, "cannot lock the database for migration: %s", db_errmsg(db));
	rc = exec_portable(db,
			   "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
			   " name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
			   e);
	if (rc)
		goto fail;
	rc = db_schema_version(db, &current);
	if (rc) {
		err_set(e, rc, "cannot read the schema version: %s", db_errmsg(db));
		goto fail;
	}
	if (current > db_latest_schema_version()) {
		rc = err_set(e, CTMS_ESCHEMA,
			     "the database is at schema version %d, newer than this ctms (%d); "
			     "use a newer ctms",
			     current, db_latest_schema_version());
		goto fail;
	}
	for (int i = 0; i < NMIGRATIONS; i++) {
		const struct migration *m = &migrations[i];
		struct db_stmt *st;
		if (m->version <= current)
			continue;
		char *sql = migration_sql(db, m);
		rc = db_exec(db, sql, e);
		free(sql);
		if (rc)
			goto fail;
		rc = db_prepare(db,
				"INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
				&st);
		if (!rc) {
			db_bind_int(st, 1, m->version);
			db_bind_text(st, 2, m->name);
			db_bind_int(st, 3, now_us());
			rc = db_step(st);
		}
		if (rc < 0) {
			err_set(e, rc, "cannot record migration %d: %s", m->version, db_errmsg(db));
			goto fail;
		}
	}
	rc = db_commit(db);
	if (rc)
		err_set(e, rc, "cannot commit the migration: %s", db_errmsg(db));
	return rc;
fail:
	db_rollback(db);
	return rc;
}

/* The tables the application may only append to and read. */
static const char *const append_only[] = {"audit_event", "signatures"};

static bool plain_identifier(const char *s)
{
	if (!s || !*s || strlen(s) > 63 || !(islower((unsigned char)*s) || *s == '_'))
		return false;
	for (; *s; s++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_'))
			return false;
	return true;
}

int db_grant_app_role(struct db *db, const char *role, struct err *e)
{
	struct buf sql;
	int rc;

	if (!db_is_postgres(db))
		return err_set(e, CTMS_EINVAL,
			       "an application role is a PostgreSQL setting; a SQLite file has no roles");
	if (!plain_identifier(role))
		return err_set(e, CTMS_EINVAL,
			       "the application role must be a lower-case identifier (a-z, 0-9, _), "
			       "not \"%s\"", role ? role : "");
	buf_init(&sql, 1 << 16);
	/* The schema the tables live in is the connection's current one. */
	buf_printf(&sql,
		   "DO $grant$ DECLARE s text := current_schema(); BEGIN"
		   " EXECUTE format('GRANT USAGE ON SCHEMA %%I TO %s', s);"
		   " EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %%I TO %s', s);"
		   " EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %%I TO %s', s);",
		   role, role, role);
	for (size_t i = 0; i < sizeof(append_only) / sizeof(append_only[0]); i++)
		buf_printf(&sql, " EXECUTE 'REVOKE UPDATE, DELETE, TRUNCATE ON %s FROM %s';",
			   append_only[i], role);
	buf_printf(&sql, " END $grant$;");
	rc = db_begin(db);
	if (rc) {
		buf_release(&sql);
		return err_set(e, rc, "cannot lock the database: %s", db_errmsg(db));
	}
	rc = db_exec(db, sql.ptr, e);
	buf_release(&sql);
	if (rc) {
		db_rollback(db);
		return rc;
	}
	rc = db_commit(db);
	return rc ? err_set(e, rc, "cannot grant to %s: %s", role, db_errmsg(db)) : 0;
}
