/*
 * master_listen: bind a service's listening socket before any child runs.
 * inet: "[host:]port" over TCP with SO_REUSEADDR; the wildcard is one
 * dual-stack IPv6 socket, or IPv4 where IPv6 is unavailable. unix:
 * queue_directory/private/NAME (0600) or public/NAME (0666).
 * Security: as root, unix sockets are made with the effective ids of
 * mail_owner, who owns those directories, so a symlink planted there
 * cannot make root create or remove a file elsewhere.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "master.h"
#include "master_conf.h"

static int master_bind_inet(const struct addrinfo *, int *);
static int master_listen_inet(struct master *, struct master_service *,
    char *, size_t);
static int master_bind_unix(const char *, int, int *);
static int master_listen_unix(struct master *, struct master_service *,
    char *, size_t);
static void master_become(struct master *, int);

int
master_listen(struct master *m, struct master_service *svc, char *err,
    size_t errlen)
{
	if (svc->def.type == SERVICE_INET)
		return master_listen_inet(m, svc, err, errlen);
	return master_listen_unix(m, svc, err, errlen);
}

static int
master_bind_inet(const struct addrinfo *ai, int *saved)
{
	int fd, on = 1, off = 0;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1) {
		*saved = errno;
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    (ai->ai_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &off, sizeof(off)) == -1) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    listen(fd, SOMAXCONN) == -1) {
		*saved = errno;
		close(fd);
		return -1;
	}
	return fd;
}

static int
master_listen_inet(struct master *m, struct master_service *svc, char *err,
    size_t errlen)
{
	struct addrinfo *res, *ai;
	char *cfpath;
	int wildcard, fd = -1, pass, saved = EADDRNOTAVAIL, rc;

	cfpath = xasprintf("%s/master.cf", m->confdir);
	rc = master_conf_resolve(m->cfg, &svc->def, cfpath, &res, &wildcard,
	    err, errlen);
	if (rc == 0) {
		/* The wildcard: dual-stack "::" first, then 0.0.0.0. */
		for (pass = 0; pass < 2 && fd == -1; pass++) {
			for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next)
				if (!wildcard || (pass == 0) ==
				    (ai->ai_family == AF_INET6))
					fd = master_bind_inet(ai, &saved);
			if (!wildcard)
				break;
		}
		freeaddrinfo(res);
		if (fd == -1) {
			snprintf(err, errlen, "%s, line %d: bind %s: %s",
			    cfpath, svc->def.lineno, svc->def.name,
			    strerror(saved));
			rc = -1;
		}
	}
	free(cfpath);
	svc->listen_fd = fd;
	return rc;
}

/* master_become: as root, switch the effective ids to mail_owner or back. */
static void
master_become(struct master *m, int owner)
{
	if (!m->is_root)
		return;
	if (owner) {
		if (setegid(m->owner_gid) == -1 || seteuid(m->owner_uid) == -1)
			fatal("master: seteuid %ld", (long)m->owner_uid);
	} else {
		if (seteuid(0) == -1 || setegid(0) == -1)
			fatal("master: seteuid 0");
	}
}

static int
master_bind_unix(const char *path, int private_, int *saved)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old;
	int fd;

	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		*saved = EEXIST;
		return -1;
	}
	if (unlink(path) == -1 && errno != ENOENT) {
		*saved = errno;
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		*saved = errno;
		return -1;
	}
	old = umask(private_ ? 0177 : 0111);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(fd, SOMAXCONN) == -1) {
		*saved = errno;
		umask(old);
		close(fd);
		return -1;
	}
	umask(old);
	return fd;
}

static int
master_listen_unix(struct master *m, struct master_service *svc, char *err,
    size_t errlen)
{
	struct sockaddr_un sun;
	int saved = 0;

	free(svc->sockpath);
	svc->sockpath = xasprintf("%s/%s/%s", m->queue_dir,
	    svc->def.private_ ? "private" : "public", svc->def.name);
	if (strlen(svc->sockpath) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%s/master.cf, line %d: socket path too "
		    "long: %s", m->confdir, svc->def.lineno, svc->sockpath);
		return -1;
	}
	master_become(m, 1);
	svc->listen_fd = master_bind_unix(svc->sockpath, svc->def.private_,
	    &saved);
	master_become(m, 0);
	if (svc->listen_fd == -1) {
		snprintf(err, errlen, "%s/master.cf, line %d: bind %s: %s",
		    m->confdir, svc->def.lineno, svc->sockpath,
		    saved == EEXIST ? "exists and is not a socket" :
		    strerror(saved));
		return -1;
	}
	return 0;
}

void
master_unlisten(struct master *m, struct master_service *svc, int remove)
{
	if (svc->listen_fd != -1)
		close(svc->listen_fd);
	svc->listen_fd = -1;
	if (!remove || svc->sockpath == NULL)
		return;
	master_become(m, 1);
	if (unlink(svc->sockpath) == -1 && errno != ENOENT)
		log_warn("unlink %s", svc->sockpath);
	master_become(m, 0);
}
