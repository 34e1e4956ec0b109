/*
 * master: the supervisor's state shared by its files. master.c owns the
 * event loop and signals; master_service.c the service table and reload;
 * master_child.c forking, reaping and status reports; master_listen.c the
 * sockets; master_dirs.c the queue layout and the pid file.
 * Security: master runs as root; children get only fds 0-4 and a clean
 * environment, and drop privileges themselves (lib/core/privsep.c).
 */
#ifndef POSTILION_MASTER_H
#define POSTILION_MASTER_H

#include <sys/queue.h>
#include <sys/types.h>
#include <stddef.h>

#include "conf/config.h"
#include "conf/master_cf.h"

struct master_service;

struct master_child {
	TAILQ_ENTRY(master_child) entry;
	pid_t	 pid;
	struct master_service *svc;	/* NULL once its service is removed */
	char	*path;			/* for log lines after a reload */
	long long started;		/* monotonic ms */
	int	 avail;			/* counted in svc->idle */
	int	 served;		/* has reported MASTER_STAT_TAKEN */
	int	 retired;		/* sent SIGTERM by a reload */
};
TAILQ_HEAD(master_child_list, master_child);

struct master_service {
	TAILQ_ENTRY(master_service) entry;
	struct service_def def;
	char	*path;			/* the command to exec */
	char	*sockpath;		/* unix services: the socket file */
	int	 listen_fd;
	int	 status_fd[2];		/* children write [1], master reads [0] */
	int	 total;			/* live children, retired ones too */
	int	 idle;			/* non-retired children waiting in accept */
	long long throttled_until;	/* monotonic ms; 0 when not throttled */
	int	 matched;		/* reload scratch */
};
TAILQ_HEAD(master_service_list, master_service);

struct master {
	char	*confdir;		/* absolute */
	struct config *cfg;
	int	 foreground;
	int	 verbose;
	int	 is_root;
	char	*queue_dir;
	char	*pid_path;
	int	 pid_fd;
	int	 devnull;
	uid_t	 owner_uid;		/* mail_owner, or the caller as non-root */
	gid_t	 owner_gid;
	long long throttle_ms;		/* service_throttle_time */
	char	**child_env;
	struct master_service_list services;
	struct master_child_list children;
};

/* master_dirs.c */
int	master_settings(struct master *, struct config *, char *, size_t);
int	master_dirs_prepare(struct master *, char *, size_t);
int	master_pidfile_lock(struct master *, char *, size_t);
void	master_pidfile_remove(struct master *);

/* master_listen.c */
int	master_listen(struct master *, struct master_service *, char *, size_t);
/* master_unlisten: close the listener; remove: unlink a unix socket too. */
void	master_unlisten(struct master *, struct master_service *, int remove);

/* master_service.c */
int	master_services_start(struct master *, struct service_def *, size_t,
	    char *, size_t);
void	master_services_reload(struct master *, struct service_def *, size_t);
void	master_services_close(struct master *);
int	master_service_throttled(struct master_service *, long long now);

/* master_child.c */
long long master_now(void);
void	master_spawn(struct master *, struct master_service *);
void	master_reap(struct master *);
void	master_status_read(struct master *, struct master_service *);
void	master_children_retire(struct master *);
void	master_children_signal(struct master *, int);

#endif
