/*
 * tls: STLS (RFC 2595 section 4) and the implicit TLS of pop3s (RFC 8314),
 * and the rules for when a login may be tried (Dovecot's
 * disable_plaintext_auth: TLS, or a client on the server's own address).
 * Security: input pipelined after STLS is discarded before the handshake
 * (STARTTLS command injection), and nothing from before TLS survives it.
 */
#include <string.h>

#include "core/log.h"
#include "pop3d/pop3d.h"

static void	pop3_tls_failed(struct pop3_session *, const char *);

int
pop3_tls_offered(const struct pop3_session *s)
{
	return s->d->tls_ctx != NULL && !s->tls &&
	    s->state == POP3_STATE_AUTH;
}

/*
 * pop3d_tls_security_level=encrypt: TLS, always. Otherwise, as Dovecot
 * does, a connection from the server's own address counts as secure (it
 * never crossed a network), and pop3d_tls_auth_only=no allows all.
 */
int
pop3_login_allowed(const struct pop3_session *s)
{
	if (s->tls)
		return 1;
	if (s->d->tls_level == POP3D_TLS_ENCRYPT)
		return 0;
	if (!s->d->tls_auth_only)
		return 1;
	return strcmp(s->rip, s->lip) == 0 && strcmp(s->rip, "unknown") != 0;
}

int
pop3_cmd_stls(struct pop3_session *s, const struct pop3_command *cmd)
{
	char info[256], err[256];
	size_t pending;

	if (cmd->rest_len != 0) {
		iobuf_puts(&s->io, "-ERR STLS takes no arguments.\r\n");
		return POP3_CMD_BAD;
	}
	if (s->tls) {
		iobuf_puts(&s->io, "-ERR TLS is already active.\r\n");
		return POP3_CMD_BAD;
	}
	if (s->d->tls_ctx == NULL) {
		iobuf_puts(&s->io, "-ERR TLS support isn't enabled.\r\n");
		return POP3_CMD_BAD;
	}
	/*
	 * The command line is consumed: whatever else is buffered came in
	 * the clear after STLS and is thrown away, unanswered.
	 */
	if ((pending = iobuf_pending(&s->io)) > 0)
		log_info("pop3-login: discarding %zu bytes pipelined after "
		    "STLS: rip=%s, lip=%s", pending, s->rip, s->lip);
	iobuf_puts(&s->io, "+OK Begin TLS negotiation now.\r\n");
	if (iobuf_flush(&s->io) != 0) {
		s->broken = 1;
		return POP3_CMD_CLOSE;
	}
	if (tls_server_start(&s->io, s->d->tls_ctx, info, sizeof(info), err,
	    sizeof(err)) == -1) {
		pop3_tls_failed(s, err);
		s->broken = 1;
		return POP3_CMD_CLOSE;
	}
	s->tls = 1;
	/* RFC 2595 section 4: the client starts over; so does the server. */
	s->have_user = 0;
	s->user[0] = '\0';
	log_info("pop3-login: STLS: %s, rip=%s, lip=%s", info, s->rip, s->lip);
	return POP3_CMD_OK;
}

int
pop3_tls_wrapper(struct pop3_session *s)
{
	char info[256], err[256];

	if (tls_server_start(&s->io, s->d->tls_ctx, info, sizeof(info), err,
	    sizeof(err)) == -1) {
		pop3_tls_failed(s, err);
		return -1;
	}
	s->tls = 1;
	log_info("pop3-login: TLS: %s, rip=%s, lip=%s", info, s->rip, s->lip);
	return 0;
}

/* The details here; the session's Disconnected line follows. */
static void
pop3_tls_failed(struct pop3_session *s, const char *err)
{
	log_info("pop3-login: %s: rip=%s, lip=%s", err, s->rip, s->lip);
	s->reason = "TLS handshaking failed";
}
