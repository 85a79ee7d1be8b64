/*
 * strmap: a hash table from C strings to the caller's pointers, for lookups
 * by name among many entries (the SMTP client's destinations). Chained
 * buckets that double when the table holds more entries than buckets, so a
 * lookup costs O(1) on average. The key is not copied: the caller keeps it
 * unchanged while its entry is in the table (it usually lives in the
 * value). No mail knowledge; allocation through lib/alloc.
 */
#ifndef POSTINO_STRMAP_H
#define POSTINO_STRMAP_H
#include <stddef.h>

struct strmap_node {
    const char *key;
    void *value;
    size_t hash;
    struct strmap_node *next;
};

struct strmap {
    struct strmap_node **buckets;
    size_t n_buckets; /* a power of two, or 0 before the first put */
    size_t count;
};

void strmap_init(struct strmap *m);
/* Frees the table (not the values). */
void strmap_free(struct strmap *m);
/* The value stored under key, or NULL. */
void *strmap_get(const struct strmap *m, const char *key);
/* Stores value under key (which must stay valid while stored), replacing any earlier one. */
void strmap_put(struct strmap *m, const char *key, void *value);
/* Removes key: its value, or NULL when it was not there. */
void *strmap_remove(struct strmap *m, const char *key);
size_t strmap_count(const struct strmap *m);

#endif
