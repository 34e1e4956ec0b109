/*
 * auth: the AUTHORIZATION state, USER and PASS (RFC 1939 section 7).
 * The user is the full address, folded to lower case; the password is
 * checked against virtual_password_maps, and the Maildir is the
 * virtual_mailbox_maps value, relative to virtual_mailbox_base.
 * Security: passwords are wiped after use and never logged; failures are
 * delayed (pop3d_auth_failure_delay) and end the session after
 * pop3d_auth_failure_limit of them.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "map/passwd.h"
#include "pop3d/pop3d.h"

static int	pop3_auth_verify(struct pop3_session *, const char *);
static int	pop3_auth_failed(struct pop3_session *);
static int	pop3_login(struct pop3_session *);

int
pop3_cmd_user(struct pop3_session *s, const struct pop3_command *cmd)
{
	size_t i;
	char c;

	if (cmd->nargs != 1 || cmd->extra_args) {
		iobuf_puts(&s->io, "-ERR USER takes one argument.\r\n");
		return POP3_CMD_BAD;
	}
	if (cmd->args[0].len > POP3D_USER_MAX) {
		iobuf_puts(&s->io, "-ERR [AUTH] User name too long.\r\n");
		return POP3_CMD_BAD;
	}
	for (i = 0; i < cmd->args[0].len; i++) {
		c = cmd->args[0].s[i];
		s->user[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	s->user[i] = '\0';
	s->have_user = 1;
	iobuf_puts(&s->io, "+OK\r\n");
	return POP3_CMD_OK;
}

int
pop3_cmd_pass(struct pop3_session *s, const struct pop3_command *cmd)
{
	char *password;
	int rc;

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
	rc = pop3_auth_verify(s, password);
	explicit_bzero(password, cmd->rest_len);
	free(password);
	if (rc == -1) {
		iobuf_puts(&s->io, "-ERR [SYS/TEMP] Temporary authentication "
		    "failure.\r\n");
		return POP3_CMD_OK;
	}
	if (rc == 0)
		return pop3_auth_failed(s);
	return pop3_login(s);
}

/* 1 when the password is right, 0 when not (or no such user), -1 error. */
static int
pop3_auth_verify(struct pop3_session *s, const char *password)
{
	struct buf stored;
	int rc;

	buf_init(&stored);
	rc = map_list_lookup(s->d->password_maps, s->user, &stored);
	if (rc == -1)
		log_warnx("pop3-login: virtual_password_maps lookup failed: "
		    "user=<%s>, rip=%s", s->user, s->rip);
	else if (rc == 1)
		rc = passwd_verify(stored.data, password) == 1;
	if (stored.data != NULL)
		explicit_bzero(stored.data, stored.len);
	buf_free(&stored);
	return rc;
}

static int
pop3_auth_failed(struct pop3_session *s)
{
	s->auth_attempts++;
	/* Slow a guesser down; one client per process, so this is cheap. */
	if (s->d->auth_failure_delay > 0) {
		(void)iobuf_flush(&s->io);
		sleep((unsigned)s->d->auth_failure_delay);
	}
	iobuf_puts(&s->io, "-ERR [AUTH] Authentication failed.\r\n");
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

	log_info("pop3-login: Login: user=<%s>, method=PLAIN, rip=%s, lip=%s, "
	    "mpid=%ld", s->user, s->rip, s->lip, (long)getpid());
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
