/*
 * smtpd_io: the client's socket under a deadline, and the per-IP
 * connection table. smtpd_timeout bounds a whole command line or DATA line,
 * not each read, so a client trickling one byte a second is cut off.
 * The connection table is a file of fixed slots, private/smtpd_clients:
 * each smtpd holds a write lock (fcntl) on its slot while serving, so a
 * crashed process frees its slot by itself; counting tests the locks.
 * Connection rates use a second file, private/smtpd_rates: lib/auth's
 * bounded table of {IP, window start, count} (auth_failures_count), one
 * window per anvil_rate_time_unit.
 * Failed logins per IP use a third file of the same shape,
 * private/smtpd_auth_failures (smtpd_auth_failure_limit).
 * Parameters: smtpd_timeout, smtpd_client_connection_count_limit,
 * smtpd_client_connection_rate_limit, anvil_rate_time_unit,
 * smtpd_client_event_limit_exceptions.
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "core/fileutil.h"
#include "core/log.h"
#include "smtpd/smtpd.h"

/* private/ is mail_owner's; queue_directory itself is root's. */
#define SMTPD_CONN_FILE		"private/smtpd_clients"
#define SMTPD_CONN_SLOT		64
#define SMTPD_CONN_SLOTS	8192
#define SMTPD_RATE_FILE		"private/smtpd_rates"
#define SMTPD_AUTH_FILE		"private/smtpd_auth_failures"

static int smtpd_remaining_ms(struct smtpd_session *);
static int smtpd_wait(struct smtpd_session *, short, int);
static ssize_t smtpd_read_hook(struct iobuf *, void *, size_t);
static ssize_t smtpd_write_hook(struct iobuf *, const void *, size_t);
static int smtpd_conn_open(struct smtpd_conf *);
static int smtpd_slot_lock(int, int, short, int);
static long long smtpd_window_count(struct smtpd_session *, int *,
    const char *, int);

void
smtpd_deadline_start(struct smtpd_session *s)
{
	clock_gettime(CLOCK_MONOTONIC, &s->deadline);
	s->deadline.tv_sec += s->conf->timeout;
}

/* Milliseconds left before the deadline; 0 when it has passed. */
static int
smtpd_remaining_ms(struct smtpd_session *s)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(s->deadline.tv_sec - now.tv_sec) * 1000 +
	    (s->deadline.tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : (int)ms;
}

static int
smtpd_wait(struct smtpd_session *s, short events, int ms)
{
	struct pollfd pfd;
	int rc;

	pfd.fd = s->io.fd;
	pfd.events = events;
	for (;;) {
		rc = poll(&pfd, 1, ms);
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc == -1)
			return IO_ERROR;
		return rc == 0 ? IO_TIMEOUT : 0;
	}
}

static ssize_t
smtpd_read_hook(struct iobuf *io, void *data, size_t len)
{
	struct smtpd_session *s = io->ctx;
	ssize_t n;
	int rc;

	if ((rc = smtpd_wait(s, POLLIN, smtpd_remaining_ms(s))) != 0) {
		errno = ETIMEDOUT;
		return rc;
	}
	n = read(io->fd, data, len);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		errno = EIO;	/* iobuf would retry without waiting */
	return n;
}

/*
 * Writes get a fresh smtpd_timeout each: the client must read its replies.
 * A socket nearly always has room, so try first and wait only when full
 * (one poll less per reply).
 */
static ssize_t
smtpd_write_hook(struct iobuf *io, const void *data, size_t len)
{
	struct smtpd_session *s = io->ctx;
	ssize_t n;
	int rc;

	if ((n = write_nowait(io->fd, data, len)) >= 0 || errno != EAGAIN)
		return n;
	if ((rc = smtpd_wait(s, POLLOUT, (int)s->conf->timeout * 1000)) != 0) {
		errno = ETIMEDOUT;
		return rc;
	}
	n = write(io->fd, data, len);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		errno = EIO;
	return n;
}

void
smtpd_io_init(struct smtpd_session *s)
{
	s->io.ctx = s;
	s->io.read_hook = smtpd_read_hook;
	s->io.write_hook = smtpd_write_hook;
	smtpd_deadline_start(s);
}

/*
 * smtpd_input_pending: the client has sent more than we have consumed
 * (RFC 2920 synchronization checks). Looks into the socket without
 * waiting; what it reads stays in the input buffer.
 */
int
smtpd_input_pending(struct smtpd_session *s)
{
	struct pollfd pfd;
	ssize_t n;

	if (iobuf_pending(&s->io) > 0)
		return 1;
	pfd.fd = s->io.fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 0) != 1)
		return 0;
	n = iobuf_fill(&s->io);
	return n > 0;
}

static int
smtpd_conn_open(struct smtpd_conf *conf)
{
	if (conf->conn_table_fd >= 0)
		return conf->conn_table_fd;
	conf->conn_table_fd = open(SMTPD_CONN_FILE,
	    O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (conf->conn_table_fd == -1)
		log_warn("open %s", SMTPD_CONN_FILE);
	return conf->conn_table_fd;
}

/* F_GETLK (test) or F_SETLK on one slot; 1 when another holds it. */
static int
smtpd_slot_lock(int fd, int slot, short type, int test)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = (off_t)slot * SMTPD_CONN_SLOT;
	fl.l_len = SMTPD_CONN_SLOT;
	if (fcntl(fd, test ? F_GETLK : F_SETLK, &fl) == -1)
		return -1;
	return test ? fl.l_type != F_UNLCK : 0;
}

/*
 * smtpd_conn_enter: count the other smtpds serving this IP and take a
 * slot. The table is bounded; a full or unusable table fails open (the
 * process limit in master.cf still holds).
 */
int
smtpd_conn_enter(struct smtpd_session *s, long long *count)
{
	char slot[SMTPD_CONN_SLOT];
	int fd, i, free_slot = -1;

	*count = 0;
	s->conn_slot = -1;
	if (!s->have_ip || s->conf->conn_count_limit <= 0 ||
	    netaddr_list_match(s->conf->event_exceptions, &s->client_ip))
		return 0;
	if ((fd = smtpd_conn_open(s->conf)) == -1)
		return 0;
	if (flock(fd, LOCK_EX) == -1)
		return 0;
	for (i = 0; i < SMTPD_CONN_SLOTS; i++) {
		if (smtpd_slot_lock(fd, i, F_WRLCK, 1) != 1) {
			if (free_slot == -1)
				free_slot = i;
			continue;
		}
		if (pread(fd, slot, sizeof(slot), (off_t)i * SMTPD_CONN_SLOT) ==
		    (ssize_t)sizeof(slot) && memcmp(slot, &s->client_ip,
		    sizeof(s->client_ip)) == 0)
			(*count)++;
	}
	if (free_slot != -1 && *count < s->conf->conn_count_limit &&
	    smtpd_slot_lock(fd, free_slot, F_WRLCK, 0) == 0) {
		memset(slot, 0, sizeof(slot));
		memcpy(slot, &s->client_ip, sizeof(s->client_ip));
		if (pwrite(fd, slot, sizeof(slot),
		    (off_t)free_slot * SMTPD_CONN_SLOT) == (ssize_t)sizeof(slot))
			s->conn_slot = free_slot;
		else
			(void)smtpd_slot_lock(fd, free_slot, F_UNLCK, 0);
	}
	(void)flock(fd, LOCK_UN);
	(*count)++;		/* this connection */
	return *count > s->conf->conn_count_limit ? -1 : 0;
}

/*
 * smtpd_window_count: this IP's events in the current window of the table
 * in file (its descriptor cached in *fdp), after adding add; 0 when the
 * table cannot be used (fail open). The caller holds the connection
 * table's flock.
 */
static long long
smtpd_window_count(struct smtpd_session *s, int *fdp, const char *file,
    int add)
{
	if (*fdp < 0 && (*fdp = auth_failures_open(file)) == -1)
		return 0;
	return auth_failures_count(*fdp, s->client_addr, s->conf->rate_unit,
	    add);
}

/* smtpd_rate_enter: 0, or -1 when this IP connects too often. */
int
smtpd_rate_enter(struct smtpd_session *s, long long *count)
{
	int fd;

	*count = 0;
	if (!s->have_ip || s->conf->rate_limit <= 0 ||
	    netaddr_list_match(s->conf->event_exceptions, &s->client_ip))
		return 0;
	if ((fd = smtpd_conn_open(s->conf)) == -1 || flock(fd, LOCK_EX) == -1)
		return 0;
	*count = smtpd_window_count(s, &s->conf->rate_table_fd,
	    SMTPD_RATE_FILE, 1);
	(void)flock(fd, LOCK_UN);
	return *count > s->conf->rate_limit ? -1 : 0;
}

/*
 * smtpd_auth_failures: this IP's failed logins in the current
 * anvil_rate_time_unit window, after adding add (0 or 1).
 */
long long
smtpd_auth_failures(struct smtpd_session *s, int add)
{
	long long count;
	int fd;

	if (!s->have_ip || (fd = smtpd_conn_open(s->conf)) == -1 ||
	    flock(fd, LOCK_EX) == -1)
		return 0;
	count = smtpd_window_count(s, &s->conf->auth_table_fd, SMTPD_AUTH_FILE,
	    add);
	(void)flock(fd, LOCK_UN);
	return count;
}

void
smtpd_conn_leave(struct smtpd_session *s)
{
	if (s->conn_slot < 0 || s->conf->conn_table_fd < 0)
		return;
	(void)smtpd_slot_lock(s->conf->conn_table_fd, s->conn_slot, F_UNLCK, 0);
	s->conn_slot = -1;
}
