/*
 * timerq: the scheduler's clock queue, a min-heap on (due, seq) with a
 * position index per id (see timerq.h). Never reads a clock and never does
 * I/O; all memory through lib/alloc.h (running out aborts).
 */
#include "mail/timerq.h"
#include "lib/alloc.h"
#include <stdlib.h>
#include <string.h>

void timerq_init(struct timerq *q)
{
    memset(q, 0, sizeof *q);
}

void timerq_free(struct timerq *q)
{
    free(q->heap);
    free(q->pos);
    memset(q, 0, sizeof *q);
}

/* The capacity after cur when need is wanted: doubled (amortized growth), at least need,
 * at most TIMERQ_ABSENT. */
static uint64_t timerq_new_cap(uint32_t cur, uint32_t need)
{
    uint64_t cap = cur ? (uint64_t)cur * 2 : 1024;
    if (cap < need)
        cap = need;
    return cap > TIMERQ_ABSENT ? TIMERQ_ABSENT : cap;
}

/* Room for ids below need (new slots absent). */
static void timerq_grow_pos(struct timerq *q, uint32_t need)
{
    if (need <= q->pos_cap)
        return;
    uint64_t cap = timerq_new_cap(q->pos_cap, need);
    q->pos = xrealloc(q->pos, (size_t)cap * sizeof *q->pos);
    for (uint64_t i = q->pos_cap; i < cap; i++)
        q->pos[i] = TIMERQ_ABSENT;
    q->pos_cap = (uint32_t)cap;
}

static void timerq_grow_heap(struct timerq *q, uint32_t need)
{
    if (need <= q->heap_cap)
        return;
    uint64_t cap = timerq_new_cap(q->heap_cap, need);
    q->heap = xrealloc(q->heap, (size_t)cap * sizeof *q->heap);
    q->heap_cap = (uint32_t)cap;
}

void timerq_reserve(struct timerq *q, uint32_t max_id, uint32_t entries)
{
    timerq_grow_pos(q, max_id);
    timerq_grow_heap(q, entries);
}

/* a comes out before b: earlier due, or the same due and set earlier. */
static int timerq_before(const struct timerq_entry *a, const struct timerq_entry *b)
{
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void timerq_place(struct timerq *q, uint32_t i, struct timerq_entry e)
{
    q->heap[i] = e;
    q->pos[e.id] = i;
}

static void timerq_sift_up(struct timerq *q, uint32_t i)
{
    struct timerq_entry e = q->heap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!timerq_before(&e, &q->heap[parent]))
            break;
        timerq_place(q, i, q->heap[parent]);
        i = parent;
    }
    timerq_place(q, i, e);
}

static void timerq_sift_down(struct timerq *q, uint32_t i)
{
    struct timerq_entry e = q->heap[i];
    for (;;) {
        uint64_t child = (uint64_t)i * 2 + 1;
        if (child >= q->count)
            break;
        if (child + 1 < q->count && timerq_before(&q->heap[child + 1], &q->heap[child]))
            child++;
        if (!timerq_before(&q->heap[child], &e))
            break;
        timerq_place(q, i, q->heap[child]);
        i = (uint32_t)child;
    }
    timerq_place(q, i, e);
}

static int timerq_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/*
 * Before the sequence numbers wrap: number the entries 0..count-1 in the
 * order of their old numbers. The relative order is kept, so the heap stays
 * valid. Runs once in about 4 billion sets.
 */
static void timerq_renumber(struct timerq *q)
{
    uint64_t *order = xmalloc((size_t)q->count * sizeof *order + 1);
    for (uint32_t i = 0; i < q->count; i++)
        order[i] = (uint64_t)q->heap[i].seq << 32 | i;
    qsort(order, q->count, sizeof *order, timerq_cmp_u64);
    for (uint32_t rank = 0; rank < q->count; rank++)
        q->heap[(uint32_t)order[rank]].seq = rank;
    q->next_seq = q->count;
    free(order);
}

static uint32_t timerq_take_seq(struct timerq *q)
{
    if (q->next_seq == UINT32_MAX)
        timerq_renumber(q);
    return q->next_seq++;
}

/* Put the last entry at i and restore the heap around it. */
static void timerq_fill_hole(struct timerq *q, uint32_t i)
{
    q->count--;
    if (i == q->count)
        return;
    timerq_place(q, i, q->heap[q->count]);
    if (i > 0 && timerq_before(&q->heap[i], &q->heap[(i - 1) / 2]))
        timerq_sift_up(q, i);
    else
        timerq_sift_down(q, i);
}

void timerq_set(struct timerq *q, uint32_t id, int64_t due)
{
    if (id == TIMERQ_ABSENT)
        abort(); /* a caller bug: the id space is below TIMERQ_ABSENT */
    timerq_grow_pos(q, id + 1);
    uint32_t seq = timerq_take_seq(q);
    uint32_t i = q->pos[id];
    if (i == TIMERQ_ABSENT) {
        timerq_grow_heap(q, q->count + 1);
        i = q->count++;
        timerq_place(q, i, (struct timerq_entry){.due = due, .seq = seq, .id = id});
        timerq_sift_up(q, i);
        return;
    }
    /* a move is a later set: (due, seq) only grows if due does not drop */
    int earlier = due < q->heap[i].due;
    q->heap[i].due = due;
    q->heap[i].seq = seq;
    if (earlier)
        timerq_sift_up(q, i);
    else
        timerq_sift_down(q, i);
}

int timerq_remove(struct timerq *q, uint32_t id)
{
    if (id >= q->pos_cap || q->pos[id] == TIMERQ_ABSENT)
        return -1;
    uint32_t i = q->pos[id];
    q->pos[id] = TIMERQ_ABSENT;
    timerq_fill_hole(q, i);
    return 0;
}

int timerq_get(const struct timerq *q, uint32_t id, int64_t *due)
{
    if (id >= q->pos_cap || q->pos[id] == TIMERQ_ABSENT)
        return -1;
    *due = q->heap[q->pos[id]].due;
    return 0;
}

int timerq_peek(const struct timerq *q, uint32_t *id, int64_t *due)
{
    if (q->count == 0)
        return -1;
    *id = q->heap[0].id;
    *due = q->heap[0].due;
    return 0;
}

int timerq_pop_due(struct timerq *q, int64_t now, uint32_t *id)
{
    if (q->count == 0 || q->heap[0].due > now)
        return 0;
    *id = q->heap[0].id;
    q->pos[*id] = TIMERQ_ABSENT;
    timerq_fill_hole(q, 0);
    return 1;
}

int64_t timerq_next_wait_ms(const struct timerq *q, int64_t now)
{
    if (q->count == 0)
        return -1;
    int64_t due = q->heap[0].due;
    if (due <= now)
        return 0;
    /* due - now without overflow (now may be far negative in a test) */
    if (now < 0 && due > INT64_MAX + now)
        return INT64_MAX;
    return due - now;
}

uint32_t timerq_count(const struct timerq *q)
{
    return q->count;
}

size_t timerq_memory_bytes(const struct timerq *q)
{
    return (size_t)q->heap_cap * sizeof *q->heap + (size_t)q->pos_cap * sizeof *q->pos;
}

/* A 64-bit finalizer (MurmurHash3's fmix64): every input bit moves every output bit. */
static uint64_t timerq_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

int64_t timerq_spread(int64_t base_due, uint32_t id, int64_t window_ms)
{
    if (window_ms <= 0)
        return base_due;
    int64_t offset = (int64_t)(timerq_mix(id) % (uint64_t)window_ms);
    if (base_due > INT64_MAX - offset)
        return INT64_MAX;
    return base_due + offset;
}
