/*
 * transaction: the TRANSACTION state commands of RFC 1939 (STAT, LIST,
 * UIDL, RETR, TOP, DELE, RSET, NOOP). Deleted messages are hidden from
 * every listing until RSET; RETR and TOP stream the file in chunks through
 * pop3_msgconv (CRLF, dot-stuffing), never holding a whole message.
 * Security: message numbers are parsed strictly and bounded by the
 * snapshot; a read error mid-message drops the client rather than let it
 * take a truncated message for a whole one (and then DELE it).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "pop3d/pop3d.h"

#define POP3_ECHO_MAX	20	/* bytes of a bad argument echoed back */

static int	pop3_args_max(struct pop3_session *, const struct pop3_command *,
		    size_t);
static struct pop3_msg *pop3_msg_arg(struct pop3_session *,
    const struct pop3_command *, int *);
static struct pop3_msg *pop3_msg_find(struct pop3_session *,
		    const struct pop3_arg *, int *);
static size_t	pop3_msg_number(const struct pop3_session *,
		    const struct pop3_msg *);
static int	pop3_msg_send(struct pop3_session *, struct pop3_msg *,
		    long long, off_t *);
static int	pop3_msg_stream(struct pop3_session *, int, long long, off_t *);
static void	pop3_reply_unreadable(struct pop3_session *, struct pop3_msg *);

/* Reply -ERR when more than max arguments were given; 0 when fine. */
static int
pop3_args_max(struct pop3_session *s, const struct pop3_command *cmd,
    size_t max)
{
	if (cmd->nargs <= max && !cmd->extra_args)
		return 0;
	iobuf_puts(&s->io, "-ERR Too many arguments.\r\n");
	return -1;
}

/* The message numbered by arg, or NULL after a -ERR reply (*rc). */
static struct pop3_msg *
pop3_msg_find(struct pop3_session *s, const struct pop3_arg *arg, int *rc)
{
	unsigned long long n;
	struct pop3_msg *m;

	*rc = POP3_CMD_OK;
	if (pop3_number_parse(arg, ULLONG_MAX, &n) == -1) {
		iobuf_printf(&s->io, "-ERR Invalid message number: %.*s\r\n",
		    (int)(arg->len < POP3_ECHO_MAX ? arg->len : POP3_ECHO_MAX),
		    arg->s);
		*rc = POP3_CMD_BAD;
		return NULL;
	}
	if (n == 0 || n > s->nmsgs) {
		iobuf_printf(&s->io, "-ERR There's no message %llu.\r\n", n);
		return NULL;
	}
	m = &s->msgs[n - 1];
	if (m->deleted) {
		iobuf_puts(&s->io, "-ERR Message is deleted.\r\n");
		return NULL;
	}
	return m;
}

static size_t
pop3_msg_number(const struct pop3_session *s, const struct pop3_msg *m)
{
	return (size_t)(m - s->msgs) + 1;
}

static void
pop3_reply_unreadable(struct pop3_session *s, struct pop3_msg *m)
{
	log_warn("pop3(%s): read %s", s->user, m->name);
	iobuf_puts(&s->io, "-ERR [SYS/TEMP] Unable to read the message.\r\n");
}

int
pop3_cmd_stat(struct pop3_session *s, const struct pop3_command *cmd)
{
	size_t i, count = 0;
	off_t total;

	if (pop3_args_max(s, cmd, 0) == -1)
		return POP3_CMD_BAD;
	if (pop3_mailbox_octets(s, 0, &total) == -1) {
		iobuf_puts(&s->io, "-ERR [SYS/TEMP] Unable to read the "
		    "mailbox.\r\n");
		return POP3_CMD_OK;
	}
	for (i = 0; i < s->nmsgs; i++)
		if (!s->msgs[i].deleted)
			count++;
	iobuf_printf(&s->io, "+OK %zu %lld\r\n", count, (long long)total);
	return POP3_CMD_OK;
}

int
pop3_cmd_list(struct pop3_session *s, const struct pop3_command *cmd)
{
	struct pop3_msg *m;
	size_t i, count = 0;
	off_t total;
	int rc;

	if (pop3_args_max(s, cmd, 1) == -1)
		return POP3_CMD_BAD;
	if (cmd->nargs == 1) {
		if ((m = pop3_msg_find(s, &cmd->args[0], &rc)) == NULL)
			return rc;
		if (pop3_msg_octets(s, m, -1) == -1) {
			pop3_reply_unreadable(s, m);
			return POP3_CMD_OK;
		}
		iobuf_printf(&s->io, "+OK %zu %lld\r\n", pop3_msg_number(s, m),
		    (long long)m->octets);
		return POP3_CMD_OK;
	}
	/* Every size first: an error must come before the +OK. */
	if (pop3_mailbox_octets(s, 0, &total) == -1) {
		iobuf_puts(&s->io, "-ERR [SYS/TEMP] Unable to read the "
		    "mailbox.\r\n");
		return POP3_CMD_OK;
	}
	for (i = 0; i < s->nmsgs; i++)
		if (!s->msgs[i].deleted)
			count++;
	iobuf_printf(&s->io, "+OK %zu messages:\r\n", count);
	for (i = 0; i < s->nmsgs && pop3_flush_if_full(s) == 0; i++)
		if (!s->msgs[i].deleted)
			iobuf_printf(&s->io, "%zu %lld\r\n", i + 1,
			    (long long)s->msgs[i].octets);
	iobuf_puts(&s->io, ".\r\n");
	return POP3_CMD_OK;
}

int
pop3_cmd_uidl(struct pop3_session *s, const struct pop3_command *cmd)
{
	char uidl[POP3_UIDL_MAX + 1];
	struct pop3_msg *m;
	size_t i;
	int rc;

	if (pop3_args_max(s, cmd, 1) == -1)
		return POP3_CMD_BAD;
	if (cmd->nargs == 1) {
		if ((m = pop3_msg_find(s, &cmd->args[0], &rc)) == NULL)
			return rc;
		pop3_msg_uidl(m, uidl, sizeof(uidl));
		iobuf_printf(&s->io, "+OK %zu %s\r\n", pop3_msg_number(s, m),
		    uidl);
		return POP3_CMD_OK;
	}
	iobuf_puts(&s->io, "+OK\r\n");
	for (i = 0; i < s->nmsgs && pop3_flush_if_full(s) == 0; i++) {
		if (s->msgs[i].deleted)
			continue;
		pop3_msg_uidl(&s->msgs[i], uidl, sizeof(uidl));
		iobuf_printf(&s->io, "%zu %s\r\n", i + 1, uidl);
	}
	iobuf_puts(&s->io, ".\r\n");
	return POP3_CMD_OK;
}

/* pop3_msg_arg: the one message-number argument of RETR and DELE. */
static struct pop3_msg *
pop3_msg_arg(struct pop3_session *s, const struct pop3_command *cmd, int *rc)
{
	if (cmd->nargs == 0) {
		iobuf_puts(&s->io, "-ERR Message number expected.\r\n");
		*rc = POP3_CMD_BAD;
		return NULL;
	}
	if (pop3_args_max(s, cmd, 1) == -1) {
		*rc = POP3_CMD_BAD;
		return NULL;
	}
	return pop3_msg_find(s, &cmd->args[0], rc);
}

int
pop3_cmd_retr(struct pop3_session *s, const struct pop3_command *cmd)
{
	struct pop3_msg *m;
	off_t sent;
	int rc;

	if ((m = pop3_msg_arg(s, cmd, &rc)) == NULL)
		return rc;
	if (pop3_msg_send(s, m, -1, &sent) == 0) {
		m->retrieved = 1;
		s->stats.retr++;
		s->stats.retr_bytes += sent;
	}
	return POP3_CMD_OK;
}

int
pop3_cmd_top(struct pop3_session *s, const struct pop3_command *cmd)
{
	unsigned long long lines;
	struct pop3_msg *m;
	off_t sent;
	int rc;

	if (cmd->nargs < 2) {
		iobuf_puts(&s->io, "-ERR Message number and line count "
		    "expected.\r\n");
		return POP3_CMD_BAD;
	}
	if (pop3_args_max(s, cmd, 2) == -1)
		return POP3_CMD_BAD;
	if (pop3_number_parse(&cmd->args[1], LLONG_MAX, &lines) == -1) {
		iobuf_puts(&s->io, "-ERR Invalid line count.\r\n");
		return POP3_CMD_BAD;
	}
	if ((m = pop3_msg_find(s, &cmd->args[0], &rc)) == NULL)
		return rc;
	if (pop3_msg_send(s, m, (long long)lines, &sent) == 0) {
		s->stats.top++;
		s->stats.top_bytes += sent;
	}
	return POP3_CMD_OK;
}

/* RETR (body_lines -1) or TOP: the +OK line, then the message. */
static int
pop3_msg_send(struct pop3_session *s, struct pop3_msg *m, long long body_lines,
    off_t *sent)
{
	int fd, rc;

	if ((fd = pop3_msg_open(s, m)) == -1) {
		pop3_reply_unreadable(s, m);
		return -1;
	}
	if (body_lines < 0) {
		if (pop3_msg_octets(s, m, fd) == -1) {
			close(fd);
			pop3_reply_unreadable(s, m);
			return -1;
		}
		iobuf_printf(&s->io, "+OK %lld octets\r\n",
		    (long long)m->octets);
	} else
		iobuf_puts(&s->io, "+OK\r\n");
	rc = pop3_msg_stream(s, fd, body_lines, sent);
	close(fd);
	return rc;
}

static int
pop3_msg_stream(struct pop3_session *s, int fd, long long body_lines,
    off_t *sent)
{
	struct pop3_msgconv conv;
	off_t off = 0;
	char *chunk;
	ssize_t n;

	chunk = xmalloc(POP3D_READ_CHUNK);
	pop3_msgconv_init(&conv, body_lines);
	while (!conv.done) {
		n = pread(fd, chunk, POP3D_READ_CHUNK, off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			log_warn("pop3(%s): read message", s->user);
			s->broken = 1;
		}
		if (n <= 0)
			break;
		off += n;
		pop3_msgconv_feed(&conv, chunk, (size_t)n, &s->io.out);
		if (pop3_flush_if_full(s) == -1)
			break;
	}
	free(chunk);
	if (s->broken)
		return -1;
	pop3_msgconv_end(&conv, &s->io.out);
	*sent = conv.octets;
	return 0;
}

int
pop3_cmd_dele(struct pop3_session *s, const struct pop3_command *cmd)
{
	struct pop3_msg *m;
	int rc;

	if ((m = pop3_msg_arg(s, cmd, &rc)) == NULL)
		return rc;
	m->deleted = 1;
	iobuf_puts(&s->io, "+OK Marked to be deleted.\r\n");
	return POP3_CMD_OK;
}

int
pop3_cmd_rset(struct pop3_session *s, const struct pop3_command *cmd)
{
	size_t i;

	if (pop3_args_max(s, cmd, 0) == -1)
		return POP3_CMD_BAD;
	for (i = 0; i < s->nmsgs; i++)
		s->msgs[i].deleted = 0;
	iobuf_puts(&s->io, "+OK\r\n");
	return POP3_CMD_OK;
}

int
pop3_cmd_noop(struct pop3_session *s, const struct pop3_command *cmd)
{
	if (pop3_args_max(s, cmd, 0) == -1)
		return POP3_CMD_BAD;
	iobuf_puts(&s->io, "+OK\r\n");
	return POP3_CMD_OK;
}
