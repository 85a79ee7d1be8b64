/*
 * alias: the aliases file (see alias.h).
 *
 * Owns: parsing "alias@domain: target, target ..." lines (targets separated
 * by commas and/or blanks, at least one, each a mailbox local@domain, local
 * or remote), and a table sorted by the lower-case alias for binary search.
 * Blank lines and lines starting with '#' are skipped. An alias without a
 * domain, a bad address, a repeated alias or a target listed twice for the
 * same alias is an error "FILE:LINE: message". Targets keep their case;
 * expansion (and loop detection across aliases) belongs to the caller.
 * Addresses are checked by proto/addr (RFC 5321 mailbox syntax, the one
 * the SMTP server accepts) and kept in its normal spelling; a quoted local
 * part cannot hold blanks or commas here, as those separate targets.
 */
#include "mail/alias.h"
#include "lib/alloc.h"
#include "lib/linefile.h"
#include "lib/str.h"
#include "proto/addr.h"
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define ALIASES_FILE_MAX (64u << 20)
#define ALIAS_ADDR_MAX (ADDR_LOCAL_MAX + ADDR_DOMAIN_MAX + 8)

struct alias {
    char *key;          /* lower-case "local@domain" */
    char **targets;
    size_t n_targets;
    unsigned line;
};

struct aliases {
    struct alias *v;
    size_t n, cap;
};

/* Parses a mailbox (domain required) into its normal "local@domain" spelling. */
static int alias_mailbox(const char *s, char *out, size_t size)
{
    struct addr a;
    if (addr_parse_mailbox(s, &a) != ADDR_OK || a.domain[0] == '\0')
        return -1;
    return addr_format(&a, out, size);
}

static struct alias *alias_new(struct aliases *a, const char *name, unsigned line)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 32;
        a->v = xrealloc(a->v, a->cap * sizeof *a->v);
    }
    struct alias *e = &a->v[a->n++];
    e->key = xstrdup(name);
    str_lower(e->key);
    e->targets = NULL;
    e->n_targets = 0;
    e->line = line;
    return e;
}

/* Adds one target; -1 with err set if it is bad or already listed. */
static int alias_add_target(struct alias *e, const char *t, const char *path, struct buf *err)
{
    char norm[ALIAS_ADDR_MAX];
    if (alias_mailbox(t, norm, sizeof norm) < 0) {
        linefile_err(err, path, e->line, "invalid target address \"%.100s\"", t);
        return -1;
    }
    t = norm;
    for (size_t i = 0; i < e->n_targets; i++)
        if (str_ieq(e->targets[i], t)) {
            linefile_err(err, path, e->line, "target %.100s listed twice", t);
            return -1;
        }
    e->targets = xrealloc(e->targets, (e->n_targets + 1) * sizeof *e->targets);
    e->targets[e->n_targets++] = xstrdup(t);
    return 0;
}

/* Splits the target list at commas and blanks. */
static int alias_parse_targets(struct alias *e, char *list, const char *path, struct buf *err)
{
    char *save = NULL;
    for (char *t = strtok_r(list, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save))
        if (alias_add_target(e, t, path, err) < 0)
            return -1;
    if (e->n_targets == 0) {
        linefile_err(err, path, e->line, "alias %s has no targets", e->key);
        return -1;
    }
    return 0;
}

static int alias_parse_line(struct aliases *a, char *s, const char *path, unsigned line,
                            struct buf *err)
{
    s = str_trim(s);
    if (*s == '\0' || *s == '#')
        return 0;
    char *colon = strchr(s, ':');
    if (!colon) {
        linefile_err(err, path, line, "expected alias@domain: target, ...");
        return -1;
    }
    *colon = '\0';
    char *name = str_trim(s);
    if (!strchr(name, '@')) {
        linefile_err(err, path, line, "alias \"%.100s\" has no domain", name);
        return -1;
    }
    char norm[ALIAS_ADDR_MAX];
    if (alias_mailbox(name, norm, sizeof norm) < 0) {
        linefile_err(err, path, line, "invalid alias address \"%.100s\"", name);
        return -1;
    }
    return alias_parse_targets(alias_new(a, norm, line), colon + 1, path, err);
}

static int alias_cmp(const void *x, const void *y)
{
    const struct alias *p = x, *q = y;
    int r = strcmp(p->key, q->key);
    return r ? r : (p->line > q->line) - (p->line < q->line);
}

/* Sorts the table and rejects an alias defined twice (reported at the later line). */
static int alias_index(struct aliases *a, const char *path, struct buf *err)
{
    if (a->n > 1)
        qsort(a->v, a->n, sizeof *a->v, alias_cmp);
    const struct alias *dup = NULL, *first = NULL;
    for (size_t i = 1; i < a->n; i++)
        if (strcmp(a->v[i].key, a->v[i - 1].key) == 0 && (!dup || a->v[i].line < dup->line)) {
            dup = &a->v[i];
            first = &a->v[i - 1];
        }
    if (!dup)
        return 0;
    linefile_err(err, path, dup->line, "duplicate alias %s (first at line %u)", dup->key,
              first->line);
    return -1;
}

struct alias_load_ctx {
    struct aliases *a;
    const char *path;
    struct buf *err;
};

/* linefile callback: one line of the file. */
static int alias_load_line(void *ctx, char *line, unsigned lineno)
{
    struct alias_load_ctx *x = ctx;
    return alias_parse_line(x->a, line, x->path, lineno, x->err);
}

struct aliases *aliases_load(const char *path, struct buf *err)
{
    struct aliases *a = xcalloc(1, sizeof *a);
    struct alias_load_ctx x = {a, path, err};
    if (linefile_each(path, ALIASES_FILE_MAX, 0, alias_load_line, &x, err) < 0 ||
        alias_index(a, path, err) < 0) {
        aliases_free(a);
        return NULL;
    }
    return a;
}

void aliases_free(struct aliases *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++) {
        for (size_t j = 0; j < a->v[i].n_targets; j++)
            free(a->v[i].targets[j]);
        free(a->v[i].targets);
        free(a->v[i].key);
    }
    free(a->v);
    free(a);
}

static int alias_key_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct alias *)elem)->key);
}

const char *const *aliases_lookup(const struct aliases *a, const char *local, const char *domain,
                                  size_t *n)
{
    char key[ALIAS_ADDR_MAX];
    *n = 0;
    if (!a || a->n == 0 || str_fmt(key, sizeof key, "%s@%s", local, domain) < 0)
        return NULL;
    str_lower(key);
    const struct alias *e = bsearch(key, a->v, a->n, sizeof *a->v, alias_key_cmp);
    if (!e)
        return NULL;
    *n = e->n_targets;
    return (const char *const *)e->targets;
}

size_t aliases_count(const struct aliases *a)
{
    return a ? a->n : 0;
}
