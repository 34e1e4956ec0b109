/*
 * qmgr: the queue manager's shared state. One process owns the queue:
 * qmgr_scan.c moves files between queue directories, qmgr_sched.c turns
 * active messages into delivery jobs and runs them against the transports,
 * qmgr_route.c decides which transport a recipient goes to.
 */
#ifndef POSTILION_QMGR_H
#define POSTILION_QMGR_H

#include <sys/queue.h>
#include <sys/time.h>
#include <stddef.h>
#include <time.h>

#include "conf/config.h"
#include "core/buf.h"
#include "ipc/deliver_proto.h"
#include "queue/queue.h"

struct map_list;

#define QMGR_TRANSPORT_LOCAL	0
#define QMGR_TRANSPORT_SMTP	1
#define QMGR_NTRANSPORTS	2

/* Per-recipient progress of an active message. */
#define QMGR_RCPT_PENDING	0	/* to try (or tried and deferred) */
#define QMGR_RCPT_DONE		1	/* finished; not yet marked in the file */
#define QMGR_RCPT_MARKED	2	/* finished and marked DONE in the file */

struct qmgr_msg {
	TAILQ_ENTRY(qmgr_msg) entry;
	char	 id[QUEUE_ID_MAX];
	struct queue_message qm;
	unsigned char *rstate;		/* QMGR_RCPT_* per qm.rcpts[] */
	struct timeval active;		/* when it entered active/ */
	int	 fd;			/* active/ID read-only while jobs run, else -1 */
	size_t	 jobs;			/* jobs queued or in flight */
	int	 short_retry;		/* a transport was unreachable */
};

struct qmgr_transport;

struct qmgr_job {
	TAILQ_ENTRY(qmgr_job) entry;	/* transport queue, then in flight */
	struct qmgr_msg *msg;
	struct qmgr_transport *tp;
	size_t	*idx;			/* indexes into msg->qm.rcpts */
	struct deliver_request req;	/* req.rcpts[i] is idx[i] */
	int	 sock;
	struct buf in;			/* reply bytes so far */
	struct timespec deadline;	/* CLOCK_MONOTONIC */
};

TAILQ_HEAD(qmgr_job_list, qmgr_job);

struct qmgr_transport {
	const char *name;		/* "local", "smtp" */
	char	 socket[64];		/* "private/local" */
	size_t	 limit;			/* concurrent deliveries */
	size_t	 rcpt_limit;		/* recipients per request */
	size_t	 inflight;
	struct qmgr_job_list queue;	/* waiting for a slot */
	struct timespec dead_until;	/* connect failed: do not retry yet */
	char	 dead_reason[256];
};

struct qmgr_route {
	char	**domains;		/* literal virtual_mailbox_domains */
	size_t	 ndomains;
	struct map_list *maps;		/* type:name entries, or NULL */
};

struct qmgr {
	struct config *cfg;
	struct qmgr_route route;
	struct qmgr_transport tp[QMGR_NTRANSPORTS];
	TAILQ_HEAD(, qmgr_msg) messages;	/* everything in active/ */
	struct qmgr_job_list inflight;
	size_t	 nactive;
	size_t	 active_limit;
	long long queue_run_delay;
	long long min_backoff, max_backoff;
	long long lifetime;
	long long retry_time;		/* transport_retry_time */
	long long ipc_timeout;
	int	 incoming_now;		/* a wakeup asked for a scan */
	int	 deferred_now;		/* a flush asked for a deferred scan */
	int	 flush;			/* ... ignoring retry times */
	int	 backlog;		/* a scan stopped at active_limit */
	time_t	 earliest_retry;	/* soonest known deferred mtime, or 0 */
};

/* qmgr_route.c */
int	qmgr_route_open(struct qmgr_route *, const char *domains, char *err,
	    size_t errlen);
void	qmgr_route_close(struct qmgr_route *);
/* qmgr_route_local: 1 local, 0 not, -1 lookup error. */
int	qmgr_route_local(struct qmgr_route *, const char *address);
/* qmgr_backoff: seconds until the next try of a message queued since arrival. */
long long qmgr_backoff(time_t now, time_t arrival, long long min, long long max);

/* qmgr_scan.c */
void	qmgr_recover(struct qmgr *);
void	qmgr_scan_incoming(struct qmgr *, int maintenance);
void	qmgr_scan_deferred(struct qmgr *, int flush);
int	qmgr_activate(struct qmgr *, const char *dir, const char *id);

/* qmgr_sched.c */
void	qmgr_schedule(struct qmgr *, struct qmgr_msg *);
void	qmgr_dispatch(struct qmgr *);
void	qmgr_job_input(struct qmgr *, struct qmgr_job *);
void	qmgr_job_timeout(struct qmgr *, struct qmgr_job *);
void	qmgr_msg_free(struct qmgr_msg *);

/* qmgr.c */
void	qmgr_clock(struct timespec *);

#endif
