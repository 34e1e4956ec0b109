/*
 * tls_server: the TLS server side shared by smtpd, pop3d and imapd
 * (OpenSSL 3): STARTTLS/STLS on an established iobuf and implicit TLS
 * (465, 993, 995). The context is built before the privilege drop.
 * Security: the key file must not be readable by others (refused); TLS 1.2
 * at least where mandatory; no NULL/EXPORT/RC4/3DES/aNULL ciphers; server
 * cipher preference; an ALPN offer without one of ours aborts.
 */
#ifndef POSTILION_TLS_SERVER_H
#define POSTILION_TLS_SERVER_H

#include <stddef.h>
#include <time.h>

#include "conf/config.h"
#include "core/iobuf.h"

struct ssl_ctx_st;

/*
 * tls_server_ctx: a server context for the daemon whose parameters start
 * with prefix ("smtpd", "pop3d", "imapd"): PREFIX_tls_cert_file,
 * PREFIX_tls_key_file (each defaulting to the smtpd_ one when unset or
 * empty) and PREFIX_tls_protocols / the mandatory minimum. mandatory
 * selects the minimum for ports where TLS is required (TLS 1.2), else the
 * PREFIX_tls_... minimum parameter. alpn is the protocol we speak
 * ("smtp", "pop3", "imap"). NULL with a reason in err (no certificate
 * configured, unreadable, key readable by others, key mismatch).
 */
struct ssl_ctx_st *tls_server_ctx(struct config *, const char *prefix,
	    int mandatory, const char *alpn, char *err, size_t errlen);
void	tls_server_ctx_free(struct ssl_ctx_st *);

/*
 * tls_server_start: discard whatever input the iobuf holds (the STARTTLS
 * injection defence; the caller may check iobuf_pending() first and log
 * it), then handshake on io->fd within io->timeout per wait. On success
 * the iobuf reads and writes through TLS and info describes the session
 * in Postfix's shape ("TLSv1.3 with cipher TLS_AES_256_GCM_SHA384
 * (256/256 bits)"). -1 with a reason in err.
 */
int	tls_server_start(struct iobuf *, struct ssl_ctx_st *, char *info,
	    size_t infolen, char *err, size_t errlen);
/* tls_server_version / _cipher: of the session on io, or NULL without. */
const char *tls_server_version(const struct iobuf *);
const char *tls_server_cipher(const struct iobuf *);
/*
 * tls_server_set_deadline: reads through the session on io end at
 * *deadline (CLOCK_MONOTONIC; the caller may move it, e.g. per command)
 * as well as after io->timeout per wait; NULL: per wait only.
 */
void	tls_server_set_deadline(struct iobuf *, const struct timespec *);
/* tls_server_active: 1 when io goes through a TLS session. */
int	tls_server_active(const struct iobuf *);
/* tls_server_end: send close_notify (best effort) and free the session. */
void	tls_server_end(struct iobuf *);

#endif
