/*
 * ipc: framed messages between Postilion processes over UNIX stream
 * sockets, optionally carrying one file descriptor (SCM_RIGHTS). A frame is
 * a 4-byte big-endian length and a body of attributes "name\0value\0...".
 * A malformed frame is a protocol error: the receiver drops the peer.
 */
#ifndef POSTILION_IPC_H
#define POSTILION_IPC_H

#include <stddef.h>
#include "core/buf.h"

#define IPC_FRAME_MAX	(1024 * 1024)

struct ipc_msg {
	struct buf body;	/* name\0value\0 pairs */
};

void	ipc_msg_init(struct ipc_msg *);
void	ipc_msg_free(struct ipc_msg *);
void	ipc_msg_reset(struct ipc_msg *);
void	ipc_put(struct ipc_msg *, const char *name, const char *value);
void	ipc_put_int(struct ipc_msg *, const char *name, long long);
/* ipc_get: first value of name, NULL if absent. */
const char *ipc_get(const struct ipc_msg *, const char *name);
/* ipc_get_int: value as a number; -1 if absent or not a number. */
long long ipc_get_int(const struct ipc_msg *, const char *name);
/* ipc_next: iterate pairs; *pos starts at 0; 0 when done. */
int	ipc_next(const struct ipc_msg *, size_t *pos, const char **name,
	    const char **value);

/* ipc_send: one frame, plus fd if fd >= 0; 0 or -1 (errno). */
int	ipc_send(int sock, const struct ipc_msg *, int fd);
/*
 * ipc_recv: one frame within timeout seconds (0 = wait forever). *fd gets
 * a passed descriptor or -1 (fd may be NULL: a passed fd is then closed).
 * Returns 1, 0 at EOF, -1 on error/timeout/malformed frame.
 */
int	ipc_recv(int sock, struct ipc_msg *, int *fd, int timeout);

/* unix_connect: connect to a UNIX stream socket path; fd or -1. */
int	unix_connect(const char *path);

#endif
