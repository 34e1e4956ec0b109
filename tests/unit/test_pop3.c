/*
 * test_pop3: the POP3 command parser and the RETR/TOP converter, including
 * hostile lines and every chunking of a message (byte at a time).
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <string.h>

#include "proto/pop3.h"

static int
parse(const char *line, struct pop3_command *cmd)
{
	return pop3_command_parse(line, strlen(line), cmd);
}

static int
arg_is(const struct pop3_arg *a, const char *s)
{
	return a->len == strlen(s) && memcmp(a->s, s, a->len) == 0;
}

Test(pop3_parse, verb_upper_cased_and_args_split)
{
	struct pop3_command cmd;

	cr_assert_eq(parse("top 12  5", &cmd), POP3_PARSE_OK);
	cr_assert_str_eq(cmd.verb, "TOP");
	cr_assert_eq(cmd.nargs, 2);
	cr_assert(arg_is(&cmd.args[0], "12"));
	cr_assert(arg_is(&cmd.args[1], "5"));
	cr_assert_eq(cmd.extra_args, 0);

	cr_assert_eq(parse("STAT", &cmd), POP3_PARSE_OK);
	cr_assert_str_eq(cmd.verb, "STAT");
	cr_assert_eq(cmd.nargs, 0);
	cr_assert_eq(cmd.rest_len, 0);

	cr_assert_eq(parse("Uidl ", &cmd), POP3_PARSE_OK);
	cr_assert_str_eq(cmd.verb, "UIDL");
	cr_assert_eq(cmd.nargs, 0, "a trailing space is no argument");
}

Test(pop3_parse, pass_keeps_rest_verbatim)
{
	struct pop3_command cmd;

	cr_assert_eq(parse("PASS  my secret pass ", &cmd), POP3_PARSE_OK);
	cr_assert_str_eq(cmd.verb, "PASS");
	cr_assert_eq(cmd.rest_len, strlen(" my secret pass "));
	cr_assert_eq(memcmp(cmd.rest, " my secret pass ", cmd.rest_len), 0);
	cr_assert_eq(cmd.nargs, 2);
	cr_assert_eq(cmd.extra_args, 1);

	/* UTF-8 in a password is fine. */
	cr_assert_eq(parse("PASS p\xc3\xa4ss", &cmd), POP3_PARSE_OK);
	cr_assert_eq(cmd.rest_len, 5);
}

Test(pop3_parse, hostile_lines)
{
	struct pop3_command cmd;
	char line[64];

	cr_assert_eq(parse("", &cmd), POP3_PARSE_EMPTY);
	cr_assert_eq(parse("    ", &cmd), POP3_PARSE_EMPTY);
	cr_assert_eq(parse("USER a\tb", &cmd), POP3_PARSE_BADCHAR);
	cr_assert_eq(parse("USER a\rb", &cmd), POP3_PARSE_BADCHAR);
	cr_assert_eq(parse("USER \x7f", &cmd), POP3_PARSE_BADCHAR);
	memcpy(line, "USER a\0b", 8);
	cr_assert_eq(pop3_command_parse(line, 8, &cmd), POP3_PARSE_BADCHAR);
	cr_assert_eq(parse("ABCDEFGHIJKLMNOPQ x", &cmd), POP3_PARSE_BADVERB);
	cr_assert_eq(parse("ABCDEFGHIJKLMNOP x", &cmd), POP3_PARSE_OK);
	cr_assert_eq(strlen(cmd.verb), POP3_VERB_MAX);
	cr_assert_eq(parse("\xc3\xa4SER x", &cmd), POP3_PARSE_BADVERB);
}

Test(pop3_parse, numbers)
{
	struct pop3_arg a;
	unsigned long long n;

	a.s = "42"; a.len = 2;
	cr_assert_eq(pop3_number_parse(&a, 100, &n), 0);
	cr_assert_eq(n, 42);
	cr_assert_eq(pop3_number_parse(&a, 41, &n), -1, "over max");
	cr_assert_eq(pop3_number_parse(&a, 42, &n), 0);
	a.s = "7"; a.len = 1;
	cr_assert_eq(pop3_number_parse(&a, 5, &n), -1, "digit over max");
	a.s = "-1"; a.len = 2;
	cr_assert_eq(pop3_number_parse(&a, 100, &n), -1);
	a.s = "+1"; a.len = 2;
	cr_assert_eq(pop3_number_parse(&a, 100, &n), -1);
	a.s = "1x"; a.len = 2;
	cr_assert_eq(pop3_number_parse(&a, 100, &n), -1);
	a.s = ""; a.len = 0;
	cr_assert_eq(pop3_number_parse(&a, 100, &n), -1);
	a.s = "18446744073709551615"; a.len = 20;
	cr_assert_eq(pop3_number_parse(&a, ULLONG_MAX, &n), 0);
	cr_assert_eq(n, ULLONG_MAX);
	a.s = "18446744073709551616"; a.len = 20;
	cr_assert_eq(pop3_number_parse(&a, ULLONG_MAX, &n), -1, "overflow");
	a.s = "99999999999999999999999"; a.len = 23;
	cr_assert_eq(pop3_number_parse(&a, ULLONG_MAX, &n), -1);
}

Test(pop3_parse, uidl_valid)
{
	char long_uid[POP3_UIDL_MAX + 2];

	cr_assert(pop3_uidl_valid("1700000000.M1P2.host,S=12", 25));
	cr_assert_not(pop3_uidl_valid("", 0));
	cr_assert_not(pop3_uidl_valid("a b", 3));
	memset(long_uid, 'x', sizeof(long_uid));
	cr_assert(pop3_uidl_valid(long_uid, POP3_UIDL_MAX));
	cr_assert_not(pop3_uidl_valid(long_uid, POP3_UIDL_MAX + 1));
}

/* Convert msg fed in chunks of size step; returns the output. */
static void
convert(const char *msg, size_t step, long long lines, struct buf *out,
    off_t *octets)
{
	struct pop3_msgconv conv;
	size_t len = strlen(msg), off = 0, n, used;

	buf_reset(out);
	pop3_msgconv_init(&conv, lines);
	while (off < len && !conv.done) {
		n = len - off < step ? len - off : step;
		used = pop3_msgconv_feed(&conv, msg + off, n, out);
		cr_assert(used <= n);
		if (used < n)
			cr_assert(conv.done);
		off += used;
	}
	pop3_msgconv_end(&conv, out);
	*octets = conv.octets;
}

static void
check_every_chunking(const char *msg, long long lines, const char *want,
    off_t want_octets)
{
	struct buf out;
	off_t octets;
	size_t step;

	buf_init(&out);
	for (step = 1; step <= strlen(msg) + 1; step++) {
		convert(msg, step, lines, &out, &octets);
		cr_assert_str_eq(out.data, want, "step %zu", step);
		cr_assert_eq(octets, want_octets, "step %zu: octets %lld",
		    step, (long long)octets);
	}
	buf_free(&out);
}

Test(pop3_msgconv, lf_to_crlf_and_dot_stuffing)
{
	const char *msg = "Subject: x\n\n.hidden\nbody\r\n..two\n.\nend";

	check_every_chunking(msg, -1,
	    "Subject: x\r\n\r\n..hidden\r\nbody\r\n...two\r\n..\r\nend\r\n.\r\n",
	    (off_t)strlen(msg) + 5);
}

Test(pop3_msgconv, size_is_file_plus_bare_lfs)
{
	struct pop3_msgconv conv;
	const char *msg = "a\nb\r\nc\rd\n\n";

	pop3_msgconv_init(&conv, -1);
	cr_assert_eq(pop3_msgconv_feed(&conv, msg, strlen(msg), NULL),
	    strlen(msg));
	cr_assert_eq(conv.octets, (off_t)strlen(msg) + 3);
	/* A bare CR stays as it is; a CR at a chunk end still pairs. */
	check_every_chunking("a\r\nb\rc\r", -1, "a\r\nb\rc\r\n.\r\n", 7);
}

Test(pop3_msgconv, empty_message)
{
	check_every_chunking("", -1, ".\r\n", 0);
}

Test(pop3_msgconv, top_stops_after_n_body_lines)
{
	const char *msg = "A: 1\nB: 2\n\nl1\n.l2\nl3\n";

	check_every_chunking(msg, 0, "A: 1\r\nB: 2\r\n\r\n.\r\n", 14);
	check_every_chunking(msg, 2,
	    "A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\n.\r\n", 23);
	check_every_chunking(msg, 1000,
	    "A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n", 27);
	/* CRLF stored, and no body at all. */
	check_every_chunking("A: 1\r\n\r\nx\r\n", 0, "A: 1\r\n\r\n.\r\n", 8);
	check_every_chunking("A: 1\nB: 2", 0, "A: 1\r\nB: 2\r\n.\r\n", 10);
}

Test(pop3_msgconv, header_end_needs_an_empty_line)
{
	/* " \n" and "\r \n" are not empty lines. */
	check_every_chunking("A\n \nB\n\nbody\n", 0,
	    "A\r\n \r\nB\r\n\r\n.\r\n", 11);
	check_every_chunking("A\n\r \nB\n\nbody\n", 0,
	    "A\r\n\r \r\nB\r\n\r\n.\r\n", 12);
}
