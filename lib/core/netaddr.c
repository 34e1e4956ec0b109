/*
 * netaddr: address parsing with inet_pton, prefix matching byte by byte.
 * Used by smtpd for mynetworks; kept free of config so tests can drive it.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/netaddr.h"
#include "core/xmalloc.h"

#define NETADDR_SPEC_MAX	128

static int netaddr_host_bits(const struct netaddr_cidr *);
static const unsigned char v4mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

int
netaddr_parse(const char *text, struct netaddr *a)
{
	char tmp[NETADDR_STRLEN + 3];
	size_t len = strlen(text);

	memset(a, 0, sizeof(*a));
	if (len >= sizeof(tmp))
		return -1;
	if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
		memcpy(tmp, text + 1, len - 2);
		tmp[len - 2] = '\0';
		a->family = AF_INET6;
		return inet_pton(AF_INET6, tmp, a->addr) == 1 ? 0 : -1;
	}
	if (inet_pton(AF_INET, text, a->addr) == 1) {
		a->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, a->addr) == 1) {
		a->family = AF_INET6;
		return 0;
	}
	return -1;
}

int
netaddr_from_sockaddr(const struct sockaddr *sa, socklen_t salen,
    struct netaddr *a)
{
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;

	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET && salen >= sizeof(*sin)) {
		sin = (const struct sockaddr_in *)sa;
		a->family = AF_INET;
		memcpy(a->addr, &sin->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && salen >= sizeof(*sin6)) {
		sin6 = (const struct sockaddr_in6 *)sa;
		if (memcmp(&sin6->sin6_addr, v4mapped, sizeof(v4mapped)) == 0) {
			a->family = AF_INET;
			memcpy(a->addr, sin6->sin6_addr.s6_addr + 12, 4);
			return 0;
		}
		a->family = AF_INET6;
		memcpy(a->addr, &sin6->sin6_addr, 16);
		return 0;
	}
	return -1;
}

void
netaddr_socket_format(int fd, int peer, char *out, size_t outlen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct netaddr a;
	int rc;

	rc = peer ? getpeername(fd, (struct sockaddr *)&ss, &len) :
	    getsockname(fd, (struct sockaddr *)&ss, &len);
	if (rc == -1 || netaddr_from_sockaddr((struct sockaddr *)&ss, len,
	    &a) == -1) {
		strlcpy(out, "unknown", outlen);
		return;
	}
	netaddr_format(&a, out, outlen);
}

void
netaddr_format(const struct netaddr *a, char *out, size_t outlen)
{
	if (inet_ntop(a->family, a->addr, out, (socklen_t)outlen) == NULL)
		strlcpy(out, "unknown", outlen);
}

/* netaddr_host_bits: non-zero when bits beyond the prefix are set. */
static int
netaddr_host_bits(const struct netaddr_cidr *c)
{
	size_t nbytes = c->net.family == AF_INET ? 4 : 16, i;
	unsigned int bit;

	for (i = 0; i < nbytes; i++) {
		bit = (unsigned int)i * 8;
		if (bit >= c->prefix) {
			if (c->net.addr[i] != 0)
				return 1;
		} else if (bit + 8 > c->prefix &&
		    (c->net.addr[i] & (0xff >> (c->prefix - bit))) != 0)
			return 1;
	}
	return 0;
}

int
netaddr_cidr_parse(const char *spec, struct netaddr_cidr *c, char *err,
    size_t errlen)
{
	char addr[NETADDR_SPEC_MAX];
	const char *slash, *errstr;
	unsigned int max;
	size_t len;

	memset(c, 0, sizeof(*c));
	slash = strrchr(spec, '/');
	len = slash ? (size_t)(slash - spec) : strlen(spec);
	if (len == 0 || len >= sizeof(addr))
		goto bad;
	memcpy(addr, spec, len);
	addr[len] = '\0';
	if (netaddr_parse(addr, &c->net) == -1)
		goto bad;
	max = c->net.family == AF_INET ? 32 : 128;
	c->prefix = max;
	if (slash) {
		c->prefix = (unsigned int)strtonum(slash + 1, 0, max, &errstr);
		if (errstr != NULL)
			goto bad;
	}
	if (netaddr_host_bits(c)) {
		snprintf(err, errlen, "non-null host address bits in \"%s\"",
		    spec);
		return -1;
	}
	return 0;
bad:
	snprintf(err, errlen, "bad network address or prefix: \"%s\"", spec);
	return -1;
}

int
netaddr_cidr_match(const struct netaddr_cidr *c, const struct netaddr *a)
{
	unsigned int full = c->prefix / 8, rest = c->prefix % 8;
	unsigned char mask;

	if (c->net.family != a->family)
		return 0;
	if (memcmp(c->net.addr, a->addr, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - rest));
	return (c->net.addr[full] & mask) == (a->addr[full] & mask);
}

struct netaddr_list *
netaddr_list_parse(const char *text, char *err, size_t errlen)
{
	struct netaddr_list *list;
	const char *p = text, *start;
	char spec[NETADDR_SPEC_MAX];
	size_t len;

	list = xcalloc(1, sizeof(*list));
	for (;;) {
		while (*p == ',' || *p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (*p == '\0')
			return list;
		for (start = p; *p && *p != ',' && *p != ' ' && *p != '\t' &&
		    *p != '\n'; p++)
			;
		len = (size_t)(p - start);
		if (len >= sizeof(spec)) {
			snprintf(err, errlen, "network address too long");
			goto fail;
		}
		memcpy(spec, start, len);
		spec[len] = '\0';
		list->nets = xreallocarray(list->nets, list->count + 1,
		    sizeof(*list->nets));
		if (netaddr_cidr_parse(spec, &list->nets[list->count], err,
		    errlen) == -1)
			goto fail;
		list->count++;
	}
fail:
	netaddr_list_free(list);
	return NULL;
}

int
netaddr_list_match(const struct netaddr_list *list, const struct netaddr *a)
{
	size_t i;

	for (i = 0; i < list->count; i++)
		if (netaddr_cidr_match(&list->nets[i], a))
			return 1;
	return 0;
}

void
netaddr_list_free(struct netaddr_list *list)
{
	if (list == NULL)
		return;
	free(list->nets);
	free(list);
}
