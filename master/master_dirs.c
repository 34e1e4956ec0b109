/*
 * master_dirs: the settings master derives from main.cf, the queue
 * directory layout, virtual_mailbox_base, and the pid file.
 * Security: queue_directory and pid/ stay root-owned (as in Postfix) so the
 * mail_owner cannot redirect what root writes there; directories are opened
 * with O_NOFOLLOW before their owner and mode are fixed.
 * The resolver's files are copied into queue_directory/etc at every start
 * and reload (as Debian does for Postfix): a chrooted smtpd's C library
 * looks for /etc/hosts there, and rereads /etc/resolv.conf when it
 * changes, falling back to a name server on 127.0.0.1 when it is missing.
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fileutil.h"
#include "core/log.h"
#include "core/privsep.h"
#include "core/xmalloc.h"
#include "master.h"
#include "master_policy.h"

extern char **environ;

enum master_dir_owner {
	DIR_ROOT,		/* root, or the caller as non-root */
	DIR_MAIL,		/* mail_owner */
	DIR_MAIL_POSTDROP,	/* mail_owner, group setgid_group */
};

struct master_dir {
	const char *name;
	mode_t	 mode;
	enum master_dir_owner owner;
};

/* Postfix's layout; maildrop and public are reachable by setgid_group. */
static const struct master_dir master_queue_dirs[] = {
	{ "maildrop", 01730, DIR_MAIL_POSTDROP },
	{ "incoming", 0700, DIR_MAIL },
	{ "active", 0700, DIR_MAIL },
	{ "deferred", 0700, DIR_MAIL },
	{ "defer", 0700, DIR_MAIL },		/* qmgr: last delay reasons */
	{ "hold", 0700, DIR_MAIL },
	{ "corrupt", 0700, DIR_MAIL },
	{ "trash", 0700, DIR_MAIL },		/* qmgr: removed, to unlink */
	{ "recycle", 0700, DIR_MAIL },		/* qmgr to smtpd: for reuse */
	{ "private", 0700, DIR_MAIL },
	{ "public", 0710, DIR_MAIL_POSTDROP },
	{ "pid", 0755, DIR_ROOT },
};

static int master_dir_make(const char *, mode_t, uid_t, gid_t, int, char *,
    size_t);
static int master_dir_parents(const char *, char *, size_t);
static int master_vmail_base(struct master *, char *, size_t);
static void master_chroot_etc(struct master *);
static void master_chroot_file(const char *, int, const char *);

/* What the C library reads inside a chroot (Debian's list for Postfix). */
static const char *const master_etc_files[] = {
	"localtime", "services", "resolv.conf", "hosts", "host.conf",
	"nsswitch.conf",
};

#define MASTER_ETC_FILE_MAX	(1024 * 1024)

int
master_settings(struct master *m, struct config *cfg, char *err,
    size_t errlen)
{
	const char *qdir, *errstr;
	long long throttle;
	uid_t uid;
	gid_t gid;

	qdir = config_get(cfg, "queue_directory");
	if (qdir[0] != '/') {
		snprintf(err, errlen, "queue_directory must be an absolute "
		    "path: \"%s\"", qdir);
		return -1;
	}
	if (config_get(cfg, "daemon_directory")[0] != '/') {
		snprintf(err, errlen, "daemon_directory must be an absolute "
		    "path: \"%s\"", config_get(cfg, "daemon_directory"));
		return -1;
	}
	throttle = config_parse_time(config_get(cfg, "service_throttle_time"),
	    &errstr);
	if (errstr != NULL) {
		snprintf(err, errlen, "bad service_throttle_time: %s",
		    config_get(cfg, "service_throttle_time"));
		return -1;
	}
	uid = getuid();
	gid = getgid();
	if (m->is_root) {
		if (priv_lookup(config_get(cfg, "mail_owner"), &uid,
		    &gid) == -1) {
			snprintf(err, errlen, "unknown mail_owner user: %s",
			    config_get(cfg, "mail_owner"));
			return -1;
		}
		if (uid == 0) {
			snprintf(err, errlen, "mail_owner must not be root");
			return -1;
		}
	}
	if (m->queue_dir != NULL && strcmp(m->queue_dir, qdir) != 0)
		log_warnx("queue_directory changed to %s: restart the mail "
		    "system to use it", qdir);
	if (m->queue_dir == NULL) {
		m->queue_dir = xstrdup(qdir);
		m->pid_path = xasprintf("%s/pid/master.pid", qdir);
	}
	m->owner_uid = uid;
	m->owner_gid = gid;
	m->throttle_ms = throttle * 1000;
	master_strv_free(m->child_env);
	m->child_env = master_child_env(environ, m->foreground &&
	    config_get(cfg, "maillog_file")[0] == '\0');
	return 0;
}

/*
 * master_dir_make: mkdir if missing, then (as root, or for our own
 * directory) set owner and mode. A symlink in the last component fails.
 */
static int
master_dir_make(const char *path, mode_t mode, uid_t uid, gid_t gid,
    int is_root, char *err, size_t errlen)
{
	struct stat st;
	int fd, rc = -1;

	if (mkdir(path, mode) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "open directory %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "stat %s: %s", path, strerror(errno));
		goto out;
	}
	if (is_root && (st.st_uid != uid || st.st_gid != gid) &&
	    fchown(fd, uid, gid) == -1) {
		snprintf(err, errlen, "chown %s: %s", path, strerror(errno));
		goto out;
	}
	if ((is_root || st.st_uid == geteuid()) &&
	    (st.st_mode & 07777) != mode && fchmod(fd, mode) == -1) {
		snprintf(err, errlen, "chmod %s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

/* master_dir_parents: mkdir -p for every component above path. */
static int
master_dir_parents(const char *path, char *err, size_t errlen)
{
	char *copy, *slash;
	int rc = 0;

	copy = xstrdup(path);
	for (slash = strchr(copy + 1, '/'); slash != NULL;
	    slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(copy, 0755) == -1 && errno != EEXIST) {
			snprintf(err, errlen, "mkdir %s: %s", copy,
			    strerror(errno));
			rc = -1;
			break;
		}
		*slash = '/';
	}
	free(copy);
	return rc;
}

int
master_dirs_prepare(struct master *m, char *err, size_t errlen)
{
	const struct master_dir *d;
	struct group *gr;
	gid_t postdrop = m->owner_gid, gid;
	uid_t uid;
	char *path;
	size_t i;
	int rc;

	if (m->is_root &&
	    (gr = getgrnam(config_get(m->cfg, "setgid_group"))) != NULL)
		postdrop = gr->gr_gid;
	if (master_dir_parents(m->queue_dir, err, errlen) == -1 ||
	    master_dir_make(m->queue_dir, 0755, 0, 0, m->is_root, err,
	    errlen) == -1)
		return -1;
	for (i = 0; i < sizeof(master_queue_dirs) /
	    sizeof(*master_queue_dirs); i++) {
		d = &master_queue_dirs[i];
		uid = d->owner == DIR_ROOT ? 0 : m->owner_uid;
		gid = d->owner == DIR_ROOT ? 0 : d->owner == DIR_MAIL ?
		    m->owner_gid : postdrop;
		path = xasprintf("%s/%s", m->queue_dir, d->name);
		rc = master_dir_make(path, d->mode, uid, gid, m->is_root, err,
		    errlen);
		free(path);
		if (rc == -1)
			return -1;
	}
	master_chroot_etc(m);
	return master_vmail_base(m, err, errlen);
}

/*
 * master_chroot_etc: queue_directory/etc/ (root's, 0755) with a copy of
 * each of master_etc_files that /etc has. Only root chroots; a failure
 * is logged and the daemons run with what the jail has.
 */
static void
master_chroot_etc(struct master *m)
{
	char err[512], *path;
	size_t i;
	int fd;

	if (!m->is_root)
		return;
	path = xasprintf("%s/etc", m->queue_dir);
	if (master_dir_make(path, 0755, 0, 0, 1, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		free(path);
		return;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		log_warn("open %s", path);
	else {
		for (i = 0; i < sizeof(master_etc_files) /
		    sizeof(*master_etc_files); i++)
			master_chroot_file(path, fd, master_etc_files[i]);
		close(fd);
	}
	free(path);
}

/* master_chroot_file: /etc/name to etcdir/name (etcfd), when they differ. */
static void
master_chroot_file(const char *etcdir, int etcfd, const char *name)
{
	char *path, *src, *old, *tmp;
	size_t srclen, oldlen;
	int fd, same, saved;

	path = xasprintf("/etc/%s", name);
	src = read_file(path, &srclen, MASTER_ETC_FILE_MAX);
	free(path);
	if (src == NULL)	/* not on this system: nothing to copy */
		return;
	path = xasprintf("%s/%s", etcdir, name);
	old = read_file(path, &oldlen, MASTER_ETC_FILE_MAX);
	free(path);
	same = old != NULL && oldlen == srclen &&
	    memcmp(old, src, srclen) == 0;
	free(old);
	if (same) {
		free(src);
		return;
	}
	tmp = xasprintf(".%s.tmp", name);
	(void)unlinkat(etcfd, tmp, 0);
	fd = openat(etcfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644);
	saved = 0;
	if (fd == -1 || write_full(fd, src, srclen) == -1)
		saved = errno;
	if (fd != -1 && close(fd) == -1 && saved == 0)
		saved = errno;
	if (saved == 0 && renameat(etcfd, tmp, etcfd, name) == -1)
		saved = errno;
	if (saved != 0) {
		log_warnx("copy /etc/%s into the chroot: %s", name,
		    strerror(saved));
		(void)unlinkat(etcfd, tmp, 0);
	}
	free(tmp);
	free(src);
}

/* master_vmail_base: create virtual_mailbox_base if it is missing. */
static int
master_vmail_base(struct master *m, char *err, size_t errlen)
{
	const char *base, *owner;
	struct stat st;
	uid_t uid = getuid();
	gid_t gid = getgid();

	base = config_get(m->cfg, "virtual_mailbox_base");
	if (base[0] == '\0' || stat(base, &st) == 0)
		return 0;
	if (base[0] != '/') {
		snprintf(err, errlen, "virtual_mailbox_base must be an "
		    "absolute path: \"%s\"", base);
		return -1;
	}
	owner = config_get(m->cfg, "virtual_mailbox_owner");
	if (m->is_root && priv_lookup(owner, &uid, &gid) == -1) {
		log_warnx("virtual_mailbox_base %s: unknown "
		    "virtual_mailbox_owner %s: not creating it", base, owner);
		return 0;
	}
	if (master_dir_parents(base, err, errlen) == -1)
		return -1;
	return master_dir_make(base, 0700, uid, gid, m->is_root, err, errlen);
}

int
master_pidfile_lock(struct master *m, char *err, size_t errlen)
{
	char buf[32];
	ssize_t n;
	int fd, saved;

	fd = open(m->pid_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0644);
	if (fd == -1) {
		snprintf(err, errlen, "open %s: %s", m->pid_path,
		    strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		saved = errno;
		if (saved == EWOULDBLOCK) {
			n = pread(fd, buf, sizeof(buf) - 1, 0);
			buf[n > 0 ? n : 0] = '\0';
			buf[strcspn(buf, " \n")] = '\0';
			snprintf(err, errlen, "the Postilion mail system is "
			    "already running (pid %s, %s)", buf, m->pid_path);
		} else
			snprintf(err, errlen, "lock %s: %s", m->pid_path,
			    strerror(saved));
		close(fd);
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)n, 0) != n) {
		snprintf(err, errlen, "write %s: %s", m->pid_path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	m->pid_fd = fd;
	return 0;
}

void
master_pidfile_remove(struct master *m)
{
	if (m->pid_fd == -1)
		return;
	if (unlink(m->pid_path) == -1)
		log_warn("unlink %s", m->pid_path);
	close(m->pid_fd);
	m->pid_fd = -1;
}
