/*
 * map_db: hash: and btree: maps in Berkeley DB 5.3 files NAME.db, opened
 * read-only without an environment. As in Postfix, keys and values are
 * stored as C strings including their trailing NUL.
 * Security: the descriptor stays open across the privilege drop and the
 * chroot; map_changed() sees a rebuilt file by its link count reaching 0.
 */
#include <sys/stat.h>
#include <db.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/fileutil.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "map/map.h"
#include "map/map_impl.h"

#define MAP_DB_MSG_MAX	256

/* Berkeley DB reports details through a callback: keep the first one. */
struct map_db_msg {
	char	 text[MAP_DB_MSG_MAX];
};

struct map_db {
	DB	*db;
	int	 fd;
	struct map_db_msg msg;
};

struct map_writer {
	DB	*db;
	struct map_db_msg msg;
};

static void	map_db_errcall(const DB_ENV *, const char *, const char *);
static void	map_db_catch(DB *, struct map_db_msg *);
static const char *map_db_reason(struct map_db_msg *, int);
static int	map_db_open(struct map *, const char *, DBTYPE, char *, size_t);
static int	map_hash_open(struct map *, const char *, char *, size_t);
static int	map_btree_open(struct map *, const char *, char *, size_t);
static int	map_db_lookup(struct map *, const char *, struct buf *);
static int	map_db_changed(struct map *);
static int	map_db_walk(struct map *, map_walk_fn *, void *);
static void	map_db_close(struct map *);
static struct map_writer *map_db_writer_open(const char *, DBTYPE, mode_t,
		    char *, size_t);
static struct map_writer *map_hash_writer_open(const char *, mode_t, char *,
		    size_t);
static struct map_writer *map_btree_writer_open(const char *, mode_t, char *,
		    size_t);
static int	map_db_writer_put(struct map_writer *, const char *,
		    const char *, char *, size_t);
static int	map_db_writer_commit(struct map_writer *, char *, size_t);
static void	map_db_writer_abort(struct map_writer *);

const struct map_ops map_hash_ops = {
	.type = "hash",
	.open = map_hash_open,
	.lookup = map_db_lookup,
	.changed = map_db_changed,
	.close = map_db_close,
	.walk = map_db_walk,
	.writer_open = map_hash_writer_open,
	.writer_put = map_db_writer_put,
	.writer_commit = map_db_writer_commit,
	.writer_abort = map_db_writer_abort,
};

const struct map_ops map_btree_ops = {
	.type = "btree",
	.open = map_btree_open,
	.lookup = map_db_lookup,
	.changed = map_db_changed,
	.close = map_db_close,
	.walk = map_db_walk,
	.writer_open = map_btree_writer_open,
	.writer_put = map_db_writer_put,
	.writer_commit = map_db_writer_commit,
	.writer_abort = map_db_writer_abort,
};

static void
map_db_errcall(const DB_ENV *env, const char *prefix, const char *text)
{
	struct map_db_msg *msg = env->app_private;

	if (msg != NULL && msg->text[0] == '\0')
		strlcpy(msg->text, text, sizeof(msg->text));
}

static void
map_db_catch(DB *db, struct map_db_msg *msg)
{
	DB_ENV *env = db->get_env(db);

	msg->text[0] = '\0';
	env->app_private = msg;
	db->set_errcall(db, map_db_errcall);
}

static const char *
map_db_reason(struct map_db_msg *msg, int rc)
{
	if (rc > 0)
		return strerror(rc);
	return msg->text[0] ? msg->text : db_strerror(rc);
}

static int
map_db_open(struct map *m, const char *name, DBTYPE type, char *err,
    size_t errlen)
{
	struct map_db *md;
	char *path;
	int rc;

	md = xcalloc(1, sizeof(*md));
	md->fd = -1;
	path = xasprintf("%s.db", name);
	if ((rc = db_create(&md->db, NULL, 0)) != 0) {
		snprintf(err, errlen, "db_create: %s", db_strerror(rc));
		goto fail;
	}
	map_db_catch(md->db, &md->msg);
	rc = md->db->open(md->db, NULL, path, NULL, type, DB_RDONLY, 0);
	if (rc == EINVAL && md->msg.text[0] != '\0')
		rc = -1;	/* not this type of database: say why */
	if (rc != 0) {
		snprintf(err, errlen, "open database %s: %s", path,
		    map_db_reason(&md->msg, rc));
		goto fail;
	}
	if ((rc = md->db->fd(md->db, &md->fd)) != 0) {
		snprintf(err, errlen, "database %s: %s", path, db_strerror(rc));
		goto fail;
	}
	set_cloexec(md->fd, 1);
	free(path);
	m->data = md;
	return 0;
fail:
	if (md->db)
		md->db->close(md->db, 0);
	free(md);
	free(path);
	return -1;
}

static int
map_hash_open(struct map *m, const char *name, char *err, size_t errlen)
{
	return map_db_open(m, name, DB_HASH, err, errlen);
}

static int
map_btree_open(struct map *m, const char *name, char *err, size_t errlen)
{
	return map_db_open(m, name, DB_BTREE, err, errlen);
}

static int
map_db_lookup(struct map *m, const char *key, struct buf *value)
{
	struct map_db *md = m->data;
	DBT k, v;
	size_t len;
	int rc;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)key;
	k.size = (u_int32_t)strlen(key) + 1;
	md->msg.text[0] = '\0';
	if ((rc = md->db->get(md->db, NULL, &k, &v, 0)) == DB_NOTFOUND)
		return 0;
	if (rc != 0) {
		log_warnx("%s: lookup of \"%s\": %s", m->spec, key,
		    map_db_reason(&md->msg, rc));
		return -1;
	}
	len = v.size;
	if (len > 0 && ((char *)v.data)[len - 1] == '\0')
		len--;
	buf_reset(value);
	buf_append(value, v.data, len);
	return 1;
}

static int
map_db_changed(struct map *m)
{
	struct map_db *md = m->data;
	struct stat st;

	if (fstat(md->fd, &st) == -1)
		return 1;
	return st.st_nlink == 0;
}

static int
map_db_walk(struct map *m, map_walk_fn *fn, void *arg)
{
	struct map_db *md = m->data;
	DBC *cursor;
	DBT k, v;
	char *key, *value;
	int rc, stop = 0;

	if (md->db->cursor(md->db, NULL, &cursor, 0) != 0)
		return -1;
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	while (!stop && (rc = cursor->get(cursor, &k, &v, DB_NEXT)) == 0) {
		key = xstrndup(k.data, k.size);
		value = xstrndup(v.data, v.size);
		stop = fn(key, value, arg);
		free(key);
		free(value);
	}
	cursor->close(cursor);
	return stop || rc == DB_NOTFOUND ? 0 : -1;
}

static void
map_db_close(struct map *m)
{
	struct map_db *md = m->data;

	if (md == NULL)
		return;
	md->db->close(md->db, 0);
	free(md);
	m->data = NULL;
}

static struct map_writer *
map_db_writer_open(const char *path, DBTYPE type, mode_t mode, char *err,
    size_t errlen)
{
	struct map_writer *w;
	int rc;

	w = xcalloc(1, sizeof(*w));
	if ((rc = db_create(&w->db, NULL, 0)) != 0) {
		snprintf(err, errlen, "db_create: %s", db_strerror(rc));
		free(w);
		return NULL;
	}
	map_db_catch(w->db, &w->msg);
	rc = w->db->open(w->db, NULL, path, NULL, type,
	    DB_CREATE | DB_TRUNCATE, (int)mode);
	if (rc != 0) {
		snprintf(err, errlen, "create database %s: %s", path,
		    map_db_reason(&w->msg, rc));
		w->db->close(w->db, 0);
		free(w);
		return NULL;
	}
	return w;
}

static struct map_writer *
map_hash_writer_open(const char *path, mode_t mode, char *err, size_t errlen)
{
	return map_db_writer_open(path, DB_HASH, mode, err, errlen);
}

static struct map_writer *
map_btree_writer_open(const char *path, mode_t mode, char *err,
    size_t errlen)
{
	return map_db_writer_open(path, DB_BTREE, mode, err, errlen);
}

static int
map_db_writer_put(struct map_writer *w, const char *key, const char *value,
    char *err, size_t errlen)
{
	DBT k, v;
	int rc;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)key;
	k.size = (u_int32_t)strlen(key) + 1;
	v.data = (void *)value;
	v.size = (u_int32_t)strlen(value) + 1;
	w->msg.text[0] = '\0';
	rc = w->db->put(w->db, NULL, &k, &v, DB_NOOVERWRITE);
	if (rc == DB_KEYEXIST)
		return 1;
	if (rc != 0) {
		snprintf(err, errlen, "%s", map_db_reason(&w->msg, rc));
		return -1;
	}
	return 0;
}

static int
map_db_writer_commit(struct map_writer *w, char *err, size_t errlen)
{
	int rc, rc2;

	w->msg.text[0] = '\0';
	rc = w->db->sync(w->db, 0);
	if (rc != 0)
		snprintf(err, errlen, "sync: %s", map_db_reason(&w->msg, rc));
	rc2 = w->db->close(w->db, 0);
	if (rc == 0 && rc2 != 0) {
		snprintf(err, errlen, "close: %s", map_db_reason(&w->msg, rc2));
		rc = rc2;
	}
	free(w);
	return rc == 0 ? 0 : -1;
}

static void
map_db_writer_abort(struct map_writer *w)
{
	w->db->close(w->db, DB_NOSYNC);
	free(w);
}
