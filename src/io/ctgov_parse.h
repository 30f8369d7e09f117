/* JSON lines of ClinicalTrials.gov records parsed ahead of the importer's
 * writer (ctgov.h). Parsing a record with jansson costs about as much as
 * writing it, so while the writer stores one record, other threads parse
 * the next ones; the writer takes them in file order. */
#ifndef CTMS_IO_CTGOV_PARSE_H
#define CTMS_IO_CTGOV_PARSE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* A record of the input, or the reason its text is not JSON. */
struct ctgov_item {
	json_t *record;   /* owned; NULL when error is set, or once released */
	char *error;      /* owned; "not JSON: ..." */
	const char *text; /* the line (borrowed from the buffer), NULL for an array element */
	size_t len;
	size_t number;    /* line number from 1, or index in the array */
};

/* Parses it->text into it->record, or it->error when it is not JSON. */
void ctgov_parse_item(struct ctgov_item *it);
/* Frees the record and error of an item. */
void ctgov_item_release(struct ctgov_item *it);

struct ctgov_parser;

/* Starts parsing the non-blank lines of data (borrowed until
 * ctgov_parser_stop). Never fails: without threads the lines are parsed as
 * they are asked for. */
struct ctgov_parser *ctgov_parser_start(const char *data, size_t len);
/* The next line's item, in file order, moved to the caller (who releases
 * it); false when no line is left. */
bool ctgov_parser_next(struct ctgov_parser *p, struct ctgov_item *it);
/* Gives back a record the writer is done with (may be NULL): the thread
 * that parsed it frees it, in its own memory arena, instead of the writer,
 * for whom freeing a large record cost a tenth of its time. */
void ctgov_parser_recycle(struct ctgov_parser *p, json_t *record);
/* Waits for the threads and frees the parser and any item not taken. */
void ctgov_parser_stop(struct ctgov_parser *p);

#endif
