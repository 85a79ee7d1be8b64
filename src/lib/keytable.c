/*
 * keytable: table files sorted by a lower-case key (see keytable.h).
 */
#include "lib/keytable.h"
#include "lib/alloc.h"
#include "lib/str.h"
#include <stdlib.h>
#include <string.h>

struct keytable_ctx {
    struct keytable *t;
    const struct keytable_spec *spec;
    const char *path;
    struct buf *err;
};

/* linefile callback: skips blank and comment lines, trims the others. */
static int keytable_line(void *ctx, char *line, unsigned lineno)
{
    struct keytable_ctx *x = ctx;
    char *s = str_trim(line);
    if (*s == '\0' || *s == '#')
        return 0;
    return x->spec->parse(x->t, s, x->path, lineno, x->err);
}

static int keytable_cmp(const void *a, const void *b)
{
    const struct keytable_entry *x = a, *y = b;
    int r = strcmp(x->key, y->key);
    return r ? r : (x->line > y->line) - (x->line < y->line);
}

/* Sorts the table and rejects a key defined twice (reported at the earliest repeat). */
static int keytable_index(struct keytable *t, const char *what, const char *path,
                          struct buf *err)
{
    if (t->n > 1)
        qsort(t->v, t->n, sizeof *t->v, keytable_cmp);
    const struct keytable_entry *dup = NULL, *first = NULL;
    for (size_t i = 1; i < t->n; i++)
        if (strcmp(t->v[i].key, t->v[i - 1].key) == 0 && (!dup || t->v[i].line < dup->line)) {
            dup = &t->v[i];
            first = &t->v[i - 1];
        }
    if (!dup)
        return 0;
    linefile_err(err, path, dup->line, "duplicate %s %s (first at line %u)", what,
                 dup->label ? dup->label : dup->key, first->line);
    return -1;
}

int keytable_load(struct keytable *t, const struct keytable_spec *spec, const char *path,
                  struct buf *err)
{
    struct keytable_ctx x = {.t = t, .spec = spec, .path = path, .err = err};
    if (linefile_each(path, spec->max_bytes, spec->wipe, keytable_line, &x, err) < 0)
        return -1;
    return keytable_index(t, spec->what, path, err);
}

struct keytable_entry *keytable_add(struct keytable *t, const char *key, unsigned line,
                                    void *value)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->v = xrealloc(t->v, t->cap * sizeof *t->v);
    }
    struct keytable_entry *e = &t->v[t->n++];
    e->key = xstrdup(key);
    str_lower(e->key);
    e->label = NULL;
    e->line = line;
    e->value = value;
    return e;
}

static int keytable_key_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct keytable_entry *)elem)->key);
}

void *keytable_find(const struct keytable *t, const char *key)
{
    if (t->n == 0)
        return NULL;
    const struct keytable_entry *e = bsearch(key, t->v, t->n, sizeof *t->v, keytable_key_cmp);
    return e ? e->value : NULL;
}

void keytable_free(struct keytable *t, void (*free_value)(void *value))
{
    for (size_t i = 0; i < t->n; i++) {
        free_value(t->v[i].value);
        free(t->v[i].key);
    }
    free(t->v);
    memset(t, 0, sizeof *t);
}
