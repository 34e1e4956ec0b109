/*
 * tls_io: what the TLS client and server sides share: the iobuf read and
 * write hooks that go through an SSL session, the wait for the socket
 * within the iobuf's timeout, the handshake loop, OpenSSL error text and
 * the Postfix-shaped session description. Private to lib/tls.
 */
#ifndef POSTILION_TLS_IO_H
#define POSTILION_TLS_IO_H

#include <stddef.h>
#include <time.h>

#include <openssl/ssl.h>

#include "core/iobuf.h"

/* tls_io_error: "what: OpenSSL reason" (or errno's) into err. */
void	tls_io_error(const char *what, char *err, size_t errlen);
/*
 * tls_io_handshake: SSL_accept (server) or SSL_connect until done, each
 * wait within io->timeout. 0, or -1 with a reason in err.
 */
int	tls_io_handshake(struct iobuf *, SSL *, int server, char *err,
	    size_t errlen);
/* tls_io_attach: the iobuf reads and writes through ssl from now on. */
void	tls_io_attach(struct iobuf *, SSL *);
/* tls_io_session: the SSL under io, or NULL when io is not TLS. */
SSL	*tls_io_session(const struct iobuf *);
/*
 * tls_io_set_deadline: reads on io's session end at *deadline
 * (CLOCK_MONOTONIC), which the owner may move; NULL for none.
 */
void	tls_io_set_deadline(struct iobuf *, const struct timespec *);
/* tls_io_detach: close_notify (best effort), free the session, plain io. */
void	tls_io_detach(struct iobuf *);
/* tls_io_info: "TLSv1.3 with cipher NAME (256/256 bits)". */
void	tls_io_info(SSL *, char *info, size_t infolen);

#endif
