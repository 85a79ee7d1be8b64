/*
 * route: where a recipient goes. Decides local mailbox / alias / remote for
 * an address, finds the mailbox folder name of a local user, and expands
 * aliases into the envelope (RFC 3461 6.2.7: a one-target alias forwards,
 * NOTIFY and ORCPT following the new address; a multi-target alias is
 * "expanded" and its targets inherit NOTIFY without SUCCESS).
 * Pure decisions over the config tables: no I/O, no sockets.
 */
#ifndef POSTINO_ROUTE_H
#define POSTINO_ROUTE_H
#include <stddef.h>
#include "mail/conf.h"
#include "mail/envelope.h"

enum route_kind {
    ROUTE_LOCAL,         /* a mailbox here; *mailbox set to the folder name */
    ROUTE_ALIAS,         /* an entry of the aliases file */
    ROUTE_RELAY_DOMAIN,  /* a relay_domains domain: accepted for anyone, passed on */
    ROUTE_REMOTE,        /* another domain */
    ROUTE_UNKNOWN_USER,  /* local domain, no such user (users file configured) */
    ROUTE_BAD_MAILBOX,   /* local domain, a local part unusable as a folder name */
    ROUTE_ALIAS_LOOP,    /* an alias whose expansion came back to it, with no mailbox here */
};

#define ROUTE_ALIAS_DEPTH 8

/* The next hop for a remote domain (RFC 5321 5.1). */
struct route_hop {
    char domain[256];   /* the recipient domain (lower case) */
    char host[256];     /* MX lookup target: the domain, a route's or the relayhost's host */
    int port;           /* TCP port to connect to (smtp_port unless the hop names one) */
    int no_mx;          /* [host]: connect to host's A/AAAA, no MX lookup */
    int backup;         /* relay_domains without a route: deliver only to MX hosts preferred
                         * over this one, never to itself */
    int relay;          /* host is a route's or the relayhost's (relay_auth may apply) */
    enum tls_policy tls;  /* tls_policy of the domain: hops with different ones never
                           * share a delivery nor a connection (it is part of the key) */
};

/*
 * Where mail for domain goes next: a route for the domain wins, then the
 * relayhost, then the domain's MX (backup mode for relay_domains).
 */
void route_next_hop(const struct conf *c, const char *domain, struct route_hop *hop);
/* A key naming the destination (connections and concurrency are per key):
 * "host:port:mx:policy" ("mx" or "a"; policy as tls_policy writes it). */
void route_hop_key(const struct route_hop *hop, char *out, size_t size);

/* Classifies "local@domain". mailbox (size >= 65) receives the folder name for ROUTE_LOCAL. */
enum route_kind route_classify(const struct conf *c, const char *addr, char *mailbox, size_t size);
/*
 * Classifies recipient i of e. An alias that its own expansion led back to
 * (a: b, b: a; or a: a, archive) is not expanded again: it is delivered to
 * its own mailbox when it has one here (ROUTE_LOCAL), else ROUTE_ALIAS_LOOP
 * (RFC 3463 X.4.6); an address of another domain goes there.
 */
enum route_kind route_classify_rcpt(const struct conf *c, const struct envelope *e, size_t i,
                                    char *mailbox, size_t size);
/* 1 if recipient i has an ancestor (the aliases it came from) with its address. */
int route_loops_back(const struct envelope *e, size_t i);
/* Splits at the last '@': domain lower-cased into domain (size >= 256), local part into local. */
int route_split(const char *addr, char *local, size_t lsize, char *domain, size_t dsize);
/*
 * Expands recipient i of e if it is an alias: marks it RCPT_EXPANDED and
 * appends its targets (recursively, up to ROUTE_ALIAS_DEPTH, skipping
 * addresses already pending in e; a target that is one of its own ancestors
 * is added but not expanded). Returns the number of recipients added.
 */
size_t route_expand(const struct conf *c, struct envelope *e, size_t i);
/* Expands every recipient of a new message (at SMTP DATA, at pickup). */
void route_expand_all(const struct conf *c, struct envelope *e);

#endif
