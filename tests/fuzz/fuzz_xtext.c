/*
 * fuzz_xtext: libFuzzer harness for proto/xtext (RFC 3461 4). Decodes
 * arbitrary bytes and encodes them. Checks: a decoded value never holds a
 * control character or an 8-bit byte (it may reach a header or the queue
 * file); decode(encode(x)) == x for every accepted value and for the raw
 * input whenever it is printable US-ASCII; encoding emits only '!'..'~'
 * and never a raw '+' or '=' outside an escape. Build: tests/fuzz/run.sh.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "lib/buf.h"
#include "proto/xtext.h"

static void check_encoding(const struct buf *e)
{
    for (size_t i = 0; i < e->len; i++) {
        unsigned char c = (unsigned char)e->data[i];
        assert(c >= '!' && c <= '~' && c != '=');
        if (c == '+') { /* "+XX": two upper-case hex digits follow */
            assert(i + 2 < e->len);
            for (int k = 1; k <= 2; k++) {
                char h = e->data[i + k];
                assert((h >= '0' && h <= '9') || (h >= 'A' && h <= 'F'));
            }
            i += 2;
        }
    }
}

/* encode then decode gives v back (v: printable US-ASCII, as decode demands) */
static void check_round_trip(const char *v, size_t n)
{
    struct buf e, d;
    buf_init(&e, BUF_UNLIMITED);
    buf_init(&d, BUF_UNLIMITED);
    assert(xtext_encode(v, n, &e) == 0);
    check_encoding(&e);
    assert(xtext_decode(e.data ? e.data : "", e.len, &d) == 0);
    assert(d.len == n && (n == 0 || memcmp(d.data, v, n) == 0));
    buf_free(&e);
    buf_free(&d);
}

static int printable(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] >= 0x7f)
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct buf d;
    buf_init(&d, BUF_UNLIMITED);
    if (xtext_decode((const char *)data, size, &d) == 0) {
        for (size_t i = 0; i < d.len; i++)
            assert((unsigned char)d.data[i] >= 0x20 && (unsigned char)d.data[i] < 0x7f);
        check_round_trip(d.data ? d.data : "", d.len);
    }
    buf_free(&d);
    if (printable(data, size))
        check_round_trip((const char *)data, size);
    return 0;
}
