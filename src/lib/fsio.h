/*
 * fsio: the one durable-write helper. Writing a file durably means: write to a
 * temporary name, fsync the file, rename it into place, fsync the directory.
 * Without the last step a crash can forget the rename. No mail knowledge.
 */
#ifndef POSTINO_FSIO_H
#define POSTINO_FSIO_H
#include <stddef.h>
#include <sys/types.h>
#include "lib/buf.h"

/* Writes all n bytes, retrying on EINTR and short writes. 0 or -1 (errno set). */
int fsio_write_all(int fd, const void *p, size_t n);
/* fsyncs a directory by path. */
int fsio_fsync_dir(const char *dir);
/* mkdir -p with mode; existing directories are fine. */
int fsio_mkdir_p(const char *path, mode_t mode);
/* Durably replaces path with data: PATH.tmp, fsync, rename, fsync dir. */
int fsio_write_atomic(const char *path, const void *data, size_t n);
/* Reads a whole file into out (appending); -1 on error or if larger than max. */
int fsio_read_file(const char *path, struct buf *out, size_t max);
/* Directory part of path into dir (dirname without modifying path). */
int fsio_dirname(const char *path, char *dir, size_t size);

#endif
