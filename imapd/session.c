/*
 * session: one IMAP client from greeting to logout. Input goes through
 * the byte-fed reader (literals are sized before they are read); each
 * whole command is parsed and run from the command table, which says in
 * which states it is valid. A handler leaves its tagged reply in
 * s->tagged, so the untagged updates of the selected mailbox go first.
 * Commands of any state: CAPABILITY, NOOP, LOGOUT, ID, ENABLE, NAMESPACE.
 * Limits: imapd_hard_error_limit, imapd_login_timeout, imapd_idle_timeout.
 */
#include <sys/socket.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/netaddr.h"
#include "imapd/imapd.h"
#include "tls/tls_server.h"

struct imap_cmd {
	const char *name;
	int	 states;
	int	 sync;		/* may send EXPUNGE when done */
	int	(*handler)(struct imap_session *, struct imap_command *);
};

#define ANY	(IMAP_STATE_NOTAUTH | IMAP_STATE_AUTH | IMAP_STATE_SELECTED)
#define AUTHED	(IMAP_STATE_AUTH | IMAP_STATE_SELECTED)
#define SEL	IMAP_STATE_SELECTED

static const struct imap_cmd imap_cmds[] = {
	{ "APPEND", AUTHED, 1, imap_cmd_append },
	{ "AUTHENTICATE", IMAP_STATE_NOTAUTH, 0, imap_cmd_authenticate },
	{ "CAPABILITY", ANY, 1, imap_cmd_capability },
	{ "CHECK", SEL, 1, imap_cmd_check },
	{ "CLOSE", SEL, 0, imap_cmd_close },
	{ "COPY", SEL, 0, imap_cmd_copy },
	{ "CREATE", AUTHED, 1, imap_cmd_create },
	{ "DELETE", AUTHED, 1, imap_cmd_delete },
	{ "ENABLE", AUTHED, 1, imap_cmd_enable },
	{ "EXAMINE", AUTHED, 0, imap_cmd_select },
	{ "EXPUNGE", SEL, 1, imap_cmd_expunge },
	{ "FETCH", SEL, 0, imap_cmd_fetch },
	{ "ID", ANY, 1, imap_cmd_id },
	{ "IDLE", AUTHED, 1, imap_cmd_idle },
	{ "LIST", AUTHED, 1, imap_cmd_list },
	{ "LOGIN", IMAP_STATE_NOTAUTH, 0, imap_cmd_login },
	{ "LOGOUT", ANY, 0, imap_cmd_logout },
	{ "LSUB", AUTHED, 1, imap_cmd_lsub },
	{ "MOVE", SEL, 1, imap_cmd_move },
	{ "NAMESPACE", AUTHED, 1, imap_cmd_namespace },
	{ "NOOP", ANY, 1, imap_cmd_noop },
	{ "RENAME", AUTHED, 1, imap_cmd_rename },
	{ "SEARCH", SEL, 0, imap_cmd_search },
	{ "SELECT", AUTHED, 0, imap_cmd_select },
	{ "STARTTLS", IMAP_STATE_NOTAUTH, 0, imap_cmd_starttls },
	{ "STATUS", AUTHED, 1, imap_cmd_status },
	{ "STORE", SEL, 0, imap_cmd_store },
	{ "SUBSCRIBE", AUTHED, 1, imap_cmd_subscribe },
	{ "UID", SEL, 1, imap_cmd_uid },
	{ "UNSELECT", SEL, 0, imap_cmd_unselect },
	{ "UNSUBSCRIBE", AUTHED, 1, imap_cmd_unsubscribe },
};

static void	imap_session_init(struct imap_session *, struct imapd *, int);
static void	imap_session_loop(struct imap_session *);
static int	imap_session_read(struct imap_session *);
static int	imap_session_input(struct imap_session *);
static int	imap_dispatch(struct imap_session *);
static const struct imap_cmd *imap_cmd_find(const char *);
static int	imap_flush(struct imap_session *);
static void	imap_session_log_end(struct imap_session *);

void
imap_session(int fd, struct imapd *d)
{
	struct imap_session s;
	struct buf caps;

	imap_session_init(&s, d, fd);
	if (!d->tls_wrapper || imap_tls_wrapper(&s) == 0) {
		buf_init(&caps);
		imap_capabilities(&s, &caps);
		iobuf_printf(&s.io, "* OK [CAPABILITY %s] %s ready.\r\n",
		    caps.data, config_get(d->cfg, "mail_name"));
		buf_free(&caps);
		imap_session_loop(&s);
	}
	imap_session_log_end(&s);
	imap_unselect(&s);
	if (s.homefd != -1)
		close(s.homefd);
	if (s.tls)
		tls_server_end(&s.io);
	imap_reader_free(&s.rd);
	buf_free(&s.tagged);
	iobuf_free(&s.io);
	close(fd);
}

static void
imap_session_init(struct imap_session *s, struct imapd *d, int fd)
{
	memset(s, 0, sizeof(*s));
	s->d = d;
	s->state = IMAP_STATE_NOTAUTH;
	s->homefd = -1;
	s->mdfd = -1;
	s->start = time(NULL);
	s->reason = "Connection closed";
	iobuf_init(&s->io, fd, d->login_timeout);
	buf_reserve(&s->io.in, 1);
	imap_reader_init(&s->rd, &d->lim_pre);
	buf_init(&s->tagged);
	netaddr_socket_format(fd, 1, s->rip, sizeof(s->rip));
	netaddr_socket_format(fd, 0, s->lip, sizeof(s->lip));
}

static void
imap_session_loop(struct imap_session *s)
{
	int rc;

	while (!s->broken) {
		if (s->io.in.len == 0 && imap_session_read(s) == IMAP_CMD_CLOSE)
			break;
		rc = imap_session_input(s);
		if (rc == IMAP_CMD_CLOSE)
			break;
		if (rc == IMAP_CMD_BAD &&
		    ++s->bad_commands >= s->d->error_limit) {
			iobuf_puts(&s->io, "* BYE Too many invalid IMAP "
			    "commands.\r\n");
			s->reason = "Too many invalid IMAP commands";
			break;
		}
	}
	if (!s->broken)
		(void)imap_flush(s);
}

/* Flush what we owe the client, then wait for more of its input. */
static int
imap_session_read(struct imap_session *s)
{
	ssize_t n;

	if (imap_flush(s) != 0)
		return IMAP_CMD_CLOSE;
	s->io.timeout = s->state == IMAP_STATE_NOTAUTH ? s->d->login_timeout :
	    s->d->idle_timeout;
	n = iobuf_fill(&s->io);
	if (n > 0)
		return IMAP_CMD_OK;
	if (n == IO_TIMEOUT) {
		iobuf_puts(&s->io, "* BYE Disconnected for inactivity.\r\n");
		s->reason = "Inactivity";
	} else
		s->broken = 1;
	return IMAP_CMD_CLOSE;
}

/* Feed buffered input to the reader and act on what it says. */
static int
imap_session_input(struct imap_session *s)
{
	size_t used;
	int rc;

	rc = imap_reader_feed(&s->rd, s->io.in.data, s->io.in.len, &used);
	s->in_bytes += used;
	buf_consume(&s->io.in, used);
	switch (rc) {
	case IMAP_READ_MORE:
		return IMAP_CMD_OK;
	case IMAP_READ_CONT:
		iobuf_puts(&s->io, "+ OK\r\n");
		return imap_flush(s) == 0 ? IMAP_CMD_OK : IMAP_CMD_CLOSE;
	case IMAP_READ_BAD:
		iobuf_printf(&s->io, "%s BAD %s\r\n", s->rd.tag, s->rd.error);
		return IMAP_CMD_BAD;
	case IMAP_READ_FATAL:
		if (strcmp(s->rd.tag, "*") != 0)
			iobuf_printf(&s->io, "%s BAD %s\r\n", s->rd.tag,
			    s->rd.error);
		iobuf_printf(&s->io, "* BYE %s\r\n", s->rd.error);
		s->reason = s->rd.error;
		return IMAP_CMD_CLOSE;
	default:
		return imap_dispatch(s);
	}
}

static int
imap_dispatch(struct imap_session *s)
{
	struct imap_command cmd;
	const struct imap_cmd *c;
	int rc, was_selected;

	if (s->rd.cmd.len <= 2 && strspn(s->rd.cmd.data, "\r\n") ==
	    s->rd.cmd.len)
		return IMAP_CMD_OK;	/* an empty line */
	if (imap_parse(s->rd.cmd.data, s->rd.cmd.len, s->rd.lim, &cmd) == -1) {
		iobuf_printf(&s->io, "%s BAD %s\r\n", cmd.tag, cmd.error);
		imap_command_free(&cmd);
		return IMAP_CMD_BAD;
	}
	explicit_bzero(s->rd.cmd.data, s->rd.cmd.len);	/* LOGIN */
	buf_reset(&s->tagged);
	if ((c = imap_cmd_find(cmd.name)) == NULL) {
		imap_reply(s, &cmd, "BAD Unknown command.");
		rc = IMAP_CMD_BAD;
	} else if ((c->states & s->state) == 0) {
		imap_reply(s, &cmd, "BAD %s", s->state == IMAP_STATE_NOTAUTH ?
		    "Not logged in." : c->states == IMAP_STATE_NOTAUTH ?
		    "Already logged in." : "No mailbox selected.");
		rc = IMAP_CMD_BAD;
	} else {
		was_selected = s->state == IMAP_STATE_SELECTED;
		s->deadline = time(NULL) + s->d->command_time;
		rc = c->handler(s, &cmd);
		if (c->sync && was_selected && s->state == IMAP_STATE_SELECTED)
			imap_sync(s, 1);
	}
	if (s->tagged.len > 0)
		iobuf_write(&s->io, s->tagged.data, s->tagged.len);
	imap_command_free(&cmd);
	if (rc != IMAP_CMD_CLOSE && imap_flush_if_full(s) == -1)
		return IMAP_CMD_CLOSE;
	return rc;
}

static const struct imap_cmd *
imap_cmd_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(imap_cmds) / sizeof(imap_cmds[0]); i++)
		if (strcmp(imap_cmds[i].name, name) == 0)
			return &imap_cmds[i];
	return NULL;
}

void
imap_reply(struct imap_session *s, const struct imap_command *cmd,
    const char *fmt, ...)
{
	va_list ap;
	char *text;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) == -1)
		fatal("imapd: vasprintf");
	va_end(ap);
	buf_reset(&s->tagged);
	buf_printf(&s->tagged, "%s %s\r\n", cmd->tag, text);
	free(text);
}

static int
imap_flush(struct imap_session *s)
{
	s->out_bytes += s->io.out.len;
	if (iobuf_flush(&s->io) != 0) {
		s->broken = 1;
		return -1;
	}
	return 0;
}

int
imap_overtime(const struct imap_session *s)
{
	return time(NULL) > s->deadline;
}

int
imap_flush_if_full(struct imap_session *s)
{
	if (s->broken)
		return -1;
	if (s->io.out.len < IMAPD_OUTBUF_FLUSH)
		return 0;
	return imap_flush(s);
}

void
imap_capabilities(struct imap_session *s, struct buf *b)
{
	buf_puts(b, "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE");
	if (s->state != IMAP_STATE_NOTAUTH) {
		buf_puts(b, " UNSELECT CHILDREN NAMESPACE UIDPLUS MOVE "
		    "LITERAL+ CONDSTORE QRESYNC ESEARCH LIST-EXTENDED "
		    "LIST-STATUS SPECIAL-USE");
		/* RFC 7889: the largest message APPEND takes. */
		buf_printf(b, " APPENDLIMIT=%zu", s->d->lim_auth.literal_max);
		return;
	}
	buf_puts(b, " LITERAL-");
	if (s->d->tls_ctx != NULL && !s->tls)
		buf_puts(b, " STARTTLS");
	buf_puts(b, imap_login_allowed(s) ? " AUTH=PLAIN" : " LOGINDISABLED");
}

int
imap_cmd_capability(struct imap_session *s, struct imap_command *cmd)
{
	struct buf b;

	if (cmd->nargs != 0) {
		imap_reply(s, cmd, "BAD CAPABILITY takes no arguments.");
		return IMAP_CMD_BAD;
	}
	buf_init(&b);
	imap_capabilities(s, &b);
	iobuf_printf(&s->io, "* CAPABILITY %s\r\n", b.data);
	buf_free(&b);
	imap_reply(s, cmd, "OK Pre-login capabilities listed, post-login "
	    "capabilities have more.");
	if (s->state != IMAP_STATE_NOTAUTH)
		imap_reply(s, cmd, "OK Capability completed.");
	return IMAP_CMD_OK;
}

int
imap_cmd_noop(struct imap_session *s, struct imap_command *cmd)
{
	imap_reply(s, cmd, "OK NOOP completed.");
	return IMAP_CMD_OK;
}

int
imap_cmd_logout(struct imap_session *s, struct imap_command *cmd)
{
	iobuf_puts(&s->io, "* BYE Logging out\r\n");
	imap_reply(s, cmd, "OK Logout completed.");
	s->reason = "Logged out";
	return IMAP_CMD_CLOSE;
}

/* RFC 2971: accept any well-formed list, answer with our name. */
int
imap_cmd_id(struct imap_session *s, struct imap_command *cmd)
{
	if (cmd->nargs != 1 || (cmd->args[0].type != IMAP_ARG_LIST &&
	    !imap_arg_is(&cmd->args[0], "NIL"))) {
		imap_reply(s, cmd, "BAD ID takes a list or NIL.");
		return IMAP_CMD_BAD;
	}
	iobuf_printf(&s->io, "* ID (\"name\" \"%s\")\r\n",
	    config_get(s->d->cfg, "mail_name"));
	imap_reply(s, cmd, "OK ID completed.");
	return IMAP_CMD_OK;
}

/* RFC 5161: CONDSTORE and QRESYNC (which implies CONDSTORE). */
int
imap_cmd_enable(struct imap_session *s, struct imap_command *cmd)
{
	struct buf b;
	size_t i;

	if (cmd->nargs == 0) {
		imap_reply(s, cmd, "BAD ENABLE takes capability names.");
		return IMAP_CMD_BAD;
	}
	buf_init(&b);
	buf_puts(&b, "* ENABLED");
	for (i = 0; i < cmd->nargs; i++) {
		if (imap_arg_is(&cmd->args[i], "CONDSTORE") && !s->condstore) {
			s->condstore = 1;
			buf_puts(&b, " CONDSTORE");
		} else if (imap_arg_is(&cmd->args[i], "QRESYNC") &&
		    !s->qresync) {
			s->qresync = s->condstore = 1;
			buf_puts(&b, " QRESYNC");
		}
	}
	buf_puts(&b, "\r\n");
	iobuf_write(&s->io, b.data, b.len);
	buf_free(&b);
	imap_reply(s, cmd, "OK Enabled.");
	return IMAP_CMD_OK;
}

int
imap_cmd_namespace(struct imap_session *s, struct imap_command *cmd)
{
	iobuf_puts(&s->io, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
	imap_reply(s, cmd, "OK Namespace completed.");
	return IMAP_CMD_OK;
}

/* Dovecot's shapes: imap(user) after login, imap-login before. */
static void
imap_session_log_end(struct imap_session *s)
{
	long long secs = (long long)(time(NULL) - s->start);
	const char *sep = ": ", *why = s->reason, *tls = s->tls ? ", TLS" : "";

	if (s->state != IMAP_STATE_NOTAUTH) {
		if (strcmp(why, "Logged out") == 0)
			log_info("imap(%s): Logged out in=%llu out=%llu",
			    s->user, s->in_bytes, s->out_bytes);
		else
			log_info("imap(%s): Disconnected: %s in=%llu out=%llu",
			    s->user, why, s->in_bytes, s->out_bytes);
		return;
	}
	if (strcmp(why, "Logged out") == 0 ||
	    strcmp(why, "Connection closed") == 0)
		sep = why = "";
	if (s->auth_attempts > 0)
		log_info("imap-login: Disconnected%s%s (auth failed, %lld "
		    "attempts in %lld secs): user=<%s>, method=PLAIN, rip=%s, "
		    "lip=%s%s", sep, why, s->auth_attempts, secs, s->user,
		    s->rip, s->lip, tls);
	else
		log_info("imap-login: Disconnected%s%s (no auth attempts in "
		    "%lld secs): user=<%s>, rip=%s, lip=%s%s", sep, why, secs,
		    s->user, s->rip, s->lip, tls);
}
