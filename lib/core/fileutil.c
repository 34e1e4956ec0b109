/*
 * fileutil: EINTR-safe, short-count-safe I/O and directory fsync.
 */
#include <sys/stat.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/fileutil.h"
#include "core/xmalloc.h"

int
write_full(int fd, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
pwrite_full(int fd, const void *data, size_t len, off_t off)
{
	const char *p = data;
	ssize_t n;

	while (len > 0) {
		if ((n = pwrite(fd, p, len, off)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

int
pread_full(int fd, void *data, size_t len, off_t off)
{
	char *p = data;
	ssize_t n;

	while (len > 0) {
		if ((n = pread(fd, p, len, off)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

int
fsync_dirat(int dirfd, const char *path)
{
	int fd, rc;

	if ((fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
fsync_dir(const char *path)
{
	return fsync_dirat(AT_FDCWD, path);
}

int
set_nonblock(int fd, int on)
{
	int flags;

	if ((flags = fcntl(fd, F_GETFL)) == -1)
		return -1;
	flags = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, flags);
}

int
set_cloexec(int fd, int on)
{
	int flags;

	if ((flags = fcntl(fd, F_GETFD)) == -1)
		return -1;
	flags = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC;
	return fcntl(fd, F_SETFD, flags);
}

char *
read_file(const char *path, size_t *lenp, size_t limit)
{
	struct stat st;
	char *data;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (size_t)st.st_size > limit) {
		close(fd);
		errno = EFBIG;
		return NULL;
	}
	data = xmalloc((size_t)st.st_size + 1);
	if (pread_full(fd, data, (size_t)st.st_size, 0) == -1) {
		free(data);
		close(fd);
		return NULL;
	}
	close(fd);
	data[st.st_size] = '\0';
	if (lenp)
		*lenp = (size_t)st.st_size;
	return data;
}

/* Sockets nearly always have room: a poll before every write is wasted. */
ssize_t
write_nowait(int fd, const void *data, size_t len)
{
	ssize_t n;

	n = send(fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n == -1 && (errno == EWOULDBLOCK || errno == EINTR ||
	    errno == ENOTSOCK))
		errno = EAGAIN;
	return n;
}
