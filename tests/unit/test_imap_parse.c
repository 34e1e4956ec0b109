/*
 * test_imap_parse: the IMAP command reader and parser (lib/proto/imap.c),
 * fed whole and a byte at a time: literals of every kind, limits crossed
 * before allocation, NUL, nesting, sections, and sequence sets.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "proto/imap.h"

static const struct imap_limits lim = {
	.line_max = 200, .literal_max = 1000, .nonsync_max = 4096,
	.command_max = 3000, .depth_max = 4, .args_max = 50,
};

/* Feed all of in, byte by byte when bytewise; collect events in order. */
static int
feed(struct imap_reader *r, const char *in, size_t len, int bytewise,
    int *events, int max)
{
	size_t off = 0, used, chunk;
	int n = 0, rc;

	while (off < len) {
		chunk = bytewise ? 1 : len - off;
		rc = imap_reader_feed(r, in + off, chunk, &used);
		off += used;
		if (rc != IMAP_READ_MORE && n < max)
			events[n++] = rc;
		if (rc == IMAP_READ_FATAL)
			break;
	}
	return n;
}

static void
both_ways(const char *in, const int *want, int nwant)
{
	struct imap_reader r;
	int ev[16], n, bytewise;

	for (bytewise = 0; bytewise < 2; bytewise++) {
		imap_reader_init(&r, &lim);
		n = feed(&r, in, strlen(in), bytewise, ev, 16);
		cr_assert_eq(n, nwant, "%s: %d events, want %d (bytewise %d)",
		    in, n, nwant, bytewise);
		cr_assert_arr_eq(ev, want, (size_t)n * sizeof(int));
		imap_reader_free(&r);
	}
}

Test(imap_reader, simple_command_done)
{
	int want[] = { IMAP_READ_DONE, IMAP_READ_DONE };

	both_ways("a1 NOOP\r\na2 CAPABILITY\r\n", want, 2);
}

Test(imap_reader, sync_literal_asks_to_continue)
{
	int want[] = { IMAP_READ_CONT, IMAP_READ_DONE };

	both_ways("a LOGIN {4}\r\nuser pass\r\n", want, 2);
}

Test(imap_reader, nonsync_literal_no_continuation)
{
	int want[] = { IMAP_READ_DONE };

	both_ways("a LOGIN {4+}\r\nuser {4+}\r\npass\r\n", want, 1);
}

Test(imap_reader, huge_literal_refused_before_allocation)
{
	struct imap_reader r;
	const char *in = "x1 LOGIN {4294967295}\r\n";
	size_t used;

	imap_reader_init(&r, &lim);
	cr_assert_eq(imap_reader_feed(&r, in, strlen(in), &used),
	    IMAP_READ_BAD);
	cr_assert_str_eq(r.tag, "x1");
	cr_assert(strstr(r.error, "TOOBIG") != NULL);
	cr_assert_lt(r.cmd.size, 4096, "buffer grew to %zu", r.cmd.size);
	/* The next command is read normally. */
	cr_assert_eq(imap_reader_feed(&r, "x2 NOOP\r\n", 9, &used),
	    IMAP_READ_DONE);
	cr_assert_eq(r.cmd.len, 9);
	imap_reader_free(&r);
}

Test(imap_reader, literal_over_eleven_digits_is_not_a_literal)
{
	struct imap_reader r;
	struct imap_command cmd;
	const char *in = "a LOGIN {99999999999999999999}\r\n";
	size_t used;

	imap_reader_init(&r, &lim);
	cr_assert_eq(imap_reader_feed(&r, in, strlen(in), &used),
	    IMAP_READ_DONE);
	cr_assert_eq(imap_parse(r.cmd.data, r.cmd.len, &lim, &cmd), -1);
	cr_assert_str_eq(cmd.tag, "a");
	imap_command_free(&cmd);
	imap_reader_free(&r);
}

Test(imap_reader, nonsync_over_literal_minus_is_toobig_fatal)
{
	struct imap_reader r;
	const char *in = "t APPEND INBOX {4097+}\r\n";
	size_t used;

	imap_reader_init(&r, &lim);
	cr_assert_eq(imap_reader_feed(&r, in, strlen(in), &used),
	    IMAP_READ_FATAL);
	cr_assert_str_eq(r.tag, "t");
	cr_assert(strstr(r.error, "[TOOBIG]") != NULL);
	imap_reader_free(&r);
}

Test(imap_reader, long_line_fatal_and_command_limit)
{
	struct imap_reader r;
	char line[400];
	size_t used;

	memset(line, 'a', sizeof(line));
	imap_reader_init(&r, &lim);
	cr_assert_eq(imap_reader_feed(&r, line, sizeof(line), &used),
	    IMAP_READ_FATAL);
	cr_assert_eq(used, lim.line_max);
	imap_reader_free(&r);
}

Test(imap_reader, command_total_limit_counts_literals)
{
	struct imap_reader r;
	struct imap_limits l = lim;
	size_t used;
	char lit[1000];
	int i, rc = IMAP_READ_MORE;

	l.command_max = 2500;
	memset(lit, 'x', sizeof(lit));
	imap_reader_init(&r, &l);
	for (i = 0; i < 3 && rc != IMAP_READ_BAD; i++) {
		rc = imap_reader_feed(&r, "a X {1000}\r\n", 12, &used);
		if (rc == IMAP_READ_CONT)
			cr_assert_eq(imap_reader_feed(&r, lit, sizeof(lit),
			    &used), IMAP_READ_MORE);
	}
	cr_assert_eq(rc, IMAP_READ_BAD);
	cr_assert_eq(i, 3);
	imap_reader_free(&r);
}

Test(imap_reader, literal_may_hold_crlf_and_braces)
{
	int want[] = { IMAP_READ_CONT, IMAP_READ_DONE };

	both_ways("a APPEND X {8}\r\n{3}\r\nab\n\r\n", want, 2);
}

static struct imap_command
parse_ok(const char *s)
{
	struct imap_command cmd;

	cr_assert_eq(imap_parse(s, strlen(s), &lim, &cmd), 0, "%s: %s", s,
	    cmd.error);
	return cmd;
}

static const char *
parse_bad(const char *s, size_t len)
{
	struct imap_command cmd;
	const char *err;

	cr_assert_eq(imap_parse(s, len, &lim, &cmd), -1, "%s parsed", s);
	err = cmd.error;
	imap_command_free(&cmd);
	return err;
}

Test(imap_parse, tag_name_and_args)
{
	struct imap_command c = parse_ok("A001 login \"us\\\"er\" {3}\r\np w\r\n");

	cr_assert_str_eq(c.tag, "A001");
	cr_assert_str_eq(c.name, "LOGIN");
	cr_assert_eq(c.nargs, 2);
	cr_assert_eq(c.args[0].type, IMAP_ARG_QUOTED);
	cr_assert_str_eq(c.args[0].s, "us\"er");
	cr_assert_eq(c.args[1].type, IMAP_ARG_LITERAL);
	cr_assert_str_eq(c.args[1].s, "p w");
	imap_command_free(&c);
}

Test(imap_parse, lists_and_sections)
{
	struct imap_command c = parse_ok("f UID FETCH 1:*,4 (FLAGS "
	    "BODY.PEEK[HEADER.FIELDS (From \"To\")]<0.100> (a (b)) ())\r\n");

	cr_assert_eq(c.nargs, 3);
	cr_assert(imap_arg_is(&c.args[0], "fetch"));
	cr_assert_str_eq(c.args[1].s, "1:*,4");
	cr_assert_eq(c.args[2].type, IMAP_ARG_LIST);
	cr_assert_eq(c.args[2].n, 4);
	cr_assert_str_eq(c.args[2].list[1].s,
	    "BODY.PEEK[HEADER.FIELDS (From \"To\")]<0.100>");
	cr_assert_eq(c.args[2].list[2].list[1].list[0].type, IMAP_ARG_ATOM);
	cr_assert_eq(c.args[2].list[3].n, 0);
	imap_command_free(&c);
}

Test(imap_parse, flags_and_wildcards_are_atoms)
{
	struct imap_command c = parse_ok("s STORE 1 +FLAGS.SILENT (\\Seen $Junk)");

	cr_assert_str_eq(c.args[2].list[0].s, "\\Seen");
	imap_command_free(&c);
	c = parse_ok("l LIST \"\" %/*");
	cr_assert_str_eq(c.args[1].s, "%/*");
	cr_assert_eq(c.args[0].len, 0);
	imap_command_free(&c);
}

Test(imap_parse, nul_in_quoted_is_bad)
{
	const char s[] = "a LOGIN \"u\0x\" p";

	cr_assert(strstr(parse_bad(s, sizeof(s) - 1), "NUL") != NULL);
}

Test(imap_parse, nul_in_atom_is_bad)
{
	const char s[] = "a LOGIN u\0x p";

	cr_assert_not_null(parse_bad(s, sizeof(s) - 1));
}

Test(imap_parse, nesting_limit)
{
	struct imap_command c = parse_ok("a X ((((x))))");

	imap_command_free(&c);
	cr_assert(strstr(parse_bad("a X (((((x)))))", 15), "nesting") != NULL);
}

Test(imap_parse, too_many_args)
{
	char s[300] = "a X";
	int i;

	for (i = 0; i < 60; i++)
		strlcat(s, " y", sizeof(s));
	cr_assert(strstr(parse_bad(s, strlen(s)), "Too many") != NULL);
}

Test(imap_parse, malformed)
{
	const char *bad[] = { "", "a", "a ", " a NOOP", "a NO-OP", "a X  y",
	    "a X y ", "a X ", "a X (y", "a X y)", "a X \"y", "a X {3}\r\nab",
	    "a X {2-}\r\nab", "a X \"\\x\"", "a X {}\r\n", "+ NOOP",
	    "a X BODY[", "a X caf\xc3\xa9", "a X (a)(b)" };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		parse_bad(bad[i], strlen(bad[i]));
}

Test(imap_parse, tag_reported_when_args_bad)
{
	struct imap_command c;

	cr_assert_eq(imap_parse("t7 LOGIN (", 10, &lim, &c), -1);
	cr_assert_str_eq(c.tag, "t7");
	imap_command_free(&c);
}

Test(imap_parse, no_args)
{
	struct imap_command c = parse_ok("a1 noop\r\n");

	cr_assert_str_eq(c.name, "NOOP");
	cr_assert_eq(c.nargs, 0);
	imap_command_free(&c);
}

Test(imap_seqset, parse_and_membership)
{
	struct imap_seqset s;

	cr_assert_eq(imap_seqset_parse("1,3:5,9:7,*", 10, &s), 0);
	cr_assert_eq(s.n, 4);
	cr_assert(imap_seqset_has(&s, 1, 20));
	cr_assert_not(imap_seqset_has(&s, 2, 20));
	cr_assert(imap_seqset_has(&s, 4, 20));
	cr_assert(imap_seqset_has(&s, 8, 20));
	cr_assert(imap_seqset_has(&s, 20, 20));
	cr_assert_not(imap_seqset_has(&s, 19, 20));
	imap_seqset_free(&s);
	cr_assert_eq(imap_seqset_parse("5:*", 10, &s), 0);
	cr_assert(imap_seqset_has(&s, 3, 3), "5:* includes * when * < 5");
	imap_seqset_free(&s);
}

Test(imap_seqset, malformed_and_limits)
{
	const char *bad[] = { "", "0", "1,", ",1", "1::2", "a", "1:0",
	    "4294967295", "01", "1:2:3", "-1", "1 2" };
	struct imap_seqset s;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(imap_seqset_parse(bad[i], 10, &s), -1, "%s",
		    bad[i]);
	cr_assert_eq(imap_seqset_parse("1,2,3", 2, &s), -1);
	cr_assert_eq(imap_seqset_parse("4294967294", 2, &s), 0);
	imap_seqset_free(&s);
}

Test(imap_quote, quoted_or_literal)
{
	struct buf b;

	buf_init(&b);
	imap_quote(&b, "a\"b\\", 4);
	cr_assert_str_eq(b.data, "\"a\\\"b\\\\\"");
	buf_reset(&b);
	imap_quote(&b, "a\r\nb", 4);
	cr_assert_str_eq(b.data, "{4}\r\na\r\nb");
	buf_free(&b);
	cr_assert(imap_astring_ok("INBOX", 5));
	cr_assert_not(imap_astring_ok("nil", 3));
	cr_assert_not(imap_astring_ok("a b", 3));
	cr_assert_not(imap_astring_ok("", 0));
}
