/*
 * maildir_scan: the message list of one Maildir, new/ then cur/, each
 * sorted by name, for pop3d and imapd snapshots (imapd's index asks for
 * names only: it knows the sizes and dates of the files it has seen).
 * Interface: maildir.h.
 * Security: nothing is followed; only regular files count (d_type, or
 * fstatat with AT_SYMLINK_NOFOLLOW), so symlinks, FIFOs, directories and
 * dot files planted in a mailbox are skipped, and the subdirectories are
 * opened with O_NOFOLLOW.
 */
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/xmalloc.h"
#include "mailbox/maildir.h"

struct maildir_list {
	struct maildir_entry *entries;
	size_t	 n;
	size_t	 alloc;
};

static int	maildir_scan_dir(int, const char *, int, struct maildir_list *);
static void	maildir_list_add(struct maildir_list *, const char *,
		    const char *, const struct stat *);
static int	maildir_entry_cmp(const void *, const void *);

int
maildir_scan(int mdfd, struct maildir_entry **entries, size_t *n)
{
	return maildir_scan_opts(mdfd, 0, entries, n);
}

int
maildir_scan_opts(int mdfd, int opts, struct maildir_entry **entries,
    size_t *n)
{
	struct maildir_list list = { NULL, 0, 0 };
	size_t first_cur;
	int save;

	*entries = NULL;
	*n = 0;
	if (maildir_scan_dir(mdfd, "new", opts, &list) == -1)
		goto fail;
	first_cur = list.n;
	if (maildir_scan_dir(mdfd, "cur", opts, &list) == -1)
		goto fail;
	if ((opts & MAILDIR_SCAN_UNSORTED) == 0) {
		if (first_cur > 0)
			qsort(list.entries, first_cur, sizeof(*list.entries),
			    maildir_entry_cmp);
		if (list.n > first_cur)
			qsort(list.entries + first_cur, list.n - first_cur,
			    sizeof(*list.entries), maildir_entry_cmp);
	}
	*entries = list.entries;
	*n = list.n;
	return 0;
fail:
	save = errno;
	maildir_entries_free(list.entries, list.n);
	errno = save;
	return -1;
}

void
maildir_entries_free(struct maildir_entry *entries, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(entries[i].name);
	free(entries);
}

static int
maildir_scan_dir(int mdfd, const char *sub, int opts,
    struct maildir_list *list)
{
	struct dirent *de;
	struct stat st;
	DIR *dir;
	int fd, save;

	fd = openat(mdfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return -1;
	if ((dir = fdopendir(fd)) == NULL) {
		save = errno;
		close(fd);
		errno = save;
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(dir)) == NULL)
			break;
		if (de->d_name[0] == '.')
			continue;
		if ((opts & MAILDIR_SCAN_NOSTAT) && de->d_type != DT_UNKNOWN) {
			if (de->d_type == DT_REG)
				maildir_list_add(list, sub, de->d_name, NULL);
			continue;
		}
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			if (errno == ENOENT)
				continue;	/* renamed or expunged meanwhile */
			break;
		}
		if (S_ISREG(st.st_mode))
			maildir_list_add(list, sub, de->d_name, &st);
	}
	save = errno;
	closedir(dir);
	errno = save;
	return save == 0 ? 0 : -1;
}

static void
maildir_list_add(struct maildir_list *list, const char *sub, const char *name,
    const struct stat *st)
{
	struct maildir_entry *e;

	if (list->n == list->alloc) {
		list->alloc = list->alloc ? list->alloc * 2 : 64;
		list->entries = xreallocarray(list->entries, list->alloc,
		    sizeof(*list->entries));
	}
	e = &list->entries[list->n++];
	e->name = xasprintf("%s/%s", sub, name);
	e->size = st != NULL ? st->st_size : -1;
	e->mtime = st != NULL ? st->st_mtime : 0;
}

static int
maildir_entry_cmp(const void *a, const void *b)
{
	const struct maildir_entry *ea = a, *eb = b;

	return strcmp(ea->name, eb->name);
}
