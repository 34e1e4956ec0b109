/*
 * map: "type:name" specs, the backend table and map lists. Every lookup
 * folds the key to lower case and drops keys longer than MAP_KEY_MAX before
 * a backend sees them, so backends only ever get bounded, folded keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "core/buf.h"
#include "core/xmalloc.h"
#include "map/map.h"
#include "map/map_impl.h"

struct map_list {
	struct map **maps;
	size_t	 nmaps;
};

static const struct map_ops *const map_backends[] = {
	&map_hash_ops,
	&map_btree_ops,
	&map_texthash_ops,
	&map_inline_ops,
	&map_static_ops,
	&map_passwdfile_ops,
};

const struct map_ops *
map_ops_find(const char *spec, const char **name)
{
	const char *colon;
	size_t i, len;

	if ((colon = strchr(spec, ':')) == NULL)
		return NULL;
	len = (size_t)(colon - spec);
	for (i = 0; i < sizeof(map_backends) / sizeof(map_backends[0]); i++) {
		if (strlen(map_backends[i]->type) == len &&
		    strncmp(map_backends[i]->type, spec, len) == 0) {
			*name = colon + 1;
			return map_backends[i];
		}
	}
	return NULL;
}

void
map_fold_key(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s += 'a' - 'A';
}

struct map *
map_open(const char *spec, char *err, size_t errlen)
{
	const struct map_ops *ops;
	const char *name;
	struct map *m;

	if ((ops = map_ops_find(spec, &name)) == NULL) {
		if (strchr(spec, ':') == NULL)
			snprintf(err, errlen, "map \"%s\": expected type:name",
			    spec);
		else
			snprintf(err, errlen, "map \"%s\": unsupported map "
			    "type", spec);
		return NULL;
	}
	m = xcalloc(1, sizeof(*m));
	m->ops = ops;
	m->spec = xstrdup(spec);
	if (ops->open(m, name, err, errlen) == -1) {
		free(m->spec);
		free(m);
		return NULL;
	}
	return m;
}

int
map_lookup(struct map *m, const char *key, struct buf *value)
{
	char folded[MAP_KEY_MAX + 1];

	/* A longer key cannot be in any table: build refuses those. */
	if (strlcpy(folded, key, sizeof(folded)) >= sizeof(folded))
		return 0;
	map_fold_key(folded);
	return m->ops->lookup(m, folded, value);
}

int
map_changed(struct map *m)
{
	return m->ops->changed ? m->ops->changed(m) : 0;
}

int
map_walk(struct map *m, map_walk_fn *fn, void *arg)
{
	if (m->ops->walk == NULL)
		return -1;
	return m->ops->walk(m, fn, arg);
}

void
map_close(struct map *m)
{
	if (m == NULL)
		return;
	m->ops->close(m);
	free(m->spec);
	free(m);
}

struct map_list *
map_list_open(const char *specs, char *err, size_t errlen)
{
	struct map_list *l;
	char **v;
	size_t i, n;

	l = xcalloc(1, sizeof(*l));
	v = config_split(specs ? specs : "", &n);
	l->maps = xcalloc(n + 1, sizeof(*l->maps));
	for (i = 0; i < n; i++) {
		if ((l->maps[i] = map_open(v[i], err, errlen)) == NULL) {
			config_split_free(v);
			map_list_close(l);
			return NULL;
		}
		l->nmaps++;
	}
	config_split_free(v);
	return l;
}

/* The first map that has the key wins; an error stops the search. */
int
map_list_lookup(struct map_list *l, const char *key, struct buf *value)
{
	size_t i;
	int rc;

	for (i = 0; i < l->nmaps; i++)
		if ((rc = map_lookup(l->maps[i], key, value)) != 0)
			return rc;
	return 0;
}

int
map_list_changed(struct map_list *l)
{
	size_t i;

	for (i = 0; i < l->nmaps; i++)
		if (map_changed(l->maps[i]))
			return 1;
	return 0;
}

size_t
map_list_count(const struct map_list *l)
{
	return l->nmaps;
}

void
map_list_close(struct map_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->nmaps; i++)
		map_close(l->maps[i]);
	free(l->maps);
	free(l);
}
