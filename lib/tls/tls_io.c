/*
 * tls_io: SSL sessions under an iobuf (tls_io.h), for tls_client.c and
 * tls_server.c. The socket is non-blocking; every wait polls with the
 * iobuf's timeout, so a silent peer cannot hold a daemon longer than that.
 * A whole handshake must finish within that timeout, and reads end at the
 * owner's deadline when one is set (SSL app data), so a peer trickling a
 * byte at a time is cut off as well.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>

#include "tls/tls_io.h"

static int tls_io_ms_left(const struct timespec *);
static int tls_io_wait(struct iobuf *, int, const struct timespec *);
static ssize_t tls_io_transfer(struct iobuf *, void *, const void *, size_t);
static ssize_t tls_io_read_hook(struct iobuf *, void *, size_t);
static ssize_t tls_io_write_hook(struct iobuf *, const void *, size_t);

void
tls_io_error(const char *what, char *err, size_t errlen)
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

/* Milliseconds until deadline (CLOCK_MONOTONIC), 0 once it has passed. */
static int
tls_io_ms_left(const struct timespec *deadline)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000 +
	    (deadline->tv_nsec - now.tv_nsec) / 1000000;
	if (ms < 0)
		return 0;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/*
 * tls_io_wait: 0 when the socket is ready for what OpenSSL wants, else
 * IO_*; at most io->timeout, and not past deadline unless it is NULL.
 */
static int
tls_io_wait(struct iobuf *io, int sslerr, const struct timespec *deadline)
{
	struct pollfd pfd;
	int rc, ms = io->timeout > 0 ? io->timeout * 1000 : -1, left;

	if (deadline != NULL && ((left = tls_io_ms_left(deadline)) < ms ||
	    ms == -1))
		ms = left;
	pfd.fd = io->fd;
	pfd.events = sslerr == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
	while ((rc = poll(&pfd, 1, ms)) == -1 && errno == EINTR)
		;
	if (rc == 0)
		return IO_TIMEOUT;
	return rc == -1 ? IO_ERROR : 0;
}

/*
 * tls_io_transfer: one SSL_read (into rdata) or SSL_write (of wdata),
 * waiting as OpenSSL asks; bytes moved, 0 at close_notify, or IO_*.
 */
static ssize_t
tls_io_transfer(struct iobuf *io, void *rdata, const void *wdata, size_t len)
{
	SSL *ssl = io->ctx;
	int n, e, rc, chunk = len > INT_MAX ? INT_MAX : (int)len;

	for (;;) {
		ERR_clear_error();
		n = rdata != NULL ? SSL_read(ssl, rdata, chunk) :
		    SSL_write(ssl, wdata, chunk);
		if (n > 0)
			return n;
		e = SSL_get_error(ssl, n);
		if (e == SSL_ERROR_ZERO_RETURN && rdata != NULL)
			return 0;
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			errno = EIO;
			return IO_ERROR;
		}
		if ((rc = tls_io_wait(io, e, rdata != NULL ?
		    SSL_get_app_data(ssl) : NULL)) != 0) {
			errno = EIO;
			return rc;
		}
	}
}

static ssize_t
tls_io_read_hook(struct iobuf *io, void *data, size_t len)
{
	return tls_io_transfer(io, data, NULL, len);
}

static ssize_t
tls_io_write_hook(struct iobuf *io, const void *data, size_t len)
{
	return tls_io_transfer(io, NULL, data, len);
}

int
tls_io_handshake(struct iobuf *io, SSL *ssl, int server, char *err,
    size_t errlen)
{
	struct timespec deadline;
	int n, e;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += io->timeout > 0 ? io->timeout : 86400;
	for (;;) {
		ERR_clear_error();
		errno = 0;
		n = server ? SSL_accept(ssl) : SSL_connect(ssl);
		if (n == 1)
			return 0;
		e = SSL_get_error(ssl, n);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			tls_io_error("TLS handshake failed", err, errlen);
			return -1;
		}
		if (tls_io_wait(io, e, &deadline) != 0) {
			snprintf(err, errlen, "TLS handshake timed out");
			return -1;
		}
	}
}

void
tls_io_attach(struct iobuf *io, SSL *ssl)
{
	io->ctx = ssl;
	io->read_hook = tls_io_read_hook;
	io->write_hook = tls_io_write_hook;
}

SSL *
tls_io_session(const struct iobuf *io)
{
	return io->read_hook == tls_io_read_hook ? io->ctx : NULL;
}

void
tls_io_set_deadline(struct iobuf *io, const struct timespec *deadline)
{
	SSL *ssl = tls_io_session(io);

	if (ssl != NULL)
		SSL_set_app_data(ssl, (void *)(uintptr_t)deadline);
}

void
tls_io_detach(struct iobuf *io)
{
	SSL *ssl = tls_io_session(io);

	if (ssl == NULL)
		return;
	ERR_clear_error();
	(void)SSL_shutdown(ssl);
	ERR_clear_error();
	SSL_free(ssl);
	io->ctx = NULL;
	io->read_hook = NULL;
	io->write_hook = NULL;
}

void
tls_io_info(SSL *ssl, char *info, size_t infolen)
{
	const SSL_CIPHER *cipher = SSL_get_current_cipher(ssl);
	int alg = 0, bits;

	bits = SSL_CIPHER_get_bits(cipher, &alg);
	snprintf(info, infolen, "%s with cipher %s (%d/%d bits)",
	    SSL_get_version(ssl), SSL_CIPHER_get_name(cipher), bits, alg);
}
