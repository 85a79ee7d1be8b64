/*
 * fuzz_smtp_reply: libFuzzer harness for proto/smtp_reply and
 * proto/smtp_dotstuff, what the SMTP client and `postino send` make of a
 * remote server's bytes. The input is cut into lines at LF (a CR before it
 * dropped) and fed to the reply assembler with EHLO keywords recorded.
 * Checks: an accepted reply has a code in 200..599 and text within its
 * limit that equals a reference built independently from the same lines
 * (the code, then " text" per line with text); a refused one has code 0;
 * the EHLO bits equal those of each line's text recorded alone; an
 * enhanced status code found is of the reply's class. Dot-stuffing: the
 * input made into CRLF lines and stuffed in pieces of any size gives the
 * same bytes as in one piece, and proto/smtp_data's decoder gives the
 * content back (plus the CRLF the end adds), with no bare CR or LF seen.
 * Build: tests/fuzz/run.sh.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "lib/buf.h"
#include "proto/smtp_data.h"
#include "proto/smtp_dotstuff.h"
#include "proto/smtp_reply.h"

static const struct smtp_reply_limits lim = { .line_max = 300, .lines_max = 8, .text_max = 600 };

/* The text of the lines of one reply, built the plain way. */
static void reference_text(const char *lines[], const size_t lens[], size_t n, struct buf *out)
{
    buf_reset(out);
    buf_append(out, lines[0], 3);
    for (size_t i = 0; i < n; i++)
        if (lens[i] > 4) {
            buf_putc(out, ' ');
            buf_append(out, lines[i] + 4, lens[i] - 4);
        }
}

static void check_done(struct smtp_reply *r, const char *lines[], const size_t lens[], size_t n)
{
    struct buf ref;
    buf_init(&ref, BUF_UNLIMITED);
    assert(r->code >= 200 && r->code <= 599 && r->lines == n && n <= lim.lines_max);
    assert(r->text.len <= lim.text_max);
    reference_text(lines, lens, n, &ref);
    assert(ref.len == r->text.len && memcmp(ref.data, r->text.data, ref.len) == 0);
    char esc[16];
    if (smtp_reply_esc(smtp_reply_text(r), esc, sizeof esc) == 0)
        assert(esc[0] == '0' + r->code / 100 && strlen(esc) >= 5);
    buf_free(&ref);
}

/* Feeds every line; checks each reply and the EHLO bits. */
static void check_replies(const char *data, size_t size)
{
    struct smtp_reply r;
    struct smtp_ehlo e, alone;
    const char *lines[16];
    size_t lens[16], n = 0;
    smtp_reply_init(&r, lim);
    smtp_ehlo_init(&e);
    smtp_ehlo_init(&alone);
    for (size_t i = 0; i < size && r.status != SMTP_REPLY_BAD;) {
        const char *p = data + i, *nl = memchr(p, '\n', size - i);
        size_t len = nl ? (size_t)(nl - p) : size - i;
        i += len + (nl ? 1 : 0);
        if (len > 0 && p[len - 1] == '\r')
            len--;
        enum smtp_reply_status s = smtp_reply_feed_ehlo(&r, p, len, &e);
        if (s == SMTP_REPLY_BAD) {
            assert(r.code == 0);
            break;
        }
        if (n < 16) {
            lines[n] = p;
            lens[n++] = len;
        }
        if (r.lines > 1 && len > 4)
            smtp_ehlo_add(&alone, p + 4, len - 4);
        if (s == SMTP_REPLY_DONE) {
            check_done(&r, lines, lens, n);
            n = 0;
        }
    }
    assert(e.ext == alone.ext && e.size_limit == alone.size_limit);
    smtp_reply_free(&r);
}

static void emit_buf(void *ctx, const char *p, size_t n)
{
    assert(buf_append(ctx, p, n) == 0);
}

/* Stuffs content in pieces of piece bytes (0: one piece) into out. */
static void stuff(const struct buf *content, size_t piece, struct buf *out)
{
    struct smtp_dotstuff st;
    smtp_dotstuff_init(&st);
    size_t len = content->len;
    if (piece == 0)
        piece = len ? len : 1;
    for (size_t i = 0; i < len; i += piece)
        smtp_dotstuff_feed(&st, content->data + i, len - i < piece ? len - i : piece, emit_buf, out);
    smtp_dotstuff_end(&st, emit_buf, out);
}

static void check_dotstuff(const uint8_t *data, size_t size)
{
    struct buf content, whole, split, decoded;
    buf_init(&content, BUF_UNLIMITED);
    buf_init(&whole, BUF_UNLIMITED);
    buf_init(&split, BUF_UNLIMITED);
    buf_init(&decoded, BUF_UNLIMITED);
    for (size_t i = 0; i < size; i++) /* CRLF lines only: what the stored content holds */
        if (data[i] == '\n')
            buf_append(&content, "\r\n", 2);
        else if (data[i] != '\r')
            buf_putc(&content, (char)data[i]);
    stuff(&content, 0, &whole);
    stuff(&content, size ? 1 + data[0] % 7 : 1, &split);
    assert(whole.len == split.len && memcmp(whole.data, split.data, whole.len) == 0);
    struct smtp_data d;
    smtp_data_init(&d);
    size_t used = smtp_data_feed(&d, whole.data, whole.len, emit_buf, &decoded);
    assert(used == whole.len && d.state == SD_DONE && !d.bare_newline);
    int ends_line = content.len == 0 ||
                    (content.len >= 2 && memcmp(content.data + content.len - 2, "\r\n", 2) == 0);
    if (!ends_line)
        buf_append(&content, "\r\n", 2);
    assert(decoded.len == content.len &&
           (content.len == 0 || memcmp(decoded.data, content.data, content.len) == 0));
    buf_free(&content);
    buf_free(&whole);
    buf_free(&split);
    buf_free(&decoded);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_replies((const char *)data, size);
    check_dotstuff(data, size);
    return 0;
}
