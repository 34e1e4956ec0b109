/*
 * auth: the not-authenticated state: LOGIN, AUTHENTICATE PLAIN (with
 * SASL-IR, RFC 4959), STARTTLS and imaps. A login is allowed over TLS, or
 * from the server's own address, or anywhere with imapd_tls_auth_only=no
 * (Dovecot's disable_plaintext_auth); otherwise LOGINDISABLED.
 * Security: passwords are wiped after use and never logged; failures are
 * delayed (imapd_auth_failure_delay) and end the session after
 * imapd_auth_failure_limit; an address over
 * imapd_client_auth_failure_limit failures per anvil_rate_time_unit (a
 * table shared with pop3d) gets BYE and no password check; input
 * pipelined after STARTTLS is discarded and STARTTLS resets the state.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "mailbox/maildir.h"
#include "imapd/imapd.h"
#include "tls/tls_server.h"

static int	imap_auth_check(struct imap_session *, struct imap_command *,
		    const char *, const char *);
static int	imap_auth_failed(struct imap_session *, struct imap_command *);
static int	imap_login_done(struct imap_session *, struct imap_command *);
static int	imap_auth_plain(struct imap_session *, struct imap_command *,
		    const char *);
static void	imap_tls_failed(struct imap_session *, const char *);
static int	imap_ip_blocked(struct imap_session *, int add);

int
imap_login_allowed(const struct imap_session *s)
{
	if (s->tls)
		return 1;
	if (s->d->tls_encrypt)
		return 0;
	if (!s->d->tls_auth_only)
		return 1;
	return strcmp(s->rip, s->lip) == 0 && strcmp(s->rip, "unknown") != 0;
}

int
imap_cmd_login(struct imap_session *s, struct imap_command *cmd)
{
	const char *user, *pass;

	if (cmd->nargs != 2 || (user = imap_arg_string(&cmd->args[0])) ==
	    NULL || (pass = imap_arg_string(&cmd->args[1])) == NULL) {
		imap_reply(s, cmd, "BAD LOGIN takes a user and a password.");
		return IMAP_CMD_BAD;
	}
	if (!imap_login_allowed(s)) {
		imap_reply(s, cmd, "NO [PRIVACYREQUIRED] Plaintext "
		    "authentication disallowed on non-secure (SSL/TLS) "
		    "connections.");
		return IMAP_CMD_OK;
	}
	return imap_auth_check(s, cmd, user, pass);
}

int
imap_cmd_authenticate(struct imap_session *s, struct imap_command *cmd)
{
	const char *mech, *ir = NULL;
	struct buf line;
	int rc;

	if (cmd->nargs < 1 || cmd->nargs > 2 ||
	    (mech = imap_arg_string(&cmd->args[0])) == NULL ||
	    (cmd->nargs == 2 && (ir = imap_arg_string(&cmd->args[1])) ==
	    NULL)) {
		imap_reply(s, cmd, "BAD AUTHENTICATE takes a mechanism.");
		return IMAP_CMD_BAD;
	}
	if (strcasecmp(mech, "PLAIN") != 0) {
		imap_reply(s, cmd, "NO Unsupported authentication mechanism.");
		return IMAP_CMD_OK;
	}
	if (!imap_login_allowed(s)) {
		imap_reply(s, cmd, "NO [PRIVACYREQUIRED] Plaintext "
		    "authentication disallowed on non-secure (SSL/TLS) "
		    "connections.");
		return IMAP_CMD_OK;
	}
	if (ir != NULL)
		return imap_auth_plain(s, cmd, ir);
	/* No initial response: ask for it on a line of its own. */
	iobuf_puts(&s->io, "+ \r\n");
	s->out_bytes += s->io.out.len;
	if (iobuf_flush(&s->io) != 0) {
		s->broken = 1;
		return IMAP_CMD_CLOSE;
	}
	buf_init(&line);
	rc = iobuf_getline(&s->io, &line, AUTH_SASL_MAX * 4 / 3 + 8);
	if (rc != IO_LINE) {
		buf_free(&line);
		if (rc == IO_TOOLONG) {
			imap_reply(s, cmd, "BAD Authentication line too long.");
			return IMAP_CMD_BAD;
		}
		s->broken = 1;
		return IMAP_CMD_CLOSE;
	}
	s->in_bytes += line.len;
	line_chomp(&line);
	if (strcmp(line.data, "*") == 0) {
		imap_reply(s, cmd, "BAD Authentication aborted by client.");
		rc = IMAP_CMD_OK;
	} else
		rc = imap_auth_plain(s, cmd, line.data);
	explicit_bzero(line.data, line.len);
	buf_free(&line);
	return rc;
}

/* The SASL PLAIN message in base64 ("=" is an empty one). */
static int
imap_auth_plain(struct imap_session *s, struct imap_command *cmd,
    const char *b64)
{
	unsigned char msg[AUTH_SASL_MAX];
	char user[AUTH_USER_MAX + 1], pass[AUTH_PASS_MAX + 1];
	long n;
	int rc;

	n = strcmp(b64, "=") == 0 ? 0 :
	    base64_decode(b64, strlen(b64), msg, sizeof(msg));
	if (n < 0 || sasl_plain_parse(msg, (size_t)n, user, pass) == -1) {
		explicit_bzero(msg, sizeof(msg));
		imap_reply(s, cmd, "BAD Invalid base64 data in continued "
		    "response.");
		return IMAP_CMD_BAD;
	}
	rc = imap_auth_check(s, cmd, user, pass);
	explicit_bzero(msg, sizeof(msg));
	explicit_bzero(pass, sizeof(pass));
	return rc;
}

static int
imap_auth_check(struct imap_session *s, struct imap_command *cmd,
    const char *user, const char *pass)
{
	size_t i;

	for (i = 0; user[i] != '\0' && i < AUTH_USER_MAX; i++)
		s->user[i] = user[i] >= 'A' && user[i] <= 'Z' ?
		    (char)(user[i] - 'A' + 'a') : user[i];
	s->user[i] = '\0';
	/* Over the per-address limit: no check at all, right or wrong. */
	if (imap_ip_blocked(s, 0)) {
		s->auth_attempts++;
		iobuf_puts(&s->io, "* BYE [UNAVAILABLE] Too many failed logins "
		    "from your address; try again later.\r\n");
		s->reason = "Too many failed logins from this address";
		return IMAP_CMD_CLOSE;
	}
	switch (auth_verify(s->d->password_maps, s->user, pass)) {
	case AUTH_OK:
		return imap_login_done(s, cmd);
	case AUTH_TEMPFAIL:
		log_warnx("imap-login: virtual_password_maps lookup failed: "
		    "user=<%s>, rip=%s", s->user, s->rip);
		imap_reply(s, cmd, "NO [UNAVAILABLE] Temporary authentication "
		    "failure.");
		return IMAP_CMD_OK;
	default:
		return imap_auth_failed(s, cmd);
	}
}

static int
imap_auth_failed(struct imap_session *s, struct imap_command *cmd)
{
	int blocked;

	s->auth_attempts++;
	blocked = imap_ip_blocked(s, 1);
	if (s->d->auth_failure_delay > 0) {
		s->out_bytes += s->io.out.len;
		(void)iobuf_flush(&s->io);
		sleep((unsigned)s->d->auth_failure_delay);
	}
	imap_reply(s, cmd, "NO [AUTHENTICATIONFAILED] Authentication failed.");
	if (blocked) {
		buf_puts(&s->tagged, "* BYE [UNAVAILABLE] Too many failed "
		    "logins from your address; try again later.\r\n");
		s->reason = "Too many failed logins from this address";
		return IMAP_CMD_CLOSE;
	}
	if (s->auth_attempts >= s->d->auth_failure_limit)
		return IMAP_CMD_CLOSE;
	return IMAP_CMD_OK;
}

/*
 * The client's address has imapd_client_auth_failure_limit failures in
 * this anvil_rate_time_unit (after adding this one when add is 1).
 */
static int
imap_ip_blocked(struct imap_session *s, int add)
{
	if (s->d->client_auth_limit <= 0)
		return 0;
	return auth_failures_count(s->d->auth_table_fd, s->rip,
	    s->d->auth_window, add) >= s->d->client_auth_limit;
}

/* The password was right: open the user's Maildir and change state. */
static int
imap_login_done(struct imap_session *s, struct imap_command *cmd)
{
	struct buf path, caps;
	int rc;

	buf_init(&path);
	rc = map_list_lookup(s->d->mailbox_maps, s->user, &path);
	if (rc == 1)
		s->homefd = maildir_open(s->d->basefd, path.data, 1);
	buf_free(&path);
	if (rc != 1 || s->homefd == -1) {
		log_warnx("imap(%s): %s", s->user, rc == 0 ?
		    "no virtual_mailbox_maps entry" : rc == -1 ?
		    "virtual_mailbox_maps lookup failed" :
		    "cannot open the Maildir");
		imap_reply(s, cmd, "NO [UNAVAILABLE] Mailbox unavailable.");
		s->user[0] = '\0';
		return IMAP_CMD_OK;
	}
	log_info("imap-login: Login: user=<%s>, method=PLAIN, rip=%s, lip=%s, "
	    "mpid=%ld%s", s->user, s->rip, s->lip, (long)getpid(),
	    s->tls ? ", TLS" : "");
	s->state = IMAP_STATE_AUTH;
	s->rd.lim = &s->d->lim_auth;
	imap_special_use_create(s);
	buf_init(&caps);
	imap_capabilities(s, &caps);
	imap_reply(s, cmd, "OK [CAPABILITY %s] Logged in", caps.data);
	buf_free(&caps);
	return IMAP_CMD_OK;
}

int
imap_cmd_starttls(struct imap_session *s, struct imap_command *cmd)
{
	char info[256], err[256];
	size_t pending;

	if (cmd->nargs != 0) {
		imap_reply(s, cmd, "BAD STARTTLS takes no arguments.");
		return IMAP_CMD_BAD;
	}
	if (s->tls) {
		imap_reply(s, cmd, "BAD TLS is already active.");
		return IMAP_CMD_BAD;
	}
	if (s->d->tls_ctx == NULL) {
		imap_reply(s, cmd, "BAD TLS support isn't enabled.");
		return IMAP_CMD_BAD;
	}
	if ((pending = iobuf_pending(&s->io)) > 0)
		log_info("imap-login: discarding %zu bytes pipelined after "
		    "STARTTLS: rip=%s, lip=%s", pending, s->rip, s->lip);
	iobuf_printf(&s->io, "%s OK Begin TLS negotiation now.\r\n", cmd->tag);
	s->out_bytes += s->io.out.len;
	if (iobuf_flush(&s->io) != 0) {
		s->broken = 1;
		return IMAP_CMD_CLOSE;
	}
	if (tls_server_start(&s->io, s->d->tls_ctx, info, sizeof(info), err,
	    sizeof(err)) == -1) {
		imap_tls_failed(s, err);
		s->broken = 1;
		return IMAP_CMD_CLOSE;
	}
	/* Nothing from the clear-text part survives (RFC 3501 6.2.1). */
	s->tls = 1;
	s->user[0] = '\0';
	log_info("imap-login: STARTTLS: %s, rip=%s, lip=%s", info, s->rip,
	    s->lip);
	return IMAP_CMD_OK;
}

int
imap_tls_wrapper(struct imap_session *s)
{
	char info[256], err[256];

	if (s->d->tls_ctx == NULL || tls_server_start(&s->io, s->d->tls_ctx,
	    info, sizeof(info), err, sizeof(err)) == -1) {
		imap_tls_failed(s, s->d->tls_ctx ? err : "no TLS context");
		return -1;
	}
	s->tls = 1;
	log_info("imap-login: TLS: %s, rip=%s, lip=%s", info, s->rip, s->lip);
	return 0;
}

static void
imap_tls_failed(struct imap_session *s, const char *err)
{
	log_info("imap-login: TLS handshaking failed: %s: rip=%s, lip=%s",
	    err, s->rip, s->lip);
	s->reason = "TLS handshaking failed";
}
