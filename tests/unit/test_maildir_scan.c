/*
 * test_maildir_scan: listing a Maildir: order, sizes, and everything that
 * is not a regular message file (dot files, symlinks, FIFOs, directories).
 */
#include <criterion/criterion.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mailbox/maildir.h"

static char tmpdir[] = "/tmp/test_maildir_scan.XXXXXX";
static int mdfd = -1;

static void
setup(void)
{
	cr_assert_not_null(mkdtemp(tmpdir));
	mdfd = open(tmpdir, O_RDONLY | O_DIRECTORY);
	cr_assert(mdfd >= 0);
	cr_assert_eq(mkdirat(mdfd, "cur", 0700), 0);
	cr_assert_eq(mkdirat(mdfd, "new", 0700), 0);
	cr_assert_eq(mkdirat(mdfd, "tmp", 0700), 0);
}

static void
teardown(void)
{
	char cmd[128];

	if (mdfd >= 0)
		close(mdfd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	(void)!system(cmd);
}

TestSuite(maildir_scan, .init = setup, .fini = teardown);

static void
put(const char *name, const char *data, time_t mtime)
{
	struct timespec ts[2];
	int fd;

	fd = openat(mdfd, name, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert(fd >= 0, "create %s", name);
	cr_assert_eq(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	ts[0].tv_sec = ts[1].tv_sec = mtime;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	cr_assert_eq(futimens(fd, ts), 0);
	close(fd);
}

Test(maildir_scan, empty_maildir)
{
	struct maildir_entry *e = (void *)1;
	size_t n = 99;

	cr_assert_eq(maildir_scan(mdfd, &e, &n), 0);
	cr_assert_eq(n, 0);
	maildir_entries_free(e, n);
}

Test(maildir_scan, new_then_cur_each_sorted)
{
	struct maildir_entry *e;
	size_t n;

	put("cur/300.M1P1.h:2,S", "ccc", 300);
	put("cur/100.M1P1.h:2,", "a", 100);
	put("new/400.M1P1.h", "dddd", 400);
	put("new/200.M1P1.h", "bb\n", 200);
	cr_assert_eq(maildir_scan(mdfd, &e, &n), 0);
	cr_assert_eq(n, 4);
	cr_assert_str_eq(e[0].name, "new/200.M1P1.h");
	cr_assert_str_eq(e[1].name, "new/400.M1P1.h");
	cr_assert_str_eq(e[2].name, "cur/100.M1P1.h:2,");
	cr_assert_str_eq(e[3].name, "cur/300.M1P1.h:2,S");
	cr_assert_eq(e[0].size, 3);
	cr_assert_eq(e[1].size, 4);
	cr_assert_eq(e[2].size, 1);
	cr_assert_eq(e[0].mtime, 200);
	cr_assert_eq(e[3].mtime, 300);
	maildir_entries_free(e, n);
}

Test(maildir_scan, names_only_still_skips_links_and_other_types)
{
	struct maildir_entry *e;
	size_t n;

	put("cur/real:2,", "real", 1);
	put("new/200.M1P1.h", "bb\n", 200);
	cr_assert_eq(symlinkat("/etc/passwd", mdfd, "new/evil-link"), 0);
	cr_assert_eq(symlinkat("real:2,", mdfd, "cur/link-to-real"), 0);
	cr_assert_eq(mkfifoat(mdfd, "new/fifo", 0600), 0);
	cr_assert_eq(mkdirat(mdfd, "cur/subdir", 0700), 0);
	cr_assert_eq(maildir_scan_opts(mdfd, MAILDIR_SCAN_NOSTAT, &e, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(e[0].name, "new/200.M1P1.h");
	cr_assert_str_eq(e[1].name, "cur/real:2,");
	/* ext4 and tmpfs report d_type: nothing is stat'd. */
	cr_assert_eq(e[0].size, -1);
	cr_assert_eq(e[1].mtime, 0);
	maildir_entries_free(e, n);
}

Test(maildir_scan, skips_dot_files_symlinks_and_other_types)
{
	struct maildir_entry *e;
	size_t n;

	put("new/.hidden", "x", 1);
	put("cur/..also-hidden", "x", 1);
	put("cur/real:2,", "real", 1);
	put("tmp/in-progress", "x", 1);
	cr_assert_eq(symlinkat("/etc/passwd", mdfd, "new/evil-link"), 0);
	cr_assert_eq(symlinkat("real:2,", mdfd, "cur/link-to-real"), 0);
	cr_assert_eq(mkfifoat(mdfd, "new/fifo", 0600), 0);
	cr_assert_eq(mkdirat(mdfd, "cur/subdir", 0700), 0);
	cr_assert_eq(maildir_scan(mdfd, &e, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(e[0].name, "cur/real:2,");
	cr_assert_eq(e[0].size, 4);
	maildir_entries_free(e, n);
}

Test(maildir_scan, missing_or_symlinked_subdir_fails)
{
	struct maildir_entry *e;
	size_t n;

	put("new/1.M1P1.h", "x", 1);
	cr_assert_eq(unlinkat(mdfd, "cur", AT_REMOVEDIR), 0);
	cr_assert_eq(maildir_scan(mdfd, &e, &n), -1);
	cr_assert_eq(errno, ENOENT);
	cr_assert_null(e);
	cr_assert_eq(n, 0);

	/* cur -> /tmp must not be followed. */
	cr_assert_eq(symlinkat("/tmp", mdfd, "cur"), 0);
	cr_assert_eq(maildir_scan(mdfd, &e, &n), -1);
	cr_assert(errno == ELOOP || errno == ENOTDIR, "errno %d", errno);
	cr_assert_null(e);
}

Test(maildir_scan, many_entries)
{
	struct maildir_entry *e;
	char name[64];
	size_t n, i;

	for (i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "cur/%04zu.M0P0.h:2,", 299 - i);
		put(name, "m", (time_t)i);
	}
	cr_assert_eq(maildir_scan(mdfd, &e, &n), 0);
	cr_assert_eq(n, 300);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "cur/%04zu.M0P0.h:2,", i);
		cr_assert_str_eq(e[i].name, name);
	}
	maildir_entries_free(e, n);
}
