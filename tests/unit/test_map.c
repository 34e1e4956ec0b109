/*
 * test_map: map build and lookup for every backend, the source parser and
 * its limits, atomic rebuilds seen by map_changed(), map lists, and the
 * password schemes of passwd_verify().
 */
#include <criterion/criterion.h>
#include <sys/stat.h>
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fileutil.h"
#include "core/xmalloc.h"
#include "map/map.h"
#include "map/passwd.h"

static char tmpdir[] = "/tmp/test_map.XXXXXX";
static int oldcwd = -1;

static void
setup(void)
{
	cr_assert_not_null(mkdtemp(tmpdir));
	oldcwd = open(".", O_RDONLY | O_DIRECTORY);
	cr_assert_eq(chdir(tmpdir), 0);
}

static void
teardown(void)
{
	char cmd[128];

	if (oldcwd >= 0 && fchdir(oldcwd) == 0)
		close(oldcwd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	(void)!system(cmd);
}

TestSuite(map, .init = setup, .fini = teardown);
TestSuite(passwd);

static void
put_file(const char *path, const char *text, mode_t mode)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(write_full(fd, text, strlen(text)), 0);
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
}

/* lookup: the value of key in m, or NULL when not found. */
static char *
lookup(struct map *m, const char *key)
{
	struct buf b;
	char *v;
	int rc;

	buf_init(&b);
	rc = map_lookup(m, key, &b);
	cr_assert_neq(rc, -1, "lookup %s failed", key);
	v = rc == 1 ? xstrdup(b.data) : NULL;
	buf_free(&b);
	return v;
}

static void
expect(struct map *m, const char *key, const char *want)
{
	char *got = lookup(m, key);

	if (want == NULL) {
		cr_expect_null(got, "%s: got \"%s\", want nothing", key, got);
	} else {
		cr_assert_not_null(got, "%s: not found", key);
		cr_expect_str_eq(got, want, "%s", key);
	}
	free(got);
}

static struct map *
open_ok(const char *spec)
{
	char err[256] = "";
	struct map *m;

	m = map_open(spec, err, sizeof(err));
	cr_assert_not_null(m, "map_open %s: %s", spec, err);
	return m;
}

static void
build_ok(const char *spec, int aliases)
{
	char err[256] = "";

	cr_assert_eq(map_build(spec, aliases, err, sizeof(err)), 0,
	    "map_build %s: %s", spec, err);
}

static const char sample[] =
    "# virtual mailboxes\n"
    "Alice@Example.ORG   example.org/alice/\n"
    "\n"
    "   # an indented comment\n"
    "bob@example.org\texample.org/bob/\n"
    "list@example.org  a@example.org,\n"
    "   b@example.org\n"
    "# a comment inside does not end the entry\n"
    "\tc@example.org\n"
    "crlf@example.org value\r\n"
    "  cont\r\n"
    "last@example.org  no newline at the end";

static void
check_sample(struct map *m)
{
	expect(m, "alice@example.org", "example.org/alice/");
	expect(m, "ALICE@example.org", "example.org/alice/");
	expect(m, "bob@example.org", "example.org/bob/");
	expect(m, "list@example.org", "a@example.org, b@example.org c@example.org");
	expect(m, "crlf@example.org", "value cont");
	expect(m, "last@example.org", "no newline at the end");
	expect(m, "carol@example.org", NULL);
	expect(m, "", NULL);
	expect(m, "b@example.org", NULL);
}

Test(map, hash_build_and_lookup)
{
	struct map *m;
	struct stat st;

	put_file("vmailbox", sample, 0640);
	build_ok("hash:vmailbox", 0);
	cr_assert_eq(stat("vmailbox.db", &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0640, "db mode %o", st.st_mode & 0777);
	cr_expect_neq(access("vmailbox.db.tmp", F_OK), 0, "tmp file left");
	m = open_ok("hash:vmailbox");
	check_sample(m);
	cr_expect_eq(map_changed(m), 0);
	map_close(m);
}

Test(map, btree_build_and_lookup)
{
	struct map *m;

	put_file("vmailbox", sample, 0644);
	build_ok("btree:vmailbox", 0);
	m = open_ok("btree:vmailbox");
	check_sample(m);
	map_close(m);
}

Test(map, bare_path_builds_hash)
{
	char err[256];
	struct map *m;

	put_file("t", "k v\n", 0600);
	build_ok("t", 0);
	m = open_ok("hash:t");
	expect(m, "k", "v");
	map_close(m);
	/* A hash file is not a btree: an error, not a crash. */
	cr_expect_null(map_open("btree:t", err, sizeof(err)));
	cr_expect(strstr(err, "t.db") != NULL, "%s", err);
}

Test(map, texthash)
{
	struct map *m;

	put_file("vmailbox", sample, 0644);
	m = open_ok("texthash:vmailbox");
	check_sample(m);
	cr_expect_eq(map_changed(m), 0);
	map_close(m);
}

Test(map, texthash_notices_edit_and_replace)
{
	struct map *m;

	put_file("t", "a 1\n", 0644);
	m = open_ok("texthash:t");
	put_file("t.new", "a 2\n", 0644);
	cr_assert_eq(rename("t.new", "t"), 0);
	cr_expect_neq(map_changed(m), 0);
	expect(m, "a", "1");	/* the old contents until reopened */
	map_close(m);

	m = open_ok("texthash:t");
	put_file("t", "a 22\n", 0644);	/* edited in place: size differs */
	cr_expect_neq(map_changed(m), 0);
	map_close(m);
}

Test(map, inline_map)
{
	struct map *m;
	char err[256];

	m = open_ok("inline:{ Key1=value1, key2=value2 {key5=v5},"
	    " { key3 = a, b }, {key4 = two words} }");
	expect(m, "key1", "value1");
	expect(m, "KEY2", "value2");
	expect(m, "key4", "two words");
	expect(m, "key5", "v5");
	expect(m, "key3", "a, b");
	expect(m, "key6", NULL);
	cr_expect_eq(map_changed(m), 0);
	map_close(m);

	m = open_ok("inline:{}");
	expect(m, "x", NULL);
	map_close(m);

	cr_expect_null(map_open("inline:{ a=1", err, sizeof(err)));
	cr_expect_null(map_open("inline:a=1", err, sizeof(err)));
	cr_expect_null(map_open("inline:{ novalue }", err, sizeof(err)));
	cr_expect(strstr(err, "key=value") != NULL, "%s", err);
	/* As in Postfix, whitespace separates entries outside braces. */
	cr_expect_null(map_open("inline:{ a = 1 }", err, sizeof(err)));
	cr_expect(strstr(err, "key=value") != NULL, "%s", err);
	cr_expect_null(map_open("inline:{ =v }", err, sizeof(err)));
	cr_expect_null(map_open("inline:{ a=1, A=2 }", err, sizeof(err)));
	cr_expect(strstr(err, "duplicate") != NULL, "%s", err);
}

Test(map, static_map)
{
	struct map *m;

	m = open_ok("static:vmail");
	expect(m, "anything", "vmail");
	expect(m, "", "vmail");
	map_close(m);
	m = open_ok("static:{ two words }");
	expect(m, "x", "two words");
	map_close(m);
}

Test(map, bad_specs)
{
	char err[256];

	cr_expect_null(map_open("nosuch:/etc/x", err, sizeof(err)));
	cr_expect(strstr(err, "unsupported map type") != NULL, "%s", err);
	cr_expect_null(map_open("/etc/x", err, sizeof(err)));
	cr_expect(strstr(err, "type:name") != NULL, "%s", err);
	cr_expect_eq(map_build("nosuch:x", 0, err, sizeof(err)), -1);
	cr_expect_eq(map_build("texthash:x", 0, err, sizeof(err)), -1);
	cr_expect_eq(map_build("inline:{a=b}", 0, err, sizeof(err)), -1);
	cr_expect_eq(map_build("hash:", 0, err, sizeof(err)), -1);
}

Test(map, missing_files)
{
	char err[256] = "";

	cr_expect_null(map_open("hash:nosuch", err, sizeof(err)));
	cr_expect_str_eq(err, "open database nosuch.db: No such file or directory");
	cr_expect_null(map_open("btree:nosuch", err, sizeof(err)));
	cr_expect_null(map_open("texthash:nosuch", err, sizeof(err)));
	cr_expect(strstr(err, "No such file") != NULL, "%s", err);
	cr_expect_eq(map_build("hash:nosuch", 0, err, sizeof(err)), -1);
	cr_expect(strstr(err, "nosuch: No such file") != NULL, "%s", err);
	cr_expect_neq(access("nosuch.db", F_OK), 0);
	cr_expect_neq(access("nosuch.db.tmp", F_OK), 0);
}

Test(map, garbage_database)
{
	char err[256] = "";

	put_file("junk.db", "this is not a Berkeley DB file\n", 0644);
	cr_expect_null(map_open("hash:junk", err, sizeof(err)));
	cr_expect(strncmp(err, "open database junk.db: ", 23) == 0, "%s", err);
	cr_expect_null(map_open("btree:junk", err, sizeof(err)));
}

Test(map, bad_line_names_file_and_line)
{
	char err[256] = "";
	struct map *m;

	put_file("src", "a 1\n# comment\n\nkeyonly\nb 2\n", 0644);
	cr_expect_eq(map_build("hash:src", 0, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "src, line 4: expected format: key whitespace value");
	cr_expect_neq(access("src.db", F_OK), 0, "db created from bad source");
	cr_expect_neq(access("src.db.tmp", F_OK), 0, "tmp file left");
	cr_expect_null(map_open("texthash:src", err, sizeof(err)));
	cr_expect_str_eq(err, "src, line 4: expected format: key whitespace value");

	put_file("src", "  leading value\n", 0644);
	cr_expect_eq(map_build("hash:src", 0, err, sizeof(err)), -1);
	cr_expect(strncmp(err, "src, line 1: ", 13) == 0, "%s", err);

	/* A failed rebuild leaves the previous table in place. */
	put_file("src", "a 1\n", 0644);
	build_ok("hash:src", 0);
	put_file("src", "a 2\nbroken\n", 0644);
	cr_expect_eq(map_build("hash:src", 0, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "src, line 2: expected format: key whitespace value");
	m = open_ok("hash:src");
	expect(m, "a", "1");
	map_close(m);
}

Test(map, aliases_format)
{
	char err[256] = "";
	struct map *m;

	put_file("aliases", "# aliases\n"
	    "postmaster: root\n"
	    "Team :  alice, \"|/usr/bin/prog arg\",\n"
	    "   /var/log/file, :include:/etc/list\n"
	    "spaced:    bob   \n", 0644);
	build_ok("hash:aliases", 1);
	m = open_ok("hash:aliases");
	expect(m, "postmaster", "root");
	expect(m, "team", "alice, \"|/usr/bin/prog arg\", /var/log/file, "
	    ":include:/etc/list");
	expect(m, "spaced", "bob");
	map_close(m);

	put_file("aliases", "postmaster: root\nno colon here\n", 0644);
	cr_expect_eq(map_build("hash:aliases", 1, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "aliases, line 2: expected format: key: value");
	put_file("aliases", "two words: root\n", 0644);
	cr_expect_eq(map_build("hash:aliases", 1, err, sizeof(err)), -1);
	cr_expect(strncmp(err, "aliases, line 1: ", 17) == 0, "%s", err);
	put_file("aliases", "empty:\n", 0644);
	cr_expect_eq(map_build("hash:aliases", 1, err, sizeof(err)), -1);
}

Test(map, duplicates_keep_the_first)
{
	struct map *m;

	put_file("d", "a first\nA second\n", 0644);
	build_ok("hash:d", 0);
	m = open_ok("hash:d");
	expect(m, "a", "first");
	map_close(m);
	m = open_ok("texthash:d");
	expect(m, "a", "first");
	map_close(m);
}

/* The parser callback sees folded keys and every value exactly once. */
static int
collect(const char *key, const char *value, void *arg)
{
	struct buf *b = arg;

	buf_printf(b, "[%s=%s]", key, value);
	return 0;
}

Test(map, parser_entries_and_folding)
{
	char err[256] = "";
	struct buf b;

	buf_init(&b);
	cr_assert_eq(map_text_parse("MiXeD Value Kept\n  More\n#c\nx y",
	    "f", 0, collect, &b, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(b.data, "[mixed=Value Kept More][x=y]");
	buf_reset(&b);
	cr_assert_eq(map_text_parse("", "f", 0, collect, &b, err,
	    sizeof(err)), 0);
	cr_assert_eq(map_text_parse("\n\n# only comments\n   \n", "f", 0,
	    collect, &b, err, sizeof(err)), 0);
	cr_expect_eq(b.len, 0);
	buf_free(&b);
}

static int
refuse(const char *key, const char *value, void *arg)
{
	errno = ENOSPC;
	return -1;
}

Test(map, parser_callback_error)
{
	char err[256] = "";

	cr_expect_eq(map_text_parse("\na b\n", "f", 0, refuse, NULL, err,
	    sizeof(err)), -1);
	cr_expect_str_eq(err, "f, line 2: No space left on device");
}

Test(map, limits)
{
	char err[256] = "", *text, *key;
	struct map *m;
	size_t n;

	/* A key of exactly MAP_KEY_MAX bytes is fine. */
	key = xmalloc(MAP_KEY_MAX + 2);
	memset(key, 'k', MAP_KEY_MAX);
	key[MAP_KEY_MAX] = '\0';
	text = xasprintf("%s ok\n", key);
	put_file("lim", text, 0644);
	free(text);
	build_ok("hash:lim", 0);
	m = open_ok("hash:lim");
	expect(m, key, "ok");
	/* One byte more cannot be in any table. */
	key[MAP_KEY_MAX] = 'k';
	key[MAP_KEY_MAX + 1] = '\0';
	expect(m, key, NULL);
	map_close(m);

	text = xasprintf("short v\n%s toolong\n", key);
	put_file("lim", text, 0644);
	free(text);
	cr_expect_eq(map_build("hash:lim", 0, err, sizeof(err)), -1);
	cr_expect(strncmp(err, "lim, line 2: key too long", 25) == 0, "%s",
	    err);
	cr_expect_null(map_open("texthash:lim", err, sizeof(err)));
	free(key);

	/* An over-long value, built up from continuation lines. */
	n = MAP_VALUE_MAX / 1000 + 2;
	{
		struct buf b;
		size_t i;

		buf_init(&b);
		buf_puts(&b, "big start\n");
		for (i = 0; i < n; i++) {
			buf_putc(&b, ' ');
			for (size_t j = 0; j < 998; j++)
				buf_putc(&b, 'v');
			buf_putc(&b, '\n');
		}
		put_file("lim", b.data, 0644);
		buf_free(&b);
	}
	cr_expect_eq(map_build("hash:lim", 0, err, sizeof(err)), -1);
	cr_expect(strncmp(err, "lim, line 1: value too long", 27) == 0, "%s",
	    err);

	/* A NUL byte in the source. */
	{
		int fd = open("nul", O_WRONLY | O_CREAT | O_TRUNC, 0644);

		cr_assert_eq(write_full(fd, "a b\n\0c d\n", 9), 0);
		close(fd);
	}
	cr_expect_eq(map_build("hash:nul", 0, err, sizeof(err)), -1);
	cr_expect(strstr(err, "NUL") != NULL, "%s", err);
	cr_expect_null(map_open("texthash:nul", err, sizeof(err)));

	/* Not a regular file. */
	cr_assert_eq(mkdir("dir", 0755), 0);
	cr_expect_eq(map_build("hash:dir", 0, err, sizeof(err)), -1);
	cr_expect(strstr(err, "not a regular file") != NULL, "%s", err);
}

Test(map, source_size_limit)
{
	char err[256] = "";
	int fd;

	fd = open("huge", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	/* Sparse: no disk space used. */
	cr_assert_eq(ftruncate(fd, (off_t)MAP_SOURCE_MAX + 1), 0);
	close(fd);
	cr_expect_eq(map_build("hash:huge", 0, err, sizeof(err)), -1);
	cr_expect(strstr(err, "too large") != NULL, "%s", err);
	cr_expect_null(map_open("texthash:huge", err, sizeof(err)));
	cr_expect(strstr(err, "too large") != NULL, "%s", err);
}

Test(map, atomic_rebuild_and_changed)
{
	struct map *old, *new;
	struct stat before, after;

	put_file("v", "a 1\nb 2\n", 0600);
	build_ok("hash:v", 0);
	cr_assert_eq(stat("v.db", &before), 0);
	old = open_ok("hash:v");
	expect(old, "a", "1");
	cr_expect_eq(map_changed(old), 0);

	put_file("v", "a 10\nc 3\n", 0600);
	build_ok("hash:v", 0);
	cr_assert_eq(stat("v.db", &after), 0);
	cr_expect_neq(before.st_ino, after.st_ino, "not replaced by rename");
	cr_expect_neq(map_changed(old), 0);
	/* The old handle still answers from the old table. */
	expect(old, "a", "1");
	expect(old, "c", NULL);

	new = open_ok("hash:v");
	cr_expect_eq(map_changed(new), 0);
	expect(new, "a", "10");
	expect(new, "b", NULL);
	expect(new, "c", "3");
	map_close(new);
	map_close(old);
}

Test(map, stale_tmp_file_is_replaced)
{
	struct map *m;

	put_file("v.db.tmp", "garbage from a crashed build", 0644);
	put_file("v", "a 1\n", 0644);
	build_ok("hash:v", 0);
	cr_expect_neq(access("v.db.tmp", F_OK), 0);
	m = open_ok("hash:v");
	expect(m, "a", "1");
	map_close(m);
}

struct walk_state {
	int	 n;
	int	 stop_at;
	struct buf seen;
};

static int
walk_fn(const char *key, const char *value, void *arg)
{
	struct walk_state *w = arg;

	buf_printf(&w->seen, "%s=%s;", key, value);
	return ++w->n == w->stop_at;
}

Test(map, walk)
{
	static const char *specs[] = { "hash:w", "btree:wb", "texthash:w" };
	struct walk_state w;
	struct map *m;
	size_t i;

	put_file("w", "b 2\na 1\nc 3\n", 0644);
	put_file("wb", "b 2\na 1\nc 3\n", 0644);
	build_ok("hash:w", 0);
	build_ok("btree:wb", 0);
	for (i = 0; i < 3; i++) {
		memset(&w, 0, sizeof(w));
		buf_init(&w.seen);
		m = open_ok(specs[i]);
		cr_expect_eq(map_walk(m, walk_fn, &w), 0);
		cr_expect_eq(w.n, 3, "%s", specs[i]);
		cr_expect(strstr(w.seen.data, "a=1;") != NULL, "%s", w.seen.data);
		cr_expect(strstr(w.seen.data, "c=3;") != NULL, "%s", w.seen.data);
		if (i > 0)
			cr_expect_str_eq(w.seen.data, "a=1;b=2;c=3;");
		memset(&w.n, 0, sizeof(w.n));
		w.stop_at = 1;
		cr_expect_eq(map_walk(m, walk_fn, &w), 0);
		cr_expect_eq(w.n, 1);
		buf_free(&w.seen);
		map_close(m);
	}
	m = open_ok("static:x");
	cr_expect_eq(map_walk(m, walk_fn, &w), -1);
	map_close(m);
}

Test(map, list_order_and_changes)
{
	struct map_list *l;
	struct buf b;
	char err[256] = "";

	put_file("one", "a from-one\n", 0644);
	put_file("two", "a from-two\nb from-two\n", 0644);
	build_ok("hash:one", 0);
	build_ok("btree:two", 0);
	l = map_list_open("hash:one, btree:two inline:{ c=from-inline, "
	    "{ d = x, y } },static:fallback", err, sizeof(err));
	cr_assert_not_null(l, "%s", err);
	cr_expect_eq(map_list_count(l), 4);
	buf_init(&b);
	cr_expect_eq(map_list_lookup(l, "A", &b), 1);
	cr_expect_str_eq(b.data, "from-one");
	cr_expect_eq(map_list_lookup(l, "b", &b), 1);
	cr_expect_str_eq(b.data, "from-two");
	cr_expect_eq(map_list_lookup(l, "c", &b), 1);
	cr_expect_str_eq(b.data, "from-inline");
	cr_expect_eq(map_list_lookup(l, "d", &b), 1);
	cr_expect_str_eq(b.data, "x, y");
	cr_expect_eq(map_list_lookup(l, "zzz", &b), 1);
	cr_expect_str_eq(b.data, "fallback");
	cr_expect_eq(map_list_changed(l), 0);
	put_file("two", "b new\n", 0644);
	build_ok("btree:two", 0);
	cr_expect_neq(map_list_changed(l), 0);
	map_list_close(l);

	l = map_list_open("", err, sizeof(err));
	cr_assert_not_null(l);
	cr_expect_eq(map_list_count(l), 0);
	cr_expect_eq(map_list_lookup(l, "a", &b), 0);
	cr_expect_eq(map_list_changed(l), 0);
	map_list_close(l);

	cr_expect_null(map_list_open("hash:one, hash:missing", err,
	    sizeof(err)));
	cr_expect(strstr(err, "missing.db") != NULL, "%s", err);
	buf_free(&b);
}

Test(passwd, sha512_round_trip)
{
	char *h, *h2;

	h = passwd_hash("correct horse");
	cr_assert_not_null(h);
	cr_expect(strncmp(h, "{SHA512-CRYPT}$6$", 17) == 0, "%s", h);
	cr_expect_eq(strchr(h + 17, '$') - (h + 17), 16, "salt length: %s", h);
	cr_expect_eq(passwd_verify(h, "correct horse"), 1);
	cr_expect_eq(passwd_verify(h, "correct hors"), 0);
	cr_expect_eq(passwd_verify(h, "correct horse "), 0);
	cr_expect_eq(passwd_verify(h, ""), 0);
	h2 = passwd_hash("correct horse");
	cr_expect_str_neq(h, h2, "salts repeat");
	free(h);
	free(h2);
	cr_expect_null(passwd_hash(""));
}

/* crypted: a crypt(3) hash of password with a fixed setting. */
static char *
crypted(const char *password, const char *setting)
{
	struct crypt_data cd;
	const char *out;

	memset(&cd, 0, sizeof(cd));
	out = crypt_r(password, setting, &cd);
	cr_assert(out != NULL && out[0] != '*', "crypt %s", setting);
	return xstrdup(out);
}

Test(passwd, schemes)
{
	static const struct {
		const char *scheme;
		const char *setting;
	} t[] = {
		{ "SHA512-CRYPT", "$6$abcdefgh12345678" },
		{ "SHA256-CRYPT", "$5$abcdefgh12345678" },
		{ "BLF-CRYPT", "$2b$05$abcdefghijklmnopqrstuu" },
		{ "MD5-CRYPT", "$1$abcdefgh" },
		{ "CRYPT", "$6$zyxwvuts" },
	};
	char *hash, *stored;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		hash = crypted("s3cret", t[i].setting);
		stored = xasprintf("{%s}%s", t[i].scheme, hash);
		cr_expect_eq(passwd_verify(stored, "s3cret"), 1, "%s", stored);
		cr_expect_eq(passwd_verify(stored, "s3creT"), 0, "%s", stored);
		cr_expect_eq(passwd_verify(stored, ""), 0, "%s", stored);
		free(stored);
		/* Lower-case scheme names are Dovecot's too. */
		if (i == 0) {
			stored = xasprintf("{sha512-crypt}%s", hash);
			cr_expect_eq(passwd_verify(stored, "s3cret"), 1);
			free(stored);
			/* A bare crypt string is {CRYPT}. */
			cr_expect_eq(passwd_verify(hash, "s3cret"), 1);
			cr_expect_eq(passwd_verify(hash, "nope"), 0);
		}
		free(hash);
	}
	/* The scheme must match the hash it labels. */
	hash = crypted("s3cret", "$5$abcdefgh");
	stored = xasprintf("{SHA512-CRYPT}%s", hash);
	cr_expect_eq(passwd_verify(stored, "s3cret"), 0);
	free(stored);
	free(hash);
}

Test(passwd, plain)
{
	cr_expect_eq(passwd_verify("{PLAIN}pa ss", "pa ss"), 1);
	cr_expect_eq(passwd_verify("{plain}pa ss", "pa ss"), 1);
	cr_expect_eq(passwd_verify("{CLEARTEXT}x", "x"), 1);
	cr_expect_eq(passwd_verify("{PLAIN}pa ss", "pa s"), 0);
	cr_expect_eq(passwd_verify("{PLAIN}pa ss", "pa sss"), 0);
	cr_expect_eq(passwd_verify("{PLAIN}pa ss", "PA SS"), 0);
	cr_expect_eq(passwd_verify("{PLAIN}", ""), 0);
	cr_expect_eq(passwd_verify("{PLAIN}", "x"), 0);
}

Test(passwd, garbage_and_limits)
{
	char *long_pw, *h;

	cr_expect_eq(passwd_verify(NULL, "x"), 0);
	cr_expect_eq(passwd_verify("{PLAIN}x", NULL), 0);
	cr_expect_eq(passwd_verify("", ""), 0);
	cr_expect_eq(passwd_verify("", "x"), 0);
	cr_expect_eq(passwd_verify("x", "x"), 0);
	cr_expect_eq(passwd_verify("{PLAIN x", "x"), 0);
	cr_expect_eq(passwd_verify("{MD4}x", "x"), 0);
	cr_expect_eq(passwd_verify("{}x", "x"), 0);
	cr_expect_eq(passwd_verify("{SHA512-CRYPT}", "x"), 0);
	cr_expect_eq(passwd_verify("{SHA512-CRYPT}$6$", "x"), 0);
	cr_expect_eq(passwd_verify("{SHA512-CRYPT}garbage", "x"), 0);
	cr_expect_eq(passwd_verify("{CRYPT}*", "x"), 0);
	cr_expect_eq(passwd_verify("{CRYPT}$", ""), 0);
	cr_expect_eq(passwd_verify("{BLF-CRYPT}$2b$99$xx", "x"), 0);

	long_pw = xmalloc(PASSWD_MAX + 1);
	memset(long_pw, 'p', PASSWD_MAX);
	long_pw[PASSWD_MAX] = '\0';
	cr_expect_null(passwd_hash(long_pw));
	long_pw[PASSWD_MAX - 1] = '\0';	/* the longest that is taken */
	h = passwd_hash(long_pw);
	cr_assert_not_null(h);
	cr_expect_eq(passwd_verify(h, long_pw), 1);
	long_pw[PASSWD_MAX - 1] = 'p';
	cr_expect_eq(passwd_verify(h, long_pw), 0);
	free(h);
	free(long_pw);
}
