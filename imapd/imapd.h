/*
 * imapd: the IMAP4rev1 server (RFC 3501 and the extensions clients rely
 * on) over the Maildir++ store, one client per pooled process. Shared by
 * the daemon's files: main (imapd.c), the session loop and the commands
 * of any state (session.c), login and TLS (auth.c), mailbox names and the
 * mailbox list (mailboxes.c), the selected mailbox (select.c), writing
 * messages (append.c), FETCH/STORE (fetch.c), SEARCH (search.c), IDLE.
 */
#ifndef POSTILION_IMAPD_H
#define POSTILION_IMAPD_H

#include <sys/types.h>
#include <netinet/in.h>
#include <stdint.h>
#include <time.h>

#include "auth/auth.h"
#include "conf/config.h"
#include "core/buf.h"
#include "core/iobuf.h"
#include "mailbox/imap_index.h"
#include "map/map.h"
#include "proto/imap.h"

#define IMAPD_ADDR_MAX		INET6_ADDRSTRLEN
#define IMAPD_OUTBUF_FLUSH	(64 * 1024)
#define IMAPD_NAME_MAX		1024	/* a mailbox name, encoded */
#define IMAPD_PRELOGIN_LITERAL	8192	/* LOGIN/AUTHENTICATE strings */
#define IMAPD_SEQSET_MAX	10000	/* ranges in one sequence set */
#define IMAPD_FOLDERS_MAX	10000	/* folders LIST looks at */
#define IMAPD_SUBSCRIPTIONS	"subscriptions"

#define IMAP_STATE_NOTAUTH	0x01
#define IMAP_STATE_AUTH		0x02
#define IMAP_STATE_SELECTED	0x04

/* What a command handler tells the session loop. */
#define IMAP_CMD_OK		0
#define IMAP_CMD_BAD		1	/* replied BAD: counts to the limit */
#define IMAP_CMD_CLOSE		2	/* end the session */

struct ssl_ctx_st;

/*
 * A message in a session's view (sequence number = index + 1): what an
 * IDLE session needs of each, 16 bytes. Where its file is and what
 * INTERNALDATE and size it has are in struct imap_msg_file, loaded when
 * a command needs them and dropped while the session idles.
 */
struct imap_msg {
	uint32_t uid;
	uint32_t keywords;		/* bit i: the index's keyword i */
	uint64_t modseq : 56;
	uint64_t flags : 7;		/* IMAP_FLAG_* */
	uint64_t recent : 1;
};

struct imap_msg_file {
	char	*name;			/* NULL: gone since the view was made */
	off_t	 size;			/* on disk, LF line ends */
	time_t	 mtime;			/* INTERNALDATE */
};

struct imapd {
	struct config *cfg;
	struct map_list *password_maps;	/* virtual_password_maps */
	struct map_list *mailbox_maps;	/* virtual_mailbox_maps */
	int	 basefd;		/* virtual_mailbox_base */
	struct ssl_ctx_st *tls_ctx;	/* NULL: no STARTTLS or imaps */
	int	 tls_wrapper;		/* imapd_tls_wrappermode */
	int	 tls_auth_only;		/* imapd_tls_auth_only */
	int	 tls_encrypt;		/* imapd_tls_security_level=encrypt */
	int	 login_timeout;		/* imapd_login_timeout */
	int	 idle_timeout;		/* imapd_idle_timeout (>= 30 min) */
	int	 command_time;		/* imapd_command_time_limit */
	long long error_limit;		/* imapd_hard_error_limit */
	long long auth_failure_limit;	/* imapd_auth_failure_limit */
	long long auth_failure_delay;	/* imapd_auth_failure_delay */
	long long client_auth_limit;	/* imapd_client_auth_failure_limit */
	long long auth_window;		/* anvil_rate_time_unit */
	int	 auth_table_fd;		/* AUTH_FAILURES_FILE or -1 */
	struct imap_limits lim_pre;	/* before login */
	struct imap_limits lim_auth;	/* after */
};

struct imap_session {
	struct imapd *d;
	struct iobuf io;
	struct imap_reader rd;
	struct buf tagged;		/* the tagged reply, sent after updates */
	int	 state;
	int	 broken;
	int	 tls;
	const char *reason;		/* for the log line */
	char	 user[AUTH_USER_MAX + 1];
	char	 rip[IMAPD_ADDR_MAX];
	char	 lip[IMAPD_ADDR_MAX];
	time_t	 start;
	time_t	 deadline;		/* the running command's time limit */
	long long auth_attempts;
	long long bad_commands;
	unsigned long long in_bytes, out_bytes;
	int	 homefd;		/* the user's Maildir (INBOX) */
	int	 condstore;		/* CONDSTORE enabled (RFC 7162) */
	int	 qresync;		/* QRESYNC enabled: VANISHED */
	/* The selected mailbox. */
	int	 mdfd;
	int	 readonly;
	char	 selected[IMAPD_NAME_MAX + 1];
	struct imap_index idx;		/* the last sync: counters, keywords */
	struct imap_msg *msgs;		/* the session's view: seq = i + 1 */
	struct imap_msg_file *files;	/* beside msgs, or NULL: not loaded */
	size_t	 n;
	uint32_t uidvalidity;
	uint32_t uidnext;
	size_t	 keywords_sent;		/* keywords in the last FLAGS */
};

/* session.c */
void	imap_session(int fd, struct imapd *);
/* imap_flush_if_full: bound the output; -1 (broken) on error. */
int	imap_flush_if_full(struct imap_session *);
/* imap_overtime: the command ran past imapd_command_time_limit. */
int	imap_overtime(const struct imap_session *);
void	imap_reply(struct imap_session *, const struct imap_command *,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void	imap_capabilities(struct imap_session *, struct buf *);
int	imap_cmd_capability(struct imap_session *, struct imap_command *);
int	imap_cmd_noop(struct imap_session *, struct imap_command *);
int	imap_cmd_logout(struct imap_session *, struct imap_command *);
int	imap_cmd_id(struct imap_session *, struct imap_command *);
int	imap_cmd_enable(struct imap_session *, struct imap_command *);
int	imap_cmd_namespace(struct imap_session *, struct imap_command *);

/* auth.c */
int	imap_login_allowed(const struct imap_session *);
int	imap_cmd_login(struct imap_session *, struct imap_command *);
int	imap_cmd_authenticate(struct imap_session *, struct imap_command *);
int	imap_cmd_starttls(struct imap_session *, struct imap_command *);
int	imap_tls_wrapper(struct imap_session *);

/* mailboxes.c */
/*
 * imap_mailbox_path: the Maildir (relative to the user's) of a client's
 * mailbox name: "." for INBOX, ".Sent", ".Archive.2024". -1 when refused.
 */
int	imap_mailbox_path(const char *name, char *path, size_t pathlen);
/* imap_mailbox_open: the Maildir's fd, or -1 (errno). */
int	imap_mailbox_open(struct imap_session *, const char *name, int create);
void	imap_special_use_create(struct imap_session *);
int	imap_cmd_create(struct imap_session *, struct imap_command *);
int	imap_cmd_delete(struct imap_session *, struct imap_command *);
int	imap_cmd_rename(struct imap_session *, struct imap_command *);
int	imap_cmd_subscribe(struct imap_session *, struct imap_command *);
int	imap_cmd_unsubscribe(struct imap_session *, struct imap_command *);
int	imap_cmd_list(struct imap_session *, struct imap_command *);
int	imap_cmd_lsub(struct imap_session *, struct imap_command *);
int	imap_cmd_status(struct imap_session *, struct imap_command *);

/* select.c */
int	imap_cmd_select(struct imap_session *, struct imap_command *);
int	imap_cmd_close(struct imap_session *, struct imap_command *);
int	imap_cmd_unselect(struct imap_session *, struct imap_command *);
int	imap_cmd_expunge(struct imap_session *, struct imap_command *);
int	imap_cmd_check(struct imap_session *, struct imap_command *);
int	imap_uid_expunge(struct imap_session *, struct imap_command *,
	    const struct imap_arg *, size_t);
void	imap_unselect(struct imap_session *);
/* imap_sync: refresh the view and send EXISTS/RECENT/EXPUNGE/FETCH. */
void	imap_sync(struct imap_session *, int expunges_allowed);
/*
 * imap_msg_file: message i's file, its name NULL when it is gone; the
 * names of the whole view are loaded (one index sync) on first need.
 */
const struct imap_msg_file *imap_msg_file(struct imap_session *, size_t i);
/*
 * imap_msg_stat: the same, with the size and mtime from the file when the
 * index took the size from the name and has not stat'd it (mtime -1).
 */
const struct imap_msg_file *imap_msg_stat(struct imap_session *, size_t i);
/* imap_files_drop: forget the file names (IDLE), return the memory. */
void	imap_files_drop(struct imap_session *);
/* imap_msg_open: message i's file (found again if renamed); fd or -1. */
int	imap_msg_open(struct imap_session *, size_t i);
/* imap_msg_unlink: remove message i's file (found again if renamed). */
void	imap_msg_unlink(struct imap_session *, size_t i);
/* imap_msg_set_flags: rename message i's file for new flags; 0 or -1. */
int	imap_msg_set_flags(struct imap_session *, size_t i, unsigned flags,
	    uint32_t keywords);
void	imap_write_flags(struct imap_session *, struct buf *,
	    const struct imap_msg *);
/* imap_seqset_arg: parse a set (uid or sequence numbers); -1 replied. */
int	imap_seqset_arg(struct imap_session *, struct imap_command *,
	    const struct imap_arg *, struct imap_seqset *);
/* imap_uid_set: append uids (ascending) as a compact set "1:3,7". */
void	imap_uid_set(struct buf *, const uint32_t *, size_t);
/* imap_vanished: "* VANISHED (EARLIER) ..." for UIDs of set not present. */
void	imap_vanished(struct imap_session *, const struct imap_seqset *);
/* imap_msg_in_set: message i of the view is in set (by uid or seq). */
int	imap_msg_in_set(const struct imap_session *, size_t i,
	    const struct imap_seqset *, int uid);
/* imap_flag_list: parse a flag list; -1 when invalid. */
int	imap_flag_list(const struct imap_arg *, int mdfd, struct imap_index *,
	    unsigned *flags, uint32_t *keywords);

/* append.c */
int	imap_cmd_append(struct imap_session *, struct imap_command *);
int	imap_cmd_copy(struct imap_session *, struct imap_command *);
int	imap_cmd_move(struct imap_session *, struct imap_command *);
int	imap_uid_copy(struct imap_session *, struct imap_command *,
	    const struct imap_arg *, size_t, int move);

/* fetch.c */
struct mime_part;
/* A message's content, read once per command when an item needs it. */
struct imap_msgdata {
	struct buf crlf;		/* CRLF line ends, as IMAP counts */
	struct mime_part *mime;
	int	 loaded;
};
/* imap_msg_load: read and parse message i into md (once); 0 or -1. */
int	imap_msg_load(struct imap_session *, size_t i, struct imap_msgdata *);
void	imap_msg_data_free(struct imap_msgdata *);
/*
 * The cache blob of a message (lib/mailbox/imap_index.h keeps it): sizes,
 * ENVELOPE, BODY, BODYSTRUCTURE and, for SEARCH, the RFC 2047 decoded
 * first Subject, From, To, Cc and Bcc fields.
 */
#define IMAP_CACHE_FIELDS	5
void	imap_cache_blob_make(struct buf *, struct imap_msgdata *);
/* imap_cache_field_index: 0..IMAP_CACHE_FIELDS-1 for those names, or -1. */
int	imap_cache_field_index(const char *name);
/*
 * imap_cache_blob_field: a field's decoded value (not NUL-terminated) in
 * the blob: 1 found, 0 the message has no such field, -1 not cached.
 */
int	imap_cache_blob_field(const struct buf *, int field, const char **val,
	    size_t *vlen);
int	imap_cmd_fetch(struct imap_session *, struct imap_command *);
int	imap_cmd_store(struct imap_session *, struct imap_command *);
int	imap_cmd_uid(struct imap_session *, struct imap_command *);
int	imap_fetch(struct imap_session *, struct imap_command *,
	    const struct imap_arg *, size_t, int uid);
int	imap_store(struct imap_session *, struct imap_command *,
	    const struct imap_arg *, size_t, int uid);

/* search.c */
int	imap_cmd_search(struct imap_session *, struct imap_command *);
int	imap_search(struct imap_session *, struct imap_command *,
	    const struct imap_arg *, size_t, int uid);

/* idle.c */
int	imap_cmd_idle(struct imap_session *, struct imap_command *);

#endif
