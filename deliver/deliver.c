/*
 * deliver: main program of the delivery agent pool. Reads one request per
 * qmgr connection (with the queue file descriptor attached), hands it to
 * the transport chosen by -t, and answers one status per recipient.
 * Parameters: ipc_timeout, <transport>_destination_recipient_limit
 * (default_destination_recipient_limit), myhostname, plus the transport's.
 * Security: the transport opens what it needs, then drops privileges
 * (deliver_*_init); no request is read before that.
 */
#include <sys/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "deliver/deliver.h"
#include "ipc/ipc.h"
#include "ipc/service.h"

static void deliver_client(int, void *);
static long long deliver_transport_param(struct config *, const char *,
    const char *);

/* <transport>_NAME when set, else default_NAME (Postfix's per-transport rule). */
static long long
deliver_transport_param(struct config *cfg, const char *transport,
    const char *suffix)
{
	char name[128];

	snprintf(name, sizeof(name), "%s_%s", transport, suffix);
	if (config_raw(cfg, name) == NULL)
		snprintf(name, sizeof(name), "default_%s", suffix);
	return config_get_int(cfg, name);
}

static void
deliver_client(int client, void *arg)
{
	struct deliver_ctx *ctx = arg;
	struct deliver_request req;
	struct ipc_msg msg;
	struct timeval start;
	char err[256];
	int qfd = -1, rc;

	ipc_msg_init(&msg);
	rc = ipc_recv(client, &msg, &qfd, ctx->timeout);
	if (rc <= 0) {
		if (rc == -1)
			log_warn("read request from qmgr");
		goto out;
	}
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
	deliver_reply_encode(&req, &msg);
	if (ipc_send(client, &msg, -1) == -1)
		log_warn("%s: send status to qmgr", req.queue_id);
	deliver_request_free(&req);
out:
	if (qfd != -1)
		close(qfd);
	ipc_msg_free(&msg);
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
	n = deliver_transport_param(opts.cfg, opts.transport,
	    "destination_recipient_limit");
	ctx.max_rcpts = n > 0 ? (size_t)n : 1;
	n = config_get_time(opts.cfg, "ipc_timeout");
	ctx.timeout = n > 0 && n < 86400 ? (int)n : 3600;

	if (!strcmp(opts.transport, "local"))
		deliver_local_init(&ctx, opts.chroot);
	else
		deliver_smtp_init(&ctx, opts.chroot);
	service_serve(opts.cfg, deliver_client, &ctx);
}
