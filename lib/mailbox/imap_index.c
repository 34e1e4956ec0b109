/*
 * imap_index: the per-Maildir IMAP index (see imap_index.h). One sync runs
 * under an exclusive flock on IMAP_INDEX_LOCK: list new/ and cur/ (names
 * only), walk the message records in key order beside the sorted names
 * (one cursor pass, no lookup per file), give unknown base names the next
 * UIDs, bump the MODSEQ of messages whose flags changed, and drop records
 * whose files are gone. A record keeps its file's size and mtime, so only
 * files not seen before are stat'd, and not those whose names give the
 * size (",S="): their mtime is -1 until a reader stats the file. A record
 * missing from a scan is looked for in a second scan before it is dropped,
 * since readdir may skip a file renamed (flag change) while it runs. A
 * sync that changes nothing writes nothing.
 * Security: the Maildir belongs to the user; the index and lock files are
 * opened relative to it without following symlinks, and a damaged index
 * is replaced, never trusted: record sizes are checked on every read.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <db.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/xmalloc.h"
#include "mailbox/imap_index.h"
#include "mailbox/maildir.h"
#include "mailbox/uidlist.h"

#define IMAP_INDEX_VERSION	1
#define IMAP_KEY_META		"@meta"
#define IMAP_KEY_KEYWORDS	"@keywords"
#define IMAP_META_LEN		20	/* version, uidvalidity, uidnext, modseq */
#define IMAP_REC_LEN		12	/* uid, modseq; then the flags text */
/*
 * After uid and modseq, IMAP_REC_STAT, the file's size and mtime (8 bytes
 * each), then the flags text. Records written before had the flags text
 * right after the modseq; it starts with ':' or is empty, never with
 * IMAP_REC_STAT, and such a record gets its stat data at the next sync.
 */
#define IMAP_REC_STAT		'\001'
#define IMAP_REC_STAT_LEN	17

static const char imap_flag_letters[] = "DFRST";

struct imap_ent {
	struct maildir_entry e;	/* e.size -1: not stat'd */
	const char *base;	/* inside e.name, after "new/" or "cur/" */
	size_t	 baselen;
	size_t	 order;
	/* From the message's record, when there is one. */
	int	 known;
	int	 has_stat;	/* the record holds size and mtime */
	int	 same_info;	/* its flags text is the name's */
	int	 same_moved;	/* ... is ":2,", the name's once out of new/ */
	uint32_t uid;
	uint64_t modseq;
	off_t	 size;
	time_t	 mtime;
};

struct imap_sync {
	int	 mdfd;
	DB	*db;
	struct imap_index *idx;
	struct imap_ent *ents;
	size_t	 n;
	char	**missing;	/* base names of records with no file */
	size_t	 nmissing;
	int	 fresh;		/* the index was (re)created */
	int	 changed;	/* something to write */
	struct uidlist ul;
	int	 have_ul;
};

static int	imap_index_lock(int);
static DB	*imap_index_open(int, int *);
static DB	*imap_index_open_at(int, int);
static int	imap_cwd_enter(int);
static void	imap_cwd_leave(int);
static int	imap_meta_load(struct imap_sync *);
static void	imap_meta_store(struct imap_sync *);
static int	imap_has_records(DB *);
static void	imap_keywords_load(DB *, struct imap_index *);
static void	imap_keywords_store(DB *, const struct imap_index *);
static int	imap_keywords_import(int, struct imap_index *);
static int	imap_scan(struct imap_sync *);
static int	imap_merge(struct imap_sync *);
static void	imap_ent_known(struct imap_ent *, const DBT *);
static int	imap_base_cmp(const char *, size_t, const char *, size_t);
static void	imap_missing_free(struct imap_sync *);
static void	imap_missing_drop(struct imap_sync *);
static int	imap_ent_cmp(const void *, const void *);
static int	imap_msg_cmp(const void *, const void *);
static int	imap_new_cmp(const void *, const void *);
static void	imap_name_time(const char *, unsigned long long *,
		    unsigned long long *);
static int	imap_name_size(const char *, size_t, off_t *);
static void	imap_build(struct imap_sync *, int);
static void	imap_build_one(struct imap_sync *, struct imap_ent *, int,
		    uint32_t *);
static void	imap_rec_put(struct imap_sync *, const char *, size_t,
		    const struct imap_index_msg *);
static int	imap_db_get(DB *, const void *, size_t, DBT *);
static void	imap_db_put(DB *, const void *, size_t, const void *, size_t);
static char	*imap_rec_key(const char *, size_t, size_t *);
static void	imap_cache_drop(DB *, const char *, size_t);
static void	imap_cache_key(struct buf *, const char *);

int
imap_index_sync(int mdfd, struct imap_index *idx, int move_new)
{
	struct imap_sync s;
	int lockfd, cwd = -1, rc = -1, save;

	memset(&s, 0, sizeof(s));
	s.mdfd = mdfd;
	s.idx = idx;
	imap_index_free(idx);
	if ((lockfd = imap_index_lock(mdfd)) == -1)
		return -1;
	if ((cwd = imap_cwd_enter(mdfd)) == -1 ||
	    (s.db = imap_index_open(mdfd, &s.fresh)) == NULL)
		goto out;
	if (imap_meta_load(&s) == -1)
		goto out;
	imap_keywords_load(s.db, idx);
	if (s.fresh && idx->nkeywords == 0 && imap_keywords_import(mdfd, idx))
		imap_keywords_store(s.db, idx);
	s.changed = s.fresh;
	if (imap_scan(&s) == -1 || imap_merge(&s) == -1)
		goto out;
	if (s.nmissing > 0) {
		/* A rename may have hidden them from readdir: look again. */
		imap_missing_free(&s);
		if (imap_scan(&s) == -1 || imap_merge(&s) == -1)
			goto out;
		imap_missing_drop(&s);
	}
	imap_build(&s, move_new);
	qsort(idx->msgs, idx->n, sizeof(*idx->msgs), imap_msg_cmp);
	rc = 0;
	if (s.changed) {
		imap_meta_store(&s);
		rc = s.db->sync(s.db, 0) == 0 ? 0 : -1;
	}
out:
	save = errno;
	if (s.db != NULL && s.db->close(s.db, 0) != 0 && rc == 0) {
		save = EIO;
		rc = -1;
	}
	imap_cwd_leave(cwd);
	while (s.n > 0)
		free(s.ents[--s.n].e.name);
	free(s.ents);
	imap_missing_free(&s);
	if (s.have_ul)
		uidlist_free(&s.ul);
	close(lockfd);
	errno = save;
	return rc;
}

/* Block until the index is ours; the kernel unlocks if we die. */
static int
imap_index_lock(int mdfd)
{
	struct stat st;
	int fd, save;

	fd = openat(mdfd, IMAP_INDEX_LOCK, O_RDWR | O_CREAT | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		save = errno ? errno : EINVAL;
		close(fd);
		errno = save;
		return -1;
	}
	while (flock(fd, LOCK_EX) == -1) {
		if (errno != EINTR) {
			save = errno;
			close(fd);
			errno = save;
			return -1;
		}
	}
	return fd;
}

/* Open the index, replacing it if it does not open as ours. */
static DB *
imap_index_open(int mdfd, int *fresh)
{
	struct stat st;
	DB *db;

	*fresh = fstatat(mdfd, IMAP_INDEX_NAME, &st, AT_SYMLINK_NOFOLLOW) ==
	    -1 || !S_ISREG(st.st_mode) || st.st_size == 0;
	if (*fresh)
		(void)unlinkat(mdfd, IMAP_INDEX_NAME, 0);
	if ((db = imap_index_open_at(mdfd, 1)) != NULL || *fresh)
		return db;
	*fresh = 1;
	(void)unlinkat(mdfd, IMAP_INDEX_NAME, 0);
	return imap_index_open_at(mdfd, 1);
}

/*
 * Berkeley DB opens (and, closing a changed database, reopens) its file
 * by path, so every use runs with the Maildir as the working directory:
 * imap_cwd_enter .. imap_cwd_leave around each public function.
 */
static int
imap_cwd_enter(int mdfd)
{
	int cwd;

	if ((cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if (fchdir(mdfd) == -1) {
		close(cwd);
		return -1;
	}
	return cwd;
}

static void
imap_cwd_leave(int cwd)
{
	int save = errno;

	if (cwd != -1) {
		(void)fchdir(cwd);
		close(cwd);
	}
	errno = save;
}

static DB *
imap_index_open_at(int mdfd, int create)
{
	DB *db = NULL;
	int rc;

	(void)mdfd;
	if ((rc = db_create(&db, NULL, 0)) != 0) {
		errno = rc > 0 ? rc : EIO;
		return NULL;
	}
	db->set_errfile(db, NULL);
	rc = db->open(db, NULL, IMAP_INDEX_NAME, NULL, DB_BTREE,
	    create ? DB_CREATE : 0, 0600);
	if (rc != 0) {
		db->close(db, 0);
		errno = rc > 0 ? rc : EINVAL;
		return NULL;
	}
	return db;
}

/* The header record; a new index starts a UIDVALIDITY (or imports one). */
static int
imap_meta_load(struct imap_sync *s)
{
	unsigned char meta[IMAP_META_LEN];
	uint32_t version;
	DBT v;

	int rc = s->fresh ? 0 : imap_db_get(s->db, IMAP_KEY_META,
	    sizeof(IMAP_KEY_META) - 1, &v);

	if (rc == 1 && v.size == IMAP_META_LEN) {
		memcpy(meta, v.data, sizeof(meta));
		memcpy(&version, meta, 4);
		memcpy(&s->idx->uidvalidity, meta + 4, 4);
		memcpy(&s->idx->uidnext, meta + 8, 4);
		memcpy(&s->idx->highestmodseq, meta + 12, 8);
		if (version == IMAP_INDEX_VERSION && s->idx->uidvalidity != 0 &&
		    s->idx->uidnext != 0)
			return 0;
	}
	/*
	 * No header yet (a keyword was added before the first sync): a new
	 * index, kept. A bad header: nothing in it can be trusted any more.
	 */
	if (rc == 0 && !s->fresh && imap_has_records(s->db) == 0)
		s->fresh = 1;
	if (!s->fresh) {
		s->db->close(s->db, 0);
		(void)unlinkat(s->mdfd, IMAP_INDEX_NAME, 0);
		if ((s->db = imap_index_open_at(s->mdfd, 1)) == NULL)
			return -1;
	}
	s->fresh = 1;
	s->idx->rebuilt = 1;
	s->idx->uidvalidity = (uint32_t)time(NULL);
	s->idx->uidnext = 1;
	s->idx->highestmodseq = 1;
	if (uidlist_load(s->mdfd, IMAP_UIDLIST_MAX, &s->ul) == 1) {
		s->have_ul = 1;
		s->idx->uidvalidity = s->ul.uidvalidity;
		s->idx->uidnext = s->ul.nextuid > 0 ? s->ul.nextuid : 1;
	}
	return 0;
}

/* 1 when the database holds message records, 0 if none, -1 on error. */
static int
imap_has_records(DB *db)
{
	DBC *cur;
	DBT k, v;
	int rc, found = 0;

	if (db->cursor(db, NULL, &cur, 0) != 0)
		return -1;
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	while (!found && (rc = cur->get(cur, &k, &v, DB_NEXT)) == 0)
		found = k.size > 2 && memcmp(k.data, "m:", 2) == 0;
	cur->close(cur);
	return found;
}

static void
imap_meta_store(struct imap_sync *s)
{
	unsigned char meta[IMAP_META_LEN];
	uint32_t version = IMAP_INDEX_VERSION;

	memcpy(meta, &version, 4);
	memcpy(meta + 4, &s->idx->uidvalidity, 4);
	memcpy(meta + 8, &s->idx->uidnext, 4);
	memcpy(meta + 12, &s->idx->highestmodseq, 8);
	imap_db_put(s->db, IMAP_KEY_META, sizeof(IMAP_KEY_META) - 1, meta,
	    sizeof(meta));
}

/* Keywords: NUL-separated names, the i-th is Maildir letter 'a' + i. */
static void
imap_keywords_load(DB *db, struct imap_index *idx)
{
	const char *p, *end;
	size_t len;
	DBT v;

	if (imap_db_get(db, IMAP_KEY_KEYWORDS, sizeof(IMAP_KEY_KEYWORDS) - 1,
	    &v) != 1)
		return;
	p = v.data;
	end = p + v.size;
	while (p < end && idx->nkeywords < IMAP_KEYWORDS_MAX) {
		len = strnlen(p, (size_t)(end - p));
		if (len == 0 || len > IMAP_KEYWORD_LEN_MAX)
			break;
		idx->keywords[idx->nkeywords++] = xstrndup(p, len);
		p += len + 1;
	}
}

static void
imap_keywords_store(DB *db, const struct imap_index *idx)
{
	struct buf b;
	size_t i;

	buf_init(&b);
	for (i = 0; i < idx->nkeywords; i++)
		buf_append(&b, idx->keywords[i], strlen(idx->keywords[i]) + 1);
	imap_db_put(db, IMAP_KEY_KEYWORDS, sizeof(IMAP_KEY_KEYWORDS) - 1,
	    b.data ? b.data : "", b.len);
	buf_free(&b);
}

/*
 * Dovecot's dovecot-keywords ("<letter index> <name>" lines) for a new
 * index, so a migrated Maildir's keyword letters keep their names. Only
 * indexes 0.. without a gap are taken. 1 when any was imported.
 */
static int
imap_keywords_import(int mdfd, struct imap_index *idx)
{
	char line[IMAP_KEYWORD_LEN_MAX + 16], *name, *end;
	char *names[IMAP_KEYWORDS_MAX] = { NULL };
	unsigned long n;
	size_t i;
	FILE *f;
	int fd;

	fd = openat(mdfd, "dovecot-keywords", O_RDONLY | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC);
	if (fd == -1 || (f = fdopen(fd, "r")) == NULL) {
		if (fd != -1)
			close(fd);
		return 0;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		n = strtoul(line, &end, 10);
		if (end == line || *end != ' ' || n >= IMAP_KEYWORDS_MAX ||
		    names[n] != NULL)
			continue;
		name = end + 1;
		if (*name == '\0' || *name == '\\' ||
		    strpbrk(name, " ()[]{}%*\"\\") != NULL)
			continue;
		names[n] = xstrdup(name);
	}
	fclose(f);
	for (i = 0; i < IMAP_KEYWORDS_MAX && names[i] != NULL; i++)
		idx->keywords[idx->nkeywords++] = names[i];
	for (; i < IMAP_KEYWORDS_MAX; i++)
		free(names[i]);
	return idx->nkeywords > 0;
}

/* Append one scan of the Maildir to s->ents (a second one may follow). */
static int
imap_scan(struct imap_sync *s)
{
	struct maildir_entry *e;
	size_t n, i;
	char *colon;

	if (maildir_scan_opts(s->mdfd, MAILDIR_SCAN_NOSTAT |
	    MAILDIR_SCAN_UNSORTED, &e, &n) == -1)
		return -1;
	s->ents = xreallocarray(s->ents, s->n + n + 1, sizeof(*s->ents));
	for (i = 0; i < n; i++) {
		struct imap_ent *x = &s->ents[s->n];

		memset(x, 0, sizeof(*x));
		x->e = e[i];
		x->base = e[i].name + 4;
		colon = strchr(x->base, ':');
		x->baselen = colon ? (size_t)(colon - x->base) :
		    strlen(x->base);
		x->order = s->n++;
	}
	free(e);	/* the names now belong to s->ents */
	qsort(s->ents, s->n, sizeof(*s->ents), imap_ent_cmp);
	/* One entry per base name: the latest seen (cur/ after new/). */
	for (i = n = 0; i < s->n; i++) {
		if (i + 1 < s->n && s->ents[i].baselen ==
		    s->ents[i + 1].baselen && memcmp(s->ents[i].base,
		    s->ents[i + 1].base, s->ents[i].baselen) == 0) {
			free(s->ents[i].e.name);
			continue;
		}
		s->ents[n++] = s->ents[i];
	}
	s->n = n;
	return 0;
}

/*
 * The message records ("m:" + base name, in key order) beside the sorted
 * entries: a record with an entry fills it in, one without is missing.
 * Berkeley DB's default btree order is the entries' order (bytes, then
 * the shorter first).
 */
static int
imap_merge(struct imap_sync *s)
{
	DBC *cur;
	DBT k, v;
	size_t j = 0, i;
	int rc, c;

	for (i = 0; i < s->n; i++)
		s->ents[i].known = 0;
	if (s->fresh)
		return 0;
	if (s->db->cursor(s->db, NULL, &cur, 0) != 0)
		return -1;
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = "m:";
	k.size = 2;
	rc = cur->get(cur, &k, &v, DB_SET_RANGE);
	while (rc == 0 && k.size >= 2 && memcmp(k.data, "m:", 2) == 0) {
		const char *kb = (const char *)k.data + 2;
		size_t kl = k.size - 2;

		c = 1;
		while (j < s->n && (c = imap_base_cmp(s->ents[j].base,
		    s->ents[j].baselen, kb, kl)) < 0)
			j++;
		if (j < s->n && c == 0)
			imap_ent_known(&s->ents[j++], &v);
		else {
			s->missing = xreallocarray(s->missing, s->nmissing + 1,
			    sizeof(*s->missing));
			s->missing[s->nmissing++] = xstrndup(kb, kl);
		}
		rc = cur->get(cur, &k, &v, DB_NEXT);
	}
	cur->close(cur);
	return rc == 0 || rc == DB_NOTFOUND ? 0 : -1;
}

/* What the record v says about x's file. */
static void
imap_ent_known(struct imap_ent *x, const DBT *v)
{
	const char *rest = (const char *)v->data + IMAP_REC_LEN;
	const char *info = strchr(x->e.name, ':');
	size_t rlen, ilen = info ? strlen(info) : 0;
	int64_t size, mtime;

	if (v->size < IMAP_REC_LEN)
		return;		/* damaged: the file gets a new UID */
	rlen = v->size - IMAP_REC_LEN;
	x->known = 1;
	memcpy(&x->uid, v->data, 4);
	memcpy(&x->modseq, (const char *)v->data + 4, 8);
	x->has_stat = 0;
	if (rlen >= IMAP_REC_STAT_LEN && rest[0] == IMAP_REC_STAT) {
		memcpy(&size, rest + 1, 8);
		memcpy(&mtime, rest + 9, 8);
		x->size = (off_t)size;
		x->mtime = (time_t)mtime;
		x->has_stat = 1;
		rest += IMAP_REC_STAT_LEN;
		rlen -= IMAP_REC_STAT_LEN;
	}
	x->same_info = rlen == ilen && memcmp(rest, info ? info : "", ilen) ==
	    0;
	x->same_moved = rlen == 3 && memcmp(rest, ":2,", 3) == 0;
}

static int
imap_base_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static void
imap_missing_free(struct imap_sync *s)
{
	while (s->nmissing > 0)
		free(s->missing[--s->nmissing]);
	free(s->missing);
	s->missing = NULL;
}

/* Still missing after the second scan: expunged. */
static void
imap_missing_drop(struct imap_sync *s)
{
	size_t i, klen;
	char *key;
	DBT k;

	for (i = 0; i < s->nmissing; i++) {
		key = imap_rec_key(s->missing[i], strlen(s->missing[i]), &klen);
		memset(&k, 0, sizeof(k));
		k.data = key;
		k.size = (u_int32_t)klen;
		(void)s->db->del(s->db, NULL, &k, 0);
		imap_cache_drop(s->db, s->missing[i], strlen(s->missing[i]));
		free(key);
	}
	if (s->nmissing > 0) {
		s->idx->highestmodseq++;
		s->changed = 1;
	}
}

static int
imap_ent_cmp(const void *a, const void *b)
{
	const struct imap_ent *x = a, *y = b;
	size_t n = x->baselen < y->baselen ? x->baselen : y->baselen;
	int c;

	if ((c = memcmp(x->base, y->base, n)) != 0)
		return c;
	if (x->baselen != y->baselen)
		return x->baselen < y->baselen ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int
imap_msg_cmp(const void *a, const void *b)
{
	const struct imap_index_msg *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* A message without a UID yet, with the time its name gives it. */
struct imap_new {
	unsigned long long secs, usec;
	struct imap_index_msg *m;
};

/*
 * New messages by the time in their names, "<secs>.M<usec>P<pid>...",
 * numerically (usec is not zero-padded), parsed once before the sort.
 */
static int
imap_new_cmp(const void *a, const void *b)
{
	const struct imap_new *x = a, *y = b;

	if (x->secs != y->secs)
		return x->secs < y->secs ? -1 : 1;
	if (x->usec != y->usec)
		return x->usec < y->usec ? -1 : 1;
	return strcmp(x->m->name + 4, y->m->name + 4);
}

static void
imap_name_time(const char *base, unsigned long long *secs,
    unsigned long long *usec)
{
	char *end;

	*secs = strtoull(base, &end, 10);
	*usec = 0;
	if (end[0] == '.' && end[1] == 'M')
		*usec = strtoull(end + 2, NULL, 10);
}

/*
 * The ",S=<size>" of a Dovecot-style base name (the file's size on disk,
 * as Dovecot and imap_base_name write it): 1 and *size, or 0. A reader
 * that needs the exact size or the mtime stats the file.
 */
static int
imap_name_size(const char *base, size_t len, off_t *size)
{
	const char *p, *end = base + len;
	long long v = 0;

	for (p = base; p + 3 <= end; p++) {
		if (p[0] != ',' || p[1] != 'S' || p[2] != '=')
			continue;
		p += 3;
		if (p == end || *p < '0' || *p > '9')
			return 0;
		for (; p < end && *p >= '0' && *p <= '9'; p++) {
			if (v > (LLONG_MAX - 9) / 10)
				return 0;
			v = v * 10 + (*p - '0');
		}
		if (p != end && *p != ',')
			return 0;
		*size = (off_t)v;
		return 1;
	}
	return 0;
}

/* Known files keep their UID; new ones get UIDs in name (time) order. */
static void
imap_build(struct imap_sync *s, int move_new)
{
	struct imap_new *news;
	uint32_t maxuid = 0;
	size_t i, nnew;

	s->idx->msgs = xreallocarray(NULL, s->n + 1, sizeof(*s->idx->msgs));
	for (i = 0; i < s->n; i++)
		imap_build_one(s, &s->ents[i], move_new, &maxuid);
	if (maxuid >= s->idx->uidnext)
		s->idx->uidnext = maxuid + 1;
	/* New messages get UIDs in arrival order. */
	news = xreallocarray(NULL, s->idx->n + 1, sizeof(*news));
	for (i = nnew = 0; i < s->idx->n; i++)
		if (s->idx->msgs[i].uid == 0) {
			news[nnew].m = &s->idx->msgs[i];
			imap_name_time(news[nnew].m->name + 4, &news[nnew].secs,
			    &news[nnew].usec);
			nnew++;
		}
	qsort(news, nnew, sizeof(*news), imap_new_cmp);
	for (i = 0; i < nnew; i++) {
		struct imap_index_msg *m = news[i].m;
		const char *info = strchr(m->name, ':');

		m->uid = s->idx->uidnext++;
		m->modseq = ++s->idx->highestmodseq;
		imap_rec_put(s, m->name + 4, info ? (size_t)(info - m->name -
		    4) : strlen(m->name + 4), m);
	}
	free(news);
}

/*
 * One file: take its record's data, note a flag change, move it out of
 * new/, stat it if the index has not seen it. A file that is gone before
 * it got a UID is left for the next sync.
 */
static void
imap_build_one(struct imap_sync *s, struct imap_ent *x, int move_new,
    uint32_t *maxuid)
{
	struct imap_index_msg *m = &s->idx->msgs[s->idx->n];
	const char *info = strchr(x->e.name, ':');
	const struct uidlist_rec *ur;
	int same = x->same_info, stat_ok = 1;
	struct stat st;
	char *to;

	memset(m, 0, sizeof(*m));
	if (move_new && strncmp(x->e.name, "new/", 4) == 0 && info == NULL) {
		to = xasprintf("cur/%s:2,", x->base);
		if (renameat(s->mdfd, x->e.name, s->mdfd, to) == 0) {
			free(x->e.name);
			x->e.name = to;
			x->base = to + 4;
			m->recent = 1;
			same = x->same_moved;
		} else
			free(to);
	}
	if (x->known && x->has_stat) {
		m->size = x->size;
		m->mtime = x->mtime;
	} else if (x->e.size != -1) {
		m->size = x->e.size;
		m->mtime = x->e.mtime;
	} else if (!x->known && imap_name_size(x->base, x->baselen,
	    &m->size)) {
		m->mtime = -1;	/* not stat'd: the reader does when it must */
	} else if (fstatat(s->mdfd, x->e.name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode)) {
		m->size = st.st_size;
		m->mtime = st.st_mtime;
	} else if (!x->known)
		return;
	else
		stat_ok = 0;	/* renamed meanwhile: the next sync looks */
	s->idx->n++;
	m->name = x->e.name;	/* moved: the entry's copy is not freed */
	x->e.name = NULL;
	imap_flags_parse(m->name, &m->flags, &m->keywords);
	if (x->known) {
		m->uid = x->uid;
		m->modseq = x->modseq;
		if ((same && x->has_stat) || !stat_ok)
			goto placed;
		if (!same)
			m->modseq = ++s->idx->highestmodseq;
	} else if (s->have_ul && (ur = uidlist_lookup(&s->ul, x->base,
	    x->baselen)) != NULL && ur->uid != 0) {
		m->uid = ur->uid;	/* Dovecot's UID, kept */
		m->modseq = ++s->idx->highestmodseq;
	} else
		return;		/* a UID once all known ones are placed */
	imap_rec_put(s, x->base, x->baselen, m);
placed:
	if (m->uid > *maxuid)
		*maxuid = m->uid;
}

/* The record of m, whose base name is base (len bytes). */
static void
imap_rec_put(struct imap_sync *s, const char *base, size_t len,
    const struct imap_index_msg *m)
{
	const char *info = strchr(m->name, ':');
	size_t klen, ilen = info ? strlen(info) : 0;
	int64_t size = (int64_t)m->size, mtime = (int64_t)m->mtime;
	char *key, *val;

	key = imap_rec_key(base, len, &klen);
	val = xmalloc(IMAP_REC_LEN + IMAP_REC_STAT_LEN + ilen + 1);
	memcpy(val, &m->uid, 4);
	memcpy(val + 4, &m->modseq, 8);
	val[IMAP_REC_LEN] = IMAP_REC_STAT;
	memcpy(val + IMAP_REC_LEN + 1, &size, 8);
	memcpy(val + IMAP_REC_LEN + 9, &mtime, 8);
	memcpy(val + IMAP_REC_LEN + IMAP_REC_STAT_LEN, info ? info : "", ilen);
	imap_db_put(s->db, key, klen, val, IMAP_REC_LEN + IMAP_REC_STAT_LEN +
	    ilen);
	s->changed = 1;
	free(val);
	free(key);
}

static char *
imap_rec_key(const char *base, size_t len, size_t *klen)
{
	char *key = xmalloc(len + 3);

	memcpy(key, "m:", 2);
	memcpy(key + 2, base, len);
	key[len + 2] = '\0';
	*klen = len + 2;
	return key;
}

/* 1 found (v points into DB memory until the next call), 0 not, -1 error. */
static int
imap_db_get(DB *db, const void *key, size_t klen, DBT *v)
{
	DBT k;
	int rc;

	memset(&k, 0, sizeof(k));
	memset(v, 0, sizeof(*v));
	k.data = (void *)key;
	k.size = (u_int32_t)klen;
	rc = db->get(db, NULL, &k, v, 0);
	return rc == 0 ? 1 : rc == DB_NOTFOUND ? 0 : -1;
}

static void
imap_db_put(DB *db, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	DBT k, v;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)key;
	k.size = (u_int32_t)klen;
	v.data = (void *)val;
	v.size = (u_int32_t)vlen;
	(void)db->put(db, NULL, &k, &v, 0);
}

int
imap_index_keyword(int mdfd, struct imap_index *idx, const char *name,
    int create)
{
	size_t i;
	int lockfd, fresh, cwd, rc = -1;
	DB *db;

	for (i = 0; i < idx->nkeywords; i++)
		if (strcasecmp(idx->keywords[i], name) == 0)
			return (int)i;
	if (!create || strlen(name) == 0 ||
	    strlen(name) > IMAP_KEYWORD_LEN_MAX)
		return -1;
	if ((lockfd = imap_index_lock(mdfd)) == -1)
		return -1;
	if ((cwd = imap_cwd_enter(mdfd)) != -1 &&
	    (db = imap_index_open(mdfd, &fresh)) != NULL) {
		/* Another session may have added keywords meanwhile. */
		while (idx->nkeywords > 0)
			free(idx->keywords[--idx->nkeywords]);
		imap_keywords_load(db, idx);
		for (i = 0; i < idx->nkeywords; i++)
			if (strcasecmp(idx->keywords[i], name) == 0)
				break;
		if (i == idx->nkeywords && i < IMAP_KEYWORDS_MAX) {
			idx->keywords[idx->nkeywords++] = xstrdup(name);
			imap_keywords_store(db, idx);
		}
		if (i < idx->nkeywords)
			rc = (int)i;
		if (db->close(db, 0) != 0)
			rc = -1;
	}
	imap_cwd_leave(cwd);
	close(lockfd);
	return rc;
}

void
imap_index_free(struct imap_index *idx)
{
	size_t i;

	for (i = 0; i < idx->n; i++)
		free(idx->msgs[i].name);
	for (i = 0; i < idx->nkeywords; i++)
		free(idx->keywords[i]);
	free(idx->msgs);
	memset(idx, 0, sizeof(*idx));
}

void
imap_flags_parse(const char *name, unsigned *flags, uint32_t *kw)
{
	const char *info = strstr(name, ":2,"), *p;

	*flags = 0;
	*kw = 0;
	if (info == NULL)
		return;
	for (p = info + 3; *p != '\0'; p++) {
		const char *f = strchr(imap_flag_letters, *p);

		if (f != NULL && *p != '\0')
			*flags |= 1u << (f - imap_flag_letters);
		else if (*p >= 'a' && *p <= 'z')
			*kw |= 1u << (*p - 'a');
	}
}

void
imap_flags_name(unsigned flags, uint32_t kw, char *out, size_t outlen)
{
	size_t n, i;

	n = strlcpy(out, ":2,", outlen);
	for (i = 0; i < sizeof(imap_flag_letters) - 1 && n + 1 < outlen; i++)
		if (flags & (1u << i))
			out[n++] = imap_flag_letters[i];
	for (i = 0; i < IMAP_KEYWORDS_MAX && n + 1 < outlen; i++)
		if (kw & (1u << i))
			out[n++] = (char)('a' + i);
	out[n < outlen ? n : outlen - 1] = '\0';
}

/* The cache key of a message name ("cur/BASE:2,FL" -> "c:BASE"). */
static void
imap_cache_key(struct buf *key, const char *name)
{
	const char *base = strchr(name, '/') ? strchr(name, '/') + 1 : name;

	buf_reset(key);
	buf_puts(key, "c:");
	buf_append(key, base, strcspn(base, ":"));
}

static void
imap_cache_drop(DB *db, const char *base, size_t len)
{
	struct buf key;
	DBT k;

	buf_init(&key);
	buf_puts(&key, "c:");
	buf_append(&key, base, len);
	memset(&k, 0, sizeof(k));
	k.data = key.data;
	k.size = (u_int32_t)key.len;
	(void)db->del(db, NULL, &k, 0);
	buf_free(&key);
}

int
imap_cache_load(int mdfd, char *const *names, size_t n, struct buf *blobs)
{
	struct buf key;
	size_t i;
	int lockfd, fresh, save, cwd;
	DB *db;
	DBT v;

	for (i = 0; i < n; i++)
		buf_reset(&blobs[i]);
	if ((lockfd = imap_index_lock(mdfd)) == -1)
		return -1;
	if ((cwd = imap_cwd_enter(mdfd)) == -1 ||
	    (db = imap_index_open(mdfd, &fresh)) == NULL) {
		save = errno;
		imap_cwd_leave(cwd);
		close(lockfd);
		errno = save;
		return -1;
	}
	buf_init(&key);
	for (i = 0; i < n; i++) {
		imap_cache_key(&key, names[i]);
		if (imap_db_get(db, key.data, key.len, &v) == 1)
			buf_append(&blobs[i], v.data, v.size);
	}
	buf_free(&key);
	db->close(db, 0);
	imap_cwd_leave(cwd);
	close(lockfd);
	return 0;
}

int
imap_cache_store(int mdfd, char *const *names, size_t n,
    const struct buf *blobs)
{
	struct buf key, rec;
	size_t i;
	int lockfd, fresh, cwd, rc = 0;
	DB *db;
	DBT v;

	if ((lockfd = imap_index_lock(mdfd)) == -1)
		return -1;
	if ((cwd = imap_cwd_enter(mdfd)) == -1 ||
	    (db = imap_index_open(mdfd, &fresh)) == NULL) {
		imap_cwd_leave(cwd);
		close(lockfd);
		return -1;
	}
	buf_init(&key);
	buf_init(&rec);
	for (i = 0; i < n; i++) {
		if (blobs[i].len == 0)
			continue;
		/* Only for a message the index still knows (not expunged). */
		imap_cache_key(&key, names[i]);
		buf_reset(&rec);
		buf_puts(&rec, "m:");
		buf_append(&rec, key.data + 2, key.len - 2);
		if (imap_db_get(db, rec.data, rec.len, &v) != 1)
			continue;
		imap_db_put(db, key.data, key.len, blobs[i].data, blobs[i].len);
	}
	buf_free(&key);
	buf_free(&rec);
	if (db->close(db, 0) != 0)
		rc = -1;
	imap_cwd_leave(cwd);
	close(lockfd);
	return rc;
}
