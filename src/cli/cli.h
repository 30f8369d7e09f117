/* The command line: `ctms <command> [options]`. */
#ifndef CTMS_CLI_H
#define CTMS_CLI_H

#include <stdint.h>

struct db;
struct err;

/* Runs a command; returns the process exit status. */
int cli_main(int argc, char **argv);

/* `ctms user ...`, `ctms token create`, `ctms settings set` (cli_users.c). */
int cli_user(int argc, char **argv);
int cli_token(int argc, char **argv);
int cli_settings(int argc, char **argv);
/* Opens an existing database at the current schema (path or URL). */
int cli_open_db(const char *db, struct db **out, struct err *e);

/* The demo's manager (DEMO_SIGNER, created with a global manager grant and
 * a password no one knows if absent), who signs the demo protocols. */
#define DEMO_SIGNER "demo.manager"
struct actor;
int demo_signer(struct db *db, struct actor **out, struct err *e);

/* Loads the small demo portfolio into an empty database through the domain
 * layer, so every record has its audit trail. */
int demo_load(struct db *db, struct err *e);

/* Generates a synthetic portfolio of about 20·scale studies, 500·scale
 * study-sites, 20,000·scale subjects and 200,000·scale visits (scale 1 to
 * 100) through the domain layer, in one transaction, and prints what it
 * wrote. The same scale and seed give the same records on any day: every
 * date lies on or before a fixed cut-off, 2025-12-31. Refuses a database
 * that already holds audit events (CTMS_ECONFLICT) and writes nothing. */
int demo_generate(struct db *db, int scale, uint64_t seed, struct err *e);
/* The same with nstudies studies (1 to 2000) and 25 study-sites and 1,000
 * subjects per study, the proportions of every scale: demo_generate(db, N)
 * is demo_generate_studies(db, 20·N). A small one keeps tests fast. */
int demo_generate_studies(struct db *db, int nstudies, uint64_t seed, struct err *e);

#endif
