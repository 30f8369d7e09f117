/* The subjects of an ODM import and their visits (odm.h for the mapping). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db/db.h"
#include "domain/access.h"
#include "domain/codes.h"
#include "domain/subject.h"
#include "domain/visit.h"
#include "io/odm_internal.h"
#include "util/json.h"

/* One subject as planned: the input of a new one (NULL when it exists)
 * and the visits to write. */
struct plan {
	const json_t *source; /* the parsed SubjectData */
	const char *key;
	json_int_t line;
	json_t *input;
	int64_t id;
	json_t *visits; /* [{"input", "line", "reason"?}] */
	char reason[1000]; /* the source's audit record of the subject, or "" */
};

/* The source's AuditRecord of a subject or event, as the reason of the
 * ctms audit event that creates its record: who, where and when the
 * source system says it was entered. "" when it has none. */
static void source_audit(const json_t *audit, char *out, size_t len)
{
	static const char *const parts[][2] = {
		{"user", "user"}, {"location", "location"}, {"stamp", "at"},
		{"reason", "reason"}, {"source", "source"},
	};
	size_t used;

	out[0] = '\0';
	if (!json_object_size(audit))
		return;
	used = (size_t)snprintf(out, len, "imported; ODM AuditRecord:");
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]) && used < len; i++)
		if (json_str(audit, parts[i][0]))
			used += (size_t)snprintf(out + used, len - used, " %s %s;", parts[i][1],
						 json_str(audit, parts[i][0]));
	if (used < len && out[used - 1] == ';')
		out[used - 1] = '\0';
}

/* The study-site number a subject is placed at; NULL with why set. */
static const char *site_of(struct import *im, const json_t *s, char *why, size_t len)
{
	const char *oid = json_str(s, "site"), *name, *number;
	json_t *site;

	if (!oid)
		oid = im->options->default_site;
	if (!oid) {
		snprintf(why, len, "no site: the subject has no SiteRef or AuditRecord LocationRef, and "
			 "no default site was given");
		return NULL;
	}
	if (json_object_get(im->sites, oid))
		return json_object_iter_key(json_object_iter_at(im->sites, oid));
	name = json_str(json_object_get(json_object_get(im->doc, "locations"), oid), "name");
	json_object_foreach(im->sites, number, site)
		if (name && json_str(site, "institution_name") &&
		    !strcmp(json_str(site, "institution_name"), name))
			return number;
	snprintf(why, len, "unknown site '%.64s': no study-site of the study has that number%s", oid,
		 name ? " or the Location's name as institution" : "");
	return NULL;
}

static const char *sex_code(const char *v)
{
	if (!strcasecmp(v, "M") || !strcasecmp(v, "MALE"))
		return "M";
	if (!strcasecmp(v, "F") || !strcasecmp(v, "FEMALE"))
		return "F";
	if (!strcasecmp(v, "U") || !strcasecmp(v, "UNKNOWN"))
		return "U";
	if (!strcasecmp(v, "UNDIFFERENTIATED"))
		return "UNDIFFERENTIATED";
	return NULL;
}

static bool is_code(const char *const *codes, const char *v)
{
	for (size_t i = 0; codes[i]; i++)
		if (!strcmp(codes[i], v))
			return true;
	return false;
}

/* Whole years from birth to on (both YYYY-MM-DD). */
static int years_between(const char *birth, const char *on)
{
	unsigned bm, bd, m, d;
	int by, y;
	int32_t b, o;

	if (date_parse(birth, &b) || date_parse(on, &o) || b > o)
		return -1;
	civil_from_days(b, &by, &bm, &bd);
	civil_from_days(o, &y, &m, &d);
	return y - by - (m < bm || (m == bm && d < bd));
}

/* Sex, age, race, ethnicity, consent, subject number and arm into in;
 * -1 with why set when the subject cannot be a ctms subject. */
static int demographics(struct import *im, struct plan *p, json_t *in, const char *screened,
			int64_t site_id, char *why, size_t len)
{
	const json_t *f = json_object_get(p->source, "fields");
	const char *sex = json_str(f, "SEX"), *age = json_str(f, "AGE"), *birth = json_str(f, "BRTHDAT");
	const char *race = json_str(f, "RACE"), *ethnic = json_str(f, "ETHNIC");
	const char *consent = json_str(f, "RFICDTC"), *number = json_str(f, "SUBJID");
	const char *arm = json_str(f, "ARM"), *code = sex ? sex_code(sex) : NULL;
	char day[DATE_LEN], *end;
	long long years = -1;

	if (age) {
		errno = 0;
		years = strtoll(age, &end, 10);
		if (errno || *end || end == age || years < 0 || years > 130) {
			snprintf(why, len, "AGE '%.40s' is not an age in whole years", age);
			return -1;
		}
	} else if (birth && !date_of_iso8601(birth, day) && (years = years_between(day, screened)) >= 0) {
		im->r->age_from_birth++;
	} else {
		snprintf(why, len, "no age: ctms needs the age at screening (an AGE item, or a full "
			 "BRTHDAT birth date)");
		return -1;
	}
	json_object_set_new(in, "age", json_integer(years));
	if (!code) {
		if (sex)
			odm_note(im, p->line, "%s: SEX '%.40s' has no ctms code; recorded U (unknown)", p->key, sex);
		im->r->sex_unknown++;
		code = "U";
	}
	json_object_set_new(in, "sex", json_string(code));
	if (race && is_code(race_codes, race))
		json_object_set_new(in, "race", json_string(race));
	else if (race)
		odm_note(im, p->line, "%s: RACE '%.60s' has no ctms code; left empty", p->key, race);
	if (ethnic && is_code(ethnicity_codes, ethnic))
		json_object_set_new(in, "ethnicity", json_string(ethnic));
	else if (ethnic)
		odm_note(im, p->line, "%s: ETHNIC '%.60s' has no ctms code; left empty", p->key, ethnic);
	if (consent && !date_of_iso8601(consent, day))
		json_object_set_new(in, "consented_on", json_string(day));
	else if (consent)
		odm_note(im, p->line, "%s: consent date '%.40s' is not a full date; not recorded", p->key,
			 consent);
	if (number && strlen(number) <= 32)
		json_object_set_new(in, "subject_number", json_string(number));
	if (arm && access_unblinded(im->a, im->study_id, site_id))
		json_object_set_new(in, "arm", json_string(arm));
	else if (arm)
		odm_note(im, p->line, "%s: the arm is not imported: the importer is blinded", p->key);
	return 0;
}

/* The earliest full date among the subject's planned visits, or "". */
static void first_visit(const struct plan *p, char out[DATE_LEN])
{
	const json_t *v;
	size_t i;

	out[0] = '\0';
	json_array_foreach(p->visits, i, v) {
		const char *on = json_str(json_object_get(v, "input"), "visit_on");
		if (on && (!out[0] || strcmp(on, out) < 0))
			snprintf(out, DATE_LEN, "%s", on);
	}
}

/* The input of a new subject; NULL with why set when it cannot be one. */
static json_t *subject_input(struct import *im, struct plan *p, char *why, size_t len)
{
	const json_t *f = json_object_get(p->source, "fields");
	const char *site = site_of(im, p->source, why, len);
	char screened[DATE_LEN] = "";
	json_t *in;

	if (!site)
		return NULL;
	if (date_of_iso8601(json_str(f, "SCRNDAT"), screened) &&
	    date_of_iso8601(json_str(f, "RFICDTC"), screened)) {
		first_visit(p, screened);
		if (!screened[0] && date_of_iso8601(json_str(p->source, "stamp"), screened)) {
			snprintf(why, len, "no screening date: no SCRNDAT or consent item, no dated visit "
				 "and no dated AuditRecord");
			return NULL;
		}
	}
	in = json_pack("{s:s, s:s, s:s}", "screening_number", p->key, "site_number", site,
		       "screened_on", screened);
	if (demographics(im, p, in, screened, json_int(json_object_get(im->sites, site), "id", 0), why,
			 len)) {
		json_decref(in);
		return NULL;
	}
	return in;
}

/* The key of a visit for re-imports. */
static void visit_key(const char *number, const char *name, const char *on, char *key, size_t len)
{
	if (number)
		snprintf(key, len, "D:%s", number);
	else
		snprintf(key, len, "U:%s|%s", name ? name : "", on ? on : "");
}

static int existing_visits(struct import *im, int64_t subject_id, json_t *keys, struct err *e)
{
	struct list_query q = {.parent_id = subject_id, .limit = 1000};
	json_t *items, *v;
	int64_t next = 0;
	char key[512];
	size_t i;
	int rc;

	do {
		q.after_id = next;
		if ((rc = record_list(im->db, im->a, &subject_visit_def, &q, &items, &next, e)))
			return rc;
		json_array_foreach(items, i, v) {
			visit_key(json_str(v, "visit_number"), json_str(v, "name"), json_str(v, "visit_on"),
				  key, sizeof(key));
			json_object_set_new(keys, key, json_true());
		}
		json_decref(items);
	} while (next);
	return 0;
}

/* The visit input of one event; NULL when it is no visit or is rejected. */
static json_t *visit_input(struct import *im, struct plan *p, const json_t *ev, char *key,
			   size_t key_len)
{
	const char *oid = json_str(ev, "oid"), *end = json_str(ev, "end");
	const json_t *def = odm_event_def(im, oid);
	json_int_t line = json_int(ev, "line", 0);
	char on[DATE_LEN], end_on[DATE_LEN], why[256];
	bool by_audit;
	json_t *in;

	if (!oid) {
		odm_reject(im, line, p->key, "StudyEventData without a StudyEventOID");
		im->r->visits.rejected++;
		return NULL;
	}
	if (odm_event_date(im, ev, on, &by_audit, why, sizeof(why))) {
		if (odm_common(def) && !json_str(ev, "start")) {
			im->r->common_events++;
			return NULL;
		}
		odm_reject(im, line, p->key, "event %.64s: %s", oid, why);
		im->r->visits.rejected++;
		return NULL;
	}
	im->r->dated_by_audit += by_audit;
	in = json_pack("{s:s}", "visit_on", on);
	if (end && !date_of_iso8601(end, end_on))
		json_object_set_new(in, "end_on", json_string(end_on));
	else if (end)
		odm_note(im, line, "%s event %.64s: end date '%.40s' is not a full date; not recorded",
			 p->key, oid, end);
	if (odm_unscheduled(def)) {
		const char *name = json_str(def, "name") ? json_str(def, "name") : oid;
		json_object_set_new(in, "name", json_stringn(name, strlen(name) > 200 ? 200 : strlen(name)));
		visit_key(NULL, json_str(in, "name"), on, key, key_len);
	} else {
		json_object_set_new(in, "visit_number", json_string(json_str(im->event_map, oid)));
		visit_key(json_str(im->event_map, oid), NULL, NULL, key, key_len);
	}
	return in;
}

static int plan_visits(struct import *im, struct plan *p, struct err *e)
{
	json_t *keys = json_object(), *seen = json_object(), *ev;
	char key[512];
	size_t i;
	int rc = p->id ? existing_visits(im, p->id, keys, e) : 0;

	json_array_foreach(json_object_get(p->source, "events"), i, ev) {
		json_t *in;
		if (rc || !(in = visit_input(im, p, ev, key, sizeof(key))))
			continue;
		if (json_object_get(seen, key)) {
			odm_reject(im, json_int(ev, "line", 0), p->key,
				   "event %.64s repeats a visit already in this file (line %lld): ctms records "
				   "a scheduled visit once per subject",
				   json_str(ev, "oid"), (long long)json_int(seen, key, 0));
			im->r->visits.rejected++;
			json_decref(in);
		} else if (json_object_get(keys, key)) {
			json_object_set_new(seen, key, json_integer(json_int(ev, "line", 0)));
			im->r->visits.unchanged++;
			json_decref(in);
		} else {
			json_object_set_new(seen, key, json_integer(json_int(ev, "line", 0)));
			char reason[1000];
			source_audit(json_object_get(ev, "audit"), reason, sizeof(reason));
			json_array_append_new(p->visits, json_pack("{s:o, s:I, s:s*}", "input", in, "line",
								   json_int(ev, "line", 0), "reason",
								   reason[0] ? reason : NULL));
		}
	}
	json_decref(keys);
	json_decref(seen);
	return rc;
}

/* Everything of the subject in one transaction. */
static int write_all(struct import *im, struct plan *p, struct err *e)
{
	json_t *rec = NULL, *v;
	int64_t id = p->id;
	size_t i;
	int rc = db_begin(im->db);

	if (rc)
		return err_set(e, rc, "the store is busy");
	if (p->input) {
		rc = record_create_noted(im->db, im->a, &subject_def, im->study_id, p->input,
					 p->reason[0] ? p->reason : NULL, &rec, e);
		id = json_int(rec, "id", 0);
		json_decref(rec);
	}
	json_array_foreach(p->visits, i, v) {
		if (rc)
			break;
		rc = record_create_noted(im->db, im->a, &subject_visit_def, id,
					 json_object_get(v, "input"), json_str(v, "reason"), NULL, e);
	}
	if (rc)
		db_rollback(im->db);
	else if ((rc = db_commit(im->db)))
		err_set(e, rc, "cannot commit: %s", db_errmsg(im->db));
	return rc;
}

/* After a refused transaction: the subject alone, then each visit alone. */
static void write_apart(struct import *im, struct plan *p)
{
	char why[1024];
	json_t *v, *rec = NULL;
	size_t i;
	struct err e;

	if (p->input) {
		err_init(&e);
		if (record_create_noted(im->db, im->a, &subject_def, im->study_id, p->input,
					p->reason[0] ? p->reason : NULL, &rec, &e)) {
			err_describe(&e, why, sizeof(why));
			odm_reject(im, p->line, p->key, "%s", why);
			im->r->subjects.rejected++;
			im->r->visits.rejected += (int64_t)json_array_size(p->visits);
			err_release(&e);
			return;
		}
		err_release(&e);
		p->id = json_int(rec, "id", 0);
		json_decref(rec);
		im->r->subjects.created++;
	} else {
		im->r->subjects.unchanged++;
	}
	json_array_foreach(p->visits, i, v) {
		err_init(&e);
		if (record_create_noted(im->db, im->a, &subject_visit_def, p->id,
					json_object_get(v, "input"), json_str(v, "reason"), NULL, &e)) {
			err_describe(&e, why, sizeof(why));
			odm_reject(im, json_int(v, "line", 0), p->key, "%s", why);
			im->r->visits.rejected++;
		} else {
			im->r->visits.created++;
		}
		err_release(&e);
	}
}

static int import_subject(struct import *im, struct plan *p, const json_t *existing, struct err *e)
{
	const json_t *old = json_object_get(existing, p->key);
	char why[512];
	struct err one;
	int rc;

	p->id = json_int(old, "id", 0);
	p->visits = json_array();
	if ((rc = plan_visits(im, p, e)))
		return rc;
	if (!old && !(p->input = subject_input(im, p, why, sizeof(why)))) {
		odm_reject(im, p->line, p->key, "%s", why);
		im->r->subjects.rejected++;
		im->r->visits.rejected += (int64_t)json_array_size(p->visits);
		return 0;
	}
	if (old && !json_array_size(p->visits)) {
		im->r->subjects.unchanged++;
		return 0;
	}
	err_init(&one);
	if (!write_all(im, p, &one)) {
		im->r->subjects.created += !old;
		im->r->subjects.unchanged += !!old;
		im->r->visits.created += (int64_t)json_array_size(p->visits);
	} else if (one.code == CTMS_EBUSY || one.code == CTMS_EDB) {
		rc = err_set(e, one.code, "%s", one.detail);
	} else {
		write_apart(im, p);
	}
	err_release(&one);
	return rc;
}

int odm_subjects_import(struct import *im, struct err *e)
{
	json_t *existing = NULL, *seen = json_object(), *s;
	size_t i;
	int rc = record_index(im->db, im->a, &subject_def, im->study_id, "screening_number", &existing, e);

	json_array_foreach(json_object_get(im->doc, "subjects"), i, s) {
		struct plan p = {.source = s, .key = json_str(s, "key"), .line = json_int(s, "line", 0)};
		if (rc)
			break;
		source_audit(json_object_get(s, "audit"), p.reason, sizeof(p.reason));
		if (!p.key || strlen(p.key) > 32) {
			odm_reject(im, p.line, p.key,
				   p.key ? "SubjectKey is longer than the 32 characters of a screening number"
					 : "SubjectData without a SubjectKey");
			im->r->subjects.rejected++;
			continue;
		}
		if (json_object_get(seen, p.key)) {
			odm_reject(im, p.line, p.key, "SubjectKey %s appears again (first at line %lld)",
				   p.key, (long long)json_int(seen, p.key, 0));
			im->r->subjects.rejected++;
			im->r->duplicate_subjects++;
			continue;
		}
		json_object_set_new(seen, p.key, json_integer(p.line));
		rc = import_subject(im, &p, existing, e);
		json_decref(p.input);
		json_decref(p.visits);
	}
	json_decref(existing);
	json_decref(seen);
	return rc;
}
