/*
 * qmgr_remove: finished queue files leave qmgr's loop by a rename into
 * trash/ (a directory-entry change, no blocks freed) and are unlinked by a
 * few remover threads, so the cost of freeing blocks (a synchronous discard
 * on some file systems: milliseconds per file) is paid in parallel, off
 * the serial scheduler. Nothing ever reads trash/: a file there is removed,
 * at the latest by the next start. Interface: qmgr_remove_start,
 * qmgr_remove_file. Parameters: qmgr_remove_threads, qmgr_remove_queue_limit.
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

struct qmgr_remover {
	pthread_mutex_t	 lock;
	pthread_cond_t	 wake;
	char		(*ring)[QUEUE_ID_MAX];
	size_t		 head, count, cap;
	int		 dirfd;		/* trash/ */
};

static void *qmgr_remove_thread(void *);
static void qmgr_remove_sweep(struct qmgr *);
static int qmgr_remove_push(struct qmgr_remover *, const char *);

static void *
qmgr_remove_thread(void *arg)
{
	struct qmgr_remover *r = arg;
	char id[QUEUE_ID_MAX];

	for (;;) {
		pthread_mutex_lock(&r->lock);
		while (r->count == 0)
			pthread_cond_wait(&r->wake, &r->lock);
		memcpy(id, r->ring[r->head], sizeof(id));
		r->head = (r->head + 1) % r->cap;
		r->count--;
		pthread_mutex_unlock(&r->lock);
		/* A failure leaves the file in trash/: the next start retries. */
		(void)unlinkat(r->dirfd, id, 0);
	}
	return NULL;
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
	sigset_t all, old;
	pthread_t t;
	long long n, cap;
	int i, fd;

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
	q->remover = r;
	if (n <= 0 || cap <= 0) {
		qmgr_remove_sweep(q);
		return;
	}
	r->cap = (size_t)cap;
	r->ring = xcalloc(r->cap, sizeof(*r->ring));
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->wake, NULL);
	/* Signals (SIGTERM) stay with the main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < n; i++) {
		if ((errno = pthread_create(&t, NULL, qmgr_remove_thread,
		    r)) != 0)
			fatal("pthread_create");
		pthread_detach(t);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
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
	int fd;

	if ((fd = dup(r->dirfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		log_warn("open %s", QUEUE_TRASH);
		if (fd != -1)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && !qmgr_remove_push(r, de->d_name) &&
		    unlinkat(r->dirfd, de->d_name, 0) == -1 && errno != ENOENT)
			log_warn("remove %s/%s", QUEUE_TRASH, de->d_name);
	closedir(d);
}

/* Queue trash/id for a thread: 1, or 0 when full, threadless or too long. */
static int
qmgr_remove_push(struct qmgr_remover *r, const char *id)
{
	int queued = 0;

	if (r->cap == 0 || strlen(id) >= QUEUE_ID_MAX)
		return 0;
	pthread_mutex_lock(&r->lock);
	if (r->count < r->cap) {
		strlcpy(r->ring[(r->head + r->count) % r->cap], id,
		    QUEUE_ID_MAX);
		r->count++;
		queued = 1;
		pthread_cond_signal(&r->wake);
	}
	pthread_mutex_unlock(&r->lock);
	return queued;
}

/*
 * qmgr_remove_file: take dir/id out of the queue now (rename into trash/)
 * and have a remover thread unlink it. The caller has closed its own
 * descriptor, so the last close is not ours either. When the hand-off
 * queue is full, or there are no threads, unlink here. 0 or -1 (errno).
 */
int
qmgr_remove_file(struct qmgr *q, const char *dir, const char *id)
{
	struct qmgr_remover *r = q->remover;
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, id);
	if (r == NULL || r->cap == 0 || strlen(id) >= QUEUE_ID_MAX)
		return unlink(path);
	if (renameat(AT_FDCWD, path, r->dirfd, id) == -1)
		return errno == ENOENT ? -1 : unlink(path);
	if (!qmgr_remove_push(r, id) && unlinkat(r->dirfd, id, 0) == -1 &&
	    errno != ENOENT)
		return -1;
	return 0;
}
