/*
 * timerq: the scheduler's clock queue. A binary min-heap of due times (ms)
 * keyed by a small integer id that the caller owns (its records live in an
 * array indexed by the same id); the queue keeps a position per id so that
 * moving or removing an entry costs O(log n), and tells the event loop how
 * long it may sleep, so nothing scans a whole queue on a tick.
 *
 * Entries with the same due time come out in the order they were set (a
 * sequence number is the second key), so spread retries stay fair.
 * timerq_spread gives each id a fixed offset within a window, so the
 * messages of a destination that returns are not all due at one second.
 *
 * Pure: no clock, no I/O; times are plain numbers supplied by the caller.
 * A heap entry is 16 bytes and the position index 4 bytes per id.
 */
#ifndef POSTINO_TIMERQ_H
#define POSTINO_TIMERQ_H
#include <stddef.h>
#include <stdint.h>

/* An id that is not in the queue (its position), and the largest id plus one. */
#define TIMERQ_ABSENT UINT32_MAX

struct timerq_entry {
    int64_t due;  /* ms, any epoch the caller chooses */
    uint32_t seq; /* set order among equal dues (renumbered before it wraps) */
    uint32_t id;
};

struct timerq {
    struct timerq_entry *heap; /* heap[0] is the earliest */
    uint32_t count, heap_cap;
    uint32_t *pos;    /* pos[id]: index in heap, or TIMERQ_ABSENT */
    uint32_t pos_cap; /* ids below pos_cap have a slot */
    uint32_t next_seq;
};

void timerq_init(struct timerq *q);
void timerq_free(struct timerq *q);
/* Room for ids below max_id and for `entries` entries, ahead of a big load. */
void timerq_reserve(struct timerq *q, uint32_t max_id, uint32_t entries);

/*
 * Schedule id at due: inserts it, or moves it if it is queued already (a
 * moved entry counts as newly set: among equal dues it goes last).
 * id must be below TIMERQ_ABSENT.
 */
void timerq_set(struct timerq *q, uint32_t id, int64_t due);
/* Take id out of the queue: 0, or -1 when it was not queued. */
int timerq_remove(struct timerq *q, uint32_t id);
/* The due time of a queued id: 0, or -1 when it is not queued. */
int timerq_get(const struct timerq *q, uint32_t id, int64_t *due);

/* The earliest entry (not removed): 0, or -1 when the queue is empty. */
int timerq_peek(const struct timerq *q, uint32_t *id, int64_t *due);
/* Remove and return one entry due at or before now: 1, or 0 when none is due. */
int timerq_pop_due(struct timerq *q, int64_t now, uint32_t *id);
/* How long the loop may sleep: -1 when empty, 0 when something is due, else ms. */
int64_t timerq_next_wait_ms(const struct timerq *q, int64_t now);
uint32_t timerq_count(const struct timerq *q);
/* The bytes the queue holds (heap and position index, including spare room). */
size_t timerq_memory_bytes(const struct timerq *q);

/*
 * base_due plus an offset in [0, window_ms) fixed by id (a hash of it, so
 * neighbouring ids land far apart): spreads the retries of many messages
 * over a window. window_ms <= 0 gives base_due; the sum saturates at INT64_MAX.
 */
int64_t timerq_spread(int64_t base_due, uint32_t id, int64_t window_ms);

#endif
