/*
 * log: the one way every Postilion process reports. Lines go to syslog
 * (facility mail, ident SYSLOG_NAME/SERVICE), to maillog_file, or to stderr
 * in foreground mode, always in Postfix's shape so log tools keep working.
 * Call log_init() before the privilege drop: it opens what it needs then.
 */
#ifndef POSTILION_LOG_H
#define POSTILION_LOG_H

#include <stdarg.h>

#ifndef __dead
#define __dead __attribute__((__noreturn__))
#endif

#define LOG_TO_SYSLOG	0
#define LOG_TO_FILE	1
#define LOG_TO_STDERR	2

/*
 * log_init: set the ident and the destination. A non-empty maillog_file wins
 * over syslog; to_stderr wins over both (foreground mode and CLI tools).
 */
void	log_init(const char *syslog_name, const char *service,
	    const char *maillog_file, int to_stderr);
/* log_service: the current ident's service part (for "postilion/smtpd"). */
const char *log_service(void);
/* log_reopen_pid: refresh the cached pid after fork(). */
void	log_reopen_pid(void);
/* log_fd: the maillog_file descriptor, or -1 (master keeps it out of closefrom). */
int	log_fd(void);

void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
__dead void fatal(const char *, ...) __attribute__((format(printf, 1, 2)));
__dead void fatalx(const char *, ...) __attribute__((format(printf, 1, 2)));
/* log_debug prints only when this is non-zero (the -v flag). */
extern int log_verbose;

#endif
