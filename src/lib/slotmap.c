/*
 * slotmap: the hash index of slots (see slotmap.h). Linear probing over a
 * power-of-two table; a removed cell becomes a tombstone that lookups step
 * over and inserts reuse; the table is rebuilt from the live slots when
 * live and removed cells fill three quarters of it.
 */
#include "lib/slotmap.h"
#include "lib/alloc.h"
#include <stdlib.h>
#include <string.h>

#define SLOTMAP_GONE (UINT32_MAX - 1)
#define SLOTMAP_MIN_CAP 1024u

void slotmap_init(struct slotmap *m, slotmap_hash_fn hash, slotmap_eq_fn eq, const void *ctx)
{
    memset(m, 0, sizeof *m);
    m->hash = hash;
    m->eq = eq;
    m->ctx = ctx;
}

void slotmap_free(struct slotmap *m)
{
    free(m->cells);
    m->cells = NULL;
    m->cap = m->live = m->filled = 0;
}

static uint32_t slotmap_start(const struct slotmap *m, uint64_t hash)
{
    return (uint32_t)(hash ^ (hash >> 32)) & (m->cap - 1);
}

uint32_t slotmap_find(const struct slotmap *m, uint64_t hash, const void *key)
{
    if (!m->cap)
        return SLOTMAP_NONE;
    for (uint32_t i = slotmap_start(m, hash), n = 0; n < m->cap; i = (i + 1) & (m->cap - 1), n++) {
        uint32_t c = m->cells[i];
        if (c == SLOTMAP_NONE)
            return SLOTMAP_NONE;
        if (c != SLOTMAP_GONE && m->eq(m->ctx, c, key))
            return c;
    }
    return SLOTMAP_NONE;
}

/* Puts slot into the first empty or removed cell of its probe sequence. */
static void slotmap_place(struct slotmap *m, uint64_t hash, uint32_t slot)
{
    uint32_t i = slotmap_start(m, hash);
    while (m->cells[i] != SLOTMAP_NONE && m->cells[i] != SLOTMAP_GONE)
        i = (i + 1) & (m->cap - 1);
    if (m->cells[i] == SLOTMAP_NONE)
        m->filled++;
    m->cells[i] = slot;
    m->live++;
}

/* A fresh table with room for the live slots at under half full. */
static void slotmap_rebuild(struct slotmap *m)
{
    uint32_t old_cap = m->cap, *old = m->cells;
    uint32_t cap = SLOTMAP_MIN_CAP;
    while (cap < (uint64_t)(m->live + 1) * 2 && cap < (1u << 31))
        cap *= 2;
    m->cells = xmalloc((size_t)cap * sizeof *m->cells);
    memset(m->cells, 0xff, (size_t)cap * sizeof *m->cells); /* SLOTMAP_NONE */
    m->cap = cap;
    m->live = m->filled = 0;
    for (uint32_t i = 0; i < old_cap; i++)
        if (old[i] != SLOTMAP_NONE && old[i] != SLOTMAP_GONE)
            slotmap_place(m, m->hash(m->ctx, old[i]), old[i]);
    free(old);
}

void slotmap_insert(struct slotmap *m, uint64_t hash, uint32_t slot)
{
    if ((uint64_t)(m->filled + 1) * 4 > (uint64_t)m->cap * 3)
        slotmap_rebuild(m);
    slotmap_place(m, hash, slot);
}

int slotmap_remove(struct slotmap *m, uint64_t hash, uint32_t slot)
{
    if (!m->cap)
        return -1;
    for (uint32_t i = slotmap_start(m, hash), n = 0; n < m->cap; i = (i + 1) & (m->cap - 1), n++) {
        if (m->cells[i] == SLOTMAP_NONE)
            return -1;
        if (m->cells[i] == slot) {
            m->cells[i] = SLOTMAP_GONE;
            m->live--;
            return 0;
        }
    }
    return -1;
}

uint32_t slotmap_count(const struct slotmap *m)
{
    return m->live;
}

size_t slotmap_memory_bytes(const struct slotmap *m)
{
    return (size_t)m->cap * sizeof *m->cells;
}

uint64_t slotmap_hash_str(const char *s)
{
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}
