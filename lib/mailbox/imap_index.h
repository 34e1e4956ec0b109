/*
 * imap_index: a Maildir's IMAP state in a Berkeley DB btree inside it
 * (postilion-imap.db): UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, the keyword
 * names, and per message (keyed by the file's base name, which survives
 * flag renames) its UID, MODSEQ and last seen flags. imap_index_sync
 * reconciles it with the files under an flock, so imapd, pop3d and deliver
 * can change the Maildir at any time. A lost or damaged index is rebuilt
 * with a new UIDVALIDITY, or seeded from Dovecot's dovecot-uidlist.
 */
#ifndef POSTILION_IMAP_INDEX_H
#define POSTILION_IMAP_INDEX_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"

#define IMAP_INDEX_NAME		"postilion-imap.db"
#define IMAP_INDEX_LOCK		"postilion-imap.lock"
#define IMAP_KEYWORDS_MAX	26	/* Maildir letters a-z */
#define IMAP_KEYWORD_LEN_MAX	64
#define IMAP_UIDLIST_MAX	(32 * 1024 * 1024)

/* System flags as Maildir info letters (ASCII order in file names). */
#define IMAP_FLAG_DRAFT		0x01	/* D */
#define IMAP_FLAG_FLAGGED	0x02	/* F */
#define IMAP_FLAG_ANSWERED	0x04	/* R */
#define IMAP_FLAG_SEEN		0x08	/* S */
#define IMAP_FLAG_DELETED	0x10	/* T */

struct imap_index_msg {
	uint32_t uid;
	uint64_t modseq;
	char	*name;		/* "new/BASE" or "cur/BASE:2,FLAGS" */
	off_t	 size;		/* on disk, LF line ends; ",S=" if mtime -1 */
	time_t	 mtime;		/* INTERNALDATE; -1: not stat'd, see size */
	unsigned flags;		/* IMAP_FLAG_* */
	uint32_t keywords;	/* bit i: keywords[i] */
	int	 recent;	/* this sync moved it out of new/ */
};

struct imap_index {
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	char	*keywords[IMAP_KEYWORDS_MAX];
	size_t	 nkeywords;
	struct imap_index_msg *msgs;	/* sorted by uid */
	size_t	 n;
	int	 rebuilt;	/* this sync started a new UIDVALIDITY */
};

/*
 * imap_index_sync: bring the index up to date with the Maildir mdfd and
 * fill idx (freed and refilled if it held a previous sync). With move_new,
 * files in new/ move to cur/ and are marked recent. 0, or -1 with errno.
 */
int	imap_index_sync(int mdfd, struct imap_index *idx, int move_new);
/*
 * imap_index_keyword: the letter index of keyword name, adding it to the
 * index when create is set and there is room; -1 when absent or full.
 */
int	imap_index_keyword(int mdfd, struct imap_index *idx, const char *name,
	    int create);
void	imap_index_free(struct imap_index *idx);

/*
 * The cache: an opaque blob per message (imapd keeps the parsed
 * ENVELOPE, BODY, BODYSTRUCTURE and size there), keyed by base name in the
 * same database and dropped with the message's record. Each call takes
 * the index lock once for all n messages. imap_cache_load fills blobs[i]
 * (reset first; empty when not cached); imap_cache_store writes the
 * non-empty ones. 0 or -1 (errno).
 */
int	imap_cache_load(int mdfd, char *const *names, size_t n,
	    struct buf *blobs);
int	imap_cache_store(int mdfd, char *const *names, size_t n,
	    const struct buf *blobs);

/* imap_flags_parse: flags and keyword bits from a file name's ":2," part. */
void	imap_flags_parse(const char *name, unsigned *flags, uint32_t *kw);
/* imap_flags_name: the ":2,..." suffix for flags and keywords into out. */
void	imap_flags_name(unsigned flags, uint32_t kw, char *out, size_t outlen);

#endif
