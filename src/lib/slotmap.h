/*
 * slotmap: an open-addressing hash index of small integer slots whose keys
 * live in the caller's own records (the scheduler's queue ids, the names of
 * next hops). The index stores only the 4-byte slot numbers, so a million
 * entries cost about 8 MB; the caller supplies the hash of a key and a
 * comparison of a slot's key with a wanted one. Linear probing, tombstones
 * for removals, rebuilt (with the caller's hashes) when 3/4 full.
 * Pure: no I/O, memory through lib/alloc.h.
 */
#ifndef POSTINO_SLOTMAP_H
#define POSTINO_SLOTMAP_H
#include <stddef.h>
#include <stdint.h>

#define SLOTMAP_NONE UINT32_MAX   /* no slot (a lookup that found nothing) */

/* The hash of slot's key, and whether slot's key equals key. */
typedef uint64_t (*slotmap_hash_fn)(const void *ctx, uint32_t slot);
typedef int (*slotmap_eq_fn)(const void *ctx, uint32_t slot, const void *key);

struct slotmap {
    uint32_t *cells;      /* a slot, SLOTMAP_NONE (empty) or SLOTMAP_GONE (removed) */
    uint32_t cap;         /* a power of two, or 0 */
    uint32_t live;        /* slots in the index */
    uint32_t filled;      /* live plus removed cells */
    slotmap_hash_fn hash; /* to rebuild */
    slotmap_eq_fn eq;
    const void *ctx;
};

void slotmap_init(struct slotmap *m, slotmap_hash_fn hash, slotmap_eq_fn eq, const void *ctx);
void slotmap_free(struct slotmap *m);
/* The slot whose key equals key (hash: its hash), or SLOTMAP_NONE. */
uint32_t slotmap_find(const struct slotmap *m, uint64_t hash, const void *key);
/* Adds slot (its key hashing to hash; the caller makes sure it is not in yet). */
void slotmap_insert(struct slotmap *m, uint64_t hash, uint32_t slot);
/* Takes slot out: 0, or -1 when it was not in the index. */
int slotmap_remove(struct slotmap *m, uint64_t hash, uint32_t slot);
uint32_t slotmap_count(const struct slotmap *m);
/* The bytes the index holds. */
size_t slotmap_memory_bytes(const struct slotmap *m);
/* FNV-1a over a NUL-terminated string, for string keys. */
uint64_t slotmap_hash_str(const char *s);

#endif
