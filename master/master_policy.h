/*
 * master_policy: the decisions master takes about its pools, as pure
 * functions of counts and times (no I/O), so they can be unit tested:
 * when to watch a listener, when to start a wakeup child, when a child's
 * death throttles its service, and how a child's argv and environment look.
 */
#ifndef POSTILION_MASTER_POLICY_H
#define POSTILION_MASTER_POLICY_H

#include "conf/master_cf.h"

/* A wakeup service child that dies sooner than this is a bad startup. */
#define MASTER_WAKEUP_MIN_LIFE_MS	2000

/*
 * master_listen_wanted: watch the listener for a new client only while no
 * child is idle and the pool is below maxproc (0: unlimited).
 */
int	master_listen_wanted(int total, int idle, int maxproc, int throttled);
/* master_wakeup_wanted: a wakeup service with no child gets one at once. */
int	master_wakeup_wanted(int wakeup, int total, int throttled);
/*
 * master_exit_throttles: whether a child's death (wait status) is a bad
 * command startup: a failure before it ever took a client, or for a wakeup
 * service any exit within MASTER_WAKEUP_MIN_LIFE_MS. Children retired by a
 * reload never throttle.
 */
int	master_exit_throttles(int wstatus, int served, int wakeup,
	    long long lifetime_ms, int retired);
/*
 * master_exit_normal: exit status 0, or for a child told to stop (retired)
 * death by SIGTERM or SIGINT (^C in the foreground reaches the group).
 */
int	master_exit_normal(int wstatus, int retired);

/* master_command_path: COMMAND if absolute, else DAEMON_DIR/COMMAND. */
char	*master_command_path(const char *daemon_dir, const char *command);
/*
 * master_child_argv: PATH -c CONFDIR -n SERVICE [-j] [-v] ARGS...,
 * NULL-terminated and malloc'd (free with master_strv_free).
 */
char	**master_child_argv(const struct service_def *, const char *path,
	    const char *confdir, int verbose);
/*
 * master_child_env: a clean environment: PATH, TZ and the sanitizer
 * options taken from env, plus POSTILION_LOG_STDERR=1 when log_stderr.
 */
char	**master_child_env(char *const *env, int log_stderr);
void	 master_strv_free(char **);
/*
 * master_same_endpoint: whether two definitions listen at the same place
 * (same type and name, and for unix the same private/public directory),
 * so a reload can keep the open listener.
 */
int	master_same_endpoint(const struct service_def *,
	    const struct service_def *);

#endif
