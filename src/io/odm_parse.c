#include "io/odm_parse.h"

#include <ctype.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "util/json.h"

struct parse {
	json_t *out, *event_defs, *locations, *subjects, *items;
	json_int_t audit_records, vendor_elements, item_data, clinical_data;
};

static bool is_odm(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
	       !strcmp((const char *)n->ns->href, ODM_NS) && (!name || !strcmp((const char *)n->name, name));
}

/* An attribute as a new JSON string, or NULL when absent or empty. */
static json_t *attr(xmlNode *n, const char *name)
{
	xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
	json_t *s = v && v[0] ? json_string((const char *)v) : NULL;
	xmlFree(v);
	return s;
}

static void set_attr(json_t *obj, const char *key, xmlNode *n, const char *name)
{
	json_t *v = attr(n, name);
	if (v)
		json_object_set_new(obj, key, v);
}

static json_t *text_of(xmlNode *n)
{
	xmlChar *v = xmlNodeGetContent(n);
	size_t start = 0, end = v ? strlen((const char *)v) : 0;
	json_t *s = NULL;

	while (start < end && isspace(v[start]))
		start++;
	while (end > start && isspace(v[end - 1]))
		end--;
	if (end > start)
		s = json_stringn((const char *)v + start, end - start);
	xmlFree(v);
	return s;
}

static void add_line(json_t *obj, xmlNode *n)
{
	json_object_set_new(obj, "line", json_integer(xmlGetLineNo(n)));
}

/* Normalised: upper case, letters and digits only. */
static void normalise(const char *in, char *out, size_t len)
{
	size_t k = 0;
	for (; in && *in && k + 1 < len; in++)
		if (isalnum((unsigned char)*in))
			out[k++] = (char)toupper((unsigned char)*in);
	out[k] = '\0';
}

static const char *role_of(const char *candidate)
{
	static const struct {
		const char *role;
		const char *names[7];
	} roles[] = {
		{"SEX", {"SEX", "GENDER", NULL}},
		{"AGE", {"AGE", NULL}},
		{"BRTHDAT", {"BRTHDAT", "BRTHDTC", "DOB", "DATEOFBIRTH", "BIRTHDATE", NULL}},
		{"RACE", {"RACE", NULL}},
		{"ETHNIC", {"ETHNIC", "ETHNICITY", NULL}},
		{"RFICDTC", {"RFICDTC", "ICDAT", "ICDTC", "CONSENTDAT", "INFORMEDCONSENTDAT", NULL}},
		{"SCRNDAT", {"SCRNDAT", "SCREENINGDATE", NULL}},
		{"SUBJID", {"SUBJID", NULL}},
		{"ARM", {"ARM", NULL}},
		{"SVSTDTC", {"SVSTDTC", "SVSTDAT", "VISITDTC", "VISITDAT", "VISDAT", "VISITDATE", NULL}},
		{"SVENDTC", {"SVENDTC", "SVENDAT", NULL}},
	};
	char key[64];

	normalise(candidate, key, sizeof(key));
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		for (size_t k = 0; roles[i].names[k]; k++)
			if (!strcmp(key, roles[i].names[k]))
				return roles[i].role;
	return NULL;
}

const char *odm_item_role(const char *oid, const char *name, const char *sds)
{
	const char *role = NULL, *sep;

	if (sds && (role = role_of(sds)))
		return role;
	if (oid && !strcmp(oid, "CTMS.ARM"))
		return "ARM";
	if (name)
		role = role_of(name);
	if (!role && oid)
		role = role_of(oid);
	/* "IT.AGE", "I_DM_SEX": the part after the last separator. */
	if (!role && oid && ((sep = strrchr(oid, '.')) || (sep = strrchr(oid, '_'))))
		role = role_of(sep + 1);
	/* An item merely named ARM is often the arm a blood pressure was taken
	 * on: the randomised arm needs its SDTM variable (or ctms's own OID). */
	return role && strcmp(role, "ARM") ? role : NULL;
}

/* One AuditRecord as {"user", "location", "stamp", "reason", "source"}
 * (members present when given). */
static json_t *audit_record(xmlNode *c)
{
	json_t *rec = json_object(), *v;

	for (xmlNode *g = c->children; g; g = g->next) {
		if (is_odm(g, "UserRef") && (v = attr(g, "UserOID")))
			json_object_set_new(rec, "user", v);
		else if (is_odm(g, "LocationRef") && (v = attr(g, "LocationOID")))
			json_object_set_new(rec, "location", v);
		else if (is_odm(g, "DateTimeStamp") && (v = text_of(g)))
			json_object_set_new(rec, "stamp", v);
		else if (is_odm(g, "ReasonForChange") && (v = text_of(g)))
			json_object_set_new(rec, "reason", v);
		else if (is_odm(g, "SourceID") && (v = text_of(g)))
			json_object_set_new(rec, "source", v);
	}
	return rec;
}

/* The AuditRecord child of an element: kept whole as "audit" (the first
 * one), its DateTimeStamp as "stamp" and, for a subject, its LocationRef
 * as the site when no SiteRef names one. */
static void audit_of(struct parse *p, xmlNode *n, json_t *into, bool site)
{
	for (xmlNode *c = n->children; c; c = c->next) {
		if (!is_odm(c, "AuditRecord"))
			continue;
		p->audit_records++;
		json_t *rec = audit_record(c);
		const char *location = json_str(rec, "location");
		if (json_str(rec, "stamp") && !json_object_get(into, "stamp"))
			json_object_set_new(into, "stamp", json_string(json_str(rec, "stamp")));
		/* OpenEDC writes "-" for "no site". */
		if (site && location && strcmp(location, "-") && !json_object_get(into, "site")) {
			json_object_set_new(into, "site", json_string(location));
			json_object_set_new(into, "site_source", json_string("AuditRecord"));
		}
		if (!json_object_get(into, "audit"))
			json_object_set_new(into, "audit", rec);
		else
			json_decref(rec);
	}
}

static void item_data(struct parse *p, xmlNode *n, json_t *subject, json_t *event)
{
	json_t *oid = attr(n, "ItemOID"), *value, *def;
	const char *role;

	p->item_data++;
	if (!oid)
		return;
	def = json_object_get(p->items, json_string_value(oid));
	role = odm_item_role(json_string_value(oid), json_str(def, "name"), json_str(def, "sds"));
	json_decref(oid);
	if (!role || !(value = attr(n, "Value")))
		return;
	if (!strcmp(role, "SVSTDTC") || !strcmp(role, "SVENDTC")) {
		const char *key = role[2] == 'S' ? "start" : "end";
		if (!json_object_get(event, key))
			json_object_set(event, key, value);
	} else if (!json_object_get(json_object_get(subject, "fields"), role)) {
		json_object_set(json_object_get(subject, "fields"), role, value);
	}
	json_decref(value);
}

/* Descends FormData and ItemGroupData to the ItemData of one event. */
static void event_items(struct parse *p, xmlNode *n, json_t *subject, json_t *event)
{
	for (xmlNode *c = n->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (!is_odm(c, NULL))
			p->vendor_elements++;
		else if (is_odm(c, "FormData") || is_odm(c, "ItemGroupData"))
			event_items(p, c, subject, event);
		else if (is_odm(c, "ItemData"))
			item_data(p, c, subject, event);
		else if (is_odm(c, "AuditRecord"))
			p->audit_records++;
	}
}

static void subject_data(struct parse *p, xmlNode *n)
{
	json_t *s = json_object(), *events = json_array();

	set_attr(s, "key", n, "SubjectKey");
	add_line(s, n);
	json_object_set_new(s, "fields", json_object());
	json_object_set_new(s, "events", events);
	for (xmlNode *c = n->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (!is_odm(c, NULL)) {
			p->vendor_elements++;
		} else if (is_odm(c, "SiteRef")) {
			json_t *oid = attr(c, "LocationOID");
			if (oid) {
				json_object_set_new(s, "site", oid);
				json_object_set_new(s, "site_source", json_string("SiteRef"));
			}
		} else if (is_odm(c, "StudyEventData")) {
			json_t *ev = json_object();
			set_attr(ev, "oid", c, "StudyEventOID");
			set_attr(ev, "repeat_key", c, "StudyEventRepeatKey");
			add_line(ev, c);
			audit_of(p, c, ev, false);
			event_items(p, c, s, ev);
			json_array_append_new(events, ev);
		}
	}
	audit_of(p, n, s, true);
	json_array_append_new(p->subjects, s);
}

static void metadata(struct parse *p, xmlNode *mdv)
{
	json_t *order = json_object();

	for (xmlNode *c = mdv->children; c; c = c->next) {
		if (is_odm(c, "Protocol")) {
			for (xmlNode *r = c->children; r; r = r->next) {
				json_t *oid = attr(r, "StudyEventOID"), *number = attr(r, "OrderNumber");
				if (is_odm(r, "StudyEventRef") && oid && number)
					json_object_set(order, json_string_value(oid), number);
				json_decref(oid);
				json_decref(number);
			}
		} else if (is_odm(c, "StudyEventDef")) {
			json_t *oid = attr(c, "OID"), *def = json_object();
			set_attr(def, "name", c, "Name");
			set_attr(def, "type", c, "Type");
			set_attr(def, "repeating", c, "Repeating");
			if (oid && !json_object_get(p->event_defs, json_string_value(oid)))
				json_object_set(p->event_defs, json_string_value(oid), def);
			json_decref(def);
			json_decref(oid);
		} else if (is_odm(c, "ItemDef")) {
			json_t *oid = attr(c, "OID"), *def = json_object();
			set_attr(def, "name", c, "Name");
			set_attr(def, "sds", c, "SDSVarName");
			if (oid && !json_object_get(p->items, json_string_value(oid)))
				json_object_set(p->items, json_string_value(oid), def);
			json_decref(def);
			json_decref(oid);
		}
	}
	const char *oid;
	json_t *number;
	json_object_foreach(order, oid, number) {
		json_t *def = json_object_get(p->event_defs, oid);
		if (def && !json_object_get(def, "order"))
			json_object_set(def, "order", number);
	}
	json_decref(order);
}

static void study(struct parse *p, xmlNode *n)
{
	if (!json_object_get(p->out, "study_oid"))
		set_attr(p->out, "study_oid", n, "OID");
	for (xmlNode *c = n->children; c; c = c->next) {
		if (is_odm(c, "GlobalVariables")) {
			for (xmlNode *g = c->children; g; g = g->next)
				if (is_odm(g, "ProtocolName") && !json_object_get(p->out, "protocol_name")) {
					json_t *t = text_of(g);
					if (t)
						json_object_set_new(p->out, "protocol_name", t);
				}
		} else if (is_odm(c, "MetaDataVersion")) {
			metadata(p, c);
		} else if (c->type == XML_ELEMENT_NODE && !is_odm(c, NULL)) {
			p->vendor_elements++;
		}
	}
}

static void admin(struct parse *p, xmlNode *n)
{
	for (xmlNode *c = n->children; c; c = c->next) {
		json_t *oid;
		if (!is_odm(c, "Location") || !(oid = attr(c, "OID")))
			continue;
		if (!json_object_get(p->locations, json_string_value(oid))) {
			json_t *loc = json_object();
			set_attr(loc, "name", c, "Name");
			json_object_set_new(p->locations, json_string_value(oid), loc);
		}
		json_decref(oid);
	}
}

static void clinical(struct parse *p, xmlNode *n)
{
	p->clinical_data++;
	for (xmlNode *c = n->children; c; c = c->next) {
		if (is_odm(c, "SubjectData"))
			subject_data(p, c);
		else if (c->type == XML_ELEMENT_NODE && !is_odm(c, NULL))
			p->vendor_elements++;
	}
}

static void walk(struct parse *p, xmlNode *root)
{
	/* Metadata first: ItemDefs name the items ClinicalData refers to. */
	for (xmlNode *c = root->children; c; c = c->next)
		if (is_odm(c, "Study"))
			study(p, c);
	for (xmlNode *c = root->children; c; c = c->next) {
		if (is_odm(c, "AdminData"))
			admin(p, c);
		else if (is_odm(c, "ClinicalData"))
			clinical(p, c);
		else if (c->type == XML_ELEMENT_NODE && !is_odm(c, NULL))
			p->vendor_elements++;
	}
}

/* A DOCTYPE stops the parse before any declaration in it is read. */
static void refuse_doctype(void *ctx, const xmlChar *name, const xmlChar *external_id,
			   const xmlChar *system_id)
{
	xmlParserCtxtPtr ctxt = ctx;
	*(bool *)ctxt->_private = true;
	xmlStopParser(ctxt);
}

static void ignore_errors(void *ctx, const xmlError *error) {}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_libxml(void)
{
	xmlInitParser();
}

static xmlDocPtr read_document(const char *data, size_t len, struct err *e)
{
	xmlParserCtxtPtr ctxt;
	xmlDocPtr doc = NULL;
	bool doctype = false;

	pthread_once(&init_once, init_libxml);
	ctxt = xmlNewParserCtxt();
	if (!ctxt)
		abort();
	ctxt->_private = &doctype;
	ctxt->sax->internalSubset = refuse_doctype;
	xmlSetStructuredErrorFunc(NULL, (xmlStructuredErrorFunc)ignore_errors);
	doc = xmlCtxtReadMemory(ctxt, data, (int)len, "odm.xml", NULL,
				XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
					XML_PARSE_BIG_LINES | XML_PARSE_NOCDATA);
	if (doctype) {
		err_set(e, CTMS_EINVAL,
			"the document has a DOCTYPE (line %d): ODM uses none, and ctms refuses DTDs and "
			"entity declarations (external entities, entity expansion)",
			ctxt->input ? ctxt->input->line : 0);
	} else if (!doc || !ctxt->wellFormed) {
		const xmlError *x = xmlCtxtGetLastError(ctxt);
		char message[300] = "not well-formed";
		if (x && x->message) {
			snprintf(message, sizeof(message), "%s", x->message);
			message[strcspn(message, "\n")] = '\0';
		}
		err_set(e, CTMS_EINVAL, "not a well-formed XML document: %s (line %d)", message,
			x ? x->line : 0);
	}
	if (e->code && doc) {
		xmlFreeDoc(doc);
		doc = NULL;
	}
	xmlFreeParserCtxt(ctxt);
	return doc;
}

int odm_parse(const char *data, size_t len, json_t **out, struct err *e)
{
	struct parse p = {0};
	xmlDocPtr doc;
	xmlNode *root;

	*out = NULL;
	if (len > ODM_MAX_BYTES || len > INT_MAX)
		return err_set(e, CTMS_ETOOBIG, "the document is %zu bytes; ODM imports take at most %zu",
			       len, ODM_MAX_BYTES);
	if (!(doc = read_document(data, len, e)))
		return e->code ? e->code : err_set(e, CTMS_EINVAL, "not an XML document");
	root = xmlDocGetRootElement(doc);
	if (!root || !is_odm(root, "ODM")) {
		err_set(e, CTMS_EINVAL, "the root element is <%s>, not <ODM> in the namespace " ODM_NS,
			root ? (const char *)root->name : "");
		xmlFreeDoc(doc);
		return e->code;
	}
	p.out = json_object();
	p.event_defs = json_object();
	p.locations = json_object();
	p.subjects = json_array();
	p.items = json_object();
	set_attr(p.out, "odm_version", root, "ODMVersion");
	set_attr(p.out, "file_oid", root, "FileOID");
	walk(&p, root);
	json_object_set_new(p.out, "event_defs", p.event_defs);
	json_object_set_new(p.out, "locations", p.locations);
	json_object_set_new(p.out, "subjects", p.subjects);
	json_object_set_new(p.out, "audit_records", json_integer(p.audit_records));
	json_object_set_new(p.out, "vendor_elements", json_integer(p.vendor_elements));
	json_object_set_new(p.out, "item_data", json_integer(p.item_data));
	json_object_set_new(p.out, "clinical_data", json_integer(p.clinical_data));
	json_decref(p.items);
	xmlFreeDoc(doc);
	*out = p.out;
	return 0;
}
