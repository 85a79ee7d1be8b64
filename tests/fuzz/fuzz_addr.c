/*
 * fuzz_addr: libFuzzer harness for proto/addr. Feeds arbitrary bytes to
 * addr_parse_path (all four allow_null/allow_postmaster combinations) and
 * addr_parse_mailbox_n. Checks: *consumed stays within the input and ends at
 * '>'; stored parts are NUL-terminated and within RFC 5321 limits; a parsed
 * address formats and re-parses to an equal address. Build: tests/fuzz/run.sh.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "proto/addr.h"
#include "lib/str.h"

static void check_stored(const struct addr *a)
{
    assert(strnlen(a->local, sizeof a->local) <= ADDR_LOCAL_MAX);
    assert(strnlen(a->domain, sizeof a->domain) <= ADDR_DOMAIN_MAX);
}

/* A parsed mailbox must survive format -> parse unchanged. */
static void check_round_trip(const struct addr *a)
{
    char text[ADDR_LOCAL_MAX + ADDR_DOMAIN_MAX + 2];
    struct addr b;
    if (a->is_null || a->domain[0] == '\0')
        return;
    assert(addr_format(a, text, sizeof text) == 0);
    assert(addr_parse_mailbox(text, &b) == ADDR_OK);
    assert(addr_equal(a, &b));
    assert(strcmp(a->local, b.local) == 0 && strcmp(a->domain, b.domain) == 0);
}

static void fuzz_path(const char *s, size_t n, int allow_null, int allow_pm)
{
    struct addr a;
    size_t used = (size_t)-1;
    enum addr_err e = addr_parse_path(s, n, allow_null, allow_pm, &a, &used);
    assert(e == ADDR_OK || e == ADDR_SYNTAX || e == ADDR_LOCAL_TOO_LONG ||
           e == ADDR_DOMAIN_TOO_LONG);
    if (e != ADDR_OK)
        return;
    assert(used >= 2 && used <= n && s[0] == '<' && s[used - 1] == '>');
    assert(!a.is_null || allow_null);
    assert(a.domain[0] || a.is_null || allow_pm);
    check_stored(&a);
    check_round_trip(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size ? size : 1);
    if (size)
        memcpy(s, data, size);
    for (int i = 0; i < 4; i++)
        fuzz_path(s, size, i & 1, i >> 1);
    struct addr a;
    if (addr_parse_mailbox_n(s, size, &a) == ADDR_OK) {
        assert(a.domain[0] != '\0' && !a.is_null);
        check_stored(&a);
        check_round_trip(&a);
    }
    free(s);
    return 0;
}
