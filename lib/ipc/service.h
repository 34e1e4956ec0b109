/*
 * service: the child side of the master protocol. master starts a daemon as
 *   DAEMON -c CONFDIR -n SERVICE [-j] [-v] [-o name=value]... [args]
 * with the service's listening socket on fd 3 and the status pipe on fd 4.
 * A child reports busy/idle on the pipe; master uses that to size the pool
 * and to tell a crash at startup from one after useful work.
 */
#ifndef POSTILION_SERVICE_H
#define POSTILION_SERVICE_H

#include <sys/types.h>
#include <stdint.h>

#include "conf/config.h"

#define MASTER_LISTEN_FD	3
#define MASTER_STATUS_FD	4

#define MASTER_STAT_TAKEN	0	/* busy with a client */
#define MASTER_STAT_AVAIL	1	/* idle, waiting in accept */

struct master_status {
	int32_t	pid;
	int32_t	avail;
};

struct service_opts {
	const char *confdir;	/* -c */
	const char *name;	/* -n: master.cf service name */
	const char *transport;	/* -t: deliver's transport */
	int	 chroot;	/* -j: chroot column was y */
	int	 standalone;	/* no master: fds 3/4 are not ours */
	char	**args;		/* remaining arguments */
	int	 nargs;
	struct config *cfg;	/* main.cf + -o overrides */
};

/*
 * service_init: parse the options above, load main.cf (fatal on error),
 * apply -o overrides, and start logging as syslog_name/progname.
 */
void	service_init(int argc, char **argv, const char *progname,
	    struct service_opts *);
/* service_status: tell master we are idle (1) or busy (0). */
void	service_status(int avail);

typedef void (*service_handler)(int client, void *ctx);
/*
 * service_serve: accept clients on fd 3 one at a time and run handler on
 * each (the handler must close client); exit after max_use clients (or
 * requests, with service_another), after max_idle seconds without one, or
 * on SIGTERM (after the current client).
 */
__attribute__((__noreturn__)) void service_serve(struct config *,
	    service_handler, void *ctx);
/*
 * service_serve_pre: the same, calling pre_accept(ctx) whenever a client
 * is waiting, before taking it, and once a second while idle: pre_accept
 * may exit(0) to leave the client to a fresh process (a map replaced
 * while this one sat idle; Postfix's pre_accept).
 */
typedef void (*service_pre_accept)(void *ctx);
__attribute__((__noreturn__)) void service_serve_pre(struct config *,
	    service_handler, service_pre_accept, void *ctx);
/* service_stopping: non-zero once SIGTERM has asked us to finish. */
int	service_stopping(void);
/*
 * service_another: for a handler that takes several requests on one
 * connection (deliver, from qmgr): non-zero when this process may take one
 * more after the current one, which then counts against max_use as a
 * client does; 0 after SIGTERM or once max_use requests are taken.
 */
int	service_another(void);
/*
 * service_wait_input: wait up to timeout seconds (0: for ever) for fd to
 * become readable; 1 when it is, 0 on timeout or SIGTERM.
 */
int	service_wait_input(int fd, int timeout);

#endif
