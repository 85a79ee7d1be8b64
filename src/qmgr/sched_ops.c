/*
 * sched_ops: what the operator and the Web reader ask of the scheduler by
 * queue id: flush (one message or all), hold and release, delete, and the
 * recipients' states. A lookup is one probe of the id index, so acting on
 * one message among a million is immediate; flushing everything touches
 * each slot once. A parked message's envelope is read from its queue file
 * when the answer needs it (small, and these are rare).
 */
#include "qmgr/sched_int.h"
#include "lib/alloc.h"
#include "lib/fsio.h"
#include "lib/log.h"
#include "lib/str.h"
#include "mail/route.h"
#include "track/track.h"
#include <stdlib.h>
#include <string.h>

/* Makes one message's deferred recipients due now; 1 if it had any. */
static int sched_flush_slot(struct sched *s, uint32_t slot, int64_t now)
{
    struct qslot *q = sched_slot(s, slot);
    if (!(q->flags & QSLOT_USED) || (q->flags & (QSLOT_HOLD | QSLOT_GONE)))
        return 0; /* a held message keeps its schedule until it is released */
    struct qmsg *m = q->hot;
    if (!m) {
        q->flags |= QSLOT_FLUSH; /* applied when it is loaded */
        if (!(q->flags & (QSLOT_LOADING | QSLOT_WAITING)))
            sched_slot_due(s, slot, now);
        return q->n_deferred > 0;
    }
    int any = 0;
    for (size_t i = 0; i < m->env.n_rcpts && !m->busy; i++)
        if (m->env.rcpts[i].status == RCPT_DEFERRED) {
            m->env.rcpts[i].next_attempt = 0;
            any = 1;
        }
    sched_kick(s, m);
    return any;
}

/* Flushing one message: its next hops, if dead, are tried again (one probe each). */
static void sched_flush_revive(struct sched *s, uint32_t slot)
{
    const struct qslot *q = sched_slot(s, slot);
    char mailbox[ADDR_LOCAL_MAX + 1], key[PARKING_HOP_MAX];
    if (!s->smtpc)
        return;
    if (!q->hot) {
        const char *k = sched_dest_key(s, q->dest);
        if (k)
            smtpc_revive(s->smtpc, k);
        else
            smtpc_revive_all(s->smtpc); /* several next hops, or unknown: all of them */
        return;
    }
    const struct envelope *e = &q->hot->env;
    for (size_t i = 0; i < e->n_rcpts; i++) {
        const char *at = strrchr(e->rcpts[i].addr, '@');
        enum route_kind k = route_classify_rcpt(s->conf, e, i, mailbox, sizeof mailbox);
        if (!at || (k != ROUTE_REMOTE && k != ROUTE_RELAY_DOMAIN))
            continue;
        struct route_hop hop;
        route_next_hop(s->conf, at + 1, &hop);
        route_hop_key(&hop, key, sizeof key);
        smtpc_revive(s->smtpc, key);
    }
}

long sched_flush(struct sched *s, const char *id)
{
    int64_t now = sched_now();
    if (id) {
        uint32_t slot = sched_slot_find(s, id);
        if (slot == SLOTMAP_NONE)
            return -1;
        sched_flush_revive(s, slot);
        return sched_flush_slot(s, slot, now);
    }
    if (s->smtpc)
        smtpc_revive_all(s->smtpc); /* as Postfix's flush: dead next hops are tried again */
    long n = 0;
    for (uint32_t slot = 0; slot < s->n_slots; slot++)
        n += sched_flush_slot(s, slot, now);
    sched_load_pump(s);
    return n;
}

int sched_hold(struct sched *s, const char *id, int hold)
{
    uint32_t slot = sched_slot_find(s, id);
    if (slot == SLOTMAP_NONE)
        return -1;
    char rec[16];
    str_fmt(rec, sizeof rec, "hold %d\n", hold ? 1 : 0);
    /* an operator's command: one small fsync'd append on the loop thread */
    if (queue_append(s->queue, id, rec, strlen(rec), 1) < 0)
        return -2;
    struct qslot *q = sched_slot(s, slot);
    q->flags = (uint8_t)(hold ? q->flags | QSLOT_HOLD : q->flags & ~QSLOT_HOLD);
    log_info("%s: %s by the operator", id, hold ? "held" : "released");
    if (q->hot) {
        q->hot->env.hold = hold;
        if (!hold)
            sched_kick(s, q->hot);
    } else if (hold) {
        timerq_remove(&s->tq, slot);
    } else if (!(q->flags & (QSLOT_LOADING | QSLOT_WAITING))) {
        sched_slot_due(s, slot, sched_now()); /* read again: its own schedule decides */
    }
    return 0;
}

/* The sender's story says so: a "deleted" event for each recipient still waiting. */
static void sched_delete_track(const struct envelope *e)
{
    for (size_t i = 0; i < e->n_rcpts; i++)
        if (e->rcpts[i].status == RCPT_PENDING || e->rcpts[i].status == RCPT_DEFERRED)
            track_add_event(track_feed(), &(struct track_event){.queue_id = e->id,
                            .rcpt = e->rcpts[i].addr, .kind = "deleted"});
}

int sched_delete(struct sched *s, const char *id)
{
    uint32_t slot = sched_slot_find(s, id);
    char dir[PATH_MAX];
    if (slot == SLOTMAP_NONE)
        return -1;
    struct qslot *q = sched_slot(s, slot);
    if (q->hot && (q->hot->busy || q->hot->ready))
        return -3; /* being delivered right now: the caller says try again */
    struct envelope parked;
    envelope_init(&parked);
    if (!q->hot && track_feed() && sched_load_now(s, id, &parked) < 0)
        envelope_init(&parked); /* unreadable: deleted all the same, untracked */
    if (queue_remove(s->queue, id) < 0 || queue_dir_of(s->queue, id, dir, sizeof dir) < 0 ||
        fsio_fsync_dir(dir) < 0) {
        envelope_free(&parked);
        return -2;
    }
    log_info("%s: deleted by the operator", id);
    sched_delete_track(q->hot ? &q->hot->env : &parked);
    envelope_free(&parked);
    if (q->hot)
        sched_unlink(s, q->hot);
    else if (q->flags & (QSLOT_LOADING | QSLOT_WAITING))
        q->flags |= QSLOT_GONE; /* freed when its load or wait ends */
    else
        sched_slot_free(s, slot);
    return 0;
}

static void sched_rcpt_states_of(const struct envelope *e, int busy,
                                 struct sched_rcpt_state **out, size_t *n)
{
    *out = xcalloc(e->n_rcpts ? e->n_rcpts : 1, sizeof **out);
    for (size_t i = 0; i < e->n_rcpts; i++) {
        const struct env_rcpt *r = &e->rcpts[i];
        (*out)[i] = (struct sched_rcpt_state){
            .addr = xstrdup(r->addr), .status = r->status, .next_attempt = r->next_attempt,
            .last_reply = r->last_reply ? xstrdup(r->last_reply) : NULL,
            .remote_mta = r->remote_mta ? xstrdup(r->remote_mta) : NULL, .busy = busy};
    }
    *n = e->n_rcpts;
}

int sched_rcpt_states(const struct sched *s, const char *id, struct sched_rcpt_state **out,
                      size_t *n)
{
    *out = NULL;
    *n = 0;
    uint32_t slot = sched_slot_find(s, id);
    if (slot == SLOTMAP_NONE)
        return -1;
    const struct qslot *q = sched_slot(s, slot);
    if (q->hot) {
        sched_rcpt_states_of(&q->hot->env, q->hot->busy || q->hot->ready, out, n);
        return 0;
    }
    struct envelope e;
    if (sched_load_now((struct sched *)s, id, &e) < 0)
        return -1;
    sched_rcpt_states_of(&e, (q->flags & QSLOT_LOADING) != 0, out, n);
    envelope_free(&e);
    return 0;
}

void sched_rcpt_states_free(struct sched_rcpt_state *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].addr);
        free(v[i].last_reply);
        free(v[i].remote_mta);
    }
    free(v);
}
