/*
 * tls_client: the TLS client side for the smtp transport's STARTTLS
 * (OpenSSL 3). A handshake on an iobuf's socket, after which the iobuf's
 * read/write hooks go through the TLS session. No certificate
 * verification: opportunistic TLS (smtp_tls_security_level may/encrypt).
 */
#ifndef POSTILION_TLS_CLIENT_H
#define POSTILION_TLS_CLIENT_H

#include <stddef.h>

#include "core/iobuf.h"

struct ssl_ctx_st;

/* tls_client_ctx: a client context; NULL with a reason in err. */
struct ssl_ctx_st *tls_client_ctx(char *err, size_t errlen);
void	tls_client_ctx_free(struct ssl_ctx_st *);
/*
 * tls_client_start: handshake on io->fd within io->timeout seconds per
 * wait, sending servername (SNI) unless NULL; on success the iobuf reads
 * and writes through TLS and info describes the session ("TLSv1.3 with
 * cipher X (256/256 bits)"). -1 with a reason in err.
 */
int	tls_client_start(struct iobuf *, struct ssl_ctx_st *,
	    const char *servername, char *info, size_t infolen, char *err,
	    size_t errlen);
/* tls_client_end: send close_notify (best effort) and free the session. */
void	tls_client_end(struct iobuf *);

#endif
