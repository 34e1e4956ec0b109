/*
 * map_impl: private to lib/map. A backend is one map_ops table: open,
 * lookup, changed, close and walk for reading; writer_* for map_build
 * (NULL when the type cannot be built). Keys reach a backend already
 * folded to lower case and within MAP_KEY_MAX.
 */
#ifndef POSTILION_MAP_IMPL_H
#define POSTILION_MAP_IMPL_H

#include <sys/types.h>
#include <sys/stat.h>
#include <stddef.h>

#include "core/buf.h"
#include "map/map.h"

struct map_writer;

struct map_ops {
	const char *type;
	/* open: fill m->data from name (the part after "type:"); 0 or -1. */
	int	(*open)(struct map *m, const char *name, char *err,
		    size_t errlen);
	int	(*lookup)(struct map *m, const char *key, struct buf *value);
	int	(*changed)(struct map *m);
	void	(*close)(struct map *m);
	int	(*walk)(struct map *m, map_walk_fn *fn, void *arg);
	/* writer_open: a new, empty table at path (created with mode). */
	struct map_writer *(*writer_open)(const char *path, mode_t mode,
		    char *err, size_t errlen);
	/* writer_put: 0 stored, 1 duplicate key (kept the first), -1 error. */
	int	(*writer_put)(struct map_writer *, const char *key,
		    const char *value, char *err, size_t errlen);
	/* writer_commit: flush to disk and free the writer (also on error). */
	int	(*writer_commit)(struct map_writer *, char *err, size_t errlen);
	void	(*writer_abort)(struct map_writer *);
};

struct map {
	const struct map_ops *ops;
	char	*spec;
	void	*data;		/* the backend's state */
};

extern const struct map_ops map_hash_ops;
extern const struct map_ops map_btree_ops;
extern const struct map_ops map_texthash_ops;
extern const struct map_ops map_inline_ops;
extern const struct map_ops map_static_ops;
extern const struct map_ops map_passwdfile_ops;

/* map_ops_find: the backend of a "type:name" spec; *name points past ':'. */
const struct map_ops *map_ops_find(const char *spec, const char **name);
/* map_fold_key: ASCII lower case, independent of the locale. */
void	map_fold_key(char *);
/*
 * map_text_read: the whole source behind fd (fstat into st) as a C string;
 * NULL with a reason in err if not a regular file, over MAP_SOURCE_MAX or
 * holding a NUL byte.
 */
char	*map_text_read(int fd, const char *path, struct stat *st, char *err,
	    size_t errlen);

#endif
