#include "cli/cli_args.h"

#include <stdio.h>
#include <string.h>

/* The option of opts that arg names ("--db" or "--db=..."), or NULL; *inline
 * points to the value after '=' when there is one. */
static const struct cli_option *find(const struct cli_option *opts, size_t nopts, const char *arg,
				     const char **inline_value)
{
	*inline_value = NULL;
	for (size_t k = 0; k < nopts; k++) {
		size_t n = strlen(opts[k].name);
		if (strncmp(arg, opts[k].name, n))
			continue;
		if (!arg[n])
			return &opts[k];
		if (arg[n] == '=' && opts[k].value) {
			*inline_value = arg + n + 1;
			return &opts[k];
		}
	}
	return NULL;
}

int cli_args(int argc, char **argv, int first, const struct cli_option *opts, size_t nopts,
	     const char **positional, int max, int *npositional, const char *usage)
{
	*npositional = 0;
	for (int i = first; i < argc; i++) {
		const char *arg = argv[i], *value;
		const struct cli_option *o;

		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			fputs(usage, stdout);
			return 1;
		}
		if (!strncmp(arg, "--", 2)) {
			o = find(opts, nopts, arg, &value);
			if (!o || (o->value && !value && i + 1 >= argc)) {
				fprintf(stderr, "ctms: unknown or incomplete option %s\n%s", arg, usage);
				return 2;
			}
			if (!o->value)
				*o->flag = true;
			else
				*o->value = value ? value : argv[++i];
			continue;
		}
		if (*npositional >= max) {
			fprintf(stderr, "ctms: extra argument %s\n%s", arg, usage);
			return 2;
		}
		positional[(*npositional)++] = arg;
	}
	return 0;
}
