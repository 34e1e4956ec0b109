/*
 * test_dns: name checks, server lists, MX ordering, and real lookups
 * against a dnsmasq started on a loopback port (skipped without dnsmasq).
 */
#include <criterion/criterion.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns/dns.h"

#define DNSMASQ	"/usr/sbin/dnsmasq"

static pid_t dnsmasq_pid = -1;
static int dnsmasq_port;

Test(dns, name_valid)
{
	char longlabel[80], longname[300];

	cr_assert(dns_name_valid("mx1.example.net"));
	cr_assert(dns_name_valid("a-b_c.example"));
	cr_assert(!dns_name_valid(""));
	cr_assert(!dns_name_valid("a..b"));
	cr_assert(!dns_name_valid(".a"));
	cr_assert(!dns_name_valid("a b.example"));
	cr_assert(!dns_name_valid("evil\\010.example"));
	cr_assert(!dns_name_valid("x\n.example"));
	memset(longlabel, 'a', 64);
	longlabel[64] = '\0';
	cr_assert(!dns_name_valid(longlabel));
	longlabel[63] = '\0';
	cr_assert(dns_name_valid(longlabel));
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	for (size_t i = 50; i < sizeof(longname) - 1; i += 50)
		longname[i] = '.';
	cr_assert(!dns_name_valid(longname));
}

Test(dns, servers_parse)
{
	struct sockaddr_in sa[3];
	char err[128];

	cr_assert_eq(dns_servers_parse("", sa, 3, err, sizeof(err)), 0);
	cr_assert_eq(dns_servers_parse("127.0.0.1:5353, 192.0.2.53", sa, 3,
	    err, sizeof(err)), 2);
	cr_assert_eq(ntohs(sa[0].sin_port), 5353);
	cr_assert_eq(ntohs(sa[1].sin_port), 53);
	cr_assert_eq(sa[1].sin_addr.s_addr, inet_addr("192.0.2.53"));
	cr_assert_eq(dns_servers_parse("127.0.0.1:0", sa, 3, err,
	    sizeof(err)), -1);
	cr_assert_eq(dns_servers_parse("127.0.0.1:70000", sa, 3, err,
	    sizeof(err)), -1);
	cr_assert_eq(dns_servers_parse("ns.example", sa, 3, err,
	    sizeof(err)), -1);
	cr_assert_eq(dns_servers_parse("1.1.1.1 2.2.2.2 3.3.3.3 4.4.4.4", sa,
	    3, err, sizeof(err)), -1);
	cr_assert(strstr(err, "more than 3") != NULL, "%s", err);
}

Test(dns, mx_order_by_preference_random_among_equals)
{
	struct dns_mx mx[4];
	int first_b = 0, first_c = 0, round;

	for (round = 0; round < 200; round++) {
		memset(mx, 0, sizeof(mx));
		strlcpy(mx[0].host, "d", sizeof(mx[0].host));
		mx[0].pref = 30;
		strlcpy(mx[1].host, "b", sizeof(mx[1].host));
		mx[1].pref = 10;
		strlcpy(mx[2].host, "a", sizeof(mx[2].host));
		mx[2].pref = 5;
		strlcpy(mx[3].host, "c", sizeof(mx[3].host));
		mx[3].pref = 10;
		dns_mx_order(mx, 4);
		cr_assert_str_eq(mx[0].host, "a");
		cr_assert_str_eq(mx[3].host, "d");
		cr_assert_eq(mx[1].pref, 10);
		cr_assert_eq(mx[2].pref, 10);
		if (!strcmp(mx[1].host, "b"))
			first_b++;
		else
			first_c++;
	}
	cr_assert(first_b > 20 && first_c > 20, "b %d c %d", first_b, first_c);
}

static int
free_udp_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int s, port;

	s = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(s, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(s);
	return port;
}

/* spawn_dnsmasq: one dnsmasq on a fresh port; its pid. */
static pid_t
spawn_dnsmasq(void)
{
	char port[32];
	pid_t pid;

	dnsmasq_port = free_udp_port();
	snprintf(port, sizeof(port), "--port=%d", dnsmasq_port);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		execl(DNSMASQ, "dnsmasq", "--keep-in-foreground", "--no-resolv",
		    "--no-hosts", "-C", "/dev/null", "--pid-file=", port,
		    "--listen-address=127.0.0.1", "--bind-interfaces",
		    "--log-facility=/dev/null", "--user=root", "--local=/test/",
		    "--mx-host=multi.test,mx2.multi.test,20",
		    "--mx-host=multi.test,mx1.multi.test,10",
		    "--mx-host=nullmx.test,.,0",
		    "--host-record=mx1.multi.test,127.0.0.5",
		    "--host-record=v6.multi.test,::1",
		    "--host-record=two.multi.test,127.0.0.6",
		    "--host-record=two.multi.test,127.0.0.7",
		    "--host-record=onlya.test,127.0.0.8",
		    (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* dnsmasq_answers: 1 once the server answers, 0 if it died first. */
static int
dnsmasq_answers(pid_t pid)
{
	struct dns *d;
	struct netaddr *a;
	size_t n;
	char err[256], list[64];
	int i, rc;

	snprintf(list, sizeof(list), "127.0.0.1:%d", dnsmasq_port);
	for (i = 0; i < 100; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return 0;	/* port taken (TCP side): try another */
		d = dns_open(list, 1, err, sizeof(err));
		cr_assert_not_null(d, "%s", err);
		rc = dns_lookup_addr(d, "mx1.multi.test", AF_INET, &a, &n, err,
		    sizeof(err));
		dns_close(d);
		if (rc == DNS_OK) {
			free(a);
			return 1;
		}
		usleep(50000);
	}
	return 0;
}

static void
start_dnsmasq(void)
{
	int tries;

	if (access(DNSMASQ, X_OK) != 0)
		cr_skip_test("no %s", DNSMASQ);
	for (tries = 0; tries < 5; tries++) {
		dnsmasq_pid = spawn_dnsmasq();
		if (dnsmasq_answers(dnsmasq_pid))
			return;
		kill(dnsmasq_pid, SIGKILL);
		waitpid(dnsmasq_pid, NULL, 0);
		dnsmasq_pid = -1;
	}
	cr_assert_fail("dnsmasq did not answer");
}

static void
stop_dnsmasq(void)
{
	if (dnsmasq_pid > 0) {
		kill(dnsmasq_pid, SIGTERM);
		waitpid(dnsmasq_pid, NULL, 0);
	}
}

TestSuite(dnslive, .init = start_dnsmasq, .fini = stop_dnsmasq);

static struct dns *
open_live(void)
{
	char list[64], err[256];
	struct dns *d;

	snprintf(list, sizeof(list), "127.0.0.1:%d", dnsmasq_port);
	d = dns_open(list, 1, err, sizeof(err));
	cr_assert_not_null(d, "%s", err);
	return d;
}

Test(dnslive, mx_records_in_preference_order)
{
	struct dns *d = open_live();
	struct dns_mx *mx;
	size_t n;
	char err[256];

	cr_assert_eq(dns_lookup_mx(d, "multi.test", &mx, &n, err,
	    sizeof(err)), DNS_OK, "%s", err);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(mx[0].host, "mx1.multi.test");
	cr_assert_eq(mx[0].pref, 10);
	cr_assert_str_eq(mx[1].host, "mx2.multi.test");
	free(mx);
	dns_close(d);
}

Test(dnslive, null_mx_is_an_empty_host)
{
	struct dns *d = open_live();
	struct dns_mx *mx;
	size_t n;
	char err[256];

	cr_assert_eq(dns_lookup_mx(d, "nullmx.test", &mx, &n, err,
	    sizeof(err)), DNS_OK, "%s", err);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(mx[0].host, "");
	cr_assert_eq(mx[0].pref, 0);
	free(mx);
	dns_close(d);
}

Test(dnslive, no_mx_and_nxdomain_are_not_found)
{
	struct dns *d = open_live();
	struct dns_mx *mx;
	size_t n;
	char err[256];

	cr_assert_eq(dns_lookup_mx(d, "onlya.test", &mx, &n, err,
	    sizeof(err)), DNS_NOTFOUND);
	cr_assert_null(mx);
	cr_assert_eq(dns_lookup_mx(d, "nothere.test", &mx, &n, err,
	    sizeof(err)), DNS_NXDOMAIN);
	cr_assert(strstr(err, "name=nothere.test type=MX: Host not found") !=
	    NULL, "%s", err);
	cr_assert_eq(dns_lookup_mx(d, "bad name.test", &mx, &n, err,
	    sizeof(err)), DNS_PERMFAIL);
	dns_close(d);
}

Test(dnslive, a_and_aaaa_records)
{
	struct dns *d = open_live();
	struct netaddr *a;
	size_t n;
	char err[256], text[64];

	cr_assert_eq(dns_lookup_addr(d, "two.multi.test", AF_INET, &a, &n, err,
	    sizeof(err)), DNS_OK, "%s", err);
	cr_assert_eq(n, 2);
	netaddr_format(&a[0], text, sizeof(text));
	cr_assert(!strcmp(text, "127.0.0.6") || !strcmp(text, "127.0.0.7"),
	    "%s", text);
	free(a);
	cr_assert_eq(dns_lookup_addr(d, "v6.multi.test", AF_INET6, &a, &n, err,
	    sizeof(err)), DNS_OK, "%s", err);
	cr_assert_eq(n, 1);
	netaddr_format(&a[0], text, sizeof(text));
	cr_assert_str_eq(text, "::1");
	free(a);
	cr_assert_eq(dns_lookup_addr(d, "v6.multi.test", AF_INET, &a, &n, err,
	    sizeof(err)), DNS_NOTFOUND);
	dns_close(d);
}

Test(dns, unreachable_server_is_a_temporary_failure)
{
	struct dns *d;
	struct netaddr *a;
	size_t n;
	char err[256], list[64];

	snprintf(list, sizeof(list), "127.0.0.1:%d", free_udp_port());
	d = dns_open(list, 1, err, sizeof(err));
	cr_assert_not_null(d);
	cr_assert_eq(dns_lookup_addr(d, "x.test", AF_INET, &a, &n, err,
	    sizeof(err)), DNS_TEMPFAIL, "%s", err);
	dns_close(d);
}
