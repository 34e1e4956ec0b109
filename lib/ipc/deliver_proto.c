/*
 * deliver_proto: request/reply codec between qmgr and the delivery agents,
 * and the per-recipient delivery log line both of them write.
 * Security: the request comes from qmgr over a private socket, but it is
 * still checked field by field; a bad one is refused, never guessed at.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "ipc/deliver_proto.h"
#include "queue/queue.h"

#define MILLION		1000000LL

static void deliver_put_time(struct ipc_msg *, const char *,
    const struct timeval *);
static int deliver_get_time(const char *, struct timeval *);
static int deliver_frame_valid(const char *, size_t);
static long long deliver_tv_diff(const struct timeval *,
    const struct timeval *);
static const char *deliver_status_word(const char *);
static int deliver_forward_valid(const char *);
static int deliver_dsn_opt(const struct ipc_msg *, const char *, size_t,
    char **);
static long long deliver_get_offset(const char *);

void
deliver_request_add_rcpt(struct deliver_request *req, const char *address,
    const char *orcpt)
{
	struct deliver_rcpt *r;

	req->rcpts = xreallocarray(req->rcpts, req->nrcpts + 1,
	    sizeof(*req->rcpts));
	r = &req->rcpts[req->nrcpts++];
	memset(r, 0, sizeof(*r));
	r->address = xstrdup(address);
	r->orcpt = orcpt ? xstrdup(orcpt) : NULL;
	r->offset = -1;
}

void
deliver_request_add_rcpt_dsn(struct deliver_request *req,
    const char *address, const char *orcpt, const char *notify)
{
	deliver_request_add_rcpt(req, address, orcpt);
	if (notify != NULL)
		req->rcpts[req->nrcpts - 1].notify = xstrdup(notify);
}

void
deliver_request_free(struct deliver_request *req)
{
	size_t i;

	for (i = 0; i < req->nrcpts; i++) {
		free(req->rcpts[i].address);
		free(req->rcpts[i].orcpt);
		free(req->rcpts[i].reason);
		free(req->rcpts[i].notify);
		deliver_rcpt_forward_free(&req->rcpts[i]);
	}
	free(req->rcpts);
	free(req->dsn_ret);
	free(req->dsn_envid);
	free(req->queue_id);
	free(req->sender);
	free(req->nexthop);
	memset(req, 0, sizeof(*req));
}

static void
deliver_put_time(struct ipc_msg *m, const char *name, const struct timeval *tv)
{
	char tmp[64];

	snprintf(tmp, sizeof(tmp), "%lld.%06ld", (long long)tv->tv_sec,
	    (long)tv->tv_usec);
	ipc_put(m, name, tmp);
}

/* "SEC.USEC" with exactly six digits after the dot. */
static int
deliver_get_time(const char *s, struct timeval *tv)
{
	char sec[32];
	const char *dot, *errstr;
	size_t i;
	long long n;

	if (s == NULL || (dot = strchr(s, '.')) == NULL ||
	    (size_t)(dot - s) >= sizeof(sec) || strlen(dot + 1) != 6)
		return -1;
	memcpy(sec, s, (size_t)(dot - s));
	sec[dot - s] = '\0';
	n = strtonum(sec, 0, INT64_MAX / MILLION, &errstr);
	if (errstr != NULL)
		return -1;
	tv->tv_sec = (time_t)n;
	tv->tv_usec = 0;
	for (i = 1; i <= 6; i++) {
		if (!isdigit((unsigned char)dot[i]))
			return -1;
		tv->tv_usec = tv->tv_usec * 10 + (dot[i] - '0');
	}
	return 0;
}

/* A record offset: decimal, within a queue file's reach; -1 if not. */
static long long
deliver_get_offset(const char *s)
{
	const char *errstr;
	long long n;

	n = strtonum(s, QREC_HDR_SIZE, INT64_MAX, &errstr);
	return errstr != NULL ? -1 : n;
}

void
deliver_request_encode(const struct deliver_request *req, struct ipc_msg *m)
{
	size_t i;

	ipc_msg_reset(m);
	ipc_put(m, "queue_id", req->queue_id);
	ipc_put(m, "sender", req->sender);
	deliver_put_time(m, "arrival_time", &req->arrival);
	deliver_put_time(m, "active_time", &req->active);
	ipc_put_int(m, "content_offset", (long long)req->content_offset);
	ipc_put_int(m, "content_len", (long long)req->content_len);
	if (req->nexthop != NULL)
		ipc_put(m, "nexthop", req->nexthop);
	if (req->dsn_ret != NULL)
		ipc_put(m, "dsn_ret", req->dsn_ret);
	if (req->dsn_envid != NULL)
		ipc_put(m, "dsn_envid", req->dsn_envid);
	ipc_put_int(m, "nrcpt", (long long)req->nrcpts);
	for (i = 0; i < req->nrcpts; i++) {
		if (req->rcpts[i].notify != NULL)
			ipc_put(m, "notify", req->rcpts[i].notify);
		if (req->rcpts[i].orcpt != NULL)
			ipc_put(m, "orcpt", req->rcpts[i].orcpt);
		if (req->rcpts[i].offset >= 0)
			ipc_put_int(m, "offset",
			    (long long)req->rcpts[i].offset);
		ipc_put(m, "rcpt", req->rcpts[i].address);
	}
}

/* An optional DSN field: absent is fine, empty or longer than max is not. */
static int
deliver_dsn_opt(const struct ipc_msg *m, const char *name, size_t max,
    char **out)
{
	const char *value = ipc_get(m, name);

	if (value == NULL)
		return 0;
	if (*value == '\0' || strlen(value) > max)
		return -1;
	*out = xstrdup(value);
	return 0;
}

int
deliver_request_decode(const struct ipc_msg *m, struct deliver_request *req,
    size_t max_rcpts, char *err, size_t errlen)
{
	const char *name, *value, *orcpt = NULL, *notify = NULL;
	long long nrcpt, off, len, roff = -1;
	size_t pos = 0;

	memset(req, 0, sizeof(*req));
	name = ipc_get(m, "queue_id");
	if (name == NULL || !queue_id_valid(name)) {
		snprintf(err, errlen, "missing or bad queue_id");
		return -1;
	}
	if ((value = ipc_get(m, "sender")) == NULL) {
		snprintf(err, errlen, "missing sender");
		return -1;
	}
	if (deliver_get_time(ipc_get(m, "arrival_time"), &req->arrival) == -1 ||
	    deliver_get_time(ipc_get(m, "active_time"), &req->active) == -1) {
		snprintf(err, errlen, "missing or bad arrival/active time");
		return -1;
	}
	off = ipc_get_int(m, "content_offset");
	len = ipc_get_int(m, "content_len");
	nrcpt = ipc_get_int(m, "nrcpt");
	if (off < 0 || len < 0 || (unsigned long long)len > SIZE_MAX) {
		snprintf(err, errlen, "missing or bad content offset/length");
		return -1;
	}
	if (nrcpt < 1 || (unsigned long long)nrcpt > max_rcpts) {
		snprintf(err, errlen, "bad recipient count (1..%zu)", max_rcpts);
		return -1;
	}
	req->queue_id = xstrdup(name);
	req->sender = xstrdup(value);
	req->content_offset = (off_t)off;
	req->content_len = (uint64_t)len;
	if ((value = ipc_get(m, "nexthop")) != NULL && *value != '\0')
		req->nexthop = xstrdup(value);
	if (deliver_dsn_opt(m, "dsn_ret", DELIVER_RET_MAX, &req->dsn_ret) ==
	    -1 || deliver_dsn_opt(m, "dsn_envid", DELIVER_ENVID_MAX,
	    &req->dsn_envid) == -1) {
		snprintf(err, errlen, "bad dsn_ret or dsn_envid");
		deliver_request_free(req);
		return -1;
	}
	while (ipc_next(m, &pos, &name, &value)) {
		if (!strcmp(name, "orcpt")) {
			orcpt = value;
		} else if (!strcmp(name, "offset")) {
			if ((roff = deliver_get_offset(value)) == -1) {
				snprintf(err, errlen, "bad recipient offset");
				deliver_request_free(req);
				return -1;
			}
		} else if (!strcmp(name, "notify")) {
			if (*value == '\0' || strlen(value) > DELIVER_NOTIFY_MAX)
				goto bad_rcpt;
			notify = value;
		} else if (!strcmp(name, "rcpt")) {
			if (req->nrcpts == (size_t)nrcpt || *value == '\0')
				goto bad_rcpt;
			deliver_request_add_rcpt_dsn(req, value, orcpt, notify);
			req->rcpts[req->nrcpts - 1].offset = (off_t)roff;
			orcpt = notify = NULL;
			roff = -1;
		}
	}
	if (req->nrcpts != (size_t)nrcpt)
		goto bad_rcpt;
	return 0;
bad_rcpt:
	snprintf(err, errlen, "recipient list does not match nrcpt=%lld", nrcpt);
	deliver_request_free(req);
	return -1;
}

int
deliver_dsn_valid(const char *dsn)
{
	const char *p = dsn;
	int part, digits;

	if (*p != '2' && *p != '4' && *p != '5')
		return 0;
	p++;
	for (part = 0; part < 2; part++) {
		if (*p++ != '.')
			return 0;
		for (digits = 0; isdigit((unsigned char)*p); p++)
			digits++;
		if (digits < 1 || digits > 3)
			return 0;
	}
	return *p == '\0';
}

void
deliver_rcpt_set(struct deliver_rcpt *r, const char *dsn, const char *fmt, ...)
{
	va_list ap;
	char *text;

	if (!deliver_dsn_valid(dsn))
		fatalx("deliver_rcpt_set: bad dsn %s", dsn);
	strlcpy(r->dsn, dsn, sizeof(r->dsn));
	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) == -1)
		fatalx("deliver_rcpt_set: out of memory");
	va_end(ap);
	free(r->reason);
	r->reason = text;
}

void
deliver_rcpt_add_forward(struct deliver_rcpt *r, const char *address)
{
	size_t i;

	for (i = 0; i < r->nforward; i++)
		if (!strcasecmp(r->forward[i], address))
			return;
	r->forward = xreallocarray(r->forward, r->nforward + 1,
	    sizeof(*r->forward));
	r->forward[r->nforward++] = xstrdup(address);
}

void
deliver_rcpt_forward_free(struct deliver_rcpt *r)
{
	size_t i;

	for (i = 0; i < r->nforward; i++)
		free(r->forward[i]);
	free(r->forward);
	r->forward = NULL;
	r->nforward = 0;
}

/* A forward address goes into a queue file and a header: no controls. */
static int
deliver_forward_valid(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len >= DELIVER_FORWARD_LEN || *s == '|' || *s == '/')
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x21 || *s == 0x7f || *s == '<' ||
		    *s == '>')
			return 0;
	return 1;
}

void
deliver_reply_encode(const struct deliver_request *req, struct ipc_msg *m)
{
	size_t i, j;

	ipc_msg_reset(m);
	ipc_put_int(m, "nrcpt", (long long)req->nrcpts);
	for (i = 0; i < req->nrcpts; i++) {
		ipc_put(m, "dsn", req->rcpts[i].dsn);
		ipc_put(m, "reason", req->rcpts[i].reason ?
		    req->rcpts[i].reason : "");
		for (j = 0; j < req->rcpts[i].nforward; j++)
			ipc_put(m, "forward", req->rcpts[i].forward[j]);
	}
}

int
deliver_reply_decode(const struct ipc_msg *m, struct deliver_request *req,
    char *err, size_t errlen)
{
	const char *name, *value;
	size_t pos = 0, ndsn = 0, nreason = 0;

	if (ipc_get_int(m, "nrcpt") != (long long)req->nrcpts) {
		snprintf(err, errlen, "reply has the wrong recipient count");
		return -1;
	}
	while (ipc_next(m, &pos, &name, &value)) {
		if (!strcmp(name, "dsn")) {
			if (ndsn == req->nrcpts || ndsn != nreason ||
			    !deliver_dsn_valid(value))
				goto bad;
			strlcpy(req->rcpts[ndsn++].dsn, value,
			    sizeof(req->rcpts[0].dsn));
		} else if (!strcmp(name, "reason")) {
			if (nreason + 1 != ndsn)
				goto bad;
			free(req->rcpts[nreason].reason);
			req->rcpts[nreason++].reason = xstrdup(value);
		} else if (!strcmp(name, "forward")) {
			/* Belongs to the last recipient with a reason. */
			if (nreason == 0 || nreason != ndsn ||
			    req->rcpts[nreason - 1].dsn[0] != '2' ||
			    req->rcpts[nreason - 1].nforward >=
			    DELIVER_FORWARD_MAX || !deliver_forward_valid(value))
				goto bad;
			deliver_rcpt_add_forward(&req->rcpts[nreason - 1],
			    value);
		}
	}
	if (ndsn == req->nrcpts && nreason == req->nrcpts)
		return 0;
bad:
	snprintf(err, errlen, "malformed status list in reply");
	return -1;
}

static int
deliver_frame_valid(const char *body, size_t len)
{
	size_t i, strings = 0;

	if (len == 0)
		return 1;
	if (body[len - 1] != '\0')
		return 0;
	for (i = 0; i < len; i++)
		if (body[i] == '\0')
			strings++;
	return strings % 2 == 0;
}

int
deliver_frame_take(struct buf *in, struct ipc_msg *m)
{
	const unsigned char *h = (const unsigned char *)in->data;
	uint32_t len;

	if (in->len < 4)
		return 0;
	len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
	    (uint32_t)h[2] << 8 | h[3];
	if (len > IPC_FRAME_MAX)
		return -1;
	if (in->len - 4 < len)
		return 0;
	if (!deliver_frame_valid(in->data + 4, len))
		return -1;
	ipc_msg_reset(m);
	buf_append(&m->body, in->data + 4, len);
	buf_consume(in, 4 + (size_t)len);
	return 1;
}

/*
 * Postfix's delay format: two significant digits but never more than two
 * decimals, rounded half up, trailing zeros dropped ("0.21", "1.4", "12",
 * "0.01", "0"); at 100 s and above whole seconds.
 */
void
deliver_format_delay(struct buf *b, long long usec)
{
	long long sec, frac, res, n, digit;

	if (usec < 0)
		usec = 0;
	sec = usec / MILLION;
	frac = usec % MILLION;
	if (sec >= 10)
		res = MILLION;		/* 2 significant digits used up */
	else if (sec >= 1)
		res = MILLION / 10;
	else
		res = MILLION / 100;	/* at most 2 decimals */
	if (res == MILLION)
		frac = frac >= MILLION / 2 ? MILLION : 0;
	else
		frac += res / 2;
	if (frac >= MILLION) {
		sec++;
		frac -= MILLION;
	}
	buf_printf(b, "%lld", sec);
	if (frac < res)
		return;
	buf_putc(b, '.');
	for (n = MILLION / 10; frac >= res && n > 0; n /= 10) {
		digit = frac / n;
		buf_putc(b, (int)('0' + digit));
		frac %= n;
	}
}

static long long
deliver_tv_diff(const struct timeval *later, const struct timeval *earlier)
{
	long long d;

	d = ((long long)later->tv_sec - earlier->tv_sec) * MILLION +
	    (later->tv_usec - earlier->tv_usec);
	return d < 0 ? 0 : d;
}

static const char *
deliver_status_word(const char *dsn)
{
	switch (dsn[0]) {
	case '2': return "sent";
	case '5': return "bounced";
	default: return "deferred";
	}
}

void
deliver_log_status(const struct deliver_request *req,
    const struct deliver_rcpt *r, const char *relay,
    const struct timeval *start, const struct timeval *conn)
{
	struct timeval now;
	struct buf b;
	const char *orcpt = r->orcpt;

	gettimeofday(&now, NULL);
	buf_init(&b);
	buf_printf(&b, "%s: to=<%s>, ", req->queue_id, r->address);
	if (orcpt != NULL && !strncasecmp(orcpt, "rfc822;", 7))
		orcpt += 7;
	if (orcpt != NULL && *orcpt != '\0' && strcasecmp(orcpt, r->address))
		buf_printf(&b, "orig_to=<%s>, ", orcpt);
	buf_printf(&b, "relay=%s, delay=", relay);
	deliver_format_delay(&b, deliver_tv_diff(&now, &req->arrival));
	buf_puts(&b, ", delays=");
	deliver_format_delay(&b, deliver_tv_diff(&req->active, &req->arrival));
	buf_putc(&b, '/');
	deliver_format_delay(&b, deliver_tv_diff(start, &req->active));
	buf_putc(&b, '/');
	deliver_format_delay(&b, deliver_tv_diff(conn, start));
	buf_putc(&b, '/');
	deliver_format_delay(&b, deliver_tv_diff(&now, conn));
	log_info("%s, dsn=%s, status=%s (%s)", b.data, r->dsn,
	    deliver_status_word(r->dsn), r->reason ? r->reason : "");
	buf_free(&b);
}
