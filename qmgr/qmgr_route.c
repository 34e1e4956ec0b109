/*
 * qmgr_route: which transport a recipient goes to, and when a deferred
 * message is tried again. A domain listed in virtual_mailbox_domains (a
 * literal name, or a key in a "type:name" map in that list) is delivered
 * by the local transport; everything else by smtp.
 * Security: maps are opened at startup, before the privilege drop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/xmalloc.h"
#include "map/map.h"
#include "qmgr/qmgr.h"

int
qmgr_route_open(struct qmgr_route *r, const char *value, char *err,
    size_t errlen)
{
	char **items;
	struct buf specs;
	size_t n, i;

	memset(r, 0, sizeof(*r));
	items = config_split(value, &n);
	buf_init(&specs);
	r->domains = xcalloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++) {
		if (strchr(items[i], ':') != NULL) {
			if (specs.len)
				buf_puts(&specs, ", ");
			buf_puts(&specs, items[i]);
		} else
			r->domains[r->ndomains++] = xstrdup(items[i]);
	}
	config_split_free(items);
	if (specs.len > 0 &&
	    (r->maps = map_list_open(specs.data, err, errlen)) == NULL) {
		buf_free(&specs);
		qmgr_route_close(r);
		return -1;
	}
	buf_free(&specs);
	return 0;
}

void
qmgr_route_close(struct qmgr_route *r)
{
	size_t i;

	for (i = 0; i < r->ndomains; i++)
		free(r->domains[i]);
	free(r->domains);
	if (r->maps)
		map_list_close(r->maps);
	memset(r, 0, sizeof(*r));
}

int
qmgr_route_local(struct qmgr_route *r, const char *address)
{
	const char *at = strrchr(address, '@');
	const char *domain;
	struct buf value;
	char *key, *p;
	size_t i;
	int rc;

	/* A bare local part can only mean a mailbox of ours. */
	if (at == NULL || at[1] == '\0')
		return 1;
	domain = at + 1;
	for (i = 0; i < r->ndomains; i++)
		if (!strcasecmp(r->domains[i], domain))
			return 1;
	if (r->maps == NULL)
		return 0;
	key = xstrdup(domain);
	for (p = key; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p += 'a' - 'A';
	buf_init(&value);
	rc = map_list_lookup(r->maps, key, &value);
	buf_free(&value);
	free(key);
	return rc;
}

/*
 * Postfix's rule: wait as long as the message has been queued, so the
 * interval roughly doubles with each try, within [min, max].
 */
long long
qmgr_backoff(time_t now, time_t arrival, long long min, long long max)
{
	long long delay = (long long)now - (long long)arrival;

	if (delay > max)
		delay = max;
	if (delay < min)
		delay = min;
	return delay;
}
