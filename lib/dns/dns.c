/*
 * dns: MX/A/AAAA lookups with res_nquery on a private resolver state,
 * answers parsed with ns_parserr. Interface: dns.h.
 * Security: answers are untrusted: record counts are capped
 * (DNS_ANSWER_MAX), lengths checked, and names must be plain host names.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "core/xmalloc.h"
#include "dns/dns.h"

#define DNS_PACKET_MAX	65536

struct dns {
	struct __res_state res;
};

static int dns_query(struct dns *, const char *, ns_type, unsigned char *,
    int *, char *, size_t);
static int dns_mx_compare(const void *, const void *);

int
dns_name_valid(const char *name)
{
	size_t label = 0, total = 0;
	const char *p;

	for (p = name; *p; p++, total++) {
		if (*p == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			return 0;
		if (++label > 63)
			return 0;
	}
	return total > 0 && total < DNS_NAME_MAX;
}

int
dns_servers_parse(const char *list, struct sockaddr_in *sa, size_t max,
    char *err, size_t errlen)
{
	char **items, host[64], *colon;
	const char *errstr;
	size_t count, i;
	long long port;
	int n = 0;

	items = config_split(list, &count);
	for (i = 0; i < count; i++) {
		if ((size_t)n == max) {
			snprintf(err, errlen, "more than %zu DNS servers", max);
			goto bad;
		}
		if (strlcpy(host, items[i], sizeof(host)) >= sizeof(host))
			goto badaddr;
		port = 53;
		if ((colon = strchr(host, ':')) != NULL) {
			*colon = '\0';
			port = strtonum(colon + 1, 1, 65535, &errstr);
			if (errstr != NULL)
				goto badaddr;
		}
		memset(&sa[n], 0, sizeof(sa[n]));
		sa[n].sin_family = AF_INET;
		sa[n].sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &sa[n].sin_addr) != 1)
			goto badaddr;
		n++;
	}
	config_split_free(items);
	return n;
badaddr:
	snprintf(err, errlen, "bad DNS server \"%s\" (IPv4 address[:port])",
	    items[i]);
bad:
	config_split_free(items);
	return -1;
}

struct dns *
dns_open(const char *servers, int timeout, char *err, size_t errlen)
{
	struct sockaddr_in sa[DNS_SERVERS_MAX];
	struct dns *d;
	int n, i;

	n = dns_servers_parse(servers, sa, DNS_SERVERS_MAX, err, errlen);
	if (n == -1)
		return NULL;
	d = xcalloc(1, sizeof(*d));
	if (res_ninit(&d->res) == -1) {
		snprintf(err, errlen, "resolver initialization failed");
		free(d);
		return NULL;
	}
	/* A changed server list makes glibc use these, not resolv.conf's. */
	if (n > 0) {
		for (i = 0; i < n; i++)
			d->res.nsaddr_list[i] = sa[i];
		d->res.nscount = n;
	}
	if (timeout > 0)
		d->res.retrans = timeout;
	d->res.retry = 2;
	d->res.options &= ~(RES_DNSRCH | RES_DEFNAMES);
	return d;
}

void
dns_close(struct dns *d)
{
	if (d == NULL)
		return;
	res_nclose(&d->res);
	free(d);
}

/* dns_query: one query; DNS_OK with the answer in ans/len, or a failure. */
static int
dns_query(struct dns *d, const char *name, ns_type type, unsigned char *ans,
    int *len, char *err, size_t errlen)
{
	const char *tname = type == ns_t_mx ? "MX" :
	    type == ns_t_a ? "A" : "AAAA";

	if (!dns_name_valid(name)) {
		snprintf(err, errlen, "bad domain name syntax");
		return DNS_PERMFAIL;
	}
	d->res.res_h_errno = 0;
	*len = res_nquery(&d->res, name, ns_c_in, type, ans, DNS_PACKET_MAX);
	if (*len >= 0)
		return DNS_OK;
	switch (d->res.res_h_errno) {
	case HOST_NOT_FOUND:
		snprintf(err, errlen, "Host or domain name not found. Name "
		    "service error for name=%s type=%s: Host not found", name,
		    tname);
		return DNS_NXDOMAIN;
	case NO_DATA:
		snprintf(err, errlen, "no %s record for %s", tname, name);
		return DNS_NOTFOUND;
	case NO_RECOVERY:
		snprintf(err, errlen, "Name service error for name=%s type=%s: "
		    "Non-recoverable error", name, tname);
		return DNS_PERMFAIL;
	default:
		snprintf(err, errlen, "Host or domain name not found. Name "
		    "service error for name=%s type=%s: Host not found, try "
		    "again", name, tname);
		return DNS_TEMPFAIL;
	}
}

int
dns_lookup_mx(struct dns *d, const char *domain, struct dns_mx **mxp,
    size_t *np, char *err, size_t errlen)
{
	unsigned char *ans;
	char host[NS_MAXDNAME];
	struct dns_mx *mx = NULL;
	ns_msg msg;
	ns_rr rr;
	size_t n = 0;
	int len, rc, i, count;

	*mxp = NULL;
	*np = 0;
	ans = xmalloc(DNS_PACKET_MAX);
	if ((rc = dns_query(d, domain, ns_t_mx, ans, &len, err, errlen)) != 0)
		goto out;
	rc = DNS_TEMPFAIL;
	if (ns_initparse(ans, len, &msg) == -1) {
		snprintf(err, errlen, "malformed MX answer for %s", domain);
		goto out;
	}
	count = ns_msg_count(msg, ns_s_an);
	mx = xcalloc(DNS_ANSWER_MAX, sizeof(*mx));
	for (i = 0; i < count && n < DNS_ANSWER_MAX; i++) {
		if (ns_parserr(&msg, ns_s_an, i, &rr) == -1) {
			snprintf(err, errlen, "malformed MX answer for %s",
			    domain);
			goto out;
		}
		if (ns_rr_type(rr) != ns_t_mx || ns_rr_class(rr) != ns_c_in)
			continue;
		if (ns_rr_rdlen(rr) < 3 || dn_expand(ns_msg_base(msg),
		    ns_msg_end(msg), ns_rr_rdata(rr) + 2, host,
		    sizeof(host)) == -1) {
			snprintf(err, errlen, "malformed MX record for %s",
			    domain);
			goto out;
		}
		if (!strcmp(host, "."))
			host[0] = '\0';
		if (host[0] != '\0' && !dns_name_valid(host))
			continue;	/* unusable, like Postfix: skip it */
		mx[n].pref = ns_get16(ns_rr_rdata(rr));
		strlcpy(mx[n].host, host, sizeof(mx[n].host));
		n++;
	}
	if (n == 0) {
		snprintf(err, errlen, "no usable MX record for %s", domain);
		rc = DNS_NOTFOUND;
		goto out;
	}
	dns_mx_order(mx, n);
	*mxp = mx;
	*np = n;
	mx = NULL;
	rc = DNS_OK;
out:
	free(mx);
	free(ans);
	return rc;
}

int
dns_lookup_addr(struct dns *d, const char *host, int family,
    struct netaddr **addrs, size_t *np, char *err, size_t errlen)
{
	unsigned char *ans;
	struct netaddr *a = NULL;
	ns_msg msg;
	ns_rr rr;
	size_t n = 0, alen = family == AF_INET ? 4 : 16;
	ns_type type = family == AF_INET ? ns_t_a : ns_t_aaaa;
	int len, rc, i, count;

	*addrs = NULL;
	*np = 0;
	ans = xmalloc(DNS_PACKET_MAX);
	if ((rc = dns_query(d, host, type, ans, &len, err, errlen)) != 0)
		goto out;
	rc = DNS_TEMPFAIL;
	if (ns_initparse(ans, len, &msg) == -1) {
		snprintf(err, errlen, "malformed answer for %s", host);
		goto out;
	}
	count = ns_msg_count(msg, ns_s_an);
	a = xcalloc(DNS_ANSWER_MAX, sizeof(*a));
	for (i = 0; i < count && n < DNS_ANSWER_MAX; i++) {
		if (ns_parserr(&msg, ns_s_an, i, &rr) == -1) {
			snprintf(err, errlen, "malformed answer for %s", host);
			goto out;
		}
		/* A CNAME chain leads to the records of its target. */
		if (ns_rr_type(rr) != type || ns_rr_class(rr) != ns_c_in ||
		    ns_rr_rdlen(rr) != alen)
			continue;
		a[n].family = family;
		memcpy(a[n].addr, ns_rr_rdata(rr), alen);
		n++;
	}
	if (n == 0) {
		snprintf(err, errlen, "no %s record for %s",
		    family == AF_INET ? "A" : "AAAA", host);
		rc = DNS_NOTFOUND;
		goto out;
	}
	*addrs = a;
	*np = n;
	a = NULL;
	rc = DNS_OK;
out:
	free(a);
	free(ans);
	return rc;
}

static int
dns_mx_compare(const void *a, const void *b)
{
	const struct dns_mx *x = a, *y = b;

	return x->pref < y->pref ? -1 : x->pref > y->pref;
}

void
dns_mx_order(struct dns_mx *mx, size_t n)
{
	struct dns_mx tmp;
	size_t i, j, k;

	if (n < 2)
		return;
	qsort(mx, n, sizeof(*mx), dns_mx_compare);
	/* Fisher-Yates within each run of equal preference (RFC 5321 5.1). */
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && mx[j].pref == mx[i].pref; j++)
			;
		for (k = j - 1; k > i; k--) {
			size_t r = i + arc4random_uniform((uint32_t)(k - i + 1));

			tmp = mx[k];
			mx[k] = mx[r];
			mx[r] = tmp;
		}
	}
}
