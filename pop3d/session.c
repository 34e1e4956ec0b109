/*
 * session: one POP3 client from greeting to disconnect. The read loop
 * answers pipelined commands in order and flushes once the input holds no
 * whole line; the command table says which state allows which verb.
 * Limits: pop3d_line_length_limit, pop3d_hard_error_limit, pop3d_timeout.
 * Logs the disconnect in Dovecot's shapes (fail2ban's dovecot filter).
 * With pop3d_tls_wrappermode the TLS handshake comes before the greeting.
 */
#include <sys/socket.h>
#include <netdb.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/netaddr.h"
#include "pop3d/pop3d.h"

struct pop3_cmd {
	const char *verb;
	int	 states;
	int	(*handler)(struct pop3_session *, const struct pop3_command *);
};

#define POP3_STATES_ANY	(POP3_STATE_AUTH | POP3_STATE_TRANS)

/* Sorted by verb. */
static const struct pop3_cmd pop3_cmds[] = {
	{ "AUTH", POP3_STATE_AUTH, pop3_cmd_auth },
	{ "CAPA", POP3_STATES_ANY, pop3_cmd_capa },
	{ "DELE", POP3_STATE_TRANS, pop3_cmd_dele },
	{ "LIST", POP3_STATE_TRANS, pop3_cmd_list },
	{ "NOOP", POP3_STATE_TRANS, pop3_cmd_noop },
	{ "PASS", POP3_STATE_AUTH, pop3_cmd_pass },
	{ "QUIT", POP3_STATES_ANY, pop3_cmd_quit },
	{ "RETR", POP3_STATE_TRANS, pop3_cmd_retr },
	{ "RSET", POP3_STATE_TRANS, pop3_cmd_rset },
	{ "STAT", POP3_STATE_TRANS, pop3_cmd_stat },
	{ "STLS", POP3_STATE_AUTH, pop3_cmd_stls },
	{ "TOP", POP3_STATE_TRANS, pop3_cmd_top },
	{ "UIDL", POP3_STATE_TRANS, pop3_cmd_uidl },
	{ "USER", POP3_STATE_AUTH, pop3_cmd_user },
};

static void	pop3_session_init(struct pop3_session *, struct pop3d *, int);
static void	pop3_session_loop(struct pop3_session *);
static int	pop3_dispatch(struct pop3_session *, struct buf *);
static const struct pop3_cmd *pop3_cmd_find(const char *);
static int	pop3_input_has_line(const struct iobuf *);
static void	pop3_session_size(struct pop3_session *);
static void	pop3_session_log_end(struct pop3_session *);

void
pop3_session(int fd, struct pop3d *d)
{
	struct pop3_session s;

	pop3_session_init(&s, d, fd);
	if (!d->tls_wrapper || pop3_tls_wrapper(&s) == 0) {
		iobuf_printf(&s.io, "+OK %s ready.\r\n",
		    config_get(d->cfg, "mail_name"));
		pop3_session_loop(&s);
	}
	if (s.state == POP3_STATE_TRANS)
		pop3_mailbox_mark_old(&s);
	pop3_session_log_end(&s);
	pop3_mailbox_close(&s);
	if (s.tls)
		tls_server_end(&s.io);
	iobuf_free(&s.io);
	close(fd);
}

static void
pop3_session_init(struct pop3_session *s, struct pop3d *d, int fd)
{
	memset(s, 0, sizeof(*s));
	s->d = d;
	s->state = POP3_STATE_AUTH;
	s->mdfd = -1;
	s->lockfd = -1;
	s->size_all = -1;
	s->start = time(NULL);
	s->reason = "Connection closed";
	s->method = "PLAIN";
	iobuf_init(&s->io, fd, d->timeout);
	/* iobuf_getline would memchr(NULL, 0) on a never-filled buffer. */
	buf_reserve(&s->io.in, 1);
	netaddr_socket_format(fd, 1, s->rip, sizeof(s->rip));
	netaddr_socket_format(fd, 0, s->lip, sizeof(s->lip));
}

static void
pop3_session_loop(struct pop3_session *s)
{
	struct buf line;
	int rc;

	buf_init(&line);
	while (!s->broken) {
		/* Pipelining: answer everything already received in one go. */
		if (!pop3_input_has_line(&s->io) && iobuf_flush(&s->io) != 0) {
			s->broken = 1;
			break;
		}
		rc = iobuf_getline(&s->io, &line, s->d->line_max);
		rc = rc == IO_LINE ? pop3_dispatch(s, &line) :
		    pop3_session_io(s, rc);
		if (line.data != NULL)
			explicit_bzero(line.data, line.len);	/* PASS */
		if (rc == POP3_CMD_CLOSE)
			break;
		if (rc == POP3_CMD_BAD &&
		    ++s->bad_commands >= s->d->error_limit) {
			iobuf_puts(&s->io, "-ERR Too many bad commands.\r\n");
			s->reason = "Too many invalid commands";
			break;
		}
	}
	if (!s->broken)
		(void)iobuf_flush(&s->io);
	buf_free(&line);
}

/* Anything iobuf_getline returns besides a line. */
int
pop3_session_io(struct pop3_session *s, int rc)
{
	switch (rc) {
	case IO_TOOLONG:
		iobuf_puts(&s->io, "-ERR Line too long.\r\n");
		return POP3_CMD_BAD;
	case IO_TIMEOUT:
		iobuf_puts(&s->io, "-ERR Disconnected for inactivity.\r\n");
		s->reason = "Inactivity";
		return POP3_CMD_CLOSE;
	default:
		s->broken = 1;	/* EOF or error: RFC 1939 says no UPDATE */
		return POP3_CMD_CLOSE;
	}
}

static int
pop3_dispatch(struct pop3_session *s, struct buf *line)
{
	struct pop3_command cmd;
	const struct pop3_cmd *c;

	line_chomp(line);
	switch (pop3_command_parse(line->data, line->len, &cmd)) {
	case POP3_PARSE_OK:
		break;
	case POP3_PARSE_BADCHAR:
		iobuf_puts(&s->io, "-ERR Invalid characters in command.\r\n");
		return POP3_CMD_BAD;
	default:
		iobuf_puts(&s->io, "-ERR Unknown command.\r\n");
		return POP3_CMD_BAD;
	}
	if ((c = pop3_cmd_find(cmd.verb)) == NULL) {
		iobuf_printf(&s->io, "-ERR Unknown command: %s\r\n", cmd.verb);
		return POP3_CMD_BAD;
	}
	if ((c->states & s->state) == 0) {
		iobuf_puts(&s->io, s->state == POP3_STATE_AUTH ?
		    "-ERR Not logged in.\r\n" : "-ERR Already logged in.\r\n");
		return POP3_CMD_BAD;
	}
	return c->handler(s, &cmd);
}

static const struct pop3_cmd *
pop3_cmd_find(const char *verb)
{
	size_t i;

	for (i = 0; i < sizeof(pop3_cmds) / sizeof(pop3_cmds[0]); i++)
		if (strcmp(pop3_cmds[i].verb, verb) == 0)
			return &pop3_cmds[i];
	return NULL;
}

static int
pop3_input_has_line(const struct iobuf *io)
{
	return io->in.len > 0 && memchr(io->in.data, '\n', io->in.len) != NULL;
}

int
pop3_flush_if_full(struct pop3_session *s)
{
	if (s->broken)
		return -1;
	if (s->io.out.len < POP3D_OUTBUF_FLUSH)
		return 0;
	if (iobuf_flush(&s->io) != 0) {
		s->broken = 1;
		return -1;
	}
	return 0;
}

int
pop3_cmd_capa(struct pop3_session *s, const struct pop3_command *cmd)
{
	(void)cmd;
	iobuf_puts(&s->io, "+OK Capability list follows\r\n"
	    "CAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\n"
	    "AUTH-RESP-CODE\r\n");
	/* Dovecot's order; no plaintext mechanism where it would be refused. */
	if (pop3_tls_offered(s))
		iobuf_puts(&s->io, "STLS\r\n");
	if (s->state == POP3_STATE_AUTH && pop3_login_allowed(s))
		iobuf_puts(&s->io, "USER\r\nSASL PLAIN LOGIN\r\n");
	iobuf_printf(&s->io, "IMPLEMENTATION %s\r\n.\r\n",
	    config_get(s->d->cfg, "mail_name"));
	return POP3_CMD_OK;
}

/* QUIT: in TRANSACTION this is the UPDATE state (RFC 1939 section 6). */
int
pop3_cmd_quit(struct pop3_session *s, const struct pop3_command *cmd)
{
	int rc = 0;

	(void)cmd;
	s->reason = "Logged out";
	if (s->state == POP3_STATE_TRANS) {
		/* The log's size= is the mailbox before the deletions. */
		pop3_session_size(s);
		rc = pop3_mailbox_update(s);
		pop3_mailbox_mark_old(s);
		/*
		 * Unlock before the reply: a client that logs in again right
		 * after QUIT must not get [IN-USE] from its own last session.
		 */
		pop3_mailbox_unlock(s);
	}
	if (rc == -1)
		iobuf_puts(&s->io, "-ERR [SYS/TEMP] Some deleted messages "
		    "were not removed.\r\n");
	else
		iobuf_puts(&s->io, "+OK Logging out.\r\n");
	return POP3_CMD_CLOSE;
}

/* The as-sent size of the whole snapshot, once, for the log line. */
static void
pop3_session_size(struct pop3_session *s)
{
	if (s->size_all < 0 && pop3_mailbox_octets(s, 1, &s->size_all) == -1)
		s->size_all = 0;
}

static void
pop3_session_log_end(struct pop3_session *s)
{
	long long secs = (long long)(time(NULL) - s->start);
	const char *sep = ": ", *why = s->reason;
	const char *tls = s->tls ? ", TLS" : "";

	if (s->state == POP3_STATE_TRANS) {
		pop3_session_size(s);
		log_info("pop3(%s): Disconnected: %s top=%lu/%lld, "
		    "retr=%lu/%lld, del=%lu/%zu, size=%lld", s->user, s->reason,
		    s->stats.top, (long long)s->stats.top_bytes,
		    s->stats.retr, (long long)s->stats.retr_bytes,
		    s->stats.del, s->nmsgs, (long long)s->size_all);
		return;
	}
	/* Dovecot writes a plain "Disconnected" for a client's own leaving. */
	if (strcmp(why, "Logged out") == 0 ||
	    strcmp(why, "Connection closed") == 0)
		sep = why = "";
	if (s->auth_attempts > 0)
		log_info("pop3-login: Disconnected%s%s (auth failed, %lld "
		    "attempts in %lld secs): user=<%s>, method=%s, rip=%s, "
		    "lip=%s%s", sep, why, s->auth_attempts, secs, s->user,
		    s->method, s->rip, s->lip, tls);
	else if (s->plaintext_refused)
		log_info("pop3-login: Disconnected%s%s (tried to use "
		    "disallowed plaintext auth): user=<%s>, rip=%s, lip=%s%s",
		    sep, why, s->user, s->rip, s->lip, tls);
	else
		log_info("pop3-login: Disconnected%s%s (no auth attempts in "
		    "%lld secs): user=<%s>, rip=%s, lip=%s%s", sep, why, secs,
		    s->user, s->rip, s->lip, tls);
}
