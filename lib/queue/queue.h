/*
 * queue: queue files and queue IDs.
 *
 * A queue file is a sequence of records: one type byte, a 4-byte big-endian
 * length, then the data. Order: TIME, SENDER, ATTR*, RCPT* (each optionally
 * preceded by its ORCPT and NOTIFY), CONTENT, END. DSN: ATTR dsn_envid=,
 * dsn_ret=FULL|HDRS. A file whose last record is not END
 * is not a message and is never delivered.
 *
 * Crash safety of acceptance (why 250 is safe to say): the writer creates
 * incoming/.ID (a dot name qmgr ignores), writes every record, fsyncs the
 * file, renames it to incoming/ID and fsyncs incoming/ (where fsync of the
 * file commits its name too: data written out, rename, one fsync of the
 * file; docs/QUEUE.md section 1). Only after that does smtpd answer 250.
 * A crash before the rename is durable leaves a dot file (removed by qmgr
 * as stale); after it, a complete file that qmgr will deliver.
 *
 * Delivery progress: when a recipient is done (delivered or bounced), its
 * type byte is overwritten in place from RCPT to DONE and the file fsynced;
 * a crash between delivery and that write means one duplicate, never a loss.
 * A delivery agent given recipient offsets marks delivered ones itself,
 * before it replies (queue_rcpts_done); bounced ones only qmgr marks, after
 * the bounce is queued.
 */
#ifndef POSTILION_QUEUE_H
#define POSTILION_QUEUE_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct stat;

#define QREC_TIME	'T'	/* "seconds microseconds" of arrival */
#define QREC_SENDER	'S'	/* envelope sender, "" for the null sender */
#define QREC_ATTR	'A'	/* "name=value": client_name, client_address, helo, protocol, message_id */
#define QREC_ORCPT	'O'	/* original recipient of the next RCPT */
#define QREC_NOTIFY	'N'	/* DSN NOTIFY of the next RCPT: "NEVER" or "SUCCESS,DELAY,FAILURE" subset */
#define QREC_RCPT	'R'	/* a recipient still to deliver */
#define QREC_DONE	'D'	/* a recipient that is finished */
#define QREC_CONTENT	'C'	/* the message, LF line ends */
#define QREC_END	'E'	/* mandatory last record, empty */

#define QREC_HDR_SIZE	5
#define QUEUE_ID_MAX	32
#define QUEUE_REC_MAX	(64 * 1024)	/* any record but CONTENT */

/* The queue's subdirectories, relative to queue_directory. */
#define QUEUE_MAILDROP	"maildrop"
#define QUEUE_INCOMING	"incoming"
#define QUEUE_ACTIVE	"active"
#define QUEUE_DEFERRED	"deferred"
#define QUEUE_HOLD	"hold"
#define QUEUE_CORRUPT	"corrupt"
#define QUEUE_TRASH	"trash"	/* removed files awaiting unlink (qmgr) */
#define QUEUE_RECYCLE	"recycle" /* finished files for reuse (queue_pool) */

#define QUEUE_POOL_SLOTS_MAX	100000
#define QUEUE_POOL_FILE_MAX	(64 * 1024)	/* larger files are unlinked */
#define QUEUE_POOL_MISS_MS	10	/* no rescan this soon after a miss */

/* Finished queue files kept for reuse (queue_pool.c). */
struct queue_pool {
	int	 dirfd;		/* recycle/, or -1: no pool */
	unsigned int nslots;
	void	*dir;		/* DIR * on a copy of dirfd, once read */
	unsigned int *filled, nfilled;	/* slots seen filled, not yet tried */
	unsigned int *free, nfree;	/* slots seen free, not yet tried */
	/*
	 * A scan that found no filled (or no free) slot is not repeated for
	 * miss_ms: a pool empty under a backlog, or full, is then one
	 * getdents per miss_ms, not one per message. 0 rescans every time.
	 */
	long	 miss_ms;
	long long missed_at[2];	/* [want_free]: its monotonic ms, or 0 */
};

struct queue_writer {
	int	 fd;
	int	 dirfd;
	char	 dir[64];
	char	 tmpname[QUEUE_ID_MAX + 2];
	char	 id[QUEUE_ID_MAX];
	off_t	 flushed;	/* bytes already written to fd */
	off_t	 reused_size;	/* size of a recycled file when taken, or -1 */
	off_t	 content_hdr;	/* offset of the CONTENT record header */
	uint64_t content_len;
	struct buf pending;	/* small records and content, batched */
	int	 failed;	/* errno of the first failure, 0 if none */
};

/*
 * queue_writer_open: create DIR/.ID in the current directory's DIR (the
 * queue directory is the cwd of every queue process). 0 or -1 (errno).
 */
int	queue_writer_open(struct queue_writer *, const char *dir);
/*
 * queue_writer_open_pool: the same, but write into a file taken from the
 * pool when there is one (its old bytes are overwritten and cut off before
 * the fsync, so none of them is ever part of the new message).
 */
int	queue_writer_open_pool(struct queue_writer *, const char *dir,
	    struct queue_pool *);
void	queue_writer_record(struct queue_writer *, int type, const void *,
	    size_t);
void	queue_writer_recordf(struct queue_writer *, int type, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
/* Content is streamed between begin and end (one CONTENT record). */
void	queue_writer_content_begin(struct queue_writer *);
void	queue_writer_content(struct queue_writer *, const void *, size_t);
void	queue_writer_content_end(struct queue_writer *);
/* queue_writer_size: content bytes so far. */
uint64_t queue_writer_size(const struct queue_writer *);
/*
 * queue_writer_commit: END record, fsync, rename to DIR/ID, fsync DIR (or
 * write out, rename, fsync the file: fsync_covers_names).
 * 0 when the message is safely queued; -1 (errno, e.g. ENOSPC) when not,
 * in which case the partial file is already removed.
 */
int	queue_writer_commit(struct queue_writer *);
/*
 * queue_writer_retarget: move the uncommitted file to another queue
 * directory (e.g. hold/), so commit puts it there; same ID. 0 or -1.
 */
int	queue_writer_retarget(struct queue_writer *, const char *dir);
/* queue_writer_abort: discard a message being written. */
void	queue_writer_abort(struct queue_writer *);

struct queue_rcpt {
	char	*address;
	char	*orcpt;		/* NULL when none */
	off_t	 offset;	/* of its record header, for queue_rcpt_done */
	int	 done;
	char	*notify;	/* DSN NOTIFY (QREC_NOTIFY), NULL when none */
};

struct queue_message {
	long long arrival_sec;
	long	 arrival_usec;
	char	*sender;
	char	**attr_names;
	char	**attr_values;
	size_t	 nattrs;
	struct queue_rcpt *rcpts;
	size_t	 nrcpts;
	off_t	 content_offset;	/* first byte of the message */
	uint64_t content_len;
};

/*
 * queue_file_read: parse a whole queue file from fd (with pread, so the
 * file offset is untouched). -1 with a reason in err if the file is
 * malformed or has no END record.
 */
int	queue_file_read(int fd, struct queue_message *, char *err, size_t errlen);
void	queue_message_free(struct queue_message *);
/* queue_message_attr: value of an ATTR record or NULL. */
const char *queue_message_attr(const struct queue_message *, const char *);
/* queue_rcpt_done: mark the recipient finished (in place) and fsync. */
int	queue_rcpt_done(int fd, const struct queue_rcpt *);
/*
 * queue_rcpts_done: mark n recipients finished, for a delivery agent
 * holding the file qmgr passed it. No fsync: the mark must survive the
 * agent's or qmgr's death (the page cache keeps it), and a power loss
 * that drops it costs one more delivery (docs/QUEUE.md section 4). Each
 * entry's offset must be the header of a RCPT or DONE record of fd whose
 * address equals the entry's address; if any is not, nothing is written
 * (-1, EINVAL), so a bad request cannot scribble on the file. 0, or -1
 * (errno).
 */
int	queue_rcpts_done(int fd, const struct queue_rcpt *, size_t n);

/*
 * queue_pool_open: the pool in dir with nslots slots (<= 0: no pool, 0).
 * queue_pool_put: move fromfd/name into a free slot; -1 when the file does
 * not qualify (one link, ours, at most QUEUE_POOL_FILE_MAX) or no free
 * slot was found, and the caller removes it instead.
 * queue_pool_take: move a pooled file to todirfd/name and open it
 * read-write (mode 0600, st filled); -1 when none was found.
 */
int	queue_pool_open(struct queue_pool *, const char *dir, long long nslots);
void	queue_pool_close(struct queue_pool *);
int	queue_pool_put(struct queue_pool *, int fromfd, const char *name);
int	queue_pool_take(struct queue_pool *, int todirfd, const char *name,
	    struct stat *);

/* queue_id_valid: a name that is a queue ID (uppercase hex, 10+ chars). */
int	queue_id_valid(const char *);
/* queue_id_make: Postfix's short form: 5 hex digits of usec + inode hex. */
void	queue_id_make(char *, size_t, unsigned long usec, unsigned long long ino);

#endif
