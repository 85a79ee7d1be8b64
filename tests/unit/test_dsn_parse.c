/*
 * test_dsn_parse: unit tests for proto/dsn_parse, the reader of notices from
 * other hosts (RFC 3464, RFC 6522, RFC 6533). Reads the sample notices in
 * tests/unit/data/dsn/ as Postfix (failure; success with two recipients),
 * Exim, Sendmail, Exchange and Gmail write them, each with LF and with CRLF
 * line ends; postino's own notices made by mail/dsn (ASCII and RFC 6533);
 * the report inside multipart/mixed; an encoded delivery-status part;
 * parameters in any order with comments; and what must be refused or
 * bounded: no report, a truncated notice, no boundary, a boundary that never
 * closes, over-long fields, control characters, 10,000 recipients.
 * Run from the top of the tree (the samples are found beside this file).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/buf.h"
#include "mail/dsn.h"
#include "proto/dsn_parse.h"

static struct dsn_parsed *out;

static int setup(void **st)
{
    (void)st;
    out = calloc(1, sizeof *out);
    return out ? 0 : -1;
}

static int teardown(void **st)
{
    (void)st;
    free(out);
    return 0;
}

/* A sample notice of tests/unit/data/dsn/ (malloc'd, NUL-terminated). */
static char *load(const char *name, size_t *len)
{
    char path[512];
    const char *slash = strrchr(__FILE__, '/');
    int dir = slash ? (int)(slash - __FILE__ + 1) : 0;
    snprintf(path, sizeof path, "%.*sdata/dsn/%s", dir, __FILE__, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *s = malloc(1 << 20);
    assert_non_null(s);
    *len = fread(s, 1, (1 << 20) - 1, f);
    s[*len] = '\0';
    fclose(f);
    return s;
}

/* s with every LF made CRLF (malloc'd). */
static char *crlf(const char *s, size_t *len)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    for (; *s; s++)
        assert_int_equal(*s == '\n' ? buf_append(&b, "\r\n", 2) : buf_putc(&b, *s), 0);
    *len = b.len;
    return buf_detach(&b);
}

/* Parses sample name with LF and with CRLF line ends; both must read the same.
 * out holds the CRLF result. */
static void parse_sample(const char *name)
{
    size_t len, clen;
    char *s = load(name, &len), *c = crlf(s, &clen);
    assert_int_equal(dsn_parse(s, len, out), 0);
    struct dsn_parsed *lf = malloc(sizeof *lf);
    assert_non_null(lf);
    memcpy(lf, out, sizeof *lf);
    assert_int_equal(dsn_parse(c, clen, out), 0);
    assert_memory_equal(lf, out, sizeof *lf);
    free(lf);
    free(c);
    free(s);
}

/* The per-message fields of the parsed notice and its number of recipients. */
static void check_notice(const char *envid, const char *reporting_mta, const char *message_id,
                         size_t n_rcpts)
{
    assert_string_equal(out->envid, envid);
    assert_string_equal(out->reporting_mta, reporting_mta);
    assert_string_equal(out->message_id, message_id);
    assert_int_equal(out->n_rcpts, n_rcpts);
}

static void check_rcpt(size_t i, const char *orcpt, const char *final, const char *action,
                       const char *status, const char *remote, const char *diag)
{
    assert_true(i < out->n_rcpts);
    const struct dsn_parsed_rcpt *r = &out->rcpts[i];
    assert_string_equal(r->original_rcpt, orcpt);
    assert_string_equal(r->final_rcpt, final);
    assert_string_equal(r->action, action);
    assert_string_equal(r->status, status);
    assert_string_equal(r->remote_mta, remote);
    assert_string_equal(r->diagnostic, diag);
}

static void test_postfix_failed(void **st)
{
    (void)st;
    parse_sample("postfix-failed.eml");
    check_notice("0A1B2C3D4E", "mx.example.net", "<abc.123@example.org>", 1);
    assert_int_equal(out->rcpts_truncated, 0);
    /* Postfix writes Original-Recipient after Final-Recipient: still one recipient */
    check_rcpt(0, "Bob@Example.NET", "bob@example.net", "failed", "5.1.1", "mail.example.net",
               "550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown in "
               "local recipient table");
}

static void test_postfix_success(void **st)
{
    (void)st;
    parse_sample("postfix-success.eml");
    assert_string_equal(out->envid, "9F8E7D6C5B");
    assert_string_equal(out->message_id, "<def.456@example.org>"); /* folded, headers only */
    assert_int_equal(out->n_rcpts, 2);
    check_rcpt(0, "carol@example.net", "carol@example.net", "delivered", "2.0.0", "",
               "delivered to mailbox");
    check_rcpt(1, "dave@example.net", "dave@example.net", "relayed", "2.0.0",
               "relay.example.net", "250 2.0.0 Ok: queued as 7FEDC3210A");
}

static void test_exim(void **st)
{
    (void)st;
    parse_sample("exim-failed.eml"); /* boundary not quoted; Action before Final-Recipient */
    check_notice("0A1B2C3D4E", "mx.exim.example", "<abc.123@example.org>", 1);
    check_rcpt(0, "", "carol@exim.example", "failed", "5.0.0", "mail.exim.example",
               "550 5.1.1 <carol@exim.example>: mailbox unavailable");
}

static void test_sendmail(void **st)
{
    (void)st;
    parse_sample("sendmail-failed.eml"); /* a first part without a header; ENVID in xtext */
    check_notice("QQ+314159", "sm.example.com", "<abc.123@example.org>", 1);
    check_rcpt(0, "", "dave@sm.example.com", "failed", "5.2.1", "mail.sm.example.com",
               "550 5.2.1 Mailbox disabled");
}

static void test_exchange(void **st)
{
    (void)st;
    parse_sample("exchange-failed.eml"); /* multipart/alternative first, no ENVID */
    check_notice("", "BN6PR01MB1234.prod.exchangelabs.com", "<abc.123@example.org>", 1);
    check_rcpt(0, "erin@contoso.com", "erin@contoso.com", "failed", "5.1.10", "",
               "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP "
               "address lookup");
}

static void test_gmail(void **st)
{
    (void)st;
    parse_sample("gmail-failed.eml"); /* report-type last, nested related/alternative */
    assert_string_equal(out->reporting_mta, "googlemail.com");
    assert_string_equal(out->message_id, "<abc.123@example.org>");
    assert_int_equal(out->n_rcpts, 1);
    check_rcpt(0, "", "frank@example.com", "failed", "5.1.1", "gmail-smtp-in.l.google.com.",
               "550-5.1.1 The email account that you tried to reach does not exist. Please "
               "try 550-5.1.1 double-checking the recipient's email address for typos or "
               "550-5.1.1 unnecessary spaces. For more information, go to 550 5.1.1 "
               "https://support.google.com/mail/?p=NoSuchUser a1b2c3d4e5f6.123 - gsmtp");
}

/* Gmail's X-Original-Message-ID stands in when nothing is returned. */
static void test_gmail_without_returned_part(void **st)
{
    (void)st;
    size_t len;
    char *s = load("gmail-failed.eml", &len);
    char *third = strstr(s, "--000000000000a1b2c3d4e5f60718\nContent-Type: message/rfc822");
    assert_non_null(third);
    static const char close[] = "--000000000000a1b2c3d4e5f60718--\n";
    memcpy(third, close, sizeof close);
    assert_int_equal(dsn_parse(s, strlen(s), out), 0);
    assert_string_equal(out->message_id, "<abc.123@example.org>");
    free(s);
}

/* postino's own notices, made by mail/dsn, read back. */
static void test_postino_own(void **st)
{
    (void)st;
    static const char orig[] = "Message-ID: <own.1@example.org>\r\nFrom: a@example.org\r\n"
                               "Subject: x\r\n\r\nbody\r\n";
    struct dsn_rcpt r[3] = {
        {.final_rcpt = "bob@example.net", .orcpt = "rfc822;Bob@Example.NET",
         .action = DSN_ACTION_FAILED, .status = "5.1.1", .remote_mta = "mx.example.net",
         .diagnostic = "550 5.1.1 <bob@example.net>: user unknown"},
        {.final_rcpt = "carol@example.net", .action = DSN_ACTION_DELAYED, .status = "4.4.1",
         .diagnostic = "421 4.4.1 try later", .will_retry_until_ms = 1795600000000LL},
        {.final_rcpt = "dave@example.net", .action = DSN_ACTION_DELIVERED}};
    struct dsn_input in = {.reporting_mta = "mail.example.org", .envid = "0A1B2C3D4E",
                           .to = "alice@example.org", .queue_id = "0A1B2C3D4E",
                           .now_ms = 1795509475283LL, .original = orig,
                           .original_len = sizeof orig - 1, .original_complete = 1,
                           .return_limit = 50 * 1024,
                           .original_message_id = "<own.1@example.org>", .rcpts = r,
                           .n_rcpts = 3};
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    assert_int_equal(dsn_build(&in, &b), 0);
    assert_int_equal(dsn_parse(b.data, b.len, out), 0);
    check_notice("0A1B2C3D4E", "mail.example.org", "<own.1@example.org>", 3);
    check_rcpt(0, "Bob@Example.NET", "bob@example.net", "failed", "5.1.1", "mx.example.net",
               "550 5.1.1 <bob@example.net>: user unknown");
    check_rcpt(1, "", "carol@example.net", "delayed", "4.4.1", "", "421 4.4.1 try later");
    assert_string_equal(out->rcpts[2].final_rcpt, "dave@example.net");
    assert_string_equal(out->rcpts[2].action, "delivered");
    assert_string_equal(out->rcpts[2].status, "2.0.0");
    buf_reset(&b);
    /* RFC 6533: global-delivery-status, utf-8 addresses, message/global */
    in.utf8 = 1;
    r[0].final_rcpt = "j\xc3\xbcrgen@b\xc3\xbc" "cher.test";
    r[0].orcpt = "utf-8;J\xc3\xbcrgen@b\xc3\xbc" "cher.test";
    in.n_rcpts = 1;
    assert_int_equal(dsn_build(&in, &b), 0);
    assert_non_null(strstr(b.data, "global-delivery-status"));
    assert_int_equal(dsn_parse(b.data, b.len, out), 0);
    assert_string_equal(out->envid, "0A1B2C3D4E");
    assert_string_equal(out->message_id, "<own.1@example.org>");
    assert_int_equal(out->n_rcpts, 1);
    assert_string_equal(out->rcpts[0].final_rcpt, "j\xc3\xbcrgen@b\xc3\xbc" "cher.test");
    assert_string_equal(out->rcpts[0].original_rcpt, "J\xc3\xbcrgen@b\xc3\xbc" "cher.test");
    buf_free(&b);
}

/* A notice built from its Content-Type field, delivery-status part headers and body. */
static char *notice(const char *ctype, const char *ds_head, const char *ds_body)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    assert_int_equal(buf_printf(&b,
                                "From: MAILER-DAEMON@mx.example.net\n"
                                "Content-Type: %s\n\n"
                                "--BB\nContent-Type: text/plain\n\nfailed\n"
                                "--BB\n%s\n%s\n"
                                "--BB\nContent-Type: text/rfc822-headers\n\n"
                                "Message-ID: <m.1@example.org>\n\n--BB--\n",
                                ctype, ds_head, ds_body),
                     0);
    return buf_detach(&b);
}

#define DS_BODY "Reporting-MTA: dns; mx.example.net\n\n" \
                "Final-Recipient: rfc822; bob@example.net\nAction: failed\nStatus: 5.1.1\n"

static int parses(const char *ctype, const char *ds_head, const char *ds_body)
{
    char *m = notice(ctype, ds_head, ds_body);
    int rc = dsn_parse(m, strlen(m), out);
    free(m);
    return rc;
}

static void test_content_type_forms(void **st)
{
    (void)st;
    const char *head = "Content-Type: message/delivery-status\n";
    assert_int_equal(parses("multipart/report; report-type=delivery-status; boundary=BB", head,
                            DS_BODY), 0);
    assert_string_equal(out->rcpts[0].final_rcpt, "bob@example.net");
    assert_string_equal(out->message_id, "<m.1@example.org>");
    assert_int_equal(parses("Multipart/Report (a report);\n\tBoundary = \"BB\" ;"
                            " REPORT-TYPE=\"Delivery-Status\"", head, DS_BODY), 0);
    assert_int_equal(parses("multipart/report; boundary=\"B\\B\"; report-type=delivery-status",
                            head, DS_BODY), 0);
    assert_int_equal(parses("multipart/report; report-type=global-delivery-status; boundary=BB",
                            "Content-Type: message/global-delivery-status\n", DS_BODY), 0);
    /* comments after Action and Status, no space after ';', groups run together */
    assert_int_equal(parses("multipart/report; report-type=delivery-status; boundary=BB", head,
                            "Reporting-MTA: dns;mx.example.net\n"
                            "Final-Recipient: rfc822;<a@example.net>\n"
                            "Action: Failed (bad)\nStatus: 5.0.0 (permanent)\n"
                            "Original-Recipient: rfc822;B@example.net\n"
                            "Final-Recipient: rfc822;b@example.net\n"
                            "ACTION: delayed\nSTATUS: 4.4.7\n\n\n"),
                     0);
    assert_int_equal(out->n_rcpts, 2);
    check_rcpt(0, "", "a@example.net", "failed", "5.0.0", "", "");
    check_rcpt(1, "B@example.net", "b@example.net", "delayed", "4.4.7", "", "");
}

static void test_encoded_status_part(void **st)
{
    (void)st;
    const char *ctype = "multipart/report; report-type=delivery-status; boundary=BB";
    /* DS_BODY in base64, broken into lines */
    assert_int_equal(parses(ctype,
                            "Content-Type: message/delivery-status\n"
                            "Content-Transfer-Encoding: base64\n",
                            "UmVwb3J0aW5nLU1UQTogZG5zOyBteC5leGFtcGxlLm5ldAoKRmluYWwtUmVjaXBpZW50\n"
                            "OiByZmM4MjI7IGJvYkBleGFtcGxlLm5ldApBY3Rpb246IGZhaWxlZApTdGF0dXM6IDUu\n"
                            "MS4xCg==\n"),
                     0);
    check_rcpt(0, "", "bob@example.net", "failed", "5.1.1", "", "");
    assert_int_equal(parses(ctype,
                            "Content-Type: message/delivery-status\n"
                            "Content-Transfer-Encoding: quoted-printable\n",
                            "Reporting-MTA: dns; mx.example.net\n\n"
                            "Final-Recipient: rfc822; bob=40example.net\nAction: fail=\ned\n"
                            "Status: 5.1.1\nDiagnostic-Code: smtp; 550 =3D no\n"),
                     0);
    check_rcpt(0, "", "bob@example.net", "failed", "5.1.1", "", "550 = no");
    assert_int_equal(parses(ctype,
                            "Content-Type: message/delivery-status\n"
                            "Content-Transfer-Encoding: base64\n",
                            "!!not base64!!\n"),
                     -1);
    assert_int_equal(parses(ctype,
                            "Content-Type: message/delivery-status\n"
                            "Content-Transfer-Encoding: x-uuencode\n", DS_BODY),
                     -1);
}

/* RFC 6533: the returned header section as message/global-headers, transfer-encoded. */
static void test_encoded_returned_part(void **st)
{
    (void)st;
    static const char m[] =
        "Content-Type: multipart/report; report-type=global-delivery-status; boundary=BB\n\n"
        "--BB\nContent-Type: message/global-delivery-status\n\n" DS_BODY
        "\n--BB\nContent-Type: message/global-headers\n"
        "Content-Transfer-Encoding: quoted-printable\n\n"
        "Subject: =C3=A9t=C3=A9\nMessage-ID: <a=2Eb@example.org>\n\n--BB--\n";
    assert_int_equal(dsn_parse(m, sizeof m - 1, out), 0);
    assert_string_equal(out->message_id, "<a.b@example.org>");
}

/* The report inside multipart/mixed (a gateway that adds a footer). */
static void test_report_inside_mixed(void **st)
{
    (void)st;
    char *inner = notice("multipart/report; report-type=delivery-status; boundary=BB",
                         "Content-Type: message/delivery-status\n", DS_BODY);
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    const char *inner_part = strstr(inner, "Content-Type:");
    assert_int_equal(buf_printf(&b,
                                "Subject: x\nContent-Type: multipart/mixed; boundary=OUT\n\n"
                                "--OUT\n%s\n--OUT\nContent-Type: text/plain\n\nfooter\n"
                                "--OUT--\n",
                                inner_part),
                     0);
    assert_int_equal(dsn_parse(b.data, b.len, out), 0);
    assert_string_equal(out->rcpts[0].final_rcpt, "bob@example.net");
    buf_free(&b);
    free(inner);
}

static void test_not_a_report(void **st)
{
    (void)st;
    const char *head = "Content-Type: message/delivery-status\n";
    static const char plain[] = "From: a@example.org\nSubject: hi\n\nReporting-MTA: dns; x\n";
    assert_int_equal(dsn_parse(plain, sizeof plain - 1, out), -1);
    assert_int_equal(dsn_parse("", 0, out), -1);
    assert_int_equal(dsn_parse(NULL, 0, out), -1);
    assert_int_equal(parses("multipart/report; report-type=disposition-notification; "
                            "boundary=BB", head, DS_BODY), -1);
    assert_int_equal(parses("multipart/report; boundary=BB", head, DS_BODY), -1);
    assert_int_equal(parses("multipart/mixed; boundary=BB", head, DS_BODY), -1);
    assert_int_equal(parses("multipart/report; report-type=delivery-status; boundary=BB",
                            "Content-Type: text/plain\n", DS_BODY), -1);
    /* no Reporting-MTA; no recipient; a recipient without a valid Status */
    assert_int_equal(parses("multipart/report; report-type=delivery-status; boundary=BB", head,
                            "Final-Recipient: rfc822; b@x\nAction: failed\nStatus: 5.1.1\n"),
                     -1);
    assert_int_equal(parses("multipart/report; report-type=delivery-status; boundary=BB", head,
                            "Reporting-MTA: dns; mx\n"), -1);
    assert_int_equal(parses("multipart/report; report-type=delivery-status; boundary=BB", head,
                            "Reporting-MTA: dns; mx\n\nFinal-Recipient: rfc822; b@x\n"
                            "Action: failed\nStatus: 5.1\n"), -1);
    assert_int_equal(parses("multipart/report; report-type=delivery-status; boundary=BB", head,
                            "Reporting-MTA: dns; mx\n\nFinal-Recipient: rfc822; b@x\n"
                            "Action: bounced\nStatus: 5.1.1\n"), -1);
    assert_int_equal(out->n_rcpts, 0);
}

static void test_broken_structure(void **st)
{
    (void)st;
    const char *head = "Content-Type: message/delivery-status\n";
    /* no boundary parameter, an empty one, one longer than 70 */
    assert_int_equal(parses("multipart/report; report-type=delivery-status", head, DS_BODY), -1);
    assert_int_equal(parses("multipart/report; report-type=delivery-status; boundary=\"\"", head,
                            DS_BODY), -1);
    char ct[200];
    snprintf(ct, sizeof ct, "multipart/report; report-type=delivery-status; boundary=%071d", 0);
    assert_int_equal(parses(ct, head, DS_BODY), -1);
    /* a boundary that never closes */
    char *m = notice("multipart/report; report-type=delivery-status; boundary=BB", head, DS_BODY);
    *strstr(m, "--BB--") = '\0';
    assert_int_equal(dsn_parse(m, strlen(m), out), -1);
    free(m);
    /* every sample cut short anywhere before its close delimiter */
    size_t len;
    char *s = load("postfix-failed.eml", &len);
    size_t close = (size_t)(strstr(s, "/mx.example.net--") - s);
    for (size_t cut = 0; cut < close; cut += 7)
        assert_int_equal(dsn_parse(s, cut, out), -1);
    assert_int_equal(dsn_parse(s, len, out), 0);
    free(s);
}

static void test_overlong_fields(void **st)
{
    (void)st;
    const char *ctype = "multipart/report; report-type=delivery-status; boundary=BB";
    const char *head = "Content-Type: message/delivery-status\n";
    size_t big = 100000;
    char *junk = malloc(big + 1);
    memset(junk, 'a', big);
    junk[big] = '\0';
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    /* an address too long is dropped with its recipient, never cut */
    buf_printf(&b, "Reporting-MTA: dns; mx\nOriginal-Envelope-Id: %.300s\n\n"
                   "Final-Recipient: rfc822; %.600s@x\nAction: failed\nStatus: 5.1.1\n\n"
                   "Final-Recipient: rfc822; ok@x\nAction: failed\nStatus: 5.1.1\n"
                   "Remote-MTA: dns; %.300s\nDiagnostic-Code: smtp; 550 %s\n",
               junk, junk, junk, junk);
    assert_int_equal(parses(ctype, head, buf_cstr(&b)), 0);
    assert_string_equal(out->envid, "");
    assert_int_equal(out->n_rcpts, 1);
    assert_string_equal(out->rcpts[0].final_rcpt, "ok@x");
    assert_string_equal(out->rcpts[0].remote_mta, "");
    assert_int_equal(strlen(out->rcpts[0].diagnostic), sizeof out->rcpts[0].diagnostic - 1);
    assert_memory_equal(out->rcpts[0].diagnostic, "550 aaa", 7);
    /* a diagnostic cut inside a UTF-8 character ends before it */
    buf_reset(&b);
    buf_printf(&b, "Reporting-MTA: dns; mx\n\nFinal-Recipient: rfc822; ok@x\nAction: failed\n"
                   "Status: 5.1.1\nDiagnostic-Code: smtp; %.1018s\xc3\xa9\xc3\xa9\n", junk);
    assert_int_equal(parses(ctype, head, buf_cstr(&b)), 0);
    assert_int_equal(strlen(out->rcpts[0].diagnostic), 1022);
    /* a Reporting-MTA that does not fit: refused */
    buf_reset(&b);
    buf_printf(&b, "Reporting-MTA: dns; %.300s\n\nFinal-Recipient: rfc822; ok@x\n"
                   "Action: failed\nStatus: 5.1.1\n", junk);
    assert_int_equal(parses(ctype, head, buf_cstr(&b)), -1);
    buf_free(&b);
    free(junk);
}

static void test_control_characters(void **st)
{
    (void)st;
    const char *ctype = "multipart/report; report-type=delivery-status; boundary=BB";
    static const char body[] = "Reporting-MTA: dns; mx\n\nFinal-Recipient: rfc822; ok@x\n"
                               "Action: failed\nStatus: 5.1.1\n"
                               "Diagnostic-Code: smtp; 550\t\x01 no\x7f\xff such\n";
    char *m = notice(ctype, "Content-Type: message/delivery-status\n", body);
    assert_int_equal(dsn_parse(m, strlen(m), out), 0);
    assert_string_equal(out->rcpts[0].diagnostic, "550 no ? such");
    free(m);
}

static void test_many_recipients(void **st)
{
    (void)st;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_appends(&b, "Reporting-MTA: dns; mx.example.net\n");
    for (int i = 0; i < 10000; i++)
        buf_printf(&b, "\nFinal-Recipient: rfc822; u%d@example.net\nAction: failed\n"
                       "Status: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 no user %d\n", i, i);
    char *m = notice("multipart/report; report-type=delivery-status; boundary=BB",
                     "Content-Type: message/delivery-status\n", buf_cstr(&b));
    assert_int_equal(dsn_parse(m, strlen(m), out), 0);
    assert_int_equal(out->n_rcpts, DSN_PARSE_RCPTS_MAX);
    assert_int_equal(out->rcpts_truncated, 1);
    assert_string_equal(out->rcpts[99].final_rcpt, "u99@example.net");
    free(m);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_postfix_failed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_postfix_success, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sendmail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exchange, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gmail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gmail_without_returned_part, setup, teardown),
        cmocka_unit_test_setup_teardown(test_postino_own, setup, teardown),
        cmocka_unit_test_setup_teardown(test_content_type_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encoded_status_part, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encoded_returned_part, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_inside_mixed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_report, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broken_structure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlong_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_control_characters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_recipients, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
