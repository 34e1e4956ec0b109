/*
 * map_mem: the maps held in memory. texthash:PATH parses the text source at
 * open (a replaced or edited file shows in map_changed), inline:{ k=v, ... }
 * parses the spec itself, static:VALUE answers VALUE for every key.
 * Security: a texthash source is bounded by MAP_SOURCE_MAX and the parser's
 * per-entry limits; open it before the privilege drop.
 */
#include <sys/stat.h>
#include <sys/tree.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/config.h"
#include "core/buf.h"
#include "core/fileutil.h"
#include "core/xmalloc.h"
#include "map/map.h"
#include "map/map_impl.h"

struct map_mem_entry {
	RB_ENTRY(map_mem_entry) link;
	char	*key;
	char	*value;
};

RB_HEAD(map_mem_tree, map_mem_entry);

struct map_mem {
	struct map_mem_tree tree;
	int	 fd;		/* texthash: the source, to notice changes */
	struct stat st;
};

static int	map_mem_cmp(struct map_mem_entry *, struct map_mem_entry *);
static struct map_mem *map_mem_new(void);
static int	map_mem_insert(const char *, const char *, void *);
static int	map_mem_lookup(struct map *, const char *, struct buf *);
static int	map_mem_walk(struct map *, map_walk_fn *, void *);
static void	map_mem_close(struct map *);
static int	map_texthash_open(struct map *, const char *, char *, size_t);
static int	map_texthash_changed(struct map *);
static char	*map_braces_strip(const char *, int *);
static int	map_inline_entry(struct map_mem *, const char *, const char *,
		    char *, size_t);
static int	map_inline_open(struct map *, const char *, char *, size_t);
static int	map_static_open(struct map *, const char *, char *, size_t);
static int	map_static_lookup(struct map *, const char *, struct buf *);
static void	map_static_close(struct map *);

/* libbsd's tree.h expects __unused, which its cdefs.h leaves undefined. */
#ifndef __unused
#define __unused	__attribute__((__unused__))
#endif
RB_GENERATE_STATIC(map_mem_tree, map_mem_entry, link, map_mem_cmp)

const struct map_ops map_texthash_ops = {
	.type = "texthash",
	.open = map_texthash_open,
	.lookup = map_mem_lookup,
	.changed = map_texthash_changed,
	.close = map_mem_close,
	.walk = map_mem_walk,
};

const struct map_ops map_inline_ops = {
	.type = "inline",
	.open = map_inline_open,
	.lookup = map_mem_lookup,
	.close = map_mem_close,
	.walk = map_mem_walk,
};

const struct map_ops map_static_ops = {
	.type = "static",
	.open = map_static_open,
	.lookup = map_static_lookup,
	.close = map_static_close,
};

static int
map_mem_cmp(struct map_mem_entry *a, struct map_mem_entry *b)
{
	return strcmp(a->key, b->key);
}

static struct map_mem *
map_mem_new(void)
{
	struct map_mem *mm;

	mm = xcalloc(1, sizeof(*mm));
	RB_INIT(&mm->tree);
	mm->fd = -1;
	return mm;
}

/* map_mem_insert: a map_text_parse callback; the first definition wins. */
static int
map_mem_insert(const char *key, const char *value, void *arg)
{
	struct map_mem *mm = arg;
	struct map_mem_entry *e;

	e = xcalloc(1, sizeof(*e));
	e->key = xstrdup(key);
	if (RB_INSERT(map_mem_tree, &mm->tree, e) != NULL) {
		free(e->key);
		free(e);
		return 1;
	}
	e->value = xstrdup(value);
	return 0;
}

static int
map_mem_lookup(struct map *m, const char *key, struct buf *value)
{
	struct map_mem *mm = m->data;
	struct map_mem_entry find, *e;

	find.key = (char *)key;
	if ((e = RB_FIND(map_mem_tree, &mm->tree, &find)) == NULL)
		return 0;
	buf_reset(value);
	buf_puts(value, e->value);
	return 1;
}

static int
map_mem_walk(struct map *m, map_walk_fn *fn, void *arg)
{
	struct map_mem *mm = m->data;
	struct map_mem_entry *e;

	RB_FOREACH(e, map_mem_tree, &mm->tree)
		if (fn(e->key, e->value, arg) != 0)
			break;
	return 0;
}

static void
map_mem_close(struct map *m)
{
	struct map_mem *mm = m->data;
	struct map_mem_entry *e, *next;

	if (mm == NULL)
		return;
	RB_FOREACH_SAFE(e, map_mem_tree, &mm->tree, next) {
		RB_REMOVE(map_mem_tree, &mm->tree, e);
		free(e->key);
		free(e->value);
		free(e);
	}
	if (mm->fd != -1)
		close(mm->fd);
	free(mm);
	m->data = NULL;
}

static int
map_texthash_open(struct map *m, const char *path, char *err, size_t errlen)
{
	struct map_mem *mm;
	char *text;

	mm = map_mem_new();
	m->data = mm;
	if ((mm->fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		map_mem_close(m);
		return -1;
	}
	if ((text = map_text_read(mm->fd, path, &mm->st, err,
	    errlen)) == NULL ||
	    map_text_parse(text, path, 0, map_mem_insert, mm, err,
	    errlen) == -1) {
		free(text);
		map_mem_close(m);
		return -1;
	}
	free(text);
	return 0;
}

/* Replaced by rename (no links left) or edited in place (size or mtime). */
static int
map_texthash_changed(struct map *m)
{
	struct map_mem *mm = m->data;
	struct stat st;

	if (fstat(mm->fd, &st) == -1)
		return 1;
	return st.st_nlink == 0 || st.st_size != mm->st.st_size ||
	    st.st_mtim.tv_sec != mm->st.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != mm->st.st_mtim.tv_nsec;
}

/*
 * map_braces_strip: "{ text }" gives "text" (trimmed) with *braced set;
 * anything else is copied as is. NULL when a brace is not closed.
 */
static char *
map_braces_strip(const char *s, int *braced)
{
	size_t len;

	*braced = 0;
	while (*s == ' ' || *s == '\t')
		s++;
	len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (*s != '{')
		return xstrndup(s, len);
	if (len < 2 || s[len - 1] != '}')
		return NULL;
	*braced = 1;
	s++;
	len -= 2;
	while (len > 0 && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	return xstrndup(s, len);
}

/* map_inline_entry: one "key=value" or "{ key = value }" of an inline map. */
static int
map_inline_entry(struct map_mem *mm, const char *spec, const char *elem,
    char *err, size_t errlen)
{
	char *text, *eq, *key, *value, *end;
	int braced, rc = -1;

	if ((text = map_braces_strip(elem, &braced)) == NULL ||
	    (eq = strchr(text, '=')) == NULL || eq == text) {
		snprintf(err, errlen, "%s: expected key=value, not \"%.64s\"",
		    spec, elem);
		goto out;
	}
	*eq = '\0';
	key = text;
	for (end = eq; end > key && (end[-1] == ' ' || end[-1] == '\t'); )
		*--end = '\0';
	for (value = eq + 1; *value == ' ' || *value == '\t'; value++)
		;
	if (strlen(key) > MAP_KEY_MAX || strlen(value) > MAP_VALUE_MAX) {
		snprintf(err, errlen, "%s: entry too long", spec);
		goto out;
	}
	map_fold_key(key);
	if (map_mem_insert(key, value, mm) != 0) {
		snprintf(err, errlen, "%s: duplicate key \"%.64s\"", spec, key);
		goto out;
	}
	rc = 0;
out:
	free(text);
	return rc;
}

static int
map_inline_open(struct map *m, const char *name, char *err, size_t errlen)
{
	struct map_mem *mm;
	char *body, **v;
	size_t i, n;
	int braced;

	m->data = mm = map_mem_new();
	if ((body = map_braces_strip(name, &braced)) == NULL || !braced) {
		snprintf(err, errlen, "%s: expected inline:{ key=value, ... }",
		    m->spec);
		free(body);
		map_mem_close(m);
		return -1;
	}
	v = config_split(body, &n);
	free(body);
	for (i = 0; i < n; i++) {
		if (map_inline_entry(mm, m->spec, v[i], err, errlen) == -1) {
			config_split_free(v);
			map_mem_close(m);
			return -1;
		}
	}
	config_split_free(v);
	return 0;
}

static int
map_static_open(struct map *m, const char *name, char *err, size_t errlen)
{
	int braced;

	if (strlen(name) > MAP_VALUE_MAX ||
	    (m->data = map_braces_strip(name, &braced)) == NULL) {
		snprintf(err, errlen, "%.64s: bad static map value", m->spec);
		return -1;
	}
	return 0;
}

static int
map_static_lookup(struct map *m, const char *key, struct buf *value)
{
	buf_reset(value);
	buf_puts(value, m->data);
	return 1;
}

static void
map_static_close(struct map *m)
{
	free(m->data);
	m->data = NULL;
}
