/*
 * master_cf: tokenise master.cf into service definitions. Column syntax
 * errors name the file and line so an administrator can fix them.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/master_cf.h"
#include "core/buf.h"
#include "core/xmalloc.h"
#include "conf/config.h"

#define MASTER_CF_MAXPROC	100000

static int master_cf_flag(const char *, int, int *);
static int master_cf_line(char *, const char *, int, int,
    struct service_def *, char *, size_t);

static int
master_cf_flag(const char *word, int dflt, int *out)
{
	if (!strcmp(word, "-"))
		*out = dflt;
	else if (!strcmp(word, "y"))
		*out = 1;
	else if (!strcmp(word, "n"))
		*out = 0;
	else
		return -1;
	return 0;
}

static int
master_cf_number(const char *word, int dflt, int *out)
{
	const char *errstr;
	size_t len = strlen(word);
	char tmp[32];

	if (!strcmp(word, "-")) {
		*out = dflt;
		return 0;
	}
	/* Postfix allows a trailing '?' on wakeup ("only when used"). */
	if (len > 0 && len < sizeof(tmp) && word[len - 1] == '?') {
		memcpy(tmp, word, len - 1);
		tmp[len - 1] = '\0';
		word = tmp;
	}
	*out = (int)strtonum(word, 0, MASTER_CF_MAXPROC, &errstr);
	return errstr ? -1 : 0;
}

static int
master_cf_line(char *line, const char *filename, int lineno,
    int default_maxproc, struct service_def *svc, char *err, size_t errlen)
{
	char **words;
	size_t n, i;
	int rc = -1;
	char host[256], port[64];

	words = config_split_sep(line, " \t\r\n", &n);
	memset(svc, 0, sizeof(*svc));
	svc->lineno = lineno;
	if (n < 8) {
		snprintf(err, errlen, "%s, line %d: expected 8 columns or "
		    "more, found %zu", filename, lineno, n);
		goto out;
	}
	if (!strcmp(words[1], "inet"))
		svc->type = SERVICE_INET;
	else if (!strcmp(words[1], "unix"))
		svc->type = SERVICE_UNIX;
	else {
		snprintf(err, errlen, "%s, line %d: unknown service type "
		    "\"%s\" (inet or unix)", filename, lineno, words[1]);
		goto out;
	}
	if (master_cf_flag(words[2], 1, &svc->private_) == -1 ||
	    master_cf_flag(words[3], 1, &svc->unpriv) == -1 ||
	    master_cf_flag(words[4], 0, &svc->chroot) == -1) {
		snprintf(err, errlen, "%s, line %d: private, unpriv and chroot "
		    "columns take y, n or -", filename, lineno);
		goto out;
	}
	if (master_cf_number(words[5], 0, &svc->wakeup) == -1 ||
	    master_cf_number(words[6], default_maxproc, &svc->maxproc) == -1) {
		snprintf(err, errlen, "%s, line %d: wakeup and maxproc "
		    "columns take a number or -", filename, lineno);
		goto out;
	}
	if (svc->type == SERVICE_INET && service_inet_split(words[0], host,
	    sizeof(host), port, sizeof(port)) == -1) {
		snprintf(err, errlen, "%s, line %d: bad inet service \"%s\"",
		    filename, lineno, words[0]);
		goto out;
	}
	if (svc->type == SERVICE_UNIX && strchr(words[0], '/') != NULL) {
		snprintf(err, errlen, "%s, line %d: unix service name must "
		    "not contain '/'", filename, lineno);
		goto out;
	}
	svc->name = xstrdup(words[0]);
	svc->command = xstrdup(words[7]);
	svc->argv = xcalloc(n - 8 + 1, sizeof(char *));
	for (i = 8; i < n; i++)
		svc->argv[svc->argc++] = xstrdup(words[i]);
	rc = 0;
out:
	config_split_free(words);
	return rc;
}

int
master_cf_parse(const char *text, const char *filename, int default_maxproc,
    struct service_def **svcs, size_t *nsvcs, char *err, size_t errlen)
{
	struct service_def *v = NULL;
	struct buf logical;
	const char *p = text, *nl, *q;
	size_t n = 0, len;
	int lineno = 0, start = 0, rc = 0;

	buf_init(&logical);
	buf_puts(&logical, "");
	for (;;) {
		int at_end = (*p == '\0');

		if (!at_end) {
			nl = strchr(p, '\n');
			len = nl ? (size_t)(nl - p) : strlen(p);
			lineno++;
			for (q = p; q < p + len && isspace((unsigned char)*q); q++)
				;
			if (q == p + len || *q == '#') {
				p = nl ? nl + 1 : p + len;
				continue;
			}
			if (isspace((unsigned char)*p)) {
				if (logical.len == 0) {
					snprintf(err, errlen, "%s, line %d: "
					    "continuation line without a "
					    "service", filename, lineno);
					rc = -1;
					break;
				}
				buf_putc(&logical, ' ');
				buf_append(&logical, q, len - (size_t)(q - p));
				p = nl ? nl + 1 : p + len;
				continue;
			}
		}
		if (logical.len > 0) {
			v = xreallocarray(v, n + 1, sizeof(*v));
			if (master_cf_line(logical.data, filename, start,
			    default_maxproc, &v[n], err, errlen) == -1) {
				rc = -1;
				break;
			}
			n++;
		}
		if (at_end)
			break;
		buf_reset(&logical);
		buf_append(&logical, p, len);
		start = lineno;
		p = nl ? nl + 1 : p + len;
	}
	buf_free(&logical);
	if (rc == -1) {
		master_cf_free(v, n);
		return -1;
	}
	*svcs = v;
	*nsvcs = n;
	return 0;
}

void
master_cf_free(struct service_def *v, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].command);
		for (j = 0; j < v[i].argc; j++)
			free(v[i].argv[j]);
		free(v[i].argv);
	}
	free(v);
}

int
service_inet_split(const char *name, char *host, size_t hostlen, char *port,
    size_t portlen)
{
	const char *colon, *close, *p;

	if (name[0] == '[') {
		if ((close = strchr(name, ']')) == NULL || close[1] != ':')
			return -1;
		if ((size_t)(close - name - 1) >= hostlen)
			return -1;
		memcpy(host, name + 1, (size_t)(close - name - 1));
		host[close - name - 1] = '\0';
		p = close + 2;
	} else if ((colon = strrchr(name, ':')) != NULL) {
		if ((size_t)(colon - name) >= hostlen)
			return -1;
		memcpy(host, name, (size_t)(colon - name));
		host[colon - name] = '\0';
		p = colon + 1;
	} else {
		host[0] = '\0';
		p = name;
	}
	if (*p == '\0' || strlcpy(port, p, portlen) >= portlen)
		return -1;
	return 0;
}
