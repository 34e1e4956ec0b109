/*
 * deliver_proto: the qmgr <-> deliver conversation. qmgr connects to a
 * transport socket (private/local, private/smtp) and sends a request with
 * the open queue file attached (SCM_RIGHTS); the agent answers one status
 * per recipient, in request order. The connection then waits for qmgr's
 * next request, until either side closes it (DELIVER_REPLY_LAST). Both
 * sides log the Postfix-shaped "to=<...>, relay=..., delay=...,
 * delays=a/b/c/d, dsn=..., status=..." line through deliver_log_status()
 * so the two never drift apart.
 */
#ifndef POSTILION_DELIVER_PROTO_H
#define POSTILION_DELIVER_PROTO_H

#include <sys/types.h>
#include <sys/time.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "ipc/ipc.h"

#define DELIVER_DSN_MAX		12	/* "5.123.123" and a NUL */

struct deliver_rcpt {
	char	*address;
	char	*orcpt;			/* NULL when none */
	char	 dsn[DELIVER_DSN_MAX];	/* the reply, "" until known */
	char	*reason;		/* the reply text, NULL until known */
	off_t	 offset;		/* its queue file record, -1: unknown */
	char	**forward;		/* local: new addresses for qmgr to queue */
	size_t	 nforward;
	char	*notify;		/* DSN NOTIFY= value, NULL when none */
};

struct deliver_request {
	char	*queue_id;
	char	*sender;		/* "" for the null sender */
	struct timeval arrival;		/* accepted by smtpd */
	struct timeval active;		/* (re)entered active/ */
	off_t	 content_offset;	/* message bytes in the passed file */
	uint64_t content_len;
	char	*nexthop;		/* transport_maps nexthop, NULL: default */
	struct deliver_rcpt *rcpts;
	size_t	 nrcpts;
	char	*dsn_ret;		/* DSN RET= (FULL, HDRS), NULL: none */
	char	*dsn_envid;		/* DSN ENVID= (decoded), NULL: none */
};

#define DELIVER_NOTIFY_MAX	32	/* "SUCCESS,DELAY,FAILURE" */
#define DELIVER_RET_MAX		8
#define DELIVER_ENVID_MAX	100	/* RFC 3461 4.4 */

/*
 * deliver_request_add_rcpt: append a recipient (strings are copied), with
 * offset -1; qmgr sets the offset of its queue file record (queue_rcpt),
 * which the agent checks and marks DONE itself after a 2.X.X delivery.
 */
void	deliver_request_add_rcpt(struct deliver_request *, const char *address,
	    const char *orcpt);
/* deliver_request_add_rcpt_dsn: the same with its DSN NOTIFY (or NULL). */
void	deliver_request_add_rcpt_dsn(struct deliver_request *,
	    const char *address, const char *orcpt, const char *notify);
void	deliver_request_free(struct deliver_request *);

void	deliver_request_encode(const struct deliver_request *, struct ipc_msg *);
/*
 * deliver_request_decode: the request in m, at most max_rcpts recipients;
 * -1 with a reason in err when anything is missing or malformed.
 */
int	deliver_request_decode(const struct ipc_msg *, struct deliver_request *,
	    size_t max_rcpts, char *err, size_t errlen);

/* deliver_rcpt_set: record a status (dsn "X.Y.Z" and text) for a recipient. */
void	deliver_rcpt_set(struct deliver_rcpt *, const char *dsn,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void	deliver_reply_encode(const struct deliver_request *, struct ipc_msg *);
/*
 * A reply with this attribute is the agent's last on the connection: qmgr
 * closes it instead of keeping it for the next request.
 */
#define DELIVER_REPLY_LAST	"last"

/*
 * deliver_reply_decode: fill dsn/reason of every recipient of req from the
 * reply; -1 with a reason in err if the count or any status is malformed.
 */
int	deliver_reply_decode(const struct ipc_msg *, struct deliver_request *,
	    char *err, size_t errlen);

/*
 * Forwarding (local transport): an alias that names an address the agent
 * cannot deliver itself gives the recipient a 2.X.X status with forward
 * addresses; the agent does not log it or mark it DONE: qmgr queues a new
 * message to them (qmgr_forward.c), logs "forwarded as ID", then marks it.
 * In the reply, "forward" pairs follow the recipient's "reason".
 */
#define DELIVER_FORWARD_MAX	1000	/* addresses per recipient */
#define DELIVER_FORWARD_LEN	1024	/* bytes per address */
/* deliver_rcpt_add_forward: append address (copied, duplicates dropped). */
void	deliver_rcpt_add_forward(struct deliver_rcpt *, const char *address);
void	deliver_rcpt_forward_free(struct deliver_rcpt *);

/* deliver_dsn_valid: "[245].D{1,3}.D{1,3}". */
int	deliver_dsn_valid(const char *);

/*
 * deliver_frame_take: non-blocking reads append to in; when in holds a
 * whole ipc frame, move it into m and return 1; 0 when more bytes are
 * needed; -1 on a malformed or oversized frame.
 */
int	deliver_frame_take(struct buf *in, struct ipc_msg *m);

/* deliver_format_delay: Postfix's "2 significant digits, at most 2 decimals". */
void	deliver_format_delay(struct buf *, long long usec);

/*
 * deliver_log_status: one line per recipient, Postfix's shape:
 * "ID: to=<rcpt>, [orig_to=<o>, ]relay=R, delay=T, delays=a/b/c/d,
 * dsn=X.Y.Z, status=sent|deferred|bounced (reason)". a = before active,
 * b = in active until the agent took the request (start), c = connection
 * setup (start to conn), d = transmission (conn to now).
 */
void	deliver_log_status(const struct deliver_request *,
	    const struct deliver_rcpt *, const char *relay,
	    const struct timeval *start, const struct timeval *conn);

#endif
