/*
 * fuzz_imap: the IMAP command reader fed the input in chunks whose sizes
 * come from the input itself, each assembled command parsed, sequence
 * sets and mailbox names (modified UTF-7 both ways) checked: the reader
 * never holds more than its limits allow, and parsed strings are intact.
 */
#include <assert.h>
#include <string.h>

#include "fuzz.h"
#include "mailbox/mutf7.h"
#include "proto/imap.h"

const char fuzz_target_name[] = "imap";

static const struct imap_limits fuzz_lim = {
	.line_max = 256, .literal_max = 512, .nonsync_max = 128,
	.command_max = 2048, .depth_max = 5, .args_max = 64,
};

static void	fuzz_args(const struct imap_arg *, size_t, int);
static void	fuzz_command(const char *, size_t);
static void	fuzz_name(const char *, size_t);
static void	fuzz_folder(const char *, size_t);

/* A name that decodes re-encodes, and that decodes to the same text. */
static void
fuzz_name(const char *s, size_t len)
{
	struct buf a, b, c;

	buf_init(&a);
	buf_init(&b);
	buf_init(&c);
	if (mutf7_to_utf8(s, len, &a) == 0) {
		assert(utf8_to_mutf7(a.data ? a.data : "", a.len, &b) == 0);
		assert(mutf7_to_utf8(b.data ? b.data : "", b.len, &c) == 0);
		assert(a.len == c.len && (a.len == 0 ||
		    memcmp(a.data, c.data, a.len) == 0));
		/* No separator or control appears that was not there. */
		assert(memchr(s, '/', len) != NULL || a.len == 0 ||
		    memchr(a.data, '/', a.len) == NULL);
	}
	buf_free(&a);
	buf_free(&b);
	buf_free(&c);
	fuzz_folder(s, len);
}

/* An accepted name maps to one folder directly below the Maildir. */
static void
fuzz_folder(const char *s, size_t len)
{
	char name[256], path[300];

	if (len >= sizeof(name) || memchr(s, '\0', len) != NULL)
		return;
	memcpy(name, s, len);
	name[len] = '\0';
	if (mutf7_folder_path(name, 200, path, sizeof(path)) == -1)
		return;
	assert(path[0] == '.' && strchr(path, '/') == NULL);
	assert(strcmp(path, ".") == 0 || (path[1] != '.' &&
	    strstr(path, "..") == NULL && path[strlen(path) - 1] != '.'));
}

static void
fuzz_args(const struct imap_arg *args, size_t n, int depth)
{
	struct imap_seqset set;
	size_t i;

	assert(depth <= fuzz_lim.depth_max);
	for (i = 0; i < n; i++) {
		if (args[i].type == IMAP_ARG_LIST) {
			assert(args[i].s == NULL);
			fuzz_args(args[i].list, args[i].n, depth + 1);
			continue;
		}
		assert(args[i].s != NULL && args[i].s[args[i].len] == '\0');
		if (args[i].type == IMAP_ARG_QUOTED)
			assert(memchr(args[i].s, '\0', args[i].len) == NULL);
		if (imap_seqset_parse(args[i].s, 16, &set) == 0) {
			assert(set.n >= 1 && set.n <= 16);
			(void)imap_seqset_has(&set, 7, 9);
			imap_seqset_free(&set);
		}
		fuzz_name(args[i].s, args[i].len);
	}
}

static void
fuzz_command(const char *data, size_t len)
{
	struct imap_command cmd;

	if (imap_parse(data, len, &fuzz_lim, &cmd) == 0) {
		assert(cmd.tag[0] != '\0' && cmd.name[0] != '\0');
		fuzz_args(cmd.args, cmd.nargs, 0);
	} else
		assert(cmd.error != NULL);
	imap_command_free(&cmd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const char *p = (const char *)data;
	struct imap_reader r;
	size_t off = 0, used, chunk;
	int rc;

	imap_reader_init(&r, &fuzz_lim);
	while (off < len) {
		chunk = 1 + (size_t)(data[off] % 7);
		if (chunk > len - off)
			chunk = len - off;
		rc = imap_reader_feed(&r, p + off, chunk, &used);
		assert(used <= chunk);
		assert(r.cmd.len <= fuzz_lim.command_max + fuzz_lim.line_max);
		off += used;
		if (rc == IMAP_READ_DONE)
			fuzz_command(r.cmd.data, r.cmd.len);
		else if (rc == IMAP_READ_BAD || rc == IMAP_READ_FATAL) {
			assert(r.error != NULL && r.tag[0] != '\0');
			if (rc == IMAP_READ_FATAL)
				break;
		}
	}
	imap_reader_free(&r);
	/* The whole input as one command, too (the parser's own checks). */
	fuzz_command(p, len);
	return 0;
}
