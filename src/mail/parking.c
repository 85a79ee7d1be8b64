/*
 * parking: what a parked message waits for (see parking.h).
 */
#include "mail/parking.h"
#include "lib/str.h"
#include "mail/notify.h"
#include "mail/route.h"
#include <string.h>

/* Recipient i of e waits; its next hop key into dest (remote), or "" for a local one. */
static void parking_hop(const struct conf *c, const struct envelope *e, size_t i,
                              char *dest, size_t size)
{
    char mailbox[ADDR_LOCAL_MAX + 1];
    enum route_kind k = route_classify_rcpt(c, e, i, mailbox, sizeof mailbox);
    const char *at = strrchr(e->rcpts[i].addr, '@');
    dest[0] = '\0';
    if ((k == ROUTE_REMOTE || k == ROUTE_RELAY_DOMAIN) && at) {
        struct route_hop hop;
        route_next_hop(c, at + 1, &hop);
        route_hop_key(&hop, dest, size);
    }
}

/* The time a DELAY notice of e falls due, if one will (INT64_MAX if none). */
static int64_t parking_notice(const struct conf *c, const struct envelope *e)
{
    int64_t at = e->arrival + c->delay_warning_ms;
    if (c->delay_warning_ms <= 0)
        return INT64_MAX;
    for (size_t i = 0; i < e->n_rcpts; i++)
        if (notify_owed(e, i, at, c->delay_warning_ms) == NOTIFY_DELAYED)
            return at;
    return INT64_MAX;
}

void parking_of(const struct conf *c, const struct envelope *e, int64_t now,
                      struct parking *p)
{
    char hop[sizeof p->dest];
    int mixed = 0;
    memset(p, 0, sizeof *p);
    p->due = INT64_MAX;
    p->hold = e->hold;
    for (size_t i = 0; i < e->n_rcpts; i++) {
        const struct env_rcpt *r = &e->rcpts[i];
        if (r->status != RCPT_PENDING && r->status != RCPT_DEFERRED)
            continue;
        if (r->status == RCPT_PENDING)
            p->n_pending++;
        else
            p->n_deferred++;
        if (r->next_attempt < p->due)
            p->due = r->next_attempt;
        parking_hop(c, e, i, hop, sizeof hop);
        if (!hop[0] || (p->dest[0] && strcmp(p->dest, hop) != 0))
            mixed = 1;
        else if (!p->dest[0])
            str_copy(p->dest, sizeof p->dest, hop);
    }
    if (mixed)
        p->dest[0] = '\0';
    int64_t notice = parking_notice(c, e);
    if (notice < p->due) {
        p->due = notice;
        p->notice = 1;
    }
    if (p->due == INT64_MAX) /* nothing waits: due now, to be retired */
        p->due = now;
}
