/*
 * master_child: start, track and reap the children of every service.
 * A child gets its listener on fd 3 and the service's status pipe on fd 4
 * (lib/ipc/service.h), /dev/null on fd 0, master's stderr on fd 2 and
 * nothing else; it reports busy/idle on fd 4 and master keeps the pool
 * counts from those reports. A new child counts as idle until it says
 * otherwise, so one pending client starts one child, not a stampede.
 */
#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "ipc/service.h"
#include "master.h"
#include "master_policy.h"

#define MASTER_STATUS_BATCH	64

static __dead void master_child_exec(struct master *, struct master_service *,
    char **);
static struct master_child *master_child_find(struct master *, pid_t);
static void master_child_exited(struct master *, struct master_child *, int);
static void master_status_update(struct master_service *,
    struct master_child *, int);
static void master_throttle(struct master *, struct master_service *,
    long long);

long long
master_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
master_throttle(struct master *m, struct master_service *svc, long long now)
{
	log_warnx("%s: bad command startup -- throttling", svc->path);
	svc->throttled_until = now + m->throttle_ms;
}

void
master_spawn(struct master *m, struct master_service *svc)
{
	struct master_child *child;
	char **argv;
	pid_t pid;

	argv = master_child_argv(&svc->def, svc->path, m->confdir, m->verbose);
	if ((pid = fork()) == -1) {
		log_warn("fork");
		master_throttle(m, svc, master_now());
		master_strv_free(argv);
		return;
	}
	if (pid == 0)
		master_child_exec(m, svc, argv);
	master_strv_free(argv);
	child = xcalloc(1, sizeof(*child));
	child->pid = pid;
	child->svc = svc;
	child->path = xstrdup(svc->path);
	child->started = master_now();
	child->avail = 1;
	svc->total++;
	svc->idle++;
	TAILQ_INSERT_TAIL(&m->children, child, entry);
	log_debug("%s: started pid %ld", svc->def.name, (long)pid);
}

/*
 * master_child_exec: in the child. The descriptors are first copied above
 * 4 so that no dup2 onto 0, 3 or 4 can clobber another source (master's
 * own fds may be 3 or 4; dup2 also clears close-on-exec), then everything
 * from 5 up is closed.
 */
static void
master_child_exec(struct master *m, struct master_service *svc, char **argv)
{
	static const int sigs[] = { SIGCHLD, SIGHUP, SIGTERM, SIGINT, SIGPIPE };
	struct sigaction sa;
	sigset_t none;
	size_t i;
	int lfd, sfd, nfd;

	log_reopen_pid();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(*sigs); i++)
		sigaction(sigs[i], &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if ((lfd = fcntl(svc->listen_fd, F_DUPFD, 5)) == -1 ||
	    (sfd = fcntl(svc->status_fd[1], F_DUPFD, 5)) == -1 ||
	    (nfd = fcntl(m->devnull, F_DUPFD, 5)) == -1 ||
	    dup2(nfd, STDIN_FILENO) == -1 ||
	    dup2(lfd, MASTER_LISTEN_FD) == -1 ||
	    dup2(sfd, MASTER_STATUS_FD) == -1) {
		log_warn("%s: child descriptors", svc->def.name);
		_exit(127);
	}
	closefrom(5);
	execve(argv[0], argv, m->child_env);
	log_warn("exec %s", argv[0]);
	_exit(127);
}

static struct master_child *
master_child_find(struct master *m, pid_t pid)
{
	struct master_child *child;

	TAILQ_FOREACH(child, &m->children, entry)
		if (child->pid == pid)
			return child;
	return NULL;
}

void
master_reap(struct master *m)
{
	struct master_child *child;
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0 ||
	    (pid == -1 && errno == EINTR)) {
		if (pid == -1)
			continue;
		if ((child = master_child_find(m, pid)) == NULL) {
			log_debug("reaped unknown pid %ld", (long)pid);
			continue;
		}
		master_child_exited(m, child, status);
	}
}

static void
master_child_exited(struct master *m, struct master_child *child,
    int status)
{
	struct master_service *svc = child->svc;
	long long now = master_now();

	if (master_exit_normal(status, child->retired))
		log_debug("process %s pid %ld exited", child->path,
		    (long)child->pid);
	else if (WIFEXITED(status))
		log_warnx("process %s pid %ld exit status %d", child->path,
		    (long)child->pid, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		log_warnx("process %s pid %ld killed by signal %d",
		    child->path, (long)child->pid, WTERMSIG(status));
	if (svc != NULL) {
		svc->total--;
		if (child->avail)
			svc->idle--;
		if (master_exit_throttles(status, child->served,
		    svc->def.wakeup, now - child->started, child->retired) &&
		    !master_service_throttled(svc, now))
			master_throttle(m, svc, now);
	}
	TAILQ_REMOVE(&m->children, child, entry);
	free(child->path);
	free(child);
}

void
master_status_read(struct master *m, struct master_service *svc)
{
	struct master_status st[MASTER_STATUS_BATCH];
	struct master_child *child;
	ssize_t n;
	size_t i;

	if ((n = read(svc->status_fd[0], st, sizeof(st))) == -1) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("%s: status pipe", svc->def.name);
		return;
	}
	/* Each report is one write smaller than PIPE_BUF: never split. */
	if (n % (ssize_t)sizeof(*st) != 0)
		log_warnx("%s: partial status report", svc->def.name);
	for (i = 0; i < (size_t)n / sizeof(*st); i++) {
		child = master_child_find(m, (pid_t)st[i].pid);
		/* A child may be reaped before its last report is read. */
		if (child == NULL || child->svc != svc) {
			log_debug("%s: status report from unknown pid %ld",
			    svc->def.name, (long)st[i].pid);
			continue;
		}
		master_status_update(svc, child, st[i].avail);
	}
}

static void
master_status_update(struct master_service *svc, struct master_child *child,
    int avail)
{
	if (child->retired)
		return;
	switch (avail) {
	case MASTER_STAT_TAKEN:
		child->served = 1;
		if (child->avail)
			svc->idle--;
		child->avail = 0;
		break;
	case MASTER_STAT_AVAIL:
		if (!child->avail)
			svc->idle++;
		child->avail = 1;
		break;
	default:
		log_warnx("%s: bad status %d from pid %ld", svc->def.name,
		    avail, (long)child->pid);
		break;
	}
}

void
master_children_retire(struct master *m)
{
	struct master_child *child;

	TAILQ_FOREACH(child, &m->children, entry) {
		if (child->retired)
			continue;
		child->retired = 1;
		if (child->avail && child->svc != NULL)
			child->svc->idle--;
		child->avail = 0;
		if (kill(child->pid, SIGTERM) == -1 && errno != ESRCH)
			log_warn("kill %ld", (long)child->pid);
	}
}

void
master_children_signal(struct master *m, int sig)
{
	struct master_child *child;

	TAILQ_FOREACH(child, &m->children, entry)
		if (kill(child->pid, sig) == -1 && errno != ESRCH)
			log_warn("kill %ld", (long)child->pid);
}
