/*
 * qmgr_scan: moving queue files between directories. incoming/ and due
 * deferred/ files are read, checked for their END record, renamed into
 * active/ and scheduled; at startup everything already in active/ is
 * scheduled again. Crash safety: a file is in exactly one directory at any
 * time (rename), and a crash mid-delivery leaves it in active/, where the
 * next start finds it: a duplicate delivery is possible, a loss is not.
 * maildrop/ (local submissions, untrusted) is checked and copied into
 * incoming/; deferred/ is taken QMGR_DEFERRED_BATCH files per event loop
 * turn so a large backlog never holds up new mail.
 * Parameters: qmgr_message_active_limit, message_size_limit.
 */
#include <sys/stat.h>
#include <sys/time.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fileutil.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "proto/smtp_addr.h"
#include "qmgr/qmgr.h"

/*
 * A dot file in incoming/ is a message smtpd is still writing. One that
 * has not changed for this long belongs to a writer that crashed.
 */
#define QMGR_STALE_TEMP_AGE	(24 * 60 * 60)
/* Records a local submission may carry; anything else is not copied. */
static const char *const qmgr_pickup_attrs[] = { "protocol",
    "message_id", "dsn_envid", "dsn_ret", NULL };
#define QMGR_PICKUP_CHUNK	(64 * 1024)
/* Deferred files taken into active/ per scan (one event loop turn). */
#define QMGR_DEFERRED_BATCH	500

struct qmgr_names {
	char	**v;
	size_t	 n;
};

static void qmgr_names_add(struct qmgr_names *, const char *);
static void qmgr_names_free(struct qmgr_names *);
static void qmgr_corrupt(const char *, const char *, const char *);
static void qmgr_stale(int, const char *, time_t);
static struct qmgr_msg *qmgr_read(const char *, const char *);
static int qmgr_pickup_valid(const struct queue_message *, char *, size_t);
static int qmgr_pickup_copy(int, const struct queue_message *, uid_t,
    char *, size_t);
static void qmgr_pickup(struct qmgr *, const char *);
static void qmgr_scan_maildrop(struct qmgr *);
static int qmgr_pickup_attr_allowed(const char *);
static int qmgr_address_valid(const char *, int);

static void
qmgr_names_add(struct qmgr_names *names, const char *name)
{
	names->v = xreallocarray(names->v, names->n + 1, sizeof(char *));
	names->v[names->n++] = xstrdup(name);
}

static void
qmgr_names_free(struct qmgr_names *names)
{
	size_t i;

	for (i = 0; i < names->n; i++)
		free(names->v[i]);
	free(names->v);
	names->v = NULL;
	names->n = 0;
}

/* A malformed file is kept for the postmaster, never delivered. */
static void
qmgr_corrupt(const char *dir, const char *id, const char *why)
{
	char from[PATH_MAX], to[PATH_MAX];

	snprintf(from, sizeof(from), "%s/%s", dir, id);
	snprintf(to, sizeof(to), "%s/%s", QUEUE_CORRUPT, id);
	log_warnx("%s: %s; saving corrupt file \"%s\" from queue \"%s\" "
	    "to queue \"%s\"", id, why, id, dir, QUEUE_CORRUPT);
	if (mkdir(QUEUE_CORRUPT, 0700) == -1 && errno != EEXIST)
		log_warn("mkdir %s", QUEUE_CORRUPT);
	if (rename(from, to) == -1)
		log_warn("rename %s to %s", from, to);
}

/* qmgr_read: open and parse dir/id; NULL if gone or corrupt (moved). */
static struct qmgr_msg *
qmgr_read(const char *dir, const char *id)
{
	char path[PATH_MAX], err[256];
	struct qmgr_msg *msg;
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, id);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno == ELOOP) {
			qmgr_corrupt(dir, id, "symbolic link");
		} else if (errno != ENOENT)	/* ENOENT: deleted meanwhile */
			log_warn("open %s", path);
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		qmgr_corrupt(dir, id, "not a regular file");
		return NULL;
	}
	msg = xcalloc(1, sizeof(*msg));
	if (queue_file_read(fd, &msg->qm, err, sizeof(err)) == -1) {
		close(fd);
		free(msg);
		qmgr_corrupt(dir, id, err);
		return NULL;
	}
	close(fd);
	strlcpy(msg->id, id, sizeof(msg->id));
	msg->fd = -1;
	/* queue expire sets u+x, as Postfix's postsuper -e does. */
	msg->forced_expire = (st.st_mode & S_IXUSR) != 0;
	return msg;
}

int
qmgr_activate(struct qmgr *q, const char *dir, const char *id)
{
	char from[PATH_MAX], to[PATH_MAX];
	struct qmgr_msg *msg;
	size_t i, pending = 0;

	if ((msg = qmgr_read(dir, id)) == NULL)
		return -1;
	if (strcmp(dir, QUEUE_ACTIVE) != 0) {
		snprintf(from, sizeof(from), "%s/%s", dir, id);
		snprintf(to, sizeof(to), "%s/%s", QUEUE_ACTIVE, id);
		if (rename(from, to) == -1) {
			log_warn("rename %s to %s", from, to);
			queue_message_free(&msg->qm);
			free(msg);
			return -1;
		}
	}
	gettimeofday(&msg->active, NULL);
	msg->rstate = xcalloc(msg->qm.nrcpts ? msg->qm.nrcpts : 1, 1);
	msg->status = xcalloc(msg->qm.nrcpts ? msg->qm.nrcpts : 1,
	    sizeof(*msg->status));
	for (i = 0; i < msg->qm.nrcpts; i++) {
		if (msg->qm.rcpts[i].done)
			msg->rstate[i] = QMGR_RCPT_MARKED;
		else
			pending++;
	}
	log_info("%s: from=<%s>, size=%llu, nrcpt=%zu (queue active)", id,
	    msg->qm.sender, (unsigned long long)msg->qm.content_len, pending);
	TAILQ_INSERT_TAIL(&q->messages, msg, entry);
	q->nactive++;
	qmgr_schedule(q, msg);
	return 0;
}

static void
qmgr_stale(int dfd, const char *name, time_t now)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
	    now - st.st_mtime < QMGR_STALE_TEMP_AGE)
		return;
	if (unlinkat(dfd, name, 0) == -1)
		log_warn("remove stale file %s/%s", QUEUE_INCOMING, name);
	else
		log_warnx("removed stale partial file %s/%s (unchanged for "
		    "%lld s)", QUEUE_INCOMING, name,
		    (long long)(now - st.st_mtime));
}

/* An address as it must look in a queue file: one valid SMTP path. */
static int
qmgr_address_valid(const char *addr, int sender)
{
	struct smtp_path path;
	const char *reason;
	char buf[SMTP_PATH_MAX + 8];
	size_t used, n;

	n = (size_t)snprintf(buf, sizeof(buf), "<%s>", addr);
	if (n >= sizeof(buf))
		return 0;
	return smtp_path_parse(buf, n, SMTP_ADDR_UTF8 | SMTP_ADDR_NODOMAIN_OK |
	    (sender ? SMTP_ADDR_NULL_OK : 0), &path, &used, &reason) == 0 &&
	    used == n;
}

/* A maildrop file is the user's: check all of it before trusting it. */
static int
qmgr_pickup_valid(const struct queue_message *m, char *err, size_t errlen)
{
	size_t i, pending = 0;

	if (!qmgr_address_valid(m->sender, 1)) {
		snprintf(err, errlen, "bad sender address");
		return -1;
	}
	for (i = 0; i < m->nrcpts; i++) {
		if (m->rcpts[i].done)
			continue;
		pending++;
		if (!qmgr_address_valid(m->rcpts[i].address, 0)) {
			snprintf(err, errlen, "bad recipient address");
			return -1;
		}
	}
	if (pending == 0) {
		snprintf(err, errlen, "no recipients");
		return -1;
	}
	if (m->arrival_sec <= 0 || m->arrival_usec < 0 ||
	    m->arrival_usec > 999999) {
		snprintf(err, errlen, "bad arrival time");
		return -1;
	}
	return 0;
}

static int
qmgr_pickup_attr_allowed(const char *name)
{
	size_t i;

	for (i = 0; qmgr_pickup_attrs[i] != NULL; i++)
		if (!strcmp(name, qmgr_pickup_attrs[i]))
			return 1;
	return 0;
}

/* Copy the checked records into a file of our own in incoming/. */
/*
 * The arrival time is ours (now) and the uid is the file's owner, as in
 * Postfix's pickup: neither is taken from what the user wrote.
 */
static int
qmgr_pickup_copy(int fd, const struct queue_message *m, uid_t uid, char *id,
    size_t idlen)
{
	struct queue_writer w;
	const struct queue_rcpt *r;
	struct timeval now;
	char *chunk;
	uint64_t off = 0;
	size_t i, n;

	if (queue_writer_open(&w, QUEUE_INCOMING) == -1)
		return -1;
	gettimeofday(&now, NULL);
	queue_writer_recordf(&w, QREC_TIME, "%lld %ld", (long long)now.tv_sec,
	    (long)now.tv_usec);
	queue_writer_record(&w, QREC_SENDER, m->sender, strlen(m->sender));
	queue_writer_recordf(&w, QREC_ATTR, "uid=%lu", (unsigned long)uid);
	for (i = 0; i < m->nattrs; i++)
		if (qmgr_pickup_attr_allowed(m->attr_names[i]))
			queue_writer_recordf(&w, QREC_ATTR, "%s=%s",
			    m->attr_names[i], m->attr_values[i]);
	for (i = 0; i < m->nrcpts; i++) {
		r = &m->rcpts[i];
		if (r->done)
			continue;
		if (r->orcpt)
			queue_writer_record(&w, QREC_ORCPT, r->orcpt,
			    strlen(r->orcpt));
		if (r->notify)
			queue_writer_record(&w, QREC_NOTIFY, r->notify,
			    strlen(r->notify));
		queue_writer_record(&w, QREC_RCPT, r->address,
		    strlen(r->address));
	}
	chunk = xmalloc(QMGR_PICKUP_CHUNK);
	queue_writer_content_begin(&w);
	while (off < m->content_len) {
		n = m->content_len - off > QMGR_PICKUP_CHUNK ?
		    QMGR_PICKUP_CHUNK : (size_t)(m->content_len - off);
		if (pread_full(fd, chunk, n, m->content_offset + (off_t)off) ==
		    -1) {
			free(chunk);
			queue_writer_abort(&w);
			return -1;
		}
		queue_writer_content(&w, chunk, n);
		off += n;
	}
	free(chunk);
	queue_writer_content_end(&w);
	strlcpy(id, w.id, idlen);
	return queue_writer_commit(&w);
}

/*
 * maildrop/NAME, written by sendmail(1) as the user: untrusted. A valid
 * one is copied into incoming/ (fsynced) before it is removed, so a crash
 * in between gives a duplicate, never a loss; a bad one goes to corrupt/.
 */
static void
qmgr_pickup(struct qmgr *q, const char *name)
{
	struct queue_message m;
	struct stat st;
	char path[PATH_MAX], err[256], id[QUEUE_ID_MAX];
	long long limit;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", QUEUE_MAILDROP, name);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ELOOP)
			qmgr_corrupt(QUEUE_MAILDROP, name, "symbolic link");
		else if (errno != ENOENT)
			log_warn("open %s", path);
		return;
	}
	limit = config_get_int(q->cfg, "message_size_limit");
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		qmgr_corrupt(QUEUE_MAILDROP, name, "not a regular file");
		return;
	}
	if (limit > 0 && st.st_size > limit + 2 * 1024 * 1024) {
		close(fd);
		qmgr_corrupt(QUEUE_MAILDROP, name, "file too large");
		return;
	}
	if (queue_file_read(fd, &m, err, sizeof(err)) == -1) {
		close(fd);
		qmgr_corrupt(QUEUE_MAILDROP, name, err);
		return;
	}
	if (qmgr_pickup_valid(&m, err, sizeof(err)) == -1 || (limit > 0 &&
	    m.content_len > (uint64_t)limit && snprintf(err, sizeof(err),
	    "message too large") > 0)) {
		close(fd);
		queue_message_free(&m);
		qmgr_corrupt(QUEUE_MAILDROP, name, err);
		return;
	}
	if (qmgr_pickup_copy(fd, &m, st.st_uid, id, sizeof(id)) == -1) {
		log_warn("%s: copy from %s", name, QUEUE_MAILDROP);
		close(fd);
		queue_message_free(&m);
		return;
	}
	close(fd);
	log_info("%s: uid=%lu from=<%s>", id, (unsigned long)st.st_uid,
	    m.sender);
	queue_message_free(&m);
	if (unlink(path) == -1)
		log_warn("remove %s", path);
}

/*
 * qmgr_activate_named: smtpd's wakeup names the file it just committed, so
 * a busy qmgr moves it without reading incoming/ (a directory of thousands
 * of entries under a backlog, rehashed by ext4 for every scan). A name
 * already taken by a scan is gone: qmgr_read's ENOENT is quiet. When
 * active/ is full the rest wait for the scan that room in active/ starts.
 */
void
qmgr_activate_named(struct qmgr *q)
{
	size_t i;

	for (i = 0; i < q->nnamed; i++) {
		if (q->nactive >= q->active_limit) {
			q->backlog = 1;
			break;
		}
		(void)qmgr_activate(q, QUEUE_INCOMING, q->named[i]);
	}
	q->nnamed = 0;
}

/* qmgr_scan_maildrop: local submissions into incoming/. */
static void
qmgr_scan_maildrop(struct qmgr *q)
{
	struct qmgr_names names = { NULL, 0 };
	struct dirent *de;
	DIR *d;
	size_t i;

	if ((d = opendir(QUEUE_MAILDROP)) == NULL)
		return;		/* no local submission on this system */
	while ((de = readdir(d)) != NULL && names.n < q->active_limit)
		if (de->d_name[0] != '.')
			qmgr_names_add(&names, de->d_name);
	closedir(d);
	for (i = 0; i < names.n; i++)
		qmgr_pickup(q, names.v[i]);
	qmgr_names_free(&names);
}

/*
 * qmgr_scan_incoming: every complete message in incoming/ goes to active/
 * while there is room. The maintenance pass (startup and every
 * queue_run_delay) also removes stale dot files and warns about names
 * that are not queue IDs.
 */
void
qmgr_scan_incoming(struct qmgr *q, int maintenance)
{
	struct qmgr_names names = { NULL, 0 };
	struct dirent *de;
	time_t now = time(NULL);
	DIR *d;
	size_t i;

	qmgr_scan_maildrop(q);
	if ((d = opendir(QUEUE_INCOMING)) == NULL) {
		log_warn("open %s", QUEUE_INCOMING);
		return;
	}
	q->backlog = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.') {
			if (maintenance && strcmp(de->d_name, ".") &&
			    strcmp(de->d_name, ".."))
				qmgr_stale(dirfd(d), de->d_name, now);
			continue;
		}
		if (!queue_id_valid(de->d_name)) {
			if (maintenance)
				log_warnx("%s/%s: not a queue ID: ignored",
				    QUEUE_INCOMING, de->d_name);
			continue;
		}
		if (q->nactive + names.n >= q->active_limit) {
			q->backlog = 1;
			if (!maintenance)
				break;
			continue;
		}
		qmgr_names_add(&names, de->d_name);
	}
	closedir(d);
	for (i = 0; i < names.n; i++)
		(void)qmgr_activate(q, QUEUE_INCOMING, names.v[i]);
	qmgr_names_free(&names);
}

/*
 * qmgr_scan_deferred: deferred files whose retry time (mtime) has come go
 * back to active/; with flush, all of them. Remembers the soonest retry
 * time still ahead so the next scan can be timed for it.
 */
void
qmgr_scan_deferred(struct qmgr *q, int flush)
{
	struct qmgr_names names = { NULL, 0 };
	struct dirent *de;
	struct stat st;
	time_t now = time(NULL), earliest = 0;
	DIR *d;
	size_t i;

	if ((d = opendir(QUEUE_DEFERRED)) == NULL) {
		log_warn("open %s", QUEUE_DEFERRED);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (!queue_id_valid(de->d_name)) {
			log_warnx("%s/%s: not a queue ID: ignored",
			    QUEUE_DEFERRED, de->d_name);
			continue;
		}
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		if (!flush && st.st_mtime > now) {
			if (earliest == 0 || st.st_mtime < earliest)
				earliest = st.st_mtime;
			continue;
		}
		if (q->nactive + names.n >= q->active_limit) {
			/* No room now: try again soon, not after a full delay. */
			earliest = now + 1;
			break;
		}
		if (names.n == QMGR_DEFERRED_BATCH) {
			/*
			 * The rest in the next turn of the event loop, so a
			 * restart over a large deferred/ does not hold up
			 * wakeups and new mail.
			 */
			q->deferred_now = 1;
			q->flush = flush;
			break;
		}
		qmgr_names_add(&names, de->d_name);
	}
	closedir(d);
	q->earliest_retry = earliest;
	for (i = 0; i < names.n; i++)
		(void)qmgr_activate(q, QUEUE_DEFERRED, names.v[i]);
	qmgr_names_free(&names);
}

/* qmgr_recover: startup: reschedule active/, then take in the rest. */
void
qmgr_recover(struct qmgr *q)
{
	struct qmgr_names names = { NULL, 0 };
	struct dirent *de;
	DIR *d;
	size_t i;

	if ((d = opendir(QUEUE_ACTIVE)) == NULL)
		fatal("open %s", QUEUE_ACTIVE);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (!queue_id_valid(de->d_name)) {
			log_warnx("%s/%s: not a queue ID: ignored", QUEUE_ACTIVE,
			    de->d_name);
			continue;
		}
		qmgr_names_add(&names, de->d_name);
	}
	closedir(d);
	for (i = 0; i < names.n; i++)
		(void)qmgr_activate(q, QUEUE_ACTIVE, names.v[i]);
	qmgr_names_free(&names);
	qmgr_scan_incoming(q, 1);
	qmgr_scan_deferred(q, 0);
}
