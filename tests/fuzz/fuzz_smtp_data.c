/*
 * fuzz_smtp_data: libFuzzer harness for proto/smtp_data, the DATA decoder.
 * The first byte gives a count k (0..15) of chunk sizes read from the next
 * k bytes; the rest is the DATA stream. The stream is decoded once whole
 * and once cut into those chunks (cycling). Checks:
 * - chunking changes nothing: the same output bytes, the same number of
 *   bytes consumed, the same state and flags (bare newline, 8-bit, header
 *   watch counts) and the header-end callback at the same output offset;
 * - the end of data is exactly the first CRLF "." CRLF, the message start
 *   counting as after a CRLF (so ".\r\n" at once ends an empty message);
 *   computed independently with memmem on "\r\n" + stream;
 * - the output is the consumed stream with each dot at a line start (the
 *   start, or after a CRLF) removed and the final ".\r\n" dropped; when no
 *   end was seen, it is that minus the CR held back at the cut (states
 *   SD_CR, SD_DOT_CR); octets counts the output;
 * - bare_newline is set exactly when a consumed LF has no CR before it or a
 *   CR is followed by a byte other than LF; eight_bit exactly when a
 *   consumed byte is >= 0x80; the header-end callback runs at most once;
 * - a decoder that reached SD_DONE consumes nothing more.
 * Build: tests/fuzz/run.sh.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "proto/smtp_data.h"

struct sink {
    char *p;
    size_t n, cap;
    size_t header_end_at;   /* output offset at the header-end callback */
    int header_ends;
};

static void sink_emit(void *ctx, const char *p, size_t n)
{
    struct sink *s = ctx;
    assert(n > 0);
    if (s->n + n > s->cap) {
        s->cap = (s->n + n) * 2;
        s->p = realloc(s->p, s->cap);
        assert(s->p);
    }
    memcpy(s->p + s->n, p, n);
    s->n += n;
}

static void sink_header_end(void *ctx)
{
    struct sink *s = ctx;
    s->header_end_at = s->n;
    s->header_ends++;
}

struct run {
    struct smtp_data d;
    struct sink out;
    size_t consumed;
};

/* Feeds in[0..n) in chunks of sizes cuts[0..k) (cycled; 0 means 1); k == 0: all at once. */
static void decode(struct run *r, const char *in, size_t n, const uint8_t *cuts, size_t k)
{
    smtp_data_init(&r->d);
    r->d.on_header_end = sink_header_end;
    r->out = (struct sink){ .p = NULL };
    r->consumed = 0;
    for (size_t c = 0; r->consumed < n && r->d.state != SD_DONE; c++) {
        size_t want = k ? (size_t)(cuts[c % k] ? cuts[c % k] : 1) : n;
        if (want > n - r->consumed)
            want = n - r->consumed;
        /* an exact-size heap copy of the chunk: ASan sees any read past it */
        char *chunk = malloc(want ? want : 1);
        memcpy(chunk, in + r->consumed, want);
        size_t used = smtp_data_feed(&r->d, chunk, want, sink_emit, &r->out);
        free(chunk);
        assert(used <= want);
        assert(used == want || r->d.state == SD_DONE);
        r->consumed += used;
    }
    if (r->d.state == SD_DONE)
        assert(smtp_data_feed(&r->d, "x", 1, sink_emit, &r->out) == 0);
}

static void same_runs(const struct run *a, const struct run *b)
{
    assert(a->consumed == b->consumed && a->out.n == b->out.n);
    assert(a->out.n == 0 || memcmp(a->out.p, b->out.p, a->out.n) == 0);
    assert(a->d.state == b->d.state && a->d.octets == b->d.octets);
    assert(a->d.bare_newline == b->d.bare_newline && a->d.eight_bit == b->d.eight_bit);
    assert(a->d.in_headers == b->d.in_headers && a->d.received == b->d.received);
    assert(a->d.has_date == b->d.has_date && a->d.has_message_id == b->d.has_message_id);
    assert(a->d.has_from == b->d.has_from);
    assert(a->out.header_ends == b->out.header_ends);
    assert(a->out.header_end_at == b->out.header_end_at);
}

/* Where the data ends (bytes consumed), or 0 if not within in[0..n). */
static size_t model_end(const char *in, size_t n)
{
    char *p = malloc(n + 2);
    p[0] = '\r';
    p[1] = '\n';
    memcpy(p + 2, in, n);
    const char *hit = memmem(p, n + 2, "\r\n.\r\n", 5);
    size_t end = hit ? (size_t)(hit - p) + 3 : 0;
    free(p);
    return end;
}

/* The decoded form of in[0..n): dots at a line start removed. Returns its length. */
static size_t model_unstuff(const char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int line_start = i == 0 || (i >= 2 && in[i - 2] == '\r' && in[i - 1] == '\n');
        if (!(line_start && in[i] == '.'))
            out[o++] = in[i];
    }
    return o;
}

static void check_flags(const struct run *r, const char *in, size_t n)
{
    int bare = 0, eight = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
            bare = 1;
        if (in[i] == '\r' && i + 1 < n && in[i + 1] != '\n')
            bare = 1;
        if ((unsigned char)in[i] >= 0x80)
            eight = 1;
    }
    assert(r->d.bare_newline == bare && r->d.eight_bit == eight);
    assert(r->out.header_ends <= 1);
}

static void check_against_model(const struct run *r, const char *in, size_t n)
{
    size_t end = model_end(in, n);
    char *want = malloc(n + 1);
    size_t wn;
    if (end) {
        assert(r->d.state == SD_DONE && r->consumed == end);
        wn = model_unstuff(in, end - 3, want);  /* the final ".\r\n" is no content */
    } else {
        assert(r->d.state != SD_DONE && r->consumed == n);
        wn = model_unstuff(in, n, want);
        if (r->d.state == SD_CR || r->d.state == SD_DOT_CR) {
            assert(wn > 0 && want[wn - 1] == '\r');
            wn--;  /* held until the next byte says whether it ends the line */
        }
    }
    assert(r->out.n == wn && (wn == 0 || memcmp(r->out.p, want, wn) == 0));
    assert(r->d.octets == r->out.n);
    check_flags(r, in, r->consumed);
    free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t k = data[0] % 16;
    if (1 + k > size)
        k = size - 1;
    const uint8_t *cuts = data + 1;
    const char *in = (const char *)data + 1 + k;
    size_t n = size - 1 - k;
    struct run whole, cut;
    decode(&whole, in, n, NULL, 0);
    decode(&cut, in, n, cuts, k ? k : 1);
    same_runs(&whole, &cut);
    check_against_model(&whole, in, n);
    free(whole.out.p);
    free(cut.out.p);
    return 0;
}
