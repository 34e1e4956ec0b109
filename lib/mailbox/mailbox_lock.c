/*
 * mailbox_lock: the per-Maildir session lock (see mailbox_lock.h).
 * flock locks belong to the open file description, so two sessions in
 * one process (tests) conflict just as two processes do.
 * Security: the lock file is opened with O_NOFOLLOW and must be a
 * regular file; a planted symlink or FIFO is refused, never followed.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "mailbox/mailbox_lock.h"

int
mailbox_lock(int mdfd, const char *name)
{
	struct stat st;
	int fd, save;

	fd = openat(mdfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) == -1)
		if (errno != EINTR)
			goto fail;
	return fd;
fail:
	save = errno;
	close(fd);
	errno = save;
	return -1;
}

void
mailbox_unlock(int fd)
{
	if (fd != -1)
		close(fd);	/* the last close of the description unlocks */
}
