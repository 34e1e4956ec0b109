/*
 * smtp_data: the DATA content decoder (RFC 5321 4.1.1.4, 4.5.2): removes
 * dot-stuffing, turns CRLF into LF and finds the end of the data. It is
 * incremental and pure: any split of the input, down to single bytes,
 * gives the same output. Security: only "." CR LF at the start of a line
 * that followed a CRLF ends the data; after a bare LF it is content, so no
 * command can be smuggled behind "\n.\n" or "\n.\r\n".
 */
#ifndef POSTILION_SMTP_DATA_H
#define POSTILION_SMTP_DATA_H

#include <stddef.h>

struct smtp_data {
	int	 state;
	int	 bare;		/* a bare CR or bare LF was seen */
};

void	smtp_data_init(struct smtp_data *);
/*
 * smtp_data_decode: decode from in until the end of the data, the end of
 * the input, or until out (at least 2 bytes) is full. *outlen gets the
 * bytes written. Returns the bytes of in consumed: what follows the end of
 * the data (pipelined commands) is left unconsumed.
 */
size_t	smtp_data_decode(struct smtp_data *, const char *in, size_t len,
	    char *out, size_t outsize, size_t *outlen);
/* smtp_data_done: non-zero once "<CRLF>.<CRLF>" has been seen. */
int	smtp_data_done(const struct smtp_data *);
/* smtp_data_at_bol: non-zero when the output so far ends a line. */
int	smtp_data_at_bol(const struct smtp_data *);
/*
 * smtp_bdat_decode: BDAT chunk content (RFC 3030): no dot-stuffing and no
 * end marker, only CRLF to LF (a CR at a chunk's end is held for the next
 * chunk). Consumes all of in unless out fills; returns bytes consumed.
 * smtp_bdat_flush: the held CR, if any, at the end of the last chunk.
 */
size_t	smtp_bdat_decode(struct smtp_data *, const char *in, size_t len,
	    char *out, size_t outsize, size_t *outlen);
size_t	smtp_bdat_flush(struct smtp_data *, char *out);

#endif
