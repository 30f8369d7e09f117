#include "domain/access.h"

#include <string.h>

#include "domain/record.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/json.h"

const char *const role_names[] = {
	"admin", "manager", "monitor", "site", "safety", "finance", "auditor", "viewer", NULL,
};

const char *role_name(enum role r)
{
	return r >= 0 && r < NROLES ? role_names[r] : "unknown";
}

int role_parse(const char *name, enum role *out)
{
	for (int i = 0; name && i < NROLES; i++) {
		if (!strcmp(name, role_names[i])) {
			*out = (enum role)i;
			return 0;
		}
	}
	return CTMS_EINVAL;
}

/* Where a kind of record lives: reference data shared by every study, the
 * study level, or one study-site. */
enum level { LEVEL_GLOBAL, LEVEL_STUDY, LEVEL_SITE };

#define R ACCESS_READ
#define C ACCESS_CREATE
#define U ACCESS_UPDATE
#define T ACCESS_TRANSITION

/* The role matrix. Columns in enum role order: admin, manager, monitor,
 * site, safety, finance, auditor, viewer. study_sql and site_sql name the
 * row's study and study-site in SQL over alias t (and the record's joins). */
static const struct rule {
	const char *entity;
	enum level level;
	const char *study_sql, *site_sql;
	unsigned allow[NROLES];
} rules[] = {
	{"organisation", LEVEL_GLOBAL, NULL, NULL, {R | C | U | T, R | C | U, R, R, R, R, R, R}},
	{"site", LEVEL_GLOBAL, NULL, NULL, {R | C | U | T, R | C | U, R, R, R, R, R, R}},
	{"study", LEVEL_STUDY, "t.id", NULL, {R | C | U | T, R | C | U | T, R, R, R, R, R, R}},
	{"protocol_version", LEVEL_STUDY, "t.study_id", NULL,
	 {R | C | U | T, R | C | U | T, R, R, R, R, R, R}},
	{"study_site", LEVEL_SITE, "t.study_id", "t.id",
	 {R | C | U | T, R | C | U | T, R | U | T, R, R, R, R, R}},
	{"subject", LEVEL_SITE, "t.study_id", "t.study_site_id",
	 {R | C | U | T, R, R, R | C | U | T, R, R, R, 0}},
	{"milestone", LEVEL_STUDY, "t.study_id", NULL, {R | C | U | T, R | C | U, R | U, R, R, R, R, R}},
	{"visit_definition", LEVEL_STUDY, "t.study_id", NULL,
	 {R | C | U | T, R | C | U, R, R, R, R, R, R}},
	{"subject_visit", LEVEL_SITE, "t.study_id", "sj.study_site_id",
	 {R | C | U | T, R, R, R | C | U, R, R, R, 0}},
	{"enrollment_plan_point", LEVEL_STUDY, "t.study_id", NULL,
	 {R | C | U | T, R | C | U, R, 0, R, R, R, R}},
	{"diversity_goal", LEVEL_STUDY, "t.study_id", NULL,
	 {R | C | U | T, R | C | U, R, 0, R, R, R, R}},
	/* Safety data: the safety role and the site record it, monitors verify it;
	 * finance and sponsor viewers do not see it. */
	{"adverse_event", LEVEL_SITE, "t.study_id", "sj.study_site_id",
	 {R | C | U | T, R, R, R | C | U, R | C | U, 0, R, 0}},
	{"exposure", LEVEL_SITE, "t.study_id", "sj.study_site_id",
	 {R | C | U | T, R, R, R | C | U, R, 0, R, 0}},
};

/* Capabilities by role, same column order. */
static const bool capability_allow[][NROLES] = {
	[CAP_STUDY_REPORTS] = {true, true, true, false, true, true, true, true},
	[CAP_AUDIT_TRAIL] = {true, false, false, false, false, false, true, false},
	[CAP_ADMINISTER] = {true, false, false, false, false, false, false, false},
	[CAP_SIGN] = {true, true, true, true, true, true, false, false},
};

#undef R
#undef C
#undef U
#undef T

static const struct rule *rule_of(const struct entity_def *def)
{
	for (size_t i = 0; i < sizeof(rules) / sizeof(*rules); i++)
		if (!strcmp(rules[i].entity, def->name))
			return &rules[i];
	return NULL;
}

bool access_role_allows(enum role r, const struct entity_def *def, enum access_op op)
{
	const struct rule *rule = rule_of(def);
	return rule && r >= 0 && r < NROLES && (rule->allow[r] & op);
}

void access_scope_of(const struct entity_def *def, const json_t *rec, int64_t *study_id,
		     int64_t *study_site_id)
{
	const struct rule *rule = rule_of(def);
	*study_id = *study_site_id = 0;
	if (!rule || rule->level == LEVEL_GLOBAL)
		return;
	*study_id = json_int(rec, strcmp(def->name, "study") ? "study_id" : "id", 0);
	if (rule->level == LEVEL_SITE)
		*study_site_id = json_int(rec, strcmp(def->name, "study_site") ? "study_site_id" : "id", 0);
}

/* Does grant g cover a record of this rule at (study, site) for op? */
static bool grant_covers(const struct grant *g, const struct rule *rule, enum access_op op,
			 int64_t study, int64_t site)
{
	if (!(rule->allow[g->role] & op))
		return false;
	if (rule->level == LEVEL_GLOBAL || (!g->study_id && !g->study_site_id))
		return true;
	if (!study)
		return false; /* a new study: only a global grant creates one */
	if (g->study_site_id) {
		if (rule->level == LEVEL_SITE)
			return site && g->study_site_id == site;
		return op == ACCESS_READ && g->study_id == study;
	}
	return g->study_id == study;
}

static bool allows(const struct actor *a, const struct rule *rule, enum access_op op, int64_t study,
		   int64_t site)
{
	if (a->system)
		return true;
	for (size_t i = 0; rule && i < a->ngrants; i++)
		if (grant_covers(&a->grants[i], rule, op, study, site))
			return true;
	return false;
}

static int not_found(const struct entity_def *def, const json_t *rec, struct err *e)
{
	return err_set(e, CTMS_ENOTFOUND, "%s %lld was not found", def->name,
		       (long long)json_int(rec, "id", 0));
}

int access_read(const struct actor *a, const struct entity_def *def, const json_t *rec,
		struct err *e)
{
	int64_t study, site;
	access_scope_of(def, rec, &study, &site);
	return allows(a, rule_of(def), ACCESS_READ, study, site) ? 0 : not_found(def, rec, e);
}

int access_write(const struct actor *a, const struct entity_def *def, enum access_op op,
		 const json_t *rec, struct err *e)
{
	const struct rule *rule = rule_of(def);
	int64_t study, site;
	access_scope_of(def, rec, &study, &site);
	if (allows(a, rule, op, study, site))
		return 0;
	/* Creating: the parent was visible, so say why. */
	if (op != ACCESS_CREATE && !allows(a, rule, ACCESS_READ, study, site))
		return not_found(def, rec, e);
	return err_set(e, CTMS_EFORBIDDEN, "your roles do not allow you to %s this %s",
		       op == ACCESS_CREATE ? "create" : op == ACCESS_UPDATE ? "change" : "move", def->name);
}

/* " AND g.role IN ('a', 'b')" for the roles whose rule allows op. */
static void put_roles(struct buf *sql, const struct rule *rule, enum access_op op)
{
	int n = 0;
	buf_puts(sql, " AND g.role IN (");
	for (int r = 0; r < NROLES; r++)
		if (rule->allow[r] & op)
			buf_printf(sql, "%s'%s'", n++ ? ", " : "", role_names[r]);
	if (!n)
		buf_puts(sql, "''");
	buf_puts(sql, ")");
}

void access_list_filter(const struct actor *a, const struct entity_def *def, struct buf *sql,
			int *n, int *user_param)
{
	const struct rule *rule = rule_of(def);
	bool by_study = false, by_site = false;
	int terms = 0;

	*user_param = 0;
	if (a->system)
		return;
	for (size_t i = 0; rule && i < a->ngrants; i++) {
		const struct grant *g = &a->grants[i];
		if (!(rule->allow[g->role] & ACCESS_READ))
			continue;
		if (rule->level == LEVEL_GLOBAL || (!g->study_id && !g->study_site_id))
			return; /* sees every row */
		if (g->study_site_id)
			by_site = true;
		else
			by_study = true;
	}
	if (!by_study && !by_site) {
		buf_puts(sql, " AND 1 = 0");
		return;
	}
	*user_param = ++*n;
	buf_puts(sql, " AND (");
	if (by_study) {
		buf_printf(sql, "%s IN (SELECT g.study_id FROM grants g WHERE g.user_id = $%d"
				" AND g.revoked_at IS NULL AND g.study_site_id IS NULL",
			   rule->study_sql, *user_param);
		put_roles(sql, rule, ACCESS_READ);
		buf_puts(sql, ")");
		terms++;
	}
	if (by_site) {
		bool site_level = rule->level == LEVEL_SITE;
		buf_printf(sql, "%s%s IN (SELECT g.%s FROM grants g WHERE g.user_id = $%d"
				" AND g.revoked_at IS NULL AND g.study_site_id IS NOT NULL",
			   terms ? " OR " : "", site_level ? rule->site_sql : rule->study_sql,
			   site_level ? "study_site_id" : "study_id", *user_param);
		put_roles(sql, rule, ACCESS_READ);
		buf_puts(sql, ")");
	}
	buf_puts(sql, ")");
}

int access_capability(const struct actor *a, enum access_capability c, int64_t study_id,
		      struct err *e)
{
	return access_capability_at(a, c, study_id, 0, e);
}

int access_capability_at(const struct actor *a, enum access_capability c, int64_t study_id,
			 int64_t study_site_id, struct err *e)
{
	bool visible = false;

	if (a->system)
		return 0;
	for (size_t i = 0; i < a->ngrants; i++) {
		const struct grant *g = &a->grants[i];
		bool global = !g->study_id && !g->study_site_id;
		bool site = study_site_id && g->study_site_id == study_site_id;
		if (global || site || (study_id && g->study_id == study_id))
			visible = true;
		/* Study-wide figures need a grant over the whole study; a
		 * study-site's record may also be acted on from its site. */
		if (capability_allow[c][g->role] &&
		    (global || site ||
		     (study_id && !g->study_site_id && g->study_id == study_id)))
			return 0;
	}
	if (study_id && !visible)
		return err_set(e, CTMS_ENOTFOUND, "study %lld was not found", (long long)study_id);
	return err_set(e, CTMS_EFORBIDDEN, "your roles do not allow this");
}

bool access_unblinded(const struct actor *a, int64_t study_id, int64_t study_site_id)
{
	if (a->system)
		return true;
	for (size_t i = 0; i < a->ngrants; i++) {
		const struct grant *g = &a->grants[i];
		if (!g->unblinded)
			continue;
		if ((!g->study_id && !g->study_site_id) ||
		    (!g->study_site_id && g->study_id == study_id) ||
		    (g->study_site_id && g->study_site_id == study_site_id))
			return true;
	}
	return false;
}
