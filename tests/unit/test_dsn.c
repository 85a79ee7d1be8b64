/*
 * test_dsn: unit tests for mail/dsn, the notice builder (DSN.md 4-5, RFC 3464,
 * RFC 6522). Every notice built here also passes check_notice (dsn_fixture.h):
 * CRLF line ends, no line over 998 octets, three parts, a boundary found
 * nowhere inside them. Covers each action, RFC 3464 field order, ENVID/ORCPT
 * present and absent, RET x size limit, 8-bit originals, overlong lines
 * (folded or dropped), mixed actions, Message-ID/In-Reply-To, determinism,
 * hostile values, and the helpers (status codes, header length, Message-ID
 * lookup). The text part is tested in test_dsn_text.c.
 * With DSN_SAMPLES_DIR set, writes sample notices there for tests/unit/dsn_check.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mail/dsn.h"
#include "dsn_fixture.h"

/* 1 if the header section of msg (up to the first empty line) has line "want". */
static int has_header(const char *msg, const char *want)
{
    const char *end = strstr(msg, "\r\n\r\n");
    for (const char *p = msg; p && p < end; p = strstr(p, "\r\n"), p = p ? p + 2 : p) {
        size_t n = strlen(want);
        if (strncmp(p, want, n) == 0 && p[n] == '\r')
            return 1;
    }
    return 0;
}

static void test_action_names(void **st)
{
    (void)st;
    assert_string_equal(dsn_action_name(DSN_ACTION_FAILED), "failed");
    assert_string_equal(dsn_action_name(DSN_ACTION_DELAYED), "delayed");
    assert_string_equal(dsn_action_name(DSN_ACTION_DELIVERED), "delivered");
    assert_string_equal(dsn_action_name(DSN_ACTION_RELAYED), "relayed");
    assert_string_equal(dsn_action_name(DSN_ACTION_EXPANDED), "expanded");
    assert_string_equal(dsn_action_name((enum dsn_action)99), "?");
}

static void test_each_action(void **st)
{
    (void)st;
    static const char *subject[] = {"Undelivered Mail Returned to Sender",
                                    "Delayed Mail (still being retried)",
                                    "Successful Mail Delivery Report",
                                    "Successful Mail Delivery Report",
                                    "Successful Mail Delivery Report"};
    static const char *status[] = {"5.0.0", "4.0.0", "2.0.0", "2.0.0", "2.0.0"};
    for (int a = 0; a < 5; a++) {
        setup_input();
        rcpt.action = (enum dsn_action)a;
        rcpt.status = NULL;
        rcpt.diagnostic = NULL;
        char *m = build(), line[128];
        snprintf(line, sizeof line, "Subject: %s", subject[a]);
        assert_true(has_header(m, line));
        assert_true(has_header(m, "From: Mail Delivery System <MAILER-DAEMON@mail.example.org>"));
        assert_true(has_header(m, "To: <alice@example.org>"));
        assert_true(has_header(m, "Date: Tue, 24 Nov 2026 08:37:55 +0000"));
        assert_true(has_header(m, "Auto-Submitted: auto-replied"));
        assert_true(has_header(m, "MIME-Version: 1.0"));
        assert_non_null(strstr(m, "Content-Type: multipart/report; report-type=delivery-status;"));
        char *ds = part_body(m, 1);
        snprintf(line, sizeof line, "\r\nAction: %s\r\nStatus: %s\r\n", dsn_action_name(a), status[a]);
        assert_non_null(strstr(ds, line));
        assert_true((strstr(ds, "Will-Retry-Until: ") != NULL) == (a == DSN_ACTION_DELAYED));
        char *p3 = part(m, 2);
        /* no RET: only a failure returns the whole message */
        assert_non_null(strstr(p3, a == 0 ? "Content-Type: message/rfc822\r\n"
                                          : "Content-Type: text/rfc822-headers\r\n"));
        char *text = part_body(m, 0);
        assert_non_null(strstr(text, "<bob@example.net>"));
        assert_non_null(strstr(text, dsn_action_name(a)));
        free(text);
        free(p3);
        free(ds);
        free(m);
    }
}

/* Index of each field name of a delivery-status block must follow the grammar's order. */
static void check_block_order(const char *block, const char *const *order, size_t n_order)
{
    size_t last = 0;
    for (const char *p = block; *p; p = strstr(p, "\r\n") + 2) {
        if (*p == ' ' || *p == '\t')
            continue;
        size_t nl = strcspn(p, ":");
        size_t i = 0;
        while (i < n_order && !(strlen(order[i]) == nl && strncmp(p, order[i], nl) == 0))
            i++;
        if (i < n_order) {
            assert_true(i >= last);
            last = i + 1; /* no repeats */
        }
    }
}

static void test_field_order(void **st)
{
    (void)st;
    static const char *const per_msg[] = {"Original-Envelope-Id", "Reporting-MTA", "DSN-Gateway",
                                          "Received-From-MTA", "Arrival-Date"};
    static const char *const per_rcpt[] = {"Original-Recipient", "Final-Recipient", "Action",
                                           "Status", "Remote-MTA", "Diagnostic-Code",
                                           "Last-Attempt-Date", "Final-Log-ID",
                                           "Will-Retry-Until"};
    rcpt.action = DSN_ACTION_DELAYED;
    rcpt.status = "4.4.1";
    rcpt.diagnostic = "421 4.4.1 try later";
    char *m = build(), *ds = part_body(m, 1);
    assert_string_equal(ds, "Original-Envelope-Id: QQ314159\r\n"
                            "Reporting-MTA: dns; mail.example.org\r\n"
                            "Received-From-MTA: dns; client.example.com\r\n"
                            "Arrival-Date: Tue, 24 Nov 2026 08:36:55 +0000\r\n"
                            "X-Postino-Queue-ID: 0A1B2C3D4E\r\n"
                            "\r\n"
                            "Original-Recipient: rfc822; Bob@Example.NET\r\n"
                            "Final-Recipient: rfc822; bob@example.net\r\n"
                            "Action: delayed\r\n"
                            "Status: 4.4.1\r\n"
                            "Remote-MTA: dns; mx.example.net\r\n"
                            "Diagnostic-Code: smtp; 421 4.4.1 try later\r\n"
                            "Last-Attempt-Date: Tue, 24 Nov 2026 08:37:54 +0000\r\n"
                            "Will-Retry-Until: Wed, 25 Nov 2026 08:37:55 +0000\r\n");
    char *blank = strstr(ds, "\r\n\r\n");
    blank[2] = '\0';
    check_block_order(ds, per_msg, 5);
    check_block_order(blank + 4, per_rcpt, 9);
    free(ds);
    free(m);
}

static void test_envid(void **st)
{
    (void)st;
    char *m = build();
    assert_non_null(strstr(m, "\r\nOriginal-Envelope-Id: QQ314159\r\n"));
    free(m);
    in.envid = NULL;
    m = build();
    assert_null(strstr(m, "Original-Envelope-Id"));
    free(m);
    /* a decoded ENVID carrying CR/LF must not start a line of its own */
    in.envid = "id\r\nX-Injected: yes\nZ";
    m = build();
    assert_non_null(strstr(m, "\r\nOriginal-Envelope-Id: id X-Injected: yes Z\r\n"));
    assert_null(strstr(m, "\nX-Injected"));
    free(m);
}

static void test_orcpt(void **st)
{
    (void)st;
    char *m = build();
    assert_non_null(strstr(m, "\r\nOriginal-Recipient: rfc822; Bob@Example.NET\r\n"
                              "Final-Recipient: rfc822; bob@example.net\r\n"));
    free(m);
    rcpt.orcpt = NULL;
    m = build();
    assert_null(strstr(m, "Original-Recipient"));
    free(m);
    rcpt.orcpt = "x-local;root"; /* the type as given; no domain is fine */
    m = build();
    assert_non_null(strstr(m, "\r\nOriginal-Recipient: x-local; root\r\n"));
    free(m);
    rcpt.orcpt = "no-type-here";
    m = build();
    assert_non_null(strstr(m, "\r\nOriginal-Recipient: unknown; no-type-here\r\n"));
    free(m);
}

/* RFC 6533: a notice about a message received with SMTPUTF8. */
static void test_global_notice(void **st)
{
    (void)st;
    in.utf8 = 1;
    in.to = "\xc3\xa5sa@example.org";
    rcpt.final_rcpt = "j\xc3\xbcrgen@b\xc3\xbc" "cher.test";
    rcpt.orcpt = "utf-8;J\xc3\xbcrgen@b\xc3\xbc" "cher.test";
    char *m = build();
    assert_non_null(strstr(m, "report-type=global-delivery-status;"));
    assert_non_null(strstr(m, "\r\nTo: <\xc3\xa5sa@example.org>\r\n"));
    assert_non_null(strstr(m, "\r\nContent-Type: message/global-delivery-status\r\n"));
    assert_non_null(strstr(m, "\r\nOriginal-Recipient: utf-8; J\xc3\xbcrgen@b\xc3\xbc" "cher.test\r\n"
                              "Final-Recipient: utf-8; j\xc3\xbcrgen@b\xc3\xbc" "cher.test\r\n"));
    assert_non_null(strstr(m, "\r\nContent-Type: message/global\r\n"));
    assert_non_null(strstr(m, "charset=utf-8"));
    assert_null(strstr(m, "message/rfc822"));
    free(m);
    rcpt.final_rcpt = "bob@example.net"; /* an ASCII address keeps rfc822 */
    in.ret = DSN_RET_HDRS;
    m = build();
    assert_non_null(strstr(m, "\r\nFinal-Recipient: rfc822; bob@example.net\r\n"));
    assert_non_null(strstr(m, "\r\nContent-Type: message/global-headers\r\n"));
    free(m);
    in.utf8 = 0; /* not SMTPUTF8: a utf-8 ORCPT in its xtext form, nothing else changes */
    m = build();
    assert_non_null(strstr(m, "\r\nOriginal-Recipient: utf-8; J\\x{FC}rgen@b\\x{FC}cher.test\r\n"));
    assert_non_null(strstr(m, "report-type=delivery-status;"));
    assert_non_null(strstr(m, "\r\nContent-Type: text/rfc822-headers\r\n"));
    free(m);
}

/* The content type of part 3 for the current input. */
static int returns_full(void)
{
    char *m = build(), *p3 = part(m, 2);
    int full = strstr(p3, "Content-Type: message/rfc822\r\n") != NULL;
    int hdrs = strstr(p3, "Content-Type: text/rfc822-headers\r\n") != NULL;
    assert_true(full != hdrs);
    char *body = part_body(m, 2);
    assert_true(strncmp(body, "Received: from client.example.com", 33) == 0);
    /* never cut in the middle: the whole message, or the header fields alone */
    if (full)
        assert_string_equal(body, ORIG);
    else
        assert_string_equal(body, "Received: from client.example.com by mail.example.org\r\n"
                                  "Message-ID: <abc.123@example.org>\r\n"
                                  "From: Alice <alice@example.org>\r\n"
                                  "To: bob@example.net\r\n"
                                  "Subject: lunch\r\n");
    free(body);
    free(p3);
    free(m);
    return full;
}

static void test_ret_and_limit(void **st)
{
    (void)st;
    const size_t len = strlen(ORIG);
    /* [ret][below/at limit, above limit] for a failure */
    const int expect_failed[3][2] = {{1, 0}, {1, 0}, {0, 0}};
    const enum dsn_ret rets[3] = {DSN_RET_UNSET, DSN_RET_FULL, DSN_RET_HDRS};
    for (int r = 0; r < 3; r++) {
        in.ret = rets[r];
        for (int over = 0; over < 2; over++) {
            in.return_limit = over ? len - 1 : len;
            rcpt.action = DSN_ACTION_FAILED;
            assert_int_equal(returns_full(), expect_failed[r][over]);
            /* other outcomes: headers only, RET=FULL or not (RFC 3461 4.3: RET is
             * about failure notices; a success notice must not reflect the body) */
            static const enum dsn_action others[] = {DSN_ACTION_DELAYED, DSN_ACTION_DELIVERED,
                                                     DSN_ACTION_RELAYED, DSN_ACTION_EXPANDED};
            for (size_t a = 0; a < 4; a++) {
                rcpt.action = others[a];
                rcpt.status = others[a] == DSN_ACTION_DELAYED ? "4.4.1" : "2.0.0";
                assert_int_equal(returns_full(), 0);
            }
            rcpt.status = "5.1.1";
        }
    }
    /* several outcomes in one notice: the message only when it reports a failure */
    struct dsn_rcpt mixed[2] = {rcpt, rcpt};
    mixed[0].action = DSN_ACTION_DELIVERED, mixed[0].status = "2.0.0";
    mixed[1].action = DSN_ACTION_DELAYED, mixed[1].status = "4.4.1";
    in.rcpts = mixed, in.n_rcpts = 2, in.ret = DSN_RET_FULL, in.return_limit = len;
    assert_int_equal(returns_full(), 0);
    char *m = build(), *text = flat_text(m);
    assert_non_null(strstr(text, "returned only when its delivery failed"));
    free(text);
    free(m);
    mixed[1].action = DSN_ACTION_FAILED, mixed[1].status = "5.1.1";
    assert_int_equal(returns_full(), 1);
    in.rcpts = &rcpt, in.n_rcpts = 1;
    in.ret = DSN_RET_UNSET;
    rcpt.action = DSN_ACTION_FAILED;
    in.return_limit = 0; /* 0 = headers only */
    assert_int_equal(returns_full(), 0);
    in.return_limit = len;
    in.original_complete = 0; /* the caller had only the header section */
    assert_int_equal(returns_full(), 0);
    m = build(), text = flat_text(m);
    assert_non_null(strstr(text, "not available"));
    free(text);
    free(m);
}

static void test_incomplete_drops_partial_field(void **st)
{
    (void)st;
    const char *prefix = "From: a@example.org\r\nSubject: cut in the mid";
    in.original = prefix;
    in.original_len = strlen(prefix);
    in.original_complete = 0;
    char *m = build(), *body = part_body(m, 2);
    assert_string_equal(body, "From: a@example.org\r\n");
    free(body);
    free(m);
}

static void test_8bit(void **st)
{
    (void)st;
    char *m = build();
    assert_null(strstr(m, "Content-Transfer-Encoding"));
    free(m);
    const char *orig = "Subject: caf\xc3\xa9\r\nFrom: a@example.org\r\n\r\nna\xc3\xafve \xff\r\n";
    in.original = orig;
    in.original_len = strlen(orig);
    m = build();
    assert_true(has_header(m, "Content-Transfer-Encoding: 8bit"));
    char *p3 = part(m, 2), *body = part_body(m, 2);
    assert_non_null(strstr(p3, "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 8bit\r\n"));
    assert_string_equal(body, orig); /* carried unharmed */
    assert_true(dsn_has_8bit(m, strlen(m)));
    char *text = part_body(m, 0), *ds = part_body(m, 1);
    assert_false(dsn_has_8bit(text, strlen(text)));
    assert_false(dsn_has_8bit(ds, strlen(ds)));
    free(text);
    free(ds);
    free(body);
    free(p3);
    free(m);
}

static void test_long_body_line(void **st)
{
    (void)st;
    char *orig = malloc(3000);
    int n = snprintf(orig, 3000, "From: a@example.org\r\nSubject: long\r\n\r\n");
    memset(orig + n, 'x', 2000);
    memcpy(orig + n + 2000, "\r\nend\r\n", 8);
    in.original = orig;
    in.original_len = strlen(orig);
    in.ret = DSN_RET_FULL;
    char *m = build(), *body = part_body(m, 2), *text = part_body(m, 0);
    assert_string_equal(body, "From: a@example.org\r\nSubject: long\r\n");
    assert_non_null(strstr(text, "longer than 998"));
    free(text);
    free(body);
    free(m);
    free(orig);
}

/* Removes every CRLF that precedes whitespace (RFC 5322 unfolding), in place. */
static void unfold(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\r' && r[1] == '\n' && (r[2] == ' ' || r[2] == '\t')) {
            r++;
            continue;
        }
        *w++ = *r;
    }
    *w = '\0';
}

static void test_long_header_folded(void **st)
{
    (void)st;
    char field[2900];
    int n = snprintf(field, sizeof field, "References:");
    for (int i = 0; i < 80; i++) /* 80 * 35 octets */
        n += snprintf(field + n, sizeof field - (size_t)n, " <%02d23456789abcdefghij@example.org>", i);
    char orig[3000];
    snprintf(orig, sizeof orig, "From: a@example.org\r\n%s\r\n\r\nbody\r\n", field);
    in.original = orig;
    in.original_len = strlen(orig);
    in.ret = DSN_RET_HDRS;
    char *m = build(), *body = part_body(m, 2);
    assert_true(strlen(body) > strlen(field));
    unfold(body);
    char want[3000];
    snprintf(want, sizeof want, "From: a@example.org\r\n%s\r\n", field);
    assert_string_equal(body, want);
    free(body);
    free(m);
}

static void test_long_header_dropped(void **st)
{
    (void)st;
    char orig[2300];
    int n = snprintf(orig, sizeof orig, "From: a@example.org\r\nX-Blob: ");
    memset(orig + n, 'y', 1500);
    snprintf(orig + n + 1500, sizeof orig - (size_t)n - 1500, "\r\nSubject: s\r\n\r\nbody\r\n");
    in.original = orig;
    in.original_len = strlen(orig);
    char *m = build(), *body = part_body(m, 2), *text = part_body(m, 0);
    assert_string_equal(body, "From: a@example.org\r\nSubject: s\r\n");
    assert_non_null(strstr(text, "1 header field of the original could not be returned"));
    assert_non_null(strstr(text, "X-Blob."));
    free(text);
    free(body);
    free(m);
}

static void test_mixed_actions(void **st)
{
    (void)st;
    struct dsn_rcpt r[4];
    for (int i = 0; i < 4; i++)
        r[i] = rcpt;
    r[0].final_rcpt = "d1@example.net", r[0].action = DSN_ACTION_DELIVERED, r[0].status = "2.0.0";
    r[1].final_rcpt = "w1@example.net", r[1].action = DSN_ACTION_DELAYED, r[1].status = "4.4.1";
    r[2].final_rcpt = "f1@example.net", r[2].action = DSN_ACTION_FAILED;
    r[3].final_rcpt = "w2@example.net", r[3].action = DSN_ACTION_DELAYED, r[3].status = "4.4.2";
    in.rcpts = r;
    in.n_rcpts = 4;
    char *m = build(), *ds = part_body(m, 1), *text = part_body(m, 0);
    assert_true(has_header(m, "Subject: Undelivered Mail Returned to Sender"));
    const char *f = strstr(ds, "Final-Recipient: rfc822; f1@");
    const char *w1 = strstr(ds, "Final-Recipient: rfc822; w1@");
    const char *w2 = strstr(ds, "Final-Recipient: rfc822; w2@");
    const char *d = strstr(ds, "Final-Recipient: rfc822; d1@");
    assert_true(f && w1 && w2 && d && f < w1 && w1 < w2 && w2 < d);
    assert_true(strstr(text, "<f1@") < strstr(text, "<w1@"));
    assert_true(strstr(text, "<w2@") < strstr(text, "<d1@"));
    free(text);
    free(ds);
    free(m);
    in.rcpts = &r[0];
    in.n_rcpts = 2; /* delivered + delayed: the subject follows the worst */
    m = build();
    assert_true(has_header(m, "Subject: Delayed Mail (still being retried)"));
    free(m);
}

static void test_boundary_not_in_content(void **st)
{
    (void)st;
    char *m = build();
    assert_string_equal(boundary_of(m), "=_0A1B2C3D4E.1795509475283.0000000000000000");
    free(m);
    /* an original carrying that boundary, the next one, and a malformed one */
    const char *orig = "From: a@example.org\r\n"
                       "X-B: =_0A1B2C3D4E.1795509475283.0000000000000001\r\n\r\n"
                       "--=_0A1B2C3D4E.1795509475283.0000000000000000\r\n"
                       "=_0A1B2C3D4E.1795509475283.00000000000000\r\n"
                       "=_0A1B2C3D4E.1795509475283.";
    in.original = orig;
    in.original_len = strlen(orig);
    m = build(); /* check_notice: the boundary occurs in no part */
    assert_string_equal(boundary_of(m), "=_0A1B2C3D4E.1795509475283.0000000000000002");
    free(m);
    /* the same in the text part (via the recipient) and the report part (ENVID) */
    in.original = ORIG;
    in.original_len = strlen(ORIG);
    rcpt.final_rcpt = "=_0A1B2C3D4E.1795509475283.0000000000000000@example.net";
    in.envid = "=_0A1B2C3D4E.1795509475283.0000000000000002";
    m = build();
    assert_string_equal(boundary_of(m), "=_0A1B2C3D4E.1795509475283.0000000000000001");
    free(m);
    /* the same in the notice's own header: In-Reply-To and References, To */
    setup_input();
    in.original_message_id = "<=_0A1B2C3D4E.1795509475283.0000000000000000@example.org>";
    m = build(); /* check_notice: the boundary occurs only where it belongs */
    assert_true(has_header(m, "In-Reply-To: "
                              "<=_0A1B2C3D4E.1795509475283.0000000000000000@example.org>"));
    assert_string_equal(boundary_of(m), "=_0A1B2C3D4E.1795509475283.0000000000000001");
    free(m);
    in.to = "=_0A1B2C3D4E.1795509475283.0000000000000001@example.org";
    m = build();
    assert_string_equal(boundary_of(m), "=_0A1B2C3D4E.1795509475283.0000000000000002");
    free(m);
}

static void test_message_id(void **st)
{
    (void)st;
    char *m = build();
    assert_non_null(strstr(m, "\r\nMessage-ID: <0A1B2C3D4E.1795509475283.failed."));
    assert_non_null(strstr(m, "@mail.example.org>\r\n"));
    assert_true(has_header(m, "In-Reply-To: <abc.123@example.org>"));
    assert_true(has_header(m, "References: <abc.123@example.org>"));
    free(m);
    in.original_message_id = NULL;
    m = build();
    assert_null(strstr(m, "In-Reply-To"));
    assert_null(strstr(m, "References"));
    free(m);
    in.original_message_id = "<bad id@x>\r\nX-Injected: 1"; /* not a msg-id: left out */
    m = build();
    assert_null(strstr(m, "In-Reply-To"));
    free(m);
    /* a different time or outcome gives a different Message-ID */
    in.original_message_id = NULL;
    in.now_ms = NOW + 1;
    m = build();
    assert_non_null(strstr(m, "\r\nMessage-ID: <0A1B2C3D4E.1795509475284.failed."));
    free(m);
}

static void test_find_message_id(void **st)
{
    (void)st;
    char id[DSN_MSGID_MAX];
    const char *m1 = "Subject: x\r\nmessage-id:\r\n   <a.b@c.example> (comment)\r\n\r\nMessage-ID: <no@body>\r\n";
    assert_int_equal(dsn_find_message_id(m1, strlen(m1), id, sizeof id), 0);
    assert_string_equal(id, "<a.b@c.example>");
    const char *m2 = "Subject: x\r\n\r\nMessage-ID: <in@body>\r\n";
    assert_int_equal(dsn_find_message_id(m2, strlen(m2), id, sizeof id), -1);
    const char *m3 = "Message-ID: <a b@c>\r\n\r\n";
    assert_int_equal(dsn_find_message_id(m3, strlen(m3), id, sizeof id), -1);
    const char *m4 = "Message-ID: <x@[10.0.0.1]>\nFrom: a@b\n\n";
    assert_int_equal(dsn_find_message_id(m4, strlen(m4), id, sizeof id), 0);
    assert_string_equal(id, "<x@[10.0.0.1]>");
    assert_int_equal(dsn_find_message_id(m4, strlen(m4), id, 5), -1); /* does not fit */
    const char *m5 = "Message-IDs: <a@b>\r\nMessage-ID <c@d>\r\n";
    assert_int_equal(dsn_find_message_id(m5, strlen(m5), id, sizeof id), -1);
}

static void test_header_length(void **st)
{
    (void)st;
    const char *a = "A: 1\r\n b\r\nC: 2\r\n\r\nbody";
    assert_int_equal(dsn_header_length(a, strlen(a)), strlen(a) - 4);
    const char *b = "A: 1\nB: 2\n\nbody\n";
    assert_int_equal(dsn_header_length(b, strlen(b)), 11);
    const char *c = "A: 1\r\nnot a header\r\n";
    assert_int_equal(dsn_header_length(c, strlen(c)), 6);
    const char *d = "A: 1\r\nB: 2";
    assert_int_equal(dsn_header_length(d, strlen(d)), strlen(d));
    assert_int_equal(dsn_header_length("\r\nbody", 6), 2);
    assert_int_equal(dsn_header_length(" A: 1\r\n", 7), 0);
    assert_int_equal(dsn_header_length("", 0), 0);
    assert_int_equal(dsn_header_length(NULL, 0), 0);
}

static void test_status_from_reply(void **st)
{
    (void)st;
    char s[DSN_STATUS_MAX];
    struct { const char *reply; int cls; const char *want; } cases[] = {
        {"550 5.1.1 no such user", 5, "5.1.1"},
        {"550-5.1.1 first line", 5, "5.1.1"},
        {"4.4.7 delivery time expired", 5, "4.4.7"},
        {"452 4.2.2 mailbox full", 5, "4.2.2"},
        {"550 4.7.1 mismatch", 4, "5.7.1"},
        {"550 no enhanced code", 4, "5.0.0"},
        {"421 closing", 5, "4.0.0"},
        {"connection refused", 4, "4.0.0"},
        {"", 5, "5.0.0"},
        {NULL, 2, "2.0.0"},
        {"550 5.1.1234 too many digits", 5, "5.0.0"},
        {"550 5.1.10 null MX", 5, "5.1.10"},
        {"250 2.0.0 ok", 2, "2.0.0"},
        {"550 5.1", 5, "5.0.0"},
        {"5.1.1x", 4, "4.0.0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dsn_status_from_reply(cases[i].reply, cases[i].cls, s);
        assert_string_equal(s, cases[i].want);
    }
}

static void test_status_class_agrees(void **st)
{
    (void)st;
    rcpt.action = DSN_ACTION_DELIVERED; /* a class-5 status cannot go with delivered */
    char *m = build();
    assert_non_null(strstr(m, "\r\nStatus: 2.0.0\r\n"));
    free(m);
    rcpt.action = DSN_ACTION_FAILED;
    rcpt.status = NULL; /* taken from the reply */
    m = build();
    assert_non_null(strstr(m, "\r\nStatus: 5.1.1\r\n"));
    free(m);
    rcpt.status = "4.4.7"; /* expired: a failure with class 4 */
    m = build();
    assert_non_null(strstr(m, "\r\nStatus: 4.4.7\r\n"));
    free(m);
    rcpt.status = "9.9.9";
    rcpt.diagnostic = "mailbox unavailable"; /* not an SMTP reply */
    m = build();
    assert_non_null(strstr(m, "\r\nStatus: 5.0.0\r\n"));
    assert_non_null(strstr(m, "\r\nDiagnostic-Code: X-Postino; mailbox unavailable\r\n"));
    free(m);
}

static void test_deterministic(void **st)
{
    (void)st;
    char *a = build(), *b = build();
    assert_string_equal(a, b);
    free(b);
    in.now_ms += 1000;
    b = build();
    assert_string_not_equal(a, b);
    free(b);
    free(a);
}

static void test_hostile_values(void **st)
{
    (void)st;
    rcpt.final_rcpt = "bob@example.net\r\nX-Injected: 1";
    rcpt.remote_mta = "mx\rX-Injected: 2";
    rcpt.diagnostic = "550-5.1.1 first\r\n550 5.1.1 second\r\nX-Injected: 3 \x80\x01";
    in.to = "alice@example.org>\r\nX-Injected: 4";
    in.received_from_mta = "helo\nX-Injected: 5";
    in.reporting_mta = "mail.example.org\r\nX-Injected: 6";
    in.queue_id = "Q\r\nX-Injected: 7";
    char *m = build();
    assert_null(strstr(m, "\nX-Injected"));
    assert_non_null(strstr(m, "Diagnostic-Code: smtp; 550-5.1.1 first 550 5.1.1 second X-Injected: 3 ?\r\n"));
    char *text = part_body(m, 0), *ds = part_body(m, 1);
    assert_false(dsn_has_8bit(text, strlen(text)));
    assert_false(dsn_has_8bit(ds, strlen(ds)));
    free(text);
    free(ds);
    free(m);
    /* a very long diagnostic and address: folded, no line over 998 */
    char big[5000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[0] = '5', big[1] = '5', big[2] = '0', big[3] = ' ';
    rcpt.diagnostic = big;
    rcpt.final_rcpt = big + 100;
    m = build();
    free(m);
}

static void test_line_ends_normalised(void **st)
{
    (void)st;
    const char *orig = "From: a@example.org\nSubject: lf\r\n\nline1\rline2\n";
    in.original = orig;
    in.original_len = strlen(orig);
    char *m = build(), *body = part_body(m, 2);
    assert_string_equal(body, "From: a@example.org\r\nSubject: lf\r\n\r\nline1\r\nline2\r\n");
    free(body);
    free(m);
    const char *nul = "From: a@example.org\r\n\r\nbin\0ary\r\n";
    in.original = nul;
    in.original_len = 31;
    m = build();
    body = part_body(m, 2);
    assert_string_equal(body, "From: a@example.org\r\n");
    free(body);
    free(m);
}

static void test_invalid_input_and_limit(void **st)
{
    (void)st;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_appends(&b, "keep");
    in.n_rcpts = 0;
    assert_int_equal(dsn_build(&in, &b), -1);
    in.n_rcpts = 1;
    in.to = "";
    assert_int_equal(dsn_build(&in, &b), -1);
    in.to = "alice@example.org";
    rcpt.action = (enum dsn_action)7;
    assert_int_equal(dsn_build(&in, &b), -1);
    rcpt.action = DSN_ACTION_FAILED;
    in.reporting_mta = NULL;
    assert_int_equal(dsn_build(&in, &b), -1);
    assert_int_equal(dsn_build(NULL, &b), -1);
    assert_int_equal(b.len, 4);
    buf_free(&b);
    in.reporting_mta = "mail.example.org";
    buf_init(&b, 1000); /* too small for a notice: out stays as it was */
    buf_appends(&b, "keep");
    assert_int_equal(dsn_build(&in, &b), -1);
    assert_int_equal(b.len, 4);
    buf_free(&b);
}

/* Writes a few notices to $DSN_SAMPLES_DIR for tests/unit/dsn_check.py. */
static void save(const char *name)
{
    const char *dir = getenv("DSN_SAMPLES_DIR");
    char *m = build(), *p3 = part(m, 2), path[512];
    const char *kind = strstr(p3, "message/rfc822") ? "rfc822" : "headers";
    snprintf(path, sizeof path, "%s/%s--%s.eml", dir, name, kind);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(m, 1, strlen(m), f), strlen(m));
    assert_int_equal(fclose(f), 0);
    free(p3);
    free(m);
}

static void test_samples(void **st)
{
    (void)st;
    if (!getenv("DSN_SAMPLES_DIR")) {
        print_message("skipped: DSN_SAMPLES_DIR is not set (tests/run-unit.sh sets it)\n");
        skip();
    }
    save("01-failed");
    rcpt.action = DSN_ACTION_DELAYED, rcpt.status = "4.4.1";
    rcpt.diagnostic = "421 4.4.1 mx.example.net: connection timed out";
    save("02-delayed");
    rcpt.action = DSN_ACTION_DELIVERED, rcpt.status = "2.0.0", rcpt.remote_mta = NULL;
    rcpt.diagnostic = NULL, in.envid = NULL, rcpt.orcpt = NULL;
    save("03-delivered");
    rcpt.action = DSN_ACTION_RELAYED, rcpt.remote_mta = "mx.example.net";
    rcpt.diagnostic = "250 2.0.0 Ok: queued as 4XyZ";
    save("04-relayed");
    rcpt.action = DSN_ACTION_EXPANDED, rcpt.remote_mta = NULL, rcpt.diagnostic = NULL;
    save("05-expanded");
    setup_input();
    static const char orig8[] = "Subject: r\xc3\xa9sum\xc3\xa9\r\nFrom: =?utf-8?q?Jos=C3=A9?= <j@example.org>\r\n"
                                "Message-ID: <8bit@example.org>\r\n\r\nDas ist sch\xc3\xb6n.\r\n";
    in.original = orig8, in.original_len = strlen(orig8);
    save("06-failed-8bit");
    char *orig = malloc(6000);
    int n = snprintf(orig, 6000, "From: a@example.org\r\nX-Long:");
    for (int i = 0; i < 150; i++)
        n += snprintf(orig + n, (size_t)(6000 - n), " word%03d", i);
    n += snprintf(orig + n, (size_t)(6000 - n), "\r\nX-Blob: ");
    memset(orig + n, 'q', 1200);
    n += 1200;
    n += snprintf(orig + n, (size_t)(6000 - n), "\r\nSubject: long lines\r\n\r\n");
    memset(orig + n, 'x', 2000);
    memcpy(orig + n + 2000, "\r\n", 3);
    in.original = orig, in.original_len = strlen(orig), in.ret = DSN_RET_FULL;
    in.original_message_id = NULL;
    save("07-failed-long-lines");
    free(orig);
    setup_input();
    struct dsn_rcpt r[3] = {rcpt, rcpt, rcpt};
    r[0].action = DSN_ACTION_DELIVERED, r[0].status = "2.0.0", r[0].final_rcpt = "ok@example.net";
    r[1].action = DSN_ACTION_DELAYED, r[1].status = "4.2.2", r[1].final_rcpt = "full@example.net";
    r[1].diagnostic = "452 4.2.2 mailbox full";
    in.rcpts = r, in.n_rcpts = 3, in.ret = DSN_RET_HDRS;
    save("08-mixed-hdrs");
    in.ret = DSN_RET_UNSET, in.return_limit = 10;
    save("09-failed-too-big");
    setup_input();
    in.original = "", in.original_len = 0;
    save("10-failed-empty-original");
    setup_input();
    rcpt.status = "5.3.4", rcpt.diagnostic = NULL;
    rcpt.reason = "5.3.4 the message of 5000 bytes is larger than the limit of 1000 bytes "
                  "advertised by mx.example.net[192.0.2.7], so postino did not send it";
    save("11-failed-own-reason");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_action_names),
        cmocka_unit_test_setup(test_each_action, setup),
        cmocka_unit_test_setup(test_field_order, setup),
        cmocka_unit_test_setup(test_envid, setup),
        cmocka_unit_test_setup(test_orcpt, setup),
        cmocka_unit_test_setup(test_ret_and_limit, setup),
        cmocka_unit_test_setup(test_incomplete_drops_partial_field, setup),
        cmocka_unit_test_setup(test_8bit, setup),
        cmocka_unit_test_setup(test_long_body_line, setup),
        cmocka_unit_test_setup(test_long_header_folded, setup),
        cmocka_unit_test_setup(test_long_header_dropped, setup),
        cmocka_unit_test_setup(test_mixed_actions, setup),
        cmocka_unit_test_setup(test_boundary_not_in_content, setup),
        cmocka_unit_test_setup(test_message_id, setup),
        cmocka_unit_test(test_find_message_id),
        cmocka_unit_test(test_header_length),
        cmocka_unit_test(test_status_from_reply),
        cmocka_unit_test_setup(test_status_class_agrees, setup),
        cmocka_unit_test_setup(test_deterministic, setup),
        cmocka_unit_test_setup(test_hostile_values, setup),
        cmocka_unit_test_setup(test_line_ends_normalised, setup),
        cmocka_unit_test_setup(test_invalid_input_and_limit, setup),
        cmocka_unit_test_setup(test_samples, setup),
        cmocka_unit_test_setup(test_global_notice, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
