/*
 * deliver_local_loop: count the Delivered-To: headers that name one
 * recipient, for mail loop detection (a message coming back to the same
 * mailbox again and again). Interface: deliver.h.
 * Security: reads at most header_size_limit bytes; folded header lines
 * are joined; comparison is case-insensitive on the trimmed value.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/fileutil.h"
#include "core/xmalloc.h"
#include "deliver/deliver.h"

static int loop_header_names(const char *, size_t, const char *);

/* One logical header line: "Delivered-To: <address>" with any spacing. */
static int
loop_header_names(const char *line, size_t len, const char *address)
{
	static const char name[] = "Delivered-To:";
	size_t n = sizeof(name) - 1, alen = strlen(address);

	if (len < n || strncasecmp(line, name, n) != 0)
		return 0;
	line += n;
	len -= n;
	while (len > 0 && isspace((unsigned char)*line)) {
		line++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)line[len - 1]))
		len--;
	if (len >= 2 && line[0] == '<' && line[len - 1] == '>') {
		line++;
		len -= 2;
	}
	return len == alen && strncasecmp(line, address, alen) == 0;
}

long long
deliver_local_loop(int qfd, off_t off, uint64_t len, size_t limit,
    const char *address)
{
	struct buf cur;
	char *hdr;
	size_t n, i, start;
	long long count = 0;

	n = len < limit ? (size_t)len : limit;
	hdr = xmalloc(n + 1);
	if (n > 0 && pread_full(qfd, hdr, n, off) == -1) {
		free(hdr);
		return -1;
	}
	hdr[n] = '\0';
	buf_init(&cur);
	for (i = 0; i < n; i = start) {
		start = i;
		while (start < n && hdr[start] != '\n')
			start++;
		/* [i, start) is one physical line, without its LF. */
		if (start - i == 0 || (start - i == 1 && hdr[i] == '\r'))
			break;			/* end of the header */
		if (hdr[i] != ' ' && hdr[i] != '\t') {
			if (loop_header_names(cur.data, cur.len, address))
				count++;
			buf_reset(&cur);
		}
		buf_append(&cur, hdr + i, start - i);
		start++;
	}
	if (cur.len > 0 && loop_header_names(cur.data, cur.len, address))
		count++;
	buf_free(&cur);
	free(hdr);
	return count;
}
