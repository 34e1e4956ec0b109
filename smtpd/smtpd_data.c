/*
 * smtpd_data: DATA. The content is decoded by lib/proto/smtp_data
 * (dot-unstuffing, CRLF to LF, the end line), put behind our Received:
 * header and streamed into the queue file's CONTENT record; the header is
 * scanned on the way for Message-ID and the Received: hop count. 250 is
 * said only after queue_writer_commit (fsync of file and directory).
 * BDAT (RFC 3030) chunks go through the same path without dot-stuffing.
 * Security: message_size_limit is enforced while reading (the rest is read
 * and dropped, so the reply stays in step with the client); header
 * scanning is bounded by header_size_limit; any failure aborts the file.
 * A failed BDAT still reads its chunk, so the byte count stays in step.
 * Bare CR/LF follow smtpd_forbid_bare_newline; the deadline restarts at
 * each line end, so a trickling client is cut off by smtpd_timeout.
 * For an authenticated client (submission) a missing Date: or Message-ID:
 * is added at the end of the header: the header is held back (at most
 * header_size_limit bytes) until its end is seen.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "proto/smtp_data.h"
#include "smtpd/smtpd.h"

#define SMTPD_DATA_CHUNK	16384
#define SMTPD_HEADER_LINE_MAX	1000	/* of a physical line, for scanning */
#define SMTPD_HEADER_FIELD_MAX	2000	/* of a folded field, for scanning */
#define SMTPD_MESSAGE_ID_MAX	998
#define SMTPD_QMGR_SOCKET	"public/qmgr"	/* master.cf: qmgr unix n ... */

struct smtpd_header_scan {
	int	 in_header;
	uint64_t header_bytes;
	struct buf line;	/* the current physical line, capped */
	struct buf field;	/* the current field, unfolded, capped */
	long long hops;		/* Received: fields */
	char	 message_id[SMTPD_MESSAGE_ID_MAX + 1];
	int	 has_date;
	int	 has_message_id;	/* even one too odd to log */
	uint64_t line_start;	/* header_bytes where this line began */
	uint64_t end;		/* header_bytes where the body begins */
	int	 overflow;	/* header_size_limit crossed */
};

struct smtpd_data_state {
	struct smtp_data decoder;
	struct smtpd_header_scan header;
	uint64_t size;		/* content bytes, our Received: included */
	int	 too_big;
	int	 fix_header;	/* add a missing Date:/Message-ID: */
	struct buf held;	/* the header so far, while fix_header */
};

static void smtpd_received(struct smtpd_session *, struct buf *);
static void smtpd_content(struct smtpd_session *, struct smtpd_data_state *,
    const char *, size_t);
static void smtpd_header_feed(struct smtpd_session *,
    struct smtpd_header_scan *, const char *, size_t);
static void smtpd_header_line(struct smtpd_header_scan *);
static void smtpd_header_field_done(struct smtpd_header_scan *);
static int smtpd_header_name(const char *, size_t);
static int smtpd_printable(const char *, size_t);
static void smtpd_missing_headers(struct smtpd_session *,
    struct smtpd_data_state *);
static void smtpd_held_flush(struct smtpd_session *,
    struct smtpd_data_state *, int);
static void smtpd_content_write(struct smtpd_session *,
    struct smtpd_data_state *, const char *, size_t);
static int smtpd_data_receive(struct smtpd_session *,
    struct smtpd_data_state *);
static int smtpd_data_finish(struct smtpd_session *,
    struct smtpd_data_state *);
static struct smtpd_data_state *smtpd_data_begin(struct smtpd_session *);
static void smtpd_data_free(struct smtpd_data_state *);
static int smtpd_bare_rejected(struct smtpd_session *,
    struct smtpd_data_state *);
static int smtpd_bdat_args(const char *, size_t, long long *, int *);
static int smtpd_bdat_read(struct smtpd_session *, struct smtpd_data_state *,
    long long);
static const char *smtpd_check_bdat(struct smtpd_session *);

const char *
smtpd_check_data(struct smtpd_session *s)
{
	if (s->bdat != NULL || s->bdat_failed)
		return "503 5.5.1 Error: DATA not allowed after BDAT";
	if (!s->in_mail)
		return "503 5.5.1 Error: need RCPT command";
	if (s->nrcpts == 0)
		return "554 5.5.1 Error: no valid recipients";
	return NULL;
}

/*
 * Postfix's shape: "for <rcpt>" only with one recipient; the date is the
 * arrival (MAIL FROM) time in RFC 5322 form. smtpd_sasl_hide_client keeps
 * an authenticated client's host name and address out of it.
 */
static void
smtpd_received(struct smtpd_session *s, struct buf *b)
{
	char date[64];
	struct tm tm;
	time_t t = s->arrival.tv_sec;

	localtime_r(&t, &tm);
	if (strftime(date, sizeof(date), "%a, %e %b %Y %H:%M:%S %z (%Z)",
	    &tm) == 0)
		strlcpy(date, "Thu, 1 Jan 1970 00:00:00 +0000", sizeof(date));
	if (s->sasl_method != NULL && s->conf->sasl_hide_client)
		buf_printf(b, "Received: from %s (authenticated client)\n",
		    *s->helo ? s->helo : "unknown");
	else
		buf_printf(b, "Received: from %s (%s [%s])\n",
		    *s->helo ? s->helo : s->client_name, s->client_name,
		    s->client_rfc_addr);
	if (s->tls)
		buf_printf(b, "\t(using %s)\n\t(No client certificate "
		    "requested)\n", s->tls_info);
	if (s->sasl_method != NULL && s->conf->sasl_header)
		buf_printf(b, "\t(Authenticated sender: %s)\n", s->sasl_user);
	if (s->nrcpts == 1)
		buf_printf(b, "\tby %s (%s) with %s id %s\n\tfor <%s>; %s\n",
		    s->conf->myhostname, s->conf->mail_name,
		    smtpd_received_protocol(s), s->queue.id, s->rcpts[0], date);
	else
		buf_printf(b, "\tby %s (%s) with %s id %s;\n\t%s\n",
		    s->conf->myhostname, s->conf->mail_name,
		    smtpd_received_protocol(s), s->queue.id, date);
}

/* smtpd_printable: printable ASCII and spaces only. */
static int
smtpd_printable(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)p[i] < 32 || (unsigned char)p[i] > 126)
			return 0;
	return 1;
}

/* smtpd_header_name: the line starts a header field "name:". */
static int
smtpd_header_name(const char *line, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (line[i] == ':')
			return i > 0;
		if ((unsigned char)line[i] < 33 || (unsigned char)line[i] > 126)
			return 0;
	}
	return 0;
}

static void
smtpd_header_field_done(struct smtpd_header_scan *h)
{
	const char *v, *end;
	size_t len;

	if (h->field.len == 0)
		return;
	if (strncasecmp(h->field.data, "Received:", 9) == 0)
		h->hops++;
	else if (strncasecmp(h->field.data, "Date:", 5) == 0)
		h->has_date = 1;
	else if (strncasecmp(h->field.data, "Message-ID:", 11) == 0 &&
	    h->message_id[0] == '\0') {
		h->has_message_id = 1;
		v = h->field.data + 11;
		end = h->field.data + h->field.len;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		len = (size_t)(end - v);
		/* Only a clean value is logged and stored. */
		if (len > 0 && len <= SMTPD_MESSAGE_ID_MAX &&
		    smtpd_printable(v, len)) {
			memcpy(h->message_id, v, len);
			h->message_id[len] = '\0';
		}
	}
	buf_reset(&h->field);
}

/* One complete physical header line (its LF removed). */
static void
smtpd_header_line(struct smtpd_header_scan *h)
{
	const char *line = h->line.data;
	size_t len = h->line.len, room;

	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len == 0) {
		smtpd_header_field_done(h);
		h->in_header = 0;
		h->end = h->line_start;
		return;
	}
	if (line[0] == ' ' || line[0] == '\t') {
		if (h->field.len == 0) {
			h->in_header = 0;	/* no field to continue */
			h->end = h->line_start;
			return;
		}
	} else {
		smtpd_header_field_done(h);
		if (!smtpd_header_name(line, len)) {
			h->in_header = 0;	/* the body starts here */
			h->end = h->line_start;
			return;
		}
	}
	room = SMTPD_HEADER_FIELD_MAX - h->field.len;
	buf_append(&h->field, line, len < room ? len : room);
}

static void
smtpd_header_feed(struct smtpd_session *s, struct smtpd_header_scan *h,
    const char *p, size_t len)
{
	const char *lf;
	size_t n, room;

	while (len > 0 && h->in_header) {
		lf = memchr(p, '\n', len);
		n = lf ? (size_t)(lf - p) + 1 : len;
		if (h->line.len == 0)
			h->line_start = h->header_bytes;
		room = SMTPD_HEADER_LINE_MAX - h->line.len;
		buf_append(&h->line, p, n < room ? n : room);
		h->header_bytes += n;
		if (lf != NULL) {
			smtpd_header_line(h);
			buf_reset(&h->line);
		}
		if (h->header_bytes > (uint64_t)s->conf->header_size_limit) {
			smtpd_header_field_done(h);
			h->in_header = 0;
			h->overflow = 1;
		}
		p += n;
		len -= n;
	}
}

static void
smtpd_content_write(struct smtpd_session *s, struct smtpd_data_state *st,
    const char *p, size_t len)
{
	st->size += len;
	if (s->conf->message_size_limit > 0 &&
	    st->size > (uint64_t)s->conf->message_size_limit)
		st->too_big = 1;
	if (!st->too_big)
		queue_writer_content(&s->queue, p, len);
}

/* Postfix's forms: the arrival date, <YYYYMMDDhhmmss.QUEUEID@myhostname>. */
static void
smtpd_missing_headers(struct smtpd_session *s, struct smtpd_data_state *st)
{
	struct smtpd_header_scan *h = &st->header;
	char date[64], stamp[32];
	struct buf add;
	struct tm tm;
	time_t t = s->arrival.tv_sec;

	buf_init(&add);
	localtime_r(&t, &tm);
	if (!h->has_date && strftime(date, sizeof(date),
	    "%a, %e %b %Y %H:%M:%S %z (%Z)", &tm) > 0)
		buf_printf(&add, "Date: %s\n", date);
	if (!h->has_message_id && strftime(stamp, sizeof(stamp),
	    "%Y%m%d%H%M%S", &tm) > 0) {
		snprintf(h->message_id, sizeof(h->message_id), "<%s.%s@%s>",
		    stamp, s->queue.id, s->conf->myhostname);
		buf_printf(&add, "Message-ID: %s\n", h->message_id);
	}
	if (add.len > 0)
		smtpd_content_write(s, st, add.data, add.len);
	buf_free(&add);
}

/*
 * smtpd_held_flush: write the held header, the missing fields where the
 * body begins (or at the end when done and the header never ended).
 */
static void
smtpd_held_flush(struct smtpd_session *s, struct smtpd_data_state *st,
    int done)
{
	struct smtpd_header_scan *h = &st->header;
	size_t at = st->held.len;

	if (!h->in_header && !h->overflow && h->end <= st->held.len)
		at = (size_t)h->end;
	smtpd_content_write(s, st, st->held.data, at);
	if (!h->overflow && (!h->in_header || (done && (at == 0 ||
	    st->held.data[at - 1] == '\n'))))
		smtpd_missing_headers(s, st);
	smtpd_content_write(s, st, st->held.data + at, st->held.len - at);
	buf_free(&st->held);
	buf_init(&st->held);
	st->fix_header = 0;
}

static void
smtpd_content(struct smtpd_session *s, struct smtpd_data_state *st,
    const char *p, size_t len)
{
	smtpd_header_feed(s, &st->header, p, len);
	if (!st->fix_header) {
		smtpd_content_write(s, st, p, len);
		return;
	}
	buf_append(&st->held, p, len);
	if (!st->header.in_header)
		smtpd_held_flush(s, st, 0);
}

/* Read up to the end of the data; -1 when the client is gone. */
static int
smtpd_data_receive(struct smtpd_session *s, struct smtpd_data_state *st)
{
	char out[SMTPD_DATA_CHUNK];
	size_t used, outlen;
	ssize_t n;

	while (!smtp_data_done(&st->decoder)) {
		if (s->io.in.len == 0 && (n = iobuf_fill(&s->io)) <= 0) {
			smtpd_io_failed(s, (int)n);
			return -1;
		}
		used = smtp_data_decode(&st->decoder, s->io.in.data,
		    s->io.in.len, out, sizeof(out), &outlen);
		if (memchr(s->io.in.data, '\n', used) != NULL)
			smtpd_deadline_start(s);
		buf_consume(&s->io.in, used);
		s->data_bytes += used;
		smtpd_content(s, st, out, outlen);
	}
	return 0;
}

/*
 * A trigger on qmgr's socket naming the file just committed ("I" ID "\n",
 * so qmgr need not scan incoming/ for it); non-blocking, so a full backlog
 * (qmgr being restarted) cannot stall the client. qmgr also scans
 * incoming/ on its own, so a lost trigger only delays delivery.
 */
void
smtpd_wakeup_qmgr(const char *id)
{
	struct sockaddr_un sun;
	char line[QUEUE_ID_MAX + 2];
	int fd, n;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, SMTPD_QMGR_SOCKET, sizeof(sun.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_warn("socket for %s", SMTPD_QMGR_SOCKET);
		return;
	}
	/*
	 * The connection itself is the wakeup; the line only says which kind.
	 * EAGAIN means qmgr's backlog is full of wakeups already, and a write
	 * error means qmgr took the connection before the line: both fine.
	 */
	n = snprintf(line, sizeof(line), "I%s\n", id);
	if (n < 0 || (size_t)n >= sizeof(line))	/* not an ID: a plain wakeup */
		n = snprintf(line, sizeof(line), "W");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno != EAGAIN)
			log_warn("wake up qmgr via %s", SMTPD_QMGR_SOCKET);
	} else
		(void)!write(fd, line, (size_t)n);
	close(fd);
}

static int
smtpd_data_finish(struct smtpd_session *s, struct smtpd_data_state *st)
{
	const char *mid = st->header.message_id;
	char id[QUEUE_ID_MAX];

	strlcpy(id, s->queue.id, sizeof(id));
	if (st->too_big) {
		smtpd_reply(s, "552 5.3.4 Error: message file too big");
		return -1;
	}
	/* Our own Received: counts too, as it does in Postfix. */
	if (st->header.hops + 1 >= s->conf->hopcount_limit) {
		smtpd_reply(s, "554 5.4.0 Error: too many hops");
		return -1;
	}
	if (*mid) {
		log_info("%s: message-id=%s", id, mid);
		queue_writer_recordf(&s->queue, QREC_ATTR, "message_id=%s",
		    mid);
	}
	if (s->discard) {
		/* An access map said DISCARD: claim delivery, keep nothing. */
		log_info("%s: discard: END-OF-MESSAGE from %s[%s]: "
		    "triggers DISCARD action; from=<%s> proto=%s helo=<%s>",
		    id, s->client_name, s->client_addr, s->sender,
		    smtpd_protocol(s), s->helo);
		smtpd_reply(s, "250 2.0.0 Ok: queued as %s", id);
		return 0;
	}
	if (s->hold && queue_writer_retarget(&s->queue, QUEUE_HOLD) == -1) {
		log_warn("%s: move to %s", id, QUEUE_HOLD);
		smtpd_reply(s, "451 4.3.0 Error: queue file write error");
		return -1;
	}
	s->queue_open = 0;	/* commit closes or removes the file */
	if (queue_writer_commit(&s->queue) == -1) {
		if (errno == EFBIG) {
			smtpd_reply(s, "552 5.3.4 Error: message file too big");
			return -1;
		}
		log_warn("%s: queue file write error", id);
		smtpd_reply(s, "451 4.3.0 Error: queue file write error");
		return -1;
	}
	smtpd_wakeup_qmgr(id);
	smtpd_reply(s, "250 2.0.0 Ok: queued as %s", id);
	s->junk = 0;
	return 0;
}

/* The content record opened, our Received: written, the decoder ready. */
static struct smtpd_data_state *
smtpd_data_begin(struct smtpd_session *s)
{
	struct smtpd_data_state *st;
	struct buf received;

	st = xcalloc(1, sizeof(*st));
	smtp_data_init(&st->decoder);
	st->header.in_header = 1;
	buf_init(&st->header.line);
	buf_init(&st->header.field);
	buf_init(&st->held);
	st->fix_header = s->sasl_method != NULL;
	s->data_bytes = 0;

	queue_writer_content_begin(&s->queue);
	buf_init(&received);
	smtpd_received(s, &received);
	st->size = received.len;
	queue_writer_content(&s->queue, received.data, received.len);
	buf_free(&received);
	return st;
}

static void
smtpd_data_free(struct smtpd_data_state *st)
{
	if (st == NULL)
		return;
	buf_free(&st->header.line);
	buf_free(&st->header.field);
	buf_free(&st->held);
	free(st);
}

/*
 * smtpd_forbid_bare_newline = yes: a bare CR or LF in the content ends
 * the session (Postfix 3.9's reply); normalize and no keep the message.
 */
static int
smtpd_bare_rejected(struct smtpd_session *s, struct smtpd_data_state *st)
{
	if (!st->decoder.bare ||
	    s->conf->forbid_bare_newline != SMTPD_BARE_REJECT ||
	    (s->have_ip && netaddr_list_match(s->conf->bare_newline_exclusions,
	    &s->client_ip)))
		return 0;
	log_info("%s: reject: DATA from %s[%s]: 521 5.5.2 bare <LF> received; "
	    "from=<%s> proto=%s helo=<%s>", s->queue.id, s->client_name,
	    s->client_addr, s->sender, smtpd_protocol(s), s->helo);
	smtpd_reply(s, "521 5.5.2 %s Error: bare <LF> received",
	    s->conf->myhostname);
	s->quit = 1;
	return 1;
}

int
smtpd_data(struct smtpd_session *s, const char *args, size_t len)
{
	struct smtpd_data_state *st;
	int rc = -1;

	if (len != 0) {
		smtpd_reply(s, "501 5.5.4 Syntax: DATA");
		return -1;
	}
	smtpd_reply(s, "354 End data with <CR><LF>.<CR><LF>");
	if (smtpd_flush(s) == -1) {
		smtpd_transaction_reset(s);
		return -1;
	}
	smtpd_deadline_start(s);
	st = smtpd_data_begin(s);
	if (smtpd_data_receive(s, st) == 0) {
		s->where = "END-OF-MESSAGE";
		if (st->fix_header)
			smtpd_held_flush(s, st, 1);
		queue_writer_content_end(&s->queue);
		if (!smtpd_bare_rejected(s, st))
			rc = smtpd_data_finish(s, st);
	}
	smtpd_data_free(st);
	smtpd_transaction_reset(s);
	return rc;
}

void
smtpd_bdat_reset(struct smtpd_session *s)
{
	smtpd_data_free(s->bdat);
	s->bdat = NULL;
	s->bdat_failed = 0;
}

/* "BDAT" SP chunk-size [SP "LAST"]; 0 or -1. */
static int
smtpd_bdat_args(const char *args, size_t len, long long *size, int *last)
{
	size_t n = 0;

	*size = 0;
	*last = 0;
	while (n < len && args[n] >= '0' && args[n] <= '9') {
		if (n >= 18)
			return -1;
		*size = *size * 10 + (args[n++] - '0');
	}
	if (n == 0)
		return -1;
	if (n == len)
		return 0;
	if (args[n] != ' ' || len - n - 1 != 4 ||
	    strncasecmp(args + n + 1, "LAST", 4) != 0)
		return -1;
	*last = 1;
	return 0;
}

static const char *
smtpd_check_bdat(struct smtpd_session *s)
{
	if (!s->in_mail)
		return "503 5.5.1 Error: need RCPT command";
	if (s->nrcpts == 0)
		return "554 5.5.1 Error: no valid recipients";
	return NULL;
}

/* The chunk's bytes, into the message when st is not NULL. */
static int
smtpd_bdat_read(struct smtpd_session *s, struct smtpd_data_state *st,
    long long size)
{
	char out[SMTPD_DATA_CHUNK];
	size_t take, used, outlen;
	ssize_t n;

	smtpd_deadline_start(s);
	while (size > 0) {
		if (s->io.in.len == 0 && (n = iobuf_fill(&s->io)) <= 0) {
			smtpd_io_failed(s, (int)n);
			return -1;
		}
		take = s->io.in.len < (unsigned long long)size ? s->io.in.len :
		    (size_t)size;
		if (take > sizeof(out) / 2)
			take = sizeof(out) / 2;
		if (memchr(s->io.in.data, '\n', take) != NULL)
			smtpd_deadline_start(s);
		if (st != NULL) {
			used = smtp_bdat_decode(&st->decoder, s->io.in.data,
			    take, out, sizeof(out), &outlen);
			smtpd_content(s, st, out, outlen);
		} else
			used = take;
		buf_consume(&s->io.in, used);
		s->data_bytes += used;
		size -= (long long)used;
	}
	return 0;
}

int
smtpd_bdat(struct smtpd_session *s, const char *args, size_t len)
{
	const char *refusal;
	long long size;
	char held[1];
	int last, rc;

	if (smtpd_bdat_args(args, len, &size, &last) == -1) {
		/* Without a size we cannot find the next command: hang up. */
		smtpd_reply(s, "501 5.5.4 Syntax: BDAT count [LAST]");
		s->quit = 1;
		return -1;
	}
	refusal = s->bdat_failed ? "503 5.5.1 Error: earlier BDAT failed" :
	    smtpd_check_bdat(s);
	if (refusal == NULL && s->bdat == NULL) {
		s->bdat = smtpd_data_begin(s);
		s->data_bytes = 0;
	}
	if (smtpd_bdat_read(s, refusal ? NULL : s->bdat, size) == -1) {
		smtpd_transaction_reset(s);
		return -1;
	}
	if (refusal != NULL) {
		smtpd_reply(s, "%s", refusal);
		if (last)
			smtpd_transaction_reset(s);
		else if (s->in_mail)
			s->bdat_failed = 1;
		return -1;
	}
	if (!last) {
		smtpd_reply(s, "250 2.0.0 Ok: %lld bytes", size);
		return 0;
	}
	s->where = "END-OF-MESSAGE";
	if (smtp_bdat_flush(&s->bdat->decoder, held) == 1)
		smtpd_content(s, s->bdat, held, 1);
	if (s->bdat->fix_header)
		smtpd_held_flush(s, s->bdat, 1);
	queue_writer_content_end(&s->queue);
	rc = smtpd_data_finish(s, s->bdat);
	smtpd_transaction_reset(s);
	return rc;
}
