/*
 * fuzz_intl: libFuzzer harness for proto/intl and the RFC 6533 utf-8 address
 * encodings of proto/xtext. Feeds arbitrary bytes to the UTF-8/NFC check,
 * the IDN conversions, the mailbox key and the UTF-8 address parser.
 * Checks: an accepted UTF-8 string converts to an A-label that is plain
 * ASCII without upper case, and the address parser marks utf8 exactly when
 * it stored a non-ASCII octet; a decoded utf-8-addr-xtext is itself
 * accepted by intl_utf8_ok, and encode(decode(x)) decodes to the same value
 * in both forms. Build: tests/fuzz/run.sh.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "proto/addr.h"
#include "proto/intl.h"
#include "proto/xtext.h"

static void check_domain(const char *s)
{
    char a[INTL_DOMAIN_MAX], u[INTL_DOMAIN_MAX * 4];
    if (intl_domain_to_ascii(s, a, sizeof a) == 0) {
        for (const char *p = a; *p; p++)
            assert((unsigned char)*p < 128 && !(*p >= 'A' && *p <= 'Z'));
        (void)intl_domain_to_unicode(a, u, sizeof u);
        assert(intl_domain_equal(s, a));
    }
    char key[600];
    (void)intl_mailbox_key(s, key, sizeof key);
}

static void check_utf8_addr(const char *v, size_t n)
{
    char d[600], e[3000], d2[600];
    if (xtext_utf8_decode(v, n, d, sizeof d) < 0)
        return;
    assert(intl_utf8_ok(d, strlen(d)));
    for (int unitext = 0; unitext <= 1; unitext++) {
        assert(xtext_utf8_encode(d, unitext, e, sizeof e) == 0);
        assert(xtext_utf8_decode(e, strlen(e), d2, sizeof d2) == 0);
        assert(strcmp(d, d2) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1000)
        return 0;
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    (void)intl_utf8_ok(s, size);
    check_domain(s);
    check_utf8_addr(s, size);
    struct addr a;
    size_t used;
    if (addr_parse_path_flags(s, size, ADDR_ALLOW_UTF8 | ADDR_ALLOW_NULL, &a, &used) == ADDR_OK &&
        !a.is_null)
        assert(a.utf8 == !(intl_is_ascii(a.local, strlen(a.local)) &&
                           intl_is_ascii(a.domain, strlen(a.domain))));
    free(s);
    return 0;
}
