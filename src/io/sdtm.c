#include "io/sdtm.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "db/db.h"
#include "domain/codes.h"
#include "domain/organisation.h"
#include "domain/protocol_version.h"
#include "domain/signature.h"
#include "domain/study.h"
#include "domain/study_site.h"
#include "domain/visit.h"
#include "io/ctgov_places.h"
#include "io/sdtm_internal.h"
#include "util/json.h"

#define NOT_REPORTED "Not reported"
#define PROTOCOL_VERSION "1.0"

void sdtm_report_init(struct sdtm_report *r)
{
	memset(r, 0, sizeof(*r));
	r->rejected = json_array();
	r->notes = json_array();
}

void sdtm_report_release(struct sdtm_report *r)
{
	json_decref(r->rejected);
	json_decref(r->notes);
	r->rejected = r->notes = NULL;
}

void sdtm_reject(struct sdtm_report *r, const char *where, const char *key, const char *fmt, ...)
{
	char reason[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	json_array_append_new(r->rejected, json_pack("{s:s, s:s, s:s}", "where", where, "key",
						     key ? key : "", "reason", reason));
}

void sdtm_note(struct sdtm_report *r, const char *where, const char *fmt, ...)
{
	char message[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	json_array_append_new(r->notes, json_pack("{s:s, s:s}", "where", where, "note", message));
}

/* The first TS value of a parameter (TSSEQ 1 comes first in the file). */
static const char *ts_value(const struct sdtm_import *im, const char *parameter)
{
	int code = csv_column(&im->ts, "TSPARMCD"), value = csv_column(&im->ts, "TSVAL");
	for (size_t i = 0; i < im->ts.nrows; i++)
		if (!strcmp(csv_cell(&im->ts, i, code), parameter))
			return csv_cell(&im->ts, i, value);
	return "";
}

/* SDTM trial phase (CDISC CT C66737) to a ctms phase code. */
static const char *phase_code(const char *tphase)
{
	static const struct {
		const char *sdtm, *ctms;
	} phases[] = {
		{"Phase 0 Trial", "EARLY_PHASE1"},	 {"Phase I Trial", "PHASE1"},
		{"Phase I/II Trial", "PHASE1_PHASE2"},	 {"Phase II Trial", "PHASE2"},
		{"Phase IIa Trial", "PHASE2"},		 {"Phase IIb Trial", "PHASE2"},
		{"Phase II/III Trial", "PHASE2_PHASE3"}, {"Phase III Trial", "PHASE3"},
		{"Phase IIIa Trial", "PHASE3"},		 {"Phase IIIb Trial", "PHASE3"},
		{"Phase IV Trial", "PHASE4"},		 {"Not Applicable", "NA"},
	};
	for (size_t i = 0; i < NELEMS(phases); i++)
		if (!strcasecmp(tphase, phases[i].sdtm))
			return phases[i].ctms;
	return NULL;
}

/* ISO 3166-1 alpha-3 (SDTM DM.COUNTRY) to the alpha-2 codes ctms keeps. */
static const char *country_alpha2(const char *alpha3)
{
	static const char *const pairs[][2] = {
		{"USA", "US"}, {"CAN", "CA"}, {"MEX", "MX"}, {"BRA", "BR"}, {"ARG", "AR"},
		{"GBR", "GB"}, {"DEU", "DE"}, {"FRA", "FR"}, {"ITA", "IT"}, {"ESP", "ES"},
		{"NLD", "NL"}, {"BEL", "BE"}, {"CHE", "CH"}, {"AUT", "AT"}, {"SWE", "SE"},
		{"DNK", "DK"}, {"NOR", "NO"}, {"FIN", "FI"}, {"POL", "PL"}, {"CZE", "CZ"},
		{"HUN", "HU"}, {"IRL", "IE"}, {"PRT", "PT"}, {"GRC", "GR"}, {"RUS", "RU"},
		{"UKR", "UA"}, {"ISR", "IL"}, {"TUR", "TR"}, {"ZAF", "ZA"}, {"IND", "IN"},
		{"CHN", "CN"}, {"JPN", "JP"}, {"KOR", "KR"}, {"TWN", "TW"}, {"AUS", "AU"},
		{"NZL", "NZ"},
	};
	for (size_t i = 0; i < NELEMS(pairs); i++)
		if (!strcmp(alpha3, pairs[i][0]))
			return pairs[i][1];
	return NULL;
}

static int transition(struct sdtm_import *im, const struct entity_def *def, int64_t id,
		      const char *to, const char *on, const char *reason, struct err *e)
{
	struct transition t = {to, on, reason};
	return record_transition(im->db, im->a, def, id, 0, &t, NULL, e);
}

static int sponsor(struct sdtm_import *im, json_t *study, struct err *e)
{
	const char *name = ts_value(im, "SPONSOR");
	json_t *found = NULL, *rec = NULL, *input;
	int rc;

	if (!name[0])
		return 0;
	rc = record_index(im->db, im->a, &organisation_def, 0, "name", &found, e);
	rec = json_incref(json_object_get(found, name));
	json_decref(found);
	if (!rc && !rec) {
		input = json_pack("{s:s, s:s}", "name", name, "kind", "sponsor");
		rc = record_create(im->db, im->a, &organisation_def, 0, input, &rec, e);
		json_decref(input);
	}
	if (!rc)
		json_object_set_new(study, "sponsor_id", json_integer(json_int(rec, "id", 0)));
	json_decref(rec);
	return rc;
}

static int create_study(struct sdtm_import *im, struct err *e)
{
	const char *title = ts_value(im, "TITLE"), *tphase = ts_value(im, "TPHASE");
	const char *plansub = ts_value(im, "PLANSUB"), *indication = ts_value(im, "INDIC");
	const char *phase = phase_code(tphase);
	json_t *study, *rec = NULL;
	char *end;
	long long target;
	int rc;

	errno = 0;
	target = strtoll(plansub, &end, 10);
	if (!plansub[0] || *end || errno || target < 1) {
		target = (long long)im->dm.nrows;
		sdtm_note(im->r, "ts.csv", "PLANSUB '%s' is not a number of subjects; the target "
			  "enrollment is the %lld subjects of DM", plansub, target);
	}
	if (!phase) {
		phase = "NA";
		sdtm_note(im->r, "ts.csv", "TPHASE '%s' has no ctms phase; recorded as NA", tphase);
	}
	if (!title[0]) {
		title = im->study_number;
		sdtm_note(im->r, "ts.csv", "no TITLE; the study is titled by its STUDYID");
	}
	study = json_pack("{s:s, s:s, s:s, s:I}", "protocol_number", im->study_number, "title", title,
			  "phase", phase, "target_enrollment", (json_int_t)target);
	if (indication[0])
		json_object_set_new(study, "therapeutic_area", json_string(indication));
	rc = sponsor(im, study, e);
	if (!rc)
		rc = record_create(im->db, im->a, &study_def, 0, study, &rec, e);
	im->study_id = json_int(rec, "id", 0);
	json_decref(rec);
	json_decref(study);
	return rc;
}

/* The one protocol version the data implies, left draft: its approval is a
 * manager's electronic signature (21 CFR 11.200), which SDTM data does not
 * carry and an import must not make up. */
static int ensure_protocol(struct sdtm_import *im, struct err *e)
{
	json_t *versions = NULL;
	int rc = record_index(im->db, im->a, &protocol_version_def, im->study_id, "number", &versions, e);

	if (!rc && !json_object_get(versions, PROTOCOL_VERSION)) {
		json_t *input = json_pack(
			"{s:s, s:s, s:s}", "number", PROTOCOL_VERSION, "version_date",
			im->first_screening, "summary",
			"The protocol as conducted in the SDTM data. SDTM holds no protocol version "
			"or date: this version is dated the first screening in the data.");
		rc = record_create(im->db, im->a, &protocol_version_def, im->study_id, input, NULL, e);
		json_decref(input);
		im->r->protocol_versions.created += !rc;
	} else if (!rc) {
		im->r->protocol_versions.unchanged++;
	}
	json_decref(versions);
	return rc;
}

static int ensure_study(struct sdtm_import *im, struct err *e)
{
	json_t *studies = NULL, *old;
	int rc = record_index(im->db, im->a, &study_def, 0, "protocol_number", &studies, e);

	old = json_object_get(studies, im->study_number);
	if (!rc && old) {
		im->study_id = json_int(old, "id", 0);
		im->r->study.unchanged++;
	} else if (!rc) {
		rc = create_study(im, e);
		im->r->study.created += !rc;
	}
	json_decref(studies);
	if (!rc)
		rc = ensure_protocol(im, e);
	for (int step = 0; !rc && step < 2; step++) {
		char status[32];
		if ((rc = study_status(im->db, im->study_id, status, sizeof(status), e)))
			break;
		if (!strcmp(status, "planned"))
			rc = transition(im, &study_def, im->study_id, "start_up", im->first_screening,
					NULL, e);
		else if (!strcmp(status, "start_up"))
			rc = transition(im, &study_def, im->study_id, "enrolling", im->first_screening,
					NULL, e);
	}
	im->r->study_id = im->study_id;
	return rc;
}

/* A study-site per DM.SITEID, activated on its first subject's screening. */
static int ensure_sites(struct sdtm_import *im, struct err *e)
{
	static const char *const steps[] = {"identified", "feasibility", "selected", "approved",
					    "contracted", "initiated",	 "activated"};
	int site_column = csv_column(&im->dm, "SITEID");
	int country_column = csv_column(&im->dm, "COUNTRY");
	json_t *existing = NULL, *wanted = json_object(), *site, *first = json_object();
	const char *number;
	int rc = record_index(im->db, im->a, &study_site_def, im->study_id, "site_number", &existing, e);

	for (size_t i = 0; !rc && i < im->dm.nrows; i++) {
		const struct sdtm_subject *s = &im->subjects[i];
		const char *on = json_str(first, csv_cell(&im->dm, i, site_column));
		number = csv_cell(&im->dm, i, site_column);
		if (s->skip)
			continue;
		if (!on || strcmp(s->screened_on, on) < 0)
			json_object_set_new(first, number, json_string(s->screened_on));
		if (!json_object_get(wanted, number))
			json_object_set_new(wanted, number,
					    json_pack("{s:s, s:s}", "country",
						      csv_cell(&im->dm, i, country_column), "row",
						      im->dm.name));
	}
	json_object_foreach(wanted, number, site) {
		const json_t *old = json_object_get(existing, number);
		const char *alpha3 = json_str(site, "country"), *country = country_alpha2(alpha3);
		const char *on = json_str(first, number), *status = json_str(old, "status");
		char institution[256];
		bool guessed = false;
		size_t step = 0;
		json_t *rec = NULL;

		if (rc)
			break;
		if (!country) {
			sdtm_reject(im->r, "dm.csv", number,
				    "site %s: country '%s' is not an ISO 3166-1 alpha-3 code the import "
				    "knows; its subjects are rejected with it", number, alpha3);
			im->r->sites.rejected++;
			continue;
		}
		if (!old) {
			snprintf(institution, sizeof(institution), "%s site %s", im->study_number, number);
			json_t *input = json_pack(
				"{s:s, s:s, s:s, s:s, s:s, s:s}", "institution_name", institution,
				"site_number", number, "investigator_name", NOT_REPORTED, "country",
				country, "time_zone", ctgov_time_zone(country, NULL, &guessed),
				"identified_on", on);
			rc = record_create(im->db, im->a, &study_site_def, im->study_id, input, &rec, e);
			json_decref(input);
			if (rc)
				break;
			status = json_str(rec, "status");
			im->r->sites.created++;
		} else {
			im->r->sites.unchanged++;
		}
		while (step < NELEMS(steps) && strcmp(steps[step], status))
			step++;
		for (step++; !rc && step < NELEMS(steps); step++)
			rc = transition(im, &study_site_def, json_int(old ? old : rec, "id", 0),
					steps[step], on, NULL, e);
		json_decref(rec);
	}
	json_decref(existing);
	json_decref(wanted);
	json_decref(first);
	return rc;
}

/* The visit schedule from TV: one definition per VISITNUM. */
static int ensure_schedule(struct sdtm_import *im, struct err *e)
{
	int number = csv_column(&im->tv, "VISITNUM"), name = csv_column(&im->tv, "VISIT");
	int day = csv_column(&im->tv, "VISITDY");
	json_t *existing = NULL;
	int rc = record_index(im->db, im->a, &visit_definition_def, im->study_id, "number", &existing, e);

	for (size_t i = 0; !rc && i < im->tv.nrows; i++) {
		const char *n = csv_cell(&im->tv, i, number), *d = csv_cell(&im->tv, i, day);
		char where[64], *end;
		json_t *input;
		long long planned;

		snprintf(where, sizeof(where), "tv.csv:%zu", i + 2);
		if (json_object_get(existing, n)) {
			im->r->definitions.unchanged++;
			continue;
		}
		input = json_pack("{s:s, s:s}", "number", n, "name", csv_cell(&im->tv, i, name));
		errno = 0;
		planned = strtoll(d, &end, 10);
		if (d[0] && !*end && !errno && planned != 0)
			json_object_set_new(input, "planned_day", json_integer(planned));
		else if (d[0])
			sdtm_note(im->r, where, "VISITDY '%s' is not a study day; planned_day left empty", d);
		struct err one;
		err_init(&one);
		if (record_create(im->db, im->a, &visit_definition_def, im->study_id, input, NULL, &one)) {
			char why[512];
			err_describe(&one, why, sizeof(why));
			/* Nothing was written, but the study transaction is doomed:
			 * a schedule the domain refuses stops the import. */
			rc = err_set(e, one.code, "%s visit %s: %s", where, n, why);
		} else {
			json_object_set_new(existing, n, json_object());
			im->r->definitions.created++;
		}
		err_release(&one);
		json_decref(input);
	}
	json_decref(existing);
	return rc;
}

static const char *const required[] = {"dm", "ds", "sv", "ts", "tv"};

static int load(struct sdtm_import *im, const char *dir, struct err *e)
{
	struct csv_table *tables[] = {&im->dm, &im->ds, &im->sv, &im->ts, &im->tv};
	char path[4096];
	int rc = 0;

	for (size_t i = 0; !rc && i < NELEMS(tables); i++) {
		snprintf(path, sizeof(path), "%s/%s.csv", dir, required[i]);
		rc = csv_load(path, true, tables[i], e);
	}
	for (int i = 0; !rc && i < 2; i++) {
		struct csv_table *t = i ? &im->ex : &im->ae;
		snprintf(path, sizeof(path), "%s/%s.csv", dir, i ? "ex" : "ae");
		if (access(path, F_OK))
			continue; /* optional; reported absent */
		rc = csv_load(path, true, t, e);
		*(i ? &im->r->has_ex : &im->r->has_ae) = !rc;
	}
	if (!rc && !im->dm.nrows)
		rc = err_set(e, CTMS_EINVAL, "dm.csv holds no subjects");
	if (!rc && !(im->study_number = csv_cell(&im->dm, 0, csv_column(&im->dm, "STUDYID")))[0])
		rc = err_set(e, CTMS_EINVAL, "dm.csv: the first subject has no STUDYID");
	return rc;
}

int sdtm_import_dir(struct db *db, const struct actor *a, const char *dir,
		    const struct sdtm_options *options, struct sdtm_report *r, struct err *e)
{
	struct sdtm_import im = {.db = db, .a = a, .options = options, .r = r};
	int rc = load(&im, dir, e);

	if (!rc) {
		im.subjects = calloc(im.dm.nrows, sizeof(*im.subjects));
		if (!im.subjects)
			abort();
		sdtm_subjects_plan(&im);
		for (size_t i = 0; i < im.dm.nrows; i++)
			if (!im.subjects[i].skip && (!im.first_screening[0] ||
						     strcmp(im.subjects[i].screened_on, im.first_screening) < 0))
				memcpy(im.first_screening, im.subjects[i].screened_on, DATE_LEN);
		if (!im.first_screening[0])
			rc = err_set(e, CTMS_EINVAL, "no subject of dm.csv has a screening date");
	}
	if (!rc && !(rc = db_begin(db))) {
		rc = ensure_study(&im, e);
		if (!rc)
			rc = ensure_sites(&im, e);
		if (!rc)
			rc = ensure_schedule(&im, e);
		if (rc)
			db_rollback(db);
		else if ((rc = db_commit(db)))
			err_set(e, rc, "cannot commit the study: %s", db_errmsg(db));
	} else if (rc == CTMS_EBUSY || (rc && !e->code)) {
		err_set(e, rc, "the store is busy");
	}
	if (!rc)
		rc = sdtm_subjects_import(&im, e);
	free(im.subjects);
	csv_release(&im.dm);
	csv_release(&im.ds);
	csv_release(&im.sv);
	csv_release(&im.ts);
	csv_release(&im.tv);
	csv_release(&im.ae);
	csv_release(&im.ex);
	return rc;
}

void sdtm_report_print(FILE *out, const struct sdtm_report *r)
{
	const json_t *item;
	size_t i;

	fprintf(out, "study id: %lld\n", (long long)r->study_id);
	import_counts_print(out, "study", &r->study);
	import_counts_print(out, "protocol versions", &r->protocol_versions);
	if (r->protocol_versions.created)
		fprintf(out, "protocol version " PROTOCOL_VERSION " is left draft: approving it takes a "
			     "manager's electronic signature, which SDTM data does not carry\n");
	import_counts_print(out, "visit definitions", &r->definitions);
	import_counts_print(out, "study-sites", &r->sites);
	import_counts_print(out, "subjects", &r->subjects);
	import_counts_print(out, "visits", &r->visits);
	import_counts_print(out, "adverse events", &r->adverse_events);
	import_counts_print(out, "exposure records", &r->exposures);
	fprintf(out,
		"subjects by status: %lld screened, %lld screen_failed, %lld enrolled, %lld "
		"completed, %lld withdrawn\n",
		(long long)r->screened, (long long)r->screen_failed, (long long)r->enrolled,
		(long long)r->completed, (long long)r->withdrawn);
	fprintf(out, "screen failures: %lld\n", (long long)r->screen_failed);
	fprintf(out, "unscheduled visits (VISITNUM not in TV): %lld\n", (long long)r->unscheduled_visits);
	fprintf(out,
		"missing consent dates: %lld subjects have an empty DM.RFICDTC; %lld given their "
		"screening date as consent date (--consent-on-screening); %lld randomised in the data "
		"left screened for want of a consent date\n",
		(long long)r->missing_consent, (long long)r->consent_on_screening,
		(long long)r->not_enrolled);
	if (r->has_ae)
		fprintf(out,
			"adverse events in ae.csv: %lld serious (AESER Y), %lld deaths (AESDTH Y or "
			"AEOUT FATAL); dates not invented: %lld onsets given as YYYY or YYYY-MM, %lld "
			"without onset, %lld ends given partially, %lld without end date; %lld onsets "
			"before the subject's screening, kept with the reason recorded\n",
			(long long)r->serious_events, (long long)r->deaths, (long long)r->partial_onsets,
			(long long)r->missing_onsets, (long long)r->partial_ends,
			(long long)r->no_end_date, (long long)r->onset_before_screening);
	fprintf(out, "not read:%s%s se.csv, ta.csv, te.csv, ti.csv\n",
		r->has_ae ? "" : " ae.csv (absent),", r->has_ex ? "" : " ex.csv (absent),");
	fprintf(out,
		"adapted: sites have no institution, city or investigator in SDTM: named "
		"\"<STUDYID> site <SITEID>\", investigator \"" NOT_REPORTED "\", the country's main "
		"time zone; study and site lifecycle dates are the first screening the data shows\n");
	json_array_foreach(r->rejected, i, item)
		fprintf(out, "rejected %s %s: %s\n", json_str(item, "where"), json_str(item, "key"),
			json_str(item, "reason"));
	json_array_foreach(r->notes, i, item)
		fprintf(out, "note %s: %s\n", json_str(item, "where"), json_str(item, "note"));
}
