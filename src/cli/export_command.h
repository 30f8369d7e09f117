/* `ctms export <format> --db PATH ...`: the command line of the exporters.
 * Acts as the system actor (actor.h). */
#ifndef CTMS_CLI_EXPORT_COMMAND_H
#define CTMS_CLI_EXPORT_COMMAND_H

extern const char export_usage[];

/* Runs `ctms export ...` (argv[1] is "export"); returns the exit status: 0
 * when the document was written, 1 when the study or the database could
 * not be read, 2 for bad usage. */
int export_command(int argc, char **argv);

#endif
