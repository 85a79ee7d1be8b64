/*
 * parking: what a queued message with nothing to do now waits for, so that
 * the scheduler can keep that alone in memory and free the envelope: the
 * time it is next due (its earliest waiting recipient's next attempt, or
 * the moment a DELAY notice falls due, RFC 3461 4.1), whether it is held,
 * how many of its recipients wait (never tried, or tried before), and the
 * next hop when every waiting recipient goes to the same one (so a due
 * message of a dead next hop can be put back without reading its file).
 * Pure over the settings and the envelope: any thread may call it.
 */
#ifndef POSTINO_PARKING_H
#define POSTINO_PARKING_H
#include <stdint.h>
#include "mail/conf.h"
#include "mail/envelope.h"

#define PARKING_HOP_MAX 300

struct parking {
    int64_t due;                /* ms since the epoch; INT64_MAX: nothing (held, or none waits) */
    int notice;                 /* due is a DELAY notice's */
    int hold;
    uint32_t n_pending;         /* waiting recipients never tried */
    uint32_t n_deferred;        /* waiting recipients tried before */
    char dest[PARKING_HOP_MAX]; /* route_hop_key of the one next hop of all of them, or "" */
};

/* How e would be parked at now (a message that has nothing waiting is due now). */
void parking_of(const struct conf *c, const struct envelope *e, int64_t now, struct parking *p);

#endif
