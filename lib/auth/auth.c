/*
 * auth: base64 (RFC 4648, strict), the SASL PLAIN message (RFC 4616) and
 * the one account check smtpd, pop3d and imapd share: a
 * virtual_password_maps lookup and passwd_verify's constant-time compare.
 * Security: an unknown user costs the same crypt(3) run as a known one;
 * every copy of a stored hash or password made here is wiped before free.
 */
#include <string.h>

#include "auth/auth.h"
#include "core/buf.h"
#include "map/passwd.h"

/* Verified when the user does not exist, so timing does not tell. */
#define AUTH_DUMMY_HASH	"{SHA512-CRYPT}$6$postilionDummy0$OvKmrI8MxFmgnwJ/" \
	"y7aVITwViHqvyjlhqaWhfzTqpsnFRIFsFGgyDk6xBptmaEkSEY/CM1xx7kkPGNe0u6lHV/"

static int	b64_value(unsigned char);
static int	auth_user_ok(const char *);

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of c, or -1 for anything outside the alphabet. */
static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Strict: whole quanta only, '=' only as the last one or two characters,
 * no whitespace, and the bits padding leaves over must be zero (one
 * encoding per message, so nothing can be smuggled in the slack).
 */
long
base64_decode(const char *in, size_t inlen, unsigned char *out, size_t outmax)
{
	size_t i, o = 0, pad = 0, need;
	int v[4], k;
	unsigned long q;

	if (inlen % 4 != 0)
		return -1;
	if (inlen > 0 && in[inlen - 1] == '=')
		pad = inlen > 1 && in[inlen - 2] == '=' ? 2 : 1;
	need = inlen / 4 * 3 - pad;
	if (need > outmax || need > (size_t)(((unsigned long)-1) >> 1))
		return -1;
	for (i = 0; i < inlen; i += 4) {
		for (k = 0; k < 4; k++) {
			if (i + (size_t)k >= inlen - pad && in[i + k] == '=')
				v[k] = 0;
			else if ((v[k] = b64_value((unsigned char)in[i + k])) ==
			    -1)
				return -1;
		}
		q = (unsigned long)v[0] << 18 | (unsigned long)v[1] << 12 |
		    (unsigned long)v[2] << 6 | (unsigned long)v[3];
		if (i + 4 == inlen && pad == 2 && (q & 0xffff) != 0)
			return -1;
		if (i + 4 == inlen && pad == 1 && (q & 0xff) != 0)
			return -1;
		out[o++] = (unsigned char)(q >> 16);
		if (o < need)
			out[o++] = (unsigned char)(q >> 8);
		if (o < need)
			out[o++] = (unsigned char)q;
	}
	return (long)o;
}

long
base64_encode(const unsigned char *in, size_t inlen, char *out, size_t outmax)
{
	size_t i, o = 0, need;
	unsigned long q;

	need = (inlen + 2) / 3 * 4;
	if (inlen > ((size_t)-1) / 2 || need >= outmax ||
	    need > (size_t)(((unsigned long)-1) >> 1))
		return -1;
	for (i = 0; i + 2 < inlen; i += 3) {
		q = (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8 |
		    in[i + 2];
		out[o++] = b64_alphabet[q >> 18 & 63];
		out[o++] = b64_alphabet[q >> 12 & 63];
		out[o++] = b64_alphabet[q >> 6 & 63];
		out[o++] = b64_alphabet[q & 63];
	}
	if (i < inlen) {
		q = (unsigned long)in[i] << 16;
		if (i + 1 < inlen)
			q |= (unsigned long)in[i + 1] << 8;
		out[o++] = b64_alphabet[q >> 18 & 63];
		out[o++] = b64_alphabet[q >> 12 & 63];
		out[o++] = i + 1 < inlen ? b64_alphabet[q >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return (long)o;
}

int
sasl_plain_parse(const unsigned char *msg, size_t len,
    char user[AUTH_USER_MAX + 1], char pass[AUTH_PASS_MAX + 1])
{
	const unsigned char *nul1, *nul2, *authcid, *pw;
	size_t zlen, ulen, plen, i;

	user[0] = pass[0] = '\0';
	if (len > AUTH_SASL_MAX ||
	    (nul1 = memchr(msg, '\0', len)) == NULL)
		return -1;
	authcid = nul1 + 1;
	if ((nul2 = memchr(authcid, '\0', len - (size_t)(authcid - msg))) ==
	    NULL)
		return -1;
	pw = nul2 + 1;
	zlen = (size_t)(nul1 - msg);
	ulen = (size_t)(nul2 - authcid);
	plen = len - (size_t)(pw - msg);
	/* RFC 4616: authcid and passwd are 1*SAFE: no empty, no NUL. */
	if (ulen == 0 || ulen > AUTH_USER_MAX || plen == 0 ||
	    plen > AUTH_PASS_MAX || memchr(pw, '\0', plen) != NULL)
		return -1;
	for (i = 0; i < ulen; i++)
		user[i] = (char)(authcid[i] >= 'A' && authcid[i] <= 'Z' ?
		    authcid[i] - 'A' + 'a' : authcid[i]);
	user[ulen] = '\0';
	/* An authzid may only name the authcid itself (no proxy logins). */
	if (zlen > 0 && (zlen != ulen ||
	    strncasecmp((const char *)msg, user, zlen) != 0)) {
		user[0] = '\0';
		return -1;
	}
	memcpy(pass, pw, plen);
	pass[plen] = '\0';
	return 0;
}

/* A user name worth a lookup: 1..AUTH_USER_MAX printable, no space. */
static int
auth_user_ok(const char *user)
{
	size_t i;

	for (i = 0; user[i] != '\0'; i++)
		if (i >= AUTH_USER_MAX || (unsigned char)user[i] <= ' ' ||
		    user[i] == 0x7f)
			return 0;
	return i > 0;
}

int
auth_verify(struct map_list *password_maps, const char *user,
    const char *password)
{
	struct buf stored;
	int rc, ok;

	if (password == NULL || *password == '\0' ||
	    strlen(password) > AUTH_PASS_MAX || user == NULL ||
	    !auth_user_ok(user))
		return AUTH_FAIL;
	buf_init(&stored);
	rc = map_list_lookup(password_maps, user, &stored);
	if (rc == -1) {
		ok = AUTH_TEMPFAIL;
	} else if (rc == 1 && stored.data != NULL) {
		ok = passwd_verify(stored.data, password) == 1 ? AUTH_OK :
		    AUTH_FAIL;
	} else {
		(void)passwd_verify(AUTH_DUMMY_HASH, password);
		ok = AUTH_FAIL;
	}
	if (stored.data != NULL)
		explicit_bzero(stored.data, stored.len);
	buf_free(&stored);
	return ok;
}
