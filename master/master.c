/*
 * master: the Postilion supervisor. `master -c CONFDIR [-f] [-v]` reads
 * main.cf and master.cf, prepares the queue directory, binds every
 * listener, then starts and sizes each service's pool, respawning and
 * throttling as Postfix's master does. SIGHUP reloads, SIGTERM/SIGINT stop.
 * Without -f it daemonizes and the starting process exits only once all is
 * bound, with the startup errors on its stderr.
 * Security: runs as root; listeners are bound here so no daemon needs
 * root, and children drop privileges themselves (lib/core/privsep.c).
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fileutil.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "master.h"
#include "master_conf.h"
#include "master_policy.h"

#define MASTER_STOP_WAIT_MS	10000

enum master_fd_kind {
	MASTER_FD_STATUS,
	MASTER_FD_LISTEN,
};

struct master_pollset {
	struct pollfd *pfd;
	struct master_service **svc;
	enum master_fd_kind *kind;
	size_t	 n;
	size_t	 alloc;
};

/* The self-pipe: signal handlers write the signal number, the loop reads. */
static int master_sigpipe[2] = { -1, -1 };

static __dead void master_usage(void);
static void master_signal(int);
static void master_signals_init(void);
static void master_daemonize(void);
static __dead void master_wait_ready(int, pid_t);
static void master_ready(struct master *);
static void master_log_open(struct master *);
static void master_loop(struct master *);
static void master_pollset_build(struct master *, struct master_pollset *,
    long long);
static int master_poll_timeout(struct master *, long long);
static void master_wakeups(struct master *, long long);
static void master_signals(struct master *);
static void master_reload(struct master *);
static __dead void master_stop(struct master *, int);

static void
master_usage(void)
{
	fprintf(stderr, "usage: master [-fv] [-c config_dir]\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct service_def *defs;
	struct master m;
	const char *confdir = SYSCONFDIR;
	char err[1024];
	size_t n;
	int ch;

	/* Nothing the caller left open may live on in the daemon. */
	closefrom(STDERR_FILENO + 1);
	memset(&m, 0, sizeof(m));
	m.pid_fd = -1;
	TAILQ_INIT(&m.services);
	TAILQ_INIT(&m.children);
	log_init("postilion", "master", NULL, 1);
	while ((ch = getopt(argc, argv, "c:fv")) != -1) {
		switch (ch) {
		case 'c': confdir = optarg; break;
		case 'f': m.foreground = 1; break;
		case 'v': m.verbose++; log_verbose++; break;
		default: master_usage();
		}
	}
	if (optind != argc)
		master_usage();
	/* Children and reloads must find it after chdir("/"). */
	if ((m.confdir = realpath(confdir, NULL)) == NULL)
		fatal("config directory %s", confdir);
	m.is_root = geteuid() == 0;
	if ((m.cfg = config_load(m.confdir, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	log_init(config_get(m.cfg, "syslog_name"), "master", NULL, 1);
	if (master_conf_load(m.cfg, m.confdir, &defs, &n, err,
	    sizeof(err)) == -1 ||
	    master_settings(&m, m.cfg, err, sizeof(err)) == -1)
		fatalx("%s", err);

	if (!m.foreground)
		master_daemonize();
	else if (chdir("/") == -1)
		fatal("chdir /");
	umask(022);
	if ((m.devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		fatal("open /dev/null");
	if (master_dirs_prepare(&m, err, sizeof(err)) == -1 ||
	    master_pidfile_lock(&m, err, sizeof(err)) == -1)
		fatalx("%s", err);
	master_signals_init();
	if (master_services_start(&m, defs, n, err, sizeof(err)) == -1) {
		master_pidfile_remove(&m);
		fatalx("%s", err);
	}
	master_ready(&m);
	master_log_open(&m);
	log_info("daemon started -- version %s, configuration %s",
	    PACKAGE_VERSION, m.confdir);
	master_loop(&m);
	return 0;
}

/* master_log_open: the configured destination, once startup is over. */
static void
master_log_open(struct master *m)
{
	const char *file = config_get(m->cfg, "maillog_file");

	log_init(config_get(m->cfg, "syslog_name"), "master", file,
	    m->foreground && file[0] == '\0');
}

static void
master_signal(int sig)
{
	unsigned char c = (unsigned char)sig;
	int saved = errno;

	(void)!write(master_sigpipe[1], &c, 1);
	errno = saved;
}

static void
master_signals_init(void)
{
	static const int sigs[] = { SIGCHLD, SIGHUP, SIGTERM, SIGINT };
	struct sigaction sa;
	size_t i;

	if (pipe2(master_sigpipe, O_CLOEXEC | O_NONBLOCK) == -1)
		fatal("pipe");
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = master_signal;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	for (i = 0; i < sizeof(sigs) / sizeof(*sigs); i++)
		if (sigaction(sigs[i], &sa, NULL) == -1)
			fatal("sigaction");
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	sigaction(SIGPIPE, &sa, NULL);
}

/*
 * master_daemonize: fork; the child detaches and keeps a pipe as its
 * stderr until master_ready(), so the parent can copy startup errors to
 * the terminal and exit 0 only after a NUL byte says all is bound.
 */
static void
master_daemonize(void)
{
	int pfd[2], null;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) == -1)
		fatal("pipe");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid != 0) {
		close(pfd[1]);
		master_wait_ready(pfd[0], pid);
	}
	close(pfd[0]);
	log_reopen_pid();
	if (setsid() == -1)
		fatal("setsid");
	if (chdir("/") == -1)
		fatal("chdir /");
	if ((null = open("/dev/null", O_RDWR)) == -1)
		fatal("open /dev/null");
	if (dup2(null, STDIN_FILENO) == -1 || dup2(null, STDOUT_FILENO) == -1 ||
	    dup2(pfd[1], STDERR_FILENO) == -1)
		fatal("dup2");
	close(null);
	close(pfd[1]);
}

static void
master_wait_ready(int fd, pid_t pid)
{
	char buf[1024], *nul;
	ssize_t n;
	int ready = 0, status;

	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			break;
		if ((nul = memchr(buf, '\0', (size_t)n)) != NULL) {
			ready = 1;
			n = nul - buf;
		}
		(void)write_full(STDERR_FILENO, buf, (size_t)n);
	}
	if (ready)
		exit(0);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			exit(1);
	exit(WIFEXITED(status) && WEXITSTATUS(status) != 0 ?
	    WEXITSTATUS(status) : 1);
}

/* master_ready: tell a waiting `postilion start` that startup succeeded. */
static void
master_ready(struct master *m)
{
	if (m->foreground)
		return;
	(void)!write(STDERR_FILENO, "", 1);
	if (dup2(m->devnull, STDERR_FILENO) == -1)
		fatal("dup2");
}

static void
master_loop(struct master *m)
{
	struct master_pollset ps;
	long long now;
	size_t i;
	int rc;

	memset(&ps, 0, sizeof(ps));
	for (;;) {
		now = master_now();
		master_wakeups(m, now);
		master_pollset_build(m, &ps, now);
		rc = poll(ps.pfd, ps.n, master_poll_timeout(m, now));
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc == -1)
			fatal("poll");
		/* A reload rebuilds the service table: start over after it. */
		if (ps.pfd[0].revents != 0) {
			master_signals(m);
			continue;
		}
		for (i = 1; i < ps.n; i++) {
			if (ps.pfd[i].revents == 0)
				continue;
			if (ps.kind[i] == MASTER_FD_STATUS)
				master_status_read(m, ps.svc[i]);
			else if (master_listen_wanted(ps.svc[i]->total,
			    ps.svc[i]->idle, ps.svc[i]->def.maxproc, 0))
				master_spawn(m, ps.svc[i]);
		}
	}
}

static void
master_pollset_build(struct master *m, struct master_pollset *ps,
    long long now)
{
	struct master_service *svc;
	size_t need = 1;

	TAILQ_FOREACH(svc, &m->services, entry)
		need += 2;
	if (need > ps->alloc) {
		ps->pfd = xreallocarray(ps->pfd, need, sizeof(*ps->pfd));
		ps->svc = xreallocarray(ps->svc, need, sizeof(*ps->svc));
		ps->kind = xreallocarray(ps->kind, need, sizeof(*ps->kind));
		ps->alloc = need;
	}
	ps->pfd[0].fd = master_sigpipe[0];
	ps->pfd[0].events = POLLIN;
	ps->n = 1;
	TAILQ_FOREACH(svc, &m->services, entry) {
		ps->pfd[ps->n].fd = svc->status_fd[0];
		ps->pfd[ps->n].events = POLLIN;
		ps->svc[ps->n] = svc;
		ps->kind[ps->n++] = MASTER_FD_STATUS;
		if (svc->listen_fd == -1 || !master_listen_wanted(svc->total,
		    svc->idle, svc->def.maxproc,
		    master_service_throttled(svc, now)))
			continue;
		ps->pfd[ps->n].fd = svc->listen_fd;
		ps->pfd[ps->n].events = POLLIN;
		ps->svc[ps->n] = svc;
		ps->kind[ps->n++] = MASTER_FD_LISTEN;
	}
}

/* master_poll_timeout: wake up when the next throttle ends, if any. */
static int
master_poll_timeout(struct master *m, long long now)
{
	struct master_service *svc;
	long long next = -1;

	TAILQ_FOREACH(svc, &m->services, entry)
		if (master_service_throttled(svc, now) &&
		    (next == -1 || svc->throttled_until - now < next))
			next = svc->throttled_until - now;
	return next > INT_MAX ? INT_MAX : (int)next;
}

static void
master_wakeups(struct master *m, long long now)
{
	struct master_service *svc;

	TAILQ_FOREACH(svc, &m->services, entry)
		if (master_wakeup_wanted(svc->def.wakeup, svc->total,
		    master_service_throttled(svc, now)))
			master_spawn(m, svc);
}

static void
master_signals(struct master *m)
{
	unsigned char sigs[64];
	ssize_t n, i;
	int chld = 0, hup = 0, stop = 0;

	while ((n = read(master_sigpipe[0], sigs, sizeof(sigs))) > 0) {
		for (i = 0; i < n; i++) {
			if (sigs[i] == SIGCHLD)
				chld = 1;
			else if (sigs[i] == SIGHUP)
				hup = 1;
			else if (sigs[i] == SIGTERM || sigs[i] == SIGINT)
				stop = sigs[i];
		}
	}
	if (stop)
		master_stop(m, stop);
	if (chld)
		master_reap(m);
	if (hup)
		master_reload(m);
}

/*
 * master_reload: the new main.cf and master.cf, or the old ones if either
 * is broken. Every child is asked to finish its client and exit; services
 * whose endpoint did not change keep their listener.
 */
static void
master_reload(struct master *m)
{
	struct service_def *defs;
	struct config *cfg, *old;
	char err[1024];
	size_t n;

	if ((cfg = config_load(m->confdir, err, sizeof(err))) == NULL) {
		log_warnx("reload: %s; keeping the old configuration", err);
		return;
	}
	if (master_conf_load(cfg, m->confdir, &defs, &n, err,
	    sizeof(err)) == -1) {
		log_warnx("reload: %s; keeping the old configuration", err);
		config_free(cfg);
		return;
	}
	if (master_settings(m, cfg, err, sizeof(err)) == -1) {
		log_warnx("reload: %s; keeping the old configuration", err);
		master_cf_free(defs, n);
		config_free(cfg);
		return;
	}
	old = m->cfg;
	m->cfg = cfg;
	master_log_open(m);
	if (master_dirs_prepare(m, err, sizeof(err)) == -1)
		log_warnx("reload: %s", err);
	master_children_retire(m);
	master_services_reload(m, defs, n);
	config_free(old);
	log_info("reload -- version %s, configuration %s", PACKAGE_VERSION,
	    m->confdir);
}

/*
 * master_stop: no new clients, SIGTERM to every child, SIGKILL to those
 * still there after MASTER_STOP_WAIT_MS; the pid file goes last, so
 * `postilion stop` returns only when no process is left.
 */
static void
master_stop(struct master *m, int sig)
{
	struct pollfd pfd;
	unsigned char drain[64];
	long long deadline, now;

	master_services_close(m);
	master_children_retire(m);
	deadline = master_now() + MASTER_STOP_WAIT_MS;
	master_reap(m);
	while (!TAILQ_EMPTY(&m->children) && (now = master_now()) < deadline) {
		pfd.fd = master_sigpipe[0];
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(deadline - now)) > 0)
			while (read(master_sigpipe[0], drain, sizeof(drain)) > 0)
				;
		master_reap(m);
	}
	if (!TAILQ_EMPTY(&m->children)) {
		log_warnx("killing children that did not stop");
		master_children_signal(m, SIGKILL);
		while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
			;
	}
	master_pidfile_remove(m);
	log_info("terminating on signal %d", sig);
	exit(0);
}
