/*
 * qmgr_conn: connections to the delivery agents, kept for the next job.
 * An agent answers one request at a time on a connection and then waits
 * for the next (deliver/deliver.c), so a finished job gives its connection
 * back here and the next job of the transport sends on it: no connect,
 * accept or status reports to master per delivery. The newest connection
 * is used first, so a burst keeps few agents warm; one unused for
 * QMGR_CONN_IDLE seconds is closed, and the agent goes back to accept.
 * An idle connection that becomes readable was closed by its agent
 * (SIGTERM, max_idle) and is dropped. A reply that says DELIVER_REPLY_LAST
 * (the agent reached max_use) is not kept.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "core/xmalloc.h"
#include "ipc/ipc.h"
#include "qmgr/qmgr.h"

#define QMGR_CONN_IDLE		5	/* seconds an unused connection stays */
#define QMGR_SEND_TIMEOUT	10	/* a request is small; see qmgr_conn_get */

int
qmgr_conn_get(struct qmgr_transport *tp, int *reused)
{
	struct timeval tv = { QMGR_SEND_TIMEOUT, 0 };
	int sock;

	if (tp->nidle > 0) {
		*reused = 1;
		return tp->idle[--tp->nidle].sock;
	}
	*reused = 0;
	if ((sock = unix_connect(tp->socket)) == -1)
		return -1;
	/*
	 * Blocking, so a request goes out whole; a transport that will not
	 * take one within the timeout is broken. Replies are read with
	 * MSG_DONTWAIT when poll says so (qmgr_job_input).
	 */
	(void)setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return sock;
}

void
qmgr_conn_put(struct qmgr_transport *tp, int sock)
{
	if (tp->nidle == tp->idle_cap) {
		tp->idle_cap = tp->idle_cap ? tp->idle_cap * 2 : 16;
		tp->idle = xreallocarray(tp->idle, tp->idle_cap,
		    sizeof(*tp->idle));
	}
	tp->idle[tp->nidle].sock = sock;
	qmgr_clock(&tp->idle[tp->nidle++].since);
}

/* Close the idle connection at index i, keeping the rest in order. */
static void
qmgr_conn_drop(struct qmgr_transport *tp, size_t i)
{
	close(tp->idle[i].sock);
	memmove(&tp->idle[i], &tp->idle[i + 1],
	    (tp->nidle - i - 1) * sizeof(*tp->idle));
	tp->nidle--;
}

size_t
qmgr_conn_pollfds(struct qmgr *q, struct pollfd *pfd, size_t room)
{
	size_t t, i, n = 0;

	for (t = 0; t < QMGR_NTRANSPORTS; t++)
		for (i = 0; i < q->tp[t].nidle && n < room; i++) {
			pfd[n].fd = q->tp[t].idle[i].sock;
			pfd[n++].events = POLLIN;
		}
	return n;
}

size_t
qmgr_conn_count(struct qmgr *q)
{
	size_t t, n = 0;

	for (t = 0; t < QMGR_NTRANSPORTS; t++)
		n += q->tp[t].nidle;
	return n;
}

/*
 * Before any job input (which gives connections back and takes them):
 * drop the idle connections whose agent closed them or sent anything.
 */
void
qmgr_conn_input(struct qmgr *q, const struct pollfd *pfd, size_t n)
{
	struct qmgr_transport *tp;
	size_t t, i, k;

	for (k = 0; k < n; k++) {
		if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		for (t = 0; t < QMGR_NTRANSPORTS; t++) {
			tp = &q->tp[t];
			for (i = 0; i < tp->nidle; i++)
				if (tp->idle[i].sock == pfd[k].fd) {
					qmgr_conn_drop(tp, i);
					break;
				}
		}
	}
}

static long long
qmgr_conn_age_ms(const struct qmgr_conn *c, const struct timespec *now)
{
	return ((long long)now->tv_sec - c->since.tv_sec) * 1000 +
	    (now->tv_nsec - c->since.tv_nsec) / 1000000;
}

/* The oldest connection of each transport is first: expire from there. */
void
qmgr_conn_expire(struct qmgr *q, const struct timespec *now)
{
	struct qmgr_transport *tp;
	size_t t;

	for (t = 0; t < QMGR_NTRANSPORTS; t++) {
		tp = &q->tp[t];
		while (tp->nidle > 0 && qmgr_conn_age_ms(&tp->idle[0], now) >=
		    QMGR_CONN_IDLE * 1000)
			qmgr_conn_drop(tp, 0);
	}
}

long long
qmgr_conn_timeout_ms(struct qmgr *q, const struct timespec *now)
{
	long long ms = -1, t;
	size_t i;

	for (i = 0; i < QMGR_NTRANSPORTS; i++) {
		if (q->tp[i].nidle == 0)
			continue;
		t = QMGR_CONN_IDLE * 1000 - qmgr_conn_age_ms(&q->tp[i].idle[0],
		    now);
		if (t < 0)
			t = 0;
		if (ms == -1 || t < ms)
			ms = t;
	}
	return ms;
}
