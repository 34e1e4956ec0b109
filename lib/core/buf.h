/*
 * buf: a growable byte buffer that knows its length. data is always
 * NUL-terminated (the NUL is not counted in len), so text can be read as a
 * C string; binary data may contain NULs.
 */
#ifndef POSTILION_BUF_H
#define POSTILION_BUF_H

#include <stddef.h>

struct buf {
	char	*data;
	size_t	 len;
	size_t	 size;
};

void	 buf_init(struct buf *);
void	 buf_free(struct buf *);
void	 buf_reset(struct buf *);
void	 buf_reserve(struct buf *, size_t);
void	 buf_append(struct buf *, const void *, size_t);
void	 buf_puts(struct buf *, const char *);
void	 buf_putc(struct buf *, int);
void	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* buf_consume: drop the first n bytes. */
void	 buf_consume(struct buf *, size_t);

#endif
