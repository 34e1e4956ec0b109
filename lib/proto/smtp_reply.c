/*
 * smtp_reply: parse the replies of an SMTP server, line by line, into a
 * code, an enhanced status code and an escaped text. Interface:
 * smtp_reply.h. Security: the server is untrusted (CVE-2020-8794 read
 * past a short line): every byte is read within len, the line count and
 * stored text are capped, and control bytes never reach a log.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "proto/smtp_reply.h"

static int smtp_reply_fail(struct smtp_reply *, const char *);
static void smtp_reply_dsn(struct smtp_reply *, const char *, size_t);
static size_t smtp_reply_dsn_part(const char *, size_t);

void
smtp_reply_init(struct smtp_reply *r, size_t max_lines)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->text);
	r->max_lines = max_lines;
}

void
smtp_reply_reset(struct smtp_reply *r)
{
	r->code = 0;
	r->dsn[0] = '\0';
	r->lines = 0;
	r->error[0] = '\0';
	buf_reset(&r->text);
}

void
smtp_reply_free(struct smtp_reply *r)
{
	buf_free(&r->text);
}

static int
smtp_reply_fail(struct smtp_reply *r, const char *why)
{
	snprintf(r->error, sizeof(r->error), "%s", why);
	return SMTP_REPLY_BAD;
}

void
smtp_reply_escape(struct buf *b, const char *s, size_t len, size_t max)
{
	size_t i, start = b->len;
	unsigned char c;

	for (i = 0; i < len && b->len - start < max; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			buf_putc(b, c);
		else if (b->len - start + 4 <= max)
			buf_printf(b, "\\%03o", c);
		else
			break;
	}
}

/* Length of "D{1,3}" at s (at most len bytes), 0 when absent. */
static size_t
smtp_reply_dsn_part(const char *s, size_t len)
{
	size_t n = 0;

	while (n < len && n < 4 && isdigit((unsigned char)s[n]))
		n++;
	return n >= 1 && n <= 3 ? n : 0;
}

/* The enhanced status code (RFC 3463) after "NNN ", else "X.0.0". */
static void
smtp_reply_dsn(struct smtp_reply *r, const char *line, size_t len)
{
	size_t pos = 4, n;

	snprintf(r->dsn, sizeof(r->dsn), "%c.0.0", line[0]);
	if (len < pos + 5 || line[pos] != line[0] || line[pos + 1] != '.')
		return;
	pos += 2;
	if ((n = smtp_reply_dsn_part(line + pos, len - pos)) == 0)
		return;
	pos += n;
	if (pos >= len || line[pos] != '.')
		return;
	pos++;
	if ((n = smtp_reply_dsn_part(line + pos, len - pos)) == 0)
		return;
	pos += n;
	if (pos < len && line[pos] != ' ')
		return;
	if (pos - 4 < sizeof(r->dsn)) {
		memcpy(r->dsn, line + 4, pos - 4);
		r->dsn[pos - 4] = '\0';
	}
}

int
smtp_reply_feed(struct smtp_reply *r, const char *line, size_t len)
{
	int code;
	size_t i;

	if (r->error[0] != '\0')
		return SMTP_REPLY_BAD;
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	for (i = 0; i < len; i++)
		if (line[i] == '\0' || line[i] == '\r' || line[i] == '\n')
			return smtp_reply_fail(r, "control character in reply");
	if (len < 3)
		return smtp_reply_fail(r, "reply line too short");
	if (line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '5' ||
	    !isdigit((unsigned char)line[2]))
		return smtp_reply_fail(r, "malformed reply code");
	if (len > 3 && line[3] != ' ' && line[3] != '-')
		return smtp_reply_fail(r, "malformed reply code");
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (r->lines > 0 && code != r->code)
		return smtp_reply_fail(r, "mixed reply codes in one reply");
	if (++r->lines > r->max_lines)
		return smtp_reply_fail(r, "too many reply lines");
	if (r->lines == 1) {
		r->code = code;
		smtp_reply_dsn(r, line, len);
	}
	if (r->text.len > 0 && r->text.len < SMTP_REPLY_TEXT_MAX)
		buf_putc(&r->text, ' ');
	if (r->text.len < SMTP_REPLY_TEXT_MAX)
		smtp_reply_escape(&r->text, line, len,
		    SMTP_REPLY_TEXT_MAX - r->text.len);
	return len == 3 || line[3] == ' ' ? SMTP_REPLY_DONE : SMTP_REPLY_MORE;
}

int
smtp_ehlo_keyword(const char *line, size_t len, const char *keyword,
    char *param, size_t paramlen)
{
	size_t klen = strlen(keyword), plen;

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len < 4 + klen || strncasecmp(line + 4, keyword, klen) != 0)
		return 0;
	if (len > 4 + klen && line[4 + klen] != ' ' && line[4 + klen] != '=')
		return 0;
	if (param != NULL && paramlen > 0) {
		plen = len > 5 + klen ? len - 5 - klen : 0;
		if (plen >= paramlen)
			plen = paramlen - 1;
		if (plen > 0)
			memcpy(param, line + 5 + klen, plen);
		param[plen] = '\0';
	}
	return 1;
}
