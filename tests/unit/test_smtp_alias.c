/*
 * test_smtp_alias: virtual_alias_maps expansion for smtpd (alias_expand):
 * one to many, the @domain catch-all, "@a @b" domain rewrites, recursion,
 * self references, loops and the expansion limit.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "map/alias_expand.h"

static char path[] = "/tmp/test_smtp_alias.XXXXXX";
static struct map_list *maps;

static void
setup(void)
{
	const char *text =
	    "team@example.test a@example.test, <B@Example.test> lead@example.test\n"
	    "lead@example.test boss@example.test, lead@example.test\n"
	    "@catch.test postmaster@example.test\n"
	    "@old.test @new.test\n"
	    "loop1@example.test loop2@example.test\n"
	    "loop2@example.test loop1@example.test\n"
	    "self@example.test self@example.test\n"
	    "big@example.test x1@e.test x2@e.test x3@e.test x4@e.test\n"
	    "deep1@example.test deep2@example.test\n"
	    "deep2@example.test deep3@example.test\n"
	    "deep3@example.test end@example.test\n";
	char spec[64], err[256];
	FILE *f;
	int fd;

	cr_assert_geq(fd = mkstemp(path), 0);
	cr_assert_not_null(f = fdopen(fd, "w"));
	fputs(text, f);
	fclose(f);
	snprintf(spec, sizeof(spec), "texthash:%s", path);
	maps = map_list_open(spec, err, sizeof(err));
	cr_assert_not_null(maps, "%s", err);
}

static void
teardown(void)
{
	map_list_close(maps);
	unlink(path);
}

TestSuite(smtp_alias, .init = setup, .fini = teardown);

static int
has(const struct alias_result *r, const char *address)
{
	size_t i;

	for (i = 0; i < r->count; i++)
		if (strcmp(r->addresses[i], address) == 0)
			return 1;
	return 0;
}

Test(smtp_alias, one_to_many_recursive_and_self_kept)
{
	struct alias_result r;

	cr_assert_eq(alias_expand(maps, "Team@Example.test", 100, 100, &r), 4);
	cr_assert(has(&r, "a@example.test"));
	cr_assert(has(&r, "b@example.test"), "brackets and case");
	cr_assert(has(&r, "boss@example.test"), "recursion");
	cr_assert(has(&r, "lead@example.test"), "self reference kept");
	alias_result_free(&r);
	cr_assert_eq(alias_expand(maps, "self@example.test", 100, 100, &r), 1);
	cr_assert_str_eq(r.addresses[0], "self@example.test");
	alias_result_free(&r);
}

Test(smtp_alias, catch_all_and_domain_rewrite)
{
	struct alias_result r;

	cr_assert_eq(alias_expand(maps, "anyone@catch.test", 100, 100, &r), 1);
	cr_assert_str_eq(r.addresses[0], "postmaster@example.test");
	alias_result_free(&r);
	cr_assert_eq(alias_expand(maps, "joe@old.test", 100, 100, &r), 1);
	cr_assert_str_eq(r.addresses[0], "joe@new.test");
	alias_result_free(&r);
	cr_assert_eq(alias_expand(maps, "nobody@example.test", 100, 100, &r),
	    ALIAS_EXPAND_NONE);
	cr_assert_eq(r.count, 0);
}

Test(smtp_alias, loops_and_limits_are_errors)
{
	struct alias_result r;

	cr_assert_eq(alias_expand(maps, "loop1@example.test", 100, 100, &r),
	    ALIAS_EXPAND_LIMIT);
	cr_assert_eq(r.count, 0);
	cr_assert_eq(alias_expand(maps, "big@example.test", 100, 3, &r),
	    ALIAS_EXPAND_LIMIT);
	cr_assert_eq(alias_expand(maps, "big@example.test", 100, 4, &r), 4);
	alias_result_free(&r);
	cr_assert_eq(alias_expand(maps, "deep1@example.test", 2, 100, &r),
	    ALIAS_EXPAND_LIMIT);
	cr_assert_eq(alias_expand(maps, "deep1@example.test", 4, 100, &r), 1);
	cr_assert_str_eq(r.addresses[0], "end@example.test");
	alias_result_free(&r);
	cr_assert_eq(alias_expand(NULL, "a@b", 1, 1, &r), ALIAS_EXPAND_NONE);
}
