/*
 * dsn: RFC 3464 delivery status notifications (bounces, delay and success
 * notices) as text: a multipart/report with a human part, the
 * message/delivery-status part, and the original message or its headers.
 * Pure formatter: no I/O; the caller queues the result with the null sender.
 * Security: every value that reaches a header or a DSN field is cleaned of
 * control characters and clipped, so a remote reply cannot inject headers.
 */
#ifndef POSTILION_DSN_H
#define POSTILION_DSN_H

#include <stddef.h>
#include <time.h>

#include "core/buf.h"

#define DSN_FAILURE	0	/* "Undelivered Mail Returned to Sender" */
#define DSN_DELAY	1	/* still being retried */
#define DSN_SUCCESS	2	/* delivered (NOTIFY=SUCCESS) */

/* Longest diagnostic or address text copied into the report. */
#define DSN_FIELD_MAX	900

struct dsn_rcpt {
	const char *address;	/* Final-Recipient */
	const char *orcpt;	/* "rfc822;addr" (ORCPT) or NULL */
	const char *status;	/* "X.Y.Z" */
	const char *diag;	/* reason text, or NULL */
};

struct dsn_report {
	int	 kind;			/* DSN_* */
	const char *hostname;		/* Reporting-MTA, From: domain */
	const char *queue_id;		/* of the original */
	const char *sender;		/* original envelope sender: To: */
	const char *envid;		/* ENVID or NULL */
	time_t	 arrival;		/* of the original */
	time_t	 now;			/* Date: */
	int	 headers_only;		/* RET=HDRS (always for delay/success) */
	const char *content;		/* original message, LF line ends */
	size_t	 content_len;
	size_t	 size_limit;		/* bounce_size_limit */
	const struct dsn_rcpt *rcpts;
	size_t	 nrcpts;
};

/* dsn_format: the whole notice (headers and body, LF line ends) into out. */
void	dsn_format(const struct dsn_report *, struct buf *out);
/* dsn_action: "failed", "delayed" or "delivered" for a kind. */
const char *dsn_action(int kind);
/* dsn_clean: copy s into out with CTLs as spaces, at most max bytes. */
void	dsn_clean(struct buf *out, const char *s, size_t max);

#endif
