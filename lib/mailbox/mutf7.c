/*
 * mutf7: modified UTF-7 <-> UTF-8 (see mutf7.h). Base64 here uses ','
 * for '/', has no padding, and carries UTF-16BE; a shift ends with '-'.
 * Security: every form that is not the one canonical encoding of a
 * permitted character is refused, and UTF-8 input is validated fully.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/xmalloc.h"
#include "mailbox/mutf7.h"

static const char mutf7_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int	mutf7_b64_value(int);
static int	mutf7_decode_shift(const char *, size_t, size_t *, struct buf *);
static void	mutf7_put_utf8(struct buf *, uint32_t);
static int	utf8_next(const unsigned char *, size_t, size_t *, uint32_t *);
static void	mutf7_encode_run(const uint16_t *, size_t, struct buf *);

static int
mutf7_b64_value(int c)
{
	const char *p;

	if (c == '\0' || (p = strchr(mutf7_b64, c)) == NULL)
		return -1;
	return (int)(p - mutf7_b64);
}

int
mutf7_to_utf8(const char *in, size_t len, struct buf *out)
{
	size_t i = 0;

	while (i < len) {
		if ((unsigned char)in[i] < 0x20 || (unsigned char)in[i] > 0x7e)
			return -1;
		if (in[i] != '&') {
			buf_putc(out, in[i++]);
			continue;
		}
		if (i + 1 < len && in[i + 1] == '-') {
			buf_putc(out, '&');
			i += 2;
			continue;
		}
		i++;
		if (mutf7_decode_shift(in, len, &i, out) == -1)
			return -1;
	}
	return 0;
}

/* From just after '&' through the closing '-'. */
static int
mutf7_decode_shift(const char *in, size_t len, size_t *ip, struct buf *out)
{
	uint32_t bits = 0, hi = 0, u;
	int nbits = 0, v, units = 0;
	size_t i = *ip;

	for (; i < len && in[i] != '-'; i++) {
		if ((v = mutf7_b64_value((unsigned char)in[i])) == -1)
			return -1;
		bits = (bits << 6) | (uint32_t)v;
		if ((nbits += 6) < 16)
			continue;
		nbits -= 16;
		u = (bits >> nbits) & 0xffff;
		bits &= (1u << nbits) - 1;
		units++;
		if (hi != 0) {
			if (u < 0xdc00 || u > 0xdfff)
				return -1;
			mutf7_put_utf8(out, 0x10000 + ((hi - 0xd800) << 10) +
			    (u - 0xdc00));
			hi = 0;
		} else if (u >= 0xd800 && u <= 0xdbff)
			hi = u;
		else if (u < 0x20 || (u >= 0x20 && u <= 0x7e) ||
		    (u >= 0xdc00 && u <= 0xdfff))
			return -1;	/* must stand for itself, or invalid */
		else
			mutf7_put_utf8(out, u);
	}
	/* Unterminated, empty, half a pair, or leftover bits not zero. */
	if (i == len || units == 0 || hi != 0 || nbits >= 6 || bits != 0)
		return -1;
	*ip = i + 1;
	return 0;
}

static void
mutf7_put_utf8(struct buf *out, uint32_t c)
{
	if (c < 0x80)
		buf_putc(out, (int)c);
	else if (c < 0x800) {
		buf_putc(out, (int)(0xc0 | (c >> 6)));
		buf_putc(out, (int)(0x80 | (c & 0x3f)));
	} else if (c < 0x10000) {
		buf_putc(out, (int)(0xe0 | (c >> 12)));
		buf_putc(out, (int)(0x80 | ((c >> 6) & 0x3f)));
		buf_putc(out, (int)(0x80 | (c & 0x3f)));
	} else {
		buf_putc(out, (int)(0xf0 | (c >> 18)));
		buf_putc(out, (int)(0x80 | ((c >> 12) & 0x3f)));
		buf_putc(out, (int)(0x80 | ((c >> 6) & 0x3f)));
		buf_putc(out, (int)(0x80 | (c & 0x3f)));
	}
}

/* One UTF-8 sequence at s[*i]: no overlongs, surrogates or > U+10FFFF. */
static int
utf8_next(const unsigned char *s, size_t len, size_t *i, uint32_t *cp)
{
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t n, k;
	uint32_t c = s[*i];

	if (c < 0x80)
		n = 1;
	else if ((c & 0xe0) == 0xc0) {
		n = 2;
		c &= 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3;
		c &= 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4;
		c &= 0x07;
	} else
		return -1;
	if (len - *i < n)
		return -1;
	for (k = 1; k < n; k++) {
		if ((s[*i + k] & 0xc0) != 0x80)
			return -1;
		c = (c << 6) | (s[*i + k] & 0x3f);
	}
	if (c < min[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return -1;
	*i += n;
	*cp = c;
	return 0;
}

int
utf8_to_mutf7(const char *in, size_t len, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)in;
	uint16_t *units;
	size_t i = 0, n;
	uint32_t c;

	/* Never more UTF-16 units than input bytes. */
	units = xreallocarray(NULL, len + 1, sizeof(*units));
	while (i < len) {
		if (s[i] >= 0x20 && s[i] <= 0x7e) {
			if (s[i] == '&')
				buf_puts(out, "&-");
			else
				buf_putc(out, s[i]);
			i++;
			continue;
		}
		for (n = 0; i < len && (s[i] < 0x20 || s[i] > 0x7e);) {
			if (s[i] < 0x80 || utf8_next(s, len, &i, &c) == -1) {
				free(units);
				return -1;
			}
			if (c >= 0x10000) {
				units[n++] = (uint16_t)(0xd800 +
				    ((c - 0x10000) >> 10));
				units[n++] = (uint16_t)(0xdc00 +
				    ((c - 0x10000) & 0x3ff));
			} else
				units[n++] = (uint16_t)c;
		}
		mutf7_encode_run(units, n, out);
	}
	free(units);
	return 0;
}

static void
mutf7_encode_run(const uint16_t *units, size_t n, struct buf *out)
{
	uint32_t bits = 0;
	int nbits = 0;
	size_t i;

	buf_putc(out, '&');
	for (i = 0; i < n; i++) {
		bits = (bits << 16) | units[i];
		nbits += 16;
		while (nbits >= 6) {
			nbits -= 6;
			buf_putc(out, mutf7_b64[(bits >> nbits) & 0x3f]);
		}
		bits &= (1u << nbits) - 1;
	}
	if (nbits > 0)
		buf_putc(out, mutf7_b64[(bits << (6 - nbits)) & 0x3f]);
	buf_putc(out, '-');
}

int
mutf7_folder_path(const char *name, size_t maxlen, char *path, size_t pathlen)
{
	struct buf utf8, canon;
	size_t i, len = strlen(name);
	int rc = -1;

	if (strcasecmp(name, "INBOX") == 0)
		return strlcpy(path, ".", pathlen) < pathlen ? 0 : -1;
	if (len == 0 || len > maxlen || name[0] == '/' ||
	    name[len - 1] == '/' || strstr(name, "//") != NULL ||
	    strpbrk(name, ".%*\\") != NULL)
		return -1;
	buf_init(&utf8);
	buf_init(&canon);
	/* Decoded strictly, encoded again: one spelling per folder. */
	if (mutf7_to_utf8(name, len, &utf8) == 0 && utf8.len > 0 &&
	    utf8_to_mutf7(utf8.data, utf8.len, &canon) == 0 &&
	    canon.len + 2 <= pathlen && strcmp(canon.data, name) == 0) {
		path[0] = '.';
		for (i = 0; i <= canon.len; i++)
			path[i + 1] = canon.data[i] == '/' ? '.' :
			    canon.data[i];
		rc = 0;
	}
	buf_free(&utf8);
	buf_free(&canon);
	return rc;
}
