/*
 * iobuf: poll(2)-based timeouts around read/write, a read-ahead buffer for
 * line splitting, and an output buffer flushed explicitly (so pipelined
 * replies leave in one packet).
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/fileutil.h"
#include "core/iobuf.h"
#include "core/log.h"

#define IOBUF_CHUNK	16384

static int iobuf_wait(struct iobuf *, short);

void
iobuf_init(struct iobuf *io, int fd, int timeout)
{
	memset(io, 0, sizeof(*io));
	io->fd = fd;
	io->timeout = timeout;
	buf_init(&io->in);
	buf_init(&io->out);
}

void
iobuf_free(struct iobuf *io)
{
	buf_free(&io->in);
	buf_free(&io->out);
}

static int
iobuf_wait(struct iobuf *io, short events)
{
	struct pollfd pfd;
	int rc;

	pfd.fd = io->fd;
	pfd.events = events;
	for (;;) {
		rc = poll(&pfd, 1, io->timeout > 0 ? io->timeout * 1000 : -1);
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc == -1)
			return IO_ERROR;
		if (rc == 0)
			return IO_TIMEOUT;
		return 0;
	}
}

ssize_t
iobuf_fill(struct iobuf *io)
{
	ssize_t n;
	int rc;

	buf_reserve(&io->in, IOBUF_CHUNK);
	for (;;) {
		if (io->read_hook == NULL && (rc = iobuf_wait(io, POLLIN)) != 0)
			return rc;
		if (io->read_hook)
			n = io->read_hook(io, io->in.data + io->in.len, IOBUF_CHUNK);
		else
			n = read(io->fd, io->in.data + io->in.len, IOBUF_CHUNK);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return n == IO_TIMEOUT ? IO_TIMEOUT : IO_ERROR;
		if (n == 0)
			return IO_EOF;
		io->in.len += (size_t)n;
		io->in.data[io->in.len] = '\0';
		return n;
	}
}

int
iobuf_getline(struct iobuf *io, struct buf *line, size_t max)
{
	size_t scanned = 0, take;
	int toolong = 0;
	char *lf;
	ssize_t n;

	buf_reset(line);
	for (;;) {
		lf = io->in.len > scanned ? memchr(io->in.data + scanned, '\n',
		    io->in.len - scanned) : NULL;
		if (lf != NULL) {
			take = (size_t)(lf - io->in.data) + 1;
			if (!toolong && take <= max)
				buf_append(line, io->in.data, take);
			buf_consume(&io->in, take);
			return toolong || take > max ? IO_TOOLONG : IO_LINE;
		}
		if (io->in.len > max) {
			/* Keep memory bounded: discard until the LF arrives. */
			toolong = 1;
			buf_reset(&io->in);
		}
		scanned = io->in.len;
		if ((n = iobuf_fill(io)) <= 0)
			return (int)n;
	}
}

ssize_t
iobuf_read(struct iobuf *io, void *data, size_t len)
{
	ssize_t n;

	if (io->in.len == 0 && (n = iobuf_fill(io)) <= 0)
		return n;
	if (len > io->in.len)
		len = io->in.len;
	memcpy(data, io->in.data, len);
	buf_consume(&io->in, len);
	return (ssize_t)len;
}

size_t
iobuf_pending(const struct iobuf *io)
{
	return io->in.len;
}

void
iobuf_write(struct iobuf *io, const void *data, size_t len)
{
	buf_append(&io->out, data, len);
}

void
iobuf_puts(struct iobuf *io, const char *s)
{
	buf_puts(&io->out, s);
}

void
iobuf_printf(struct iobuf *io, const char *fmt, ...)
{
	char tmp[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(tmp))
		n = sizeof(tmp) - 1;
	buf_append(&io->out, tmp, (size_t)n);
}

int
iobuf_flush(struct iobuf *io)
{
	size_t done = 0;
	ssize_t n;
	int rc;

	while (done < io->out.len) {
		if (io->write_hook)
			n = io->write_hook(io, io->out.data + done,
			    io->out.len - done);
		else if ((n = write_nowait(io->fd, io->out.data + done,
		    io->out.len - done)) == -1 && errno == EAGAIN) {
			/* Full (or not a socket): wait, then one write. */
			if ((rc = iobuf_wait(io, POLLOUT)) != 0)
				return rc;
			n = write(io->fd, io->out.data + done,
			    io->out.len - done);
		}
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return n == IO_TIMEOUT ? IO_TIMEOUT : IO_ERROR;
		done += (size_t)n;
	}
	buf_reset(&io->out);
	return 0;
}

int
line_chomp(struct buf *line)
{
	if (line->len >= 2 && line->data[line->len - 2] == '\r' &&
	    line->data[line->len - 1] == '\n') {
		line->len -= 2;
		line->data[line->len] = '\0';
		return 2;
	}
	if (line->len >= 1 && line->data[line->len - 1] == '\n') {
		line->len -= 1;
		line->data[line->len] = '\0';
		return 1;
	}
	return 0;
}
