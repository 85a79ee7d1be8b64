/*
 * auth_dns: the blocking DNS lookups of the inbound checks (SPF, DKIM keys,
 * DMARC records), for worker threads only. One c-ares channel per message
 * checked (struct auth_dns), on dns_servers (with their ports) or else
 * /etc/resolv.conf, driven by poll() with a deadline: each lookup gets at
 * most AUTH_DNS_LOOKUP_MS and all lookups of one message share one budget
 * (auth_dns_new). A timeout marks the resolver down for the rest of the
 * message, so a silent server costs one timeout, not one per lookup.
 * Answers: NXDOMAIN and "no such record" (none) are told apart from a
 * timeout, SERVFAIL or an unreachable server (temporary: temperror).
 * Never searches domains or /etc/hosts: names are absolute.
 * Settings: dns_servers.
 */
#ifndef POSTINO_AUTH_DNS_H
#define POSTINO_AUTH_DNS_H
#include <stddef.h>
#include "mail/conf.h"

#define AUTH_DNS_LOOKUP_MS 5000     /* one lookup, retries included */
#define AUTH_DNS_BUDGET_MS 15000    /* every lookup of one message */
#define AUTH_DNS_MAX_RR 32          /* records kept per answer */
#define AUTH_DNS_TXT_MAX 4096       /* one TXT record, its strings joined */

enum auth_dns_status {
    AUTH_DNS_OK,        /* at least one record of the type */
    AUTH_DNS_NXDOMAIN,  /* no such name */
    AUTH_DNS_NODATA,    /* the name exists, no record of the type */
    AUTH_DNS_TEMP,      /* timeout, SERVFAIL, no server reachable, budget spent */
};

/* One record: TXT text (strings joined), MX/PTR name, A/AAAA address octets. */
struct auth_dns_rr {
    char *text;         /* TXT, MX, PTR; NULL for A/AAAA */
    int pref;           /* MX preference */
    unsigned char addr[16];
};

struct auth_dns_answer {
    struct auth_dns_rr rr[AUTH_DNS_MAX_RR];
    size_t n;
};

struct auth_dns;

/* A resolver for one message's checks with budget_ms for all its lookups;
 * NULL (logged) if c-ares cannot be set up or a dns_servers entry is bad. */
struct auth_dns *auth_dns_new(const struct conf *c, int budget_ms);
void auth_dns_free(struct auth_dns *d);
/* Looks up name's records of type (ns_t_txt, ns_t_a, ns_t_aaaa, ns_t_mx,
 * ns_t_ptr) into *ans (freed with auth_dns_answer_free, also when not OK). */
enum auth_dns_status auth_dns_query(struct auth_dns *d, const char *name, int type,
                                    struct auth_dns_answer *ans);
void auth_dns_answer_free(struct auth_dns_answer *ans);
/* "ok", "nxdomain", "nodata", "temporary failure". */
const char *auth_dns_status_name(enum auth_dns_status s);

#endif
