/* A study's enrollment forecast: the request, the model's inputs from the
 * snapshot and the what-ifs, and the run (enrollment_forecast.h). The answer
 * is rendered by enrollment_forecast_json.c. */
#include "domain/enrollment_forecast.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/date.h"
#include "util/err.h"
#include "util/hash.h"
#include "util/json.h"

/* The largest target a study may have (studies.target_enrollment). */
#define TARGET_MAX 10000000
/* Seeds are kept below 2^53 so that every JSON reader gets them exactly. */
#define SEED_MAX ((UINT64_C(1) << 53) - 1)

static const char *const request_keys[] = {"target", "as_of", "by", "seed", "open", "close", NULL};

/* Field-level checks that need no store: types and shapes. */
static void check_request_shape(const json_t *request, struct err *e)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)request, key, v) {
		bool known = false;
		for (size_t i = 0; request_keys[i]; i++)
			known |= !strcmp(key, request_keys[i]);
		if (!known)
			err_field(e, key, "is not a field of a forecast request (target, as_of, by, seed, "
					  "open, close)");
	}
	v = json_object_get(request, "target");
	if (v && !json_is_null(v) &&
	    (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > TARGET_MAX))
		err_field(e, "target", "must be an integer from 1 to %d: the total enrollment to reach",
			  TARGET_MAX);
	v = json_object_get(request, "as_of");
	if (v && !json_is_null(v) && !json_is_string(v))
		err_field(e, "as_of", "must be a calendar date YYYY-MM-DD");
	v = json_object_get(request, "seed");
	if (v && !json_is_null(v) &&
	    (!json_is_integer(v) || json_integer_value(v) < 0 ||
	     (uint64_t)json_integer_value(v) > SEED_MAX))
		err_field(e, "seed", "must be an integer from 0 to 2^53 - 1");
	v = json_object_get(request, "by");
	if (v && !json_is_null(v)) {
		if (!json_is_array(v) || json_array_size(v) == 0 ||
		    json_array_size(v) > FORECAST_MAX_WINDOWS)
			err_field(e, "by", "must be a list of 1 to %d dates", FORECAST_MAX_WINDOWS);
		for (size_t i = 0; json_is_array(v) && i < json_array_size(v); i++) {
			if (!date_valid(json_string_value(json_array_get(v, i)))) {
				char field[32];
				snprintf(field, sizeof(field), "by[%zu]", i);
				err_field(e, field, "must be a calendar date YYYY-MM-DD");
			}
		}
	}
	for (int k = 0; k < 2; k++) {
		const char *list = k ? "close" : "open";
		v = json_object_get(request, list);
		if (v && !json_is_null(v) && (!json_is_array(v) || json_array_size(v) > 1000))
			err_field(e, list, "must be a list of at most 1000 {site_number, on} entries");
	}
}

/* One what-if entry being read: which list, its index, its error prefix. */
struct entry {
	bool closing;         /* in "close", else in "open" */
	size_t index;
	const json_t *json;
	char prefix[32];      /* "open[2]" */
};

/* Names a field of the entry in an error: "open[2].on". */
static int entry_error(struct err *e, const struct entry *x, const char *member, const char *fmt,
		       ...) __attribute__((format(printf, 4, 5)));
static int entry_error(struct err *e, const struct entry *x, const char *member, const char *fmt,
		       ...)
{
	char field[64], message[256];
	va_list ap;

	snprintf(field, sizeof(field), "%s%s%s", x->prefix, member ? "." : "", member ? member : "");
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	return err_field(e, field, "%s", message);
}

/* The entry's keys and date; false (with the errors) when it cannot be used. */
static bool entry_shape(const struct entry *x, int32_t as_of, int32_t *on, struct err *e)
{
	const char *key, *text = json_str(x->json, "on");
	json_t *v;
	bool ok = true;

	json_object_foreach((json_t *)x->json, key, v) {
		if (!strcmp(key, "site_number") || !strcmp(key, "on") ||
		    (!x->closing && (!strcmp(key, "label") || !strcmp(key, "count"))))
			continue;
		entry_error(e, x, key, "is not a field of %s",
			    x->closing ? "a closing (site_number, on)"
				       : "an opening (site_number, or label and count; on)");
		ok = false;
	}
	if (!text || date_parse(text, on)) {
		entry_error(e, x, "on", "must be a calendar date YYYY-MM-DD");
		ok = false;
	} else if (*on <= as_of) {
		entry_error(e, x, "on", "must be after as_of: a what-if changes the future");
		ok = false;
	}
	return ok;
}

/* The study-site an entry names, checked for what the entry does to it. */
static struct enrollment_forecast_site *entry_site(struct enrollment_forecast *f,
						   const struct entry *x, struct err *e)
{
	const char *number = json_str(x->json, "site_number");
	struct enrollment_forecast_site *target = NULL;

	for (size_t j = 0; j < f->nsites; j++)
		if (f->sites[j].site && !strcmp(f->sites[j].label, number))
			target = &f->sites[j];
	if (json_object_get(x->json, "label") || json_object_get(x->json, "count"))
		entry_error(e, x, NULL, "names an existing site: label and count are for new sites");
	if (!target)
		entry_error(e, x, "site_number", "names no site of this study known by as_of");
	else if (!x->closing && target->site->activated_on != ENROLLMENT_NO_DAY)
		entry_error(e, x, "site_number",
			    "is already active as of as_of; only a site not yet activated can open");
	else if (target->site->closed)
		entry_error(e, x, "site_number", "is closed as of as_of");
	else if (x->closing ? target->closes_on != ENROLLMENT_NO_DAY : target->opened)
		entry_error(e, x, "site_number", "is named twice in %s", x->closing ? "close" : "open");
	else
		return target;
	return NULL;
}

/* How many new sites an opening adds (its count, checked), or 0. */
static int64_t entry_new_sites(const struct entry *x, int64_t added, struct err *e)
{
	const json_t *count = json_object_get(x->json, "count");
	const json_t *label = json_object_get(x->json, "label");
	int64_t n = count ? json_integer_value(count) : 1;

	if (count && (!json_is_integer(count) || n < 1 || n > ENROLLMENT_FORECAST_MAX_NEW_SITES)) {
		entry_error(e, x, "count", "must be an integer from 1 to %d",
			    ENROLLMENT_FORECAST_MAX_NEW_SITES);
		return 0;
	}
	if (added + n > ENROLLMENT_FORECAST_MAX_NEW_SITES) {
		entry_error(e, x, NULL, "brings the new sites to more than %d in all",
			    ENROLLMENT_FORECAST_MAX_NEW_SITES);
		return 0;
	}
	if (label && (!json_is_string(label) || json_string_length(label) < 1 ||
		      json_string_length(label) > 64)) {
		entry_error(e, x, "label", "must be 1 to 64 bytes of text");
		return 0;
	}
	return n;
}

/* Appends n hypothetical sites opening on day on, named after the entry. */
static void add_new_sites(struct enrollment_forecast *f, const struct entry *x, int64_t n,
			  int32_t on)
{
	const char *label = json_str(x->json, "label");

	for (int64_t c = 0; c < n; c++) {
		struct enrollment_forecast_site *h = &f->sites[f->nsites++];
		/* counts and indexes are at most 10,000 and 1,000 */
		int copy = (int)(c + 1) % 100000, entry_no = (int)(x->index + 1) % 10000;

		memset(h, 0, sizeof(*h));
		if (label && n > 1)
			snprintf(h->label, sizeof(h->label), "%.56s #%d", label, copy);
		else if (label)
			snprintf(h->label, sizeof(h->label), "%s", label);
		else
			snprintf(h->label, sizeof(h->label), "new site %d.%d", entry_no, copy);
		h->state = "hypothetical";
		h->opens_on = on;
		h->closes_on = ENROLLMENT_NO_DAY;
		h->input = -1;
	}
}

/* The what-if: open [{site_number | label, count, on}] then close
 * [{site_number, on}], dates after as-of. Every mistake is named. */
static void apply_what_if(struct enrollment_forecast *f, const json_t *request, struct err *e)
{
	int64_t added = 0;

	for (int k = 0; k < 2; k++) {
		const json_t *entries = json_object_get(request, k ? "close" : "open");
		size_t i;
		json_t *entry;

		json_array_foreach(entries, i, entry) {
			struct entry x = {.closing = k, .index = i, .json = entry};
			struct enrollment_forecast_site *target = NULL;
			int32_t on = 0;
			int64_t n = 0;
			bool ok;

			f->what_if = true;
			snprintf(x.prefix, sizeof(x.prefix), "%s[%zu]", k ? "close" : "open", i);
			if (!json_is_object(entry)) {
				entry_error(e, &x, NULL, "must be an object {site_number, on}");
				continue;
			}
			ok = entry_shape(&x, f->snapshot.as_of, &on, e);
			if (json_str(entry, "site_number"))
				ok &= (target = entry_site(f, &x, e)) != NULL;
			else if (k)
				ok = !entry_error(e, &x, "site_number", "is required: the site to close");
			else
				ok &= (n = entry_new_sites(&x, added, e)) > 0;
			if (!ok)
				continue;
			if (k) {
				target->closes_on = on;
			} else if (target) {
				target->opens_on = on;
				target->opened = true;
				target->state = "planned";
			} else {
				add_new_sites(f, &x, n, on);
				added += n;
			}
		}
	}
}

/* Hypothetical sites the request may add, to size the site array: at most
 * ENROLLMENT_FORECAST_MAX_NEW_SITES in all (apply_what_if refuses more). */
static size_t new_sites(const json_t *request)
{
	const json_t *open = json_object_get(request, "open");
	size_t n = 0, i;
	json_t *entry;

	if (!json_is_array(open))
		return 0;
	json_array_foreach(open, i, entry) {
		json_t *count = json_object_get(entry, "count");
		if (json_is_object(entry) && !json_object_get(entry, "site_number"))
			n += json_is_integer(count) && json_integer_value(count) >= 1 &&
					     json_integer_value(count) <= ENROLLMENT_FORECAST_MAX_NEW_SITES
				     ? (size_t)json_integer_value(count)
				     : 1;
	}
	return n < ENROLLMENT_FORECAST_MAX_NEW_SITES ? n : ENROLLMENT_FORECAST_MAX_NEW_SITES;
}

static void warn(struct enrollment_forecast *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void warn(struct enrollment_forecast *f, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	json_array_append_new(f->warnings, json_string(text));
}

/* States of the study-sites before any what-if. */
static void classify_sites(struct enrollment_forecast *f)
{
	const struct enrollment_snapshot *s = &f->snapshot;

	for (size_t i = 0; i < s->nsites; i++) {
		const struct enrollment_site *site = &s->sites[i];
		struct enrollment_forecast_site *fs = &f->sites[f->nsites++];

		memset(fs, 0, sizeof(*fs));
		fs->site = site;
		snprintf(fs->label, sizeof(fs->label), "%s", site->site_number);
		fs->opens_on = fs->closes_on = ENROLLMENT_NO_DAY;
		fs->input = -1;
		if (site->activated_on != ENROLLMENT_NO_DAY)
			fs->state = site->closed ? "closed" : "active";
		else if (site->closed)
			fs->state = "closed";
		else if (site->planned_activation_on == ENROLLMENT_NO_DAY)
			fs->state = "not_counted";
		else if (site->planned_activation_on > s->as_of) {
			fs->state = "planned";
			fs->opens_on = site->planned_activation_on;
		} else {
			fs->state = "overdue";
			fs->opens_on = s->as_of + 1;
		}
	}
}

/* The model's inputs, from the sites after the what-ifs; the warnings for
 * every assumption made. */
static void build_inputs(struct enrollment_forecast *f)
{
	const struct enrollment_snapshot *s = &f->snapshot;
	bool ended = s->enrollment_ended_on != ENROLLMENT_NO_DAY;
	size_t overdue = 0, unplanned = 0;
	char list_overdue[256] = "", list_unplanned[256] = "", date[DATE_LEN];

	f->inputs = xcalloc(f->nsites ? f->nsites : 1, sizeof(*f->inputs));
	for (size_t i = 0; i < f->nsites; i++) {
		struct enrollment_forecast_site *fs = &f->sites[i];
		struct forecast_site in = {0};
		bool history = fs->site && fs->site->activated_on != ENROLLMENT_NO_DAY;

		if (!strcmp(fs->state, "overdue") || !strcmp(fs->state, "not_counted")) {
			bool late = !strcmp(fs->state, "overdue");
			char *list = late ? list_overdue : list_unplanned;
			size_t len = strlen(list);
			if (len < 200)
				snprintf(list + len, 256 - len, "%s%s", len ? ", " : "", fs->label);
			else if (len < 250 && !strstr(list, "..."))
				snprintf(list + len, 256 - len, ", ...");
			*(late ? &overdue : &unplanned) += 1;
		}
		if (history) {
			in.recruited = (uint32_t)fs->site->enrolled;
			in.active_days = fs->site->active_days;
			in.closed = fs->site->closed || ended;
		} else if (ended || fs->opens_on == ENROLLMENT_NO_DAY) {
			continue;
		} else {
			in.opens_in_days = fs->opens_on - s->as_of - 1;
		}
		if (fs->closes_on != ENROLLMENT_NO_DAY && !in.closed)
			in.closes_in_days = fs->closes_on - s->as_of;
		fs->input = (long)f->ninputs;
		f->inputs[f->ninputs++] = in;
	}
	if (ended) {
		date_format(s->enrollment_ended_on, date);
		warn(f, "the study left enrolling on %s: no site recruits after it", date);
	}
	if (overdue && !ended)
		warn(f, "%zu site%s not yet activated whose planned activation has passed (%s) %s "
			"assumed to open the day after as_of",
		     overdue, overdue > 1 ? "s" : "", list_overdue, overdue > 1 ? "are" : "is");
	if (unplanned && !ended)
		warn(f, "%zu site%s not yet activated without planned_activation_on (%s) %s not "
			"counted: give %s a planned date to count %s",
		     unplanned, unplanned > 1 ? "s" : "", list_unplanned, unplanned > 1 ? "are" : "is",
		     unplanned > 1 ? "them" : "it", unplanned > 1 ? "them" : "it");
}

/* The seed: given, or derived from everything that defines the question. */
static uint64_t derive_seed(const struct enrollment_forecast *f, const json_t *request)
{
	json_t *material = json_deep_copy(request);
	char hash[SHA256_HEX_LEN], *text;
	uint64_t seed = 0;

	json_object_del(material, "seed");
	json_object_set_new(material, "study_id", json_integer(f->snapshot.study_id));
	json_object_set_new(material, "as_of", enrollment_date_json(f->snapshot.as_of));
	json_object_set_new(material, "target", json_integer(f->target));
	text = json_canonical(material);
	sha256_hex(text, strlen(text), hash);
	for (int i = 0; i < 13; i++)
		seed = seed * 16 + (uint64_t)(hash[i] <= '9' ? hash[i] - '0' : hash[i] - 'a' + 10);
	free(text);
	json_decref(material);
	return seed & SEED_MAX;
}

/* The dates asked for, as days after as-of (they must lie after it). */
static void read_by(struct enrollment_forecast *f, const json_t *request, struct err *e)
{
	static const int defaults[] = ENROLLMENT_FORECAST_DEFAULT_BY;
	const json_t *by = json_object_get(request, "by");
	int32_t as_of = f->snapshot.as_of;

	if (!json_is_array(by)) {
		for (size_t i = 0; i < sizeof(defaults) / sizeof(*defaults); i++)
			f->by[f->nby++] = as_of + defaults[i];
		return;
	}
	if (json_array_size(by) > FORECAST_MAX_WINDOWS)
		return; /* reported by check_request_shape */
	for (size_t i = 0; i < json_array_size(by); i++) {
		int32_t day;
		char field[32];
		snprintf(field, sizeof(field), "by[%zu]", i);
		if (date_parse(json_string_value(json_array_get(by, i)), &day))
			continue; /* reported by check_request_shape */
		if (day <= as_of)
			err_field(e, field, "must be after as_of: recruits expected by a later date");
		else
			f->by[f->nby++] = day;
	}
}

int enrollment_forecast_compute(struct db *db, int64_t study_id, const json_t *request,
				struct enrollment_forecast *out, struct err *e)
{
	struct enrollment_snapshot *s = &out->snapshot;
	json_t *target = json_object_get(request, "target");
	int32_t first_activation = ENROLLMENT_NO_DAY;
	int rc;

	memset(out, 0, sizeof(*out));
	out->warnings = json_array();
	if (!json_is_object(request))
		return err_set(e, CTMS_EBADREQ, "the forecast request must be a JSON object");
	/* every problem of the request at once: the shape, then the rules */
	check_request_shape(request, e);
	rc = enrollment_snapshot_load(db, study_id, json_str(request, "as_of"), s, e);
	if (rc || (json_object_get(request, "as_of") && !json_str(request, "as_of") &&
		   !json_is_null(json_object_get(request, "as_of"))))
		return rc ? rc : e->code;

	out->enrolled = enrollment_snapshot_enrolled(s);
	out->target_given = json_is_integer(target) && json_integer_value(target) >= 1 &&
			    json_integer_value(target) <= TARGET_MAX;
	out->target = out->target_given ? json_integer_value(target) : s->target;
	if (out->target_given && out->target <= out->enrolled)
		err_field(e, "target",
			  "must be above the %lld subjects enrolled as of as_of: the forecast is of the "
			  "time to enroll more",
			  (long long)out->enrolled);
	read_by(out, request, e);

	out->sites = xcalloc(s->nsites + new_sites(request) + 1, sizeof(*out->sites));
	classify_sites(out);
	apply_what_if(out, request, e);
	if (e->code)
		return e->code;
	build_inputs(out);

	out->seed_given = json_is_integer(json_object_get(request, "seed"));
	out->seed = out->seed_given ? (uint64_t)json_integer_value(json_object_get(request, "seed"))
				    : derive_seed(out, request);
	for (size_t i = 0; i < s->nsites; i++)
		if (s->sites[i].activated_on != ENROLLMENT_NO_DAY)
			first_activation = first_activation == ENROLLMENT_NO_DAY ||
							   s->sites[i].activated_on < first_activation
						   ? s->sites[i].activated_on
						   : first_activation;
	out->options.seed = out->seed;
	out->options.elapsed_days =
		first_activation == ENROLLMENT_NO_DAY ? 0 : s->as_of - first_activation + 1;
	out->options.nwindows = out->nby;
	for (size_t j = 0; j < out->nby; j++)
		out->options.windows[j] = out->by[j] - s->as_of;

	if (out->target <= out->enrolled) {
		/* only the study's own target gets here: a given one was refused */
		out->status = ENROLLMENT_FORECAST_TARGET_REACHED;
		warn(out, "the study's target of %lld is reached: %lld enrolled as of as_of; give a "
			  "higher target to forecast further",
		     (long long)out->target, (long long)out->enrolled);
		return 0;
	}
	if (out->ninputs == 0) {
		out->status = ENROLLMENT_FORECAST_NO_DATA;
		warn(out, "no site has been active by as_of and none plans to open: no forecast");
		return 0;
	}
	rc = forecast_run(out->inputs, out->ninputs, (uint32_t)(out->target - out->enrolled),
			  &out->options, &out->result);
	if (rc)
		return err_set(e, rc, "the forecast could not be computed: %s", out->result.message);
	out->has_result = true;
	out->status = out->result.status == FORECAST_OK	      ? ENROLLMENT_FORECAST_OK
		      : out->result.status == FORECAST_NO_DATA ? ENROLLMENT_FORECAST_NO_DATA
							       : ENROLLMENT_FORECAST_NO_FUTURE_SITES;
	return 0;
}

void enrollment_forecast_release(struct enrollment_forecast *f)
{
	enrollment_snapshot_release(&f->snapshot);
	free(f->sites);
	free(f->inputs);
	json_decref(f->warnings);
	memset(f, 0, sizeof(*f));
}

int enrollment_forecast(struct db *db, int64_t study_id, const json_t *request, json_t **out,
			struct err *e)
{
	struct enrollment_forecast f;
	int rc = enrollment_forecast_compute(db, study_id, request, &f, e);

	*out = rc ? NULL : enrollment_forecast_json(&f);
	enrollment_forecast_release(&f);
	return rc;
}

double enrollment_forecast_site_expected(const struct enrollment_forecast *f, size_t i, double t)
{
	const struct enrollment_forecast_site *fs = &f->sites[i];
	const struct forecast_site *in;
	struct forecast_rate rate;
	double end;

	if (fs->input < 0 || !f->has_result || f->result.fit.method == FORECAST_FIT_NO_DATA)
		return 0;
	in = &f->inputs[fs->input];
	if (in->closed || forecast_site_rate(in, &f->result.fit, &rate))
		return 0;
	end = in->closes_in_days > 0 && in->closes_in_days < t ? in->closes_in_days : t;
	return end > in->opens_in_days ? rate.mean * (end - in->opens_in_days) : 0;
}

int32_t enrollment_forecast_median_day(const struct enrollment_forecast *f)
{
	if (!f->has_result || !f->result.has_median)
		return ENROLLMENT_NO_DAY;
	return f->snapshot.as_of + (int32_t)fmax(1.0, ceil(f->result.median));
}
