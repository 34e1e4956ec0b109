/*
 * test_qmgr_route: transport choice from virtual_mailbox_domains (literal
 * names and maps), hostile addresses, and the deferred retry backoff.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fileutil.h"
#include "qmgr/qmgr.h"

Test(qmgr_route, literal_domains_case_insensitive)
{
	struct qmgr_route r;
	char err[256];

	cr_assert_eq(qmgr_route_open(&r, "example.com,  Example.NET\n\tlocal.test",
	    err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.ndomains, 3);
	cr_assert_eq(qmgr_route_local(&r, "bob@example.com"), 1);
	cr_assert_eq(qmgr_route_local(&r, "bob@EXAMPLE.COM"), 1);
	cr_assert_eq(qmgr_route_local(&r, "bob@example.net"), 1);
	cr_assert_eq(qmgr_route_local(&r, "x@local.test"), 1);
	cr_assert_eq(qmgr_route_local(&r, "bob@sub.example.com"), 0,
	    "subdomains are not ours");
	cr_assert_eq(qmgr_route_local(&r, "bob@example.com.evil.org"), 0);
	cr_assert_eq(qmgr_route_local(&r, "bob@gmail.com"), 0);
	/* The domain is after the last '@'. */
	cr_assert_eq(qmgr_route_local(&r, "\"a@gmail.com\"@example.com"), 1);
	cr_assert_eq(qmgr_route_local(&r, "a@example.com@gmail.com"), 0);
	/* No domain: a local part only ever means a local mailbox. */
	cr_assert_eq(qmgr_route_local(&r, "postmaster"), 1);
	cr_assert_eq(qmgr_route_local(&r, "postmaster@"), 1);
	qmgr_route_close(&r);
}

Test(qmgr_route, empty_list_routes_everything_to_smtp)
{
	struct qmgr_route r;
	char err[256];

	cr_assert_eq(qmgr_route_open(&r, "", err, sizeof(err)), 0);
	cr_assert_eq(qmgr_route_local(&r, "bob@example.com"), 0);
	qmgr_route_close(&r);
}

Test(qmgr_route, domains_from_a_map)
{
	char path[] = "/tmp/test_qmgr_route.XXXXXX", spec[128];
	struct qmgr_route r;
	char err[256];
	int fd;

	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write_full(fd, "# domains\nmapped.example ok\n", 28), 0);
	close(fd);
	snprintf(spec, sizeof(spec), "literal.example texthash:%s", path);
	cr_assert_eq(qmgr_route_open(&r, spec, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(qmgr_route_local(&r, "a@literal.example"), 1);
	cr_assert_eq(qmgr_route_local(&r, "a@Mapped.Example"), 1);
	cr_assert_eq(qmgr_route_local(&r, "a@other.example"), 0);
	qmgr_route_close(&r);
	unlink(path);
	/* A map that cannot be opened is a startup error, not "not ours". */
	cr_assert_eq(qmgr_route_open(&r, "texthash:/nonexistent/file", err,
	    sizeof(err)), -1);
	cr_assert_eq(qmgr_route_open(&r, "nosuchtype:/x", err, sizeof(err)), -1);
}

Test(qmgr_route, backoff_grows_with_age_within_bounds)
{
	time_t now = 1700000000;

	cr_assert_eq(qmgr_backoff(now, now, 300, 4000), 300);
	cr_assert_eq(qmgr_backoff(now, now - 100, 300, 4000), 300);
	cr_assert_eq(qmgr_backoff(now, now - 600, 300, 4000), 600);
	cr_assert_eq(qmgr_backoff(now, now - 1200, 300, 4000), 1200);
	cr_assert_eq(qmgr_backoff(now, now - 2400, 300, 4000), 2400);
	cr_assert_eq(qmgr_backoff(now, now - 4800, 300, 4000), 4000);
	cr_assert_eq(qmgr_backoff(now, now - 86400 * 30, 300, 4000), 4000);
	/* A clock that went backwards (arrival in the future): the minimum. */
	cr_assert_eq(qmgr_backoff(now, now + 5000, 300, 4000), 300);
}

static void
transport_route(struct qmgr_route *r, const char *text, char *path)
{
	char spec[128], err[256];
	int fd;

	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write_full(fd, text, strlen(text)), 0);
	close(fd);
	cr_assert_eq(qmgr_route_open(r, "local.example", err, sizeof(err)), 0);
	snprintf(spec, sizeof(spec), "texthash:%s", path);
	cr_assert_eq(qmgr_route_transport_open(r, spec, err, sizeof(err)), 0,
	    "%s", err);
}

Test(qmgr_route, transport_maps_address_domain_then_parents)
{
	char path[] = "/tmp/test_qmgr_transport.XXXXXX";
	struct qmgr_route r;
	struct qmgr_dest d;

	transport_route(&r,
	    "special@relay.example  local:\n"
	    "relay.example          smtp:[192.0.2.1]:2525\n"
	    ".parent.example        relay:mx.parent.example\n"
	    "bounce.example         error:5.1.2 no such domain here\n"
	    "soft.example           error:4.7.1 try later\n"
	    "plain.example          error:go away\n"
	    "drop.example           discard:\n"
	    "weird.example          uucp:host\n"
	    "hop.example            :[198.51.100.7]\n"
	    "local.example          smtp:[192.0.2.9]\n", path);
	cr_assert_eq(qmgr_route_resolve(&r, "a@relay.example", &d), 0);
	cr_assert_eq(d.transport, QMGR_TRANSPORT_SMTP);
	cr_assert_str_eq(d.nexthop, "[192.0.2.1]:2525");
	cr_assert_eq(qmgr_route_resolve(&r, "Special@RELAY.example", &d), 0);
	cr_assert_eq(d.transport, QMGR_TRANSPORT_LOCAL, "the full address first");
	cr_assert_eq(qmgr_route_resolve(&r, "a@x.y.parent.example", &d), 0);
	cr_assert_eq(d.transport, QMGR_TRANSPORT_SMTP);
	cr_assert_str_eq(d.nexthop, "mx.parent.example");
	cr_assert_eq(qmgr_route_resolve(&r, "a@parent.example", &d), 0);
	cr_assert_eq(d.transport, QMGR_TRANSPORT_SMTP);
	cr_assert_str_eq(d.nexthop, "", ".parent matches subdomains only");
	cr_assert_eq(qmgr_route_resolve(&r, "a@bounce.example", &d), 0);
	cr_assert_eq(d.transport, QMGR_TRANSPORT_ERROR);
	cr_assert_str_eq(d.nexthop, "5.1.2 no such domain here");
	cr_assert_eq(qmgr_route_resolve(&r, "a@drop.example", &d), 0);
	cr_assert_eq(d.transport, QMGR_TRANSPORT_DISCARD);
	cr_assert_eq(qmgr_route_resolve(&r, "a@weird.example", &d), 0);
	cr_assert_eq(d.transport, QMGR_TRANSPORT_UNKNOWN);
	cr_assert_eq(qmgr_route_resolve(&r, "a@hop.example", &d), 0);
	cr_assert_eq(d.transport, QMGR_TRANSPORT_SMTP, "empty name: default");
	cr_assert_str_eq(d.nexthop, "[198.51.100.7]");
	/* transport_maps overrides virtual_mailbox_domains. */
	cr_assert_eq(qmgr_route_resolve(&r, "a@local.example", &d), 0);
	cr_assert_eq(d.transport, QMGR_TRANSPORT_SMTP);
	cr_assert_eq(qmgr_route_resolve(&r, "a@elsewhere.example", &d), 0);
	cr_assert_eq(d.transport, QMGR_TRANSPORT_SMTP);
	cr_assert_str_eq(d.nexthop, "");
	cr_assert_eq(qmgr_route_resolve(&r, "postmaster", &d), 0);
	cr_assert_eq(d.transport, QMGR_TRANSPORT_LOCAL);
	qmgr_route_close(&r);
	unlink(path);
}

Test(qmgr_route, transport_values_parse_and_overflow)
{
	struct qmgr_dest d;
	char big[QMGR_NEXTHOP_MAX + 16];

	cr_assert_eq(qmgr_route_parse("local", &d), 0);
	cr_assert_eq(d.transport, QMGR_TRANSPORT_LOCAL);
	cr_assert_str_eq(d.nexthop, "");
	cr_assert_eq(qmgr_route_parse("error:", &d), 0);
	cr_assert_eq(d.transport, QMGR_TRANSPORT_ERROR);
	memset(big, 'h', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "smtp:", 5);
	cr_assert_eq(qmgr_route_parse(big, &d), -1, "nexthop over its limit");
	memset(big, 'n', sizeof(big) - 1);
	big[100] = ':';
	cr_assert_eq(qmgr_route_parse(big, &d), -1, "transport name too long");
}

Test(qmgr_route, mydestination_goes_to_local)
{
	struct qmgr_route r;
	struct qmgr_dest d;
	char err[256], path[] = "/tmp/test_qmgr_route_tp.XXXXXX", spec[128];
	int fd;

	cr_assert_eq(qmgr_route_open(&r, "virt.example", err, sizeof(err)), 0);
	qmgr_route_mydestination(&r, "mx.example.test, localhost.example.test.,"
	    " localhost texthash:/etc/ignored");
	cr_assert_eq(r.ndomains, 4, "the map entry is skipped");
	cr_assert_eq(qmgr_route_local(&r, "root@mx.example.test"), 1);
	cr_assert_eq(qmgr_route_local(&r, "root@MX.Example.TEST"), 1);
	cr_assert_eq(qmgr_route_local(&r, "root@mx.example.test."), 1,
	    "a trailing dot is ignored");
	cr_assert_eq(qmgr_route_local(&r, "root@localhost.example.test"), 1);
	cr_assert_eq(qmgr_route_local(&r, "root@LOCALHOST"), 1);
	cr_assert_eq(qmgr_route_local(&r, "a@virt.example"), 1);
	cr_assert_eq(qmgr_route_local(&r, "a@mx.example.test.evil"), 0);
	cr_assert_eq(qmgr_route_local(&r, "a@evil.mx.example.test"), 0);
	cr_assert_eq(qmgr_route_local(&r, "a@mx.example.test.."), 0);
	cr_assert_eq(qmgr_route_local(&r, "a@."), 0);
	cr_assert_eq(qmgr_route_resolve(&r, "root@mx.example.test", &d), 0);
	cr_assert_eq(d.transport, QMGR_TRANSPORT_LOCAL);
	cr_assert_eq(qmgr_route_resolve(&r, "root@elsewhere.test", &d), 0);
	cr_assert_eq(d.transport, QMGR_TRANSPORT_SMTP);
	/* transport_maps still wins when it names a transport. */
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write_full(fd, "mx.example.test smtp:[127.0.0.1]:25\n"
	    "localhost :[192.0.2.1]\n", 59), 0);
	close(fd);
	snprintf(spec, sizeof(spec), "texthash:%s", path);
	cr_assert_eq(qmgr_route_transport_open(&r, spec, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(qmgr_route_resolve(&r, "root@mx.example.test", &d), 0);
	cr_assert_eq(d.transport, QMGR_TRANSPORT_SMTP);
	cr_assert_str_eq(d.nexthop, "[127.0.0.1]:25");
	/* A nexthop without a transport name keeps the default: local. */
	cr_assert_eq(qmgr_route_resolve(&r, "root@localhost", &d), 0);
	cr_assert_eq(d.transport, QMGR_TRANSPORT_LOCAL);
	qmgr_route_close(&r);
	unlink(path);
	/* An empty mydestination adds nothing. */
	cr_assert_eq(qmgr_route_open(&r, "", err, sizeof(err)), 0);
	qmgr_route_mydestination(&r, "");
	cr_assert_eq(qmgr_route_local(&r, "root@mx.example.test"), 0);
	qmgr_route_close(&r);
}
