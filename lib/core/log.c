/*
 * log: syslog / maillog_file / stderr output in Postfix's line shape.
 * A file line is "Mon DD HH:MM:SS host ident[pid]: text", written with one
 * write(2) on an O_APPEND descriptor so lines of concurrent processes never
 * interleave. Security: the file is opened before chroot and kept open.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

#define LOG_LINE_MAX	4096

int log_verbose;

static int log_dest = LOG_TO_STDERR;
static int log_file = -1;
static char log_ident[128] = "postilion";
static char log_service_name[64] = "";
static char log_host[256] = "localhost";
static pid_t log_pid;

static void log_emit(int, const char *, const char *, va_list, int);

void
log_init(const char *syslog_name, const char *service,
    const char *maillog_file, int to_stderr)
{
	char *dot;

	if (syslog_name == NULL || *syslog_name == '\0')
		syslog_name = "postilion";
	strlcpy(log_service_name, service ? service : "", sizeof(log_service_name));
	if (service && *service)
		snprintf(log_ident, sizeof(log_ident), "%s/%s", syslog_name, service);
	else
		strlcpy(log_ident, syslog_name, sizeof(log_ident));
	if (gethostname(log_host, sizeof(log_host)) != 0)
		strlcpy(log_host, "localhost", sizeof(log_host));
	log_host[sizeof(log_host) - 1] = '\0';
	if ((dot = strchr(log_host, '.')) != NULL)
		*dot = '\0';
	log_pid = getpid();
	tzset();

	if (log_file != -1) {
		close(log_file);
		log_file = -1;
	}
	if (to_stderr) {
		log_dest = LOG_TO_STDERR;
	} else if (maillog_file && *maillog_file) {
		log_file = open(maillog_file,
		    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (log_file == -1) {
			log_dest = LOG_TO_STDERR;
			log_warn("open %s", maillog_file);
			return;
		}
		log_dest = LOG_TO_FILE;
	} else {
		log_dest = LOG_TO_SYSLOG;
		closelog();
		/* LOG_NDELAY: connect now, while /dev/log is still reachable. */
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
	}
}

const char *
log_service(void)
{
	return log_service_name;
}

void
log_reopen_pid(void)
{
	log_pid = getpid();
}

int
log_fd(void)
{
	return log_file;
}

static void
log_emit(int priority, const char *prefix, const char *fmt, va_list ap,
    int with_errno)
{
	char msg[LOG_LINE_MAX], line[LOG_LINE_MAX + 512], stamp[32];
	int saved = errno, n;
	size_t len;
	struct tm tm;
	time_t now;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		len = strlen(msg);
		snprintf(msg + len, sizeof(msg) - len, ": %s", strerror(saved));
	}
	if (log_dest == LOG_TO_SYSLOG) {
		syslog(priority, "%s%s", prefix, msg);
		errno = saved;
		return;
	}
	if (log_dest == LOG_TO_FILE) {
		now = time(NULL);
		localtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
		n = snprintf(line, sizeof(line), "%s %s %s[%ld]: %s%s\n", stamp,
		    log_host, log_ident, (long)log_pid, prefix, msg);
	} else {
		n = snprintf(line, sizeof(line), "%s[%ld]: %s%s\n", log_ident,
		    (long)log_pid, prefix, msg);
	}
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	(void)!write(log_dest == LOG_TO_FILE ? log_file : STDERR_FILENO,
	    line, (size_t)n);
	errno = saved;
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_INFO, "", fmt, ap, 0);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_emit(LOG_DEBUG, "", fmt, ap, 0);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_WARNING, "warning: ", fmt, ap, 0);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_WARNING, "warning: ", fmt, ap, 1);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, "fatal: ", fmt, ap, 1);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, "fatal: ", fmt, ap, 0);
	va_end(ap);
	exit(1);
}
