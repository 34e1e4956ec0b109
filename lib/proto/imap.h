/*
 * imap: IMAP4rev1 command input without I/O. imap_reader assembles one
 * command (its lines and literals) from bytes fed in any chunking, checking
 * every literal size before a byte of it is stored; imap_parse splits the
 * assembled command into tag, name and an argument tree; imap_seqset
 * parses sequence sets. Security: all input is untrusted; each limit comes
 * from struct imap_limits (the daemon's parameters), NUL outside literals
 * is refused, and nesting is bounded.
 */
#ifndef POSTILION_PROTO_IMAP_H
#define POSTILION_PROTO_IMAP_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define IMAP_TAG_MAX		64
#define IMAP_NAME_MAX		32
#define IMAP_LITERAL_MINUS_MAX	4096	/* RFC 7888 LITERAL- */

struct imap_limits {
	size_t	 line_max;	/* one line of a command, without literals */
	size_t	 literal_max;	/* one synchronising literal */
	size_t	 nonsync_max;	/* one non-synchronising literal {n+} */
	size_t	 command_max;	/* lines and literals of one command */
	int	 depth_max;	/* parenthesis nesting */
	size_t	 args_max;	/* arguments, counted at every level */
};

/* What imap_reader_feed reports. */
#define IMAP_READ_MORE	0	/* everything fed was consumed; feed more */
#define IMAP_READ_DONE	1	/* r->cmd holds one whole command */
#define IMAP_READ_CONT	2	/* send "+ OK", then feed the literal */
#define IMAP_READ_BAD	3	/* reply BAD r->error; ready for the next */
#define IMAP_READ_FATAL	4	/* cannot resynchronise: BYE r->error */

struct imap_reader {
	const struct imap_limits *lim;
	struct buf cmd;		/* the command as received, CRLFs included */
	size_t	 line_start;	/* offset of the current line in cmd */
	size_t	 literal_left;	/* literal bytes still to come */
	int	 in_literal;
	int	 done;		/* the last feed returned DONE: reset first */
	const char *error;	/* text for the BAD/BYE reply */
	char	 tag[IMAP_TAG_MAX + 1];	/* of a refused command, or "*" */
};

void	imap_reader_init(struct imap_reader *, const struct imap_limits *);
void	imap_reader_free(struct imap_reader *);
/*
 * imap_reader_feed: consume bytes from data (len) until an event; *used
 * says how many were taken. After DONE the next feed starts a new command
 * (cmd is reset). After BAD the refused line was discarded.
 */
int	imap_reader_feed(struct imap_reader *, const char *data, size_t len,
	    size_t *used);
/* imap_reader_pending: bytes of a command started but not finished. */
size_t	imap_reader_pending(const struct imap_reader *);

#define IMAP_ARG_ATOM		1	/* includes flags, '*', BODY[...]<..> */
#define IMAP_ARG_QUOTED		2
#define IMAP_ARG_LITERAL	3
#define IMAP_ARG_LIST		4

struct imap_arg {
	int	 type;
	char	*s;			/* NUL-terminated copy; NULL for lists */
	size_t	 len;
	struct imap_arg *list;		/* IMAP_ARG_LIST */
	size_t	 n;
};

struct imap_command {
	char	 tag[IMAP_TAG_MAX + 1];
	char	 name[IMAP_NAME_MAX + 1];	/* upper case */
	struct imap_arg *args;
	size_t	 nargs;
	const char *error;		/* why imap_parse refused */
};

/*
 * imap_parse: split an assembled command (as the reader left it, last
 * CRLF included or not). 0, or -1 with cmd->error (and cmd->tag when one
 * was read, else "*"). imap_command_free releases either way.
 */
int	imap_parse(const char *data, size_t len, const struct imap_limits *,
	    struct imap_command *);
void	imap_command_free(struct imap_command *);

/* imap_arg_string: the text of an atom, quoted string or literal, or NULL. */
const char *imap_arg_string(const struct imap_arg *);
/* imap_arg_is: an atom equal to word, ignoring case. */
int	imap_arg_is(const struct imap_arg *, const char *word);

/* Sequence sets (RFC 3501 sequence-set); '*' is stored as IMAP_SEQ_STAR. */
#define IMAP_SEQ_STAR	UINT32_MAX

struct imap_range {
	uint32_t lo, hi;
};

struct imap_seqset {
	struct imap_range *r;
	size_t	 n;
};

/* imap_seqset_parse: 0, or -1 (malformed, 0 used, over max ranges). */
int	imap_seqset_parse(const char *, size_t max_ranges, struct imap_seqset *);
/* imap_seqset_has: n is in the set, with '*' standing for star. */
int	imap_seqset_has(const struct imap_seqset *, uint32_t n, uint32_t star);
void	imap_seqset_free(struct imap_seqset *);

/* imap_quote: append s as a quoted string, or a literal when it must be. */
void	imap_quote(struct buf *, const char *s, size_t len);
/* imap_astring_ok: s may be sent as a bare atom. */
int	imap_astring_ok(const char *s, size_t len);

#endif
