/*
 * dns: MX and address lookups for the smtp client through the resolver
 * library (res_nquery on a private res_state). The state is set up before
 * a chroot (dns_open reads /etc/resolv.conf then), and a list of servers
 * ("127.0.0.1:5353, 192.0.2.53") may replace the system's, which is how
 * tests point the client at a DNS server on loopback.
 * Security: every name taken from an answer is checked to be a plain host
 * name before it is used or logged.
 */
#ifndef POSTILION_DNS_H
#define POSTILION_DNS_H

#include <stddef.h>

#include "core/netaddr.h"

#define DNS_NAME_MAX	256	/* a host name and its NUL */
#define DNS_SERVERS_MAX	3	/* MAXNS */
#define DNS_ANSWER_MAX	64	/* records kept from one answer */

/* Results of a lookup. */
#define DNS_OK		0
#define DNS_NOTFOUND	1	/* no record of that type (NODATA) */
#define DNS_NXDOMAIN	2	/* the name does not exist */
#define DNS_TEMPFAIL	(-1)	/* timeout, SERVFAIL, malformed answer */
#define DNS_PERMFAIL	(-2)	/* refused, bad name: will not get better */

struct dns;

struct dns_mx {
	char	 host[DNS_NAME_MAX];	/* "" for a null MX (RFC 7505) */
	unsigned int pref;
};

/*
 * dns_open: a resolver state; servers is "" for /etc/resolv.conf, else up
 * to DNS_SERVERS_MAX IPv4 "addr[:port]" entries. timeout is seconds per
 * try. NULL with a reason in err.
 */
struct dns *dns_open(const char *servers, int timeout, char *err,
	    size_t errlen);
void	dns_close(struct dns *);

/*
 * dns_lookup_mx: the MX records of domain in preference order, random
 * among equal preferences (*mx is malloc'd, *n records).
 */
int	dns_lookup_mx(struct dns *, const char *domain, struct dns_mx **mx,
	    size_t *n, char *err, size_t errlen);
/* dns_lookup_addr: the A (AF_INET) or AAAA (AF_INET6) records of host. */
int	dns_lookup_addr(struct dns *, const char *host, int family,
	    struct netaddr **addrs, size_t *n, char *err, size_t errlen);

/* dns_mx_order: sort by preference, shuffling equal preferences. */
void	dns_mx_order(struct dns_mx *, size_t);
/* dns_name_valid: letters, digits, '-', '_' and dots, labels 1-63 bytes. */
int	dns_name_valid(const char *);
/* dns_servers_parse: "a.b.c.d[:port]" list into sockaddrs; count or -1. */
struct sockaddr_in;
int	dns_servers_parse(const char *, struct sockaddr_in *, size_t max,
	    char *err, size_t errlen);

#endif
