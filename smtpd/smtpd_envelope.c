/*
 * smtpd_envelope: MAIL FROM and RCPT TO. The queue file is created at the
 * first accepted recipient (as Postfix's smtpd_delay_open_until_valid_rcpt
 * does), so rejected transactions leave nothing on disk; its envelope
 * records are written then, one RCPT record per new recipient after that.
 * Security: addresses come from the lib/proto parser only; every limit
 * (path, SIZE, smtpd_recipient_limit) is checked before anything is stored.
 * UTF-8 addresses are taken only after MAIL ... SMTPUTF8 (RFC 6531); DSN
 * parameters (RFC 3461) are xtext-decoded and refused if they decode to
 * control characters. virtual_alias_maps are expanded here, the original
 * recipient kept as ORCPT. Parameters: virtual_alias_recursion_limit,
 * virtual_alias_expansion_limit.
 */
#include <sys/types.h>
#include <sys/statvfs.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "map/alias_expand.h"
#include "smtpd/smtpd.h"

#define SMTPD_ORCPT_MAX		500	/* RFC 3461 4.2 */

struct smtpd_rcpt_dsn {
	char	 notify[32];
	char	 orcpt[SMTPD_ADDRESS_MAX + SMTPD_ORCPT_MAX + 16];
};

static int smtpd_path_error(struct smtpd_session *,
    const struct smtp_path_args *, int);
static int smtpd_mail_size(struct smtpd_session *, const char *);
static int smtpd_mail_params(struct smtpd_session *,
    const struct smtp_params *);
static int smtpd_free_space(struct smtpd_session *, long long);
static int smtpd_normalize(struct smtpd_session *, const struct smtp_path *,
    char *, size_t);
static int smtpd_queue_open(struct smtpd_session *);
static int smtpd_rcpt_seen(struct smtpd_session *, const char *);
static void smtpd_log_reject(struct smtpd_session *, const char *,
    const char *, const char *);
static int smtpd_parse_path(struct smtpd_session *, const char *, size_t,
    int, struct smtp_path_args *);
static int smtpd_has_8bit(const char *);
static int smtpd_notify(const char *, char *, size_t);
static int smtpd_rcpt_params(struct smtpd_session *,
    const struct smtp_params *, struct smtpd_rcpt_dsn *);
static void smtpd_rcpt_store(struct smtpd_session *, const char *,
    const struct smtpd_rcpt_dsn *, const char *);
static int smtpd_rcpt_expand(struct smtpd_session *, const char *,
    const char *, const struct smtpd_rcpt_dsn *);

const char *
smtpd_check_mail(struct smtpd_session *s)
{
	return s->in_mail ? "503 5.5.1 Error: nested MAIL command" : NULL;
}

const char *
smtpd_check_rcpt(struct smtpd_session *s)
{
	return s->in_mail ? NULL : "503 5.5.1 Error: need MAIL command";
}

void
smtpd_transaction_reset(struct smtpd_session *s)
{
	size_t i;

	if (s->queue_open)
		queue_writer_abort(&s->queue);
	s->queue_open = 0;
	for (i = 0; i < s->nrcpts; i++)
		free(s->rcpts[i]);
	free(s->rcpts);
	s->rcpts = NULL;
	s->nrcpts = 0;
	s->rcpt_count = 0;
	s->in_mail = 0;
	s->sender[0] = '\0';
	s->smtputf8 = 0;
	s->dsn_envid[0] = '\0';
	s->dsn_ret[0] = '\0';
	s->declared_size = 0;
	s->discard = 0;
	s->hold = 0;
	smtpd_bdat_reset(s);
}

static int
smtpd_has_8bit(const char *p)
{
	for (; *p; p++)
		if ((unsigned char)*p >= 0x80)
			return 1;
	return 0;
}

/*
 * The path with UTF-8 allowed when smtputf8_enable is on; an 8-bit
 * address is then kept only if the transaction declared SMTPUTF8.
 */
static int
smtpd_parse_path(struct smtpd_session *s, const char *args, size_t len,
    int sender, struct smtp_path_args *pa)
{
	int flags = sender ? SMTP_ADDR_NULL_OK | SMTP_ADDR_NODOMAIN_OK :
	    SMTP_ADDR_NODOMAIN_OK, declared, present;

	if (s->conf->smtputf8)
		flags |= SMTP_ADDR_UTF8;
	if (smtp_path_args_parse(args, len, sender ? "FROM" : "TO", flags,
	    pa) == -1)
		return smtpd_path_error(s, pa, sender);
	if (sender) {
		(void)smtp_params_get(&pa->params, "SMTPUTF8", &present);
		declared = present;
	} else
		declared = s->smtputf8;
	if (!declared && smtpd_has_8bit(pa->path.address)) {
		smtpd_reply(s, "553 5.6.7 Must declare SMTPUTF8 to send unicode "
		    "address");
		return -1;
	}
	return 0;
}

static int
smtpd_path_error(struct smtpd_session *s, const struct smtp_path_args *pa,
    int sender)
{
	const char *status = smtp_addr_status(pa->error, sender);

	log_debug("%s[%s]: bad %s: %s", s->client_name, s->client_addr,
	    sender ? "MAIL" : "RCPT", pa->reason);
	switch (pa->error) {
	case SMTP_ADDR_ESYNTAX:
		smtpd_reply(s, "501 %s Syntax: %s", status,
		    sender ? "MAIL FROM:<address>" : "RCPT TO:<address>");
		break;
	case SMTP_ADDR_EPARAM:
		smtpd_reply(s, "501 %s Error: %s", status, pa->reason);
		break;
	default:
		smtpd_reply(s, "501 %s Bad %s address syntax", status,
		    sender ? "sender" : "recipient");
		break;
	}
	return -1;
}

/* SIZE=n (RFC 1870): digits only, at most message_size_limit. */
static int
smtpd_mail_size(struct smtpd_session *s, const char *value)
{
	const char *errstr;
	long long size;

	if (value == NULL || strspn(value, "0123456789") != strlen(value)) {
		smtpd_reply(s, "501 5.5.4 Bad message size syntax");
		return -1;
	}
	/* Digits only: the one possible error is "too large". */
	size = strtonum(value, 0, LLONG_MAX, &errstr);
	if (errstr != NULL)
		size = LLONG_MAX;
	if (s->conf->message_size_limit > 0 &&
	    size > s->conf->message_size_limit) {
		smtpd_reply(s, "552 5.3.4 Message size exceeds fixed limit");
		log_info("NOQUEUE: reject: MAIL from %s[%s]: 552 5.3.4 Message "
		    "size exceeds fixed limit; proto=%s%s%s%s", s->client_name,
		    s->client_addr, smtpd_protocol(s),
		    *s->helo ? " helo=<" : "", s->helo, *s->helo ? ">" : "");
		return -1;
	}
	return smtpd_free_space(s, size);
}

/* SIZE and BODY (RFC 6152); anything else is unsupported. */
static int
smtpd_mail_params(struct smtpd_session *s, const struct smtp_params *params)
{
	const struct smtp_param *p;
	int have_size = 0;
	size_t i;

	for (i = 0; i < params->count; i++) {
		p = &params->param[i];
		if (strcmp(p->name, "SIZE") == 0) {
			if (smtpd_mail_size(s, p->value) == -1)
				return -1;
			have_size = 1;
		} else if (strcmp(p->name, "RET") == 0) {
			if (p->value == NULL || (strcasecmp(p->value, "FULL") &&
			    strcasecmp(p->value, "HDRS"))) {
				smtpd_reply(s, "501 5.5.4 Bad RET parameter "
				    "syntax");
				return -1;
			}
			strlcpy(s->dsn_ret, p->value, sizeof(s->dsn_ret));
			for (char *q = s->dsn_ret; *q; q++)
				*q = (char)toupper((unsigned char)*q);
		} else if (strcmp(p->name, "ENVID") == 0) {
			if (p->value == NULL || smtp_xtext_decode(p->value,
			    s->dsn_envid, sizeof(s->dsn_envid)) <= 0) {
				s->dsn_envid[0] = '\0';
				smtpd_reply(s, "501 5.5.4 Bad ENVID parameter "
				    "syntax");
				return -1;
			}
		} else if (strcmp(p->name, "SMTPUTF8") == 0 &&
		    s->conf->smtputf8) {
			if (p->value != NULL) {
				smtpd_reply(s, "501 5.5.4 Bad SMTPUTF8 "
				    "parameter syntax");
				return -1;
			}
			s->smtputf8 = 1;
		} else if (strcmp(p->name, "BODY") == 0) {
			if (p->value == NULL ||
			    (strcasecmp(p->value, "7BIT") != 0 &&
			    strcasecmp(p->value, "8BITMIME") != 0)) {
				smtpd_reply(s, "501 5.5.4 Bad BODY keyword "
				    "syntax");
				return -1;
			}
		} else {
			smtpd_reply(s, "555 5.5.4 Unsupported option: %s",
			    p->name);
			return -1;
		}
	}
	return have_size ? 0 : smtpd_free_space(s, 0);
}

/*
 * Postfix refuses MAIL when the queue file system has less than 1.5 x
 * message_size_limit free (or less than the declared SIZE on top).
 */
static int
smtpd_free_space(struct smtpd_session *s, long long declared)
{
	struct statvfs st;
	long double avail, need;

	if (statvfs(".", &st) == -1)
		return 0;
	avail = (long double)st.f_bavail * (long double)st.f_frsize;
	need = 1.5L * (long double)s->conf->message_size_limit +
	    (long double)declared;
	if (avail >= need)
		return 0;
	log_warnx("not enough free space in the queue file system");
	smtpd_reply(s, "452 4.3.1 Insufficient system storage");
	return -1;
}

/*
 * smtpd_normalize: the stored form of an address: the local part as
 * given, the domain in lower case, "@$myorigin" appended when there was
 * no domain. 0, or -1 when the result is too long.
 */
static int
smtpd_normalize(struct smtpd_session *s, const struct smtp_path *path,
    char *out, size_t outlen)
{
	size_t n, i;

	if (path->null) {
		out[0] = '\0';
		return 0;
	}
	strlcpy(out, path->local, outlen);
	n = strlcat(out, "@", outlen);
	if (path->domain[0] != '\0')
		n = strlcat(out, path->domain, outlen);
	else
		n = strlcat(out, s->conf->myorigin, outlen);
	if (n >= outlen)
		return -1;
	for (i = strlen(path->local) + 1; out[i] != '\0'; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	return 0;
}

int
smtpd_mail(struct smtpd_session *s, const char *args, size_t len)
{
	struct smtp_path_args pa;

	if (smtpd_parse_path(s, args, len, 1, &pa) == -1)
		return -1;
	if (smtpd_mail_params(s, &pa.params) == -1) {
		smtpd_transaction_reset(s);
		return -1;
	}
	if (smtpd_normalize(s, &pa.path, s->sender, sizeof(s->sender)) == -1) {
		smtpd_reply(s, "501 5.1.7 Bad sender address syntax");
		return -1;
	}
	gettimeofday(&s->arrival, NULL);
	s->in_mail = 1;
	smtpd_reply(s, "250 2.1.0 Ok");
	return 0;
}

/* The queue file, its envelope records and Postfix's "client=" line. */
static int
smtpd_queue_open(struct smtpd_session *s)
{
	struct queue_writer *w = &s->queue;

	if (queue_writer_open_pool(w, QUEUE_INCOMING,
	    &s->conf->queue_pool) == -1) {
		log_warn("create queue file in %s", QUEUE_INCOMING);
		return -1;
	}
	s->queue_open = 1;
	if (s->sasl_method != NULL)
		log_info("%s: client=%s[%s], sasl_method=%s, sasl_username=%s",
		    w->id, s->client_name, s->client_addr, s->sasl_method,
		    s->sasl_user);
	else
		log_info("%s: client=%s[%s]", w->id, s->client_name,
		    s->client_addr);
	queue_writer_recordf(w, QREC_TIME, "%lld %ld",
	    (long long)s->arrival.tv_sec, (long)s->arrival.tv_usec);
	queue_writer_record(w, QREC_SENDER, s->sender, strlen(s->sender));
	queue_writer_recordf(w, QREC_ATTR, "client_name=%s", s->client_name);
	queue_writer_recordf(w, QREC_ATTR, "client_address=%s", s->client_addr);
	if (*s->helo)
		queue_writer_recordf(w, QREC_ATTR, "helo=%s", s->helo);
	queue_writer_recordf(w, QREC_ATTR, "protocol=%s", smtpd_protocol(s));
	if (s->smtputf8)
		queue_writer_recordf(w, QREC_ATTR, "smtputf8=1");
	if (*s->dsn_envid)
		queue_writer_recordf(w, QREC_ATTR, "dsn_envid=%s",
		    s->dsn_envid);
	if (*s->dsn_ret)
		queue_writer_recordf(w, QREC_ATTR, "dsn_ret=%s", s->dsn_ret);
	return 0;
}

/* NOTIFY=NEVER or a list of SUCCESS, FAILURE, DELAY (RFC 3461 4.1). */
static int
smtpd_notify(const char *value, char *out, size_t outlen)
{
	static const char *words[] = { "SUCCESS", "DELAY", "FAILURE" };
	int seen[3] = { 0, 0, 0 }, i;
	size_t n;

	if (value == NULL)
		return -1;
	if (strcasecmp(value, "NEVER") == 0) {
		strlcpy(out, "NEVER", outlen);
		return 0;
	}
	for (; *value != '\0'; value += n + (value[n] == ',')) {
		n = strcspn(value, ",");
		for (i = 0; i < 3; i++)
			if (n == strlen(words[i]) &&
			    strncasecmp(value, words[i], n) == 0)
				break;
		if (i == 3 || seen[i]++ || (value[n] == ',' &&
		    value[n + 1] == '\0'))
			return -1;
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

static int
smtpd_rcpt_params(struct smtpd_session *s, const struct smtp_params *params,
    struct smtpd_rcpt_dsn *dsn)
{
	const struct smtp_param *p;
	char decoded[SMTPD_ORCPT_MAX + 1];
	const char *semi;
	size_t i;

	memset(dsn, 0, sizeof(*dsn));
	for (i = 0; i < params->count; i++) {
		p = &params->param[i];
		if (strcmp(p->name, "NOTIFY") == 0) {
			if (smtpd_notify(p->value, dsn->notify,
			    sizeof(dsn->notify)) == -1) {
				smtpd_reply(s, "501 5.5.4 Error: Bad NOTIFY "
				    "parameter syntax");
				return -1;
			}
		} else if (strcmp(p->name, "ORCPT") == 0) {
			/* addr-type ";" xtext, the type an atom. */
			if (p->value == NULL ||
			    (semi = strchr(p->value, ';')) == NULL ||
			    semi == p->value || (size_t)(semi - p->value) > 32 ||
			    smtp_xtext_decode(semi + 1, decoded,
			    sizeof(decoded)) <= 0 ||
			    (smtpd_has_8bit(decoded) && !s->smtputf8)) {
				smtpd_reply(s, "501 5.5.4 Error: Bad ORCPT "
				    "parameter syntax");
				return -1;
			}
			snprintf(dsn->orcpt, sizeof(dsn->orcpt), "%.*s;%s",
			    (int)(semi - p->value), p->value, decoded);
		} else {
			smtpd_reply(s, "555 5.5.4 Unsupported option: %s",
			    p->name);
			return -1;
		}
	}
	return 0;
}

/* One RCPT record with its NOTIFY and ORCPT, stored once. */
static void
smtpd_rcpt_store(struct smtpd_session *s, const char *address,
    const struct smtpd_rcpt_dsn *dsn, const char *orcpt)
{
	if (smtpd_rcpt_seen(s, address))
		return;		/* a repeated recipient is stored once */
	if (*dsn->notify)
		queue_writer_record(&s->queue, QREC_NOTIFY, dsn->notify,
		    strlen(dsn->notify));
	if (orcpt != NULL && *orcpt)
		queue_writer_record(&s->queue, QREC_ORCPT, orcpt,
		    strlen(orcpt));
	queue_writer_record(&s->queue, QREC_RCPT, address, strlen(address));
	s->rcpts = xreallocarray(s->rcpts, s->nrcpts + 1, sizeof(*s->rcpts));
	s->rcpts[s->nrcpts++] = xstrdup(address);
}

/*
 * virtual_alias_maps: the expansion replaces the recipient; ORCPT keeps
 * what the client said (its own ORCPT if it gave one). 0, or -1 with a
 * reply when the expansion failed.
 */
static int
smtpd_rcpt_expand(struct smtpd_session *s, const char *address,
    const char *key, const struct smtpd_rcpt_dsn *dsn)
{
	struct alias_result res;
	char orcpt[sizeof(dsn->orcpt)];
	size_t i;
	int rc;

	rc = alias_expand(s->conf->virtual_alias_maps, key,
	    (int)config_get_int(s->conf->cfg, "virtual_alias_recursion_limit"),
	    (size_t)config_get_int(s->conf->cfg,
	    "virtual_alias_expansion_limit"), &res);
	if (rc == ALIAS_EXPAND_NONE) {
		smtpd_rcpt_store(s, address, dsn, dsn->orcpt);
		return 0;
	}
	if (rc < 0) {
		log_warnx("%s: virtual_alias_maps: %s for %s", s->queue.id,
		    rc == ALIAS_EXPAND_ERROR ? "lookup error" :
		    "recursion or expansion limit exceeded", address);
		return -1;
	}
	if (*dsn->orcpt)
		strlcpy(orcpt, dsn->orcpt, sizeof(orcpt));
	else
		snprintf(orcpt, sizeof(orcpt), "rfc822;%s", address);
	for (i = 0; i < res.count; i++)
		smtpd_rcpt_store(s, res.addresses[i], dsn, orcpt);
	alias_result_free(&res);
	return 0;
}

static int
smtpd_rcpt_seen(struct smtpd_session *s, const char *address)
{
	size_t i;

	for (i = 0; i < s->nrcpts; i++)
		if (strcmp(s->rcpts[i], address) == 0)
			return 1;
	return 0;
}

static void
smtpd_log_reject(struct smtpd_session *s, const char *reply,
    const char *from, const char *to)
{
	log_info("%s: reject: RCPT from %s[%s]: %s; from=<%s> to=<%s> "
	    "proto=%s%s%s%s", smtpd_queue_id(s), s->client_name,
	    s->client_addr, reply, from, to, smtpd_protocol(s),
	    *s->helo ? " helo=<" : "", s->helo, *s->helo ? ">" : "");
}

int
smtpd_rcpt(struct smtpd_session *s, const char *args, size_t len)
{
	struct smtp_path_args pa;
	struct smtpd_rcpt_dsn dsn;
	struct smtpd_resolved r;
	char address[SMTPD_ADDRESS_MAX + 1], reply[SMTPD_REPLY_MAX];

	if (smtpd_parse_path(s, args, len, 0, &pa) == -1)
		return -1;
	if (smtpd_rcpt_params(s, &pa.params, &dsn) == -1)
		return -1;
	/* RFC 5321 4.5.3.1.8: at least 100 are always taken. */
	if (s->rcpt_count >= 100 &&
	    s->rcpt_count >= (size_t)s->conf->recipient_limit) {
		smtpd_reply(s, "452 4.5.3 Error: too many recipients");
		return -1;
	}
	if (smtpd_normalize(s, &pa.path, address, sizeof(address)) == -1) {
		smtpd_reply(s, "501 5.1.3 Bad recipient address syntax");
		return -1;
	}
	if (smtpd_rcpt_policy(s, address, pa.path.address, &r, reply,
	    sizeof(reply)) != SMTPD_ACCEPT) {
		smtpd_log_reject(s, reply, s->sender, pa.path.address);
		smtpd_reply(s, "%s", reply);
		return -1;
	}
	if (!s->queue_open && smtpd_queue_open(s) == -1) {
		smtpd_reply(s, "451 4.3.0 Error: queue file write error");
		return -1;
	}
	if (smtpd_rcpt_expand(s, address, r.alias ? r.address : address,
	    &dsn) == -1) {
		smtpd_reply(s, "451 4.3.0 <%s>: Temporary lookup failure",
		    pa.path.address);
		return -1;
	}
	s->rcpt_count++;
	smtpd_reply(s, "250 2.1.5 Ok");
	return 0;
}
