/* Unit tests for proto/smtp_data: end of data, dot-unstuffing, smuggling, headers, BDAT (raw). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "lib/buf.h"
#include "proto/smtp_data.h"

static void collect(void *ctx, const char *p, size_t n)
{
    buf_append(ctx, p, n);
}

/* Feeds in in pieces of step bytes; returns consumed total. */
static size_t feed(struct smtp_data *d, const char *in, size_t len, size_t step, struct buf *out)
{
    size_t used = 0;
    while (used < len && d->state != SD_DONE) {
        size_t n = len - used < step ? len - used : step;
        used += smtp_data_feed(d, in + used, n, collect, out);
    }
    return used;
}

static void check(const char *in, const char *want, int want_done, int want_bare)
{
    for (size_t step = 1; step <= strlen(in) + 1; step++) {
        struct smtp_data d;
        struct buf out;
        smtp_data_init(&d);
        buf_init(&out, BUF_UNLIMITED);
        feed(&d, in, strlen(in), step, &out);
        assert_int_equal(d.state == SD_DONE, want_done);
        assert_int_equal(d.bare_newline, want_bare);
        if (want)
            assert_string_equal(buf_cstr(&out), want);
        assert_int_equal(d.octets, out.len);
        buf_free(&out);
    }
}

static void test_simple(void **st)
{
    (void)st;
    check("Subject: x\r\n\r\nhello\r\n.\r\n", "Subject: x\r\n\r\nhello\r\n", 1, 0);
    check(".\r\n", "", 1, 0);
    check("a\r\n.\r\n", "a\r\n", 1, 0);
}

static void test_unstuff(void **st)
{
    (void)st;
    check("..dot\r\n...two\r\n.\r\n", ".dot\r\n..two\r\n", 1, 0);
    check("..\r\n.\r\n", ".\r\n", 1, 0);
    check("a.b\r\n .x\r\n.\r\n", "a.b\r\n .x\r\n", 1, 0);
}

static void test_not_end(void **st)
{
    (void)st;
    check("a\r\n.x\r\n", "a\r\nx\r\n", 0, 0);
    check("a\r\n", "a\r\n", 0, 0);
}

static void test_smuggling(void **st)
{
    (void)st;
    check("a\n.\nb\r\n.\r\n", NULL, 1, 1);      /* \n.\n does not end */
    check("a\n.\r\nb\r\n.\r\n", NULL, 1, 1);    /* \n.\r\n does not end */
    check("a\r.\rb\r\n.\r\n", NULL, 1, 1);      /* \r.\r does not end */
    check("a\r\n.\nb\r\n.\r\n", NULL, 1, 1);    /* \r\n.\n does not end */
    check("a\r\n.\rb\r\n.\r\n", NULL, 1, 1);
    check("bare\nlf\r\n.\r\n", NULL, 1, 1);
    check("bare\rcr\r\n.\r\n", NULL, 1, 1);
}

static void test_rest_not_consumed(void **st)
{
    (void)st;
    const char *in = "x\r\n.\r\nQUIT\r\n";
    struct smtp_data d;
    struct buf out;
    smtp_data_init(&d);
    buf_init(&out, BUF_UNLIMITED);
    size_t used = smtp_data_feed(&d, in, strlen(in), collect, &out);
    assert_int_equal(used, 6);
    assert_int_equal(d.state, SD_DONE);
    buf_free(&out);
}

static void test_headers(void **st)
{
    (void)st;
    const char *in = "Received: a\r\nreceived: b\r\n\tReceived: folded\r\nDate: x\r\n"
                     "Message-ID: <x@y>\r\nX-Long-Header-Name-Here: 1\r\n\r\n"
                     "Received: in body\r\n.\r\n";
    for (size_t step = 1; step < 8; step++) {
        struct smtp_data d;
        struct buf out;
        smtp_data_init(&d);
        buf_init(&out, BUF_UNLIMITED);
        feed(&d, in, strlen(in), step, &out);
        assert_int_equal(d.received, 2);
        assert_true(d.has_date);
        assert_true(d.has_message_id);
        assert_false(d.has_from);
        assert_false(d.in_headers);
        buf_free(&out);
    }
}

static void test_eight_bit_and_long_line(void **st)
{
    (void)st;
    struct buf in;
    buf_init(&in, BUF_UNLIMITED);
    buf_appends(&in, "Subject: \xc3\xa9\r\n\r\n");
    for (int i = 0; i < 200000; i++)
        buf_putc(&in, 'x');
    buf_appends(&in, "\r\n.\r\n");
    struct smtp_data d;
    struct buf out;
    smtp_data_init(&d);
    buf_init(&out, BUF_UNLIMITED);
    feed(&d, in.data, in.len, 4096, &out);
    assert_int_equal(d.state, SD_DONE);
    assert_true(d.eight_bit);
    assert_int_equal(out.len, in.len - 3);
    buf_free(&in);
    buf_free(&out);
}

static void mark_end(void *ctx)
{
    buf_appends(ctx, "<HEADER-END>");
}

static void test_header_end_hook(void **st)
{
    (void)st;
    const char *cases[][2] = {
        {"A: 1\r\nB: 2\r\n\r\nbody\r\n.\r\n", "A: 1\r\nB: 2\r\n<HEADER-END>\r\nbody\r\n"},
        {"A: 1\r\n.\r\n", "A: 1\r\n<HEADER-END>"},              /* no body at all */
        {"\r\nbody\r\n.\r\n", "<HEADER-END>\r\nbody\r\n"},    /* no headers */
        {"A: 1\r\n\r\n\r\n.\r\n", "A: 1\r\n<HEADER-END>\r\n\r\n"}, /* once only */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (size_t step = 1; step < 6; step++) {
            struct smtp_data d;
            struct buf out;
            smtp_data_init(&d);
            d.on_header_end = mark_end;
            buf_init(&out, BUF_UNLIMITED);
            feed(&d, cases[c][0], strlen(cases[c][0]), step, &out);
            assert_string_equal(buf_cstr(&out), cases[c][1]);
            buf_free(&out);
        }
}

/* BDAT content (raw mode): in pieces of every size, all consumed, nothing unstuffed. */
static void check_raw(const char *in, size_t len, const char *want, size_t want_len, int want_bare,
                      int hook)
{
    for (size_t step = 1; step <= len + 1; step++) {
        struct smtp_data d;
        struct buf out;
        smtp_data_init(&d);
        d.raw = 1;
        if (hook)
            d.on_header_end = mark_end;
        buf_init(&out, BUF_UNLIMITED);
        assert_int_equal(feed(&d, in, len, step, &out), len);
        assert_int_not_equal(d.state, SD_DONE);
        smtp_data_finish(&d, collect, &out);
        assert_int_equal(d.state, SD_DONE);
        assert_int_equal(d.bare_newline, want_bare);
        assert_int_equal(out.len, want_len);
        assert_memory_equal(out.data, want, want_len);
        if (!hook)
            assert_int_equal(d.octets, out.len);
        buf_free(&out);
    }
}
#define RAW(in, want, bare) check_raw(in, sizeof in - 1, want, sizeof want - 1, bare, 0)
#define RAW_HOOK(in, want) check_raw(in, sizeof in - 1, want, sizeof want - 1, 0, 1)

static void test_raw_bdat(void **st)
{
    (void)st;
    /* no end of data and no unstuffing: every octet is content */
    RAW("Subject: x\r\n\r\nhello\r\n.\r\n", "Subject: x\r\n\r\nhello\r\n.\r\n", 0);
    RAW("..dot\r\n.\r\nMAIL FROM:<a@b>\r\n", "..dot\r\n.\r\nMAIL FROM:<a@b>\r\n", 0);
    RAW("", "", 0);
    RAW("no line end", "no line end", 0);
    /* the bare CR / LF rule is the same as for DATA */
    RAW("a\nb\r\n", "a\nb\r\n", 1);
    RAW("a\rb\r\n", "a\rb\r\n", 1);
    RAW("a\n.\n", "a\n.\n", 1);
    RAW("a\r", "a\r", 1); /* a CR held back at the very end is emitted and flagged */
    RAW("bin\0ary\xff\r\n", "bin\0ary\xff\r\n", 0);
    /* the header hook: after the header section, or at the end of a body-less message */
    RAW_HOOK("A: 1\r\n\r\nbody", "A: 1\r\n<HEADER-END>\r\nbody");
    RAW_HOOK("A: 1\r\n", "A: 1\r\n<HEADER-END>");
    RAW_HOOK("", "<HEADER-END>");
    RAW_HOOK("A: 1", "A: 1"); /* never inside a line */
}

static void test_raw_headers(void **st)
{
    (void)st;
    const char *in = "Received: a\r\nReceived: b\r\nDate: x\r\n\r\nReceived: body\r\n";
    struct smtp_data d;
    struct buf out;
    smtp_data_init(&d);
    d.raw = 1;
    buf_init(&out, BUF_UNLIMITED);
    feed(&d, in, strlen(in), 3, &out);
    smtp_data_finish(&d, collect, &out);
    assert_int_equal(d.received, 2);
    assert_true(d.has_date);
    assert_false(d.has_message_id);
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple),         cmocka_unit_test(test_unstuff),
        cmocka_unit_test(test_not_end),        cmocka_unit_test(test_smuggling),
        cmocka_unit_test(test_rest_not_consumed), cmocka_unit_test(test_headers),
        cmocka_unit_test(test_eight_bit_and_long_line), cmocka_unit_test(test_header_end_hook),
        cmocka_unit_test(test_raw_bdat),       cmocka_unit_test(test_raw_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
