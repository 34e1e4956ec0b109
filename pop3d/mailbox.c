/*
 * mailbox: the snapshot of a Maildir a POP3 session works on. The session
 * holds MAILBOX_LOCK_POP3 from login to disconnect (a second session gets
 * [IN-USE]; the kernel drops the lock of a crashed one). Messages are
 * numbered in delivery order (Maildir names start with the time), sizes
 * are computed once, as sent, and QUIT commits the deletions; afterwards
 * new/ messages move to cur/, and retrieved ones get \Seen, as Dovecot
 * does.
 *
 * UIDL: a message that Dovecot's dovecot-uidlist knows gets Dovecot's
 * default pop3_uidl_format %08Xu%08Xv (UID, UIDVALIDITY in upper-case hex)
 * or its saved POP3 UIDL ('P' extension), so clients migrating from
 * Dovecot do not download everything again. Any other message's UIDL is
 * its Maildir base name (before ':'), stable across restarts, new/ -> cur/
 * and IMAP flag renames. When imapd's index assigns UIDs it must keep
 * these UIDLs: it either writes dovecot-uidlist itself (then the lines for
 * messages first listed here by base name carry that name as their 'P'
 * extension, which this reader already prefers), or pop3d asks the index
 * for the same UID/UIDVALIDITY pair with the same fallback rule.
 * Security: every open is relative to the Maildir descriptor with
 * O_NOFOLLOW, and only regular files are read; dovecot-uidlist is
 * untrusted, bounded by POP3D_UIDLIST_MAX, and its UIDLs are validated.
 */
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "mailbox/mailbox_lock.h"
#include "mailbox/maildir.h"
#include "mailbox/uidlist.h"
#include "pop3d/pop3d.h"

static int	pop3_mailbox_lock(int);
static void	pop3_mailbox_dovecot_uidls(struct pop3_session *);
static int	pop3_msg_cmp(const void *, const void *);
static const char *pop3_msg_file(const char *);
static size_t	pop3_msg_base_len(const char *);
static off_t	pop3_name_vsize(const char *, off_t);
static int	pop3_name_field(const char *, size_t, const char *,
		    unsigned long long *);
static int	pop3_msg_relocate(struct pop3_session *, struct pop3_msg *);
static int	pop3_msg_relocate_in(struct pop3_session *, struct pop3_msg *,
		    const char *);
static off_t	pop3_msg_count(int);
static int	pop3_msg_unlink(struct pop3_session *, struct pop3_msg *);
static int	pop3_msg_target(const struct pop3_msg *, char *, size_t);
static void	pop3_msg_mark_old(struct pop3_session *, struct pop3_msg *);

int
pop3_mailbox_open(struct pop3_session *s, const char *relpath)
{
	struct maildir_entry *entries;
	size_t n, i;

	/* An empty path would make the base itself the Maildir. */
	if (relpath[strspn(relpath, "/.")] == '\0') {
		log_warnx("pop3(%s): bad virtual_mailbox_maps value \"%s\"",
		    s->user, relpath);
		return -1;
	}
	if ((s->mdfd = maildir_open(s->d->basefd, relpath, 1)) == -1) {
		log_warn("pop3(%s): open Maildir %s", s->user, relpath);
		return -1;
	}
	/* Lock first: the snapshot must not race another session's UPDATE. */
	if ((s->lockfd = pop3_mailbox_lock(s->mdfd)) == -1) {
		if (errno == EWOULDBLOCK)
			return POP3_MAILBOX_INUSE;
		log_warn("pop3(%s): lock Maildir %s", s->user, relpath);
		return -1;
	}
	if (maildir_scan(s->mdfd, &entries, &n) == -1) {
		log_warn("pop3(%s): scan Maildir %s", s->user, relpath);
		return -1;
	}
	s->msgs = xcalloc(n ? n : 1, sizeof(*s->msgs));
	s->nmsgs = n;
	for (i = 0; i < n; i++) {
		s->msgs[i].name = entries[i].name;
		s->msgs[i].size = entries[i].size;
		s->msgs[i].octets = -1;
		entries[i].name = NULL;
	}
	maildir_entries_free(entries, n);
	if (n > 1)
		qsort(s->msgs, n, sizeof(*s->msgs), pop3_msg_cmp);
	pop3_mailbox_dovecot_uidls(s);
	return 0;
}

/*
 * The lock, waiting a moment: a session that just ended (a client that
 * dropped and reconnects) may still be cleaning up.
 */
static int
pop3_mailbox_lock(int mdfd)
{
	const struct timespec pause = { 0, POP3D_LOCK_POLL_MS * 1000000L };
	int fd, tries;

	for (tries = POP3D_LOCK_WAIT_MS / POP3D_LOCK_POLL_MS; ; tries--) {
		fd = mailbox_lock(mdfd, MAILBOX_LOCK_POP3);
		if (fd != -1 || errno != EWOULDBLOCK || tries <= 0)
			return fd;
		(void)nanosleep(&pause, NULL);
	}
}

/*
 * Messages dovecot-uidlist knows get Dovecot's UIDL. A broken or huge
 * file is logged and ignored: the base names are still stable UIDLs.
 */
static void
pop3_mailbox_dovecot_uidls(struct pop3_session *s)
{
	const struct uidlist_rec *r;
	struct uidlist ul;
	const char *file;
	size_t i;
	int rc;

	if ((rc = uidlist_load(s->mdfd, POP3D_UIDLIST_MAX, &ul)) == 0)
		return;
	if (rc == -1) {
		log_warn("pop3(%s): ignoring %s", s->user, UIDLIST_NAME);
		return;
	}
	for (i = 0; i < s->nmsgs; i++) {
		file = pop3_msg_file(s->msgs[i].name);
		r = uidlist_lookup(&ul, file, pop3_msg_base_len(file));
		if (r == NULL)
			continue;
		if (r->pop3_uidl != NULL &&
		    pop3_uidl_valid(r->pop3_uidl, strlen(r->pop3_uidl)))
			s->msgs[i].uidl = xstrdup(r->pop3_uidl);
		else
			s->msgs[i].uidl = xasprintf("%08X%08X",
			    (unsigned)r->uid, (unsigned)ul.uidvalidity);
	}
	uidlist_free(&ul);
}

/* After UPDATE and the moves to cur/: now the next session may start. */
void
pop3_mailbox_unlock(struct pop3_session *s)
{
	mailbox_unlock(s->lockfd);
	s->lockfd = -1;
}

void
pop3_mailbox_close(struct pop3_session *s)
{
	size_t i;

	for (i = 0; i < s->nmsgs; i++) {
		free(s->msgs[i].name);
		free(s->msgs[i].uidl);
	}
	free(s->msgs);
	s->msgs = NULL;
	s->nmsgs = 0;
	pop3_mailbox_unlock(s);
	if (s->mdfd != -1)
		close(s->mdfd);
	s->mdfd = -1;
}

/* Delivery order across new/ and cur/: by file name, not directory. */
static int
pop3_msg_cmp(const void *a, const void *b)
{
	const struct pop3_msg *ma = a, *mb = b;

	return strcmp(pop3_msg_file(ma->name), pop3_msg_file(mb->name));
}

static const char *
pop3_msg_file(const char *name)
{
	const char *slash = strchr(name, '/');

	return slash ? slash + 1 : name;
}

/* The base name: the file name up to the ':' that starts the flags. */
static size_t
pop3_msg_base_len(const char *file)
{
	return strcspn(file, ":");
}

void
pop3_msg_uidl(const struct pop3_msg *m, char *uidl, size_t len)
{
	const char *file = pop3_msg_file(m->name);
	size_t base = pop3_msg_base_len(file), i;
	uint64_t h1 = 14695981039346656037ULL, h2 = 0x9e3779b97f4a7c15ULL;

	if (m->uidl != NULL) {
		strlcpy(uidl, m->uidl, len);
		return;
	}
	if (pop3_uidl_valid(file, base) && base < len) {
		memcpy(uidl, file, base);
		uidl[base] = '\0';
		return;
	}
	/* Too long or odd bytes for RFC 1939: a stable 128-bit digest. */
	for (i = 0; i < base; i++) {
		h1 = (h1 ^ (unsigned char)file[i]) * 1099511628211ULL;
		h2 = (h2 ^ (unsigned char)file[i]) * 0x100000001b3ULL;
		h2 ^= h2 >> 29;
	}
	snprintf(uidl, len, "%016llx%016llx", (unsigned long long)h1,
	    (unsigned long long)h2);
}

/*
 * A Dovecot-style name carries ",S=<disk size>,W=<CRLF size>" before the
 * flags; W is exactly what LIST reports, so it spares a read when S agrees
 * with the file.
 */
static off_t
pop3_name_vsize(const char *name, off_t size)
{
	const char *file = pop3_msg_file(name);
	size_t base = pop3_msg_base_len(file);
	unsigned long long s, w;

	if (pop3_name_field(file, base, ",S=", &s) == -1 ||
	    pop3_name_field(file, base, ",W=", &w) == -1 ||
	    s != (unsigned long long)size || w > (unsigned long long)INT64_MAX)
		return -1;
	return (off_t)w;
}

static int
pop3_name_field(const char *file, size_t len, const char *tag,
    unsigned long long *value)
{
	struct pop3_arg arg;
	const char *p, *end = file + len;

	for (p = file; (p = memmem(p, (size_t)(end - p), tag, 3)) != NULL;
	    p += 3) {
		arg.s = p + 3;
		arg.len = strspn(arg.s, "0123456789");
		if (arg.s + arg.len > end)
			arg.len = (size_t)(end - arg.s);
		if (pop3_number_parse(&arg, ULLONG_MAX, value) == 0)
			return 0;
	}
	return -1;
}

int
pop3_msg_open(struct pop3_session *s, struct pop3_msg *m)
{
	struct stat st;
	int fd;

	fd = openat(s->mdfd, m->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT && pop3_msg_relocate(s, m) == 0)
		fd = openat(s->mdfd, m->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

/*
 * Another session (POP3 or IMAP) may have moved the file to cur/ or
 * changed its flags since the snapshot: find it again by its base name.
 */
static int
pop3_msg_relocate(struct pop3_session *s, struct pop3_msg *m)
{
	if (pop3_msg_relocate_in(s, m, "cur") == 0 ||
	    pop3_msg_relocate_in(s, m, "new") == 0)
		return 0;
	errno = ENOENT;
	return -1;
}

static int
pop3_msg_relocate_in(struct pop3_session *s, struct pop3_msg *m,
    const char *sub)
{
	const char *file = pop3_msg_file(m->name);
	size_t base = pop3_msg_base_len(file);
	struct dirent *de;
	DIR *dir;
	int fd, found = -1;

	fd = openat(s->mdfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd == -1)
		return -1;
	if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(dir)) != NULL) {
		if (strncmp(de->d_name, file, base) != 0 ||
		    (de->d_name[base] != '\0' && de->d_name[base] != ':'))
			continue;
		free(m->name);
		m->name = xasprintf("%s/%s", sub, de->d_name);
		found = 0;
		break;
	}
	closedir(dir);
	return found;
}

off_t
pop3_msg_octets(struct pop3_session *s, struct pop3_msg *m, int fd)
{
	int own = -1;

	if (m->octets >= 0)
		return m->octets;
	if ((m->octets = pop3_name_vsize(m->name, m->size)) >= 0)
		return m->octets;
	if (fd == -1 && (fd = own = pop3_msg_open(s, m)) == -1) {
		log_warn("pop3(%s): open %s", s->user, m->name);
		return -1;
	}
	if ((m->octets = pop3_msg_count(fd)) == -1)
		log_warn("pop3(%s): read %s", s->user, m->name);
	if (own != -1)
		close(own);
	return m->octets;
}

/* The size as sent: the file with every bare LF counted as CRLF. */
static off_t
pop3_msg_count(int fd)
{
	struct pop3_msgconv conv;
	char *chunk;
	off_t off = 0;
	ssize_t n;

	chunk = xmalloc(POP3D_READ_CHUNK);
	pop3_msgconv_init(&conv, -1);
	for (;;) {
		n = pread(fd, chunk, POP3D_READ_CHUNK, off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		pop3_msgconv_feed(&conv, chunk, (size_t)n, NULL);
		off += n;
	}
	free(chunk);
	return n == -1 ? -1 : conv.octets;
}

int
pop3_mailbox_octets(struct pop3_session *s, int all, off_t *total)
{
	size_t i;
	off_t n;

	*total = 0;
	for (i = 0; i < s->nmsgs; i++) {
		if (s->msgs[i].deleted && !all)
			continue;
		if ((n = pop3_msg_octets(s, &s->msgs[i], -1)) == -1)
			return -1;
		*total += n;
	}
	return 0;
}

/* UPDATE (RFC 1939 section 6): only after QUIT, never on a lost client. */
int
pop3_mailbox_update(struct pop3_session *s)
{
	int rc = 0;
	size_t i;

	for (i = 0; i < s->nmsgs; i++) {
		if (!s->msgs[i].deleted)
			continue;
		if (pop3_msg_unlink(s, &s->msgs[i]) == -1) {
			log_warn("pop3(%s): unlink %s", s->user,
			    s->msgs[i].name);
			rc = -1;
			continue;
		}
		s->stats.del++;
	}
	return rc;
}

/* A file someone else already removed counts as removed. */
static int
pop3_msg_unlink(struct pop3_session *s, struct pop3_msg *m)
{
	if (unlinkat(s->mdfd, m->name, 0) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	if (pop3_msg_relocate(s, m) == -1)
		return 0;
	if (unlinkat(s->mdfd, m->name, 0) == 0 || errno == ENOENT)
		return 0;
	return -1;
}

void
pop3_mailbox_mark_old(struct pop3_session *s)
{
	size_t i;

	for (i = 0; i < s->nmsgs; i++)
		if (!s->msgs[i].deleted)
			pop3_msg_mark_old(s, &s->msgs[i]);
}

/*
 * Where a message goes at the end of a session, as Dovecot's pop3 does
 * it: out of new/ into cur/, and a retrieved one gets the \Seen flag
 * (kept in ASCII order among the others; Dovecot's ",fields" after the
 * flags stay). 1 with the name in to when it moves, 0 when it stays.
 */
static int
pop3_msg_target(const struct pop3_msg *m, char *to, size_t len)
{
	const char *file = pop3_msg_file(m->name), *info, *flags;
	size_t base = pop3_msg_base_len(file), nflags, at;
	int in_new = strncmp(m->name, "new/", 4) == 0, n;

	info = file[base] != '\0' ? file + base : ":2,";
	flags = info + 3;
	if (!m->retrieved || strncmp(info, ":2,", 3) != 0 ||
	    memchr(flags, 'S', strcspn(flags, ",")) != NULL) {
		if (!in_new)
			return 0;
		n = snprintf(to, len, "cur/%.*s%s", (int)base, file, info);
	} else {
		nflags = strcspn(flags, ",");
		for (at = 0; at < nflags && flags[at] < 'S'; at++)
			;
		n = snprintf(to, len, "cur/%.*s:2,%.*sS%s", (int)base, file,
		    (int)at, flags, flags + at);
	}
	return n > 0 && (size_t)n < len;
}

/*
 * The move never replaces anything: renameat2 with RENAME_NOREPLACE, or
 * link and unlink where that is unsupported.
 */
static void
pop3_msg_mark_old(struct pop3_session *s, struct pop3_msg *m)
{
	char to[PATH_MAX];

	if (!pop3_msg_target(m, to, sizeof(to)))
		return;
	if (renameat2(s->mdfd, m->name, s->mdfd, to, RENAME_NOREPLACE) == 0)
		goto moved;
	if (errno != EINVAL && errno != ENOSYS)
		goto fail;
	if (linkat(s->mdfd, m->name, s->mdfd, to, 0) == -1)
		goto fail;
	if (unlinkat(s->mdfd, m->name, 0) == -1)
		log_warn("pop3(%s): unlink %s", s->user, m->name);
moved:
	free(m->name);
	m->name = xstrdup(to);
	return;
fail:
	/* Gone or already moved by another session: nothing to do. */
	if (errno != ENOENT && errno != EEXIST)
		log_warn("pop3(%s): rename %s to %s", s->user, m->name, to);
}
