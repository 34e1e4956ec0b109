/*
 * idle: IDLE (RFC 2177). The session waits on inotify watches of the
 * selected Maildir's new/ and cur/ and on the client socket; a change
 * there is synced and the untagged updates sent at once, so a delivery
 * shows up as EXISTS within moments, without polling every mailbox. DONE
 * ends it; so does imapd_idle_timeout.
 */
#include <sys/inotify.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "imapd/imapd.h"

#define IDLE_RECHECK_MS	30000	/* a missed event costs at most this */

static int	idle_watch(struct imap_session *);
static int	idle_done(struct imap_session *, struct imap_command *);

int
imap_cmd_idle(struct imap_session *s, struct imap_command *cmd)
{
	struct pollfd pfd[2];
	char ev[4096];
	time_t deadline = time(NULL) + s->d->idle_timeout;
	int ifd, rc;

	if (cmd->nargs != 0) {
		imap_reply(s, cmd, "BAD IDLE takes no arguments.");
		return IMAP_CMD_BAD;
	}
	iobuf_puts(&s->io, "+ idling\r\n");
	/* Idling needs UIDs and flags only: the file names go until used. */
	imap_files_drop(s);
	ifd = idle_watch(s);
	for (;;) {
		if (imap_flush_if_full(s) == -1 || (s->io.out.len > 0 &&
		    iobuf_flush(&s->io) != 0)) {
			s->broken = 1;
			break;
		}
		if (s->io.in.len > 0 || iobuf_pending(&s->io) > 0)
			return idle_done(s, cmd);
		if (time(NULL) >= deadline) {
			iobuf_puts(&s->io, "* BYE Disconnected for "
			    "inactivity.\r\n");
			s->reason = "Inactivity";
			break;
		}
		pfd[0].fd = s->io.fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = ifd;
		pfd[1].events = POLLIN;
		rc = poll(pfd, ifd == -1 ? 1 : 2, IDLE_RECHECK_MS);
		if (rc == -1 && errno != EINTR) {
			s->broken = 1;
			break;
		}
		if (rc > 0 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			return idle_done(s, cmd);
		if (ifd != -1 && rc > 0 && (pfd[1].revents & POLLIN))
			while (read(ifd, ev, sizeof(ev)) > 0)
				;
		imap_sync(s, 1);
		(void)malloc_trim(0);	/* the sync's heap */
	}
	if (ifd != -1)
		close(ifd);
	return IMAP_CMD_CLOSE;
}

/* Watches on new/ and cur/; -1 (poll every IDLE_RECHECK_MS) if none. */
static int
idle_watch(struct imap_session *s)
{
	static const char *const subs[] = { "new", "cur" };
	size_t i;
	int fd, cwd;

	if (s->state != IMAP_STATE_SELECTED ||
	    (fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		return -1;
	/* inotify takes paths: step into the Maildir (also in a chroot). */
	if ((cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fchdir(s->mdfd) == -1) {
		if (cwd != -1)
			close(cwd);
		close(fd);
		return -1;
	}
	for (i = 0; i < 2; i++)
		(void)inotify_add_watch(fd, subs[i], IN_CREATE | IN_DELETE |
		    IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR);
	(void)fchdir(cwd);
	close(cwd);
	return fd;
}

/* One line from the client: DONE ends IDLE; anything else is BAD. */
static int
idle_done(struct imap_session *s, struct imap_command *cmd)
{
	struct buf line;
	int rc;

	buf_init(&line);
	rc = iobuf_getline(&s->io, &line, 64);
	if (rc != IO_LINE) {
		buf_free(&line);
		s->broken = rc != IO_TOOLONG;
		imap_reply(s, cmd, "BAD Expected DONE.");
		return rc == IO_TOOLONG ? IMAP_CMD_BAD : IMAP_CMD_CLOSE;
	}
	s->in_bytes += line.len;
	line_chomp(&line);
	if (strcasecmp(line.data, "DONE") == 0)
		imap_reply(s, cmd, "OK Idle completed.");
	else
		imap_reply(s, cmd, "BAD Expected DONE.");
	buf_free(&line);
	return IMAP_CMD_OK;
}
