/* CDISC ODM 1.3.x parsing: bytes to a JSON description of what the
 * importer needs, with no database. Kept apart from the import so the
 * parser can be fuzzed on its own (tests/fuzz/).
 *
 * Safety: the document is parsed by libxml2 with network access off, no
 * DTD loading, no entity substitution and libxml2's default size limits
 * (no XML_PARSE_HUGE). A document with a DOCTYPE is refused outright: ODM
 * uses none, and refusing it makes external entities (XXE) and entity
 * expansion (billion laughs) impossible rather than merely bounded.
 *
 * The description (a new JSON object in *out):
 *   "odm_version", "file_oid", "study_oid", "protocol_name": text or absent;
 *   "event_defs": {OID: {"name", "type", "repeating", "order"}} from every
 *                 MetaDataVersion (the first definition of an OID wins);
 *   "locations":  {OID: {"name"}} from AdminData;
 *   "subjects":   [{"key", "line", "site", "site_source", "stamp",
 *                   "fields": {ROLE: value}, "events": [{"oid", "repeat_key",
 *                   "line", "start", "end", "stamp"}]}] in document order;
 *   "audit_records", "vendor_elements", "item_data", "clinical_data":
 *                 counts.
 * ItemData values are kept only when the item plays a role ctms knows
 * (odm_item_role); "stamp" is the date-time of the element's AuditRecord. */
#ifndef CTMS_IO_ODM_PARSE_H
#define CTMS_IO_ODM_PARSE_H

#include <jansson.h>
#include <stddef.h>

struct err;

#define ODM_NS "http://www.cdisc.org/ns/odm/v1.3"
/* Larger files are refused before parsing: the document is held in memory. */
#define ODM_MAX_BYTES ((size_t)64 << 20)

/* Parses data[0..len). Returns 0 and *out, or CTMS_EINVAL with a message
 * naming the line when the bytes are not a well-formed ODM 1.3 document
 * (truncated, wrong encoding, a DOCTYPE, another root element), CTMS_ETOOBIG
 * over ODM_MAX_BYTES. */
int odm_parse(const char *data, size_t len, json_t **out, struct err *e);

/* The ctms role of an item from its OID and ItemDef (name and SDSVarName,
 * may be NULL): "SEX", "AGE", "BRTHDAT", "RACE", "ETHNIC", "RFICDTC",
 * "SCRNDAT", "SUBJID", "ARM", "SVSTDTC", "SVENDTC", or NULL. */
const char *odm_item_role(const char *oid, const char *name, const char *sds);

#endif
