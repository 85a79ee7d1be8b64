/*
 * route: recipient classification and alias expansion (see route.h).
 */
#include "mail/route.h"
#include "mail/alias.h"
#include "mail/auth.h"
#include "mail/maildir.h"
#include "mail/notify.h"
#include "lib/str.h"
#include "proto/intl.h"
#include <string.h>

int route_split(const char *addr, char *local, size_t lsize, char *domain, size_t dsize)
{
    const char *at = strrchr(addr, '@');
    if (!at || at == addr || !at[1])
        return -1;
    /* the domain as its A-label: "bücher.test" and "xn--bcher-kva.test" are one domain,
     * with one Maildir folder */
    if (str_ncopy(local, lsize, addr, (size_t)(at - addr)) < 0 ||
        intl_domain_to_ascii(at + 1, domain, dsize) < 0)
        return -1;
    return 0;
}

/* The folder name of a local address, or ROUTE_UNKNOWN_USER / ROUTE_BAD_MAILBOX. */
static enum route_kind route_local(const struct conf *c, const char *local, const char *domain,
                                   char *mailbox, size_t size)
{
    if (c->users) {
        const char *canon = users_lookup(c->users, local, domain);
        if (canon) {
            const char *at = strrchr(canon, '@');
            str_ncopy(mailbox, size, canon, at ? (size_t)(at - canon) : strlen(canon));
            return maildir_component_ok(mailbox) ? ROUTE_LOCAL : ROUTE_BAD_MAILBOX;
        }
        if (!str_ieq(local, "postmaster"))
            return ROUTE_UNKNOWN_USER;
    }
    if (str_copy(mailbox, size, local) < 0)
        return ROUTE_BAD_MAILBOX;
    str_lower(mailbox);
    return maildir_component_ok(mailbox) ? ROUTE_LOCAL : ROUTE_BAD_MAILBOX;
}

static enum route_kind route_classify_as(const struct conf *c, const char *addr, int aliases,
                                         char *mailbox, size_t size)
{
    char local[256], domain[256];
    size_t n;
    if (route_split(addr, local, sizeof local, domain, sizeof domain) < 0)
        return ROUTE_BAD_MAILBOX;
    if (aliases && c->aliases && aliases_lookup(c->aliases, local, domain, &n))
        return ROUTE_ALIAS;
    if (conf_is_local_domain(c, domain))
        return route_local(c, local, domain, mailbox, size);
    if (conf_is_relay_domain(c, domain))
        return ROUTE_RELAY_DOMAIN;
    return ROUTE_REMOTE;
}

enum route_kind route_classify(const struct conf *c, const char *addr, char *mailbox, size_t size)
{
    return route_classify_as(c, addr, 1, mailbox, size);
}

int route_loops_back(const struct envelope *e, size_t i)
{
    /* parents point backwards; the step bound guards a damaged envelope */
    size_t steps = 0;
    for (int p = e->rcpts[i].parent; p >= 0 && (size_t)p < i && steps < e->n_rcpts;
         p = e->rcpts[p].parent, steps++)
        if (str_ieq(e->rcpts[p].addr, e->rcpts[i].addr))
            return 1;
    return 0;
}

enum route_kind route_classify_rcpt(const struct conf *c, const struct envelope *e, size_t i,
                                    char *mailbox, size_t size)
{
    enum route_kind k = route_classify(c, e->rcpts[i].addr, mailbox, size);
    if (k != ROUTE_ALIAS || !route_loops_back(e, i))
        return k;
    k = route_classify_as(c, e->rcpts[i].addr, 0, mailbox, size);
    return k == ROUTE_UNKNOWN_USER || k == ROUTE_BAD_MAILBOX ? ROUTE_ALIAS_LOOP : k;
}

static int route_already(const struct envelope *e, const char *addr)
{
    for (size_t k = 0; k < e->n_rcpts; k++)
        if (e->rcpts[k].status != RCPT_EXPANDED && str_ieq(e->rcpts[k].addr, addr))
            return 1;
    return 0;
}

static size_t route_expand_depth(const struct conf *c, struct envelope *e, size_t i, int depth)
{
    char local[256], domain[256];
    size_t n = 0, added = 0;
    if (!c->aliases || depth > ROUTE_ALIAS_DEPTH || route_loops_back(e, i) ||
        route_split(e->rcpts[i].addr, local, sizeof local, domain, sizeof domain) < 0)
        return 0;
    const char *const *targets = aliases_lookup(c->aliases, local, domain, &n);
    if (!targets || n == 0)
        return 0;
    e->rcpts[i].status = RCPT_EXPANDED;
    if (n > 1)
        e->rcpts[i].dsn_sent |= NOTIFY_LIST; /* a list, even if some targets were recipients */
    /* A forward keeps NOTIFY and ORCPT; an expansion drops SUCCESS (RFC 3461 6.2.7). */
    unsigned notify = e->rcpts[i].notify;
    if (n > 1 && (notify & NOTIFY_SUCCESS)) {
        notify &= ~NOTIFY_SUCCESS;
        if (notify == 0)
            notify = NOTIFY_NEVER; /* only SUCCESS was asked: nothing left to report */
    }
    for (size_t t = 0; t < n; t++) {
        if (route_already(e, targets[t]))
            continue;
        const char *orcpt = n == 1 ? e->rcpts[i].orcpt : NULL;
        size_t k = envelope_add_rcpt(e, targets[t], notify, orcpt, (int)i, RCPT_PENDING);
        added++;
        added += route_expand_depth(c, e, k, depth + 1);
    }
    return added;
}

size_t route_expand(const struct conf *c, struct envelope *e, size_t i)
{
    return route_expand_depth(c, e, i, 0);
}

void route_expand_all(const struct conf *c, struct envelope *e)
{
    size_t n = e->n_rcpts; /* the targets appended are expanded by route_expand itself */
    for (size_t i = 0; i < n; i++)
        route_expand(c, e, i);
}

void route_next_hop(const struct conf *c, const char *domain, struct route_hop *hop)
{
    memset(hop, 0, sizeof *hop);
    /* DNS knows only A-labels (RFC 5891); an invalid IDN stays as it is and fails there */
    if (intl_domain_to_ascii(domain, hop->domain, sizeof hop->domain) < 0) {
        str_copy(hop->domain, sizeof hop->domain, domain);
        str_lower(hop->domain);
    }
    hop->tls = conf_tls_policy(c, hop->domain);
    const struct route *r = conf_find_route(c, hop->domain);
    const struct hostport *hp = r ? &r->hop : c->has_relayhost ? &c->relayhost : NULL;
    if (hp) {
        str_copy(hop->host, sizeof hop->host, hp->host);
        hop->port = hp->port ? hp->port : c->smtp_port;
        hop->no_mx = hp->no_mx;
        hop->relay = 1;
        return;
    }
    str_copy(hop->host, sizeof hop->host, hop->domain);
    hop->port = c->smtp_port;
    hop->backup = conf_is_relay_domain(c, hop->domain);
}

void route_hop_key(const struct route_hop *hop, char *out, size_t size)
{
    str_fmt(out, size, "%s:%d:%s:%s", hop->host, hop->port, hop->no_mx ? "a" : "mx",
            conf_tls_policy_name(hop->tls));
}
