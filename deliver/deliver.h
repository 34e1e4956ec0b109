/*
 * deliver: the delivery agent. master runs a pool of it per transport
 * ("deliver -t local", "deliver -t smtp"); each connection from qmgr is one
 * request (deliver_proto.h) carrying the open queue file, answered with one
 * status per recipient. This header is the context the transports share.
 */
#ifndef POSTILION_DELIVER_H
#define POSTILION_DELIVER_H

#include <sys/types.h>
#include <sys/time.h>
#include <stdint.h>

#include "conf/config.h"
#include "core/buf.h"
#include "ipc/deliver_proto.h"

struct map_list;
struct smtp_conf;
struct deliver_alias;

struct deliver_ctx {
	struct config *cfg;
	const char *transport;		/* "local" or "smtp" */
	const char *hostname;		/* myhostname, for Maildir names */
	struct map_list *mailbox_maps;	/* virtual_mailbox_maps (local) */
	int	 basefd;		/* virtual_mailbox_base (local) */
	size_t	 max_rcpts;		/* recipients per request */
	int	 timeout;		/* ipc_timeout, seconds */
	int	 idle_timeout;		/* max_idle: wait for qmgr's next request */
	struct smtp_conf *smtp;		/* smtp transport settings */
	/* local transport limits */
	unsigned long long mailbox_limit;	/* virtual_mailbox_limit, 0 = none */
	unsigned long long quota;		/* virtual_mailbox_quota, 0 = none */
	int	 overquota_bounce;		/* virtual_overquota_bounce */
	long long hopcount_limit;		/* Delivered-To copies per rcpt */
	size_t	 header_limit;			/* header_size_limit */
	struct deliver_alias *alias;		/* alias_maps */
	int	 runner;			/* command runner socket */
	int	 command_timeout;		/* command_time_limit */
};

/*
 * A transport fills in the status of every recipient of req and logs one
 * line per recipient. qfd is the queue file (read it with pread only).
 */
void	deliver_local_init(struct deliver_ctx *, int chroot);
void	deliver_local(struct deliver_ctx *, struct deliver_request *, int qfd,
	    const struct timeval *start);
/*
 * deliver_local_loop: how many Delivered-To: headers in the message's
 * header (at most limit bytes read) name address; -1 on a read error.
 */
long long deliver_local_loop(int qfd, off_t off, uint64_t len, size_t limit,
	    const char *address);
/* deliver_alias: alias_maps (deliver_alias.c); items free with config_split_free. */
struct deliver_alias *deliver_alias_open(struct config *);
int	deliver_alias_is_local(struct deliver_alias *, const char *address);
/* 1 found (value, and whether the map may name commands/files), 0, -1. */
int	deliver_alias_lookup(struct deliver_alias *, const char *address,
	    struct buf *value, int *trusted);
char	**deliver_alias_items(const char *value, size_t *n);

/*
 * deliver_command: the unprivileged runner of "|command" and "/file"
 * destinations (deliver_command.c). init forks it (call before the drop)
 * and returns the socket; run sends one request with the queue file and
 * gives back the status.
 */
struct ipc_msg;
int	deliver_command_init(struct config *);
void	deliver_command_run(int runner, struct ipc_msg *, int qfd, int timeout,
	    char *dsn, size_t dsnlen, struct buf *text);
/* deliver_command_call: the raw reply ("dsn", "text", ...); 0 or -1. */
int	deliver_command_call(int runner, struct ipc_msg *, int qfd, int timeout,
	    struct ipc_msg *reply);

void	deliver_smtp_init(struct deliver_ctx *, int chroot);
void	deliver_smtp(struct deliver_ctx *, struct deliver_request *, int qfd,
	    const struct timeval *start);

#endif
