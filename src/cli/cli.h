/* The command line: `ctms <command> [options]`. */
#ifndef CTMS_CLI_H
#define CTMS_CLI_H

struct db;
struct err;

/* Runs a command; returns the process exit status. */
int cli_main(int argc, char **argv);

/* Loads the small demo portfolio into an empty database through the domain
 * layer, so every record has its audit trail. */
int demo_load(struct db *db, struct err *e);

#endif
