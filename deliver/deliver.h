/*
 * deliver: the delivery agent. master runs a pool of it per transport
 * ("deliver -t local", "deliver -t smtp"); each connection from qmgr is one
 * request (deliver_proto.h) carrying the open queue file, answered with one
 * status per recipient. This header is the context the transports share.
 */
#ifndef POSTILION_DELIVER_H
#define POSTILION_DELIVER_H

#include <sys/time.h>

#include "conf/config.h"
#include "ipc/deliver_proto.h"

struct map_list;

struct deliver_ctx {
	struct config *cfg;
	const char *transport;		/* "local" or "smtp" */
	const char *hostname;		/* myhostname, for Maildir names */
	struct map_list *mailbox_maps;	/* virtual_mailbox_maps (local) */
	int	 basefd;		/* virtual_mailbox_base (local) */
	size_t	 max_rcpts;		/* recipients per request */
	int	 timeout;		/* ipc_timeout, seconds */
};

/*
 * A transport fills in the status of every recipient of req and logs one
 * line per recipient. qfd is the queue file (read it with pread only).
 */
void	deliver_local_init(struct deliver_ctx *, int chroot);
void	deliver_local(struct deliver_ctx *, struct deliver_request *, int qfd,
	    const struct timeval *start);
void	deliver_smtp_init(struct deliver_ctx *, int chroot);
void	deliver_smtp(struct deliver_ctx *, struct deliver_request *, int qfd,
	    const struct timeval *start);

#endif
