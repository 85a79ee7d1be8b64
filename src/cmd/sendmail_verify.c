/*
 * sendmail_verify: `sendmail -bv ADDR ...` says what would happen to each
 * address without sending anything: delivered to a local mailbox (which
 * folder), an alias (expanded to what, each target in turn), passed on to a
 * remote domain (through which next hop), or refused (with the reply the
 * server would give). Unqualified addresses get the first local domain, as
 * for mail. Reads the aliases and users files (so it is for root or the
 * mail system's user when they are not world-readable). Exit 0 if every
 * address is deliverable, 67 (EX_NOUSER) if one is not.
 */
#include "cmd/sendmail.h"
#include "lib/str.h"
#include "mail/maildir.h"
#include "mail/route.h"
#include "proto/addr.h"
#include "proto/esc.h"
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#define SMV_ADDR_MAX (ADDR_LOCAL_MAX + ADDR_DOMAIN_MAX + 2)

/* "hop host[:port]" of a remote recipient. */
static void smv_hop(const struct conf *c, const char *domain, char *out, size_t size)
{
    struct route_hop hop;
    route_next_hop(c, domain, &hop);
    if (strcmp(hop.host, domain) == 0 && !hop.no_mx)
        str_fmt(out, size, "the MX hosts of %s, port %d", domain, hop.port);
    else
        str_fmt(out, size, "%s%s%s:%d%s", hop.no_mx ? "[" : "", hop.host, hop.no_mx ? "]" : "",
                hop.port, hop.no_mx ? "" : " (its MX hosts)");
}

/* Prints what becomes of recipient i of e (its expansion already done). 1 if deliverable. */
static int smv_one(const struct conf *c, const struct envelope *e, size_t i, int depth)
{
    char mailbox[ADDR_LOCAL_MAX + 1], local[256], domain[256], text[600], reply[700];
    const char *addr = e->rcpts[i].addr;
    enum route_kind k = route_classify_rcpt(c, e, i, mailbox, sizeof mailbox);
    route_split(addr, local, sizeof local, domain, sizeof domain);
    printf("%*s%s: ", depth * 2, "", addr);
    switch (k) {
    case ROUTE_LOCAL:
        maildir_box_path(text, sizeof text, c->data_dir, domain, mailbox);
        printf("deliverable: local mailbox %s\n", text);
        return 1;
    case ROUTE_REMOTE:
    case ROUTE_RELAY_DOMAIN:
        smv_hop(c, domain, text, sizeof text);
        printf("deliverable: %s, relayed via %s\n",
               k == ROUTE_RELAY_DOMAIN ? "relay domain" : "remote", text);
        return 1;
    case ROUTE_ALIAS:
        printf("alias, expands to:\n");
        return -1; /* the caller prints the targets */
    case ROUTE_UNKNOWN_USER:
    case ROUTE_BAD_MAILBOX:
        esc_reply(reply, sizeof reply, 550, ESC_BAD_DESTINATION_MAILBOX, "no such mailbox here");
        break;
    case ROUTE_ALIAS_LOOP:
        esc_reply(reply, sizeof reply, 550, ESC_ROUTING_LOOP, "alias loop");
        break;
    }
    printf("undeliverable: %s\n", reply);
    return 0;
}

/* Prints recipient i and, for an alias, its targets (the recipients whose parent it is). */
static int smv_tree(const struct conf *c, const struct envelope *e, size_t i, int depth)
{
    int r = smv_one(c, e, i, depth);
    if (r >= 0)
        return r;
    int ok = 1, any = 0;
    for (size_t j = i + 1; j < e->n_rcpts; j++)
        if (e->rcpts[j].parent == (int)i) {
            any = 1;
            ok &= smv_tree(c, e, j, depth + 1);
        }
    if (!any)
        printf("%*s(nothing: every target is already a recipient)\n", (depth + 1) * 2, "");
    return ok;
}

/* The address as mail would have it: checked, unqualified ones completed. 0 or -1. */
static int smv_address(const struct conf *c, const char *arg, char *out, size_t size)
{
    struct addr a;
    char full[SMV_ADDR_MAX + 1];
    if (!strchr(arg, '@')) {
        if (str_fmt(full, sizeof full, "%s@%s", arg, sm_default_domain(c)) < 0)
            return -1;
        arg = full;
    }
    if (addr_parse_mailbox(arg, &a) != ADDR_OK || addr_is_literal(&a))
        return -1;
    return addr_format(&a, out, size);
}

int sm_verify(const struct conf *c, char **addrs, int n)
{
    int all_ok = 1;
    for (int k = 0; k < n; k++) {
        char addr[SMV_ADDR_MAX + 1], reply[200];
        if (smv_address(c, addrs[k], addr, sizeof addr) < 0) {
            esc_reply(reply, sizeof reply, 553, ESC_BAD_DESTINATION_SYNTAX, "bad address syntax");
            printf("%s: undeliverable: %s\n", addrs[k], reply);
            all_ok = 0;
            continue;
        }
        struct envelope e;
        envelope_init(&e);
        envelope_add_rcpt(&e, addr, 0, NULL, -1, RCPT_PENDING);
        route_expand_all(c, &e);
        all_ok &= smv_tree(c, &e, 0, 0);
        envelope_free(&e);
    }
    return all_ok ? 0 : EX_NOUSER;
}
