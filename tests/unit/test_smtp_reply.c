/*
 * test_smtp_reply: the SMTP client's reply parser, including the hostile
 * replies of the CVE-2020-8794 class.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "proto/smtp_reply.h"

static int
feed(struct smtp_reply *r, const char *line)
{
	return smtp_reply_feed(r, line, strlen(line));
}

Test(smtp_reply, single_line_with_enhanced_code)
{
	struct smtp_reply r;

	smtp_reply_init(&r, 100);
	cr_assert_eq(feed(&r, "550 5.1.1 <x@example.net>: unknown\r\n"),
	    SMTP_REPLY_DONE);
	cr_assert_eq(r.code, 550);
	cr_assert_str_eq(r.dsn, "5.1.1");
	cr_assert_str_eq(r.text.data, "550 5.1.1 <x@example.net>: unknown");
	smtp_reply_free(&r);
}

Test(smtp_reply, multiline_joined_and_default_dsn)
{
	struct smtp_reply r;

	smtp_reply_init(&r, 100);
	cr_assert_eq(feed(&r, "250-mx.example.net\r\n"), SMTP_REPLY_MORE);
	cr_assert_eq(feed(&r, "250-PIPELINING\r\n"), SMTP_REPLY_MORE);
	cr_assert_eq(feed(&r, "250 SIZE 1000\n"), SMTP_REPLY_DONE);
	cr_assert_eq(r.code, 250);
	cr_assert_str_eq(r.dsn, "2.0.0");
	cr_assert_str_eq(r.text.data,
	    "250-mx.example.net 250-PIPELINING 250 SIZE 1000");
	cr_assert_eq(r.lines, 3);
	smtp_reply_reset(&r);
	cr_assert_eq(feed(&r, "421\r\n"), SMTP_REPLY_DONE);
	cr_assert_eq(r.code, 421);
	cr_assert_str_eq(r.dsn, "4.0.0");
	smtp_reply_free(&r);
}

Test(smtp_reply, enhanced_code_must_match_class_and_shape)
{
	struct smtp_reply r;
	static const char *notdsn[] = {
		"550 4.1.1 wrong class", "550 5.1 short", "550 5.1.1234 long",
		"550 5..1 empty", "550 5.1.1x glued", "550 5.", "550 5.1.",
	};
	size_t i;

	smtp_reply_init(&r, 100);
	for (i = 0; i < sizeof(notdsn) / sizeof(notdsn[0]); i++) {
		smtp_reply_reset(&r);
		cr_assert_eq(feed(&r, notdsn[i]), SMTP_REPLY_DONE, "%s",
		    notdsn[i]);
		cr_assert_str_eq(r.dsn, "5.0.0", "%s gave %s", notdsn[i], r.dsn);
	}
	smtp_reply_reset(&r);
	cr_assert_eq(feed(&r, "452 4.5.3"), SMTP_REPLY_DONE);
	cr_assert_str_eq(r.dsn, "4.5.3");
	smtp_reply_reset(&r);
	cr_assert_eq(feed(&r, "250 2.123.456 ok"), SMTP_REPLY_DONE);
	cr_assert_str_eq(r.dsn, "2.123.456");
	smtp_reply_free(&r);
}

Test(smtp_reply, malformed_lines_are_errors)
{
	struct smtp_reply r;
	static const char *bad[] = {
		"", "2", "25", "\r\n", "abc hello", "650 no such class",
		"190 too low", "2x0 letters", "250x bad separator",
		"260 second digit", " 250 leading space",
	};
	size_t i;

	smtp_reply_init(&r, 100);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		smtp_reply_reset(&r);
		cr_assert_eq(feed(&r, bad[i]), SMTP_REPLY_BAD, "\"%s\"", bad[i]);
		cr_assert(r.error[0] != '\0');
		/* Once bad, the reply stays bad. */
		cr_assert_eq(feed(&r, "250 ok"), SMTP_REPLY_BAD);
	}
	smtp_reply_free(&r);
}

Test(smtp_reply, short_lines_are_read_within_their_length)
{
	struct smtp_reply r;
	char *p;

	/* Exactly-sized heap copies: ASan catches any read past the end. */
	smtp_reply_init(&r, 100);
	p = malloc(2);
	memcpy(p, "25", 2);
	cr_assert_eq(smtp_reply_feed(&r, p, 2), SMTP_REPLY_BAD);
	free(p);
	smtp_reply_reset(&r);
	p = malloc(3);
	memcpy(p, "250", 3);
	cr_assert_eq(smtp_reply_feed(&r, p, 3), SMTP_REPLY_DONE);
	free(p);
	smtp_reply_reset(&r);
	p = malloc(5);
	memcpy(p, "550 5", 5);
	cr_assert_eq(smtp_reply_feed(&r, p, 5), SMTP_REPLY_DONE);
	cr_assert_str_eq(r.dsn, "5.0.0");
	free(p);
	smtp_reply_reset(&r);
	p = malloc(8);
	memcpy(p, "550 5.1.", 8);
	cr_assert_eq(smtp_reply_feed(&r, p, 8), SMTP_REPLY_DONE);
	cr_assert_str_eq(r.dsn, "5.0.0");
	free(p);
	smtp_reply_free(&r);
}

Test(smtp_reply, mixed_codes_are_an_error)
{
	struct smtp_reply r;

	smtp_reply_init(&r, 100);
	cr_assert_eq(feed(&r, "250-first"), SMTP_REPLY_MORE);
	cr_assert_eq(feed(&r, "550 second"), SMTP_REPLY_BAD);
	cr_assert(strstr(r.error, "mixed") != NULL);
	smtp_reply_free(&r);
}

Test(smtp_reply, nul_and_bare_cr_are_errors)
{
	struct smtp_reply r;

	smtp_reply_init(&r, 100);
	cr_assert_eq(smtp_reply_feed(&r, "250 o\0k\r\n", 8), SMTP_REPLY_BAD);
	smtp_reply_reset(&r);
	cr_assert_eq(feed(&r, "250 o\rk\r\n"), SMTP_REPLY_BAD);
	smtp_reply_free(&r);
}

Test(smtp_reply, thousands_of_continuations_cross_the_limit)
{
	struct smtp_reply r;
	int i, rc = SMTP_REPLY_MORE;

	smtp_reply_init(&r, 1000);
	for (i = 0; i < 5000 && rc == SMTP_REPLY_MORE; i++)
		rc = feed(&r, "250-more and more text on this line");
	cr_assert_eq(rc, SMTP_REPLY_BAD);
	cr_assert_eq(i, 1001);
	cr_assert(strstr(r.error, "too many") != NULL);
	cr_assert_leq(r.text.len, SMTP_REPLY_TEXT_MAX);
	smtp_reply_free(&r);
}

Test(smtp_reply, text_is_capped_and_escaped)
{
	struct smtp_reply r;
	char line[10000];
	size_t i;

	smtp_reply_init(&r, 100);
	memcpy(line, "250-", 4);
	memset(line + 4, 'x', sizeof(line) - 4);
	cr_assert_eq(smtp_reply_feed(&r, line, sizeof(line)), SMTP_REPLY_MORE);
	cr_assert_eq(feed(&r, "250 end"), SMTP_REPLY_DONE);
	cr_assert_leq(r.text.len, SMTP_REPLY_TEXT_MAX);
	smtp_reply_reset(&r);
	cr_assert_eq(feed(&r, "550 5.7.1 t\x01\x7f\xff\\z"), SMTP_REPLY_DONE);
	cr_assert_str_eq(r.text.data, "550 5.7.1 t\\001\\177\\377\\134z");
	for (i = 0; i < r.text.len; i++)
		cr_assert(r.text.data[i] >= 0x20 && r.text.data[i] < 0x7f);
	smtp_reply_free(&r);
}

Test(smtp_reply, ehlo_keywords)
{
	char param[32];

	cr_assert(smtp_ehlo_keyword("250-PIPELINING\r\n", 16, "PIPELINING",
	    NULL, 0));
	cr_assert(smtp_ehlo_keyword("250 size 1000\r\n", 15, "SIZE", param,
	    sizeof(param)));
	cr_assert_str_eq(param, "1000");
	cr_assert(smtp_ehlo_keyword("250-SIZE", 8, "SIZE", param,
	    sizeof(param)));
	cr_assert_str_eq(param, "");
	cr_assert(!smtp_ehlo_keyword("250-SIZEX 1", 11, "SIZE", NULL, 0));
	cr_assert(!smtp_ehlo_keyword("250-S", 5, "SIZE", NULL, 0));
	cr_assert(smtp_ehlo_keyword("250-AUTH=PLAIN", 14, "AUTH", param,
	    sizeof(param)));
	cr_assert(smtp_ehlo_keyword("250-STARTTLS", 12, "starttls", NULL, 0));
}
