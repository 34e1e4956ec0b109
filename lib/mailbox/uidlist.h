/*
 * uidlist: a reader for Dovecot's dovecot-uidlist (and Courier's
 * courierimapuiddb, the same version 1 format), the IMAP UID and
 * UIDVALIDITY of every message in a Maildir migrated from Dovecot.
 * pop3d uses it for Dovecot-compatible UIDLs; imapd's index can seed its
 * UIDs from it. Read only: Postilion never writes the file.
 * Security: the file is untrusted input in the user's Maildir: bounded in
 * size by the caller, opened with O_NOFOLLOW, malformed lines skipped.
 */
#ifndef POSTILION_UIDLIST_H
#define POSTILION_UIDLIST_H

#include <stddef.h>
#include <stdint.h>

#define UIDLIST_NAME	"dovecot-uidlist"

struct uidlist_rec {
	char	*base;		/* the file name up to the ':' of the flags */
	uint32_t uid;
	char	*pop3_uidl;	/* Dovecot's 'P' extension, or NULL */
};

struct uidlist {
	uint32_t uidvalidity;
	uint32_t nextuid;	/* from the header; appended lines may pass it */
	struct uidlist_rec *recs;	/* sorted by base, one per base */
	size_t	 n;
};

/*
 * uidlist_parse: parse len bytes (version 1 or 3). 0 on success; -1 when
 * the header is unusable (no version 1/3, no UIDVALIDITY). Record lines
 * that do not parse are skipped; a base listed twice keeps its lowest UID.
 */
int	uidlist_parse(const char *data, size_t len, struct uidlist *);

/*
 * uidlist_load: read UIDLIST_NAME in the Maildir mdfd. 1 when loaded, 0
 * when there is none, -1 on error (errno; EFBIG when larger than max,
 * EINVAL when malformed or not a regular file).
 */
int	uidlist_load(int mdfd, size_t max, struct uidlist *);

/* uidlist_lookup: the record for a base name (len bytes), or NULL. */
const struct uidlist_rec *uidlist_lookup(const struct uidlist *,
	    const char *base, size_t len);

void	uidlist_free(struct uidlist *);

#endif
