/*
 * pop3: POP3 (RFC 1939, RFC 2449) without I/O. pop3_command_parse splits a
 * command line into verb and arguments; pop3_msgconv turns a stored message
 * (LF or CRLF line ends) into the dot-stuffed CRLF stream of RETR and TOP.
 * Security: lines are untrusted; fields have fixed limits and a line with
 * control characters or NUL is refused before anything else looks at it.
 */
#ifndef POSTILION_PROTO_POP3_H
#define POSTILION_PROTO_POP3_H

#include <sys/types.h>
#include <stddef.h>

#include "core/buf.h"

#define POP3_VERB_MAX	16	/* RFC 2449 keywords are 3-4 chars; room to echo */
#define POP3_ARGS_MAX	2	/* TOP msg n */
#define POP3_UIDL_MAX	70	/* RFC 1939 section 7: 1 to 70 octets 0x21-0x7E */

#define POP3_PARSE_OK		0
#define POP3_PARSE_EMPTY	-1	/* nothing but spaces */
#define POP3_PARSE_BADVERB	-2	/* verb too long or not printable */
#define POP3_PARSE_BADCHAR	-3	/* NUL or a control character */

struct pop3_arg {
	const char *s;		/* points into the line; not NUL-terminated */
	size_t	 len;
};

struct pop3_command {
	char	 verb[POP3_VERB_MAX + 1];	/* upper case */
	/* Everything after the verb and one space, verbatim (PASS). */
	const char *rest;
	size_t	 rest_len;
	struct pop3_arg args[POP3_ARGS_MAX];
	size_t	 nargs;			/* at most POP3_ARGS_MAX */
	int	 extra_args;		/* more than POP3_ARGS_MAX were given */
};

/*
 * pop3_command_parse: parse line (len bytes, line end already removed).
 * Arguments are separated by one or more spaces. Returns POP3_PARSE_*.
 * The command points into line, which must outlive it.
 */
int	pop3_command_parse(const char *line, size_t len, struct pop3_command *);

/* pop3_number_parse: decimal digits only, no sign, <= max; 0 or -1. */
int	pop3_number_parse(const struct pop3_arg *, unsigned long long max,
	    unsigned long long *);

/* pop3_uidl_valid: the string is a legal unique-id listing (RFC 1939). */
int	pop3_uidl_valid(const char *, size_t);

/*
 * pop3_msgconv: a streaming converter. Feed the stored message in chunks of
 * any size (state carries CR and line starts across chunks); each LF not
 * preceded by CR becomes CRLF and a line starting with '.' gets another
 * '.' (RFC 1939 section 3). octets counts the converted message without
 * the stuffing, the added final line end and the terminator: the size
 * LIST and STAT report. With body_lines >= 0 (TOP) the conversion stops
 * after the header, the empty line and that many body lines.
 */
struct pop3_msgconv {
	off_t	 octets;
	long long body_lines;	/* left to send; -1 for all */
	size_t	 line_len;	/* bytes of the current line so far */
	int	 prev_cr;	/* the last byte fed was CR */
	int	 in_body;	/* the empty line after the header was seen */
	int	 done;		/* TOP's line count is reached */
};

void	pop3_msgconv_init(struct pop3_msgconv *, long long body_lines);
/*
 * pop3_msgconv_feed: convert len bytes of in, appending to out (NULL to
 * only count). Returns the bytes consumed: less than len once done is set.
 */
size_t	pop3_msgconv_feed(struct pop3_msgconv *, const char *in, size_t len,
	    struct buf *out);
/* pop3_msgconv_end: end an unfinished last line, then ".\r\n". */
void	pop3_msgconv_end(struct pop3_msgconv *, struct buf *out);

#endif
