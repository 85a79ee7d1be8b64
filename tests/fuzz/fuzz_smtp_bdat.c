/*
 * fuzz_smtp_bdat: libFuzzer harness for the BDAT side of the protocol
 * layer (RFC 3030): smtp_parse_bdat (proto/smtp_parse) and the raw mode of
 * the content decoder (proto/smtp_data), on arbitrary bytes. Checks:
 * - smtp_parse_bdat equals a model: accepted exactly when the argument is
 *   1..20 digits whose value fits 64 bits, optionally followed by one space
 *   and "LAST" in any case; the size is that value; has_size is set exactly
 *   when the leading digit run (up to the first space) is such a number,
 *   also on an error; errors are 501 5.5.4; no read past the length;
 * - raw mode: every octet is consumed whatever the cuts, nothing is ever
 *   the end of data before smtp_data_finish, and the output is the input
 *   unchanged (no dot removed, CRLF "." CRLF kept); octets counts it;
 * - bare_newline is set exactly when an LF has no CR before it or a CR is
 *   not followed by an LF (a CR at the very end included), as for DATA;
 * - cutting the stream changes nothing (output, flags, header watch).
 * The first byte selects k (0..15) cut sizes from the next k bytes.
 * Build: tests/fuzz/run.sh.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "proto/smtp_data.h"
#include "proto/smtp_parse.h"

/* The model of a size: 1..20 digits, no overflow. */
static int model_size(const char *s, size_t n, uint64_t *out)
{
    uint64_t x = 0;
    if (n == 0 || n > 20)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        unsigned d = (unsigned)(s[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return 0;
        x = x * 10 + d;
    }
    *out = x;
    return 1;
}

static void check_parse(const char *s, size_t n)
{
    char *copy = malloc(n ? n : 1);
    memcpy(copy, s, n);
    struct bdat_params bp;
    struct smtp_err err;
    int r = smtp_parse_bdat(copy, n, &bp, &err);
    const char *sp = memchr(s, ' ', n);
    size_t digits = sp ? (size_t)(sp - s) : n;
    uint64_t size = 0;
    int sized = model_size(s, digits, &size);
    int tail_ok = !sp || (n - digits - 1 == 4 && strncasecmp(sp + 1, "LAST", 4) == 0);
    assert(bp.has_size == sized);
    if (sized)
        assert(bp.size == size);
    assert((r == 0) == (sized && tail_ok));
    if (r == 0)
        assert(bp.last == (sp != NULL));
    else
        assert(err.code == 501 && err.esc == ESC_INVALID_ARGUMENTS);
    free(copy);
}

struct sink {
    char *p;
    size_t n;
};

static void sink_emit(void *ctx, const char *p, size_t n)
{
    struct sink *s = ctx;
    s->p = realloc(s->p, s->n + n + 1);
    assert(s->p);
    memcpy(s->p + s->n, p, n);
    s->n += n;
}

/* Decodes in raw mode, cut by cuts[0..k) (cycled; 0 means 1; k == 0: at once). */
static void decode(struct smtp_data *d, struct sink *out, const char *in, size_t n,
                   const uint8_t *cuts, size_t k)
{
    smtp_data_init(d);
    d->raw = 1;
    *out = (struct sink){ .p = NULL };
    size_t done = 0;
    for (size_t c = 0; done < n; c++) {
        size_t want = k ? (size_t)(cuts[c % k] ? cuts[c % k] : 1) : n;
        if (want > n - done)
            want = n - done;
        char *chunk = malloc(want);
        memcpy(chunk, in + done, want);
        assert(smtp_data_feed(d, chunk, want, sink_emit, out) == want);
        free(chunk);
        assert(d->state != SD_DONE);
        done += want;
    }
    smtp_data_finish(d, sink_emit, out);
    assert(d->state == SD_DONE);
}

static int model_bare(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
            return 1;
        if (s[i] == '\r' && (i + 1 == n || s[i + 1] != '\n'))
            return 1;
    }
    return 0;
}

static void check_raw(const char *in, size_t n, const uint8_t *cuts, size_t k)
{
    struct smtp_data whole, cut;
    struct sink a, b;
    decode(&whole, &a, in, n, NULL, 0);
    decode(&cut, &b, in, n, cuts, k);
    assert(a.n == n && (n == 0 || memcmp(a.p, in, n) == 0));
    assert(whole.octets == n);
    assert(whole.bare_newline == model_bare(in, n));
    assert(b.n == a.n && (n == 0 || memcmp(a.p, b.p, n) == 0));
    assert(cut.bare_newline == whole.bare_newline && cut.eight_bit == whole.eight_bit);
    assert(cut.received == whole.received && cut.has_date == whole.has_date);
    assert(cut.has_message_id == whole.has_message_id && cut.has_from == whole.has_from);
    free(a.p);
    free(b.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_parse((const char *)data, size);
    if (size == 0)
        return 0;
    size_t k = data[0] % 16;
    if (k > size - 1)
        k = size - 1;
    check_raw((const char *)data + 1 + k, size - 1 - k, data + 1, k);
    return 0;
}
