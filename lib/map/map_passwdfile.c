/*
 * map_passwdfile: passwd-file:PATH, a Dovecot passwd-file used as it is
 * ("user:{SCHEME}hash:uid:gid:gecos:home:shell:extra", # comments). The
 * key is the user field, the value the password field; the first line for
 * a user wins, as in Dovecot. The file is read at open and held in memory.
 * Security: bounded by MAP_SOURCE_MAX; open it before the privilege drop.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/xmalloc.h"
#include "map/map_impl.h"

struct map_passwdfile {
	int	 fd;
	struct stat st;
	char	*text;		/* the whole file, NUL-terminated */
};

static int	passwdfile_open(struct map *, const char *, char *, size_t);
static int	passwdfile_lookup(struct map *, const char *, struct buf *);
static int	passwdfile_changed(struct map *);
static void	passwdfile_close(struct map *);
static int	passwdfile_walk(struct map *, map_walk_fn *, void *);
static int	passwdfile_check(const char *, const char *, char *, size_t);
static const char *passwdfile_next(const char *, const char **, size_t *,
		    const char **, size_t *);

const struct map_ops map_passwdfile_ops = {
	.type = "passwd-file",
	.open = passwdfile_open,
	.lookup = passwdfile_lookup,
	.changed = passwdfile_changed,
	.close = passwdfile_close,
	.walk = passwdfile_walk,
};

/*
 * passwdfile_next: the entry on the line at p (user and password fields;
 * user is NULL for a blank or comment line); returns the next line.
 */
static const char *
passwdfile_next(const char *p, const char **user, size_t *ulen,
    const char **pass, size_t *plen)
{
	const char *eol, *colon;
	size_t len;

	eol = strchr(p, '\n');
	len = eol != NULL ? (size_t)(eol - p) : strlen(p);
	*user = NULL;
	while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == ' ' ||
	    p[len - 1] == '\t'))
		len--;
	if (len > 0 && p[0] != '#' &&
	    (colon = memchr(p, ':', len)) != NULL) {
		*user = p;
		*ulen = (size_t)(colon - p);
		*pass = colon + 1;
		colon = memchr(*pass, ':', len - *ulen - 1);
		*plen = colon != NULL ? (size_t)(colon - *pass) :
		    len - *ulen - 1;
	} else if (len > 0 && p[0] != '#') {
		/* A bare user name: no password, never matches. */
		*user = p;
		*ulen = len;
		*pass = p + len;
		*plen = 0;
	}
	return eol != NULL ? eol + 1 : p + strlen(p);
}

/* Every user field must be a usable key. */
static int
passwdfile_check(const char *text, const char *path, char *err,
    size_t errlen)
{
	const char *p = text, *user, *pass;
	size_t ulen, plen, line = 0;

	while (*p != '\0') {
		line++;
		p = passwdfile_next(p, &user, &ulen, &pass, &plen);
		if (user == NULL)
			continue;
		if (ulen == 0 || ulen > MAP_KEY_MAX ||
		    memchr(user, ' ', ulen) != NULL ||
		    memchr(user, '\t', ulen) != NULL) {
			snprintf(err, errlen, "%s, line %zu: bad user name",
			    path, line);
			return -1;
		}
	}
	return 0;
}

static int
passwdfile_open(struct map *m, const char *path, char *err, size_t errlen)
{
	struct map_passwdfile *pf;

	pf = xcalloc(1, sizeof(*pf));
	pf->fd = -1;
	m->data = pf;
	if ((pf->fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		passwdfile_close(m);
		return -1;
	}
	if ((pf->text = map_text_read(pf->fd, path, &pf->st, err,
	    errlen)) == NULL ||
	    passwdfile_check(pf->text, path, err, errlen) == -1) {
		passwdfile_close(m);
		return -1;
	}
	return 0;
}

static int
passwdfile_lookup(struct map *m, const char *key, struct buf *value)
{
	struct map_passwdfile *pf = m->data;
	const char *p = pf->text, *user, *pass;
	size_t ulen, plen, klen = strlen(key);

	while (*p != '\0') {
		p = passwdfile_next(p, &user, &ulen, &pass, &plen);
		if (user != NULL && ulen == klen &&
		    strncasecmp(user, key, klen) == 0) {
			buf_reset(value);
			buf_append(value, pass, plen);
			return 1;
		}
	}
	return 0;
}

static int
passwdfile_walk(struct map *m, map_walk_fn *fn, void *arg)
{
	struct map_passwdfile *pf = m->data;
	const char *p = pf->text, *user, *pass;
	size_t ulen, plen;
	char *k, *v;
	int stop;

	while (*p != '\0') {
		p = passwdfile_next(p, &user, &ulen, &pass, &plen);
		if (user == NULL)
			continue;
		k = xstrndup(user, ulen);
		map_fold_key(k);
		v = xstrndup(pass, plen);
		stop = fn(k, v, arg);
		explicit_bzero(v, plen);
		free(k);
		free(v);
		if (stop)
			break;
	}
	return 0;
}

/* As texthash: replaced (no links left) or edited (size or mtime). */
static int
passwdfile_changed(struct map *m)
{
	struct map_passwdfile *pf = m->data;
	struct stat st;

	if (fstat(pf->fd, &st) == -1)
		return 1;
	return st.st_nlink == 0 || st.st_size != pf->st.st_size ||
	    st.st_mtim.tv_sec != pf->st.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != pf->st.st_mtim.tv_nsec;
}

static void
passwdfile_close(struct map *m)
{
	struct map_passwdfile *pf = m->data;

	if (pf == NULL)
		return;
	if (pf->fd != -1)
		close(pf->fd);
	if (pf->text != NULL) {
		explicit_bzero(pf->text, strlen(pf->text));
		free(pf->text);
	}
	free(pf);
	m->data = NULL;
}
