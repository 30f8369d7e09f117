/* ODM 1.3.2 export of a study's subjects and visits (odm.h; the layout in
 * docs/formats.md). Every read goes through the record engine as the
 * actor, so access rules and blinding apply as in the API. */
#include "io/odm.h"

#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

#include "domain/record.h"
#include "domain/study.h"
#include "domain/study_site.h"
#include "domain/subject.h"
#include "domain/visit.h"
#include "io/odm_parse.h"
#include "util/date.h"
#include "util/json.h"

#define MDV_OID "MDV.1"
#define SUBJECT_EVENT "CTMS.SUBJECT"
#define SUBJECT_FORM "F.CTMS.SUBJECT"
#define SUBJECT_GROUP "IG.CTMS.SUBJECT"
#define VISIT_FORM "F.CTMS.VISIT"
#define VISIT_GROUP "IG.CTMS.VISIT"

struct out {
	xmlDocPtr doc;
	xmlNsPtr ns;
};

/* The subject items: OID, name (the SDTM variable), data type, ctms field. */
static const struct {
	const char *oid, *name, *type, *field;
} subject_items[] = {
	{"CTMS.SEX", "SEX", "text", "sex"},
	{"CTMS.AGE", "AGE", "integer", "age"},
	{"CTMS.RACE", "RACE", "text", "race"},
	{"CTMS.ETHNIC", "ETHNIC", "text", "ethnicity"},
	{"CTMS.SCRNDAT", "SCRNDAT", "date", "screened_on"},
	{"CTMS.RFICDTC", "RFICDTC", "date", "consented_on"},
	{"CTMS.SUBJID", "SUBJID", "text", "subject_number"},
	{"CTMS.ARM", "ARM", "text", "arm"},
};

static const struct {
	const char *oid, *name, *field;
} visit_items[] = {
	{"CTMS.SVSTDTC", "SVSTDTC", "visit_on"},
	{"CTMS.SVENDTC", "SVENDTC", "end_on"},
};

static xmlNodePtr child(struct out *o, xmlNodePtr parent, const char *name)
{
	return xmlNewChild(parent, o->ns, (const xmlChar *)name, NULL);
}

static xmlNodePtr text_child(struct out *o, xmlNodePtr parent, const char *name, const char *text)
{
	return xmlNewTextChild(parent, o->ns, (const xmlChar *)name, (const xmlChar *)text);
}

static void set(xmlNodePtr n, const char *name, const char *value)
{
	xmlNewProp(n, (const xmlChar *)name, (const xmlChar *)value);
}

static void ref(struct out *o, xmlNodePtr parent, const char *element, const char *attr,
		const char *oid)
{
	xmlNodePtr r = child(o, parent, element);
	set(r, attr, oid);
	set(r, "Mandatory", "No");
}

static void event_def(struct out *o, xmlNodePtr mdv, const char *oid, const char *name,
		      const char *type, const char *form)
{
	xmlNodePtr d = child(o, mdv, "StudyEventDef");
	set(d, "OID", oid);
	set(d, "Name", name);
	set(d, "Repeating", strcmp(type, "Unscheduled") ? "No" : "Yes");
	set(d, "Type", type);
	ref(o, d, "FormRef", "FormOID", form);
}

static void form_defs(struct out *o, xmlNodePtr mdv)
{
	static const char *const forms[][4] = {
		{SUBJECT_FORM, "Subject record", SUBJECT_GROUP, "Subject"},
		{VISIT_FORM, "Visit", VISIT_GROUP, "Visit"},
	};
	for (size_t i = 0; i < 2; i++) {
		xmlNodePtr f = child(o, mdv, "FormDef");
		set(f, "OID", forms[i][0]);
		set(f, "Name", forms[i][1]);
		set(f, "Repeating", "No");
		ref(o, f, "ItemGroupRef", "ItemGroupOID", forms[i][2]);
	}
	for (size_t i = 0; i < 2; i++) {
		xmlNodePtr g = child(o, mdv, "ItemGroupDef");
		set(g, "OID", forms[i][2]);
		set(g, "Name", forms[i][3]);
		set(g, "Repeating", "No");
		if (i == 0)
			for (size_t k = 0; k < NELEMS(subject_items); k++)
				ref(o, g, "ItemRef", "ItemOID", subject_items[k].oid);
		else
			for (size_t k = 0; k < NELEMS(visit_items); k++)
				ref(o, g, "ItemRef", "ItemOID", visit_items[k].oid);
	}
	for (size_t k = 0; k < NELEMS(subject_items) + NELEMS(visit_items); k++) {
		bool s = k < NELEMS(subject_items);
		size_t v = k - NELEMS(subject_items);
		xmlNodePtr d = child(o, mdv, "ItemDef");
		set(d, "OID", s ? subject_items[k].oid : visit_items[v].oid);
		set(d, "Name", s ? subject_items[k].name : visit_items[v].name);
		set(d, "DataType", s ? subject_items[k].type : "date");
		set(d, "SDSVarName", s ? subject_items[k].name : visit_items[v].name);
	}
}

static int by_text(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* The unscheduled visit names of the subjects' visits: {name: OID}. */
static json_t *unscheduled_names(const json_t *visits_by_subject)
{
	json_t *names = json_object(), *visits, *v;
	const char *key, *name;
	size_t i, n = 0;

	json_object_foreach((json_t *)visits_by_subject, key, visits)
		json_array_foreach(visits, i, v)
			if (!json_str(v, "visit_number") && (name = json_str(v, "name")) &&
			    !json_object_get(names, name))
				json_object_set_new(names, name, json_null());
	/* Numbered in name order, so the same visits give the same OIDs. */
	const char **sorted = calloc(json_object_size(names) + 1, sizeof(*sorted));
	if (!sorted)
		abort();
	json_object_foreach(names, name, v)
		sorted[n++] = name;
	qsort(sorted, n, sizeof(*sorted), by_text);
	for (i = 0; i < n; i++) {
		char oid[32];
		snprintf(oid, sizeof(oid), "UNS.%zu", i + 1);
		json_object_set_new(names, sorted[i], json_string(oid));
	}
	free(sorted);
	return names;
}

static void study_element(struct out *o, xmlNodePtr root, const json_t *study,
			  const json_t *definitions, const json_t *unscheduled)
{
	xmlNodePtr st = child(o, root, "Study"), gv, mdv, protocol;
	const char *protocol_number = json_str(study, "protocol_number"), *name, *oid;
	json_t *d, *v;
	size_t i;

	set(st, "OID", protocol_number);
	gv = child(o, st, "GlobalVariables");
	text_child(o, gv, "StudyName", json_str(study, "title"));
	text_child(o, gv, "StudyDescription", json_str(study, "title"));
	text_child(o, gv, "ProtocolName", protocol_number);
	mdv = child(o, st, "MetaDataVersion");
	set(mdv, "OID", MDV_OID);
	set(mdv, "Name", "ctms visit schedule");
	protocol = child(o, mdv, "Protocol");
	json_array_foreach(definitions, i, d) {
		xmlNodePtr r = child(o, protocol, "StudyEventRef");
		char order[24];
		snprintf(order, sizeof(order), "%zu", i + 1);
		set(r, "StudyEventOID", json_str(d, "number"));
		set(r, "OrderNumber", order);
		set(r, "Mandatory", "No");
	}
	json_array_foreach(definitions, i, d)
		event_def(o, mdv, json_str(d, "number"), json_str(d, "name"), "Scheduled", VISIT_FORM);
	json_object_foreach((json_t *)unscheduled, name, v)
		if ((oid = json_string_value(v)))
			event_def(o, mdv, oid, name, "Unscheduled", VISIT_FORM);
	event_def(o, mdv, SUBJECT_EVENT, "Subject record", "Common", SUBJECT_FORM);
	form_defs(o, mdv);
}

static void admin_element(struct out *o, xmlNodePtr root, const json_t *study, const json_t *sites,
			  const char *today)
{
	xmlNodePtr admin = child(o, root, "AdminData");
	json_t *site;
	size_t i;

	set(admin, "StudyOID", json_str(study, "protocol_number"));
	json_array_foreach(sites, i, site) {
		xmlNodePtr loc = child(o, admin, "Location"), ref_node;
		const char *effective = json_str(site, "activated_on");
		if (!effective)
			effective = json_str(site, "identified_on");
		set(loc, "OID", json_str(site, "site_number"));
		set(loc, "Name", json_str(site, "institution_name") ? json_str(site, "institution_name")
								    : json_str(site, "site_number"));
		set(loc, "LocationType", "Site");
		ref_node = child(o, loc, "MetaDataVersionRef");
		set(ref_node, "StudyOID", json_str(study, "protocol_number"));
		set(ref_node, "MetaDataVersionOID", MDV_OID);
		set(ref_node, "EffectiveDate", effective ? effective : today);
	}
}

static void item(struct out *o, xmlNodePtr group, const char *oid, const json_t *value)
{
	char number[32];
	const char *text = json_string_value(value);
	xmlNodePtr n;

	if (json_is_integer(value)) {
		snprintf(number, sizeof(number), "%lld", (long long)json_integer_value(value));
		text = number;
	}
	if (!text)
		return;
	n = child(o, group, "ItemData");
	set(n, "ItemOID", oid);
	set(n, "Value", text);
}

static xmlNodePtr event_data(struct out *o, xmlNodePtr subject, const char *oid, const char *repeat,
			     const char *form, const char *group)
{
	xmlNodePtr ev = child(o, subject, "StudyEventData"), f, g;
	set(ev, "StudyEventOID", oid);
	if (repeat)
		set(ev, "StudyEventRepeatKey", repeat);
	f = child(o, ev, "FormData");
	set(f, "FormOID", form);
	g = child(o, f, "ItemGroupData");
	set(g, "ItemGroupOID", group);
	return g;
}

static int by_visit_date(const void *x, const void *y)
{
	const json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
	int c = strcmp(json_str(a, "visit_on"), json_str(b, "visit_on"));
	return c ? c : (json_int(a, "id", 0) > json_int(b, "id", 0)) - (json_int(a, "id", 0) < json_int(b, "id", 0));
}

static void subject_element(struct out *o, xmlNodePtr clinical, const json_t *subject,
			    const json_t *visits, const json_t *unscheduled)
{
	xmlNodePtr sd = child(o, clinical, "SubjectData"), site, g;
	size_t n = json_array_size(visits);
	json_t **sorted = calloc(n + 1, sizeof(*sorted)), *repeats = json_object();

	if (!sorted)
		abort();
	set(sd, "SubjectKey", json_str(subject, "screening_number"));
	site = child(o, sd, "SiteRef");
	set(site, "LocationOID", json_str(subject, "site_number"));
	g = event_data(o, sd, SUBJECT_EVENT, NULL, SUBJECT_FORM, SUBJECT_GROUP);
	for (size_t k = 0; k < NELEMS(subject_items); k++)
		item(o, g, subject_items[k].oid, json_object_get(subject, subject_items[k].field));
	for (size_t i = 0; i < n; i++)
		sorted[i] = json_array_get(visits, i);
	qsort(sorted, n, sizeof(*sorted), by_visit_date);
	for (size_t i = 0; i < n; i++) {
		const char *number = json_str(sorted[i], "visit_number"), *oid = number;
		char repeat[24];
		if (!number) {
			oid = json_string_value(json_object_get(unscheduled, json_str(sorted[i], "name")));
			json_int_t k = json_int(repeats, oid, 0) + 1;
			json_object_set_new(repeats, oid, json_integer(k));
			snprintf(repeat, sizeof(repeat), "%lld", (long long)k);
		}
		g = event_data(o, sd, oid, number ? NULL : repeat, VISIT_FORM, VISIT_GROUP);
		for (size_t k = 0; k < NELEMS(visit_items); k++)
			item(o, g, visit_items[k].oid, json_object_get(sorted[i], visit_items[k].field));
	}
	json_decref(repeats);
	free(sorted);
}

struct export {
	json_t *study, *sites, *definitions, *subjects, *visits; /* visits: {subject id: [visit]} */
};

static int read_all(struct db *db, const struct actor *a, int64_t study_id, struct export *x,
		    struct err *e)
{
	json_t *s;
	size_t i;
	int rc = record_get(db, a, &study_def, study_id, &x->study, e);

	if (!rc)
		rc = record_list_all(db, a, &study_site_def, study_id, &x->sites, e);
	if (!rc)
		rc = record_list_all(db, a, &visit_definition_def, study_id, &x->definitions, e);
	if (!rc)
		rc = record_list_all(db, a, &subject_def, study_id, &x->subjects, e);
	x->visits = json_object();
	json_array_foreach(x->subjects, i, s) {
		json_t *visits = NULL;
		char key[24];
		if (rc)
			break;
		rc = record_list_all(db, a, &subject_visit_def, json_int(s, "id", 0), &visits, e);
		snprintf(key, sizeof(key), "%lld", (long long)json_int(s, "id", 0));
		json_object_set_new(x->visits, key, visits);
	}
	return rc;
}

int odm_export(struct db *db, const struct actor *a, int64_t study_id, char **xml, size_t *len,
	       struct err *e)
{
	struct export x = {0};
	struct out o = {0};
	char now[TIMESTAMP_LEN], today[DATE_LEN], file_oid[64];
	xmlNodePtr root, clinical;
	xmlChar *mem = NULL;
	json_t *unscheduled = NULL, *s;
	size_t i;
	int size = 0, rc = read_all(db, a, study_id, &x, e);

	*xml = NULL;
	*len = 0;
	if (rc)
		goto done;
	timestamp_format(now_us(), now);
	date_format(day_of_us(now_us()), today);
	snprintf(file_oid, sizeof(file_oid), "ctms.study.%lld", (long long)study_id);
	unscheduled = unscheduled_names(x.visits);
	o.doc = xmlNewDoc((const xmlChar *)"1.0");
	root = xmlNewDocNode(o.doc, NULL, (const xmlChar *)"ODM", NULL);
	o.ns = xmlNewNs(root, (const xmlChar *)ODM_NS, NULL);
	xmlSetNs(root, o.ns);
	xmlDocSetRootElement(o.doc, root);
	set(root, "FileType", "Snapshot");
	set(root, "FileOID", file_oid);
	set(root, "CreationDateTime", now);
	set(root, "ODMVersion", "1.3.2");
	set(root, "SourceSystem", "ctms");
	set(root, "Granularity", "All");
	study_element(&o, root, x.study, x.definitions, unscheduled);
	admin_element(&o, root, x.study, x.sites, today);
	clinical = child(&o, root, "ClinicalData");
	set(clinical, "StudyOID", json_str(x.study, "protocol_number"));
	set(clinical, "MetaDataVersionOID", MDV_OID);
	json_array_foreach(x.subjects, i, s) {
		char key[24];
		snprintf(key, sizeof(key), "%lld", (long long)json_int(s, "id", 0));
		subject_element(&o, clinical, s, json_object_get(x.visits, key), unscheduled);
	}
	xmlDocDumpFormatMemoryEnc(o.doc, &mem, &size, "UTF-8", 1);
	if (!mem)
		abort();
	*xml = strndup((const char *)mem, (size_t)size);
	if (!*xml)
		abort();
	*len = (size_t)size;
	xmlFree(mem);
	xmlFreeDoc(o.doc);
done:
	json_decref(unscheduled);
	json_decref(x.study);
	json_decref(x.sites);
	json_decref(x.definitions);
	json_decref(x.subjects);
	json_decref(x.visits);
	return rc;
}
