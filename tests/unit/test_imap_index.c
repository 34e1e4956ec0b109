/*
 * test_imap_index: the per-Maildir IMAP index: UIDs kept across flag
 * renames and new/ -> cur/ moves, MODSEQ bumped on flag changes,
 * expunges, a damaged index rebuilt with a new UIDVALIDITY, Dovecot's
 * dovecot-uidlist imported, keywords, and two handles on one Maildir.
 */
#include <sys/stat.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mailbox/imap_index.h"
#include "mailbox/maildir.h"

static char tmpl[64];
static int basefd, mdfd;

static void
setup(void)
{
	strlcpy(tmpl, "/tmp/test_imap_index.XXXXXX", sizeof(tmpl));
	cr_assert_not_null(mkdtemp(tmpl));
	basefd = open(tmpl, O_RDONLY | O_DIRECTORY);
	cr_assert_neq(basefd, -1);
	mdfd = maildir_open(basefd, "u", 1);
	cr_assert_neq(mdfd, -1);
}

static void
teardown(void)
{
	char cmd[128];

	close(mdfd);
	close(basefd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpl);
	cr_assert_eq(system(cmd), 0);
}

static void
put(const char *name, const char *body)
{
	int fd = openat(mdfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	cr_assert_neq(fd, -1, "%s", name);
	cr_assert_eq(write(fd, body, strlen(body)), (ssize_t)strlen(body));
	close(fd);
}

static const struct imap_index_msg *
by_uid(const struct imap_index *idx, uint32_t uid)
{
	size_t i;

	for (i = 0; i < idx->n; i++)
		if (idx->msgs[i].uid == uid)
			return &idx->msgs[i];
	return NULL;
}

TestSuite(imap_index, .init = setup, .fini = teardown);

Test(imap_index, uids_stable_across_renames)
{
	struct imap_index idx = { 0 };
	uint32_t v;
	uint64_t ms;

	put("new/100.M1P1.h", "a\n");
	put("new/200.M1P1.h", "bb\n");
	put("cur/050.M1P1.h:2,S", "c\n");
	cr_assert_eq(imap_index_sync(mdfd, &idx, 0), 0);
	cr_assert_eq(idx.n, 3);
	cr_assert(idx.rebuilt);
	v = idx.uidvalidity;
	cr_assert_eq(idx.uidnext, 4);
	cr_assert_str_eq(by_uid(&idx, 1)->name, "cur/050.M1P1.h:2,S");
	cr_assert_eq(by_uid(&idx, 1)->flags, IMAP_FLAG_SEEN);
	cr_assert_str_eq(by_uid(&idx, 3)->name, "new/200.M1P1.h");
	cr_assert_eq(by_uid(&idx, 3)->size, 3);
	ms = by_uid(&idx, 2)->modseq;

	/* Move out of new/ (SELECT) and change flags (another session). */
	cr_assert_eq(imap_index_sync(mdfd, &idx, 1), 0);
	cr_assert_not(idx.rebuilt);
	cr_assert_str_eq(by_uid(&idx, 3)->name, "cur/200.M1P1.h:2,");
	cr_assert(by_uid(&idx, 3)->recent);
	cr_assert_not(by_uid(&idx, 1)->recent);
	cr_assert_eq(renameat(mdfd, "cur/100.M1P1.h:2,", mdfd,
	    "cur/100.M1P1.h:2,FRS"), 0);
	cr_assert_eq(imap_index_sync(mdfd, &idx, 1), 0);
	cr_assert_eq(idx.uidvalidity, v);
	cr_assert_eq(by_uid(&idx, 2)->flags,
	    IMAP_FLAG_FLAGGED | IMAP_FLAG_ANSWERED | IMAP_FLAG_SEEN);
	cr_assert_gt(by_uid(&idx, 2)->modseq, ms);
	cr_assert_eq(idx.highestmodseq, by_uid(&idx, 2)->modseq);
	cr_assert_not(by_uid(&idx, 3)->recent);

	/* Expunge one, deliver one: the UID is never reused. */
	cr_assert_eq(unlinkat(mdfd, "cur/050.M1P1.h:2,S", 0), 0);
	put("new/300.M1P1.h", "d\n");
	cr_assert_eq(imap_index_sync(mdfd, &idx, 0), 0);
	cr_assert_eq(idx.n, 3);
	cr_assert_null(by_uid(&idx, 1));
	cr_assert_str_eq(by_uid(&idx, 4)->name, "new/300.M1P1.h");
	cr_assert_eq(idx.msgs[0].uid, 2, "sorted by uid");
	cr_assert_eq(idx.uidnext, 5);
	imap_index_free(&idx);
}

Test(imap_index, damaged_index_rebuilt_with_new_uidvalidity)
{
	struct imap_index idx = { 0 };
	uint32_t v;

	put("new/1.x", "a\n");
	cr_assert_eq(imap_index_sync(mdfd, &idx, 0), 0);
	v = idx.uidvalidity;
	put(IMAP_INDEX_NAME, "this is not a Berkeley DB file at all........");
	sleep(1);
	cr_assert_eq(imap_index_sync(mdfd, &idx, 0), 0);
	cr_assert(idx.rebuilt);
	cr_assert_neq(idx.uidvalidity, v);
	cr_assert_eq(idx.n, 1);
	cr_assert_eq(idx.msgs[0].uid, 1);
	imap_index_free(&idx);
}

Test(imap_index, symlinked_index_not_followed)
{
	struct imap_index idx = { 0 };
	char target[128];
	struct stat st;

	snprintf(target, sizeof(target), "%s/elsewhere", tmpl);
	cr_assert_eq(symlinkat(target, mdfd, IMAP_INDEX_NAME), 0);
	cr_assert_eq(imap_index_sync(mdfd, &idx, 0), 0);
	cr_assert_eq(stat(target, &st), -1, "the symlink target was created");
	cr_assert_eq(fstatat(mdfd, IMAP_INDEX_NAME, &st, AT_SYMLINK_NOFOLLOW),
	    0);
	cr_assert(S_ISREG(st.st_mode));
	imap_index_free(&idx);
}

Test(imap_index, dovecot_uidlist_imported)
{
	struct imap_index idx = { 0 };

	put("cur/1700000000.M1P1.host,S=2:2,S", "a\n");
	put("cur/1700000001.M2P1.host,S=2:2,", "b\n");
	put("new/1700000002.M3P1.host", "c\n");
	put("dovecot-keywords", "0 $Junk\n1 work stuff\n1 dup\n3 gap\n"
	    "2 \\Bad\n");
	put("dovecot-uidlist", "3 V1234567 N40 Gdeadbeef\n"
	    "17 :1700000000.M1P1.host,S=2\n"
	    "33 W3 :1700000001.M2P1.host,S=2\n");
	cr_assert_eq(imap_index_sync(mdfd, &idx, 0), 0);
	cr_assert_eq(idx.uidvalidity, 1234567);
	cr_assert_eq(idx.n, 3);
	cr_assert_str_eq(by_uid(&idx, 17)->name,
	    "cur/1700000000.M1P1.host,S=2:2,S");
	cr_assert_not_null(by_uid(&idx, 33));
	cr_assert_str_eq(by_uid(&idx, 40)->name, "new/1700000002.M3P1.host");
	cr_assert_eq(idx.uidnext, 41);
	/* Keyword letters keep Dovecot's names; bad or gapped ones not. */
	cr_assert_eq(idx.nkeywords, 2, "%zu", idx.nkeywords);
	cr_assert_str_eq(idx.keywords[0], "$Junk");
	cr_assert_str_eq(idx.keywords[1], "dup");
	imap_index_free(&idx);
}

Test(imap_index, keywords_and_flag_names)
{
	struct imap_index idx = { 0 }, other = { 0 };
	char name[64];
	unsigned f;
	uint32_t kw;

	cr_assert_eq(imap_index_sync(mdfd, &idx, 0), 0);
	cr_assert_eq(imap_index_keyword(mdfd, &idx, "$Junk", 0), -1);
	cr_assert_eq(imap_index_keyword(mdfd, &idx, "$Junk", 1), 0);
	cr_assert_eq(imap_index_keyword(mdfd, &idx, "work", 1), 1);
	cr_assert_eq(imap_index_keyword(mdfd, &idx, "$junk", 0), 0);
	cr_assert_eq(imap_index_sync(mdfd, &other, 0), 0);
	cr_assert_eq(other.nkeywords, 2);
	cr_assert_str_eq(other.keywords[1], "work");
	imap_flags_name(IMAP_FLAG_SEEN | IMAP_FLAG_DRAFT, 0x3, name,
	    sizeof(name));
	cr_assert_str_eq(name, ":2,DSab");
	imap_flags_parse("cur/x:2,DSab", &f, &kw);
	cr_assert_eq(f, IMAP_FLAG_SEEN | IMAP_FLAG_DRAFT);
	cr_assert_eq(kw, 3);
	imap_index_free(&idx);
	imap_index_free(&other);
}

Test(imap_index, two_handles_agree)
{
	struct imap_index a = { 0 }, b = { 0 };

	put("new/1.x", "a\n");
	cr_assert_eq(imap_index_sync(mdfd, &a, 0), 0);
	put("new/2.x", "a\n");
	cr_assert_eq(imap_index_sync(mdfd, &b, 1), 0);
	cr_assert_eq(b.n, 2);
	cr_assert_eq(b.msgs[1].uid, 2);
	cr_assert_eq(imap_index_sync(mdfd, &a, 0), 0);
	cr_assert_eq(a.uidvalidity, b.uidvalidity);
	cr_assert_str_eq(a.msgs[1].name, "cur/2.x:2,");
	cr_assert_eq(a.msgs[1].uid, 2);
	imap_index_free(&a);
	imap_index_free(&b);
}

Test(imap_index, cache_kept_per_message_and_dropped_on_expunge)
{
	struct imap_index idx = { 0 };
	struct buf blobs[2];
	char *names[2];

	put("new/1.x", "a\n");
	put("new/2.x", "b\n");
	cr_assert_eq(imap_index_sync(mdfd, &idx, 1), 0);
	names[0] = idx.msgs[0].name;
	names[1] = idx.msgs[1].name;
	buf_init(&blobs[0]);
	buf_init(&blobs[1]);
	buf_puts(&blobs[0], "blob one");
	cr_assert_eq(imap_cache_store(mdfd, names, 2, blobs), 0);
	buf_puts(&blobs[1], "stale");
	cr_assert_eq(imap_cache_load(mdfd, names, 2, blobs), 0);
	cr_assert_str_eq(blobs[0].data, "blob one");
	cr_assert_eq(blobs[1].len, 0);
	/* A flag rename keeps it (the key is the base name). */
	cr_assert_eq(renameat(mdfd, "cur/1.x:2,", mdfd, "cur/1.x:2,S"), 0);
	names[0] = "cur/1.x:2,S";
	cr_assert_eq(imap_cache_load(mdfd, names, 1, blobs), 0);
	cr_assert_str_eq(blobs[0].data, "blob one");
	/* Expunged: the next sync drops it; a store for it is ignored. */
	cr_assert_eq(unlinkat(mdfd, "cur/1.x:2,S", 0), 0);
	cr_assert_eq(imap_index_sync(mdfd, &idx, 0), 0);
	cr_assert_eq(imap_cache_store(mdfd, names, 1, blobs), 0);
	cr_assert_eq(imap_cache_load(mdfd, names, 1, blobs), 0);
	cr_assert_eq(blobs[0].len, 0);
	buf_free(&blobs[0]);
	buf_free(&blobs[1]);
	imap_index_free(&idx);
}

Test(imap_index, sizes_and_dates_kept_and_idle_sync_writes_nothing)
{
	struct imap_index idx = { 0 };
	struct timespec ts[2] = { { 1000000, 0 }, { 1000000, 0 } };
	struct stat before, after;

	put("new/100.M1P1.h", "abc\n");
	cr_assert_eq(utimensat(mdfd, "new/100.M1P1.h", ts, 0), 0);
	cr_assert_eq(imap_index_sync(mdfd, &idx, 1), 0);
	cr_assert_eq(idx.n, 1);
	cr_assert_eq(idx.msgs[0].size, 4);
	cr_assert_eq(idx.msgs[0].mtime, 1000000);
	cr_assert_str_eq(idx.msgs[0].name, "cur/100.M1P1.h:2,");
	cr_assert_eq(fstatat(mdfd, IMAP_INDEX_NAME, &before, 0), 0);
	usleep(20000);
	cr_assert_eq(imap_index_sync(mdfd, &idx, 1), 0);
	cr_assert_eq(fstatat(mdfd, IMAP_INDEX_NAME, &after, 0), 0);
	cr_assert_eq(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec,
	    "a sync with nothing to do wrote the index");
	cr_assert_eq(idx.n, 1);
	cr_assert_eq(idx.msgs[0].uid, 1);
	cr_assert_eq(idx.msgs[0].size, 4);
	cr_assert_eq(idx.msgs[0].mtime, 1000000);
	/* A flag rename keeps the UID and the date, and bumps the MODSEQ. */
	cr_assert_eq(renameat(mdfd, "cur/100.M1P1.h:2,", mdfd,
	    "cur/100.M1P1.h:2,S"), 0);
	uint64_t modseq = idx.msgs[0].modseq;
	cr_assert_eq(imap_index_sync(mdfd, &idx, 1), 0);
	cr_assert_eq(idx.n, 1);
	cr_assert_eq(idx.msgs[0].uid, 1);
	cr_assert_eq(idx.msgs[0].mtime, 1000000);
	cr_assert_gt(idx.msgs[0].modseq, modseq);
	imap_index_free(&idx);
}

Test(imap_index, size_from_name_defers_the_stat)
{
	struct imap_index idx = { 0 };

	put("cur/200.M1P1.h,S=7,W=9:2,S", "abcdef\n");
	put("cur/201.M1P1.h,S=x:2,", "xy\n");
	put("cur/202.M1P1.h:2,", "xyz\n");
	cr_assert_eq(imap_index_sync(mdfd, &idx, 1), 0);
	cr_assert_eq(idx.n, 3);
	/* ",S=7": the size from the name, the mtime left to the reader. */
	cr_assert_eq(idx.msgs[0].size, 7);
	cr_assert_eq(idx.msgs[0].mtime, -1);
	/* A malformed or missing S= is stat'd as before. */
	cr_assert_eq(idx.msgs[1].size, 3);
	cr_assert_neq(idx.msgs[1].mtime, -1);
	cr_assert_eq(idx.msgs[2].size, 4);
	cr_assert_neq(idx.msgs[2].mtime, -1);
	/* The next sync keeps it so (no stat, nothing written). */
	cr_assert_eq(imap_index_sync(mdfd, &idx, 1), 0);
	cr_assert_eq(idx.n, 3);
	cr_assert_eq(idx.msgs[0].uid, 1);
	cr_assert_eq(idx.msgs[0].size, 7);
	cr_assert_eq(idx.msgs[0].mtime, -1);
	imap_index_free(&idx);
}
