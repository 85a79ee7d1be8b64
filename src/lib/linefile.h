/*
 * linefile: reads a line-oriented text file (the config, users and aliases
 * files) and hands each line to a callback with its line number, so every
 * table file reports errors the same way: "FILE: cannot open: ..." for an
 * unreadable file, "FILE:LINE: NUL byte in line" for binary junk. The
 * callback reports its own errors. No mail knowledge.
 */
#ifndef POSTINO_LINEFILE_H
#define POSTINO_LINEFILE_H
#include <stddef.h>
#include "lib/buf.h"

/* Called for each line (NUL-terminated, newline removed, may be modified). 0 or -1 to stop. */
typedef int (*linefile_fn)(void *ctx, char *line, unsigned lineno);

/*
 * Reads path (at most max bytes) and calls fn for every line. wipe: clear
 * the file's bytes from memory afterwards (it held passwords). 0, or -1 with
 * err set (by this function or by fn).
 */
int linefile_each(const char *path, size_t max, int wipe, linefile_fn fn, void *ctx,
                  struct buf *err);
/* Appends "FILE:LINE: message" to err. */
void linefile_err(struct buf *err, const char *path, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
