/*
 * test_dsn: RFC 3464 notices from lib/proto/dsn.c: structure, fields,
 * bounce_size_limit, RET=HDRS, header injection from hostile replies.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "proto/dsn.h"

static const char original[] =
    "From: alice@example.org\nTo: bob@example.net\nSubject: hello\n\n"
    "body line one\nbody line two\n";

static struct dsn_rcpt rcpts[] = {
	{ "bob@example.net", "rfc822;Bob@Example.NET", "5.1.1",
	    "550 5.1.1 <bob@example.net>: user unknown" },
	{ "carol@example.net", NULL, "4.4.1",
	    "connect to mx.example.net[192.0.2.1]:25: Connection refused" },
};

static void
report_init(struct dsn_report *r, int kind)
{
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->hostname = "mx.example.com";
	r->queue_id = "8A1C5200F3D";
	r->sender = "alice@example.org";
	r->arrival = 1700000000;
	r->now = 1700000100;
	r->content = original;
	r->content_len = strlen(original);
	r->size_limit = 50000;
	r->rcpts = rcpts;
	r->nrcpts = 2;
}

static char *
format(const struct dsn_report *r)
{
	struct buf b;

	buf_init(&b);
	dsn_format(r, &b);
	return b.data;		/* the caller frees */
}

static const char *
boundary_of(const char *text, char *out, size_t outlen)
{
	const char *p = strstr(text, "boundary=\"");
	size_t n;

	cr_assert_not_null(p);
	p += 10;
	n = strcspn(p, "\"");
	cr_assert_lt(n, outlen);
	memcpy(out, p, n);
	out[n] = '\0';
	return out;
}

Test(dsn, failure_report_has_every_part_and_field)
{
	struct dsn_report r;
	char *t, b[128], delim[160];
	const char *p;
	int parts = 0;

	report_init(&r, DSN_FAILURE);
	t = format(&r);
	cr_assert(strncmp(t, "From: MAILER-DAEMON@mx.example.com", 34) == 0);
	cr_assert_not_null(strstr(t, "\nTo: alice@example.org\n"));
	cr_assert_not_null(strstr(t, "\nSubject: Undelivered Mail Returned to Sender\n"));
	cr_assert_not_null(strstr(t, "\nAuto-Submitted: auto-replied\n"));
	cr_assert_not_null(strstr(t, "Content-Type: multipart/report; "
	    "report-type=delivery-status;"));
	cr_assert_not_null(strstr(t, "\nDate: Tue, 14 Nov 2023 22:15:00 +0000"));
	boundary_of(t, b, sizeof(b));
	cr_assert_leq(strlen(b), 70);
	snprintf(delim, sizeof(delim), "\n--%s\n", b);
	for (p = t; (p = strstr(p, delim)) != NULL; p++)
		parts++;
	cr_assert_eq(parts, 3, "three body parts");
	snprintf(delim, sizeof(delim), "\n--%s--\n", b);
	cr_assert_not_null(strstr(t, delim));
	cr_assert_not_null(strstr(t, "Content-Type: message/delivery-status\n\n"
	    "Reporting-MTA: dns; mx.example.com\n"));
	cr_assert_not_null(strstr(t, "\nArrival-Date: Tue, 14 Nov 2023 22:13:20 "));
	cr_assert_not_null(strstr(t, "\nFinal-Recipient: rfc822; bob@example.net\n"
	    "Original-Recipient: rfc822;Bob@Example.NET\nAction: failed\n"
	    "Status: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 "));
	cr_assert_not_null(strstr(t, "\nFinal-Recipient: rfc822; carol@example.net\n"
	    "Action: failed\nStatus: 4.4.1\nDiagnostic-Code: X-Postilion; connect"));
	cr_assert_not_null(strstr(t, "Content-Type: message/rfc822\n\n"
	    "From: alice@example.org\n"));
	cr_assert_not_null(strstr(t, "body line two\n"));
	cr_assert_not_null(strstr(t, "<bob@example.net>: 550 5.1.1"));
	cr_assert_null(strstr(t, "Original-Envelope-Id"));
	cr_assert_null(strstr(t, "\r"), "LF line ends only");
	free(t);
}

Test(dsn, envid_and_headers_only_on_request)
{
	struct dsn_report r;
	char *t;

	report_init(&r, DSN_FAILURE);
	r.envid = "QQ314159";
	r.headers_only = 1;
	t = format(&r);
	cr_assert_not_null(strstr(t, "\nOriginal-Envelope-Id: QQ314159\n"));
	cr_assert_not_null(strstr(t, "Content-Type: text/rfc822-headers\n\n"
	    "From: alice@example.org\n"));
	cr_assert_not_null(strstr(t, "Subject: hello\n"));
	cr_assert_null(strstr(t, "body line"));
	cr_assert_null(strstr(t, "message/rfc822"));
	free(t);
}

Test(dsn, bounce_size_limit_crossed_returns_headers_only)
{
	struct dsn_report r;
	char *t;

	report_init(&r, DSN_FAILURE);
	r.size_limit = strlen(original) - 1;
	t = format(&r);
	cr_assert_not_null(strstr(t, "text/rfc822-headers"));
	cr_assert_null(strstr(t, "body line"));
	free(t);
	r.size_limit = strlen(original);	/* exactly at the limit: whole */
	t = format(&r);
	cr_assert_not_null(strstr(t, "message/rfc822"));
	cr_assert_not_null(strstr(t, "body line two"));
	free(t);
	/* Headers longer than the limit are cut at a line end. */
	r.size_limit = 30;
	t = format(&r);
	cr_assert_not_null(strstr(t, "From: alice@example.org\n\n--"));
	cr_assert_null(strstr(t, "To: bob@example.net\n"));
	free(t);
}

Test(dsn, delay_and_success_notices)
{
	struct dsn_report r;
	char *t;

	report_init(&r, DSN_DELAY);
	r.nrcpts = 1;
	t = format(&r);
	cr_assert_not_null(strstr(t, "Subject: Delayed Mail (still being retried)\n"));
	cr_assert_not_null(strstr(t, "\nAction: delayed\n"));
	cr_assert_not_null(strstr(t, "THIS IS A WARNING ONLY"));
	cr_assert_null(strstr(t, "body line"), "delay notices carry headers only");
	free(t);
	report_init(&r, DSN_SUCCESS);
	t = format(&r);
	cr_assert_not_null(strstr(t, "Subject: Successful Mail Delivery Report\n"));
	cr_assert_not_null(strstr(t, "\nAction: delivered\n"));
	free(t);
	cr_assert_str_eq(dsn_action(DSN_FAILURE), "failed");
}

Test(dsn, hostile_reply_and_address_cannot_inject_headers)
{
	struct dsn_rcpt evil[] = {
		{ "x@example.net\nBcc: victim@example.org", NULL, "5.0.0",
		    "550 no\r\nSubject: injected\n\nFinal-Recipient: rfc822; fake" },
	};
	struct dsn_report r;
	char *t;

	report_init(&r, DSN_FAILURE);
	r.rcpts = evil;
	r.nrcpts = 1;
	r.sender = "alice@example.org\nBcc: everyone@example.org";
	r.envid = "id\nX-Evil: 1";
	r.queue_id = "ABC\"DEF";
	r.hostname = "mx\"bad host";
	t = format(&r);
	cr_assert_null(strstr(t, "\nBcc:"));
	cr_assert_null(strstr(t, "\nSubject: injected"));
	cr_assert_null(strstr(t, "\nX-Evil:"));
	cr_assert_null(strstr(t, "\nFinal-Recipient: rfc822; fake"));
	cr_assert_not_null(strstr(t, "Diagnostic-Code: smtp; 550 no  Subject: injected"));
	cr_assert_not_null(strstr(t, "boundary=\"ABC_DEF."), "%.400s", t);
	free(t);
}

Test(dsn, long_diagnostic_is_clipped_and_8bit_is_declared)
{
	struct dsn_rcpt one[1];
	struct dsn_report r;
	char *diag, *t, *p;
	const char *eight = "Subject: caf\xc3\xa9\n\nna\xc3\xafve\n";

	diag = malloc(5000);
	memset(diag, 'd', 4999);
	diag[4999] = '\0';
	one[0] = (struct dsn_rcpt){ "x@example.net", NULL, "5.0.0", diag };
	report_init(&r, DSN_FAILURE);
	r.rcpts = one;
	r.nrcpts = 1;
	r.content = eight;
	r.content_len = strlen(eight);
	t = format(&r);
	p = strstr(t, "Diagnostic-Code: X-Postilion; ");
	cr_assert_not_null(p);
	p += strlen("Diagnostic-Code: X-Postilion; ");
	cr_assert_eq(strspn(p, "d"), DSN_FIELD_MAX);
	cr_assert_not_null(strstr(t, "Content-Transfer-Encoding: 8bit\n"));
	free(t);
	free(diag);
}

Test(dsn, empty_and_headerless_originals)
{
	struct dsn_report r;
	char *t;

	report_init(&r, DSN_FAILURE);
	r.content = "";
	r.content_len = 0;
	t = format(&r);
	cr_assert_not_null(strstr(t, "Content-Type: message/rfc822\n\n\n--"));
	free(t);
	report_init(&r, DSN_FAILURE);
	r.content = "no header end and no newline";
	r.content_len = strlen(r.content);
	r.headers_only = 1;
	t = format(&r);
	cr_assert_not_null(strstr(t, "no header end and no newline\n\n--"));
	free(t);
}
