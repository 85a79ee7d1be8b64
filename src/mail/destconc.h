/*
 * destconc: the concurrency of one destination (next hop), as Postfix's
 * queue manager keeps it: a limit on parallel connections that starts low,
 * grows while deliveries succeed, shrinks when the destination complains,
 * and a destination that keeps failing is dead for a while (no connection
 * at all), then probed with one connection. Pure state and a fake-able
 * clock: every call takes now_ms; no I/O, no allocation, no global.
 * Also the classifier of "too many connections" replies (RFC 5321 4.2.2:
 * 421 closes the channel; RFC 3463 4.7.0 / 4.3.2 with their wording).
 * It must never open, count or close connections itself: the caller
 * (the scheduler) reports what happened and asks before each connect.
 */
#ifndef POSTINO_DESTCONC_H
#define POSTINO_DESTCONC_H
#include <stddef.h>
#include <stdint.h>

enum destconc_state {
    DESTCONC_ACTIVE,    /* the limit grows with successes */
    DESTCONC_THROTTLED, /* a complaint lowered the limit; no growth until a success */
    DESTCONC_DEAD,      /* no connection before dead_until */
    DESTCONC_PROBE      /* dead time over: one probe connection, its outcome decides */
};

struct destconc_params {
    unsigned initial;        /* the limit of a new or revived destination (2) */
    unsigned max;            /* the limit never grows beyond this (10: over loopback, more
                              * connections to one host cost more than they bring) */
    unsigned dead_threshold; /* failed connection attempts in a row that make it dead (5) */
    int64_t dead_ms;         /* the first dead time (5 min) */
    int64_t dead_max_ms;     /* dead time doubles after each failed probe, up to this (1 h) */
    int64_t ceiling_quiet_ms; /* a learned ceiling is forgotten after this long without a
                               * "too many connections" (1 h) */
};

struct destconc {
    struct destconc_params p;
    enum destconc_state state;
    unsigned limit;    /* connections that may be open at once */
    unsigned credit;   /* successes since the limit last changed (growth: +1 per `limit`) */
    unsigned failures; /* failed connection attempts since the last success */
    int64_t dead_ms;   /* the length of the current (or next) dead time */
    int64_t dead_until;
    unsigned ceiling;  /* learned from "too many connections": growth never passes it (0: none) */
    int64_t ceiling_at; /* when the last "too many connections" came */
};

/* The defaults above. */
struct destconc_params destconc_params_default(void);
/* A new destination: ACTIVE at params.initial (zero fields take their defaults). */
void destconc_init(struct destconc *d, const struct destconc_params *params);
/*
 * May another connection be opened now, with open_now already open? A dead
 * destination whose time is over moves to PROBE here; in PROBE only one
 * connection may be open.
 */
int destconc_may_open(struct destconc *d, int64_t now_ms, unsigned open_now);
/*
 * A delivery succeeded with open_now connections open: failures forgotten,
 * the limit grows only when the destination used all of it (open_now >=
 * limit) and never past a learned ceiling; a dead or probed one revives.
 */
void destconc_on_success(struct destconc *d, int64_t now_ms, unsigned open_now);
/* A connection attempt failed (refused, timed out, no greeting, 4xx greeting). */
void destconc_on_conn_failure(struct destconc *d, int64_t now_ms);
/*
 * The destination said "too many connections" with open_now connections
 * open (the refused one included): the limit and a ceiling that sticks
 * drop to max(1, open_now - 1) until ceiling_quiet_ms pass without another.
 */
void destconc_on_too_many(struct destconc *d, int64_t now_ms, unsigned open_now);
/* `queue flush`: a dead destination may be tried at once (PROBE); else nothing changes. */
void destconc_probe_now(struct destconc *d);
/* The learned ceiling in force at now (0: none). */
unsigned destconc_ceiling(const struct destconc *d, int64_t now_ms);
/* Nothing worth keeping at now: not dead or probed, no ceiling in force. */
int destconc_forgettable(const struct destconc *d, int64_t now_ms);
/* Until when a DEAD destination takes no connection (0 when not dead). */
int64_t destconc_dead_until(const struct destconc *d);
enum destconc_state destconc_state(const struct destconc *d);
unsigned destconc_limit(const struct destconc *d);
const char *destconc_state_name(enum destconc_state s);

/*
 * Is this reply a "too many connections" signal? code is the reply code,
 * text the reply's text (with or without the code and enhanced code in
 * front; only its first len bytes are read). Any 421, and any other 4xx
 * whose text speaks of too many connections or sessions; not 5xx, not a
 * rate limit about messages (see destconc.c).
 */
int destconc_reply_too_many(int code, const char *text, size_t len);

#endif
