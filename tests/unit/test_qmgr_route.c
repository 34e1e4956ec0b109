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
