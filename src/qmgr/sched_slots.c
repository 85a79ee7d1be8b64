/*
 * sched_slots: the scheduler's resident records (see sched_int.h). Every
 * queued message has a slot of 56 bytes in pages that never move, found by
 * queue id through a slotmap; a parked message is its slot, one timer entry
 * (mail/timerq) and, when all its waiting recipients go to one next hop, the
 * number of that hop. One libevent timer wakes the loop when the earliest
 * slot is due; nothing walks the queue on a tick. A due slot whose next hop
 * is dead is put back (spread over a window) without reading its file;
 * others wait on the due list until the loader has room (sched_load.c).
 */
#include "qmgr/sched_int.h"
#include "lib/alloc.h"
#include "lib/dur.h"
#include "lib/log.h"
#include "lib/str.h"
#include <stdlib.h>
#include <string.h>

#define SCHED_WAKE_BATCH 4096      /* due slots handled per wake-up before yielding */
#define SCHED_WAKE_MAX_MS 60000    /* the longest sleep (a wall-clock step is noticed) */
#define SCHED_RECHECK_MS 60000     /* nothing could be done now: look again after this */
#define SCHED_SPREAD_MIN_MS 60000  /* retries after a dead hop spread over at least this */
#define SCHED_SPREAD_MAX_MS 3600000
#define SCHED_RECORD_RETRY_MS 1000  /* a failed record is tried again after at least this */

struct qslot *sched_slot(const struct sched *s, uint32_t slot)
{
    return &s->pages[slot / SCHED_SLOT_PAGE][slot % SCHED_SLOT_PAGE];
}

static uint64_t sched_slot_hash(const void *ctx, uint32_t slot)
{
    return slotmap_hash_str(sched_slot(ctx, slot)->id);
}

static int sched_slot_eq(const void *ctx, uint32_t slot, const void *key)
{
    return strcmp(sched_slot(ctx, slot)->id, key) == 0;
}

void sched_slots_init(struct sched *s)
{
    slotmap_init(&s->index, sched_slot_hash, sched_slot_eq, s);
    strmap_init(&s->dest_map);
    timerq_init(&s->tq);
    s->wake_at = INT64_MAX;
}

void sched_slots_free(struct sched *s)
{
    for (uint32_t i = 0; i < s->n_pages; i++)
        free(s->pages[i]);
    free(s->pages);
    free(s->free_slots);
    free(s->due);
    for (uint32_t d = 0; d < s->n_dests; d++)
        free(s->dests[d].key);
    free(s->dests);
    free(s->free_dests);
    slotmap_free(&s->index);
    strmap_free(&s->dest_map);
    timerq_free(&s->tq);
}

uint32_t sched_slot_new(struct sched *s, const char *id, int64_t arrival)
{
    uint32_t slot;
    if (s->n_free) {
        slot = s->free_slots[--s->n_free];
    } else {
        slot = s->n_slots++;
        if (slot / SCHED_SLOT_PAGE >= s->n_pages) {
            s->pages = xrealloc(s->pages, (s->n_pages + 1) * sizeof *s->pages);
            s->pages[s->n_pages++] = xcalloc(SCHED_SLOT_PAGE, sizeof **s->pages);
        }
    }
    struct qslot *q = sched_slot(s, slot);
    memset(q, 0, sizeof *q);
    str_copy(q->id, sizeof q->id, id);
    q->flags = QSLOT_USED;
    q->dest = SCHED_DEST_NONE;
    q->arrival = arrival;
    slotmap_insert(&s->index, slotmap_hash_str(q->id), slot);
    s->count++;
    return slot;
}

uint32_t sched_slot_find(const struct sched *s, const char *id)
{
    uint32_t slot = slotmap_find(&s->index, slotmap_hash_str(id), id);
    if (slot != SLOTMAP_NONE && (sched_slot(s, slot)->flags & QSLOT_GONE))
        return SLOTMAP_NONE; /* deleted, freed when its load or wait ends */
    return slot;
}

/* The number of next hop key, interned (a reference taken). */
static uint32_t sched_dest_ref(struct sched *s, const char *key)
{
    uintptr_t found = (uintptr_t)strmap_get(&s->dest_map, key); /* the number plus one */
    uint32_t d = (uint32_t)(found - 1);
    if (!found) {
        if (s->n_free_dests) {
            d = s->free_dests[--s->n_free_dests];
        } else {
            if (s->n_dests == s->cap_dests) {
                s->cap_dests = s->cap_dests ? s->cap_dests * 2 : 64;
                s->dests = xrealloc(s->dests, s->cap_dests * sizeof *s->dests);
            }
            d = s->n_dests++;
        }
        s->dests[d] = (struct sched_dest){.key = xstrdup(key)};
        strmap_put(&s->dest_map, s->dests[d].key, (void *)((uintptr_t)d + 1));
    }
    s->dests[d].refs++;
    return d;
}

static void sched_dest_unref(struct sched *s, uint32_t d)
{
    if (d == SCHED_DEST_NONE || --s->dests[d].refs > 0)
        return;
    strmap_remove(&s->dest_map, s->dests[d].key);
    free(s->dests[d].key);
    s->dests[d].key = NULL;
    if (s->n_free_dests % 64 == 0)
        s->free_dests = xrealloc(s->free_dests, (s->n_free_dests + 64) * sizeof *s->free_dests);
    s->free_dests[s->n_free_dests++] = d;
}

const char *sched_dest_key(const struct sched *s, uint32_t d)
{
    return d == SCHED_DEST_NONE ? NULL : s->dests[d].key;
}

void sched_slot_free(struct sched *s, uint32_t slot)
{
    struct qslot *q = sched_slot(s, slot);
    slotmap_remove(&s->index, slotmap_hash_str(q->id), slot);
    timerq_remove(&s->tq, slot);
    sched_dest_unref(s, q->dest);
    memset(q, 0, sizeof *q);
    if (s->n_free == s->cap_free) {
        s->cap_free = s->cap_free ? s->cap_free * 2 : 1024;
        s->free_slots = xrealloc(s->free_slots, s->cap_free * sizeof *s->free_slots);
    }
    s->free_slots[s->n_free++] = slot;
    s->count--;
}

static void sched_on_wake(evutil_socket_t fd, short what, void *arg);

/* Sets the wake-up for `at` (ms since the epoch). */
static void sched_arm_at(struct sched *s, int64_t at, int64_t now)
{
    if (!s->wake)
        s->wake = evtimer_new(s->base, sched_on_wake, s);
    if (at > now + SCHED_WAKE_MAX_MS)
        at = now + SCHED_WAKE_MAX_MS;
    struct timeval tv = dur_timeval(at > now ? at - now : 0);
    evtimer_add(s->wake, &tv);
    s->wake_at = at;
}

void sched_arm(struct sched *s)
{
    uint32_t slot;
    int64_t due;
    if (timerq_peek(&s->tq, &slot, &due) < 0) {
        if (s->wake)
            evtimer_del(s->wake);
        s->wake_at = INT64_MAX;
        return;
    }
    sched_arm_at(s, due, sched_now());
}

void sched_slot_due(struct sched *s, uint32_t slot, int64_t due)
{
    timerq_set(&s->tq, slot, due);
    if (due < s->wake_at)
        sched_arm_at(s, due, sched_now());
}

void sched_due_push(struct sched *s, uint32_t slot)
{
    struct qslot *q = sched_slot(s, slot);
    if (q->flags & (QSLOT_WAITING | QSLOT_LOADING))
        return;
    if (s->due_len == s->due_cap) { /* grow the ring, unwrapping it */
        size_t cap = s->due_cap ? s->due_cap * 2 : 1024;
        uint32_t *ring = xmalloc(cap * sizeof *ring);
        for (size_t i = 0; i < s->due_len; i++)
            ring[i] = s->due[(s->due_head + i) % s->due_cap];
        free(s->due);
        s->due = ring;
        s->due_cap = cap;
        s->due_head = 0;
    }
    s->due[(s->due_head + s->due_len++) % s->due_cap] = slot;
    q->flags |= QSLOT_WAITING;
}

uint32_t sched_due_pop(struct sched *s)
{
    while (s->due_len) {
        uint32_t slot = s->due[s->due_head];
        s->due_head = (s->due_head + 1) % s->due_cap;
        s->due_len--;
        struct qslot *q = sched_slot(s, slot);
        q->flags &= (uint8_t)~QSLOT_WAITING;
        if (q->flags & QSLOT_GONE) {
            sched_slot_free(s, slot); /* deleted while it waited */
            continue;
        }
        return slot;
    }
    return SLOTMAP_NONE;
}

/* A parked slot is due: back on the timer when its next hop is dead, else to be loaded. */
static void sched_slot_fire(struct sched *s, uint32_t slot, int64_t now)
{
    struct qslot *q = sched_slot(s, slot);
    if (!(q->flags & QSLOT_USED) || (q->flags & (QSLOT_HOLD | QSLOT_GONE)))
        return;
    if (q->hot) { /* loaded, its states unrecorded: record first */
        if (sched_changed_any(q->hot) && !q->hot->busy)
            sched_record_start(s, q->hot);
        else
            sched_kick(s, q->hot);
        return;
    }
    const char *key = sched_dest_key(s, q->dest);
    if (key && s->smtpc && !(q->flags & (QSLOT_NOTICE | QSLOT_FLUSH)) &&
        now - q->arrival < s->conf->queue_lifetime_ms) {
        int64_t wait = smtpc_dest_wait(s->smtpc, key, now);
        if (wait > now) {
            int64_t window = wait - now;
            window = window < SCHED_SPREAD_MIN_MS ? SCHED_SPREAD_MIN_MS
                     : window > SCHED_SPREAD_MAX_MS ? SCHED_SPREAD_MAX_MS : window;
            sched_slot_due(s, slot, timerq_spread(wait, slot, window));
            return;
        }
    }
    sched_due_push(s, slot);
}

static void sched_on_wake(evutil_socket_t fd, short what, void *arg)
{
    struct sched *s = arg;
    (void)fd;
    (void)what;
    s->wake_at = INT64_MAX;
    if (s->stopping)
        return;
    int64_t now = sched_now();
    uint32_t slot;
    int n = 0;
    while (n < SCHED_WAKE_BATCH && timerq_pop_due(&s->tq, now, &slot)) {
        sched_slot_fire(s, slot, now);
        n++;
    }
    sched_load_pump(s);
    if (n == SCHED_WAKE_BATCH && s->wake_at > now)
        sched_arm_at(s, now, now); /* more are due: after the other events of this turn */
    else if (s->wake_at == INT64_MAX)
        sched_arm(s);
}

void sched_slot_park(struct sched *s, uint32_t slot, const struct parking *p)
{
    struct qslot *q = sched_slot(s, slot);
    uint32_t old = q->dest;
    q->n_pending = p->n_pending;
    q->n_deferred = p->n_deferred;
    q->dest = p->dest[0] ? sched_dest_ref(s, p->dest) : SCHED_DEST_NONE;
    sched_dest_unref(s, old); /* after the new reference: the same hop stays interned */
    q->flags = (uint8_t)((q->flags & ~(QSLOT_HOLD | QSLOT_NOTICE)) |
                         (p->hold ? QSLOT_HOLD : 0) | (p->notice ? QSLOT_NOTICE : 0));
    if (p->hold)
        timerq_remove(&s->tq, slot);
    else
        sched_slot_due(s, slot, p->due);
}

static void sched_hot_free(struct sched *s, struct qmsg *m)
{
    sched_slot(s, m->slot)->hot = NULL;
    envelope_free(&m->env);
    free(m->changed);
    free(m);
    s->n_hot--;
}

int sched_park(struct sched *s, struct qmsg *m)
{
    if (m->busy || m->ready)
        return 0;
    int64_t now = sched_now();
    struct parking p;
    parking_of(s->conf, &m->env, now, &p);
    if (sched_changed_any(m)) { /* its states are not on disk (recording failed): it stays
                                 * loaded, and recording is tried again when it is due */
        sched_slot_due(s, m->slot, p.due > now + SCHED_RECORD_RETRY_MS ? p.due
                                                                        : now + SCHED_RECORD_RETRY_MS);
        return 0;
    }
    if (!p.hold && p.due <= now)
        p.due = now + SCHED_RECHECK_MS; /* due, yet nothing could start (no client) */
    uint32_t slot = m->slot;
    sched_hot_free(s, m);
    sched_slot_park(s, slot, &p);
    sched_load_pump(s);
    return 1;
}

void sched_unlink(struct sched *s, struct qmsg *m)
{
    uint32_t slot = m->slot;
    sched_hot_free(s, m);
    sched_slot_free(s, slot);
    sched_load_pump(s);
}
