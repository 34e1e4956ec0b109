/*
 * qmgr_sched: delivery jobs. A message's pending recipients are grouped
 * per transport and nexthop into jobs (at most
 * <transport>_destination_recipient_limit recipients and QMGR_REQUEST_BYTES
 * of addresses each); each transport runs at most
 * <transport>_destination_concurrency_limit jobs at once over non-blocking
 * sockets. Replies mark recipients done (2.x.x delivered), failed (5.x.x,
 * bounced) or leave them pending (4.x.x). When a message has no job left,
 * failed recipients get one bounce for all of them (queued before they are
 * marked done), then the message is removed, or deferred with its retry
 * time as mtime, or expired (every pending recipient fails), or moved as
 * the queue CLI asked (hold, requeue, delete).
 * Parameters: minimal_backoff_time, maximal_backoff_time,
 * maximal_queue_lifetime, bounce_queue_lifetime, delay_warning_time,
 * transport_retry_time, ipc_timeout.
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
#include <strings.h>
#include <unistd.h>

#include "core/fileutil.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "ipc/ipc.h"
#include "proto/dsn.h"
#include "qmgr/qmgr.h"

/* Room left in an IPC frame for everything but the addresses. */
#define QMGR_REQUEST_BYTES	(IPC_FRAME_MAX / 2)
#define QMGR_READ_CHUNK		4096

static struct qmgr_job *qmgr_job_new(struct qmgr *, struct qmgr_msg *, int,
    const char *, const char *);
static struct qmgr_site *qmgr_site_get(struct qmgr_transport *, const char *);
static void qmgr_site_name(struct qmgr *, int, const char *, const char *,
    char *, size_t);
static void qmgr_site_feedback(struct qmgr *, struct qmgr_job *);
static void qmgr_site_gc(struct qmgr_transport *);
static int qmgr_site_dispatch(struct qmgr *, struct qmgr_transport *,
    struct qmgr_site *, const struct timespec *);
static void qmgr_rcpt_status(struct qmgr_msg *, size_t, const char *,
    const char *);
static void qmgr_rcpt_inline(struct qmgr_msg *, size_t,
    const struct qmgr_dest *);
static int qmgr_msg_expire(struct qmgr *, struct qmgr_msg *);
static void qmgr_msg_bounce(struct qmgr *, struct qmgr_msg *);
static void qmgr_msg_delay_warning(struct qmgr *, struct qmgr_msg *);
static void qmgr_msg_move(struct qmgr_msg *, const char *, time_t);
static void qmgr_job_start(struct qmgr *, struct qmgr_job *);
static int qmgr_job_send(struct qmgr_job *);
static int qmgr_job_connect(struct qmgr_job *);
static void qmgr_job_unflight(struct qmgr *, struct qmgr_job *);
static void qmgr_job_restart(struct qmgr *, struct qmgr_job *);
static void qmgr_job_fail(struct qmgr *, struct qmgr_job *, const char *,
    const char *, int);
static void qmgr_job_done(struct qmgr *, struct qmgr_job *);
static void qmgr_log_defer(struct qmgr_msg *, size_t, const char *,
    const char *);
static int qmgr_msg_open(struct qmgr_msg *);
static void qmgr_msg_mark(struct qmgr_msg *);
static void qmgr_msg_finish(struct qmgr *, struct qmgr_msg *);
static void qmgr_msg_defer(struct qmgr *, struct qmgr_msg *);
static void qmgr_msg_remove(struct qmgr *, struct qmgr_msg *);
static int qmgr_ts_before(const struct timespec *, const struct timespec *);
static int qmgr_rcpt_agent_marks(const struct queue_rcpt *);

static int
qmgr_ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	    (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* The site a job goes to: found, or made with a fresh window. */
static struct qmgr_site *
qmgr_site_get(struct qmgr_transport *tp, const char *name)
{
	struct qmgr_site *site;

	TAILQ_FOREACH(site, &tp->sites, entry)
		if (!strcasecmp(site->name, name))
			return site;
	site = xcalloc(1, sizeof(*site));
	strlcpy(site->name, name, sizeof(site->name));
	TAILQ_INIT(&site->queue);
	site->window = tp->initial;
	TAILQ_INSERT_TAIL(&tp->sites, site, entry);
	tp->nsites++;
	return site;
}

/* smtp: nexthop, else relayhost, else the domain; local: one site. */
static void
qmgr_site_name(struct qmgr *q, int t, const char *nexthop,
    const char *address, char *out, size_t outlen)
{
	const char *at = strrchr(address, '@');

	if (*nexthop)
		strlcpy(out, nexthop, outlen);
	else if (t != QMGR_TRANSPORT_SMTP)
		strlcpy(out, "", outlen);
	else if (*q->relayhost)
		strlcpy(out, q->relayhost, outlen);
	else
		strlcpy(out, at ? at + 1 : "", outlen);
}

static struct qmgr_job *
qmgr_job_new(struct qmgr *q, struct qmgr_msg *msg, int t, const char *nexthop,
    const char *sitename)
{
	struct qmgr_job *job;
	const char *dsn;

	job = xcalloc(1, sizeof(*job));
	job->msg = msg;
	job->tp = &q->tp[t];
	job->site = qmgr_site_get(job->tp, sitename);
	strlcpy(job->nexthop, nexthop, sizeof(job->nexthop));
	job->req.nexthop = *nexthop ? xstrdup(nexthop) : NULL;
	job->sock = -1;
	buf_init(&job->in);
	job->req.queue_id = xstrdup(msg->id);
	job->req.sender = xstrdup(msg->qm.sender);
	job->req.arrival.tv_sec = (time_t)msg->qm.arrival_sec;
	job->req.arrival.tv_usec = msg->qm.arrival_usec;
	job->req.active = msg->active;
	job->req.content_offset = msg->qm.content_offset;
	job->req.content_len = msg->qm.content_len;
	if ((dsn = queue_message_attr(&msg->qm, "dsn_ret")) != NULL && *dsn)
		job->req.dsn_ret = xstrdup(dsn);
	if ((dsn = queue_message_attr(&msg->qm, "dsn_envid")) != NULL && *dsn)
		job->req.dsn_envid = xstrdup(dsn);
	TAILQ_INSERT_TAIL(&job->site->queue, job, entry);
	msg->jobs++;
	return job;
}

/* Remember the last status of recipient i (for DSNs and the listing). */
static void
qmgr_rcpt_status(struct qmgr_msg *msg, size_t i, const char *dsn,
    const char *reason)
{
	struct qmgr_rcpt_status *st = &msg->status[i];

	strlcpy(st->dsn, dsn, sizeof(st->dsn));
	free(st->reason);
	st->reason = xstrdup(reason ? reason : "");
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
	qmgr_rcpt_status(msg, idx, dsn, reason);
}

/*
 * error: and discard: from transport_maps, done here without an agent.
 * error:text bounces with the text (its own X.Y.Z if it starts with one,
 * else 5.0.0; a 4.X.Y code defers instead).
 */
static void
qmgr_rcpt_inline(struct qmgr_msg *msg, size_t i, const struct qmgr_dest *d)
{
	char dsn[DELIVER_DSN_MAX] = "5.0.0";
	const char *text = d->nexthop, *sp;

	if (d->transport == QMGR_TRANSPORT_DISCARD) {
		qmgr_log_defer(msg, i, "2.0.0", *text ? text : "discarded");
		msg->rstate[i] = QMGR_RCPT_DONE;
		return;
	}
	if (d->transport == QMGR_TRANSPORT_UNKNOWN) {
		qmgr_log_defer(msg, i, "4.3.0", "mail transport unavailable");
		msg->short_retry = 1;
		return;
	}
	if ((sp = strchr(text, ' ')) != NULL &&
	    (size_t)(sp - text) < sizeof(dsn)) {
		memcpy(dsn, text, (size_t)(sp - text));
		dsn[sp - text] = '\0';
		if (deliver_dsn_valid(dsn) && dsn[0] != '2')
			text = sp + 1;
		else
			strlcpy(dsn, "5.0.0", sizeof(dsn));
	}
	qmgr_log_defer(msg, i, dsn, *text ? text : "delivery not allowed");
	if (dsn[0] == '5')
		msg->rstate[i] = QMGR_RCPT_FAILED;
}

void
qmgr_schedule(struct qmgr *q, struct qmgr_msg *msg)
{
	struct qmgr_job **open = NULL, *job;
	size_t *bytes = NULL, nopen = 0, i, j, len;
	struct queue_rcpt *r;
	struct qmgr_dest d;
	char site[QMGR_NEXTHOP_MAX];

	for (i = 0; i < msg->qm.nrcpts; i++) {
		if (msg->rstate[i] != QMGR_RCPT_PENDING || msg->admin)
			continue;
		r = &msg->qm.rcpts[i];
		if (qmgr_route_resolve(&q->route, r->address, &d) == -1) {
			qmgr_log_defer(msg, i, "4.3.0",
			    "transport or domain table lookup failure");
			msg->short_retry = 1;
			continue;
		}
		if (d.transport >= QMGR_NTRANSPORTS) {
			qmgr_rcpt_inline(msg, i, &d);
			continue;
		}
		len = strlen(r->address) + (r->orcpt ? strlen(r->orcpt) : 0) +
		    (r->notify ? strlen(r->notify) : 0) + 48;
		len += 32;		/* "offset" and its digits */
		qmgr_site_name(q, d.transport, d.nexthop, r->address, site,
		    sizeof(site));
		/* One job per site and nexthop, up to the transport's limits. */
		for (j = 0; j < nopen; j++)
			if (open[j]->tp == &q->tp[d.transport] &&
			    !strcmp(open[j]->nexthop, d.nexthop) &&
			    !strcasecmp(open[j]->site->name, site))
				break;
		if (j == nopen || open[j]->req.nrcpts >=
		    q->tp[d.transport].rcpt_limit ||
		    bytes[j] + len > QMGR_REQUEST_BYTES) {
			job = qmgr_job_new(q, msg, d.transport, d.nexthop,
			    site);
			if (j == nopen) {
				open = xreallocarray(open, ++nopen,
				    sizeof(*open));
				bytes = xreallocarray(bytes, nopen,
				    sizeof(*bytes));
			}
			open[j] = job;
			bytes[j] = 0;
		}
		job = open[j];
		bytes[j] += len;
		job->idx = xreallocarray(job->idx, job->req.nrcpts + 1,
		    sizeof(size_t));
		job->idx[job->req.nrcpts] = i;
		deliver_request_add_rcpt_dsn(&job->req, r->address, r->orcpt,
		    r->notify);
		job->req.rcpts[job->req.nrcpts - 1].offset =
		    qmgr_rcpt_agent_marks(r) ? r->offset : -1;
	}
	free(open);
	free(bytes);
	if (msg->jobs == 0)
		qmgr_msg_finish(q, msg);
}

/*
 * Start what one site may start now; a dead site's queue is deferred at
 * once with its reason. 1 if a job was started (or failed).
 */
static int
qmgr_site_dispatch(struct qmgr *q, struct qmgr_transport *tp,
    struct qmgr_site *site, const struct timespec *now)
{
	struct qmgr_job *job;

	if ((job = TAILQ_FIRST(&site->queue)) == NULL)
		return 0;
	if (qmgr_ts_before(now, &site->dead_until)) {
		while ((job = TAILQ_FIRST(&site->queue)) != NULL) {
			TAILQ_REMOVE(&site->queue, job, entry);
			job->site = NULL;
			qmgr_job_fail(q, job, "4.4.1", site->dead_reason, 1);
		}
		return 1;
	}
	if ((double)site->inflight + 1 > site->window ||
	    tp->inflight >= tp->proc_limit)
		return 0;
	TAILQ_REMOVE(&site->queue, job, entry);
	qmgr_job_start(q, job);
	return 1;
}

/* Forget idle sites, so a queue of many domains does not grow forever. */
static void
qmgr_site_gc(struct qmgr_transport *tp)
{
	struct qmgr_site *site, *next;
	struct timespec now;

	qmgr_clock(&now);
	TAILQ_FOREACH_SAFE(site, &tp->sites, entry, next) {
		if (site->inflight || !TAILQ_EMPTY(&site->queue) ||
		    qmgr_ts_before(&now, &site->dead_until))
			continue;
		TAILQ_REMOVE(&tp->sites, site, entry);
		tp->nsites--;
		free(site);
	}
}

/* Round robin over the sites of each transport, one job per turn. */
void
qmgr_dispatch(struct qmgr *q)
{
	struct qmgr_transport *tp;
	struct qmgr_site *site;
	struct timespec now;
	size_t t;
	int progress;

	for (t = 0; t < QMGR_NTRANSPORTS; t++) {
		tp = &q->tp[t];
		do {
			progress = 0;
			qmgr_clock(&now);
			TAILQ_FOREACH(site, &tp->sites, entry)
				if (tp->inflight < tp->proc_limit &&
				    qmgr_site_dispatch(q, tp, site, &now))
					progress = 1;
		} while (progress && tp->inflight < tp->proc_limit);
		qmgr_site_gc(tp);
	}
}

/*
 * Postfix's feedback: a delivery grows the window by 1/window, a failed
 * connection (every recipient 4.4.x, or no answer) shrinks it by
 * 1/window; a window's worth of failures in a row kills the site for
 * transport_retry_time.
 */
static void
qmgr_site_feedback(struct qmgr *q, struct qmgr_job *job)
{
	struct qmgr_site *site = job->site;
	size_t i, ok = 0, down = 0;
	const char *dsn, *reason = NULL;

	for (i = 0; i < job->req.nrcpts; i++) {
		dsn = job->req.rcpts[i].dsn;
		if (dsn[0] == '2' || dsn[0] == '5')
			ok++;
		else if (!strncmp(dsn, "4.4.", 4)) {
			down++;
			reason = job->req.rcpts[i].reason;
		}
	}
	if (ok > 0) {
		site->fails = 0;
		site->window += 1 / site->window;
		if (site->window > (double)job->tp->limit)
			site->window = (double)job->tp->limit;
		return;
	}
	if (down == 0 || down != job->req.nrcpts)
		return;		/* the destination answered: not its fault */
	site->window -= 1 / site->window;
	if (site->window < 1)
		site->window = 1;
	if (++site->fails < (size_t)site->window && site->fails < 1000)
		return;
	snprintf(site->dead_reason, sizeof(site->dead_reason),
	    "delivery temporarily suspended: %s", reason ? reason : "");
	qmgr_clock(&site->dead_until);
	site->dead_until.tv_sec += q->retry_time;
	site->fails = 0;
	site->window = job->tp->initial;
}

/*
 * May the delivery agent mark this recipient DONE itself once delivered
 * (its record offset goes in the request)? Not with NOTIFY=SUCCESS: the
 * success notice is queued by qmgr_msg_finish, and a recipient already
 * DONE when qmgr crashes before that would never get it.
 */
static int
qmgr_rcpt_agent_marks(const struct queue_rcpt *r)
{
	char **words;
	size_t n, i;
	int success = 0;

	if (r->notify == NULL)
		return 1;
	words = config_split(r->notify, &n);
	for (i = 0; i < n; i++)
		if (!strcasecmp(words[i], "SUCCESS"))
			success = 1;
	config_split_free(words);
	return !success;
}

static int
qmgr_msg_open(struct qmgr_msg *msg)
{
	char path[PATH_MAX];

	if (msg->fd != -1)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", QUEUE_ACTIVE, msg->id);
	/*
	 * The descriptor the delivery agents get: read-write, so they mark
	 * delivered recipients DONE before they answer (deliver/deliver.c).
	 */
	msg->fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	return msg->fd == -1 ? -1 : 0;
}

static void
qmgr_job_start(struct qmgr *q, struct qmgr_job *job)
{
	struct qmgr_transport *tp = job->tp;
	struct timespec now;
	int saved;

	qmgr_clock(&now);
	if (job->msg->admin) {		/* deleted or held meanwhile */
		qmgr_job_done(q, job);
		return;
	}
	if (qmgr_ts_before(&now, &tp->dead_until)) {
		qmgr_job_fail(q, job, "4.3.0", tp->dead_reason, 1);
		return;
	}
	if (qmgr_msg_open(job->msg) == -1) {
		log_warn("open %s/%s", QUEUE_ACTIVE, job->msg->id);
		qmgr_job_fail(q, job, "4.3.0", "cannot open queue file", 0);
		return;
	}
	if (qmgr_job_connect(job) == -1) {
		saved = errno;
		if (job->sock != -1) {
			log_warn("%s: send request to transport %s",
			    job->msg->id, tp->socket);
			close(job->sock);
			job->sock = -1;
			qmgr_job_fail(q, job, "4.3.0",
			    "lost connection with transport", 1);
			return;
		}
		snprintf(tp->dead_reason, sizeof(tp->dead_reason),
		    "delivery temporarily suspended: connect to transport %s: %s",
		    tp->socket, strerror(saved));
		tp->dead_until = now;
		tp->dead_until.tv_sec += q->retry_time;
		qmgr_job_fail(q, job, "4.3.0", tp->dead_reason, 1);
		return;
	}
	job->deadline = now;
	job->deadline.tv_sec += q->ipc_timeout;
	TAILQ_INSERT_TAIL(&q->inflight, job, entry);
	tp->inflight++;
	job->site->inflight++;
}

static int
qmgr_job_send(struct qmgr_job *job)
{
	struct ipc_msg m;
	int rc;

	ipc_msg_init(&m);
	deliver_request_encode(&job->req, &m);
	rc = ipc_send(job->sock, &m, job->msg->fd);
	ipc_msg_free(&m);
	return rc;
}

/*
 * Send the request on a kept connection or a new one. A kept connection
 * its agent has closed meanwhile fails the send with EPIPE (closed while
 * idle) or ECONNRESET (closed with our request unread): the agent never
 * had it, so the next connection gets it. -1 with job->sock -1: connect
 * failed; with job->sock open: the send failed.
 */
static int
qmgr_job_connect(struct qmgr_job *job)
{
	int saved;

	for (;;) {
		if ((job->sock = qmgr_conn_get(job->tp, &job->reused)) == -1)
			return -1;
		if (qmgr_job_send(job) == 0)
			return 0;
		if (!job->reused || (errno != EPIPE && errno != ECONNRESET))
			return -1;
		saved = errno;
		close(job->sock);
		job->sock = -1;
		errno = saved;
	}
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
	n = recv(job->sock, job->in.data + job->in.len, QMGR_READ_CHUNK,
	    MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	/*
	 * Linux: a kept connection whose agent left (SIGTERM) with our request
	 * unread; it was never delivered, so it goes out again.
	 */
	if (n == -1 && errno == ECONNRESET && job->reused && job->in.len == 0) {
		qmgr_job_restart(q, job);
		return;
	}
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
	    (rc = deliver_reply_decode(&m, &job->req, err, sizeof(err))) == 0) {
		job->keep = job->in.len == 0 &&
		    ipc_get(&m, DELIVER_REPLY_LAST) == NULL;
		qmgr_job_done(q, job);
	} else if (rc == -1) {
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

static void
qmgr_job_unflight(struct qmgr *q, struct qmgr_job *job)
{
	TAILQ_REMOVE(&q->inflight, job, entry);
	job->tp->inflight--;
	job->site->inflight--;
}

/* Take the job out of flight and start it again on another connection. */
static void
qmgr_job_restart(struct qmgr *q, struct qmgr_job *job)
{
	qmgr_job_unflight(q, job);
	close(job->sock);
	job->sock = -1;
	qmgr_job_start(q, job);
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
		/*
		 * Only the local agent forwards; the copy is queued before the
		 * alias is marked done.
		 */
		if (job->req.rcpts[i].nforward > 0 &&
		    job->tp != &q->tp[QMGR_TRANSPORT_LOCAL])
			deliver_rcpt_forward_free(&job->req.rcpts[i]);
		if (job->req.rcpts[i].dsn[0] == '2' &&
		    job->req.rcpts[i].nforward > 0)
			(void)qmgr_forward(q, msg, &job->req, &job->req.rcpts[i],
			    job->idx[i]);
		c = job->req.rcpts[i].dsn[0];
		if (c == '\0')		/* not tried (the message was held) */
			continue;
		qmgr_rcpt_status(msg, job->idx[i], job->req.rcpts[i].dsn,
		    job->req.rcpts[i].reason);
		if (c == '2')
			msg->rstate[job->idx[i]] = QMGR_RCPT_DONE;
		else if (c == '5')	/* bounced (agent logged) */
			msg->rstate[job->idx[i]] = QMGR_RCPT_FAILED;
	}
	if (job->sock != -1) {
		qmgr_job_unflight(q, job);
		if (job->keep)
			qmgr_conn_put(job->tp, job->sock);
		else
			close(job->sock);
		qmgr_site_feedback(q, job);
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

/*
 * Out of the queue: our descriptor goes first, so the remover's unlink
 * (qmgr_remove.c), not a close here, frees the blocks.
 */
static void
qmgr_msg_remove(struct qmgr *q, struct qmgr_msg *msg)
{
	if (msg->fd != -1) {
		close(msg->fd);
		msg->fd = -1;
	}
	if (qmgr_remove_file(q, QUEUE_ACTIVE, msg->id) == -1 && errno != ENOENT)
		log_warn("remove %s/%s", QUEUE_ACTIVE, msg->id);
	else
		log_info("%s: removed", msg->id);
	qmgr_defer_reasons_remove(msg->id);
}

/* active/ID to dir/ID with mtime when (the next retry time). */
static void
qmgr_msg_move(struct qmgr_msg *msg, const char *dir, time_t when)
{
	char from[PATH_MAX], to[PATH_MAX];
	struct timespec ts[2];

	snprintf(from, sizeof(from), "%s/%s", QUEUE_ACTIVE, msg->id);
	snprintf(to, sizeof(to), "%s/%s", dir, msg->id);
	ts[0].tv_sec = time(NULL);
	ts[0].tv_nsec = 0;
	ts[1].tv_sec = when;
	ts[1].tv_nsec = 0;
	if (utimensat(AT_FDCWD, from, ts, AT_SYMLINK_NOFOLLOW) == -1)
		log_warn("set retry time of %s", from);
	/* On failure it stays in active/: the next start schedules it. */
	if (rename(from, to) == -1)
		log_warn("rename %s to %s", from, to);
}

/* Retry time as mtime (Postfix's convention), then out of active/. */
static void
qmgr_msg_defer(struct qmgr *q, struct qmgr_msg *msg)
{
	long long delay;
	time_t now = time(NULL);

	delay = qmgr_backoff(now, (time_t)msg->qm.arrival_sec, q->min_backoff,
	    q->max_backoff);
	if (msg->short_retry && delay > q->retry_time)
		delay = q->retry_time;
	qmgr_msg_move(msg, QUEUE_DEFERRED, now + (time_t)delay);
	if (q->earliest_retry == 0 || now + delay < q->earliest_retry)
		q->earliest_retry = now + (time_t)delay;
}

/*
 * A message past its lifetime (bounce_queue_lifetime for notifications,
 * which have the null sender), or one the CLI expired: every pending
 * recipient fails with its last delay reason. 1 if it expired.
 */
static int
qmgr_msg_expire(struct qmgr *q, struct qmgr_msg *msg)
{
	long long life, age;
	size_t i, n = 0;

	life = *msg->qm.sender ? q->lifetime : q->bounce_lifetime;
	age = (long long)time(NULL) - msg->qm.arrival_sec;
	if (!msg->forced_expire && age < life)
		return 0;
	for (i = 0; i < msg->qm.nrcpts; i++) {
		if (msg->rstate[i] != QMGR_RCPT_PENDING)
			continue;
		if (msg->status[i].reason == NULL)
			qmgr_rcpt_status(msg, i, "4.4.7",
			    "message expired before a delivery attempt");
		msg->rstate[i] = QMGR_RCPT_FAILED;
		n++;
	}
	if (n > 0)
		log_info("%s: from=<%s>, status=expired, returned to sender",
		    msg->id, msg->qm.sender);
	return n > 0;
}

/*
 * One bounce for every failed recipient. Only once it is queued are they
 * done; if it cannot be queued (disk full) they stay pending, so the
 * failure is found and bounced again on a later try.
 */
static void
qmgr_msg_bounce(struct qmgr *q, struct qmgr_msg *msg)
{
	size_t i, failed = 0;
	int rc;

	for (i = 0; i < msg->qm.nrcpts; i++)
		if (msg->rstate[i] == QMGR_RCPT_FAILED)
			failed++;
	if (failed == 0)
		return;
	rc = qmgr_bounce(q, msg, DSN_FAILURE);
	for (i = 0; i < msg->qm.nrcpts; i++) {
		if (msg->rstate[i] != QMGR_RCPT_FAILED)
			continue;
		msg->rstate[i] = rc == 0 ? QMGR_RCPT_DONE : QMGR_RCPT_PENDING;
	}
	if (rc == -1)
		msg->short_retry = 1;
}

/*
 * delay_warning_time: one delay notice per message, the first time a
 * deferral finds it that old. The warning is remembered as the group
 * read bit of the queue file (queue files are 0600 otherwise).
 */
static void
qmgr_msg_delay_warning(struct qmgr *q, struct qmgr_msg *msg)
{
	char path[PATH_MAX];
	struct stat st;

	if (q->delay_warning <= 0 || *msg->qm.sender == '\0' ||
	    (long long)time(NULL) - msg->qm.arrival_sec < q->delay_warning)
		return;
	snprintf(path, sizeof(path), "%s/%s", QUEUE_ACTIVE, msg->id);
	if (stat(path, &st) == -1 || (st.st_mode & S_IRGRP))
		return;
	if (qmgr_bounce(q, msg, DSN_DELAY) == 0 &&
	    chmod(path, (st.st_mode & 07777) | S_IRGRP) == -1)
		log_warn("%s: remember delay warning", msg->id);
}

/*
 * qmgr_msg_finish: no job left. Bounce what failed (and what expired),
 * send the success notices asked for, then remove the message when
 * nothing is pending, else mark the done recipients and defer it (or
 * hold or requeue it, if the CLI asked meanwhile).
 */
static void
qmgr_msg_finish(struct qmgr *q, struct qmgr_msg *msg)
{
	size_t i, pending = 0;

	if (msg->admin == QMGR_ADMIN_DELETE) {
		qmgr_msg_remove(q, msg);
		goto out;
	}
	if (msg->admin == QMGR_ADMIN_NONE)
		(void)qmgr_msg_expire(q, msg);
	qmgr_msg_bounce(q, msg);
	(void)qmgr_bounce(q, msg, DSN_SUCCESS);
	for (i = 0; i < msg->qm.nrcpts; i++)
		if (msg->rstate[i] == QMGR_RCPT_PENDING)
			pending++;
	if (pending == 0) {
		qmgr_msg_remove(q, msg);
		goto out;
	}
	qmgr_msg_mark(msg);
	qmgr_defer_reasons_save(msg);
	switch (msg->admin) {
	case QMGR_ADMIN_HOLD:
		qmgr_msg_move(msg, QUEUE_HOLD, time(NULL));
		break;
	case QMGR_ADMIN_REQUEUE:
		qmgr_msg_move(msg, QUEUE_INCOMING, time(NULL));
		q->incoming_now = 1;
		break;
	default:
		qmgr_msg_delay_warning(q, msg);
		qmgr_msg_defer(q, msg);
		break;
	}
out:
	TAILQ_REMOVE(&q->messages, msg, entry);
	q->nactive--;
	if (q->backlog)
		q->incoming_now = 1;
	qmgr_msg_free(msg);
}

void
qmgr_msg_free(struct qmgr_msg *msg)
{
	size_t i;

	if (msg->fd != -1)
		close(msg->fd);
	if (msg->status != NULL)
		for (i = 0; i < msg->qm.nrcpts; i++)
			free(msg->status[i].reason);
	free(msg->status);
	queue_message_free(&msg->qm);
	free(msg->rstate);
	free(msg);
}
