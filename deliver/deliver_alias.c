/*
 * deliver_alias: alias_maps for the local transport. A recipient in
 * mydestination (or without a domain) is looked up by its local part; the
 * value ("a, b@dom, \"|/usr/bin/cmd arg\", /var/log/file") is expanded into
 * mailboxes (virtual_mailbox_maps), commands and files. Interface:
 * deliver_alias_open(), deliver_alias_lookup(), deliver_alias_items().
 * Parameters: alias_maps, mydestination, myhostname.
 * Security: commands and files are allowed only from a map whose file is
 * owned by root and not writable by group or others; everything else is
 * "restricted" (5.7.1). Opened before the privilege drop.
 */
#include <sys/stat.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "deliver/deliver.h"
#include "map/map.h"

struct alias_map {
	struct map *map;
	int	 trusted;	/* root-owned file: commands and files allowed */
};

struct deliver_alias {
	struct alias_map *maps;
	size_t	 nmaps;
	char	*error;	/* a map failed to open: defer, never guess */
	int	 warned;
	char	**mydest;
	size_t	 nmydest;
};

static int alias_trusted(const char *);

/* The file behind "type:path": PATH.db for hash/btree, PATH otherwise. */
static int
alias_trusted(const char *spec)
{
	const char *colon = strchr(spec, ':'), *path;
	struct stat st;
	char *file;
	int ok;

	path = colon ? colon + 1 : spec;
	if (*path != '/')
		return 0;		/* inline: and friends: never trusted */
	if (colon == NULL || !strncmp(spec, "hash:", 5) ||
	    !strncmp(spec, "btree:", 6))
		file = xasprintf("%s.db", path);
	else
		file = xstrdup(path);
	ok = stat(file, &st) == 0 && st.st_uid == 0 &&
	    (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
	free(file);
	return ok;
}

struct deliver_alias *
deliver_alias_open(struct config *cfg)
{
	struct deliver_alias *a = xcalloc(1, sizeof(*a));
	char **specs, err[512];
	size_t n, i;

	specs = config_split(config_get(cfg, "alias_maps"), &n);
	a->maps = xcalloc(n ? n : 1, sizeof(*a->maps));
	for (i = 0; i < n; i++) {
		a->maps[a->nmaps].map = map_open(specs[i], err, sizeof(err));
		if (a->maps[a->nmaps].map == NULL) {
			/* Said when a recipient needs it, not at every start. */
			if (a->error == NULL)
				a->error = xstrdup(err);
			continue;
		}
		a->maps[a->nmaps++].trusted = alias_trusted(specs[i]);
	}
	config_split_free(specs);
	a->mydest = config_split(config_get(cfg, "mydestination"),
	    &a->nmydest);
	return a;
}

int
deliver_alias_is_local(struct deliver_alias *a, const char *address)
{
	const char *at = strrchr(address, '@');
	size_t i, len, mlen;

	if (at == NULL)
		return 1;
	/* As qmgr routes it: case-insensitive, a trailing dot ignored. */
	len = strlen(at + 1);
	if (len > 0 && at[len] == '.')
		len--;
	for (i = 0; i < a->nmydest; i++) {
		mlen = strlen(a->mydest[i]);
		if (mlen > 0 && a->mydest[i][mlen - 1] == '.')
			mlen--;
		if (len > 0 && len == mlen &&
		    !strncasecmp(at + 1, a->mydest[i], len))
			return 1;
	}
	return 0;
}

int
deliver_alias_lookup(struct deliver_alias *a, const char *address,
    struct buf *value, int *trusted)
{
	const char *at = strrchr(address, '@');
	char *key, *p;
	size_t i;
	int rc = 0;

	if (a->error != NULL) {
		if (!a->warned++)
			log_warnx("alias_maps: %s: mail to local recipients "
			    "is deferred", a->error);
		return -1;
	}
	key = at ? xstrndup(address, (size_t)(at - address)) :
	    xstrdup(address);
	for (p = key; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	for (i = 0; i < a->nmaps && rc == 0; i++) {
		rc = map_lookup(a->maps[i].map, key, value);
		*trusted = a->maps[i].trusted;
	}
	free(key);
	return rc;
}

char **
deliver_alias_items(const char *value, size_t *n)
{
	char **items = NULL, *item;
	const char *p = value, *start;
	size_t count = 0, len;
	int quoted;

	for (;;) {
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		start = p;
		for (quoted = 0; *p && (quoted || *p != ','); p++)
			if (*p == '"')
				quoted = !quoted;
		len = (size_t)(p - start);
		while (len > 0 && isspace((unsigned char)start[len - 1]))
			len--;
		if (len >= 2 && start[0] == '"' && start[len - 1] == '"') {
			start++;
			len -= 2;
		}
		item = xstrndup(start, len);
		items = xreallocarray(items, count + 2, sizeof(*items));
		items[count++] = item;
		items[count] = NULL;
	}
	*n = count;
	if (items == NULL)
		items = xcalloc(1, sizeof(*items));
	return items;
}
