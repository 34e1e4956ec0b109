/*
 * test_mime: the MIME parser and the IMAP views of a message: BODY and
 * BODYSTRUCTURE (expected strings from Dovecot's own test suite and the
 * RFC 3501 grammar), ENVELOPE, BODY[section] byte for byte, RFC 2047/2231
 * decoding, searching, and hostile input crossing every limit.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "proto/mime.h"

/* A message as imapd hands it over: LF line ends turned into CRLF. */
struct msg {
	char		*data;
	size_t		 len;
	struct mime_part *root;
	char		 err[128];
};

static void
msg_open_lim(struct msg *m, const char *text, const struct mime_limits *lim)
{
	size_t i, n = strlen(text);

	m->data = malloc(2 * n + 1);
	cr_assert_not_null(m->data);
	m->len = 0;
	for (i = 0; i < n; i++) {
		if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r'))
			m->data[m->len++] = '\r';
		m->data[m->len++] = text[i];
	}
	m->data[m->len] = '\0';
	m->root = mime_parse(m->data, m->len, lim, m->err, sizeof(m->err));
	cr_assert_not_null(m->root);
}

static void
msg_open(struct msg *m, const char *text)
{
	msg_open_lim(m, text, NULL);
	cr_assert_str_eq(m->err, "", "unexpected limit: %s", m->err);
}

static void
msg_close(struct msg *m)
{
	mime_free(m->root);
	free(m->data);
}

static void
check_structure(const char *text, const char *body, const char *bs)
{
	struct msg m;
	struct buf b;

	msg_open(&m, text);
	buf_init(&b);
	mime_bodystructure(&b, m.data, m.root, 0);
	cr_assert_str_eq(b.data, body);
	buf_reset(&b);
	mime_bodystructure(&b, m.data, m.root, 1);
	cr_assert_str_eq(b.data, bs);
	buf_free(&b);
	msg_close(&m);
}

static char *
envelope_of(const char *text)
{
	struct msg m;
	struct buf b;

	msg_open(&m, text);
	buf_init(&b);
	mime_envelope(&b, m.data, m.root);
	msg_close(&m);
	return b.data;
}

static char *
decode(const char *v)
{
	struct buf b;

	buf_init(&b);
	mime_header_decode(&b, v, strlen(v));
	return b.data;
}

/* BODY[section] as a string; "<NONE>"/"<BAD>" for the other results. */
static char *
section(struct msg *m, const char *sec)
{
	struct buf built;
	const char *data;
	size_t len;
	char *s;
	int rc;

	buf_init(&built);
	rc = mime_section(m->data, m->len, m->root, sec, strlen(sec), &built,
	    &data, &len);
	if (rc == MIME_SECTION_NONE)
		s = strdup("<NONE>");
	else if (rc == MIME_SECTION_BAD)
		s = strdup("<BAD>");
	else {
		cr_assert(data + len >= data);
		s = strndup(data, len);
	}
	buf_free(&built);
	return s;
}

static void
check_section(struct msg *m, const char *sec, const char *expect)
{
	char *got = section(m, sec);

	cr_assert_str_eq(got, expect, "BODY[%s]", sec);
	free(got);
}

/* Parentheses balance outside strings: a client could parse the result. */
static int
balanced(const char *s)
{
	int depth = 0, quoted = 0;

	for (; *s != '\0'; s++) {
		if (!quoted && *s == '{') {
			/* a literal: {n}CRLF and n bytes */
			unsigned long n = strtoul(s + 1, (char **)&s, 10);
			if (s[0] != '}' || s[1] != '\r' || s[2] != '\n' ||
			    strlen(s + 3) < n)
				return 0;
			s += 2 + n;
			continue;
		}
		if (quoted) {
			if (*s == '\\')
				s++;
			else if (*s == '"')
				quoted = 0;
		} else if (*s == '"')
			quoted = 1;
		else if (*s == '(')
			depth++;
		else if (*s == ')' && --depth < 0)
			return 0;
	}
	return depth == 0 && !quoted;
}

static size_t
count_parts(const struct mime_part *p)
{
	size_t n = 0;

	for (; p != NULL; p = p->next)
		n += 1 + count_parts(p->children) + count_parts(p->message);
	return n;
}

/*
 * Dovecot's src/lib-imap/test-imap-bodystructure.c cases, same messages,
 * same expected strings (Dovecot counts CRLF sizes; we get CRLF input).
 */

Test(mime_dovecot, text_plain)
{
	check_structure(
	    "From: user@domain.org\n"
	    "Date: Sat, 24 Mar 2017 23:00:00 +0200\n"
	    "Mime-Version: 1.0\n"
	    "Content-Type: text/plain; charset=us-ascii\n"
	    "\n"
	    "body\n",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1"
	    " NIL NIL NIL NIL)");
}

Test(mime_dovecot, text_plain_8bit)
{
	check_structure(
	    "From: user@domain.org\n"
	    "Date: Sat, 24 Mar 2017 23:00:00 +0200\n"
	    "Mime-Version: 1.0\n"
	    "Content-Type: text/plain; charset=utf-8\n"
	    "Content-Transfer-Encoding: 8bit\n"
	    "\n"
	    "body\n"
	    "\n",
	    "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 8 2)",
	    "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 8 2"
	    " NIL NIL NIL NIL)");
}

Test(mime_dovecot, folded_boundary)
{
	check_structure(
	    "From: user@domain.org\n"
	    "Date: Sat, 24 Mar 2007 23:00:00 +0200\n"
	    "Mime-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=\"foo\n"
	    " bar\"\n"
	    "\n"
	    "--foo bar\n"
	    "Content-Type: text/x-myown; charset=us-ascii\n"
	    "\n"
	    "hello\n"
	    "\n"
	    "--foo bar--\n"
	    "\n",
	    "((\"text\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1)"
	    " \"mixed\")",
	    "((\"text\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1"
	    " NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"foo bar\") NIL NIL NIL)");
}

Test(mime_dovecot, message_rfc822)
{
	check_structure(
	    "From: user@domain.org\n"
	    "Date: Sat, 24 Mar 2017 23:00:00 +0200\n"
	    "Mime-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=\"foo bar\"\n"
	    "\n"
	    "--foo bar\n"
	    "Content-Type: text/plain; charset=us-ascii\n"
	    "Content-ID: <A.frop.example.com>\n"
	    "Content-Description: Container message\n"
	    "\n"
	    "See attached...\n"
	    "\n"
	    "--foo bar\n"
	    "Content-Type: message/rfc822\n"
	    "Content-ID: <B.frop.example.com>\n"
	    "Content-Description: Forwarded\n"
	    "\n"
	    "From: user@domain.org\n"
	    "Date: Sat, 24 Mar 2017 23:00:00 +0200\n"
	    "Mime-Version: 1.0\n"
	    "Content-Type: text/plain; charset=us-ascii\n"
	    "\n"
	    "body\n"
	    "\n"
	    "--foo bar--\n",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") \"<A.frop.example.com>\""
	    " \"Container message\" \"7bit\" 17 1)(\"message\" \"rfc822\" NIL"
	    " \"<B.frop.example.com>\" \"Forwarded\" \"7bit\" 133"
	    " (\"Sat, 24 Mar 2017 23:00:00 +0200\" NIL"
	    " ((NIL NIL \"user\" \"domain.org\")) ((NIL NIL \"user\" \"domain.org\"))"
	    " ((NIL NIL \"user\" \"domain.org\")) NIL NIL NIL NIL NIL)"
	    " (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1)"
	    " 6) \"mixed\")",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") \"<A.frop.example.com>\""
	    " \"Container message\" \"7bit\" 17 1 NIL NIL NIL NIL)(\"message\""
	    " \"rfc822\" NIL \"<B.frop.example.com>\" \"Forwarded\" \"7bit\" 133"
	    " (\"Sat, 24 Mar 2017 23:00:00 +0200\" NIL"
	    " ((NIL NIL \"user\" \"domain.org\")) ((NIL NIL \"user\" \"domain.org\"))"
	    " ((NIL NIL \"user\" \"domain.org\")) NIL NIL NIL NIL NIL)"
	    " (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1"
	    " NIL NIL NIL NIL) 6 NIL NIL NIL NIL) \"mixed\" (\"boundary\""
	    " \"foo bar\") NIL NIL NIL)");
}

static const char dovecot_full[] =
	"From: user@domain.org\n"
	"Date: Sat, 24 Mar 2007 23:00:00 +0200\n"
	"Mime-Version: 1.0\n"
	"Content-Type: multipart/mixed; boundary=\"foo\n"
	" bar\"\n"
	"\n"
	"Root MIME prologue\n"
	"\n"
	"--foo bar\n"
	"Content-Type: text/x-myown; charset=us-ascii; foo=\"quoted\\\"string\"\n"
	"Content-ID: <foo@example.com>\n"
	"Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n"
	"Content-Disposition: inline; foo=bar\n"
	"Content-Description: hellodescription\n"
	"Content-Language: en, fi, se\n"
	"Content-Location: http://example.com/test.txt\n"
	"\n"
	"hello\n"
	"\n"
	"--foo bar\n"
	"Content-Type: message/rfc822\n"
	"\n"
	"From: sub@domain.org\n"
	"To: sub-to1@domain.org, sub-to2@domain.org\n"
	"Date: Sun, 12 Aug 2012 12:34:56 +0300\n"
	"Subject: submsg\n"
	"Content-Type: multipart/alternative; boundary=\"sub1\"\n"
	"\n"
	"Sub MIME prologue\n"
	"--sub1\n"
	"Content-Type: text/html\n"
	"Content-Transfer-Encoding: 8bit\n"
	"\n"
	"<p>Hello world</p>\n"
	"\n"
	"--sub1\n"
	"Content-Type: text/plain\n"
	"Content-Transfer-Encoding: ?invalid\n"
	"\n"
	"Hello another world\n"
	"\n"
	"--sub1--\n"
	"Sub MIME epilogue\n"
	"\n"
	"--foo bar--\n"
	"Root MIME epilogue\n";

Test(mime_dovecot, full_extension_data)
{
	check_structure(dovecot_full,
	    "((\"text\" \"x-myown\" (\"charset\" \"us-ascii\" \"foo\""
	    " \"quoted\\\"string\") \"<foo@example.com>\" \"hellodescription\""
	    " \"7bit\" 7 1)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 412"
	    " (\"Sun, 12 Aug 2012 12:34:56 +0300\" \"submsg\""
	    " ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\"))"
	    " ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub-to1\""
	    " \"domain.org\")(NIL NIL \"sub-to2\" \"domain.org\")) NIL NIL NIL NIL)"
	    " ((\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"8bit\" 20 1)"
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 21 1)"
	    " \"alternative\") 21) \"mixed\")",
	    "((\"text\" \"x-myown\" (\"charset\" \"us-ascii\" \"foo\""
	    " \"quoted\\\"string\") \"<foo@example.com>\" \"hellodescription\""
	    " \"7bit\" 7 1 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"inline\" (\"foo\""
	    " \"bar\")) (\"en\" \"fi\" \"se\") \"http://example.com/test.txt\")"
	    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 412"
	    " (\"Sun, 12 Aug 2012 12:34:56 +0300\" \"submsg\""
	    " ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\"))"
	    " ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub-to1\""
	    " \"domain.org\")(NIL NIL \"sub-to2\" \"domain.org\")) NIL NIL NIL NIL)"
	    " ((\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"8bit\" 20 1"
	    " NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL"
	    " NIL \"7bit\" 21 1 NIL NIL NIL NIL) \"alternative\" (\"boundary\""
	    " \"sub1\") NIL NIL NIL) 21 NIL NIL NIL NIL) \"mixed\" (\"boundary\""
	    " \"foo bar\") NIL NIL NIL)");
}

Test(mime_dovecot, multipart_without_parts)
{
	check_structure(
	    "Content-Type: multipart/mixed; boundary=\"foo\"\n"
	    "\n",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)"
	    " \"mixed\")",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0"
	    " NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"foo\") NIL NIL NIL)");
}

Test(mime_dovecot, flowed_and_attachment)
{
	check_structure(
	    "Mime-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=\"foo bar\"\n"
	    "\n"
	    "--foo bar\n"
	    "Content-Type: text/plain; charset=us-ascii; format=\"flowed\";\n"
	    "  delsp=\"no\"\n"
	    "Content-Language: la\n"
	    "\n"
	    "Lorem ipsum\n"
	    "\n"
	    "--foo bar\n"
	    "Content-Type: image/png\n"
	    "Content-Transfer-Encoding: base64\n"
	    "Content-Disposition: attachment; filename=\"pigeon.png\"\n"
	    "\n"
	    "iVBORw0KGgo=\n"
	    "--foo bar--\n",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\" \"format\" \"flowed\""
	    " \"delsp\" \"no\") NIL NIL \"7bit\" 13 1)(\"image\" \"png\" NIL NIL NIL"
	    " \"base64\" 12) \"mixed\")",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\" \"format\" \"flowed\""
	    " \"delsp\" \"no\") NIL NIL \"7bit\" 13 1 NIL NIL (\"la\") NIL)"
	    "(\"image\" \"png\" NIL NIL NIL \"base64\" 12 NIL (\"attachment\""
	    " (\"filename\" \"pigeon.png\")) NIL NIL) \"mixed\" (\"boundary\""
	    " \"foo bar\") NIL NIL NIL)");
}

/*
 * The tree itself.
 */

Test(mime_tree, spans_and_lines)
{
	struct msg m;
	const struct mime_part *p1, *p2, *inner;

	msg_open(&m, dovecot_full);
	cr_assert(m.root->flags & MIME_PART_MULTIPART);
	cr_assert_eq(m.root->nchildren, 2);
	cr_assert_eq(m.root->header_offset, 0);
	cr_assert_eq(m.root->body_offset + m.root->body_len, m.len);
	p1 = m.root->children;
	p2 = p1->next;
	cr_assert_eq(p1->body_len, 7);
	cr_assert_eq(memcmp(m.data + p1->body_offset, "hello\r\n", 7), 0);
	cr_assert(p2->flags & MIME_PART_MESSAGE);
	cr_assert_not_null(p2->message);
	inner = p2->message;
	cr_assert_eq(inner->header_offset, p2->body_offset);
	cr_assert_eq(inner->header_len + inner->body_len, p2->body_len);
	cr_assert_eq(inner->nchildren, 2);
	cr_assert_str_eq(inner->boundary, "sub1");
	cr_assert_str_eq(inner->children->next->type, "text");
	cr_assert_null(inner->children->next->encoding);
	cr_assert_str_eq(inner->children->encoding, "8bit");
	cr_assert_eq(p2->body_lines, 21);
	msg_close(&m);
}

Test(mime_tree, lf_input_is_parsed_in_its_own_bytes)
{
	static const char text[] = "Content-Type: multipart/mixed; boundary=b\n"
	    "\n--b\n\nab\n--b--\n";
	struct mime_part *root;
	char err[64];

	root = mime_parse(text, strlen(text), NULL, err, sizeof(err));
	cr_assert_not_null(root);
	cr_assert_eq(root->nchildren, 1);
	cr_assert_eq(root->children->body_len, 2);
	cr_assert_eq(memcmp(text + root->children->body_offset, "ab", 2), 0);
	mime_free(root);
}

/* LF input parses into the same tree; CRLF sizes are LF sizes + lines. */
static void
compare_trees(const struct mime_part *lf, const struct mime_part *crlf)
{
	for (; lf != NULL && crlf != NULL; lf = lf->next, crlf = crlf->next) {
		cr_assert_eq(lf->flags, crlf->flags);
		cr_assert_str_eq(lf->type, crlf->type);
		cr_assert_eq(lf->nchildren, crlf->nchildren);
		cr_assert_eq(lf->body_lines, crlf->body_lines);
		if (lf->flags & (MIME_PART_TEXT | MIME_PART_MESSAGE))
			cr_assert_eq(crlf->body_len, lf->body_len +
			    lf->body_lines);
		compare_trees(lf->children, crlf->children);
		compare_trees(lf->message, crlf->message);
	}
	cr_assert(lf == NULL && crlf == NULL);
}

Test(mime_tree, lf_and_crlf_agree)
{
	struct mime_part *lf;
	struct msg m;

	msg_open(&m, dovecot_full);
	lf = mime_parse(dovecot_full, strlen(dovecot_full), NULL, NULL, 0);
	cr_assert_not_null(lf);
	compare_trees(lf, m.root);
	mime_free(lf);
	msg_close(&m);
}

Test(mime_tree, default_types)
{
	struct msg m;

	/* no MIME-Version and no Content-Type: Content-* are ignored */
	msg_open(&m, "Content-Transfer-Encoding: base64\nSubject: x\n\nhi\n");
	cr_assert_str_eq(m.root->type, "text");
	cr_assert_str_eq(m.root->subtype, "plain");
	cr_assert_null(m.root->encoding);
	cr_assert(m.root->flags & MIME_PART_DEFAULT_TYPE);
	msg_close(&m);
	/* multipart/digest parts default to message/rfc822 */
	msg_open(&m, "Content-Type: multipart/digest; boundary=d\n\n"
	    "--d\n\nSubject: one\n\nbody\n--d\nContent-Type: text/plain\n\nx\n"
	    "--d--\n");
	cr_assert_eq(m.root->nchildren, 2);
	cr_assert(m.root->children->flags & MIME_PART_MESSAGE);
	cr_assert(m.root->children->next->flags & MIME_PART_TEXT);
	msg_close(&m);
	/* a broken Content-Type is text/plain, and still makes it MIME */
	check_structure("Content-Type: text\nContent-ID: <i>\n\nx\n",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") \"<i>\" NIL \"7bit\""
	    " 3 1)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") \"<i>\" NIL \"7bit\""
	    " 3 1 NIL NIL NIL NIL)");
}

Test(mime_tree, charset_added_after_other_params)
{
	check_structure("Content-Type: TEXT/Html; format=flowed\n\n<p>\n",
	    "(\"TEXT\" \"Html\" (\"format\" \"flowed\" \"charset\" \"us-ascii\")"
	    " NIL NIL \"7bit\" 5 1)",
	    "(\"TEXT\" \"Html\" (\"format\" \"flowed\" \"charset\" \"us-ascii\")"
	    " NIL NIL \"7bit\" 5 1 NIL NIL NIL NIL)");
}

Test(mime_tree, nested_multiparts)
{
	static const char text[] =
	    "Content-Type: multipart/mixed; boundary=outer\n"
	    "\n"
	    "--outer\n"
	    "Content-Type: multipart/alternative; boundary=inner\n"
	    "\n"
	    "--inner\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "plain\n"
	    "--inner\n"
	    "Content-Type: text/html; charset=utf-8\n"
	    "\n"
	    "<b>html</b>\n"
	    "--inner--\n"
	    "--outer\n"
	    "Content-Type: application/pdf; name=a.pdf\n"
	    "Content-Transfer-Encoding: base64\n"
	    "\n"
	    "JVBERi0=\n"
	    "--outer--\n";

	check_structure(text,
	    "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0)"
	    "(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 11 0)"
	    " \"alternative\")(\"application\" \"pdf\" (\"name\" \"a.pdf\") NIL NIL"
	    " \"base64\" 8) \"mixed\")",
	    "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0"
	    " NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL"
	    " \"7bit\" 11 0 NIL NIL NIL NIL) \"alternative\" (\"boundary\""
	    " \"inner\") NIL NIL NIL)(\"application\" \"pdf\" (\"name\" \"a.pdf\")"
	    " NIL NIL \"base64\" 8 NIL NIL NIL NIL) \"mixed\" (\"boundary\""
	    " \"outer\") NIL NIL NIL)");
}

Test(mime_tree, malformed_boundaries)
{
	struct msg m;

	/* the boundary never appears: no parts, the body is all preamble */
	msg_open(&m, "Content-Type: multipart/mixed; boundary=zz\n\nno parts\n");
	cr_assert_eq(m.root->nchildren, 0);
	cr_assert_eq(m.root->body_len, 10);
	check_section(&m, "1", "<NONE>");
	msg_close(&m);
	/* no boundary parameter at all */
	msg_open(&m, "Content-Type: multipart/mixed\n\n--x\n\nbody\n");
	cr_assert_eq(m.root->nchildren, 0);
	cr_assert_null(m.root->boundary);
	msg_close(&m);
	/* no closing boundary: the last part runs to the end */
	msg_open(&m, "Content-Type: multipart/mixed; boundary=b\n\n"
	    "--b\n\none\n--b\n\ntwo\nmore\n");
	cr_assert_eq(m.root->nchildren, 2);
	check_section(&m, "1", "one");
	check_section(&m, "2", "two\r\nmore\r\n");
	msg_close(&m);
	/* a boundary line only has to begin with --boundary */
	msg_open(&m, "Content-Type: multipart/mixed; boundary=b\n\n"
	    "--b trailing junk\n\none\n--bb\n\ntwo\n--b--junk\nepilogue\n");
	cr_assert_eq(m.root->nchildren, 2);
	check_section(&m, "1", "one");
	check_section(&m, "2", "two");
	msg_close(&m);
	/* a header cut short by the next boundary line */
	msg_open(&m, "Content-Type: multipart/mixed; boundary=b\n\n"
	    "--b\nContent-Type: text/html\n--b\n\nok\n--b--\n");
	cr_assert_eq(m.root->nchildren, 2);
	cr_assert_str_eq(m.root->children->subtype, "html");
	cr_assert_eq(m.root->children->body_len, 0);
	check_section(&m, "1.MIME", "Content-Type: text/html");
	check_section(&m, "2", "ok");
	msg_close(&m);
	/* the outer boundary closes an inner multipart left open */
	msg_open(&m, "Content-Type: multipart/mixed; boundary=a\n\n"
	    "--a\nContent-Type: multipart/mixed; boundary=ab\n\n"
	    "--ab\n\ninner\n--a\n\nsecond\n--a--\n");
	cr_assert_eq(m.root->nchildren, 2);
	cr_assert_eq(m.root->children->nchildren, 1);
	check_section(&m, "1.1", "inner");
	check_section(&m, "2", "second");
	msg_close(&m);
	/* the same boundary nested: the innermost owns it */
	msg_open(&m, "Content-Type: multipart/mixed; boundary=s\n\n"
	    "--s\nContent-Type: multipart/mixed; boundary=s\n\n"
	    "--s\n\nx\n--s--\n--s\n\ny\n--s--\n");
	cr_assert_eq(m.root->nchildren, 2);
	check_section(&m, "1.1", "x");
	check_section(&m, "2", "y");
	msg_close(&m);
	/* a boundary right after a blank line keeps that line end */
	msg_open(&m, "Content-Type: multipart/mixed; boundary=a\n\n"
	    "--a\nContent-Type: multipart/mixed; boundary=b\n\n"
	    "--b\nX: y\n\n--a--\n");
	check_section(&m, "1", "--b\r\nX: y\r\n\r\n");
	check_section(&m, "1.1.MIME", "X: y\r\n\r\n");
	check_section(&m, "1.1", "");
	msg_close(&m);
	/* "--b" as the very last bytes starts no part */
	msg_open(&m, "Content-Type: multipart/mixed; boundary=b\n\n--b\n\na\n--b");
	cr_assert_eq(m.root->nchildren, 1);
	msg_close(&m);
}

Test(mime_tree, header_only_and_empty)
{
	struct msg m;
	struct mime_part *root;
	struct buf b;
	char err[64];

	msg_open(&m, "Subject: no body");
	cr_assert_eq(m.root->header_len, m.len);
	cr_assert_eq(m.root->body_len, 0);
	check_section(&m, "TEXT", "");
	msg_close(&m);
	root = mime_parse("", 0, NULL, err, sizeof(err));
	cr_assert_not_null(root);
	buf_init(&b);
	mime_bodystructure(&b, "", root, 1);
	cr_assert_str_eq(b.data, "(\"text\" \"plain\" (\"charset\" \"us-ascii\")"
	    " NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)");
	buf_reset(&b);
	mime_envelope(&b, "", root);
	cr_assert_str_eq(b.data, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	buf_free(&b);
	mime_free(root);
}

/*
 * RFC 2231 parameters.
 */

Test(mime_params, rfc2231_continuations_and_charset)
{
	struct msg m;
	const struct mime_part *p;

	msg_open(&m, "Mime-Version: 1.0\n"
	    "Content-Type: application/x-stuff;\n"
	    " title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A;\n"
	    " name*1=\"def\"; name*0=\"abc\"; plain=x\n"
	    "Content-Disposition: attachment;\n"
	    " filename*0*=utf-8''%E2%82%AC; filename*1=\" rates%.txt\"\n"
	    "\n"
	    "data\n");
	p = m.root;
	cr_assert_eq(p->nparams, 3);
	cr_assert_str_eq(p->params[0].name, "plain");
	cr_assert_str_eq(p->params[1].name, "name");
	cr_assert_str_eq(p->params[1].value, "abcdef");
	cr_assert_str_eq(p->params[2].name, "title*");
	cr_assert_str_eq(p->params[2].value,
	    "us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A");
	cr_assert_str_eq(p->params[2].attr, "title");
	cr_assert_str_eq(p->params[2].text, "This is ***fun***");
	cr_assert_eq(p->ndisposition_params, 1);
	cr_assert_str_eq(p->disposition_params[0].name, "filename*");
	cr_assert_str_eq(p->disposition_params[0].value,
	    "utf-8''%E2%82%AC rates%25.txt");
	cr_assert_str_eq(p->disposition_params[0].text, "\xe2\x82\xac rates%.txt");
	msg_close(&m);
	check_structure("Content-Type: text/plain; name*0=a; name*2=c\n\nx\n",
	    "(\"text\" \"plain\" (\"name*0\" \"a\" \"name*2\" \"c\" \"charset\""
	    " \"us-ascii\") NIL NIL \"7bit\" 3 1)",
	    "(\"text\" \"plain\" (\"name*0\" \"a\" \"name*2\" \"c\" \"charset\""
	    " \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)");
}

Test(mime_params, rfc2047_in_filename_and_broken_params)
{
	struct msg m;
	const struct mime_part *p;

	msg_open(&m, "Content-Type: application/octet-stream;;junk; a=\"unterminated\n"
	    "Content-Disposition: attachment; filename==?UTF-8?B?w6kudHh0?=\n"
	    "\n");
	p = m.root;
	cr_assert_str_eq(p->type, "application");
	cr_assert_eq(p->nparams, 1);
	cr_assert_str_eq(p->params[0].value, "unterminated");
	cr_assert_str_eq(p->disposition_params[0].value, "=?UTF-8?B?w6kudHh0?=");
	cr_assert_str_eq(p->disposition_params[0].text, "\xc3\xa9.txt");
	msg_close(&m);
}

/*
 * ENVELOPE.
 */

/* Dovecot's test-imap-envelope.c cases (taken from imaptest). */
Test(mime_envelope, dovecot_imaptest_cases)
{
	static const struct { const char *msg, *env; } t[] = {
	{ "Message-ID: <msg@id>\n"
	  "In-Reply-To: <reply@to.id>\n"
	  "Date: Thu, 15 Feb 2007 01:02:03 +0200\n"
	  "Subject: subject header\n"
	  "From: From Real <fromuser@fromdomain.org>\n"
	  "To: To Real <touser@todomain.org>\n"
	  "Cc: Cc Real <ccuser@ccdomain.org>\n"
	  "Bcc: Bcc Real <bccuser@bccdomain.org>\n"
	  "Sender: Sender Real <senderuser@senderdomain.org>\n"
	  "Reply-To: ReplyTo Real <replytouser@replytodomain.org>\n"
	  "\n"
	  "body\n",
	  "(\"Thu, 15 Feb 2007 01:02:03 +0200\" \"subject header\""
	  " ((\"From Real\" NIL \"fromuser\" \"fromdomain.org\"))"
	  " ((\"Sender Real\" NIL \"senderuser\" \"senderdomain.org\"))"
	  " ((\"ReplyTo Real\" NIL \"replytouser\" \"replytodomain.org\"))"
	  " ((\"To Real\" NIL \"touser\" \"todomain.org\"))"
	  " ((\"Cc Real\" NIL \"ccuser\" \"ccdomain.org\"))"
	  " ((\"Bcc Real\" NIL \"bccuser\" \"bccdomain.org\"))"
	  " \"<reply@to.id>\" \"<msg@id>\")" },
	{ "Date: Thu, 15 Feb 2007 01:02:03 +0200\n"
	  "From: user@domain\n"
	  "\n"
	  "body\n",
	  "(\"Thu, 15 Feb 2007 01:02:03 +0200\" NIL"
	  " ((NIL NIL \"user\" \"domain\")) ((NIL NIL \"user\" \"domain\"))"
	  " ((NIL NIL \"user\" \"domain\")) NIL NIL NIL NIL NIL)" },
	{ "Date: Thu, 15 Feb 2007 01:02:03 +0200\n"
	  "From: user@domain (Real Name)\n"
	  "To: group: g1@d1.org, g2@d2.org;, group2: g3@d3.org;\n"
	  "Cc: group:;, group2: (foo) ;\n"
	  "\n"
	  "body\n",
	  "(\"Thu, 15 Feb 2007 01:02:03 +0200\" NIL"
	  " ((\"Real Name\" NIL \"user\" \"domain\"))"
	  " ((\"Real Name\" NIL \"user\" \"domain\"))"
	  " ((\"Real Name\" NIL \"user\" \"domain\"))"
	  " ((NIL NIL \"group\" NIL)(NIL NIL \"g1\" \"d1.org\")"
	  "(NIL NIL \"g2\" \"d2.org\")(NIL NIL NIL NIL)"
	  "(NIL NIL \"group2\" NIL)(NIL NIL \"g3\" \"d3.org\")"
	  "(NIL NIL NIL NIL))"
	  " ((NIL NIL \"group\" NIL)(NIL NIL NIL NIL)"
	  "(NIL NIL \"group2\" NIL)(NIL NIL NIL NIL)) NIL NIL NIL)" },
	{ "Date: Thu, 15 Feb 2007 01:02:03 +0200\n"
	  "From: user@domain (Real Name)\n"
	  "Sender: \n"
	  "Reply-To: \n"
	  "\n"
	  "body\n",
	  "(\"Thu, 15 Feb 2007 01:02:03 +0200\" NIL"
	  " ((\"Real Name\" NIL \"user\" \"domain\"))"
	  " ((\"Real Name\" NIL \"user\" \"domain\"))"
	  " ((\"Real Name\" NIL \"user\" \"domain\")) NIL NIL NIL NIL NIL)" },
	{ "Date: Thu, 15 Feb 2007 01:02:03 +0200\n"
	  "From: <@route:user@domain>\n"
	  "\n"
	  "body\n",
	  "(\"Thu, 15 Feb 2007 01:02:03 +0200\" NIL"
	  " ((NIL \"@route\" \"user\" \"domain\"))"
	  " ((NIL \"@route\" \"user\" \"domain\"))"
	  " ((NIL \"@route\" \"user\" \"domain\")) NIL NIL NIL NIL NIL)" },
	};
	size_t i;
	char *e;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		e = envelope_of(t[i].msg);
		cr_assert_str_eq(e, t[i].env, "case %zu", i);
		free(e);
	}
}

Test(mime_envelope, groups_routes_comments_and_defaults)
{
	char *e;

	e = envelope_of("Date: Mon, 7 Feb 1994 21:52:25 -0800\n"
	    "Subject: Hello \"World\"\n"
	    "From: Fred Foobar <foobar@Blurdybloop.example>\n"
	    "To: undisclosed-recipients:;\n"
	    "Cc: Team: a@x.org, \"B, b\" <b@y.org>;, c@z.org (Cee Zed)\n"
	    "Bcc: <@r1.example,@r2.example:joe@c.example>, nodomain\n"
	    "In-Reply-To: <1@x>\n"
	    "Message-ID: <B27397-0100000@Blurdybloop.example>\n"
	    "\nbody\n");
	cr_assert_str_eq(e, "(\"Mon, 7 Feb 1994 21:52:25 -0800\""
	    " {13}\r\nHello \"World\""
	    " ((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\"))"
	    " ((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\"))"
	    " ((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\"))"
	    " ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL))"
	    " ((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"x.org\")(\"B, b\" NIL \"b\""
	    " \"y.org\")(NIL NIL NIL NIL)(\"Cee Zed\" NIL \"c\" \"z.org\"))"
	    " ((NIL \"@r1.example,@r2.example\" \"joe\" \"c.example\")"
	    "(NIL NIL \"nodomain\" \"MISSING_DOMAIN\"))"
	    " \"<1@x>\" \"<B27397-0100000@Blurdybloop.example>\")");
	free(e);
}

Test(mime_envelope, strings_as_dovecot_writes_them)
{
	char *e;

	/* the last field counts; subject blanks collapse; >4 escapes */
	e = envelope_of("Subject: first\nSubject:   two  \t words \n"
	    "From: \"  spaced   name \" <a@b.c>\n"
	    "Message-ID: <\"\\\"\\\"@x>\n"
	    "In-Reply-To: <\"\"@x>\n"
	    "Date:    \n\n");
	cr_assert_str_eq(e, "(\"\" {9}\r\ntwo words"
	    " (({11}\r\nspaced name NIL \"a\" \"b.c\"))"
	    " (({11}\r\nspaced name NIL \"a\" \"b.c\"))"
	    " (({11}\r\nspaced name NIL \"a\" \"b.c\"))"
	    " NIL NIL NIL \"<\\\"\\\"@x>\" {9}\r\n<\"\\\"\\\"@x>)");
	free(e);
}

Test(mime_envelope, missing_headers_are_nil)
{
	char *e;

	e = envelope_of("X-Other: 1\n\nbody\n");
	cr_assert_str_eq(e, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	free(e);
	/* empty Sender falls back to From; an empty Subject is "" */
	e = envelope_of("From: a@b.c\nSender:\nReply-To: r@b.c\nSubject:\n\n");
	cr_assert_str_eq(e, "(NIL \"\" ((NIL NIL \"a\" \"b.c\"))"
	    " ((NIL NIL \"a\" \"b.c\")) ((NIL NIL \"r\" \"b.c\"))"
	    " NIL NIL NIL NIL NIL)");
	free(e);
}

Test(mime_envelope, folding_8bit_and_encoded_words_are_kept)
{
	char *e;

	e = envelope_of("Subject: =?utf-8?q?caf=C3=A9?= and\n"
	    "\tmore\n"
	    "From: =?iso-8859-1?q?J=F6rg?= <j@x.de>\n"
	    "To: \xc3\xa9l\xc3\xa8ve <e@x.fr>\n\n");
	cr_assert_str_eq(e, "(NIL {30}\r\n=?utf-8?q?caf=C3=A9?= and more"
	    " ((\"=?iso-8859-1?q?J=F6rg?=\" NIL \"j\" \"x.de\"))"
	    " ((\"=?iso-8859-1?q?J=F6rg?=\" NIL \"j\" \"x.de\"))"
	    " ((\"=?iso-8859-1?q?J=F6rg?=\" NIL \"j\" \"x.de\"))"
	    " (({7}\r\n\xc3\xa9l\xc3\xa8ve NIL \"e\" \"x.fr\")) NIL NIL NIL NIL)");
	free(e);
}

/*
 * BODY[section].
 */

Test(mime_section, byte_exact_parts)
{
	struct msg m;

	msg_open(&m, dovecot_full);
	check_section(&m, "", m.data);
	check_section(&m, "HEADER",
	    "From: user@domain.org\r\n"
	    "Date: Sat, 24 Mar 2007 23:00:00 +0200\r\n"
	    "Mime-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"foo\r\n"
	    " bar\"\r\n\r\n");
	cr_assert_str_eq(m.data + m.root->body_offset,
	    strstr(m.data, "Root MIME prologue"));
	check_section(&m, "1", "hello\r\n");
	check_section(&m, "1.MIME",
	    "Content-Type: text/x-myown; charset=us-ascii; foo=\"quoted\\\"string\"\r\n"
	    "Content-ID: <foo@example.com>\r\n"
	    "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
	    "Content-Disposition: inline; foo=bar\r\n"
	    "Content-Description: hellodescription\r\n"
	    "Content-Language: en, fi, se\r\n"
	    "Content-Location: http://example.com/test.txt\r\n\r\n");
	check_section(&m, "2.MIME", "Content-Type: message/rfc822\r\n\r\n");
	check_section(&m, "2.HEADER",
	    "From: sub@domain.org\r\n"
	    "To: sub-to1@domain.org, sub-to2@domain.org\r\n"
	    "Date: Sun, 12 Aug 2012 12:34:56 +0300\r\n"
	    "Subject: submsg\r\n"
	    "Content-Type: multipart/alternative; boundary=\"sub1\"\r\n\r\n");
	check_section(&m, "2.1", "<p>Hello world</p>\r\n");
	check_section(&m, "2.2", "Hello another world\r\n");
	check_section(&m, "2.2.MIME", "Content-Type: text/plain\r\n"
	    "Content-Transfer-Encoding: ?invalid\r\n\r\n");
	check_section(&m, "2.TEXT",
	    "Sub MIME prologue\r\n"
	    "--sub1\r\n"
	    "Content-Type: text/html\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n"
	    "\r\n"
	    "<p>Hello world</p>\r\n"
	    "\r\n"
	    "--sub1\r\n"
	    "Content-Type: text/plain\r\n"
	    "Content-Transfer-Encoding: ?invalid\r\n"
	    "\r\n"
	    "Hello another world\r\n"
	    "\r\n"
	    "--sub1--\r\n"
	    "Sub MIME epilogue\r\n");
	check_section(&m, "2.HEADER.FIELDS (SUBJECT to)",
	    "To: sub-to1@domain.org, sub-to2@domain.org\r\n"
	    "Subject: submsg\r\n\r\n");
	check_section(&m, "header.fields.not (\"Content-Type\" DATE From)",
	    "Mime-Version: 1.0\r\n\r\n");
	check_section(&m, "HEADER.FIELDS (Content-Type)",
	    "Content-Type: multipart/mixed; boundary=\"foo\r\n bar\"\r\n\r\n");
	check_section(&m, "HEADER.FIELDS (X-None)", "\r\n");
	check_section(&m, "3", "<NONE>");
	check_section(&m, "1.HEADER", "<NONE>");
	check_section(&m, "1.1", "hello\r\n");
	check_section(&m, "1.2", "<NONE>");
	check_section(&m, "2.3", "<NONE>");
	check_section(&m, "4294967295.1", "<NONE>");
	msg_close(&m);
}

Test(mime_section, single_part_message)
{
	struct msg m;

	msg_open(&m, "Subject: s\n\nline one\nline two\n");
	check_section(&m, "1", "line one\r\nline two\r\n");
	check_section(&m, "TEXT", "line one\r\nline two\r\n");
	check_section(&m, "1.MIME", "Subject: s\r\n\r\n");
	check_section(&m, "2", "<NONE>");
	check_section(&m, "1.TEXT", "<NONE>");
	msg_close(&m);
}

Test(mime_section, syntax)
{
	static const char *const bad[] = { "0", "01", "1.", ".1", "1..2",
	    "MIME", "HEADERS", "HEADER.FIELDS", "HEADER.FIELDS ()",
	    "HEADER.FIELDS (A", "HEADER.FIELDS(A)", "HEADER.FIELDS (A) ",
	    "HEADER.FIELDS ({3}\r\nabc)", "1.MIMEX", "TEXT ", "4294967296",
	    "HEADER.FIELDS (\"a\xff\")", "X", NULL };
	static const char *const good[] = { "", "1", "1.2.3", "HEADER",
	    "text", "1.mime", "2.HEADER.FIELDS (a b \"c d\")",
	    "HEADER.FIELDS.NOT (X-Y)", "4294967295", NULL };
	struct buf b;
	size_t i;

	for (i = 0; bad[i] != NULL; i++)
		cr_assert_eq(mime_section_valid(bad[i], strlen(bad[i])),
		    MIME_SECTION_BAD, "%s", bad[i]);
	for (i = 0; good[i] != NULL; i++)
		cr_assert_eq(mime_section_valid(good[i], strlen(good[i])),
		    MIME_SECTION_OK, "%s", good[i]);
	buf_init(&b);
	cr_assert_eq(mime_section_normalize(&b, "1.header.fields (from \"x y\")",
	    28), MIME_SECTION_OK);
	cr_assert_str_eq(b.data, "1.HEADER.FIELDS (FROM \"X Y\")");
	buf_reset(&b);
	cr_assert_eq(mime_section_normalize(&b, "2.mime", 6), MIME_SECTION_OK);
	cr_assert_str_eq(b.data, "2.MIME");
	buf_free(&b);
}

Test(mime_section, partial)
{
	size_t off, n;

	mime_partial(10, 0, 4, &off, &n);
	cr_assert(off == 0 && n == 4);
	mime_partial(10, 8, 4, &off, &n);
	cr_assert(off == 8 && n == 2);
	mime_partial(10, 20, 4, &off, &n);
	cr_assert(off == 10 && n == 0);
	mime_partial(10, 3, ~0ULL, &off, &n);
	cr_assert(off == 3 && n == 7);
}

/*
 * Header lookup and decoding.
 */

Test(mime_header, get_unfolds_first_field)
{
	static const char hdr[] = "Subject:   first\r\n\tsecond\r\n"
	    "subject: other\r\nNoColonLine\r\nX-E:\r\n\r\nSubject: body\r\n";
	struct buf b;

	buf_init(&b);
	cr_assert_eq(mime_header_get(hdr, sizeof(hdr) - 1, "SUBJECT", &b), 1);
	cr_assert_str_eq(b.data, "first\tsecond");
	cr_assert_eq(mime_header_get(hdr, sizeof(hdr) - 1, "x-e", &b), 1);
	cr_assert_str_eq(b.data, "");
	cr_assert_eq(mime_header_get(hdr, sizeof(hdr) - 1, "NoColonLine", &b),
	    1);
	cr_assert_eq(mime_header_get(hdr, sizeof(hdr) - 1, "Body", &b), 0);
	buf_free(&b);
}

Test(mime_header, search_every_occurrence)
{
	static const char hdr[] = "Received: from a\r\nReceived: from\r\n"
	    " b.example\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\nX-Empty:\r\n\r\n"
	    "Received: from body\r\n";
	size_t n = sizeof(hdr) - 1;

	cr_assert(mime_header_search(hdr, n, "received", "FROM B.EX", 9));
	cr_assert(mime_header_search(hdr, n, "Subject", "CAF\xc3\x89", 5));
	cr_assert(mime_header_search(hdr, n, "x-empty", "", 0));
	cr_assert(!mime_header_search(hdr, n, "x-none", "", 0));
	cr_assert(!mime_header_search(hdr, n, "Received", "body", 4));
}

Test(mime_header, rfc2047)
{
	static const struct { const char *in, *out; } t[] = {
		{ "=?iso-8859-1?q?this=20is=20some=20text?=",
		  "this is some text" },
		{ "=?UTF-8?B?w6k=?= =?UTF-8?B?w6k=?=", "\xc3\xa9\xc3\xa9" },
		{ "=?UTF-8?B?4oI=?=\r\n =?UTF-8?B?rA==?=", "\xe2\x82\xac" },
		{ "=?ISO-8859-1?Q?a?= b", "a b" },
		{ "a =?ISO-8859-1?Q?b?=", "a b" },
		{ "=?windows-1252?Q?=80_x?=", "\xe2\x82\xac x" },
		{ "=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore" },
		{ "=?koi8-r?Q?=D0=D2=C9=D7=C5=D4?=",
		  "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82" },
		{ "=?x-unknown?Q?abc?=", "abc" },
		{ "=?utf-8?B?/w==?=", "\xef\xbf\xbd" },
		{ "caf\xe9", "caf\xef\xbf\xbd" },
		{ "=?utf-8?Q?broken", "=?utf-8?Q?broken" },
		{ "=?utf-8?X?abc?=", "=?utf-8?X?abc?=" },
		{ "=?../../etc/passwd?Q?a?=", "=?../../etc/passwd?Q?a?=" },
		{ "=?utf-8//TRANSLIT?Q?a?=", "=?utf-8//TRANSLIT?Q?a?=" },
		{ "=?iso-8859-1?q?a?==?iso-8859-1?q?b?=", "ab" },
		{ "plain  text ", "plain  text " },
	};
	size_t i;
	char *s;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		s = decode(t[i].in);
		cr_assert_str_eq(s, t[i].out, "%s", t[i].in);
		free(s);
	}
}

Test(mime_header, charsets)
{
	struct buf b;

	buf_init(&b);
	cr_assert_eq(mime_charset_to_utf8(&b, "ISO-8859-1", "\xe9\xff", 2), 0);
	cr_assert_str_eq(b.data, "\xc3\xa9\xc3\xbf");
	buf_reset(&b);
	cr_assert_eq(mime_charset_to_utf8(&b, "windows-1252", "\x93q\x94", 3),
	    0);
	cr_assert_str_eq(b.data, "\xe2\x80\x9cq\xe2\x80\x9d");
	buf_reset(&b);
	cr_assert_eq(mime_charset_to_utf8(&b, "utf-8", "\xed\xa0\x80ok", 5), 0);
	cr_assert_str_eq(b.data, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdok");
	buf_reset(&b);
	cr_assert_eq(mime_charset_to_utf8(&b, "no-such-charset", "a\xff", 2),
	    -1);
	cr_assert_str_eq(b.data, "a\xef\xbf\xbd");
	buf_reset(&b);
	cr_assert_eq(mime_charset_to_utf8(&b, "ISO-8859-7", "\xe1", 1), 0);
	cr_assert_str_eq(b.data, "\xce\xb1");
	buf_free(&b);
}

Test(mime_header, body_decode)
{
	struct msg m;
	struct buf b;

	msg_open(&m, "Content-Type: text/plain; charset=iso-8859-1\n"
	    "Content-Transfer-Encoding: quoted-printable\n\n"
	    "caf=E9 au =\nlait=3D=\n");
	buf_init(&b);
	mime_body_decode(&b, m.data, m.root);
	cr_assert_str_eq(b.data, "caf\xc3\xa9 au lait=");
	msg_close(&m);
	msg_open(&m, "Content-Type: text/plain; charset=utf-8\n"
	    "Content-Transfer-Encoding: BASE64\n\nw6l0w6kK\n");
	buf_reset(&b);
	mime_body_decode(&b, m.data, m.root);
	cr_assert_str_eq(b.data, "\xc3\xa9t\xc3\xa9\n");
	msg_close(&m);
	buf_free(&b);
}

/*
 * SEARCH helpers.
 */

Test(mime_search, contains_folds_case)
{
	cr_assert(mime_contains("Hello World", 11, "wORLD", 5));
	cr_assert(!mime_contains("Hello World", 11, "worlds", 6));
	cr_assert(mime_contains("x", 1, "", 0));
	cr_assert(mime_contains("\xc3\x89" "COLE", 6, "\xc3\xa9" "cole", 6));
	cr_assert(mime_contains("\xd0\x9f\xd0\xa0\xd0\x98", 6,
	    "\xd0\xbf\xd1\x80\xd0\xb8", 6));
	cr_assert(mime_contains("\xce\xa3\xce\x9f\xce\xa6\xce\x9f\xce\xa3", 10,
	    "\xcf\x83\xce\xbf\xcf\x86\xce\xbf\xcf\x82", 10));
	cr_assert(mime_contains("A\xc5\x81" "B", 4, "\xc5\x82", 2));
	cr_assert(!mime_contains("caf\xc3\xa9", 5, "cafe", 4));
	cr_assert(mime_contains("bad \xff bytes", 11, "\xff B", 3));
}

Test(mime_search, body_and_text)
{
	struct msg m;

	msg_open(&m, "Subject: =?utf-8?q?r=C3=A9union?=\n"
	    "Content-Type: multipart/mixed; boundary=b\n\n"
	    "preamble secret\n"
	    "--b\nContent-Type: text/plain; charset=utf-8\n"
	    "Content-Transfer-Encoding: base64\n\n"
	    "aGVsbG8gbmVlZGxlIQ==\n"
	    "--b\nContent-Type: text/html\n"
	    "Content-Transfer-Encoding: quoted-printable\n\n"
	    "<p>split nee=\ndle2</p>\n"
	    "--b\nContent-Type: application/octet-stream\n\nbinaryword\n"
	    "--b\nContent-Type: message/rfc822\n\n"
	    "Subject: inner =?iso-8859-1?q?=E9t=E9?=\n\ninner body\n"
	    "--b--\n");
	cr_assert(mime_search_text(m.data, m.root, "NEEDLE", 6, 0));
	cr_assert(mime_search_text(m.data, m.root, "needle2", 7, 0));
	cr_assert(mime_search_text(m.data, m.root, "INNER BODY", 10, 0));
	cr_assert(mime_search_text(m.data, m.root, "\xc3\x89T\xc3\x89", 5, 0));
	cr_assert(!mime_search_text(m.data, m.root, "binaryword", 10, 1));
	cr_assert(!mime_search_text(m.data, m.root, "secret", 6, 1));
	cr_assert(!mime_search_text(m.data, m.root, "r\xc3\xa9union", 8, 0));
	cr_assert(mime_search_text(m.data, m.root, "R\xc3\x89UNION", 8, 1));
	cr_assert(mime_search_text(m.data, m.root, "subject: r", 10, 1));
	msg_close(&m);
}

/*
 * Limits and hostile input.
 */

static char *
nested_multiparts(int depth)
{
	struct buf b;
	int i;

	buf_init(&b);
	for (i = 0; i < depth; i++)
		buf_printf(&b, "Content-Type: multipart/mixed; boundary=b%d\n\n"
		    "--b%d\n", i, i);
	buf_puts(&b, "\nleaf\n");
	for (i = depth - 1; i >= 0; i--)
		buf_printf(&b, "--b%d--\n", i);
	return b.data;
}

Test(mime_limits, nesting_limit)
{
	struct mime_limits lim;
	struct msg m;
	struct buf b;
	char *text = nested_multiparts(40);

	msg_open_lim(&m, text, NULL);
	cr_assert(strstr(m.err, "nesting") != NULL, "%s", m.err);
	buf_init(&b);
	mime_bodystructure(&b, m.data, m.root, 1);
	cr_assert(balanced(b.data));
	cr_assert(strstr(b.data, "\"application\" \"octet-stream\"") != NULL);
	msg_close(&m);
	free(text);

	mime_limits_default(&lim);
	lim.depth_max = 2;
	text = nested_multiparts(3);
	msg_open_lim(&m, text, &lim);
	cr_assert_neq(m.err[0], '\0');
	buf_reset(&b);
	mime_bodystructure(&b, m.data, m.root, 0);
	cr_assert_str_eq(b.data, "(((\"application\" \"octet-stream\" NIL NIL"
	    " NIL \"7bit\" 20) \"mixed\") \"mixed\")");
	cr_assert(m.root->children->children->flags & MIME_PART_LIMITED);
	check_section(&m, "1.1", "--b2\r\n\r\nleaf\r\n--b2--");
	check_section(&m, "1.1.1", "--b2\r\n\r\nleaf\r\n--b2--");
	check_section(&m, "1.1.MIME", "Content-Type: multipart/mixed; "
	    "boundary=b2\r\n\r\n");
	check_section(&m, "1.1.2", "<NONE>");
	msg_close(&m);
	free(text);
	buf_free(&b);
}

Test(mime_limits, nested_messages)
{
	struct msg m;
	struct buf b, t;
	int i;

	buf_init(&t);
	for (i = 0; i < 100; i++)
		buf_puts(&t, "Content-Type: message/rfc822\n\n");
	buf_puts(&t, "Subject: deep\n\nbody\n");
	msg_open_lim(&m, t.data, NULL);
	cr_assert(strstr(m.err, "nesting") != NULL);
	buf_init(&b);
	mime_bodystructure(&b, m.data, m.root, 1);
	cr_assert(balanced(b.data));
	cr_assert(strstr(b.data, "\"application\" \"octet-stream\"") != NULL);
	msg_close(&m);
	buf_free(&b);
	buf_free(&t);
}

Test(mime_limits, part_count_limit)
{
	struct mime_limits lim;
	struct msg m;
	struct buf b, t;
	int i;

	buf_init(&t);
	buf_puts(&t, "Content-Type: multipart/mixed; boundary=p\n\n");
	for (i = 0; i < 3000; i++)
		buf_puts(&t, "--p\n\nx\n");
	buf_puts(&t, "--p--\n");
	msg_open_lim(&m, t.data, NULL);
	cr_assert(strstr(m.err, "part count") != NULL, "%s", m.err);
	cr_assert_eq(count_parts(m.root), MIME_PARTS_MAX_DEFAULT);
	cr_assert(m.root->flags & MIME_PART_LIMITED);
	cr_assert_eq(m.root->body_offset + m.root->body_len, m.len);
	buf_init(&b);
	mime_bodystructure(&b, m.data, m.root, 1);
	cr_assert(balanced(b.data));
	msg_close(&m);

	mime_limits_default(&lim);
	lim.parts_max = 3;
	msg_open_lim(&m, t.data, &lim);
	cr_assert_eq(m.root->nchildren, 2);
	check_section(&m, "2", "x");
	check_section(&m, "3", "<NONE>");
	msg_close(&m);
	buf_free(&b);
	buf_free(&t);
}

Test(mime_limits, header_limits)
{
	struct mime_limits lim;
	struct msg m;
	struct buf t;
	int i;

	buf_init(&t);
	for (i = 0; i < 2000; i++)
		buf_printf(&t, "X-H%d: v\n", i);
	buf_puts(&t, "Content-Type: text/html\n\nbody\n");
	msg_open_lim(&m, t.data, NULL);
	cr_assert(strstr(m.err, "field") != NULL, "%s", m.err);
	cr_assert_str_eq(m.root->subtype, "plain");	/* not looked at */
	check_section(&m, "TEXT", "body\r\n");
	msg_close(&m);
	mime_limits_default(&lim);
	lim.header_max = 100;
	msg_open_lim(&m, t.data, &lim);
	cr_assert(strstr(m.err, "header size") != NULL, "%s", m.err);
	msg_close(&m);
	buf_free(&t);
}

Test(mime_limits, hostile_bytes)
{
	static const char *const inputs[] = {
		"\0\0\0\n\n\0",
		"--\n--\n--\n",
		"Content-Type: multipart/mixed; boundary=\"\"\n\n--\n--\n",
		"Content-Type: multipart/mixed; boundary=a\n\n--a",
		"Content-Type: multipart/mixed; boundary=a\n\n--a\n",
		"Content-Type: multipart/mixed; boundary=a\r\r\n\r\n--a\r",
		"Content-Type: message/rfc822\n\n",
		"Content-Type: message/rfc822",
		"Content-Type: multipart/mixed; boundary=a\n\n--a\n"
		    "Content-Type: message/rfc822\n--a--\n",
		"Content-Type: (((((\n\n",
		"Content-Type: text/plain; a*=\"'''%\"; b*0*=%%; b*1*=%\n\n",
		"From: ((((((((((((\nTo: <<<<@@@@>>>>,,,;;;:::\nCc: \"\\\n\n",
		"Subject: =?=?=?\n\n",
		" leading continuation\n\nx",
		"\n",
		"\r\n",
	};
	struct mime_part *root;
	struct buf b;
	const char *data;
	size_t i, k, len, dlen;
	char err[64];
	static const char *const secs[] = { "", "1", "1.1", "1.MIME",
	    "HEADER.FIELDS (From)", "TEXT", "2.HEADER", "1.1.TEXT" };

	buf_init(&b);
	for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		len = strlen(inputs[i]);
		if (i == 0)
			len = 6;
		root = mime_parse(inputs[i], len, NULL, err, sizeof(err));
		cr_assert_not_null(root);
		buf_reset(&b);
		mime_bodystructure(&b, inputs[i], root, 1);
		cr_assert(balanced(b.data), "%zu: %s", i, b.data);
		buf_reset(&b);
		mime_envelope(&b, inputs[i], root);
		for (k = 0; k < sizeof(secs) / sizeof(secs[0]); k++) {
			buf_reset(&b);
			(void)mime_section(inputs[i], len, root, secs[k],
			    strlen(secs[k]), &b, &data, &dlen);
		}
		cr_assert(!mime_search_text(inputs[i], root, "zzz", 3, 1));
		mime_free(root);
	}
	buf_free(&b);
}
