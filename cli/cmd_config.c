/*
 * cmd_config: `postilion config [-n|-d] [-x] [name...]`, postconf's job:
 * "name = value" per parameter, sorted; -n only what main.cf sets, -d the
 * built-in defaults, -x values with $name expanded. Read-only.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/log.h"

static void config_print(struct config *, const char *, int);

/* config_print: postconf's shape, "name =" alone for an empty value. */
static void
config_print(struct config *cfg, const char *name, int expand)
{
	const char *value;

	value = expand ? config_get(cfg, name) : config_raw(cfg, name);
	if (value == NULL)
		value = "";
	printf("%s =%s%s\n", name, *value ? " " : "", value);
}

int
cmd_config(struct config *cfg, int argc, char **argv)
{
	struct config *show = cfg, *dflt = NULL;
	const char *name;
	int ch, nondefault = 0, defaults = 0, expand = 0, is_default, rc = 0;
	size_t i;

	optind = 1;
	while ((ch = getopt(argc, argv, "dnx")) != -1) {
		switch (ch) {
		case 'd': defaults = 1; break;
		case 'n': nondefault = 1; break;
		case 'x': expand = 1; break;
		default:
			fprintf(stderr, "usage: postilion config [-n|-d] [-x] "
			    "[name ...]\n");
			return 1;
		}
	}
	if (defaults && nondefault) {
		fprintf(stderr, "postilion: config: -d and -n exclude each "
		    "other\n");
		return 1;
	}
	if (defaults)
		show = dflt = config_new(config_get(cfg, "config_directory"));
	if (optind == argc) {
		for (i = 0; (name = config_name_at(show, i, &is_default)) !=
		    NULL; i++)
			if (!nondefault || !is_default)
				config_print(show, name, expand);
	}
	for (; optind < argc; optind++) {
		name = argv[optind];
		if (config_raw(show, name) == NULL) {
			fprintf(stderr, "postilion: warning: %s: unknown "
			    "parameter\n", name);
			rc = 1;
		} else if (!nondefault || config_is_set(show, name))
			config_print(show, name, expand);
	}
	if (dflt != NULL)
		config_free(dflt);
	return rc;
}
