/*
 * qmgr_sched: delivery jobs. A message's pending recipients are grouped
 * per transport into jobs (at most <transport>_destination_recipient_limit
 * recipients and QMGR_REQUEST_BYTES of addresses each); each transport runs
 * at most <transport>_destination_concurrency_limit jobs at once over
 * non-blocking sockets. Replies mark recipients done (2.x.x delivered,
 * 5.x.x bounced) or leave them pending (4.x.x); when a message has no job
 * left it is removed, or deferred with its retry time as mtime, or expired.
 * Parameters: minimal_backoff_time, maximal_backoff_time,
 * maximal_queue_lifetime, transport_retry_time, ipc_timeout.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
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
#include "ipc/ipc.h"
#include "qmgr/qmgr.h"

/* Room left in an IPC frame for everything but the addresses. */
#define QMGR_REQUEST_BYTES	(IPC_FRAME_MAX / 2)
/* A request is small; a transport that will not take it is broken. */
#define QMGR_SEND_TIMEOUT	10
#define QMGR_READ_CHUNK		4096

static struct qmgr_job *qmgr_job_new(struct qmgr *, struct qmgr_msg *, int);
static void qmgr_job_start(struct qmgr *, struct qmgr_job *);
static int qmgr_job_send(struct qmgr_job *);
static void qmgr_job_fail(struct qmgr *, struct qmgr_job *, const char *,
    const char *, int);
static void qmgr_job_done(struct qmgr *, struct qmgr_job *);
static void qmgr_log_defer(struct qmgr_msg *, size_t, const char *,
    const char *);
static int qmgr_msg_open(struct qmgr_msg *);
static void qmgr_msg_mark(struct qmgr_msg *);
static void qmgr_msg_finish(struct qmgr *, struct qmgr_msg *);
static void qmgr_msg_defer(struct qmgr *, struct qmgr_msg *);
static void qmgr_msg_remove(struct qmgr_msg *);
static int qmgr_ts_before(const struct timespec *, const struct timespec *);

static int
qmgr_ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	    (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static struct qmgr_job *
qmgr_job_new(struct qmgr *q, struct qmgr_msg *msg, int t)
{
	struct qmgr_job *job;

	job = xcalloc(1, sizeof(*job));
	job->msg = msg;
	job->tp = &q->tp[t];
	job->sock = -1;
	buf_init(&job->in);
	job->req.queue_id = xstrdup(msg->id);
	job->req.sender = xstrdup(msg->qm.sender);
	job->req.arrival.tv_sec = (time_t)msg->qm.arrival_sec;
	job->req.arrival.tv_usec = msg->qm.arrival_usec;
	job->req.active = msg->active;
	job->req.content_offset = msg->qm.content_offset;
	job->req.content_len = msg->qm.content_len;
	TAILQ_INSERT_TAIL(&job->tp->queue, job, entry);
	msg->jobs++;
	return job;
}

/* qmgr_log_defer: qmgr's own to= line, when no agent could report. */
static void
qmgr_log_defer(struct qmgr_msg *msg, size_t idx, const char *dsn,
    const char *reason)
{
	struct deliver_request req;
	struct timeval now;

	memset(&req, 0, sizeof(req));
	req.queue_id = msg->id;
	req.arrival.tv_sec = (time_t)msg->qm.arrival_sec;
	req.arrival.tv_usec = msg->qm.arrival_usec;
	req.active = msg->active;
	req.rcpts = xcalloc(1, sizeof(*req.rcpts));
	req.rcpts->address = msg->qm.rcpts[idx].address;
	req.rcpts->orcpt = msg->qm.rcpts[idx].orcpt;
	deliver_rcpt_set(req.rcpts, dsn, "%s", reason);
	gettimeofday(&now, NULL);
	deliver_log_status(&req, req.rcpts, "none", &now, &now);
	free(req.rcpts->reason);
	free(req.rcpts);
}

void
qmgr_schedule(struct qmgr *q, struct qmgr_msg *msg)
{
	struct qmgr_job *cur[QMGR_NTRANSPORTS] = { NULL };
	size_t bytes[QMGR_NTRANSPORTS] = { 0 };
	struct queue_rcpt *r;
	size_t i, len;
	int t, rc;

	for (i = 0; i < msg->qm.nrcpts; i++) {
		if (msg->rstate[i] != QMGR_RCPT_PENDING)
			continue;
		r = &msg->qm.rcpts[i];
		if ((rc = qmgr_route_local(&q->route, r->address)) == -1) {
			qmgr_log_defer(msg, i, "4.3.0",
			    "virtual_mailbox_domains lookup failure");
			msg->short_retry = 1;
			continue;
		}
		t = rc ? QMGR_TRANSPORT_LOCAL : QMGR_TRANSPORT_SMTP;
		len = strlen(r->address) + (r->orcpt ? strlen(r->orcpt) : 0) + 32;
		if (cur[t] == NULL || cur[t]->req.nrcpts >= q->tp[t].rcpt_limit ||
		    bytes[t] + len > QMGR_REQUEST_BYTES) {
			cur[t] = qmgr_job_new(q, msg, t);
			bytes[t] = 0;
		}
		bytes[t] += len;
		cur[t]->idx = xreallocarray(cur[t]->idx, cur[t]->req.nrcpts + 1,
		    sizeof(size_t));
		cur[t]->idx[cur[t]->req.nrcpts] = i;
		deliver_request_add_rcpt(&cur[t]->req, r->address, r->orcpt);
	}
	if (msg->jobs == 0)
		qmgr_msg_finish(q, msg);
}

void
qmgr_dispatch(struct qmgr *q)
{
	struct qmgr_transport *tp;
	struct qmgr_job *job;
	size_t t;

	for (t = 0; t < QMGR_NTRANSPORTS; t++) {
		tp = &q->tp[t];
		while (tp->inflight < tp->limit &&
		    (job = TAILQ_FIRST(&tp->queue)) != NULL) {
			TAILQ_REMOVE(&tp->queue, job, entry);
			qmgr_job_start(q, job);
		}
	}
}

static int
qmgr_msg_open(struct qmgr_msg *msg)
{
	char path[PATH_MAX];

	if (msg->fd != -1)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", QUEUE_ACTIVE, msg->id);
	/* Read-only: this is the descriptor the delivery agents get. */
	msg->fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	return msg->fd == -1 ? -1 : 0;
}

static void
qmgr_job_start(struct qmgr *q, struct qmgr_job *job)
{
	struct qmgr_transport *tp = job->tp;
	struct timespec now;
	int saved;

	qmgr_clock(&now);
	if (qmgr_ts_before(&now, &tp->dead_until)) {
		qmgr_job_fail(q, job, "4.3.0", tp->dead_reason, 1);
		return;
	}
	if (qmgr_msg_open(job->msg) == -1) {
		log_warn("open %s/%s", QUEUE_ACTIVE, job->msg->id);
		qmgr_job_fail(q, job, "4.3.0", "cannot open queue file", 0);
		return;
	}
	if ((job->sock = unix_connect(tp->socket)) == -1) {
		saved = errno;
		snprintf(tp->dead_reason, sizeof(tp->dead_reason),
		    "delivery temporarily suspended: connect to transport %s: %s",
		    tp->socket, strerror(saved));
		tp->dead_until = now;
		tp->dead_until.tv_sec += q->retry_time;
		qmgr_job_fail(q, job, "4.3.0", tp->dead_reason, 1);
		return;
	}
	if (qmgr_job_send(job) == -1) {
		log_warn("%s: send request to transport %s", job->msg->id,
		    tp->socket);
		close(job->sock);
		job->sock = -1;
		qmgr_job_fail(q, job, "4.3.0", "lost connection with transport",
		    1);
		return;
	}
	job->deadline = now;
	job->deadline.tv_sec += q->ipc_timeout;
	TAILQ_INSERT_TAIL(&q->inflight, job, entry);
	tp->inflight++;
}

static int
qmgr_job_send(struct qmgr_job *job)
{
	struct timeval tv = { QMGR_SEND_TIMEOUT, 0 };
	struct ipc_msg m;
	int rc;

	(void)setsockopt(job->sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	ipc_msg_init(&m);
	deliver_request_encode(&job->req, &m);
	rc = ipc_send(job->sock, &m, job->msg->fd);
	ipc_msg_free(&m);
	if (rc == 0)
		rc = set_nonblock(job->sock, 1);
	return rc;
}

/* qmgr_job_input: the socket is readable; take the reply when complete. */
void
qmgr_job_input(struct qmgr *q, struct qmgr_job *job)
{
	struct ipc_msg m;
	char err[256];
	ssize_t n;
	int rc;

	buf_reserve(&job->in, QMGR_READ_CHUNK);
	n = read(job->sock, job->in.data + job->in.len, QMGR_READ_CHUNK);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (n == -1)
			log_warn("%s: read from transport %s", job->msg->id,
			    job->tp->socket);
		else
			log_warnx("%s: transport %s closed the connection "
			    "without a status", job->msg->id, job->tp->socket);
		qmgr_job_fail(q, job, "4.3.0", "unknown mail transport error", 0);
		return;
	}
	job->in.len += (size_t)n;
	err[0] = '\0';
	ipc_msg_init(&m);
	if ((rc = deliver_frame_take(&job->in, &m)) == 1 &&
	    (rc = deliver_reply_decode(&m, &job->req, err, sizeof(err))) == 0)
		qmgr_job_done(q, job);
	else if (rc == -1) {
		log_warnx("%s: transport %s: malformed reply%s%s", job->msg->id,
		    job->tp->socket, err[0] ? ": " : "", err);
		qmgr_job_fail(q, job, "4.3.0", "unknown mail transport error", 0);
	}
	ipc_msg_free(&m);
}

void
qmgr_job_timeout(struct qmgr *q, struct qmgr_job *job)
{
	log_warnx("%s: transport %s: no status within ipc_timeout (%llds)",
	    job->msg->id, job->tp->socket, q->ipc_timeout);
	qmgr_job_fail(q, job, "4.4.1", "delivery agent did not answer in time",
	    0);
}

/* Every recipient of the job is deferred with reason; qmgr logs each. */
static void
qmgr_job_fail(struct qmgr *q, struct qmgr_job *job, const char *dsn,
    const char *reason, int short_retry)
{
	size_t i;

	for (i = 0; i < job->req.nrcpts; i++) {
		deliver_rcpt_set(&job->req.rcpts[i], dsn, "%s", reason);
		qmgr_log_defer(job->msg, job->idx[i], dsn, reason);
	}
	if (short_retry)
		job->msg->short_retry = 1;
	qmgr_job_done(q, job);
}

static void
qmgr_job_done(struct qmgr *q, struct qmgr_job *job)
{
	struct qmgr_msg *msg = job->msg;
	size_t i;
	char c;

	for (i = 0; i < job->req.nrcpts; i++) {
		c = job->req.rcpts[i].dsn[0];
		if (c == '2' || c == '5')	/* 5.x.x: bounced (agent logged) */
			msg->rstate[job->idx[i]] = QMGR_RCPT_DONE;
	}
	if (job->sock != -1) {
		TAILQ_REMOVE(&q->inflight, job, entry);
		job->tp->inflight--;
		close(job->sock);
	}
	deliver_request_free(&job->req);
	buf_free(&job->in);
	free(job->idx);
	free(job);
	if (--msg->jobs > 0)
		qmgr_msg_mark(msg);	/* other jobs may take long: record now */
	else
		qmgr_msg_finish(q, msg);
}

/*
 * Record finished recipients in the file, so a restart skips them. A
 * failure is not fatal: the worst case is one more delivery.
 */
static void
qmgr_msg_mark(struct qmgr_msg *msg)
{
	char path[PATH_MAX];
	size_t i;
	int fd = -1;

	for (i = 0; i < msg->qm.nrcpts; i++) {
		if (msg->rstate[i] != QMGR_RCPT_DONE)
			continue;
		if (fd == -1) {
			snprintf(path, sizeof(path), "%s/%s", QUEUE_ACTIVE,
			    msg->id);
			fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
			if (fd == -1) {
				log_warn("%s: mark recipients done", msg->id);
				return;
			}
		}
		if (queue_rcpt_done(fd, &msg->qm.rcpts[i]) == -1) {
			log_warn("%s: mark recipient done", msg->id);
			break;
		}
		msg->rstate[i] = QMGR_RCPT_MARKED;
	}
	if (fd != -1)
		close(fd);
}

static void
qmgr_msg_remove(struct qmgr_msg *msg)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", QUEUE_ACTIVE, msg->id);
	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("remove %s", path);
	else
		log_info("%s: removed", msg->id);
}

/* Retry time as mtime (Postfix's convention), then out of active/. */
static void
qmgr_msg_defer(struct qmgr *q, struct qmgr_msg *msg)
{
	char from[PATH_MAX], to[PATH_MAX];
	struct timespec ts[2];
	long long delay;
	time_t now = time(NULL);

	delay = qmgr_backoff(now, (time_t)msg->qm.arrival_sec, q->min_backoff,
	    q->max_backoff);
	if (msg->short_retry && delay > q->retry_time)
		delay = q->retry_time;
	snprintf(from, sizeof(from), "%s/%s", QUEUE_ACTIVE, msg->id);
	snprintf(to, sizeof(to), "%s/%s", QUEUE_DEFERRED, msg->id);
	ts[0].tv_sec = now;
	ts[0].tv_nsec = 0;
	ts[1].tv_sec = now + (time_t)delay;
	ts[1].tv_nsec = 0;
	if (utimensat(AT_FDCWD, from, ts, AT_SYMLINK_NOFOLLOW) == -1)
		log_warn("set retry time of %s", from);
	if (rename(from, to) == -1) {
		/* Left in active/: the next start schedules it again. */
		log_warn("rename %s to %s", from, to);
		return;
	}
	if (q->earliest_retry == 0 || ts[1].tv_sec < q->earliest_retry)
		q->earliest_retry = ts[1].tv_sec;
}

/*
 * qmgr_msg_finish: no job left. All recipients done: remove (no need to
 * mark them first). Otherwise mark the done ones and defer, or expire a
 * message older than maximal_queue_lifetime.
 */
static void
qmgr_msg_finish(struct qmgr *q, struct qmgr_msg *msg)
{
	size_t i, pending = 0;

	for (i = 0; i < msg->qm.nrcpts; i++)
		if (msg->rstate[i] == QMGR_RCPT_PENDING)
			pending++;
	if (pending == 0) {
		qmgr_msg_remove(msg);
	} else {
		qmgr_msg_mark(msg);
		if ((long long)time(NULL) - msg->qm.arrival_sec >= q->lifetime) {
			/* TODO(bounce): an RFC 3464 bounce is not written yet. */
			log_info("%s: from=<%s>, status=expired, returned to "
			    "sender", msg->id, msg->qm.sender);
			qmgr_msg_remove(msg);
		} else
			qmgr_msg_defer(q, msg);
	}
	TAILQ_REMOVE(&q->messages, msg, entry);
	q->nactive--;
	if (q->backlog)
		q->incoming_now = 1;
	qmgr_msg_free(msg);
}

void
qmgr_msg_free(struct qmgr_msg *msg)
{
	if (msg->fd != -1)
		close(msg->fd);
	queue_message_free(&msg->qm);
	free(msg->rstate);
	free(msg);
}
