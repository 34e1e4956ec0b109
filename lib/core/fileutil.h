/*
 * fileutil: small file and descriptor helpers that retry on EINTR and
 * finish short reads/writes, plus the fsync steps the queue relies on.
 */
#ifndef POSTILION_FILEUTIL_H
#define POSTILION_FILEUTIL_H

#include <sys/types.h>
#include <stddef.h>

/* write_full: write all n bytes; 0 or -1 with errno. */
int	write_full(int, const void *, size_t);
/*
 * write_nowait: one write that never blocks, for a socket whatever its
 * mode: the count, or -1 with errno; EAGAIN also for "not a socket" and
 * EINTR, meaning: wait for POLLOUT, then write(2).
 */
ssize_t	write_nowait(int, const void *, size_t);
/* pwrite_full: the same at an offset, without moving the file offset. */
int	pwrite_full(int, const void *, size_t, off_t);
/* pread_full: read exactly n bytes at off; 0, or -1 (errno; EIO at EOF). */
int	pread_full(int, void *, size_t, off_t);
/* fsync_dir: fsync the directory at path (makes a rename/link durable). */
int	fsync_dir(const char *);
int	fsync_dirat(int, const char *);
/*
 * fsync_covers_names: 1 when the file system holding fd journals a link
 * or rename in the same transaction as the inode it names, so that fsync
 * of that file after the link also makes the new name durable (ext4 with
 * a journal); 0 elsewhere (ext2, ext4 without a journal, XFS, tmpfs,
 * btrfs, NFS, other systems) and on any doubt: there the directory must be
 * fsynced as well. Remembered for the last device asked about.
 */
int	fsync_covers_names(int);
/*
 * Giving a written file a new name (a rename or link into dirfd) so that
 * both its data and the name are durable, in two calls around the rename:
 * name_sync_data before it (returns the mode in *one for the second call),
 * name_sync_name after it. Where fsync_covers_names, the data is written
 * out first (blocks allocated and on the device: no commit can hold the
 * new name without them, nor a reused file's old bytes under it) and one
 * fsync of the file after the rename commits the name with it and flushes
 * the device cache: one journal commit. Elsewhere the file is fsynced
 * first and dirfd after. 0 or -1 with errno.
 */
int	name_sync_data(int, int *);
int	name_sync_name(int, int, int);
int	set_nonblock(int, int);
int	set_cloexec(int, int);
/* read_file: whole small file into a NUL-terminated malloc'd string. */
char	*read_file(const char *, size_t *, size_t);

#endif
