/*
 * fuzz_mime: the MIME parser and everything built on its tree (BODY,
 * BODYSTRUCTURE, ENVELOPE, BODY[section], header decoding, search), with
 * invariants checked (abort on violation): spans nest inside the message,
 * limits hold, the IMAP output is balanced and decoded text is UTF-8.
 * LLVMFuzzerTestOneInput is the libFuzzer entry (-DFUZZ_LIBFUZZER
 * -fsanitize=fuzzer); otherwise main() replays FUZZ_CORPUS and then
 * deterministic inputs spliced from MIME fragments, so ./check runs it.
 */
#include <sys/stat.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "proto/mime.h"

#define FUZZ_INPUT_MAX		(256 * 1024)
#define FUZZ_RANDOM_RUNS	4000
#define FUZZ_RANDOM_PIECES	40

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	fuzz_check(int, const char *);
static int	fuzz_balanced(const char *, size_t);
static int	fuzz_utf8(const char *, size_t);
static void	fuzz_tree(const struct mime_part *, size_t, size_t, size_t,
		    const struct mime_limits *, size_t *);
static void	fuzz_views(const char *, size_t, const struct mime_part *);
static void	fuzz_headers(const char *, size_t);
static void	fuzz_parse(const char *, size_t, const struct mime_limits *);

static void
fuzz_check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_mime: invariant broken: %s\n", what);
		abort();
	}
}

/* Parentheses balance outside quoted strings and literals. */
static int
fuzz_balanced(const char *s, size_t len)
{
	size_t i, n;
	int depth = 0, quoted = 0;

	for (i = 0; i < len; i++) {
		if (quoted) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				quoted = 0;
			continue;
		}
		if (s[i] == '{') {
			for (n = 0, i++; i < len && s[i] >= '0' && s[i] <= '9';
			    i++)
				n = n * 10 + (size_t)(s[i] - '0');
			if (i + 2 >= len || s[i] != '}' || s[i + 1] != '\r' ||
			    s[i + 2] != '\n' || len - (i + 3) < n)
				return 0;
			i += 2 + n;
		} else if (s[i] == '"')
			quoted = 1;
		else if (s[i] == '(')
			depth++;
		else if (s[i] == ')' && --depth < 0)
			return 0;
		else if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
			return 0;	/* only inside literals */
	}
	return depth == 0 && !quoted;
}

static int
fuzz_utf8(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n, k;

	while (i < len) {
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		if (u[i] >= 0xc2 && u[i] <= 0xdf)
			n = 2;
		else if (u[i] >= 0xe0 && u[i] <= 0xef)
			n = 3;
		else if (u[i] >= 0xf0 && u[i] <= 0xf4)
			n = 4;
		else
			return 0;
		if (len - i < n)
			return 0;
		for (k = 1; k < n; k++)
			if ((u[i + k] & 0xc0) != 0x80)
				return 0;
		i += n;
	}
	return 1;
}

/* Every part lies inside [lo, hi) and its children inside its body. */
static void
fuzz_tree(const struct mime_part *p, size_t lo, size_t hi, size_t depth,
    const struct mime_limits *lim, size_t *count)
{
	const struct mime_part *c;
	unsigned int n = 0;

	fuzz_check(depth <= lim->depth_max, "depth");
	fuzz_check(++*count <= lim->parts_max, "part count");
	fuzz_check(p->header_offset >= lo && p->header_len <= hi -
	    p->header_offset, "header span");
	fuzz_check(p->body_offset == p->header_offset + p->header_len,
	    "body follows header");
	fuzz_check(p->body_len <= hi - p->body_offset, "body span");
	fuzz_check(p->type != NULL && p->subtype != NULL, "type");
	fuzz_check(!(p->flags & MIME_PART_MESSAGE) || p->message != NULL,
	    "message part");
	for (c = p->children; c != NULL; c = c->next, n++) {
		fuzz_check(c->parent == p, "parent");
		fuzz_tree(c, p->body_offset, p->body_offset + p->body_len,
		    depth + 1, lim, count);
	}
	fuzz_check(n == p->nchildren, "nchildren");
	if (p->message != NULL)
		fuzz_tree(p->message, p->body_offset,
		    p->body_offset + p->body_len, depth + 1, lim, count);
}

static void
fuzz_views(const char *msg, size_t len, const struct mime_part *root)
{
	static const char *const secs[] = { "", "HEADER", "TEXT", "1", "2",
	    "1.MIME", "2.MIME", "1.1", "1.2", "2.1", "2.HEADER", "2.TEXT",
	    "1.1.1", "3.2.1.MIME", "HEADER.FIELDS (From Subject)",
	    "HEADER.FIELDS.NOT (Content-Type)", "2.HEADER.FIELDS (To)" };
	struct buf b, built;
	const char *data;
	size_t i, dlen;
	int rc;

	buf_init(&b);
	buf_init(&built);
	mime_bodystructure(&b, msg, root, 1);
	fuzz_check(fuzz_balanced(b.data, b.len), "BODYSTRUCTURE balanced");
	buf_reset(&b);
	mime_bodystructure(&b, msg, root, 0);
	fuzz_check(fuzz_balanced(b.data, b.len), "BODY balanced");
	buf_reset(&b);
	mime_envelope(&b, msg, root);
	fuzz_check(fuzz_balanced(b.data, b.len), "ENVELOPE balanced");
	for (i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
		rc = mime_section(msg, len, root, secs[i], strlen(secs[i]),
		    &built, &data, &dlen);
		fuzz_check(rc == MIME_SECTION_OK || rc == MIME_SECTION_NONE,
		    "section syntax");
		if (rc == MIME_SECTION_OK && data != built.data)
			fuzz_check(data >= msg && dlen <= len &&
			    (size_t)(data - msg) <= len - dlen,
			    "section inside the message");
	}
	(void)mime_search_text(msg, root, "needle", 6, 1);
	(void)mime_search_text(msg, root, "\xc3\x89t\xc3\xa9", 5, 0);
	buf_free(&b);
	buf_free(&built);
}

/* Header decoding always yields UTF-8; section text is checked too. */
static void
fuzz_headers(const char *data, size_t size)
{
	struct buf b;
	size_t n = size < 4096 ? size : 4096;

	buf_init(&b);
	mime_header_decode(&b, data, n);
	fuzz_check(fuzz_utf8(b.data, b.len), "decoded header is UTF-8");
	buf_reset(&b);
	(void)mime_section_valid(data, n);
	(void)mime_section_normalize(&b, data, n);
	buf_reset(&b);
	(void)mime_charset_to_utf8(&b, "windows-1252", data, n);
	fuzz_check(fuzz_utf8(b.data, b.len), "cp1252 is UTF-8");
	(void)mime_contains(data, size, "\xc5\x81x", 3);
	buf_free(&b);
}

static void
fuzz_parse(const char *data, size_t size, const struct mime_limits *lim)
{
	struct mime_part *root;
	char err[128];
	size_t count = 0;

	root = mime_parse(data, size, lim, err, sizeof(err));
	fuzz_check(root != NULL, "parse");
	fuzz_tree(root, 0, size, 0, lim, &count);
	fuzz_check(root->body_offset + root->body_len == size, "root ends");
	fuzz_views(data, size, root);
	mime_free(root);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_limits lim;
	const char *s = (const char *)data;

	mime_limits_default(&lim);
	fuzz_parse(s, size, &lim);
	lim.depth_max = 3;
	lim.parts_max = 8;
	lim.header_max = 64;
	lim.fields_max = 3;
	fuzz_parse(s, size, &lim);
	fuzz_headers(s, size);
	return 0;
}

#ifndef FUZZ_LIBFUZZER
static int	fuzz_file(int, const char *);
static void	fuzz_random(void);

static int
fuzz_file(int dirfd, const char *name)
{
	static char data[FUZZ_INPUT_MAX];
	ssize_t n;
	int fd;

	if ((fd = openat(dirfd, name, O_RDONLY)) == -1)
		return -1;
	n = read(fd, data, sizeof(data));
	close(fd);
	if (n < 0)
		return -1;
	LLVMFuzzerTestOneInput((const uint8_t *)data, (size_t)n);
	return 0;
}

/* Deterministic messages spliced from the fragments MIME bugs hide in. */
static void
fuzz_random(void)
{
	static const char *const piece[] = { "Content-Type: multipart/mixed;"
	    " boundary=", "b", "a", "\"b c\"", "--", "\r\n", "\n", "\r",
	    "Content-Type: message/rfc822\r\n", "Content-Type: text/plain;"
	    " charset=", "utf-8", "iso-8859-1", "koi8-r", "x-bad",
	    "Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n",
	    "MIME-Version: 1.0\r\n", "Content-Transfer-Encoding: base64\r\n",
	    "Content-Transfer-Encoding: quoted-printable\r\n", "=?utf-8?B?",
	    "=?iso-8859-1?Q?", "?=", "=E9", "w6k=", " ", "\t", ";", "(", ")",
	    "\"", "\\", "From: ", "To: ", "g: a@b, \"x\" <c@d>;", "<@r:x@y>",
	    "Subject: ", "Content-Disposition: attachment; filename*0*=",
	    "utf-8''%E2%82", "; filename*1=x", "\xff", "\xc3", "\0",
	    "Content-Language: en, fi\r\n", "needle", "\r\n\r\n" };
	char data[8192];
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	size_t len, k, plen, npieces = sizeof(piece) / sizeof(piece[0]);
	int run, i;

	for (run = 0; run < FUZZ_RANDOM_RUNS; run++) {
		len = 0;
		for (i = 0; i < FUZZ_RANDOM_PIECES; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			k = (size_t)(x % npieces);
			plen = piece[k][0] == '\0' ? 1 : strlen(piece[k]);
			if (len + plen > sizeof(data))
				break;
			memcpy(data + len, piece[k], plen);
			len += plen;
		}
		LLVMFuzzerTestOneInput((const uint8_t *)data, len);
	}
}

int
main(int argc, char *argv[])
{
	const char *dir = argc > 1 ? argv[1] : FUZZ_CORPUS;
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir(dir)) == NULL) {
		perror(dir);
		return 1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (fuzz_file(dirfd(d), de->d_name) == -1) {
			perror(de->d_name);
			closedir(d);
			return 1;
		}
		n++;
	}
	closedir(d);
	fuzz_random();
	printf("1..1\n%s 1 - fuzz_mime: %d corpus files, %d random inputs\n",
	    n > 0 ? "ok" : "not ok", n, FUZZ_RANDOM_RUNS);
	return n > 0 ? 0 : 1;
}
#endif
