/*
 * map_build: compile a text source PATH into PATH.db. The table is written
 * to PATH.db.tmp under an exclusive lock on that file, fsynced, then renamed
 * over PATH.db and the directory fsynced: readers see the old table or the
 * new one, never half of one, and a failed build leaves the old one alone.
 * Security: the table gets the source's mode (and owner, when run as root).
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fileutil.h"
#include "core/xmalloc.h"
#include "map/map.h"
#include "map/map_impl.h"

#define MAP_BUILD_LOCK_TRIES	100

struct map_build_ctx {
	const struct map_ops *ops;
	struct map_writer *writer;
	char	 msg[256];
};

static const struct map_ops *map_build_ops(const char *, const char **,
		    char *, size_t);
static int	map_build_lock(const char *, mode_t, char *, size_t);
static int	map_build_put(const char *, const char *, void *);
static int	map_build_write(struct map_build_ctx *, const char *,
		    const char *, int, int, struct stat *, char *, size_t);
static char	*map_build_dir(const char *);

/* A known "type:" prefix names the backend; a bare path means hash. */
static const struct map_ops *
map_build_ops(const char *spec, const char **path, char *err, size_t errlen)
{
	const struct map_ops *ops;
	const char *colon, *slash;

	if ((ops = map_ops_find(spec, path)) == NULL) {
		colon = strchr(spec, ':');
		slash = strchr(spec, '/');
		if (colon != NULL && (slash == NULL || colon < slash)) {
			snprintf(err, errlen, "map \"%s\": unsupported map "
			    "type", spec);
			return NULL;
		}
		*path = spec;
		return &map_hash_ops;
	}
	if (ops->writer_open == NULL) {
		snprintf(err, errlen, "map \"%s\": a %s: map is not built",
		    spec, ops->type);
		return NULL;
	}
	if (**path == '\0') {
		snprintf(err, errlen, "map \"%s\": no file name", spec);
		return NULL;
	}
	return ops;
}

/*
 * map_build_lock: open and lock PATH.db.tmp. A builder that held the lock
 * may have renamed the file away meanwhile: retry until the locked file is
 * the one at the path.
 */
static int
map_build_lock(const char *tmp, mode_t mode, char *err, size_t errlen)
{
	struct stat locked, named;
	int fd, tries;

	for (tries = 0; tries < MAP_BUILD_LOCK_TRIES; tries++) {
		fd = open(tmp, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd == -1) {
			snprintf(err, errlen, "open %s: %s", tmp,
			    strerror(errno));
			return -1;
		}
		if (flock(fd, LOCK_EX) == -1 || fstat(fd, &locked) == -1) {
			snprintf(err, errlen, "lock %s: %s", tmp,
			    strerror(errno));
			close(fd);
			return -1;
		}
		if (stat(tmp, &named) == 0 && named.st_dev == locked.st_dev &&
		    named.st_ino == locked.st_ino)
			return fd;
		close(fd);
	}
	snprintf(err, errlen, "lock %s: file keeps being replaced", tmp);
	return -1;
}

static int
map_build_put(const char *key, const char *value, void *arg)
{
	struct map_build_ctx *ctx = arg;
	int rc;

	rc = ctx->ops->writer_put(ctx->writer, key, value, ctx->msg,
	    sizeof(ctx->msg));
	if (rc == -1)
		errno = EIO;
	return rc;
}

/* map_build_dir: the directory holding path, for the fsync after rename. */
static char *
map_build_dir(const char *path)
{
	const char *slash;

	if ((slash = strrchr(path, '/')) == NULL)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

/* map_build_write: the locked tmp file (fd) becomes the new table. */
static int
map_build_write(struct map_build_ctx *ctx, const char *source,
    const char *tmp, int fd, int aliases, struct stat *st, char *err,
    size_t errlen)
{
	char *text;
	int srcfd, rc;

	if ((srcfd = open(source, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "open %s: %s", source, strerror(errno));
		return -1;
	}
	text = map_text_read(srcfd, source, st, err, errlen);
	close(srcfd);
	if (text == NULL)
		return -1;
	if (ftruncate(fd, 0) == -1 || fchmod(fd, st->st_mode & 0666) == -1 ||
	    (geteuid() == 0 && fchown(fd, st->st_uid, st->st_gid) == -1)) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		free(text);
		return -1;
	}
	ctx->writer = ctx->ops->writer_open(tmp, st->st_mode & 0666, err,
	    errlen);
	if (ctx->writer == NULL) {
		free(text);
		return -1;
	}
	rc = map_text_parse(text, source, aliases, map_build_put, ctx, err,
	    errlen);
	free(text);
	if (rc == -1) {
		if (ctx->msg[0] != '\0')
			snprintf(err, errlen, "%s: %s", tmp, ctx->msg);
		ctx->ops->writer_abort(ctx->writer);
		return -1;
	}
	if (ctx->ops->writer_commit(ctx->writer, err, errlen) == -1)
		return -1;
	if (fsync(fd) == -1) {
		snprintf(err, errlen, "fsync %s: %s", tmp, strerror(errno));
		return -1;
	}
	return 0;
}

int
map_build(const char *spec, int aliases, char *err, size_t errlen)
{
	struct map_build_ctx ctx;
	struct stat st;
	const char *source;
	char *db, *tmp, *dir;
	int fd, rc = -1;

	memset(&ctx, 0, sizeof(ctx));
	if ((ctx.ops = map_build_ops(spec, &source, err, errlen)) == NULL)
		return -1;
	if (stat(source, &st) == -1) {
		snprintf(err, errlen, "open %s: %s", source, strerror(errno));
		return -1;
	}
	db = xasprintf("%s.db", source);
	tmp = xasprintf("%s.db.tmp", source);
	dir = map_build_dir(source);
	if ((fd = map_build_lock(tmp, st.st_mode & 0666, err, errlen)) == -1)
		goto out;
	if (map_build_write(&ctx, source, tmp, fd, aliases, &st, err,
	    errlen) == -1) {
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, db) == -1) {
		snprintf(err, errlen, "rename %s to %s: %s", tmp, db,
		    strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (fsync_dir(dir) == -1) {
		snprintf(err, errlen, "fsync %s: %s", dir, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);	/* releases the lock, after the rename */
	free(db);
	free(tmp);
	free(dir);
	return rc;
}
