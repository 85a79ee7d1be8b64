/*
 * input_file: what the table-file harnesses (fuzz_conf, fuzz_users,
 * fuzz_aliases) share. The parsers read files, so a fuzz input becomes an
 * anonymous in-memory file (memfd) read back through /proc/self/fd/N: no
 * disk, nothing left behind. And the one check every such parser owes its
 * errors: "FILE:LINE: message" naming the file it was given and a line that
 * exists in the input (1 to the number of lines).
 */
#ifndef POSTINO_FUZZ_INPUT_FILE_H
#define POSTINO_FUZZ_INPUT_FILE_H
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "lib/buf.h"
#include "lib/str.h"

struct input_file {
    int fd;
    char path[64];
};

/* Writes data to a fresh memfd; path names it. */
static inline void input_file_open(struct input_file *f, const void *data, size_t size)
{
    f->fd = memfd_create("fuzz-input", 0);
    assert(f->fd >= 0);
    const char *p = data;
    for (size_t done = 0; done < size;) {
        ssize_t n = write(f->fd, p + done, size - done);
        assert(n > 0);
        done += (size_t)n;
    }
    assert(str_fmt(f->path, sizeof f->path, "/proc/self/fd/%d", f->fd) == 0);
}

static inline void input_file_close(struct input_file *f)
{
    close(f->fd);
}

/* Lines as linefile counts them: a last line without '\n' counts too. */
static inline unsigned input_lines(const uint8_t *data, size_t size)
{
    unsigned n = 0;
    for (size_t i = 0; i < size; i++)
        n += data[i] == '\n';
    return n + (size > 0 && data[size - 1] != '\n');
}

/* err is "PATH:LINE: message" with LINE in 1..lines and a message. */
static inline void input_check_error(struct buf *err, const char *path, unsigned lines)
{
    const char *e = buf_cstr(err);
    size_t plen = strlen(path);
    assert(strncmp(e, path, plen) == 0 && e[plen] == ':');
    char *end = NULL;
    unsigned long line = strtoul(e + plen + 1, &end, 10);
    assert(end != e + plen + 1 && line >= 1 && line <= lines);
    assert(end[0] == ':' && end[1] == ' ' && end[2] != '\0');
}

/* What a table-file harness plugs in: load, count, check one line, free. */
struct input_table_ops {
    void *(*load)(const char *path, struct buf *err);
    size_t (*count)(const void *table);
    void (*check_line)(const void *table, char *line); /* each line of an accepted file */
    void (*free)(void *table);
};

/* An accepted table has at most one entry a line, and every line passes check_line. */
static inline void input_check_lines(const struct input_table_ops *ops, const void *table,
                                     const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    assert(text);
    memcpy(text, data, size);
    text[size] = '\0';
    assert(ops->count(table) <= input_lines(data, size));
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        ops->check_line(table, l);
    free(text);
}

/* Loads data as a table file: checks its lines when accepted, its error otherwise. */
static inline void input_run_table(const struct input_table_ops *ops, const uint8_t *data,
                                   size_t size)
{
    struct input_file f;
    struct buf err;
    buf_init(&err, 4096);
    input_file_open(&f, data, size);
    void *table = ops->load(f.path, &err);
    if (table) {
        input_check_lines(ops, table, data, size);
        ops->free(table);
    } else {
        input_check_error(&err, f.path, input_lines(data, size));
    }
    input_file_close(&f);
    buf_free(&err);
}

#endif
