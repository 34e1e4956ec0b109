/*
 * smtpd_tls: STARTTLS (RFC 3207) and implicit TLS (RFC 8314, the smtps
 * service) on top of lib/tls/tls_server. The context (certificate, key)
 * is loaded by smtpd_tls_load before the privilege drop.
 * Security: what the client sent behind STARTTLS is discarded before the
 * handshake (tls_server_start), and everything learnt before TLS (HELO,
 * the transaction, a login) is forgotten after it; with
 * smtpd_tls_security_level = encrypt only EHLO/HELO, STARTTLS, NOOP, RSET
 * and QUIT are served in the clear.
 * Parameters: smtpd_tls_security_level, smtpd_tls_wrappermode,
 * smtpd_tls_cert_file, smtpd_tls_key_file, smtpd_tls_protocols,
 * smtpd_tls_mandatory_protocols.
 */
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "smtpd/smtpd.h"
#include "tls/tls_server.h"

static int smtpd_tls_level(struct config *);
static int smtpd_tls_handshake(struct smtpd_session *);

static int
smtpd_tls_level(struct config *cfg)
{
	const char *v = config_get(cfg, "smtpd_tls_security_level");

	if (*v == '\0' || strcasecmp(v, "none") == 0)
		return SMTPD_TLS_NONE;
	if (strcasecmp(v, "may") == 0)
		return SMTPD_TLS_MAY;
	if (strcasecmp(v, "encrypt") == 0)
		return SMTPD_TLS_ENCRYPT;
	fatalx("bad smtpd_tls_security_level value: %s", v);
}

/*
 * smtpd_tls_load: the context, while we can still read the key. TLS 1.2
 * is the floor where TLS is mandatory (encrypt, wrapper mode); port 25
 * with "may" takes smtpd_tls_protocols. A broken key or certificate is
 * fatal: master logs it and throttles, the administrator sees why.
 */
void
smtpd_tls_load(struct smtpd_conf *conf)
{
	char err[512];
	int mandatory;

	conf->tls_level = smtpd_tls_level(conf->cfg);
	conf->tls_wrapper = config_get_bool(conf->cfg,
	    "smtpd_tls_wrappermode");
	if (conf->tls_level == SMTPD_TLS_NONE && !conf->tls_wrapper)
		return;
	mandatory = conf->tls_level == SMTPD_TLS_ENCRYPT || conf->tls_wrapper;
	conf->tls_ctx = tls_server_ctx(conf->cfg, "smtpd", mandatory, "smtp",
	    err, sizeof(err));
	if (conf->tls_ctx == NULL)
		fatalx("cannot use TLS: %s", err);
}

/* 0 with the session under TLS; -1 (logged, session dead) otherwise. */
static int
smtpd_tls_handshake(struct smtpd_session *s)
{
	char err[512];

	smtpd_deadline_start(s);
	if (tls_server_start(&s->io, s->conf->tls_ctx, s->tls_info,
	    sizeof(s->tls_info), err, sizeof(err)) == -1) {
		log_info("SSL_accept error from %s[%s]: %s", s->client_name,
		    s->client_addr, err);
		smtpd_io_failed(s, IO_ERROR);
		return -1;
	}
	s->tls = 1;
	/* smtpd_timeout bounds a whole command line under TLS too. */
	tls_server_set_deadline(&s->io, &s->deadline);
	log_info("Anonymous TLS connection established from %s[%s]: %s",
	    s->client_name, s->client_addr, s->tls_info);
	return 0;
}

int
smtpd_starttls(struct smtpd_session *s, const char *args, size_t len)
{
	if (s->conf->tls_ctx == NULL || s->conf->tls_wrapper) {
		smtpd_reply(s, "502 5.5.1 Error: command not implemented");
		return -1;
	}
	if (s->tls) {
		smtpd_reply(s, "554 5.5.1 Error: TLS already active");
		return -1;
	}
	if (len != 0) {
		smtpd_reply(s, "501 5.5.4 Syntax: STARTTLS");
		return -1;
	}
	if (s->in_mail) {
		smtpd_reply(s, "503 5.5.1 Error: MAIL transaction in progress");
		return -1;
	}
	if (smtpd_input_pending(s))
		log_info("discarding input sent after STARTTLS from %s[%s]",
		    s->client_name, s->client_addr);
	smtpd_reply(s, "220 2.0.0 Ready to start TLS");
	if (smtpd_flush(s) == -1)
		return -1;
	if (smtpd_tls_handshake(s) == -1)
		return -1;
	/* RFC 3207 4.2: start over, EHLO again. */
	smtpd_session_reset(s);
	return 0;
}

int
smtpd_tls_wrapper(struct smtpd_session *s)
{
	if (!s->conf->tls_wrapper)
		return 0;
	return smtpd_tls_handshake(s);
}

const char *
smtpd_tls_required(struct smtpd_session *s)
{
	if (s->conf->tls_level != SMTPD_TLS_ENCRYPT || s->tls)
		return NULL;
	return "530 5.7.0 Must issue a STARTTLS command first";
}
