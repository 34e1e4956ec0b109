/*
 * deliver_smtp_session: one SMTP conversation (RFC 5321) with one server:
 * greeting, EHLO (HELO fallback), MAIL/RCPT/DATA with PIPELINING when
 * offered, SIZE, 8BITMIME, DSN (RET, ENVID, NOTIFY, ORCPT), the message with CRLF line ends and
 * dot-stuffing, QUIT (AUTH: deliver_smtp_auth.c). Parameters: smtp_*_timeout (per stage),
 * smtp_reply_lines_limit, line_length_limit, smtp_line_length_limit.
 * Security: the server's replies go through smtp_reply (bounded, escaped);
 * no bare CR or LF from the queue file ever reaches the wire.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/iobuf.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "deliver/deliver_smtp.h"
#include "proto/smtp_addr.h"
#include "proto/smtp_reply.h"
#include "tls/tls_client.h"

#define SMTP_BODY_CHUNK		65536

static int smtp_connect(const struct smtp_target *, int, char *, size_t);
static int smtp_greet(struct smtp_session *);
static int smtp_session_try(struct smtp_conf *, struct deliver_request *,
    const char *, struct deliver_rcpt **, size_t, int,
    const struct smtp_target *, struct smtp_failure *, struct timeval *,
    char *, size_t, int, int *);
static int smtp_ehlo(struct smtp_session *);
static int smtp_starttls(struct smtp_session *);
static void smtp_ehlo_line(struct smtp_session *);
static void smtp_transaction(struct smtp_session *);
static int smtp_send_envelope(struct smtp_session *, int *);
static void smtp_rcpt_reply(struct smtp_session *, size_t);
static int smtp_send_body(struct smtp_session *);
static void smtp_body_bytes(struct smtp_session *, const char *, size_t);
static void smtp_body_eol(struct smtp_session *);
static int smtp_body_8bit(struct smtp_session *);
static void smtp_reply_status(struct smtp_session *, const char **,
    char *);
static void smtp_settle_rest(struct smtp_session *, const char *, const char *);
static void smtp_quit(struct smtp_session *);
static const char *smtp_refusal_dsn(struct smtp_session *);
static void smtp_settle_leftovers(struct smtp_session *);
static void smtp_dsn_mail(struct smtp_session *);
static void smtp_dsn_rcpt(struct smtp_session *, const struct deliver_rcpt *);
static void smtp_session_init(struct smtp_session *, struct smtp_conf *,
    struct deliver_request *, struct deliver_rcpt **, size_t, int,
    struct smtp_failure *);
static void smtp_session_free(struct smtp_session *);
static void smtp_close(struct smtp_session *);
static void smtp_message(struct smtp_session *);
static time_t smtp_now(void);
static void smtp_finish(struct smtp_session *, int, const char *, int);
static void smtp_cached_session(struct smtp_session *, struct smtp_cached *,
    const char *);

/* An idle session kept between requests (smtp_finish, smtp_session_reuse). */
struct smtp_cached {
	char	 nexthop[DNS_NAME_MAX + 16];
	char	 host[DNS_NAME_MAX];
	char	 peer[DNS_NAME_MAX + NETADDR_STRLEN + 4];
	char	 relay[DNS_NAME_MAX + NETADDR_STRLEN + 16];
	int	 servername;		/* host is the SNI name */
	struct iobuf io;
	int	 features;
	unsigned long long size_limit;
	int	 tls_active;
	int	 uses;
	time_t	 since;			/* CLOCK_MONOTONIC seconds */
};

int
smtp_address_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f ||
		    *s == '<' || *s == '>')
			return 0;
	return 1;
}

/* smtp_connect: a connected non-blocking socket, or -1 with err set. */
static int
smtp_connect(const struct smtp_target *t, int timeout, char *err,
    size_t errlen)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct pollfd pfd;
	socklen_t sslen, elen = sizeof(int);
	int fd, rc, soerr = 0;

	memset(&ss, 0, sizeof(ss));
	if (t->addr.family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)t->port);
		memcpy(&sin->sin_addr, t->addr.addr, 4);
		sslen = sizeof(*sin);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)t->port);
		memcpy(&sin6->sin6_addr, t->addr.addr, 16);
		sslen = sizeof(*sin6);
	}
	fd = socket(t->addr.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	/* Each write is a whole command batch: Nagle only adds delay. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 },
	    sizeof(int));
	if (connect(fd, (struct sockaddr *)&ss, sslen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		snprintf(err, errlen, "%s", strerror(errno));
		close(fd);
		return -1;
	}
	pfd.fd = fd;
	pfd.events = POLLOUT;
	while ((rc = poll(&pfd, 1, timeout * 1000)) == -1 && errno == EINTR)
		;
	if (rc == 0) {
		snprintf(err, errlen, "Connection timed out");
		close(fd);
		return -1;
	}
	if (rc == -1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr,
	    &elen) == -1 || soerr != 0) {
		snprintf(err, errlen, "%s", strerror(soerr ? soerr : errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* smtp_fail: remember why this server did not work out. */
void
smtp_fail(struct smtp_session *s, const char *dsn, const char *fmt, ...)
{
	va_list ap;
	char *text;

	strlcpy(s->fail->dsn, dsn, sizeof(s->fail->dsn));
	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) == -1)
		fatalx("smtp_fail: out of memory");
	va_end(ap);
	buf_reset(&s->fail->text);
	buf_puts(&s->fail->text, text);
	free(text);
}

/*
 * smtp_read_reply: one whole reply into s->reply; 0, or -1 with the
 * failure recorded ("while <when>").
 */
int
smtp_read_reply(struct smtp_session *s, int timeout, const char *when)
{
	int rc;

	s->io.timeout = timeout;
	smtp_reply_reset(&s->reply);
	for (;;) {
		rc = iobuf_getline(&s->io, &s->line, s->conf->reply_line_max);
		if (rc != IO_LINE)
			s->broken = 1;
		switch (rc) {
		case IO_LINE:
			break;
		case IO_TIMEOUT:
			smtp_fail(s, "4.4.2", "conversation with %s timed out "
			    "while %s", s->peer, when);
			return -1;
		case IO_TOOLONG:
			smtp_fail(s, "4.5.0", "host %s sent a malformed reply "
			    "while %s: reply line too long", s->peer, when);
			return -1;
		default:
			smtp_fail(s, "4.4.2", "lost connection with %s while %s",
			    s->peer, when);
			return -1;
		}
		rc = smtp_reply_feed(&s->reply, s->line.data, s->line.len);
		if (rc == SMTP_REPLY_BAD) {
			s->broken = 1;
			smtp_fail(s, "4.5.0", "host %s sent a malformed reply "
			    "while %s: %s", s->peer, when, s->reply.error);
			return -1;
		}
		if (s->parsing_ehlo && s->reply.lines > 1)
			smtp_ehlo_line(s);
		if (rc == SMTP_REPLY_DONE)
			return 0;
	}
}

int
smtp_send(struct smtp_session *s, int timeout, const char *when)
{
	int rc;

	s->io.timeout = timeout;
	if ((rc = iobuf_flush(&s->io)) == 0)
		return 0;
	s->broken = 1;
	if (rc == IO_TIMEOUT)
		smtp_fail(s, "4.4.2", "conversation with %s timed out while %s",
		    s->peer, when);
	else
		smtp_fail(s, "4.4.2", "lost connection with %s while %s",
		    s->peer, when);
	return -1;
}

static void
smtp_ehlo_line(struct smtp_session *s)
{
	char param[256];
	const char *errstr;
	long long n;

	if (smtp_ehlo_keyword(s->line.data, s->line.len, "PIPELINING", NULL, 0))
		s->features |= SMTP_FEAT_PIPELINING;
	else if (smtp_ehlo_keyword(s->line.data, s->line.len, "8BITMIME",
	    NULL, 0))
		s->features |= SMTP_FEAT_8BITMIME;
	else if (smtp_ehlo_keyword(s->line.data, s->line.len, "DSN", NULL, 0))
		s->features |= SMTP_FEAT_DSN;
	else if (smtp_ehlo_keyword(s->line.data, s->line.len, "STARTTLS",
	    NULL, 0))
		s->features |= SMTP_FEAT_STARTTLS;
	else if (smtp_ehlo_keyword(s->line.data, s->line.len, "AUTH", param,
	    sizeof(param)))
		smtp_ehlo_auth(s, param);
	else if (smtp_ehlo_keyword(s->line.data, s->line.len, "SIZE", param,
	    sizeof(param))) {
		s->features |= SMTP_FEAT_SIZE;
		n = strtonum(param, 0, LLONG_MAX, &errstr);
		s->size_limit = errstr == NULL ? (unsigned long long)n : 0;
	}
}

/* The reply's own status for a 4xx/5xx refusal, 4.5.0 for anything odd. */
static const char *
smtp_refusal_dsn(struct smtp_session *s)
{
	int class = s->reply.code / 100;

	return class == 4 || class == 5 ? s->reply.dsn : "4.5.0";
}

/* smtp_greet: the 220, EHLO and STARTTLS; 0, or -1 for the next server. */
static int
smtp_greet(struct smtp_session *s)
{
	if (smtp_read_reply(s, s->conf->helo_timeout,
	    "receiving the initial server greeting") == -1)
		return -1;
	if (s->reply.code / 100 != 2) {
		smtp_fail(s, smtp_refusal_dsn(s),
		    "host %s refused to talk to me: %s", s->peer,
		    s->reply.text.data);
		smtp_quit(s);
		return -1;
	}
	if (smtp_ehlo(s) == -1)
		return -1;
	if (s->conf->tls_level == SMTP_TLS_NONE || s->tls_skip)
		return 0;
	if (!(s->features & SMTP_FEAT_STARTTLS)) {
		if (s->conf->tls_level == SMTP_TLS_MAY)
			return 0;
		smtp_fail(s, "4.7.4", "TLS is required, but was not offered "
		    "by host %s", s->peer);
		smtp_quit(s);
		return -1;
	}
	return smtp_starttls(s);
}

/* smtp_ehlo: EHLO, else HELO; 0 or -1 (failure recorded). */
static int
smtp_ehlo(struct smtp_session *s)
{
	s->features = 0;
	s->size_limit = 0;
	iobuf_printf(&s->io, "EHLO %s\r\n", s->conf->helo_name);
	if (smtp_send(s, s->conf->helo_timeout,
	    "performing the EHLO handshake") == -1)
		return -1;
	s->parsing_ehlo = 1;
	if (smtp_read_reply(s, s->conf->helo_timeout,
	    "performing the EHLO handshake") == -1)
		return -1;
	s->parsing_ehlo = 0;
	if (s->reply.code / 100 == 2)
		return 0;
	s->features = 0;
	iobuf_printf(&s->io, "HELO %s\r\n", s->conf->helo_name);
	if (smtp_send(s, s->conf->helo_timeout,
	    "performing the HELO handshake") == -1 ||
	    smtp_read_reply(s, s->conf->helo_timeout,
	    "performing the HELO handshake") == -1)
		return -1;
	if (s->reply.code / 100 == 2)
		return 0;
	smtp_fail(s, smtp_refusal_dsn(s), "host %s refused to talk to me: %s",
	    s->peer, s->reply.text.data);
	smtp_quit(s);
	return -1;
}

/*
 * smtp_starttls: RFC 3207. Anything the server sent after its 220 was
 * sent in the clear and could be an attacker's (CVE-2011-0411 class): it
 * is thrown away, never read as a reply inside TLS.
 */
static int
smtp_starttls(struct smtp_session *s)
{
	char info[256], err[256];

	iobuf_puts(&s->io, "STARTTLS\r\n");
	if (smtp_send(s, s->conf->helo_timeout, "sending STARTTLS") == -1 ||
	    smtp_read_reply(s, s->conf->helo_timeout, "sending STARTTLS") == -1)
		return -1;
	if (s->reply.code != 220) {
		if (s->conf->tls_level == SMTP_TLS_MAY)
			return 0;	/* plaintext, as offered before */
		smtp_fail(s, smtp_refusal_dsn(s), "TLS is required, but host "
		    "%s refused to start TLS: %s", s->peer, s->reply.text.data);
		smtp_quit(s);
		return -1;
	}
	if (iobuf_pending(&s->io) > 0) {
		log_warnx("%s: host %s sent %zu bytes after its reply to "
		    "STARTTLS: discarded", s->req->queue_id, s->peer,
		    iobuf_pending(&s->io));
		buf_reset(&s->io.in);
	}
	s->io.timeout = s->conf->helo_timeout;
	if (tls_client_start(&s->io, s->conf->tls_ctx, s->servername, info,
	    sizeof(info), err, sizeof(err)) == -1) {
		s->broken = 1;
		s->tls_failed = 1;
		smtp_fail(s, "4.7.5", "Cannot start TLS with %s: %s", s->peer,
		    err);
		return -1;
	}
	s->tls_active = 1;
	log_info("Untrusted TLS connection established to %s: %s", s->relay,
	    info);
	return smtp_ehlo(s);
}

/* The status a reply means for a recipient: a valid "X.Y.Z" in dsn. */
static void
smtp_reply_status(struct smtp_session *s, const char **status, char *dsn)
{
	int class = s->reply.code / 100;

	if (class == 2 || class == 4 || class == 5) {
		strlcpy(dsn, s->reply.dsn, DELIVER_DSN_MAX);
		*status = class == 2 ? "sent" : class == 4 ? "deferred" :
		    "bounced";
	} else {
		strlcpy(dsn, "4.5.0", DELIVER_DSN_MAX);	/* 3xx out of place */
		*status = "deferred";
	}
}

/* Every recipient still without a status gets this reply's verdict. */
static void
smtp_settle_rest(struct smtp_session *s, const char *command, const char *why)
{
	const char *status;
	char dsn[DELIVER_DSN_MAX];
	size_t i;

	smtp_reply_status(s, &status, dsn);
	if (dsn[0] == '2')
		strlcpy(dsn, "4.5.0", sizeof(dsn));
	for (i = 0; i < s->nrcpts; i++) {
		if (s->rcpts[i]->dsn[0] != '\0')
			continue;
		if (why != NULL)
			deliver_rcpt_set(s->rcpts[i], s->fail->dsn, "%s", why);
		else
			deliver_rcpt_set(s->rcpts[i], dsn, "host %s said: %s "
			    "(in reply to %s command)", s->peer,
			    s->reply.text.data, command);
	}
}

static void
smtp_rcpt_reply(struct smtp_session *s, size_t i)
{
	const char *status;
	char dsn[DELIVER_DSN_MAX];

	smtp_reply_status(s, &status, dsn);
	if (dsn[0] == '2') {
		s->accepted[i] = 1;
		return;
	}
	deliver_rcpt_set(s->rcpts[i], dsn, "host %s said: %s (in reply to "
	    "RCPT TO command)", s->peer, s->reply.text.data);
}

/* RET= and ENVID= (RFC 3461 4.3, 4.4) for a peer that offers DSN. */
static void
smtp_dsn_mail(struct smtp_session *s)
{
	char envid[3 * DELIVER_ENVID_MAX + 1];
	const char *ret = s->req->dsn_ret;

	if (ret != NULL && (!strcasecmp(ret, "FULL") || !strcasecmp(ret,
	    "HDRS")))
		iobuf_printf(&s->io, " RET=%s", ret);
	if (s->req->dsn_envid != NULL &&
	    strlen(s->req->dsn_envid) <= DELIVER_ENVID_MAX &&
	    smtp_xtext_encode(s->req->dsn_envid, envid, sizeof(envid)) > 0)
		iobuf_printf(&s->io, " ENVID=%s", envid);
}

/* NOTIFY= and ORCPT= (RFC 3461 4.1, 4.2), ORCPT's address as xtext. */
static void
smtp_dsn_rcpt(struct smtp_session *s, const struct deliver_rcpt *r)
{
	char xtext[3 * 512 + 1];
	const char *semi;
	size_t i, typelen;

	if (r->notify != NULL && *r->notify != '\0' &&
	    strspn(r->notify, "ABCDEFGHIJKLMNOPQRSTUVWXYZ,") ==
	    strlen(r->notify) && strlen(r->notify) <= DELIVER_NOTIFY_MAX)
		iobuf_printf(&s->io, " NOTIFY=%s", r->notify);
	if (r->orcpt == NULL || (semi = strchr(r->orcpt, ';')) == NULL ||
	    semi == r->orcpt || (typelen = (size_t)(semi - r->orcpt)) > 32 ||
	    strlen(semi + 1) > 512)
		return;
	for (i = 0; i < typelen; i++)
		if (!isalnum((unsigned char)r->orcpt[i]) && r->orcpt[i] != '-')
			return;
	if (smtp_xtext_encode(semi + 1, xtext, sizeof(xtext)) > 0)
		iobuf_printf(&s->io, " ORCPT=%.*s;%s", (int)typelen, r->orcpt,
		    xtext);
}

/*
 * smtp_send_envelope: MAIL, RCPT... and DATA, pipelined when offered;
 * *go is 1 when the server answered DATA with 354. -1 on an I/O or
 * protocol failure (recorded), 0 otherwise.
 */
static int
smtp_send_envelope(struct smtp_session *s, int *go)
{
	int pipelining = s->features & SMTP_FEAT_PIPELINING;
	int mail_ok, naccepted = 0;
	size_t i;

	*go = 0;
	iobuf_printf(&s->io, "MAIL FROM:<%s>", s->req->sender);
	if (s->features & SMTP_FEAT_SIZE)
		iobuf_printf(&s->io, " SIZE=%llu",
		    (unsigned long long)s->req->content_len);
	if ((s->features & SMTP_FEAT_8BITMIME) && smtp_body_8bit(s))
		iobuf_puts(&s->io, " BODY=8BITMIME");
	if (s->features & SMTP_FEAT_DSN)
		smtp_dsn_mail(s);
	iobuf_puts(&s->io, "\r\n");
	if (!pipelining && (smtp_send(s, s->conf->mail_timeout,
	    "sending MAIL FROM") == -1 || smtp_read_reply(s,
	    s->conf->mail_timeout, "sending MAIL FROM") == -1))
		return -1;
	if (!pipelining && s->reply.code / 100 != 2) {
		smtp_settle_rest(s, "MAIL FROM", NULL);
		return 0;
	}
	for (i = 0; i < s->nrcpts; i++) {
		iobuf_printf(&s->io, "RCPT TO:<%s>", s->rcpts[i]->address);
		if (s->features & SMTP_FEAT_DSN)
			smtp_dsn_rcpt(s, s->rcpts[i]);
		iobuf_puts(&s->io, "\r\n");
		if (pipelining)
			continue;
		if (smtp_send(s, s->conf->rcpt_timeout, "sending RCPT TO") == -1 ||
		    smtp_read_reply(s, s->conf->rcpt_timeout,
		    "sending RCPT TO") == -1)
			return -1;
		smtp_rcpt_reply(s, i);
		naccepted += s->accepted[i];
	}
	if (!pipelining && naccepted == 0)
		return 0;
	iobuf_puts(&s->io, "DATA\r\n");
	if (smtp_send(s, pipelining ? s->conf->mail_timeout :
	    s->conf->data_init_timeout, "sending DATA command") == -1)
		return -1;
	mail_ok = 1;
	if (pipelining) {
		if (smtp_read_reply(s, s->conf->mail_timeout,
		    "sending MAIL FROM") == -1)
			return -1;
		if (s->reply.code / 100 != 2) {
			smtp_settle_rest(s, "MAIL FROM", NULL);
			mail_ok = 0;
		}
		for (i = 0; i < s->nrcpts; i++) {
			if (smtp_read_reply(s, s->conf->rcpt_timeout,
			    "sending RCPT TO") == -1)
				return -1;
			if (mail_ok) {
				smtp_rcpt_reply(s, i);
				naccepted += s->accepted[i];
			}
		}
	}
	if (smtp_read_reply(s, s->conf->data_init_timeout,
	    "sending DATA command") == -1)
		return -1;
	if (s->reply.code == 354 && naccepted == 0) {
		/* Nothing to send, but the server waits for a message. */
		iobuf_puts(&s->io, ".\r\n");
		if (smtp_send(s, s->conf->data_done_timeout, "sending end of "
		    "data") == 0)
			(void)smtp_read_reply(s, s->conf->data_done_timeout,
			    "sending end of data");
		return 0;
	}
	if (naccepted == 0)
		return 0;
	if (s->reply.code != 354) {
		smtp_settle_rest(s, "DATA", NULL);
		return 0;
	}
	*go = 1;
	return 0;
}

/* Whether the message has any byte with the high bit set. */
static int
smtp_body_8bit(struct smtp_session *s)
{
	char chunk[SMTP_BODY_CHUNK];
	uint64_t done = 0;
	ssize_t n, i;
	size_t want;

	while (done < s->req->content_len) {
		want = s->req->content_len - done < sizeof(chunk) ?
		    (size_t)(s->req->content_len - done) : sizeof(chunk);
		n = pread(s->qfd, chunk, want, s->req->content_offset +
		    (off_t)done);
		if (n <= 0)
			return 0;
		for (i = 0; i < n; i++)
			if ((unsigned char)chunk[i] >= 0x80)
				return 1;
		done += (uint64_t)n;
	}
	return 0;
}

static void
smtp_body_eol(struct smtp_session *s)
{
	iobuf_write(&s->io, "\r\n", 2);
	s->bol = 1;
	s->col = 0;
}

/*
 * smtp_body_bytes: put message bytes on the wire. CRLF, bare LF and bare
 * CR all end a line with CRLF; a line starting with '.' gets another
 * (RFC 5321 4.5.2); a line longer than smtp_line_length_limit is folded.
 */
static void
smtp_body_bytes(struct smtp_session *s, const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s->pending_cr) {
			s->pending_cr = 0;
			smtp_body_eol(s);
			if (p[i] == '\n')
				continue;
		}
		if (p[i] == '\r') {
			s->pending_cr = 1;
			continue;
		}
		if (p[i] == '\n') {
			smtp_body_eol(s);
			continue;
		}
		if (s->conf->wrap > 0 && s->col >= s->conf->wrap) {
			iobuf_write(&s->io, "\r\n ", 3);
			s->col = 1;
		}
		if (s->bol && p[i] == '.')
			iobuf_write(&s->io, ".", 1);
		s->bol = 0;
		iobuf_write(&s->io, &p[i], 1);
		s->col++;
	}
}

static int
smtp_send_body(struct smtp_session *s)
{
	char chunk[SMTP_BODY_CHUNK];
	uint64_t done = 0;
	size_t want;
	ssize_t n;

	s->bol = 1;
	s->pending_cr = 0;
	s->col = 0;
	while (done < s->req->content_len) {
		want = s->req->content_len - done < sizeof(chunk) ?
		    (size_t)(s->req->content_len - done) : sizeof(chunk);
		n = pread(s->qfd, chunk, want, s->req->content_offset +
		    (off_t)done);
		if (n <= 0) {
			log_warn("%s: read queue file", s->req->queue_id);
			smtp_fail(s, "4.3.0", "error reading the queue file");
			return -1;
		}
		smtp_body_bytes(s, chunk, (size_t)n);
		done += (uint64_t)n;
		/*
		 * The last chunk goes out with the final dot: a short write
		 * of its own would wait for the peer's delayed ACK (Nagle).
		 */
		if (done < s->req->content_len && smtp_send(s,
		    s->conf->data_xfer_timeout, "sending message body") == -1)
			return -1;
	}
	if (s->pending_cr || !s->bol)
		smtp_body_eol(s);
	iobuf_puts(&s->io, ".\r\n");
	if (smtp_send(s, s->conf->data_done_timeout, "sending end of data "
	    "-- message may be sent more than once") == -1)
		return -1;
	return smtp_read_reply(s, s->conf->data_done_timeout,
	    "sending end of data -- message may be sent more than once");
}

static void
smtp_transaction(struct smtp_session *s)
{
	const char *status;
	char dsn[DELIVER_DSN_MAX];
	size_t i;
	int go;

	if (smtp_send_envelope(s, &go) == -1 || (go &&
	    smtp_send_body(s) == -1)) {
		smtp_settle_rest(s, NULL, s->fail->text.data);
		return;
	}
	if (!go)
		return;
	smtp_reply_status(s, &status, dsn);
	for (i = 0; i < s->nrcpts; i++) {
		if (!s->accepted[i])
			continue;
		if (dsn[0] == '2')
			deliver_rcpt_set(s->rcpts[i], dsn, "%s",
			    s->reply.text.data);
		else
			deliver_rcpt_set(s->rcpts[i], dsn, "host %s said: %s "
			    "(in reply to end of DATA command)", s->peer,
			    s->reply.text.data);
	}
}

static void
smtp_quit(struct smtp_session *s)
{
	struct smtp_failure keep;

	if (s->broken)
		return;
	/* A failed QUIT changes nothing: keep the recorded failure. */
	keep = *s->fail;
	buf_init(&s->fail->text);
	iobuf_puts(&s->io, "QUIT\r\n");
	if (smtp_send(s, s->conf->quit_timeout, "sending QUIT") == 0)
		(void)smtp_read_reply(s, s->conf->quit_timeout,
		    "sending QUIT");
	buf_free(&s->fail->text);
	*s->fail = keep;
}

/* Never answer qmgr without a status: anything unsettled is deferred. */
static void
smtp_settle_leftovers(struct smtp_session *s)
{
	size_t i;

	for (i = 0; i < s->nrcpts; i++)
		if (s->rcpts[i]->dsn[0] == '\0')
			deliver_rcpt_set(s->rcpts[i], "4.3.0", "conversation "
			    "with %s ended without a result", s->peer);
}

/* smtp_session_init: a session for rcpts with no connection yet. */
static void
smtp_session_init(struct smtp_session *s, struct smtp_conf *conf,
    struct deliver_request *req, struct deliver_rcpt **rcpts, size_t nrcpts,
    int qfd, struct smtp_failure *fail)
{
	memset(s, 0, sizeof(*s));
	s->conf = conf;
	s->req = req;
	s->rcpts = rcpts;
	s->nrcpts = nrcpts;
	s->qfd = qfd;
	s->fail = fail;
	s->accepted = xcalloc(nrcpts > 0 ? nrcpts : 1, sizeof(*s->accepted));
	smtp_reply_init(&s->reply, conf->reply_lines);
	buf_init(&s->line);
}

static void
smtp_session_free(struct smtp_session *s)
{
	buf_free(&s->line);
	smtp_reply_free(&s->reply);
	free(s->accepted);
}

/* smtp_close: QUIT (unless the connection broke), then close it. */
static void
smtp_close(struct smtp_session *s)
{
	smtp_quit(s);
	tls_client_end(&s->io);
	close(s->io.fd);
	iobuf_free(&s->io);
}

/* The message on a ready session: SIZE checked up front, then MAIL... */
static void
smtp_message(struct smtp_session *s)
{
	if ((s->features & SMTP_FEAT_SIZE) && s->size_limit > 0 &&
	    s->req->content_len > s->size_limit) {
		smtp_fail(s, "5.3.4", "message size %llu exceeds size limit "
		    "%llu of server %s", (unsigned long long)s->req->content_len,
		    s->size_limit, s->peer);
		smtp_settle_rest(s, NULL, s->fail->text.data);
	} else
		smtp_transaction(s);
}

static time_t
smtp_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/*
 * smtp_finish: keep a healthy session for the next request to the same
 * next hop (one slot; smtp_connection_cache_time_limit,
 * smtp_connection_reuse_count_limit), else QUIT and close it.
 */
static void
smtp_finish(struct smtp_session *s, int cacheable, const char *relay,
    int uses)
{
	struct smtp_conf *conf = s->conf;
	struct smtp_cached *c;

	if (!cacheable || conf->cache_time <= 0 || s->broken ||
	    s->reply.code == 421 ||
	    (conf->reuse_limit > 0 && uses >= conf->reuse_limit) ||
	    strlen(s->nexthop) >= sizeof(c->nexthop)) {
		smtp_close(s);
		return;
	}
	smtp_cache_expire(conf, 1);
	c = xcalloc(1, sizeof(*c));
	strlcpy(c->nexthop, s->nexthop, sizeof(c->nexthop));
	strlcpy(c->host, s->host, sizeof(c->host));
	strlcpy(c->peer, s->peer, sizeof(c->peer));
	strlcpy(c->relay, relay, sizeof(c->relay));
	c->servername = s->servername != NULL;
	c->io = s->io;
	c->features = s->features;
	c->size_limit = s->size_limit;
	c->tls_active = s->tls_active;
	c->uses = uses;
	c->since = smtp_now();
	conf->cache = c;
}

/* smtp_cached_session: s takes over the connection cached in c. */
static void
smtp_cached_session(struct smtp_session *s, struct smtp_cached *c,
    const char *nexthop)
{
	s->io = c->io;
	strlcpy(s->peer, c->peer, sizeof(s->peer));
	s->host = c->host;
	s->servername = c->servername ? c->host : NULL;
	s->nexthop = nexthop;
	s->relay = c->relay;
	s->features = c->features;
	s->size_limit = c->size_limit;
	s->tls_active = c->tls_active;
}

void
smtp_cache_expire(struct smtp_conf *conf, int all)
{
	struct smtp_cached *c = conf->cache;
	struct smtp_failure fail;
	struct smtp_session s;

	if (c == NULL || (!all && smtp_now() - c->since < conf->cache_time))
		return;
	conf->cache = NULL;
	memset(&fail, 0, sizeof(fail));
	buf_init(&fail.text);
	smtp_session_init(&s, conf, NULL, NULL, 0, -1, &fail);
	smtp_cached_session(&s, c, c->nexthop);
	smtp_close(&s);
	smtp_session_free(&s);
	buf_free(&fail.text);
	free(c);
}

int
smtp_session_reuse(struct smtp_conf *conf, struct deliver_request *req,
    const char *nexthop, struct deliver_rcpt **rcpts, size_t nrcpts, int qfd,
    struct smtp_failure *fail, struct timeval *conn, char *relay,
    size_t relaylen)
{
	struct smtp_cached *c;
	struct smtp_session s;
	int uses;

	smtp_cache_expire(conf, 0);
	if ((c = conf->cache) == NULL || strcasecmp(c->nexthop, nexthop))
		return 0;
	conf->cache = NULL;
	smtp_session_init(&s, conf, req, rcpts, nrcpts, qfd, fail);
	smtp_cached_session(&s, c, nexthop);
	/* A stale session (RSET fails) is dropped: the caller reconnects. */
	iobuf_puts(&s.io, "RSET\r\n");
	if (smtp_send(&s, conf->rset_timeout, "sending RSET") == -1 ||
	    smtp_read_reply(&s, conf->rset_timeout, "sending RSET") == -1 ||
	    s.reply.code / 100 != 2) {
		smtp_close(&s);
		smtp_session_free(&s);
		free(c);
		buf_reset(&fail->text);
		return 0;
	}
	uses = c->uses + 1;
	snprintf(relay, relaylen, "%s, conn_use=%d", c->relay, uses);
	strlcpy(fail->relay, relay, sizeof(fail->relay));
	gettimeofday(conn, NULL);
	smtp_message(&s);
	smtp_settle_leftovers(&s);
	smtp_finish(&s, 1, c->relay, uses);
	smtp_session_free(&s);
	free(c);
	return 1;
}

/*
 * smtp_session_run: one server. Under smtp_tls_security_level = may a
 * failed TLS handshake is retried once on a new connection without
 * STARTTLS, as Postfix does: opportunistic TLS never costs a delivery.
 */
int
smtp_session_run(struct smtp_conf *conf, struct deliver_request *req,
    const char *nexthop, struct deliver_rcpt **rcpts, size_t nrcpts, int qfd,
    const struct smtp_target *t, struct smtp_failure *fail,
    struct timeval *conn, char *relay, size_t relaylen)
{
	int done, tls_failed = 0;

	done = smtp_session_try(conf, req, nexthop, rcpts, nrcpts, qfd, t,
	    fail, conn, relay, relaylen, 0, &tls_failed);
	if (done || !tls_failed || conf->tls_level != SMTP_TLS_MAY)
		return done;
	log_info("%s: %s: trying again without TLS", req->queue_id,
	    fail->text.data);
	return smtp_session_try(conf, req, nexthop, rcpts, nrcpts, qfd, t,
	    fail, conn, relay, relaylen, 1, &tls_failed);
}

static int
smtp_session_try(struct smtp_conf *conf, struct deliver_request *req,
    const char *nexthop, struct deliver_rcpt **rcpts, size_t nrcpts, int qfd,
    const struct smtp_target *t, struct smtp_failure *fail,
    struct timeval *conn, char *relay, size_t relaylen, int tls_skip,
    int *tls_failed)
{
	struct smtp_session s;
	char addr[NETADDR_STRLEN], err[128];
	struct netaddr literal;
	int fd, done = 0, cacheable = 1;

	netaddr_format(&t->addr, addr, sizeof(addr));
	snprintf(relay, relaylen, "%s[%s]:%d", t->host, addr, t->port);
	strlcpy(fail->relay, "none", sizeof(fail->relay));
	if ((fd = smtp_connect(t, conf->connect_timeout, err,
	    sizeof(err))) == -1) {
		strlcpy(fail->dsn, "4.4.1", sizeof(fail->dsn));
		buf_reset(&fail->text);
		buf_printf(&fail->text, "connect to %s[%s]:%d: %s", t->host,
		    addr, t->port, err);
		return 0;
	}
	smtp_session_init(&s, conf, req, rcpts, nrcpts, qfd, fail);
	s.tls_skip = tls_skip;
	snprintf(s.peer, sizeof(s.peer), "%s[%s]", t->host, addr);
	s.relay = relay;
	s.nexthop = nexthop;
	s.host = t->host;
	if (netaddr_parse(t->host, &literal) == -1)
		s.servername = t->host;
	strlcpy(fail->relay, relay, sizeof(fail->relay));
	iobuf_init(&s.io, fd, conf->helo_timeout);
	if (smtp_greet(&s) == 0) {
		gettimeofday(conn, NULL);
		done = 1;
		if (smtp_auth(&s) == -1) {
			smtp_settle_rest(&s, NULL, fail->text.data);
			cacheable = 0;
		} else
			smtp_message(&s);
		smtp_settle_leftovers(&s);
		smtp_finish(&s, cacheable, relay, 1);
	} else {
		s.broken = 1;	/* smtp_greet sent QUIT where it could */
		smtp_close(&s);
	}
	*tls_failed = s.tls_failed;
	smtp_session_free(&s);
	return done;
}
