/*
 * mx: asynchronous DNS for delivery (RFC 5321 5.1, RFC 7505), with c-ares
 * driven by the libevent loop. Resolves a next hop into the ordered list of
 * addresses to try: MX hosts by preference (equal preferences in random
 * order), each host's A and AAAA addresses in turn; a domain without MX but
 * with an address is its own MX (implicit MX). Resolvers come from
 * dns_servers (ADDR[:PORT]), else /etc/resolv.conf.
 */
#ifndef POSTINO_MX_H
#define POSTINO_MX_H
#include "proto/esc.h"
#include <event2/event.h>
#include <stddef.h>
#include <sys/socket.h>
#include "mail/conf.h"
#include "mail/route.h"

enum mx_status {
    MX_OK,          /* targets holds at least one address */
    MX_NXDOMAIN,    /* the domain does not exist: permanent, 5.1.2 */
    MX_NULL_MX,     /* the domain publishes a null MX "0 .": permanent, 5.1.10 */
    MX_NO_HOST,     /* no MX and no address record: permanent, 5.1.2 */
    MX_TEMPFAIL,    /* SERVFAIL, timeout, no answer: temporary, 4.4.3 */
    MX_LOOP,        /* the best MX left is this host: permanent, 5.4.6 */
};

struct mx_target {
    char host[256];                 /* MX host name (or the hop's host) */
    int pref;                       /* MX preference (0 for [host] and implicit MX) */
    struct sockaddr_storage addr;   /* with the port set */
    socklen_t addrlen;
};

struct mx_answer {
    enum mx_status status;
    char diag[256];                 /* human text for logs and DSN diagnostics */
    struct mx_target *targets;      /* in the order to try */
    size_t n_targets;
};

typedef void (*mx_done_fn)(void *arg, const struct mx_answer *ans);

struct mx_resolver;

/* NULL (logged) if c-ares cannot be set up, e.g. a bad dns_servers entry. */
struct mx_resolver *mx_resolver_new(struct event_base *base, const struct conf *c);
/* A reload's new hostname (the "MX points back to me" check); dns_servers need a restart. */
void mx_resolver_set_hostname(struct mx_resolver *r, const char *hostname);
/* Cancels pending lookups (their callbacks run with MX_TEMPFAIL) and frees. */
void mx_resolver_free(struct mx_resolver *r);
/* Resolves hop; cb runs later from the event loop (never from inside this call). */
void mx_resolve(struct mx_resolver *r, const struct route_hop *hop, mx_done_fn cb, void *arg);
/* The RFC 3463 code for a status: "5.1.2", "5.1.10", "4.4.3", "5.4.6", or "2.0.0". */
struct esc_text mx_status_code(enum mx_status s);

#endif
