/*
 * qmgr_remove: finished queue files leave qmgr's loop by a rename into
 * trash/ (a directory-entry change, no blocks freed), or, finished in
 * active/ with reuse on, into a pending name in recycle/ (".ID": not a
 * slot, so smtpd never takes it). The recycler thread makes their removal
 * from active/ durable (one fsync of active/ per batch) and renames them
 * to free slots within recycle/ for smtpd to reuse
 * (lib/queue/queue_pool.c); the rest, and what the pool will not take
 * (moved to trash/), are unlinked by a few remover threads, so the
 * cost of freeing blocks (a synchronous discard on some file systems:
 * milliseconds per file) is paid in parallel, off the serial scheduler.
 * Nothing ever reads trash/: a file there is removed or recycled, at the
 * latest by the next start. Interface: qmgr_remove_start,
 * qmgr_remove_file. Parameters: qmgr_remove_threads,
 * qmgr_remove_queue_limit, queue_recycle_limit.
 * Crash safety: docs/QUEUE.md sections 4a and 4b.
 */
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "qmgr/qmgr.h"

#define QMGR_REMOVE_THREADS_MAX	64
#define QMGR_RECYCLE_BATCH	256	/* files per fsync of active/ */
#define QMGR_RECYCLE_WAIT_US	10000	/* to gather a batch */

/* IDs handed from the loop to threads; bounded, never blocks the loop. */
struct qmgr_ring {
	pthread_mutex_t	 lock;
	pthread_cond_t	 wake;
	char		(*ids)[QUEUE_ID_MAX];
	size_t		 head, count, cap;
};

struct qmgr_remover {
	struct qmgr_ring unlinks;	/* trash/ID to unlink */
	struct qmgr_ring recycles;	/* recycle/.ID from active/, to reuse */
	struct queue_pool pool;		/* recycle/; dirfd -1 when off */
	int		 dirfd;		/* trash/ */
	int		 activefd;	/* active/, fsynced per batch */
};

static void *qmgr_remove_thread(void *);
static void *qmgr_recycle_thread(void *);
static void qmgr_recycle_drop(struct qmgr_remover *, const char *,
    const char *);
static void qmgr_recycle_sweep(struct qmgr_remover *);
static void qmgr_pending_name(char *, size_t, const char *);
static DIR *qmgr_dir_read(int, const char *);
static void qmgr_remove_sweep(struct qmgr *);
static void qmgr_ring_init(struct qmgr_ring *, size_t);
static int qmgr_ring_push(struct qmgr_ring *, const char *);
static size_t qmgr_ring_take(struct qmgr_ring *, char (*)[QUEUE_ID_MAX],
    size_t, int);
static void qmgr_threads_start(void *(*)(void *), void *, int);
static void qmgr_recycle_start(struct qmgr *, struct qmgr_remover *);

static void
qmgr_ring_init(struct qmgr_ring *ring, size_t cap)
{
	ring->cap = cap;
	ring->ids = xcalloc(cap, sizeof(*ring->ids));
	pthread_mutex_init(&ring->lock, NULL);
	pthread_cond_init(&ring->wake, NULL);
}

/* Queue id for a thread: 1, or 0 when full, threadless or too long. */
static int
qmgr_ring_push(struct qmgr_ring *ring, const char *id)
{
	int queued = 0;

	if (ring->cap == 0 || strlen(id) >= QUEUE_ID_MAX)
		return 0;
	pthread_mutex_lock(&ring->lock);
	if (ring->count < ring->cap) {
		strlcpy(ring->ids[(ring->head + ring->count) % ring->cap], id,
		    QUEUE_ID_MAX);
		ring->count++;
		queued = 1;
		pthread_cond_signal(&ring->wake);
	}
	pthread_mutex_unlock(&ring->lock);
	return queued;
}

/* Take up to max IDs; with wait, block until there is at least one. */
static size_t
qmgr_ring_take(struct qmgr_ring *ring, char (*out)[QUEUE_ID_MAX], size_t max,
    int wait)
{
	size_t n = 0;

	pthread_mutex_lock(&ring->lock);
	while (wait && ring->count == 0)
		pthread_cond_wait(&ring->wake, &ring->lock);
	while (n < max && ring->count > 0) {
		memcpy(out[n++], ring->ids[ring->head], QUEUE_ID_MAX);
		ring->head = (ring->head + 1) % ring->cap;
		ring->count--;
	}
	pthread_mutex_unlock(&ring->lock);
	return n;
}

static void *
qmgr_remove_thread(void *arg)
{
	struct qmgr_remover *r = arg;
	char id[1][QUEUE_ID_MAX];

	for (;;) {
		qmgr_ring_take(&r->unlinks, id, 1, 1);
		/* A failure leaves the file in trash/: the next start retries. */
		(void)unlinkat(r->dirfd, id[0], 0);
	}
	return NULL;
}

/* The pending name in recycle/ of a file bound for the pool: ".ID". */
static void
qmgr_pending_name(char *buf, size_t len, const char *id)
{
	(void)snprintf(buf, len, ".%s", id);
}

/* recycle/.ID not pooled: to trash/ID for a remover, or unlinked now. */
static void
qmgr_recycle_drop(struct qmgr_remover *r, const char *pending, const char *id)
{
	if (renameat(r->pool.dirfd, pending, r->dirfd, id) == -1) {
		(void)unlinkat(r->pool.dirfd, pending, 0);
		return;
	}
	if (!qmgr_ring_push(&r->unlinks, id))
		(void)unlinkat(r->dirfd, id, 0);
}

/*
 * The files of one batch left active/ (renamed to recycle/.ID) before
 * they were handed here; one fsync of active/ makes all those removals
 * durable before any of them gets a slot name and can be rewritten as a
 * new message, so a power loss cannot bring back an active/ name for a
 * file smtpd has since reused. A file the pool will not take goes to
 * trash/ for a remover.
 */
static void *
qmgr_recycle_thread(void *arg)
{
	struct qmgr_remover *r = arg;
	char (*ids)[QUEUE_ID_MAX], pending[QUEUE_ID_MAX + 1];
	size_t n, i;
	int synced;

	ids = xcalloc(QMGR_RECYCLE_BATCH, sizeof(*ids));
	for (;;) {
		n = qmgr_ring_take(&r->recycles, ids, 1, 1);
		usleep(QMGR_RECYCLE_WAIT_US);
		n += qmgr_ring_take(&r->recycles, ids + n,
		    QMGR_RECYCLE_BATCH - n, 0);
		synced = fsync(r->activefd) == 0;
		for (i = 0; i < n; i++) {
			qmgr_pending_name(pending, sizeof(pending), ids[i]);
			if (synced && queue_pool_put(&r->pool, r->pool.dirfd,
			    pending) == 0)
				continue;
			qmgr_recycle_drop(r, pending, ids[i]);
		}
	}
	return NULL;
}

static void
qmgr_threads_start(void *(*fn)(void *), void *arg, int n)
{
	sigset_t all, old;
	pthread_t t;
	int i;

	/* Signals (SIGTERM) stay with the main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < n; i++) {
		if ((errno = pthread_create(&t, NULL, fn, arg)) != 0)
			fatal("pthread_create");
		pthread_detach(t);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* recycle/ (made by master) and active/ open, one recycler thread. */
static void
qmgr_recycle_start(struct qmgr *q, struct qmgr_remover *r)
{
	long long slots;

	slots = config_get_int(q->cfg, "queue_recycle_limit");
	if (slots <= 0)
		return;
	if (queue_pool_open(&r->pool, QUEUE_RECYCLE, slots) == -1 ||
	    (r->activefd = open(QUEUE_ACTIVE, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1) {
		log_warn("%s (finished queue files are removed, not reused)",
		    QUEUE_RECYCLE);
		queue_pool_close(&r->pool);
		return;
	}
	qmgr_ring_init(&r->recycles, r->unlinks.cap);
	qmgr_recycle_sweep(r);
	qmgr_threads_start(qmgr_recycle_thread, r, 1);
}

/* A directory stream on a copy of dirfd (logged when it fails). */
static DIR *
qmgr_dir_read(int dirfd, const char *name)
{
	DIR *d;
	int fd;

	if ((fd = dup(dirfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		log_warn("open %s", name);
		if (fd != -1)
			close(fd);
		return NULL;
	}
	return d;
}

/*
 * Pending files an earlier run left in recycle/ (killed before its
 * recycler gave them a slot): finished messages nobody reads; to trash/,
 * which the sweep after this empties. A power loss may instead have put
 * one back in active/ (the rename undone): delivered again, as in 4a.
 */
static void
qmgr_recycle_sweep(struct qmgr_remover *r)
{
	struct dirent *de;
	DIR *d;

	if ((d = qmgr_dir_read(r->pool.dirfd, QUEUE_RECYCLE)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] == '.' && de->d_name[1] != '\0' &&
		    de->d_name[1] != '.' &&
		    renameat(r->pool.dirfd, de->d_name, r->dirfd,
		    de->d_name + 1) == -1 &&
		    unlinkat(r->pool.dirfd, de->d_name, 0) == -1 &&
		    errno != ENOENT)
			log_warn("remove %s/%s", QUEUE_RECYCLE, de->d_name);
	closedir(d);
}

/*
 * qmgr_remove_start: open (create) trash/, remove what a previous run left
 * there, and start the threads. With qmgr_remove_threads = 0 every file is
 * unlinked in the loop, as before. Call after the chroot and privilege drop.
 */
void
qmgr_remove_start(struct qmgr *q)
{
	struct qmgr_remover *r;
	long long n, cap;
	int fd;

	n = config_get_int(q->cfg, "qmgr_remove_threads");
	cap = config_get_int(q->cfg, "qmgr_remove_queue_limit");
	if (n > QMGR_REMOVE_THREADS_MAX)
		n = QMGR_REMOVE_THREADS_MAX;
	/* master creates trash/; without it, unlink in the loop as before. */
	if ((mkdir(QUEUE_TRASH, 0700) == -1 && errno != EEXIST) ||
	    (fd = open(QUEUE_TRASH, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		log_warn("%s (files are removed without it)", QUEUE_TRASH);
		return;
	}
	r = xcalloc(1, sizeof(*r));
	r->dirfd = fd;
	r->activefd = -1;
	r->pool.dirfd = -1;
	q->remover = r;
	if (n <= 0 || cap <= 0) {
		qmgr_remove_sweep(q);
		return;
	}
	qmgr_ring_init(&r->unlinks, (size_t)cap);
	qmgr_threads_start(qmgr_remove_thread, r, (int)n);
	qmgr_recycle_start(q, r);
	qmgr_remove_sweep(q);
}

/*
 * Whatever an earlier run left in trash/ (killed before its unlink): to
 * the threads when there are any, so a large leftover does not hold up
 * the start.
 */
static void
qmgr_remove_sweep(struct qmgr *q)
{
	struct qmgr_remover *r = q->remover;
	struct dirent *de;
	DIR *d;

	if ((d = qmgr_dir_read(r->dirfd, QUEUE_TRASH)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' &&
		    !qmgr_ring_push(&r->unlinks, de->d_name) &&
		    unlinkat(r->dirfd, de->d_name, 0) == -1 && errno != ENOENT)
			log_warn("remove %s/%s", QUEUE_TRASH, de->d_name);
	closedir(d);
}

/*
 * qmgr_remove_file: take dir/id out of the queue now (rename into trash/,
 * or from active/ with reuse on to recycle/.ID for the recycler) and have
 * a remover thread unlink it. The caller has closed its own
 * descriptor, so the last close is not ours either. When the hand-off
 * queue is full, or there are no threads, unlink here. 0 or -1 (errno).
 */
int
qmgr_remove_file(struct qmgr *q, const char *dir, const char *id)
{
	struct qmgr_remover *r = q->remover;
	char path[PATH_MAX], pending[QUEUE_ID_MAX + 1];

	snprintf(path, sizeof(path), "%s/%s", dir, id);
	if (r == NULL || r->unlinks.cap == 0 || strlen(id) >= QUEUE_ID_MAX)
		return unlink(path);
	/*
	 * Bound for the pool: one rename between directories, to a pending
	 * name the recycler makes a slot after its fsync of active/ (only
	 * that fsync covers this removal).
	 */
	if (r->pool.dirfd != -1 && !strcmp(dir, QUEUE_ACTIVE)) {
		qmgr_pending_name(pending, sizeof(pending), id);
		if (renameat(AT_FDCWD, path, r->pool.dirfd, pending) == 0) {
			if (!qmgr_ring_push(&r->recycles, id))
				qmgr_recycle_drop(r, pending, id);
			return 0;
		}
		if (errno == ENOENT)
			return -1;
	}
	if (renameat(AT_FDCWD, path, r->dirfd, id) == -1)
		return errno == ENOENT ? -1 : unlink(path);
	if (!qmgr_ring_push(&r->unlinks, id) &&
	    unlinkat(r->dirfd, id, 0) == -1 && errno != ENOENT)
		return -1;
	return 0;
}
