/*
 * mailbox_lock: an exclusive, non-blocking lock on a Maildir, held as an
 * flock(2) on a lock file inside it. The kernel drops the lock when the
 * holder exits or crashes, so a dead session never leaves one behind.
 * pop3d takes MAILBOX_LOCK_POP3 for the whole session (RFC 2449 [IN-USE]).
 */
#ifndef POSTILION_MAILBOX_LOCK_H
#define POSTILION_MAILBOX_LOCK_H

#define MAILBOX_LOCK_POP3	"postilion-pop3.lock"

/*
 * mailbox_lock: open (creating, mode 0600) the lock file name in the
 * Maildir mdfd and lock it without waiting. Returns the descriptor that
 * holds the lock (mailbox_unlock releases it), or -1 with errno:
 * EWOULDBLOCK when another open file holds the lock, ELOOP for a
 * symlink, EINVAL when name is not a regular file.
 */
int	mailbox_lock(int mdfd, const char *name);
void	mailbox_unlock(int fd);

#endif
