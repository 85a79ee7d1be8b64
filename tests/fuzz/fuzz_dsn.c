/*
 * fuzz_dsn: libFuzzer harness for mail/dsn (the notice builder). The first
 * four bytes choose the flags (actions of two recipients, RET, whether the
 * original is complete, the return limit, whether the diagnostic, reason and
 * ENVID come from the input too); the rest is the original message. Checks, with
 * a small scanner independent of dsn.c: a notice is always produced, the same
 * input gives the same bytes, every line ends with CRLF (no bare CR or LF) and
 * fits 998 octets, the boundary occurs only in the Content-Type and the four
 * delimiter lines, the three parts have the expected types (message/rfc822
 * exactly when the whole original may and can be returned: only in a failure
 * notice, RET=FULL or not), the report parts
 * are 7-bit, the 8bit labels match the content, the delivery-status part has
 * one block per recipient plus one, and a returned original keeps its bytes.
 * With the top bit of the fourth byte, the RFC 6533 form (utf8): a UTF-8
 * recipient and a utf-8 ORCPT from the input; then the global types are
 * used, the report part holds only valid UTF-8 without controls, and the
 * 8bit labels are always there. Build: tests/fuzz/run.sh.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mail/dsn.h"
#include <unistr.h>

static const size_t limits[] = {0, 64, 1024, 50 * 1024, (size_t)-1};

struct view {
    const char *p;
    size_t n;
};

static const char *find(struct view v, const char *s)
{
    return memmem(v.p, v.n, s, strlen(s));
}

static size_t occurrences(struct view v, const char *s)
{
    size_t k = 0, n = strlen(s);
    for (const char *q = v.p; (q = memmem(q, v.n - (size_t)(q - v.p), s, n)) != NULL; q++)
        k++;
    return k;
}

/* CRLF only, lines of at most 998 octets, ending with CRLF. */
static void check_lines(struct view m)
{
    size_t col = 0;
    for (size_t i = 0; i < m.n; i++) {
        if (m.p[i] == '\r') {
            assert(i + 1 < m.n && m.p[i + 1] == '\n');
            assert(col <= DSN_LINE_MAX);
            col = 0;
            i++;
        } else {
            assert(m.p[i] != '\n');
            col++;
        }
    }
    assert(col == 0 && m.n >= 2);
}

/* What the builder must decide for the third part, computed independently. */
static int expect_full(const uint8_t *d, size_t n, int ret, int worst_failed, int complete,
                       size_t limit)
{
    if (!worst_failed || ret == DSN_RET_HDRS || !complete ||
        limit == 0 || n > limit || memchr(d, 0, n))
        return 0;
    size_t col = 0;
    for (size_t i = 0; i < n; i++) {
        if (d[i] == '\r' || d[i] == '\n')
            col = 0;
        else if (++col > DSN_LINE_MAX)
            return 0;
    }
    return 1;
}

/* The parts between the delimiters; checks the boundary occurs nowhere else. */
static void split_parts(struct view m, struct view parts[3])
{
    struct view head = {.p = m.p, .n = (size_t)((const char *)memmem(m.p, m.n, "\r\n\r\n", 4) - m.p)};
    const char *b = find(head, "boundary=\"");
    assert(b);
    b += 10;
    size_t bl = (size_t)((const char *)memchr(b, '"', m.n - (size_t)(b - m.p)) - b);
    assert(bl > 0 && bl <= 70);
    char delim[80], close[80], bound[72];
    memcpy(bound, b, bl);
    bound[bl] = '\0';
    assert(occurrences(m, bound) == 5);
    int dl = snprintf(delim, sizeof delim, "\r\n--%s\r\n", bound);
    int cl = snprintf(close, sizeof close, "\r\n--%s--\r\n", bound);
    assert(occurrences(m, delim) == 3);
    assert(m.n > (size_t)cl && memcmp(m.p + m.n - cl, close, (size_t)cl) == 0);
    const char *q = find(m, delim);
    for (int i = 0; i < 3; i++) {
        const char *start = q + dl;
        struct view rest = {.p = start, .n = m.n - (size_t)(start - m.p)};
        q = i < 2 ? find(rest, delim) : m.p + m.n - cl;
        parts[i] = (struct view){.p = start, .n = (size_t)(q - start)};
    }
}

/* Splits a part at its empty line: its MIME header section and its body. */
static void split_part(struct view part, struct view *hdr, struct view *body)
{
    const char *e = memmem(part.p, part.n, "\r\n\r\n", 4);
    assert(e);
    *hdr = (struct view){.p = part.p, .n = (size_t)(e - part.p) + 2};
    *body = (struct view){.p = e + 4, .n = part.n - (size_t)(e + 4 - part.p)};
}

/* The delivery-status body: header-like lines, one empty line between blocks. */
static void check_status(struct view body, size_t n_rcpts, int utf8)
{
    if (utf8)
        assert(u8_check((const uint8_t *)body.p, body.n) == NULL);
    size_t blocks = 1;
    assert(body.n >= 2 && memcmp(body.p + body.n - 2, "\r\n", 2) == 0);
    for (size_t i = 0; i < body.n;) {
        const char *eol = memmem(body.p + i, body.n - i, "\r\n", 2);
        size_t len = (size_t)(eol - (body.p + i));
        const char *l = body.p + i;
        if (len == 0) {
            blocks++;
            assert(i > 0 && i + 2 < body.n); /* never first or last, never doubled */
        } else if (l[0] != ' ') {
            assert(memchr(l, ':', len));
        }
        for (size_t k = 0; k < len; k++)
            assert((unsigned char)l[k] >= ' ' && (unsigned char)l[k] != 0x7f &&
                   (utf8 || (unsigned char)l[k] < 0x7f));
        i += len + 2;
    }
    assert(blocks == n_rcpts + 1);
}

/* In a returned original only line ends may change. */
static void check_same_bytes(struct view body, const uint8_t *d, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; i < body.n; i++) {
        if (body.p[i] == '\r' || body.p[i] == '\n')
            continue;
        while (j < n && (d[j] == '\r' || d[j] == '\n'))
            j++;
        assert(j < n && (uint8_t)body.p[i] == d[j]);
        j++;
    }
    while (j < n && (d[j] == '\r' || d[j] == '\n'))
        j++;
    assert(j == n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    const uint8_t *orig = data + 4;
    size_t n = size - 4;
    char *copy = malloc(n + 1);
    memcpy(copy, orig, n);
    copy[n] = '\0';
    struct dsn_rcpt r[2] = {
        {.final_rcpt = "bob@example.net", .orcpt = "rfc822;bob@example.net",
         .action = (enum dsn_action)(data[0] % 5), .remote_mta = "mx.example.net",
         .diagnostic = "550 5.1.1 no such user", .last_attempt_ms = 1000,
         .will_retry_until_ms = 2000},
        {.final_rcpt = "carol@example.net", .action = (enum dsn_action)((data[0] >> 3) % 5),
         .status = "4.4.1", .diagnostic = (data[2] & 4) ? copy : NULL,
         .will_retry_until_ms = 5000, .reason = (data[2] & 16) ? copy : NULL},
    };
    size_t n_rcpts = (data[0] & 0x80) ? 2 : 1;
    int ret = data[1] % 3, complete = data[2] & 1;
    size_t limit = limits[data[3] % 5];
    int utf8 = (data[3] & 0x80) != 0;
    char orcpt[600];
    snprintf(orcpt, sizeof orcpt, "utf-8;%s", copy);
    if (utf8) {
        r[0].final_rcpt = "j\xc3\xbcrgen@b\xc3\xbc" "cher.test";
        r[0].orcpt = orcpt;
    }
    struct dsn_input in = {.reporting_mta = "mail.example.org",
                           .envid = (data[2] & 2) ? copy : NULL,
                           .received_from_mta = "client.example",
                           .arrival_ms = 1,
                           .to = "alice@example.org",
                           .ret = (enum dsn_ret)ret,
                           .queue_id = "QID123",
                           .now_ms = 123456789,
                           .original = (const char *)orig,
                           .original_len = n,
                           .original_complete = complete,
                           .return_limit = limit,
                           .original_message_id = (data[2] & 8) ? copy : "<m@x>",
                           .rcpts = r,
                           .n_rcpts = n_rcpts,
                           .utf8 = utf8};
    int worst_failed = r[0].action == DSN_ACTION_FAILED ||
                       (n_rcpts == 2 && r[1].action == DSN_ACTION_FAILED);

    struct buf out, again;
    buf_init(&out, BUF_UNLIMITED);
    buf_init(&again, BUF_UNLIMITED);
    assert(dsn_build(&in, &out) == 0);
    assert(dsn_build(&in, &again) == 0);
    assert(out.len == again.len && memcmp(out.data, again.data, out.len) == 0);

    struct view m = {.p = out.data, .n = out.len}, parts[3], hdr, body;
    check_lines(m);
    split_parts(m, parts);
    split_part(parts[0], &hdr, &body);
    assert(find(hdr, utf8 ? "Content-Type: text/plain; charset=utf-8\r\n"
                          : "Content-Type: text/plain; charset=us-ascii\r\n"));
    assert(utf8 || !dsn_has_8bit(parts[0].p, parts[0].n));
    split_part(parts[1], &hdr, &body);
    assert(find(hdr, utf8 ? "Content-Type: message/global-delivery-status\r\n"
                          : "Content-Type: message/delivery-status\r\n"));
    check_status(body, n_rcpts, utf8);
    split_part(parts[2], &hdr, &body);
    int full = expect_full(orig, n, ret, worst_failed, complete, limit);
    if (utf8)
        assert(find(hdr, full ? "Content-Type: message/global\r\n"
                              : "Content-Type: message/global-headers\r\n"));
    else
        assert(find(hdr, full ? "Content-Type: message/rfc822\r\n"
                              : "Content-Type: text/rfc822-headers\r\n"));
    int eight = dsn_has_8bit(body.p, body.n);
    struct view top = {.p = out.data, .n = (size_t)((const char *)memmem(m.p, m.n, "\r\n\r\n", 4) - m.p) + 2};
    assert(!!find(hdr, "Content-Transfer-Encoding: 8bit\r\n") == eight);
    assert(!!find(top, "\r\nContent-Transfer-Encoding: 8bit\r\n") == (eight || utf8));
    if (full)
        check_same_bytes(body, orig, n);
    else
        assert(!find(body, "\r\n\r\n") && (body.n == 0 || body.p[0] != '\r'));

    buf_free(&out);
    buf_free(&again);
    free(copy);
    return 0;
}
