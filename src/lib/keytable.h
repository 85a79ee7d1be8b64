/*
 * keytable: a table file read once into entries sorted by a lower-case key
 * (the users and aliases files). Reads the file through linefile, skips
 * blank lines and lines starting with '#', hands every other line (trimmed)
 * to the caller's parser, sorts, rejects a key defined twice with
 * "FILE:LINE: duplicate WHAT NAME (first at line N)" at the later line, and
 * finds a key by binary search. The caller owns what an entry's value
 * holds. No mail knowledge.
 */
#ifndef POSTINO_KEYTABLE_H
#define POSTINO_KEYTABLE_H
#include <stddef.h>
#include "lib/buf.h"
#include "lib/linefile.h"

struct keytable_entry {
    char *key;          /* lower case, the sort and lookup key */
    const char *label;  /* how a duplicate is named in messages (NULL: key); owned by value */
    unsigned line;
    void *value;        /* the caller's data */
};

struct keytable {
    struct keytable_entry *v;
    size_t n, cap;
};

struct keytable;
/* Parses one trimmed, non-blank, non-comment line into t. 0, or -1 with "FILE:LINE: ..." in err. */
typedef int (*keytable_line_fn)(struct keytable *t, char *line, const char *path, unsigned lineno,
                                struct buf *err);

/* How a table file is read. */
struct keytable_spec {
    const char *what;   /* "user", "alias": names a duplicate */
    size_t max_bytes;   /* largest file accepted */
    int wipe;           /* clear the file's bytes afterwards (it held secrets) */
    keytable_line_fn parse;
};

/*
 * Reads path into t (empty on entry), calling spec->parse for each line,
 * then sorts and checks for duplicates. 0, or -1 with err set; t must be
 * freed either way.
 */
int keytable_load(struct keytable *t, const struct keytable_spec *spec, const char *path,
                  struct buf *err);
/* Adds an entry under a lower-case copy of key; returns it so the caller can set label. */
struct keytable_entry *keytable_add(struct keytable *t, const char *key, unsigned line,
                                    void *value);
/* The value stored under key (already lower case), or NULL. */
void *keytable_find(const struct keytable *t, const char *key);
/* Frees the entries, calling free_value on each value. */
void keytable_free(struct keytable *t, void (*free_value)(void *value));

#endif
