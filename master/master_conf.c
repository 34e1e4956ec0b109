/*
 * master_conf: read master.cf, reject duplicate services (a name may be
 * used once per type, as in Postfix: "smtp inet" and "smtp unix" differ),
 * and resolve inet service names to addresses to bind.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileutil.h"
#include "core/xmalloc.h"
#include "master_conf.h"

#define MASTER_CF_FILE_MAX	(1024 * 1024)

static int master_conf_duplicates(const struct service_def *, size_t,
    const char *, char *, size_t);
static int master_conf_host(struct config *, const char *, char *, size_t,
    char *, size_t);

int
master_conf_load(struct config *cfg, const char *confdir,
    struct service_def **svcs, size_t *n, char *err, size_t errlen)
{
	const char *errstr;
	char *path, *text;
	long long maxproc;
	int rc;

	maxproc = strtonum(config_get(cfg, "default_process_limit"), 0, 100000,
	    &errstr);
	if (errstr != NULL) {
		snprintf(err, errlen, "bad default_process_limit: %s",
		    config_get(cfg, "default_process_limit"));
		return -1;
	}
	path = xasprintf("%s/master.cf", confdir);
	if ((text = read_file(path, NULL, MASTER_CF_FILE_MAX)) == NULL) {
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	rc = master_cf_parse(text, path, (int)maxproc, svcs, n, err, errlen);
	if (rc == 0 && master_conf_duplicates(*svcs, *n, path, err,
	    errlen) == -1) {
		master_cf_free(*svcs, *n);
		rc = -1;
	}
	free(text);
	free(path);
	return rc;
}

static int
master_conf_duplicates(const struct service_def *v, size_t n,
    const char *path, char *err, size_t errlen)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < i; j++) {
			if (v[i].type != v[j].type ||
			    strcmp(v[i].name, v[j].name) != 0)
				continue;
			snprintf(err, errlen, "%s, line %d: duplicate service "
			    "\"%s\" (first defined on line %d)", path,
			    v[i].lineno, v[i].name, v[j].lineno);
			return -1;
		}
	}
	return 0;
}

/*
 * master_conf_host: an explicit host wins; otherwise inet_interfaces, of
 * which one address is supported ("all" and "loopback-only" too), since a
 * child gets exactly one listening socket.
 */
static int
master_conf_host(struct config *cfg, const char *host, char *out,
    size_t outlen, char *err, size_t errlen)
{
	char **ifaces;
	size_t n;
	int rc = 0;

	if (*host != '\0') {
		strlcpy(out, host, outlen);
		return 0;
	}
	ifaces = config_split(config_get(cfg, "inet_interfaces"), &n);
	if (n == 0 || (n == 1 && strcmp(ifaces[0], "all") == 0))
		out[0] = '\0';
	else if (n == 1 && strcmp(ifaces[0], "loopback-only") == 0)
		strlcpy(out, "127.0.0.1", outlen);
	else if (n == 1)
		strlcpy(out, ifaces[0], outlen);
	else {
		snprintf(err, errlen, "inet_interfaces: only one address (or "
		    "all) is supported; name the address in master.cf instead");
		rc = -1;
	}
	config_split_free(ifaces);
	return rc;
}

int
master_conf_resolve(struct config *cfg, const struct service_def *def,
    const char *filename, struct addrinfo **res, int *wildcard, char *err,
    size_t errlen)
{
	char host[256], port[64], bind_host[256];
	const char *errstr;
	struct addrinfo hints;
	int rc;

	if (service_inet_split(def->name, host, sizeof(host), port,
	    sizeof(port)) == -1) {
		snprintf(err, errlen, "%s, line %d: bad inet service \"%s\"",
		    filename, def->lineno, def->name);
		return -1;
	}
	/* getaddrinfo takes any number and truncates it to 16 bits. */
	if (strspn(port, "0123456789") == strlen(port)) {
		(void)strtonum(port, 1, 65535, &errstr);
		if (errstr != NULL) {
			snprintf(err, errlen, "%s, line %d: service \"%s\": "
			    "port %s is %s", filename, def->lineno, def->name,
			    port, errstr);
			return -1;
		}
	}
	if (master_conf_host(cfg, host, bind_host, sizeof(bind_host), err,
	    errlen) == -1)
		return -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	*wildcard = bind_host[0] == '\0';
	rc = getaddrinfo(*wildcard ? NULL : bind_host, port, &hints, res);
	if (rc == EAI_SERVICE) {
		snprintf(err, errlen, "%s, line %d: service \"%s\": unknown "
		    "port \"%s\"", filename, def->lineno, def->name, port);
		return -1;
	}
	if (rc != 0) {
		snprintf(err, errlen, "%s, line %d: service \"%s\": %s",
		    filename, def->lineno, def->name, gai_strerror(rc));
		return -1;
	}
	return 0;
}
