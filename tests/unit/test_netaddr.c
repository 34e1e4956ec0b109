/*
 * test_netaddr: parsing addresses and CIDR networks (mynetworks forms),
 * matching at every prefix boundary, and refusing malformed networks.
 */
#include <criterion/criterion.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "core/netaddr.h"

static struct netaddr
addr(const char *text)
{
	struct netaddr a;

	cr_assert_eq(netaddr_parse(text, &a), 0, "cannot parse %s", text);
	return a;
}

static int
in_list(const char *list, const char *text)
{
	struct netaddr_list *l;
	struct netaddr a = addr(text);
	char err[256];
	int rc;

	l = netaddr_list_parse(list, err, sizeof(err));
	cr_assert_not_null(l, "%s: %s", list, err);
	rc = netaddr_list_match(l, &a);
	netaddr_list_free(l);
	return rc;
}

Test(netaddr, parse_and_format)
{
	struct netaddr a;
	char text[NETADDR_STRLEN];

	a = addr("192.0.2.1");
	cr_assert_eq(a.family, AF_INET);
	netaddr_format(&a, text, sizeof(text));
	cr_assert_str_eq(text, "192.0.2.1");
	a = addr("[2001:DB8::1]");
	cr_assert_eq(a.family, AF_INET6);
	netaddr_format(&a, text, sizeof(text));
	cr_assert_str_eq(text, "2001:db8::1");
	a = addr("::1");
	cr_assert_eq(a.family, AF_INET6);
	cr_assert_eq(netaddr_parse("", &a), -1);
	cr_assert_eq(netaddr_parse("1.2.3", &a), -1);
	cr_assert_eq(netaddr_parse("1.2.3.256", &a), -1);
	cr_assert_eq(netaddr_parse("[1.2.3.4]", &a), -1);
	cr_assert_eq(netaddr_parse("[::1", &a), -1);
	cr_assert_eq(netaddr_parse("localhost", &a), -1);
	cr_assert_eq(netaddr_parse("[1111:2222:3333:4444:5555:6666:7777:8888:"
	    "9999]", &a), -1);
}

Test(netaddr, from_sockaddr_unmaps_v4_mapped)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct netaddr a;
	char text[NETADDR_STRLEN];

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "198.51.100.7", &sin.sin_addr);
	cr_assert_eq(netaddr_from_sockaddr((struct sockaddr *)&sin,
	    sizeof(sin), &a), 0);
	netaddr_format(&a, text, sizeof(text));
	cr_assert_str_eq(text, "198.51.100.7");

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6.sin6_addr);
	cr_assert_eq(netaddr_from_sockaddr((struct sockaddr *)&sin6,
	    sizeof(sin6), &a), 0);
	cr_assert_eq(a.family, AF_INET);
	netaddr_format(&a, text, sizeof(text));
	cr_assert_str_eq(text, "127.0.0.1");

	inet_pton(AF_INET6, "2001:db8::5", &sin6.sin6_addr);
	cr_assert_eq(netaddr_from_sockaddr((struct sockaddr *)&sin6,
	    sizeof(sin6), &a), 0);
	cr_assert_eq(a.family, AF_INET6);
	/* A truncated sockaddr is refused. */
	cr_assert_eq(netaddr_from_sockaddr((struct sockaddr *)&sin6, 8, &a),
	    -1);
	sin.sin_family = AF_UNIX;
	cr_assert_eq(netaddr_from_sockaddr((struct sockaddr *)&sin,
	    sizeof(sin), &a), -1);
}

Test(netaddr, mynetworks_default_forms)
{
	const char *def = "127.0.0.0/8 [::1]/128";

	cr_assert(in_list(def, "127.0.0.1"));
	cr_assert(in_list(def, "127.255.255.255"));
	cr_assert(!in_list(def, "128.0.0.1"));
	cr_assert(!in_list(def, "126.255.255.255"));
	cr_assert(in_list(def, "::1"));
	cr_assert(!in_list(def, "::2"));
	cr_assert(!in_list(def, "::ffff:127.0.0.1"));
	cr_assert(in_list("192.0.2.7, 10.0.0.0/8,\t2001:db8::/32",
	    "192.0.2.7"));
	cr_assert(!in_list("192.0.2.7", "192.0.2.8"));
	cr_assert(in_list("192.0.2.7, 2001:db8::/32", "2001:db8:ffff::1"));
	cr_assert(!in_list("192.0.2.7, 2001:db8::/32", "2001:db9::1"));
	cr_assert(in_list("0.0.0.0/0", "203.0.113.9"));
	cr_assert(!in_list("0.0.0.0/0", "::1"));
	cr_assert(in_list("[::]/0", "::1"));
	cr_assert(!in_list("", "127.0.0.1"));
}

/*
 * boundary: for prefix p over a pattern address, the network's highest
 * address matches and the address with bit p-1 flipped does not.
 */
static void
boundary(int family, unsigned int p)
{
	unsigned char net[16], inside[16], outside[16];
	size_t nbytes = family == AF_INET ? 4 : 16, i;
	char text[NETADDR_STRLEN], spec[80], err[128];
	struct netaddr_cidr c;
	struct netaddr a;

	memset(net, 0xa5, sizeof(net));
	for (i = p; i < nbytes * 8; i++)
		net[i / 8] &= (unsigned char)~(0x80 >> (i % 8));
	memcpy(inside, net, sizeof(net));
	for (i = p; i < nbytes * 8; i++)
		inside[i / 8] |= (unsigned char)(0x80 >> (i % 8));
	memcpy(outside, net, sizeof(net));
	outside[(p - 1) / 8] ^= (unsigned char)(0x80 >> ((p - 1) % 8));

	inet_ntop(family, net, text, sizeof(text));
	snprintf(spec, sizeof(spec), family == AF_INET ? "%s/%u" : "[%s]/%u",
	    text, p);
	cr_assert_eq(netaddr_cidr_parse(spec, &c, err, sizeof(err)), 0,
	    "%s: %s", spec, err);
	memset(&a, 0, sizeof(a));
	a.family = family;
	memcpy(a.addr, inside, nbytes);
	cr_assert(netaddr_cidr_match(&c, &a), "%s inside", spec);
	memcpy(a.addr, outside, nbytes);
	cr_assert(!netaddr_cidr_match(&c, &a), "%s outside", spec);
	a.family = family == AF_INET ? AF_INET6 : AF_INET;
	memcpy(a.addr, inside, nbytes);
	cr_assert(!netaddr_cidr_match(&c, &a), "%s other family", spec);
}

Test(netaddr, every_prefix_length_boundary)
{
	unsigned int p;

	for (p = 1; p <= 32; p++)
		boundary(AF_INET, p);
	for (p = 1; p <= 128; p++)
		boundary(AF_INET6, p);
}

Test(netaddr, malformed_networks_are_errors)
{
	const char *bad[] = {
		"10.0.0.1/8", "10.0.0.0/33", "[::1]/129", "10.0.0.0/",
		"10.0.0.0/-1", "10.0.0.0/8x", "/8", "example.com",
		"hash:/etc/postfix/network_table", "!10.0.0.0/8",
		"[10.0.0.0]/8", "2001:db8::1/64",
		"1111111111111111111111111111111111111111111111111111111111111"
		"1111111111111111111111111111111111111111111111111111111111111"
		"111111111111",
	};
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_assert_null(netaddr_list_parse(bad[i], err, sizeof(err)),
		    "accepted %s", bad[i]);
		cr_assert_neq(err[0], '\0');
	}
	cr_assert_null(netaddr_list_parse("10.0.0.1/8", err, sizeof(err)));
	cr_assert_str_eq(err, "non-null host address bits in \"10.0.0.1/8\"");
}
