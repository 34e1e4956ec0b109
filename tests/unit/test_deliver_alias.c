/*
 * test_deliver_alias: the alias value splitter and the Delivered-To loop
 * counter of the local transport.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/config.h"
#include "deliver/deliver.h"

Test(deliver_alias, items_with_quotes_commands_and_files)
{
	char **v;
	size_t n;

	v = deliver_alias_items(" a, b@example.net ,\"|/usr/bin/cmd -x, y\","
	    "/var/log/file , :include:/etc/list,,", &n);
	cr_assert_eq(n, 5);
	cr_assert_str_eq(v[0], "a");
	cr_assert_str_eq(v[1], "b@example.net");
	cr_assert_str_eq(v[2], "|/usr/bin/cmd -x, y");
	cr_assert_str_eq(v[3], "/var/log/file");
	cr_assert_str_eq(v[4], ":include:/etc/list");
	cr_assert_null(v[5]);
	config_split_free(v);
	v = deliver_alias_items("  , ,", &n);
	cr_assert_eq(n, 0);
	cr_assert_null(v[0]);
	config_split_free(v);
	/* An unterminated quote swallows the rest: one item, never a crash. */
	v = deliver_alias_items("\"|/bin/x, y", &n);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(v[0], "\"|/bin/x, y");
	config_split_free(v);
}

static int
message_fd(const char *text)
{
	char path[] = "/tmp/test_deliver_alias.XXXXXX";
	int fd = mkstemp(path);

	cr_assert_neq(fd, -1);
	unlink(path);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	return fd;
}

Test(deliver_alias, delivered_to_counting)
{
	const char *msg =
	    "Delivered-To: bob@example.com\n"
	    "delivered-to:   <BOB@example.com>  \n"
	    "Delivered-To: other@example.com\n"
	    "Delivered-To:\n bob@example.com\n"
	    "X-Delivered-To: bob@example.com\n"
	    "Subject: hi\n"
	    "\n"
	    "Delivered-To: bob@example.com\n";
	int fd = message_fd(msg);

	cr_assert_eq(deliver_local_loop(fd, 0, strlen(msg), 102400,
	    "bob@example.com"), 3);
	cr_assert_eq(deliver_local_loop(fd, 0, strlen(msg), 102400,
	    "other@example.com"), 1);
	/* The limit: only the first line is read. */
	cr_assert_eq(deliver_local_loop(fd, 0, strlen(msg), 30,
	    "bob@example.com"), 1);
	/* An offset into the file (the queue file's content). */
	cr_assert_eq(deliver_local_loop(fd, 30, strlen(msg) - 30, 102400,
	    "bob@example.com"), 2);
	close(fd);
}

Test(deliver_alias, delivered_to_with_crlf_and_no_body)
{
	const char *msg = "Delivered-To: a@b\r\nDelivered-To: a@b\r\n";
	int fd = message_fd(msg);

	cr_assert_eq(deliver_local_loop(fd, 0, strlen(msg), 102400, "a@b"), 2);
	cr_assert_eq(deliver_local_loop(fd, 0, 0, 102400, "a@b"), 0);
	close(fd);
}

Test(deliver_alias, mydestination_case_and_trailing_dot)
{
	struct config *cfg = config_new("/nonexistent");
	struct deliver_alias *a;

	config_set(cfg, "alias_maps", "");
	config_set(cfg, "myhostname", "mx.example.test");
	config_set(cfg, "mydestination", "$myhostname, localhost.");
	a = deliver_alias_open(cfg);
	cr_assert_eq(deliver_alias_is_local(a, "root"), 1);
	cr_assert_eq(deliver_alias_is_local(a, "root@mx.example.test"), 1);
	cr_assert_eq(deliver_alias_is_local(a, "root@MX.Example.Test."), 1);
	cr_assert_eq(deliver_alias_is_local(a, "root@localhost"), 1);
	cr_assert_eq(deliver_alias_is_local(a, "root@localhost."), 1);
	cr_assert_eq(deliver_alias_is_local(a, "root@mx.example.test.."), 0);
	cr_assert_eq(deliver_alias_is_local(a, "root@x.mx.example.test"), 0);
	cr_assert_eq(deliver_alias_is_local(a, "root@"), 0);
	cr_assert_eq(deliver_alias_is_local(a, "root@."), 0);
	cr_assert_eq(deliver_alias_is_local(a, "b@remote.test"), 0);
	config_free(cfg);
}
