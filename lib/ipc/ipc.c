/*
 * ipc: frame codec and SCM_RIGHTS transport. A frame's body must be a whole
 * number of NUL-terminated strings in name/value pairs or it is rejected.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fileutil.h"
#include "core/log.h"
#include "ipc/ipc.h"

static int ipc_read_full(int, void *, size_t, int *, int);

void
ipc_msg_init(struct ipc_msg *m)
{
	buf_init(&m->body);
}

void
ipc_msg_free(struct ipc_msg *m)
{
	buf_free(&m->body);
}

void
ipc_msg_reset(struct ipc_msg *m)
{
	buf_reset(&m->body);
}

void
ipc_put(struct ipc_msg *m, const char *name, const char *value)
{
	buf_append(&m->body, name, strlen(name) + 1);
	buf_append(&m->body, value, strlen(value) + 1);
}

void
ipc_put_int(struct ipc_msg *m, const char *name, long long v)
{
	char tmp[32];

	snprintf(tmp, sizeof(tmp), "%lld", v);
	ipc_put(m, name, tmp);
}

int
ipc_next(const struct ipc_msg *m, size_t *pos, const char **name,
    const char **value)
{
	size_t p = *pos, len;

	if (p >= m->body.len)
		return 0;
	*name = m->body.data + p;
	len = strnlen(*name, m->body.len - p);
	p += len + 1;
	if (p >= m->body.len)
		return 0;
	*value = m->body.data + p;
	len = strnlen(*value, m->body.len - p);
	p += len + 1;
	*pos = p;
	return 1;
}

const char *
ipc_get(const struct ipc_msg *m, const char *name)
{
	const char *n, *v;
	size_t pos = 0;

	while (ipc_next(m, &pos, &n, &v))
		if (!strcmp(n, name))
			return v;
	return NULL;
}

long long
ipc_get_int(const struct ipc_msg *m, const char *name)
{
	const char *v = ipc_get(m, name), *errstr;
	long long n;

	if (v == NULL)
		return -1;
	n = strtonum(v, 0, INT64_MAX, &errstr);
	return errstr ? -1 : n;
}

static int
ipc_frame_valid(const struct buf *b)
{
	size_t i, strings = 0;

	if (b->len == 0)
		return 1;
	if (b->data[b->len - 1] != '\0')
		return 0;
	for (i = 0; i < b->len; i++)
		if (b->data[i] == '\0')
			strings++;
	return strings % 2 == 0;
}

int
ipc_send(int sock, const struct ipc_msg *m, int fd)
{
	unsigned char hdr[4];
	struct msghdr msg;
	struct iovec iov[2];
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct cmsghdr *cmsg;
	size_t len = m->body.len, total, sent = 0;
	ssize_t n;

	if (len > IPC_FRAME_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	hdr[0] = (unsigned char)(len >> 24);
	hdr[1] = (unsigned char)(len >> 16);
	hdr[2] = (unsigned char)(len >> 8);
	hdr[3] = (unsigned char)len;
	memset(&msg, 0, sizeof(msg));
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = m->body.data;
	iov[1].iov_len = len;
	msg.msg_iov = iov;
	msg.msg_iovlen = len ? 2 : 1;
	if (fd >= 0) {
		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = sizeof(cmsgbuf.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
	total = sizeof(hdr) + len;
	while ((n = sendmsg(sock, &msg, MSG_NOSIGNAL)) == -1 && errno == EINTR)
		;
	if (n == -1)
		return -1;
	sent = (size_t)n;
	/* The descriptor went with the first byte; finish the rest plainly. */
	if (sent < sizeof(hdr)) {
		if (write_full(sock, hdr + sent, sizeof(hdr) - sent) == -1)
			return -1;
		sent = sizeof(hdr);
	}
	if (sent < total && write_full(sock, m->body.data + (sent - sizeof(hdr)),
	    total - sent) == -1)
		return -1;
	return 0;
}

static int
ipc_read_full(int sock, void *data, size_t len, int *fd, int timeout)
{
	char *p = data;
	struct msghdr msg;
	struct iovec iov;
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct cmsghdr *cmsg;
	struct pollfd pfd;
	ssize_t n;
	int rc;

	while (len > 0) {
		pfd.fd = sock;
		pfd.events = POLLIN;
		rc = poll(&pfd, 1, timeout > 0 ? timeout * 1000 : -1);
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc <= 0) {
			if (rc == 0)
				errno = ETIMEDOUT;
			return -1;
		}
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = p;
		iov.iov_len = len;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = sizeof(cmsgbuf.buf);
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
		    cmsg = CMSG_NXTHDR(&msg, cmsg)) {
			int passed;

			if (cmsg->cmsg_level != SOL_SOCKET ||
			    cmsg->cmsg_type != SCM_RIGHTS ||
			    cmsg->cmsg_len != CMSG_LEN(sizeof(int)))
				continue;
			memcpy(&passed, CMSG_DATA(cmsg), sizeof(int));
			if (fd != NULL && *fd == -1)
				*fd = passed;
			else
				close(passed);
		}
		if (n == 0)
			return 0;
		p += n;
		len -= (size_t)n;
	}
	return 1;
}

int
ipc_recv(int sock, struct ipc_msg *m, int *fd, int timeout)
{
	unsigned char hdr[4];
	uint32_t len;
	int rc;

	if (fd)
		*fd = -1;
	ipc_msg_reset(m);
	if ((rc = ipc_read_full(sock, hdr, sizeof(hdr), fd, timeout)) <= 0)
		goto fail;
	len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	    (uint32_t)hdr[2] << 8 | hdr[3];
	if (len > IPC_FRAME_MAX) {
		errno = EPROTO;
		rc = -1;
		goto fail;
	}
	buf_reserve(&m->body, len);
	if (len > 0 && (rc = ipc_read_full(sock, m->body.data, len, fd,
	    timeout)) <= 0) {
		if (rc == 0) {
			errno = EPROTO;
			rc = -1;
		}
		goto fail;
	}
	m->body.len = len;
	m->body.data[len] = '\0';
	if (!ipc_frame_valid(&m->body)) {
		errno = EPROTO;
		rc = -1;
		goto fail;
	}
	return 1;
fail:
	if (fd && *fd != -1) {
		close(*fd);
		*fd = -1;
	}
	return rc;
}

int
unix_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}
