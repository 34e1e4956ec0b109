/*
 * smtpd: declarations shared by the SMTP server's files: the settings read
 * once at startup (struct smtpd_conf), one client's session (struct
 * smtpd_session), and what each file provides. smtpd.c starts the daemon,
 * smtpd_session.c runs the command table, smtpd_envelope.c does MAIL/RCPT,
 * smtpd_policy.c decides on recipients, smtpd_data.c receives DATA.
 */
#ifndef POSTILION_SMTPD_H
#define POSTILION_SMTPD_H

#include <sys/time.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "core/buf.h"
#include "core/iobuf.h"
#include "core/netaddr.h"
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
	SMTPD_CMD_MAIL,
	SMTPD_CMD_RCPT,
	SMTPD_CMD_DATA,
	SMTPD_CMD_RSET,
	SMTPD_CMD_NOOP,
	SMTPD_CMD_VRFY,
	SMTPD_CMD_QUIT,
	SMTPD_CMD_UNKNOWN,
	SMTPD_NCMDS
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
	char	**virtual_domains;	/* lower case names */
	size_t	 nvirtual_domains;
	struct map_list *virtual_domain_maps;	/* "type:name" entries */
	struct map_list *virtual_mailbox_maps;
	struct netaddr_list *mynetworks;
};

struct smtpd_session {
	struct smtpd_conf *conf;
	struct iobuf io;
	struct buf line;
	int	 dead;			/* I/O failed: no more replies */
	int	 quit;			/* close after this reply */
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
};

/* smtpd_session.c */
void	smtpd_session(int, void *);
void	smtpd_reply(struct smtpd_session *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	smtpd_flush(struct smtpd_session *);
void	smtpd_io_failed(struct smtpd_session *, int);
const char *smtpd_protocol(const struct smtpd_session *);
const char *smtpd_queue_id(const struct smtpd_session *);

/* smtpd_envelope.c */
const char *smtpd_check_mail(struct smtpd_session *);
const char *smtpd_check_rcpt(struct smtpd_session *);
int	smtpd_mail(struct smtpd_session *, const char *, size_t);
int	smtpd_rcpt(struct smtpd_session *, const char *, size_t);
void	smtpd_transaction_reset(struct smtpd_session *);

/* smtpd_policy.c */
#define SMTPD_ACCEPT	0
#define SMTPD_REJECT	1
/*
 * smtpd_rcpt_policy: decide on a recipient: address is the stored form
 * (domain in lower case), shown is the address as the client gave it (for
 * the reply). A refusal's reply text goes to reply.
 */
int	smtpd_rcpt_policy(struct smtpd_session *, const char *address,
	    const char *domain, const char *shown, char *reply, size_t);

/* smtpd_data.c */
const char *smtpd_check_data(struct smtpd_session *);
int	smtpd_data(struct smtpd_session *, const char *, size_t);

#endif
