/*
 * fuzz_pop3: the POP3 input parsers (pop3_command_parse, pop3_number_parse,
 * pop3_uidl_valid), the RETR/TOP converter and the dovecot-uidlist reader,
 * with invariants checked (abort on violation). LLVMFuzzerTestOneInput is
 * the libFuzzer entry (build with -DFUZZ_LIBFUZZER -fsanitize=fuzzer);
 * otherwise main() replays the corpus in FUZZ_CORPUS plus deterministic
 * random inputs, so ./check runs it under ASan/UBSan.
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
#include "mailbox/uidlist.h"
#include "proto/pop3.h"

#define FUZZ_INPUT_MAX		(256 * 1024)
#define FUZZ_RANDOM_RUNS	3000
#define FUZZ_RANDOM_LEN		600

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	fuzz_check(int, const char *);
static void	fuzz_command(const char *, size_t);
static void	fuzz_lines(const char *, size_t);
static void	fuzz_convert(const char *, size_t, long long, size_t,
		    struct buf *, off_t *);
static void	fuzz_msgconv(const char *, size_t);
static void	fuzz_uidlist(const char *, size_t);

static void
fuzz_check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_pop3: invariant broken: %s\n", what);
		abort();
	}
}

static void
fuzz_command(const char *line, size_t len)
{
	struct pop3_command cmd;
	unsigned long long n;
	size_t i;
	int rc;

	rc = pop3_command_parse(line, len, &cmd);
	if (rc != POP3_PARSE_OK)
		return;
	fuzz_check(cmd.verb[0] != '\0' && strlen(cmd.verb) <= POP3_VERB_MAX,
	    "verb length");
	for (i = 0; cmd.verb[i] != '\0'; i++)
		fuzz_check(cmd.verb[i] > ' ' && cmd.verb[i] < 0x7f &&
		    !(cmd.verb[i] >= 'a' && cmd.verb[i] <= 'z'), "verb bytes");
	fuzz_check(cmd.nargs <= POP3_ARGS_MAX, "nargs");
	fuzz_check(cmd.rest >= line && cmd.rest + cmd.rest_len <= line + len,
	    "rest inside the line");
	for (i = 0; i < cmd.nargs; i++) {
		fuzz_check(cmd.args[i].len > 0 && cmd.args[i].s >= line &&
		    cmd.args[i].s + cmd.args[i].len <= line + len,
		    "argument inside the line");
		fuzz_check(memchr(cmd.args[i].s, ' ', cmd.args[i].len) == NULL,
		    "argument without spaces");
		if (pop3_number_parse(&cmd.args[i], 1000, &n) == 0)
			fuzz_check(n <= 1000, "number bound");
		(void)pop3_number_parse(&cmd.args[i], ~0ULL, &n);
	}
}

/* Every line (as the session would see it, LF and CR removed). */
static void
fuzz_lines(const char *data, size_t size)
{
	const char *p = data, *end = data + size, *nl;
	size_t len;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		fuzz_command(p, len);
		(void)pop3_uidl_valid(p, len);
		p = nl ? nl + 1 : end;
	}
}

/* Convert in chunks of chunk bytes (0: all at once). */
static void
fuzz_convert(const char *data, size_t size, long long lines, size_t chunk,
    struct buf *out, off_t *octets)
{
	struct pop3_msgconv conv;
	size_t off = 0, n, used;

	pop3_msgconv_init(&conv, lines);
	while (off < size && !conv.done) {
		n = chunk == 0 || size - off < chunk ? size - off : chunk;
		used = pop3_msgconv_feed(&conv, data + off, n, out);
		fuzz_check(used <= n, "consumed at most what was fed");
		fuzz_check(used == n || conv.done, "short only when done");
		off += used;
	}
	pop3_msgconv_end(&conv, out);
	*octets = conv.octets;
}

static void
fuzz_msgconv(const char *data, size_t size)
{
	struct buf whole, bytes, top;
	off_t o1, o2, o3;
	size_t i, unstuffed = 0;
	long long lines;

	buf_init(&whole);
	buf_init(&bytes);
	buf_init(&top);
	fuzz_convert(data, size, -1, 0, &whole, &o1);
	fuzz_convert(data, size, -1, 1, &bytes, &o2);
	fuzz_check(o1 == o2 && whole.len == bytes.len &&
	    memcmp(whole.data, bytes.data, whole.len) == 0,
	    "chunking does not change the output");
	fuzz_check(whole.len >= 3 &&
	    memcmp(whole.data + whole.len - 3, ".\r\n", 3) == 0 &&
	    (whole.len == 3 || whole.data[whole.len - 4] == '\n'),
	    "ends with the terminator on its own line");
	for (i = 0; i < whole.len; i++) {
		if (whole.data[i] == '\n')
			fuzz_check(i > 0 && whole.data[i - 1] == '\r',
			    "every LF is CRLF");
		/* a line start: a '.' is always doubled (or the end) */
		if ((i == 0 || whole.data[i - 1] == '\n') &&
		    whole.data[i] == '.' && i + 3 != whole.len) {
			fuzz_check(i + 1 < whole.len &&
			    whole.data[i + 1] == '.', "dot-stuffed");
			unstuffed++;
		}
	}
	/* LIST's size: the output without stuffing, terminator, added CRLF */
	fuzz_check((size_t)o1 <= whole.len - 3 - unstuffed &&
	    (size_t)o1 + 2 >= whole.len - 3 - unstuffed, "octets");
	/* TOP n is a prefix of RETR, before the terminator */
	lines = size > 0 ? (unsigned char)data[0] % 8 : 0;
	fuzz_convert(data, size, lines, 7, &top, &o3);
	fuzz_check(top.len <= whole.len && o3 <= o1, "TOP no longer than RETR");
	fuzz_check(memcmp(top.data, whole.data, top.len - 3) == 0,
	    "TOP is a prefix of RETR");
	buf_free(&whole);
	buf_free(&bytes);
	buf_free(&top);
}

static void
fuzz_uidlist(const char *data, size_t size)
{
	struct uidlist ul;
	size_t i;

	if (uidlist_parse(data, size, &ul) == -1)
		return;
	fuzz_check(ul.uidvalidity != 0, "uidvalidity");
	for (i = 0; i < ul.n; i++) {
		fuzz_check(ul.recs[i].uid != 0 && ul.recs[i].base[0] != '\0' &&
		    strchr(ul.recs[i].base, '/') == NULL &&
		    strchr(ul.recs[i].base, ':') == NULL, "record");
		fuzz_check(i == 0 ||
		    strcmp(ul.recs[i - 1].base, ul.recs[i].base) < 0,
		    "sorted, unique");
		fuzz_check(uidlist_lookup(&ul, ul.recs[i].base,
		    strlen(ul.recs[i].base)) == &ul.recs[i], "lookup");
	}
	uidlist_free(&ul);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;

	fuzz_lines(s, size);
	fuzz_msgconv(s, size);
	fuzz_uidlist(s, size);
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

/* Deterministic inputs from an alphabet that hits the edge cases. */
static void
fuzz_random(void)
{
	static const char alpha[] = "..\r\n\n \t:0123456789VNPWS3 TOPUSERretr"
	    "\x01\x7f\xff";
	char data[FUZZ_RANDOM_LEN];
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	size_t i, len;
	int run;

	for (run = 0; run < FUZZ_RANDOM_RUNS; run++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		len = (size_t)(x % FUZZ_RANDOM_LEN);
		for (i = 0; i < len; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			data[i] = alpha[x % (sizeof(alpha) - 1)];
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
	printf("1..1\n%s 1 - fuzz_pop3: %d corpus files, %d random inputs\n",
	    n > 0 ? "ok" : "not ok", n, FUZZ_RANDOM_RUNS);
	return n > 0 ? 0 : 1;
}
#endif
