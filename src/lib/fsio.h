/*
 * fsio: the one durable-write helper. Writing a file durably means: write to a
 * temporary name, fsync the file, rename it into place, fsync the directory.
 * Without the last step a crash can forget the rename. No mail knowledge.
 */
#ifndef POSTINO_FSIO_H
#define POSTINO_FSIO_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "lib/buf.h"

/* Writes all n bytes, retrying on EINTR and short writes. 0 or -1 (errno set). */
int fsio_write_all(int fd, const void *p, size_t n);
/* Copies n bytes of in from offset off to the end of out; -1 (errno) on error or a short file. */
int fsio_copy_range(int in, uint64_t off, uint64_t n, int out);
/* fsyncs a directory by path. */
int fsio_fsync_dir(const char *dir);
/* mkdir -p with mode; existing directories are fine. */
int fsio_mkdir_p(const char *path, mode_t mode);
/* Durably replaces path with data: PATH.tmp, fsync, rename, fsync dir. */
int fsio_write_atomic(const char *path, const void *data, size_t n);
/* Reads a whole file into out (appending); -1 on error or if larger than max. */
int fsio_read_file(const char *path, struct buf *out, size_t max);
/*
 * Appending newline-ended records to a file so that a failure never leaves
 * half a record for the next append to land after: the file is first cut
 * back to its last complete record (a torn tail left by a power loss), the
 * records are written at the end, and on any error or short write the file
 * is cut back to where it was (and fsync'd) before -1 is returned. *old (may
 * be NULL) gets the length before the append, for fsio_append_undo after a
 * failed fsync. The caller fsyncs after a success.
 */
int fsio_append_records(int fd, const void *p, size_t n, off_t *old); /* fd open for reading too */
/* Cuts the file back to old and fsyncs it: undoes an append whose fsync failed. */
int fsio_append_undo(int fd, off_t old);
/* Cuts bytes after the file's last newline (a torn record) and fsyncs.
 * 1 if something was cut, 0 if the file ends with a newline (or is empty),
 * -1 on error (EINVAL: no newline at all; nothing is cut then). */
int fsio_cut_torn_tail(int fd);
/* Directory part of path into dir (dirname without modifying path). */
int fsio_dirname(const char *path, char *dir, size_t size);

#endif
