/*
 * tls_client: OpenSSL client sessions under an iobuf (tls_client.h). The
 * socket is non-blocking; every wait polls with the iobuf's timeout.
 * Security: no verification (opportunistic); TLS 1.2 at least.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tls/tls_client.h"

static int tls_wait(struct iobuf *, int);
static ssize_t tls_read_hook(struct iobuf *, void *, size_t);
static ssize_t tls_write_hook(struct iobuf *, const void *, size_t);
static void tls_error(const char *, char *, size_t);

SSL_CTX *
tls_client_ctx(char *err, size_t errlen)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		tls_error("SSL_CTX_new", err, errlen);
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

static void
tls_error(const char *what, char *err, size_t errlen)
{
	unsigned long e = ERR_get_error();
	char text[256];

	if (e != 0) {
		ERR_error_string_n(e, text, sizeof(text));
		snprintf(err, errlen, "%s: %s", what, text);
	} else
		snprintf(err, errlen, "%s: %s", what, errno ? strerror(errno) :
		    "connection closed");
	ERR_clear_error();
}

/* tls_wait: 0 when the socket is ready for what OpenSSL wants, else IO_*. */
static int
tls_wait(struct iobuf *io, int sslerr)
{
	struct pollfd pfd;
	int rc;

	pfd.fd = io->fd;
	pfd.events = sslerr == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
	while ((rc = poll(&pfd, 1, io->timeout > 0 ? io->timeout * 1000 :
	    -1)) == -1 && errno == EINTR)
		;
	if (rc == 0)
		return IO_TIMEOUT;
	return rc == -1 ? IO_ERROR : 0;
}

static ssize_t
tls_read_hook(struct iobuf *io, void *data, size_t len)
{
	SSL *ssl = io->ctx;
	int n, e, rc;

	for (;;) {
		ERR_clear_error();
		n = SSL_read(ssl, data, len > INT_MAX ? INT_MAX : (int)len);
		if (n > 0)
			return n;
		e = SSL_get_error(ssl, n);
		if (e == SSL_ERROR_ZERO_RETURN)
			return 0;
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			errno = EIO;
			return IO_ERROR;
		}
		if ((rc = tls_wait(io, e)) != 0) {
			errno = EIO;
			return rc;
		}
	}
}

static ssize_t
tls_write_hook(struct iobuf *io, const void *data, size_t len)
{
	SSL *ssl = io->ctx;
	int n, e, rc;

	for (;;) {
		ERR_clear_error();
		n = SSL_write(ssl, data, len > INT_MAX ? INT_MAX : (int)len);
		if (n > 0)
			return n;
		e = SSL_get_error(ssl, n);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			errno = EIO;
			return IO_ERROR;
		}
		if ((rc = tls_wait(io, e)) != 0) {
			errno = EIO;
			return rc;
		}
	}
}

int
tls_client_start(struct iobuf *io, SSL_CTX *ctx, const char *servername,
    char *info, size_t infolen, char *err, size_t errlen)
{
	const SSL_CIPHER *cipher;
	SSL *ssl;
	int n, e, alg = 0, bits;

	if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, io->fd) != 1) {
		tls_error("SSL_new", err, errlen);
		SSL_free(ssl);
		return -1;
	}
	if (servername != NULL)
		SSL_set_tlsext_host_name(ssl, servername);
	for (;;) {
		ERR_clear_error();
		errno = 0;
		if ((n = SSL_connect(ssl)) == 1)
			break;
		e = SSL_get_error(ssl, n);
		if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)) {
			tls_error("TLS handshake failed", err, errlen);
			SSL_free(ssl);
			return -1;
		}
		if (tls_wait(io, e) != 0) {
			snprintf(err, errlen, "TLS handshake timed out");
			SSL_free(ssl);
			return -1;
		}
	}
	cipher = SSL_get_current_cipher(ssl);
	bits = SSL_CIPHER_get_bits(cipher, &alg);
	snprintf(info, infolen, "%s with cipher %s (%d/%d bits)",
	    SSL_get_version(ssl), SSL_CIPHER_get_name(cipher), bits, alg);
	io->ctx = ssl;
	io->read_hook = tls_read_hook;
	io->write_hook = tls_write_hook;
	return 0;
}

void
tls_client_end(struct iobuf *io)
{
	SSL *ssl = io->ctx;

	if (ssl == NULL || io->read_hook != tls_read_hook)
		return;
	(void)SSL_shutdown(ssl);
	SSL_free(ssl);
	io->ctx = NULL;
	io->read_hook = NULL;
	io->write_hook = NULL;
}
