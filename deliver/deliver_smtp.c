/*
 * deliver_smtp: the smtp transport. Recipients are grouped by next hop:
 * the request's nexthop (transport_maps), else relayhost, else the
 * recipient's domain. "[host]:port" skips the MX lookup; otherwise MX
 * records are tried in preference order (A/AAAA of the domain when there
 * is none; a null MX bounces with 5.1.10), moving on to the next address
 * after a connection failure or a refused greeting.
 * Parameters: relayhost, smtp_tcp_port, smtp_dns_servers, smtp_helo_name,
 * smtp_mx_address_limit, smtp_*_timeout, smtp_reply_lines_limit,
 * smtp_line_length_limit, line_length_limit, smtp_tls_security_level,
 * smtp_sasl_auth_enable, smtp_sasl_password_maps, mail_owner,
 * queue_directory, smtp_connection_cache_time_limit (0 = off, default),
 * smtp_connection_reuse_count_limit (0 = no limit), smtp_rset_timeout.
 * With the cache on, a session stays open after a delivery for the next
 * request to the same next hop (checked with RSET before it is reused).
 * Security: runs as mail_owner, chrooted into the queue directory with -j;
 * the resolver is set up before the chroot.
 */
#include <sys/time.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/log.h"
#include "core/privsep.h"
#include "core/xmalloc.h"
#include "deliver/deliver_smtp.h"
#include "map/map.h"
#include "tls/tls_client.h"

#define SMTP_TARGETS_MAX	64

struct smtp_hop {
	char	 host[DNS_NAME_MAX];
	int	 port;
	int	 use_mx;		/* not [bracketed] */
	struct netaddr literal;		/* a [192.0.2.1] next hop */
	int	 is_literal;
};

static void smtp_tls_init(struct config *, struct smtp_conf *);
static int smtp_param_time(struct config *, const char *, int);
static size_t smtp_param_size(struct config *, const char *, size_t);
static int smtp_hop_parse(const char *, int, struct smtp_hop *);
static const char *smtp_rcpt_nexthop(struct deliver_ctx *,
    const struct deliver_request *, const struct deliver_rcpt *);
static void smtp_add_host(struct smtp_conf *, const char *, int,
    struct smtp_target *, size_t *, size_t, int *, struct buf *);
static int smtp_targets(struct smtp_conf *, const struct smtp_hop *,
    struct smtp_target *, size_t *, struct smtp_failure *);
static void smtp_destination(struct deliver_ctx *, struct deliver_request *,
    struct deliver_rcpt **, size_t, int, const char *,
    const struct timeval *);

static int
smtp_param_time(struct config *cfg, const char *name, int dflt)
{
	long long n = config_raw(cfg, name) ? config_get_time(cfg, name) :
	    dflt;

	return n > 0 && n <= 86400 ? (int)n : dflt;
}

static size_t
smtp_param_size(struct config *cfg, const char *name, size_t dflt)
{
	long long n = config_raw(cfg, name) ? config_get_int(cfg, name) :
	    (long long)dflt;

	return n >= 0 && n <= 1000000 ? (size_t)n : dflt;
}

/* smtp_tls_security_level: none, may (default) or encrypt. */
static void
smtp_tls_init(struct config *cfg, struct smtp_conf *c)
{
	const char *level = config_raw(cfg, "smtp_tls_security_level") ?
	    config_get(cfg, "smtp_tls_security_level") : "may";
	char err[256];

	if (!strcmp(level, "none") || *level == '\0')
		c->tls_level = SMTP_TLS_NONE;
	else if (!strcmp(level, "may"))
		c->tls_level = SMTP_TLS_MAY;
	else if (!strcmp(level, "encrypt"))
		c->tls_level = SMTP_TLS_ENCRYPT;
	else
		fatalx("smtp_tls_security_level: unsupported level \"%s\" "
		    "(none, may, encrypt)", level);
	if (c->tls_level != SMTP_TLS_NONE &&
	    (c->tls_ctx = tls_client_ctx(err, sizeof(err))) == NULL)
		fatalx("smtp TLS: %s", err);
}

void
deliver_smtp_init(struct deliver_ctx *ctx, int chroot)
{
	struct config *cfg = ctx->cfg;
	const char *qdir = config_get(cfg, "queue_directory");
	struct smtp_conf *c;
	char err[256];
	long long port;

	c = xcalloc(1, sizeof(*c));
	c->helo_name = config_raw(cfg, "smtp_helo_name") ?
	    config_get(cfg, "smtp_helo_name") : config_get(cfg, "myhostname");
	c->relayhost = config_get(cfg, "relayhost");
	port = config_raw(cfg, "smtp_tcp_port") ?
	    config_get_int(cfg, "smtp_tcp_port") : 25;
	if (port < 1 || port > 65535)
		fatalx("smtp_tcp_port: bad port %lld", port);
	c->port = (int)port;
	c->connect_timeout = smtp_param_time(cfg, "smtp_connect_timeout", 30);
	c->helo_timeout = smtp_param_time(cfg, "smtp_helo_timeout", 300);
	c->mail_timeout = smtp_param_time(cfg, "smtp_mail_timeout", 300);
	c->rcpt_timeout = smtp_param_time(cfg, "smtp_rcpt_timeout", 300);
	c->data_init_timeout = smtp_param_time(cfg, "smtp_data_init_timeout",
	    120);
	c->data_xfer_timeout = smtp_param_time(cfg, "smtp_data_xfer_timeout",
	    180);
	c->data_done_timeout = smtp_param_time(cfg, "smtp_data_done_timeout",
	    600);
	c->quit_timeout = smtp_param_time(cfg, "smtp_quit_timeout", 300);
	c->mx_address_limit = smtp_param_size(cfg, "smtp_mx_address_limit", 5);
	c->reply_lines = smtp_param_size(cfg, "smtp_reply_lines_limit", 1000);
	c->reply_line_max = smtp_param_size(cfg, "line_length_limit", 2048);
	c->wrap = smtp_param_size(cfg, "smtp_line_length_limit", 998);
	if (c->reply_lines == 0 || c->reply_line_max < 16)
		fatalx("smtp_reply_lines_limit/line_length_limit too small");
	c->rset_timeout = smtp_param_time(cfg, "smtp_rset_timeout", 20);
	c->cache_time = config_raw(cfg, "smtp_connection_cache_time_limit") ?
	    (int)config_get_time(cfg, "smtp_connection_cache_time_limit") : 0;
	if (c->cache_time < 0 || c->cache_time > 300)
		fatalx("smtp_connection_cache_time_limit: 0..300s");
	c->reuse_limit = (int)smtp_param_size(cfg,
	    "smtp_connection_reuse_count_limit", 0);
	smtp_tls_init(cfg, c);
	if (config_raw(cfg, "smtp_sasl_auth_enable") &&
	    config_get_bool(cfg, "smtp_sasl_auth_enable")) {
		c->sasl_maps = map_list_open(config_get(cfg,
		    "smtp_sasl_password_maps"), err, sizeof(err));
		if (c->sasl_maps == NULL)
			fatalx("smtp_sasl_password_maps: %s", err);
	}
	/* Before the chroot: res_ninit reads /etc/resolv.conf now. */
	c->dns = dns_open(config_get(cfg, "smtp_dns_servers"),
	    smtp_param_time(cfg, "smtp_dns_timeout", 5), err, sizeof(err));
	if (c->dns == NULL)
		fatalx("smtp_dns_servers: %s", err);
	signal(SIGPIPE, SIG_IGN);
	ctx->smtp = c;
	if (!chroot && chdir(qdir) == -1)
		fatal("chdir %s", qdir);
	priv_drop_user(config_get(cfg, "mail_owner"), chroot ? qdir : NULL);
}

/*
 * smtp_hop_parse: "[host]:port", "[host]", "[ipv6:addr]", "host:port" or
 * "host"; 0, or -1 when malformed.
 */
static int
smtp_hop_parse(const char *text, int default_port, struct smtp_hop *hop)
{
	char tmp[DNS_NAME_MAX + 16], *host, *end, *colon;
	const char *errstr;
	long long port;

	memset(hop, 0, sizeof(*hop));
	hop->port = default_port;
	hop->use_mx = 1;
	if (!strncasecmp(text, "smtp:", 5))
		text += 5;
	if (strlcpy(tmp, text, sizeof(tmp)) >= sizeof(tmp) || *tmp == '\0')
		return -1;
	host = tmp;
	if (*host == '[') {
		if ((end = strchr(host, ']')) == NULL)
			return -1;
		*end++ = '\0';
		host++;
		hop->use_mx = 0;
		colon = *end == ':' ? end : NULL;
		if (*end != '\0' && colon == NULL)
			return -1;
	} else
		colon = strrchr(host, ':');
	if (colon != NULL) {
		*colon = '\0';
		port = strtonum(colon + 1, 1, 65535, &errstr);
		if (errstr != NULL)
			return -1;
		hop->port = (int)port;
	}
	if (!strncasecmp(host, "ipv6:", 5))
		host += 5;
	if (!hop->use_mx && netaddr_parse(host, &hop->literal) == 0) {
		hop->is_literal = 1;
		netaddr_format(&hop->literal, hop->host, sizeof(hop->host));
		return 0;
	}
	if (!dns_name_valid(host))
		return -1;
	strlcpy(hop->host, host, sizeof(hop->host));
	return 0;
}

/* Where a recipient goes: nexthop, relayhost or its domain (NULL: none). */
static const char *
smtp_rcpt_nexthop(struct deliver_ctx *ctx, const struct deliver_request *req,
    const struct deliver_rcpt *r)
{
	const char *at;

	if (req->nexthop != NULL)
		return req->nexthop;
	if (*ctx->smtp->relayhost != '\0')
		return ctx->smtp->relayhost;
	at = strrchr(r->address, '@');
	return at != NULL && at[1] != '\0' ? at + 1 : NULL;
}

/* smtp_add_host: the A then AAAA records of host, up to max targets. */
static void
smtp_add_host(struct smtp_conf *c, const char *host, int port,
    struct smtp_target *t, size_t *n, size_t max, int *tempfail,
    struct buf *why)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct netaddr *addrs;
	char err[512];
	size_t i, j, count;
	int rc;

	for (i = 0; i < 2 && *n < max; i++) {
		rc = dns_lookup_addr(c->dns, host, families[i], &addrs, &count,
		    err, sizeof(err));
		if (rc != DNS_OK) {
			if (rc == DNS_TEMPFAIL)
				*tempfail = 1;
			if ((rc != DNS_NOTFOUND && rc != DNS_NXDOMAIN) ||
			    why->len == 0) {
				buf_reset(why);
				buf_puts(why, err);
			}
			continue;
		}
		for (j = 0; j < count && *n < max; j++) {
			strlcpy(t[*n].host, host, sizeof(t[*n].host));
			t[*n].addr = addrs[j];
			t[*n].port = port;
			(*n)++;
		}
		free(addrs);
	}
}

/*
 * smtp_targets: the addresses to try for hop, in order; 0, or -1 with the
 * verdict for every recipient in fail.
 */
static int
smtp_targets(struct smtp_conf *c, const struct smtp_hop *hop,
    struct smtp_target *t, size_t *n, struct smtp_failure *fail)
{
	struct dns_mx *mx = NULL;
	size_t nmx = 0, i, max;
	char err[512];
	int rc, tempfail = 0;

	*n = 0;
	max = c->mx_address_limit > 0 && c->mx_address_limit < SMTP_TARGETS_MAX ?
	    c->mx_address_limit : SMTP_TARGETS_MAX;
	buf_reset(&fail->text);
	if (hop->is_literal) {
		strlcpy(t[0].host, hop->host, sizeof(t[0].host));
		t[0].addr = hop->literal;
		t[0].port = hop->port;
		*n = 1;
		return 0;
	}
	if (hop->use_mx) {
		rc = dns_lookup_mx(c->dns, hop->host, &mx, &nmx, err,
		    sizeof(err));
		if (rc == DNS_TEMPFAIL || rc == DNS_PERMFAIL ||
		    rc == DNS_NXDOMAIN) {
			strlcpy(fail->dsn, rc == DNS_TEMPFAIL ? "4.4.3" :
			    "5.4.4", sizeof(fail->dsn));
			buf_puts(&fail->text, err);
			return -1;
		}
		if (rc == DNS_OK && nmx == 1 && mx[0].host[0] == '\0') {
			free(mx);
			strlcpy(fail->dsn, "5.1.10", sizeof(fail->dsn));
			buf_printf(&fail->text, "Domain %s does not accept mail "
			    "(nullMX)", hop->host);
			return -1;
		}
	}
	if (nmx == 0)
		smtp_add_host(c, hop->host, hop->port, t, n, max, &tempfail,
		    &fail->text);
	for (i = 0; i < nmx && *n < max; i++)
		if (mx[i].host[0] != '\0')
			smtp_add_host(c, mx[i].host, hop->port, t, n, max,
			    &tempfail, &fail->text);
	free(mx);
	if (*n > 0)
		return 0;
	strlcpy(fail->dsn, tempfail ? "4.4.3" : "5.4.4", sizeof(fail->dsn));
	if (fail->text.len == 0)
		buf_printf(&fail->text, "no address for %s", hop->host);
	return -1;
}

/* smtp_destination: deliver to one next hop; every rcpt gets a status. */
static void
smtp_destination(struct deliver_ctx *ctx, struct deliver_request *req,
    struct deliver_rcpt **rcpts, size_t n, int qfd, const char *nexthop,
    const struct timeval *start)
{
	struct smtp_target t[SMTP_TARGETS_MAX];
	struct smtp_failure fail;
	struct smtp_hop hop;
	struct timeval conn;
	char relay[sizeof(fail.relay)];
	size_t nt = 0, i;
	int done = 0;

	memset(&fail, 0, sizeof(fail));
	buf_init(&fail.text);
	strlcpy(fail.relay, "none", sizeof(fail.relay));
	strlcpy(relay, "none", sizeof(relay));
	if (smtp_hop_parse(nexthop, ctx->smtp->port, &hop) == -1) {
		strlcpy(fail.dsn, "4.3.5", sizeof(fail.dsn));
		buf_printf(&fail.text, "bad next hop \"%s\" in relayhost or "
		    "transport_maps", nexthop);
	} else if ((done = smtp_session_reuse(ctx->smtp, req, nexthop, rcpts,
	    n, qfd, &fail, &conn, relay, sizeof(relay))) == 0 &&
	    smtp_targets(ctx->smtp, &hop, t, &nt, &fail) == 0) {
		for (i = 0; i < nt && !done; i++) {
			/* Only the last server's 5xx greeting bounces. */
			done = smtp_session_run(ctx->smtp, req, nexthop, rcpts,
			    n, qfd,
			    &t[i], &fail, &conn, relay, sizeof(relay));
		}
	}
	if (!done) {
		gettimeofday(&conn, NULL);
		strlcpy(relay, fail.relay, sizeof(relay));
		for (i = 0; i < n; i++)
			deliver_rcpt_set(rcpts[i], fail.dsn, "%s",
			    fail.text.data ? fail.text.data : "");
	}
	for (i = 0; i < n; i++)
		deliver_log_status(req, rcpts[i], relay, start, &conn);
	buf_free(&fail.text);
}

void
deliver_smtp(struct deliver_ctx *ctx, struct deliver_request *req, int qfd,
    const struct timeval *start)
{
	struct deliver_rcpt **group;
	const char *hop, *other;
	char *done;
	size_t i, j, n;

	smtp_cache_expire(ctx->smtp, 0);
	group = xcalloc(req->nrcpts, sizeof(*group));
	done = xcalloc(req->nrcpts, 1);
	for (i = 0; i < req->nrcpts; i++) {
		if (done[i])
			continue;
		hop = smtp_rcpt_nexthop(ctx, req, &req->rcpts[i]);
		if (!smtp_address_ok(req->rcpts[i].address) || hop == NULL ||
		    !smtp_address_ok(req->sender)) {
			if (!smtp_address_ok(req->sender))
				deliver_rcpt_set(&req->rcpts[i], "5.1.7",
				    "bad sender address syntax");
			else
				deliver_rcpt_set(&req->rcpts[i], "5.1.3",
				    "bad address syntax");
			deliver_log_status(req, &req->rcpts[i], "none", start,
			    start);
			done[i] = 1;
			continue;
		}
		for (n = 0, j = i; j < req->nrcpts; j++) {
			if (done[j] || !smtp_address_ok(req->rcpts[j].address))
				continue;
			other = smtp_rcpt_nexthop(ctx, req, &req->rcpts[j]);
			if (other != NULL && !strcasecmp(hop, other)) {
				group[n++] = &req->rcpts[j];
				done[j] = 1;
			}
		}
		smtp_destination(ctx, req, group, n, qfd, hop, start);
	}
	free(done);
	free(group);
}
