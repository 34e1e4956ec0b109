/*
 * qmgr: the queue manager's shared state. One process owns the queue:
 * qmgr_scan.c moves files between queue directories, qmgr_sched.c turns
 * active messages into delivery jobs and runs them against the transports,
 * qmgr_route.c decides which transport a recipient goes to, qmgr_bounce.c
 * writes delivery status notifications, qmgr_admin.c serves the queue CLI.
 */
#ifndef POSTILION_QMGR_H
#define POSTILION_QMGR_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/time.h>
#include <poll.h>
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
/* Pseudo transports handled inside qmgr (transport_maps). */
#define QMGR_TRANSPORT_ERROR	10	/* error:text: bounce (or defer) now */
#define QMGR_TRANSPORT_DISCARD	11	/* discard:text: drop as delivered */
#define QMGR_TRANSPORT_UNKNOWN	12	/* a name we have no socket for */

#define QMGR_NEXTHOP_MAX	256
#define QMGR_DEFER_DIR		"defer"	/* last delay reason per message */
#define QMGR_CLIENTS_MAX	64	/* CLI and wakeup connections at once */

/* Where one recipient goes (qmgr_route_resolve). */
struct qmgr_dest {
	int	 transport;		/* QMGR_TRANSPORT_* */
	char	 nexthop[QMGR_NEXTHOP_MAX];	/* "" = the transport's default */
};

/* Per-recipient progress of an active message. */
#define QMGR_RCPT_PENDING	0	/* to try (or tried and deferred) */
#define QMGR_RCPT_DONE		1	/* finished; not yet marked in the file */
#define QMGR_RCPT_MARKED	2	/* finished and marked DONE in the file */
#define QMGR_RCPT_FAILED	3	/* bounced; marked once the DSN is queued */

/* Last status of a recipient in this pass (for DSNs and delay reasons). */
struct qmgr_rcpt_status {
	char	 dsn[DELIVER_DSN_MAX];	/* "" when not tried */
	char	*reason;
};

/* What the queue CLI asked of a message that was busy in active/. */
#define QMGR_ADMIN_NONE		0
#define QMGR_ADMIN_DELETE	1
#define QMGR_ADMIN_HOLD		2
#define QMGR_ADMIN_REQUEUE	3

struct qmgr_msg {
	TAILQ_ENTRY(qmgr_msg) entry;
	char	 id[QUEUE_ID_MAX];
	struct queue_message qm;
	unsigned char *rstate;		/* QMGR_RCPT_* per qm.rcpts[] */
	struct qmgr_rcpt_status *status;	/* per qm.rcpts[] */
	struct timeval active;		/* when it entered active/ */
	int	 fd;			/* active/ID read-only while jobs run, else -1 */
	size_t	 jobs;			/* jobs queued or in flight */
	int	 short_retry;		/* a transport was unreachable */
	int	 forced_expire;		/* queue expire: file mode has u+x */
	int	 admin;			/* QMGR_ADMIN_*, done when jobs end */
};

struct qmgr_transport;
struct qmgr_site;

struct qmgr_job {
	TAILQ_ENTRY(qmgr_job) entry;	/* site queue, then in flight */
	struct qmgr_msg *msg;
	struct qmgr_transport *tp;
	struct qmgr_site *site;
	char	 nexthop[QMGR_NEXTHOP_MAX];
	size_t	*idx;			/* indexes into msg->qm.rcpts */
	struct deliver_request req;	/* req.rcpts[i] is idx[i] */
	int	 sock;
	int	 reused;		/* sock served an earlier job */
	int	 keep;			/* a whole reply, not the agent's last */
	struct buf in;			/* reply bytes so far */
	struct timespec deadline;	/* CLOCK_MONOTONIC */
};

TAILQ_HEAD(qmgr_job_list, qmgr_job);

/*
 * A destination of a transport (its nexthop, relayhost or recipient
 * domain): its own queue of jobs and a concurrency window that starts at
 * initial_destination_concurrency, grows by 1/window per delivery up to
 * <transport>_destination_concurrency_limit, shrinks by 1/window per
 * failed connection, and after a whole window of failures in a row marks
 * the destination dead for transport_retry_time.
 */
struct qmgr_site {
	TAILQ_ENTRY(qmgr_site) entry;	/* the transport's sites */
	char	 name[QMGR_NEXTHOP_MAX];
	struct qmgr_job_list queue;	/* waiting for a slot */
	size_t	 inflight;
	double	 window;
	size_t	 fails;			/* failed deliveries in a row */
	struct timespec dead_until;
	char	 dead_reason[256];
};
TAILQ_HEAD(qmgr_site_list, qmgr_site);

/* An agent connection waiting for the next job (qmgr_conn.c). */
struct qmgr_conn {
	int	 sock;
	struct timespec since;		/* CLOCK_MONOTONIC, when put back */
};

struct qmgr_transport {
	const char *name;		/* "local", "smtp" */
	char	 socket[64];		/* "private/local" */
	size_t	 limit;			/* concurrent deliveries per site */
	size_t	 proc_limit;		/* concurrent deliveries in all */
	double	 initial;		/* initial_destination_concurrency */
	size_t	 rcpt_limit;		/* recipients per request */
	size_t	 inflight;
	struct qmgr_site_list sites;
	size_t	 nsites;
	struct timespec dead_until;	/* connect failed: do not retry yet */
	char	 dead_reason[256];
	struct qmgr_conn *idle;		/* oldest first */
	size_t	 nidle, idle_cap;
};

struct qmgr_route {
	char	**domains;		/* literal virtual_mailbox_domains, mydestination */
	size_t	 ndomains;
	struct map_list *maps;		/* type:name entries, or NULL */
	struct map_list *transport;	/* transport_maps, or NULL */
};

/* A connection on public/qmgr: a wakeup or a queue CLI command. */
struct qmgr_client {
	TAILQ_ENTRY(qmgr_client) entry;
	int	 fd;
	int	 admin;			/* QMGR_PEER_* (qmgr_admin.c) */
	struct buf in;
	struct timespec deadline;	/* CLOCK_MONOTONIC */
	int	 named;			/* its wakeup named the new file */
};
TAILQ_HEAD(qmgr_client_list, qmgr_client);

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
	long long bounce_lifetime;	/* bounce_queue_lifetime */
	long long delay_warning;	/* delay_warning_time, 0 = off */
	size_t	 bounce_size_limit;
	const char *hostname;		/* myhostname */
	struct qmgr_client_list clients;	/* queue CLI connections */
	uid_t	 owner_uid;		/* our own (mail_owner) uid */
	gid_t	 postdrop_gid;		/* setgid_group, (gid_t)-1 if unknown */
	long long retry_time;		/* transport_retry_time */
	long long ipc_timeout;
	const char *relayhost;		/* smtp's site when no nexthop */
	int	 incoming_now;		/* a wakeup asked for a scan */
	/*
	 * IDs named by smtpd's wakeups, activated without a scan. One per
	 * client connection, and the loop takes them all before it reads
	 * clients again, so QMGR_CLIENTS_MAX of them always fit.
	 */
	char	 named[QMGR_CLIENTS_MAX][QUEUE_ID_MAX];
	size_t	 nnamed;
	int	 deferred_now;		/* a flush asked for a deferred scan */
	int	 flush;			/* ... ignoring retry times */
	int	 backlog;		/* a scan stopped at active_limit */
	time_t	 earliest_retry;	/* soonest known deferred mtime, or 0 */
	struct qmgr_remover *remover;	/* qmgr_remove.c, NULL before start */
};

/* qmgr_route.c */
int	qmgr_route_open(struct qmgr_route *, const char *domains, char *err,
	    size_t errlen);
void	qmgr_route_close(struct qmgr_route *);
/* qmgr_route_mydestination: add mydestination's names (local transport). */
void	qmgr_route_mydestination(struct qmgr_route *, const char *value);
/* qmgr_route_local: 1 local, 0 not, -1 lookup error. */
int	qmgr_route_local(struct qmgr_route *, const char *address);
/* qmgr_route_transport_open: transport_maps ("" = none); -1 with err. */
int	qmgr_route_transport_open(struct qmgr_route *, const char *maps,
	    char *err, size_t errlen);
/*
 * qmgr_route_resolve: transport_maps (full address, domain, .parent
 * domains), then virtual_mailbox_domains or mydestination (local), else
 * smtp. 0, or -1 on a lookup error.
 */
int	qmgr_route_resolve(struct qmgr_route *, const char *address,
	    struct qmgr_dest *);
/* qmgr_route_parse: "transport:nexthop" into dest; -1 if malformed. */
int	qmgr_route_parse(const char *value, struct qmgr_dest *);
/* qmgr_backoff: seconds until the next try of a message queued since arrival. */
long long qmgr_backoff(time_t now, time_t arrival, long long min, long long max);

/* qmgr_remove.c */
struct qmgr_remover;
void	qmgr_remove_start(struct qmgr *);
int	qmgr_remove_file(struct qmgr *, const char *dir, const char *id);

/* qmgr_conn.c */
/*
 * qmgr_conn_get: an idle connection to the transport's agents (*reused =
 * 1) or a new one; -1 (errno) when connect fails.
 */
int	qmgr_conn_get(struct qmgr_transport *, int *reused);
/* qmgr_conn_put: keep sock, which has just carried a whole reply. */
void	qmgr_conn_put(struct qmgr_transport *, int sock);
size_t	qmgr_conn_count(struct qmgr *);
size_t	qmgr_conn_pollfds(struct qmgr *, struct pollfd *, size_t room);
void	qmgr_conn_input(struct qmgr *, const struct pollfd *, size_t);
void	qmgr_conn_expire(struct qmgr *, const struct timespec *now);
/* qmgr_conn_timeout_ms: until the next expiry, -1 when none is idle. */
long long qmgr_conn_timeout_ms(struct qmgr *, const struct timespec *now);

/* qmgr_forward.c */
/*
 * qmgr_forward: queue a new message to r's forward addresses (recipient
 * idx of msg forwarded by an alias) and log "forwarded as ID"; on failure
 * r becomes 4.3.0 (logged). 0 or -1.
 */
int	qmgr_forward(struct qmgr *, struct qmgr_msg *,
	    const struct deliver_request *, struct deliver_rcpt *, size_t idx);

/* qmgr_bounce.c */
/*
 * qmgr_bounce: queue one DSN of kind (DSN_*) for the recipients of msg in
 * state (QMGR_RCPT_FAILED for bounces); 0 when queued or not wanted, -1
 * when it could not be written (the caller keeps the recipients).
 */
int	qmgr_bounce(struct qmgr *, struct qmgr_msg *, int kind);
/* qmgr_defer_reasons_save / _remove: defer/ID for the queue listing. */
void	qmgr_defer_reasons_save(struct qmgr_msg *);
void	qmgr_defer_reasons_remove(const char *id);

/* qmgr_admin.c */
void	qmgr_admin_accept(struct qmgr *, int fd);
int	qmgr_admin_pollfds(struct qmgr *, struct pollfd *, size_t);
void	qmgr_admin_input(struct qmgr *, struct pollfd *, size_t);
int	qmgr_admin_timeout_ms(struct qmgr *);
struct qmgr_msg *qmgr_msg_find(struct qmgr *, const char *id);

/* qmgr_scan.c */
void	qmgr_recover(struct qmgr *);
void	qmgr_scan_incoming(struct qmgr *, int maintenance);
/* qmgr_activate_named: the IDs wakeups named, while active/ has room. */
void	qmgr_activate_named(struct qmgr *);
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
