/*
 * qmgr: the queue manager, one long-lived event-driven process. It takes
 * wakeups on its socket (fd 3), moves the file a wakeup names or scans
 * incoming/ for the others (and every
 * QMGR_INCOMING_POLL seconds in case one was lost), deferred/ every
 * queue_run_delay (sooner when a known retry time comes first), and runs
 * deliveries through the transports (qmgr_sched.c).
 * Parameters: queue_directory, mail_owner, virtual_mailbox_domains,
 * transport_maps, qmgr_message_active_limit, queue_run_delay,
 * minimal_backoff_time, maximal_backoff_time, maximal_queue_lifetime,
 * bounce_queue_lifetime, bounce_size_limit, delay_warning_time,
 * transport_retry_time, ipc_timeout, setgid_group, myhostname, relayhost,
 * initial_destination_concurrency, default_process_limit,
 * <transport>_destination_{concurrency,recipient}_limit.
 * Security: maps are opened as root, then qmgr runs as mail_owner,
 * chrooted into the queue directory with -j.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/fileutil.h"
#include "core/log.h"
#include "core/privsep.h"
#include "core/xmalloc.h"
#include "ipc/service.h"
#include "qmgr/qmgr.h"

/* Fallback scan of incoming/ when no wakeup came (a lost trigger). */
#define QMGR_INCOMING_POLL	2
/* Never scan deferred/ for a retry time more often than this. */
#define QMGR_DEFERRED_MIN_GAP	10
/* Longest poll() wait in ms, whatever the timers say. */
#define QMGR_POLL_MAX		60000

struct qmgr_timers {
	struct timespec next_incoming;
	struct timespec last_deferred;
	struct timespec last_maintenance;
};

static void qmgr_init(struct qmgr *, struct config *);
static void qmgr_transport_init(struct qmgr *, int, const char *);
static void qmgr_mkdirs(void);
static void qmgr_admin_ids(struct qmgr *);
static void qmgr_wakeups(struct qmgr *);
static void qmgr_loop(struct qmgr *);
static void qmgr_timers_run(struct qmgr *, struct qmgr_timers *);
static int qmgr_poll_timeout(struct qmgr *, struct qmgr_timers *);
static struct timespec qmgr_deferred_due(struct qmgr *, struct qmgr_timers *);
static long long qmgr_ms_until(const struct timespec *,
    const struct timespec *);

void
qmgr_clock(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

static long long
qmgr_ms_until(const struct timespec *now, const struct timespec *then)
{
	return ((long long)then->tv_sec - now->tv_sec) * 1000 +
	    (then->tv_nsec - now->tv_nsec) / 1000000;
}

/*
 * Concurrency is per destination (qmgr_site); all local deliveries are one
 * destination, not one per recipient as in Postfix (whose local default
 * of 2 is per recipient): our local_destination_concurrency_limit
 * defaults to 20 so Maildir deliveries overlap their fsyncs.
 */
static void
qmgr_transport_init(struct qmgr *q, int t, const char *name)
{
	struct qmgr_transport *tp = &q->tp[t];
	long long n;

	tp->name = name;
	snprintf(tp->socket, sizeof(tp->socket), "private/%s", name);
	n = config_get_transport_int(q->cfg, name,
	    "destination_concurrency_limit");
	tp->limit = n > 0 ? (size_t)n : 1;
	n = config_get_transport_int(q->cfg, name,
	    "destination_recipient_limit");
	tp->rcpt_limit = n > 0 ? (size_t)n : 1;
	/* The delivery processes master will run for the transport. */
	n = config_get_int(q->cfg, "default_process_limit");
	tp->proc_limit = n > 0 ? (size_t)n : 1;
	n = config_get_int(q->cfg, "initial_destination_concurrency");
	tp->initial = n > 0 ? (double)n : 1;
	if (tp->initial > (double)tp->limit)
		tp->initial = (double)tp->limit;
	TAILQ_INIT(&tp->sites);
}

static void
qmgr_init(struct qmgr *q, struct config *cfg)
{
	char err[512];
	long long n;

	memset(q, 0, sizeof(*q));
	q->cfg = cfg;
	q->relayhost = config_get(cfg, "relayhost");
	TAILQ_INIT(&q->messages);
	TAILQ_INIT(&q->inflight);
	qmgr_transport_init(q, QMGR_TRANSPORT_LOCAL, "local");
	qmgr_transport_init(q, QMGR_TRANSPORT_SMTP, "smtp");
	n = config_get_int(cfg, "qmgr_message_active_limit");
	q->active_limit = n > 0 ? (size_t)n : 1;
	q->queue_run_delay = config_get_time(cfg, "queue_run_delay");
	if (q->queue_run_delay < 1)
		q->queue_run_delay = 1;
	q->min_backoff = config_get_time(cfg, "minimal_backoff_time");
	q->max_backoff = config_get_time(cfg, "maximal_backoff_time");
	q->lifetime = config_get_time(cfg, "maximal_queue_lifetime");
	q->retry_time = config_get_time(cfg, "transport_retry_time");
	q->ipc_timeout = config_get_time(cfg, "ipc_timeout");
	if (q->ipc_timeout < 1)
		q->ipc_timeout = 1;
	q->bounce_lifetime = config_get_time(cfg, "bounce_queue_lifetime");
	q->delay_warning = config_get_time(cfg, "delay_warning_time");
	n = config_get_int(cfg, "bounce_size_limit");
	q->bounce_size_limit = n > 0 ? (size_t)n : 0;
	q->hostname = config_get(cfg, "myhostname");
	TAILQ_INIT(&q->clients);
	if (qmgr_route_open(&q->route, config_get(cfg,
	    "virtual_mailbox_domains"), err, sizeof(err)) == -1)
		fatalx("virtual_mailbox_domains: %s", err);
	qmgr_route_mydestination(&q->route, config_get(cfg, "mydestination"));
	if (qmgr_route_transport_open(&q->route, config_get(cfg,
	    "transport_maps"), err, sizeof(err)) == -1)
		fatalx("transport_maps: %s", err);
}

/* Who may use the queue CLI: looked up before the chroot. */
static void
qmgr_admin_ids(struct qmgr *q)
{
	struct group *gr;

	q->postdrop_gid = (gid_t)-1;
	if ((gr = getgrnam(config_get(q->cfg, "setgid_group"))) != NULL)
		q->postdrop_gid = gr->gr_gid;
}

/* The queue directories qmgr moves files between (maildrop is not ours). */
static void
qmgr_mkdirs(void)
{
	static const char *const dirs[] = { QUEUE_INCOMING, QUEUE_ACTIVE,
	    QUEUE_DEFERRED, QUEUE_HOLD, QUEUE_CORRUPT };
	size_t i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (mkdir(dirs[i], 0700) == -1 && errno != EEXIST)
			fatal("mkdir %s", dirs[i]);
	/* Only the queue listing's delay reasons live there: not fatal. */
	if (mkdir(QMGR_DEFER_DIR, 0700) == -1 && errno != EEXIST)
		log_warn("mkdir %s", QMGR_DEFER_DIR);
}

/*
 * Every connection is a wakeup for incoming/. What the client then writes
 * is read by qmgr_admin.c: a trigger byte ('F' also retries every deferred
 * message now), "I" and the queue ID of one new file (no scan needed), or
 * a queue CLI command.
 */
static void
qmgr_wakeups(struct qmgr *q)
{
	int fd;

	while ((fd = accept4(MASTER_LISTEN_FD, NULL, NULL,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1)
		qmgr_admin_accept(q, fd);
	/* Anything else would make poll() spin: let master restart us. */
	if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
		fatal("accept on qmgr socket");
}

static struct timespec
qmgr_deferred_due(struct qmgr *q, struct qmgr_timers *tm)
{
	struct timespec due = tm->last_deferred, soon, now;
	long long gap, ahead;

	due.tv_sec += q->queue_run_delay;
	if (q->earliest_retry == 0)
		return due;
	qmgr_clock(&now);
	gap = q->queue_run_delay < QMGR_DEFERRED_MIN_GAP ?
	    q->queue_run_delay : QMGR_DEFERRED_MIN_GAP;
	ahead = (long long)q->earliest_retry - (long long)time(NULL);
	soon = now;
	soon.tv_sec += ahead > 0 ? ahead : 0;
	if (soon.tv_sec < tm->last_deferred.tv_sec + gap) {
		soon = tm->last_deferred;
		soon.tv_sec += gap;
	}
	return qmgr_ms_until(&soon, &due) > 0 ? soon : due;
}

static void
qmgr_timers_run(struct qmgr *q, struct qmgr_timers *tm)
{
	struct timespec now, due;
	int maintenance, flush;

	qmgr_clock(&now);
	due = qmgr_deferred_due(q, tm);
	if (q->deferred_now || qmgr_ms_until(&now, &due) <= 0) {
		/* A scan that stops at its batch size asks for the next one. */
		flush = q->flush;
		q->deferred_now = q->flush = 0;
		tm->last_deferred = now;
		qmgr_scan_deferred(q, flush);
	}
	if (q->incoming_now || qmgr_ms_until(&now, &tm->next_incoming) <= 0) {
		due = tm->last_maintenance;
		due.tv_sec += q->queue_run_delay;
		maintenance = qmgr_ms_until(&now, &due) <= 0;
		if (maintenance)
			tm->last_maintenance = now;
		q->incoming_now = 0;
		q->nnamed = 0;		/* the scan finds them */
		qmgr_scan_incoming(q, maintenance);
		tm->next_incoming = now;
		tm->next_incoming.tv_sec += QMGR_INCOMING_POLL;
	} else if (q->nnamed > 0)
		qmgr_activate_named(q);
}

static int
qmgr_poll_timeout(struct qmgr *q, struct qmgr_timers *tm)
{
	struct timespec now, due;
	struct qmgr_job *job;
	long long ms, t;

	if (q->incoming_now || q->deferred_now || q->nnamed > 0)
		return 0;
	qmgr_clock(&now);
	ms = qmgr_ms_until(&now, &tm->next_incoming);
	due = qmgr_deferred_due(q, tm);
	if ((t = qmgr_ms_until(&now, &due)) < ms)
		ms = t;
	TAILQ_FOREACH(job, &q->inflight, entry)
		if ((t = qmgr_ms_until(&now, &job->deadline)) < ms)
			ms = t;
	if ((t = qmgr_admin_timeout_ms(q)) < ms)
		ms = t;
	if ((t = qmgr_conn_timeout_ms(q, &now)) != -1 && t < ms)
		ms = t;
	if (ms > QMGR_POLL_MAX)
		ms = QMGR_POLL_MAX;
	/* +1: wake just after a deadline, not a millisecond before it. */
	return ms < 0 ? 0 : (int)ms + 1;
}

static void
qmgr_loop(struct qmgr *q)
{
	struct qmgr_timers tm;
	struct pollfd *pfd = NULL;
	struct qmgr_job **jobs = NULL, *job, *next;
	struct qmgr_client *c;
	struct timespec now;
	size_t n, i, nc, ni, cap = 0;
	int rc;

	qmgr_clock(&now);
	tm.next_incoming = tm.last_deferred = tm.last_maintenance = now;
	tm.next_incoming.tv_sec += QMGR_INCOMING_POLL;
	for (;;) {
		if (service_stopping())
			exit(0);
		qmgr_timers_run(q, &tm);
		qmgr_dispatch(q);
		n = 1;
		TAILQ_FOREACH(job, &q->inflight, entry)
			n++;
		TAILQ_FOREACH(c, &q->clients, entry)
			n++;
		n += qmgr_conn_count(q);
		if (n > cap) {
			cap = n;
			pfd = xreallocarray(pfd, cap, sizeof(*pfd));
			jobs = xreallocarray(jobs, cap, sizeof(*jobs));
		}
		pfd[0].fd = MASTER_LISTEN_FD;
		pfd[0].events = POLLIN;
		i = 1;
		TAILQ_FOREACH(job, &q->inflight, entry) {
			pfd[i].fd = job->sock;
			pfd[i].events = POLLIN;
			jobs[i++] = job;
		}
		ni = qmgr_conn_pollfds(q, pfd + i, n - i);
		nc = (size_t)qmgr_admin_pollfds(q, pfd + i + ni, n - i - ni);
		n = i + ni + nc;
		rc = poll(pfd, n, qmgr_poll_timeout(q, &tm));
		if (rc == -1 && errno != EINTR)
			fatal("poll");
		if (rc <= 0)
			goto timeouts;
		/* Idle connections before jobs, which give some back. */
		qmgr_conn_input(q, pfd + n - nc - ni, ni);
		/* Clients first: an accept below appends to their list. */
		qmgr_admin_input(q, pfd + n - nc, nc);
		if (pfd[0].revents & POLLIN)
			qmgr_wakeups(q);
		/* A job's handler frees only that job: the array stays valid. */
		for (i = 1; i < n - nc - ni; i++)
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				qmgr_job_input(q, jobs[i]);
timeouts:
		if (rc <= 0)
			qmgr_admin_input(q, pfd + n - nc, 0);
		qmgr_clock(&now);
		TAILQ_FOREACH_SAFE(job, &q->inflight, entry, next)
			if (qmgr_ms_until(&now, &job->deadline) <= 0)
				qmgr_job_timeout(q, job);
		qmgr_conn_expire(q, &now);
	}
}

int
main(int argc, char *argv[])
{
	struct service_opts opts;
	struct qmgr q;
	const char *qdir;
	socklen_t optlen = sizeof(int);
	int listening = 0;

	service_init(argc, argv, "qmgr", &opts);
	qmgr_init(&q, opts.cfg);
	qmgr_admin_ids(&q);
	qdir = config_get(opts.cfg, "queue_directory");
	if (!opts.chroot && chdir(qdir) == -1)
		fatal("chdir %s", qdir);
	priv_drop_user(config_get(opts.cfg, "mail_owner"),
	    opts.chroot ? qdir : NULL);
	q.owner_uid = geteuid();
	qmgr_mkdirs();
	qmgr_remove_start(&q);
	if (getsockopt(MASTER_LISTEN_FD, SOL_SOCKET, SO_ACCEPTCONN, &listening,
	    &optlen) == -1 || !listening)
		fatalx("fd %d is not a listening socket (run qmgr from master)",
		    MASTER_LISTEN_FD);
	if (set_nonblock(MASTER_LISTEN_FD, 1) == -1)
		fatal("qmgr socket (fd %d)", MASTER_LISTEN_FD);
	qmgr_recover(&q);
	/* Started fine: master stops counting us as a startup failure. */
	if (!opts.standalone)
		service_status(MASTER_STAT_TAKEN);
	qmgr_loop(&q);
}
