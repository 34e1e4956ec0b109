/*
 * deliver_smtp_auth: SMTP AUTH (RFC 4954) for the smtp transport: PLAIN,
 * else LOGIN, with "user:password" from smtp_sasl_password_maps (keys: the
 * next hop as written, then the server's name).
 * Parameters: smtp_sasl_auth_enable, smtp_sasl_password_maps.
 * Security: only inside TLS; the secret is wiped from every buffer it
 * passed through; a refused login defers (never bounces).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "deliver/deliver_smtp.h"
#include "map/map.h"

static void smtp_wipe(struct buf *);
static int smtp_auth_secret(struct smtp_session *, struct buf *);
static void smtp_auth_send64(struct smtp_session *, const char *,
    const void *, size_t);
static int smtp_auth_step(struct smtp_session *, int);

static void
smtp_wipe(struct buf *b)
{
	if (b->data != NULL)
		explicit_bzero(b->data, b->size);
}

/* "AUTH PLAIN LOGIN CRAM-MD5": the mechanisms we can use. */
void
smtp_ehlo_auth(struct smtp_session *s, const char *mechs)
{
	char **v;
	size_t n, i;

	v = config_split(mechs, &n);
	for (i = 0; i < n; i++) {
		if (!strcasecmp(v[i], "PLAIN"))
			s->features |= SMTP_FEAT_AUTH_PLAIN;
		else if (!strcasecmp(v[i], "LOGIN"))
			s->features |= SMTP_FEAT_AUTH_LOGIN;
	}
	config_split_free(v);
}

/*
 * smtp_auth_secret: "user:password" for this next hop (the nexthop as
 * written, then the server's name); 1 found, 0 none, -1 failure.
 */
static int
smtp_auth_secret(struct smtp_session *s, struct buf *secret)
{
	const char *keys[2] = { s->nexthop, s->host };
	char *key, *p;
	size_t i;
	int rc = 0;

	for (i = 0; i < 2 && rc == 0; i++) {
		if (keys[i] == NULL)
			continue;
		key = xstrdup(keys[i]);
		for (p = key; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		rc = map_list_lookup(s->conf->sasl_maps, key, secret);
		free(key);
	}
	return rc;
}

static void
smtp_auth_send64(struct smtp_session *s, const char *prefix, const void *data,
    size_t len)
{
	char *out;
	size_t outlen = 4 * ((len + 2) / 3) + 1;

	out = xmalloc(outlen);
	/* Not OpenSSL's encoder: without TLS the library is never loaded. */
	if (base64_encode(data, len, out, outlen) == -1)
		fatalx("smtp AUTH: base64 of %zu bytes", len);
	iobuf_puts(&s->io, prefix);
	iobuf_puts(&s->io, out);
	iobuf_puts(&s->io, "\r\n");
	explicit_bzero(out, outlen);
	free(out);
}

/* One AUTH round trip expecting code; 0, or -1 with the failure recorded. */
static int
smtp_auth_step(struct smtp_session *s, int code)
{
	int rc = smtp_send(s, s->conf->helo_timeout, "performing SASL "
	    "authentication");

	/* The password sat in the output buffer: wipe it either way. */
	smtp_wipe(&s->io.out);
	if (rc == -1 || smtp_read_reply(s, s->conf->helo_timeout,
	    "performing SASL authentication") == -1)
		return -1;
	if (s->reply.code == code)
		return 0;
	/* Like Postfix's smtp_sasl_auth_soft_bounce: retry, never bounce. */
	smtp_fail(s, s->reply.code / 100 == 5 ? "4.7.8" : "4.7.0",
	    "SASL authentication failed; server %s said: %s", s->peer,
	    s->reply.text.data);
	return -1;
}

/*
 * smtp_auth: AUTH PLAIN (or LOGIN) when smtp_sasl_password_maps has a
 * password for this next hop and the server offers it, over TLS only: a
 * password is never sent in the clear.
 */
int
smtp_auth(struct smtp_session *s)
{
	struct buf secret, blob;
	char *colon;
	int rc;

	if (s->conf->sasl_maps == NULL ||
	    !(s->features & (SMTP_FEAT_AUTH_PLAIN | SMTP_FEAT_AUTH_LOGIN)))
		return 0;
	buf_init(&secret);
	buf_init(&blob);
	if ((rc = smtp_auth_secret(s, &secret)) <= 0) {
		if (rc == -1)
			smtp_fail(s, "4.3.0", "smtp_sasl_password_maps lookup "
			    "failure");
		goto out;
	}
	rc = -1;
	if (!s->tls_active) {
		smtp_fail(s, "4.7.0", "refusing to send a password to %s "
		    "without TLS", s->peer);
		goto out;
	}
	if ((colon = strchr(secret.data, ':')) == NULL) {
		smtp_fail(s, "4.3.5", "smtp_sasl_password_maps: value for "
		    "%s is not user:password", s->nexthop);
		goto out;
	}
	*colon++ = '\0';
	if (s->features & SMTP_FEAT_AUTH_PLAIN) {
		buf_putc(&blob, '\0');
		buf_puts(&blob, secret.data);
		buf_putc(&blob, '\0');
		buf_puts(&blob, colon);
		smtp_auth_send64(s, "AUTH PLAIN ", blob.data, blob.len);
		rc = smtp_auth_step(s, 235);
	} else {
		iobuf_puts(&s->io, "AUTH LOGIN\r\n");
		if (smtp_auth_step(s, 334) == 0) {
			smtp_auth_send64(s, "", secret.data, strlen(secret.data));
			if (smtp_auth_step(s, 334) == 0) {
				smtp_auth_send64(s, "", colon, strlen(colon));
				rc = smtp_auth_step(s, 235);
			}
		}
	}
out:
	smtp_wipe(&secret);
	smtp_wipe(&blob);
	buf_free(&secret);
	buf_free(&blob);
	return rc;
}
