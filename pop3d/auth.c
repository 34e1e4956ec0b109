/*
 * auth: the AUTHORIZATION state: USER and PASS (RFC 1939 section 7) and
 * AUTH PLAIN and LOGIN (RFC 5034, with initial response and "*" to
 * cancel). The user is the full address, folded to lower case, checked by
 * lib/auth against virtual_password_maps; the Maildir is the
 * virtual_mailbox_maps value, relative to virtual_mailbox_base.
 * Security: no login without TLS unless pop3_login_allowed (tls.c) says
 * so; passwords are wiped after use and never logged; failures are
 * delayed (pop3d_auth_failure_delay) and end the session after
 * pop3d_auth_failure_limit of them.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "pop3d/pop3d.h"

/* What pop3_sasl_read got. */
#define SASL_READ_OK		0
#define SASL_READ_CANCEL	-1	/* the client sent "*" */
#define SASL_READ_BAD		-2	/* not base64, or too long */
#define SASL_READ_IO		-3	/* EOF, error or timeout: reply sent */

static int	pop3_plaintext_refused(struct pop3_session *);
static int	pop3_check(struct pop3_session *, const char *);
static int	pop3_auth_failed(struct pop3_session *);
static int	pop3_login(struct pop3_session *);
static int	pop3_sasl_read(struct pop3_session *, const char *,
		    const struct pop3_arg *, unsigned char *, size_t *);
static int	pop3_sasl_error(struct pop3_session *, int);
static int	pop3_auth_plain(struct pop3_session *, const struct pop3_arg *);
static int	pop3_auth_login(struct pop3_session *, const struct pop3_arg *);
static void	pop3_set_user(struct pop3_session *, const char *, size_t);

/* Dovecot's words, so clients and admins recognise them. */
static int
pop3_plaintext_refused(struct pop3_session *s)
{
	s->plaintext_refused = 1;
	iobuf_puts(&s->io, "-ERR [AUTH] Plaintext authentication disallowed "
	    "on non-secure (SSL/TLS) connections.\r\n");
	return POP3_CMD_BAD;
}

static void
pop3_set_user(struct pop3_session *s, const char *user, size_t len)
{
	size_t i;
	char c;

	for (i = 0; i < len && i < POP3D_USER_MAX; i++) {
		c = user[i];
		s->user[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	s->user[i] = '\0';
}

int
pop3_cmd_user(struct pop3_session *s, const struct pop3_command *cmd)
{
	if (!pop3_login_allowed(s))
		return pop3_plaintext_refused(s);
	if (cmd->nargs != 1 || cmd->extra_args) {
		iobuf_puts(&s->io, "-ERR USER takes one argument.\r\n");
		return POP3_CMD_BAD;
	}
	if (cmd->args[0].len > POP3D_USER_MAX) {
		iobuf_puts(&s->io, "-ERR [AUTH] User name too long.\r\n");
		return POP3_CMD_BAD;
	}
	pop3_set_user(s, cmd->args[0].s, cmd->args[0].len);
	s->have_user = 1;
	s->method = "PLAIN";
	iobuf_puts(&s->io, "+OK\r\n");
	return POP3_CMD_OK;
}

int
pop3_cmd_pass(struct pop3_session *s, const struct pop3_command *cmd)
{
	char *password;
	int rc;

	if (!pop3_login_allowed(s))
		return pop3_plaintext_refused(s);
	if (!s->have_user) {
		iobuf_puts(&s->io, "-ERR No username given.\r\n");
		return POP3_CMD_BAD;
	}
	if (cmd->rest_len == 0) {
		iobuf_puts(&s->io, "-ERR No password given.\r\n");
		return POP3_CMD_BAD;
	}
	/* RFC 1939: after a failed PASS the client starts over with USER. */
	s->have_user = 0;
	password = xstrndup(cmd->rest, cmd->rest_len);
	rc = pop3_check(s, password);
	explicit_bzero(password, cmd->rest_len);
	free(password);
	return rc;
}

/*
 * The password check and its outcome, for PASS and AUTH alike. An address
 * over pop3d_client_auth_failure_limit in this anvil_rate_time_unit gets
 * no check at all, right password or not, until the window ends. Nor does
 * anyone when a map was replaced since this process opened it (a pooled
 * process idle through `postilion user add|passwd|del`): no decision on
 * stale accounts; the client reconnects to a process with the new maps.
 */
static int
pop3_check(struct pop3_session *s, const char *password)
{
	if (map_list_changed(s->d->password_maps) ||
	    map_list_changed(s->d->mailbox_maps)) {
		iobuf_puts(&s->io, "-ERR [SYS/TEMP] The account database has "
		    "changed; please reconnect.\r\n");
		s->reason = "Account database changed";
		return POP3_CMD_CLOSE;
	}
	if (s->d->client_auth_limit > 0 &&
	    auth_failures_count(s->d->auth_table_fd, s->rip, s->d->auth_window,
	    0) >= s->d->client_auth_limit) {
		iobuf_puts(&s->io, "-ERR [AUTH] Too many failed logins from "
		    "your address; try again later.\r\n");
		s->reason = "Too many failed logins from this address";
		return POP3_CMD_CLOSE;
	}
	switch (auth_verify(s->d->password_maps, s->user, password)) {
	case AUTH_OK:
		return pop3_login(s);
	case AUTH_TEMPFAIL:
		log_warnx("pop3-login: virtual_password_maps lookup failed: "
		    "user=<%s>, rip=%s", s->user, s->rip);
		iobuf_puts(&s->io, "-ERR [SYS/TEMP] Temporary authentication "
		    "failure.\r\n");
		return POP3_CMD_OK;
	default:
		return pop3_auth_failed(s);
	}
}

/*
 * AUTH: without an argument, the mechanisms (RFC 5034 section 4 leaves
 * that to RFC 1734 practice, which clients still probe); else a SASL
 * exchange of base64 lines.
 */
int
pop3_cmd_auth(struct pop3_session *s, const struct pop3_command *cmd)
{
	const struct pop3_arg *ir;

	if (cmd->nargs == 0) {
		iobuf_printf(&s->io, "+OK\r\n%s.\r\n", pop3_login_allowed(s) ?
		    "PLAIN\r\nLOGIN\r\n" : "");
		return POP3_CMD_OK;
	}
	if (cmd->extra_args) {
		iobuf_puts(&s->io, "-ERR Invalid AUTH arguments.\r\n");
		return POP3_CMD_BAD;
	}
	ir = cmd->nargs == 2 ? &cmd->args[1] : NULL;
	s->have_user = 0;
	if (cmd->args[0].len == 5 &&
	    strncasecmp(cmd->args[0].s, "PLAIN", 5) == 0) {
		if (!pop3_login_allowed(s))
			return pop3_plaintext_refused(s);
		s->method = "PLAIN";
		return pop3_auth_plain(s, ir);
	}
	if (cmd->args[0].len == 5 &&
	    strncasecmp(cmd->args[0].s, "LOGIN", 5) == 0) {
		if (!pop3_login_allowed(s))
			return pop3_plaintext_refused(s);
		s->method = "LOGIN";
		return pop3_auth_login(s, ir);
	}
	iobuf_puts(&s->io, "-ERR Unsupported authentication mechanism.\r\n");
	return POP3_CMD_BAD;
}

static int
pop3_auth_plain(struct pop3_session *s, const struct pop3_arg *ir)
{
	unsigned char msg[AUTH_SASL_MAX];
	char user[AUTH_USER_MAX + 1], pass[AUTH_PASS_MAX + 1];
	size_t len;
	int rc;

	if ((rc = pop3_sasl_read(s, "", ir, msg, &len)) != SASL_READ_OK)
		return pop3_sasl_error(s, rc);
	rc = sasl_plain_parse(msg, len, user, pass);
	explicit_bzero(msg, sizeof(msg));
	if (rc == -1) {
		s->user[0] = '\0';
		return pop3_auth_failed(s);
	}
	pop3_set_user(s, user, strlen(user));
	rc = pop3_check(s, pass);
	explicit_bzero(pass, sizeof(pass));
	return rc;
}

/* LOGIN: "Username:" and "Password:" challenges; an IR is the user. */
static int
pop3_auth_login(struct pop3_session *s, const struct pop3_arg *ir)
{
	unsigned char msg[AUTH_SASL_MAX + 1];
	size_t len;
	int rc;

	if ((rc = pop3_sasl_read(s, "VXNlcm5hbWU6", ir, msg, &len)) !=
	    SASL_READ_OK)
		return pop3_sasl_error(s, rc);
	if (len == 0 || len > AUTH_USER_MAX || memchr(msg, '\0', len) != NULL) {
		s->user[0] = '\0';
		return pop3_auth_failed(s);
	}
	pop3_set_user(s, (const char *)msg, len);
	if ((rc = pop3_sasl_read(s, "UGFzc3dvcmQ6", NULL, msg, &len)) !=
	    SASL_READ_OK)
		return pop3_sasl_error(s, rc);
	if (len == 0 || len > AUTH_PASS_MAX || memchr(msg, '\0', len) != NULL) {
		explicit_bzero(msg, sizeof(msg));
		return pop3_auth_failed(s);
	}
	msg[len] = '\0';
	rc = pop3_check(s, (const char *)msg);
	explicit_bzero(msg, sizeof(msg));
	return rc;
}

/*
 * One client response, decoded into out (AUTH_SASL_MAX bytes): the
 * initial response if the command had one ("=" is an empty one), else
 * the answer to the challenge "+ CHALLENGE".
 */
static int
pop3_sasl_read(struct pop3_session *s, const char *challenge,
    const struct pop3_arg *ir, unsigned char *out, size_t *outlen)
{
	struct buf line;
	const char *b64;
	size_t b64len;
	long n;
	int rc;

	buf_init(&line);
	if (ir != NULL) {
		b64 = ir->s;
		b64len = ir->len == 1 && ir->s[0] == '=' ? 0 : ir->len;
	} else {
		iobuf_printf(&s->io, "+ %s\r\n", challenge);
		if (iobuf_flush(&s->io) != 0) {
			s->broken = 1;
			return SASL_READ_IO;
		}
		rc = iobuf_getline(&s->io, &line, POP3D_SASL_LINE_MAX);
		if (rc == IO_TOOLONG) {
			buf_free(&line);
			return SASL_READ_BAD;
		}
		if (rc != IO_LINE) {
			(void)pop3_session_io(s, rc);
			buf_free(&line);
			return SASL_READ_IO;
		}
		line_chomp(&line);
		b64 = line.data;
		b64len = line.len;
		if (b64len == 1 && b64[0] == '*') {
			buf_free(&line);
			return SASL_READ_CANCEL;
		}
	}
	n = base64_decode(b64, b64len, out, AUTH_SASL_MAX);
	if (line.data != NULL)
		explicit_bzero(line.data, line.len);
	buf_free(&line);
	if (n < 0)
		return SASL_READ_BAD;
	*outlen = (size_t)n;
	return SASL_READ_OK;
}

static int
pop3_sasl_error(struct pop3_session *s, int rc)
{
	switch (rc) {
	case SASL_READ_CANCEL:
		iobuf_puts(&s->io, "-ERR Authentication aborted by client.\r\n");
		return POP3_CMD_BAD;
	case SASL_READ_BAD:
		iobuf_puts(&s->io, "-ERR Invalid base64 data in continued "
		    "response.\r\n");
		return POP3_CMD_BAD;
	default:
		return POP3_CMD_CLOSE;
	}
}

static int
pop3_auth_failed(struct pop3_session *s)
{
	long long ip_failures = 0;

	s->auth_attempts++;
	if (s->d->client_auth_limit > 0)
		ip_failures = auth_failures_count(s->d->auth_table_fd, s->rip,
		    s->d->auth_window, 1);
	/* Slow a guesser down; one client per process, so this is cheap. */
	if (s->d->auth_failure_delay > 0) {
		(void)iobuf_flush(&s->io);
		sleep((unsigned)s->d->auth_failure_delay);
	}
	iobuf_puts(&s->io, "-ERR [AUTH] Authentication failed.\r\n");
	if (s->d->client_auth_limit > 0 &&
	    ip_failures >= s->d->client_auth_limit) {
		s->reason = "Too many failed logins from this address";
		return POP3_CMD_CLOSE;
	}
	if (s->auth_attempts >= s->d->auth_failure_limit)
		return POP3_CMD_CLOSE;
	return POP3_CMD_OK;
}

/*
 * The password was right: the login is logged as Dovecot's login process
 * would, and from here on the session is the user's (pop3(user) lines),
 * even if the mailbox then fails to open.
 */
static int
pop3_login(struct pop3_session *s)
{
	struct buf path;
	int rc;

	log_info("pop3-login: Login: user=<%s>, method=%s, rip=%s, lip=%s, "
	    "mpid=%ld%s", s->user, s->method, s->rip, s->lip, (long)getpid(),
	    s->tls ? ", TLS" : "");
	s->state = POP3_STATE_TRANS;
	buf_init(&path);
	rc = map_list_lookup(s->d->mailbox_maps, s->user, &path);
	if (rc == 0)
		log_warnx("pop3(%s): no virtual_mailbox_maps entry", s->user);
	else if (rc == -1)
		log_warnx("pop3(%s): virtual_mailbox_maps lookup failed",
		    s->user);
	else if ((rc = pop3_mailbox_open(s, path.data)) == 0)
		rc = 1;
	buf_free(&path);
	if (rc == POP3_MAILBOX_INUSE) {
		iobuf_puts(&s->io, "-ERR [IN-USE] Mailbox is locked by "
		    "another POP3 session.\r\n");
		s->reason = "Mailbox in use";
		return POP3_CMD_CLOSE;
	}
	if (rc == 0) {
		/* A password but no mailbox: fixing that takes the admin. */
		iobuf_puts(&s->io, "-ERR [SYS/PERM] No mailbox for this "
		    "user.\r\n");
		s->reason = "Internal error";
		return POP3_CMD_CLOSE;
	}
	if (rc != 1) {
		iobuf_puts(&s->io, "-ERR [SYS/TEMP] Unable to open the "
		    "mailbox.\r\n");
		s->reason = "Internal error";
		return POP3_CMD_CLOSE;
	}
	iobuf_puts(&s->io, "+OK Logged in.\r\n");
	return POP3_CMD_OK;
}
