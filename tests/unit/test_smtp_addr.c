/*
 * test_smtp_addr: MAIL FROM / RCPT TO paths and ESMTP parameters, the
 * xtext helpers, and hostile input (control bytes, overlong parts, bad
 * UTF-8, random garbage) that must fail cleanly.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/smtp_addr.h"

static struct smtp_path_args a;

static int
parse(const char *text, const char *keyword, int flags)
{
	return smtp_path_args_parse(text, strlen(text), keyword, flags, &a);
}

static int
parse_from(const char *text)
{
	return parse(text, "FROM", SMTP_ADDR_NULL_OK);
}

static int
parse_to(const char *text)
{
	return parse(text, "TO", 0);
}

static char *
repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

Test(smtp_addr, plain_sender_and_recipient)
{
	cr_assert_eq(parse_from("FROM:<alice@example.org>"), 0);
	cr_assert_str_eq(a.path.address, "alice@example.org");
	cr_assert_str_eq(a.path.local, "alice");
	cr_assert_str_eq(a.path.domain, "example.org");
	cr_assert_eq(a.path.null, 0);
	cr_assert_eq(a.params.count, 0);
	cr_assert_eq(a.error, SMTP_ADDR_OK);

	cr_assert_eq(parse_to("TO:<Bob.Smith+tag@Mail.Example.COM>"), 0);
	cr_assert_str_eq(a.path.address, "Bob.Smith+tag@Mail.Example.COM");
	cr_assert_str_eq(a.path.local, "Bob.Smith+tag");
}

Test(smtp_addr, keyword_is_case_insensitive_and_space_tolerated)
{
	cr_assert_eq(parse_from("from:<a@b.example>"), 0);
	cr_assert_eq(parse_to("To:<a@b.example>"), 0);
	cr_assert_eq(parse_from("FROM: <a@b.example>"), 0);
	cr_assert_str_eq(a.path.address, "a@b.example");
	cr_assert_eq(parse_from("FROM:\t <a@b.example>  "), 0);
	cr_assert_eq(parse_from("FROM :<a@b.example>"), -1);
	cr_assert_eq(a.error, SMTP_ADDR_ESYNTAX);
	cr_assert_eq(parse_from("FROM<a@b.example>"), -1);
	cr_assert_eq(a.error, SMTP_ADDR_ESYNTAX);
	cr_assert_eq(parse_to("FROM:<a@b.example>"), -1);
	cr_assert_eq(a.error, SMTP_ADDR_ESYNTAX);
	cr_assert_eq(parse_from(""), -1);
	cr_assert_eq(parse_from("FROM:"), -1);
	cr_assert_eq(a.error, SMTP_ADDR_EADDRESS);
}

Test(smtp_addr, angle_brackets_are_required)
{
	cr_assert_eq(parse_from("FROM:alice@example.org"), -1);
	cr_assert_eq(a.error, SMTP_ADDR_EADDRESS);
	cr_assert_str_eq(a.reason, "missing angle brackets");
	cr_assert_eq(parse_from("FROM:<alice@example.org"), -1);
	cr_assert_eq(a.error, SMTP_ADDR_EADDRESS);
	cr_assert_eq(parse_from("FROM:<alice@example.org>>"), -1);
	cr_assert_eq(parse_from("FROM:<<alice@example.org>>"), -1);
}

Test(smtp_addr, null_sender_only_where_allowed)
{
	cr_assert_eq(parse_from("FROM:<>"), 0);
	cr_assert_eq(a.path.null, 1);
	cr_assert_str_eq(a.path.address, "");
	cr_assert_eq(parse_from("FROM:<> SIZE=100"), 0);
	cr_assert_eq(a.path.null, 1);
	cr_assert_str_eq(smtp_params_get(&a.params, "size", NULL), "100");
	cr_assert_eq(parse_to("TO:<>"), -1);
	cr_assert_eq(a.error, SMTP_ADDR_ENULL);
	cr_assert_str_eq(smtp_addr_status(a.error, 0), "5.1.3");
	cr_assert_eq(parse_from("FROM:< >"), -1);
}

Test(smtp_addr, parameters_are_split_and_upper_cased)
{
	int present;

	cr_assert_eq(parse_from("FROM:<a@b.example> size=1000 BODY=8BITMIME "
	    "SMTPUTF8"), 0);
	cr_assert_eq(a.params.count, 3);
	cr_assert_str_eq(a.params.param[0].name, "SIZE");
	cr_assert_str_eq(a.params.param[0].value, "1000");
	cr_assert_str_eq(smtp_params_get(&a.params, "Body", NULL), "8BITMIME");
	cr_assert_null(smtp_params_get(&a.params, "SMTPUTF8", &present));
	cr_assert_eq(present, 1);
	cr_assert_null(smtp_params_get(&a.params, "ENVID", &present));
	cr_assert_eq(present, 0);
	cr_assert_eq(parse_to("TO:<a@b.example> NOTIFY=SUCCESS,FAILURE "
	    "ORCPT=rfc822;a+2Bx@b.example"), 0);
	cr_assert_str_eq(smtp_params_get(&a.params, "ORCPT", NULL),
	    "rfc822;a+2Bx@b.example");
	cr_assert_eq(parse_from("FROM:<a@b.example>\tSIZE=1\t"), 0);
	cr_assert_eq(a.params.count, 1);
}

Test(smtp_addr, bad_parameters)
{
	const char *bad[] = {
		"FROM:<a@b.example> SIZE=",
		"FROM:<a@b.example> =5",
		"FROM:<a@b.example> -X=1",
		"FROM:<a@b.example> SI_ZE=1",
		"FROM:<a@b.example> SIZE=1 size=2",
		"FROM:<a@b.example> SIZE=1\x80",
		"FROM:<a@b.example> BODY=8BIT\xc3\xa9",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(parse_from(bad[i]), -1, "accepted %s", bad[i]);
		cr_assert_eq(a.error, SMTP_ADDR_EPARAM, "%s: %d", bad[i],
		    a.error);
		cr_assert_str_eq(smtp_addr_status(a.error, 1), "5.5.4");
	}
	cr_assert_eq(parse_from("FROM:<a@b.example>SIZE=1"), -1);
	cr_assert_eq(a.error, SMTP_ADDR_EADDRESS);
	cr_assert_str_eq(a.reason, "garbage after address");
	cr_assert_eq(parse_from("FROM:<a@b.example> SIZE=1 SIZE=1"), -1);
	cr_assert_str_eq(a.reason, "duplicate parameter");
}

Test(smtp_addr, parameter_limits)
{
	char text[4096], *big;
	size_t i;

	strlcpy(text, "FROM:<a@b.example>", sizeof(text));
	for (i = 0; i < SMTP_PARAMS_MAX; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
		    " P%zu=%zu", i, i);
	cr_assert_eq(parse_from(text), 0);
	cr_assert_eq(a.params.count, SMTP_PARAMS_MAX);
	cr_assert_str_eq(smtp_params_get(&a.params, "P15", NULL), "15");
	strlcat(text, " ONE=MORE", sizeof(text));
	cr_assert_eq(parse_from(text), -1);
	cr_assert_str_eq(a.reason, "too many parameters");

	big = repeat('x', SMTP_PARAMS_TEXT_MAX);
	snprintf(text, sizeof(text), "FROM:<a@b.example> ENVID=%s", big);
	cr_assert_eq(parse_from(text), -1);
	cr_assert_eq(a.error, SMTP_ADDR_EPARAM);
	cr_assert_str_eq(a.reason, "parameter list too long");
	/* Just fits: "ENVID" NUL value NUL; one more byte does not. */
	big[sizeof(a.params.text) - 7 + 1] = '\0';
	snprintf(text, sizeof(text), "FROM:<a@b.example> ENVID=%s", big);
	cr_assert_eq(parse_from(text), -1);
	big[sizeof(a.params.text) - 7] = '\0';
	snprintf(text, sizeof(text), "FROM:<a@b.example> ENVID=%s", big);
	cr_assert_eq(parse_from(text), 0, "%s", a.reason);
	cr_assert_eq(strlen(smtp_params_get(&a.params, "ENVID", NULL)),
	    sizeof(a.params.text) - 7);
	free(big);
}

Test(smtp_addr, quoted_local_parts)
{
	cr_assert_eq(parse_to("TO:<\"john doe\"@example.org>"), 0);
	cr_assert_str_eq(a.path.local, "\"john doe\"");
	cr_assert_str_eq(a.path.address, "\"john doe\"@example.org");
	/* Quotes that are not needed are dropped. */
	cr_assert_eq(parse_to("TO:<\"john\"@example.org>"), 0);
	cr_assert_str_eq(a.path.address, "john@example.org");
	cr_assert_eq(parse_to("TO:<\"\\j\\o.x\"@example.org>"), 0);
	cr_assert_str_eq(a.path.address, "jo.x@example.org");
	/* Needed ones are kept, with minimal escaping. */
	cr_assert_eq(parse_to("TO:<\"a\\\"b\"@example.org>"), 0);
	cr_assert_str_eq(a.path.local, "\"a\\\"b\"");
	cr_assert_eq(parse_to("TO:<\"a..b\"@example.org>"), 0);
	cr_assert_str_eq(a.path.local, "\"a..b\"");
	cr_assert_eq(parse_to("TO:<\"a>b\"@example.org> NOTIFY=NEVER"), 0);
	cr_assert_str_eq(a.path.local, "\"a>b\"");
	cr_assert_eq(a.params.count, 1);
	cr_assert_eq(parse_to("TO:<\"\"@example.org>"), 0);
	cr_assert_str_eq(a.path.local, "\"\"");
	/* Broken quoting. */
	cr_assert_eq(parse_to("TO:<\"abc@example.org>"), -1);
	cr_assert_eq(parse_to("TO:<\"abc\\"), -1);
	cr_assert_eq(parse_to("TO:<\"a\"b@example.org>"), -1);
	cr_assert_eq(parse_to("TO:<a\"b\"@example.org>"), -1);
	cr_assert_eq(parse_to("TO:<\"a\tb\"@example.org>"), -1);
}

Test(smtp_addr, dot_strings)
{
	const char *bad[] = {
		"TO:<.a@example.org>", "TO:<a.@example.org>",
		"TO:<a..b@example.org>", "TO:<a b@example.org>",
		"TO:<a(b)@example.org>", "TO:<a,b@example.org>",
		"TO:<a@b@@example.org>", "TO:<a[b]@example.org>",
		"TO:<a.@b@example.org>", "TO:<a@b@[192.0.2.1]@x.org>",
		"TO:<@example.org>", "TO:<a@>", "TO:<a@ >",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(parse_to(bad[i]), -1, "accepted %s", bad[i]);
		cr_assert_neq(a.error, SMTP_ADDR_OK);
		cr_assert_not_null(a.reason);
		cr_assert_str_eq(a.path.address, "");
	}
	cr_assert_eq(parse_to("TO:<!#$%&'*+-/=?^_`{|}~@example.org>"), 0);
}

Test(smtp_addr, domains)
{
	const char *bad[] = {
		"TO:<a@-x.example>", "TO:<a@x-.example>", "TO:<a@x..example>",
		"TO:<a@.x.example>", "TO:<a@x.example..>", "TO:<a@x!y.example>",
		"TO:<a@x.example:25>",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(parse_to(bad[i]), -1, "accepted %s", bad[i]);
		cr_assert_eq(a.error, SMTP_ADDR_EADDRESS, "%s", bad[i]);
	}
	cr_assert_eq(parse_to("TO:<a@x-y.example>"), 0);
	cr_assert_eq(parse_to("TO:<a@localhost>"), 0);
	cr_assert_eq(parse_to("TO:<a@_srv.example>"), 0);
	cr_assert_eq(parse_to("TO:<a@123.example>"), 0);
}

/*
 * Postfix's readings of two non-RFC forms that relay probes use: the last
 * '@' separates the domain ("a@b" becomes a quoted local part), and one
 * trailing dot of the domain is accepted (smtpd removes it).
 */
Test(smtp_addr, multiple_at_and_trailing_dot)
{
	cr_assert_eq(parse_to("TO:<user@victim.example@us.example>"), 0);
	cr_assert_str_eq(a.path.local, "\"user@victim.example\"");
	cr_assert_str_eq(a.path.domain, "us.example");
	cr_assert_str_eq(a.path.address, "\"user@victim.example\"@us.example");
	cr_assert_eq(parse_to("TO:<a@b@c@us.example>"), 0);
	cr_assert_str_eq(a.path.local, "\"a@b@c\"");
	cr_assert_eq(parse_to("TO:<a@x.example.>"), 0);
	cr_assert_str_eq(a.path.domain, "x.example.");
	cr_assert_eq(parse_to("TO:<a@b@x.example.>"), 0);
	cr_assert_str_eq(a.path.domain, "x.example.");
	/* Still bounded: a local part over 64 octets once quoted. */
	char *big = repeat('a', 70), text[200];
	snprintf(text, sizeof(text), "TO:<%s@b@example.org>", big);
	free(big);
	cr_assert_eq(parse_to(text), -1);
	cr_assert_eq(a.error, SMTP_ADDR_ETOOLONG);
}

Test(smtp_addr, address_literals)
{
	cr_assert_eq(parse_to("TO:<a@[192.0.2.1]>"), 0);
	cr_assert_eq(a.path.domain_literal, 1);
	cr_assert_str_eq(a.path.domain, "[192.0.2.1]");
	cr_assert_eq(parse_to("TO:<a@[IPv6:2001:db8::1]>"), 0);
	cr_assert_str_eq(a.path.address, "a@[IPv6:2001:db8::1]");
	cr_assert_eq(parse_to("TO:<a@[ipv6:::1]>"), 0);
	cr_assert_eq(parse_to("TO:<a@[IPv6:::ffff:192.0.2.1]>"), 0);

	cr_assert_eq(parse_to("TO:<a@[300.1.1.1]>"), -1);
	cr_assert_eq(parse_to("TO:<a@[1.2.3]>"), -1);
	cr_assert_eq(parse_to("TO:<a@[foo]>"), -1);
	cr_assert_eq(parse_to("TO:<a@[x-tag:content]>"), -1);
	cr_assert_eq(parse_to("TO:<a@[IPv6:1.2.3.4]>"), -1);
	cr_assert_eq(parse_to("TO:<a@[2001:db8::1]>"), -1);
	cr_assert_eq(parse_to("TO:<a@[1.2.3.4>"), -1);
	cr_assert_eq(parse_to("TO:<a@[1.2.3.4]x>"), -1);
	cr_assert_eq(parse_to("TO:<a@[]>"), -1);
	cr_assert_eq(parse_to("TO:<a@[IPv6:1111:2222:3333:4444:5555:6666:"
	    "7777:8888:9999:aaaa:bbbb]>"), -1);
	cr_assert_eq(a.error, SMTP_ADDR_EADDRESS);
}

Test(smtp_addr, source_routes_are_ignored)
{
	cr_assert_eq(parse_to("TO:<@a.example,@b.example:user@c.example>"), 0);
	cr_assert_str_eq(a.path.address, "user@c.example");
	cr_assert_eq(parse_from("FROM:<@[192.0.2.1]:user@c.example>"), 0);
	cr_assert_str_eq(a.path.address, "user@c.example");
	cr_assert_eq(parse_to("TO:<@a.example user@c.example>"), -1);
	cr_assert_eq(parse_to("TO:<@:user@c.example>"), -1);
	cr_assert_eq(parse_to("TO:<@a.example,b.example:user@c.example>"), -1);
	cr_assert_eq(parse_to("TO:<@a.example:>"), -1);
	cr_assert_eq(parse_to("TO:<@a.example,@:u@c.example>"), -1);
	cr_assert_eq(parse_to("TO:<@a.example>"), -1);
}

Test(smtp_addr, domainless_only_when_allowed)
{
	cr_assert_eq(parse_to("TO:<postmaster>"), -1);
	cr_assert_str_eq(a.reason, "missing domain");
	cr_assert_eq(parse("TO:<Postmaster>", "TO", SMTP_ADDR_NODOMAIN_OK), 0);
	cr_assert_str_eq(a.path.address, "Postmaster");
	cr_assert_str_eq(a.path.domain, "");
}

Test(smtp_addr, local_part_limit)
{
	char text[512], *local;

	local = repeat('l', SMTP_LOCAL_MAX);
	snprintf(text, sizeof(text), "TO:<%s@example.org>", local);
	cr_assert_eq(parse_to(text), 0);
	cr_assert_eq(strlen(a.path.local), SMTP_LOCAL_MAX);
	free(local);
	local = repeat('l', SMTP_LOCAL_MAX + 1);
	snprintf(text, sizeof(text), "TO:<%s@example.org>", local);
	cr_assert_eq(parse_to(text), -1);
	cr_assert_eq(a.error, SMTP_ADDR_ETOOLONG);
	free(local);
	/* A quoted local part counts its quotes. */
	local = repeat('q', SMTP_LOCAL_MAX - 2);
	snprintf(text, sizeof(text), "TO:<\"%s\"@example.org>", local);
	cr_assert_eq(parse_to(text), 0);
	free(local);
	local = repeat('q', SMTP_LOCAL_MAX - 1);
	snprintf(text, sizeof(text), "TO:<\"%s\"@example.org>", local);
	cr_assert_eq(parse_to(text), -1);
	cr_assert_eq(a.error, SMTP_ADDR_ETOOLONG);
	free(local);
	/* A long quoted string that needs its quotes still fits. */
	local = repeat(' ', SMTP_LOCAL_MAX - 2);
	snprintf(text, sizeof(text), "TO:<\"%s\"@example.org>", local);
	cr_assert_eq(parse_to(text), 0);
	cr_assert_eq(strlen(a.path.local), SMTP_LOCAL_MAX);
	free(local);
}

Test(smtp_addr, utf8_quoted_local_part_cannot_overflow)
{
	char text[512];
	size_t n;

	/* 62 bytes of content would end in a 4-byte character. */
	char *fill = repeat('a', 62);

	n = (size_t)snprintf(text, sizeof(text), "TO:<\"%s\xf0\x9f\x98\x80\""
	    "@example.org>", fill);
	free(fill);
	cr_assert_eq(smtp_path_args_parse(text, n, "TO", SMTP_ADDR_UTF8, &a),
	    -1);
	cr_assert_eq(a.error, SMTP_ADDR_ETOOLONG);
}

Test(smtp_addr, domain_and_path_limits)
{
	char text[1024], domain[300], *label;
	size_t dlen;

	label = repeat('d', 63);
	snprintf(text, sizeof(text), "TO:<a@%s.example>", label);
	cr_assert_eq(parse_to(text), 0);
	free(label);
	label = repeat('d', 64);
	snprintf(text, sizeof(text), "TO:<a@%s.example>", label);
	cr_assert_eq(parse_to(text), -1);
	cr_assert_eq(a.error, SMTP_ADDR_ETOOLONG);
	free(label);

	/* Build a domain of labels "dd...d." so the path is exactly 256. */
	dlen = SMTP_PATH_MAX - 2 - 2;		/* "<", "a@", ">" */
	memset(domain, 'd', dlen);
	for (size_t i = 50; i < dlen; i += 51)
		domain[i] = '.';
	domain[dlen] = '\0';
	snprintf(text, sizeof(text), "TO:<a@%s>", domain);
	cr_assert_eq(parse_to(text), 0, "%s", a.reason);
	cr_assert_eq(strlen(a.path.address), SMTP_ADDRESS_MAX);
	snprintf(text, sizeof(text), "TO:<ab@%s>", domain);
	cr_assert_eq(parse_to(text), -1);
	cr_assert_eq(a.error, SMTP_ADDR_ETOOLONG);
	cr_assert_str_eq(a.reason, "path too long");
	/* A source route counts towards the path. */
	snprintf(text, sizeof(text), "TO:<@r.example:a@%s>", domain);
	cr_assert_eq(parse_to(text), -1);
	cr_assert_eq(a.error, SMTP_ADDR_ETOOLONG);

	/* A domain over 255 octets. */
	memset(domain, 'e', 280);
	for (size_t i = 40; i < 280; i += 41)
		domain[i] = '.';
	domain[280] = '\0';
	snprintf(text, sizeof(text), "TO:<a@%s>", domain);
	cr_assert_eq(parse_to(text), -1);
	cr_assert_eq(a.error, SMTP_ADDR_ETOOLONG);
	cr_assert_str_eq(smtp_addr_status(a.error, 0), "5.1.3");
	cr_assert_str_eq(smtp_addr_status(a.error, 1), "5.1.7");
}

Test(smtp_addr, control_characters_are_refused)
{
	const char *cases[] = {
		"TO:<a\rb@example.org>", "TO:<a\nb@example.org>",
		"TO:<a@exam\rple.org>", "TO:<a@example.org>\r",
		"TO:<\"a\rb\"@example.org>", "TO:<a\x7f@example.org>",
		"TO:<a\x01@example.org>", "TO:<a@[1.2.3.4\x1b]>",
		"TO:<a@example.org> NOTIFY=\x1bNEVER",
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(parse_to(cases[i]), -1, "accepted case %zu", i);
		cr_assert_eq(a.error, SMTP_ADDR_EADDRESS, "case %zu", i);
	}
	/* An embedded NUL, given with an explicit length. */
	cr_assert_eq(smtp_path_args_parse("TO:<a\0b@example.org>", 20, "TO", 0,
	    &a), -1);
	cr_assert_str_eq(a.reason, "control character in command");
	cr_assert_eq(smtp_path_args_parse("TO:<ab@example.org>\0", 20, "TO", 0,
	    &a), -1);
}

Test(smtp_addr, eight_bit_needs_utf8_and_must_be_well_formed)
{
	const char *ok = "TO:<j\xc3\xb6rg@ex\xc3\xa4mple.org>";
	const char *bad[] = {
		"TO:<j\xc3\x28rg@example.org>",		/* bad continuation */
		"TO:<j\xc0\xafrg@example.org>",		/* overlong */
		"TO:<j\xed\xa0\x80rg@example.org>",	/* surrogate */
		"TO:<j\xf4\x90\x80\x80rg@example.org>",	/* > U+10FFFF */
		"TO:<j\xe2\x82@example.org>",		/* truncated */
		"TO:<j\xffrg@example.org>",
	};
	size_t i;

	cr_assert_eq(parse_to(ok), -1);
	cr_assert_str_eq(a.reason, "8-bit character in address");
	cr_assert_eq(parse(ok, "TO", SMTP_ADDR_UTF8), 0);
	cr_assert_str_eq(a.path.domain, "ex\xc3\xa4mple.org");
	cr_assert_eq(parse("TO:<\"j\xc3\xb6 rg\"@example.org>", "TO",
	    SMTP_ADDR_UTF8), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(parse(bad[i], "TO", SMTP_ADDR_UTF8), -1,
		    "accepted case %zu", i);
}

Test(smtp_addr, needs_quote)
{
	cr_assert_eq(smtp_addr_needs_quote("a.b", 3, 0), 0);
	cr_assert_neq(smtp_addr_needs_quote("a b", 3, 0), 0);
	cr_assert_neq(smtp_addr_needs_quote("", 0, 0), 0);
	cr_assert_neq(smtp_addr_needs_quote("a.", 2, 0), 0);
}

Test(smtp_addr, xtext)
{
	char out[64];

	cr_assert_eq(smtp_xtext_decode("rfc822;a+2Bb@x", out, sizeof(out)), 12);
	cr_assert_str_eq(out, "rfc822;a+b@x");
	cr_assert_eq(smtp_xtext_decode("a+20b", out, sizeof(out)), 3);
	cr_assert_str_eq(out, "a b");
	cr_assert_eq(smtp_xtext_decode("", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "");
	cr_assert_eq(smtp_xtext_decode("a+0Db", out, sizeof(out)), -1);
	cr_assert_eq(smtp_xtext_decode("a+0ab", out, sizeof(out)), -1);
	cr_assert_eq(smtp_xtext_decode("a+00", out, sizeof(out)), -1);
	cr_assert_eq(smtp_xtext_decode("a+7F", out, sizeof(out)), -1);
	cr_assert_eq(smtp_xtext_decode("a+4", out, sizeof(out)), -1);
	cr_assert_eq(smtp_xtext_decode("a+", out, sizeof(out)), -1);
	cr_assert_eq(smtp_xtext_decode("a+ZZ", out, sizeof(out)), -1);
	cr_assert_eq(smtp_xtext_decode("a=b", out, sizeof(out)), -1);
	cr_assert_eq(smtp_xtext_decode("a b", out, sizeof(out)), -1);
	cr_assert_eq(smtp_xtext_decode("a\x80", out, sizeof(out)), -1);
	cr_assert_eq(smtp_xtext_decode("abcd", out, 4), -1);
	cr_assert_eq(smtp_xtext_decode("abc", out, 4), 3);
	cr_assert_eq(smtp_xtext_decode("abc", out, 0), -1);

	cr_assert_eq(smtp_xtext_encode("a+b=c d", out, sizeof(out)), 13);
	cr_assert_str_eq(out, "a+2Bb+3Dc+20d");
	cr_assert_eq(smtp_xtext_encode("a+b", out, 4), -1);
	cr_assert_eq(smtp_xtext_encode("a+b", out, 6), 5);
	cr_assert_eq(smtp_xtext_decode("a+2Bb+3Dc+20d", out, sizeof(out)), 7);
	cr_assert_str_eq(out, "a+b=c d");
}

/* Every prefix of a valid command must parse or fail, never crash. */
Test(smtp_addr, every_prefix_is_handled)
{
	const char *text = "FROM:<@r.example:\"x y\"@[IPv6:2001:db8::1]> "
	    "SIZE=10 BODY=8BITMIME";
	size_t len = strlen(text), i;
	char *copy;

	for (i = 0; i <= len; i++) {
		copy = malloc(i ? i : 1);
		memcpy(copy, text, i);
		(void)smtp_path_args_parse(copy, i, "FROM", 0, &a);
		free(copy);
	}
	cr_assert_eq(smtp_path_args_parse(text, len, "FROM", 0, &a), 0);
	cr_assert_str_eq(a.path.address, "\"x y\"@[IPv6:2001:db8::1]");
	cr_assert_eq(a.params.count, 2);
}

/*
 * Random garbage: never crashes (ASan watches), and whatever is accepted
 * is clean and re-parses to itself.
 */
Test(smtp_addr, random_input_round_trips)
{
	static const char alphabet[] = "<>@.:,\"\\[]aZ9-_ =+\r\n\t\x01\x80\xc3"
	    "IPv6";
	char text[300], again[300], address[SMTP_ADDRESS_MAX + 1];
	size_t len, i, n, accepted = 0;
	unsigned int seed = 12345;

	for (n = 0; n < 200000; n++) {
		len = (size_t)(rand_r(&seed) % 40);
		memcpy(text, "TO:<", 4);
		for (i = 4; i < len + 4; i++)
			text[i] = alphabet[rand_r(&seed) %
			    (sizeof(alphabet) - 1)];
		text[i++] = rand_r(&seed) % 4 ? '>' : 'x';
		if (smtp_path_args_parse(text, i, "TO", SMTP_ADDR_NODOMAIN_OK |
		    SMTP_ADDR_UTF8, &a) == -1) {
			cr_assert_not_null(a.reason);
			continue;
		}
		accepted++;
		strlcpy(address, a.path.address, sizeof(address));
		for (i = 0; address[i]; i++)
			cr_assert((unsigned char)address[i] >= 0x20 &&
			    address[i] != 0x7f, "control char in %s", address);
		len = (size_t)snprintf(again, sizeof(again), "TO:<%s>",
		    address);
		cr_assert_eq(smtp_path_args_parse(again, len, "TO",
		    SMTP_ADDR_NODOMAIN_OK | SMTP_ADDR_UTF8, &a), 0,
		    "%s does not re-parse: %s", again, a.reason);
		cr_assert_str_eq(a.path.address, address);
	}
	cr_assert_gt(accepted, 100);
}
