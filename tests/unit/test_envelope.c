/* Unit tests for mail/envelope: the queue-file text format, round trips, hostile values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mail/envelope.h"

static void make(struct envelope *e)
{
    envelope_init(e);
    memcpy(e->id, "0123456789ABCDEF", 17);
    e->arrival = 1795509475283;
    e->sender = strdup("a b\"@x.test");
    e->ret = DSN_RET_HDRS;
    e->envid = strdup("env id\r\ninjected 1");
    e->body = BODY_8BITMIME;
    e->helo = strdup("-");
    e->client = strdup("127.0.0.1");
    envelope_add_rcpt(e, "bob@example.test", NOTIFY_SUCCESS | NOTIFY_FAILURE, "rfc822;bob%x", -1,
                      RCPT_EXPANDED);
    envelope_add_rcpt(e, "carol@example.test", 0, NULL, 0, RCPT_PENDING);
}

/* Builds head + content + "end\n" + tail. */
static void serialize(struct envelope *e, const char *content, const char *tail, struct buf *out)
{
    size_t off;
    assert_int_equal(envelope_format_head(e, out, &off), 0);
    char digits[32];
    snprintf(digits, sizeof digits, "%020zu", strlen(content));
    memcpy(out->data + off, digits, 20);
    buf_appends(out, content);
    buf_appends(out, "end\n");
    buf_appends(out, tail);
}

static void test_roundtrip(void **st)
{
    (void)st;
    struct envelope e, p;
    struct buf b;
    make(&e);
    buf_init(&b, BUF_UNLIMITED);
    serialize(&e, "Subject: x\r\n\r\nbody\r\n", "", &b);
    envelope_init(&p);
    assert_int_equal(envelope_parse_head(b.data, b.len, &p), 0);
    assert_string_equal(p.id, e.id);
    assert_int_equal(p.arrival, e.arrival);
    assert_string_equal(p.sender, e.sender);
    assert_string_equal(p.envid, e.envid);
    assert_string_equal(p.helo, "-");
    assert_int_equal(p.ret, DSN_RET_HDRS);
    assert_int_equal(p.body, BODY_8BITMIME);
    assert_null(p.auth);
    assert_int_equal(p.n_rcpts, 2);
    assert_int_equal(p.rcpts[0].notify, NOTIFY_SUCCESS | NOTIFY_FAILURE);
    assert_string_equal(p.rcpts[0].orcpt, "rfc822;bob%x");
    assert_int_equal(p.rcpts[0].status, RCPT_EXPANDED);
    assert_int_equal(p.rcpts[1].parent, 0);
    assert_null(p.rcpts[1].orcpt);
    assert_int_equal(p.size, strlen("Subject: x\r\n\r\nbody\r\n"));
    assert_memory_equal(b.data + p.content_offset, "Subject: x", 10);
    const char *tail = b.data + p.content_offset + p.size;
    assert_int_equal(envelope_parse_tail(tail, b.len - (size_t)(tail - b.data), &p), 0);
    envelope_free(&p);
    envelope_free(&e);
    buf_free(&b);
    /* every body type reads back; BINARYMIME (RFC 3030) was added later */
    for (enum body_type t = BODY_UNSET; t <= BODY_BINARYMIME; t++) {
        make(&e);
        e.body = t;
        buf_init(&b, BUF_UNLIMITED);
        serialize(&e, "x\r\n", "", &b);
        envelope_init(&p);
        assert_int_equal(envelope_parse_head(b.data, b.len, &p), 0);
        assert_int_equal(p.body, t);
        envelope_free(&p);
        envelope_free(&e);
        buf_free(&b);
    }
    assert_string_equal(body_type_name(BODY_BINARYMIME), "BINARYMIME");
}

static void test_no_line_injection(void **st)
{
    (void)st;
    struct envelope e;
    struct buf b;
    make(&e);
    buf_init(&b, BUF_UNLIMITED);
    size_t off;
    envelope_format_head(&e, &b, &off);
    /* every line of the head is a known record: the CRLF in envid was escaped */
    assert_null(strstr(buf_cstr(&b), "\ninjected"));
    assert_non_null(strstr(buf_cstr(&b), "env%20id%0D%0Ainjected%201"));
    envelope_free(&e);
    buf_free(&b);
}

static void test_state_records(void **st)
{
    (void)st;
    struct envelope e, p;
    struct buf b, tail;
    make(&e);
    buf_init(&b, BUF_UNLIMITED);
    buf_init(&tail, BUF_UNLIMITED);
    e.rcpts[1].status = RCPT_DEFERRED;
    e.rcpts[1].attempts = 3;
    e.rcpts[1].next_attempt = 1795509999000;
    e.rcpts[1].last_reply = strdup("451 4.3.0 try later\r\nfake");
    e.rcpts[1].remote_mta = strdup("mx1.remote.test");
    e.rcpts[1].tls = strdup("TLSv1.3/TLS_AES_256_GCM_SHA384/verified");
    envelope_format_state(&e, 1, &tail);
    envelope_format_hold(1, &tail);
    buf_appends(&tail, "state 1 delivered 4 0 0 - -"); /* torn: no newline */
    serialize(&e, "x\r\n", buf_cstr(&tail), &b);
    envelope_init(&p);
    assert_int_equal(envelope_parse_head(b.data, b.len, &p), 0);
    const char *t = b.data + p.content_offset + p.size;
    assert_int_equal(envelope_parse_tail(t, b.len - (size_t)(t - b.data), &p), 0);
    assert_int_equal(p.rcpts[1].status, RCPT_DEFERRED);
    assert_int_equal(p.rcpts[1].attempts, 3);
    assert_int_equal(p.rcpts[1].next_attempt, 1795509999000);
    assert_string_equal(p.rcpts[1].last_reply, "451 4.3.0 try later\r\nfake");
    assert_string_equal(p.rcpts[1].remote_mta, "mx1.remote.test");
    assert_string_equal(p.rcpts[1].tls, "TLSv1.3/TLS_AES_256_GCM_SHA384/verified");
    assert_true(p.hold);
    assert_false(envelope_done(&p));
    envelope_free(&p);
    envelope_free(&e);
    buf_free(&b);
    buf_free(&tail);
}

static void test_corrupt(void **st)
{
    (void)st;
    struct envelope p;
    envelope_init(&p);
    assert_int_equal(envelope_parse_head("garbage\n", 8, &p), -1);
    envelope_free(&p);
    envelope_init(&p);
    assert_int_equal(envelope_parse_head("postino-queue 1\nid X\n", 21, &p), 1); /* needs more */
    envelope_free(&p);
    envelope_init(&p);
    const char *bad = "postino-queue 1\nid X\nbogus 1\ndata\n";
    assert_int_equal(envelope_parse_head(bad, strlen(bad), &p), -1);
    envelope_free(&p);
    envelope_init(&p);
    const char *badrcpt = "postino-queue 1\nid X\nrcpt a@b 0 - 5 pending 0 0 0 - -\ndata\n";
    assert_int_equal(envelope_parse_head(badrcpt, strlen(badrcpt), &p), -1); /* bad parent */
    envelope_free(&p);
    envelope_init(&p);
    const char *extra = "postino-queue 1\nid X\nrcpt a@b 0 - -1 pending 0 0 0 - - - x\ndata\n";
    assert_int_equal(envelope_parse_head(extra, strlen(extra), &p), -1); /* a token too many */
    envelope_free(&p);
    envelope_init(&p);
    assert_int_equal(envelope_parse_tail("xyz\n", 4, &p), -1); /* truncated: no end marker */
    envelope_free(&p);
}

/* Files written before the TLS outcome was recorded: rcpt and state records one token shorter. */
static void test_records_without_tls(void **st)
{
    (void)st;
    struct envelope p;
    envelope_init(&p);
    const char *head = "postino-queue 1\nid X\nrcpt a@b 0 - -1 deferred 1 0 0 mx.b 451%204.0.0\n"
                       "data\n";
    assert_int_equal(envelope_parse_head(head, strlen(head), &p), 0);
    assert_int_equal(p.rcpts[0].status, RCPT_DEFERRED);
    assert_string_equal(p.rcpts[0].remote_mta, "mx.b");
    assert_null(p.rcpts[0].tls);
    const char *tail = "end\nstate 0 deferred 2 0 0 mx.c -\nstate 0 deferred 3 0 0 mx.d - none\n";
    assert_int_equal(envelope_parse_tail(tail, strlen(tail), &p), 0);
    assert_int_equal(p.rcpts[0].attempts, 3);
    assert_string_equal(p.rcpts[0].tls, "none");
    envelope_free(&p);
}

static void test_done(void **st)
{
    (void)st;
    struct envelope e;
    make(&e);
    assert_false(envelope_done(&e));
    e.rcpts[1].status = RCPT_FAILED;
    assert_true(envelope_done(&e));
    envelope_free(&e);
}

/* ENVID toward a next hop: the sender's own, else the queue id for submission and sendmail. */
static void test_envid_to_send(void **st)
{
    (void)st;
    struct envelope e;
    envelope_init(&e);
    strcpy(e.id, "6B05937F25CF26C1");
    e.sender = strdup("alice@example.org");
    assert_string_equal(envelope_envid_to_send(&e), "6B05937F25CF26C1"); /* sendmail: no client */
    e.client = strdup("192.0.2.1");
    assert_null(envelope_envid_to_send(&e));                             /* relayed for others */
    e.auth = strdup("alice");
    assert_string_equal(envelope_envid_to_send(&e), "6B05937F25CF26C1"); /* submission */
    e.envid = strdup("mine+1");
    assert_string_equal(envelope_envid_to_send(&e), "mine+1");           /* never replaced */
    free(e.envid);
    e.envid = NULL;
    e.sender[0] = '\0';
    assert_null(envelope_envid_to_send(&e));                             /* a notice */
    envelope_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip), cmocka_unit_test(test_no_line_injection),
        cmocka_unit_test(test_state_records), cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_records_without_tls),
        cmocka_unit_test(test_done), cmocka_unit_test(test_envid_to_send),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
