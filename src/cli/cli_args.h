/* Options of the import and export commands: "--name VALUE" or
 * "--name=VALUE", flags, and positional arguments (files, a directory). */
#ifndef CTMS_CLI_ARGS_H
#define CTMS_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>

/* One option a command takes: its value goes to *value, or, for a flag
 * (value NULL), *flag is set. */
struct cli_option {
	const char *name; /* "--db" */
	const char **value;
	bool *flag;
};

/* Parses argv[first..argc): the options of opts (nopts of them) and up to
 * max positional arguments into positional[] (*npositional of them).
 * Returns 0 to go on; 1 when --help or -h asked for usage, which is then
 * printed to stdout; 2 after printing what is wrong, and usage, to stderr
 * (an unknown option, an option without its value, one argument too many). */
int cli_args(int argc, char **argv, int first, const struct cli_option *opts, size_t nopts,
	     const char **positional, int max, int *npositional, const char *usage);

#endif
