/*
 * smtpd: declarations shared by the SMTP server's files: the settings read
 * once at startup (struct smtpd_conf), one client's session (struct
 * smtpd_session), and what each file provides. smtpd.c starts the daemon,
 * smtpd_session.c runs the command table, smtpd_io.c holds the deadline
 * and the per-IP connection table, smtpd_envelope.c does MAIL/RCPT,
 * smtpd_resolve.c classifies recipients, smtpd_policy.c runs the
 * restriction lists, smtpd_data.c receives DATA and BDAT, smtpd_tls.c
 * does STARTTLS and implicit TLS, smtpd_auth.c does AUTH and sender
 * login ownership.
 */
#ifndef POSTILION_SMTPD_H
#define POSTILION_SMTPD_H

#include <sys/time.h>
#include <stddef.h>
#include <time.h>
#include <stdint.h>

#include "conf/config.h"
#include "core/buf.h"
#include "core/iobuf.h"
#include "core/netaddr.h"
#include "auth/auth.h"
#include "map/map.h"
#include "proto/smtp_addr.h"
#include "queue/queue.h"

#define SMTPD_HOST_MAX		255	/* client host name, HELO name */
#define SMTPD_REPLY_MAX		1024
/* An address after "@$myorigin" may have been appended to it. */
#define SMTPD_ADDRESS_MAX	(SMTP_ADDRESS_MAX + 1 + SMTP_DOMAIN_MAX)

/* The command table's counters, in Postfix's order for the disconnect line. */
enum smtpd_cmd_index {
	SMTPD_CMD_HELO,
	SMTPD_CMD_EHLO,
	SMTPD_CMD_STARTTLS,
	SMTPD_CMD_AUTH,
	SMTPD_CMD_MAIL,
	SMTPD_CMD_RCPT,
	SMTPD_CMD_DATA,
	SMTPD_CMD_BDAT,
	SMTPD_CMD_RSET,
	SMTPD_CMD_NOOP,
	SMTPD_CMD_VRFY,
	SMTPD_CMD_EXPN,
	SMTPD_CMD_HELP,
	SMTPD_CMD_QUIT,
	SMTPD_CMD_UNKNOWN,
	SMTPD_NCMDS
};

/* smtpd_forbid_bare_newline */
#define SMTPD_BARE_NORMALIZE	0
#define SMTPD_BARE_REJECT	1
#define SMTPD_BARE_NO		2

/* smtpd_tls_security_level */
#define SMTPD_TLS_NONE		0
#define SMTPD_TLS_MAY		1
#define SMTPD_TLS_ENCRYPT	2

#define SMTPD_TLS_INFO_MAX	160

struct ssl_ctx_st;

/* One element of a restriction list: a name and, for check_*_access, a map. */
struct smtpd_restriction {
	char	*name;
	struct map_list *map;
	char	*map_spec;
};

struct smtpd_restrictions {
	const char *param;
	struct smtpd_restriction *list;
	size_t	 count;
};

enum smtpd_restriction_list {
	SMTPD_R_CLIENT,
	SMTPD_R_HELO,
	SMTPD_R_SENDER,
	SMTPD_R_RELAY,
	SMTPD_R_RECIPIENT,
	SMTPD_R_NLISTS
};

struct smtpd_conf {
	struct config *cfg;
	const char *myhostname;
	const char *myorigin;
	const char *mail_name;
	const char *banner;
	long long message_size_limit;	/* 0: no limit */
	long long recipient_limit;
	long long timeout;
	long long hard_error_limit;
	long long junk_command_limit;
	long long line_length_limit;
	long long header_size_limit;
	long long hopcount_limit;
	long long soft_error_limit;
	long long error_sleep_time;
	long long conn_count_limit;	/* 0: no limit */
	int	 forbid_bare_newline;	/* SMTPD_BARE_* */
	int	 smtputf8;		/* smtputf8_enable */
	struct netaddr_list *bare_newline_exclusions;
	struct netaddr_list *event_exceptions;	/* no per-IP limits */
	struct queue_pool queue_pool;	/* recycle/: files to reuse */
	int	 conn_table_fd;		/* smtpd_io.c, -1 until opened */
	int	 rate_table_fd;		/* smtpd_io.c, -1 until opened */
	long long rate_limit;		/* connections per rate_unit, 0: off */
	long long rate_unit;		/* anvil_rate_time_unit, seconds */
	char	**virtual_domains;	/* lower case names */
	size_t	 nvirtual_domains;
	struct map_list *virtual_domain_maps;	/* "type:name" entries */
	struct map_list *virtual_mailbox_maps;
	struct netaddr_list *mynetworks;
	char	**mydestination;	/* lower case names */
	size_t	 nmydestination;
	char	**relay_domains;
	size_t	 nrelay_domains;
	char	**virtual_alias_domains;
	size_t	 nvirtual_alias_domains;
	struct map_list *virtual_alias_maps;
	struct map_list *alias_maps;	/* NULL when it could not be opened */
	int	 alias_maps_unavailable;	/* warned at first need */
	char	 alias_maps_error[256];
	int	 forbid_unauth_pipelining;
	char	**local_users;		/* sorted; passwd snapshot at startup */
	size_t	 nlocal_users;
	struct smtpd_restrictions restrictions[SMTPD_R_NLISTS];

	/* smtpd_tls.c and smtpd_auth.c */
	struct ssl_ctx_st *tls_ctx;	/* NULL: no TLS */
	int	 tls_level;		/* SMTPD_TLS_* */
	int	 tls_wrapper;		/* smtpd_tls_wrappermode */
	int	 tls_auth_only;
	int	 sasl_enable;
	int	 sasl_header;		/* ..._authenticated_header */
	int	 sasl_hide_client;	/* smtpd_sasl_hide_client */
	long long auth_failure_limit;	/* per IP and window, 0: none */
	int	 auth_table_fd;		/* smtpd_io.c, -1 at first */
	struct map_list *password_maps;	/* NULL: could not be opened */
	char	 password_maps_error[256];
	struct map_list *sender_login_maps;	/* NULL when unset */
};

struct smtpd_session {
	struct smtpd_conf *conf;
	struct iobuf io;
	struct buf line;
	int	 dead;			/* I/O failed: no more replies */
	int	 quit;			/* close after this reply */
	struct timespec deadline;	/* of the command or line being read */
	int	 conn_slot;		/* smtpd_io.c connection table, -1 */
	const char *where;		/* last command, for "timeout after" */
	uint64_t data_bytes;		/* while where is "DATA" */

	/* the client */
	char	 client_name[SMTPD_HOST_MAX + 1];
	char	 client_addr[NETADDR_STRLEN];
	char	 client_rfc_addr[NETADDR_STRLEN + 5];	/* IPv6:... */
	struct netaddr client_ip;
	int	 have_ip;
	char	 helo[SMTPD_HOST_MAX + 1];	/* "" until HELO/EHLO */
	int	 esmtp;
	int	 trusted;		/* in mynetworks */
	int	 ill_pipelining;	/* "improper command pipelining" logged */
	int	 tls;			/* the session goes through TLS */
	char	 tls_info[SMTPD_TLS_INFO_MAX];	/* "TLSv1.3 with cipher" */
	const char *sasl_method;	/* NULL until AUTH succeeded */
	char	 sasl_user[AUTH_USER_MAX + 1];
	long long auth_failures;

	/* counters */
	unsigned int cmd_ok[SMTPD_NCMDS];
	unsigned int cmd_total[SMTPD_NCMDS];
	long long errors;
	long long junk;

	/* the mail transaction */
	int	 in_mail;
	char	 sender[SMTPD_ADDRESS_MAX + 1];
	struct timeval arrival;
	char	**rcpts;		/* accepted, as stored */
	size_t	 nrcpts;
	size_t	 rcpt_count;		/* accepted RCPT commands */
	int	 queue_open;
	struct queue_writer queue;
	int	 smtputf8;		/* MAIL ... SMTPUTF8 */
	char	 dsn_envid[101];	/* RFC 3461: at most 100 characters */
	char	 dsn_ret[5];		/* FULL, HDRS or "" */
	long long declared_size;	/* MAIL ... SIZE=, 0 if none */
	int	 discard;		/* an access map said DISCARD */
	int	 hold;			/* an access map said HOLD */
	struct smtpd_data_state *bdat;	/* between BDAT chunks */
	int	 bdat_failed;		/* discard chunks until the LAST one */
};

/* smtpd_io.c */
void	smtpd_io_init(struct smtpd_session *);
void	smtpd_deadline_start(struct smtpd_session *);
int	smtpd_input_pending(struct smtpd_session *);
/* smtpd_conn_enter: 0, or -1 when the client is over its connection limit */
int	smtpd_conn_enter(struct smtpd_session *, long long *count);
void	smtpd_conn_leave(struct smtpd_session *);
/* smtpd_rate_enter: 0, or -1 when the client connects too often */
int	smtpd_rate_enter(struct smtpd_session *, long long *count);
/* smtpd_auth_failures: this IP's failed logins in the window (+ add). */
long long smtpd_auth_failures(struct smtpd_session *, int add);

/* smtpd_session.c */
void	smtpd_session(int, void *);
void	smtpd_reply(struct smtpd_session *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	smtpd_flush(struct smtpd_session *);
void	smtpd_io_failed(struct smtpd_session *, int);
const char *smtpd_protocol(const struct smtpd_session *);
/* smtpd_received_protocol: RFC 3848's ESMTPS, ESMTPA, ESMTPSA... */
const char *smtpd_received_protocol(const struct smtpd_session *);
/* smtpd_session_reset: forget what the client said before STARTTLS. */
void	smtpd_session_reset(struct smtpd_session *);
const char *smtpd_queue_id(const struct smtpd_session *);

/* smtpd_tls.c */
void	smtpd_tls_load(struct smtpd_conf *);
int	smtpd_starttls(struct smtpd_session *, const char *, size_t);
/* smtpd_tls_wrapper: the handshake of implicit TLS; -1 ends the session. */
int	smtpd_tls_wrapper(struct smtpd_session *);
/* smtpd_tls_required: the 530 refusal when TLS must come first, or NULL. */
const char *smtpd_tls_required(struct smtpd_session *);

/* smtpd_auth.c */
void	smtpd_auth_load(struct smtpd_conf *);
int	smtpd_auth(struct smtpd_session *, const char *, size_t);
/* smtpd_auth_offered: the mechanisms EHLO lists, or NULL for none. */
const char *smtpd_auth_offered(struct smtpd_session *);
/*
 * smtpd_sender_login: reject_sender_login_mismatch for sender (stored
 * form): 0 allowed, 1 refused (reply set), -1 lookup failure (reply set).
 */
int	smtpd_sender_login(struct smtpd_session *, const char *sender,
	    char *reply, size_t);

/* smtpd_envelope.c */
const char *smtpd_check_mail(struct smtpd_session *);
const char *smtpd_check_rcpt(struct smtpd_session *);
int	smtpd_mail(struct smtpd_session *, const char *, size_t);
int	smtpd_rcpt(struct smtpd_session *, const char *, size_t);
void	smtpd_transaction_reset(struct smtpd_session *);

/* smtpd_resolve.c: what a recipient domain is to us */
enum smtpd_class {
	SMTPD_CLASS_FOREIGN,	/* relay only for trusted clients */
	SMTPD_CLASS_LOCAL,	/* mydestination */
	SMTPD_CLASS_VIRTUAL,	/* virtual_mailbox_domains */
	SMTPD_CLASS_ALIAS,	/* found in virtual_alias_maps */
	SMTPD_CLASS_RELAY	/* relay_domains */
};

struct smtpd_resolved {
	char	 local[SMTPD_ADDRESS_MAX + 1];	/* dequoted */
	char	 domain[SMTP_DOMAIN_MAX + 1];	/* lower case, no final dot */
	char	 address[SMTPD_ADDRESS_MAX * 2 + 2];	/* lower case key */
	enum smtpd_class class;
	int	 alias;			/* a virtual_alias_maps entry exists */
};

/* smtpd_resolve: -1 when a table lookup failed (tempfail). */
int	smtpd_resolve(struct smtpd_session *, const char *address,
	    struct smtpd_resolved *);
int	smtpd_domain_in(char **, size_t, const char *);
int	smtpd_strcmp(const void *, const void *);	/* for char * arrays */
int	smtpd_virtual_domain(struct smtpd_session *, const char *);
/* smtpd_recipient_known: 1 yes, 0 unknown (reply set), -1 tempfail. */
int	smtpd_recipient_known(struct smtpd_session *,
	    const struct smtpd_resolved *, const char *shown, char *, size_t);

/* smtpd_policy.c */
#define SMTPD_ACCEPT	0
#define SMTPD_REJECT	1
#define SMTPD_DISCARD	2
#define SMTPD_HOLD	3
/*
 * smtpd_rcpt_policy: decide on a recipient: address is the stored form
 * (domain in lower case), shown is the address as the client gave it (for
 * the reply). A refusal's reply text goes to reply.
 */
int	smtpd_rcpt_policy(struct smtpd_session *, const char *address,
	    const char *shown, struct smtpd_resolved *, char *reply, size_t);
void	smtpd_restrictions_load(struct smtpd_conf *);

/* smtpd_data.c */
struct smtpd_data_state;
const char *smtpd_check_data(struct smtpd_session *);
int	smtpd_data(struct smtpd_session *, const char *, size_t);
int	smtpd_bdat(struct smtpd_session *, const char *, size_t);
void	smtpd_bdat_reset(struct smtpd_session *);
void	smtpd_wakeup_qmgr(const char *id);

#endif
