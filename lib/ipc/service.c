/*
 * service: option parsing, the accept loop and busy/idle reports for a
 * pooled daemon. The listening socket is non-blocking and shared by the
 * whole pool: each idle process waits on it through its own epoll set with
 * EPOLLEXCLUSIVE, so a new client wakes one process, not the whole pool; an
 * accept that still loses a race gets EAGAIN and waits again.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/fileutil.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "ipc/service.h"

#define SERVICE_TICK_MS	1000	/* idle wait step with a pre_accept hook */

static volatile sig_atomic_t service_term;
/* Requests taken (a client, or one more on its connection) and max_use. */
static long long service_used, service_max_use;

static int service_waiter(void);
static time_t service_now(void);

static void
service_sigterm(int sig)
{
	(void)sig;
	service_term = 1;
}

int
service_stopping(void)
{
	return service_term;
}

int
service_another(void)
{
	if (service_term || (service_max_use > 0 &&
	    service_used >= service_max_use))
		return 0;
	service_used++;
	return 1;
}

int
service_wait_input(int fd, int timeout)
{
	struct pollfd pfd;
	int rc;

	pfd.fd = fd;
	pfd.events = POLLIN;
	for (;;) {
		rc = poll(&pfd, 1, timeout > 0 ? timeout * 1000 : -1);
		if (rc > 0)
			return 1;
		if (rc == 0 || errno != EINTR || service_term)
			return 0;
	}
}

void
service_init(int argc, char **argv, const char *progname,
    struct service_opts *opts)
{
	char err[512], *eq, *name;
	const char *overrides[256];
	size_t noverrides = 0, i;
	struct sigaction sa;
	int ch;

	memset(opts, 0, sizeof(*opts));
	opts->confdir = SYSCONFDIR;
	opts->name = progname;
	/* Log to stderr until main.cf tells us where to go. */
	log_init("postilion", progname, NULL, 1);
	while ((ch = getopt(argc, argv, "c:jn:o:St:v")) != -1) {
		switch (ch) {
		case 'c': opts->confdir = optarg; break;
		case 'j': opts->chroot = 1; break;
		case 'n': opts->name = optarg; break;
		case 'o':
			if (noverrides == sizeof(overrides) / sizeof(*overrides))
				fatalx("too many -o options");
			overrides[noverrides++] = optarg;
			break;
		case 'S': opts->standalone = 1; break;
		case 't': opts->transport = optarg; break;
		case 'v': log_verbose++; break;
		default:
			fatalx("usage: %s -c confdir -n service [-j] [-v] "
			    "[-t transport] [-o name=value]...", progname);
		}
	}
	opts->args = argv + optind;
	opts->nargs = argc - optind;
	if ((opts->cfg = config_load(opts->confdir, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	for (i = 0; i < noverrides; i++) {
		name = xstrdup(overrides[i]);
		if ((eq = strchr(name, '=')) == NULL)
			fatalx("bad -o option (name=value): %s", name);
		*eq = '\0';
		config_set(opts->cfg, name, eq + 1);
		free(name);
	}
	log_init(config_get(opts->cfg, "syslog_name"), progname,
	    config_get(opts->cfg, "maillog_file"),
	    getenv("POSTILION_LOG_STDERR") != NULL);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = service_sigterm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

void
service_status(int avail)
{
	static pid_t pid;
	struct master_status st;

	if (pid == 0)
		pid = getpid();	/* our daemons report from one process */
	st.pid = (int32_t)pid;
	st.avail = avail;
	if (write_full(MASTER_STATUS_FD, &st, sizeof(st)) == -1 &&
	    errno == EPIPE)
		exit(0);		/* master is gone; so are we */
}

/* Seconds on the monotonic clock (idle time). */
static time_t
service_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/*
 * An epoll set holding the listening socket with EPOLLEXCLUSIVE: the
 * kernel wakes one exclusive waiter per new connection (Linux 4.5+).
 * Level-triggered, so a client another process did not take wakes us again.
 */
static int
service_waiter(void)
{
	struct epoll_event ev;
	int ep;

	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("epoll_create1");
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, MASTER_LISTEN_FD, &ev) == -1)
		fatal("epoll_ctl");
	return ep;
}

void
service_serve(struct config *cfg, service_handler handler, void *ctx)
{
	service_serve_pre(cfg, handler, NULL, ctx);
}

/*
 * With pre_accept the wait ticks every SERVICE_TICK_MS: pre_accept runs on
 * each tick too, so an idle process whose maps changed leaves within a
 * tick, and each tick tries one accept: a client whose exclusive wakeup
 * went to a process that left (pre_accept) is not stranded.
 */
void
service_serve_pre(struct config *cfg, service_handler handler,
    service_pre_accept pre_accept, void *ctx)
{
	long long max_idle;
	struct epoll_event ev;
	int client, rc, ep, timeout;
	time_t idle_since = service_now();

	service_max_use = config_get_int(cfg, "max_use");
	max_idle = config_get_time(cfg, "max_idle");
	set_nonblock(MASTER_LISTEN_FD, 1);
	ep = service_waiter();
	timeout = max_idle > 0 ? (int)max_idle * 1000 : -1;
	if (pre_accept != NULL)
		timeout = SERVICE_TICK_MS;
	for (;;) {
		if (service_term)
			exit(0);
		rc = epoll_wait(ep, &ev, 1, timeout);
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc == -1)
			fatal("epoll_wait");
		if (rc == 0 && (pre_accept == NULL || (max_idle > 0 &&
		    service_now() - idle_since >= max_idle)))
			exit(0);	/* idle too long */
		if (pre_accept != NULL)
			pre_accept(ctx);
		client = accept4(MASTER_LISTEN_FD, NULL, NULL, SOCK_CLOEXEC);
		if (client == -1) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED)
				continue;
			fatal("accept");
		}
		set_nonblock(client, 0);
		service_status(MASTER_STAT_TAKEN);
		service_used++;
		handler(client, ctx);
		if (service_term || (service_max_use > 0 &&
		    service_used >= service_max_use))
			exit(0);
		service_status(MASTER_STAT_AVAIL);
		idle_since = service_now();
	}
}
