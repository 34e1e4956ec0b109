/*
 * mailboxes: names and the mailbox list. A client's name is modified
 * UTF-7 with '/' between levels; on disk it is a Maildir++ folder
 * ("Archive/2024" is .Archive.2024/ beside the INBOX's cur/new/tmp).
 * Commands: CREATE, DELETE, RENAME (INBOX's messages move), SUBSCRIBE,
 * UNSUBSCRIBE, LIST, LSUB, STATUS; SPECIAL-USE folders made at login.
 * Security: a name is decoded strictly (no "&AC8-" or "&AC4ALg-"), and
 * '.', empty levels, absolute names and wildcards are refused, so every
 * name maps to one folder directly below the user's Maildir.
 */
#include <sys/stat.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "imapd/imapd.h"
#include "mailbox/maildir.h"
#include "mailbox/mutf7.h"

#define IMAP_FOLDER_MARKER	"maildirfolder"
#define IMAP_SUBS_MAX		(1024 * 1024)

static const char *const imap_special[][2] = {
	{ "Drafts", "\\Drafts" }, { "Sent", "\\Sent" },
	{ "Trash", "\\Trash" }, { "Junk", "\\Junk" },
	{ "Archive", "\\Archive" },
};

struct imap_names {
	char	**v;
	size_t	 n;
};

static int	imap_name_arg(struct imap_session *, struct imap_command *,
		    size_t, char *, size_t);
static const char *imap_name_arg_text(struct imap_command *, size_t);
static int	imap_folder_exists(struct imap_session *, const char *);
static int	imap_folder_create(struct imap_session *, const char *);
static void	imap_folders(struct imap_session *, struct imap_names *);
static void	imap_names_add(struct imap_names *, const char *);
static void	imap_names_free(struct imap_names *);
static int	imap_names_has(const struct imap_names *, const char *);
static int	imap_match(const char *, const char *);
static int	imap_has_children(const struct imap_names *, const char *);
static const char *imap_special_flag(const char *);
static void	imap_list_reply(struct imap_session *, const char *,
		    const char *, const char *);
static void	imap_subs_load(struct imap_session *, struct imap_names *);
static int	imap_subs_store(struct imap_session *,
		    const struct imap_names *);
#define IMAPD_LIST_PATTERNS	32

struct list_req {
	const char *ref;
	char	*pats[IMAPD_LIST_PATTERNS];	/* reference + pattern */
	size_t	 npats;
	int	 extended;
	int	 sel_subscribed, sel_special;
	int	 ret_subscribed, ret_special;
	const struct imap_arg *status;		/* RETURN (STATUS (...)) */
};

static int	list_parse(struct imap_command *, struct list_req *);
static int	list_add_pattern(struct list_req *, const struct imap_arg *);
static void	list_req_free(struct list_req *);
static int	list_matches(const struct list_req *, const char *, int);
static void	list_one(struct imap_session *, const struct list_req *,
		    const struct imap_names *, const struct imap_names *,
		    const char *, int, int);
static void	imap_parents_add(struct imap_names *);
static int	imap_status_items_ok(const struct imap_arg *);
static int	imap_status_reply(struct imap_session *, const char *,
		    const struct imap_arg *);
static int	imap_folder_remove(struct imap_session *, const char *);
static int	imap_inbox_move(struct imap_session *, const char *);
static int	imap_rename_children(struct imap_session *, const char *,
		    const char *);

int
imap_mailbox_path(const char *name, char *path, size_t pathlen)
{
	return mutf7_folder_path(name, IMAPD_NAME_MAX, path, pathlen);
}

int
imap_mailbox_open(struct imap_session *s, const char *name, int create)
{
	char path[IMAPD_NAME_MAX + 2];
	int fd;

	if (imap_mailbox_path(name, path, sizeof(path)) == -1) {
		errno = EINVAL;
		return -1;
	}
	if (strcmp(path, ".") == 0)
		return fcntl(s->homefd, F_DUPFD_CLOEXEC, 0);
	if (!create && !imap_folder_exists(s, path)) {
		errno = ENOENT;
		return -1;
	}
	if ((fd = maildir_open(s->homefd, path, create)) == -1)
		return -1;
	if (create) {
		int m = openat(fd, IMAP_FOLDER_MARKER, O_WRONLY | O_CREAT |
		    O_NOFOLLOW | O_CLOEXEC, 0600);

		if (m != -1)
			close(m);
	}
	return fd;
}

static int
imap_folder_exists(struct imap_session *s, const char *path)
{
	struct stat st;

	return fstatat(s->homefd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode);
}

/* The i-th argument as a mailbox name; NO/BAD replied when unusable. */
static int
imap_name_arg(struct imap_session *s, struct imap_command *cmd, size_t i,
    char *path, size_t pathlen)
{
	const char *name = imap_name_arg_text(cmd, i);

	if (name == NULL) {
		imap_reply(s, cmd, "BAD Missing mailbox name.");
		return -1;
	}
	if (imap_mailbox_path(name, path, pathlen) == -1) {
		imap_reply(s, cmd, "NO [CANNOT] Invalid mailbox name.");
		return -1;
	}
	return 0;
}

static const char *
imap_name_arg_text(struct imap_command *cmd, size_t i)
{
	if (i >= cmd->nargs)
		return NULL;
	return imap_arg_string(&cmd->args[i]);
}

static int
imap_folder_create(struct imap_session *s, const char *name)
{
	int fd = imap_mailbox_open(s, name, 1);

	if (fd == -1)
		return -1;
	close(fd);
	return 0;
}

void
imap_special_use_create(struct imap_session *s)
{
	struct imap_names subs = { NULL, 0 };
	char path[IMAPD_NAME_MAX + 2];
	size_t i;
	int changed = 0;

	imap_subs_load(s, &subs);
	for (i = 0; i < sizeof(imap_special) / sizeof(imap_special[0]); i++) {
		(void)imap_mailbox_path(imap_special[i][0], path, sizeof(path));
		if (imap_folder_exists(s, path))
			continue;
		if (imap_folder_create(s, imap_special[i][0]) == -1) {
			log_warn("imap(%s): create %s", s->user,
			    imap_special[i][0]);
			continue;
		}
		if (!imap_names_has(&subs, imap_special[i][0])) {
			imap_names_add(&subs, imap_special[i][0]);
			changed = 1;
		}
	}
	if (changed)
		(void)imap_subs_store(s, &subs);
	imap_names_free(&subs);
}

int
imap_cmd_create(struct imap_session *s, struct imap_command *cmd)
{
	char path[IMAPD_NAME_MAX + 2], *name;
	const char *arg = imap_name_arg_text(cmd, 0);
	size_t len;

	if (arg == NULL || cmd->nargs != 1) {
		imap_reply(s, cmd, "BAD CREATE takes a mailbox name.");
		return IMAP_CMD_BAD;
	}
	/* RFC 3501 6.3.3: a trailing separator only declares intent. */
	name = xstrdup(arg);
	if ((len = strlen(name)) > 1 && name[len - 1] == '/')
		name[len - 1] = '\0';
	if (imap_mailbox_path(name, path, sizeof(path)) == -1)
		imap_reply(s, cmd, "NO [CANNOT] Invalid mailbox name.");
	else if (strcmp(path, ".") == 0 || imap_folder_exists(s, path))
		imap_reply(s, cmd, "NO [ALREADYEXISTS] Mailbox already "
		    "exists.");
	else if (imap_folder_create(s, name) == -1) {
		log_warn("imap(%s): create %s", s->user, path);
		imap_reply(s, cmd, "NO [SERVERBUG] Cannot create the "
		    "mailbox.");
	} else
		imap_reply(s, cmd, "OK Create completed.");
	free(name);
	return IMAP_CMD_OK;
}

int
imap_cmd_delete(struct imap_session *s, struct imap_command *cmd)
{
	char path[IMAPD_NAME_MAX + 2];

	if (cmd->nargs != 1) {
		imap_reply(s, cmd, "BAD DELETE takes a mailbox name.");
		return IMAP_CMD_BAD;
	}
	if (imap_name_arg(s, cmd, 0, path, sizeof(path)) == -1)
		return IMAP_CMD_OK;
	if (strcmp(path, ".") == 0)
		imap_reply(s, cmd, "NO INBOX can't be deleted.");
	else if (!imap_folder_exists(s, path))
		imap_reply(s, cmd, "NO [NONEXISTENT] Mailbox doesn't exist: "
		    "%s", imap_name_arg_text(cmd, 0));
	else if (imap_folder_remove(s, path) == -1) {
		log_warn("imap(%s): delete %s", s->user, path);
		imap_reply(s, cmd, "NO [SERVERBUG] Cannot delete the mailbox.");
	} else {
		if (s->state == IMAP_STATE_SELECTED &&
		    strcmp(s->selected, imap_name_arg_text(cmd, 0)) == 0) {
			imap_unselect(s);
			iobuf_puts(&s->io, "* BYE Selected mailbox was "
			    "deleted.\r\n");
			imap_reply(s, cmd, "OK Delete completed.");
			s->reason = "Selected mailbox was deleted";
			return IMAP_CMD_CLOSE;
		}
		imap_reply(s, cmd, "OK Delete completed.");
	}
	return IMAP_CMD_OK;
}

/*
 * Move the folder out of sight first (one rename), then empty it: a
 * crash leaves a "..deleted-" directory that LIST never shows.
 */
static int
imap_folder_remove(struct imap_session *s, const char *path)
{
	static const char *const subs[] = { "cur", "new", "tmp" };
	char gone[64];
	struct dirent *de;
	DIR *dir;
	size_t i;
	int fd, sub, rc = 0;

	snprintf(gone, sizeof(gone), "..deleted-%ld-%lld", (long)getpid(),
	    (long long)time(NULL));
	if (renameat(s->homefd, path, s->homefd, gone) == -1)
		return -1;
	if ((fd = openat(s->homefd, gone, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	for (i = 0; i < 3; i++) {
		if ((sub = openat(fd, subs[i], O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) == -1)
			continue;
		if ((dir = fdopendir(sub)) == NULL) {
			close(sub);
			continue;
		}
		while ((de = readdir(dir)) != NULL)
			if (de->d_name[0] != '.')
				(void)unlinkat(sub, de->d_name, 0);
		closedir(dir);
		(void)unlinkat(fd, subs[i], AT_REMOVEDIR);
	}
	if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(dir)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			(void)unlinkat(dirfd(dir), de->d_name, 0);
	closedir(dir);
	if (unlinkat(s->homefd, gone, AT_REMOVEDIR) == -1)
		rc = -1;
	return rc;
}

int
imap_cmd_rename(struct imap_session *s, struct imap_command *cmd)
{
	char from[IMAPD_NAME_MAX + 2], to[IMAPD_NAME_MAX + 2];

	if (cmd->nargs != 2) {
		imap_reply(s, cmd, "BAD RENAME takes two mailbox names.");
		return IMAP_CMD_BAD;
	}
	if (imap_name_arg(s, cmd, 0, from, sizeof(from)) == -1 ||
	    imap_name_arg(s, cmd, 1, to, sizeof(to)) == -1)
		return IMAP_CMD_OK;
	if (strcmp(to, ".") == 0 || imap_folder_exists(s, to))
		imap_reply(s, cmd, "NO [ALREADYEXISTS] Target mailbox already "
		    "exists.");
	else if (strcmp(from, ".") == 0) {
		if (imap_inbox_move(s, imap_name_arg_text(cmd, 1)) == -1)
			imap_reply(s, cmd, "NO [SERVERBUG] Cannot rename.");
		else
			imap_reply(s, cmd, "OK Rename completed.");
	} else if (!imap_folder_exists(s, from))
		imap_reply(s, cmd, "NO [NONEXISTENT] Mailbox doesn't exist.");
	else if (strncmp(to, from, strlen(from)) == 0 &&
	    to[strlen(from)] == '.')
		imap_reply(s, cmd, "NO [CANNOT] Can't rename a mailbox under "
		    "itself.");
	else if (renameat(s->homefd, from, s->homefd, to) == -1 ||
	    imap_rename_children(s, from, to) == -1) {
		log_warn("imap(%s): rename %s", s->user, from);
		imap_reply(s, cmd, "NO [SERVERBUG] Cannot rename.");
	} else
		imap_reply(s, cmd, "OK Rename completed.");
	return IMAP_CMD_OK;
}

/* .A.x becomes .B.x for every child of .A (Maildir++ is flat). */
static int
imap_rename_children(struct imap_session *s, const char *from,
    const char *to)
{
	struct imap_names all = { NULL, 0 };
	size_t i, flen = strlen(from);
	char *dst;
	int rc = 0;
	DIR *dir;
	struct dirent *de;
	int fd;

	if ((fd = openat(s->homefd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return -1;
	if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(dir)) != NULL)
		if (strncmp(de->d_name, from, flen) == 0 &&
		    de->d_name[flen] == '.')
			imap_names_add(&all, de->d_name);
	closedir(dir);
	for (i = 0; i < all.n; i++) {
		dst = xasprintf("%s%s", to, all.v[i] + flen);
		if (renameat(s->homefd, all.v[i], s->homefd, dst) == -1)
			rc = -1;
		free(dst);
	}
	imap_names_free(&all);
	return rc;
}

/* RFC 3501 6.3.5: renaming INBOX moves its messages to a new folder. */
static int
imap_inbox_move(struct imap_session *s, const char *to)
{
	struct maildir_entry *e;
	size_t n, i;
	int dst, rc = 0;

	if ((dst = imap_mailbox_open(s, to, 1)) == -1)
		return -1;
	if (maildir_scan(s->homefd, &e, &n) == -1) {
		close(dst);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (renameat(s->homefd, e[i].name, dst, e[i].name) == -1)
			rc = -1;
	maildir_entries_free(e, n);
	close(dst);
	return rc;
}

/* Every folder name (encoded, '/' separated), INBOX first. */
static void
imap_folders(struct imap_session *s, struct imap_names *out)
{
	char path[IMAPD_NAME_MAX + 2], *name, *p;
	struct dirent *de;
	DIR *dir;
	int fd;

	imap_names_add(out, "INBOX");
	if ((fd = openat(s->homefd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return;
	if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(dir)) != NULL && out->n < IMAPD_FOLDERS_MAX) {
		if (de->d_name[0] != '.' || de->d_name[1] == '.' ||
		    de->d_name[1] == '\0' ||
		    (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
			continue;
		name = xstrdup(de->d_name + 1);
		for (p = name; *p != '\0'; p++)
			if (*p == '.')
				*p = '/';
		/* Only names a client could have made (see imap_mailbox_path). */
		if (imap_mailbox_path(name, path, sizeof(path)) == 0 &&
		    strcasecmp(name, "INBOX") != 0)
			imap_names_add(out, name);
		free(name);
	}
	closedir(dir);
}

/* "A/B/C" without "A" or "A/B": add those (LIST shows them \Noselect). */
static void
imap_parents_add(struct imap_names *names)
{
	size_t i, n = names->n;
	char *parent, *slash;

	for (i = 1; i < n; i++) {
		parent = xstrdup(names->v[i]);
		while ((slash = strrchr(parent, '/')) != NULL) {
			*slash = '\0';
			if (!imap_names_has(names, parent))
				imap_names_add(names, parent);
		}
		free(parent);
	}
}

static void
imap_names_add(struct imap_names *names, const char *name)
{
	names->v = xreallocarray(names->v, names->n + 1, sizeof(char *));
	names->v[names->n++] = xstrdup(name);
}

static void
imap_names_free(struct imap_names *names)
{
	while (names->n > 0)
		free(names->v[--names->n]);
	free(names->v);
	names->v = NULL;
}

static int
imap_names_has(const struct imap_names *names, const char *name)
{
	size_t i;

	for (i = 0; i < names->n; i++)
		if (strcmp(names->v[i], name) == 0)
			return 1;
	return 0;
}

/* '*' matches anything, '%' anything but the separator. */
static int
imap_match(const char *pat, const char *name)
{
	for (; *pat != '\0'; pat++, name++) {
		if (*pat == '*' || *pat == '%') {
			for (;; name++) {
				if (imap_match(pat + 1, name))
					return 1;
				if (*name == '\0' ||
				    (*pat == '%' && *name == '/'))
					return 0;
			}
		}
		if (*pat != *name)
			return 0;
	}
	return *name == '\0';
}

static int
imap_has_children(const struct imap_names *names, const char *name)
{
	size_t i, len = strlen(name);

	for (i = 0; i < names->n; i++)
		if (strncmp(names->v[i], name, len) == 0 &&
		    names->v[i][len] == '/')
			return 1;
	return 0;
}

static const char *
imap_special_flag(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(imap_special) / sizeof(imap_special[0]); i++)
		if (strcmp(imap_special[i][0], name) == 0)
			return imap_special[i][1];
	return NULL;
}

static void
imap_list_reply(struct imap_session *s, const char *verb, const char *attrs,
    const char *name)
{
	struct buf b;

	buf_init(&b);
	buf_printf(&b, "* %s (%s) \"/\" ", verb, attrs);
	if (strcmp(name, "INBOX") == 0)
		buf_puts(&b, "INBOX");
	else
		imap_quote(&b, name, strlen(name));
	buf_puts(&b, "\r\n");
	iobuf_write(&s->io, b.data, b.len);
	buf_free(&b);
}

/*
 * LIST [(selection)] reference pattern|(patterns) [RETURN (options)]:
 * RFC 3501, LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819) and the
 * SPECIAL-USE selection and return options (RFC 6154).
 */
int
imap_cmd_list(struct imap_session *s, struct imap_command *cmd)
{
	struct list_req lr;
	struct imap_names all = { NULL, 0 }, subs = { NULL, 0 };
	size_t i, real;

	if (list_parse(cmd, &lr) == -1) {
		list_req_free(&lr);
		imap_reply(s, cmd, "BAD Invalid LIST arguments.");
		return IMAP_CMD_BAD;
	}
	if (lr.npats == 1 && *lr.pats[0] == '\0' && !lr.extended) {
		iobuf_puts(&s->io, "* LIST (\\Noselect) \"/\" \"\"\r\n");
		imap_reply(s, cmd, "OK List completed.");
		list_req_free(&lr);
		return IMAP_CMD_OK;
	}
	imap_folders(s, &all);
	real = all.n;
	imap_parents_add(&all);
	if (lr.sel_subscribed || lr.ret_subscribed)
		imap_subs_load(s, &subs);
	for (i = 0; i < all.n && imap_flush_if_full(s) == 0; i++)
		list_one(s, &lr, &all, &subs, all.v[i], i == 0, i >= real);
	/* Subscribed names without a folder: \NonExistent (RFC 5258). */
	for (i = 0; lr.sel_subscribed && i < subs.n; i++)
		if (!imap_names_has(&all, subs.v[i]) &&
		    list_matches(&lr, subs.v[i], 0))
			imap_list_reply(s, "LIST", "\\Subscribed \\NonExistent",
			    subs.v[i]);
	imap_names_free(&all);
	imap_names_free(&subs);
	list_req_free(&lr);
	imap_reply(s, cmd, "OK List completed.");
	return IMAP_CMD_OK;
}

static int
list_parse(struct imap_command *cmd, struct list_req *lr)
{
	const struct imap_arg *a = cmd->args, *ret;
	size_t n = cmd->nargs, i;

	memset(lr, 0, sizeof(*lr));
	if (n > 0 && a[0].type == IMAP_ARG_LIST) {
		lr->extended = 1;
		for (i = 0; i < a[0].n; i++) {
			if (imap_arg_is(&a[0].list[i], "SUBSCRIBED"))
				lr->sel_subscribed = 1;
			else if (imap_arg_is(&a[0].list[i], "SPECIAL-USE"))
				lr->sel_special = 1;
			else if (!imap_arg_is(&a[0].list[i], "REMOTE") &&
			    !imap_arg_is(&a[0].list[i], "RECURSIVEMATCH"))
				return -1;
		}
		a++;
		n--;
	}
	if (n != 2 && n != 4)
		return -1;
	if ((lr->ref = imap_arg_string(&a[0])) == NULL)
		return -1;
	if (a[1].type == IMAP_ARG_LIST) {
		lr->extended = 1;
		for (i = 0; i < a[1].n; i++)
			if (list_add_pattern(lr, &a[1].list[i]) == -1)
				return -1;
	} else if (list_add_pattern(lr, &a[1]) == -1)
		return -1;
	if (n == 2)
		return lr->npats > 0 ? 0 : -1;
	if (!imap_arg_is(&a[2], "RETURN") || a[3].type != IMAP_ARG_LIST)
		return -1;
	lr->extended = 1;
	ret = &a[3];
	for (i = 0; i < ret->n; i++) {
		if (imap_arg_is(&ret->list[i], "SUBSCRIBED"))
			lr->ret_subscribed = 1;
		else if (imap_arg_is(&ret->list[i], "SPECIAL-USE"))
			lr->ret_special = 1;
		else if (imap_arg_is(&ret->list[i], "STATUS") &&
		    i + 1 < ret->n && imap_status_items_ok(&ret->list[i + 1]))
			lr->status = &ret->list[++i];
		else if (!imap_arg_is(&ret->list[i], "CHILDREN"))
			return -1;
	}
	return lr->npats > 0 ? 0 : -1;
}

static int
list_add_pattern(struct list_req *lr, const struct imap_arg *a)
{
	const char *pat = imap_arg_string(a);

	if (pat == NULL || lr->npats >= IMAPD_LIST_PATTERNS)
		return -1;
	lr->pats[lr->npats++] = xasprintf("%s%s", lr->ref, pat);
	return 0;
}

static void
list_req_free(struct list_req *lr)
{
	while (lr->npats > 0)
		free(lr->pats[--lr->npats]);
}

static int
list_matches(const struct list_req *lr, const char *name, int inbox)
{
	size_t i;

	for (i = 0; i < lr->npats; i++) {
		if (!inbox && imap_match(lr->pats[i], name))
			return 1;
		/* INBOX is case-insensitive (RFC 3501 5.1). */
		if (inbox && (imap_match(lr->pats[i], "INBOX") ||
		    (strncasecmp(lr->pats[i], "INBOX", 5) == 0 &&
		    imap_match(lr->pats[i] + 5, ""))))
			return 1;
	}
	return 0;
}

static void
list_one(struct imap_session *s, const struct list_req *lr,
    const struct imap_names *all, const struct imap_names *subs,
    const char *name, int inbox, int implied)
{
	const char *special = imap_special_flag(name);
	int subscribed = imap_names_has(subs, name);
	struct buf attrs;

	if (!list_matches(lr, name, inbox) ||
	    (lr->sel_subscribed && !subscribed) ||
	    (lr->sel_special && special == NULL) ||
	    (implied && lr->sel_subscribed))
		return;
	buf_init(&attrs);
	if (implied)
		buf_puts(&attrs, lr->extended ? "\\NonExistent \\HasChildren" :
		    "\\Noselect \\HasChildren");
	else
		buf_puts(&attrs, imap_has_children(all, name) ?
		    "\\HasChildren" : "\\HasNoChildren");
	if (special != NULL)
		buf_printf(&attrs, " %s", special);
	if (subscribed && (lr->sel_subscribed || lr->ret_subscribed))
		buf_puts(&attrs, " \\Subscribed");
	imap_list_reply(s, "LIST", attrs.data, name);
	buf_free(&attrs);
	if (lr->status != NULL && !implied)
		(void)imap_status_reply(s, name, lr->status);
}

int
imap_cmd_lsub(struct imap_session *s, struct imap_command *cmd)
{
	struct imap_names subs = { NULL, 0 };
	const char *ref, *pat;
	char *full;
	size_t i;

	if (cmd->nargs != 2 || (ref = imap_arg_string(&cmd->args[0])) ==
	    NULL || (pat = imap_arg_string(&cmd->args[1])) == NULL) {
		imap_reply(s, cmd, "BAD LSUB takes a reference and a "
		    "pattern.");
		return IMAP_CMD_BAD;
	}
	full = xasprintf("%s%s", ref, pat);
	imap_subs_load(s, &subs);
	for (i = 0; i < subs.n; i++)
		if (imap_match(full, subs.v[i]))
			imap_list_reply(s, "LSUB", "", subs.v[i]);
	imap_names_free(&subs);
	free(full);
	imap_reply(s, cmd, "OK Lsub completed.");
	return IMAP_CMD_OK;
}

/* The subscriptions file: one encoded name per line (Dovecot v1). */
static void
imap_subs_load(struct imap_session *s, struct imap_names *out)
{
	char *data, *line, *next;
	struct stat st;
	ssize_t n;
	int fd;

	fd = openat(s->homefd, IMAPD_SUBSCRIPTIONS, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd == -1)
		return;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > IMAP_SUBS_MAX) {
		close(fd);
		return;
	}
	data = xmalloc((size_t)st.st_size + 1);
	n = read(fd, data, (size_t)st.st_size);
	close(fd);
	data[n > 0 ? n : 0] = '\0';
	for (line = data; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (*line != '\0' && strchr(line, '\t') == NULL &&
		    !imap_names_has(out, line))
			imap_names_add(out, line);
	}
	free(data);
}

/* Write a new file and rename it over the old one. */
static int
imap_subs_store(struct imap_session *s, const struct imap_names *subs)
{
	char tmp[64];
	struct buf b;
	size_t i;
	int fd, rc;

	snprintf(tmp, sizeof(tmp), "tmp/subscriptions.%ld", (long)getpid());
	buf_init(&b);
	for (i = 0; i < subs->n; i++)
		buf_printf(&b, "%s\n", subs->v[i]);
	fd = openat(s->homefd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	rc = fd == -1 || (b.len > 0 && write(fd, b.data, b.len) !=
	    (ssize_t)b.len) ? -1 : 0;
	if (fd != -1)
		close(fd);
	if (rc == 0)
		rc = renameat(s->homefd, tmp, s->homefd, IMAPD_SUBSCRIPTIONS);
	buf_free(&b);
	return rc;
}

static int
imap_subscription(struct imap_session *s, struct imap_command *cmd, int add)
{
	struct imap_names subs = { NULL, 0 }, keep = { NULL, 0 };
	char path[IMAPD_NAME_MAX + 2];
	const char *name;
	size_t i;
	int rc;

	if (cmd->nargs != 1) {
		imap_reply(s, cmd, "BAD Missing mailbox name.");
		return IMAP_CMD_BAD;
	}
	if (imap_name_arg(s, cmd, 0, path, sizeof(path)) == -1)
		return IMAP_CMD_OK;
	name = strcmp(path, ".") == 0 ? "INBOX" : imap_name_arg_text(cmd, 0);
	imap_subs_load(s, &subs);
	for (i = 0; i < subs.n; i++)
		if (strcmp(subs.v[i], name) != 0)
			imap_names_add(&keep, subs.v[i]);
	if (add)
		imap_names_add(&keep, name);
	rc = imap_subs_store(s, &keep);
	imap_names_free(&subs);
	imap_names_free(&keep);
	if (rc == -1)
		imap_reply(s, cmd, "NO [SERVERBUG] Cannot save "
		    "subscriptions.");
	else
		imap_reply(s, cmd, "OK %s completed.", add ? "Subscribe" :
		    "Unsubscribe");
	return IMAP_CMD_OK;
}

int
imap_cmd_subscribe(struct imap_session *s, struct imap_command *cmd)
{
	return imap_subscription(s, cmd, 1);
}

int
imap_cmd_unsubscribe(struct imap_session *s, struct imap_command *cmd)
{
	return imap_subscription(s, cmd, 0);
}

static int
imap_status_items_ok(const struct imap_arg *list)
{
	static const char *const known[] = { "MESSAGES", "RECENT", "UIDNEXT",
	    "UIDVALIDITY", "UNSEEN", "HIGHESTMODSEQ" };
	size_t i, k;

	if (list->type != IMAP_ARG_LIST || list->n == 0)
		return 0;
	for (i = 0; i < list->n; i++) {
		for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (imap_arg_is(&list->list[i], known[k]))
				break;
		if (k == sizeof(known) / sizeof(known[0]))
			return 0;
	}
	return 1;
}

/* "* STATUS name (...)"; -1 with errno when the mailbox can't be read. */
static int
imap_status_reply(struct imap_session *s, const char *name,
    const struct imap_arg *list)
{
	struct imap_index idx = { 0 };
	unsigned long long unseen = 0, recent = 0, v;
	struct buf b;
	char it[16];
	size_t i, c;
	int fd;

	if ((fd = imap_mailbox_open(s, name, 0)) == -1)
		return -1;
	if (imap_index_sync(fd, &idx, 0) == -1) {
		close(fd);
		errno = EIO;
		return -1;
	}
	close(fd);
	for (i = 0; i < idx.n; i++) {
		unseen += (idx.msgs[i].flags & IMAP_FLAG_SEEN) == 0;
		recent += strncmp(idx.msgs[i].name, "new/", 4) == 0;
	}
	buf_init(&b);
	buf_puts(&b, "* STATUS ");
	imap_quote(&b, name, strlen(name));
	buf_puts(&b, " (");
	for (i = 0; i < list->n; i++) {
		for (c = 0; c + 1 < sizeof(it) && list->list[i].s[c]; c++)
			it[c] = (char)toupper((unsigned char)list->list[i].s[c]);
		it[c] = '\0';
		v = strcmp(it, "MESSAGES") == 0 ? idx.n :
		    strcmp(it, "RECENT") == 0 ? recent :
		    strcmp(it, "UIDNEXT") == 0 ? idx.uidnext :
		    strcmp(it, "UIDVALIDITY") == 0 ? idx.uidvalidity :
		    strcmp(it, "HIGHESTMODSEQ") == 0 ? idx.highestmodseq :
		    unseen;
		buf_printf(&b, "%s%s %llu", i ? " " : "", it, v);
	}
	buf_puts(&b, ")\r\n");
	iobuf_write(&s->io, b.data, b.len);
	buf_free(&b);
	imap_index_free(&idx);
	return 0;
}

int
imap_cmd_status(struct imap_session *s, struct imap_command *cmd)
{
	const char *name;

	if (cmd->nargs != 2 || (name = imap_arg_string(&cmd->args[0])) ==
	    NULL || !imap_status_items_ok(&cmd->args[1])) {
		imap_reply(s, cmd, "BAD STATUS takes a mailbox and a list of "
		    "status items.");
		return IMAP_CMD_BAD;
	}
	if (imap_status_reply(s, name, &cmd->args[1]) == -1)
		imap_reply(s, cmd, errno == EINVAL ? "NO [CANNOT] Invalid "
		    "mailbox name." : errno == ENOENT ? "NO [NONEXISTENT] "
		    "Mailbox doesn't exist." : "NO [SERVERBUG] Cannot read "
		    "the mailbox.");
	else
		imap_reply(s, cmd, "OK Status completed.");
	return IMAP_CMD_OK;
}
