/*
 * mime: a MIME tree (RFC 2045-2049) of one message in memory, and what IMAP
 * builds from it: ENVELOPE, BODY/BODYSTRUCTURE (RFC 3501 7.4.2, shaped as
 * Dovecot writes them), BODY[section] extraction, header lookup, RFC 2047
 * and RFC 2231 decoding to UTF-8 and a case-insensitive search for SEARCH.
 * Security: the message is untrusted; nesting, part count and header size
 * are limited (struct mime_limits) and malformed input never fails the parse.
 */
#ifndef POSTILION_PROTO_MIME_H
#define POSTILION_PROTO_MIME_H

#include <stddef.h>

#include "core/buf.h"

/*
 * Line ends. A line ends at LF; a CR right before that LF belongs to the
 * line end. Every offset, size and line count is in bytes of the input as
 * given, so IMAP's sizes (RFC822.SIZE, BODYSTRUCTURE size, BODY[] octets)
 * are right only when the input has CRLF line ends: imapd converts a Maildir
 * file with bare LFs to CRLF before calling mime_parse and passes the same
 * converted bytes to every function here. Bare CRs are ordinary bytes.
 */

#define MIME_DEPTH_MAX_DEFAULT		32	/* multipart/message nesting */
#define MIME_PARTS_MAX_DEFAULT		1000	/* parts in one message */
#define MIME_HEADER_MAX_DEFAULT		(256 * 1024)	/* one part's header */
#define MIME_FIELDS_MAX_DEFAULT		1000	/* fields in one header */

struct mime_limits {
	unsigned int	 depth_max;	/* deeper multiparts are leaves */
	unsigned int	 parts_max;	/* later parts are not split out */
	size_t		 header_max;	/* header bytes looked at per part */
	unsigned int	 fields_max;	/* header fields looked at per part */
};

/* A parameter of Content-Type or Content-Disposition. */
struct mime_param {
	/*
	 * As BODYSTRUCTURE shows it (Dovecot): name as written; RFC 2231
	 * continuations joined; an extended (name*) parameter keeps the '*'
	 * and its charset'language'%XX value undecoded.
	 */
	char	*name;
	char	*value;
	/*
	 * For programs: name lower case without '*'; value decoded to UTF-8
	 * (RFC 2231, or RFC 2047 words as mail programs wrongly write them).
	 */
	char	*attr;
	char	*text;
};

#define MIME_PART_MULTIPART	0x01	/* type "multipart" */
#define MIME_PART_MESSAGE	0x02	/* message/rfc822: ->message set */
#define MIME_PART_TEXT		0x04	/* type "text": lines counted */
#define MIME_PART_LIMITED	0x08	/* a limit stopped parsing here */
#define MIME_PART_DEFAULT_TYPE	0x10	/* no usable Content-Type */
#define MIME_PART_IS_MIME	0x20	/* MIME-Version/Content-Type seen,
					   or a part of a multipart */

struct mime_part {
	struct mime_part *parent;
	struct mime_part *children;	/* multipart: first child, or NULL */
	struct mime_part *next;		/* next sibling */
	struct mime_part *message;	/* message/rfc822: enclosed root */
	unsigned int	 nchildren;
	unsigned int	 depth;		/* root = 0 */
	int		 flags;		/* MIME_PART_* */

	/* Spans into the message. The header includes its blank line. */
	size_t		 header_offset;
	size_t		 header_len;
	size_t		 body_offset;
	size_t		 body_len;
	size_t		 body_lines;	/* LFs in the body (text, message) */

	/*
	 * Content-Type as written (compare without case). Without one (or
	 * with a broken one, or without MIME-Version and Content-Type on a
	 * message) it is text/plain, or message/rfc822 inside a
	 * multipart/digest (RFC 2046 5.1.5). A multipart without a boundary
	 * or without any boundary line has no children (BODYSTRUCTURE then
	 * shows one empty text/plain part, as Dovecot does). A multipart or
	 * message/rfc822 part that a limit keeps from being split has
	 * MIME_PART_LIMITED and is shown as application/octet-stream.
	 */
	char		*type;
	char		*subtype;
	struct mime_param *params;
	size_t		 nparams;
	char		*boundary;	/* multipart: the boundary in use */

	/*
	 * Header values as sent (unfolded, leading blanks removed); NULL when
	 * absent or when the part is not MIME (no MIME_PART_IS_MIME).
	 */
	char		*id;		/* Content-ID */
	char		*description;	/* Content-Description */
	char		*encoding;	/* Content-Transfer-Encoding */
	char		*md5;		/* Content-MD5 */
	char		*location;	/* Content-Location */
	char		**language;	/* Content-Language, split at commas */
	size_t		 nlanguage;
	char		*disposition;	/* Content-Disposition type */
	struct mime_param *disposition_params;
	size_t		 ndisposition_params;
};

void	 mime_limits_default(struct mime_limits *);

/*
 * mime_parse: the tree of msg[0..len). Never fails on malformed input: a
 * broken header or boundary falls back the way Dovecot does. When a limit is
 * crossed the tree is still returned (the part where parsing stopped has
 * MIME_PART_LIMITED; after the part limit, everything left is body of the
 * parts open at that point) and err says which limit; otherwise err is "".
 * Returns NULL only if len >= SIZE_MAX / 2. The tree holds no pointers into
 * msg; limits NULL means the defaults.
 */
struct mime_part *mime_parse(const char *msg, size_t len,
	    const struct mime_limits *, char *err, size_t errlen);
void	 mime_free(struct mime_part *);

/*
 * The IMAP ENVELOPE of part's header (the root, or a part->message),
 * parenthesised, as Dovecot writes it: the last field of each name counts;
 * values are unfolded, not decoded; Subject and display names have their
 * blanks collapsed (a literal when changed); Sender and Reply-To default to
 * From; a missing domain is "MISSING_DOMAIN"; a comment after a bare
 * address is its name.
 */
void	 mime_envelope(struct buf *out, const char *msg,
	    const struct mime_part *);
/*
 * BODY (extended = 0) or BODYSTRUCTURE (extended = 1) of part, parenthesised,
 * in Dovecot's form: single parts carry md5, disposition, language and
 * location; multiparts params, disposition, language and location.
 */
void	 mime_bodystructure(struct buf *out, const char *msg,
	    const struct mime_part *, int extended);

/*
 * BODY[section]. section is the text between the brackets, e.g. "",
 * "HEADER", "1.2.HEADER.FIELDS (From \"To\")", "2.MIME", "3.TEXT" (case
 * insensitive). Results:
 *   MIME_SECTION_OK: *data, *datalen is the content; it points into msg,
 *     or into built (HEADER.FIELDS[.NOT]: the fields chosen, then CRLF).
 *   MIME_SECTION_NONE: valid syntax but no such part (imapd sends "" or NIL).
 *   MIME_SECTION_BAD: invalid syntax (a BAD reply).
 * "N" of a non-multipart message is its body for N = 1; "N.HEADER"/"N.TEXT"
 * need a message/rfc822 part N; "N.MIME" is that part's own header.
 */
#define MIME_SECTION_OK		0
#define MIME_SECTION_NONE	1
#define MIME_SECTION_BAD	-1
#define MIME_SECTION_MAX	4096	/* longest section text accepted */
#define MIME_SECTION_FIELDS_MAX	256	/* names in HEADER.FIELDS */

int	 mime_section(const char *msg, size_t len, const struct mime_part *,
	    const char *section, size_t seclen, struct buf *built,
	    const char **data, size_t *datalen);
/* Syntax check only (MIME_SECTION_OK or MIME_SECTION_BAD). */
int	 mime_section_valid(const char *section, size_t seclen);
/*
 * The section as the FETCH response names it: keywords and field names in
 * upper case, field names quoted only if they need it (imapd writes
 * "BODY[", out, "]").
 */
int	 mime_section_normalize(struct buf *out, const char *section,
	    size_t seclen);
/* <origin.count> of a len-byte result: start and length clamped to it. */
void	 mime_partial(size_t len, unsigned long long origin,
	    unsigned long long count, size_t *off, size_t *n);

/* One header field. name/value point into the header; value is folded. */
struct mime_field {
	const char	*name;
	size_t		 name_len;
	const char	*value;		/* after the colon and leading blanks */
	size_t		 value_len;	/* without the final line end */
	const char	*raw;		/* the whole field with its line end */
	size_t		 raw_len;
};

/*
 * mime_header_next: the next field of hdr[0..hdrlen) at *pos (start with
 * 0); 1 and *pos advanced, or 0 at the blank line or the end. A line
 * without a colon is a field whose name is the whole line and whose value
 * is empty (so HEADER.FIELDS.NOT keeps it).
 */
int	 mime_header_next(const char *hdr, size_t hdrlen, size_t *pos,
	    struct mime_field *);
/*
 * mime_header_get: the first field named name (case insensitive), unfolded
 * (line ends removed, the folding blanks kept), leading blanks removed, in
 * out (replacing its content). 1 if found, else 0.
 */
int	 mime_header_get(const char *hdr, size_t hdrlen, const char *name,
	    struct buf *out);
/*
 * mime_header_search: SEARCH HEADER, SUBJECT, FROM, ...: whether any field
 * named name contains key (UTF-8, case folded as mime_contains) once
 * unfolded and RFC 2047 decoded; an empty key matches any such field.
 */
int	 mime_header_search(const char *hdr, size_t hdrlen, const char *name,
	    const char *key, size_t keylen);
/* Append value unfolded (line ends removed) to out. */
void	 mime_unfold(struct buf *out, const char *value, size_t len);
/*
 * mime_header_decode: append an unstructured header value, unfolded, with
 * RFC 2047 encoded words (B and Q, RFC 2231 language suffix allowed)
 * decoded and every charset converted to UTF-8. Blanks between adjacent
 * encoded words are dropped. Invalid UTF-8 becomes U+FFFD.
 */
void	 mime_header_decode(struct buf *out, const char *value, size_t len);
/*
 * mime_charset_to_utf8: append in (in charset) as UTF-8. us-ascii, utf-8,
 * iso-8859-1 and windows-1252 are built in, others go through iconv. -1 if
 * the charset is unknown (in is then appended with invalid UTF-8 replaced).
 */
int	 mime_charset_to_utf8(struct buf *out, const char *charset,
	    const char *in, size_t len);
/*
 * mime_body_decode: append part's body with its Content-Transfer-Encoding
 * (base64, quoted-printable) undone and, for text/ parts, converted from its
 * charset to UTF-8. Multiparts append nothing.
 */
void	 mime_body_decode(struct buf *out, const char *msg,
	    const struct mime_part *);

/*
 * mime_contains: whether needle occurs in hay, both UTF-8, ignoring case
 * (ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic simple folding).
 */
int	 mime_contains(const char *hay, size_t haylen, const char *needle,
	    size_t needlelen);
/*
 * mime_search_text: SEARCH BODY (headers = 0) or TEXT (headers = 1): whether
 * key (UTF-8) occurs in a decoded text part of the message (recursing into
 * multiparts and message/rfc822), or with headers, in a decoded header.
 */
int	 mime_search_text(const char *msg, const struct mime_part *,
	    const char *key, size_t keylen, int headers);

/* IMAP strings: quoted when possible, a literal {n}CRLF otherwise. */
void	 mime_write_string(struct buf *out, const char *s, size_t len);
/* As mime_write_string, or NIL when s is NULL. */
void	 mime_write_nstring(struct buf *out, const char *s);

#endif
