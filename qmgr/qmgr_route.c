/*
 * qmgr_route: which transport a recipient goes to, and when a deferred
 * message is tried again. transport_maps is asked first (the address, its
 * domain, then each parent as ".parent", Postfix's order), with values
 * "local:", "smtp:[host]:port", "smtp:host", "error:text", "discard:text";
 * then a domain listed in virtual_mailbox_domains (a literal name, or a key
 * in a "type:name" map in that list) or in mydestination (literal names,
 * case-insensitive, a trailing dot ignored) goes to the local transport;
 * everything else to smtp (relayhost and MX are the smtp agent's business).
 * Parameters: transport_maps, virtual_mailbox_domains, mydestination.
 * Security: maps are opened at startup, before the privilege drop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "map/map.h"
#include "qmgr/qmgr.h"

static int qmgr_route_transport_lookup(struct qmgr_route *, const char *,
    struct qmgr_dest *);
static int qmgr_route_domain_eq(const char *, const char *);

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

/*
 * mydestination: literal names only (a "type:name" entry is not supported
 * here and is skipped with a warning); "$myhostname" is already expanded
 * by config_get. Added to the literal local domains.
 */
void
qmgr_route_mydestination(struct qmgr_route *r, const char *value)
{
	char **items;
	size_t n, i, len;

	items = config_split(value, &n);
	r->domains = xreallocarray(r->domains, r->ndomains + n + 1,
	    sizeof(char *));
	for (i = 0; i < n; i++) {
		if (strchr(items[i], ':') != NULL || strchr(items[i], '/')) {
			log_warnx("mydestination: %s: only domain names are "
			    "supported, entry ignored", items[i]);
			continue;
		}
		len = strlen(items[i]);
		if (len > 0 && items[i][len - 1] == '.')
			items[i][--len] = '\0';
		if (len > 0)
			r->domains[r->ndomains++] = xstrdup(items[i]);
	}
	r->domains[r->ndomains] = NULL;
	config_split_free(items);
}

/* Case-insensitive, a trailing dot on either side ignored. */
static int
qmgr_route_domain_eq(const char *listed, const char *domain)
{
	size_t a = strlen(listed), b = strlen(domain);

	if (a > 0 && listed[a - 1] == '.')
		a--;
	if (b > 0 && domain[b - 1] == '.')
		b--;
	return a == b && strncasecmp(listed, domain, a) == 0;
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
	if (r->transport)
		map_list_close(r->transport);
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
		if (qmgr_route_domain_eq(r->domains[i], domain))
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

int
qmgr_route_transport_open(struct qmgr_route *r, const char *maps, char *err,
    size_t errlen)
{
	if (maps == NULL || *maps == '\0')
		return 0;
	if ((r->transport = map_list_open(maps, err, errlen)) == NULL)
		return -1;
	return 0;
}

/*
 * "name:nexthop" (":nexthop" keeps the default transport, "name" alone
 * has no nexthop). relay is Postfix's second smtp transport: ours is smtp.
 */
int
qmgr_route_parse(const char *value, struct qmgr_dest *d)
{
	const char *colon = strchr(value, ':');
	char name[64];
	size_t n;

	n = colon ? (size_t)(colon - value) : strlen(value);
	if (n >= sizeof(name))
		return -1;
	memcpy(name, value, n);
	name[n] = '\0';
	d->nexthop[0] = '\0';
	if (colon != NULL && strlcpy(d->nexthop, colon + 1,
	    sizeof(d->nexthop)) >= sizeof(d->nexthop))
		return -1;
	if (n == 0)
		d->transport = -1;	/* the caller's default */
	else if (!strcmp(name, "local") || !strcmp(name, "virtual"))
		d->transport = QMGR_TRANSPORT_LOCAL;
	else if (!strcmp(name, "smtp") || !strcmp(name, "relay"))
		d->transport = QMGR_TRANSPORT_SMTP;
	else if (!strcmp(name, "error"))
		d->transport = QMGR_TRANSPORT_ERROR;
	else if (!strcmp(name, "discard"))
		d->transport = QMGR_TRANSPORT_DISCARD;
	else {
		d->transport = QMGR_TRANSPORT_UNKNOWN;
		strlcpy(d->nexthop, name, sizeof(d->nexthop));
	}
	return 0;
}

/* 1 found, 0 not, -1 lookup error. Keys are lower case. */
static int
qmgr_route_transport_lookup(struct qmgr_route *r, const char *address,
    struct qmgr_dest *d)
{
	struct buf value;
	char *key, *p, *dom;
	int rc = 0;

	key = xstrdup(address);
	for (p = key; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p += 'a' - 'A';
	buf_init(&value);
	dom = strrchr(key, '@');
	if ((rc = map_list_lookup(r->transport, key, &value)) == 0 &&
	    dom != NULL && dom[1] != '\0') {
		dom++;
		rc = map_list_lookup(r->transport, dom, &value);
		/* Parents: ".example.com" matches sub.example.com. */
		for (p = strchr(dom, '.'); rc == 0 && p != NULL;
		    p = strchr(p + 1, '.'))
			rc = map_list_lookup(r->transport, p, &value);
	}
	if (rc == 1 && qmgr_route_parse(value.data, d) == -1) {
		d->transport = QMGR_TRANSPORT_ERROR;
		strlcpy(d->nexthop, "4.3.5 bad transport_maps entry",
		    sizeof(d->nexthop));
	}
	buf_free(&value);
	free(key);
	return rc;
}

int
qmgr_route_resolve(struct qmgr_route *r, const char *address,
    struct qmgr_dest *d)
{
	int local;

	memset(d, 0, sizeof(*d));
	d->transport = -1;
	if (r->transport != NULL &&
	    qmgr_route_transport_lookup(r, address, d) == -1)
		return -1;
	if (d->transport != -1)
		return 0;
	if ((local = qmgr_route_local(r, address)) == -1)
		return -1;
	d->transport = local ? QMGR_TRANSPORT_LOCAL : QMGR_TRANSPORT_SMTP;
	return 0;
}
