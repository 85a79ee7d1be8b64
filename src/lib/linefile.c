/*
 * linefile: line-by-line reading of table files (see linefile.h).
 */
#include "lib/linefile.h"
#include "lib/fsio.h"
#include <errno.h>
#include <stdarg.h>
#include <string.h>

void linefile_err(struct buf *err, const char *path, unsigned line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_printf(err, "%s:%u: ", path, line);
    buf_vprintf(err, fmt, ap);
    va_end(ap);
}

static int linefile_split(struct buf *data, const char *path, linefile_fn fn, void *ctx,
                          struct buf *err)
{
    char *p = (char *)buf_cstr(data), *end = p + data->len;
    unsigned line = 0;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *e = nl ? nl : end;
        line++;
        if (memchr(p, '\0', (size_t)(e - p))) {
            linefile_err(err, path, line, "NUL byte in line");
            return -1;
        }
        *e = '\0';
        if (fn(ctx, p, line) < 0)
            return -1;
        p = e + 1;
    }
    return 0;
}

int linefile_each(const char *path, size_t max, int wipe, linefile_fn fn, void *ctx,
                  struct buf *err)
{
    struct buf data;
    buf_init(&data, max);
    if (fsio_read_file(path, &data, max) < 0) {
        buf_printf(err, "%s: cannot open: %s", path,
                   errno == EFBIG ? "file too large" : strerror(errno));
        buf_free(&data);
        return -1;
    }
    int r = linefile_split(&data, path, fn, ctx, err);
    if (wipe && data.data)
        explicit_bzero(data.data, data.cap);
    buf_free(&data);
    return r;
}
