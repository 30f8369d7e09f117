/* The lifecycle half of the record engine (record.h): moving a record
 * along its state machine, each step dated and audited. */
#include "domain/record.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "db/db.h"
#include "domain/access.h"
#include "domain/record_internal.h"
#include "util/buf.h"
#include "util/date.h"
#include "util/json.h"

static const struct state_def *state_find(const struct state_machine *sm, const char *name)
{
	for (size_t i = 0; name && i < sm->nstates; i++)
		if (!strcmp(sm->states[i].name, name))
			return &sm->states[i];
	return NULL;
}

static int check_transition_input(const struct entity_def *def, const struct transition *t,
				  struct err *e)
{
	int32_t on;

	if (!def->sm)
		return err_set(e, CTMS_EINVAL, "a %s has no lifecycle", def->name);
	if (!t->to || !state_find(def->sm, t->to)) {
		struct buf b;
		buf_init(&b, 400);
		for (size_t i = 0; i < def->sm->nstates; i++)
			buf_printf(&b, "%s%s", i ? ", " : "", def->sm->states[i].name);
		err_field(e, "to", "must be one of the %s states: %s", def->name, b.ptr);
		buf_release(&b);
	}
	if (!t->on)
		err_field(e, "on", "is required: the date of the step, YYYY-MM-DD");
	else if (date_parse(t->on, &on))
		err_field(e, "on", "must be a calendar date YYYY-MM-DD");
	else if (on > date_latest_today())
		err_field(e, "on", "is in the future; record a step when it has happened");
	if (t->reason && (strlen(t->reason) > 1000 || record_has_control(t->reason)))
		err_field(e, "reason", "must be at most 1000 bytes of text");
	return e->code;
}

/* The step's date may not precede any date already on the lifecycle. */
static int check_date_order(const struct entity_def *def, const json_t *old, const char *on,
			    struct err *e)
{
	for (size_t i = 0; i < def->sm->nstates; i++) {
		char field[64];
		const char *d, *name = def->sm->states[i].name;
		size_t len = strlen(name);
		if (len + sizeof("_on") > sizeof(field))
			continue;
		memcpy(field, name, len);
		memcpy(field + len, "_on", sizeof("_on"));
		d = json_str(old, field);
		if (d && strcmp(on, d) < 0)
			return err_field(e, "on", "is before the %s's %s date %s", def->name,
					 def->sm->states[i].name, d);
	}
	return 0;
}

int record_transition(struct db *db, const struct actor *a, const struct entity_def *def,
		      int64_t id, int64_t if_match, const struct transition *t, json_t **out,
		      struct err *e)
{
	json_t *old = NULL, *rec = NULL;
	const struct state_def *from, *to;
	char field[64];
	bool allowed = false;
	int rc;

	if (out)
		*out = NULL;
	if ((rc = check_transition_input(def, t, e)))
		return rc;
	rc = db_begin(db);
	if (rc)
		return err_set(e, rc, "the store is busy; try again");
	rc = record_load_for_write(db, a, def, ACCESS_TRANSITION, id, if_match, &old, out, e);
	if (rc)
		goto finish;
	from = state_find(def->sm, json_str(old, "status"));
	to = state_find(def->sm, t->to);
	for (size_t i = 0; from && from->next && from->next[i]; i++)
		allowed |= !strcmp(from->next[i], to->name);
	if (!allowed) {
		struct buf b;
		buf_init(&b, 400);
		record_list_codes(&b, from ? from->next : NULL);
		rc = err_set(e, CTMS_ESTATE, "a %s cannot move from %s to %s; from %s it can move to: %s",
			     def->name, from ? from->name : "?", to->name, from ? from->name : "?", b.ptr);
		buf_release(&b);
		goto finish;
	}
	if (to->reason_required && (!t->reason || !t->reason[0])) {
		rc = err_field(e, "reason", "is required to move a %s to %s", def->name, to->name);
		goto finish;
	}
	if ((rc = check_date_order(def, old, t->on, e)))
		goto finish;
	rec = json_deep_copy(old);
	json_object_set_new(rec, "status", json_string(to->name));
	snprintf(field, sizeof(field), "%s_on", to->name);
	if (record_field(def, field))
		json_object_set_new(rec, field, json_string(t->on));
	if (record_field(def, "status_reason"))
		json_object_set_new(rec, "status_reason", t->reason ? json_string(t->reason) : json_null());
	if (to->reason_field)
		json_object_set_new(rec, to->reason_field, json_string(t->reason));
	if (def->on_transition && (rc = def->on_transition(db, a, old, rec, e)))
		goto finish;
	rc = record_apply(db, a, def, old, rec, "transition", t->reason, e);
finish:
	rc = record_finish_write(db, a, def, id, rc, out, e);
	json_decref(old);
	json_decref(rec);
	return rc ? rc : e->code;
}
