/*
 * dsn: build RFC 3464 delivery status notifications as text. See dsn.h.
 * The returned original is capped by size_limit (bounce_size_limit): a
 * message over the cap, or any RET=HDRS / delay / success notice, returns
 * the headers only, as text/rfc822-headers (RFC 6522 section 3).
 */
#include <string.h>
#include <time.h>

#include "proto/dsn.h"

static void dsn_date(struct buf *, time_t);
static void dsn_headers(const struct dsn_report *, struct buf *,
    const char *, int);
static void dsn_human(const struct dsn_report *, struct buf *);
static void dsn_status(const struct dsn_report *, struct buf *);
static void dsn_original(const struct dsn_report *, struct buf *,
    const char *);
static size_t dsn_header_len(const char *, size_t);
static int dsn_has_8bit(const char *, size_t);
static void dsn_address(struct buf *, const char *);
static void dsn_message_id(struct buf *, const struct dsn_report *);
static void dsn_boundary_part(struct buf *, const char *);

static const char *const dsn_days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
    "Fri", "Sat" };
static const char *const dsn_months[] = { "Jan", "Feb", "Mar", "Apr", "May",
    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

const char *
dsn_action(int kind)
{
	switch (kind) {
	case DSN_DELAY: return "delayed";
	case DSN_SUCCESS: return "delivered";
	default: return "failed";
	}
}

void
dsn_clean(struct buf *out, const char *s, size_t max)
{
	size_t n;
	unsigned char c;

	for (n = 0; s != NULL && s[n] != '\0' && n < max; n++) {
		c = (unsigned char)s[n];
		buf_putc(out, c < 0x20 || c == 0x7f ? ' ' : c);
	}
}

/* An address in a header: cleaned, and "<>"-free (the null sender). */
static void
dsn_address(struct buf *out, const char *s)
{
	dsn_clean(out, s, DSN_FIELD_MAX);
}

/* RFC 5322 date in UTC, independent of the locale. */
static void
dsn_date(struct buf *out, time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	buf_printf(out, "%s, %d %s %d %02d:%02d:%02d +0000 (UTC)",
	    dsn_days[tm.tm_wday % 7], tm.tm_mday, dsn_months[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Boundary characters only from a safe subset of RFC 2046's bchars. */
static void
dsn_boundary_part(struct buf *out, const char *s)
{
	size_t i;
	char c;

	for (i = 0; s != NULL && s[i] != '\0' && i < 64; i++) {
		c = s[i];
		buf_putc(out, (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		    (c >= 'a' && c <= 'z') || c == '.' || c == '-' ? c : '_');
	}
}

/* "YYYYMMDDhhmmss.QUEUEID.action@host": unique per notice. */
static void
dsn_message_id(struct buf *out, const struct dsn_report *r)
{
	struct tm tm;
	size_t i;
	char c;

	gmtime_r(&r->now, &tm);
	buf_printf(out, "%04d%02d%02d%02d%02d%02d.", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	for (i = 0; r->queue_id[i] != '\0' && i < 64; i++) {
		c = r->queue_id[i];
		buf_putc(out, (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ?
		    c : '_');
	}
	buf_printf(out, ".%s@", dsn_action(r->kind));
	for (i = 0; r->hostname[i] != '\0' && i < 200; i++) {
		c = r->hostname[i];
		buf_putc(out, c > ' ' && c < 0x7f && c != '<' && c != '>' &&
		    c != '@' ? c : '_');
	}
}

/* Length of the header section (through the blank line, or all of it). */
static size_t
dsn_header_len(const char *s, size_t len)
{
	size_t i;

	if (len > 0 && s[0] == '\n')
		return 1;
	for (i = 0; i + 1 < len; i++)
		if (s[i] == '\n' && s[i + 1] == '\n')
			return i + 2;
	return len;
}

static int
dsn_has_8bit(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 1;
	return 0;
}

static void
dsn_headers(const struct dsn_report *r, struct buf *out, const char *boundary,
    int eightbit)
{
	static const char *const subjects[] = {
		"Undelivered Mail Returned to Sender",
		"Delayed Mail (still being retried)",
		"Successful Mail Delivery Report",
	};

	buf_puts(out, "From: MAILER-DAEMON@");
	dsn_clean(out, r->hostname, DSN_FIELD_MAX);
	buf_puts(out, " (Mail Delivery System)\nTo: ");
	dsn_address(out, r->sender);
	buf_printf(out, "\nSubject: %s\nDate: ", subjects[r->kind % 3]);
	dsn_date(out, r->now);
	buf_puts(out, "\nMessage-Id: <");
	dsn_message_id(out, r);
	buf_puts(out, ">\nAuto-Submitted: auto-replied\nMIME-Version: 1.0\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\n"
	    "\tboundary=\"");
	buf_puts(out, boundary);
	buf_puts(out, "\"\n");
	if (eightbit)
		buf_puts(out, "Content-Transfer-Encoding: 8bit\n");
	buf_puts(out, "\nThis is a MIME-encapsulated message.\n\n");
}

static void
dsn_human(const struct dsn_report *r, struct buf *out)
{
	size_t i;

	buf_puts(out, "Content-Description: Notification\n"
	    "Content-Type: text/plain; charset=us-ascii\n\n"
	    "This is the mail system at host ");
	dsn_clean(out, r->hostname, DSN_FIELD_MAX);
	buf_puts(out, ".\n\n");
	switch (r->kind) {
	case DSN_DELAY:
		buf_puts(out, "####################################################"
		    "################\n# THIS IS A WARNING ONLY.  YOU DO NOT NEED "
		    "TO RESEND YOUR MESSAGE. #\n########################"
		    "############################################\n\n"
		    "Your message could not be delivered for more than a "
		    "while.\nIt will be retried until it is too old.\n");
		break;
	case DSN_SUCCESS:
		buf_puts(out, "Your message was successfully delivered to the "
		    "destination(s)\nlisted below.\n");
		break;
	default:
		buf_puts(out, "I'm sorry to have to inform you that your "
		    "message could not\nbe delivered to one or more recipients. "
		    "It's attached below.\n\nFor further assistance, please "
		    "send mail to postmaster.\n\nIf you do so, please include "
		    "this problem report. You can\ndelete your own text from "
		    "the attached returned message.\n");
		break;
	}
	buf_puts(out, "\n                   The mail system\n\n");
	for (i = 0; i < r->nrcpts; i++) {
		buf_putc(out, '<');
		dsn_address(out, r->rcpts[i].address);
		buf_puts(out, ">: ");
		dsn_clean(out, r->rcpts[i].diag ? r->rcpts[i].diag :
		    dsn_action(r->kind), DSN_FIELD_MAX);
		buf_puts(out, "\n");
	}
	buf_putc(out, '\n');
}

/* The diagnostic is an SMTP reply ("550 ...") or our own text. */
static void
dsn_status(const struct dsn_report *r, struct buf *out)
{
	const struct dsn_rcpt *rc;
	const char *d;
	size_t i;

	buf_puts(out, "Content-Description: Delivery report\n"
	    "Content-Type: message/delivery-status\n\nReporting-MTA: dns; ");
	dsn_clean(out, r->hostname, DSN_FIELD_MAX);
	buf_puts(out, "\nX-Postilion-Queue-ID: ");
	dsn_clean(out, r->queue_id, 64);
	buf_puts(out, "\nX-Postilion-Sender: rfc822; ");
	dsn_address(out, r->sender);
	if (r->envid != NULL && *r->envid != '\0') {
		buf_puts(out, "\nOriginal-Envelope-Id: ");
		dsn_clean(out, r->envid, 100);
	}
	buf_puts(out, "\nArrival-Date: ");
	dsn_date(out, r->arrival);
	buf_puts(out, "\n");
	for (i = 0; i < r->nrcpts; i++) {
		rc = &r->rcpts[i];
		buf_puts(out, "\nFinal-Recipient: rfc822; ");
		dsn_address(out, rc->address);
		if (rc->orcpt != NULL && strchr(rc->orcpt, ';') != NULL) {
			buf_puts(out, "\nOriginal-Recipient: ");
			dsn_clean(out, rc->orcpt, DSN_FIELD_MAX);
		}
		buf_printf(out, "\nAction: %s\nStatus: ", dsn_action(r->kind));
		dsn_clean(out, rc->status, 12);
		if ((d = rc->diag) != NULL && *d != '\0') {
			buf_puts(out, "\nDiagnostic-Code: ");
			if (d[0] >= '2' && d[0] <= '5' && d[1] >= '0' &&
			    d[1] <= '9' && d[2] >= '0' && d[2] <= '9' &&
			    (d[3] == ' ' || d[3] == '-'))
				buf_puts(out, "smtp; ");
			else
				buf_puts(out, "X-Postilion; ");
			dsn_clean(out, d, DSN_FIELD_MAX);
		}
		buf_puts(out, "\n");
	}
	buf_puts(out, "\n");
}

static void
dsn_original(const struct dsn_report *r, struct buf *out, const char *boundary)
{
	size_t len = r->content_len;
	int full;

	full = r->kind == DSN_FAILURE && !r->headers_only &&
	    r->content_len <= r->size_limit;
	if (!full) {
		len = dsn_header_len(r->content, r->content_len);
		if (len > r->size_limit) {
			/* Cut at a line end so the part stays well formed. */
			len = r->size_limit;
			while (len > 0 && r->content[len - 1] != '\n')
				len--;
		}
	}
	buf_printf(out, "Content-Description: Undelivered Message%s\n"
	    "Content-Type: %s\n", full ? "" : " Headers",
	    full ? "message/rfc822" : "text/rfc822-headers");
	if (dsn_has_8bit(r->content, len))
		buf_puts(out, "Content-Transfer-Encoding: 8bit\n");
	buf_puts(out, "\n");
	buf_append(out, r->content, len);
	if (len > 0 && r->content[len - 1] != '\n')
		buf_putc(out, '\n');
	buf_printf(out, "\n--%s--\n", boundary);
}

void
dsn_format(const struct dsn_report *r, struct buf *out)
{
	struct buf boundary;
	int eightbit;

	buf_init(&boundary);
	dsn_boundary_part(&boundary, r->queue_id);
	buf_printf(&boundary, ".%lld/", (long long)r->now);
	dsn_boundary_part(&boundary, r->hostname);
	/* RFC 2046 5.1.1: at most 70 characters. */
	if (boundary.len > 70)
		boundary.len = 70;
	boundary.data[boundary.len] = '\0';
	eightbit = dsn_has_8bit(r->content, r->content_len);
	dsn_headers(r, out, boundary.data, eightbit);
	buf_printf(out, "--%s\n", boundary.data);
	dsn_human(r, out);
	buf_printf(out, "--%s\n", boundary.data);
	dsn_status(r, out);
	buf_printf(out, "--%s\n", boundary.data);
	dsn_original(r, out, boundary.data);
	buf_free(&boundary);
}
