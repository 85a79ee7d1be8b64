/*
 * mxplan: the pure half of MX handling (RFC 5321 5.1, RFC 974, RFC 7505).
 * Turns the MX records of a domain into the ordered list of hosts to try:
 * by preference, equal preferences shuffled with a caller-given seed (so
 * tests are deterministic), the null MX recognised, and this host's own
 * name with every less preferred record discarded (a backup MX delivers only
 * to hosts preferred over itself; a primary finding itself first is a loop).
 * Also decides whether a name or an address:port is this host.
 * No I/O, no DNS, no sockets: smtpc/mx does the lookups and calls this.
 */
#ifndef POSTINO_MXPLAN_H
#define POSTINO_MXPLAN_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "mail/conf.h"

#define MXPLAN_MAX 32   /* MX records considered per domain; the rest are ignored */

struct mxplan_rec {
    char host[256];     /* MX host name as received ("" or "." for the root) */
    int pref;           /* MX preference, 0..65535 */
};

enum mxplan_result {
    MXPLAN_OK,          /* recs holds at least one host, in the order to try */
    MXPLAN_NULL_MX,     /* the domain publishes a null MX (RFC 7505): no mail accepted */
    MXPLAN_NONE,        /* no usable record (n was 0) */
    MXPLAN_LOOP,        /* this host is the best MX left: nothing to relay to */
};

/* 1 if host names this host; arg is the caller's. */
typedef int (*mxplan_self_fn)(void *arg, const char *host);

/*
 * Orders recs[0..*n) in place and sets *n to the number kept. A record whose
 * host is the root ("" or ".") makes the whole set a null MX, even mixed
 * with others (RFC 7505 3 forbids the mix; the owner's refusal wins). Names
 * repeated in any case are kept once, at their best preference. If is_self
 * (may be NULL) matches a host, that record and every record with an equal
 * or higher preference are dropped (RFC 5321 5.1, RFC 974); MXPLAN_LOOP if
 * none is left.
 */
enum mxplan_result mxplan_order(struct mxplan_rec *recs, size_t *n, uint32_t seed,
                                mxplan_self_fn is_self, void *arg);
/* 1 if an MX host is the root name of a null MX: "" or ".". */
int mxplan_is_root(const char *host);
/*
 * 1 if host is this host's name, self (a const char *, e.g. conf->hostname):
 * any case, a trailing dot ignored. An mxplan_self_fn.
 */
int mxplan_host_is_self(void *self, const char *host);
/*
 * 1 if sa (with its port) reaches one of the mail listens (smtp, submission,
 * smtps) on that port: the same address, or any address for a wildcard
 * listen (0.0.0.0 or ::) when sa is a loopback one, or sa itself is 0.0.0.0
 * or ::. IPv4-mapped IPv6 addresses count as IPv4.
 */
int mxplan_addr_is_self(const struct listen_spec *listens, size_t n, const struct sockaddr *sa);

#endif
