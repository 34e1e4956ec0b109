/*
 * deliver_smtp: the smtp transport (not implemented yet). Every recipient
 * is deferred with 4.3.0 so nothing is lost while the client is written.
 * Parameters: mail_owner, queue_directory. Security: runs as mail_owner,
 * chrooted into the queue directory with -j, like Postfix's smtp(8).
 */
#include <sys/time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/privsep.h"
#include "deliver/deliver.h"

void
deliver_smtp_init(struct deliver_ctx *ctx, int chroot)
{
	const char *qdir = config_get(ctx->cfg, "queue_directory");

	if (!chroot && chdir(qdir) == -1)
		fatal("chdir %s", qdir);
	priv_drop_user(config_get(ctx->cfg, "mail_owner"),
	    chroot ? qdir : NULL);
}

void
deliver_smtp(struct deliver_ctx *ctx, struct deliver_request *req, int qfd,
    const struct timeval *start)
{
	size_t i;

	(void)ctx;
	(void)qfd;
	for (i = 0; i < req->nrcpts; i++) {
		deliver_rcpt_set(&req->rcpts[i], "4.3.0",
		    "smtp transport not yet implemented");
		deliver_log_status(req, &req->rcpts[i], "none", start, start);
	}
}
