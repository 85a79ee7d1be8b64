/*
 * test_metrics: unit tests for mail/metrics, postino's registry: every
 * family appears once with its # TYPE, the hooks move the right series
 * (connections and open connections by service, replies by the class of a
 * final line only, deliveries by result, notices by action), the gauges
 * given at scrape time are written, and the histograms stay consistent.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "mail/metrics.h"

/* 1 if the page holds exactly this line. */
static int has_line(const char *page, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = page; (p = strstr(p, line)); p++)
        if ((p == page || p[-1] == '\n') && p[n] == '\n')
            return 1;
    return 0;
}

static size_t count_of(const char *page, const char *needle)
{
    size_t n = 0;
    for (const char *p = page; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void test_hooks(void **state)
{
    (void)state;
    metrics_reset();
    metrics_connect(LISTEN_SMTP);
    metrics_connect(LISTEN_SMTP);
    metrics_connect(LISTEN_POP3S);
    metrics_disconnect(LISTEN_SMTP);
    metrics_smtp_reply("250 2.0.0 Ok");
    metrics_smtp_reply("250-first\r\n250 last");
    metrics_smtp_reply("250-continuation only");
    metrics_smtp_reply("550 5.1.1 no");
    metrics_smtp_reply("421");
    metrics_smtp_reply("354 go ahead");
    metrics_smtp_reply("%s");
    metrics_received(100, 0.002);
    metrics_outcome(RCPT_DELIVERED, 1500);
    metrics_outcome(RCPT_RELAYED, 20);
    metrics_outcome(RCPT_DEFERRED, 0);
    metrics_outcome(RCPT_FAILED, 0);
    metrics_outcome(RCPT_EXPANDED, 0);
    metrics_notice(NOTIFY_DELAYED);
    struct metrics_gauges g = {.queue_messages = {1, 2, 3}, .queue_recipients = {4, 5, 6},
                               .oldest_age_seconds = 12.5};
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    metrics_format(&g, &b);
    const char *page = buf_cstr(&b);
    assert_true(has_line(page, "postino_connections_total{service=\"smtp\"} 2"));
    assert_true(has_line(page, "postino_connections_total{service=\"pop3s\"} 1"));
    assert_true(has_line(page, "postino_open_connections{service=\"smtp\"} 1"));
    assert_true(has_line(page, "postino_smtp_replies_total{class=\"2xx\"} 2"));
    assert_true(has_line(page, "postino_smtp_replies_total{class=\"4xx\"} 0"));
    assert_true(has_line(page, "postino_smtp_replies_total{class=\"5xx\"} 1"));
    assert_true(has_line(page, "postino_messages_received_total 1"));
    assert_true(has_line(page, "postino_received_bytes_total 100"));
    assert_true(has_line(page, "postino_deliveries_total{result=\"delivered\"} 1"));
    assert_true(has_line(page, "postino_deliveries_total{result=\"relayed\"} 1"));
    assert_true(has_line(page, "postino_deliveries_total{result=\"deferred\"} 1"));
    assert_true(has_line(page, "postino_deliveries_total{result=\"failed\"} 1"));
    assert_true(has_line(page, "postino_notices_total{action=\"delayed\"} 1"));
    assert_true(has_line(page, "postino_queue_messages{state=\"held\"} 3"));
    assert_true(has_line(page, "postino_queue_recipients{state=\"pending\"} 4"));
    assert_true(has_line(page, "postino_queue_oldest_age_seconds 12.5"));
    assert_true(has_line(page, "postino_commit_seconds_count 1"));
    assert_true(has_line(page, "postino_commit_seconds_bucket{le=\"0.001\"} 0"));
    assert_true(has_line(page, "postino_commit_seconds_bucket{le=\"0.0025\"} 1"));
    assert_true(has_line(page, "postino_delivery_delay_seconds_count 2"));
    assert_true(has_line(page, "postino_delivery_delay_seconds_sum 1.52"));
    assert_true(has_line(page, "postino_delivery_delay_seconds_bucket{le=\"+Inf\"} 2"));
    buf_free(&b);
}

static void test_one_type_per_family(void **state)
{
    (void)state;
    metrics_reset();
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    metrics_format(NULL, &b);
    const char *page = buf_cstr(&b);
    assert_int_equal(count_of(page, "# TYPE "), 9); /* without the queue gauges */
    assert_int_equal(count_of(page, "# TYPE postino_commit_seconds histogram"), 1);
    assert_int_equal(count_of(page, "postino_queue_"), 0);
    assert_true(has_line(page, "postino_messages_received_total 0"));
    buf_reset(&b);
    struct metrics_gauges g = {0};
    metrics_format(&g, &b);
    assert_int_equal(count_of(buf_cstr(&b), "# TYPE "), 12);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hooks),
        cmocka_unit_test(test_one_type_per_family),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
