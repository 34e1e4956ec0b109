/*
 * append: putting messages into a mailbox: APPEND (flags, date, literal;
 * UIDPLUS APPENDUID), COPY and MOVE (hard links, a copy across file
 * systems; COPYUID). A message is written to tmp/, fsynced, and renamed
 * into cur/ with its flags, so no reader ever sees half of it; its mtime
 * is the INTERNALDATE. CRLF line ends from the client are stored as LF,
 * like deliveries, and sent back as CRLF.
 */
#include <sys/stat.h>
#include <sys/time.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "imapd/imapd.h"

#define IMAP_BASE_MAX	256
#define IMAP_NAME_LEN	(IMAP_BASE_MAX + 80)	/* cur/BASE:2,FLAGS */

struct imap_copy_state {
	struct imap_seqset set;
	struct imap_index idx;		/* the target, after the copy */
	struct imap_index dkw;		/* the target's keywords */
	char	(*names)[IMAP_NAME_LEN];	/* the copies, "cur/..." */
	uint32_t *src;			/* their source UIDs */
	size_t	 n;
};

static const char *const imap_months[] = { "Jan", "Feb", "Mar", "Apr", "May",
    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

static int	imap_date_parse(const char *, time_t *);
static void	imap_base_name(struct imap_session *, size_t, char *, size_t);
static int	imap_message_write(struct imap_session *, int, const char *,
		    size_t, unsigned, uint32_t, time_t, char *, size_t);
static uint32_t	imap_uid_of(const struct imap_index *, const char *);
static int	imap_copy_one(struct imap_session *, size_t,
		    int, struct imap_index *, char *, size_t);
static uint32_t	imap_copy_keywords(struct imap_session *,
		    const struct imap_msg *, int, struct imap_index *);
static int	imap_copy(struct imap_session *, struct imap_command *,
		    const struct imap_arg *, size_t, int, int);
static int	imap_copy_all(struct imap_session *, int, int,
		    struct imap_copy_state *);
static void	imap_copy_reply(struct imap_session *, struct imap_command *,
		    int, int, struct imap_copy_state *);

int
imap_cmd_append(struct imap_session *s, struct imap_command *cmd)
{
	struct imap_index idx = { 0 };
	const struct imap_arg *msg;
	const char *name, *date = NULL;
	char base[IMAP_BASE_MAX];
	unsigned flags = 0;
	uint32_t kw = 0, uid;
	time_t when = time(NULL);
	size_t i = 1;
	int fd, rc;

	if (cmd->nargs < 2 || cmd->nargs > 4 ||
	    (name = imap_arg_string(&cmd->args[0])) == NULL) {
		imap_reply(s, cmd, "BAD APPEND takes a mailbox and a message.");
		return IMAP_CMD_BAD;
	}
	msg = &cmd->args[cmd->nargs - 1];
	if (cmd->nargs > 2 && cmd->args[1].type == IMAP_ARG_LIST)
		i = 2;
	if (i < cmd->nargs - 1)
		date = imap_arg_string(&cmd->args[i++]);
	if (i != cmd->nargs - 1 || msg->type == IMAP_ARG_LIST ||
	    (date != NULL && imap_date_parse(date, &when) == -1) ||
	    (cmd->nargs - 1 > i)) {
		imap_reply(s, cmd, "BAD Invalid APPEND arguments.");
		return IMAP_CMD_BAD;
	}
	if ((fd = imap_mailbox_open(s, name, 0)) == -1) {
		imap_reply(s, cmd, errno == EINVAL ? "NO [CANNOT] Invalid "
		    "mailbox name." : "NO [TRYCREATE] Mailbox doesn't exist.");
		return IMAP_CMD_OK;
	}
	if (cmd->args[1].type == IMAP_ARG_LIST &&
	    (rc = imap_flag_list(&cmd->args[1], fd, &idx, &flags, &kw)) < 0) {
		close(fd);
		imap_index_free(&idx);
		imap_reply(s, cmd, rc == -2 ? "NO [LIMIT] Too many keywords." :
		    "BAD Invalid flags.");
		return rc == -2 ? IMAP_CMD_OK : IMAP_CMD_BAD;
	}
	if (imap_message_write(s, fd, msg->s, msg->len, flags, kw, when, base,
	    sizeof(base)) == -1 || imap_index_sync(fd, &idx, 0) == -1 ||
	    (uid = imap_uid_of(&idx, base)) == 0) {
		log_warn("imap(%s): append to %s", s->user, name);
		imap_reply(s, cmd, "NO [SERVERBUG] Cannot save the message.");
	} else
		imap_reply(s, cmd, "OK [APPENDUID %u %u] Append completed.",
		    idx.uidvalidity, uid);
	imap_index_free(&idx);
	close(fd);
	return IMAP_CMD_OK;
}

/* date-time = "dd-Mon-yyyy hh:mm:ss +zzzz" (day may be " d"). */
static int
imap_date_parse(const char *s, time_t *out)
{
	struct tm tm;
	char mon[4], sign;
	int day, year, hh, mm, ss, zone, n = 0, i;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, " %2d-%3s-%4d %2d:%2d:%2d %c%4d%n", &day, mon, &year,
	    &hh, &mm, &ss, &sign, &zone, &n) != 8 || s[n] != '\0' ||
	    (sign != '+' && sign != '-'))
		return -1;
	for (i = 0; i < 12; i++)
		if (strcasecmp(mon, imap_months[i]) == 0)
			break;
	if (i == 12 || day < 1 || day > 31 || year < 1970 || hh > 23 ||
	    mm > 59 || ss > 60 || zone % 100 > 59)
		return -1;
	tm.tm_mday = day;
	tm.tm_mon = i;
	tm.tm_year = year - 1900;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	*out = timegm(&tm) - (sign == '+' ? 1 : -1) *
	    ((zone / 100) * 3600 + (zone % 100) * 60);
	return 0;
}

/* A Dovecot-style base name: <secs>.M<usec>P<pid>Q<n>.<host>,S=<size> */
static void
imap_base_name(struct imap_session *s, size_t size, char *out, size_t len)
{
	static unsigned long counter;
	struct timeval tv;
	char host[128];
	size_t i;

	gettimeofday(&tv, NULL);
	strlcpy(host, config_get(s->d->cfg, "myhostname"), sizeof(host));
	for (i = 0; host[i] != '\0'; i++)
		if (host[i] == '/' || host[i] == ':')
			host[i] = '_';
	snprintf(out, len, "%lld.M%ldP%ldQ%lu.%s,S=%zu", (long long)tv.tv_sec,
	    (long)tv.tv_usec, (long)getpid(), ++counter, host, size);
}

static int
imap_message_write(struct imap_session *s, int mdfd, const char *data,
    size_t len, unsigned flags, uint32_t kw, time_t when, char *base,
    size_t baselen)
{
	char tmp[IMAP_BASE_MAX + 8], cur[IMAP_BASE_MAX + 80], info[64];
	struct timespec ts[2];
	struct buf lf;
	size_t i;
	int fd, rc = -1;

	buf_init(&lf);
	for (i = 0; i < len; i++)
		if (!(data[i] == '\r' && i + 1 < len && data[i + 1] == '\n'))
			buf_putc(&lf, data[i]);
	imap_base_name(s, lf.len, base, baselen);
	snprintf(tmp, sizeof(tmp), "tmp/%s", base);
	imap_flags_name(flags, kw, info, sizeof(info));
	snprintf(cur, sizeof(cur), "cur/%s%s", base, info);
	fd = openat(mdfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd == -1)
		goto out;
	ts[0].tv_sec = ts[1].tv_sec = when;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if ((lf.len == 0 || write(fd, lf.data, lf.len) == (ssize_t)lf.len) &&
	    fsync(fd) == 0 && futimens(fd, ts) == 0 &&
	    renameat(mdfd, tmp, mdfd, cur) == 0)
		rc = 0;
	else
		(void)unlinkat(mdfd, tmp, 0);
	close(fd);
out:
	buf_free(&lf);
	return rc;
}

static uint32_t
imap_uid_of(const struct imap_index *idx, const char *base)
{
	size_t i, len = strlen(base);

	for (i = idx->n; i > 0; i--)
		if (strncmp(idx->msgs[i - 1].name + 4, base, len) == 0 &&
		    (idx->msgs[i - 1].name[4 + len] == ':' ||
		    idx->msgs[i - 1].name[4 + len] == '\0'))
			return idx->msgs[i - 1].uid;
	return 0;
}

int
imap_cmd_copy(struct imap_session *s, struct imap_command *cmd)
{
	return imap_copy(s, cmd, cmd->args, cmd->nargs, 0, 0);
}

int
imap_cmd_move(struct imap_session *s, struct imap_command *cmd)
{
	return imap_copy(s, cmd, cmd->args, cmd->nargs, 0, 1);
}

int
imap_uid_copy(struct imap_session *s, struct imap_command *cmd,
    const struct imap_arg *args, size_t nargs, int move)
{
	return imap_copy(s, cmd, args, nargs, 1, move);
}

/* The message's keywords as letters of the target mailbox. */
static uint32_t
imap_copy_keywords(struct imap_session *s, const struct imap_msg *m,
    int dstfd, struct imap_index *dst)
{
	uint32_t kw = 0;
	size_t i;
	int k;

	for (i = 0; i < s->idx.nkeywords; i++)
		if ((m->keywords & (1u << i)) && (k = imap_index_keyword(dstfd,
		    dst, s->idx.keywords[i], 1)) != -1)
			kw |= 1u << k;
	return kw;
}

/* A hard link under a new name with the same flags and INTERNALDATE. */
static int
imap_copy_one(struct imap_session *s, size_t i, int dstfd,
    struct imap_index *dst, char *to, size_t tolen)
{
	const struct imap_msg *m = &s->msgs[i];
	const struct imap_msg_file *f = imap_msg_stat(s, i);
	char base[IMAP_BASE_MAX], info[64];
	struct buf data;
	uint32_t kw;
	ssize_t n;
	int fd, rc;

	imap_base_name(s, (size_t)f->size, base, sizeof(base));
	kw = imap_copy_keywords(s, m, dstfd, dst);
	imap_flags_name(m->flags, kw, info, sizeof(info));
	snprintf(to, tolen, "cur/%s%s", base, info);
	if (f->name != NULL && linkat(s->mdfd, f->name, dstfd, to, 0) == 0)
		return 0;
	/* Renamed meanwhile (imap_msg_open finds it), or another fs. */
	if ((fd = imap_msg_open(s, i)) == -1)
		return -1;
	f = imap_msg_stat(s, i);
	if (linkat(s->mdfd, f->name, dstfd, to, 0) == 0) {
		close(fd);
		return 0;
	}
	buf_init(&data);
	buf_reserve(&data, (size_t)f->size + 1);
	n = read(fd, data.data, (size_t)f->size);
	close(fd);
	rc = n == f->size ? imap_message_write(s, dstfd, data.data,
	    (size_t)n, m->flags, kw, f->mtime, base, sizeof(base)) : -1;
	if (rc == 0)
		snprintf(to, tolen, "cur/%s%s", base, info);
	buf_free(&data);
	return rc;
}

static int
imap_copy(struct imap_session *s, struct imap_command *cmd,
    const struct imap_arg *args, size_t nargs, int uid, int move)
{
	struct imap_copy_state st;
	const char *name;
	int fd;

	if (nargs != 2 || (name = imap_arg_string(&args[1])) == NULL) {
		imap_reply(s, cmd, "BAD %s takes a set and a mailbox.",
		    move ? "MOVE" : "COPY");
		return IMAP_CMD_BAD;
	}
	memset(&st, 0, sizeof(st));
	if (imap_seqset_arg(s, cmd, &args[0], &st.set) == -1)
		return IMAP_CMD_BAD;
	if (move && s->readonly) {
		imap_seqset_free(&st.set);
		imap_reply(s, cmd, "NO [READ-ONLY] Mailbox is read-only.");
		return IMAP_CMD_OK;
	}
	if ((fd = imap_mailbox_open(s, name, 0)) == -1) {
		imap_seqset_free(&st.set);
		imap_reply(s, cmd, errno == EINVAL ? "NO [CANNOT] Invalid "
		    "mailbox name." : "NO [TRYCREATE] Mailbox doesn't exist.");
		return IMAP_CMD_OK;
	}
	if (imap_copy_all(s, fd, uid, &st) == -1 ||
	    imap_index_sync(fd, &st.idx, 0) == -1) {
		log_warn("imap(%s): copy to %s", s->user, name);
		imap_reply(s, cmd, imap_overtime(s) ? "NO [LIMIT] Copy took "
		    "too long (imapd_command_time_limit)." : "NO [SERVERBUG] "
		    "Copy failed.");
	} else
		imap_copy_reply(s, cmd, uid, move, &st);
	imap_index_free(&st.idx);
	imap_index_free(&st.dkw);
	imap_seqset_free(&st.set);
	free(st.names);
	free(st.src);
	close(fd);
	return IMAP_CMD_OK;
}

/*
 * Copy every message of the set; on failure remove the copies already
 * made (RFC 3501 6.4.7: a failed COPY leaves the target as it was).
 */
static int
imap_copy_all(struct imap_session *s, int fd, int uid,
    struct imap_copy_state *st)
{
	size_t i;

	st->names = xreallocarray(NULL, s->n + 1, sizeof(*st->names));
	st->src = xreallocarray(NULL, s->n + 1, sizeof(*st->src));
	for (i = 0; i < s->n; i++) {
		if (!imap_msg_in_set(s, i, &st->set, uid))
			continue;
		if (imap_overtime(s) || imap_copy_one(s, i, fd,
		    &st->dkw, st->names[st->n], sizeof(st->names[st->n])) ==
		    -1) {
			while (st->n > 0)
				(void)unlinkat(fd, st->names[--st->n], 0);
			return -1;
		}
		st->src[st->n++] = s->msgs[i].uid;
	}
	return 0;
}

/* COPYUID (RFC 4315); MOVE (RFC 6851) sends it untagged, then expunges. */
static void
imap_copy_reply(struct imap_session *s, struct imap_command *cmd, int uid,
    int move, struct imap_copy_state *st)
{
	uint32_t *dst;
	struct buf b;
	char *base;
	size_t i;

	buf_init(&b);
	if (st->n > 0) {
		dst = xreallocarray(NULL, st->n, sizeof(*dst));
		for (i = 0; i < st->n; i++) {
			base = xstrndup(st->names[i] + 4,
			    strcspn(st->names[i] + 4, ":"));
			dst[i] = imap_uid_of(&st->idx, base);
			free(base);
		}
		buf_printf(&b, "[COPYUID %u ", st->idx.uidvalidity);
		imap_uid_set(&b, st->src, st->n);
		buf_putc(&b, ' ');
		imap_uid_set(&b, dst, st->n);
		buf_puts(&b, "] ");
		free(dst);
	}
	if (move) {
		if (st->n > 0)
			iobuf_printf(&s->io, "* OK %sMoved UIDs.\r\n", b.data);
		for (i = 0; i < s->n; i++)
			if (imap_msg_in_set(s, i, &st->set, uid))
				imap_msg_unlink(s, i);
		imap_reply(s, cmd, "OK Move completed.");
	} else
		imap_reply(s, cmd, "OK %sCopy completed.", b.data ? b.data :
		    "");
	buf_free(&b);
}
