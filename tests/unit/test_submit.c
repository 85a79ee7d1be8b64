/* Unit tests for mail/submit: the `postino sendmail` message filter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/buf.h"
#include "mail/submit.h"

#define MIB (1u << 20)

/* What one run produced. */
struct run {
    struct buf out;
    struct buf rcpts;      /* "addr\n" per recipient */
    int emitted;           /* emit was called */
    int rcpt_after_emit;   /* on_rcpt came after an emit */
    int stop_at;           /* on_rcpt returns non-zero for this recipient (1-based), 0 never */
    int n_rcpts;
};

static void run_emit(void *ctx, const char *p, size_t n)
{
    struct run *r = ctx;
    r->emitted = 1;
    assert_int_equal(buf_append(&r->out, p, n), 0);
}

static int run_rcpt(void *ctx, const char *addr)
{
    struct run *r = ctx;
    if (r->emitted)
        r->rcpt_after_emit = 1;
    r->n_rcpts++;
    assert_int_equal(buf_printf(&r->rcpts, "%s\n", addr), 0);
    return r->stop_at && r->n_rcpts == r->stop_at ? 1 : 0;
}

static void run_init(struct run *r)
{
    memset(r, 0, sizeof *r);
    buf_init(&r->out, BUF_UNLIMITED);
    buf_init(&r->rcpts, BUF_UNLIMITED);
}

static void run_free(struct run *r)
{
    buf_free(&r->out);
    buf_free(&r->rcpts);
}

static struct submit_opts opts(int extract, int dot_ends, struct run *r)
{
    struct submit_opts o = {
        .extract = extract,
        .dot_ends = dot_ends,
        .default_domain = "example.org",
        .on_rcpt = run_rcpt,
        .emit = run_emit,
        .ctx = r,
    };
    return o;
}

/* Feeds in (len bytes) split at the given points (sorted, within len); returns the final result. */
static int submit_run(const struct submit_opts *o, const char *in, size_t len, size_t step,
                      struct submit *s)
{
    submit_init(s, o);
    int r = 0;
    for (size_t used = 0; used < len && r == 0;) {
        size_t n = len - used < step ? len - used : step;
        r = submit_feed(s, in + used, n);
        used += n;
    }
    if (r == 0)
        r = submit_finish(s);
    return r;
}

/* Runs in with every step size 1..len+1 (all at once included) and checks the output. */
static void check_o(struct submit_opts o, const char *in, const char *want, const char *want_rcpts)
{
    size_t len = strlen(in);
    for (size_t step = 1; step <= len + 1; step++) {
        struct run r;
        struct submit s;
        run_init(&r);
        o.ctx = &r;
        assert_int_equal(submit_run(&o, in, len, step, &s), 0);
        assert_string_equal(buf_cstr(&r.out), want);
        assert_string_equal(buf_cstr(&r.rcpts), want_rcpts ? want_rcpts : "");
        assert_false(r.rcpt_after_emit);
        assert_int_equal(s.octets, r.out.len);
        submit_free(&s);
        run_free(&r);
    }
}

static void check(int extract, int dot_ends, const char *in, const char *want, const char *rcpts)
{
    struct run dummy;
    check_o(opts(extract, dot_ends, &dummy), in, want, rcpts);
}

/* Runs all at once; returns the result, output and error in r / s (caller frees). */
static int run_once(struct submit_opts o, const char *in, size_t len, struct run *r,
                    struct submit *s)
{
    run_init(r);
    o.ctx = r;
    return submit_run(&o, in, len, len + 1, s);
}

static void test_line_ends(void **st)
{
    (void)st;
    const char *want = "Subject: x\r\n\r\na\r\nb\r\n";
    check(0, 1, "Subject: x\n\na\nb\n", want, NULL);
    check(0, 1, "Subject: x\r\n\r\na\r\nb\r\n", want, NULL);
    check(0, 1, "Subject: x\r\ra\rb\r", want, NULL);
    check(0, 1, "Subject: x\r\n\na\rb\r\n", want, NULL);
    /* a lone CR before a CRLF is a line end of its own */
    check(0, 1, "Subject: x\n\na\r\r\nb", "Subject: x\r\n\r\na\r\n\r\nb\r\n", NULL);
    /* the last line without its line end gets one */
    check(0, 1, "Subject: x\n\nlast", "Subject: x\r\n\r\nlast\r\n", NULL);
    check(0, 1, "Subject: x\n\nlast\r", "Subject: x\r\n\r\nlast\r\n", NULL);
    check(0, 1, "", "", NULL);
}

static void test_dot_ends(void **st)
{
    (void)st;
    check(0, 1, "Subject: x\n\na\n.\nignored\n", "Subject: x\r\n\r\na\r\n", NULL);
    check(0, 1, "Subject: x\n\na\r\n.\r\nignored\r\n", "Subject: x\r\n\r\na\r\n", NULL);
    check(0, 1, "Subject: x\n\na\r.\rignored", "Subject: x\r\n\r\na\r\n", NULL);
    /* only a line of just "." */
    check(0, 1, "Subject: x\n\n..\n .\n. \n.a\n", "Subject: x\r\n\r\n..\r\n .\r\n. \r\n.a\r\n",
          NULL);
    /* in the header section: the header ends there */
    check(0, 1, "Subject: x\n.\nTo: y\n", "Subject: x\r\n", NULL);
    check(0, 1, ".\nSubject: x\n", "", NULL);
    /* -i: a "." line is content */
    check(0, 0, "Subject: x\n\na\n.\nmore\n", "Subject: x\r\n\r\na\r\n.\r\nmore\r\n", NULL);
}

static void test_every_split(void **st)
{
    (void)st;
    static const char in[] = "From someone Mon Jan  1 00:00:00 2024\r\n"
                             "To: a@example.com,\r\n b@example.com\n"
                             "Bcc: c\r"
                             "Subject: split\r\n"
                             "\r\n"
                             "body\r\rline\n\n.x\r\n"
                             ".\r\n"
                             "after\n";
    size_t len = sizeof in - 1;
    struct run whole;
    struct submit s;
    struct run dummy;
    assert_int_equal(run_once(opts(1, 1, &dummy), in, len, &whole, &s), 0);
    submit_free(&s);
    assert_string_equal(buf_cstr(&whole.out), "To: a@example.com,\r\n b@example.com\r\n"
                                              "Subject: split\r\n\r\n"
                                              "body\r\n\r\nline\r\n\r\n.x\r\n");
    assert_string_equal(buf_cstr(&whole.rcpts), "a@example.com\nb@example.com\nc@example.org\n");
    for (size_t cut = 0; cut <= len; cut++) {
        struct run r;
        run_init(&r);
        struct submit_opts o = opts(1, 1, &r);
        submit_init(&s, &o);
        assert_int_equal(submit_feed(&s, in, cut), 0);
        assert_int_equal(submit_feed(&s, in + cut, len - cut), 0);
        assert_int_equal(submit_finish(&s), 0);
        assert_int_equal(r.out.len, whole.out.len);
        assert_memory_equal(r.out.data, whole.out.data, r.out.len);
        assert_string_equal(buf_cstr(&r.rcpts), buf_cstr(&whole.rcpts));
        submit_free(&s);
        run_free(&r);
    }
    /* one byte at a time */
    check(1, 1, in, buf_cstr(&whole.out), buf_cstr(&whole.rcpts));
    run_free(&whole);
}

static void test_extract(void **st)
{
    (void)st;
    check(1, 1,
          "To: Ann <ann@example.com>,\n\tbob@example.com\n"
          "cc: carol@example.net (Carol)\n"
          "Subject: x\n"
          "BCC: dave,\r\n  Eve <eve@example.com>\n"
          "\nbody\n",
          "To: Ann <ann@example.com>,\r\n\tbob@example.com\r\n"
          "cc: carol@example.net (Carol)\r\n"
          "Subject: x\r\n"
          "\r\nbody\r\n",
          "ann@example.com\nbob@example.com\ncarol@example.net\ndave@example.org\n"
          "eve@example.com\n");
    /* without -t nothing is extracted and Bcc stays */
    check(0, 1, "To: a@example.com\nBcc: b@example.com\n\nx\n",
          "To: a@example.com\r\nBcc: b@example.com\r\n\r\nx\r\n", NULL);
    /* a group and an empty list */
    check(1, 1, "To: friends: a@example.com, b@example.com;\nCc:\n\n",
          "To: friends: a@example.com, b@example.com;\r\nCc:\r\n\r\n",
          "a@example.com\nb@example.com\n");
}

static void test_resent(void **st)
{
    (void)st;
    const char *in = "To: old@example.com\n"
                     "Bcc: oldbcc@example.com\n"
                     "Resent-To: new@example.com\n"
                     "Resent-Bcc: hidden@example.com\n"
                     "Resent-Cc: cc@example.com\n\nx\n";
    /* under -t every Bcc goes, the old one too */
    check(1, 1, in,
          "To: old@example.com\r\n"
          "Resent-To: new@example.com\r\n"
          "Resent-Cc: cc@example.com\r\n\r\nx\r\n",
          "new@example.com\nhidden@example.com\ncc@example.com\n");
}

static void test_bcc_removed_only_with_extract(void **st)
{
    (void)st;
    const char *in = "Bcc: a@example.com\nResent-Bcc: b@example.com\nSubject: s\n\n";
    check(0, 1, in, "Bcc: a@example.com\r\nResent-Bcc: b@example.com\r\nSubject: s\r\n\r\n", NULL);
    check(1, 1, in, "Subject: s\r\n\r\n", "b@example.com\n");
}

static void test_added_headers(void **st)
{
    (void)st;
    struct run dummy;
    struct submit_opts o = opts(0, 1, &dummy);
    o.from = "me@example.org";
    o.date = "Mon, 1 Jan 2024 00:00:00 +0000";
    o.message_id = "<id@example.org>";
    const char *add = "From: me@example.org\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
                      "Message-ID: <id@example.org>\r\n";
    char want[512];
    snprintf(want, sizeof want, "Subject: x\r\n%s\r\nbody\r\n", add);
    check_o(o, "Subject: x\n\nbody\n", want, NULL);
    /* present ones (any case) are not added again */
    check_o(o, "FROM: a@b.example\nmessage-id: <x@y>\ndate: today\n\nbody\n",
            "FROM: a@b.example\r\nmessage-id: <x@y>\r\ndate: today\r\n\r\nbody\r\n", NULL);
    check_o(o, "Subject: x\nfrom : a@b.example\n\n",
            "Subject: x\r\nfrom : a@b.example\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
            "Message-ID: <id@example.org>\r\n\r\n",
            NULL);
    /* no header section at all: the additions and a blank line come first */
    snprintf(want, sizeof want, "%s\r\nhello there\r\nmore\r\n", add);
    check_o(o, "hello there\nmore\n", want, NULL);
    /* a header only message (no body, no blank line) */
    snprintf(want, sizeof want, "Subject: only\r\n%s", add);
    check_o(o, "Subject: only\n", want, NULL);
    check_o(o, "Subject: only\n.\n", want, NULL);
    snprintf(want, sizeof want, "Subject: only\r\n%s\r\n", add);
    check_o(o, "Subject: only\n\n", want, NULL);
    /* empty input: only the additions */
    check_o(o, "", add, NULL);
    /* NULL values: nothing added */
    check(0, 1, "Subject: x\n\n", "Subject: x\r\n\r\n", NULL);
}

static void test_no_header_section(void **st)
{
    (void)st;
    check(0, 1, "just text\nSubject: not a header\n",
          "\r\njust text\r\nSubject: not a header\r\n", NULL);
    /* a fold line first is no header either */
    check(0, 1, " indented\n", "\r\n indented\r\n", NULL);
    /* headers then a non-header line: the blank line is added */
    check(0, 1, "Subject: x\nnot a header\n", "Subject: x\r\n\r\nnot a header\r\n", NULL);
}

static void test_from_line(void **st)
{
    (void)st;
    check(0, 1, "From me@example.com Mon Jan 1 00:00:00 2024\nSubject: x\n\nFrom here on\n",
          "Subject: x\r\n\r\nFrom here on\r\n", NULL);
    /* a "From " line that is not the first one is kept (it ends the headers) */
    check(0, 1, "Subject: x\nFrom me\n", "Subject: x\r\n\r\nFrom me\r\n", NULL);
    check(0, 1, "From a\nFrom b\n", "\r\nFrom b\r\n", NULL);
    /* "From:" is a header, not a separator */
    check(0, 1, "From: a@example.com\n\n", "From: a@example.com\r\n\r\n", NULL);
}

static void test_header_too_big(void **st)
{
    (void)st;
    size_t n = MIB + 100;
    char *in = malloc(n + 1);
    /* many small fields */
    size_t i = 0;
    while (i + 20 < n) {
        memcpy(in + i, "X-Filler: 12345678\n", 19);
        i += 19;
    }
    memset(in + i, '\n', n - i);
    struct run r;
    struct submit s;
    struct run dummy;
    assert_int_equal(run_once(opts(0, 1, &dummy), in, n, &r, &s), -1);
    assert_int_equal(s.err, SUBMIT_BAD_HEADER);
    assert_int_equal(r.out.len, 0);
    submit_free(&s);
    run_free(&r);
    /* one huge field, also fed in pieces */
    memcpy(in, "Subject: ", 9);
    memset(in + 9, 'a', n - 9);
    for (size_t step = 4096; step <= n + 1; step += n + 1 - 4096) {
        struct submit_opts o = opts(0, 1, &r);
        run_init(&r);
        o.ctx = &r;
        assert_int_equal(submit_run(&o, in, n, step, &s), -1);
        assert_int_equal(s.err, SUBMIT_BAD_HEADER);
        if (step == 4096) /* the line was not held in full */
            assert_true(s.line.cap <= 2 * MIB + 2 * 4096);
        submit_free(&s);
        run_free(&r);
    }
    free(in);
}

static void test_too_big(void **st)
{
    (void)st;
    struct run dummy, r;
    struct submit s;
    struct submit_opts o = opts(0, 1, &dummy);
    const char *in = "Subject: x\n\n0123456789\n";
    /* output is 12 + 2 + 12 = 26 octets */
    o.max_size = 26;
    assert_int_equal(run_once(o, in, strlen(in), &r, &s), 0);
    assert_int_equal(r.out.len, 26);
    submit_free(&s);
    run_free(&r);
    o.max_size = 25;
    assert_int_equal(run_once(o, in, strlen(in), &r, &s), -1);
    assert_int_equal(s.err, SUBMIT_TOO_BIG);
    assert_true(r.out.len <= 25);
    assert_non_null(strstr(s.why, "25"));
    /* once failed, it stays failed */
    assert_int_equal(submit_feed(&s, "more\n", 5), -1);
    assert_int_equal(submit_finish(&s), -1);
    submit_free(&s);
    run_free(&r);
}

static void test_bad_address(void **st)
{
    (void)st;
    struct run dummy, r;
    struct submit s;
    const char *in = "Subject: x\nTo: good@example.com, <<bad\n\nbody\n";
    assert_int_equal(run_once(opts(1, 1, &dummy), in, strlen(in), &r, &s), -1);
    assert_int_equal(s.err, SUBMIT_BAD_HEADER);
    assert_true(strncmp(s.why, "To: header: ", 12) == 0);
    assert_true(strlen(s.why) > 12);
    assert_int_equal(r.out.len, 0);
    submit_free(&s);
    run_free(&r);
    in = "cc: a@@b\n\n";
    assert_int_equal(run_once(opts(1, 1, &dummy), in, strlen(in), &r, &s), -1);
    assert_true(strncmp(s.why, "cc: header: ", 12) == 0);
    submit_free(&s);
    run_free(&r);
    /* without -t the header is not looked at */
    assert_int_equal(run_once(opts(0, 1, &dummy), in, strlen(in), &r, &s), 0);
    submit_free(&s);
    run_free(&r);
    /* no default domain: an unqualified address is an error */
    struct submit_opts o = opts(1, 1, &dummy);
    o.default_domain = NULL;
    in = "To: user\n\n";
    assert_int_equal(run_once(o, in, strlen(in), &r, &s), -1);
    assert_true(strncmp(s.why, "To: header: ", 12) == 0);
    submit_free(&s);
    run_free(&r);
}

static void test_rcpt_stops(void **st)
{
    (void)st;
    struct run r;
    struct submit s;
    const char *in = "To: a@example.com, b@example.com\nCc: c@example.com\n\nbody\n";
    run_init(&r);
    r.stop_at = 2;
    struct submit_opts o = opts(1, 1, &r);
    assert_int_equal(submit_run(&o, in, strlen(in), strlen(in), &s), -1);
    assert_int_equal(s.err, SUBMIT_BAD_HEADER);
    assert_int_equal(r.n_rcpts, 2);
    assert_int_equal(r.out.len, 0);
    submit_free(&s);
    run_free(&r);
}

static void test_8bit(void **st)
{
    (void)st;
    struct run dummy, r;
    struct submit s;
    const char *in = "Subject: x\n\nplain\n";
    assert_int_equal(run_once(opts(0, 1, &dummy), in, strlen(in), &r, &s), 0);
    assert_false(s.has8bit);
    submit_free(&s);
    run_free(&r);
    in = "Subject: x\n\ncaf\xc3\xa9\n";
    assert_int_equal(run_once(opts(0, 1, &dummy), in, strlen(in), &r, &s), 0);
    assert_true(s.has8bit);
    submit_free(&s);
    run_free(&r);
}

static void test_emit_after_rcpts(void **st)
{
    (void)st;
    /* run_rcpt notes any recipient after the first emit; check() asserts none */
    check(1, 1, "Subject: first\nTo: a@example.com\nX: y\nCc: b@example.com\n\nbody\n",
          "Subject: first\r\nTo: a@example.com\r\nX: y\r\nCc: b@example.com\r\n\r\nbody\r\n",
          "a@example.com\nb@example.com\n");
    check(1, 1, "To: a@example.com\n.\n", "To: a@example.com\r\n", "a@example.com\n");
    check(1, 1, "To: a@example.com", "To: a@example.com\r\n", "a@example.com\n");
}

/* A body line over 1 MiB: out intact, whatever the feeding; a "." piece does not end it. */
static void test_long_body_line(void **st)
{
    (void)st;
    size_t body = 3 * MIB + 7;
    const char *head = "Subject: long\n\n";
    size_t hl = strlen(head);
    size_t n = hl + body + 1 + 6; /* "\n" + "after\n" */
    char *in = malloc(n);
    memcpy(in, head, hl);
    for (size_t i = 0; i < body; i++)
        in[hl + i] = (char)('a' + i % 26);
    /* a "." where a piece boundary could fall */
    in[hl + MIB + 1] = '.';
    memcpy(in + hl + body, "\nafter\n", 7);
    size_t steps[] = {1, 4096, MIB, MIB + 1, MIB - 1, n};
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        struct run r;
        struct submit s;
        struct run dummy;
        struct submit_opts o = opts(0, 1, &dummy);
        run_init(&r);
        o.ctx = &r;
        assert_int_equal(submit_run(&o, in, n, steps[k], &s), 0);
        assert_int_equal(r.out.len, 17 + body + 9);
        assert_memory_equal(r.out.data, "Subject: long\r\n\r\n", 17);
        assert_memory_equal(r.out.data + 17, in + hl, body);
        assert_memory_equal(r.out.data + 17 + body, "\r\nafter\r\n", 9);
        assert_true(s.line.cap <= 2 * MIB + 2 * steps[k] + 4096 || steps[k] == n);
        submit_free(&s);
        run_free(&r);
    }
    /* exactly a "." after a full piece, then the line ends: still content */
    size_t m = hl + MIB + 1 + 3;
    char *in2 = malloc(m);
    memcpy(in2, head, hl);
    memset(in2 + hl, 'x', MIB + 1);
    memcpy(in2 + hl + MIB + 1, "\n.\n", 3);
    struct run r;
    struct submit s;
    struct run dummy;
    /* a piece of exactly MIB + 1 octets, then ".": the "." ends the input (a line of its own) */
    assert_int_equal(run_once(opts(0, 1, &dummy), in2, m, &r, &s), 0);
    assert_int_equal(r.out.len, 17 + MIB + 1 + 2);
    submit_free(&s);
    run_free(&r);
    /* the "." glued to the end of the long line, fed as a separate piece */
    memcpy(in2 + hl + MIB + 1, ".\nz", 3);
    struct submit_opts o = opts(0, 1, &r);
    run_init(&r);
    o.ctx = &r;
    submit_init(&s, &o);
    assert_int_equal(submit_feed(&s, in2, hl + MIB + 1), 0);
    assert_int_equal(submit_feed(&s, in2 + hl + MIB + 1, 3), 0);
    assert_int_equal(submit_finish(&s), 0);
    assert_int_equal(r.out.len, 17 + MIB + 2 + 2 + 3);
    assert_memory_equal(r.out.data + 17 + MIB + 1, ".\r\nz\r\n", 6);
    submit_free(&s);
    run_free(&r);
    /* the long line is the last one, without a line end: it still gets its CRLF */
    run_init(&r);
    o.ctx = &r;
    submit_init(&s, &o);
    assert_int_equal(submit_feed(&s, in2, hl + MIB + 1), 0);
    assert_int_equal(submit_finish(&s), 0);
    assert_int_equal(r.out.len, 17 + MIB + 1 + 2);
    assert_memory_equal(r.out.data + r.out.len - 3, "x\r\n", 3);
    submit_free(&s);
    run_free(&r);
    free(in2);
    free(in);
}

/* A message without a header section whose first line is over 1 MiB: body, bounded memory. */
static void test_long_first_line(void **st)
{
    (void)st;
    size_t n = 2 * MIB + 3;
    char *in = malloc(n);
    memset(in, 'y', n);
    in[n - 1] = '\n';
    struct run r;
    struct run dummy;
    struct submit s;
    struct submit_opts o = opts(0, 1, &dummy);
    o.from = "me@example.org";
    run_init(&r);
    o.ctx = &r;
    assert_int_equal(submit_run(&o, in, n, 65536, &s), 0);
    assert_int_equal(r.out.len, 22 + 2 + (n - 1) + 2);
    assert_memory_equal(r.out.data, "From: me@example.org\r\n\r\nyyy", 27);
    assert_memory_equal(r.out.data + r.out.len - 3, "y\r\n", 3);
    assert_true(s.line.cap <= 2 * MIB + 65536);
    submit_free(&s);
    run_free(&r);
    /* with max_size, it fails without holding the whole line */
    o.max_size = 1000;
    run_init(&r);
    o.ctx = &r;
    assert_int_equal(submit_run(&o, in, n, 65536, &s), -1);
    assert_int_equal(s.err, SUBMIT_TOO_BIG);
    submit_free(&s);
    run_free(&r);
    /* a "name:" whose name passes 1 MiB is no field: body, however the input is cut */
    memset(in, 'x', n);
    memcpy(in + MIB + 10, ": v\n", 4);
    struct run whole;
    o.max_size = 0;
    assert_int_equal(run_once(o, in, MIB + 14, &whole, &s), 0);
    submit_free(&s);
    run_init(&r);
    o.ctx = &r;
    assert_int_equal(submit_run(&o, in, MIB + 14, 4096, &s), 0);
    assert_int_equal(r.out.len, whole.out.len);
    assert_memory_equal(r.out.data, whole.out.data, r.out.len);
    assert_memory_equal(r.out.data + r.out.len - 6, "x: v\r\n", 6);
    submit_free(&s);
    run_free(&r);
    run_free(&whole);
    free(in);
}

/* head_max and line_max replace the 1 MiB defaults: a field past line_max fails
 * naming head_max; a body line past it goes out whole; "From " at the start of
 * a short over-long first line is not looked at past the line. */
static void test_small_limits(void **st)
{
    (void)st;
    struct run dummy;
    struct submit_opts o = opts(0, 0, &dummy);
    o.head_max = 64;
    o.line_max = 16;
    check_o(o, "Subject: short\n\nbody line longer than sixteen\n",
            "Subject: short\r\n\r\nbody line longer than sixteen\r\n", NULL);
    const char *bad[] = {"Subject: longer than sixteen\n\nb\n",
                         "A: 1234567890\nB: 1234567890\nC: 1234567890\nD: 1234567890\n"
                         "E: 1234567890\n\nb\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct run r;
        struct submit s;
        run_init(&r);
        o.ctx = &r;
        assert_int_equal(submit_run(&o, bad[i], strlen(bad[i]), 5, &s), -1);
        assert_int_equal(s.err, SUBMIT_BAD_HEADER);
        assert_string_equal(s.why, "header section larger than 64 octets");
        submit_free(&s);
        run_free(&r);
    }
    o.line_max = 1;
    check_o(o, "xyz\n", "\r\nxyz\r\n", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_ends),
        cmocka_unit_test(test_dot_ends),
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_extract),
        cmocka_unit_test(test_resent),
        cmocka_unit_test(test_bcc_removed_only_with_extract),
        cmocka_unit_test(test_added_headers),
        cmocka_unit_test(test_no_header_section),
        cmocka_unit_test(test_from_line),
        cmocka_unit_test(test_header_too_big),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_bad_address),
        cmocka_unit_test(test_rcpt_stops),
        cmocka_unit_test(test_8bit),
        cmocka_unit_test(test_emit_after_rcpts),
        cmocka_unit_test(test_long_body_line),
        cmocka_unit_test(test_long_first_line),
        cmocka_unit_test(test_small_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
