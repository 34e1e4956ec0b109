/*
 * deliver: main program of the delivery agent pool. Reads requests from a
 * qmgr connection, one at a time (each with the queue file descriptor
 * attached), hands each to the transport chosen by -t, and answers one
 * status per recipient. Parameters: ipc_timeout, max_idle, max_use,
 * <transport>_destination_recipient_limit
 * (default_destination_recipient_limit), myhostname, plus the transport's.
 * Security: the transport opens what it needs, then drops privileges
 * (deliver_*_init); no request is read before that. The queue file comes
 * read-write (to mark delivered recipients DONE); the offsets in the request
 * are checked against the file before anything is written.
 */
#include <sys/time.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "deliver/deliver.h"
#include "deliver/deliver_smtp.h"
#include "ipc/ipc.h"
#include "ipc/service.h"
#include "queue/queue.h"

static void deliver_client(int, void *);
static void deliver_exit(void);
static void deliver_mark_done(int, const struct deliver_request *);

/* For deliver_exit: the cached SMTP session gets its QUIT on the way out. */
static struct deliver_ctx *deliver_exit_ctx;

/*
 * Mark the delivered (2.X.X) recipients DONE in the queue file before qmgr
 * hears of them (Postfix's agents do the same): a qmgr killed now, even
 * twice in a row, does not deliver them again. 5.X.X stay for qmgr, which
 * must queue the bounce first or a crash would lose it. The offsets are
 * checked against the file (lib/queue); a failure only costs a duplicate.
 */
static void
deliver_mark_done(int qfd, const struct deliver_request *req)
{
	struct queue_rcpt *done;
	size_t i, n = 0;

	done = xcalloc(req->nrcpts, sizeof(*done));
	for (i = 0; i < req->nrcpts; i++) {
		/* A forward is marked by qmgr once the copy is queued. */
		if (req->rcpts[i].dsn[0] != '2' || req->rcpts[i].offset < 0 ||
		    req->rcpts[i].nforward > 0)
			continue;
		done[n].address = req->rcpts[i].address;
		done[n++].offset = req->rcpts[i].offset;
	}
	if (n > 0 && queue_rcpts_done(qfd, done, n) == -1)
		log_warn("%s: mark %zu recipient%s done in the queue file",
		    req->queue_id, n, n == 1 ? "" : "s");
	free(done);
}

static void
deliver_exit(void)
{
	if (deliver_exit_ctx != NULL && deliver_exit_ctx->smtp != NULL)
		smtp_cache_expire(deliver_exit_ctx->smtp, 1);
}

/*
 * One request from qmgr: 1 when it was answered, 0 at EOF, -1 on an error
 * (logged). more: we take another on this connection; if not, the reply
 * says so (DELIVER_REPLY_LAST) and qmgr sends none.
 */
static int
deliver_request(struct deliver_ctx *ctx, int client, int more)
{
	struct deliver_request req;
	struct ipc_msg msg;
	struct timeval start;
	char err[256];
	int qfd = -1, rc;

	ipc_msg_init(&msg);
	rc = ipc_recv(client, &msg, &qfd, ctx->timeout);
	if (rc <= 0) {
		/*
		 * EOF, or a reset: qmgr closed or died with our last reply
		 * unread (a UNIX socket then reads ECONNRESET, not EOF). Either
		 * way qmgr has gone and master logs why; nothing is pending.
		 */
		if (rc == -1 && errno == ECONNRESET)
			rc = 0;
		else if (rc == -1)
			log_warn("read request from qmgr");
		goto out;
	}
	rc = -1;
	if (qfd == -1) {
		log_warnx("request from qmgr without a queue file");
		goto out;
	}
	if (deliver_request_decode(&msg, &req, ctx->max_rcpts, err,
	    sizeof(err)) == -1) {
		log_warnx("bad request from qmgr: %s", err);
		goto out;
	}
	gettimeofday(&start, NULL);
	if (!strcmp(ctx->transport, "local"))
		deliver_local(ctx, &req, qfd, &start);
	else
		deliver_smtp(ctx, &req, qfd, &start);
	deliver_mark_done(qfd, &req);
	deliver_reply_encode(&req, &msg);
	if (!more)
		ipc_put(&msg, DELIVER_REPLY_LAST, "1");
	if (ipc_send(client, &msg, -1) == -1)
		log_warn("%s: send status to qmgr", req.queue_id);
	else
		rc = 1;
	deliver_request_free(&req);
out:
	if (qfd != -1)
		close(qfd);
	ipc_msg_free(&msg);
	return rc;
}

/*
 * A qmgr connection carries one request at a time, as many as max_use
 * allows: qmgr keeps it for its next delivery (qmgr_sched.c), which saves
 * a connect, an accept and two status reports to master per delivery. The
 * next request is awaited at most max_idle seconds, as accept would be;
 * SIGTERM ends the wait.
 */
static void
deliver_client(int client, void *arg)
{
	struct deliver_ctx *ctx = arg;
	int more;

	do
		more = service_another();
	while (deliver_request(ctx, client, more) == 1 && more &&
	    service_wait_input(client, ctx->idle_timeout));
	close(client);
}

int
main(int argc, char *argv[])
{
	struct service_opts opts;
	struct deliver_ctx ctx;
	long long n;

	service_init(argc, argv, "deliver", &opts);
	if (opts.transport == NULL ||
	    (strcmp(opts.transport, "local") && strcmp(opts.transport, "smtp")))
		fatalx("usage: deliver -t local|smtp (got %s)",
		    opts.transport ? opts.transport : "no -t");
	/* Postfix names the process after the transport: postilion/local. */
	log_init(config_get(opts.cfg, "syslog_name"), opts.transport,
	    config_get(opts.cfg, "maillog_file"),
	    getenv("POSTILION_LOG_STDERR") != NULL);

	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = opts.cfg;
	ctx.transport = opts.transport;
	ctx.hostname = config_get(opts.cfg, "myhostname");
	ctx.basefd = -1;
	n = config_get_transport_int(opts.cfg, opts.transport,
	    "destination_recipient_limit");
	ctx.max_rcpts = n > 0 ? (size_t)n : 1;
	n = config_get_time(opts.cfg, "ipc_timeout");
	ctx.timeout = n > 0 && n < 86400 ? (int)n : 3600;
	n = config_get_time(opts.cfg, "max_idle");
	ctx.idle_timeout = n > 0 && n < 86400 ? (int)n : 100;

	if (!strcmp(opts.transport, "local"))
		deliver_local_init(&ctx, opts.chroot);
	else {
		deliver_smtp_init(&ctx, opts.chroot);
		deliver_exit_ctx = &ctx;
		atexit(deliver_exit);
	}
	service_serve(opts.cfg, deliver_client, &ctx);
}
