/*
 * tls_client: OpenSSL client sessions under an iobuf (tls_client.h); the
 * hooks and waits are tls_io.c's. The socket is non-blocking.
 * Security: no verification (opportunistic); TLS 1.2 at least.
 */
#include <openssl/ssl.h>

#include "tls/tls_client.h"
#include "tls/tls_io.h"

SSL_CTX *
tls_client_ctx(char *err, size_t errlen)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		tls_io_error("SSL_CTX_new", err, errlen);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return ctx;
}

void
tls_client_ctx_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}

int
tls_client_start(struct iobuf *io, SSL_CTX *ctx, const char *servername,
    char *info, size_t infolen, char *err, size_t errlen)
{
	SSL *ssl;

	if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, io->fd) != 1) {
		tls_io_error("SSL_new", err, errlen);
		SSL_free(ssl);
		return -1;
	}
	if (servername != NULL)
		SSL_set_tlsext_host_name(ssl, servername);
	if (tls_io_handshake(io, ssl, 0, err, errlen) == -1) {
		SSL_free(ssl);
		return -1;
	}
	tls_io_info(ssl, info, infolen);
	tls_io_attach(io, ssl);
	return 0;
}

void
tls_client_end(struct iobuf *io)
{
	tls_io_detach(io);
}
