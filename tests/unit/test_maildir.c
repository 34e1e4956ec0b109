/*
 * test_maildir: Maildir creation, byte-exact delivery, unique names, and
 * refusal of symlinks, ".." and short sources (nothing left behind).
 */
#include <criterion/criterion.h>
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fileutil.h"
#include "mailbox/maildir.h"

static char base[] = "/tmp/test_maildir.XXXXXX";
static int basefd = -1;

static void
setup(void)
{
	cr_assert_not_null(mkdtemp(base));
	basefd = open(base, O_RDONLY | O_DIRECTORY);
	cr_assert_geq(basefd, 0);
}

static void
teardown(void)
{
	char cmd[128];

	close(basefd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	(void)!system(cmd);
}

TestSuite(maildir, .init = setup, .fini = teardown);

static int
count_entries(const char *rel)
{
	char path[1024];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", base, rel);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void
assert_mode(const char *rel, mode_t mode)
{
	char path[1024];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", base, rel);
	cr_assert_eq(lstat(path, &st), 0, "%s missing", rel);
	cr_assert(S_ISDIR(st.st_mode), "%s not a directory", rel);
	cr_assert_eq(st.st_mode & 07777, mode, "%s mode %o", rel,
	    (unsigned)(st.st_mode & 07777));
}

/* A source "queue file": junk before and after the content. */
static int
make_source(const char *content, off_t *off)
{
	char path[1024];
	int fd;

	snprintf(path, sizeof(path), "%s/source", base);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write_full(fd, "HEADERJUNK", 10), 0);
	cr_assert_eq(write_full(fd, content, strlen(content)), 0);
	cr_assert_eq(write_full(fd, "TRAILER", 7), 0);
	*off = 10;
	return fd;
}

static char *
read_rel(const char *rel, size_t *len)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", base, rel);
	return read_file(path, len, 64 * 1024 * 1024);
}

Test(maildir, creates_tree_with_mode_0700)
{
	int fd;

	fd = maildir_open(basefd, "example.com/bob/", 1);
	cr_assert_geq(fd, 0, "maildir_open: %s", strerror(errno));
	close(fd);
	assert_mode("example.com", 0700);
	assert_mode("example.com/bob", 0700);
	assert_mode("example.com/bob/cur", 0700);
	assert_mode("example.com/bob/new", 0700);
	assert_mode("example.com/bob/tmp", 0700);
	/* Opening again (existing tree) works, with or without create. */
	fd = maildir_open(basefd, "example.com/bob", 0);
	cr_assert_geq(fd, 0);
	close(fd);
	fd = maildir_open(basefd, "/example.com//./bob/", 1);
	cr_assert_geq(fd, 0, "leading/double slashes and . are harmless");
	close(fd);
}

Test(maildir, missing_without_create_is_enoent)
{
	cr_assert_eq(maildir_open(basefd, "example.com/nobody/", 0), -1);
	cr_assert_eq(errno, ENOENT);
	cr_assert_eq(count_entries(""), 0, "nothing may be created");
	/* A directory without new/ is not a Maildir. */
	cr_assert_eq(mkdirat(basefd, "half", 0700), 0);
	cr_assert_eq(mkdirat(basefd, "half/cur", 0700), 0);
	cr_assert_eq(maildir_open(basefd, "half/", 0), -1);
	cr_assert_eq(errno, ENOENT);
}

Test(maildir, dotdot_is_refused)
{
	cr_assert_eq(maildir_open(basefd, "example.com/../../etc/", 1), -1);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(maildir_open(basefd, "..", 1), -1);
	cr_assert_eq(errno, EINVAL);
}

Test(maildir, delivery_is_byte_exact_with_header)
{
	const char *content = "Subject: hi\n\nline one\nline two\n";
	const char *hdr = "Return-Path: <a@example.org>\nDelivered-To: b@example.com\n";
	char name[256], rel[512], *data, expect[512];
	off_t off;
	size_t len;
	int src, md;

	src = make_source(content, &off);
	cr_assert_eq(lseek(src, 3, SEEK_SET), 3);
	md = maildir_open(basefd, "example.com/b/", 1);
	cr_assert_geq(md, 0);
	cr_assert_eq(maildir_deliver(md, "mx.example.com", hdr, strlen(hdr),
	    src, off, strlen(content), name, sizeof(name)), 0,
	    "deliver: %s", strerror(errno));
	cr_assert_eq(lseek(src, 0, SEEK_CUR), 3, "shared offset moved");
	snprintf(rel, sizeof(rel), "example.com/b/new/%s", name);
	data = read_rel(rel, &len);
	cr_assert_not_null(data, "%s not found", rel);
	snprintf(expect, sizeof(expect), "%s%s", hdr, content);
	cr_assert_eq(len, strlen(expect));
	cr_assert_eq(memcmp(data, expect, len), 0);
	free(data);
	cr_assert_eq(count_entries("example.com/b/tmp"), 0);
	cr_assert_eq(count_entries("example.com/b/new"), 1);
	cr_assert_eq(count_entries("example.com/b/cur"), 0);

	/* TIME.MUSECPPID.HOST,S=SIZE */
	{
		char tail[64], pidpart[32];

		cr_assert(strchr(name, '.') != NULL);
		cr_assert(strstr(name, ".M") != NULL, "%s", name);
		snprintf(pidpart, sizeof(pidpart), "P%ld.mx.example.com,",
		    (long)getpid());
		cr_assert(strstr(name, pidpart) != NULL, "%s", name);
		snprintf(tail, sizeof(tail), ",S=%zu", len);
		cr_assert(strlen(name) > strlen(tail) &&
		    !strcmp(name + strlen(name) - strlen(tail), tail), "%s", name);
	}
	{
		struct stat st;

		snprintf(rel, sizeof(rel), "%s/example.com/b/new/%s", base, name);
		cr_assert_eq(stat(rel, &st), 0);
		cr_assert_eq(st.st_mode & 07777, 0600);
	}
	close(md);
	close(src);
}

Test(maildir, large_and_empty_content)
{
	char name[256], rel[512], *big, *data;
	size_t n = 200 * 1024 + 17, i, len;
	int fd, md;

	big = malloc(n);
	for (i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	fd = openat(basefd, "bigsrc", O_RDWR | O_CREAT, 0600);
	cr_assert_eq(write_full(fd, big, n), 0);
	md = maildir_open(basefd, "big/", 1);
	cr_assert_eq(maildir_deliver(md, "h", "X: y\n", 5, fd, 0, n, name,
	    sizeof(name)), 0);
	snprintf(rel, sizeof(rel), "big/new/%s", name);
	data = read_rel(rel, &len);
	cr_assert_eq(len, n + 5);
	cr_assert_eq(memcmp(data, "X: y\n", 5), 0);
	cr_assert_eq(memcmp(data + 5, big, n), 0);
	free(data);
	cr_assert_eq(maildir_deliver(md, "h", "", 0, fd, 0, 0, name,
	    sizeof(name)), 0);
	snprintf(rel, sizeof(rel), "big/new/%s", name);
	data = read_rel(rel, &len);
	cr_assert_eq(len, 0);
	free(data);
	free(big);
	close(md);
	close(fd);
}

Test(maildir, names_are_unique)
{
	char names[30][256];
	off_t off;
	int src, md, i, j;

	src = make_source("x\n", &off);
	md = maildir_open(basefd, "u/", 1);
	for (i = 0; i < 30; i++)
		cr_assert_eq(maildir_deliver(md, "host", "", 0, src, off, 2,
		    names[i], sizeof(names[i])), 0);
	for (i = 0; i < 30; i++)
		for (j = i + 1; j < 30; j++)
			cr_assert_str_neq(names[i], names[j]);
	cr_assert_eq(count_entries("u/new"), 30);
	cr_assert_eq(count_entries("u/tmp"), 0);
	close(md);
	close(src);
}

Test(maildir, host_slash_and_colon_are_escaped)
{
	char name[256];
	off_t off;
	int src, md;

	src = make_source("x\n", &off);
	md = maildir_open(basefd, "h/", 1);
	cr_assert_eq(maildir_deliver(md, "a/b:c", "", 0, src, off, 2, name,
	    sizeof(name)), 0);
	cr_assert(strstr(name, ".a\\057b\\072c,S=2") != NULL, "%s", name);
	cr_assert(strchr(name, '/') == NULL && strchr(name, ':') == NULL);
	close(md);
	close(src);
}

Test(maildir, symlinked_maildir_is_refused)
{
	cr_assert_eq(mkdirat(basefd, "elsewhere", 0700), 0);
	cr_assert_eq(mkdirat(basefd, "example.com", 0700), 0);
	cr_assert_eq(symlinkat("../elsewhere", basefd, "example.com/bob"), 0);
	cr_assert_eq(maildir_open(basefd, "example.com/bob/", 1), -1);
	cr_assert_eq(errno, ELOOP);
	cr_assert_eq(count_entries("elsewhere"), 0, "wrote through a symlink");
}

Test(maildir, symlinked_component_is_refused)
{
	cr_assert_eq(mkdirat(basefd, "realdomain", 0700), 0);
	cr_assert_eq(symlinkat("realdomain", basefd, "example.com"), 0);
	cr_assert_eq(maildir_open(basefd, "example.com/bob/", 1), -1);
	cr_assert_eq(errno, ELOOP);
	cr_assert_eq(count_entries("realdomain"), 0);
	/* A dangling link is refused too, and nothing is created. */
	cr_assert_eq(symlinkat("nowhere", basefd, "dangling"), 0);
	cr_assert_eq(maildir_open(basefd, "dangling/", 1), -1);
	cr_assert_eq(errno, ELOOP);
	cr_assert_eq(faccessat(basefd, "nowhere", F_OK, 0), -1);
}

Test(maildir, symlinked_subdirectory_is_refused)
{
	off_t off;
	int md, src;

	cr_assert_eq(mkdirat(basefd, "target", 0700), 0);
	md = maildir_open(basefd, "m/", 1);
	cr_assert_geq(md, 0);
	/* Swap tmp/ for a link after opening: delivery must not follow it. */
	cr_assert_eq(unlinkat(basefd, "m/tmp", AT_REMOVEDIR), 0);
	cr_assert_eq(symlinkat("../target", basefd, "m/tmp"), 0);
	src = make_source("x\n", &off);
	cr_assert_eq(maildir_deliver(md, "h", "", 0, src, off, 2, NULL, 0), -1);
	cr_assert_eq(errno, ELOOP);
	cr_assert_eq(count_entries("target"), 0);
	cr_assert_eq(count_entries("m/new"), 0);
	cr_assert_eq(maildir_open(basefd, "m/", 0), -1);
	cr_assert_eq(errno, ELOOP);
	close(md);
	close(src);
}

Test(maildir, short_source_leaves_nothing)
{
	off_t off;
	int md, src;

	src = make_source("short\n", &off);
	md = maildir_open(basefd, "s/", 1);
	/* Ask for more bytes than the source holds after off. */
	cr_assert_eq(maildir_deliver(md, "h", "H: 1\n", 5, src, off, 4096, NULL,
	    0), -1);
	cr_assert_eq(errno, EIO);
	cr_assert_eq(count_entries("s/tmp"), 0);
	cr_assert_eq(count_entries("s/new"), 0);
	/* A source that cannot be read at all: EBADF, nothing left. */
	cr_assert_eq(maildir_deliver(md, "h", "", 0, -1, 0, 10, NULL, 0), -1);
	cr_assert_eq(errno, EBADF);
	cr_assert_eq(count_entries("s/tmp"), 0);
	cr_assert_eq(count_entries("s/new"), 0);
	close(md);
	close(src);
}
