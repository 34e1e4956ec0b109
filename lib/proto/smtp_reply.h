/*
 * smtp_reply: the SMTP client's reply parser (RFC 5321 4.2). Lines are fed
 * one at a time as read from the server (with or without their CRLF); a
 * reply is done at its first line with a space (or nothing) after the
 * code. Everything malformed is an error the caller turns into a 4xx
 * deferral; the stored text is escaped (printable ASCII only) and capped.
 * No I/O, no globals: fuzzable.
 */
#ifndef POSTILION_SMTP_REPLY_H
#define POSTILION_SMTP_REPLY_H

#include <stddef.h>

#include "core/buf.h"

#define SMTP_REPLY_MORE		0	/* a continuation line: feed the next */
#define SMTP_REPLY_DONE		1	/* the reply is complete */
#define SMTP_REPLY_BAD		(-1)	/* malformed; see error */

#define SMTP_REPLY_TEXT_MAX	4096	/* stored text, longer is cut */
#define SMTP_REPLY_DSN_MAX	12

struct smtp_reply {
	int	 code;			/* 200-599 once the first line is in */
	char	 dsn[SMTP_REPLY_DSN_MAX];	/* enhanced code, or X.0.0 */
	struct buf text;		/* all lines, escaped, joined by ' ' */
	size_t	 lines;
	size_t	 max_lines;
	char	 error[96];
};

void	smtp_reply_init(struct smtp_reply *, size_t max_lines);
void	smtp_reply_reset(struct smtp_reply *);
void	smtp_reply_free(struct smtp_reply *);
/* smtp_reply_feed: one line; SMTP_REPLY_MORE, _DONE or _BAD. */
int	smtp_reply_feed(struct smtp_reply *, const char *line, size_t len);
/*
 * smtp_reply_escape: append bytes to b, printable ASCII as is, anything
 * else as \ooo, at most max bytes of output.
 */
void	smtp_reply_escape(struct buf *, const char *, size_t, size_t max);
/*
 * smtp_ehlo_keyword: whether one raw line of an EHLO reply offers keyword
 * (case-insensitive); its parameter, if any, into param.
 */
int	smtp_ehlo_keyword(const char *line, size_t len, const char *keyword,
	    char *param, size_t paramlen);

#endif
