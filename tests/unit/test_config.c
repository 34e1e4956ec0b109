/*
 * test_config: main.cf parsing and expansion, master.cf parsing.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "conf/config.h"
#include "conf/master_cf.h"

static struct config *
parse_ok(const char *text)
{
	struct config *cfg = config_new("/tmp");
	char err[256];

	cr_assert_eq(config_parse(cfg, text, "main.cf", err, sizeof(err)), 0,
	    "parse failed: %s", err);
	return cfg;
}

Test(config, simple_and_last_wins)
{
	struct config *cfg = parse_ok("a = 1\nb=two words  \na = 3\n");

	cr_assert_str_eq(config_get(cfg, "a"), "3");
	cr_assert_str_eq(config_get(cfg, "b"), "two words");
	cr_assert_str_eq(config_get(cfg, "undefined_thing"), "");
	config_free(cfg);
}

Test(config, continuation_and_comments)
{
	struct config *cfg = parse_ok(
	    "# comment\nlist = one,\n  two,\n# inner comment\n\tthree\nx = y\n");

	cr_assert_str_eq(config_get(cfg, "list"), "one, two, three");
	cr_assert_str_eq(config_get(cfg, "x"), "y");
	config_free(cfg);
}

Test(config, expansion_forms)
{
	struct config *cfg = parse_ok(
	    "myhostname = mx.example.com\n"
	    "a = $myhostname\n"
	    "b = ${myhostname}/x\n"
	    "empty =\n"
	    "c = ${myhostname?set}${empty?notset}\n"
	    "d = ${empty:fallback}${myhostname:unused}\n"
	    "e = cost $$5\n"
	    "f = $undefined.end\n"
	    "g = $a-$b\n");

	cr_assert_str_eq(config_get(cfg, "a"), "mx.example.com");
	cr_assert_str_eq(config_get(cfg, "b"), "mx.example.com/x");
	cr_assert_str_eq(config_get(cfg, "c"), "set");
	cr_assert_str_eq(config_get(cfg, "d"), "fallbackmx.example.com");
	cr_assert_str_eq(config_get(cfg, "e"), "cost $5");
	cr_assert_str_eq(config_get(cfg, "f"), ".end");
	cr_assert_str_eq(config_get(cfg, "g"),
	    "mx.example.com-mx.example.com/x");
	config_free(cfg);
}

Test(config, expansion_is_lazy_and_late)
{
	/* $name refers to the final definition, wherever it appears. */
	struct config *cfg = parse_ok("a = $b\nb = first\nb = last\n");

	cr_assert_str_eq(config_get(cfg, "a"), "last");
	config_set(cfg, "b", "override");
	cr_assert_str_eq(config_get(cfg, "a"), "override");
	config_free(cfg);
}

Test(config, recursion_is_bounded)
{
	struct config *cfg = parse_ok("a = $b\nb = $a\n");

	(void)config_get(cfg, "a");	/* must return, not loop */
	config_free(cfg);
}

Test(config, defaults_and_types)
{
	struct config *cfg = parse_ok("maximal_queue_lifetime = 2h\nflag = yes\n");

	cr_assert_eq(config_get_int(cfg, "message_size_limit"), 10240000);
	cr_assert_eq(config_get_time(cfg, "maximal_queue_lifetime"), 7200);
	cr_assert_eq(config_get_time(cfg, "minimal_backoff_time"), 300);
	cr_assert_eq(config_get_bool(cfg, "flag"), 1);
	cr_assert_eq(config_is_set(cfg, "flag"), 1);
	cr_assert_eq(config_is_set(cfg, "max_use"), 0);
	cr_assert_str_eq(config_get(cfg, "config_directory"), "/tmp");
	config_free(cfg);
}

Test(config, errors_name_file_and_line)
{
	struct config *cfg = config_new("/tmp");
	char err[256];

	cr_assert_eq(config_parse(cfg, "a = 1\n\nnoequals here\n", "main.cf",
	    err, sizeof(err)), -1);
	cr_assert(strstr(err, "main.cf, line 3") != NULL, "err: %s", err);
	cr_assert_eq(config_parse(cfg, "  leading = x\n", "main.cf",
	    err, sizeof(err)), -1);
	cr_assert(strstr(err, "line 1") != NULL, "err: %s", err);
	config_free(cfg);
}

Test(config, split_keeps_inline_braces)
{
	size_t n;
	char **v = config_split("hash:/a, inline:{ x=1, y=2 } texthash:/b", &n);

	cr_assert_eq(n, 3);
	cr_assert_str_eq(v[0], "hash:/a");
	cr_assert_str_eq(v[1], "inline:{ x=1, y=2 }");
	cr_assert_str_eq(v[2], "texthash:/b");
	config_split_free(v);
}

Test(master_cf, services_and_defaults)
{
	struct service_def *s;
	size_t n;
	char err[256];
	const char *text =
	    "# comment\n"
	    "127.0.0.1:2525 inet n - y - - smtpd\n"
	    "  -o smtpd_recipient_limit=5,6\n"
	    "qmgr      unix  n  -  n  300  1  qmgr\n"
	    "local     unix  -  n  y  -    -  deliver -t local\n";

	cr_assert_eq(master_cf_parse(text, "master.cf", 100, &s, &n, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(s[0].name, "127.0.0.1:2525");
	cr_assert_eq(s[0].type, SERVICE_INET);
	cr_assert_eq(s[0].private_, 0);
	cr_assert_eq(s[0].chroot, 1);
	cr_assert_eq(s[0].maxproc, 100);
	cr_assert_str_eq(s[0].command, "smtpd");
	cr_assert_eq(s[0].argc, 2);
	cr_assert_str_eq(s[0].argv[0], "-o");
	cr_assert_str_eq(s[0].argv[1], "smtpd_recipient_limit=5,6");
	cr_assert_eq(s[1].wakeup, 300);
	cr_assert_eq(s[1].maxproc, 1);
	cr_assert_eq(s[1].type, SERVICE_UNIX);
	cr_assert_eq(s[2].unpriv, 0);
	cr_assert_eq(s[2].private_, 1);
	cr_assert_str_eq(s[2].argv[1], "local");
	cr_assert_eq(s[2].lineno, 5);
	master_cf_free(s, n);
}

static void
expect_error(const char *text, const char *needle)
{
	struct service_def *s;
	size_t n;
	char err[256];

	cr_assert_eq(master_cf_parse(text, "master.cf", 100, &s, &n, err,
	    sizeof(err)), -1, "accepted: %s", text);
	cr_assert(strstr(err, needle) != NULL, "err \"%s\" lacks \"%s\"", err,
	    needle);
}

Test(master_cf, bad_lines_name_file_and_line)
{
	expect_error("smtp inet n - y - - smtpd\nbad line\n",
	    "master.cf, line 2: expected 8 columns");
	expect_error("\n\nsmtp tcp n - y - - smtpd\n", "master.cf, line 3: "
	    "unknown service type");
	expect_error("smtp inet x - y - - smtpd\n", "line 1: private");
	expect_error("smtp inet n - y - many smtpd\n", "line 1: wakeup and "
	    "maxproc");
	expect_error("  -o x=y\n", "line 1: continuation");
	expect_error("a/b unix n - y - - qmgr\n", "must not contain");
	expect_error("[::1 inet n - y - - smtpd\n", "bad inet service");
}

Test(master_cf, inet_split)
{
	char host[64], port[16];

	cr_assert_eq(service_inet_split("25", host, sizeof(host), port,
	    sizeof(port)), 0);
	cr_assert_str_eq(host, "");
	cr_assert_str_eq(port, "25");
	cr_assert_eq(service_inet_split("127.0.0.1:2525", host, sizeof(host),
	    port, sizeof(port)), 0);
	cr_assert_str_eq(host, "127.0.0.1");
	cr_assert_str_eq(port, "2525");
	cr_assert_eq(service_inet_split("[::1]:2525", host, sizeof(host), port,
	    sizeof(port)), 0);
	cr_assert_str_eq(host, "::1");
	cr_assert_eq(service_inet_split("127.0.0.1:", host, sizeof(host), port,
	    sizeof(port)), -1);
}
