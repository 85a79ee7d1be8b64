/*
 * fuzz_route: libFuzzer harness for mail/route, the recipient decisions.
 * The input (cut at its first NUL) is a recipient address, classified under
 * two fixed configurations: one with a users and an aliases file (holding
 * a list, a forward and an alias loop), one with neither and a relayhost.
 * Checks:
 * - route_split accepts exactly an address with an '@' that is neither the
 *   first nor the last byte, splits at the last '@', lower-cases the domain
 *   and gives back the address (local "@" domain, domain in any case); a
 *   non-ASCII domain is given as its A-label (proto/intl) and refused when
 *   it is no valid IDN;
 * - route_classify's answer agrees with the tables: ROUTE_LOCAL only for a
 *   local domain, with a mailbox that is one safe path component (not "."
 *   or "..", no '/', no control byte, under 65 octets, lower case when
 *   there is no users file); ROUTE_ALIAS only for an aliases entry;
 *   ROUTE_UNKNOWN_USER only with a users file; ROUTE_RELAY_DOMAIN only for
 *   a relay domain; ROUTE_REMOTE only for a domain neither local nor relay;
 *   an address route_split refuses is ROUTE_BAD_MAILBOX;
 * - route_next_hop names the lower-cased domain (a valid IDN: its A-label), a
 *   non-empty host when the
 *   domain is non-empty, a port in 1..65535; route_hop_key is
 *   "HOST:PORT:mx" or "HOST:PORT:a", cut cleanly at any size;
 * - alias expansion terminates, marks the alias RCPT_EXPANDED, adds only
 *   pending recipients whose parent is an earlier one, and never lists the
 *   same address twice as pending; the tables' chains are shorter than
 *   ROUTE_ALIAS_DEPTH, so no pending recipient is left an alias to expand
 *   (an alias that comes back to itself is delivered to its own mailbox or
 *   is ROUTE_ALIAS_LOOP) and a second pass adds nothing.
 * The tables are written to a scratch folder in /tmp, loaded, and removed
 * again at start-up. Build: tests/fuzz/run.sh.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "fuzz_input.h"
#include "lib/buf.h"
#include "mail/alias.h"
#include "mail/conf.h"
#include "mail/envelope.h"
#include "mail/maildir.h"
#include "mail/route.h"
#include "proto/intl.h"

static struct conf tables, plain;

static void write_file(const char *dir, const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert(f);
    fputs(text, f);
    fclose(f);
}

static void load(const char *dir, const char *name, struct conf *c)
{
    char p[512];
    struct buf err;
    buf_init(&err, BUF_UNLIMITED);
    snprintf(p, sizeof p, "%s/%s", dir, name);
    if (conf_load(p, c, &err) < 0) {
        fprintf(stderr, "fuzz_route: %s\n", buf_cstr(&err));
        abort();
    }
    buf_free(&err);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char dir[] = "/tmp/fuzz-route-XXXXXX";
    assert(mkdtemp(dir));
    write_file(dir, "users", "Bob@example.test:{PLAIN}x\nalice@example.test:{PLAIN}y\n"
                             "odd.name@other.test:{PLAIN}z\n");
    write_file(dir, "aliases", "team@example.test: bob@example.test, alice@example.test, "
                               "out@remote.test\nfwd@example.test: Bob@Example.test\n"
                               "a@example.test: b@example.test\nb@example.test: a@example.test\n"
                               "self@example.test: self@example.test, bob@example.test\n");
    write_file(dir, "tables.conf", "hostname mx.example.test\nlocal_domains example.test "
                                   "other.test\nusers users\naliases aliases\n"
                                   "relay_domains backup.test\n"
                                   "route inner.test [10.0.0.1]:2525\n");
    write_file(dir, "plain.conf", "hostname mx.example.test\nlocal_domains example.test\n"
                                  "relay_domains backup.test\nrelayhost smart.example.net:587\n");
    load(dir, "tables.conf", &tables);
    load(dir, "plain.conf", &plain);
    /* the tables are in memory now: leave nothing behind in /tmp */
    static const char *const files[] = {"users", "aliases", "tables.conf", "plain.conf"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
    return 0;
}

/* The domain route_split should give: the input lowered, or for a non-ASCII domain its
 * A-label; "" (refused) when that does not exist or fit. */
static void want_domain(const char *d, char *out, size_t size)
{
    if (intl_domain_to_ascii(d, out, size) < 0)
        out[0] = '\0';
}

static void check_split(const char *addr, char *local, char *domain)
{
    const char *at = strrchr(addr, '@');
    char want[256] = "";
    int ok = route_split(addr, local, 256, domain, 256) == 0;
    int shape = at && at != addr && at[1];
    if (shape)
        want_domain(at + 1, want, sizeof want);
    int fits = shape && (size_t)(at - addr) < 256 && want[0];
    assert(ok == fits);
    if (!ok)
        return;
    assert(strlen(local) == (size_t)(at - addr) && memcmp(local, addr, strlen(local)) == 0);
    assert(strcmp(domain, want) == 0);
    for (const char *p = domain; *p; p++)
        assert(!(*p >= 'A' && *p <= 'Z'));
}

static void check_mailbox(const struct conf *c, const char *mailbox)
{
    assert(strlen(mailbox) < ADDR_LOCAL_MAX + 1);
    assert(maildir_component_ok(mailbox));
    assert(strcmp(mailbox, ".") != 0 && strcmp(mailbox, "..") != 0 && !strchr(mailbox, '/'));
    if (!c->users)
        for (const char *p = mailbox; *p; p++)
            assert(!(*p >= 'A' && *p <= 'Z'));
}

static void check_classify(const struct conf *c, const char *addr)
{
    char local[256], domain[256];
    char *mailbox = malloc(ADDR_LOCAL_MAX + 1); /* the callers' size, exactly */
    size_t n;
    enum route_kind k = route_classify(c, addr, mailbox, ADDR_LOCAL_MAX + 1);
    int split = route_split(addr, local, sizeof local, domain, sizeof domain) == 0;
    check_split(addr, local, domain);
    if (!split) {
        assert(k == ROUTE_BAD_MAILBOX);
        free(mailbox);
        return;
    }
    int alias = c->aliases && aliases_lookup(c->aliases, local, domain, &n);
    int is_local = conf_is_local_domain(c, domain), relay = conf_is_relay_domain(c, domain);
    assert((k == ROUTE_ALIAS) == alias);
    if (k == ROUTE_LOCAL)
        check_mailbox(c, mailbox);
    if (k == ROUTE_LOCAL || k == ROUTE_UNKNOWN_USER || k == ROUTE_BAD_MAILBOX)
        assert(is_local);
    if (k == ROUTE_UNKNOWN_USER)
        assert(c->users);
    if (k == ROUTE_RELAY_DOMAIN)
        assert(relay && !is_local);
    if (k == ROUTE_REMOTE)
        assert(!relay && !is_local);
    free(mailbox);
}

static void check_hop(const struct conf *c, const char *domain, size_t key_size)
{
    struct route_hop hop;
    char key[600], *cut = malloc(key_size + 1);
    char alabel[256];
    route_next_hop(c, domain, &hop);
    if (intl_domain_to_ascii(domain, alabel, sizeof alabel) == 0 &&
        strlen(alabel) < sizeof hop.domain) {
        assert(strcmp(hop.domain, alabel) == 0);
        if (domain[0])
            assert(hop.host[0]);
    } else if (strlen(domain) < sizeof hop.domain) {
        assert(strcasecmp(hop.domain, domain) == 0);
        if (domain[0])
            assert(hop.host[0]);
    }
    assert(hop.port >= 1 && hop.port <= 65535);
    route_hop_key(&hop, key, sizeof key);
    char want[600];
    snprintf(want, sizeof want, "%s:%d:%s:%s", hop.host, hop.port, hop.no_mx ? "a" : "mx",
             conf_tls_policy_name(hop.tls));
    assert(strcmp(key, want) == 0);
    route_hop_key(&hop, cut, key_size + 1);
    assert(strncmp(cut, key, key_size) == 0 || strlen(cut) <= key_size);
    free(cut);
}

static void check_expand(const struct conf *c, const char *addr)
{
    struct envelope e;
    envelope_init(&e);
    envelope_add_rcpt(&e, addr, NOTIFY_SUCCESS | NOTIFY_FAILURE, NULL, -1, RCPT_PENDING);
    route_expand_all(c, &e);
    for (size_t i = 1; i < e.n_rcpts; i++) {
        assert(e.rcpts[i].parent >= 0 && (size_t)e.rcpts[i].parent < i);
        assert(e.rcpts[e.rcpts[i].parent].status == RCPT_EXPANDED);
    }
    for (size_t i = 0; i < e.n_rcpts; i++)
        for (size_t j = i + 1; j < e.n_rcpts; j++)
            assert(e.rcpts[i].status != RCPT_PENDING || e.rcpts[j].status != RCPT_PENDING ||
                   strcasecmp(e.rcpts[i].addr, e.rcpts[j].addr) != 0);
    size_t n = e.n_rcpts;
    char mb[65];
    for (size_t i = 0; i < n; i++) {
        if (e.rcpts[i].status != RCPT_PENDING)
            continue;
        assert(route_classify_rcpt(c, &e, i, mb, sizeof mb) != ROUTE_ALIAS);
        assert(route_expand(c, &e, i) == 0);
    }
    assert(e.n_rcpts == n);
    envelope_free(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len;
    char *addr = fuzz_cstring(data, size, &len);
    const struct conf *confs[] = { &tables, &plain };
    for (size_t i = 0; i < 2; i++) {
        check_classify(confs[i], addr);
        const char *at = strrchr(addr, '@');
        check_hop(confs[i], at ? at + 1 : addr, size ? data[0] : 0);
        check_expand(confs[i], addr);
    }
    free(addr);
    return 0;
}
