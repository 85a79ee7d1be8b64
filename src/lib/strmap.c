/*
 * strmap: a hash table from C strings to pointers (see strmap.h). FNV-1a
 * over the key's bytes; a bucket array that doubles at load factor one.
 */
#include "lib/strmap.h"
#include "lib/slotmap.h"
#include "lib/alloc.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define STRMAP_MIN_BUCKETS 16

static size_t strmap_hash(const char *key)
{
    uint64_t h = slotmap_hash_str(key); /* one string hash for both tables */
    return (size_t)(h ^ (h >> 32));
}

void strmap_init(struct strmap *m)
{
    m->buckets = NULL;
    m->n_buckets = 0;
    m->count = 0;
}

void strmap_free(struct strmap *m)
{
    for (size_t b = 0; b < m->n_buckets; b++)
        for (struct strmap_node *n = m->buckets[b], *next; n; n = next) {
            next = n->next;
            free(n);
        }
    free(m->buckets);
    strmap_init(m);
}

static struct strmap_node **strmap_slot(const struct strmap *m, const char *key, size_t hash)
{
    struct strmap_node **pp = &m->buckets[hash & (m->n_buckets - 1)];
    while (*pp && ((*pp)->hash != hash || strcmp((*pp)->key, key) != 0))
        pp = &(*pp)->next;
    return pp;
}

void *strmap_get(const struct strmap *m, const char *key)
{
    if (m->n_buckets == 0)
        return NULL;
    struct strmap_node *n = *strmap_slot(m, key, strmap_hash(key));
    return n ? n->value : NULL;
}

/* Twice the buckets (or the first ones); every node moves to its new bucket. */
static void strmap_grow(struct strmap *m)
{
    size_t nb = m->n_buckets ? m->n_buckets * 2 : STRMAP_MIN_BUCKETS;
    struct strmap_node **b = xcalloc(nb, sizeof *b);
    for (size_t i = 0; i < m->n_buckets; i++)
        for (struct strmap_node *n = m->buckets[i], *next; n; n = next) {
            next = n->next;
            n->next = b[n->hash & (nb - 1)];
            b[n->hash & (nb - 1)] = n;
        }
    free(m->buckets);
    m->buckets = b;
    m->n_buckets = nb;
}

void strmap_put(struct strmap *m, const char *key, void *value)
{
    if (m->count >= m->n_buckets)
        strmap_grow(m);
    size_t hash = strmap_hash(key);
    struct strmap_node **pp = strmap_slot(m, key, hash);
    if (*pp) {
        (*pp)->key = key;
        (*pp)->value = value;
        return;
    }
    struct strmap_node *n = xmalloc(sizeof *n);
    n->key = key;
    n->value = value;
    n->hash = hash;
    n->next = NULL;
    *pp = n;
    m->count++;
}

void *strmap_remove(struct strmap *m, const char *key)
{
    if (m->n_buckets == 0)
        return NULL;
    struct strmap_node **pp = strmap_slot(m, key, strmap_hash(key));
    struct strmap_node *n = *pp;
    if (!n)
        return NULL;
    void *value = n->value;
    *pp = n->next;
    free(n);
    m->count--;
    return value;
}

size_t strmap_count(const struct strmap *m)
{
    return m->count;
}
