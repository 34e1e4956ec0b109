/*
 * deliver_command: the runner for "|command" and "/file" alias
 * destinations. deliver_command_init() forks it before the agent drops
 * its privileges; it becomes default_privs at once (never root), and for
 * each request (ipc message + the queue file) runs the command with
 * execvp and an argv (no shell ever sees message data) under a time limit,
 * or appends the message to the file in mbox format, or reads an
 * :include: file for the agent (which is chrooted and cannot).
 * Parameters: default_privs, command_time_limit.
 * Security: the runner holds no privilege; the agent only asks for
 * destinations that came from a root-owned alias file (deliver_alias.c).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fileutil.h"
#include "core/log.h"
#include "core/privsep.h"
#include "core/xmalloc.h"
#include "deliver/deliver.h"
#include "ipc/ipc.h"
#include "map/map.h"

#define RUNNER_ARGS_MAX		64
#define RUNNER_CHUNK		65536
#define RUNNER_EX_TEMPFAIL	75

static void runner_main(int) __attribute__((noreturn));
static void runner_handle(const struct ipc_msg *, int, struct ipc_msg *);
static void runner_command(const struct ipc_msg *, int, struct ipc_msg *);
static void runner_file(const struct ipc_msg *, int, struct ipc_msg *);
static void runner_include(const struct ipc_msg *, struct ipc_msg *);
static int runner_feed(int, const char *, int, off_t, uint64_t, time_t);
static int runner_wait(pid_t, time_t, int *);
static void runner_reply(struct ipc_msg *, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
runner_reply(struct ipc_msg *out, const char *dsn, const char *fmt, ...)
{
	va_list ap;
	char text[512];

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	ipc_msg_reset(out);
	ipc_put(out, "dsn", dsn);
	ipc_put(out, "text", text);
}

/* runner_feed: header then the message on fd, until deadline; 0 or -1. */
static int
runner_feed(int fd, const char *header, int qfd, off_t off, uint64_t len,
    time_t deadline)
{
	char *chunk = xmalloc(RUNNER_CHUNK);
	struct buf out;
	struct pollfd pfd;
	size_t done = 0, n;
	ssize_t w;
	int rc = -1;

	buf_init(&out);
	buf_puts(&out, header);
	pfd.fd = fd;
	pfd.events = POLLOUT;
	for (;;) {
		if (done == out.len) {
			if (len == 0) {
				rc = 0;
				break;
			}
			n = len < RUNNER_CHUNK ? (size_t)len : RUNNER_CHUNK;
			if (pread_full(qfd, chunk, n, off) == -1)
				break;
			buf_reset(&out);
			buf_append(&out, chunk, n);
			done = 0;
			off += (off_t)n;
			len -= n;
		}
		if (time(NULL) >= deadline ||
		    (poll(&pfd, 1, 200) == -1 && errno != EINTR))
			break;
		w = write(fd, out.data + done, out.len - done);
		if (w > 0)
			done += (size_t)w;
		else if (w == -1 && errno == EPIPE) {
			rc = 0;		/* the command did not want it all */
			break;
		} else if (w == -1 && errno != EAGAIN && errno != EINTR)
			break;
	}
	buf_free(&out);
	free(chunk);
	return rc;
}

/* runner_wait: the exit status, or -1 after killing it at the deadline. */
static int
runner_wait(pid_t pid, time_t deadline, int *status)
{
	pid_t r;

	for (;;) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 0;
		if (r == -1 && errno != EINTR)
			return -1;
		if (time(NULL) >= deadline) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, status, 0);
			return -1;
		}
		usleep(20000);
	}
}

static void
runner_command(const struct ipc_msg *in, int qfd, struct ipc_msg *out)
{
	char *argv[RUNNER_ARGS_MAX + 1], *envp[6], *env_buf[4];
	const char *name, *value;
	size_t pos = 0, argc = 0;
	time_t deadline;
	int p[2], status, fed;
	pid_t pid;

	while (ipc_next(in, &pos, &name, &value) && argc < RUNNER_ARGS_MAX)
		if (!strcmp(name, "arg"))
			argv[argc++] = (char *)value;
	argv[argc] = NULL;
	if (argc == 0) {
		runner_reply(out, "5.3.5", "empty command");
		return;
	}
	deadline = time(NULL) + ipc_get_int(in, "timeout");
	env_buf[0] = xasprintf("SENDER=%s", ipc_get(in, "sender"));
	env_buf[1] = xasprintf("RECIPIENT=%s", ipc_get(in, "recipient"));
	envp[0] = "PATH=/usr/bin:/bin";
	envp[1] = "HOME=/";
	envp[2] = "SHELL=/bin/sh";
	envp[3] = env_buf[0];
	envp[4] = env_buf[1];
	envp[5] = NULL;
	if (pipe2(p, O_CLOEXEC) == -1 || (pid = fork()) == -1) {
		runner_reply(out, "4.3.0", "cannot run command: %s",
		    strerror(errno));
		goto done;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		setpgid(0, 0);
		signal(SIGPIPE, SIG_DFL);
		if (dup2(p[0], 0) == -1 || devnull == -1 ||
		    dup2(devnull, 1) == -1 || dup2(devnull, 2) == -1)
			_exit(RUNNER_EX_TEMPFAIL);
		closefrom(3);
		environ = envp;
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[0]);
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	fed = runner_feed(p[1], ipc_get(in, "header"), qfd,
	    (off_t)ipc_get_int(in, "offset"),
	    (uint64_t)ipc_get_int(in, "len"), deadline);
	close(p[1]);
	if (runner_wait(pid, deadline, &status) == -1)
		runner_reply(out, "4.3.0", "Command time limit exceeded: "
		    "\"%s\"", argv[0]);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && fed == 0)
		runner_reply(out, "2.0.0", "delivered to command: %s", argv[0]);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		runner_reply(out, "5.3.0", "command not found: %s", argv[0]);
	else if (WIFEXITED(status) && WEXITSTATUS(status) != RUNNER_EX_TEMPFAIL &&
	    WEXITSTATUS(status) != 0)
		runner_reply(out, "5.3.0", "Command died with status %d: "
		    "\"%s\"", WEXITSTATUS(status), argv[0]);
	else
		runner_reply(out, "4.3.0", "Command failed: \"%s\"", argv[0]);
done:
	free(env_buf[0]);
	free(env_buf[1]);
}

/* runner_file: append in mbox format ("From " line, >From quoting). */
static void
runner_file(const struct ipc_msg *in, int qfd, struct ipc_msg *out)
{
	const char *path = ipc_get(in, "path"), *sender = ipc_get(in, "sender");
	uint64_t len = (uint64_t)ipc_get_int(in, "len");
	off_t off = (off_t)ipc_get_int(in, "offset");
	char *chunk, stamp[64];
	struct buf b;
	struct stat st;
	time_t now = time(NULL);
	size_t n, i;
	int fd, bol = 1, rc = 0;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		runner_reply(out, errno == ENOSPC || errno == EIO ? "4.3.0" :
		    "5.2.0", "cannot append message to file %s: %s", path,
		    fd == -1 ? strerror(errno) : "not a regular file");
		if (fd != -1)
			close(fd);
		return;
	}
	strftime(stamp, sizeof(stamp), "%a %b %e %H:%M:%S %Y", gmtime(&now));
	buf_init(&b);
	buf_printf(&b, "From %s  %s\n%s", *sender ? sender : "MAILER-DAEMON",
	    stamp, ipc_get(in, "header"));
	chunk = xmalloc(RUNNER_CHUNK);
	while (rc == 0 && len > 0) {
		n = len < RUNNER_CHUNK ? (size_t)len : RUNNER_CHUNK;
		if ((rc = pread_full(qfd, chunk, n, off)) == -1)
			break;
		for (i = 0; i < n; i++) {
			if (bol && n - i >= 5 && !memcmp(chunk + i, "From ", 5))
				buf_putc(&b, '>');
			bol = chunk[i] == '\n';
			buf_putc(&b, chunk[i]);
		}
		off += (off_t)n;
		len -= n;
		if (b.len > RUNNER_CHUNK) {
			rc = write_full(fd, b.data, b.len);
			buf_reset(&b);
		}
	}
	if (!bol)
		buf_putc(&b, '\n');
	buf_putc(&b, '\n');
	if (rc == 0)
		rc = write_full(fd, b.data, b.len);
	if (rc == 0)
		rc = fsync(fd);
	if (rc == -1) {
		runner_reply(out, "4.3.0", "cannot append message to file %s: "
		    "%s", path, strerror(errno));
		(void)ftruncate(fd, st.st_size);	/* nothing half-written */
	} else
		runner_reply(out, "2.0.0", "delivered to file: %s", path);
	buf_free(&b);
	free(chunk);
	close(fd);
}

/* runner_include: the file's text, owner and mode (as default_privs). */
static void
runner_include(const struct ipc_msg *in, struct ipc_msg *out)
{
	const char *path = ipc_get(in, "path");
	struct stat st;
	char *text;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > MAP_VALUE_MAX) {
		runner_reply(out, "4.3.5", "cannot use include file %s: %s",
		    path, fd == -1 ? strerror(errno) : "not a regular file of "
		    "at most 65536 bytes");
		if (fd != -1)
			close(fd);
		return;
	}
	text = xcalloc(1, (size_t)st.st_size + 1);
	if (st.st_size > 0 && pread_full(fd, text, (size_t)st.st_size, 0) == -1)
		runner_reply(out, "4.3.5", "cannot read include file %s: %s",
		    path, strerror(errno));
	else {
		ipc_msg_reset(out);
		ipc_put(out, "dsn", "2.0.0");
		ipc_put(out, "text", text);
		ipc_put_int(out, "uid", (long long)st.st_uid);
		ipc_put_int(out, "mode", (long long)st.st_mode);
	}
	free(text);
	close(fd);
}

static void
runner_handle(const struct ipc_msg *in, int qfd, struct ipc_msg *out)
{
	const char *kind = ipc_get(in, "kind");

	if (kind != NULL && !strcmp(kind, "include") && ipc_get(in, "path"))
		runner_include(in, out);
	else if (qfd == -1)
		runner_reply(out, "4.3.0", "no queue file");
	else if (kind != NULL && !strcmp(kind, "command"))
		runner_command(in, qfd, out);
	else if (kind != NULL && !strcmp(kind, "file") && ipc_get(in, "path"))
		runner_file(in, qfd, out);
	else
		runner_reply(out, "4.3.0", "bad request to the command runner");
}

static void
runner_main(int sock)
{
	struct ipc_msg in, out;
	int qfd;

	signal(SIGPIPE, SIG_IGN);
	ipc_msg_init(&in);
	ipc_msg_init(&out);
	for (;;) {
		qfd = -1;
		if (ipc_recv(sock, &in, &qfd, 0) <= 0)
			_exit(0);
		runner_handle(&in, qfd, &out);
		if (qfd != -1)
			close(qfd);
		if (ipc_send(sock, &out, -1) == -1)
			_exit(1);
	}
}

int
deliver_command_init(struct config *cfg)
{
	const char *user = config_get(cfg, "default_privs");
	int sv[2];
	uid_t uid;
	gid_t gid;
	pid_t pid;

	if (priv_lookup(user, &uid, &gid) == -1)
		fatalx("default_privs: unknown user %s", user);
	if (geteuid() == 0 && uid == 0)
		fatalx("default_privs must not be root");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		fatal("socketpair");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		/* Keep only the socket (as fd 3): no listener, no status pipe. */
		if (dup2(sv[1], 3) == -1)
			_exit(1);
		closefrom(4);
		priv_drop(uid, gid, NULL);
		runner_main(3);
	}
	close(sv[1]);
	return sv[0];
}

int
deliver_command_call(int runner, struct ipc_msg *req, int qfd, int timeout,
    struct ipc_msg *reply)
{
	const char *d;

	if (runner == -1 || ipc_send(runner, req, qfd) == -1 ||
	    ipc_recv(runner, reply, NULL, timeout + 30) <= 0 ||
	    (d = ipc_get(reply, "dsn")) == NULL || !deliver_dsn_valid(d))
		return -1;
	return 0;
}

void
deliver_command_run(int runner, struct ipc_msg *req, int qfd, int timeout,
    char *dsn, size_t dsnlen, struct buf *text)
{
	struct ipc_msg reply;
	const char *t;

	ipc_msg_init(&reply);
	if (deliver_command_call(runner, req, qfd, timeout, &reply) == -1) {
		strlcpy(dsn, "4.3.0", dsnlen);
		buf_puts(text, "command runner unavailable");
	} else {
		t = ipc_get(&reply, "text");
		strlcpy(dsn, ipc_get(&reply, "dsn"), dsnlen);
		buf_puts(text, t ? t : "");
	}
	ipc_msg_free(&reply);
}
