/*
 * deliver_local: the local transport. Each recipient is looked up in
 * virtual_mailbox_maps (full address, lower case) for a Maildir path
 * relative to virtual_mailbox_base ("example.com/bob/"), and the message is
 * written there with Return-Path and Delivered-To prepended.
 * Parameters: virtual_mailbox_maps, virtual_mailbox_base,
 * virtual_mailbox_owner (or virtual_uid_maps/virtual_gid_maps static:N),
 * virtual_mailbox_limit, virtual_mailbox_quota, virtual_overquota_bounce,
 * hopcount_limit, header_size_limit. Security: the maps and the base
 * directory are opened as root, then the process becomes the mailbox
 * owner, chrooted into the base with -j; maildir_open() refuses symlinks
 * and "..", and a Maildir owned by another user is never written.
 */
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

#include "core/buf.h"
#include "core/log.h"
#include "core/privsep.h"
#include "core/xmalloc.h"
#include "ipc/ipc.h"
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
static void local_header(const struct deliver_request *, const char *,
    struct buf *);
static int local_by_alias(struct deliver_ctx *, struct deliver_request *,
    struct deliver_rcpt *, int);
static void local_alias(struct deliver_ctx *, struct deliver_request *,
    struct deliver_rcpt *, int, const char *, int, int);
static void local_alias_item(struct deliver_ctx *, struct deliver_request *,
    struct deliver_rcpt *, int, const char *, int, int);
static void local_include(struct deliver_ctx *, struct deliver_request *,
    struct deliver_rcpt *, int, const char *, int, int);
static void local_runner(struct deliver_ctx *, struct deliver_request *,
    struct deliver_rcpt *, int, const char *, const char *);
static void local_merge(struct deliver_rcpt *, struct deliver_rcpt *,
    size_t *);
static int local_address_ok(const char *);
static void local_drop(struct deliver_ctx *, int, const char *);
static void local_limits(struct deliver_ctx *);
static long long local_static_id(struct config *, const char *);
static int local_checks(struct deliver_ctx *, struct deliver_request *,
    struct deliver_rcpt *, int);
static int local_mailbox_checks(struct deliver_ctx *, struct deliver_request *,
    struct deliver_rcpt *, int, const char *, size_t);

/* local_static_id: N from "static:N" in name, -1 when name is empty. */
static long long
local_static_id(struct config *cfg, const char *name)
{
	const char *v = config_get(cfg, name), *errstr;
	long long id;

	if (*v == '\0')
		return -1;
	if (strncmp(v, "static:", 7) != 0)
		fatalx("%s: only static:N is supported (got \"%s\")", name, v);
	id = strtonum(v + 7, 1, UINT32_MAX - 1, &errstr);
	if (errstr != NULL)
		fatalx("%s: bad id in \"%s\" (1..4294967294)", name, v);
	return id;
}

/*
 * local_drop: become the mailbox owner: virtual_uid_maps/virtual_gid_maps
 * static:N when set (root, uid 0, is refused), else virtual_mailbox_owner.
 */
static void
local_drop(struct deliver_ctx *ctx, int chroot, const char *base)
{
	long long uid, gid;

	uid = local_static_id(ctx->cfg, "virtual_uid_maps");
	gid = local_static_id(ctx->cfg, "virtual_gid_maps");
	if (uid == -1 && gid == -1) {
		priv_drop_user(config_get(ctx->cfg, "virtual_mailbox_owner"),
		    chroot ? base : NULL);
		return;
	}
	if (uid == -1 || gid == -1)
		fatalx("virtual_uid_maps and virtual_gid_maps go together");
	priv_drop((uid_t)uid, (gid_t)gid, chroot ? base : NULL);
}

static void
local_limits(struct deliver_ctx *ctx)
{
	struct config *cfg = ctx->cfg;
	long long n;

	n = config_raw(cfg, "virtual_mailbox_limit") ?
	    config_get_int(cfg, "virtual_mailbox_limit") : 51200000;
	ctx->mailbox_limit = n > 0 ? (unsigned long long)n : 0;
	n = config_raw(cfg, "virtual_mailbox_quota") ?
	    config_get_int(cfg, "virtual_mailbox_quota") : 0;
	ctx->quota = n > 0 ? (unsigned long long)n : 0;
	ctx->overquota_bounce = config_raw(cfg, "virtual_overquota_bounce") ?
	    config_get_bool(cfg, "virtual_overquota_bounce") : 0;
	n = config_get_int(cfg, "hopcount_limit");
	ctx->hopcount_limit = n > 0 ? n : 50;
	n = config_raw(cfg, "command_time_limit") ?
	    config_get_time(cfg, "command_time_limit") : 1000;
	ctx->command_timeout = n > 0 && n < 86400 ? (int)n : 1000;
	n = config_get_int(cfg, "header_size_limit");
	ctx->header_limit = n > 0 && n < 64 * 1024 * 1024 ? (size_t)n : 102400;
}

void
deliver_local_init(struct deliver_ctx *ctx, int chroot)
{
	const char *base;
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
	local_limits(ctx);
	ctx->alias = deliver_alias_open(ctx->cfg);
	ctx->runner = deliver_command_init(ctx->cfg);
	jailed = chroot && geteuid() == 0;
	local_drop(ctx, chroot, base);
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
		/* Only a 2.X.X status forwards; qmgr logs it ("forwarded as"). */
		if (req->rcpts[i].dsn[0] != '2')
			deliver_rcpt_forward_free(&req->rcpts[i]);
		if (req->rcpts[i].nforward > 0)
			continue;
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
	if (local_checks(ctx, req, r, qfd) == -1 ||
	    local_by_alias(ctx, req, r, qfd))
		return;
	buf_init(&path);
	if (local_lookup(ctx, r, &path))
		local_store(ctx, req, r, qfd, path.data);
	buf_free(&path);
}

static void
local_store(struct deliver_ctx *ctx, struct deliver_request *req,
    struct deliver_rcpt *r, int qfd, const char *path)
{
	char name[NAME_MAX + 1];
	struct buf hdr;
	int mdfd, saved;

	if ((mdfd = maildir_open(ctx->basefd, path, 1)) == -1) {
		saved = errno;
		if (saved == ELOOP)
			log_warnx("%s: maildir %s for %s is a symbolic link: "
			    "not delivering", req->queue_id, path, r->address);
		local_fail(r, saved);
		return;
	}
	buf_init(&hdr);
	local_header(req, r->address, &hdr);
	if (local_mailbox_checks(ctx, req, r, mdfd, path, hdr.len) == 0) {
		if (maildir_deliver(mdfd, ctx->hostname, hdr.data, hdr.len,
		    qfd, req->content_offset, (size_t)req->content_len, name,
		    sizeof(name)) == -1)
			local_fail(r, errno);
		else
			deliver_rcpt_set(r, "2.0.0", "delivered to maildir");
	}
	buf_free(&hdr);
	close(mdfd);
}

/*
 * local_checks: mail loop (Delivered-To: copies over hopcount_limit) and
 * virtual_mailbox_limit; -1 with the status set when delivery must stop.
 */
static int
local_checks(struct deliver_ctx *ctx, struct deliver_request *req,
    struct deliver_rcpt *r, int qfd)
{
	long long loops;

	loops = deliver_local_loop(qfd, req->content_offset, req->content_len,
	    ctx->header_limit, r->address);
	if (loops == -1) {
		local_fail(r, errno);
		return -1;
	}
	if (loops > ctx->hopcount_limit) {
		deliver_rcpt_set(r, "5.4.6", "mail forwarding loop for %s",
		    r->address);
		return -1;
	}
	if (ctx->mailbox_limit > 0 && req->content_len > ctx->mailbox_limit) {
		deliver_rcpt_set(r, "5.2.2", "message size %llu exceeds "
		    "virtual_mailbox_limit %llu",
		    (unsigned long long)req->content_len, ctx->mailbox_limit);
		return -1;
	}
	return 0;
}

/*
 * local_mailbox_checks: the open Maildir must belong to us, and the
 * message must fit under virtual_mailbox_quota (sum of new/ and cur/).
 */
static int
local_mailbox_checks(struct deliver_ctx *ctx, struct deliver_request *req,
    struct deliver_rcpt *r, int mdfd, const char *path, size_t hdrlen)
{
	struct maildir_entry *e;
	struct stat st;
	unsigned long long used = 0;
	size_t n, i;

	if (fstat(mdfd, &st) == -1) {
		local_fail(r, errno);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		log_warnx("%s: maildir %s for %s is owned by uid %lu, not %lu: "
		    "not delivering", req->queue_id, path, r->address,
		    (unsigned long)st.st_uid, (unsigned long)geteuid());
		deliver_rcpt_set(r, "4.2.0", "mailbox %s has the wrong owner",
		    path);
		return -1;
	}
	if (ctx->quota == 0)
		return 0;
	if (maildir_scan(mdfd, &e, &n) == -1) {
		local_fail(r, errno);
		return -1;
	}
	for (i = 0; i < n; i++)
		used += (unsigned long long)e[i].size;
	maildir_entries_free(e, n);
	if (used + hdrlen + req->content_len <= ctx->quota)
		return 0;
	deliver_rcpt_set(r, ctx->overquota_bounce ? "5.2.2" : "4.2.2",
	    "mailbox %s is full: %llu of %llu bytes used", r->address, used,
	    ctx->quota);
	return -1;
}

/* Return-Path and Delivered-To, control characters replaced. */
static void
local_header(const struct deliver_request *req, const char *address,
    struct buf *hdr)
{
	char *sender, *p;

	sender = xstrdup(req->sender);
	for (p = sender; *p; p++)	/* never split the header line */
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	buf_printf(hdr, "Return-Path: <%s>\nDelivered-To: %s\n", sender,
	    address);
	free(sender);
}

/* local_by_alias: 1 when alias_maps decided r (status set), else 0. */
static int
local_by_alias(struct deliver_ctx *ctx, struct deliver_request *req,
    struct deliver_rcpt *r, int qfd)
{
	struct buf value;
	int rc, trusted = 0;

	if (!deliver_alias_is_local(ctx->alias, r->address))
		return 0;
	buf_init(&value);
	rc = deliver_alias_lookup(ctx->alias, r->address, &value, &trusted);
	if (rc == -1)
		deliver_rcpt_set(r, "4.3.0", "alias database unavailable");
	else if (rc == 1)
		local_alias(ctx, req, r, qfd, value.data, trusted, 0);
	buf_free(&value);
	return rc != 0;
}

/*
 * local_merge: fold one destination's status into the recipient's: any
 * deferral defers the whole recipient, else any bounce bounces it.
 */
static void
local_merge(struct deliver_rcpt *r, struct deliver_rcpt *sub, size_t *count)
{
	static const char rank[] = "254";	/* worse to the right */
	const char *old = r->dsn[0] ? strchr(rank, r->dsn[0]) : rank;
	const char *new = strchr(rank, sub->dsn[0]);
	size_t i;

	if (sub->dsn[0] == '\0')
		return;
	if ((*count)++ == 0 || (new && old && new > old))
		deliver_rcpt_set(r, sub->dsn, "%s", sub->reason ? sub->reason :
		    "");
	for (i = 0; i < sub->nforward; i++)
		deliver_rcpt_add_forward(r, sub->forward[i]);
	deliver_rcpt_forward_free(sub);
	free(sub->reason);
	sub->reason = NULL;
	sub->dsn[0] = '\0';
}

#define LOCAL_ALIAS_DEPTH	10
#define LOCAL_ALIAS_ITEMS	1000

static void
local_alias(struct deliver_ctx *ctx, struct deliver_request *req,
    struct deliver_rcpt *r, int qfd, const char *value, int trusted,
    int depth)
{
	struct deliver_rcpt sub;
	char **items;
	size_t n, i, count = 0;

	items = deliver_alias_items(value, &n);
	if (n == 0 || n > LOCAL_ALIAS_ITEMS) {
		deliver_rcpt_set(r, "4.3.5", "alias %s expands to %zu "
		    "destinations (1..%d)", r->address, n, LOCAL_ALIAS_ITEMS);
		config_split_free(items);
		return;
	}
	for (i = 0; i < n; i++) {
		memset(&sub, 0, sizeof(sub));
		sub.address = r->address;
		local_alias_item(ctx, req, &sub, qfd, items[i], trusted, depth);
		local_merge(r, &sub, &count);
	}
	if (count > 1 && r->dsn[0] == '2')
		deliver_rcpt_set(r, "2.0.0", "delivered to %zu alias "
		    "destinations", count);
	config_split_free(items);
}

static void
local_alias_item(struct deliver_ctx *ctx, struct deliver_request *req,
    struct deliver_rcpt *sub, int qfd, const char *item, int trusted,
    int depth)
{
	struct deliver_rcpt target;
	struct buf value, path;
	char *addr;
	int rc, sub_trusted = 0;

	if (item[0] == '|' || item[0] == '/') {
		if (!trusted)
			deliver_rcpt_set(sub, "5.7.1", "mail to %s is restricted "
			    "(alias file not owned by root)", item[0] == '|' ?
			    "command" : "file");
		else
			local_runner(ctx, req, sub, qfd, item[0] == '|' ?
			    "command" : "file", item[0] == '|' ? item + 1 : item);
		return;
	}
	if (!strncasecmp(item, ":include:", 9)) {
		local_include(ctx, req, sub, qfd, item + 9, trusted, depth);
		return;
	}
	addr = strchr(item, '@') ? xstrdup(item) :
	    xasprintf("%s@%s", item, ctx->hostname);
	buf_init(&value);
	buf_init(&path);
	if (!local_address_ok(addr))
		deliver_rcpt_set(sub, "5.1.3", "bad alias destination syntax");
	else if (deliver_alias_is_local(ctx->alias, addr) &&
	    depth < LOCAL_ALIAS_DEPTH && strcasecmp(addr, sub->address) &&
	    (rc = deliver_alias_lookup(ctx->alias, addr, &value,
	    &sub_trusted)) != 0) {
		if (rc == -1)
			deliver_rcpt_set(sub, "4.3.0", "alias database "
			    "unavailable");
		else	/* a nested alias keeps the stricter trust */
			local_alias(ctx, req, sub, qfd, value.data,
			    trusted && sub_trusted, depth + 1);
	} else {
		memset(&target, 0, sizeof(target));
		target.address = addr;
		if (local_lookup(ctx, &target, &path))
			local_store(ctx, req, &target, qfd, path.data);
		else if (!deliver_alias_is_local(ctx->alias, addr) &&
		    !strcmp(target.dsn, "5.1.1")) {
			/* Not ours: qmgr queues a copy (we are chrooted). */
			deliver_rcpt_set(&target, "2.0.0", "forwarded");
			deliver_rcpt_add_forward(sub, addr);
		}
		deliver_rcpt_set(sub, target.dsn, "%s", target.reason ?
		    target.reason : "");
		free(target.reason);
	}
	buf_free(&path);
	buf_free(&value);
	free(addr);
}

/*
 * local_include: ":include:/path": the file (read by the runner: we are
 * chrooted) lists destinations one or more per line, # comments allowed.
 * Commands and files in it need a root-owned file, not group or world
 * writable, reached from a trusted alias.
 */
static void
local_include(struct deliver_ctx *ctx, struct deliver_request *req,
    struct deliver_rcpt *sub, int qfd, const char *path, int trusted,
    int depth)
{
	struct ipc_msg m, reply;
	struct buf list;
	const char *text, *p, *eol;
	long long uid, mode;

	if (*path != '/' || depth >= LOCAL_ALIAS_DEPTH) {
		deliver_rcpt_set(sub, "4.3.5", "bad or too deeply nested "
		    ":include: %s", path);
		return;
	}
	ipc_msg_init(&m);
	ipc_msg_init(&reply);
	buf_init(&list);
	ipc_put(&m, "kind", "include");
	ipc_put(&m, "path", path);
	if (deliver_command_call(ctx->runner, &m, -1, 30, &reply) == -1)
		deliver_rcpt_set(sub, "4.3.0", "command runner unavailable");
	else if (strcmp(ipc_get(&reply, "dsn"), "2.0.0") != 0)
		deliver_rcpt_set(sub, ipc_get(&reply, "dsn"), "%s",
		    ipc_get(&reply, "text") ? ipc_get(&reply, "text") : "");
	else {
		text = ipc_get(&reply, "text");
		for (p = text ? text : ""; *p; p = *eol ? eol + 1 : eol) {
			eol = strchrnul(p, '\n');
			if (*p == '#')
				continue;
			buf_append(&list, p, (size_t)(eol - p));
			buf_putc(&list, ',');
		}
		uid = ipc_get_int(&reply, "uid");
		mode = ipc_get_int(&reply, "mode");
		local_alias(ctx, req, sub, qfd, list.data ? list.data : "",
		    trusted && uid == 0 && (mode & 022) == 0, depth + 1);
	}
	buf_free(&list);
	ipc_msg_free(&reply);
	ipc_msg_free(&m);
}

/* local_runner: a command or file destination through the runner. */
static void
local_runner(struct deliver_ctx *ctx, struct deliver_request *req,
    struct deliver_rcpt *sub, int qfd, const char *kind, const char *what)
{
	struct ipc_msg m;
	struct buf hdr, text;
	char dsn[DELIVER_DSN_MAX], **argv;
	size_t argc, i;

	ipc_msg_init(&m);
	buf_init(&hdr);
	buf_init(&text);
	local_header(req, sub->address, &hdr);
	ipc_put(&m, "kind", kind);
	if (!strcmp(kind, "command")) {
		argv = config_split_sep(what, " \t", &argc);
		for (i = 0; i < argc; i++)
			ipc_put(&m, "arg", argv[i]);
		config_split_free(argv);
	} else
		ipc_put(&m, "path", what);
	ipc_put(&m, "sender", req->sender);
	ipc_put(&m, "recipient", sub->address);
	ipc_put(&m, "header", hdr.data);
	ipc_put_int(&m, "offset", (long long)req->content_offset);
	ipc_put_int(&m, "len", (long long)req->content_len);
	ipc_put_int(&m, "timeout", ctx->command_timeout);
	deliver_command_run(ctx->runner, &m, qfd, ctx->command_timeout, dsn,
	    sizeof(dsn), &text);
	deliver_rcpt_set(sub, dsn, "%s", text.data ? text.data : "");
	buf_free(&text);
	buf_free(&hdr);
	ipc_msg_free(&m);
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
