/*
 * fetch: FETCH, STORE and the UID command. A message is read (and its LF
 * line ends made CRLF) only when an item needs its content; ENVELOPE,
 * BODY/BODYSTRUCTURE and BODY[section] come from lib/proto/mime. Items
 * are checked before anything is sent, so a bad one gets a clean BAD.
 * Non-PEEK body items set \Seen, and the new FLAGS go with the reply.
 */
#include <sys/stat.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "imapd/imapd.h"
#include "proto/mime.h"

#define FETCH_UID		0x0001
#define FETCH_FLAGS		0x0002
#define FETCH_INTERNALDATE	0x0004
#define FETCH_SIZE		0x0008
#define FETCH_ENVELOPE		0x0010
#define FETCH_BODY		0x0020
#define FETCH_BODYSTRUCTURE	0x0040
#define FETCH_CONTENT		0x0080	/* a section or RFC822.* */
#define FETCH_MODSEQ		0x0100
#define FETCH_STRUCTURE		(FETCH_SIZE | FETCH_ENVELOPE | FETCH_BODY | \
				    FETCH_BODYSTRUCTURE)
#define FETCH_CHUNK		256	/* messages per cache round trip */
#define FETCH_HEADER_CHUNK	8192	/* bytes per read looking for the header end */
#define FETCH_WHOLE		(FETCH_SIZE | FETCH_BODY | FETCH_BODYSTRUCTURE | \
				    FETCH_CONTENT)

struct fetch_cached {
	int	 complete;	/* 0: header only, no size or BODY(STRUCTURE) */
	uint64_t vsize;
	const char *part[4];	/* ENVELOPE, BODY, BODYSTRUCTURE, fields */
	size_t	 len[4];
};

/* The decoded header fields a blob keeps for SEARCH, in this order. */
static const char *const fetch_search_fields[IMAP_CACHE_FIELDS] = {
	"SUBJECT", "FROM", "TO", "CC", "BCC",
};
#define FETCH_FIELD_ABSENT	UINT32_MAX

struct fetch_section {
	const char *name;	/* "RFC822", "RFC822.HEADER", or NULL */
	char	*section;	/* between the brackets */
	int	 peek;
	int	 partial;
	unsigned long long origin, count;
};

struct fetch_req {
	int	 items;
	int	 changedsince_set;
	unsigned long long changedsince;
	int	 vanished;
	struct fetch_section *secs;
	size_t	 nsecs;
	int	 sets_seen;
};

struct store_req {
	int	 mode;			/* +1 add, -1 remove, 0 replace */
	int	 silent;
	int	 conditional;
	unsigned long long unchangedsince;
	struct imap_arg list;
	unsigned flags;
	uint32_t kw;
	size_t	*touched, ntouched;
	uint32_t *modified;		/* UIDs or sequence numbers */
	size_t	 nmodified;
};

static int	fetch_parse(const struct imap_arg *, struct fetch_req *);
static int	fetch_modifiers(const struct imap_arg *, struct fetch_req *);
static int	fetch_item(const struct imap_arg *, struct fetch_req *);
static int	fetch_section_parse(const char *, struct fetch_req *);
static void	fetch_req_free(struct fetch_req *);
static int	fetch_one(struct imap_session *, size_t, const struct fetch_req *,
		    struct buf *, int *);
static int	fetch_run(struct imap_session *, const struct imap_seqset *,
		    int, const struct fetch_req *);
static char	*fetch_cache_name(struct imap_session *, size_t);
static int	fetch_read_file(int, struct buf *);
static int	fetch_msg_parse(struct imap_session *, size_t,
		    struct imap_msgdata *, int (*)(int, struct buf *));
static int	fetch_msg_load_header(struct imap_session *, size_t,
		    struct imap_msgdata *);
static int	fetch_read_header(int, struct buf *);
static const char *fetch_header_end(const char *, size_t, size_t *);
static void	fetch_blob_header_make(struct buf *, struct imap_msgdata *);
static void	fetch_blob_build(struct buf *, struct imap_msgdata *, int);
static void	fetch_crlf(struct buf *, const char *, size_t);
static void	fetch_blob_fields(struct buf *, struct imap_msgdata *);
static int	fetch_blob_parse(const struct buf *, struct fetch_cached *);
static void	fetch_content(struct buf *, struct imap_msgdata *,
		    const struct fetch_section *);
static void	fetch_date(struct buf *, time_t);
static int	store_unchangedsince(const struct imap_arg *,
		    unsigned long long *);
static int	store_item(const char *, struct store_req *);
static void	store_apply(struct imap_session *, const struct imap_seqset *,
		    int, struct store_req *);
static void	store_modseqs(struct imap_session *);
static void	store_report(struct imap_session *, struct imap_command *, int,
		    const struct store_req *);

static const char *const fetch_months[] = { "Jan", "Feb", "Mar", "Apr",
    "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

int
imap_cmd_fetch(struct imap_session *s, struct imap_command *cmd)
{
	return imap_fetch(s, cmd, cmd->args, cmd->nargs, 0);
}

int
imap_cmd_store(struct imap_session *s, struct imap_command *cmd)
{
	return imap_store(s, cmd, cmd->args, cmd->nargs, 0);
}

int
imap_cmd_uid(struct imap_session *s, struct imap_command *cmd)
{
	const struct imap_arg *a = cmd->args + 1;
	size_t n = cmd->nargs - 1;

	if (cmd->nargs == 0) {
		imap_reply(s, cmd, "BAD UID takes a command.");
		return IMAP_CMD_BAD;
	}
	if (imap_arg_is(&cmd->args[0], "FETCH"))
		return imap_fetch(s, cmd, a, n, 1);
	if (imap_arg_is(&cmd->args[0], "STORE"))
		return imap_store(s, cmd, a, n, 1);
	if (imap_arg_is(&cmd->args[0], "SEARCH"))
		return imap_search(s, cmd, a, n, 1);
	if (imap_arg_is(&cmd->args[0], "COPY"))
		return imap_uid_copy(s, cmd, a, n, 0);
	if (imap_arg_is(&cmd->args[0], "MOVE"))
		return imap_uid_copy(s, cmd, a, n, 1);
	if (imap_arg_is(&cmd->args[0], "EXPUNGE"))
		return imap_uid_expunge(s, cmd, a, n);
	imap_reply(s, cmd, "BAD Unknown UID command.");
	return IMAP_CMD_BAD;
}

int
imap_fetch(struct imap_session *s, struct imap_command *cmd,
    const struct imap_arg *args, size_t nargs, int uid)
{
	struct fetch_req req;
	struct imap_seqset set;
	int rc;

	memset(&req, 0, sizeof(req));
	if (nargs != 2 && nargs != 3) {
		imap_reply(s, cmd, "BAD FETCH takes a set and items.");
		return IMAP_CMD_BAD;
	}
	if (imap_seqset_arg(s, cmd, &args[0], &set) == -1)
		return IMAP_CMD_BAD;
	if (fetch_parse(&args[1], &req) == -1 || (nargs == 3 &&
	    fetch_modifiers(&args[2], &req) == -1) ||
	    (req.vanished && (!uid || !s->qresync))) {
		fetch_req_free(&req);
		imap_seqset_free(&set);
		imap_reply(s, cmd, "BAD Invalid fetch items.");
		return IMAP_CMD_BAD;
	}
	if (uid)
		req.items |= FETCH_UID;
	if (req.items & FETCH_MODSEQ)
		s->condstore = 1;
	if (req.vanished)
		imap_vanished(s, &set);
	rc = fetch_run(s, &set, uid, &req);
	fetch_req_free(&req);
	imap_seqset_free(&set);
	if (rc == -2)
		imap_reply(s, cmd, "NO [LIMIT] FETCH took too long "
		    "(imapd_command_time_limit).");
	else if (rc == -1 && !s->broken)
		imap_reply(s, cmd, "NO Some messages could not be fetched.");
	else
		imap_reply(s, cmd, "OK Fetch completed.");
	return IMAP_CMD_OK;
}

static int
fetch_parse(const struct imap_arg *arg, struct fetch_req *req)
{
	size_t i;

	if (imap_arg_is(arg, "ALL"))
		req->items = FETCH_FLAGS | FETCH_INTERNALDATE | FETCH_SIZE |
		    FETCH_ENVELOPE;
	else if (imap_arg_is(arg, "FAST"))
		req->items = FETCH_FLAGS | FETCH_INTERNALDATE | FETCH_SIZE;
	else if (imap_arg_is(arg, "FULL"))
		req->items = FETCH_FLAGS | FETCH_INTERNALDATE | FETCH_SIZE |
		    FETCH_ENVELOPE | FETCH_BODY;
	else if (arg->type == IMAP_ARG_LIST) {
		if (arg->n == 0)
			return -1;
		for (i = 0; i < arg->n; i++)
			if (fetch_item(&arg->list[i], req) == -1)
				return -1;
	} else
		return fetch_item(arg, req);
	return 0;
}

/* RFC 7162: (CHANGEDSINCE modseq [VANISHED]) */
static int
fetch_modifiers(const struct imap_arg *arg, struct fetch_req *req)
{
	char *end;
	size_t i;

	if (arg->type != IMAP_ARG_LIST || arg->n == 0)
		return -1;
	for (i = 0; i < arg->n; i++) {
		if (imap_arg_is(&arg->list[i], "VANISHED")) {
			req->vanished = 1;
			continue;
		}
		if (!imap_arg_is(&arg->list[i], "CHANGEDSINCE") ||
		    i + 1 == arg->n || arg->list[i + 1].type != IMAP_ARG_ATOM)
			return -1;
		req->changedsince = strtoull(arg->list[++i].s, &end, 10);
		if (*end != '\0' || arg->list[i].s[0] < '0' ||
		    arg->list[i].s[0] > '9')
			return -1;
		req->changedsince_set = 1;
		req->items |= FETCH_MODSEQ;
	}
	/* VANISHED only goes with CHANGEDSINCE. */
	return req->vanished && !req->changedsince_set ? -1 : 0;
}

static int
fetch_item(const struct imap_arg *a, struct fetch_req *req)
{
	static const struct { const char *name; int bit; } simple[] = {
		{ "UID", FETCH_UID }, { "FLAGS", FETCH_FLAGS },
		{ "INTERNALDATE", FETCH_INTERNALDATE },
		{ "RFC822.SIZE", FETCH_SIZE }, { "ENVELOPE", FETCH_ENVELOPE },
		{ "BODY", FETCH_BODY }, { "BODYSTRUCTURE", FETCH_BODYSTRUCTURE },
		{ "MODSEQ", FETCH_MODSEQ },
	};
	static const struct { const char *name, *section; int peek; } rfc[] = {
		{ "RFC822", "", 0 }, { "RFC822.HEADER", "HEADER", 1 },
		{ "RFC822.TEXT", "TEXT", 0 },
	};
	struct fetch_section *sec;
	size_t i;

	if (a->type != IMAP_ARG_ATOM)
		return -1;
	for (i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
		if (strcasecmp(a->s, simple[i].name) == 0) {
			req->items |= simple[i].bit;
			return 0;
		}
	for (i = 0; i < sizeof(rfc) / sizeof(rfc[0]); i++)
		if (strcasecmp(a->s, rfc[i].name) == 0) {
			req->secs = xreallocarray(req->secs, req->nsecs + 1,
			    sizeof(*req->secs));
			sec = &req->secs[req->nsecs++];
			memset(sec, 0, sizeof(*sec));
			sec->name = rfc[i].name;
			sec->section = xstrdup(rfc[i].section);
			sec->peek = rfc[i].peek;
			req->sets_seen |= !sec->peek;
			req->items |= FETCH_CONTENT;
			return 0;
		}
	return fetch_section_parse(a->s, req);
}

/* BODY[section]<origin.count> and BODY.PEEK[...] */
static int
fetch_section_parse(const char *s, struct fetch_req *req)
{
	struct fetch_section sec;
	const char *open, *close, *p;
	char *end;

	memset(&sec, 0, sizeof(sec));
	if (strncasecmp(s, "BODY[", 5) == 0)
		open = s + 4;
	else if (strncasecmp(s, "BODY.PEEK[", 10) == 0) {
		open = s + 9;
		sec.peek = 1;
	} else
		return -1;
	if ((close = strrchr(open, ']')) == NULL ||
	    mime_section_valid(open + 1, (size_t)(close - open - 1)) !=
	    MIME_SECTION_OK)
		return -1;
	p = close + 1;
	if (*p == '<') {
		errno = 0;
		sec.origin = strtoull(p + 1, &end, 10);
		if (end == p + 1 || *end != '.' || errno != 0)
			return -1;
		sec.count = strtoull(end + 1, &end, 10);
		if (*end != '>' || end[1] != '\0' || errno != 0 ||
		    sec.count == 0)
			return -1;
		sec.partial = 1;
	} else if (*p != '\0')
		return -1;
	sec.section = xstrndup(open + 1, (size_t)(close - open - 1));
	req->secs = xreallocarray(req->secs, req->nsecs + 1,
	    sizeof(*req->secs));
	req->secs[req->nsecs++] = sec;
	req->sets_seen |= !sec.peek;
	req->items |= FETCH_CONTENT;
	return 0;
}

static void
fetch_req_free(struct fetch_req *req)
{
	size_t i;

	for (i = 0; i < req->nsecs; i++)
		free(req->secs[i].section);
	free(req->secs);
}

int
imap_msg_load(struct imap_session *s, size_t i, struct imap_msgdata *fm)
{
	if (fm->loaded)
		return 0;
	return fetch_msg_parse(s, i, fm, fetch_read_file);
}

/* Message i read by readfn (whole, or its header), in CRLF, parsed. */
static int
fetch_msg_parse(struct imap_session *s, size_t i, struct imap_msgdata *fm,
    int (*readfn)(int, struct buf *))
{
	struct mime_limits lim;
	struct buf raw;
	char err[128];
	int fd;

	if ((fd = imap_msg_open(s, i)) == -1)
		return -1;
	buf_init(&raw);
	if (readfn(fd, &raw) == -1) {
		close(fd);
		buf_free(&raw);
		return -1;
	}
	close(fd);
	buf_init(&fm->crlf);
	fetch_crlf(&fm->crlf, raw.data, raw.len);
	buf_free(&raw);
	mime_limits_default(&lim);
	fm->mime = mime_parse(fm->crlf.data, fm->crlf.len, &lim, err,
	    sizeof(err));
	if (fm->mime == NULL) {
		buf_free(&fm->crlf);
		return -1;
	}
	fm->loaded = 1;
	return 0;
}

/* The whole file in as few reads as its size allows. */
static int
fetch_read_file(int fd, struct buf *out)
{
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) == -1)
		return -1;
	buf_reserve(out, st.st_size > 0 ? (size_t)st.st_size + 1 : 4096);
	for (;;) {
		if (out->size - out->len < 4096)
			buf_reserve(out, out->size);
		n = read(fd, out->data + out->len, out->size - out->len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		out->len += (size_t)n;
	}
	out->data[out->len] = '\0';
	return n < 0 ? -1 : 0;
}

/*
 * Only the header of message i (up to and including the empty line that
 * ends it), parsed as a message of its own: ENVELOPE and the search
 * fields come from the top-level header alone, so they are the same as
 * from the whole file. Nothing else of fm may be used.
 */
static int
fetch_msg_load_header(struct imap_session *s, size_t i,
    struct imap_msgdata *fm)
{
	return fetch_msg_parse(s, i, fm, fetch_read_header);
}

/*
 * Read in chunks until the header's end (or the file's) is in out. Each
 * byte is looked at once or twice, however long its line.
 */
static int
fetch_read_header(int fd, struct buf *out)
{
	const char *end = NULL;
	size_t scan = 0;
	ssize_t n;

	for (;;) {
		buf_reserve(out, FETCH_HEADER_CHUNK);
		n = read(fd, out->data + out->len, FETCH_HEADER_CHUNK);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		out->len += (size_t)n;
		if ((end = fetch_header_end(out->data, out->len, &scan)) != NULL)
			break;
	}
	if (end != NULL)
		out->len = (size_t)(end - out->data);
	out->data[out->len] = '\0';
	return n < 0 ? -1 : 0;
}

/*
 * Just past the empty line ("\n" or "\r\n" at a line start) that ends
 * the header in p[0..len), or NULL; *scan (0 at first) is where the next
 * call, with more bytes, goes on looking.
 */
static const char *
fetch_header_end(const char *p, size_t len, size_t *scan)
{
	const char *q, *end = p + len;

	if (*scan == 0) {
		if (p[0] == '\n')
			return p + 1;
		if (len < 2)
			return NULL;
		if (p[0] == '\r' && p[1] == '\n')
			return p + 2;
	}
	for (q = p + *scan; (q = memchr(q, '\n', (size_t)(end - q))) != NULL;
	    q++) {
		if (end - q >= 2 && q[1] == '\n')
			return q + 2;
		if (end - q >= 3 && q[1] == '\r' && q[2] == '\n')
			return q + 3;
		if (end - q < 3) {
			*scan = (size_t)(q - p);	/* decided by more bytes */
			return NULL;
		}
	}
	*scan = len;
	return NULL;
}

/*
 * LF line ends to CRLF (a CR already there is kept, not doubled), a line
 * at a time with memchr and memcpy: RFC822.SIZE and every offset IMAP
 * counts are of this form.
 */
static void
fetch_crlf(struct buf *out, const char *p, size_t len)
{
	const char *end = p + len, *nl;
	size_t lines = 0, n;
	char *w;

	for (nl = p; (nl = memchr(nl, '\n', (size_t)(end - nl))) != NULL; nl++)
		lines++;
	buf_reserve(out, len + lines);
	w = out->data + out->len;
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			memcpy(w, p, (size_t)(end - p));
			w += end - p;
			break;
		}
		n = (size_t)(nl - p);
		memcpy(w, p, n);
		w += n;
		if (n == 0 || p[n - 1] != '\r')
			*w++ = '\r';
		*w++ = '\n';
		p = nl + 1;
	}
	out->len = (size_t)(w - out->data);
	out->data[out->len] = '\0';
}

void
imap_msg_data_free(struct imap_msgdata *fm)
{
	if (!fm->loaded)
		return;
	mime_free(fm->mime);
	buf_free(&fm->crlf);
}

/*
 * A cache blob: "P2", the CRLF size (8 bytes), then ENVELOPE, BODY,
 * BODYSTRUCTURE and the search fields, each a 4-byte length and the text.
 * "H2" is the same made from the header alone (fetch_msg_load_header):
 * size 0 and BODY, BODYSTRUCTURE empty, which must not be served; the
 * first item that needs them reads the file and makes the "P2" blob.
 * Old "P1" blobs (no search fields) do not parse, so they are made again.
 */
void
imap_cache_blob_make(struct buf *blob, struct imap_msgdata *fm)
{
	fetch_blob_build(blob, fm, 1);
}

static void
fetch_blob_header_make(struct buf *blob, struct imap_msgdata *fm)
{
	fetch_blob_build(blob, fm, 0);
}

static void
fetch_blob_build(struct buf *blob, struct imap_msgdata *fm, int complete)
{
	struct buf part;
	uint64_t vsize = complete ? fm->crlf.len : 0;
	uint32_t len;
	int k;

	buf_reset(blob);
	buf_append(blob, complete ? "P2" : "H2", 2);
	buf_append(blob, &vsize, sizeof(vsize));
	buf_init(&part);
	for (k = 0; k < 4; k++) {
		buf_reset(&part);
		if (k == 0)
			mime_envelope(&part, fm->crlf.data, fm->mime);
		else if (k < 3 && complete)
			mime_bodystructure(&part, fm->crlf.data, fm->mime,
			    k == 2);
		else if (k == 3)
			fetch_blob_fields(&part, fm);
		len = (uint32_t)part.len;
		buf_append(blob, &len, sizeof(len));
		buf_append(blob, part.data ? part.data : "", part.len);
	}
	buf_free(&part);
}

/*
 * The search fields: for each of fetch_search_fields a 4-byte length
 * (FETCH_FIELD_ABSENT when there is no such field) and the first such
 * field's value, RFC 2047 decoded, exactly what SEARCH matches against.
 */
static void
fetch_blob_fields(struct buf *out, struct imap_msgdata *fm)
{
	const struct mime_part *root = fm->mime;
	struct buf raw, dec;
	uint32_t len;
	size_t f;

	buf_init(&raw);
	buf_init(&dec);
	for (f = 0; f < IMAP_CACHE_FIELDS; f++) {
		buf_reset(&dec);
		len = FETCH_FIELD_ABSENT;
		if (mime_header_get(fm->crlf.data + root->header_offset,
		    root->header_len, fetch_search_fields[f], &raw) == 1) {
			mime_header_decode(&dec, raw.data ? raw.data : "",
			    raw.len);
			len = (uint32_t)dec.len;
		}
		buf_append(out, &len, sizeof(len));
		if (len != FETCH_FIELD_ABSENT)
			buf_append(out, dec.data ? dec.data : "", dec.len);
	}
	buf_free(&raw);
	buf_free(&dec);
}

static int
fetch_blob_parse(const struct buf *blob, struct fetch_cached *c)
{
	const char *p = blob->data, *end = blob->data + blob->len;
	uint32_t len;
	int k;

	if (blob->len < 2 + sizeof(c->vsize) || (memcmp(p, "P2", 2) != 0 &&
	    memcmp(p, "H2", 2) != 0))
		return -1;
	c->complete = p[0] == 'P';
	memcpy(&c->vsize, p + 2, sizeof(c->vsize));
	p += 2 + sizeof(c->vsize);
	for (k = 0; k < 4; k++) {
		if ((size_t)(end - p) < sizeof(len))
			return -1;
		memcpy(&len, p, sizeof(len));
		p += sizeof(len);
		if ((size_t)(end - p) < len)
			return -1;
		c->part[k] = p;
		c->len[k] = len;
		p += len;
	}
	return 0;
}

int
imap_cache_field_index(const char *name)
{
	int f;

	for (f = 0; f < IMAP_CACHE_FIELDS; f++)
		if (strcasecmp(name, fetch_search_fields[f]) == 0)
			return f;
	return -1;
}

int
imap_cache_blob_field(const struct buf *blob, int field, const char **val,
    size_t *vlen)
{
	struct fetch_cached c;
	const char *p, *end;
	uint32_t len;
	int f;

	if (field < 0 || field >= IMAP_CACHE_FIELDS ||
	    fetch_blob_parse(blob, &c) == -1)
		return -1;
	p = c.part[3];
	end = p + c.len[3];
	for (f = 0; f <= field; f++) {
		if ((size_t)(end - p) < sizeof(len))
			return -1;
		memcpy(&len, p, sizeof(len));
		p += sizeof(len);
		if (len == FETCH_FIELD_ABSENT) {
			if (f == field)
				return 0;
			continue;
		}
		if ((size_t)(end - p) < len)
			return -1;
		if (f == field) {
			*val = p;
			*vlen = len;
			return 1;
		}
		p += len;
	}
	return -1;
}

/*
 * One message's FETCH response. With a blob (no section asked for), the
 * sizes and structures come from the cache, and are put there if absent.
 */
static int
fetch_one(struct imap_session *s, size_t i, const struct fetch_req *req,
    struct buf *blob, int *dirty)
{
	static const int bits[] = { FETCH_ENVELOPE, FETCH_BODY,
	    FETCH_BODYSTRUCTURE };
	static const char *const names[] = { "ENVELOPE", "BODY",
	    "BODYSTRUCTURE" };
	struct imap_msg *m = &s->msgs[i];
	struct imap_msgdata fm;
	struct fetch_cached c;
	struct buf b;
	const char *sep = "";
	size_t k;
	int flags = req->items & FETCH_FLAGS, cached, head = 0;

	memset(&fm, 0, sizeof(fm));
	cached = blob != NULL && fetch_blob_parse(blob, &c) == 0 &&
	    (c.complete || !(req->items & FETCH_WHOLE));
	if (!cached && (req->items & FETCH_STRUCTURE) &&
	    !(req->items & FETCH_WHOLE)) {
		/* ENVELOPE alone: the header is enough. */
		if (fetch_msg_load_header(s, i, &fm) == -1)
			return errno == ENOENT ? 0 : -1;
		head = 1;
		if (blob != NULL) {
			fetch_blob_header_make(blob, &fm);
			*dirty = 1;
			cached = fetch_blob_parse(blob, &c) == 0;
		}
	}
	if (((req->items & FETCH_CONTENT) || (!cached && (req->items &
	    FETCH_STRUCTURE))) && !fm.loaded && imap_msg_load(s, i, &fm) == -1)
		return errno == ENOENT ? 0 : -1;	/* expunged meanwhile */
	if (blob != NULL && !cached && fm.loaded && !head) {
		imap_cache_blob_make(blob, &fm);
		*dirty = 1;
		cached = fetch_blob_parse(blob, &c) == 0;
	}
	if (req->sets_seen && !s->readonly &&
	    (m->flags & IMAP_FLAG_SEEN) == 0 &&
	    imap_msg_set_flags(s, i, m->flags | IMAP_FLAG_SEEN,
	    m->keywords) == 0)
		flags = 1;
	buf_init(&b);
	buf_printf(&b, "* %zu FETCH (", i + 1);
	if (req->items & FETCH_UID) {
		buf_printf(&b, "UID %u", m->uid);
		sep = " ";
	}
	if (flags) {
		buf_printf(&b, "%sFLAGS ", sep);
		imap_write_flags(s, &b, m);
		sep = " ";
	}
	if ((req->items & FETCH_MODSEQ) || (flags && s->condstore)) {
		buf_printf(&b, "%sMODSEQ (%llu)", sep,
		    (unsigned long long)m->modseq);
		sep = " ";
	}
	if (req->items & FETCH_INTERNALDATE) {
		buf_printf(&b, "%sINTERNALDATE ", sep);
		fetch_date(&b, imap_msg_stat(s, i)->mtime);
		sep = " ";
	}
	if (req->items & FETCH_SIZE) {
		buf_printf(&b, "%sRFC822.SIZE %llu", sep, cached ?
		    (unsigned long long)c.vsize :
		    (unsigned long long)fm.crlf.len);
		sep = " ";
	}
	for (k = 0; k < 3; k++) {
		if ((req->items & bits[k]) == 0)
			continue;
		buf_printf(&b, "%s%s ", sep, names[k]);
		if (cached)
			buf_append(&b, c.part[k], c.len[k]);
		else if (k == 0)
			mime_envelope(&b, fm.crlf.data, fm.mime);
		else
			mime_bodystructure(&b, fm.crlf.data, fm.mime, k == 2);
		sep = " ";
	}
	for (k = 0; k < req->nsecs; k++) {
		buf_puts(&b, sep);
		fetch_content(&b, &fm, &req->secs[k]);
		sep = " ";
	}
	buf_puts(&b, ")\r\n");
	iobuf_write(&s->io, b.data, b.len);
	buf_free(&b);
	imap_msg_data_free(&fm);
	return 0;
}

/* The cache key of message i: its name ("" for one gone, never found). */
static char *
fetch_cache_name(struct imap_session *s, size_t i)
{
	static char gone[] = "";
	const struct imap_msg_file *f = imap_msg_file(s, i);

	return f->name != NULL ? f->name : gone;
}

/*
 * FETCH over the view in chunks: the cache blobs of a chunk are read
 * under one lock, and the ones made while answering stored under one.
 */
static int
fetch_run(struct imap_session *s, const struct imap_seqset *set, int uid,
    const struct fetch_req *req)
{
	size_t idx[FETCH_CHUNK], i = 0, n, k;
	struct buf blobs[FETCH_CHUNK];
	char *names[FETCH_CHUNK];
	int dirty[FETCH_CHUNK], use_cache, any, rc = 0;

	use_cache = (req->items & FETCH_STRUCTURE) &&
	    !(req->items & FETCH_CONTENT);
	for (k = 0; k < FETCH_CHUNK; k++)
		buf_init(&blobs[k]);
	while (i < s->n && rc == 0 && !s->broken) {
		if (imap_overtime(s)) {
			rc = -2;
			break;
		}
		for (n = 0; i < s->n && n < FETCH_CHUNK; i++)
			if (imap_msg_in_set(s, i, set, uid) &&
			    (!req->changedsince_set ||
			    s->msgs[i].modseq > req->changedsince))
				idx[n++] = i;
		for (k = 0; k < n; k++) {
			names[k] = use_cache ? fetch_cache_name(s, idx[k]) :
			    NULL;
			dirty[k] = 0;
		}
		if (use_cache && n > 0 &&
		    imap_cache_load(s->mdfd, names, n, blobs) == -1)
			use_cache = 0;
		/* The limit holds between messages, not only between chunks. */
		for (k = 0; k < n && rc == 0; k++) {
			if (imap_overtime(s))
				rc = -2;
			else if (fetch_one(s, idx[k], req, use_cache ?
			    &blobs[k] : NULL, &dirty[k]) == -1 ||
			    imap_flush_if_full(s) == -1)
				rc = -1;
		}
		for (k = any = 0; use_cache && k < n; k++) {
			names[k] = fetch_cache_name(s, idx[k]);
			if (!dirty[k])
				buf_reset(&blobs[k]);
			any |= dirty[k];
		}
		if (any)
			(void)imap_cache_store(s->mdfd, names, n, blobs);
	}
	for (k = 0; k < FETCH_CHUNK; k++)
		buf_free(&blobs[k]);
	return rc;
}

static void
fetch_content(struct buf *b, struct imap_msgdata *fm,
    const struct fetch_section *sec)
{
	struct buf built;
	const char *data = NULL;
	size_t len = 0, off, n;
	int rc;

	buf_init(&built);
	rc = mime_section(fm->crlf.data, fm->crlf.len, fm->mime, sec->section,
	    strlen(sec->section), &built, &data, &len);
	if (sec->name != NULL)
		buf_printf(b, "%s ", sec->name);
	else {
		buf_puts(b, "BODY[");
		(void)mime_section_normalize(b, sec->section,
		    strlen(sec->section));
		buf_putc(b, ']');
		if (sec->partial)
			buf_printf(b, "<%llu>", sec->origin);
		buf_putc(b, ' ');
	}
	if (rc != MIME_SECTION_OK) {
		buf_puts(b, "\"\"");
		buf_free(&built);
		return;
	}
	off = 0;
	n = len;
	if (sec->partial)
		mime_partial(len, sec->origin, sec->count, &off, &n);
	buf_printf(b, "{%zu}\r\n", n);
	buf_append(b, data + off, n);
	buf_free(&built);
}

static void
fetch_date(struct buf *b, time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	buf_printf(b, "\"%02d-%s-%04d %02d:%02d:%02d +0000\"", tm.tm_mday,
	    fetch_months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	    tm.tm_sec);
}

/* STORE set [(UNCHANGEDSINCE modseq)] [+|-]FLAGS[.SILENT] flags */
int
imap_store(struct imap_session *s, struct imap_command *cmd,
    const struct imap_arg *args, size_t nargs, int uid)
{
	struct store_req st;
	struct imap_seqset set;
	int rc;

	size_t o = 1;		/* the item's index: after a modifier, 2 */

	memset(&st, 0, sizeof(st));
	if (nargs >= 2 && args[1].type == IMAP_ARG_LIST) {
		if (store_unchangedsince(&args[1], &st.unchangedsince) == -1) {
			imap_reply(s, cmd, "BAD Invalid STORE modifier.");
			return IMAP_CMD_BAD;
		}
		st.conditional = 1;
		s->condstore = 1;
		o = 2;
	}
	if (nargs < o + 2 || args[o].type != IMAP_ARG_ATOM ||
	    store_item(args[o].s, &st) == -1) {
		imap_reply(s, cmd, "BAD STORE takes a set, an item and flags.");
		return IMAP_CMD_BAD;
	}
	if (imap_seqset_arg(s, cmd, &args[0], &set) == -1)
		return IMAP_CMD_BAD;
	memset(&st.list, 0, sizeof(st.list));
	st.list.type = IMAP_ARG_LIST;
	st.list.list = (struct imap_arg *)&args[o + 1];
	st.list.n = nargs - o - 1;
	if (nargs == o + 2 && args[o + 1].type == IMAP_ARG_LIST)
		st.list = args[o + 1];
	if (s->readonly) {
		imap_seqset_free(&set);
		imap_reply(s, cmd, "NO [READ-ONLY] Mailbox is read-only.");
		return IMAP_CMD_OK;
	}
	if ((rc = imap_flag_list(&st.list, s->mdfd, &s->idx, &st.flags,
	    &st.kw)) < 0) {
		imap_seqset_free(&set);
		imap_reply(s, cmd, rc == -2 ? "NO [LIMIT] Too many keywords." :
		    "BAD Invalid flags.");
		return rc == -2 ? IMAP_CMD_OK : IMAP_CMD_BAD;
	}
	store_apply(s, &set, uid, &st);
	store_report(s, cmd, uid, &st);
	imap_seqset_free(&set);
	free(st.touched);
	free(st.modified);
	return IMAP_CMD_OK;
}

static int
store_unchangedsince(const struct imap_arg *arg, unsigned long long *v)
{
	char *end;

	if (arg->n != 2 || !imap_arg_is(&arg->list[0], "UNCHANGEDSINCE") ||
	    arg->list[1].type != IMAP_ARG_ATOM || arg->list[1].s[0] < '0' ||
	    arg->list[1].s[0] > '9')
		return -1;
	*v = strtoull(arg->list[1].s, &end, 10);
	return *end == '\0' ? 0 : -1;
}

static int
store_item(const char *item, struct store_req *st)
{
	st->mode = *item == '+' ? 1 : *item == '-' ? -1 : 0;
	item += st->mode != 0;
	st->silent = strcasecmp(item, "FLAGS.SILENT") == 0;
	return st->silent || strcasecmp(item, "FLAGS") == 0 ? 0 : -1;
}

/* Change the files; note which messages were touched or refused. */
static void
store_apply(struct imap_session *s, const struct imap_seqset *set, int uid,
    struct store_req *st)
{
	unsigned nf;
	uint32_t nk;
	size_t i;

	st->touched = xreallocarray(NULL, s->n + 1, sizeof(*st->touched));
	st->modified = xreallocarray(NULL, s->n + 1, sizeof(*st->modified));
	for (i = 0; i < s->n; i++) {
		struct imap_msg *m = &s->msgs[i];

		if (!imap_msg_in_set(s, i, set, uid))
			continue;
		if (st->conditional && m->modseq > st->unchangedsince) {
			st->modified[st->nmodified++] = uid ? m->uid :
			    (uint32_t)(i + 1);
			continue;
		}
		nf = st->mode > 0 ? m->flags | st->flags : st->mode < 0 ?
		    m->flags & ~st->flags : st->flags;
		nk = st->mode > 0 ? m->keywords | st->kw : st->mode < 0 ?
		    m->keywords & ~st->kw : st->kw;
		if ((nf != m->flags || nk != m->keywords) &&
		    imap_msg_set_flags(s, i, nf, nk) == -1 && errno != ENOENT)
			log_warn("imap(%s): store flags", s->user);
		st->touched[st->ntouched++] = i;
	}
	if (s->condstore)
		store_modseqs(s);
}

/* The new MODSEQs: sync the index (nothing moves) and copy them. */
static void
store_modseqs(struct imap_session *s)
{
	struct imap_index idx = { 0 };
	size_t i, j = 0;

	if (imap_index_sync(s->mdfd, &idx, 0) == -1)
		return;
	for (i = 0; i < s->n; i++) {
		while (j < idx.n && idx.msgs[j].uid < s->msgs[i].uid)
			j++;
		if (j < idx.n && idx.msgs[j].uid == s->msgs[i].uid)
			s->msgs[i].modseq = idx.msgs[j].modseq;
	}
	imap_index_free(&idx);
}

static void
store_report(struct imap_session *s, struct imap_command *cmd, int uid,
    const struct store_req *st)
{
	struct buf b;
	size_t k;

	buf_init(&b);
	for (k = 0; k < st->ntouched; k++) {
		const struct imap_msg *m = &s->msgs[st->touched[k]];

		if (st->silent && !st->conditional)
			continue;
		buf_reset(&b);
		buf_printf(&b, "* %zu FETCH (", st->touched[k] + 1);
		if (uid)
			buf_printf(&b, "UID %u ", m->uid);
		if (!st->silent) {
			buf_puts(&b, "FLAGS ");
			imap_write_flags(s, &b, m);
			buf_putc(&b, ' ');
		}
		if (s->condstore)
			buf_printf(&b, "MODSEQ (%llu) ",
			    (unsigned long long)m->modseq);
		b.data[--b.len] = '\0';
		buf_puts(&b, ")\r\n");
		iobuf_write(&s->io, b.data, b.len);
	}
	if (st->nmodified > 0) {
		buf_reset(&b);
		imap_uid_set(&b, st->modified, st->nmodified);
		imap_reply(s, cmd, "OK [MODIFIED %s] Conditional STORE failed.",
		    b.data);
	} else
		imap_reply(s, cmd, "OK Store completed.");
	buf_free(&b);
}
