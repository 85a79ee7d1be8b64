/*
 * alias: the aliases file (see alias.h).
 *
 * Owns: parsing "alias@domain: target, target ..." lines (targets separated
 * by commas and/or blanks, at least one, each a mailbox local@domain, local
 * or remote), kept in a lib/keytable sorted by the lower-case alias.
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
#include "lib/keytable.h"
#include "lib/linefile.h"
#include "lib/str.h"
#include "proto/addr.h"
#include "proto/intl.h"
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define ALIASES_FILE_MAX (64u << 20)
#define ALIAS_ADDR_MAX (ADDR_LOCAL_MAX + ADDR_DOMAIN_MAX + 8)

struct alias {
    char **targets;
    size_t n_targets;
};

struct aliases {
    struct keytable t;   /* lower-case "local@domain" -> struct alias */
};

/* Parses a mailbox (domain required) into its normal "local@domain" spelling. */
static int alias_mailbox(const char *s, char *out, size_t size)
{
    struct addr a;
    if (addr_parse_mailbox_flags(s, strlen(s), ADDR_ALLOW_UTF8, &a) != ADDR_OK ||
        a.domain[0] == '\0')
        return -1;
    return addr_format(&a, out, size);
}

/* Adds one target; -1 with err set if it is bad or already listed. */
static int alias_add_target(struct alias *e, const char *t, const char *path, unsigned line,
                            struct buf *err)
{
    char norm[ALIAS_ADDR_MAX];
    if (alias_mailbox(t, norm, sizeof norm) < 0) {
        linefile_err(err, path, line, "invalid target address \"%.100s\"", t);
        return -1;
    }
    t = norm;
    for (size_t i = 0; i < e->n_targets; i++)
        if (str_ieq(e->targets[i], t)) {
            linefile_err(err, path, line, "target %.100s listed twice", t);
            return -1;
        }
    e->targets = xrealloc(e->targets, (e->n_targets + 1) * sizeof *e->targets);
    e->targets[e->n_targets++] = xstrdup(t);
    return 0;
}

/* Splits the target list at commas and blanks. */
static int alias_parse_targets(struct alias *e, const char *key, char *list, const char *path,
                               unsigned line, struct buf *err)
{
    char *save = NULL;
    for (char *t = strtok_r(list, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save))
        if (alias_add_target(e, t, path, line, err) < 0)
            return -1;
    if (e->n_targets == 0) {
        linefile_err(err, path, line, "alias %s has no targets", key);
        return -1;
    }
    return 0;
}

/* keytable callback: an alias's targets. */
static void alias_free(void *value)
{
    struct alias *e = value;
    for (size_t j = 0; j < e->n_targets; j++)
        free(e->targets[j]);
    free(e->targets);
    free(e);
}

/* keytable callback: one "alias@domain: target, ..." line (trimmed, may be modified). */
static int alias_parse_line(struct keytable *t, char *s, const char *path, unsigned line,
                            struct buf *err)
{
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
    struct alias *e = xcalloc(1, sizeof *e);
    char key[ALIAS_ADDR_MAX];
    if (intl_mailbox_key(norm, key, sizeof key) == 0) /* domain as its A-label */
        str_copy(norm, sizeof norm, key);
    str_lower(norm);
    if (alias_parse_targets(e, norm, colon + 1, path, line, err) < 0) {
        alias_free(e);
        return -1;
    }
    keytable_add(t, norm, line, e);
    return 0;
}

static const struct keytable_spec aliases_spec = {
    .what = "alias", .max_bytes = ALIASES_FILE_MAX, .wipe = 0, .parse = alias_parse_line,
};

struct aliases *aliases_load(const char *path, struct buf *err)
{
    struct aliases *a = xcalloc(1, sizeof *a);
    if (keytable_load(&a->t, &aliases_spec, path, err) < 0) {
        aliases_free(a);
        return NULL;
    }
    return a;
}

void aliases_free(struct aliases *a)
{
    if (!a)
        return;
    keytable_free(&a->t, alias_free);
    free(a);
}

const char *const *aliases_lookup(const struct aliases *a, const char *local, const char *domain,
                                  size_t *n)
{
    char key[ALIAS_ADDR_MAX];
    *n = 0;
    char addr[ALIAS_ADDR_MAX];
    if (!a || str_fmt(addr, sizeof addr, "%s@%s", local, domain) < 0 ||
        intl_mailbox_key(addr, key, sizeof key) < 0)
        return NULL;
    const struct alias *e = keytable_find(&a->t, key);
    if (!e)
        return NULL;
    *n = e->n_targets;
    return (const char *const *)e->targets;
}

size_t aliases_count(const struct aliases *a)
{
    return a ? a->t.n : 0;
}
