/*
 * cmd_sendmail: sendmail(1) local submission with the LSB/Debian options.
 * The message is written into maildrop/ as a queue file (the same records
 * smtpd writes, protocol=local) and qmgr is woken; with the daemons
 * stopped the file waits there. Missing From:, Date: and Message-ID: are
 * added. -bs speaks SMTP on stdin/stdout; -bp is mailq, -bi newaliases,
 * -q a queue flush. Security: installed setgid postdrop, it writes only
 * into maildrop/ (01730, so users cannot list or read it) and takes no
 * configuration directory from a non-root caller while setgid; input is
 * bounded by message_size_limit, header scanning by header_size_limit.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "proto/smtp_addr.h"
#include "proto/smtp_command.h"
#include "proto/smtp_data.h"
#include "queue/queue.h"

#define SENDMAIL_ADDRESS_MAX	(SMTP_ADDRESS_MAX + 1 + SMTP_DOMAIN_MAX)
#define SENDMAIL_RCPT_MAX	10000
#define SENDMAIL_LINE_MAX	4096	/* -bs command lines */
#define SENDMAIL_QMGR		"public/qmgr"

enum sendmail_mode {
	SENDMAIL_MAIL,		/* -bm, the default */
	SENDMAIL_SMTP,		/* -bs */
	SENDMAIL_LIST,		/* -bp */
	SENDMAIL_ALIASES,	/* -bi */
	SENDMAIL_FLUSH		/* -q */
};

struct sendmail {
	struct config *cfg;
	enum sendmail_mode mode;
	const char *confdir;
	const char *from;	/* -f / -r */
	const char *fullname;	/* -F */
	int	 extract;	/* -t */
	int	 dot_ends;	/* no -i: a "." line ends the message */
	char	 notify[32];	/* -N */
	char	 ret[5];	/* -R */
	char	 envid[101];	/* -V */
	char	 sender[SENDMAIL_ADDRESS_MAX + 1];
	char	**rcpts;
	size_t	 nrcpts;
	struct buf msg;		/* LF line ends */
	long long size_limit;
	char	 login[64];
};

static int sendmail_options(struct sendmail *, int, char **);
static int sendmail_notify(const char *, char *, size_t);
static int sendmail_address(struct sendmail *, const char *, size_t, char *,
    size_t);
static int sendmail_add_rcpt(struct sendmail *, const char *, size_t);
static int sendmail_read(struct sendmail *, FILE *);
static int sendmail_header_addrs(struct sendmail *, const char *, size_t);
static int sendmail_headers(struct sendmail *, struct buf *, int *, int *,
    int *);
static void sendmail_date(char *, size_t, time_t);
static int sendmail_queue(struct sendmail *, const char *protocol);
static void sendmail_wakeup(void);
static int sendmail_smtp(struct sendmail *);
static int sendmail_smtp_command(struct sendmail *,
    const struct smtp_command *, int *);
static void sendmail_smtp_reset(struct sendmail *, int *);
static int sendmail_smtp_data(struct sendmail *, FILE *);
static struct config *sendmail_config(struct sendmail *);

static const struct option sendmail_longopts[] = {
	{ NULL, 0, NULL, 0 },
};

/*
 * The option letters Postfix's sendmail takes; the ones it ignores
 * (-c -G -I -m -n -U -v -x and -h -L -O -X -A -e -p with a value) are
 * accepted and ignored here too.
 */
static int
sendmail_options(struct sendmail *sm, int argc, char **argv)
{
	int ch;

	sm->dot_ends = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv,
	    "+A:B:C:F:GIL:N:O:R:UV:X:b:ce:f:h:imno:p:q::r:tvx",
	    sendmail_longopts, NULL)) != -1) {
		switch (ch) {
		case 'b':
			if (strcmp(optarg, "m") == 0)
				sm->mode = SENDMAIL_MAIL;
			else if (strcmp(optarg, "s") == 0)
				sm->mode = SENDMAIL_SMTP;
			else if (strcmp(optarg, "p") == 0)
				sm->mode = SENDMAIL_LIST;
			else if (strcmp(optarg, "i") == 0)
				sm->mode = SENDMAIL_ALIASES;
			else {
				fprintf(stderr, "sendmail: unsupported: -b%s\n",
				    optarg);
				return -1;
			}
			break;
		case 'C':
			sm->confdir = optarg;
			break;
		case 'F':
			sm->fullname = optarg;
			break;
		case 'f':
		case 'r':
			sm->from = optarg;
			break;
		case 'i':
			sm->dot_ends = 0;
			break;
		case 'o':
			/* -oi as -i; -oem, -oep, -odb, ... are ignored. */
			if (strcmp(optarg, "i") == 0)
				sm->dot_ends = 0;
			break;
		case 'N':
			if (sendmail_notify(optarg, sm->notify,
			    sizeof(sm->notify)) == -1) {
				fprintf(stderr, "sendmail: bad -N value: %s\n",
				    optarg);
				return -1;
			}
			break;
		case 'R':
			if (strcasecmp(optarg, "full") && strcasecmp(optarg,
			    "hdrs")) {
				fprintf(stderr, "sendmail: bad -R value: %s\n",
				    optarg);
				return -1;
			}
			strlcpy(sm->ret, optarg, sizeof(sm->ret));
			for (char *p = sm->ret; *p; p++)
				*p = (char)toupper((unsigned char)*p);
			break;
		case 'V':
			for (const char *p = optarg; *p; p++)
				if ((unsigned char)*p < 0x21 ||
				    (unsigned char)*p > 0x7e) {
					fprintf(stderr, "sendmail: bad -V "
					    "value\n");
					return -1;
				}
			if (strlcpy(sm->envid, optarg, sizeof(sm->envid)) >=
			    sizeof(sm->envid)) {
				fprintf(stderr, "sendmail: -V value too "
				    "long\n");
				return -1;
			}
			break;
		case 'q':
			sm->mode = SENDMAIL_FLUSH;
			break;
		case 't':
			sm->extract = 1;
			break;
		case '?':
			fprintf(stderr, "sendmail: unknown option -%c\n",
			    optopt);
			return -1;
		default:
			break;	/* -B, -G, -h, -L, -m, -n, -v, ...: ignored */
		}
	}
	return optind;
}

/* -N never, or a list of success, delay, failure (RFC 3461 NOTIFY). */
static int
sendmail_notify(const char *value, char *out, size_t outlen)
{
	static const char *words[] = { "SUCCESS", "DELAY", "FAILURE" };
	int seen[3] = { 0, 0, 0 }, i;
	size_t n;

	if (strcasecmp(value, "never") == 0) {
		strlcpy(out, "NEVER", outlen);
		return 0;
	}
	for (; *value; value += n + (value[n] == ',')) {
		n = strcspn(value, ",");
		for (i = 0; i < 3; i++)
			if (n == strlen(words[i]) &&
			    strncasecmp(value, words[i], n) == 0)
				break;
		if (i == 3)
			return -1;
		seen[i] = 1;
	}
	out[0] = '\0';
	for (i = 0; i < 3; i++)
		if (seen[i]) {
			if (*out)
				strlcat(out, ",", outlen);
			strlcat(out, words[i], outlen);
		}
	return *out ? 0 : -1;
}

/*
 * One address, "user", "user@domain" or "<user@domain>", checked by the
 * SMTP path parser and completed with @$myorigin; 0 or -1.
 */
static int
sendmail_address(struct sendmail *sm, const char *text, size_t len,
    char *out, size_t outlen)
{
	struct smtp_path path;
	const char *reason;
	char buf[SENDMAIL_ADDRESS_MAX + 3];
	size_t used;

	while (len > 0 && isspace((unsigned char)*text)) {
		text++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)text[len - 1]))
		len--;
	if (len >= 2 && text[0] == '<' && text[len - 1] == '>') {
		text++;
		len -= 2;
	}
	if (len + 3 > sizeof(buf))
		return -1;
	buf[0] = '<';
	memcpy(buf + 1, text, len);
	buf[len + 1] = '>';
	buf[len + 2] = '\0';
	if (smtp_path_parse(buf, len + 2, SMTP_ADDR_NULL_OK |
	    SMTP_ADDR_NODOMAIN_OK | SMTP_ADDR_UTF8, &path, &used,
	    &reason) != SMTP_ADDR_OK || used != len + 2)
		return -1;
	if (path.null) {
		out[0] = '\0';
		return 0;
	}
	if (*path.domain)
		strlcpy(out, path.address, outlen);
	else if ((size_t)snprintf(out, outlen, "%s@%s", path.local,
	    config_get(sm->cfg, "myorigin")) >= outlen)
		return -1;
	for (char *p = strrchr(out, '@'); p && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return 0;
}

static int
sendmail_add_rcpt(struct sendmail *sm, const char *text, size_t len)
{
	char address[SENDMAIL_ADDRESS_MAX + 1];
	size_t i;

	if (sendmail_address(sm, text, len, address, sizeof(address)) == -1 ||
	    *address == '\0') {
		fprintf(stderr, "sendmail: bad recipient address: %.*s\n",
		    (int)(len > 200 ? 200 : len), text);
		return -1;
	}
	for (i = 0; i < sm->nrcpts; i++)
		if (strcmp(sm->rcpts[i], address) == 0)
			return 0;
	if (sm->nrcpts >= SENDMAIL_RCPT_MAX) {
		fprintf(stderr, "sendmail: too many recipients\n");
		return -1;
	}
	sm->rcpts = xreallocarray(sm->rcpts, sm->nrcpts + 1, sizeof(char *));
	sm->rcpts[sm->nrcpts++] = xstrdup(address);
	return 0;
}

/*
 * The message from in: CRLF becomes LF, a leading "From " line is
 * dropped, and without -i a line "." ends it. 0, or -1 when it is over
 * message_size_limit.
 */
static int
sendmail_read(struct sendmail *sm, FILE *in)
{
	char *line = NULL;
	size_t cap = 0, len;
	ssize_t n;
	int first = 1, rc = 0;

	while ((n = getline(&line, &cap, in)) > 0) {
		len = (size_t)n;
		if (len > 0 && line[len - 1] == '\n')
			len--;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (first && len >= 5 && strncmp(line, "From ", 5) == 0) {
			first = 0;
			continue;
		}
		first = 0;
		if (sm->dot_ends && len == 1 && line[0] == '.')
			break;
		if (sm->size_limit > 0 && (long long)(sm->msg.len + len + 1) >
		    sm->size_limit) {
			rc = -1;
			break;
		}
		buf_append(&sm->msg, line, len);
		buf_append(&sm->msg, "\n", 1);
	}
	free(line);
	return rc;
}

/* Addresses of one To:/Cc:/Bcc: value, split at commas outside quotes. */
static int
sendmail_header_addrs(struct sendmail *sm, const char *v, size_t len)
{
	size_t i, start = 0, lt = 0, gt = 0;
	int quoted = 0, comment = 0;
	char piece[SENDMAIL_ADDRESS_MAX * 2];
	size_t o;

	for (i = 0; i <= len; i++) {
		char c = i < len ? v[i] : ',';

		if (quoted) {
			if (c == '\\' && i + 1 < len)
				i++;
			else if (c == '"')
				quoted = 0;
			continue;
		}
		if (c == '"')
			quoted = 1;
		else if (c == '(')
			comment++;
		else if (c == ')' && comment > 0)
			comment--;
		else if (c == '<' && !comment)
			lt = i + 1;
		else if (c == '>' && !comment)
			gt = i;
		else if ((c == ',' || c == ';') && !comment) {
			if (lt && gt > lt) {
				if (sendmail_add_rcpt(sm, v + lt, gt - lt) ==
				    -1)
					return -1;
			} else {
				/* Bare address: drop comments and a group name. */
				const char *p = v + start, *e = v + i, *colon;
				int depth = 0;

				colon = memchr(p, ':', (size_t)(e - p));
				if (colon != NULL)
					p = colon + 1;
				for (o = 0; p < e && o + 1 < sizeof(piece); p++) {
					if (*p == '(')
						depth++;
					else if (*p == ')' && depth > 0)
						depth--;
					else if (!depth)
						piece[o++] = *p;
				}
				piece[o] = '\0';
				if (strspn(piece, " \t\n") != o &&
				    sendmail_add_rcpt(sm, piece, o) == -1)
					return -1;
			}
			start = i + 1;
			lt = gt = 0;
		}
	}
	return 0;
}

/*
 * The header block: note From:, Date:, Message-ID:; with -t take the
 * recipients of To:, Cc: and Bcc: and leave Bcc: out. The header goes
 * to hdr; the body stays in sm->msg after the returned offset.
 */
static int
sendmail_headers(struct sendmail *sm, struct buf *hdr, int *has_from,
    int *has_date, int *has_mid)
{
	const char *p = sm->msg.data, *end = p + sm->msg.len, *eol, *fend;
	long long limit = config_get_int(sm->cfg, "header_size_limit");
	int bcc, rcpt;

	*has_from = *has_date = *has_mid = 0;
	while (p < end && *p != '\n') {
		/* A field: its first line and continuation lines. */
		fend = p;
		do {
			eol = memchr(fend, '\n', (size_t)(end - fend));
			fend = eol ? eol + 1 : end;
		} while (fend < end && (*fend == ' ' || *fend == '\t'));
		eol = memchr(p, ':', (size_t)(fend - p));
		if (eol == NULL || eol == p || (limit > 0 &&
		    (long long)(fend - sm->msg.data) > limit))
			break;	/* not a header field: the body starts */
		for (const char *q = p; q < eol; q++)
			if ((unsigned char)*q <= ' ' || (unsigned char)*q > '~')
				goto body;
		*has_from |= eol - p == 4 && strncasecmp(p, "From", 4) == 0;
		*has_date |= eol - p == 4 && strncasecmp(p, "Date", 4) == 0;
		*has_mid |= eol - p == 10 &&
		    strncasecmp(p, "Message-ID", 10) == 0;
		bcc = eol - p == 3 && strncasecmp(p, "Bcc", 3) == 0;
		rcpt = bcc || (eol - p == 2 && (strncasecmp(p, "To", 2) == 0 ||
		    strncasecmp(p, "Cc", 2) == 0));
		if (sm->extract && rcpt && sendmail_header_addrs(sm, eol + 1,
		    (size_t)(fend - eol - 1)) == -1)
			return -1;
		if (!bcc)
			buf_append(hdr, p, (size_t)(fend - p));
		p = fend;
	}
body:
	return (int)(p - sm->msg.data);
}

static void
sendmail_date(char *out, size_t len, time_t t)
{
	struct tm tm;

	localtime_r(&t, &tm);
	if (strftime(out, len, "%a, %e %b %Y %H:%M:%S %z (%Z)", &tm) == 0)
		strlcpy(out, "Thu, 1 Jan 1970 00:00:00 +0000", len);
}

/*
 * The maildrop queue file: TIME, SENDER, ATTRs, NOTIFY + RCPT each,
 * CONTENT (our Received:, the added headers, the message), END.
 */
static int
sendmail_queue(struct sendmail *sm, const char *protocol)
{
	struct queue_writer w;
	struct timeval tv;
	struct buf hdr, top;
	char date[64], stamp[32];
	int has_from, has_date, has_mid, body;
	size_t i;

	buf_init(&hdr);
	buf_init(&top);
	if ((body = sendmail_headers(sm, &hdr, &has_from, &has_date,
	    &has_mid)) < 0)
		goto fail_usage;
	if (sm->nrcpts == 0) {
		fprintf(stderr, "sendmail: no recipient addresses found%s\n",
		    sm->extract ? " in message header" : "");
		goto fail_usage;
	}
	if (queue_writer_open(&w, QUEUE_MAILDROP) == -1) {
		fprintf(stderr, "sendmail: create file in %s/%s: %s\n",
		    config_get(sm->cfg, "queue_directory"), QUEUE_MAILDROP,
		    strerror(errno));
		buf_free(&hdr);
		buf_free(&top);
		return EX_CANTCREAT;
	}
	/* qmgr (mail_owner) reads it; the 01730 directory hides it. */
	(void)fchmod(w.fd, 0644);
	gettimeofday(&tv, NULL);
	queue_writer_recordf(&w, QREC_TIME, "%lld %ld", (long long)tv.tv_sec,
	    (long)tv.tv_usec);
	queue_writer_record(&w, QREC_SENDER, sm->sender, strlen(sm->sender));
	queue_writer_recordf(&w, QREC_ATTR, "client_name=localhost");
	queue_writer_recordf(&w, QREC_ATTR, "client_address=127.0.0.1");
	queue_writer_recordf(&w, QREC_ATTR, "protocol=%s", protocol);
	queue_writer_recordf(&w, QREC_ATTR, "uid=%lu", (unsigned long)getuid());
	if (*sm->envid)
		queue_writer_recordf(&w, QREC_ATTR, "dsn_envid=%s", sm->envid);
	if (*sm->ret)
		queue_writer_recordf(&w, QREC_ATTR, "dsn_ret=%s", sm->ret);
	for (i = 0; i < sm->nrcpts; i++) {
		if (*sm->notify)
			queue_writer_record(&w, QREC_NOTIFY, sm->notify,
			    strlen(sm->notify));
		queue_writer_record(&w, QREC_RCPT, sm->rcpts[i],
		    strlen(sm->rcpts[i]));
	}
	sendmail_date(date, sizeof(date), tv.tv_sec);
	buf_printf(&top, "Received: by %s (%s, from userid %lu)\n\tid %s; %s\n",
	    config_get(sm->cfg, "myhostname"), config_get(sm->cfg, "mail_name"),
	    (unsigned long)getuid(), w.id, date);
	if (!has_from) {
		if (sm->fullname != NULL && *sm->fullname)
			buf_printf(&top, "From: %s <%s>\n", sm->fullname,
			    sm->sender);
		else
			buf_printf(&top, "From: %s\n", sm->sender);
	}
	if (!has_date)
		buf_printf(&top, "Date: %s\n", date);
	if (!has_mid) {
		struct tm tm;

		gmtime_r(&tv.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
		buf_printf(&top, "Message-Id: <%s.%s@%s>\n", stamp, w.id,
		    config_get(sm->cfg, "myhostname"));
	}
	queue_writer_content_begin(&w);
	queue_writer_content(&w, top.data, top.len);
	queue_writer_content(&w, hdr.data, hdr.len);
	queue_writer_content(&w, sm->msg.data + body, sm->msg.len -
	    (size_t)body);
	queue_writer_content_end(&w);
	buf_free(&hdr);
	buf_free(&top);
	if (queue_writer_commit(&w) == -1) {
		fprintf(stderr, "sendmail: write queue file: %s\n",
		    strerror(errno));
		return EX_TEMPFAIL;
	}
	sendmail_wakeup();
	return EX_OK;
fail_usage:
	buf_free(&hdr);
	buf_free(&top);
	return EX_USAGE;
}

/* A wakeup for qmgr; none is needed when it is not running. */
static void
sendmail_wakeup(void)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, SENDMAIL_QMGR, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		(void)!write(fd, "W", 1);
	close(fd);
}

/* DATA for -bs: dot-unstuffed and CRLF-normalized by the DATA decoder. */
static int
sendmail_smtp_data(struct sendmail *sm, FILE *in)
{
	struct smtp_data d;
	char inb[512], out[1024];
	size_t got, used, n, off;
	int c, too_big = 0;

	smtp_data_init(&d);
	buf_reset(&sm->msg);
	while (!smtp_data_done(&d)) {
		for (n = 0; n < sizeof(inb) && (c = getc(in)) != EOF; ) {
			inb[n++] = (char)c;
			if (c == '\n')
				break;
		}
		if (n == 0)
			return -1;
		for (off = 0; off < n && !smtp_data_done(&d); off += used) {
			used = smtp_data_decode(&d, inb + off, n - off, out,
			    sizeof(out), &got);
			if (sm->size_limit > 0 && (long long)(sm->msg.len +
			    got) > sm->size_limit)
				too_big = 1;
			if (!too_big)
				buf_append(&sm->msg, out, got);
		}
	}
	return too_big ? 1 : 0;
}

static void
sendmail_smtp_reset(struct sendmail *sm, int *in_mail)
{
	size_t i;

	*in_mail = 0;
	for (i = 0; i < sm->nrcpts; i++)
		free(sm->rcpts[i]);
	sm->nrcpts = 0;
}

/* One -bs command; -1 when the session ends. */
static int
sendmail_smtp_command(struct sendmail *sm, const struct smtp_command *cmd,
    int *in_mail)
{
	char address[SENDMAIL_ADDRESS_MAX + 1];
	struct smtp_path_args pa;
	int rc;

	if (!strcmp(cmd->verb, "HELO") || !strcmp(cmd->verb, "EHLO"))
		printf("250 %s\r\n", config_get(sm->cfg, "myhostname"));
	else if (!strcmp(cmd->verb, "MAIL")) {
		if (*in_mail)
			printf("503 5.5.1 Error: nested MAIL command\r\n");
		else if (smtp_path_args_parse(cmd->args, cmd->args_len, "FROM",
		    SMTP_ADDR_NULL_OK | SMTP_ADDR_NODOMAIN_OK | SMTP_ADDR_UTF8,
		    &pa) == -1 || sendmail_address(sm, pa.path.address,
		    strlen(pa.path.address), sm->sender,
		    sizeof(sm->sender)) == -1)
			printf("501 5.1.7 Bad sender address syntax\r\n");
		else {
			*in_mail = 1;
			printf("250 2.1.0 Ok\r\n");
		}
	} else if (!strcmp(cmd->verb, "RCPT")) {
		if (!*in_mail)
			printf("503 5.5.1 Error: need MAIL command\r\n");
		else if (smtp_path_args_parse(cmd->args, cmd->args_len, "TO",
		    SMTP_ADDR_NODOMAIN_OK | SMTP_ADDR_UTF8, &pa) == -1 ||
		    sendmail_address(sm, pa.path.address,
		    strlen(pa.path.address), address, sizeof(address)) == -1 ||
		    sendmail_add_rcpt(sm, address, strlen(address)) == -1)
			printf("501 5.1.3 Bad recipient address syntax\r\n");
		else
			printf("250 2.1.5 Ok\r\n");
	} else if (!strcmp(cmd->verb, "DATA")) {
		if (!*in_mail || sm->nrcpts == 0) {
			printf("503 5.5.1 Error: need RCPT command\r\n");
			return 0;
		}
		printf("354 End data with <CR><LF>.<CR><LF>\r\n");
		fflush(stdout);
		if ((rc = sendmail_smtp_data(sm, stdin)) == -1)
			return -1;
		if (rc == 1)
			printf("552 5.3.4 Error: message file too big\r\n");
		else if (sendmail_queue(sm, "ESMTP") == EX_OK)
			printf("250 2.0.0 Ok: queued\r\n");
		else
			printf("451 4.3.0 Error: queue file write error\r\n");
		sendmail_smtp_reset(sm, in_mail);
	} else if (!strcmp(cmd->verb, "RSET")) {
		printf("250 2.0.0 Ok\r\n");
		sendmail_smtp_reset(sm, in_mail);
	} else if (!strcmp(cmd->verb, "NOOP"))
		printf("250 2.0.0 Ok\r\n");
	else if (!strcmp(cmd->verb, "QUIT")) {
		printf("221 2.0.0 Bye\r\n");
		return -1;
	} else
		printf("502 5.5.2 Error: command not recognized\r\n");
	return 0;
}

/* -bs: a small SMTP server on stdin/stdout for local clients. */
static int
sendmail_smtp(struct sendmail *sm)
{
	struct smtp_command cmd;
	char *line = NULL;
	size_t cap = 0, len;
	ssize_t n;
	int in_mail = 0;

	printf("220 %s ESMTP %s\r\n", config_get(sm->cfg, "myhostname"),
	    config_get(sm->cfg, "mail_name"));
	fflush(stdout);
	while ((n = getline(&line, &cap, stdin)) > 0) {
		len = (size_t)n;
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r'))
			len--;
		if (len > SENDMAIL_LINE_MAX || smtp_command_parse(line, len,
		    &cmd) != SMTP_CMD_OK)
			printf("500 5.5.2 Error: bad syntax\r\n");
		else if (sendmail_smtp_command(sm, &cmd, &in_mail) == -1)
			break;
		fflush(stdout);
	}
	fflush(stdout);
	free(line);
	return EX_OK;
}

/*
 * The configuration: while setgid (postdrop), only root may choose the
 * directory, so a user cannot point sendmail at a queue of their own.
 */
static struct config *
sendmail_config(struct sendmail *sm)
{
	const char *dir = sm->confdir, *env;
	struct config *cfg;
	char err[1024];
	int privileged = getegid() != getgid() && getuid() != 0;

	if (dir == NULL && (env = getenv("POSTILION_CONFIG_DIR")) != NULL &&
	    *env != '\0')
		dir = env;
	if (dir == NULL || privileged)
		dir = SYSCONFDIR;
	if ((cfg = config_load(dir, err, sizeof(err))) == NULL) {
		fprintf(stderr, "sendmail: %s\n", err);
		return NULL;
	}
	return cfg;
}

int
cmd_sendmail(int argc, char **argv)
{
	struct sendmail sm;
	struct passwd *pw;
	const char *qdir;
	int first, i, rc;

	memset(&sm, 0, sizeof(sm));
	buf_init(&sm.msg);
	if ((first = sendmail_options(&sm, argc, argv)) < 0)
		return EX_USAGE;
	if ((sm.cfg = sendmail_config(&sm)) == NULL)
		return EX_CONFIG;
	log_init(config_get(sm.cfg, "syslog_name"), NULL, NULL, 1);
	if (sm.mode == SENDMAIL_LIST || sm.mode == SENDMAIL_FLUSH) {
		char *args[] = { sm.mode == SENDMAIL_LIST ? "queue" : "flush",
		    NULL };

		(void)setgid(getgid());
		rc = cmd_queue(sm.cfg, 1, args);
		config_free(sm.cfg);
		return rc;
	}
	if (sm.mode == SENDMAIL_ALIASES) {
		/* postilion.c runs newaliases for -bi before we get here. */
		config_free(sm.cfg);
		return EX_SOFTWARE;
	}
	sm.size_limit = config_get_int(sm.cfg, "message_size_limit");
	pw = getpwuid(getuid());
	strlcpy(sm.login, pw ? pw->pw_name : "nobody", sizeof(sm.login));
	if (sendmail_address(&sm, sm.from ? sm.from : sm.login,
	    strlen(sm.from ? sm.from : sm.login), sm.sender,
	    sizeof(sm.sender)) == -1) {
		fprintf(stderr, "sendmail: bad sender address: %s\n", sm.from);
		rc = EX_USAGE;
		goto done;
	}
	for (i = first; i < argc; i++)
		if (sendmail_add_rcpt(&sm, argv[i], strlen(argv[i])) == -1) {
			rc = EX_USAGE;
			goto done;
		}
	qdir = config_get(sm.cfg, "queue_directory");
	if (chdir(qdir) == -1) {
		fprintf(stderr, "sendmail: chdir %s: %s\n", qdir,
		    strerror(errno));
		rc = EX_OSERR;
		goto done;
	}
	if (sm.mode == SENDMAIL_SMTP) {
		rc = sendmail_smtp(&sm);
		goto done;
	}
	if (sendmail_read(&sm, stdin) == -1) {
		fprintf(stderr, "sendmail: message too big (message_size_limit "
		    "%lld)\n", sm.size_limit);
		rc = EX_DATAERR;
		goto done;
	}
	rc = sendmail_queue(&sm, "local");
done:
	for (size_t k = 0; k < sm.nrcpts; k++)
		free(sm.rcpts[k]);
	free(sm.rcpts);
	buf_free(&sm.msg);
	config_free(sm.cfg);
	return rc;
}
