/*
 * uidlist: parsing dovecot-uidlist (see uidlist.h). The formats:
 *   version 1: header "1 <uidvalidity> <nextuid>", lines "<uid> <file>"
 *   version 3: header "3 V<uidvalidity> N<nextuid> [<key><value>]...",
 *              lines "<uid> [<key><value> ]... :<file>"
 * <file> is the last known file name, maybe with ":2,<flags>"; only its
 * base (before ':') identifies the message, as flags change the rest.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/xmalloc.h"
#include "mailbox/uidlist.h"

#define UIDLIST_SLACK	65536	/* room for lines appended as we read */

struct uidlist_line {
	const char *s;
	size_t	 len;
};

static int	uidlist_u32(const char *, size_t, uint32_t *);
static size_t	uidlist_field(const struct uidlist_line *, size_t,
		    struct uidlist_line *);
static int	uidlist_header(const struct uidlist_line *, struct uidlist *,
		    int *);
static void	uidlist_record(const struct uidlist_line *, int,
		    struct uidlist *, size_t *);
static void	uidlist_add(struct uidlist *, size_t *, uint32_t,
		    const char *, size_t, const char *, size_t);
static int	uidlist_rec_cmp(const void *, const void *);
static void	uidlist_dedup(struct uidlist *);
static void	uidlist_rec_free(struct uidlist_rec *);

/* A decimal 1..UINT32_MAX, nothing else. */
static int
uidlist_u32(const char *s, size_t len, uint32_t *out)
{
	uint64_t n = 0;
	size_t i;

	if (len == 0 || len > 10)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (uint64_t)(s[i] - '0');
	}
	if (n == 0 || n > UINT32_MAX)
		return -1;
	*out = (uint32_t)n;
	return 0;
}

/* The space-separated field starting at off; returns the next offset. */
static size_t
uidlist_field(const struct uidlist_line *line, size_t off,
    struct uidlist_line *field)
{
	size_t end;

	while (off < line->len && line->s[off] == ' ')
		off++;
	end = off;
	while (end < line->len && line->s[end] != ' ')
		end++;
	field->s = line->s + off;
	field->len = end - off;
	return end;
}

static int
uidlist_header(const struct uidlist_line *line, struct uidlist *ul,
    int *version)
{
	struct uidlist_line f;
	size_t off;

	off = uidlist_field(line, 0, &f);
	if (f.len != 1 || (f.s[0] != '1' && f.s[0] != '3'))
		return -1;
	*version = f.s[0] - '0';
	if (*version == 1) {
		off = uidlist_field(line, off, &f);
		if (uidlist_u32(f.s, f.len, &ul->uidvalidity) == -1)
			return -1;
		(void)uidlist_field(line, off, &f);
		if (uidlist_u32(f.s, f.len, &ul->nextuid) == -1)
			ul->nextuid = 0;
		return 0;
	}
	for (off = uidlist_field(line, off, &f); f.len > 0;
	    off = uidlist_field(line, off, &f)) {
		if (f.s[0] == 'V' &&
		    uidlist_u32(f.s + 1, f.len - 1, &ul->uidvalidity) == -1)
			return -1;
		if (f.s[0] == 'N' &&
		    uidlist_u32(f.s + 1, f.len - 1, &ul->nextuid) == -1)
			ul->nextuid = 0;
	}
	return ul->uidvalidity == 0 ? -1 : 0;
}

static void
uidlist_record(const struct uidlist_line *line, int version,
    struct uidlist *ul, size_t *alloc)
{
	struct uidlist_line f, pop3 = { NULL, 0 };
	const char *file, *colon;
	uint32_t uid;
	size_t off;

	off = uidlist_field(line, 0, &f);
	if (uidlist_u32(f.s, f.len, &uid) == -1)
		return;
	if (version == 1) {
		(void)uidlist_field(line, off, &f);
		file = f.s;
	} else {
		/* Extensions until the field that starts with ':'. */
		for (;;) {
			off = uidlist_field(line, off, &f);
			if (f.len == 0)
				return;
			if (f.s[0] == ':')
				break;
			if (f.s[0] == 'P' && f.len > 1) {
				pop3.s = f.s + 1;
				pop3.len = f.len - 1;
			}
		}
		/* The rest of the line is the name, spaces and all. */
		file = f.s + 1;
	}
	f.len = (size_t)(line->s + line->len - file);
	if ((colon = memchr(file, ':', f.len)) != NULL)
		f.len = (size_t)(colon - file);
	if (f.len == 0 || memchr(file, '/', f.len) != NULL)
		return;
	uidlist_add(ul, alloc, uid, file, f.len, pop3.s, pop3.len);
}

static void
uidlist_add(struct uidlist *ul, size_t *alloc, uint32_t uid, const char *base,
    size_t len, const char *pop3, size_t pop3_len)
{
	struct uidlist_rec *r;

	if (ul->n == *alloc) {
		*alloc = *alloc ? *alloc * 2 : 64;
		ul->recs = xreallocarray(ul->recs, *alloc, sizeof(*ul->recs));
	}
	r = &ul->recs[ul->n++];
	r->base = xstrndup(base, len);
	r->uid = uid;
	r->pop3_uidl = pop3 != NULL ? xstrndup(pop3, pop3_len) : NULL;
}

int
uidlist_parse(const char *data, size_t len, struct uidlist *ul)
{
	struct uidlist_line line;
	const char *p = data, *end = data + len, *nl;
	size_t alloc = 0;
	int version = 0, first = 1;

	memset(ul, 0, sizeof(*ul));
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		line.s = p;
		line.len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		p = nl ? nl + 1 : end;
		/* An unterminated last record may be an append in progress. */
		if (nl == NULL && !first)
			break;
		/* A NUL would cut the name short: drop such a line. */
		if (memchr(line.s, '\0', line.len) != NULL) {
			if (first)
				goto fail;
			continue;
		}
		if (first) {
			if (uidlist_header(&line, ul, &version) == -1)
				goto fail;
			first = 0;
			continue;
		}
		uidlist_record(&line, version, ul, &alloc);
	}
	if (first)
		goto fail;
	if (ul->n > 1) {
		qsort(ul->recs, ul->n, sizeof(*ul->recs), uidlist_rec_cmp);
		uidlist_dedup(ul);
	}
	return 0;
fail:
	uidlist_free(ul);
	return -1;
}

static int
uidlist_rec_cmp(const void *a, const void *b)
{
	const struct uidlist_rec *ra = a, *rb = b;
	int c;

	if ((c = strcmp(ra->base, rb->base)) != 0)
		return c;
	return ra->uid < rb->uid ? -1 : ra->uid > rb->uid;
}

static void
uidlist_dedup(struct uidlist *ul)
{
	size_t i, out = 1;

	for (i = 1; i < ul->n; i++) {
		if (strcmp(ul->recs[i].base, ul->recs[out - 1].base) == 0) {
			uidlist_rec_free(&ul->recs[i]);
			continue;
		}
		ul->recs[out++] = ul->recs[i];
	}
	ul->n = out;
}

int
uidlist_load(int mdfd, size_t max, struct uidlist *ul)
{
	struct stat st;
	char *data;
	ssize_t n;
	size_t got = 0, cap;
	int fd, save, rc;

	memset(ul, 0, sizeof(*ul));
	fd = openat(mdfd, UIDLIST_NAME, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd == -1)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) == -1) {
		save = errno;
		close(fd);
		errno = save;
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (uintmax_t)st.st_size > max) {
		close(fd);
		errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		return -1;
	}
	/* Read to EOF, bounded: Dovecot may append while we read. */
	cap = (size_t)st.st_size + UIDLIST_SLACK < max ?
	    (size_t)st.st_size + UIDLIST_SLACK : max;
	data = xmalloc(cap + 1);
	n = 0;
	while (got <= cap) {
		n = read(fd, data + got, cap + 1 - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	save = errno;
	close(fd);
	if (n == -1 || got > max) {
		free(data);
		errno = n == -1 ? save : EFBIG;
		return -1;
	}
	rc = uidlist_parse(data, got, ul);
	free(data);
	if (rc == -1) {
		errno = EINVAL;
		return -1;
	}
	return 1;
}

const struct uidlist_rec *
uidlist_lookup(const struct uidlist *ul, const char *base, size_t len)
{
	size_t lo = 0, hi = ul->n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strncmp(ul->recs[mid].base, base, len);
		if (c == 0 && ul->recs[mid].base[len] != '\0')
			c = 1;
		if (c == 0)
			return &ul->recs[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void
uidlist_rec_free(struct uidlist_rec *r)
{
	free(r->base);
	free(r->pop3_uidl);
}

void
uidlist_free(struct uidlist *ul)
{
	size_t i;

	for (i = 0; i < ul->n; i++)
		uidlist_rec_free(&ul->recs[i]);
	free(ul->recs);
	memset(ul, 0, sizeof(*ul));
}
