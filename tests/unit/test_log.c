/*
 * test_log: the line renderer of lib/log: the text format stays the line
 * postino has always written for each kind of event, the json format holds
 * only the fields that are set, and hostile values (quotes, backslashes,
 * control bytes, 8-bit bytes that are not UTF-8) still make valid JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "lib/log.h"

#define T0 1796472000123LL /* 2026-12-05T12:00:00.123Z */

static void render(enum log_format fmt, int prefix, enum log_level lvl,
                   const struct log_fields *f, const char *text, const char *want)
{
    struct buf b;
    buf_init(&b, 65536);
    assert_int_equal(log_render(&b, fmt, prefix, lvl, T0, 42, f, text), 0);
    assert_string_equal(buf_cstr(&b), want);
    buf_free(&b);
}

static void test_log_text_lines(void **state)
{
    (void)state;
    render(LOG_FORMAT_TEXT, 1, LOG_INFO, NULL, "postino ready",
           "2026-12-05T12:00:00.123Z postino[42] info: postino ready");
    render(LOG_FORMAT_TEXT, 1, LOG_INFO,
           &(struct log_fields){.queue_id = "Q1", .event = "relayed", .to = "a@b",
                                .relay = "mx.b[1.2.3.4]:25", .status = "sent",
                                .dsn = "2.0.0", .reply = "250 2.0.0 Ok", .has_delay = 1},
           NULL, "2026-12-05T12:00:00.123Z postino[42] info: Q1: to=<a@b> "
                 "relay=mx.b[1.2.3.4]:25 status=sent (250 2.0.0 Ok)");
    render(LOG_FORMAT_TEXT, 1, LOG_INFO,
           &(struct log_fields){.queue_id = "Q2", .to = "a@b", .relay = "mx.b[1.2.3.4]",
                                .tls = "TLSv1.3/TLS_AES_256_GCM_SHA384/verified",
                                .status = "sent", .reply = "250 Ok"},
           NULL, "2026-12-05T12:00:00.123Z postino[42] info: Q2: to=<a@b> relay=mx.b[1.2.3.4] "
                 "tls=TLSv1.3/TLS_AES_256_GCM_SHA384/verified status=sent (250 Ok)");
    render(LOG_FORMAT_TEXT, 1, LOG_INFO,
           &(struct log_fields){.queue_id = "Q1", .event = "received", .client = "1.2.3.4",
                                .from = "s@x"},
           "size=10 nrcpt=1 client=1.2.3.4 queued",
           "2026-12-05T12:00:00.123Z postino[42] info: Q1: from=<s@x> size=10 nrcpt=1 "
           "client=1.2.3.4 queued");
    render(LOG_FORMAT_TEXT, 1, LOG_WARN,
           &(struct log_fields){.queue_id = "Q2", .to = "u@l", .status = "delivered"},
           "(maildir /d/new)",
           "2026-12-05T12:00:00.123Z postino[42] warn: Q2: to=<u@l> status=delivered "
           "(maildir /d/new)");
    /* a reply without a status is json's only */
    render(LOG_FORMAT_TEXT, 1, LOG_INFO,
           &(struct log_fields){.event = "reject", .client = "1.2.3.4", .reply = "550 no"},
           "smtp: 1.2.3.4: reject RCPT <x@y>: 550 no",
           "2026-12-05T12:00:00.123Z postino[42] info: smtp: 1.2.3.4: reject RCPT <x@y>: 550 no");
}

static void test_log_text_syslog(void **state)
{
    (void)state;
    render(LOG_FORMAT_TEXT, 0, LOG_INFO, &(struct log_fields){.queue_id = "Q", .status = "x"},
           NULL, "Q: status=x");
    render(LOG_FORMAT_TEXT, 0, LOG_WARN, NULL, "w", "warning: w");
    render(LOG_FORMAT_TEXT, 0, LOG_ERR, NULL, "e", "error: e");
}

static void test_log_text_control_bytes(void **state)
{
    (void)state;
    render(LOG_FORMAT_TEXT, 0, LOG_INFO, &(struct log_fields){.from = "a\r\nb"}, "t\tx",
           "from=<a??b> t?x");
}

static void test_log_json_fields(void **state)
{
    (void)state;
    render(LOG_FORMAT_JSON, 1, LOG_ERR, NULL, "cannot open",
           "{\"time\":\"2026-12-05T12:00:00.123Z\",\"level\":\"error\",\"event\":\"cannot open\"}");
    render(LOG_FORMAT_JSON, 1, LOG_INFO,
           &(struct log_fields){.queue_id = "Q1", .event = "relayed", .client = "c", .from = "f",
                                .to = "a@b", .relay = "r", .status = "sent", .dsn = "2.0.0",
                                .reply = "250 Ok", .delay_ms = 61005, .has_delay = 1},
           "ignored in json",
           "{\"time\":\"2026-12-05T12:00:00.123Z\",\"level\":\"info\",\"queue_id\":\"Q1\","
           "\"event\":\"relayed\",\"client\":\"c\",\"from\":\"f\",\"to\":\"a@b\",\"relay\":\"r\","
           "\"status\":\"sent\",\"dsn\":\"2.0.0\",\"reply\":\"250 Ok\",\"delay\":61.005}");
    render(LOG_FORMAT_JSON, 1, LOG_INFO,
           &(struct log_fields){.to = "a@b", .relay = "r", .tls = "none", .status = "deferred"},
           NULL,
           "{\"time\":\"2026-12-05T12:00:00.123Z\",\"level\":\"info\",\"event\":\"\","
           "\"to\":\"a@b\",\"relay\":\"r\",\"tls\":\"none\",\"status\":\"deferred\"}");
    render(LOG_FORMAT_JSON, 1, LOG_DEBUG, &(struct log_fields){.delay_ms = 7, .has_delay = 1},
           NULL,
           "{\"time\":\"2026-12-05T12:00:00.123Z\",\"level\":\"debug\",\"event\":\"\","
           "\"delay\":0.007}");
}

static void test_log_json_hostile(void **state)
{
    (void)state;
    render(LOG_FORMAT_JSON, 1, LOG_INFO,
           &(struct log_fields){.event = "connect", .client = "q\"b\\s\x01\x1f\x7f",
                                .from = "\xff\xc3\xa9\xc3\x28\xed\xa0\x80\xf0\x9f\x98\x80"},
           NULL,
           "{\"time\":\"2026-12-05T12:00:00.123Z\",\"level\":\"info\",\"event\":\"connect\","
           "\"client\":\"q\\\"b\\\\s\\u0001\\u001f\\u007f\","
           "\"from\":\"\\ufffd\xc3\xa9\\ufffd(\\ufffd\\ufffd\\ufffd\xf0\x9f\x98\x80\"}");
    /* a sequence cut short by the end of the string */
    render(LOG_FORMAT_JSON, 1, LOG_INFO, &(struct log_fields){.event = "\xe2\x82"}, NULL,
           "{\"time\":\"2026-12-05T12:00:00.123Z\",\"level\":\"info\",\"event\":\"\\ufffd\\ufffd\"}");
}

static void test_log_format_parse(void **state)
{
    (void)state;
    enum log_format f = LOG_FORMAT_TEXT;
    assert_int_equal(log_format_parse("json", &f), 0);
    assert_int_equal(f, LOG_FORMAT_JSON);
    assert_int_equal(log_format_parse("text", &f), 0);
    assert_int_equal(f, LOG_FORMAT_TEXT);
    assert_int_equal(log_format_parse("JSON", &f), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_text_lines),
        cmocka_unit_test(test_log_text_syslog),
        cmocka_unit_test(test_log_text_control_bytes),
        cmocka_unit_test(test_log_json_fields),
        cmocka_unit_test(test_log_json_hostile),
        cmocka_unit_test(test_log_format_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
