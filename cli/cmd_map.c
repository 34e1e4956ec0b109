/*
 * cmd_map: `postilion map build [-a] [type:]FILE...` (postmap, postalias
 * with -a), `map query [type:]FILE KEY` (postmap -q: exit 0 found, 1 not
 * found, 2 error) and `map dump [type:]FILE` (postmap -s). A FILE without
 * a type is hash:FILE.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/buf.h"
#include "core/xmalloc.h"
#include "map/map.h"

static int	map_cmd_usage(void);
static char	*map_cmd_spec(const char *);
static int	map_cmd_build(int, char **);
static int	map_cmd_query(int, char **);
static int	map_cmd_dump(int, char **);
static int	map_cmd_print(const char *, const char *, void *);

static int
map_cmd_usage(void)
{
	fprintf(stderr, "usage: postilion map build [-a] [type:]file ...\n"
	    "       postilion map query [type:]file key\n"
	    "       postilion map dump [type:]file\n");
	return 2;
}

/* map_cmd_spec: "type:name" as given, or "hash:" + a bare file name. */
static char *
map_cmd_spec(const char *arg)
{
	const char *colon, *slash;

	colon = strchr(arg, ':');
	slash = strchr(arg, '/');
	if (colon != NULL && (slash == NULL || colon < slash))
		return xstrdup(arg);
	return xasprintf("hash:%s", arg);
}

static int
map_cmd_build(int argc, char **argv)
{
	char err[512];
	int i, aliases = 0, rc = 0;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strcmp(argv[i], "-a") != 0)
			return map_cmd_usage();
		aliases = 1;
	}
	if (i == argc)
		return map_cmd_usage();
	for (; i < argc; i++) {
		if (map_build(argv[i], aliases, err, sizeof(err)) == -1) {
			fprintf(stderr, "postilion: map build: %s\n", err);
			rc = 1;
		}
	}
	return rc;
}

static int
map_cmd_query(int argc, char **argv)
{
	struct map *m;
	struct buf value;
	char err[512], *spec;
	int rc;

	if (argc != 3)
		return map_cmd_usage();
	spec = map_cmd_spec(argv[1]);
	m = map_open(spec, err, sizeof(err));
	free(spec);
	if (m == NULL) {
		fprintf(stderr, "postilion: map query: %s\n", err);
		return 2;
	}
	buf_init(&value);
	rc = map_lookup(m, argv[2], &value);
	if (rc == 1)
		printf("%s\n", value.data);
	else if (rc == -1)
		fprintf(stderr, "postilion: map query: %s: lookup failed\n",
		    argv[1]);
	buf_free(&value);
	map_close(m);
	return rc == 1 ? 0 : rc == 0 ? 1 : 2;
}

static int
map_cmd_print(const char *key, const char *value, void *arg)
{
	printf("%s %s\n", key, value);
	return 0;
}

static int
map_cmd_dump(int argc, char **argv)
{
	struct map *m;
	char err[512], *spec;
	int rc;

	if (argc != 2)
		return map_cmd_usage();
	spec = map_cmd_spec(argv[1]);
	m = map_open(spec, err, sizeof(err));
	free(spec);
	if (m == NULL) {
		fprintf(stderr, "postilion: map dump: %s\n", err);
		return 2;
	}
	if ((rc = map_walk(m, map_cmd_print, NULL)) == -1)
		fprintf(stderr, "postilion: map dump: %s: cannot list this "
		    "map\n", argv[1]);
	map_close(m);
	return rc == 0 ? 0 : 2;
}

int
cmd_map(struct config *cfg, int argc, char **argv)
{
	if (argc < 2)
		return map_cmd_usage();
	if (strcmp(argv[1], "build") == 0)
		return map_cmd_build(argc - 1, argv + 1);
	if (strcmp(argv[1], "query") == 0)
		return map_cmd_query(argc - 1, argv + 1);
	if (strcmp(argv[1], "dump") == 0)
		return map_cmd_dump(argc - 1, argv + 1);
	return map_cmd_usage();
}
