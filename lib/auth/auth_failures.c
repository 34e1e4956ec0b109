/*
 * auth_failures: failed logins per client IP, shared by processes through
 * a file of AF_BUCKETS fixed buckets: a hash table of {IP, window start,
 * count} with linear probing over AF_PROBES buckets, where an expired or
 * empty bucket is reused and, when all are live, the oldest is evicted.
 * Updates happen under flock on the file.
 * Security: the file's size is bounded whatever clients do; a table that
 * cannot be used counts nothing (callers keep their per-session limit).
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"

#define AF_BUCKETS	4096
#define AF_PROBES	16

struct af_bucket {
	char	 ip[48];		/* INET6_ADDRSTRLEN, NUL-padded */
	uint32_t count;
	uint32_t unused;
	int64_t	 start;			/* of the window, time(NULL) */
};

static uint32_t	af_hash(const char *);
static int	af_read(int, size_t, struct af_bucket *);
static int	af_live(const struct af_bucket *, int64_t, long long);

int
auth_failures_open(const char *path)
{
	struct stat st;
	int fd;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

/* FNV-1a: spreads similar addresses; an attacker gains nothing by
 * colliding, the probe window and eviction keep the table bounded. */
static uint32_t
af_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* Bucket i, or an empty one past the end of the file; -1 on error. */
static int
af_read(int fd, size_t i, struct af_bucket *b)
{
	ssize_t n;

	n = pread(fd, b, sizeof(*b), (off_t)(i * sizeof(*b)));
	if (n == -1)
		return -1;
	if ((size_t)n != sizeof(*b))
		memset(b, 0, sizeof(*b));
	b->ip[sizeof(b->ip) - 1] = '\0';
	return 0;
}

/* A bucket in use and inside its window (a corrupt start is not). */
static int
af_live(const struct af_bucket *b, int64_t now, long long window)
{
	return b->ip[0] != '\0' && b->start >= 0 && b->start <= now &&
	    now - b->start < window;
}

long long
auth_failures_count(int fd, const char *ip, long long window, int add)
{
	struct af_bucket b, cand;
	size_t i, slot, home, victim = AF_BUCKETS;
	int64_t now = (int64_t)time(NULL), oldest = INT64_MAX;
	long long count = 0;
	int found = 0;

	if (fd < 0 || ip == NULL || *ip == '\0' || window <= 0 ||
	    strlen(ip) >= sizeof(b.ip) || flock(fd, LOCK_EX) == -1)
		return 0;
	home = af_hash(ip) % AF_BUCKETS;
	for (i = 0; i < AF_PROBES; i++) {
		slot = (home + i) % AF_BUCKETS;
		if (af_read(fd, slot, &cand) == -1)
			goto out;
		if (strcmp(cand.ip, ip) == 0) {
			b = cand;
			victim = slot;
			found = 1;
			break;
		}
		/* Empty or expired: as good as empty; else the oldest. */
		if (!af_live(&cand, now, window)) {
			if (oldest != INT64_MIN) {
				victim = slot;
				oldest = INT64_MIN;
			}
		} else if (cand.start < oldest) {
			victim = slot;
			oldest = cand.start;
		}
	}
	if (found && !af_live(&b, now, window)) {
		b.count = 0;
		b.start = now;
	}
	if (!found) {
		if (!add)
			goto out;
		memset(&b, 0, sizeof(b));
		memcpy(b.ip, ip, strlen(ip));
		b.start = now;
	}
	if (add && b.count < UINT32_MAX)
		b.count++;
	count = b.count;
	if (add && pwrite(fd, &b, sizeof(b), (off_t)(victim * sizeof(b))) !=
	    (ssize_t)sizeof(b))
		count = 0;
out:
	(void)flock(fd, LOCK_UN);
	return count;
}
