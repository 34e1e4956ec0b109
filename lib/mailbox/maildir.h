/*
 * maildir: the Maildir++ store shared by deliver, pop3d and imapd. Paths
 * are relative to a directory descriptor for virtual_mailbox_base, and
 * every component is opened with O_NOFOLLOW, so a symlink planted in a
 * mailbox tree is refused instead of followed.
 */
#ifndef POSTILION_MAILDIR_H
#define POSTILION_MAILDIR_H

#include <sys/types.h>
#include <stddef.h>

/*
 * maildir_open: open (creating when create is set, mode 0700) the Maildir
 * at relpath under basefd, with cur/, new/ and tmp/. Returns a directory fd
 * or -1 (errno; ELOOP for a symlink anywhere on the path).
 */
int	maildir_open(int basefd, const char *relpath, int create);

/*
 * maildir_deliver: write header (already formatted, LF line ends) followed
 * by len bytes of src_fd at src_off into tmp/, fsync it, link into new/,
 * fsync new/ and unlink the tmp name. name receives the new/ file name.
 * 0 on success; -1 with errno (nothing is left behind in new/ or tmp/).
 */
int	maildir_deliver(int mdfd, const char *hostname, const char *header,
	    size_t header_len, int src_fd, off_t src_off, size_t len,
	    char *name, size_t namelen);

struct maildir_entry {
	char	*name;		/* "new/FILE" or "cur/FILE" */
	off_t	 size;		/* bytes on disk (LF line ends) */
	time_t	 mtime;
};

/* maildir_scan: list new/ then cur/ (sorted by name); 0 or -1. */
int	maildir_scan(int mdfd, struct maildir_entry **, size_t *);
/*
 * maildir_scan_opts: the same with options. MAILDIR_SCAN_NOSTAT: a file
 * readdir reports as regular (d_type) is not stat'd, its size is -1 and
 * its mtime 0 (only a DT_UNKNOWN entry is stat'd); MAILDIR_SCAN_UNSORTED:
 * in readdir order.
 */
#define MAILDIR_SCAN_NOSTAT	0x01
#define MAILDIR_SCAN_UNSORTED	0x02
int	maildir_scan_opts(int mdfd, int opts, struct maildir_entry **,
	    size_t *);
void	maildir_entries_free(struct maildir_entry *, size_t);

#endif
