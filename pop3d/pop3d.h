/*
 * pop3d: the POP3 server (RFC 1939, RFC 2449) over the Maildir store, one
 * client at a time per pooled process. This header is shared by the
 * daemon's files: the daemon context (pop3d.c), the session loop and its
 * command table (session.c), STLS and implicit TLS (tls.c), login: USER,
 * PASS and AUTH (auth.c), the mailbox snapshot (mailbox.c) and the
 * TRANSACTION commands (transaction.c).
 */
#ifndef POSTILION_POP3D_H
#define POSTILION_POP3D_H

#include <sys/types.h>
#include <netinet/in.h>
#include <time.h>

#include "auth/auth.h"
#include "conf/config.h"
#include "core/iobuf.h"
#include "map/map.h"
#include "proto/pop3.h"
#include "tls/tls_server.h"

#define POP3D_USER_MAX		255	/* a full address (RFC 5321: 254) */
#define POP3D_ADDR_MAX		INET6_ADDRSTRLEN
#define POP3D_OUTBUF_FLUSH	(64 * 1024)	/* bound pipelined output */
#define POP3D_READ_CHUNK	(64 * 1024)	/* RETR/TOP streaming */
#define POP3D_LOCK_WAIT_MS	1000	/* before [IN-USE] */
#define POP3D_LOCK_POLL_MS	50
#define POP3D_UIDLIST_MAX	(32 * 1024 * 1024)	/* dovecot-uidlist */
/* One SASL response line: AUTH_SASL_MAX bytes in base64, plus CRLF. */
#define POP3D_SASL_LINE_MAX	((AUTH_SASL_MAX + 2) / 3 * 4 + 2)

/* pop3d_tls_security_level */
#define POP3D_TLS_NONE		0	/* no STLS */
#define POP3D_TLS_MAY		1	/* STLS offered (if there is a certificate) */
#define POP3D_TLS_ENCRYPT	2	/* no login without TLS, even locally */

#define POP3_STATE_AUTH		0x01	/* AUTHORIZATION */
#define POP3_STATE_TRANS	0x02	/* TRANSACTION */

/* What a command handler tells the session loop. */
#define POP3_CMD_OK		0	/* replied; carry on */
#define POP3_CMD_BAD		1	/* replied -ERR; counts as a bad command */
#define POP3_CMD_CLOSE		2	/* replied; end the session */

/* The daemon: everything opened before the privilege drop, and limits. */
struct pop3d {
	struct config *cfg;
	struct map_list *password_maps;		/* virtual_password_maps */
	struct map_list *mailbox_maps;		/* virtual_mailbox_maps */
	int	 basefd;			/* virtual_mailbox_base */
	int	 timeout;			/* pop3d_timeout */
	size_t	 line_max;			/* pop3d_line_length_limit */
	long long error_limit;			/* pop3d_hard_error_limit */
	long long auth_failure_limit;		/* pop3d_auth_failure_limit */
	long long auth_failure_delay;		/* pop3d_auth_failure_delay */
	long long client_auth_limit;	/* pop3d_client_auth_failure_limit */
	long long auth_window;			/* anvil_rate_time_unit */
	int	 auth_table_fd;			/* AUTH_FAILURES_FILE or -1 */
	struct ssl_ctx_st *tls_ctx;		/* NULL: no TLS at all */
	int	 tls_level;			/* POP3D_TLS_* */
	int	 tls_wrapper;			/* pop3d_tls_wrappermode (995) */
	int	 tls_auth_only;			/* pop3d_tls_auth_only */
};

struct pop3_msg {
	char	*name;		/* "new/FILE" or "cur/FILE", relative to mdfd */
	off_t	 size;		/* bytes on disk */
	off_t	 octets;	/* size as sent (CRLF); -1 until known */
	char	*uidl;		/* from dovecot-uidlist; NULL: the base name */
	int	 deleted;
	int	 retrieved;	/* RETR sent it: \Seen when the session ends */
};

struct pop3_stats {
	unsigned long top, retr, del;
	off_t	 top_bytes, retr_bytes;
};

struct pop3_session {
	struct pop3d *d;
	struct iobuf io;
	int	 state;
	int	 broken;		/* I/O failed: end now, expunge nothing */
	const char *reason;		/* for the disconnect log line */
	char	 user[POP3D_USER_MAX + 1];	/* lower case; "" if none */
	int	 have_user;		/* USER accepted, PASS may follow */
	const char *method;		/* "PLAIN" (USER/PASS too) or "LOGIN" */
	int	 tls;			/* the session runs over TLS */
	int	 plaintext_refused;	/* a login was tried without TLS */
	char	 rip[POP3D_ADDR_MAX];
	char	 lip[POP3D_ADDR_MAX];
	time_t	 start;
	long long auth_attempts;
	long long bad_commands;
	int	 mdfd;			/* the Maildir, -1 before login */
	int	 lockfd;		/* MAILBOX_LOCK_POP3 held, or -1 */
	struct pop3_msg *msgs;
	size_t	 nmsgs;
	off_t	 size_all;		/* as-sent size of all; -1 unknown */
	struct pop3_stats stats;
};

/* session.c: the loop, and the commands valid in every state. */
void	pop3_session(int fd, struct pop3d *);
/* pop3_flush_if_full: keep pipelined output bounded; -1 (broken) on error. */
int	pop3_flush_if_full(struct pop3_session *);
/* pop3_session_io: reply to an iobuf_getline result other than a line. */
int	pop3_session_io(struct pop3_session *, int);
int	pop3_cmd_capa(struct pop3_session *, const struct pop3_command *);
int	pop3_cmd_quit(struct pop3_session *, const struct pop3_command *);

/* tls.c: STLS (RFC 2595) and the implicit TLS of pop3s (995). */
int	pop3_cmd_stls(struct pop3_session *, const struct pop3_command *);
/* pop3_tls_wrapper: the handshake before the greeting; 0 or -1 (logged). */
int	pop3_tls_wrapper(struct pop3_session *);
/* pop3_tls_offered: STLS may be used now (CAPA, STLS). */
int	pop3_tls_offered(const struct pop3_session *);
/* pop3_login_allowed: USER/PASS and SASL PLAIN/LOGIN may be used now. */
int	pop3_login_allowed(const struct pop3_session *);

/* auth.c: AUTHORIZATION commands. */
int	pop3_cmd_user(struct pop3_session *, const struct pop3_command *);
int	pop3_cmd_pass(struct pop3_session *, const struct pop3_command *);
int	pop3_cmd_auth(struct pop3_session *, const struct pop3_command *);

/* transaction.c: TRANSACTION commands. */
int	pop3_cmd_stat(struct pop3_session *, const struct pop3_command *);
int	pop3_cmd_list(struct pop3_session *, const struct pop3_command *);
int	pop3_cmd_uidl(struct pop3_session *, const struct pop3_command *);
int	pop3_cmd_retr(struct pop3_session *, const struct pop3_command *);
int	pop3_cmd_top(struct pop3_session *, const struct pop3_command *);
int	pop3_cmd_dele(struct pop3_session *, const struct pop3_command *);
int	pop3_cmd_rset(struct pop3_session *, const struct pop3_command *);
int	pop3_cmd_noop(struct pop3_session *, const struct pop3_command *);

/* mailbox.c: the snapshot taken at login and what QUIT commits. */
#define POP3_MAILBOX_INUSE	-2	/* another session holds the lock */
/* pop3_mailbox_open: lock and snapshot; 0, -1 or POP3_MAILBOX_INUSE. */
int	pop3_mailbox_open(struct pop3_session *, const char *relpath);
void	pop3_mailbox_close(struct pop3_session *);
/* pop3_mailbox_unlock: let the next session in (idempotent). */
void	pop3_mailbox_unlock(struct pop3_session *);
/* pop3_mailbox_update: unlink deleted messages; -1 if any remained. */
int	pop3_mailbox_update(struct pop3_session *);
/* pop3_mailbox_mark_old: new/ -> cur/, RETR'd get \Seen (best effort). */
void	pop3_mailbox_mark_old(struct pop3_session *);
/* pop3_msg_open: the message's file (found again if renamed); fd or -1. */
int	pop3_msg_open(struct pop3_session *, struct pop3_msg *);
/* pop3_msg_octets: the size as sent, computed once; -1 on error. */
off_t	pop3_msg_octets(struct pop3_session *, struct pop3_msg *, int fd);
/* pop3_msg_uidl: the unique-id listing into uidl (POP3_UIDL_MAX + 1). */
void	pop3_msg_uidl(const struct pop3_msg *, char *uidl, size_t);
/* pop3_mailbox_octets: total as-sent size of all or of undeleted ones. */
int	pop3_mailbox_octets(struct pop3_session *, int all, off_t *);

#endif
