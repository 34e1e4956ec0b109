/*
 * test_pop3_mailbox: the pieces pop3d's mailbox stands on: the session
 * lock (exclusive, released by a crash, symlinks and FIFOs refused) and
 * the dovecot-uidlist reader (versions 1 and 3, hostile lines, limits).
 */
#include <criterion/criterion.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mailbox/mailbox_lock.h"
#include "mailbox/uidlist.h"

static char tmpdir[] = "/tmp/test_pop3_mailbox.XXXXXX";
static int mdfd = -1;

static void
setup(void)
{
	cr_assert_not_null(mkdtemp(tmpdir));
	mdfd = open(tmpdir, O_RDONLY | O_DIRECTORY);
	cr_assert(mdfd >= 0);
}

static void
teardown(void)
{
	char cmd[128];

	close(mdfd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	cr_assert_eq(system(cmd), 0);
}

static void
put(const char *name, const char *text)
{
	int fd;

	fd = openat(mdfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static int
parse(const char *text, struct uidlist *ul)
{
	return uidlist_parse(text, strlen(text), ul);
}

static uint32_t
uid_of(const struct uidlist *ul, const char *base)
{
	const struct uidlist_rec *r = uidlist_lookup(ul, base, strlen(base));

	return r ? r->uid : 0;
}

TestSuite(mailbox_lock, .init = setup, .fini = teardown);

Test(mailbox_lock, second_lock_is_refused_until_unlock)
{
	int a, b;

	a = mailbox_lock(mdfd, MAILBOX_LOCK_POP3);
	cr_assert(a >= 0);
	errno = 0;
	cr_assert_eq(mailbox_lock(mdfd, MAILBOX_LOCK_POP3), -1);
	cr_assert_eq(errno, EWOULDBLOCK);
	/* another name is another lock */
	b = mailbox_lock(mdfd, "other.lock");
	cr_assert(b >= 0);
	mailbox_unlock(a);
	a = mailbox_lock(mdfd, MAILBOX_LOCK_POP3);
	cr_assert(a >= 0);
	mailbox_unlock(a);
	mailbox_unlock(b);
	mailbox_unlock(-1);	/* harmless */
}

Test(mailbox_lock, a_killed_holder_leaves_no_lock)
{
	int pipefd[2], fd, status;
	pid_t pid;
	char c;

	cr_assert_eq(pipe(pipefd), 0);
	if ((pid = fork()) == 0) {
		if (mailbox_lock(mdfd, MAILBOX_LOCK_POP3) == -1)
			_exit(1);
		(void)write(pipefd[1], "L", 1);
		for (;;)
			pause();
	}
	cr_assert(pid > 0);
	cr_assert_eq(read(pipefd[0], &c, 1), 1);
	cr_assert_eq(mailbox_lock(mdfd, MAILBOX_LOCK_POP3), -1);
	cr_assert_eq(errno, EWOULDBLOCK);
	cr_assert_eq(kill(pid, SIGKILL), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	fd = mailbox_lock(mdfd, MAILBOX_LOCK_POP3);
	cr_assert(fd >= 0, "the kernel should have dropped the dead lock");
	mailbox_unlock(fd);
	close(pipefd[0]);
	close(pipefd[1]);
}

Test(mailbox_lock, symlink_and_fifo_are_refused)
{
	cr_assert_eq(symlinkat("/etc/passwd", mdfd, "link.lock"), 0);
	cr_assert_eq(mailbox_lock(mdfd, "link.lock"), -1);
	cr_assert_eq(errno, ELOOP);
	cr_assert_eq(mkfifoat(mdfd, "fifo.lock", 0600), 0);
	cr_assert_eq(mailbox_lock(mdfd, "fifo.lock"), -1);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(mkdirat(mdfd, "dir.lock", 0700), 0);
	cr_assert_eq(mailbox_lock(mdfd, "dir.lock"), -1);
}

TestSuite(uidlist, .init = setup, .fini = teardown);

Test(uidlist, version3_with_extensions_and_flags)
{
	struct uidlist ul;
	const struct uidlist_rec *r;

	cr_assert_eq(parse("3 V1275660208 N25022 G3085f01b7f\n"
	    "25006 :1276528487.M364837P9451.kurkku,S=1355,W=1394:2,\n"
	    "25017 W2481 :1276533073.M242911P3632.kurkku:2,F\n"
	    "25018 GABC P+old-uidl :1276533080.M1P1.kurkku\n"
	    "25019 :name with spaces\n", &ul), 0);
	cr_assert_eq(ul.uidvalidity, 1275660208u);
	cr_assert_eq(ul.nextuid, 25022u);
	cr_assert_eq(ul.n, 4);
	cr_assert_eq(uid_of(&ul, "1276528487.M364837P9451.kurkku,S=1355,W=1394"),
	    25006u);
	cr_assert_eq(uid_of(&ul, "1276533073.M242911P3632.kurkku"), 25017u);
	cr_assert_eq(uid_of(&ul, "name with spaces"), 25019u);
	r = uidlist_lookup(&ul, "1276533080.M1P1.kurkku", 22);
	cr_assert_not_null(r);
	cr_assert_str_eq(r->pop3_uidl, "+old-uidl");
	cr_assert_null(uidlist_lookup(&ul, "1276533073.M242911P3632.kurkku",
	    10), "a prefix is not a match");
	cr_assert_null(uidlist_lookup(&ul, "1276533073.M242911P3632.kurkkuX",
	    31));
	/* the base is compared by length: what follows does not count */
	cr_assert_eq(uidlist_lookup(&ul, "1276533073.M242911P3632.kurkku:2,S",
	    30)->uid, 25017u);
	uidlist_free(&ul);
	cr_assert_eq(ul.n, 0);
}

Test(uidlist, version1_courier)
{
	struct uidlist ul;

	cr_assert_eq(parse("1 1100000000 7\n1 a.host\n2 b.host:2,S\n"
	    "6 c.host\n", &ul), 0);
	cr_assert_eq(ul.uidvalidity, 1100000000u);
	cr_assert_eq(ul.nextuid, 7u);
	cr_assert_eq(uid_of(&ul, "a.host"), 1u);
	cr_assert_eq(uid_of(&ul, "b.host"), 2u);
	cr_assert_eq(uid_of(&ul, "c.host"), 6u);
	uidlist_free(&ul);
}

Test(uidlist, bad_headers_are_refused)
{
	static const char *bad[] = {
		"", "\n", "2 V1 N2\n1 :a\n", "3 N5\n1 :a\n", "3 V0 N5\n",
		"3 Vx N5\n", "3 V4294967296 N1\n", "1 abc 5\n", "1\n",
		"33 V1\n",
	};
	struct uidlist ul;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&ul, 0x55, sizeof(ul));
		cr_assert_eq(parse(bad[i], &ul), -1, "accepted \"%s\"", bad[i]);
		cr_assert_eq(ul.n, 0);
		cr_assert_null(ul.recs);
	}
	/* the NUL hidden after the version */
	cr_assert_eq(uidlist_parse("3 V1\0 N1\n", 9, &ul), -1);
}

Test(uidlist, hostile_records_are_skipped)
{
	struct uidlist ul;
	static const char text[] =
	    "3 V7 N100\n"
	    "0 :zero\n"			/* UID 0 */
	    "4294967296 :too.big\n"	/* over 32 bits */
	    "-1 :negative\n"
	    "x :notnum\n"
	    "5 W12\n"			/* no name */
	    "6 :\n"			/* empty name */
	    "7 :../../etc/passwd\n"	/* a path */
	    "8 :good\n"
	    "9 :nul\0here\n"
	    "10 :dup\n"
	    "3 :dup\n"			/* the lowest UID wins */
	    "4294967295 :max\n"
	    "11 :unterminated";		/* an append in progress */
	cr_assert_eq(uidlist_parse(text, sizeof(text) - 1, &ul), 0);
	cr_assert_eq(uid_of(&ul, "good"), 8u);
	cr_assert_eq(uid_of(&ul, "dup"), 3u);
	cr_assert_eq(uid_of(&ul, "max"), 4294967295u);
	cr_assert_eq(uid_of(&ul, "zero"), 0u);
	cr_assert_eq(uid_of(&ul, "too.big"), 0u);
	cr_assert_eq(uid_of(&ul, "nul"), 0u);
	cr_assert_eq(uid_of(&ul, "unterminated"), 0u);
	cr_assert_eq(ul.n, 3, "n = %zu", ul.n);
	uidlist_free(&ul);
}

Test(uidlist, load_from_the_maildir)
{
	struct uidlist ul;

	cr_assert_eq(uidlist_load(mdfd, 4096, &ul), 0, "absent is not an error");
	put(UIDLIST_NAME, "3 V42 N3\n1 :one\n2 :two:2,S\n");
	cr_assert_eq(uidlist_load(mdfd, 4096, &ul), 1);
	cr_assert_eq(ul.uidvalidity, 42u);
	cr_assert_eq(uid_of(&ul, "two"), 2u);
	uidlist_free(&ul);
	/* over the limit */
	cr_assert_eq(uidlist_load(mdfd, 10, &ul), -1);
	cr_assert_eq(errno, EFBIG);
	/* malformed */
	put(UIDLIST_NAME, "garbage\n");
	cr_assert_eq(uidlist_load(mdfd, 4096, &ul), -1);
	cr_assert_eq(errno, EINVAL);
	/* a symlink is not followed */
	cr_assert_eq(unlinkat(mdfd, UIDLIST_NAME, 0), 0);
	cr_assert_eq(symlinkat("/etc/passwd", mdfd, UIDLIST_NAME), 0);
	cr_assert_eq(uidlist_load(mdfd, 4096, &ul), -1);
	cr_assert_eq(errno, ELOOP);
	/* nor is a FIFO opened for reading forever */
	cr_assert_eq(unlinkat(mdfd, UIDLIST_NAME, 0), 0);
	cr_assert_eq(mkfifoat(mdfd, UIDLIST_NAME, 0600), 0);
	cr_assert_eq(uidlist_load(mdfd, 4096, &ul), -1);
	cr_assert_eq(errno, EINVAL);
}

Test(uidlist, many_records_sorted_for_lookup)
{
	struct uidlist ul;
	char *text, name[32];
	size_t len = 0, cap = 64 + 10000 * 40;
	uint32_t i;

	text = malloc(cap);
	cr_assert_not_null(text);
	len += (size_t)snprintf(text, cap, "3 V9 N20001\n");
	for (i = 10000; i > 0; i--)	/* written in reverse */
		len += (size_t)snprintf(text + len, cap - len,
		    "%u :%u.M%uP1.host:2,S\n", i, 1600000000 + i, i);
	cr_assert_eq(uidlist_parse(text, len, &ul), 0);
	cr_assert_eq(ul.n, 10000);
	for (i = 1; i <= 10000; i += 997) {
		snprintf(name, sizeof(name), "%u.M%uP1.host", 1600000000 + i, i);
		cr_assert_eq(uid_of(&ul, name), i);
	}
	uidlist_free(&ul);
	free(text);
}
