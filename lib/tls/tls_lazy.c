/*
 * tls_lazy: the OpenSSL functions lib/tls calls, for the daemons (smtpd,
 * deliver, pop3d, imapd), each loading libssl (and with it libcrypto) on
 * the first call. Linked against OpenSSL, every daemon process paid for
 * those libraries at each start, TLS configured or not: ~450 KiB of
 * private memory for their relocations and 1.2-1.3 ms of CPU (a start
 * that exits at once: 2.0-2.1 ms with them, 0.8 ms without), which with
 * max_use 100 is a measurable part of each message (docs/PERFORMANCE.md,
 * round 10). Now only a process that uses TLS loads them, while building
 * its TLS context before the privilege drop, so the chroot needs no
 * libraries: smtpd, pop3d and imapd with a certificate, deliver -t smtp
 * unless smtp_tls_security_level is none.
 * Each wrapper has OpenSSL's own prototype (the headers check it).
 * Security: the library is found by the dynamic linker's usual path, as a
 * linked library was; no name comes from the configuration.
 */
#include <dlfcn.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "core/log.h"

/* OpenSSL 3's ABI (configure asks for openssl >= 3.0). */
#define TLS_LAZY_LIBSSL	"libssl.so.3"

static void	*tls_lazy_sym(const char *);

static void *
tls_lazy_sym(const char *name)
{
	static void *lib;
	void *sym;

	if (lib == NULL && (lib = dlopen(TLS_LAZY_LIBSSL, RTLD_NOW |
	    RTLD_LOCAL)) == NULL)
		fatalx("TLS: cannot load %s: %s", TLS_LAZY_LIBSSL,
		    dlerror());
	/* dlsym on libssl's handle also searches libcrypto, its dependency. */
	if ((sym = dlsym(lib, name)) == NULL)
		fatalx("TLS: %s: no %s", TLS_LAZY_LIBSSL, name);
	return sym;
}

/* A wrapper: the real function, looked up once, with the same arguments. */
#define TLS_LAZY(ret, name, params, args)				\
	ret name params;						\
	ret name params							\
	{								\
		static ret (*fn) params;				\
									\
		if (fn == NULL)						\
			fn = (ret (*) params)tls_lazy_sym(#name);	\
		return fn args;						\
	}
#define TLS_LAZY_VOID(name, params, args)				\
	void name params;						\
	void name params						\
	{								\
		static void (*fn) params;				\
									\
		if (fn == NULL)						\
			fn = (void (*) params)tls_lazy_sym(#name);	\
		fn args;						\
	}

TLS_LAZY(BIO *, BIO_new_fd, (int fd, int close_flag), (fd, close_flag))
TLS_LAZY(int, BIO_free, (BIO *a), (a))
TLS_LAZY_VOID(ERR_clear_error, (void), ())
TLS_LAZY_VOID(ERR_error_string_n, (unsigned long e, char *buf, size_t len),
    (e, buf, len))
TLS_LAZY(unsigned long, ERR_get_error, (void), ())
TLS_LAZY_VOID(EVP_PKEY_free, (EVP_PKEY *pkey), (pkey))
TLS_LAZY(EVP_PKEY *, PEM_read_bio_PrivateKey, (BIO *bp, EVP_PKEY **x,
    pem_password_cb *cb, void *u), (bp, x, cb, u))
TLS_LAZY(int, SSL_CIPHER_get_bits, (const SSL_CIPHER *c, int *alg_bits),
    (c, alg_bits))
TLS_LAZY(const char *, SSL_CIPHER_get_name, (const SSL_CIPHER *c), (c))
TLS_LAZY(int, SSL_CTX_check_private_key, (const SSL_CTX *ctx), (ctx))
TLS_LAZY(uint64_t, SSL_CTX_clear_options, (SSL_CTX *ctx, uint64_t op),
    (ctx, op))
TLS_LAZY(long, SSL_CTX_ctrl, (SSL_CTX *ctx, int cmd, long larg, void *parg),
    (ctx, cmd, larg, parg))
TLS_LAZY_VOID(SSL_CTX_free, (SSL_CTX *ctx), (ctx))
TLS_LAZY(SSL_CTX *, SSL_CTX_new, (const SSL_METHOD *meth), (meth))
TLS_LAZY_VOID(SSL_CTX_set_alpn_select_cb, (SSL_CTX *ctx,
    SSL_CTX_alpn_select_cb_func cb, void *arg), (ctx, cb, arg))
TLS_LAZY(int, SSL_CTX_set_cipher_list, (SSL_CTX *ctx, const char *str),
    (ctx, str))
TLS_LAZY(uint64_t, SSL_CTX_set_options, (SSL_CTX *ctx, uint64_t op),
    (ctx, op))
TLS_LAZY(int, SSL_CTX_set_session_id_context, (SSL_CTX *ctx,
    const unsigned char *sid_ctx, unsigned int sid_ctx_len),
    (ctx, sid_ctx, sid_ctx_len))
TLS_LAZY_VOID(SSL_CTX_set_verify, (SSL_CTX *ctx, int mode,
    SSL_verify_cb cb), (ctx, mode, cb))
TLS_LAZY(int, SSL_CTX_use_PrivateKey, (SSL_CTX *ctx, EVP_PKEY *pkey),
    (ctx, pkey))
TLS_LAZY(int, SSL_CTX_use_certificate_chain_file, (SSL_CTX *ctx,
    const char *file), (ctx, file))
TLS_LAZY(long, SSL_ctrl, (SSL *ssl, int cmd, long larg, void *parg),
    (ssl, cmd, larg, parg))
TLS_LAZY(int, SSL_accept, (SSL *ssl), (ssl))
TLS_LAZY(int, SSL_connect, (SSL *ssl), (ssl))
TLS_LAZY_VOID(SSL_free, (SSL *ssl), (ssl))
TLS_LAZY(const SSL_CIPHER *, SSL_get_current_cipher, (const SSL *s), (s))
TLS_LAZY(int, SSL_get_error, (const SSL *s, int ret_code), (s, ret_code))
TLS_LAZY(void *, SSL_get_ex_data, (const SSL *ssl, int idx), (ssl, idx))
TLS_LAZY(const char *, SSL_get_version, (const SSL *s), (s))
TLS_LAZY(SSL *, SSL_new, (SSL_CTX *ctx), (ctx))
TLS_LAZY(int, SSL_read, (SSL *ssl, void *buf, int num), (ssl, buf, num))
TLS_LAZY(int, SSL_set_ex_data, (SSL *ssl, int idx, void *data),
    (ssl, idx, data))
TLS_LAZY(int, SSL_set_fd, (SSL *s, int fd), (s, fd))
TLS_LAZY(int, SSL_shutdown, (SSL *s), (s))
TLS_LAZY(int, SSL_write, (SSL *ssl, const void *buf, int num),
    (ssl, buf, num))
TLS_LAZY(const SSL_METHOD *, TLS_client_method, (void), ())
TLS_LAZY(const SSL_METHOD *, TLS_server_method, (void), ())
