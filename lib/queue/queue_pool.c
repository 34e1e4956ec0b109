/*
 * queue_pool: finished queue files kept in recycle/ for smtpd to write its
 * next message into, so a busy queue neither frees nor allocates an inode
 * per message (on ext4 both scan and trim; see docs/PERFORMANCE.md).
 * recycle/ holds at most queue_recycle_limit files under slot names
 * "s0".."sN-1"; a slot is filled with a no-replace rename and emptied with
 * a rename out, so two processes never get the same file.
 * Interface: queue_pool_open, queue_pool_put (qmgr), queue_pool_take
 * (smtpd). Crash safety: docs/QUEUE.md section 4b.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "queue/queue.h"

#define QUEUE_POOL_TRIES	8	/* random slots tried per put or take */

static void queue_pool_slot(const struct queue_pool *, char *, size_t);
static int queue_pool_fits(const struct stat *);
static int queue_pool_rename_new(int, const char *, int, const char *);

int
queue_pool_open(struct queue_pool *p, const char *dir, long long nslots)
{
	p->dirfd = -1;
	p->nslots = 0;
	if (nslots <= 0)
		return 0;
	if (nslots > QUEUE_POOL_SLOTS_MAX)
		nslots = QUEUE_POOL_SLOTS_MAX;
	if ((p->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return -1;
	p->nslots = (unsigned int)nslots;
	return 0;
}

void
queue_pool_close(struct queue_pool *p)
{
	if (p->dirfd != -1)
		close(p->dirfd);
	p->dirfd = -1;
	p->nslots = 0;
}

static void
queue_pool_slot(const struct queue_pool *p, char *name, size_t namelen)
{
	snprintf(name, namelen, "s%u", arc4random_uniform(p->nslots));
}

/*
 * Only a plain file of ours with one name is reused: a second name means a
 * crash left a stale entry that still refers to it (docs/QUEUE.md 4b).
 */
static int
queue_pool_fits(const struct stat *st)
{
	return S_ISREG(st->st_mode) && st->st_nlink == 1 &&
	    st->st_uid == geteuid() && st->st_size <= QUEUE_POOL_FILE_MAX;
}

/* rename that fails with EEXIST instead of replacing an existing name. */
static int
queue_pool_rename_new(int fromfd, const char *from, int tofd, const char *to)
{
#ifdef RENAME_NOREPLACE
	if (renameat2(fromfd, from, tofd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
#endif
	/* link(2) never replaces; a crash in between leaves two names. */
	if (linkat(fromfd, from, tofd, to, 0) == -1)
		return -1;
	(void)unlinkat(fromfd, from, 0);
	return 0;
}

int
queue_pool_put(const struct queue_pool *p, int fromfd, const char *name)
{
	char slot[16];
	struct stat st;
	int i;

	if (p->dirfd == -1)
		return -1;
	if (fstatat(fromfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !queue_pool_fits(&st))
		return -1;
	for (i = 0; i < QUEUE_POOL_TRIES; i++) {
		queue_pool_slot(p, slot, sizeof(slot));
		if (queue_pool_rename_new(fromfd, name, p->dirfd, slot) == 0)
			return 0;
		if (errno != EEXIST)
			return -1;
	}
	errno = EEXIST;
	return -1;		/* full, or nearly: the caller unlinks */
}

int
queue_pool_take(const struct queue_pool *p, int todirfd, const char *name,
    struct stat *st)
{
	char slot[16];
	int i, fd;

	if (p->dirfd == -1)
		return -1;
	for (i = 0; i < QUEUE_POOL_TRIES; i++) {
		queue_pool_slot(p, slot, sizeof(slot));
		if (renameat(p->dirfd, slot, todirfd, name) == 0)
			break;
		if (errno != ENOENT)
			return -1;
	}
	if (i == QUEUE_POOL_TRIES)
		return -1;
	fd = openat(todirfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 || fstat(fd, st) == -1 || !queue_pool_fits(st) ||
	    ((st->st_mode & 07777) != 0600 && fchmod(fd, 0600) == -1)) {
		/* Not ours to reuse: drop this name (the file keeps others). */
		if (fd != -1)
			close(fd);
		/* A directory cannot be unlinked: it goes back where it was. */
		if (unlinkat(todirfd, name, 0) == -1)
			(void)renameat(todirfd, name, p->dirfd, slot);
		return -1;
	}
	return fd;
}
