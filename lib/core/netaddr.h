/*
 * netaddr: IPv4/IPv6 addresses and CIDR networks as in Postfix's
 * mynetworks ("127.0.0.0/8 [::1]/128 192.0.2.7"). An IPv4-mapped IPv6
 * client (::ffff:a.b.c.d) is matched and printed as IPv4.
 * Security: a network with host bits set is an error, not a guess.
 */
#ifndef POSTILION_NETADDR_H
#define POSTILION_NETADDR_H

#include <sys/types.h>
#include <sys/socket.h>
#include <stddef.h>

#define NETADDR_STRLEN	46	/* INET6_ADDRSTRLEN */

struct netaddr {
	int	 family;		/* AF_INET or AF_INET6 */
	unsigned char addr[16];		/* network byte order; 4 used for v4 */
};

struct netaddr_cidr {
	struct netaddr net;
	unsigned int prefix;		/* 0-32 or 0-128 */
};

struct netaddr_list {
	struct netaddr_cidr *nets;
	size_t	 count;
};

/* netaddr_parse: "192.0.2.1", "2001:db8::1" or "[2001:db8::1]"; 0/-1. */
int	netaddr_parse(const char *, struct netaddr *);
/* netaddr_from_sockaddr: a peer address; v4-mapped v6 becomes v4. 0/-1. */
int	netaddr_from_sockaddr(const struct sockaddr *, socklen_t,
	    struct netaddr *);
/* netaddr_format: the numeric text form (no brackets). */
void	netaddr_format(const struct netaddr *, char *, size_t);
/* netaddr_socket_format: the peer's (peer) or our end of socket fd; "unknown". */
void	netaddr_socket_format(int fd, int peer, char *, size_t);
/* netaddr_cidr_parse: "a.b.c.d[/n]", "[v6][/n]", "v6[/n]"; -1 + err. */
int	netaddr_cidr_parse(const char *, struct netaddr_cidr *, char *err,
	    size_t errlen);
int	netaddr_cidr_match(const struct netaddr_cidr *, const struct netaddr *);
/* netaddr_list_parse: a list separated by commas/whitespace; NULL + err. */
struct netaddr_list *netaddr_list_parse(const char *, char *err, size_t errlen);
int	netaddr_list_match(const struct netaddr_list *, const struct netaddr *);
void	netaddr_list_free(struct netaddr_list *);

#endif
