/*
 * queue_pool: finished queue files kept in recycle/ for smtpd to write its
 * next message into, so a busy queue neither frees nor allocates an inode
 * per message (on ext4 both scan and trim; see docs/PERFORMANCE.md).
 * recycle/ holds at most queue_recycle_limit files under slot names
 * "s0".."sN-1"; a slot is filled with a no-replace rename and emptied with
 * a rename out, so two processes never get the same file. Which slots are
 * filled is read from the directory (one getdents) when the slots a
 * process knew of are used up (not again for miss_ms after a read that
 * found none), and tried in a random order, so smtpd
 * processes seldom reach for the same one and qmgr seldom for a full one.
 * Interface: queue_pool_open, queue_pool_put (qmgr), queue_pool_take
 * (smtpd). Crash safety: docs/QUEUE.md section 4b.
 */
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "queue/queue.h"

static int queue_pool_scan(struct queue_pool *, int);
static long long queue_pool_now_ms(void);
static int queue_pool_missed_lately(const struct queue_pool *, int);
static int queue_pool_next(struct queue_pool *, int, int *, char *, size_t);
static int queue_pool_fits(const struct stat *);
static int queue_pool_rename_new(int, const char *, int, const char *);

int
queue_pool_open(struct queue_pool *p, const char *dir, long long nslots)
{
	memset(p, 0, sizeof(*p));
	p->dirfd = -1;
	if (nslots <= 0)
		return 0;
	if (nslots > QUEUE_POOL_SLOTS_MAX)
		nslots = QUEUE_POOL_SLOTS_MAX;
	if ((p->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return -1;
	p->nslots = (unsigned int)nslots;
	p->miss_ms = QUEUE_POOL_MISS_MS;
	return 0;
}

void
queue_pool_close(struct queue_pool *p)
{
	if (p->dir != NULL)
		closedir(p->dir);
	else if (p->dirfd != -1)
		close(p->dirfd);
	free(p->filled);
	free(p->free);
	memset(p, 0, sizeof(*p));
	p->dirfd = -1;
}

/*
 * Read which slots are filled: filled[] gets them, free[] the others, both
 * shuffled (only the list the caller wants: want_free). 0 or -1.
 */
static int
queue_pool_scan(struct queue_pool *p, int want_free)
{
	unsigned int *list, n = 0, i, j, t, slot;
	uint32_t r;
	unsigned char *seen;
	struct dirent *de;
	const char *c;
	int fd;

	if (p->dir == NULL) {
		if ((fd = dup(p->dirfd)) == -1)
			return -1;
		if ((p->dir = fdopendir(fd)) == NULL) {
			close(fd);
			return -1;
		}
	} else
		rewinddir(p->dir);
	if ((seen = calloc(p->nslots, 1)) == NULL)
		return -1;
	list = want_free ? p->free : p->filled;
	if (list == NULL && (list = calloc(p->nslots, sizeof(*list))) == NULL) {
		free(seen);
		return -1;
	}
	if (want_free)
		p->free = list;
	else
		p->filled = list;
	while ((de = readdir(p->dir)) != NULL) {
		if (de->d_name[0] != 's' || de->d_name[1] < '0' ||
		    de->d_name[1] > '9')
			continue;
		for (slot = 0, c = de->d_name + 1; *c >= '0' && *c <= '9' &&
		    slot < p->nslots; c++)
			slot = slot * 10 + (unsigned int)(*c - '0');
		if (*c == '\0' && slot < p->nslots)
			seen[slot] = 1;
	}
	for (i = 0; i < p->nslots; i++)
		if (seen[i] == !want_free)
			list[n++] = i;
	free(seen);
	/*
	 * Fisher-Yates with xorshift32 seeded once: one arc4random per scan
	 * (libbsd's checks for a fork on every call).
	 */
	for (r = arc4random() | 1, i = n; i > 1; i--) {
		r ^= r << 13;
		r ^= r >> 17;
		r ^= r << 5;
		j = r % i;
		t = list[i - 1];
		list[i - 1] = list[j];
		list[j] = t;
	}
	if (want_free)
		p->nfree = n;
	else
		p->nfilled = n;
	p->missed_at[want_free] = n == 0 ? queue_pool_now_ms() : 0;
	return 0;
}

/* Milliseconds on the monotonic clock; never 0 (0 means "no miss"). */
static long long
queue_pool_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 1;
}

/* Whether the last scan for this list found nothing under miss_ms ago. */
static int
queue_pool_missed_lately(const struct queue_pool *p, int want_free)
{
	return p->miss_ms > 0 && p->missed_at[want_free] != 0 &&
	    queue_pool_now_ms() - p->missed_at[want_free] < p->miss_ms;
}

/*
 * The next slot name to try from the filled (want_free 0) or free list.
 * When the list is used up the directory is read again, once per call
 * (*rescan is cleared then). 1 with a name, 0 when there is none.
 */
static int
queue_pool_next(struct queue_pool *p, int want_free, int *rescan, char *name,
    size_t namelen)
{
	unsigned int *n = want_free ? &p->nfree : &p->nfilled;

	if (*n == 0 && *rescan) {
		*rescan = 0;
		if (!queue_pool_missed_lately(p, want_free))
			(void)queue_pool_scan(p, want_free);
	}
	if (*n == 0)
		return 0;
	--*n;
	snprintf(name, namelen, "s%u", want_free ? p->free[*n] :
	    p->filled[*n]);
	return 1;
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
queue_pool_put(struct queue_pool *p, int fromfd, const char *name)
{
	char slot[16];
	struct stat st;
	int rescan = 1;

	if (p->dirfd == -1)
		return -1;
	if (fstatat(fromfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !queue_pool_fits(&st))
		return -1;
	/* A slot listed free may have been filled by another qmgr since. */
	while (queue_pool_next(p, 1, &rescan, slot, sizeof(slot))) {
		if (queue_pool_rename_new(fromfd, name, p->dirfd, slot) == 0)
			return 0;
		if (errno != EEXIST)
			return -1;
	}
	errno = EEXIST;
	return -1;		/* full: the caller unlinks */
}

int
queue_pool_take(struct queue_pool *p, int todirfd, const char *name,
    struct stat *st)
{
	char slot[16];
	int fd, rescan = 1;

	if (p->dirfd == -1)
		return -1;
	/* Listed slots other processes have emptied since fail: the next. */
	for (;;) {
		if (!queue_pool_next(p, 0, &rescan, slot, sizeof(slot)))
			return -1;
		/*
		 * A lookup first: it takes no lock, while a rename between
		 * directories takes the file system's rename lock even when
		 * it fails, and under load most listed slots are gone.
		 */
		if (fstatat(p->dirfd, slot, st, AT_SYMLINK_NOFOLLOW) == -1) {
			if (errno != ENOENT)
				return -1;
			continue;
		}
		if (renameat(p->dirfd, slot, todirfd, name) == 0)
			break;
		if (errno != ENOENT)
			return -1;
	}
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
