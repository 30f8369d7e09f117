#include "cli/report_tables.h"

#include <string.h>

#include "cli/forecast_table.h"
#include "domain/actor.h"
#include "domain/diversity.h"
#include "domain/enrollment.h"
#include "domain/record.h"
#include "domain/study.h"
#include "util/err.h"
#include "util/json.h"

/* The reports name their inputs as the API's query does (as_of, by); here
 * they are the options --as-of and --by, and a message says so. */
static void name_options(struct err *e)
{
	size_t i;
	json_t *f;

	json_array_foreach(e->fields, i, f) {
		const char *field = json_string_value(json_object_get(f, "field"));
		if (field && !strcmp(field, "as_of"))
			json_object_set_new(f, "field", json_string("--as-of"));
		else if (field && !strcmp(field, "by"))
			json_object_set_new(f, "field", json_string("--by"));
	}
}

/* The texts of one printed line. A cell's text stays valid until
 * CELLS_PER_LINE more are taken from the same struct: a line takes a fresh
 * one. Longer texts are cut at 47 bytes. */
#define CELLS_PER_LINE 24
struct cells {
	char text[CELLS_PER_LINE][48];
	int used;
};

/* A JSON value as text: an integer as it is, a real with `decimals`
 * places, a string as it is, "-" for null or absent; with percent set a
 * number gets a "%" after it. */
static const char *cell_of(struct cells *c, const json_t *v, int decimals, bool percent)
{
	char *t = c->text[c->used++ % CELLS_PER_LINE];

	if (json_is_string(v))
		snprintf(t, sizeof(c->text[0]), "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(t, sizeof(c->text[0]), "%lld%s", (long long)json_integer_value(v),
			 percent ? "%" : "");
	else if (json_is_real(v))
		snprintf(t, sizeof(c->text[0]), "%.*f%s", decimals, json_real_value(v),
			 percent ? "%" : "");
	else
		snprintf(t, sizeof(c->text[0]), "-");
	return t;
}

static const char *cell(struct cells *c, const json_t *o, const char *key, int decimals)
{
	return cell_of(c, json_object_get(o, key), decimals, false);
}

static const char *percent_cell(struct cells *c, const json_t *o, const char *key)
{
	return cell_of(c, json_object_get(o, key), 1, true);
}

/* ---- ctms enrollment ---------------------------------------------------- */

/* A count with its reasons, one reason a line: "withdrawn 1  WITHDRAWAL BY SUBJECT: 1". */
static void print_count_with_reasons(FILE *out, const char *label, const json_t *figures,
				     const char *key, const char *reasons_key)
{
	const json_t *reasons = json_object_get(figures, reasons_key);
	struct cells c = {0};
	const char *reason;
	json_t *n;
	bool first = true;

	fprintf(out, "    %-15s %6s", label, cell(&c, figures, key, 0));
	json_object_foreach((json_t *)reasons, reason, n) {
		fprintf(out, "%s%s: %lld\n", first ? "   " : "                             ", reason,
			(long long)json_integer_value(n));
		first = false;
	}
	if (first)
		fputc('\n', out);
}

static void print_plan(FILE *out, const json_t *report, const json_t *totals)
{
	const json_t *plan = json_object_get(totals, "plan");
	struct cells c = {0};

	if (!json_is_object(plan)) {
		fprintf(out, "  plan: none recorded for the study\n");
		return;
	}
	fprintf(out, "  plan vs actual: %s planned by %s, %s enrolled, %+.1f (%s of plan)\n",
		cell(&c, plan, "planned", 1), cell(&c, report, "as_of", 0),
		cell(&c, plan, "actual", 0), json_number_value(json_object_get(plan, "difference")),
		percent_cell(&c, plan, "percent_of_plan"));
}

static void print_totals(FILE *out, const json_t *report)
{
	const json_t *t = json_object_get(report, "totals");
	const json_t *sites = json_object_get(t, "sites");
	const json_t *zero = json_object_get(t, "zero_enrollment_sites");
	struct cells c = {0};
	size_t i;
	json_t *site;

	fprintf(out, "%s (%s) as of %s; records from %s\n", json_string_value(json_object_get(report, "protocol_number")),
		cell(&c, report, "status", 0), cell(&c, report, "as_of", 0),
		cell(&c, report, "first_record_on", 0));
	fprintf(out, "  enrolled %s of target %s (%s of target)\n", cell(&c, t, "enrolled", 0),
		cell(&c, t, "target", 0), percent_cell(&c, t, "percent_of_target"));
	print_plan(out, report, t);

	fprintf(out, "\n  subjects\n");
	print_count_with_reasons(out, "screened", t, "screened", NULL);
	print_count_with_reasons(out, "screen-failed", t, "screen_failed", "screen_failures_by_reason");
	print_count_with_reasons(out, "in screening", t, "in_screening", NULL);
	print_count_with_reasons(out, "enrolled", t, "enrolled", NULL);
	print_count_with_reasons(out, "active", t, "active", NULL);
	print_count_with_reasons(out, "completed", t, "completed", NULL);
	print_count_with_reasons(out, "withdrawn", t, "withdrawn", "withdrawals_by_reason");

	fprintf(out, "\n  sites: %s known, %s active, %s closed, %s not yet active\n",
		cell(&c, sites, "known", 0), cell(&c, sites, "active", 0), cell(&c, sites, "closed", 0),
		cell(&c, sites, "not_yet_active", 0));
	fprintf(out, "    %s site-months; %s enrolled per site-month\n", cell(&c, t, "site_months", 2),
		cell(&c, t, "enrollment_rate_per_site_month", 3));
	fprintf(out, "    median days from activation to first subject: %s (%s sites with a first subject)\n",
		cell(&c, t, "median_days_to_first_enrollment", 1),
		cell(&c, t, "sites_with_first_enrollment", 0));
	fprintf(out, "    zero-enrolling sites (active, nobody enrolled):");
	json_array_foreach(zero, i, site)
		fprintf(out, " %s", json_string_value(site));
	fprintf(out, "%s\n", json_array_size(zero) ? "" : " none");
}

static const char legend[] =
	"\n  site-months count each site's active days (a month is 30.4375 days); rate is subjects\n"
	"  enrolled per site-month; to 1st is days from activation to the first subject enrolled;\n"
	"  planned is the cumulative enrollment planned by as-of, where the plan has points.\n";

static void print_site_groups(FILE *out, const json_t *groups)
{
	size_t i;
	json_t *g;

	fprintf(out, "\n  %-6s %-7s %-14s %-10s %8s %6s %8s %6s %9s %9s %11s %6s %6s %7s\n", "site",
		"country", "state", "activated", "screened", "failed", "enrolled", "active", "completed",
		"withdrawn", "site-months", "rate", "to 1st", "planned");
	json_array_foreach(groups, i, g) {
		const json_t *f = json_object_get(g, "figures");
		struct cells c = {0};
		bool zero = json_array_size(json_object_get(f, "zero_enrollment_sites")) > 0;

		fprintf(out, "  %-6s %-7s %-14s %-10s %8s %6s %8s %6s %9s %9s %11s %6s %6s %7s%s\n",
			cell(&c, g, "site_number", 0), cell(&c, g, "country", 0), cell(&c, g, "state", 0),
			cell(&c, g, "activated_on", 0), cell(&c, f, "screened", 0),
			cell(&c, f, "screen_failed", 0), cell(&c, f, "enrolled", 0), cell(&c, f, "active", 0),
			cell(&c, f, "completed", 0), cell(&c, f, "withdrawn", 0),
			cell(&c, f, "site_months", 2), cell(&c, f, "enrollment_rate_per_site_month", 3),
			cell(&c, f, "median_days_to_first_enrollment", 1),
			cell(&c, json_object_get(f, "plan"), "planned", 1),
			zero ? "  zero-enrolling" : "");
	}
	fputs(legend, out);
}

static void print_country_groups(FILE *out, const json_t *groups)
{
	size_t i;
	json_t *g;

	fprintf(out, "\n  %-7s %5s %6s %8s %6s %8s %6s %9s %9s %11s %6s %6s %7s  %s\n", "country",
		"sites", "active", "screened", "failed", "enrolled", "active", "completed", "withdrawn",
		"site-months", "rate", "to 1st", "planned", "zero-enrolling sites");
	json_array_foreach(groups, i, g) {
		const json_t *f = json_object_get(g, "figures");
		const json_t *sites = json_object_get(f, "sites");
		const json_t *zero = json_object_get(f, "zero_enrollment_sites");
		struct cells c = {0};
		size_t k;
		json_t *site;

		fprintf(out, "  %-7s %5s %6s %8s %6s %8s %6s %9s %9s %11s %6s %6s %7s",
			cell(&c, g, "country", 0), cell(&c, sites, "known", 0), cell(&c, sites, "active", 0),
			cell(&c, f, "screened", 0), cell(&c, f, "screen_failed", 0),
			cell(&c, f, "enrolled", 0), cell(&c, f, "active", 0), cell(&c, f, "completed", 0),
			cell(&c, f, "withdrawn", 0), cell(&c, f, "site_months", 2),
			cell(&c, f, "enrollment_rate_per_site_month", 3),
			cell(&c, f, "median_days_to_first_enrollment", 1),
			cell(&c, json_object_get(f, "plan"), "planned", 1));
		json_array_foreach(zero, k, site)
			fprintf(out, "%s%s", k ? " " : "  ", json_string_value(site));
		fputc('\n', out);
	}
	fputs(legend, out);
	fprintf(out, "  sites are those known by as-of; to 1st is the median over the country's sites.\n");
}

static void print_month_groups(FILE *out, const json_t *groups)
{
	size_t i;
	json_t *g;

	fprintf(out, "\n  %-7s %-10s %8s %6s %8s %9s %9s %10s %7s %12s %11s %6s\n", "month", "through",
		"screened", "failed", "enrolled", "completed", "withdrawn", "cumulative", "planned",
		"active sites", "site-months", "rate");
	json_array_foreach(groups, i, g) {
		struct cells c = {0};
		fprintf(out, "  %-7s %-10s %8s %6s %8s %9s %9s %10s %7s %12s %11s %6s\n",
			cell(&c, g, "month", 0), cell(&c, g, "through", 0), cell(&c, g, "screened", 0),
			cell(&c, g, "screen_failed", 0), cell(&c, g, "enrolled", 0),
			cell(&c, g, "completed", 0), cell(&c, g, "withdrawn", 0),
			cell(&c, g, "cumulative_enrolled", 0), cell(&c, g, "planned_cumulative", 1),
			cell(&c, g, "active_sites", 0), cell(&c, g, "site_months", 2),
			cell(&c, g, "enrollment_rate_per_site_month", 3));
	}
	fprintf(out, "\n  cumulative and planned are totals by the month's last day (or as-of);\n"
		     "  rate is the month's enrollments per site-month active in it.\n");
}

int enrollment_table_print(FILE *out, struct db *db, const char *protocol, const char *as_of,
			   const char *by, struct err *e)
{
	json_t *report = NULL;
	int64_t study_id;
	int rc = study_by_protocol(db, protocol, &study_id, e);

	if (!rc)
		rc = enrollment_report(db, study_id, as_of, by, &report, e);
	if (rc) {
		name_options(e);
		return rc;
	}
	print_totals(out, report);
	if (by && !strcmp(by, "site"))
		print_site_groups(out, json_object_get(report, "groups"));
	else if (by && !strcmp(by, "country"))
		print_country_groups(out, json_object_get(report, "groups"));
	else if (by)
		print_month_groups(out, json_object_get(report, "groups"));
	json_decref(report);
	return 0;
}

/* ---- ctms diversity ----------------------------------------------------- */

/* A cell of a mix: its count, and its percentage where the report gives
 * one (not for a small cell). */
static const char *mix_cell(struct cells *c, const json_t *cellv, int decimals)
{
	char *t = c->text[c->used++ % CELLS_PER_LINE];
	const json_t *percent = json_object_get(cellv, "percent");

	if (!cellv) {
		snprintf(t, sizeof(c->text[0]), "-");
		return t;
	}
	if (json_is_number(percent))
		snprintf(t, sizeof(c->text[0]), "%s (%.1f%%)", cell(c, cellv, "count", decimals),
			 json_number_value(percent));
	else
		snprintf(t, sizeof(c->text[0]), "%s", cell(c, cellv, "count", decimals));
	return t;
}

static const json_t *find_category(const json_t *cells, const char *category)
{
	size_t i;
	json_t *x;

	json_array_foreach(cells, i, x)
		if (!strcmp(json_string_value(json_object_get(x, "category")), category))
			return x;
	return NULL;
}

static const json_t *find_goal(const json_t *goals, const char *dimension, const char *category)
{
	size_t i;
	json_t *g;

	json_array_foreach(goals, i, g)
		if (!strcmp(json_string_value(json_object_get(g, "dimension")), dimension) &&
		    !strcmp(json_string_value(json_object_get(g, "category")), category))
			return g;
	return NULL;
}

/* A goal as it was set: "50%" of the target, or a count "12". */
static const char *goal_cell(struct cells *c, const json_t *goal)
{
	if (!goal)
		return "";
	if (json_is_integer(json_object_get(goal, "goal_percent")))
		return percent_cell(c, goal, "goal_percent");
	return cell(c, goal, "goal_count", 0);
}

static void print_mixes(FILE *out, const json_t *report)
{
	static const char *const dimensions[] = {"sex", "race", "ethnicity", "age_band"};
	const json_t *overall = json_object_get(report, "overall");
	const json_t *projection = json_object_get(report, "projection");
	const json_t *final = json_object_get(projection, "final_mix");
	const json_t *goals = json_object_get(report, "goals");

	for (size_t d = 0; d < sizeof(dimensions) / sizeof(*dimensions); d++) {
		size_t i;
		json_t *x;

		fprintf(out, "\n  %-43s %-8s %-14s %s\n", dimensions[d], "goal", "actual",
			"projected final");
		json_array_foreach(json_object_get(overall, dimensions[d]), i, x) {
			const char *category = json_string_value(json_object_get(x, "category"));
			struct cells c = {0};
			fprintf(out, "    %-41s %-8s %-14s %s\n", category,
				goal_cell(&c, find_goal(goals, dimensions[d], category)), mix_cell(&c, x, 0),
				json_is_object(final)
					? mix_cell(&c, find_category(json_object_get(final, dimensions[d]),
								     category),
						   1)
					: "-");
		}
	}
}

static void print_goal_sites(FILE *out, const json_t *sites)
{
	size_t i;
	json_t *s;

	fprintf(out, "      by site:");
	json_array_foreach(sites, i, s) {
		const json_t *percent = json_object_get(s, "percent");
		struct cells c = {0};
		fprintf(out, "%s %s: %s of %s", i ? "," : "", cell(&c, s, "site_number", 0),
			cell(&c, s, "count", 0), cell(&c, s, "enrolled", 0));
		if (json_is_number(percent))
			fprintf(out, " (%.1f%%)", json_number_value(percent));
	}
	fputc('\n', out);
}

static void print_goals(FILE *out, const json_t *goals)
{
	size_t i;
	json_t *g;

	if (!json_array_size(goals)) {
		fprintf(out, "\n  goals: none set for the study\n");
		return;
	}
	fprintf(out, "\n  %-44s %6s %9s %-14s %9s %9s %-14s %s\n", "goals (minimums)", "goal",
		"at target", "actual", "shortfall", "of rest", "projected", "on track");
	json_array_foreach(goals, i, g) {
		const json_t *on_track = json_object_get(g, "on_track");
		struct cells c = {0};
		char name[96], actual[48], projected[48];

		snprintf(name, sizeof(name), "%s %s", cell(&c, g, "dimension", 0),
			 cell(&c, g, "category", 0));
		if (json_is_number(json_object_get(g, "actual_percent")))
			snprintf(actual, sizeof(actual), "%s (%s)", cell(&c, g, "actual_count", 0),
				 percent_cell(&c, g, "actual_percent"));
		else
			snprintf(actual, sizeof(actual), "%s", cell(&c, g, "actual_count", 0));
		if (json_is_number(json_object_get(g, "projected_percent")))
			snprintf(projected, sizeof(projected), "%s (%s)", cell(&c, g, "projected_count", 1),
				 percent_cell(&c, g, "projected_percent"));
		else
			snprintf(projected, sizeof(projected), "%s", cell(&c, g, "projected_count", 1));
		fprintf(out, "    %-42s %6s %9s %-14s %9s %9s %-14s %s\n", name, goal_cell(&c, g),
			cell(&c, g, "goal_at_target", 0), actual, cell(&c, g, "shortfall", 0),
			percent_cell(&c, g, "needed_percent_of_remaining"), projected,
			json_is_boolean(on_track) ? (json_is_true(on_track) ? "yes" : "no") : "-");
		print_goal_sites(out, json_object_get(g, "sites"));
	}
	fprintf(out, "  at target: the goal in subjects at the study's target; of rest: the share of the\n"
		     "  subjects still to enroll that must be in the category to meet it.\n");
}

/* Text on lines of at most `width` characters after `indent` spaces,
 * broken at spaces. */
static void print_wrapped(FILE *out, const char *text, int indent, int width)
{
	while (text && *text) {
		int n = (int)strlen(text);
		if (n > width) {
			n = width;
			while (n > 0 && text[n] != ' ')
				n--;
			if (n == 0)
				n = width;
		}
		fprintf(out, "%*s%.*s\n", indent, "", n, text);
		text += n;
		while (*text == ' ')
			text++;
	}
}

static void print_diversity(FILE *out, const json_t *report)
{
	const json_t *projection = json_object_get(report, "projection");
	struct cells c = {0};
	size_t i;
	json_t *s;

	fprintf(out, "%s as of %s: %s of %s enrolled\n", json_string_value(json_object_get(report, "protocol_number")),
		cell(&c, report, "as_of", 0), cell(&c, report, "enrolled", 0),
		cell(&c, report, "target", 0));
	fprintf(out, "  small cells: a percentage is shown only for a cell of at least %d subjects;\n"
		     "  a smaller cell shows its count alone.\n",
		DIVERSITY_SMALL_CELL);
	if (json_is_true(json_object_get(projection, "available")))
		fprintf(out, "  projected final mix, at the target (%s to go; median completion %s):\n",
			cell(&c, projection, "remaining", 0),
			cell(&c, projection, "median_completion_on", 0));
	else
		fprintf(out, "  projected final mix: none\n");
	print_wrapped(out, json_string_value(json_object_get(projection, "method")), 4, 84);
	print_mixes(out, report);
	print_goals(out, json_object_get(report, "goals"));

	fprintf(out, "\n  %-6s %-7s %8s %21s\n", "site", "country", "enrolled", "projected additional");
	json_array_foreach(json_object_get(report, "sites"), i, s) {
		struct cells row = {0};
		fprintf(out, "  %-6s %-7s %8s %21s\n", cell(&row, s, "site_number", 0),
			cell(&row, s, "country", 0), cell(&row, s, "enrolled", 0),
			cell(&row, s, "projected_additional", 1));
	}
}

int diversity_table_print(FILE *out, struct db *db, const char *protocol, const char *as_of,
			  struct err *e)
{
	json_t *report = NULL;
	int64_t study_id;
	int rc = study_by_protocol(db, protocol, &study_id, e);

	if (!rc)
		rc = diversity_report(db, study_id, as_of, &report, e);
	if (rc) {
		name_options(e);
		return rc;
	}
	print_diversity(out, report);
	json_decref(report);
	return 0;
}
