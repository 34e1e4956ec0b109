/*
 * queue: writing, reading and updating queue files. See queue.h for the
 * record layout and the argument for crash safety at each step.
 */
#include <sys/stat.h>
#include <sys/time.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fileutil.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "queue/queue.h"

#define QUEUE_FLUSH_AT	(64 * 1024)
#define QUEUE_READ_AHEAD	(16 * 1024)

/*
 * Reads of a queue file's records through one window: a small message is
 * parsed from a single pread, a large one costs one more for END.
 */
struct queue_reader {
	int	 fd;
	off_t	 size;		/* of the file */
	off_t	 off;		/* of data[0] */
	size_t	 len;		/* valid bytes in data */
	unsigned char data[QUEUE_READ_AHEAD];
};

static void queue_writer_flush(struct queue_writer *);
static int queue_reader_get(struct queue_reader *, void *, size_t, off_t);
static void queue_put_header(unsigned char *, int, uint32_t);
static const struct queue_rcpt *queue_rcpt_find(const struct queue_message *,
    const struct queue_rcpt *);

void
queue_id_make(char *out, size_t outlen, unsigned long usec,
    unsigned long long ino)
{
	snprintf(out, outlen, "%05lX%05llX", usec & 0xFFFFF, ino);
}

int
queue_id_valid(const char *name)
{
	size_t n = 0;

	for (; *name; name++, n++)
		if (!isdigit((unsigned char)*name) &&
		    !(*name >= 'A' && *name <= 'F'))
			return 0;
	return n >= 10 && n < QUEUE_ID_MAX;
}

static void
queue_put_header(unsigned char *h, int type, uint32_t len)
{
	h[0] = (unsigned char)type;
	h[1] = (unsigned char)(len >> 24);
	h[2] = (unsigned char)(len >> 16);
	h[3] = (unsigned char)(len >> 8);
	h[4] = (unsigned char)len;
}

int
queue_writer_open(struct queue_writer *w, const char *dir)
{
	return queue_writer_open_pool(w, dir, NULL);
}

int
queue_writer_open_pool(struct queue_writer *w, const char *dir,
    struct queue_pool *pool)
{
	static unsigned int counter;
	struct timeval tv;
	struct stat st;
	int saved;

	memset(w, 0, sizeof(*w));
	w->fd = -1;
	w->reused_size = -1;
	buf_init(&w->pending);
	if (strlcpy(w->dir, dir, sizeof(w->dir)) >= sizeof(w->dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/*
	 * maildrop/ is 01730: sendmail (setgid postdrop) may create files
	 * but not read the directory, so it gets an O_PATH handle.
	 */
	if ((w->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 &&
	    (errno != EACCES || (w->dirfd = open(dir, O_PATH | O_DIRECTORY |
	    O_CLOEXEC)) == -1))
		return -1;
	gettimeofday(&tv, NULL);
	snprintf(w->tmpname, sizeof(w->tmpname), ".%lX%lX%X",
	    (unsigned long)getpid(), (unsigned long)tv.tv_usec, counter++);
	if (pool != NULL &&
	    (w->fd = queue_pool_take(pool, w->dirfd, w->tmpname, &st)) != -1)
		w->reused_size = st.st_size;
	else
		w->fd = openat(w->dirfd, w->tmpname,
		    O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (w->fd == -1 || (w->reused_size == -1 && fstat(w->fd, &st) == -1)) {
		saved = errno;
		queue_writer_abort(w);
		errno = saved;
		return -1;
	}
	queue_id_make(w->id, sizeof(w->id), (unsigned long)tv.tv_usec,
	    (unsigned long long)st.st_ino);
	return 0;
}

static void
queue_writer_flush(struct queue_writer *w)
{
	if (w->pending.len == 0)
		return;
	if (!w->failed && write_full(w->fd, w->pending.data, w->pending.len) == -1)
		w->failed = errno ? errno : EIO;
	w->flushed += (off_t)w->pending.len;
	buf_reset(&w->pending);
}

void
queue_writer_record(struct queue_writer *w, int type, const void *data,
    size_t len)
{
	unsigned char h[QREC_HDR_SIZE];

	if (len > QUEUE_REC_MAX) {
		w->failed = EMSGSIZE;
		return;
	}
	queue_put_header(h, type, (uint32_t)len);
	buf_append(&w->pending, h, sizeof(h));
	buf_append(&w->pending, data, len);
	if (w->pending.len >= QUEUE_FLUSH_AT)
		queue_writer_flush(w);
}

void
queue_writer_recordf(struct queue_writer *w, int type, const char *fmt, ...)
{
	char *s;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatalx("queue_writer_recordf: out of memory");
	queue_writer_record(w, type, s, (size_t)n);
	free(s);
}

void
queue_writer_content_begin(struct queue_writer *w)
{
	unsigned char h[QREC_HDR_SIZE];

	w->content_hdr = w->flushed + (off_t)w->pending.len;
	w->content_len = 0;
	queue_put_header(h, QREC_CONTENT, 0);	/* length filled in at end */
	buf_append(&w->pending, h, sizeof(h));
}

void
queue_writer_content(struct queue_writer *w, const void *data, size_t len)
{
	w->content_len += len;
	if (w->content_len > UINT32_MAX) {
		w->failed = EFBIG;
		return;
	}
	buf_append(&w->pending, data, len);
	if (w->pending.len >= QUEUE_FLUSH_AT)
		queue_writer_flush(w);
}

void
queue_writer_content_end(struct queue_writer *w)
{
	unsigned char h[QREC_HDR_SIZE];

	queue_writer_flush(w);
	queue_put_header(h, QREC_CONTENT, (uint32_t)w->content_len);
	if (!w->failed && pwrite_full(w->fd, h, sizeof(h), w->content_hdr) == -1)
		w->failed = errno ? errno : EIO;
}

uint64_t
queue_writer_size(const struct queue_writer *w)
{
	return w->content_len;
}

int
queue_writer_commit(struct queue_writer *w)
{
	int saved, one;

	queue_writer_record(w, QREC_END, "", 0);
	queue_writer_flush(w);
	if (w->failed) {
		saved = w->failed;
		goto fail;
	}
	/* A reused file loses its old tail before anything is durable. */
	if (w->reused_size > w->flushed && ftruncate(w->fd, w->flushed) == -1) {
		saved = errno;
		goto fail;
	}
	/*
	 * Data first, then the name, then the directory entry (in one
	 * journal commit where the file system allows: name_sync_data). An
	 * O_PATH directory handle (see queue_writer_open) cannot be fsynced.
	 */
	if (name_sync_data(w->fd, &one) == -1 ||
	    renameat(w->dirfd, w->tmpname, w->dirfd, w->id) == -1) {
		saved = errno;
		goto fail;
	}
	if (name_sync_name(w->fd, w->dirfd, one) == -1 &&
	    (one || errno != EBADF)) {
		saved = errno;
		(void)unlinkat(w->dirfd, w->id, 0);
		w->tmpname[0] = '\0';
		goto fail;
	}
	close(w->fd);
	close(w->dirfd);
	w->fd = w->dirfd = -1;
	buf_free(&w->pending);
	return 0;
fail:
	queue_writer_abort(w);
	errno = saved;
	return -1;
}

int
queue_writer_retarget(struct queue_writer *w, const char *dir)
{
	int fd, saved;

	if (strlen(dir) >= sizeof(w->dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	/* Still a dot name: nothing looks at it before the commit. */
	if (renameat(w->dirfd, w->tmpname, fd, w->tmpname) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	close(w->dirfd);
	w->dirfd = fd;
	strlcpy(w->dir, dir, sizeof(w->dir));
	return 0;
}

void
queue_writer_abort(struct queue_writer *w)
{
	if (w->dirfd >= 0 && w->tmpname[0] != '\0')
		(void)unlinkat(w->dirfd, w->tmpname, 0);
	if (w->fd >= 0)
		close(w->fd);
	if (w->dirfd >= 0)
		close(w->dirfd);
	w->fd = w->dirfd = -1;
	buf_free(&w->pending);
}

/*
 * len bytes at off into out: from the window when they are in it, else
 * one pread that also refills the window from off. 0 or -1.
 */
static int
queue_reader_get(struct queue_reader *r, void *out, size_t len, off_t off)
{
	size_t want;
	ssize_t n;

	if (off >= r->off && off + (off_t)len <= r->off + (off_t)r->len) {
		memcpy(out, r->data + (off - r->off), len);
		return 0;
	}
	if (len > sizeof(r->data))
		return pread_full(r->fd, out, len, off);
	want = sizeof(r->data);
	if (off + (off_t)want > r->size)
		want = (size_t)(r->size - off);
	if (want < len)
		want = len;
	do
		n = pread(r->fd, r->data, want, off);
	while (n == -1 && errno == EINTR);
	if (n < 0 || (size_t)n < len) {
		r->len = 0;
		return pread_full(r->fd, out, len, off);
	}
	r->off = off;
	r->len = (size_t)n;
	memcpy(out, r->data, len);
	return 0;
}

static char *
queue_read_string(struct queue_reader *r, off_t off, uint32_t len)
{
	char *s = xmalloc((size_t)len + 1);

	if (queue_reader_get(r, s, len, off) == -1) {
		free(s);
		return NULL;
	}
	s[len] = '\0';
	if (strlen(s) != len) {		/* embedded NUL: not ours */
		free(s);
		return NULL;
	}
	return s;
}

static int
queue_read_record(struct queue_message *m, struct queue_reader *r, int type,
    off_t off, uint32_t len, struct queue_rcpt *next)
{
	char *s, *eq;

	if (type == QREC_CONTENT) {
		m->content_offset = off + QREC_HDR_SIZE;
		m->content_len = len;
		return 0;
	}
	if (len > QUEUE_REC_MAX ||
	    (s = queue_read_string(r, off + QREC_HDR_SIZE, len)) == NULL)
		return -1;
	switch (type) {
	case QREC_TIME:
		if (sscanf(s, "%lld %ld", &m->arrival_sec, &m->arrival_usec) != 2) {
			free(s);
			return -1;
		}
		free(s);
		break;
	case QREC_SENDER:
		free(m->sender);
		m->sender = s;
		break;
	case QREC_ATTR:
		if ((eq = strchr(s, '=')) == NULL) {
			free(s);
			return -1;
		}
		*eq = '\0';
		m->attr_names = xreallocarray(m->attr_names, m->nattrs + 1,
		    sizeof(char *));
		m->attr_values = xreallocarray(m->attr_values, m->nattrs + 1,
		    sizeof(char *));
		m->attr_names[m->nattrs] = s;
		m->attr_values[m->nattrs++] = xstrdup(eq + 1);
		break;
	case QREC_ORCPT:
		free(next->orcpt);
		next->orcpt = s;
		break;
	case QREC_NOTIFY:
		free(next->notify);
		next->notify = s;
		break;
	case QREC_RCPT:
	case QREC_DONE:
		m->rcpts = xreallocarray(m->rcpts, m->nrcpts + 1,
		    sizeof(*m->rcpts));
		m->rcpts[m->nrcpts].address = s;
		m->rcpts[m->nrcpts].orcpt = next->orcpt;
		m->rcpts[m->nrcpts].notify = next->notify;
		m->rcpts[m->nrcpts].offset = off;
		m->rcpts[m->nrcpts++].done = type == QREC_DONE;
		next->orcpt = next->notify = NULL;
		break;
	default:
		free(s);
		return -1;
	}
	return 0;
}

int
queue_file_read(int fd, struct queue_message *m, char *err, size_t errlen)
{
	unsigned char h[QREC_HDR_SIZE];
	struct stat st;
	off_t off = 0;
	uint32_t len;
	struct queue_rcpt next = { NULL, NULL, 0, 0, NULL };
	struct queue_reader *r;
	int type, ended = 0;

	memset(m, 0, sizeof(*m));
	m->content_offset = -1;
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "fstat: %s", strerror(errno));
		return -1;
	}
	r = xcalloc(1, sizeof(*r));
	r->fd = fd;
	r->size = st.st_size;
	while (off < st.st_size) {
		if (ended) {
			snprintf(err, errlen, "data after END record");
			goto fail;
		}
		if (off + QREC_HDR_SIZE > st.st_size ||
		    queue_reader_get(r, h, sizeof(h), off) == -1) {
			snprintf(err, errlen, "truncated record header at %lld",
			    (long long)off);
			goto fail;
		}
		type = h[0];
		len = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 |
		    (uint32_t)h[3] << 8 | h[4];
		if (off + QREC_HDR_SIZE + (off_t)len > st.st_size) {
			snprintf(err, errlen, "truncated record at %lld",
			    (long long)off);
			goto fail;
		}
		if (type == QREC_END) {
			ended = 1;
		} else if (queue_read_record(m, r, type, off, len, &next) == -1) {
			snprintf(err, errlen, "bad record type %d at %lld",
			    type, (long long)off);
			goto fail;
		}
		off += QREC_HDR_SIZE + (off_t)len;
	}
	free(next.orcpt);
	free(next.notify);
	next.orcpt = next.notify = NULL;
	if (!ended) {
		snprintf(err, errlen, "no END record");
		goto fail;
	}
	if (m->sender == NULL || m->content_offset < 0) {
		snprintf(err, errlen, "missing sender or content record");
		goto fail;
	}
	free(r);
	return 0;
fail:
	free(r);
	free(next.orcpt);
	free(next.notify);
	queue_message_free(m);
	return -1;
}

void
queue_message_free(struct queue_message *m)
{
	size_t i;

	free(m->sender);
	for (i = 0; i < m->nattrs; i++) {
		free(m->attr_names[i]);
		free(m->attr_values[i]);
	}
	free(m->attr_names);
	free(m->attr_values);
	for (i = 0; i < m->nrcpts; i++) {
		free(m->rcpts[i].address);
		free(m->rcpts[i].orcpt);
		free(m->rcpts[i].notify);
	}
	free(m->rcpts);
	memset(m, 0, sizeof(*m));
}

const char *
queue_message_attr(const struct queue_message *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nattrs; i++)
		if (!strcmp(m->attr_names[i], name))
			return m->attr_values[i];
	return NULL;
}

int
queue_rcpt_done(int fd, const struct queue_rcpt *r)
{
	char type = QREC_DONE;

	if (pwrite_full(fd, &type, 1, r->offset) == -1)
		return -1;
	return fdatasync(fd);
}

/* The recipient of m at offset r->offset with r's address, or NULL. */
static const struct queue_rcpt *
queue_rcpt_find(const struct queue_message *m, const struct queue_rcpt *r)
{
	size_t i;

	for (i = 0; i < m->nrcpts; i++)
		if (m->rcpts[i].offset == r->offset)
			return strcmp(m->rcpts[i].address, r->address) ? NULL :
			    &m->rcpts[i];
	return NULL;
}

int
queue_rcpts_done(int fd, const struct queue_rcpt *want, size_t n)
{
	struct queue_message m;
	char err[256], type = QREC_DONE;
	size_t i;
	int rc = 0;

	if (n == 0)
		return 0;
	if (queue_file_read(fd, &m, err, sizeof(err)) == -1) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < n; i++)
		if (want[i].address == NULL || queue_rcpt_find(&m, &want[i]) == NULL) {
			queue_message_free(&m);
			errno = EINVAL;
			return -1;
		}
	for (i = 0; i < n && rc == 0; i++)
		if (!queue_rcpt_find(&m, &want[i])->done)
			rc = pwrite_full(fd, &type, 1, want[i].offset);
	queue_message_free(&m);
	return rc;
}
