/*
 * master_conf: master.cf loading and checks shared by master and
 * `postilion check`: CONFDIR/master.cf parsed with default_process_limit,
 * duplicate services refused, inet endpoints resolved. Errors name the file
 * and line.
 */
#ifndef POSTILION_MASTER_CONF_H
#define POSTILION_MASTER_CONF_H

#include <stddef.h>

#include "conf/config.h"
#include "conf/master_cf.h"

struct addrinfo;

/* master_conf_load: read and parse CONFDIR/master.cf; -1 with err set. */
int	master_conf_load(struct config *, const char *confdir,
	    struct service_def **, size_t *, char *err, size_t errlen);
/*
 * master_conf_resolve: the local addresses an inet service binds, from
 * "[host:]port" (an empty host means inet_interfaces); *wildcard is set
 * when that means every address. Free with freeaddrinfo. -1 with err set.
 */
int	master_conf_resolve(struct config *, const struct service_def *,
	    const char *filename, struct addrinfo **, int *wildcard,
	    char *err, size_t errlen);

#endif
