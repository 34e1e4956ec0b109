/*
 * qmgr_admin: the queue CLI's side of public/qmgr. A connection whose
 * first byte is not NUL is a wakeup ('F' also flushes deferred/; "I", a
 * queue ID and a newline name the one file smtpd just put in incoming/,
 * which qmgr then moves without scanning the directory); one that
 * starts with an ipc frame (length high byte 0) is a command: list, show,
 * delete, hold, release, requeue, expire, flush. Every connection but a
 * named one asks for a scan of incoming/. Replies are ipc frames,
 * the last one with "status".
 * Why this is safe while deliveries run: qmgr is the only process that
 * moves or removes queue files, and it does all of it in this one thread.
 * A message in active/ is never touched here: it gets a flag, and
 * qmgr_msg_finish acts on it when its in-flight deliveries have answered
 * (a delivery already under way completes, as in Postfix). Files in
 * incoming/, deferred/ and hold/ are not open anywhere, so a rename or
 * unlink of them cannot race with a delivery.
 * Security: list and flush need uid 0, our own uid, or the setgid_group
 * (postqueue's rights); show and the changes need uid 0 or our own uid
 * (postsuper's and postcat's). Checked with the peer's credentials
 * (SO_PEERCRED, SO_PEERGROUPS); queue IDs are checked with queue_id_valid
 * before they become paths.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/fileutil.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "ipc/ipc.h"
#include "qmgr/qmgr.h"

#define QMGR_CLIENT_TIMEOUT	5	/* seconds to send a command */
#define QMGR_REPLY_TIMEOUT	10	/* seconds per reply frame */
#define QMGR_SHOW_CHUNK		(256 * 1024)
#define QMGR_GROUPS_MAX		256
#define QMGR_PEER_USER		1	/* list, flush */
#define QMGR_PEER_ADMIN		2	/* everything */

/* Where a listing looks, in Postfix's showq order. */
static const char *const qmgr_list_dirs[] = { QUEUE_HOLD, QUEUE_INCOMING,
    QUEUE_ACTIVE, QUEUE_DEFERRED, NULL };

typedef int qmgr_op_fn(struct qmgr *, const char *);

static int qmgr_peer_admin(struct qmgr *, int);
static void qmgr_client_close(struct qmgr *, struct qmgr_client *);
static void qmgr_client_read(struct qmgr *, struct qmgr_client *);
static int qmgr_named_trigger(struct qmgr *, struct qmgr_client *);
static int qmgr_allowed(int, const char *);
static void qmgr_command(struct qmgr *, int, const struct ipc_msg *);
static int qmgr_reply_status(int, const char *, const char *, long long);
static int qmgr_list(struct qmgr *, int);
static int qmgr_list_one(int, const char *, const char *);
static void qmgr_list_reasons(const char *, struct ipc_msg *, const char *);
static int qmgr_show(int, const char *);
static const char *qmgr_find_dir(const char *);
static int qmgr_op_delete(struct qmgr *, const char *);
static int qmgr_op_hold(struct qmgr *, const char *);
static int qmgr_op_release(struct qmgr *, const char *);
static int qmgr_op_requeue(struct qmgr *, const char *);
static int qmgr_op_expire(struct qmgr *, const char *);
static int qmgr_op_flush(struct qmgr *, const char *);
static long long qmgr_op_all(struct qmgr *, qmgr_op_fn *);
static int qmgr_move(const char *, const char *, const char *, time_t);

struct qmgr_msg *
qmgr_msg_find(struct qmgr *q, const char *id)
{
	struct qmgr_msg *msg;

	TAILQ_FOREACH(msg, &q->messages, entry)
		if (!strcmp(msg->id, id))
			return msg;
	return NULL;
}

/*
 * QMGR_PEER_ADMIN for root and the mail owner (every command, as
 * postsuper and postcat need root); QMGR_PEER_USER for setgid_group
 * (postdrop) members: list and flush, as postqueue allows; else 0.
 */
static int
qmgr_peer_admin(struct qmgr *q, int fd)
{
	struct ucred cred;
	gid_t groups[QMGR_GROUPS_MAX];
	socklen_t len = sizeof(cred);
	size_t i;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return 0;
	if (cred.uid == 0 || cred.uid == q->owner_uid)
		return QMGR_PEER_ADMIN;
	if (q->postdrop_gid == (gid_t)-1)
		return 0;
	if (cred.gid == q->postdrop_gid)
		return QMGR_PEER_USER;
	len = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == -1)
		return 0;
	for (i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == q->postdrop_gid)
			return QMGR_PEER_USER;
	return 0;
}

void
qmgr_admin_accept(struct qmgr *q, int fd)
{
	struct qmgr_client *c;
	size_t n = 0;

	TAILQ_FOREACH(c, &q->clients, entry)
		n++;
	if (n >= QMGR_CLIENTS_MAX) {	/* still a wakeup */
		q->incoming_now = 1;
		close(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	c->admin = qmgr_peer_admin(q, fd);
	buf_init(&c->in);
	qmgr_clock(&c->deadline);
	c->deadline.tv_sec += QMGR_CLIENT_TIMEOUT;
	TAILQ_INSERT_TAIL(&q->clients, c, entry);
}

static void
qmgr_client_close(struct qmgr *q, struct qmgr_client *c)
{
	if (!c->named)
		q->incoming_now = 1;
	TAILQ_REMOVE(&q->clients, c, entry);
	close(c->fd);
	buf_free(&c->in);
	free(c);
}

int
qmgr_admin_pollfds(struct qmgr *q, struct pollfd *pfd, size_t cap)
{
	struct qmgr_client *c;
	size_t n = 0;

	TAILQ_FOREACH(c, &q->clients, entry) {
		if (n == cap)
			break;
		pfd[n].fd = c->fd;
		pfd[n].events = POLLIN;
		pfd[n++].revents = 0;
	}
	return (int)n;
}

int
qmgr_admin_timeout_ms(struct qmgr *q)
{
	struct qmgr_client *c;
	struct timespec now;
	long long ms, best = 60000;

	qmgr_clock(&now);
	TAILQ_FOREACH(c, &q->clients, entry) {
		ms = ((long long)c->deadline.tv_sec - now.tv_sec) * 1000 +
		    (c->deadline.tv_nsec - now.tv_nsec) / 1000000;
		if (ms < best)
			best = ms;
	}
	return best < 0 ? 0 : (int)best;
}

/* pfd[i] belongs to the i-th client (the list only grows at its tail). */
void
qmgr_admin_input(struct qmgr *q, struct pollfd *pfd, size_t n)
{
	struct qmgr_client *c, *next;
	struct timespec now;
	size_t i = 0;

	qmgr_clock(&now);
	TAILQ_FOREACH_SAFE(c, &q->clients, entry, next) {
		if (i < n && pfd[i++].revents & (POLLIN | POLLHUP | POLLERR))
			qmgr_client_read(q, c);
		else if (now.tv_sec > c->deadline.tv_sec ||
		    (now.tv_sec == c->deadline.tv_sec &&
		    now.tv_nsec >= c->deadline.tv_nsec))
			qmgr_client_close(q, c);
	}
}

static int
qmgr_allowed(int level, const char *cmd)
{
	if (level == QMGR_PEER_ADMIN)
		return 1;
	return level == QMGR_PEER_USER && cmd != NULL &&
	    (!strcmp(cmd, "list") || !strcmp(cmd, "flush"));
}

/*
 * "I" ID "\n": remember the ID for qmgr_activate_named. 0 while the line
 * is incomplete; 1 when it is done (c->named set if the ID was taken).
 * Anything malformed is an ordinary wakeup: the scan finds the file
 * either way (so would it past the bound, which qmgr.h says cannot be hit).
 */
static int
qmgr_named_trigger(struct qmgr *q, struct qmgr_client *c)
{
	const char *nl;
	size_t len;

	if ((nl = memchr(c->in.data, '\n', c->in.len)) == NULL)
		return c->in.len > QUEUE_ID_MAX;
	len = (size_t)(nl - c->in.data) - 1;
	if (len == 0 || len >= QUEUE_ID_MAX || q->nnamed >= QMGR_CLIENTS_MAX)
		return 1;
	memcpy(q->named[q->nnamed], c->in.data + 1, len);
	q->named[q->nnamed][len] = '\0';
	if (!queue_id_valid(q->named[q->nnamed]))
		return 1;
	q->nnamed++;
	c->named = 1;
	return 1;
}

static void
qmgr_client_read(struct qmgr *q, struct qmgr_client *c)
{
	struct ipc_msg m;
	ssize_t n;
	size_t i;
	int rc;

	buf_reserve(&c->in, 4096);
	n = read(c->fd, c->in.data + c->in.len, 4096);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		qmgr_client_close(q, c);
		return;
	}
	c->in.len += (size_t)n;
	if (c->in.data[0] == 'I') {		/* hex IDs hold 'F's: not below */
		if (qmgr_named_trigger(q, c) == 1)
			qmgr_client_close(q, c);
		return;
	}
	if (c->in.data[0] != '\0') {		/* a wakeup trigger */
		for (i = 0; i < c->in.len; i++)
			if (c->in.data[i] == 'F')
				q->deferred_now = q->flush = 1;
		qmgr_client_close(q, c);
		return;
	}
	ipc_msg_init(&m);
	if ((rc = deliver_frame_take(&c->in, &m)) == 1) {
		if (set_nonblock(c->fd, 0) == -1)
			;
		else if (!qmgr_allowed(c->admin, ipc_get(&m, "cmd"))) {
			log_warnx("queue command refused: peer is not root, "
			    "the mail owner or (for list and flush) in group %s",
			    config_get(q->cfg, "setgid_group"));
			(void)qmgr_reply_status(c->fd, "error",
			    "permission denied", -1);
		} else
			qmgr_command(q, c->fd, &m);
		qmgr_client_close(q, c);
	} else if (rc == -1)
		qmgr_client_close(q, c);
	ipc_msg_free(&m);
}

static int
qmgr_reply_status(int fd, const char *status, const char *reason,
    long long count)
{
	struct ipc_msg m;
	int rc;

	ipc_msg_init(&m);
	ipc_put(&m, "status", status);
	if (reason != NULL)
		ipc_put(&m, "reason", reason);
	if (count >= 0)
		ipc_put_int(&m, "count", count);
	rc = ipc_send(fd, &m, -1);
	ipc_msg_free(&m);
	return rc;
}

static void
qmgr_command(struct qmgr *q, int fd, const struct ipc_msg *m)
{
	static const struct {
		const char *name;
		qmgr_op_fn *fn;
	} ops[] = {
		{ "delete", qmgr_op_delete }, { "hold", qmgr_op_hold },
		{ "release", qmgr_op_release }, { "requeue", qmgr_op_requeue },
		{ "expire", qmgr_op_expire }, { "flush", qmgr_op_flush },
	};
	struct timeval tv = { QMGR_REPLY_TIMEOUT, 0 };
	const char *cmd = ipc_get(m, "cmd"), *name, *value;
	long long count = 0;
	size_t i, pos = 0;

	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (cmd == NULL) {
		(void)qmgr_reply_status(fd, "error", "no command", -1);
		return;
	}
	if (!strcmp(cmd, "list")) {
		if (qmgr_list(q, fd) == 0)
			(void)qmgr_reply_status(fd, "ok", NULL, -1);
		return;
	}
	if (!strcmp(cmd, "show")) {
		value = ipc_get(m, "id");
		if (value == NULL || !queue_id_valid(value))
			(void)qmgr_reply_status(fd, "error", "bad queue ID", -1);
		else if (qmgr_show(fd, value) == 1)
			(void)qmgr_reply_status(fd, "ok", NULL, -1);
		else
			(void)qmgr_reply_status(fd, "error", "no such message",
			    -1);
		return;
	}
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(cmd, ops[i].name))
			break;
	if (i == sizeof(ops) / sizeof(ops[0])) {
		(void)qmgr_reply_status(fd, "error", "unknown command", -1);
		return;
	}
	if (ipc_get(m, "all") != NULL)
		count = qmgr_op_all(q, ops[i].fn);
	while (ipc_next(m, &pos, &name, &value))
		if (!strcmp(name, "id") && queue_id_valid(value))
			count += ops[i].fn(q, value);
	if (!strcmp(cmd, "flush") && ipc_get(m, "all") != NULL)
		q->deferred_now = q->flush = 1;
	(void)qmgr_reply_status(fd, "ok", NULL, count);
}

/* ---- listing --------------------------------------------------------- */

/* delay_reason per address from defer/ID ("address\treason" lines). */
static void
qmgr_list_reasons(const char *id, struct ipc_msg *m, const char *address)
{
	char path[PATH_MAX], *text, *line, *tab, *save = NULL;

	snprintf(path, sizeof(path), "%s/%s", QMGR_DEFER_DIR, id);
	if ((text = read_file(path, NULL, QUEUE_REC_MAX * 16)) == NULL)
		return;
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if ((tab = strchr(line, '\t')) == NULL)
			continue;
		*tab = '\0';
		if (!strcmp(line, address)) {
			ipc_put(m, "delay_reason", tab + 1);
			break;
		}
	}
	free(text);
}

/* One message as one frame; 0 sent or skipped, -1 the client is gone. */
static int
qmgr_list_one(int fd, const char *dir, const char *id)
{
	struct queue_message qm;
	struct ipc_msg m;
	struct stat st;
	char path[PATH_MAX], err[256];
	const char *orcpt;
	size_t i;
	int qfd, rc;

	snprintf(path, sizeof(path), "%s/%s", dir, id);
	if ((qfd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return 0;
	if (fstat(qfd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    queue_file_read(qfd, &qm, err, sizeof(err)) == -1) {
		close(qfd);
		return 0;
	}
	close(qfd);
	ipc_msg_init(&m);
	ipc_put(&m, "queue_name", dir);
	ipc_put(&m, "queue_id", id);
	ipc_put_int(&m, "arrival_time", qm.arrival_sec);
	ipc_put_int(&m, "message_size", (long long)qm.content_len);
	ipc_put(&m, "forced_expire", st.st_mode & S_IXUSR ? "true" : "false");
	ipc_put(&m, "sender", qm.sender);
	for (i = 0; i < qm.nrcpts; i++) {
		if (qm.rcpts[i].done)
			continue;
		ipc_put(&m, "address", qm.rcpts[i].address);
		if ((orcpt = qm.rcpts[i].orcpt) != NULL) {
			if (!strncasecmp(orcpt, "rfc822;", 7))
				orcpt += 7;
			while (*orcpt == ' ')
				orcpt++;
			if (strcmp(orcpt, qm.rcpts[i].address))
				ipc_put(&m, "orig_address", orcpt);
		}
		qmgr_list_reasons(id, &m, qm.rcpts[i].address);
	}
	queue_message_free(&qm);
	rc = ipc_send(fd, &m, -1);
	ipc_msg_free(&m);
	return rc;
}

static int
qmgr_list(struct qmgr *q, int fd)
{
	struct dirent *de;
	DIR *d;
	size_t i;
	int rc = 0;

	(void)q;
	for (i = 0; qmgr_list_dirs[i] != NULL && rc == 0; i++) {
		if ((d = opendir(qmgr_list_dirs[i])) == NULL)
			continue;
		while (rc == 0 && (de = readdir(d)) != NULL)
			if (queue_id_valid(de->d_name))
				rc = qmgr_list_one(fd, qmgr_list_dirs[i],
				    de->d_name);
		closedir(d);
	}
	return rc;
}

static const char *
qmgr_find_dir(const char *id)
{
	char path[PATH_MAX];
	struct stat st;
	size_t i;

	for (i = 0; qmgr_list_dirs[i] != NULL; i++) {
		snprintf(path, sizeof(path), "%s/%s", qmgr_list_dirs[i], id);
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
			return qmgr_list_dirs[i];
	}
	return NULL;
}

/* The envelope as a listing frame, then the content in "text" frames. */
static int
qmgr_show(int fd, const char *id)
{
	struct queue_message qm;
	struct ipc_msg m;
	char path[PATH_MAX], err[256], *chunk;
	const char *dir;
	uint64_t off = 0;
	size_t n, i;
	int qfd, rc = 1;

	if ((dir = qmgr_find_dir(id)) == NULL)
		return 0;
	if (qmgr_list_one(fd, dir, id) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, id);
	if ((qfd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return 0;
	if (queue_file_read(qfd, &qm, err, sizeof(err)) == -1) {
		close(qfd);
		return 0;
	}
	chunk = xmalloc(QMGR_SHOW_CHUNK + 1);
	ipc_msg_init(&m);
	while (rc == 1 && off < qm.content_len) {
		n = qm.content_len - off > QMGR_SHOW_CHUNK ? QMGR_SHOW_CHUNK :
		    (size_t)(qm.content_len - off);
		if (pread_full(qfd, chunk, n, qm.content_offset + (off_t)off) ==
		    -1) {
			rc = 0;
			break;
		}
		for (i = 0; i < n; i++)		/* a frame value is a C string */
			if (chunk[i] == '\0')
				chunk[i] = ' ';
		chunk[n] = '\0';
		ipc_msg_reset(&m);
		ipc_put(&m, "text", chunk);
		if (ipc_send(fd, &m, -1) == -1)
			rc = -1;
		off += n;
	}
	ipc_msg_free(&m);
	free(chunk);
	queue_message_free(&qm);
	close(qfd);
	return rc;
}

/* ---- operations: 1 when the message was found and acted on ----------- */

static int
qmgr_move(const char *from_dir, const char *to_dir, const char *id,
    time_t mtime)
{
	char from[PATH_MAX], to[PATH_MAX];
	struct timespec ts[2];

	snprintf(from, sizeof(from), "%s/%s", from_dir, id);
	snprintf(to, sizeof(to), "%s/%s", to_dir, id);
	if (mtime != 0) {
		ts[0].tv_sec = ts[1].tv_sec = mtime;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		if (utimensat(AT_FDCWD, from, ts, AT_SYMLINK_NOFOLLOW) == -1)
			return 0;
	}
	if (rename(from, to) == -1) {
		if (errno != ENOENT)
			log_warn("rename %s to %s", from, to);
		return 0;
	}
	return 1;
}

static int
qmgr_op_delete(struct qmgr *q, const char *id)
{
	static const char *const dirs[] = { QUEUE_INCOMING, QUEUE_DEFERRED,
	    QUEUE_HOLD, QUEUE_ACTIVE, NULL };
	struct qmgr_msg *msg;
	char path[PATH_MAX];
	size_t i;

	if ((msg = qmgr_msg_find(q, id)) != NULL) {
		msg->admin = QMGR_ADMIN_DELETE;	/* removed when jobs end */
		return 1;
	}
	for (i = 0; dirs[i] != NULL; i++) {
		snprintf(path, sizeof(path), "%s/%s", dirs[i], id);
		if (unlink(path) == 0) {
			log_info("%s: removed", id);
			qmgr_defer_reasons_remove(id);
			return 1;
		}
	}
	return 0;
}

static int
qmgr_op_hold(struct qmgr *q, const char *id)
{
	struct qmgr_msg *msg;

	if ((msg = qmgr_msg_find(q, id)) != NULL) {
		if (msg->admin != QMGR_ADMIN_DELETE)
			msg->admin = QMGR_ADMIN_HOLD;
	} else if (!qmgr_move(QUEUE_DEFERRED, QUEUE_HOLD, id, 0) &&
	    !qmgr_move(QUEUE_INCOMING, QUEUE_HOLD, id, 0))
		return 0;
	log_info("%s: placed on hold", id);
	return 1;
}

static int
qmgr_op_release(struct qmgr *q, const char *id)
{
	if (!qmgr_move(QUEUE_HOLD, QUEUE_DEFERRED, id, time(NULL)))
		return 0;
	log_info("%s: released from hold", id);
	q->deferred_now = 1;
	return 1;
}

static int
qmgr_op_requeue(struct qmgr *q, const char *id)
{
	struct qmgr_msg *msg;

	if ((msg = qmgr_msg_find(q, id)) != NULL) {
		if (msg->admin == QMGR_ADMIN_NONE)
			msg->admin = QMGR_ADMIN_REQUEUE;
	} else if (!qmgr_move(QUEUE_DEFERRED, QUEUE_INCOMING, id, time(NULL)) &&
	    !qmgr_move(QUEUE_HOLD, QUEUE_INCOMING, id, time(NULL)))
		return 0;
	log_info("%s: requeued", id);
	q->incoming_now = 1;
	return 1;
}

/* u+x on the file marks it (Postfix's postsuper -e); then try it now. */
static int
qmgr_op_expire(struct qmgr *q, const char *id)
{
	struct qmgr_msg *msg;
	char path[PATH_MAX];
	const char *dir;
	struct stat st;

	if ((dir = qmgr_find_dir(id)) == NULL)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", dir, id);
	if (stat(path, &st) == -1 ||
	    chmod(path, (st.st_mode & 07777) | S_IXUSR) == -1)
		return 0;
	if ((msg = qmgr_msg_find(q, id)) != NULL)
		msg->forced_expire = 1;
	log_info("%s: forcibly expired", id);
	if (!strcmp(dir, QUEUE_DEFERRED))
		(void)qmgr_op_flush(q, id);
	return 1;
}

static int
qmgr_op_flush(struct qmgr *q, const char *id)
{
	char path[PATH_MAX];
	struct timespec ts[2];

	snprintf(path, sizeof(path), "%s/%s", QUEUE_DEFERRED, id);
	ts[0].tv_sec = ts[1].tv_sec = time(NULL);
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) == -1)
		return 0;
	q->deferred_now = 1;
	return 1;
}

static long long
qmgr_op_all(struct qmgr *q, qmgr_op_fn *fn)
{
	struct dirent *de;
	char **ids = NULL;
	size_t n = 0, i, d;
	long long count = 0;
	DIR *dp;

	for (d = 0; qmgr_list_dirs[d] != NULL; d++) {
		if ((dp = opendir(qmgr_list_dirs[d])) == NULL)
			continue;
		while ((de = readdir(dp)) != NULL) {
			if (!queue_id_valid(de->d_name))
				continue;
			ids = xreallocarray(ids, n + 1, sizeof(*ids));
			ids[n++] = xstrdup(de->d_name);
		}
		closedir(dp);
	}
	for (i = 0; i < n; i++) {
		count += fn(q, ids[i]);
		free(ids[i]);
	}
	free(ids);
	return count;
}
