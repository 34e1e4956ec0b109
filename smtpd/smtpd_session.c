/*
 * smtpd_session: one SMTP client from greeting to disconnect. Commands go
 * through a table {verb, counter, check, handler}: the check refuses a
 * command in the wrong state, the handler does the work and returns 0 on
 * success (for the disconnect line's counters). Replies are buffered and
 * flushed only when no complete command is waiting (RFC 2920 pipelining).
 * Security: command lines are bounded by line_length_limit, must end in
 * CRLF and hold no control characters; errors are capped by
 * smtpd_hard_error_limit (slowed after smtpd_soft_error_limit); reading a
 * command is bounded by the smtpd_timeout deadline; a command RFC 2920
 * says must end a pipelined group (or any pipelining before EHLO) with
 * more input behind it ends the session, as do HTTP requests.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "proto/smtp_command.h"
#include "smtpd/smtpd.h"
#include "tls/tls_server.h"

#define SMTPD_CMD_JUNK	0x01	/* counts against smtpd_junk_command_limit */
#define SMTPD_CMD_LAST	0x02	/* must be the last of a pipelined group */
#define SMTPD_CMD_CLEAR	0x04	/* served before STARTTLS under "encrypt" */
#define SMTPD_PEEK_MAX	100	/* of the next input, in log lines */

struct smtpd_command {
	const char *verb;
	const char *name;	/* lower case, for the disconnect line */
	int	 flags;
	const char *(*check)(struct smtpd_session *);
	int	(*handler)(struct smtpd_session *, const char *, size_t);
};

static int smtpd_helo(struct smtpd_session *, const char *, size_t);
static int smtpd_ehlo(struct smtpd_session *, const char *, size_t);
static int smtpd_rset(struct smtpd_session *, const char *, size_t);
static int smtpd_noop(struct smtpd_session *, const char *, size_t);
static int smtpd_vrfy(struct smtpd_session *, const char *, size_t);
static int smtpd_quit(struct smtpd_session *, const char *, size_t);
static int smtpd_expn(struct smtpd_session *, const char *, size_t);
static int smtpd_help(struct smtpd_session *, const char *, size_t);

/* Indexed by enum smtpd_cmd_index; the order is Postfix's log order. */
static const struct smtpd_command smtpd_commands[SMTPD_CMD_UNKNOWN] = {
	[SMTPD_CMD_HELO] = { "HELO", "helo", SMTPD_CMD_LAST | SMTPD_CMD_CLEAR,
	    NULL, smtpd_helo },
	[SMTPD_CMD_EHLO] = { "EHLO", "ehlo", SMTPD_CMD_LAST | SMTPD_CMD_CLEAR,
	    NULL, smtpd_ehlo },
	[SMTPD_CMD_STARTTLS] = { "STARTTLS", "starttls",
	    SMTPD_CMD_LAST | SMTPD_CMD_CLEAR, NULL, smtpd_starttls },
	[SMTPD_CMD_AUTH] = { "AUTH", "auth", 0, NULL, smtpd_auth },
	[SMTPD_CMD_MAIL] = { "MAIL", "mail", 0, smtpd_check_mail, smtpd_mail },
	[SMTPD_CMD_RCPT] = { "RCPT", "rcpt", 0, smtpd_check_rcpt, smtpd_rcpt },
	[SMTPD_CMD_DATA] = { "DATA", "data", SMTPD_CMD_LAST, smtpd_check_data,
	    smtpd_data },
	[SMTPD_CMD_BDAT] = { "BDAT", "bdat", 0, NULL, smtpd_bdat },
	[SMTPD_CMD_RSET] = { "RSET", "rset", SMTPD_CMD_JUNK | SMTPD_CMD_CLEAR,
	    NULL, smtpd_rset },
	[SMTPD_CMD_NOOP] = { "NOOP", "noop", SMTPD_CMD_JUNK | SMTPD_CMD_CLEAR,
	    NULL, smtpd_noop },
	[SMTPD_CMD_VRFY] = { "VRFY", "vrfy", SMTPD_CMD_JUNK | SMTPD_CMD_LAST,
	    NULL, smtpd_vrfy },
	[SMTPD_CMD_EXPN] = { "EXPN", "expn", SMTPD_CMD_JUNK | SMTPD_CMD_LAST,
	    NULL, smtpd_expn },
	[SMTPD_CMD_HELP] = { "HELP", "help", SMTPD_CMD_JUNK, NULL, smtpd_help },
	[SMTPD_CMD_QUIT] = { "QUIT", "quit", SMTPD_CMD_CLEAR, NULL,
	    smtpd_quit },
};

static void smtpd_peer(struct smtpd_session *, int);
static int smtpd_peer_name(struct smtpd_session *, const struct sockaddr *,
    socklen_t);
static int smtpd_hostname_ok(const char *);
static int smtpd_ascii(const char *, size_t);
static int smtpd_hello(struct smtpd_session *, const char *, size_t, int);
static int smtpd_read_command(struct smtpd_session *);
static void smtpd_dispatch(struct smtpd_session *);
static const struct smtpd_command *smtpd_lookup(const char *);
static void smtpd_log_disconnect(struct smtpd_session *);
static const char *smtpd_where(struct smtpd_session *, char *, size_t);
static int smtpd_http(struct smtpd_session *);
static int smtpd_sync_violation(struct smtpd_session *, const char *, int);

const char *
smtpd_protocol(const struct smtpd_session *s)
{
	return s->esmtp ? "ESMTP" : "SMTP";
}

/* RFC 3848: S for TLS, A for an authenticated client. */
const char *
smtpd_received_protocol(const struct smtpd_session *s)
{
	static const char *names[] = { "ESMTP", "ESMTPS", "ESMTPA",
	    "ESMTPSA" };

	if (!s->esmtp)
		return "SMTP";
	return names[(s->tls ? 1 : 0) + (s->sasl_method != NULL ? 2 : 0)];
}

/* After STARTTLS (RFC 3207 4.2): as if the client had just connected. */
void
smtpd_session_reset(struct smtpd_session *s)
{
	smtpd_transaction_reset(s);
	s->helo[0] = '\0';
	s->esmtp = 0;
	s->sasl_method = NULL;
	explicit_bzero(s->sasl_user, sizeof(s->sasl_user));
}

const char *
smtpd_queue_id(const struct smtpd_session *s)
{
	return s->queue_open ? s->queue.id : "NOQUEUE";
}

void
smtpd_reply(struct smtpd_session *s, const char *fmt, ...)
{
	char line[SMTPD_REPLY_MAX];
	va_list ap;
	size_t i;

	va_start(ap, fmt);
	if (vsnprintf(line, sizeof(line), fmt, ap) < 0)
		fatalx("smtpd_reply: bad format");
	va_end(ap);
	/* Nothing from outside may end a reply line early. */
	for (i = 0; line[i] != '\0'; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	log_debug("> %s[%s]: %s", s->client_name, s->client_addr, line);
	if ((line[0] == '4' || line[0] == '5') && ++s->errors >
	    s->conf->soft_error_limit && s->conf->error_sleep_time > 0 &&
	    s->errors < s->conf->hard_error_limit && !s->dead) {
		/* Tarpit: the replies so far leave first, then we sleep. */
		(void)smtpd_flush(s);
		sleep((unsigned int)s->conf->error_sleep_time);
	}
	iobuf_puts(&s->io, line);
	iobuf_puts(&s->io, "\r\n");
}

static const char *
smtpd_where(struct smtpd_session *s, char *tmp, size_t len)
{
	if (strcmp(s->where, "DATA") != 0)
		return s->where;
	snprintf(tmp, len, "DATA (%llu bytes)",
	    (unsigned long long)s->data_bytes);
	return tmp;
}

/* smtpd_io_failed: log a timeout or a lost connection, once. */
void
smtpd_io_failed(struct smtpd_session *s, int rc)
{
	char where[64];

	if (s->dead)
		return;
	s->dead = 1;
	if (rc == IO_TIMEOUT) {
		log_info("timeout after %s from %s[%s]",
		    smtpd_where(s, where, sizeof(where)), s->client_name,
		    s->client_addr);
		buf_reset(&s->io.out);
		smtpd_reply(s, "421 4.4.2 %s Error: timeout exceeded",
		    s->conf->myhostname);
		(void)iobuf_flush(&s->io);
		return;
	}
	log_info("lost connection after %s from %s[%s]",
	    smtpd_where(s, where, sizeof(where)), s->client_name,
	    s->client_addr);
}

int
smtpd_flush(struct smtpd_session *s)
{
	int rc;

	if (s->dead)
		return -1;
	if ((rc = iobuf_flush(&s->io)) != 0) {
		smtpd_io_failed(s, rc);
		return -1;
	}
	return 0;
}

static int
smtpd_hostname_ok(const char *name)
{
	size_t len = strlen(name);
	const char *p;

	if (len == 0 || len > SMTPD_HOST_MAX || name[0] == '.' ||
	    name[0] == '-')
		return 0;
	for (p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' ||
		    *p == '_'))
			return 0;
	return 1;
}

/*
 * smtpd_peer_name: the PTR name, kept only when it resolves back to the
 * client's address (as Postfix does); 0 when found, -1 for "unknown".
 */
static int
smtpd_peer_name(struct smtpd_session *s, const struct sockaddr *sa,
    socklen_t salen)
{
	struct addrinfo hints, *res, *ai;
	struct netaddr a;
	char host[NI_MAXHOST];
	int found = 0;

	if (getnameinfo(sa, salen, host, sizeof(host), NULL, 0,
	    NI_NAMEREQD) != 0)
		return -1;
	if (!smtpd_hostname_ok(host)) {
		log_warnx("%s: malformed hostname from PTR lookup",
		    s->client_addr);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = s->client_ip.family;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, NULL, &hints, &res) != 0) {
		log_warnx("hostname %s does not resolve to address %s", host,
		    s->client_addr);
		return -1;
	}
	for (ai = res; ai != NULL && !found; ai = ai->ai_next)
		found = netaddr_from_sockaddr(ai->ai_addr, ai->ai_addrlen,
		    &a) == 0 && a.family == s->client_ip.family &&
		    memcmp(a.addr, s->client_ip.addr, 16) == 0;
	freeaddrinfo(res);
	if (!found) {
		log_warnx("hostname %s does not resolve to address %s", host,
		    s->client_addr);
		return -1;
	}
	strlcpy(s->client_name, host, sizeof(s->client_name));
	return 0;
}

/* The client's address; the name stays "unknown" (smtpd_peer_lookup). */
static void
smtpd_peer(struct smtpd_session *s, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	strlcpy(s->client_name, "unknown", sizeof(s->client_name));
	strlcpy(s->client_addr, "unknown", sizeof(s->client_addr));
	strlcpy(s->client_rfc_addr, "unknown", sizeof(s->client_rfc_addr));
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1 ||
	    netaddr_from_sockaddr((struct sockaddr *)&ss, len,
	    &s->client_ip) == -1)
		return;
	s->have_ip = 1;
	netaddr_format(&s->client_ip, s->client_addr, sizeof(s->client_addr));
	snprintf(s->client_rfc_addr, sizeof(s->client_rfc_addr), "%s%s",
	    s->client_ip.family == AF_INET6 ? "IPv6:" : "", s->client_addr);
}

/* The client's name from DNS (PTR, then forward-confirmed). */
static void
smtpd_peer_lookup(struct smtpd_session *s)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	if (!s->have_ip)
		return;
	/* A v4-mapped client is looked up as the IPv4 address it is. */
	if (s->client_ip.family == AF_INET) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		memcpy(&sin.sin_addr, s->client_ip.addr, 4);
		(void)smtpd_peer_name(s, (struct sockaddr *)&sin, sizeof(sin));
	} else {
		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		memcpy(&sin6.sin6_addr, s->client_ip.addr, 16);
		(void)smtpd_peer_name(s, (struct sockaddr *)&sin6,
		    sizeof(sin6));
	}
}

static int
smtpd_ascii(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)p[i] >= 0x80)
			return 0;
	return 1;
}

static int
smtpd_hello(struct smtpd_session *s, const char *args, size_t len, int esmtp)
{
	const char *verb = esmtp ? "EHLO" : "HELO", *mechs;

	/* No SMTPUTF8: an 8-bit name would end up raw in Received:. */
	if (len == 0 || len > SMTPD_HOST_MAX || !smtpd_ascii(args, len)) {
		smtpd_reply(s, "501 5.5.4 Syntax: %s hostname", verb);
		return -1;
	}
	/* RFC 5321 4.1.4: a new HELO/EHLO resets the transaction. */
	smtpd_transaction_reset(s);
	memcpy(s->helo, args, len);
	s->helo[len] = '\0';
	s->esmtp = esmtp;
	if (!esmtp) {
		smtpd_reply(s, "250 %s", s->conf->myhostname);
		return 0;
	}
	iobuf_printf(&s->io, "250-%s\r\n", s->conf->myhostname);
	iobuf_puts(&s->io, "250-PIPELINING\r\n");
	if (s->conf->message_size_limit > 0)
		iobuf_printf(&s->io, "250-SIZE %lld\r\n",
		    s->conf->message_size_limit);
	else
		iobuf_puts(&s->io, "250-SIZE\r\n");
	if (s->conf->tls_ctx != NULL && !s->tls)
		iobuf_puts(&s->io, "250-STARTTLS\r\n");
	if ((mechs = smtpd_auth_offered(s)) != NULL)
		iobuf_printf(&s->io, "250-AUTH %s\r\n", mechs);
	iobuf_puts(&s->io, "250-ENHANCEDSTATUSCODES\r\n");
	iobuf_puts(&s->io, "250-8BITMIME\r\n");
	iobuf_puts(&s->io, "250-DSN\r\n");
	if (s->conf->smtputf8)
		iobuf_puts(&s->io, "250-SMTPUTF8\r\n");
	smtpd_reply(s, "250 CHUNKING");
	return 0;
}

static int
smtpd_helo(struct smtpd_session *s, const char *args, size_t len)
{
	return smtpd_hello(s, args, len, 0);
}

static int
smtpd_ehlo(struct smtpd_session *s, const char *args, size_t len)
{
	return smtpd_hello(s, args, len, 1);
}

static int
smtpd_rset(struct smtpd_session *s, const char *args, size_t len)
{
	if (len != 0) {
		smtpd_reply(s, "501 5.5.4 Syntax: RSET");
		return -1;
	}
	smtpd_transaction_reset(s);
	smtpd_reply(s, "250 2.0.0 Ok");
	return 0;
}

static int
smtpd_noop(struct smtpd_session *s, const char *args, size_t len)
{
	smtpd_reply(s, "250 2.0.0 Ok");
	return 0;
}

static int
smtpd_vrfy(struct smtpd_session *s, const char *args, size_t len)
{
	if (len == 0) {
		smtpd_reply(s, "501 5.5.4 Syntax: VRFY address");
		return -1;
	}
	smtpd_reply(s, "252 2.0.0 Cannot VRFY user, but will accept message "
	    "and attempt delivery");
	return 0;
}

static int
smtpd_expn(struct smtpd_session *s, const char *args, size_t len)
{
	(void)args;
	(void)len;
	smtpd_reply(s, "502 5.5.1 Error: command not implemented");
	return -1;
}

static int
smtpd_help(struct smtpd_session *s, const char *args, size_t len)
{
	(void)args;
	(void)len;
	smtpd_reply(s, "214 2.0.0 Commands: HELO EHLO STARTTLS AUTH MAIL RCPT "
	    "DATA BDAT RSET NOOP VRFY HELP QUIT");
	return 0;
}

static int
smtpd_quit(struct smtpd_session *s, const char *args, size_t len)
{
	smtpd_reply(s, "221 2.0.0 Bye");
	s->quit = 1;
	return 0;
}

static const struct smtpd_command *
smtpd_lookup(const char *verb)
{
	size_t i;

	for (i = 0; i < SMTPD_CMD_UNKNOWN; i++)
		if (strcmp(smtpd_commands[i].verb, verb) == 0)
			return &smtpd_commands[i];
	return NULL;
}

/* smtpd_read_command: 1 with a line, 0 after a refusal, -1 when gone. */
static int
smtpd_read_command(struct smtpd_session *s)
{
	int rc;

	/* Flush before we would block, not between pipelined commands. */
	if ((s->io.in.len == 0 ||
	    memchr(s->io.in.data, '\n', s->io.in.len) == NULL) &&
	    smtpd_flush(s) == -1)
		return -1;
	smtpd_deadline_start(s);
	rc = iobuf_getline(&s->io, &s->line,
	    (size_t)s->conf->line_length_limit);
	if (rc == IO_LINE)
		return 1;
	if (rc == IO_TOOLONG) {
		smtpd_reply(s, "500 5.5.2 Error: line too long");
		return 0;
	}
	smtpd_io_failed(s, rc);
	return -1;
}

/*
 * An HTTP client (or a proxy probe) talking to port 25: CONNECT, GET,
 * POST, or a header line "Name: value". Postfix's smtpd_forbidden_commands.
 */
static int
smtpd_http(struct smtpd_session *s)
{
	static const char *verbs[] = { "CONNECT", "GET", "POST", NULL };
	const char *line = s->line.data;
	size_t n = strcspn(line, " \t\r\n"), i;

	for (i = 0; verbs[i] != NULL; i++)
		if (n == strlen(verbs[i]) && strncasecmp(line, verbs[i], n) == 0)
			break;
	if (verbs[i] == NULL && (n < 2 || line[n - 1] != ':'))
		return 0;
	log_warnx("non-SMTP command from %s[%s]: %.100s", s->client_name,
	    s->client_addr, line);
	smtpd_reply(s, "221 2.7.0 Error: I can break rules, too. Goodbye.");
	s->quit = 1;
	return 1;
}

/*
 * smtpd_sync_violation: input behind a command that must end a pipelined
 * group (RFC 2920 3.1), or pipelining from a client that never saw our
 * PIPELINING. Logged; with hangup (always for DATA: content before 354,
 * else smtpd_forbid_unauth_pipelining) the session ends with 554.
 */
static int
smtpd_sync_violation(struct smtpd_session *s, const char *verb, int hangup)
{
	char peek[SMTPD_PEEK_MAX + 1];
	size_t n, i;

	if (!smtpd_input_pending(s))
		return 0;
	n = s->io.in.len < SMTPD_PEEK_MAX ? s->io.in.len : SMTPD_PEEK_MAX;
	for (i = 0; i < n && s->io.in.data[i] != '\r' &&
	    s->io.in.data[i] != '\n'; i++)
		peek[i] = (unsigned char)s->io.in.data[i] < 0x20 ||
		    (unsigned char)s->io.in.data[i] >= 0x7f ? '?' :
		    s->io.in.data[i];
	peek[i] = '\0';
	if (!s->ill_pipelining || hangup)
		log_info("improper command pipelining after %s from %s[%s]: "
		    "%s", verb, s->client_name, s->client_addr, peek);
	s->ill_pipelining = 1;
	if (!hangup)
		return 0;
	smtpd_reply(s, "554 5.5.0 Error: SMTP protocol synchronization");
	s->quit = 1;
	return 1;
}

static void
smtpd_dispatch(struct smtpd_session *s)
{
	const struct smtpd_command *c;
	struct smtp_command cmd;
	const char *refusal;
	int rc, idx;

	if (smtpd_http(s))
		return;
	if (line_chomp(&s->line) != 2 ||
	    memchr(s->line.data, '\r', s->line.len) != NULL) {
		smtpd_reply(s, "500 5.5.2 Error: bare <CR> or <LF> received");
		return;
	}
	rc = smtp_command_parse(s->line.data, s->line.len, &cmd);
	if (rc == SMTP_CMD_BADCHAR || rc == SMTP_CMD_EMPTY) {
		smtpd_reply(s, "500 5.5.2 Error: bad syntax");
		return;
	}
	log_debug("< %s[%s]: %s", s->client_name, s->client_addr, s->line.data);
	if (rc != SMTP_CMD_OK || (c = smtpd_lookup(cmd.verb)) == NULL) {
		s->where = "UNKNOWN";
		s->cmd_total[SMTPD_CMD_UNKNOWN]++;
		smtpd_reply(s, "502 5.5.2 Error: command not recognized");
		return;
	}
	idx = (int)(c - smtpd_commands);
	s->where = c->verb;
	s->cmd_total[idx]++;
	if (((c->flags & SMTPD_CMD_LAST) || !s->esmtp) && idx !=
	    SMTPD_CMD_QUIT && smtpd_sync_violation(s, c->verb,
	    idx == SMTPD_CMD_DATA || s->conf->forbid_unauth_pipelining))
		return;
	if ((c->flags & SMTPD_CMD_JUNK) &&
	    ++s->junk > s->conf->junk_command_limit)
		s->errors++;
	if (!(c->flags & SMTPD_CMD_CLEAR) &&
	    (refusal = smtpd_tls_required(s)) != NULL) {
		smtpd_reply(s, "%s", refusal);
		return;
	}
	if (c->check != NULL && (refusal = c->check(s)) != NULL) {
		smtpd_reply(s, "%s", refusal);
		return;
	}
	if (c->handler(s, cmd.args, cmd.args_len) == 0)
		s->cmd_ok[idx]++;
}

static void
smtpd_log_disconnect(struct smtpd_session *s)
{
	unsigned int ok = 0, total = 0;
	struct buf line;
	int i;

	buf_init(&line);
	buf_printf(&line, "disconnect from %s[%s]", s->client_name,
	    s->client_addr);
	for (i = 0; i < SMTPD_NCMDS; i++) {
		if (s->cmd_total[i] == 0)
			continue;
		buf_printf(&line, " %s=%u", i == SMTPD_CMD_UNKNOWN ? "unknown" :
		    smtpd_commands[i].name, s->cmd_ok[i]);
		if (s->cmd_ok[i] != s->cmd_total[i])
			buf_printf(&line, "/%u", s->cmd_total[i]);
		ok += s->cmd_ok[i];
		total += s->cmd_total[i];
	}
	if (ok == total && total > 0)
		buf_printf(&line, " commands=%u", ok);
	else
		buf_printf(&line, " commands=%u/%u", ok, total);
	log_info("%s", line.data);
	buf_free(&line);
}

/*
 * smtpd_client_limit_hit: 0 when this IP may have a session (a slot is
 * taken), else 1 (too many sessions) or 2 (too often), *count the count.
 */
static int
smtpd_client_limit_hit(struct smtpd_session *s, long long *count)
{
	if (smtpd_rate_enter(s, count) == -1)
		return 2;
	return smtpd_conn_enter(s, count) == 0 ? 0 : 1;
}

static void
smtpd_client_limit_refuse(struct smtpd_session *s, int hit, long long count)
{
	if (hit == 2)
		log_warnx("Connection rate limit exceeded: %lld from %s[%s] "
		    "for service smtp", count, s->client_name, s->client_addr);
	else
		log_warnx("Connection concurrency limit exceeded: %lld from "
		    "%s[%s] for service smtp", count, s->client_name,
		    s->client_addr);
	smtpd_reply(s, "421 4.7.0 %s Error: too many connections from %s",
	    s->conf->myhostname, s->client_addr);
}

void
smtpd_session(int fd, void *ctx)
{
	struct smtpd_conf *conf = ctx;
	struct smtpd_session *s;
	char where[64];
	long long count;
	int hit, greeted;

	s = xcalloc(1, sizeof(*s));
	s->conf = conf;
	s->where = "CONNECT";
	s->conn_slot = -1;
	iobuf_init(&s->io, fd, (int)s->conf->timeout);
	smtpd_io_init(s);
	buf_init(&s->line);
	smtpd_peer(s, fd);
	s->trusted = s->have_ip && netaddr_list_match(s->conf->mynetworks,
	    &s->client_ip);
	/*
	 * On a plain connection the greeting goes out before the name is
	 * looked up, so the DNS round trips overlap the client's own (its
	 * EHLO waits in the socket meanwhile); nothing before the first
	 * command needs the name but the log lines, which wait for it. A
	 * refused client is looked up first, as its warning names it, and so
	 * is one on the TLS wrapper port, whose handshake logs the name.
	 */
	hit = smtpd_client_limit_hit(s, &count);
	greeted = hit == 0 && !s->conf->tls_wrapper;
	if (greeted) {
		smtpd_reply(s, "220 %s", s->conf->banner);
		(void)smtpd_flush(s);
	}
	smtpd_peer_lookup(s);
	log_info("connect from %s[%s]", s->client_name, s->client_addr);
	if (hit != 0) {
		smtpd_client_limit_refuse(s, hit, count);
		s->quit = 1;
	} else if (!greeted) {
		if (smtpd_tls_wrapper(s) == -1)
			s->quit = 1;
		else
			smtpd_reply(s, "220 %s", s->conf->banner);
	}
	while (!s->quit && !s->dead && smtpd_read_command(s) >= 0) {
		if (s->line.len > 0)
			smtpd_dispatch(s);
		buf_reset(&s->line);
		if (s->errors >= s->conf->hard_error_limit && !s->dead) {
			log_info("too many errors after %s from %s[%s]",
			    smtpd_where(s, where, sizeof(where)),
			    s->client_name, s->client_addr);
			smtpd_reply(s, "421 4.7.0 %s Error: too many errors",
			    s->conf->myhostname);
			break;
		}
	}
	(void)smtpd_flush(s);
	smtpd_transaction_reset(s);
	smtpd_log_disconnect(s);
	smtpd_conn_leave(s);
	tls_server_end(&s->io);
	close(fd);
	iobuf_free(&s->io);
	buf_free(&s->line);
	free(s);
	/* A rebuilt map: exit, master starts a smtpd that opens the new one. */
	if (map_list_changed(conf->virtual_mailbox_maps) ||
	    map_list_changed(conf->virtual_domain_maps) ||
	    map_list_changed(conf->virtual_alias_maps) ||
	    (conf->alias_maps && map_list_changed(conf->alias_maps))) {
		log_info("a lookup table has changed -- restarting");
		exit(0);
	}
}
