/*
 * select: the selected mailbox. The session keeps its own view (message
 * sequence numbers are positions in it) and, after commands that allow
 * it, syncs the view with the index, telling the client what other
 * sessions and deliveries changed: EXPUNGE, EXISTS, RECENT, FETCH FLAGS.
 * Commands: SELECT, EXAMINE, CLOSE, UNSELECT, EXPUNGE, CHECK.
 * Flags live in the file names (Maildir "info", :2,DFRST + keywords a-z).
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "imapd/imapd.h"

static const char *const imap_system_flags[] = {
	"\\Draft", "\\Flagged", "\\Answered", "\\Seen", "\\Deleted",
};

static int	imap_select_params(struct imap_session *,
		    const struct imap_arg *, const struct imap_arg **);
static void	imap_qresync(struct imap_session *, const struct imap_arg *);
static void	imap_view_load(struct imap_session *);
static void	imap_view_free(struct imap_session *);
static void	imap_idx_drop(struct imap_session *);
static void	imap_flags_announce(struct imap_session *);
static void	imap_sync_new(struct imap_session *, uint32_t);
static void	imap_sync_msg(struct imap_session *, size_t,
		    struct imap_index_msg *);
static void	imap_file_take(struct imap_msg_file *, struct imap_index_msg *);
static struct imap_index_msg *imap_idx_find(const struct imap_index *,
		    uint32_t);
static void	imap_files_load(struct imap_session *);
static int	imap_msg_refresh(struct imap_session *, size_t);
static int	imap_expunge_deleted(struct imap_session *,
		    const struct imap_seqset *);

int
imap_cmd_select(struct imap_session *s, struct imap_command *cmd)
{
	int readonly = strcmp(cmd->name, "EXAMINE") == 0;
	const char *name;
	size_t i, recent = 0, unseen = 0;

	const struct imap_arg *qr = NULL;

	if (cmd->nargs < 1 || cmd->nargs > 2 ||
	    (name = imap_arg_string(&cmd->args[0])) == NULL ||
	    (cmd->nargs == 2 && imap_select_params(s, &cmd->args[1], &qr) ==
	    -1)) {
		imap_reply(s, cmd, "BAD %s takes a mailbox name and (CONDSTORE)"
		    " or (QRESYNC (...)) after ENABLE QRESYNC.", cmd->name);
		return IMAP_CMD_BAD;
	}
	imap_unselect(s);
	if ((s->mdfd = imap_mailbox_open(s, name, 0)) == -1) {
		imap_reply(s, cmd, errno == EINVAL ? "NO [CANNOT] Invalid "
		    "mailbox name." : errno == ENOENT ? "NO [NONEXISTENT] "
		    "Mailbox doesn't exist: %s" : "NO [SERVERBUG] Cannot open "
		    "mailbox %s.", name);
		return IMAP_CMD_OK;
	}
	if (imap_index_sync(s->mdfd, &s->idx, !readonly) == -1) {
		log_warn("imap(%s): index of %s", s->user, name);
		imap_unselect(s);
		imap_reply(s, cmd, "NO [SERVERBUG] Cannot read the mailbox.");
		return IMAP_CMD_OK;
	}
	s->readonly = readonly;
	strlcpy(s->selected, name, sizeof(s->selected));
	s->state = IMAP_STATE_SELECTED;
	imap_view_load(s);
	imap_flags_announce(s);
	for (i = 0; i < s->n; i++) {
		recent += s->msgs[i].recent;
		if (unseen == 0 && (s->msgs[i].flags & IMAP_FLAG_SEEN) == 0)
			unseen = i + 1;
	}
	iobuf_printf(&s->io, "* %zu EXISTS\r\n* %zu RECENT\r\n", s->n, recent);
	if (unseen > 0)
		iobuf_printf(&s->io, "* OK [UNSEEN %zu] First unseen.\r\n",
		    unseen);
	iobuf_printf(&s->io, "* OK [UIDVALIDITY %u] UIDs valid\r\n"
	    "* OK [UIDNEXT %u] Predicted next UID\r\n"
	    "* OK [HIGHESTMODSEQ %llu] Highest\r\n", s->uidvalidity,
	    s->uidnext, (unsigned long long)s->idx.highestmodseq);
	if (qr != NULL)
		imap_qresync(s, qr);
	imap_reply(s, cmd, "OK [%s] %s completed.", readonly ? "READ-ONLY" :
	    "READ-WRITE", readonly ? "Examine" : "Select");
	return IMAP_CMD_OK;
}

/* (CONDSTORE) or (QRESYNC (uidvalidity modseq [known-uids ...])). */
static int
imap_select_params(struct imap_session *s, const struct imap_arg *arg,
    const struct imap_arg **qr)
{
	const struct imap_arg *q;

	if (arg->type != IMAP_ARG_LIST || arg->n == 0)
		return -1;
	if (arg->n == 1 && imap_arg_is(&arg->list[0], "CONDSTORE")) {
		s->condstore = 1;
		return 0;
	}
	if (arg->n != 2 || !imap_arg_is(&arg->list[0], "QRESYNC") ||
	    !s->qresync)
		return -1;
	q = &arg->list[1];
	if (q->type != IMAP_ARG_LIST || q->n < 2 || q->n > 4 ||
	    q->list[0].type != IMAP_ARG_ATOM || q->list[1].type !=
	    IMAP_ARG_ATOM || (q->n > 2 && q->list[2].type != IMAP_ARG_ATOM))
		return -1;
	*qr = q;
	return 0;
}

/*
 * RFC 7162 3.2.5: what changed since the client's MODSEQ. Expunges are
 * not remembered, so VANISHED (EARLIER) lists every known UID that is
 * not here (the RFC allows that); flags newer than the MODSEQ are sent.
 */
static void
imap_qresync(struct imap_session *s, const struct imap_arg *q)
{
	struct imap_seqset known;
	unsigned long long modseq;
	struct buf b;
	char *end;
	size_t i;

	if (strtoul(q->list[0].s, &end, 10) != s->uidvalidity || *end != '\0')
		return;
	modseq = strtoull(q->list[1].s, &end, 10);
	if (*end != '\0')
		return;
	if (q->n > 2 && imap_seqset_parse(q->list[2].s, IMAPD_SEQSET_MAX,
	    &known) == 0) {
		imap_vanished(s, &known);
		imap_seqset_free(&known);
	} else if (q->n == 2) {
		struct imap_range all = { 1, IMAP_SEQ_STAR };

		known.r = &all;
		known.n = 1;
		imap_vanished(s, &known);
	}
	buf_init(&b);
	for (i = 0; i < s->n; i++) {
		if (s->msgs[i].modseq <= modseq)
			continue;
		buf_reset(&b);
		imap_write_flags(s, &b, &s->msgs[i]);
		iobuf_printf(&s->io, "* %zu FETCH (UID %u FLAGS %s MODSEQ "
		    "(%llu))\r\n", i + 1, s->msgs[i].uid, b.data,
		    (unsigned long long)s->msgs[i].modseq);
	}
	buf_free(&b);
}

void
imap_vanished(struct imap_session *s, const struct imap_seqset *set)
{
	uint32_t last = s->uidnext > 1 ? s->uidnext - 1 : 0, lo, hi, u, end;
	size_t r, i;
	struct buf b;

	buf_init(&b);
	for (r = 0; r < set->n && last > 0; r++) {
		lo = set->r[r].lo == IMAP_SEQ_STAR ? last : set->r[r].lo;
		hi = set->r[r].hi == IMAP_SEQ_STAR ? last : set->r[r].hi;
		if (lo > hi) {
			u = lo;
			lo = hi;
			hi = u;
		}
		if (hi > last)
			hi = last;
		/* Gaps between the present UIDs within [lo, hi]. */
		for (u = lo, i = 0; u <= hi;) {
			while (i < s->n && s->msgs[i].uid < u)
				i++;
			if (i < s->n && s->msgs[i].uid == u) {
				u++;
				continue;
			}
			end = i < s->n && s->msgs[i].uid <= hi ?
			    s->msgs[i].uid - 1 : hi;
			buf_printf(&b, "%s%u", b.len ? "," : "", u);
			if (end > u)
				buf_printf(&b, ":%u", end);
			if (end == hi)
				break;
			u = end + 1;
		}
	}
	if (b.len > 0)
		iobuf_printf(&s->io, "* VANISHED (EARLIER) %s\r\n", b.data);
	buf_free(&b);
}

void
imap_uid_set(struct buf *b, const uint32_t *uids, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && uids[j] == uids[j - 1] + 1; j++)
			;
		buf_printf(b, "%s%u", i ? "," : "", uids[i]);
		if (j - i > 1)
			buf_printf(b, ":%u", uids[j - 1]);
	}
}

/* The view starts as the index; the file names move into s->files. */
static void
imap_view_load(struct imap_session *s)
{
	size_t i;

	imap_view_free(s);
	s->msgs = xreallocarray(NULL, s->idx.n + 1, sizeof(*s->msgs));
	s->files = xreallocarray(NULL, s->idx.n + 1, sizeof(*s->files));
	for (i = 0; i < s->idx.n; i++) {
		s->msgs[i].uid = s->idx.msgs[i].uid;
		s->msgs[i].keywords = s->idx.msgs[i].keywords;
		s->msgs[i].modseq = s->idx.msgs[i].modseq;
		s->msgs[i].flags = s->idx.msgs[i].flags;
		s->msgs[i].recent = s->idx.msgs[i].recent;
		imap_file_take(&s->files[i], &s->idx.msgs[i]);
	}
	s->n = s->idx.n;
	s->uidvalidity = s->idx.uidvalidity;
	s->uidnext = s->idx.uidnext;
	imap_idx_drop(s);
}

/* f takes m's name (m's is cleared), size and date. */
static void
imap_file_take(struct imap_msg_file *f, struct imap_index_msg *m)
{
	f->name = m->name;
	m->name = NULL;
	f->size = m->size;
	f->mtime = m->mtime;
}

/*
 * The index's per-message records are only needed while a sync compares
 * them with the view: drop them (the counters and keywords stay).
 */
static void
imap_idx_drop(struct imap_session *s)
{
	size_t i;

	for (i = 0; i < s->idx.n; i++)
		free(s->idx.msgs[i].name);
	free(s->idx.msgs);
	s->idx.msgs = NULL;
	s->idx.n = 0;
}

static void
imap_view_free(struct imap_session *s)
{
	imap_files_drop(s);
	free(s->msgs);
	s->msgs = NULL;
	s->n = 0;
}

void
imap_files_drop(struct imap_session *s)
{
	size_t i;

	if (s->files == NULL)
		return;
	for (i = 0; i < s->n; i++)
		free(s->files[i].name);
	free(s->files);
	s->files = NULL;
	/* An IDLE session may live for hours: give the heap back. */
	(void)malloc_trim(0);
}

const struct imap_msg_file *
imap_msg_file(struct imap_session *s, size_t i)
{
	if (s->files == NULL)
		imap_files_load(s);
	return &s->files[i];
}

const struct imap_msg_file *
imap_msg_stat(struct imap_session *s, size_t i)
{
	struct imap_msg_file *f;
	struct stat st;
	int rc = -1;

	(void)imap_msg_file(s, i);
	f = &s->files[i];
	if (f->mtime != -1)
		return f;
	errno = ENOENT;
	if (f->name != NULL)
		rc = fstatat(s->mdfd, f->name, &st, AT_SYMLINK_NOFOLLOW);
	if (rc == -1 && errno == ENOENT && imap_msg_refresh(s, i) == 0 &&
	    (f = &s->files[i])->mtime == -1 && f->name != NULL)
		rc = fstatat(s->mdfd, f->name, &st, AT_SYMLINK_NOFOLLOW);
	if (f->mtime != -1)
		return f;	/* the refresh's sync had it */
	if (rc == 0 && S_ISREG(st.st_mode)) {
		f->size = st.st_size;
		f->mtime = st.st_mtime;
	} else
		f->mtime = 0;	/* gone: answered as expunged elsewhere */
	return f;
}

/*
 * The files of the view from a sync that moves nothing (the view, the
 * flags it has told the client, stay as they are until imap_sync).
 */
static void
imap_files_load(struct imap_session *s)
{
	struct imap_index idx = { 0 };
	struct imap_index_msg *m;
	size_t i;

	s->files = xcalloc(s->n + 1, sizeof(*s->files));
	if (imap_index_sync(s->mdfd, &idx, 0) == -1)
		return;		/* every message reads as gone */
	for (i = 0; i < s->n; i++)
		if ((m = imap_idx_find(&idx, s->msgs[i].uid)) != NULL)
			imap_file_take(&s->files[i], m);
	imap_index_free(&idx);
}

static void
imap_flags_announce(struct imap_session *s)
{
	struct buf b;
	size_t i;

	buf_init(&b);
	for (i = 0; i < s->idx.nkeywords; i++)
		buf_printf(&b, " %s", s->idx.keywords[i]);
	iobuf_printf(&s->io, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen "
	    "\\Draft%s)\r\n", b.data ? b.data : "");
	iobuf_printf(&s->io, "* OK [PERMANENTFLAGS (%s\\Answered \\Flagged "
	    "\\Deleted \\Seen \\Draft%s \\*)] Flags permitted.\r\n", "",
	    b.data ? b.data : "");
	s->keywords_sent = s->idx.nkeywords;
	buf_free(&b);
}

void
imap_unselect(struct imap_session *s)
{
	imap_view_free(s);
	imap_index_free(&s->idx);
	if (s->mdfd != -1)
		close(s->mdfd);
	s->mdfd = -1;
	s->selected[0] = '\0';
	if (s->state == IMAP_STATE_SELECTED)
		s->state = IMAP_STATE_AUTH;
}

void
imap_sync(struct imap_session *s, int expunges_allowed)
{
	struct imap_index_msg *m;
	size_t i, kept = 0, old_n = s->n, recent = 0, ngone = 0;
	uint32_t maxuid = 0, *gone;
	struct buf b;

	if (s->state != IMAP_STATE_SELECTED ||
	    imap_index_sync(s->mdfd, &s->idx, !s->readonly) == -1)
		return;
	if (s->idx.nkeywords != s->keywords_sent)
		imap_flags_announce(s);
	gone = xreallocarray(NULL, s->n + 1, sizeof(*gone));
	for (i = 0; i < s->n; i++) {
		if (s->msgs[i].uid > maxuid)
			maxuid = s->msgs[i].uid;
		m = imap_idx_find(&s->idx, s->msgs[i].uid);
		if (m == NULL && expunges_allowed) {
			if (s->qresync)
				gone[ngone++] = s->msgs[i].uid;
			else
				iobuf_printf(&s->io, "* %zu EXPUNGE\r\n",
				    kept + 1);
			if (s->files != NULL)
				free(s->files[i].name);
			continue;
		}
		s->msgs[kept] = s->msgs[i];
		if (s->files != NULL)
			s->files[kept] = s->files[i];
		if (m != NULL)
			imap_sync_msg(s, kept, m);
		kept++;
	}
	s->n = kept;
	if (ngone > 0) {
		buf_init(&b);
		imap_uid_set(&b, gone, ngone);
		iobuf_printf(&s->io, "* VANISHED %s\r\n", b.data);
		buf_free(&b);
	}
	free(gone);
	imap_sync_new(s, maxuid);
	s->uidnext = s->idx.uidnext;
	imap_idx_drop(s);
	if (s->n != kept || s->n != old_n) {
		for (i = 0; i < s->n; i++)
			recent += s->msgs[i].recent;
		iobuf_printf(&s->io, "* %zu EXISTS\r\n", s->n);
		if (s->n != kept)
			iobuf_printf(&s->io, "* %zu RECENT\r\n", recent);
	}
}

/* Messages the index has beyond the view's highest UID join it. */
static void
imap_sync_new(struct imap_session *s, uint32_t maxuid)
{
	size_t i, add = 0;

	for (i = 0; i < s->idx.n; i++)
		add += s->idx.msgs[i].uid > maxuid;
	if (add == 0)
		return;
	s->msgs = xreallocarray(s->msgs, s->n + add + 1, sizeof(*s->msgs));
	if (s->files != NULL)
		s->files = xreallocarray(s->files, s->n + add + 1,
		    sizeof(*s->files));
	for (i = 0; i < s->idx.n; i++) {
		struct imap_index_msg *m = &s->idx.msgs[i];

		if (m->uid <= maxuid)
			continue;
		s->msgs[s->n].uid = m->uid;
		s->msgs[s->n].keywords = m->keywords;
		s->msgs[s->n].modseq = m->modseq;
		s->msgs[s->n].flags = m->flags;
		s->msgs[s->n].recent = m->recent;
		if (s->files != NULL)
			imap_file_take(&s->files[s->n], m);
		s->n++;
	}
}

/* Message i is still there: its new name, flags others changed. */
static void
imap_sync_msg(struct imap_session *s, size_t i, struct imap_index_msg *m)
{
	struct imap_msg *v = &s->msgs[i];
	struct buf b;
	int changed = v->flags != m->flags || v->keywords != m->keywords;

	if (s->files != NULL) {
		free(s->files[i].name);
		imap_file_take(&s->files[i], m);
	}
	v->flags = m->flags;
	v->keywords = m->keywords;
	v->modseq = m->modseq;
	if (!changed)
		return;
	buf_init(&b);
	imap_write_flags(s, &b, v);
	if (s->condstore)
		iobuf_printf(&s->io, "* %zu FETCH (UID %u FLAGS %s MODSEQ "
		    "(%llu))\r\n", i + 1, v->uid, b.data,
		    (unsigned long long)v->modseq);
	else
		iobuf_printf(&s->io, "* %zu FETCH (UID %u FLAGS %s)\r\n",
		    i + 1, v->uid, b.data);
	buf_free(&b);
}

static struct imap_index_msg *
imap_idx_find(const struct imap_index *idx, uint32_t uid)
{
	size_t lo = 0, hi = idx->n, mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (idx->msgs[mid].uid == uid)
			return &idx->msgs[mid];
		if (idx->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void
imap_write_flags(struct imap_session *s, struct buf *b,
    const struct imap_msg *m)
{
	const char *sep = "";
	size_t i;

	buf_putc(b, '(');
	for (i = 0; i < 5; i++)
		if (m->flags & (1u << i)) {
			buf_printf(b, "%s%s", sep, imap_system_flags[i]);
			sep = " ";
		}
	for (i = 0; i < s->idx.nkeywords; i++)
		if (m->keywords & (1u << i)) {
			buf_printf(b, "%s%s", sep, s->idx.keywords[i]);
			sep = " ";
		}
	if (m->recent)
		buf_printf(b, "%s\\Recent", sep);
	buf_putc(b, ')');
}

/* The file moved (flags changed elsewhere): look its name up again. */
static int
imap_msg_refresh(struct imap_session *s, size_t i)
{
	struct imap_index idx = { 0 };
	struct imap_index_msg *found;
	int rc = -1;

	if (imap_index_sync(s->mdfd, &idx, 0) == -1)
		return -1;
	if ((found = imap_idx_find(&idx, s->msgs[i].uid)) != NULL) {
		(void)imap_msg_file(s, i);
		free(s->files[i].name);
		imap_file_take(&s->files[i], found);
		s->msgs[i].flags = found->flags;
		s->msgs[i].keywords = found->keywords;
		rc = 0;
	}
	imap_index_free(&idx);
	errno = rc == -1 ? ENOENT : 0;
	return rc;
}

/* Regular files only: a FIFO or device planted in cur/ is refused. */
int
imap_msg_open(struct imap_session *s, size_t i)
{
	const struct imap_msg_file *f = imap_msg_file(s, i);
	struct stat st;
	int fd = -1;

	errno = ENOENT;
	if (f->name != NULL)
		fd = openat(s->mdfd, f->name, O_RDONLY | O_NOFOLLOW |
		    O_NONBLOCK | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT && imap_msg_refresh(s, i) == 0)
		fd = openat(s->mdfd, s->files[i].name, O_RDONLY | O_NOFOLLOW |
		    O_NONBLOCK | O_CLOEXEC);
	if (fd != -1 && (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

int
imap_msg_set_flags(struct imap_session *s, size_t i, unsigned flags,
    uint32_t keywords)
{
	struct imap_msg_file *f;
	char info[64], *to;
	const char *base;
	size_t blen;
	int tries, rc = -1;

	(void)imap_msg_file(s, i);
	f = &s->files[i];
	errno = ENOENT;
	for (tries = 0; tries < 2 && rc == -1; tries++) {
		if ((tries > 0 || f->name == NULL) && (errno != ENOENT ||
		    imap_msg_refresh(s, i) == -1))
			return -1;
		base = f->name + 4;
		blen = strcspn(base, ":");
		imap_flags_name(flags, keywords, info, sizeof(info));
		to = xasprintf("cur/%.*s%s", (int)blen, base, info);
		if (strcmp(to, f->name) == 0 ||
		    renameat(s->mdfd, f->name, s->mdfd, to) == 0) {
			free(f->name);
			f->name = to;
			rc = 0;
		} else
			free(to);
	}
	if (rc == 0) {
		s->msgs[i].flags = flags;
		s->msgs[i].keywords = keywords;
	}
	return rc;
}

int
imap_flag_list(const struct imap_arg *arg, int mdfd, struct imap_index *idx,
    unsigned *flags, uint32_t *keywords)
{
	const struct imap_arg *list = arg->type == IMAP_ARG_LIST ? arg->list :
	    arg;
	size_t n = arg->type == IMAP_ARG_LIST ? arg->n : 1, i, f;
	int k;

	*flags = 0;
	*keywords = 0;
	for (i = 0; i < n; i++) {
		if (list[i].type != IMAP_ARG_ATOM)
			return -1;
		if (list[i].s[0] == '\\') {
			for (f = 0; f < 5; f++)
				if (strcasecmp(list[i].s,
				    imap_system_flags[f]) == 0)
					break;
			if (f < 5)
				*flags |= 1u << f;
			else if (strcasecmp(list[i].s, "\\Recent") != 0)
				return -1;
			continue;
		}
		if (strpbrk(list[i].s, "[]%*") != NULL)
			return -1;
		if (idx == NULL)
			continue;
		if ((k = imap_index_keyword(mdfd, idx, list[i].s, 1)) == -1)
			return -2;
		*keywords |= 1u << k;
	}
	return 0;
}

int
imap_seqset_arg(struct imap_session *s, struct imap_command *cmd,
    const struct imap_arg *arg, struct imap_seqset *set)
{
	if (arg->type != IMAP_ARG_ATOM ||
	    imap_seqset_parse(arg->s, IMAPD_SEQSET_MAX, set) == -1) {
		imap_reply(s, cmd, "BAD Invalid sequence set.");
		return -1;
	}
	return 0;
}

int
imap_msg_in_set(const struct imap_session *s, size_t i,
    const struct imap_seqset *set, int uid)
{
	uint32_t star;

	if (uid) {
		star = s->n > 0 ? s->msgs[s->n - 1].uid : 0;
		return imap_seqset_has(set, s->msgs[i].uid, star);
	}
	return imap_seqset_has(set, (uint32_t)(i + 1), (uint32_t)s->n);
}

static int
imap_expunge_deleted(struct imap_session *s, const struct imap_seqset *set)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		if ((s->msgs[i].flags & IMAP_FLAG_DELETED) == 0 ||
		    (set != NULL && !imap_msg_in_set(s, i, set, 1)))
			continue;
		imap_msg_unlink(s, i);
	}
	return 0;
}

void
imap_msg_unlink(struct imap_session *s, size_t i)
{
	const struct imap_msg_file *f = imap_msg_file(s, i);

	if ((f->name == NULL || (unlinkat(s->mdfd, f->name, 0) == -1 &&
	    errno == ENOENT)) && imap_msg_refresh(s, i) == 0)
		(void)unlinkat(s->mdfd, s->files[i].name, 0);
}

int
imap_cmd_expunge(struct imap_session *s, struct imap_command *cmd)
{
	if (s->readonly) {
		imap_reply(s, cmd, "NO [READ-ONLY] Mailbox is read-only.");
		return IMAP_CMD_OK;
	}
	(void)imap_expunge_deleted(s, NULL);
	imap_reply(s, cmd, "OK Expunge completed.");
	return IMAP_CMD_OK;
}

/* UID EXPUNGE (UIDPLUS): only the deleted messages in the set. */
int
imap_uid_expunge(struct imap_session *s, struct imap_command *cmd,
    const struct imap_arg *args, size_t nargs)
{
	struct imap_seqset set;

	if (nargs != 1) {
		imap_reply(s, cmd, "BAD UID EXPUNGE takes a UID set.");
		return IMAP_CMD_BAD;
	}
	if (imap_seqset_arg(s, cmd, &args[0], &set) == -1)
		return IMAP_CMD_BAD;
	if (s->readonly)
		imap_reply(s, cmd, "NO [READ-ONLY] Mailbox is read-only.");
	else {
		(void)imap_expunge_deleted(s, &set);
		imap_reply(s, cmd, "OK Expunge completed.");
	}
	imap_seqset_free(&set);
	return IMAP_CMD_OK;
}

int
imap_cmd_close(struct imap_session *s, struct imap_command *cmd)
{
	if (!s->readonly)
		(void)imap_expunge_deleted(s, NULL);
	imap_unselect(s);
	imap_reply(s, cmd, "OK Close completed.");
	return IMAP_CMD_OK;
}

int
imap_cmd_unselect(struct imap_session *s, struct imap_command *cmd)
{
	imap_unselect(s);
	imap_reply(s, cmd, "OK Unselect completed.");
	return IMAP_CMD_OK;
}

int
imap_cmd_check(struct imap_session *s, struct imap_command *cmd)
{
	imap_reply(s, cmd, "OK Check completed.");
	return IMAP_CMD_OK;
}
