/*
 * test_smtp_data: the DATA decoder (dot-unstuffing, CRLF to LF, the end
 * line) fed whole, byte by byte and in random pieces, including the
 * smuggling shapes ("\n.\n", "\n.\r\n") that must stay content; and the
 * command line splitter.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "proto/smtp_command.h"
#include "proto/smtp_data.h"

struct result {
	char	 out[8192];
	size_t	 outlen;
	size_t	 consumed;
	int	 done;
};

/* feed: decode in pieces of at most chunk bytes into at most outsize. */
static void
feed(const char *in, size_t len, size_t chunk, size_t outsize,
    struct result *r)
{
	struct smtp_data d;
	size_t n, got, piece;

	memset(r, 0, sizeof(*r));
	smtp_data_init(&d);
	while (r->consumed < len && !smtp_data_done(&d)) {
		piece = len - r->consumed < chunk ? len - r->consumed : chunk;
		n = smtp_data_decode(&d, in + r->consumed, piece,
		    r->out + r->outlen, outsize, &got);
		cr_assert_leq(got, outsize);
		r->outlen += got;
		r->consumed += n;
		cr_assert(n > 0 || got > 0 || smtp_data_done(&d),
		    "no progress");
	}
	r->done = smtp_data_done(&d);
}

#define ALL	((size_t)-1)

static void
check(const char *in, const char *want, int want_done, size_t want_consumed)
{
	struct result r;
	size_t len = strlen(in), chunk;

	if (want_consumed == ALL)
		want_consumed = len;

	for (chunk = 1; chunk <= len + 1; chunk++) {
		feed(in, len, chunk, chunk < 2 ? 2 : chunk, &r);
		cr_assert_eq(r.outlen, strlen(want),
		    "%s chunk %zu: got %zu bytes", in, chunk, r.outlen);
		cr_assert(memcmp(r.out, want, r.outlen) == 0, "chunk %zu",
		    chunk);
		cr_assert_eq(r.done, want_done, "chunk %zu", chunk);
		cr_assert_eq(r.consumed, want_consumed, "chunk %zu", chunk);
	}
}

Test(smtp_data, crlf_becomes_lf_and_end_is_found)
{
	const char *in = "Subject: x\r\n\r\nbody\r\n.\r\n";

	check(in, "Subject: x\n\nbody\n", 1, strlen(in));
	check(".\r\n", "", 1, 3);
	check("\r\n.\r\n", "\n", 1, 5);
}

Test(smtp_data, dots_are_unstuffed)
{
	check("..two\r\n.one\r\n...\r\n.\r\n", ".two\none\n..\n", 1, 21);
	check(". \r\n.\r\n", " \n", 1, 7);
	check("a.\r\n.\r\n", "a.\n", 1, 7);
	check(".\rx\r\n.\r\n", "\rx\n", 1, 8);
	check(".\r\r\n.\r\n", "\r\n", 1, 7);
}

Test(smtp_data, pipelined_commands_stay_unconsumed)
{
	check("a\r\n.\r\nQUIT\r\n", "a\n", 1, 6);
	check(".\r\nRSET\r\n", "", 1, 3);
}

Test(smtp_data, bare_lf_dot_is_content_not_the_end)
{
	check("a\n.\nMAIL FROM:<e@x>\nb\r\n.\r\n", "a\n\nMAIL FROM:<e@x>\nb\n",
	    1, ALL);
	check("a\n.\r\nb\r\n.\r\n", "a\n\nb\n", 1, 11);
	check("a\r\n.\nb\r\n.\r\n", "a\n\nb\n", 1, 11);
	check("a\r.\r\nb\r\n.\r\n", "a\r.\nb\n", 1, 11);
	check("line one\n.\nMAIL FROM:<evil@example.org>\nstill body\r\n.\r\n",
	    "line one\n\nMAIL FROM:<evil@example.org>\nstill body\n", 1, ALL);
}

Test(smtp_data, bare_cr_is_kept)
{
	check("a\rb\r\n.\r\n", "a\rb\n", 1, 8);
	check("a\r\r\n.\r\n", "a\r\n", 1, 7);
	check("\r\r\r\n.\r\n", "\r\r\n", 1, 7);
}

Test(smtp_data, unterminated_input_is_not_done)
{
	check("abc\r\n", "abc\n", 0, 5);
	check("abc\r\n.", "abc\n", 0, 6);
	check("abc\r\n.\r", "abc\n", 0, 7);
	check("abc\r", "abc", 0, 4);
	check("", "", 0, 0);
}

Test(smtp_data, at_bol)
{
	struct smtp_data d;
	char out[16];
	size_t n;

	smtp_data_init(&d);
	cr_assert(smtp_data_at_bol(&d));
	smtp_data_decode(&d, "ab", 2, out, sizeof(out), &n);
	cr_assert(!smtp_data_at_bol(&d));
	smtp_data_decode(&d, "\r\n", 2, out, sizeof(out), &n);
	cr_assert(smtp_data_at_bol(&d));
}

/* Any split and any output size give the same result as one piece. */
Test(smtp_data, random_splits_agree)
{
	static const char alphabet[] = "\r\n.a";
	char in[200];
	struct result whole, pieces;
	unsigned int seed = 4242;
	size_t len, i, n, chunk;

	for (n = 0; n < 20000; n++) {
		len = (size_t)(rand_r(&seed) % sizeof(in));
		for (i = 0; i < len; i++)
			in[i] = alphabet[rand_r(&seed) % 4];
		feed(in, len, len + 1, sizeof(whole.out), &whole);
		chunk = 1 + (size_t)(rand_r(&seed) % 7);
		feed(in, len, chunk, 2 + (size_t)(rand_r(&seed) % 5), &pieces);
		cr_assert_eq(whole.outlen, pieces.outlen);
		cr_assert(memcmp(whole.out, pieces.out, whole.outlen) == 0);
		cr_assert_eq(whole.consumed, pieces.consumed);
		cr_assert_eq(whole.done, pieces.done);
		cr_assert_leq(whole.outlen, whole.consumed);
		if (whole.done) {
			/* The end is CRLF "." CRLF (or "." CRLF first). */
			cr_assert_geq(whole.consumed, 3);
			cr_assert(memcmp(in + whole.consumed - 3, ".\r\n",
			    3) == 0);
			cr_assert(whole.consumed == 3 ||
			    memcmp(in + whole.consumed - 5, "\r\n", 2) == 0);
		}
	}
}

static struct smtp_command cmd;

static int
split(const char *line)
{
	return smtp_command_parse(line, strlen(line), &cmd);
}

Test(smtp_command, verb_and_arguments)
{
	cr_assert_eq(split("MAIL FROM:<a@b.example>"), SMTP_CMD_OK);
	cr_assert_str_eq(cmd.verb, "MAIL");
	cr_assert_eq(cmd.args_len, 18);
	cr_assert(memcmp(cmd.args, "FROM:<a@b.example>", 18) == 0);
	cr_assert_eq(split("  ehlo \t host.example  "), SMTP_CMD_OK);
	cr_assert_str_eq(cmd.verb, "EHLO");
	cr_assert_eq(cmd.args_len, 12);
	cr_assert(memcmp(cmd.args, "host.example", 12) == 0);
	cr_assert_eq(split("quit"), SMTP_CMD_OK);
	cr_assert_str_eq(cmd.verb, "QUIT");
	cr_assert_eq(cmd.args_len, 0);
	cr_assert_eq(split("ABCDEFGHIJKLMNOP x"), SMTP_CMD_OK);
}

Test(smtp_command, hostile_lines)
{
	cr_assert_eq(split(""), SMTP_CMD_EMPTY);
	cr_assert_eq(split(" \t "), SMTP_CMD_EMPTY);
	cr_assert_eq(smtp_command_parse("NOOP\0x", 6, &cmd), SMTP_CMD_BADCHAR);
	cr_assert_eq(split("NOOP\r"), SMTP_CMD_BADCHAR);
	cr_assert_eq(split("NO\rOP"), SMTP_CMD_BADCHAR);
	cr_assert_eq(split("RCPT TO:<a@b>\n"), SMTP_CMD_BADCHAR);
	cr_assert_eq(split("\x1b[31mNOOP"), SMTP_CMD_BADCHAR);
	cr_assert_eq(split("NOOP\x7f"), SMTP_CMD_BADCHAR);
	cr_assert_eq(split("M4IL FROM:<>"), SMTP_CMD_BADVERB);
	cr_assert_eq(split("MAIL:FROM"), SMTP_CMD_BADVERB);
	cr_assert_eq(split("ABCDEFGHIJKLMNOPQ"), SMTP_CMD_BADVERB);
	cr_assert_eq(split("N\xc3\xb6OP"), SMTP_CMD_BADVERB);
	cr_assert_eq(split("HELO h\xc3\xb6st"), SMTP_CMD_OK);
}

/* bare_flag: whether decoding the whole of in saw a bare CR or LF. */
static int
bare_flag(const char *in)
{
	struct smtp_data d;
	char out[256];
	size_t got;

	smtp_data_init(&d);
	(void)smtp_data_decode(&d, in, strlen(in), out, sizeof(out), &got);
	return d.bare;
}

Test(smtp_data, bare_newlines_are_flagged_for_forbid_bare_newline)
{
	cr_assert_eq(bare_flag("a\r\nb\r\n.\r\n"), 0);
	cr_assert_eq(bare_flag("..x\r\n.\r\n"), 0);
	cr_assert_eq(bare_flag("a\nb\r\n.\r\n"), 1);
	cr_assert_eq(bare_flag("a\rb\r\n.\r\n"), 1);
	cr_assert_eq(bare_flag("a\r\n.\n.\r\n"), 1);
	cr_assert_eq(bare_flag("a\r\n.\rx\r\n.\r\n"), 1);
	cr_assert_eq(bare_flag("\n"), 1);
}

/* Every smuggling end marker of the issue, between two real lines. */
Test(smtp_data, smuggling_markers_never_end_the_data)
{
	const char *markers[] = { "\n.\n", "\n.\r\n", "\r.\n", "\r.\r",
	    "\n.\r", "\r\n.\n", "\r.\r\n", "\r\n.\r" };
	char in[128];
	struct result r;
	size_t i, len;

	for (i = 0; i < sizeof(markers) / sizeof(markers[0]); i++) {
		len = (size_t)snprintf(in, sizeof(in), "a%sMAIL FROM:<x@y>\r\n",
		    markers[i]);
		feed(in, len, 1, 2, &r);
		cr_assert_eq(r.done, 0, "marker %zu ended the data", i);
		cr_assert_eq(r.consumed, len);
	}
	/* A NUL before the dot is content too. */
	memcpy(in, "a\r\n\0.\r\nb", 8);
	feed(in, 8, 1, 2, &r);
	cr_assert_eq(r.done, 0);
	cr_assert_eq(r.outlen, 6);	/* "a\n\0.\nb" */
}

static size_t
bdat(const char *const *chunks, char *out, size_t outsize)
{
	struct smtp_data d;
	size_t o = 0, got, i, n, len;

	smtp_data_init(&d);
	for (i = 0; chunks[i] != NULL; i++) {
		len = strlen(chunks[i]);
		n = smtp_bdat_decode(&d, chunks[i], len, out + o, outsize - o,
		    &got);
		cr_assert_eq(n, len);
		o += got;
	}
	o += smtp_bdat_flush(&d, out + o);
	out[o] = '\0';
	return o;
}

Test(smtp_data, bdat_converts_crlf_across_chunks_without_unstuffing)
{
	const char *c1[] = { "a\r", "\nb\r\n.\r\n..x\r\n", NULL };
	const char *c2[] = { "a\r", "b\r", NULL };
	const char *c3[] = { "\r", "\r", "\n", NULL };
	char out[64];

	cr_assert_eq(bdat(c1, out, sizeof(out)), 10);
	cr_assert_str_eq(out, "a\nb\n.\n..x\n");
	bdat(c2, out, sizeof(out));
	cr_assert_str_eq(out, "a\rb\r");
	bdat(c3, out, sizeof(out));
	cr_assert_str_eq(out, "\r\n");
}
