/*
 * tls_server: OpenSSL server contexts and sessions (tls_server.h); the
 * iobuf hooks and waits are tls_io.c's. The key is read through the
 * descriptor that was checked, so a swapped file cannot slip in.
 * Security: a key file readable or writable by group or others is refused;
 * TLS 1.2 at least where mandatory; no NULL/EXPORT/RC4/3DES/aNULL ciphers;
 * server preference; an ALPN offer without our protocol aborts (RFC 7301).
 * Parameters: PREFIX_tls_cert_file, PREFIX_tls_key_file (unset or empty:
 * the smtpd_ ones), PREFIX_tls_protocols, PREFIX_tls_mandatory_protocols.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "core/buf.h"
#include "core/fileutil.h"
#include "tls/tls_io.h"
#include "tls/tls_server.h"

/* Postfix's "high" grade, minus what the issue forbids by name. */
#define TLS_SERVER_CIPHERS \
	"HIGH:!aNULL:!eNULL:!EXPORT:!RC4:!3DES:!DES:!MD5:!PSK:!SRP"
#define TLS_SERVER_ALPN_MAX	32

static const char *tls_server_param(struct config *, const char *,
    const char *, char *, size_t);
static int tls_server_min_version(const char *, int *);
static int tls_server_load_key(SSL_CTX *, const char *, char *, size_t);
static int tls_server_alpn(SSL *, const unsigned char **, unsigned char *,
    const unsigned char *, unsigned int, void *);

/* PREFIX_suffix, falling back to smtpd_suffix when unset or empty. */
static const char *
tls_server_param(struct config *cfg, const char *prefix, const char *suffix,
    char *name, size_t namelen)
{
	const char *v;

	snprintf(name, namelen, "%s_%s", prefix, suffix);
	v = config_get(cfg, name);
	if (*v == '\0' && strcmp(prefix, "smtpd") != 0) {
		snprintf(name, namelen, "smtpd_%s", suffix);
		v = config_get(cfg, name);
	}
	return v;
}

/*
 * Postfix's protocol syntax: ">=TLSv1.2", or exclusions such as "!SSLv2,
 * !SSLv3, !TLSv1, !TLSv1.1" (the minimum is the lowest not excluded).
 * An empty value means TLS 1.2. 0 with the version, -1 when malformed.
 */
static int
tls_server_min_version(const char *spec, int *version)
{
	static const struct {
		const char *name;
		int	 version;
	} v[] = {
		{ "SSLv2", 0 }, { "SSLv3", SSL3_VERSION },
		{ "TLSv1", TLS1_VERSION }, { "TLSv1.1", TLS1_1_VERSION },
		{ "TLSv1.2", TLS1_2_VERSION }, { "TLSv1.3", TLS1_3_VERSION },
	};
	const size_t nv = sizeof(v) / sizeof(v[0]);
	char tok[16];
	int excluded[6] = { 0 };
	size_t i, n;

	while (*spec == ' ' || *spec == '\t')
		spec++;
	if (*spec == '\0') {
		*version = TLS1_2_VERSION;
		return 0;
	}
	if (strncmp(spec, ">=", 2) == 0) {
		for (i = 2; i < nv; i++)
			if (strcasecmp(spec + 2, v[i].name) == 0) {
				*version = v[i].version;
				return 0;
			}
		return -1;
	}
	while (*spec != '\0') {
		n = strcspn(spec, ", \t:");
		if (n > 0) {
			if (spec[0] != '!' || n - 1 >= sizeof(tok))
				return -1;
			memcpy(tok, spec + 1, n - 1);
			tok[n - 1] = '\0';
			for (i = 0; i < nv && strcasecmp(tok, v[i].name) != 0;
			    i++)
				;
			if (i == nv)
				return -1;
			excluded[i] = 1;
		}
		spec += n;
		spec += strspn(spec, ", \t:");
	}
	/* SSLv2 and SSLv3 are never offered, whatever the list says. */
	for (i = 2; i < nv && excluded[i]; i++)
		;
	if (i == nv)
		return -1;
	*version = v[i].version;
	return 0;
}

/* Read the key through a descriptor whose mode we checked. */
static int
tls_server_load_key(SSL_CTX *ctx, const char *path, char *err, size_t errlen)
{
	struct stat st;
	EVP_PKEY *key;
	BIO *bio;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		snprintf(err, errlen, "private key file %s is accessible by "
		    "group or others (mode %04o): refusing to use it; "
		    "chmod 600 it", path, (unsigned int)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	if ((bio = BIO_new_fd(fd, BIO_CLOSE)) == NULL) {
		close(fd);
		tls_io_error("BIO_new_fd", err, errlen);
		return -1;
	}
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (key == NULL) {
		tls_io_error(path, err, errlen);
		return -1;
	}
	if (SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		EVP_PKEY_free(key);
		tls_io_error("private key does not match the certificate", err,
		    errlen);
		return -1;
	}
	EVP_PKEY_free(key);
	return 0;
}

/*
 * RFC 7301 3.2: a client that offers ALPN without our protocol gets
 * no_application_protocol (cross-protocol attacks such as ALPACA).
 * arg is the protocol name the caller gave tls_server_ctx (a literal).
 */
static int
tls_server_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	const char *ours = arg;
	size_t len = strlen(ours), i;

	(void)ssl;
	for (i = 0; i < inlen; i += 1 + (size_t)in[i]) {
		if (i + 1 + in[i] > inlen)
			break;
		if (in[i] == len && memcmp(in + i + 1, ours, len) == 0) {
			*out = in + i + 1;
			*outlen = in[i];
			return SSL_TLSEXT_ERR_OK;
		}
	}
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

SSL_CTX *
tls_server_ctx(struct config *cfg, const char *prefix, int mandatory,
    const char *alpn, char *err, size_t errlen)
{
	char name[128], perr[256];
	const char *cert, *key, *spec;
	SSL_CTX *ctx;
	int minv, own_cert;

	cert = tls_server_param(cfg, prefix, "tls_cert_file", name,
	    sizeof(name));
	if (*cert == '\0') {
		snprintf(err, errlen, "%s is not set", name);
		return NULL;
	}
	own_cert = strncmp(name, prefix, strlen(prefix)) == 0;
	key = tls_server_param(cfg, prefix, "tls_key_file", name, sizeof(name));
	/* pop3d_tls_cert_file alone: its key is in it, not smtpd's. */
	if (*key == '\0' || (own_cert && strncmp(name, prefix,
	    strlen(prefix)) != 0))
		key = cert;
	spec = tls_server_param(cfg, prefix, mandatory ?
	    "tls_mandatory_protocols" : "tls_protocols", name, sizeof(name));
	if (tls_server_min_version(spec, &minv) == -1) {
		snprintf(err, errlen, "bad %s value: %s", name, spec);
		return NULL;
	}
	if (mandatory && minv < TLS1_2_VERSION)
		minv = TLS1_2_VERSION;
	if (alpn != NULL && strlen(alpn) > TLS_SERVER_ALPN_MAX) {
		snprintf(err, errlen, "ALPN name too long: %s", alpn);
		return NULL;
	}
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_io_error("SSL_CTX_new", err, errlen);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, minv);
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)prefix,
	    (unsigned int)strlen(prefix));
	if (SSL_CTX_set_cipher_list(ctx, TLS_SERVER_CIPHERS) != 1) {
		tls_io_error("cipher list", err, errlen);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		snprintf(perr, sizeof(perr), "certificate file %s", cert);
		tls_io_error(perr, err, errlen);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (tls_server_load_key(ctx, key, err, errlen) == -1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (alpn != NULL)
		SSL_CTX_set_alpn_select_cb(ctx, tls_server_alpn,
		    (void *)(uintptr_t)alpn);
	return ctx;
}

void
tls_server_ctx_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}

int
tls_server_start(struct iobuf *io, SSL_CTX *ctx, char *info, size_t infolen,
    char *err, size_t errlen)
{
	SSL *ssl;

	/* RFC 3207 6: nothing sent in the clear counts after the handshake. */
	buf_reset(&io->in);
	if (set_nonblock(io->fd, 1) == -1) {
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		return -1;
	}
	if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, io->fd) != 1) {
		tls_io_error("SSL_new", err, errlen);
		SSL_free(ssl);
		return -1;
	}
	if (tls_io_handshake(io, ssl, 1, err, errlen) == -1) {
		SSL_free(ssl);
		return -1;
	}
	tls_io_info(ssl, info, infolen);
	tls_io_attach(io, ssl);
	return 0;
}

const char *
tls_server_version(const struct iobuf *io)
{
	SSL *ssl = tls_io_session(io);

	return ssl == NULL ? NULL : SSL_get_version(ssl);
}

const char *
tls_server_cipher(const struct iobuf *io)
{
	SSL *ssl = tls_io_session(io);

	return ssl == NULL ? NULL :
	    SSL_CIPHER_get_name(SSL_get_current_cipher(ssl));
}

void
tls_server_set_deadline(struct iobuf *io, const struct timespec *deadline)
{
	tls_io_set_deadline(io, deadline);
}

int
tls_server_active(const struct iobuf *io)
{
	return tls_io_session(io) != NULL;
}

void
tls_server_end(struct iobuf *io)
{
	tls_io_detach(io);
}
