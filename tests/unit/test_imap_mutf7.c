/*
 * test_imap_mutf7: modified UTF-7 mailbox names both ways, and every
 * smuggling form (printable ASCII encoded, bad base64, half pairs) refused.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "mailbox/mutf7.h"

static char *
dec(const char *in, int *rc)
{
	static struct buf b;

	buf_free(&b);
	buf_init(&b);
	*rc = mutf7_to_utf8(in, strlen(in), &b);
	return b.data ? b.data : (char *)"";
}

static char *
enc(const char *in, int *rc)
{
	static struct buf b;

	buf_free(&b);
	buf_init(&b);
	*rc = utf8_to_mutf7(in, strlen(in), &b);
	return b.data ? b.data : (char *)"";
}

Test(mutf7, round_trips)
{
	const char *pairs[][2] = {
		{ "INBOX", "INBOX" },
		{ "Entw\xc3\xbcrfe", "Entw&APw-rfe" },
		{ "A&B", "A&-B" },
		{ "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "&ZeVnLIqe-" },
		{ "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac"
		  "\xe8\xaa\x9e", "~peter/mail/&U,BTFw-/&ZeVnLIqe-" },
		{ "\xf0\x9f\x93\xa7 mail", "&2D3c5w- mail" },
		{ "", "" },
	};
	size_t i;
	int rc;

	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		cr_assert_str_eq(enc(pairs[i][0], &rc), pairs[i][1]);
		cr_assert_eq(rc, 0);
		cr_assert_str_eq(dec(pairs[i][1], &rc), pairs[i][0]);
		cr_assert_eq(rc, 0);
	}
}

Test(mutf7, smuggling_refused)
{
	const char *bad[] = {
		"&AC8-",		/* '/' */
		"&AC4ALg-",		/* ".." */
		"a&AGE-",		/* 'a' */
		"&ACY-",		/* '&' must be "&-" */
		"&AAA-",		/* NUL */
		"&AAo-",		/* LF */
		"&2D0-",		/* a lone high surrogate */
		"&3KE-",		/* a lone low surrogate */
		"&APw",			/* unterminated */
		"&-&",
		"&A/w-",		/* '/' is not modified base64 */
		"&APx-",		/* leftover bits not zero */
		"&AP-",			/* too short for a unit */
		"a\tb", "a\x80", "\x7f",
	};
	size_t i;
	int rc;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		(void)dec(bad[i], &rc);
		cr_assert_eq(rc, -1, "%s decoded", bad[i]);
	}
}

Test(mutf7, invalid_utf8_refused)
{
	const char *bad[] = { "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
	    "\xc3", "\xff", "a\nb", "\xe6\x97" };
	size_t i;
	int rc;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		(void)enc(bad[i], &rc);
		cr_assert_eq(rc, -1, "%zu encoded", i);
	}
}

Test(mutf7, folder_paths)
{
	const char *good[][2] = {
		{ "INBOX", "." }, { "inbox", "." },
		{ "Sent", ".Sent" }, { "Archive/2024", ".Archive.2024" },
		{ "Entw&APw-rfe", ".Entw&APw-rfe" }, { "INBOX/x", ".INBOX.x" },
		{ "a&-b", ".a&-b" }, { "~user", ".~user" },
	};
	const char *bad[] = {
		"", "/", "/etc", "a/", "a//b", "..", "../x", "a/../b", "a.b",
		".hidden", "&AC8-", "a&AC8-b", "&AC4ALg-", "&AGE-", "&APw-&APw-",
		"&Jjo", "a\\b", "*", "%", "a*b", "a\tb", "caf\xc3\xa9",
	};
	char path[64];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cr_assert_eq(mutf7_folder_path(good[i][0], 40, path,
		    sizeof(path)), 0, "%s refused", good[i][0]);
		cr_assert_str_eq(path, good[i][1]);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(mutf7_folder_path(bad[i], 40, path,
		    sizeof(path)), -1, "%s accepted", bad[i]);
	/* Limits: maxlen and the output buffer. */
	cr_assert_eq(mutf7_folder_path("abcdefghij", 9, path, sizeof(path)), -1);
	cr_assert_eq(mutf7_folder_path("abcdefghij", 10, path, 11), -1);
	cr_assert_eq(mutf7_folder_path("abcdefghij", 10, path, 12), 0);
}
