/*
 * cmd_master: `postilion start | start-fg | stop | status | reload | check`,
 * the postfix(1) verbs. The running master is found through
 * queue_directory/pid/master.pid: it is running while it holds the flock
 * on that file, so a stale file left by a crash never fools us.
 * Messages have postfix-script's shape: "postilion/postilion-script: ...",
 * on stderr and, for start/stop/reload, in the mail log too.
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "core/log.h"
#include "core/privsep.h"
#include "core/xmalloc.h"
#include "../master/master_conf.h"
#include "../master/master_policy.h"

#define STOP_WAIT_MS	30000
#define POLL_MS		100

enum script_level {
	SCRIPT_INFO,
	SCRIPT_WARNING,
	SCRIPT_FATAL,
};

static void script_say(struct config *, enum script_level, int,
    const char *, ...) __attribute__((format(printf, 4, 5)));
static pid_t master_running(struct config *);
static void master_sleep_ms(long);
static char *master_path(struct config *);
static int master_check(struct config *, const char *, enum script_level);
static int master_check_service(struct config *, const char *,
    const struct service_def *, enum script_level);
static int master_start(struct config *, const char *, int);
static int master_stop(struct config *);
static int master_status(struct config *);
static int master_reload(struct config *, const char *);

/*
 * script_say: one message on stderr, and with to_log also in maillog_file
 * or syslog under the ident SYSLOG_NAME/postilion-script.
 */
static void
script_say(struct config *cfg, enum script_level level, int to_log,
    const char *fmt, ...)
{
	static const char *const prefix[] = { "", "warning: ", "fatal: " };
	const char *syslog_name = config_get(cfg, "syslog_name");
	const char *file = config_get(cfg, "maillog_file");
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s/postilion-script: %s%s\n", syslog_name,
	    prefix[level], msg);
	if (!to_log || (file[0] != '\0' && access(file, W_OK) == -1 &&
	    errno != ENOENT))
		return;
	log_init(syslog_name, "postilion-script", file, 0);
	if (level == SCRIPT_INFO)
		log_info("%s", msg);
	else if (level == SCRIPT_WARNING)
		log_warnx("%s", msg);
	else
		log_info("fatal: %s", msg);	/* postfix-script's shape */
	log_init(syslog_name, NULL, NULL, 1);
}

static void
master_sleep_ms(long ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * master_running: the pid of the master holding the pid file lock, 0 if
 * none, -1 if one holds it but its pid cannot be read (still starting).
 */
static pid_t
master_running(struct config *cfg)
{
	char *path, buf[32];
	const char *errstr;
	ssize_t n;
	pid_t pid = -1;
	int fd, try;

	path = xasprintf("%s/pid/master.pid",
	    config_get(cfg, "queue_directory"));
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	free(path);
	if (fd == -1)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		close(fd);
		return 0;
	}
	/* Between its lock and its write, the file may still be empty. */
	for (try = 0; try < 20 && pid == -1; try++) {
		if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) > 0) {
			buf[n] = '\0';
			buf[strcspn(buf, " \n")] = '\0';
			pid = (pid_t)strtonum(buf, 1, INT_MAX, &errstr);
			if (errstr != NULL)
				pid = -1;
		}
		if (pid == -1)
			master_sleep_ms(50);
	}
	close(fd);
	return pid;
}

static char *
master_path(struct config *cfg)
{
	return xasprintf("%s/master", config_get(cfg, "daemon_directory"));
}

static int
master_check_service(struct config *cfg, const char *cfpath,
    const struct service_def *def, enum script_level level)
{
	struct addrinfo *res;
	char err[1024], *path;
	int wildcard, errors = 0;
	size_t maxlen;

	path = master_command_path(config_get(cfg, "daemon_directory"),
	    def->command);
	if (access(path, X_OK) == -1) {
		script_say(cfg, level, 0, "%s, line %d: %s: %s", cfpath,
		    def->lineno, path, strerror(errno));
		errors++;
	}
	free(path);
	if (def->type == SERVICE_INET) {
		if (master_conf_resolve(cfg, def, cfpath, &res, &wildcard, err,
		    sizeof(err)) == -1) {
			script_say(cfg, level, 0, "%s", err);
			errors++;
		} else
			freeaddrinfo(res);
		return errors;
	}
	/* queue_directory/private/NAME must fit in sockaddr_un.sun_path. */
	maxlen = strlen(config_get(cfg, "queue_directory")) +
	    strlen("/private/") + strlen(def->name);
	if (maxlen >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		script_say(cfg, level, 0, "%s, line %d: socket path for "
		    "\"%s\" is too long", cfpath, def->lineno, def->name);
		errors++;
	}
	return errors;
}

/*
 * master_check: what master would refuse, found before starting it; each
 * problem is reported at the given level. Returns 1 if there was any.
 */
static int
master_check(struct config *cfg, const char *confdir,
    enum script_level level)
{
	struct service_def *defs;
	const char *dir;
	char err[1024], *path, *cfpath;
	size_t n, i;
	int errors = 0;
	uid_t uid;
	gid_t gid;

	if (master_conf_load(cfg, confdir, &defs, &n, err, sizeof(err)) == -1) {
		script_say(cfg, level, 0, "%s", err);
		return 1;
	}
	if ((dir = config_get(cfg, "queue_directory"))[0] != '/') {
		script_say(cfg, level, 0, "queue_directory must be an "
		    "absolute path: \"%s\"", dir);
		errors++;
	}
	path = master_path(cfg);
	if (access(path, X_OK) == -1) {
		script_say(cfg, level, 0, "%s: %s (daemon_directory)",
		    path, strerror(errno));
		errors++;
	}
	free(path);
	if (geteuid() == 0 &&
	    priv_lookup(config_get(cfg, "mail_owner"), &uid, &gid) == -1) {
		script_say(cfg, level, 0, "unknown mail_owner user: %s",
		    config_get(cfg, "mail_owner"));
		errors++;
	}
	cfpath = xasprintf("%s/master.cf", confdir);
	for (i = 0; i < n; i++)
		errors += master_check_service(cfg, cfpath, &defs[i],
		    level);
	free(cfpath);
	master_cf_free(defs, n);
	return errors ? 1 : 0;
}

static int
master_start(struct config *cfg, const char *confdir, int foreground)
{
	char *argv[6], *path;
	int argc = 0, status;
	pid_t pid;

	if (master_check(cfg, confdir, SCRIPT_FATAL) != 0)
		return 1;
	if (master_running(cfg) != 0) {
		script_say(cfg, SCRIPT_FATAL, 1, "the Postilion mail system is "
		    "already running");
		return 1;
	}
	path = master_path(cfg);
	argv[argc++] = path;
	argv[argc++] = "-c";
	argv[argc++] = (char *)confdir;
	if (foreground)
		argv[argc++] = "-f";
	if (log_verbose)
		argv[argc++] = "-v";
	argv[argc] = NULL;
	script_say(cfg, SCRIPT_INFO, 1, "starting the Postilion mail system");
	fflush(NULL);
	if (foreground) {
		execv(path, argv);
		fatal("exec %s", path);
	}
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		execv(path, argv);
		fatal("exec %s", path);
	}
	free(path);
	/* master's first process exits once everything is bound. */
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			fatal("waitpid");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static int
master_stop(struct config *cfg)
{
	pid_t pid;
	int waited;

	if ((pid = master_running(cfg)) == 0) {
		script_say(cfg, SCRIPT_FATAL, 1, "the Postilion mail system is "
		    "not running");
		return 1;
	}
	if (pid == -1 || kill(pid, SIGTERM) == -1) {
		script_say(cfg, SCRIPT_FATAL, 0, "cannot signal the master "
		    "process (pid %ld): %s", (long)pid,
		    pid == -1 ? "unreadable pid file" : strerror(errno));
		return 1;
	}
	script_say(cfg, SCRIPT_INFO, 1, "stopping the Postilion mail system");
	/* master releases its pid file lock after its last child is gone. */
	for (waited = 0; waited < STOP_WAIT_MS; waited += POLL_MS) {
		if (master_running(cfg) == 0)
			return 0;
		master_sleep_ms(POLL_MS);
	}
	script_say(cfg, SCRIPT_FATAL, 1, "the Postilion mail system did not "
	    "stop within %d seconds (pid %ld)", STOP_WAIT_MS / 1000,
	    (long)pid);
	return 1;
}

static int
master_status(struct config *cfg)
{
	pid_t pid;

	if ((pid = master_running(cfg)) == 0) {
		script_say(cfg, SCRIPT_INFO, 0, "the Postilion mail system is "
		    "not running");
		return 1;
	}
	if (pid == -1)
		script_say(cfg, SCRIPT_INFO, 0, "the Postilion mail system is "
		    "starting");
	else
		script_say(cfg, SCRIPT_INFO, 0, "the Postilion mail system is "
		    "running: PID: %ld", (long)pid);
	return 0;
}

static int
master_reload(struct config *cfg, const char *confdir)
{
	pid_t pid;

	/* master keeps its running configuration if the new one is bad. */
	(void)master_check(cfg, confdir, SCRIPT_WARNING);
	if ((pid = master_running(cfg)) == 0) {
		script_say(cfg, SCRIPT_FATAL, 1, "the Postilion mail system is "
		    "not running");
		return 1;
	}
	script_say(cfg, SCRIPT_INFO, 1, "refreshing the Postilion mail system");
	if (pid == -1 || kill(pid, SIGHUP) == -1) {
		script_say(cfg, SCRIPT_FATAL, 0, "cannot signal the master "
		    "process (pid %ld): %s", (long)pid,
		    pid == -1 ? "unreadable pid file" : strerror(errno));
		return 1;
	}
	return 0;
}

int
cmd_master(struct config *cfg, const char *confdir, int argc, char **argv)
{
	const char *verb = argv[0];

	if (argc != 1) {
		fprintf(stderr, "usage: postilion %s\n", verb);
		return 1;
	}
	if (strcmp(verb, "start") == 0)
		return master_start(cfg, confdir, 0);
	if (strcmp(verb, "start-fg") == 0)
		return master_start(cfg, confdir, 1);
	if (strcmp(verb, "stop") == 0)
		return master_stop(cfg);
	if (strcmp(verb, "status") == 0)
		return master_status(cfg);
	if (strcmp(verb, "reload") == 0)
		return master_reload(cfg, confdir);
	if (strcmp(verb, "check") == 0)
		return master_check(cfg, confdir, SCRIPT_FATAL);
	fprintf(stderr, "postilion: %s: not a master command\n", verb);
	return 1;
}
