/*
 * search: SEARCH and UID SEARCH (RFC 3501 6.4.4). The keys are parsed
 * into a tree first (so a bad key is a BAD before any work), then each
 * message is tested; its content is read only for keys that need it, and
 * header and body text are decoded (RFC 2047/2231, transfer encodings,
 * charsets) by lib/proto/mime before a case-insensitive match. SUBJECT,
 * FROM, TO, CC and BCC match the decoded fields of the index's cache blob
 * (fetch.c makes it), read a chunk at a time; a message not cached yet is
 * read once and its blob stored, so the next SEARCH reads no file.
 * Limits: imapd_nesting_limit bounds NOT/OR/parenthesis depth.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/xmalloc.h"
#include "imapd/imapd.h"
#include "proto/mime.h"

enum skey_op {
	SK_ALL, SK_AND, SK_OR, SK_NOT, SK_SET, SK_UIDSET, SK_FLAG, SK_UNFLAG,
	SK_RECENT, SK_OLD, SK_NEW, SK_KEYWORD, SK_UNKEYWORD, SK_BEFORE, SK_ON,
	SK_SINCE, SK_SENTBEFORE, SK_SENTON, SK_SENTSINCE, SK_LARGER, SK_SMALLER,
	SK_HEADER, SK_BODY, SK_TEXT, SK_MODSEQ,
};

struct skey {
	enum skey_op op;
	unsigned flag;
	long long num;			/* days since the epoch, or a size */
	const char *field, *str;	/* point into the command */
	int	 cfield;		/* 1 + imap_cache_field_index, or 0 */
	struct imap_seqset set;
	struct skey *kids;
	size_t	 nkids;
};

/* One message being tested: its content and cache blob, on first need. */
struct search_msg {
	struct imap_msgdata md;
	struct buf *blob;		/* NULL: no cached key in the search */
	int	 dirty;			/* blob made here: store it */
};

#define SEARCH_CHUNK	256		/* messages per cache round trip */

struct search_result {
	uint32_t *found;		/* UIDs or sequence numbers */
	size_t	 n;
	uint64_t maxmod;
};

struct sparse {
	const struct imap_arg *a;
	size_t	 n, i;
	int	 depth, depth_max;
	int	 modseq;		/* a MODSEQ key was used */
};

static const struct {
	const char *name;
	enum skey_op op;
	unsigned flag;
} search_flagkeys[] = {
	{ "ANSWERED", SK_FLAG, IMAP_FLAG_ANSWERED },
	{ "DELETED", SK_FLAG, IMAP_FLAG_DELETED },
	{ "DRAFT", SK_FLAG, IMAP_FLAG_DRAFT },
	{ "FLAGGED", SK_FLAG, IMAP_FLAG_FLAGGED },
	{ "SEEN", SK_FLAG, IMAP_FLAG_SEEN },
	{ "UNANSWERED", SK_UNFLAG, IMAP_FLAG_ANSWERED },
	{ "UNDELETED", SK_UNFLAG, IMAP_FLAG_DELETED },
	{ "UNDRAFT", SK_UNFLAG, IMAP_FLAG_DRAFT },
	{ "UNFLAGGED", SK_UNFLAG, IMAP_FLAG_FLAGGED },
	{ "UNSEEN", SK_UNFLAG, IMAP_FLAG_SEEN },
	{ "ALL", SK_ALL, 0 }, { "RECENT", SK_RECENT, 0 },
	{ "OLD", SK_OLD, 0 }, { "NEW", SK_NEW, 0 },
};
static const struct {
	const char *name;
	enum skey_op op;
} search_strkeys[] = {
	{ "FROM", SK_HEADER }, { "TO", SK_HEADER }, { "CC", SK_HEADER },
	{ "BCC", SK_HEADER }, { "SUBJECT", SK_HEADER },
	{ "BODY", SK_BODY }, { "TEXT", SK_TEXT },
	{ "KEYWORD", SK_KEYWORD }, { "UNKEYWORD", SK_UNKEYWORD },
	{ "BEFORE", SK_BEFORE }, { "ON", SK_ON }, { "SINCE", SK_SINCE },
	{ "SENTBEFORE", SK_SENTBEFORE }, { "SENTON", SK_SENTON },
	{ "SENTSINCE", SK_SENTSINCE }, { "LARGER", SK_LARGER },
	{ "SMALLER", SK_SMALLER },
};

static const char *const search_months[] = { "jan", "feb", "mar", "apr",
    "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec" };

static int	search_parse_list(struct sparse *, struct skey *, int);
static int	search_parse_key(struct sparse *, struct skey *);
static int	search_parse_simple(struct sparse *, const char *,
		    struct skey *);
static const char *search_string(struct sparse *);
static long long search_days(const char *);
static void	search_free(struct skey *);
static int	search_match(struct imap_session *, size_t, const struct skey *,
		    struct search_msg *);
static int	search_content(struct imap_session *, size_t,
		    const struct skey *, struct search_msg *);
static int	search_cached_field(struct imap_session *, size_t,
		    const struct skey *, struct search_msg *);
static int	search_uses_cache(const struct skey *);
static char	*search_cache_name(struct imap_session *, size_t);
static void	search_chunk(struct imap_session *, const struct skey *, int,
		    size_t, size_t, struct buf *, struct search_result *);
static long long search_sent_days(const struct imap_msgdata *);
static int	search_return(const struct imap_arg *);
static int	search_run(struct imap_session *, const struct skey *, int,
		    struct search_result *);
static void	search_reply(struct imap_session *, const char *, int, int,
		    const struct search_result *, int);
static void	search_esearch(struct buf *, const char *, int, int,
		    const uint32_t *, size_t, uint64_t);

#define RET_MIN		0x01
#define RET_MAX		0x02
#define RET_ALL		0x04
#define RET_COUNT	0x08

int
imap_cmd_search(struct imap_session *s, struct imap_command *cmd)
{
	return imap_search(s, cmd, cmd->args, cmd->nargs, 0);
}

int
imap_search(struct imap_session *s, struct imap_command *cmd,
    const struct imap_arg *args, size_t nargs, int uid)
{
	struct sparse p = { args, nargs, 0, 0, s->d->lim_auth.depth_max, 0 };
	struct search_result res;
	struct skey root;
	int ret = 0;

	if (nargs >= 2 && imap_arg_is(&args[0], "CHARSET")) {
		const char *cs = imap_arg_string(&args[1]);

		if (cs == NULL || (strcasecmp(cs, "UTF-8") != 0 &&
		    strcasecmp(cs, "US-ASCII") != 0)) {
			imap_reply(s, cmd, "NO [BADCHARSET (UTF-8 US-ASCII)] "
			    "Unsupported charset.");
			return IMAP_CMD_OK;
		}
		p.i = 2;
	}
	if (p.i + 1 < p.n && imap_arg_is(&p.a[p.i], "RETURN")) {
		if ((ret = search_return(&p.a[p.i + 1])) == -1) {
			imap_reply(s, cmd, "BAD Invalid RETURN options.");
			return IMAP_CMD_BAD;
		}
		p.i += 2;
	}
	memset(&root, 0, sizeof(root));
	if (p.i == p.n || search_parse_list(&p, &root, 0) == -1) {
		search_free(&root);
		imap_reply(s, cmd, "BAD Invalid search keys.");
		return IMAP_CMD_BAD;
	}
	if (p.modseq)
		s->condstore = 1;
	if (search_run(s, &root, uid, &res) == -1)
		imap_reply(s, cmd, "NO [LIMIT] SEARCH took too long "
		    "(imapd_command_time_limit).");
	else {
		search_reply(s, cmd->tag, uid, ret, &res, p.modseq);
		imap_reply(s, cmd, "OK Search completed.");
	}
	free(res.found);
	search_free(&root);
	return IMAP_CMD_OK;
}

/* Test every message; -1 when imapd_command_time_limit ran out. */
static int
search_run(struct imap_session *s, const struct skey *root, int uid,
    struct search_result *res)
{
	struct buf blobs[SEARCH_CHUNK];
	size_t i, n, k;
	int rc = 0, cache = search_uses_cache(root);

	memset(res, 0, sizeof(*res));
	res->found = xreallocarray(NULL, s->n + 1, sizeof(*res->found));
	for (k = 0; k < SEARCH_CHUNK; k++)
		buf_init(&blobs[k]);
	for (i = 0; i < s->n && rc == 0; i += n) {
		n = s->n - i < SEARCH_CHUNK ? s->n - i : SEARCH_CHUNK;
		if (imap_overtime(s))
			rc = -1;
		else
			search_chunk(s, root, uid, i, n, cache ? blobs : NULL,
			    res);
	}
	for (k = 0; k < SEARCH_CHUNK; k++)
		buf_free(&blobs[k]);
	return rc;
}

/* Messages first .. first + n - 1, their blobs loaded under one lock. */
static void
search_chunk(struct imap_session *s, const struct skey *root, int uid,
    size_t first, size_t n, struct buf *blobs, struct search_result *res)
{
	char *names[SEARCH_CHUNK];
	int dirty[SEARCH_CHUNK], any = 0;
	struct search_msg sm;
	size_t k, i;

	for (k = 0; k < n && blobs != NULL; k++)
		names[k] = search_cache_name(s, first + k);
	if (blobs != NULL && imap_cache_load(s->mdfd, names, n, blobs) == -1)
		for (k = 0; k < n; k++)
			buf_reset(&blobs[k]);	/* read the files */
	for (k = 0; k < n; k++) {
		i = first + k;
		memset(&sm, 0, sizeof(sm));
		sm.blob = blobs != NULL ? &blobs[k] : NULL;
		if (search_match(s, i, root, &sm) == 1) {
			res->found[res->n++] = uid ? s->msgs[i].uid :
			    (uint32_t)(i + 1);
			if (s->msgs[i].modseq > res->maxmod)
				res->maxmod = s->msgs[i].modseq;
		}
		imap_msg_data_free(&sm.md);
		dirty[k] = sm.dirty;
		any |= sm.dirty;
	}
	if (!any)
		return;
	for (k = 0; k < n; k++) {
		names[k] = search_cache_name(s, first + k); /* renamed? */
		if (!dirty[k])
			buf_reset(&blobs[k]);
	}
	(void)imap_cache_store(s->mdfd, names, n, blobs);
}

/* The cache key of message i: its name ("" for one gone, never found). */
static char *
search_cache_name(struct imap_session *s, size_t i)
{
	static char gone[] = "";
	const struct imap_msg_file *f = imap_msg_file(s, i);

	return f->name != NULL ? f->name : gone;
}

/* Whether a key of the tree can be answered from the cache. */
static int
search_uses_cache(const struct skey *k)
{
	size_t j;

	if (k->cfield != 0)
		return 1;
	for (j = 0; j < k->nkids; j++)
		if (search_uses_cache(&k->kids[j]))
			return 1;
	return 0;
}

static void
search_reply(struct imap_session *s, const char *tag, int uid, int ret,
    const struct search_result *res, int modseq)
{
	struct buf b;
	size_t i;

	buf_init(&b);
	if (ret != 0)
		search_esearch(&b, tag, uid, ret, res->found, res->n,
		    modseq ? res->maxmod : 0);
	else {
		buf_puts(&b, "* SEARCH");
		for (i = 0; i < res->n; i++)
			buf_printf(&b, " %u", res->found[i]);
		/* RFC 7162 3.1.5: the highest MODSEQ of what matched. */
		if (modseq && res->maxmod > 0)
			buf_printf(&b, " (MODSEQ %llu)",
			    (unsigned long long)res->maxmod);
	}
	buf_puts(&b, "\r\n");
	iobuf_write(&s->io, b.data, b.len);
	buf_free(&b);
}

/* Keys up to the end of the arguments: an implicit AND. */
static int
search_parse_list(struct sparse *p, struct skey *k, int depth)
{
	k->op = SK_AND;
	if (depth > p->depth_max)
		return -1;
	while (p->i < p->n) {
		k->kids = xreallocarray(k->kids, k->nkids + 1,
		    sizeof(*k->kids));
		memset(&k->kids[k->nkids], 0, sizeof(*k->kids));
		if (search_parse_key(p, &k->kids[k->nkids++]) == -1)
			return -1;
	}
	return k->nkids > 0 ? 0 : -1;
}

static int
search_parse_key(struct sparse *p, struct skey *k)
{
	const struct imap_arg *a = &p->a[p->i++];
	struct sparse sub;
	int rc, n;

	if (a->type == IMAP_ARG_LIST) {
		sub = *p;
		sub.a = a->list;
		sub.n = a->n;
		sub.i = 0;
		sub.depth = p->depth + 1;
		rc = search_parse_list(&sub, k, sub.depth);
		p->modseq |= sub.modseq;
		return rc;
	}
	if (a->type != IMAP_ARG_ATOM)
		return -1;
	if (strcasecmp(a->s, "NOT") == 0 || strcasecmp(a->s, "OR") == 0) {
		k->op = strcasecmp(a->s, "NOT") == 0 ? SK_NOT : SK_OR;
		n = k->op == SK_NOT ? 1 : 2;
		if (++p->depth > p->depth_max)
			return -1;
		k->kids = xcalloc((size_t)n, sizeof(*k->kids));
		for (; k->nkids < (size_t)n; k->nkids++)
			if (p->i == p->n ||
			    search_parse_key(p, &k->kids[k->nkids]) == -1) {
				k->nkids++;
				return -1;
			}
		p->depth--;
		return 0;
	}
	rc = search_parse_simple(p, a->s, k);
	return rc;
}

static int
search_parse_simple(struct sparse *p, const char *w, struct skey *k)
{
	const char *v;
	char *end;
	size_t i;

	for (i = 0; i < sizeof(search_flagkeys) / sizeof(search_flagkeys[0]); i++)
		if (strcasecmp(w, search_flagkeys[i].name) == 0) {
			k->op = search_flagkeys[i].op;
			k->flag = search_flagkeys[i].flag;
			return 0;
		}
	if (strcasecmp(w, "HEADER") == 0) {
		k->op = SK_HEADER;
		if ((k->field = search_string(p)) == NULL ||
		    (k->str = search_string(p)) == NULL)
			return -1;
		return 0;
	}
	if (strcasecmp(w, "MODSEQ") == 0) {
		/* RFC 7162: MODSEQ ["/flags/..." all|shared|priv] number */
		k->op = SK_MODSEQ;
		if (p->i + 2 < p->n && p->a[p->i].type != IMAP_ARG_ATOM)
			p->i += 2;
		if ((v = search_string(p)) == NULL || *v < '0' || *v > '9')
			return -1;
		errno = 0;
		k->num = strtoll(v, &end, 10);
		p->modseq = 1;
		return *end != '\0' || errno != 0 ? -1 : 0;
	}
	if (strcasecmp(w, "UID") == 0) {
		k->op = SK_UIDSET;
		v = search_string(p);
		return v == NULL ? -1 : imap_seqset_parse(v, IMAPD_SEQSET_MAX,
		    &k->set);
	}
	for (i = 0; i < sizeof(search_strkeys) / sizeof(search_strkeys[0]); i++)
		if (strcasecmp(w, search_strkeys[i].name) == 0)
			break;
	if (i == sizeof(search_strkeys) / sizeof(search_strkeys[0])) {
		k->op = SK_SET;		/* a sequence set, or nothing valid */
		return imap_seqset_parse(w, IMAPD_SEQSET_MAX, &k->set);
	}
	k->op = search_strkeys[i].op;
	if (k->op == SK_HEADER) {
		k->field = search_strkeys[i].name;
		k->cfield = 1 + imap_cache_field_index(k->field);
	}
	if ((v = k->str = search_string(p)) == NULL)
		return -1;
	if (k->op >= SK_BEFORE && k->op <= SK_SENTSINCE)
		return (k->num = search_days(v)) == -1 ? -1 : 0;
	if (k->op == SK_LARGER || k->op == SK_SMALLER) {
		errno = 0;
		k->num = strtoll(v, &end, 10);
		return *v < '0' || *v > '9' || *end != '\0' || errno != 0 ?
		    -1 : 0;
	}
	return 0;
}

static const char *
search_string(struct sparse *p)
{
	if (p->i == p->n)
		return NULL;
	return imap_arg_string(&p->a[p->i++]);
}

/* date = d-Mon-yyyy, as days since 1970-01-01; -1 if invalid. */
static long long
search_days(const char *s)
{
	struct tm tm;
	char mon[4];
	int day, year, n = 0, i;

	if (sscanf(s, "%2d-%3[A-Za-z]-%4d%n", &day, mon, &year, &n) != 3 ||
	    s[n] != '\0' || day < 1 || day > 31 || year < 1900)
		return -1;
	for (i = 0; i < 12; i++)
		if (strcasecmp(mon, search_months[i]) == 0)
			break;
	if (i == 12)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_mday = day;
	tm.tm_mon = i;
	tm.tm_year = year - 1900;
	return (long long)timegm(&tm) / 86400;
}

static void
search_free(struct skey *k)
{
	size_t i;

	for (i = 0; i < k->nkids; i++)
		search_free(&k->kids[i]);
	free(k->kids);
	imap_seqset_free(&k->set);
}

/* 1 match, 0 not; content read into md on first need. */
static int
search_match(struct imap_session *s, size_t i, const struct skey *k,
    struct search_msg *sm)
{
	const struct imap_msg *m = &s->msgs[i];
	long long day = 0;
	size_t j;
	int kw;

	if (k->op == SK_BEFORE || k->op == SK_ON || k->op == SK_SINCE)
		day = (long long)imap_msg_stat(s, i)->mtime / 86400;

	switch (k->op) {
	case SK_ALL:
		return 1;
	case SK_AND:
		for (j = 0; j < k->nkids; j++)
			if (!search_match(s, i, &k->kids[j], sm))
				return 0;
		return 1;
	case SK_OR:
		return search_match(s, i, &k->kids[0], sm) ||
		    search_match(s, i, &k->kids[1], sm);
	case SK_NOT:
		return !search_match(s, i, &k->kids[0], sm);
	case SK_SET:
		return imap_msg_in_set(s, i, &k->set, 0);
	case SK_UIDSET:
		return imap_msg_in_set(s, i, &k->set, 1);
	case SK_FLAG:
		return (m->flags & k->flag) != 0;
	case SK_UNFLAG:
		return (m->flags & k->flag) == 0;
	case SK_RECENT:
		return m->recent;
	case SK_OLD:
		return !m->recent;
	case SK_NEW:
		return m->recent && (m->flags & IMAP_FLAG_SEEN) == 0;
	case SK_KEYWORD:
	case SK_UNKEYWORD:
		kw = imap_index_keyword(s->mdfd, &s->idx, k->str, 0);
		return (kw != -1 && (m->keywords & (1u << kw))) ==
		    (k->op == SK_KEYWORD);
	case SK_MODSEQ:
		return (long long)m->modseq >= k->num;
	case SK_BEFORE:
		return day < k->num;
	case SK_ON:
		return day == k->num;
	case SK_SINCE:
		return day >= k->num;
	default:
		return search_content(s, i, k, sm);
	}
}

static int
search_content(struct imap_session *s, size_t i, const struct skey *k,
    struct search_msg *sm)
{
	struct imap_msgdata *md = &sm->md;
	const struct mime_part *root;
	struct buf raw, dec;
	long long sent;
	int rc = 0;

	if (k->cfield != 0 && sm->blob != NULL &&
	    (rc = search_cached_field(s, i, k, sm)) != -1)
		return rc;
	rc = 0;
	if (imap_msg_load(s, i, md) == -1)
		return 0;
	root = md->mime;
	switch (k->op) {
	case SK_LARGER:
		return (long long)md->crlf.len > k->num;
	case SK_SMALLER:
		return (long long)md->crlf.len < k->num;
	case SK_SENTBEFORE:
	case SK_SENTON:
	case SK_SENTSINCE:
		if ((sent = search_sent_days(md)) == -1)
			return 0;
		return k->op == SK_SENTBEFORE ? sent < k->num :
		    k->op == SK_SENTON ? sent == k->num : sent >= k->num;
	case SK_BODY:
	case SK_TEXT:
		return mime_search_text(md->crlf.data, root, k->str,
		    strlen(k->str), k->op == SK_TEXT);
	default:
		break;
	}
	buf_init(&raw);
	buf_init(&dec);
	if (mime_header_get(md->crlf.data + root->header_offset,
	    root->header_len, k->field, &raw) == 1) {
		mime_header_decode(&dec, raw.data ? raw.data : "", raw.len);
		rc = *k->str == '\0' || mime_contains(dec.data ? dec.data : "",
		    dec.len, k->str, strlen(k->str));
	}
	buf_free(&raw);
	buf_free(&dec);
	return rc;
}

/*
 * SUBJECT, FROM, TO, CC, BCC from the cache blob, made (from the file,
 * read once) when missing: 1 match, 0 not, -1 answer from the file.
 */
static int
search_cached_field(struct imap_session *s, size_t i, const struct skey *k,
    struct search_msg *sm)
{
	const char *v;
	size_t vlen;
	int rc;

	rc = imap_cache_blob_field(sm->blob, k->cfield - 1, &v, &vlen);
	if (rc == -1) {
		if (imap_msg_load(s, i, &sm->md) == -1)
			return 0;		/* expunged meanwhile */
		imap_cache_blob_make(sm->blob, &sm->md);
		sm->dirty = 1;
		rc = imap_cache_blob_field(sm->blob, k->cfield - 1, &v, &vlen);
	}
	if (rc != 1)
		return rc;
	return *k->str == '\0' || mime_contains(v, vlen, k->str,
	    strlen(k->str));
}

/* The Date: header's day (in its own zone, RFC 3501); -1 if none. */
static long long
search_sent_days(const struct imap_msgdata *md)
{
	const struct mime_part *root = md->mime;
	struct buf v;
	const char *p;
	char date[32];
	int day, year;
	char mon[4];
	long long r = -1;

	buf_init(&v);
	if (mime_header_get(md->crlf.data + root->header_offset,
	    root->header_len, "Date", &v) == 1 && v.data != NULL) {
		p = strchr(v.data, ',') ? strchr(v.data, ',') + 1 : v.data;
		if (sscanf(p, " %2d %3[A-Za-z] %4d", &day, mon, &year) == 3) {
			snprintf(date, sizeof(date), "%d-%s-%d", day, mon,
			    year);
			r = search_days(date);
		}
	}
	buf_free(&v);
	return r;
}

/* RFC 4731 RETURN (MIN MAX ALL COUNT); () means ALL. 0 is plain SEARCH. */
static int
search_return(const struct imap_arg *arg)
{
	static const struct { const char *name; int bit; } opts[] = {
		{ "MIN", RET_MIN }, { "MAX", RET_MAX }, { "ALL", RET_ALL },
		{ "COUNT", RET_COUNT },
	};
	size_t i, j;
	int ret = 0;

	if (arg->type != IMAP_ARG_LIST)
		return -1;
	for (i = 0; i < arg->n; i++) {
		for (j = 0; j < sizeof(opts) / sizeof(opts[0]); j++)
			if (imap_arg_is(&arg->list[i], opts[j].name))
				break;
		if (j == sizeof(opts) / sizeof(opts[0]))
			return -1;
		ret |= opts[j].bit;
	}
	return ret == 0 ? RET_ALL : ret;
}

static void
search_esearch(struct buf *b, const char *tag, int uid, int ret,
    const uint32_t *found, size_t n, uint64_t modseq)
{
	buf_puts(b, "* ESEARCH (TAG ");
	imap_quote(b, tag, strlen(tag));
	buf_putc(b, ')');
	if (uid)
		buf_puts(b, " UID");
	if ((ret & RET_MIN) && n > 0)
		buf_printf(b, " MIN %u", found[0]);
	if ((ret & RET_MAX) && n > 0)
		buf_printf(b, " MAX %u", found[n - 1]);
	if (ret & RET_COUNT)
		buf_printf(b, " COUNT %zu", n);
	if ((ret & RET_ALL) && n > 0) {
		buf_puts(b, " ALL ");
		imap_uid_set(b, found, n);
	}
	if (modseq > 0)
		buf_printf(b, " MODSEQ %llu", (unsigned long long)modseq);
}
