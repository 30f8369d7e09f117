/* `ctms import <format> --db PATH FILE...`: the command line of the
 * importers. Acts as the system actor (actor.h). */
#ifndef CTMS_CLI_IMPORT_COMMAND_H
#define CTMS_CLI_IMPORT_COMMAND_H

extern const char import_usage[];

/* Runs `ctms import ...` (argv[1] is "import"); returns the exit status:
 * 0 when every file was read (rejected records are reported, not fatal),
 * 1 when a file or the database could not be read, 2 for bad usage. */
int import_command(int argc, char **argv);

#endif
