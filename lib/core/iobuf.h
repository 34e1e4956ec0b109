/*
 * iobuf: buffered line I/O on a connected socket with per-operation
 * timeouts, shared by every network daemon. Lines are returned raw (with
 * their LF) so protocol code can tell CRLF from a bare LF. The read/write
 * hooks let TLS slide underneath later without touching protocol code.
 */
#ifndef POSTILION_IOBUF_H
#define POSTILION_IOBUF_H

#include <sys/types.h>
#include "core/buf.h"

#define IO_LINE		1	/* a whole line, ending in LF */
#define IO_EOF		0	/* peer closed (a partial last line is dropped) */
#define IO_ERROR	-1
#define IO_TIMEOUT	-2
#define IO_TOOLONG	-3	/* line over the limit; it was discarded up to LF */

struct iobuf {
	int	 fd;
	int	 timeout;	/* seconds for each wait */
	struct buf in;
	struct buf out;
	void	*ctx;		/* owner of the hooks (e.g. a TLS session) */
	ssize_t	(*read_hook)(struct iobuf *, void *, size_t);
	ssize_t	(*write_hook)(struct iobuf *, const void *, size_t);
};

void	iobuf_init(struct iobuf *, int, int);
void	iobuf_free(struct iobuf *);
/* iobuf_getline: next raw line (including LF) into line, at most max bytes. */
int	iobuf_getline(struct iobuf *, struct buf *, size_t);
/* iobuf_read: up to n buffered-or-fresh bytes; IO_* codes or count. */
ssize_t	iobuf_read(struct iobuf *, void *, size_t);
/* iobuf_pending: bytes received but not yet consumed (pipelining checks). */
size_t	iobuf_pending(const struct iobuf *);
/* iobuf_fill: wait for and read more input; count, IO_EOF, IO_ERROR, IO_TIMEOUT. */
ssize_t	iobuf_fill(struct iobuf *);
void	iobuf_write(struct iobuf *, const void *, size_t);
void	iobuf_puts(struct iobuf *, const char *);
void	iobuf_printf(struct iobuf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* iobuf_flush: send all pending output; 0, IO_ERROR or IO_TIMEOUT. */
int	iobuf_flush(struct iobuf *);
/* line_chomp: strip the line end; returns 2 for CRLF, 1 for bare LF, 0 none. */
int	line_chomp(struct buf *);

#endif
