/*
 * fuzz_submit: libFuzzer harness for mail/submit, the `postino sendmail`
 * message filter. The first input byte holds option bits (-t, dot_ends,
 * max_size, the From/Date/Message-ID additions, a default domain, a
 * stopping on_rcpt, and with the three high bits "inflate": each 0x01 octet of
 * the message becomes LIMIT octets of 'x', at most twice, so lines past the
 * limits are reached); the rest is the message, fed in two pieces at a split
 * derived from the input, and once more all at once. Checks: no crash or
 * leak; every output line ends in CRLF (no bare CR or LF); output octets =
 * s.octets and never more than max_size; every recipient passes
 * addr_parse_mailbox with a domain and all come before the first output; the
 * two feedings agree.
 * Size knob: the filter's line and header-section limits (submit_opts
 * line_max, head_max) are LIMIT = $FUZZ_SUBMIT_MAX octets, 1024 by default,
 * so an inflated input costs kilobytes and a run does thousands of inputs a
 * second; FUZZ_SUBMIT_MAX=1048576 fuzzes at the production limits (1 MiB:
 * each inflated input then costs megabytes, tens of inputs a second).
 * Build: tests/fuzz/run.sh.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "lib/buf.h"
#include "mail/submit.h"
#include "proto/addr.h"

#define LIMIT_DEFAULT 1024
#define LIMIT_MIN 16
#define INFLATE_MAX 2
#define INFLATE_BITS 0xe0

/* The line and header-section limits, and the size of an inflated octet. */
static size_t limit = LIMIT_DEFAULT;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *env = getenv("FUZZ_SUBMIT_MAX");
    if (env && *env) {
        char *end;
        unsigned long long v = strtoull(env, &end, 10);
        if (*end == '\0' && v >= LIMIT_MIN && v <= SUBMIT_HEAD_MAX * 64)
            limit = (size_t)v;
    }
    return 0;
}

struct out {
    struct buf data;
    size_t n_rcpts;
    size_t stop_at;    /* on_rcpt fails at this recipient (1-based), 0 never */
    int emitted;
};

static void out_emit(void *ctx, const char *p, size_t n)
{
    struct out *o = ctx;
    o->emitted = 1;
    assert(buf_append(&o->data, p, n) == 0);
}

static int out_rcpt(void *ctx, const char *addr)
{
    struct out *o = ctx;
    struct addr a;
    assert(!o->emitted);
    assert(addr_parse_mailbox(addr, &a) == ADDR_OK);
    assert(a.domain[0] != '\0' && !a.is_null);
    o->n_rcpts++;
    return o->stop_at && o->n_rcpts == o->stop_at;
}

/* Feeds msg in two pieces (cut) and finishes; the result. */
static int run(const struct submit_opts *base, const char *msg, size_t len, size_t cut,
               struct out *o, struct submit *s)
{
    struct submit_opts opt = *base;
    opt.ctx = o;
    submit_init(s, &opt);
    int r = submit_feed(s, msg, cut);
    if (r == 0)
        r = submit_feed(s, msg + cut, len - cut);
    if (r == 0)
        r = submit_finish(s);
    assert(r == 0 || r == -1);
    assert(r == 0 ? s->err == SUBMIT_OK : s->err != SUBMIT_OK && s->why[0]);
    /* CRLF line ends only */
    const char *d = o->data.data;
    size_t n = o->data.len;
    for (size_t i = 0; i < n; i++) {
        if (d[i] == '\r')
            assert(i + 1 < n ? d[i + 1] == '\n' : r != 0);
        if (d[i] == '\n')
            assert(i > 0 && d[i - 1] == '\r');
    }
    if (r == 0 && n > 0)
        assert(n >= 2 && d[n - 2] == '\r' && d[n - 1] == '\n');
    assert(s->octets >= n && (r != 0 || s->octets == n));
    if (opt.max_size)
        assert(n <= opt.max_size);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t bits = data[0];
    const uint8_t *m = data + 1;
    size_t mlen = size - 1;

    /* the message, inflated if asked */
    size_t ones = 0;
    if ((bits & INFLATE_BITS) == INFLATE_BITS)
        for (size_t i = 0; i < mlen && ones < INFLATE_MAX; i++)
            ones += m[i] == 1;
    size_t len = mlen + ones * (limit - 1);
    char *msg = malloc(len ? len : 1);
    size_t w = 0, done = 0;
    for (size_t i = 0; i < mlen; i++) {
        if (m[i] == 1 && done < ones) {
            memset(msg + w, 'x', limit);
            w += limit;
            done++;
        } else {
            msg[w++] = (char)m[i];
        }
    }
    assert(w == len);

    struct submit_opts opt = {
        .extract = bits & 1,
        .dot_ends = (bits >> 1) & 1,
        .default_domain = (bits & 0x10) ? "example.org" : NULL,
        .head_max = limit,
        .line_max = limit,
        .on_rcpt = out_rcpt,
        .emit = out_emit,
    };
    if (bits & 0x08) {
        opt.from = "Some One <one@example.org>";
        opt.date = "Mon, 1 Jan 2024 00:00:00 +0000";
        opt.message_id = "<id@example.org>";
    }
    size_t h = mlen ? (size_t)m[0] * 131 + (size_t)m[mlen - 1] * 7 + mlen : 0;
    if (bits & 0x04)
        opt.max_size = len / 2 + h % 64;
    size_t cut = len ? (h * 2654435761u) % (len + 1) : 0;

    struct out a = {.stop_at = (bits & 0x20) ? 1 + h % 3 : 0};
    struct out b = a;
    struct submit sa, sb;
    buf_init(&a.data, BUF_UNLIMITED);
    buf_init(&b.data, BUF_UNLIMITED);
    int ra = run(&opt, msg, len, cut, &a, &sa);
    int rb = run(&opt, msg, len, len, &b, &sb);
    /* where the input is cut changes nothing */
    assert(ra == rb && sa.err == sb.err && a.n_rcpts == b.n_rcpts);
    if (ra == 0) {
        assert(a.data.len == b.data.len);
        assert(a.data.len == 0 || memcmp(a.data.data, b.data.data, a.data.len) == 0);
        assert(sa.has8bit == sb.has8bit);
    }
    submit_free(&sa);
    submit_free(&sb);
    buf_free(&a.data);
    buf_free(&b.data);
    free(msg);
    return 0;
}
