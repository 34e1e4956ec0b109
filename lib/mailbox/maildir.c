/*
 * maildir: open (and create) a Maildir and deliver one message into it.
 * Interface: maildir_open(), maildir_deliver() (maildir.h).
 * Security: every component is opened with openat(O_NOFOLLOW|O_DIRECTORY)
 * from the base descriptor and ".." is refused, so neither a symlink nor a
 * crafted map value can take a delivery outside virtual_mailbox_base.
 * Crash safety: the file is complete in tmp/, its data written, before it
 * is linked into new/, and both the data and the new/ name are durable
 * before success is reported (maildir_store says how).
 */
#include <sys/stat.h>
#include <sys/time.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fileutil.h"
#include "mailbox/maildir.h"

#define MAILDIR_COPY_CHUNK	(64 * 1024)
#define MAILDIR_NAME_TRIES	5
#define MAILDIR_HOST_MAX	256

static int maildir_open_dir(int, const char *, int);
static int maildir_make_name(char *, size_t, const char *, size_t);
static void maildir_escape_host(char *, size_t, const char *);
static int maildir_write(int, const char *, size_t, int, off_t, size_t);
static int maildir_store(int, int, const char *, const char *, size_t, int,
    off_t, size_t);

/*
 * maildir_open_dir: open one directory entry below dirfd without following
 * a symlink, creating it (0700) first when asked. A symlink gives ELOOP.
 */
static int
maildir_open_dir(int dirfd, const char *name, int create)
{
	struct stat st;
	int fd, saved;

	for (;;) {
		fd = openat(dirfd, name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd != -1)
			return fd;
		saved = errno;
		if (saved == ENOENT && create) {
			if (mkdirat(dirfd, name, 0700) == -1 && errno != EEXIST)
				return -1;
			create = 0;	/* one try: a racing creator is fine */
			continue;
		}
		/* O_NOFOLLOW|O_DIRECTORY reports a symlink as ENOTDIR. */
		if ((saved == ENOTDIR || saved == ELOOP) &&
		    fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			saved = ELOOP;
		errno = saved;
		return -1;
	}
}

int
maildir_open(int basefd, const char *relpath, int create)
{
	static const char *const subdirs[] = { "cur", "new", "tmp" };
	char comp[NAME_MAX + 1];
	struct stat st;
	const char *p = relpath, *end;
	size_t len, i;
	int fd, next, saved;

	if ((fd = fcntl(basefd, F_DUPFD_CLOEXEC, 0)) == -1)
		return -1;
	for (;;) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		end = strchrnul(p, '/');
		len = (size_t)(end - p);
		if (len > NAME_MAX) {
			saved = ENAMETOOLONG;
			goto fail;
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		p = end;
		if (!strcmp(comp, "."))
			continue;
		if (!strcmp(comp, "..")) {
			saved = EINVAL;		/* would leave the base */
			goto fail;
		}
		if ((next = maildir_open_dir(fd, comp, create)) == -1) {
			saved = errno;
			goto fail;
		}
		close(fd);
		fd = next;
	}
	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		/* A directory that is there (not a symlink) needs no open. */
		if (fstatat(fd, subdirs[i], &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode))
			continue;
		if ((next = maildir_open_dir(fd, subdirs[i], create)) == -1) {
			saved = errno;
			goto fail;
		}
		close(next);
	}
	return fd;
fail:
	close(fd);
	errno = saved;
	return -1;
}

/* Dovecot escapes '/' and ':' in the host part as \057 and \072. */
static void
maildir_escape_host(char *out, size_t outlen, const char *host)
{
	size_t n = 0;

	for (; *host != '\0' && n + 5 < outlen; host++) {
		if (*host == '/' || *host == ':') {
			memcpy(out + n, *host == '/' ? "\\057" : "\\072", 4);
			n += 4;
		} else
			out[n++] = *host;
	}
	out[n] = '\0';
}

/* TIME.MUSECPPID.HOST,S=SIZE (Dovecot's shape without W= or flags). */
static int
maildir_make_name(char *name, size_t namelen, const char *host, size_t size)
{
	char esc[MAILDIR_HOST_MAX * 4 + 1];
	struct timeval tv;
	int n;

	gettimeofday(&tv, NULL);
	maildir_escape_host(esc, sizeof(esc), host);
	n = snprintf(name, namelen, "%lld.M%ldP%ld.%s,S=%zu",
	    (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(), esc, size);
	if (n < 0 || (size_t)n >= namelen || (size_t)n > NAME_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* maildir_write: header then len bytes of src at off (not synced). */
static int
maildir_write(int fd, const char *header, size_t header_len, int src_fd,
    off_t src_off, size_t len)
{
	char *chunk;
	size_t n;
	int rc = -1;

	if (write_full(fd, header, header_len) == -1)
		return -1;
	if ((chunk = malloc(MAILDIR_COPY_CHUNK)) == NULL)
		return -1;
	while (len > 0) {
		n = len < MAILDIR_COPY_CHUNK ? len : MAILDIR_COPY_CHUNK;
		/* pread: the queue file's shared offset is never touched. */
		if (pread_full(src_fd, chunk, n, src_off) == -1 ||
		    write_full(fd, chunk, n) == -1)
			goto out;
		src_off += (off_t)n;
		len -= n;
	}
	rc = 0;
out:
	free(chunk);
	return rc;
}

/*
 * maildir_store: tmp/NAME written, linked into new/NAME, durable: the
 * data before the link, the new/ name after it, in one journal commit
 * where the file system allows (name_sync_data). A crash before the last
 * sync returns loses at most the new/ name, and nothing was reported yet:
 * the queue still has the message.
 */
static int
maildir_store(int tmpfd, int newfd, const char *name, const char *header,
    size_t header_len, int src_fd, off_t src_off, size_t len)
{
	int fd, saved, one;

	fd = openat(tmpfd, name,
	    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	if (maildir_write(fd, header, header_len, src_fd, src_off, len) == -1 ||
	    name_sync_data(fd, &one) == -1 ||
	    linkat(tmpfd, name, newfd, name, 0) == -1) {
		saved = errno;
		close(fd);
		(void)unlinkat(tmpfd, name, 0);
		errno = saved;
		return -1;
	}
	/*
	 * The tmp/ name goes before the last sync, so one journal commit
	 * takes both (ext4: about a quarter fewer syncs per second than when
	 * the unlink waits for a later commit). A failed unlink is only
	 * clutter.
	 */
	(void)unlinkat(tmpfd, name, 0);
	if (name_sync_name(fd, newfd, one) == -1) {
		saved = errno;
		close(fd);
		(void)unlinkat(newfd, name, 0);
		errno = saved;
		return -1;
	}
	if (close(fd) == -1) {
		saved = errno;
		(void)unlinkat(newfd, name, 0);
		errno = saved;
		return -1;
	}
	return 0;
}

int
maildir_deliver(int mdfd, const char *hostname, const char *header,
    size_t header_len, int src_fd, off_t src_off, size_t len, char *name,
    size_t namelen)
{
	char fname[NAME_MAX + 1];
	int tmpfd, newfd, rc = -1, saved = 0, try;

	if (header_len > SIZE_MAX - len) {
		errno = EFBIG;
		return -1;
	}
	if ((tmpfd = maildir_open_dir(mdfd, "tmp", 0)) == -1)
		return -1;
	if ((newfd = maildir_open_dir(mdfd, "new", 0)) == -1) {
		saved = errno;
		close(tmpfd);
		errno = saved;
		return -1;
	}
	for (try = 0; try < MAILDIR_NAME_TRIES; try++) {
		if (maildir_make_name(fname, sizeof(fname), hostname,
		    header_len + len) == -1) {
			saved = errno;
			break;
		}
		rc = maildir_store(tmpfd, newfd, fname, header, header_len,
		    src_fd, src_off, len);
		saved = errno;
		if (rc == 0 || saved != EEXIST)
			break;
		usleep(1000);	/* same second and usec: take a new name */
	}
	close(tmpfd);
	close(newfd);
	if (rc == 0 && name != NULL && namelen > 0)
		strlcpy(name, fname, namelen);
	if (rc == -1)
		errno = saved;
	return rc;
}
