/*
 * master_cf: master.cf in Postfix's 8-column shape
 *   service type private unpriv chroot wakeup maxproc command [args]
 * '-' takes the default; whitespace-led lines continue the previous one;
 * "-o name=value" arguments are kept in order for the child. Pure parser:
 * no I/O beyond the text it is given.
 */
#ifndef POSTILION_MASTER_CF_H
#define POSTILION_MASTER_CF_H

#include <stddef.h>

enum service_type {
	SERVICE_INET,
	SERVICE_UNIX,
};

struct service_def {
	char	*name;		/* column 1: "smtp", "127.0.0.1:2525", "qmgr" */
	enum service_type type;
	int	 private_;	/* unix: private/ (1) or public/ (0) */
	int	 unpriv;
	int	 chroot;
	int	 wakeup;	/* seconds; non-zero: started at once, kept up */
	int	 maxproc;	/* 0: unlimited */
	char	*command;	/* column 8 */
	char	**argv;		/* the remaining words, NULL-terminated */
	size_t	 argc;
	int	 lineno;
};

/*
 * master_cf_parse: parse text; on success svcs and n hold the services.
 * default_maxproc fills a '-' in column 7. Returns -1 with
 * "FILE, line N: reason" in err.
 */
int	master_cf_parse(const char *text, const char *filename,
	    int default_maxproc, struct service_def **svcs, size_t *n,
	    char *err, size_t errlen);
void	master_cf_free(struct service_def *, size_t);
/*
 * service_inet_split: "[addr:]port" or "[v6addr]:port" into host (empty
 * for all interfaces) and port; -1 if malformed.
 */
int	service_inet_split(const char *name, char *host, size_t hostlen,
	    char *port, size_t portlen);

#endif
