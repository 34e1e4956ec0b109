/*
 * test_auth: base64 both ways (RFC 4648 vectors and hostile input), SASL
 * PLAIN parsing (RFC 4616) and auth_verify against a texthash: password
 * map (right, wrong, unknown, empty and over-long passwords).
 */
#include <criterion/criterion.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "map/passwd.h"

static long
dec(const char *s, unsigned char *out, size_t outmax)
{
	return base64_decode(s, strlen(s), out, outmax);
}

Test(base64, rfc4648_vectors)
{
	static const char *plain[] = { "", "f", "fo", "foo", "foob", "fooba",
	    "foobar" };
	static const char *enc[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==",
	    "Zm9vYmE=", "Zm9vYmFy" };
	unsigned char out[16];
	char text[16];
	size_t i;

	for (i = 0; i < 7; i++) {
		cr_assert_eq(base64_encode((const unsigned char *)plain[i],
		    strlen(plain[i]), text, sizeof(text)),
		    (long)strlen(enc[i]));
		cr_assert_str_eq(text, enc[i]);
		cr_assert_eq(dec(enc[i], out, sizeof(out)),
		    (long)strlen(plain[i]));
		cr_assert_eq(memcmp(out, plain[i], strlen(plain[i])), 0);
	}
}

Test(base64, binary_round_trip)
{
	unsigned char in[256], out[256];
	char text[400];
	long n;
	size_t i, len;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(255 - i);
	for (len = 0; len <= sizeof(in); len += 37) {
		n = base64_encode(in, len, text, sizeof(text));
		cr_assert_gt(n, -1);
		cr_assert_eq(base64_decode(text, (size_t)n, out, sizeof(out)),
		    (long)len);
		cr_assert_eq(memcmp(in, out, len), 0);
	}
}

Test(base64, rejects_bad_input)
{
	unsigned char out[64];
	static const char *bad[] = {
		"Zg=", "Zg", "Z", "Zm9", "Zm9v\r\n", " Zm9v", "Zm 9v",
		"Zm9v====", "=Zm9", "Zg==Zm9v", "Z===", "Zm=v", "Zh==",
		"Zm9=", "Zm9v*A==", "Zm9v-_==", "\xc3\xa9==", "Zg\0=",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(dec(bad[i], out, sizeof(out)), -1, "accepted %s",
		    bad[i]);
	/* The embedded NUL, given with its length. */
	cr_assert_eq(base64_decode("Zg\0=", 4, out, sizeof(out)), -1);
}

Test(base64, limits)
{
	unsigned char out[3];
	char text[5];

	cr_assert_eq(dec("Zm9v", out, 3), 3);
	cr_assert_eq(dec("Zm9vYg==", out, 3), -1);	/* 4 bytes into 3 */
	cr_assert_eq(dec("Zm9v", out, 2), -1);
	cr_assert_eq(base64_encode((const unsigned char *)"foo", 3, text, 5),
	    4);
	/* No room for the NUL. */
	cr_assert_eq(base64_encode((const unsigned char *)"foo", 3, text, 4),
	    -1);
	cr_assert_eq(base64_encode((const unsigned char *)"", 0, text, 1), 0);
	cr_assert_eq(base64_encode((const unsigned char *)"", 0, text, 0), -1);
}

static int
plain(const char *msg, size_t len, char *user, char *pass)
{
	return sasl_plain_parse((const unsigned char *)msg, len, user, pass);
}

Test(sasl_plain, good)
{
	char user[AUTH_USER_MAX + 1], pass[AUTH_PASS_MAX + 1];

	cr_assert_eq(plain("\0Alice@Example.ORG\0s3cret", 25, user, pass), 0);
	cr_assert_str_eq(user, "alice@example.org");
	cr_assert_str_eq(pass, "s3cret");
	/* authzid equal to authcid (any case) is fine. */
	cr_assert_eq(plain("alice@example.org\0ALICE@example.org\0pw", 38,
	    user, pass), 0);
	cr_assert_str_eq(user, "alice@example.org");
	cr_assert_str_eq(pass, "pw");
}

Test(sasl_plain, hostile)
{
	char user[AUTH_USER_MAX + 1], pass[AUTH_PASS_MAX + 1];
	char big[AUTH_SASL_MAX + 16];
	size_t n;

	cr_assert_eq(plain("alice\0secret", 12, user, pass), -1);
	cr_assert_eq(plain("alicesecret", 11, user, pass), -1);
	cr_assert_eq(plain("", 0, user, pass), -1);
	cr_assert_eq(plain("\0\0secret", 8, user, pass), -1);	/* no authcid */
	cr_assert_eq(plain("\0alice\0", 7, user, pass), -1);	/* no password */
	cr_assert_eq(plain("\0alice\0pw\0x", 11, user, pass), -1);
	/* Proxy login: authzid names someone else. */
	cr_assert_eq(plain("bob\0alice\0secret", 16, user, pass), -1);
	cr_assert_str_eq(user, "");
	cr_assert_str_eq(pass, "");
	cr_assert_eq(plain("alic\0alice\0secret", 17, user, pass), -1);
	/* Over-long authcid, password and message. */
	memset(big, 'a', sizeof(big));
	big[0] = '\0';
	big[AUTH_USER_MAX + 2] = '\0';
	cr_assert_eq(plain(big, AUTH_USER_MAX + 5, user, pass), -1);
	big[AUTH_USER_MAX + 2] = 'a';
	big[AUTH_USER_MAX + 1] = '\0';
	cr_assert_eq(plain(big, AUTH_USER_MAX + 5, user, pass), 0);
	cr_assert_eq(strlen(user), AUTH_USER_MAX);
	big[AUTH_USER_MAX + 1] = 'a';
	big[1 + 5] = '\0';
	n = 1 + 5 + 1 + AUTH_PASS_MAX;
	cr_assert_eq(plain(big, n, user, pass), 0);
	cr_assert_eq(strlen(pass), AUTH_PASS_MAX);
	cr_assert_eq(plain(big, n + 1, user, pass), -1);
	cr_assert_eq(plain(big, AUTH_SASL_MAX + 1, user, pass), -1);
}

static char mapfile[] = "/tmp/test_auth.XXXXXX";

static struct map_list *
password_maps(void)
{
	struct map_list *ml;
	char *hash, spec[128], err[256];
	FILE *fp;
	int fd;

	hash = passwd_hash("right horse");
	cr_assert_not_null(hash);
	fd = mkstemp(mapfile);
	cr_assert_neq(fd, -1);
	fp = fdopen(fd, "w");
	fprintf(fp, "alice@example.org %s\nbob@example.org {PLAIN}b0b\n"
	    "carol@example.org {NOSUCH}x\n", hash);
	fclose(fp);
	free(hash);
	snprintf(spec, sizeof(spec), "texthash:%s", mapfile);
	ml = map_list_open(spec, err, sizeof(err));
	cr_assert_not_null(ml, "%s", err);
	return ml;
}

Test(auth_verify, accounts)
{
	struct map_list *ml = password_maps();
	char longpw[AUTH_PASS_MAX + 2];

	cr_assert_eq(auth_verify(ml, "alice@example.org", "right horse"),
	    AUTH_OK);
	cr_assert_eq(auth_verify(ml, "ALICE@Example.org", "right horse"),
	    AUTH_OK);
	cr_assert_eq(auth_verify(ml, "alice@example.org", "wrong horse"),
	    AUTH_FAIL);
	cr_assert_eq(auth_verify(ml, "alice@example.org", "right hors"),
	    AUTH_FAIL);
	cr_assert_eq(auth_verify(ml, "alice@example.org", ""), AUTH_FAIL);
	cr_assert_eq(auth_verify(ml, "bob@example.org", "b0b"), AUTH_OK);
	cr_assert_eq(auth_verify(ml, "bob@example.org", "b0b "), AUTH_FAIL);
	cr_assert_eq(auth_verify(ml, "carol@example.org", "x"), AUTH_FAIL);
	cr_assert_eq(auth_verify(ml, "mallory@example.org", "b0b"), AUTH_FAIL);
	cr_assert_eq(auth_verify(ml, "", "b0b"), AUTH_FAIL);
	cr_assert_eq(auth_verify(ml, "bob@example.org\n", "b0b"), AUTH_FAIL);
	cr_assert_eq(auth_verify(ml, "bob @example.org", "b0b"), AUTH_FAIL);
	memset(longpw, 'x', sizeof(longpw) - 1);
	longpw[sizeof(longpw) - 1] = '\0';
	cr_assert_eq(auth_verify(ml, "bob@example.org", longpw), AUTH_FAIL);
	map_list_close(ml);
	unlink(mapfile);
}

/* A Dovecot passwd-file, unchanged, as virtual_password_maps. */
Test(auth_verify, dovecot_passwd_file)
{
	struct map_list *ml;
	struct buf v;
	char *hash, spec[128], err[256];
	FILE *fp;
	int fd;

	hash = passwd_hash("dove pw");
	cr_assert_not_null(hash);
	fd = mkstemp(mapfile);
	cr_assert_neq(fd, -1);
	fp = fdopen(fd, "w");
	fprintf(fp, "# Dovecot users\n\n"
	    "Dave@Example.org:%s:5000:5000::/home/dave::userdb_quota_rule=*:"
	    "storage=1G\n"
	    "erin@example.org:{PLAIN}erin pw:5000:5000::/home/erin\n"
	    "erin@example.org:{PLAIN}second:5000:5000::/home/erin\n"
	    "frank@example.org\n"
	    "gina@example.org:{PLAIN}gina\r\n", hash);
	fclose(fp);
	free(hash);
	snprintf(spec, sizeof(spec), "passwd-file:%s", mapfile);
	ml = map_list_open(spec, err, sizeof(err));
	cr_assert_not_null(ml, "%s", err);
	cr_assert_eq(auth_verify(ml, "dave@example.org", "dove pw"), AUTH_OK);
	cr_assert_eq(auth_verify(ml, "dave@example.org", "dove"), AUTH_FAIL);
	cr_assert_eq(auth_verify(ml, "erin@example.org", "erin pw"), AUTH_OK);
	/* The first line for a user wins, as in Dovecot. */
	cr_assert_eq(auth_verify(ml, "erin@example.org", "second"), AUTH_FAIL);
	cr_assert_eq(auth_verify(ml, "frank@example.org", "x"), AUTH_FAIL);
	cr_assert_eq(auth_verify(ml, "gina@example.org", "gina"), AUTH_OK);
	cr_assert_eq(auth_verify(ml, "# dovecot users", "x"), AUTH_FAIL);
	buf_init(&v);
	cr_assert_eq(map_list_lookup(ml, "ERIN@example.org", &v), 1);
	cr_assert_str_eq(v.data, "{PLAIN}erin pw");
	buf_free(&v);
	map_list_close(ml);
	/* A line whose user field cannot be a key stops the open. */
	fp = fopen(mapfile, "w");
	fprintf(fp, "ok@example.org:{PLAIN}x\n:{PLAIN}nobody\n");
	fclose(fp);
	cr_assert_null(map_list_open(spec, err, sizeof(err)));
	cr_assert(strstr(err, "line 2") != NULL, "%s", err);
	unlink(mapfile);
}

/* The per-IP failure table: counting, windows, other IPs, bounds. */
Test(auth_failures, counts_per_ip_within_the_window)
{
	char path[] = "/tmp/test_auth_failures.XXXXXX", ip[64];
	struct stat st;
	int fd, i;

	fd = mkstemp(path);
	cr_assert_neq(fd, -1);
	close(fd);
	fd = auth_failures_open(path);
	cr_assert_neq(fd, -1);
	cr_assert_eq(auth_failures_count(fd, "192.0.2.1", 60, 0), 0);
	cr_assert_eq(auth_failures_count(fd, "192.0.2.1", 60, 1), 1);
	cr_assert_eq(auth_failures_count(fd, "192.0.2.1", 60, 1), 2);
	cr_assert_eq(auth_failures_count(fd, "192.0.2.1", 60, 0), 2);
	cr_assert_eq(auth_failures_count(fd, "192.0.2.2", 60, 0), 0);
	cr_assert_eq(auth_failures_count(fd, "2001:db8::1", 60, 1), 1);
	/* A second descriptor (another process) sees the same counts. */
	i = auth_failures_open(path);
	cr_assert_eq(auth_failures_count(i, "192.0.2.1", 60, 1), 3);
	close(i);
	/* Hostile or absent input counts nothing. */
	cr_assert_eq(auth_failures_count(-1, "192.0.2.1", 60, 1), 0);
	cr_assert_eq(auth_failures_count(fd, "", 60, 1), 0);
	cr_assert_eq(auth_failures_count(fd, "192.0.2.1", 0, 1), 0);
	memset(ip, 'x', sizeof(ip) - 1);
	ip[sizeof(ip) - 1] = '\0';
	cr_assert_eq(auth_failures_count(fd, ip, 60, 1), 0);
	/* Many addresses: the file stays bounded, recent ones survive. */
	for (i = 0; i < 20000; i++) {
		snprintf(ip, sizeof(ip), "10.%d.%d.%d", i >> 16, (i >> 8) & 255,
		    i & 255);
		(void)auth_failures_count(fd, ip, 60, 1);
	}
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_leq(st.st_size, 4096 * 64);
	cr_assert_eq(auth_failures_count(fd, "10.0.78.31", 60, 0), 1);
	close(fd);
	unlink(path);
}

Test(auth_failures, window_expiry)
{
	char path[] = "/tmp/test_auth_failures.XXXXXX";
	int fd;

	fd = mkstemp(path);
	cr_assert_neq(fd, -1);
	close(fd);
	fd = auth_failures_open(path);
	cr_assert_eq(auth_failures_count(fd, "192.0.2.7", 1, 1), 1);
	cr_assert_eq(auth_failures_count(fd, "192.0.2.7", 1, 1), 2);
	sleep(2);
	cr_assert_eq(auth_failures_count(fd, "192.0.2.7", 1, 0), 0);
	cr_assert_eq(auth_failures_count(fd, "192.0.2.7", 1, 1), 1);
	close(fd);
	unlink(path);
	/* Not a regular file: refused. */
	cr_assert_eq(auth_failures_open("/tmp"), -1);
}
