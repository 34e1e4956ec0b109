/*
 * deliver_smtp.h: internals of the smtp transport shared by its files:
 * deliver_smtp.c (next hop, DNS, targets), deliver_smtp_session.c (one
 * SMTP conversation with one server) and deliver_smtp_auth.c (AUTH).
 */
#ifndef POSTILION_DELIVER_SMTP_H
#define POSTILION_DELIVER_SMTP_H

#include <sys/time.h>

#include "core/buf.h"
#include "core/iobuf.h"
#include "core/netaddr.h"
#include "deliver/deliver.h"
#include "dns/dns.h"
#include "proto/smtp_reply.h"

#define SMTP_TLS_NONE		0
#define SMTP_TLS_MAY		1
#define SMTP_TLS_ENCRYPT	2

struct ssl_ctx_st;
struct map_list;

struct smtp_conf {
	struct dns *dns;
	struct ssl_ctx_st *tls_ctx;	/* NULL with smtp_tls_security_level none */
	int	 tls_level;		/* SMTP_TLS_* */
	struct map_list *sasl_maps;	/* NULL unless smtp_sasl_auth_enable */
	const char *helo_name;
	const char *relayhost;
	int	 port;			/* smtp_tcp_port */
	int	 connect_timeout;
	int	 helo_timeout;
	int	 mail_timeout;
	int	 rcpt_timeout;
	int	 data_init_timeout;
	int	 data_xfer_timeout;
	int	 data_done_timeout;
	int	 quit_timeout;
	size_t	 mx_address_limit;	/* smtp_mx_address_limit */
	size_t	 reply_lines;		/* smtp_reply_lines_limit */
	size_t	 reply_line_max;	/* line_length_limit */
	size_t	 wrap;			/* smtp_line_length_limit, 0 = off */
	int	 rset_timeout;		/* smtp_rset_timeout */
	int	 cache_time;		/* smtp_connection_cache_time_limit, 0 = off */
	int	 reuse_limit;		/* smtp_connection_reuse_count_limit, 0 = any */
	struct smtp_cached *cache;	/* one idle session kept for reuse */
};

struct smtp_target {
	char	 host[DNS_NAME_MAX];
	struct netaddr addr;
	int	 port;
};

/* The outcome of one attempt when it did not settle every recipient. */
struct smtp_failure {
	char	 dsn[DELIVER_DSN_MAX];
	struct buf text;
	char	 relay[DNS_NAME_MAX + NETADDR_STRLEN + 48];	/* + conn_use= */
};

/*
 * smtp_session_run: deliver the message to one server. Returns 1 when
 * every recipient in rcpts has a status, 0 when the caller should try the
 * next server (why in fail; no recipient was touched). conn gets the time
 * the session was set up, relay the log's "host[addr]:port".
 */
int	smtp_session_run(struct smtp_conf *, struct deliver_request *,
	    const char *nexthop, struct deliver_rcpt **rcpts, size_t nrcpts,
	    int qfd, const struct smtp_target *, struct smtp_failure *fail,
	    struct timeval *conn, char *relay, size_t relaylen);

/*
 * smtp_session_reuse: the same, over the session cached for nexthop (if
 * any, younger than smtp_connection_cache_time_limit and alive after
 * RSET). 0 when there is none or it is stale: the caller connects anew.
 */
int	smtp_session_reuse(struct smtp_conf *, struct deliver_request *,
	    const char *nexthop, struct deliver_rcpt **rcpts, size_t nrcpts,
	    int qfd, struct smtp_failure *fail, struct timeval *conn,
	    char *relay, size_t relaylen);
/* smtp_cache_expire: QUIT and close the cached session if too old (or all). */
void	smtp_cache_expire(struct smtp_conf *, int all);

/* Extensions from the EHLO reply. */
#define SMTP_FEAT_PIPELINING	0x01
#define SMTP_FEAT_SIZE		0x02
#define SMTP_FEAT_8BITMIME	0x04
#define SMTP_FEAT_DSN		0x08
#define SMTP_FEAT_STARTTLS	0x10
#define SMTP_FEAT_AUTH_PLAIN	0x20
#define SMTP_FEAT_AUTH_LOGIN	0x40

/* One SMTP conversation (deliver_smtp_session.c). */
struct smtp_session {
	struct smtp_conf *conf;
	struct deliver_request *req;
	struct deliver_rcpt **rcpts;
	size_t	 nrcpts;
	int	*accepted;
	int	 qfd;
	char	 peer[DNS_NAME_MAX + NETADDR_STRLEN + 4];	/* host[addr] */
	const char *relay;		/* host[addr]:port */
	const char *servername;		/* SNI, NULL for an address */
	const char *nexthop;		/* as given: smtp_sasl_password_maps key */
	const char *host;		/* the server's name: second key */
	int	 tls_active;
	int	 tls_skip;		/* plaintext retry after a failed handshake */
	int	 tls_failed;		/* the handshake failed */
	struct iobuf io;
	struct smtp_reply reply;
	struct buf line;
	int	 features;
	int	 parsing_ehlo;
	int	 broken;		/* I/O failed: no QUIT, just close */
	unsigned long long size_limit;
	struct smtp_failure *fail;
	/* Wire state of the message body. */
	int	 bol;			/* at the start of a line */
	int	 pending_cr;		/* a CR not yet known to be CRLF */
	size_t	 col;			/* bytes on the current line */
};

/* smtp_fail: record why this server did not work out (dsn, text). */
void	smtp_fail(struct smtp_session *, const char *dsn, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* smtp_send: flush output within timeout; 0, or -1 with the failure set. */
int	smtp_send(struct smtp_session *, int timeout, const char *when);
/* smtp_read_reply: one whole reply into s->reply; 0, or -1 (failure set). */
int	smtp_read_reply(struct smtp_session *, int timeout, const char *when);
/* deliver_smtp_auth.c: the EHLO AUTH line, and AUTH itself (0 or -1). */
void	smtp_ehlo_auth(struct smtp_session *, const char *mechanisms);
int	smtp_auth(struct smtp_session *);

/* smtp_address_ok: printable ASCII without spaces or '<>': safe on the wire. */
int	smtp_address_ok(const char *);

#endif
