/*
 * deliver_local: the local transport. Each recipient is looked up in
 * virtual_mailbox_maps (full address, lower case) for a Maildir path
 * relative to virtual_mailbox_base ("example.com/bob/"), and the message is
 * written there with Return-Path and Delivered-To prepended.
 * Parameters: virtual_mailbox_maps, virtual_mailbox_base,
 * virtual_mailbox_owner. Security: the maps and the base directory are
 * opened as root, then the process becomes the mailbox owner, chrooted
 * into the base with -j; maildir_open() refuses symlinks and "..".
 */
#include <sys/time.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/privsep.h"
#include "core/xmalloc.h"
#include "deliver/deliver.h"
#include "mailbox/maildir.h"
#include "map/map.h"

static void local_rcpt(struct deliver_ctx *, struct deliver_request *,
    struct deliver_rcpt *, int);
static int local_lookup(struct deliver_ctx *, struct deliver_rcpt *,
    struct buf *);
static void local_store(struct deliver_ctx *, struct deliver_request *,
    struct deliver_rcpt *, int, const char *);
static void local_fail(struct deliver_rcpt *, int);
static int local_address_ok(const char *);

void
deliver_local_init(struct deliver_ctx *ctx, int chroot)
{
	const char *base, *owner;
	char err[512];
	int jailed;

	ctx->mailbox_maps = map_list_open(config_get(ctx->cfg,
	    "virtual_mailbox_maps"), err, sizeof(err));
	if (ctx->mailbox_maps == NULL)
		fatalx("virtual_mailbox_maps: %s", err);
	base = config_get(ctx->cfg, "virtual_mailbox_base");
	if (*base != '/')
		fatalx("virtual_mailbox_base must be an absolute path: \"%s\"",
		    base);
	ctx->basefd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ctx->basefd == -1)
		fatal("open virtual_mailbox_base %s", base);
	owner = config_get(ctx->cfg, "virtual_mailbox_owner");
	jailed = chroot && geteuid() == 0;
	priv_drop_user(owner, chroot ? base : NULL);
	if (jailed) {
		/* Inside the jail the base is "/": hold nothing from outside. */
		close(ctx->basefd);
		ctx->basefd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (ctx->basefd == -1)
			fatal("open / in %s", base);
	}
}

void
deliver_local(struct deliver_ctx *ctx, struct deliver_request *req, int qfd,
    const struct timeval *start)
{
	size_t i;

	for (i = 0; i < req->nrcpts; i++) {
		local_rcpt(ctx, req, &req->rcpts[i], qfd);
		/* Local delivery has no connection setup: c is always 0. */
		deliver_log_status(req, &req->rcpts[i], "local", start, start);
	}
}

/* No control characters: the address goes into a header line. */
static int
local_address_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* local_lookup: 1 with the Maildir path in path, 0 if done (status set). */
static int
local_lookup(struct deliver_ctx *ctx, struct deliver_rcpt *r, struct buf *path)
{
	char *key, *p;
	int rc;

	key = xstrdup(r->address);
	for (p = key; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p += 'a' - 'A';
	rc = map_list_lookup(ctx->mailbox_maps, key, path);
	free(key);
	if (rc == -1) {
		deliver_rcpt_set(r, "4.3.0", "virtual_mailbox_maps lookup failure");
		return 0;
	}
	if (rc == 0) {
		deliver_rcpt_set(r, "5.1.1", "unknown user: \"%s\"", r->address);
		return 0;
	}
	if (path->len == 0 || path->data[path->len - 1] != '/') {
		/* Only Maildir is supported; an mbox path is a config error. */
		deliver_rcpt_set(r, "4.3.5", "mailbox \"%s\" is not a Maildir "
		    "path (must end in /)", path->data);
		return 0;
	}
	return 1;
}

static void
local_rcpt(struct deliver_ctx *ctx, struct deliver_request *req,
    struct deliver_rcpt *r, int qfd)
{
	struct buf path;

	if (!local_address_ok(r->address)) {
		deliver_rcpt_set(r, "5.1.3", "bad address syntax");
		return;
	}
	buf_init(&path);
	if (local_lookup(ctx, r, &path))
		local_store(ctx, req, r, qfd, path.data);
	buf_free(&path);
}

static void
local_store(struct deliver_ctx *ctx, struct deliver_request *req,
    struct deliver_rcpt *r, int qfd, const char *path)
{
	char name[NAME_MAX + 1], *sender, *p;
	struct buf hdr;
	int mdfd;

	if ((mdfd = maildir_open(ctx->basefd, path, 1)) == -1) {
		local_fail(r, errno);
		return;
	}
	sender = xstrdup(req->sender);
	for (p = sender; *p; p++)	/* never split the header line */
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	buf_init(&hdr);
	buf_printf(&hdr, "Return-Path: <%s>\nDelivered-To: %s\n", sender,
	    r->address);
	free(sender);
	if (maildir_deliver(mdfd, ctx->hostname, hdr.data, hdr.len, qfd,
	    req->content_offset, (size_t)req->content_len, name,
	    sizeof(name)) == -1)
		local_fail(r, errno);
	else
		deliver_rcpt_set(r, "2.0.0", "delivered to maildir");
	buf_free(&hdr);
	close(mdfd);
}

/* A system error never bounces: the message waits in the queue. */
static void
local_fail(struct deliver_rcpt *r, int err)
{
	const char *dsn;

	switch (err) {
	case EDQUOT:
	case EFBIG:
		dsn = "4.2.2";		/* mailbox full */
		break;
	case ENOSPC:
		dsn = "4.3.1";		/* mail system full */
		break;
	case EINVAL:
	case ENAMETOOLONG:
		dsn = "4.3.5";		/* bad mailbox path in the map */
		break;
	default:
		dsn = "4.3.0";
		break;
	}
	deliver_rcpt_set(r, dsn, "maildir delivery failed: %s", strerror(err));
}
