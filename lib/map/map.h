/*
 * map: Postfix-style "type:name" lookup tables behind one interface, so a
 * new backend (LMDB) is one more file. Types: hash: and btree: (Berkeley DB
 * file NAME.db built from the text file NAME), texthash: (the text file read
 * at open), inline:{ key=value, ... }, static:VALUE (every key),
 * passwd-file: (a Dovecot passwd-file: user -> password field).
 * Keys are looked up in lower case (map build folds them), as Postfix does.
 * Security: open maps before the privilege drop; a handle keeps working
 * inside a chroot, and map_changed() tells when the file was replaced.
 */
#ifndef POSTILION_MAP_H
#define POSTILION_MAP_H

#include <stddef.h>
#include "core/buf.h"

struct map;
struct map_list;

/* Limits on map sources; a build or texthash open that crosses one fails. */
#define MAP_KEY_MAX	4096		/* bytes in a key */
#define MAP_VALUE_MAX	65536		/* bytes in a value (alias lists) */
#define MAP_SOURCE_MAX	(128 * 1024 * 1024)	/* bytes in a source file */

/* map_open: open one "type:name"; NULL with a reason in err. */
struct map *map_open(const char *spec, char *err, size_t errlen);
/* map_lookup: 1 found (value in *value), 0 not found, -1 error. */
int	map_lookup(struct map *, const char *key, struct buf *value);
/* map_changed: non-zero when the file behind the map was replaced. */
int	map_changed(struct map *);
void	map_close(struct map *);
/*
 * map_walk: call fn for every entry (key order is the backend's); fn
 * returns 0 to go on, non-zero to stop. 0 done, -1 error or unsupported.
 */
typedef int map_walk_fn(const char *key, const char *value, void *arg);
int	map_walk(struct map *, map_walk_fn *fn, void *arg);

/*
 * map_list_open: a parameter value listing maps ("hash:/a, texthash:/b");
 * an empty value gives an empty list. Lookup tries each in order.
 */
struct map_list *map_list_open(const char *specs, char *err, size_t errlen);
int	map_list_lookup(struct map_list *, const char *key, struct buf *value);
int	map_list_changed(struct map_list *);
size_t	map_list_count(const struct map_list *);
void	map_list_close(struct map_list *);

/*
 * map_build: compile the text source of "hash:PATH" or "btree:PATH" (a
 * bare PATH means hash) into PATH.db: write PATH.db.tmp, fsync, rename.
 * Source lines are "key value" ("key: value" when aliases is set), with #
 * comments and whitespace-led continuation lines. -1 with "FILE, line N:"
 * in err on a bad line.
 */
int	map_build(const char *spec, int aliases, char *err, size_t errlen);
/*
 * map_text_parse: the source parser, for tests: calls fn per entry with the
 * key folded to lower case. fn returns 0 (go on), 1 (duplicate key: the
 * parser warns "FILE, line N: duplicate entry" and goes on) or -1 (stop;
 * errno says why). 0 or -1 with "FILE, line N: reason" in err.
 */
int	map_text_parse(const char *text, const char *filename, int aliases,
	    int (*fn)(const char *key, const char *value, void *arg), void *arg,
	    char *err, size_t errlen);

#endif
