/*
 * qmgr_bounce: delivery status notifications, queued by qmgr itself as new
 * messages in incoming/ with the null sender (lib/proto/dsn.c formats
 * them), and the defer/ID files that remember each recipient's last delay
 * reason for the queue listing.
 * Crash safety: a bounce is committed (fsync, rename, fsync incoming/)
 * before its recipients are marked done, so a crash in between gives at
 * most a second notice, never none. A message with the null sender gets
 * no bounce: it goes to 2bounce_notice_recipient when that is set in
 * main.cf, else it is logged and dropped.
 * Parameters: myhostname, bounce_size_limit, 2bounce_notice_recipient.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/fileutil.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "proto/dsn.h"
#include "qmgr/qmgr.h"

#define QMGR_2BOUNCE_ATTR	"dsn_notice=2bounce"

static int qmgr_bounce_wanted(const struct qmgr_msg *, size_t, int);
static int qmgr_notify_has(const char *, const char *);
static char *qmgr_bounce_content(struct qmgr *, struct qmgr_msg *,
    size_t *);
static int qmgr_bounce_queue(struct qmgr *, struct qmgr_msg *,
    const char *, const struct buf *, int);

/* NOTIFY lists words (RFC 3461 section 4.1); NULL means the default. */
static int
qmgr_notify_has(const char *notify, const char *word)
{
	char **words;
	size_t n, i;
	int found = 0;

	words = config_split(notify, &n);
	for (i = 0; i < n; i++)
		if (!strcasecmp(words[i], word))
			found = 1;
	config_split_free(words);
	return found;
}

/* Does recipient i belong in a notice of this kind? */
static int
qmgr_bounce_wanted(const struct qmgr_msg *msg, size_t i, int kind)
{
	const char *notify = msg->qm.rcpts[i].notify;

	switch (kind) {
	case DSN_FAILURE:
		if (msg->rstate[i] != QMGR_RCPT_FAILED)
			return 0;
		return notify == NULL || qmgr_notify_has(notify, "FAILURE");
	case DSN_DELAY:
		if (msg->rstate[i] != QMGR_RCPT_PENDING)
			return 0;
		return notify == NULL || qmgr_notify_has(notify, "DELAY");
	default:
		return msg->status[i].dsn[0] == '2' && notify != NULL &&
		    qmgr_notify_has(notify, "SUCCESS");
	}
}

/* The original, at most bounce_size_limit + 1 bytes of it. */
static char *
qmgr_bounce_content(struct qmgr *q, struct qmgr_msg *msg, size_t *len)
{
	char path[PATH_MAX], *data;
	size_t want;
	int fd = msg->fd;

	want = msg->qm.content_len > q->bounce_size_limit ?
	    q->bounce_size_limit + 1 : (size_t)msg->qm.content_len;
	if (fd == -1) {
		snprintf(path, sizeof(path), "%s/%s", QUEUE_ACTIVE, msg->id);
		if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
			return NULL;
	}
	data = xmalloc(want + 1);
	if (pread_full(fd, data, want, msg->qm.content_offset) == -1) {
		free(data);
		data = NULL;
	} else
		*len = want;
	if (fd != msg->fd)
		close(fd);
	return data;
}

static int
qmgr_bounce_queue(struct qmgr *q, struct qmgr_msg *msg, const char *rcpt,
    const struct buf *text, int kind)
{
	struct queue_writer w;
	struct timeval now;

	gettimeofday(&now, NULL);
	if (queue_writer_open(&w, QUEUE_INCOMING) == -1) {
		log_warn("%s: create notification in %s", msg->id,
		    QUEUE_INCOMING);
		return -1;
	}
	queue_writer_recordf(&w, QREC_TIME, "%lld %ld", (long long)now.tv_sec,
	    (long)now.tv_usec);
	queue_writer_record(&w, QREC_SENDER, "", 0);
	queue_writer_recordf(&w, QREC_ATTR, "protocol=%s", "dsn");
	if (*msg->qm.sender == '\0')
		queue_writer_recordf(&w, QREC_ATTR, "%s", QMGR_2BOUNCE_ATTR);
	queue_writer_record(&w, QREC_RCPT, rcpt, strlen(rcpt));
	queue_writer_content_begin(&w);
	queue_writer_content(&w, text->data, text->len);
	queue_writer_content_end(&w);
	if (queue_writer_commit(&w) == -1) {
		log_warn("%s: queue notification", msg->id);
		return -1;
	}
	log_info("%s: sender %s notification: %s", msg->id,
	    kind == DSN_FAILURE ? "non-delivery" : kind == DSN_DELAY ?
	    "delay" : "delivery status", w.id);
	q->incoming_now = 1;
	return 0;
}

int
qmgr_bounce(struct qmgr *q, struct qmgr_msg *msg, int kind)
{
	struct dsn_rcpt *rcpts;
	struct dsn_report r;
	struct buf text;
	const char *to = msg->qm.sender, *ret;
	size_t i, n = 0;
	int rc;

	if (*to == '\0') {
		to = config_get(q->cfg, "2bounce_notice_recipient");
		if (kind != DSN_FAILURE || !config_is_set(q->cfg,
		    "2bounce_notice_recipient") || *to == '\0' ||
		    queue_message_attr(&msg->qm, "dsn_notice") != NULL) {
			if (kind == DSN_FAILURE)
				log_info("%s: undeliverable notification to "
				    "the null sender discarded", msg->id);
			return 0;
		}
	}
	rcpts = xcalloc(msg->qm.nrcpts ? msg->qm.nrcpts : 1, sizeof(*rcpts));
	for (i = 0; i < msg->qm.nrcpts; i++) {
		if (!qmgr_bounce_wanted(msg, i, kind))
			continue;
		rcpts[n].address = msg->qm.rcpts[i].address;
		rcpts[n].orcpt = msg->qm.rcpts[i].orcpt;
		rcpts[n].status = msg->status[i].dsn[0] ? msg->status[i].dsn :
		    (kind == DSN_FAILURE ? "5.0.0" : "4.0.0");
		rcpts[n++].diag = msg->status[i].reason;
	}
	if (n == 0) {		/* NOTIFY=NEVER (or not this kind) */
		free(rcpts);
		return 0;
	}
	memset(&r, 0, sizeof(r));
	r.kind = kind;
	r.hostname = q->hostname;
	r.queue_id = msg->id;
	r.sender = msg->qm.sender;
	r.envid = queue_message_attr(&msg->qm, "dsn_envid");
	r.arrival = (time_t)msg->qm.arrival_sec;
	r.now = time(NULL);
	ret = queue_message_attr(&msg->qm, "dsn_ret");
	r.headers_only = ret != NULL && !strcasecmp(ret, "HDRS");
	r.size_limit = q->bounce_size_limit;
	r.rcpts = rcpts;
	r.nrcpts = n;
	if ((r.content = qmgr_bounce_content(q, msg, &r.content_len)) == NULL) {
		log_warn("%s: read message for notification", msg->id);
		free(rcpts);
		return -1;
	}
	buf_init(&text);
	dsn_format(&r, &text);
	rc = qmgr_bounce_queue(q, msg, to, &text, kind);
	buf_free(&text);
	free((char *)r.content);
	free(rcpts);
	return rc;
}

/*
 * defer/ID: "address\treason" lines, replaced by rename. Informational
 * only (the queue listing's delay_reason), so no fsync.
 */
void
qmgr_defer_reasons_save(struct qmgr_msg *msg)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	struct buf b;
	size_t i;
	int fd;

	buf_init(&b);
	for (i = 0; i < msg->qm.nrcpts; i++) {
		if (msg->rstate[i] != QMGR_RCPT_PENDING ||
		    msg->status[i].reason == NULL)
			continue;
		dsn_clean(&b, msg->qm.rcpts[i].address, DSN_FIELD_MAX);
		buf_putc(&b, '\t');
		dsn_clean(&b, msg->status[i].reason, DSN_FIELD_MAX);
		buf_putc(&b, '\n');
	}
	snprintf(path, sizeof(path), "%s/%s", QMGR_DEFER_DIR, msg->id);
	snprintf(tmp, sizeof(tmp), "%s/.%s", QMGR_DEFER_DIR, msg->id);
	if (b.len == 0) {
		(void)unlink(path);
	} else if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) != -1) {
		if (write_full(fd, b.data, b.len) == -1) {
			close(fd);
			(void)unlink(tmp);
		} else if (close(fd) == -1 || rename(tmp, path) == -1)
			(void)unlink(tmp);
	}
	buf_free(&b);
}

void
qmgr_defer_reasons_remove(const char *id)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", QMGR_DEFER_DIR, id);
	(void)unlink(path);
}
