/*
 * qmgr_forward: an alias that forwards (the local agent's "forward"
 * result, deliver_proto.h) becomes a NEW message in incoming/: the same
 * envelope sender and content, the forward addresses as recipients with the
 * alias as their ORCPT, and a "Delivered-To: alias" header on top so a
 * forward that comes back is stopped by the agent's hopcount_limit check.
 * Crash safety: the copy is committed (fsync, rename, fsync incoming/)
 * before the caller marks the alias recipient done: at worst a duplicate.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fileutil.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "qmgr/qmgr.h"

#define QMGR_FORWARD_CHUNK	(64 * 1024)

static int qmgr_forward_write(struct qmgr_msg *, size_t,
    const struct deliver_rcpt *, struct queue_writer *);
static int qmgr_forward_content(struct qmgr_msg *, struct queue_writer *);

/* Copy the original content, read in chunks from the queue file. */
static int
qmgr_forward_content(struct qmgr_msg *msg, struct queue_writer *w)
{
	char path[PATH_MAX], *chunk;
	uint64_t left = msg->qm.content_len;
	off_t off = msg->qm.content_offset;
	size_t n;
	int fd = msg->fd, rc = 0;

	if (fd == -1) {
		snprintf(path, sizeof(path), "%s/%s", QUEUE_ACTIVE, msg->id);
		if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
			return -1;
	}
	chunk = xmalloc(QMGR_FORWARD_CHUNK);
	while (left > 0) {
		n = left > QMGR_FORWARD_CHUNK ? QMGR_FORWARD_CHUNK :
		    (size_t)left;
		if (pread_full(fd, chunk, n, off) == -1) {
			rc = -1;
			break;
		}
		queue_writer_content(w, chunk, n);
		off += (off_t)n;
		left -= n;
	}
	free(chunk);
	if (fd != msg->fd)
		close(fd);
	return rc;
}

static int
qmgr_forward_write(struct qmgr_msg *msg, size_t idx,
    const struct deliver_rcpt *r, struct queue_writer *w)
{
	const struct queue_rcpt *orig = &msg->qm.rcpts[idx];
	const char *attr;
	struct timeval now;
	size_t i;
	int saved;

	gettimeofday(&now, NULL);
	queue_writer_recordf(w, QREC_TIME, "%lld %ld", (long long)now.tv_sec,
	    (long)now.tv_usec);
	queue_writer_record(w, QREC_SENDER, msg->qm.sender,
	    strlen(msg->qm.sender));
	queue_writer_recordf(w, QREC_ATTR, "protocol=%s", "local");
	if ((attr = queue_message_attr(&msg->qm, "dsn_envid")) != NULL)
		queue_writer_recordf(w, QREC_ATTR, "dsn_envid=%s", attr);
	if ((attr = queue_message_attr(&msg->qm, "dsn_ret")) != NULL)
		queue_writer_recordf(w, QREC_ATTR, "dsn_ret=%s", attr);
	for (i = 0; i < r->nforward; i++) {
		queue_writer_recordf(w, QREC_ORCPT, "rfc822;%s", orig->address);
		if (orig->notify != NULL)
			queue_writer_record(w, QREC_NOTIFY, orig->notify,
			    strlen(orig->notify));
		queue_writer_record(w, QREC_RCPT, r->forward[i],
		    strlen(r->forward[i]));
	}
	queue_writer_content_begin(w);
	queue_writer_content(w, "Delivered-To: ", 14);
	queue_writer_content(w, orig->address, strlen(orig->address));
	queue_writer_content(w, "\n", 1);
	if (qmgr_forward_content(msg, w) == -1) {
		saved = errno;
		queue_writer_abort(w);
		errno = saved;
		return -1;
	}
	queue_writer_content_end(w);
	return queue_writer_commit(w);
}

int
qmgr_forward(struct qmgr *q, struct qmgr_msg *msg,
    const struct deliver_request *req, struct deliver_rcpt *r, size_t idx)
{
	struct queue_writer w;
	struct timeval now;

	if (queue_writer_open(&w, QUEUE_INCOMING) == -1 ||
	    qmgr_forward_write(msg, idx, r, &w) == -1) {
		log_warn("%s: queue forwarded copy for %s", msg->id,
		    r->address);
		deliver_rcpt_set(r, "4.3.0", "cannot queue forwarded copy: %s",
		    strerror(errno));
		deliver_rcpt_forward_free(r);
		gettimeofday(&now, NULL);
		deliver_log_status(req, r, "local", &now, &now);
		return -1;
	}
	deliver_rcpt_set(r, "2.0.0", "forwarded as %s", w.id);
	gettimeofday(&now, NULL);
	deliver_log_status(req, r, "local", &now, &now);
	q->incoming_now = 1;
	return 0;
}
