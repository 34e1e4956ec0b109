/*
 * test_tls_server: tls_server contexts (certificate/key checks, the
 * protocol parameter syntax) and handshakes over a socketpair against a
 * forked OpenSSL client: the session info string, the discarded
 * pre-handshake input, the TLS 1.2 floor and the ALPN abort.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "conf/config.h"
#include "core/iobuf.h"
#include "tls/tls_server.h"

static char dir[64];
static char cert[128];
static char key[128];

static void
make_cert(void)
{
	char cmd[512];

	strlcpy(dir, "/tmp/test_tls_server.XXXXXX", sizeof(dir));
	cr_assert_not_null(mkdtemp(dir));
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ec -pkeyopt "
	    "ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=t "
	    "-keyout %s -out %s >/dev/null 2>&1", key, cert);
	cr_assert_eq(system(cmd), 0);
	cr_assert_eq(chmod(key, 0600), 0);
}

static void
remove_cert(void)
{
	unlink(cert);
	unlink(key);
	rmdir(dir);
}

TestSuite(tls_server, .init = make_cert, .fini = remove_cert);

static struct config *
conf(const char *protocols)
{
	struct config *cfg = config_new(dir);

	config_set(cfg, "smtpd_tls_cert_file", cert);
	config_set(cfg, "smtpd_tls_key_file", key);
	if (protocols != NULL)
		config_set(cfg, "smtpd_tls_protocols", protocols);
	return cfg;
}

Test(tls_server, needs_a_certificate)
{
	struct config *cfg = config_new(dir);
	char err[512];

	cr_assert_null(tls_server_ctx(cfg, "smtpd", 1, "smtp", err,
	    sizeof(err)));
	cr_assert_str_eq(err, "smtpd_tls_cert_file is not set");
	config_free(cfg);
}

Test(tls_server, refuses_a_key_others_can_read)
{
	struct config *cfg = conf(NULL);
	char err[512];

	cr_assert_eq(chmod(key, 0640), 0);
	cr_assert_null(tls_server_ctx(cfg, "smtpd", 1, "smtp", err,
	    sizeof(err)));
	cr_assert(strstr(err, "accessible by group or others (mode 0640)") !=
	    NULL, "%s", err);
	cr_assert_eq(chmod(key, 0604), 0);
	cr_assert_null(tls_server_ctx(cfg, "smtpd", 1, "smtp", err,
	    sizeof(err)));
	config_free(cfg);
}

Test(tls_server, refuses_a_key_of_another_certificate)
{
	struct config *cfg = conf(NULL);
	char err[512], cmd[512], other[160];

	snprintf(other, sizeof(other), "%s/other.pem", dir);
	snprintf(cmd, sizeof(cmd), "openssl genpkey -algorithm ec -pkeyopt "
	    "ec_paramgen_curve:prime256v1 -out %s 2>/dev/null && chmod 600 %s",
	    other, other);
	cr_assert_eq(system(cmd), 0);
	config_set(cfg, "smtpd_tls_key_file", other);
	cr_assert_null(tls_server_ctx(cfg, "smtpd", 1, "smtp", err,
	    sizeof(err)));
	cr_assert(strstr(err, "does not match") != NULL, "%s", err);
	unlink(other);
	config_free(cfg);
}

Test(tls_server, protocol_syntax)
{
	static const char *good[] = { ">=TLSv1.2", ">=TLSv1.3", ">=TLSv1",
	    "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1", "!SSLv2:!SSLv3", "" };
	static const char *bad[] = { ">=TLSv9", "TLSv1.2", "!TLSv2",
	    "!TLSv1 !TLSv1.1 !TLSv1.2 !TLSv1.3", ">=SSLv3" };
	struct ssl_ctx_st *ctx;
	char err[512];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct config *cfg = conf(good[i]);

		ctx = tls_server_ctx(cfg, "smtpd", 0, "smtp", err, sizeof(err));
		cr_assert_not_null(ctx, "%s: %s", good[i], err);
		tls_server_ctx_free(ctx);
		config_free(cfg);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct config *cfg = conf(bad[i]);

		cr_assert_null(tls_server_ctx(cfg, "smtpd", 0, "smtp", err,
		    sizeof(err)), "%s accepted", bad[i]);
		cr_assert(strstr(err, "bad smtpd_tls_protocols") != NULL, "%s",
		    err);
		config_free(cfg);
	}
}

Test(tls_server, other_daemons_fall_back_to_smtpd_files)
{
	struct config *cfg = conf(NULL);
	struct ssl_ctx_st *ctx;
	char err[512];

	ctx = tls_server_ctx(cfg, "pop3d", 1, "pop3", err, sizeof(err));
	cr_assert_not_null(ctx, "%s", err);
	tls_server_ctx_free(ctx);
	/* Its own certificate alone: the key is looked for in that file. */
	config_set(cfg, "pop3d_tls_cert_file", key);
	cr_assert_null(tls_server_ctx(cfg, "pop3d", 1, "pop3", err,
	    sizeof(err)));
	config_free(cfg);
}

/*
 * The client in a child: max_version (0: any), alpn (NULL: none); it
 * writes "hello\n" over TLS after the handshake. Exit 0 on success.
 */
static pid_t
client(int fd, int max_version, const char *alpn)
{
	unsigned char wire[64];
	SSL_CTX *ctx;
	SSL *ssl;
	pid_t pid;
	size_t n;

	if ((pid = fork()) != 0)
		return pid;
	ctx = SSL_CTX_new(TLS_client_method());
	if (max_version)
		SSL_CTX_set_max_proto_version(ctx, max_version);
	SSL_CTX_set_security_level(ctx, 0);
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (alpn != NULL) {
		n = strlen(alpn);
		wire[0] = (unsigned char)n;
		memcpy(wire + 1, alpn, n);
		SSL_set_alpn_protos(ssl, wire, (unsigned int)n + 1);
	}
	if (SSL_connect(ssl) != 1)
		_exit(1);
	if (SSL_write(ssl, "hello\n", 6) != 6)
		_exit(2);
	SSL_shutdown(ssl);
	_exit(0);
}

/* Handshake as the server; 0 and the first line, or -1. */
static int
serve(struct ssl_ctx_st *ctx, int fd, char *info, size_t infolen,
    struct buf *line)
{
	struct iobuf io;
	char err[512];
	int rc;

	iobuf_init(&io, fd, 5);
	/* What a client injected before the handshake must not survive. */
	buf_append(&io.in, "RSET\r\n", 6);
	rc = tls_server_start(&io, ctx, info, infolen, err, sizeof(err));
	if (rc == 0) {
		cr_assert_eq(tls_server_active(&io), 1);
		cr_assert_str_eq(tls_server_version(&io), "TLSv1.3");
		cr_assert_not_null(tls_server_cipher(&io));
		cr_assert_eq(iobuf_getline(&io, line, 100), IO_LINE);
		tls_server_end(&io);
	} else
		cr_assert_eq(tls_server_active(&io), 0);
	cr_assert_eq(tls_server_active(&io), 0);
	iobuf_free(&io);
	return rc;
}

static int
run(int mandatory, int max_version, const char *alpn, char *info,
    size_t infolen, struct buf *line)
{
	struct config *cfg = conf(">=TLSv1");
	struct ssl_ctx_st *ctx;
	int sv[2], status, rc;
	char err[512];
	pid_t pid;

	signal(SIGPIPE, SIG_IGN);
	ctx = tls_server_ctx(cfg, "smtpd", mandatory, "smtp", err,
	    sizeof(err));
	cr_assert_not_null(ctx, "%s", err);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = client(sv[1], max_version, alpn);
	close(sv[1]);
	rc = serve(ctx, sv[0], info, infolen, line);
	close(sv[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	tls_server_ctx_free(ctx);
	config_free(cfg);
	return rc == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ?
	    0 : -1;
}

Test(tls_server, handshake_info_and_discarded_input)
{
	char info[160];
	struct buf line;

	buf_init(&line);
	cr_assert_eq(run(1, 0, NULL, info, sizeof(info), &line), 0);
	cr_assert(strncmp(info, "TLSv1.3 with cipher TLS_", 24) == 0, "%s",
	    info);
	cr_assert(strstr(info, " bits)") != NULL, "%s", info);
	cr_assert_str_eq(line.data, "hello\n");
	buf_free(&line);
}

Test(tls_server, alpn_with_ours_is_fine_without_aborts)
{
	char info[160];
	struct buf line;

	buf_init(&line);
	cr_assert_eq(run(1, 0, "smtp", info, sizeof(info), &line), 0);
	buf_reset(&line);
	cr_assert_eq(run(1, 0, "h2", info, sizeof(info), &line), -1);
	buf_free(&line);
}

Test(tls_server, tls_1_1_refused_where_mandatory)
{
	char info[160];
	struct buf line;

	buf_init(&line);
	cr_assert_eq(run(1, TLS1_1_VERSION, NULL, info, sizeof(info), &line),
	    -1);
	buf_free(&line);
}
