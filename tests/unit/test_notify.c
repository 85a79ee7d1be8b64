/* Unit tests for mail/notify: which notices RFC 3461 owes, and only once; whose
 * words a recipient's last reply holds (a server's, or postino's own). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "mail/notify.h"

#define HOUR 3600000LL

static void env(struct envelope *e, const char *sender)
{
    envelope_init(e);
    e->sender = strdup(sender);
    e->arrival = 1000;
}

static enum notify_kind owed(struct envelope *e, unsigned notify, enum rcpt_status st,
                             int64_t now)
{
    size_t i = envelope_add_rcpt(e, "r@x.test", notify, NULL, -1, st);
    return notify_owed(e, i, now, 4 * HOUR);
}

static void test_failed(void **st)
{
    (void)st;
    struct envelope e;
    env(&e, "s@y.test");
    assert_int_equal(owed(&e, 0, RCPT_FAILED, 2000), NOTIFY_FAILED);           /* default */
    assert_int_equal(owed(&e, NOTIFY_FAILURE, RCPT_FAILED, 2000), NOTIFY_FAILED);
    assert_int_equal(owed(&e, NOTIFY_SUCCESS, RCPT_FAILED, 2000), NOTIFY_NONE);
    assert_int_equal(owed(&e, NOTIFY_NEVER, RCPT_FAILED, 2000), NOTIFY_NONE);
    e.rcpts[0].dsn_sent = NOTIFY_FAILURE;
    assert_int_equal(notify_owed(&e, 0, 2000, 4 * HOUR), NOTIFY_NONE);         /* once */
    envelope_free(&e);
}

static void test_null_sender_never(void **st)
{
    (void)st;
    struct envelope e;
    env(&e, "");
    assert_int_equal(owed(&e, 0, RCPT_FAILED, 2000), NOTIFY_NONE);
    assert_int_equal(owed(&e, NOTIFY_SUCCESS, RCPT_DELIVERED, 2000), NOTIFY_NONE);
    assert_false(notify_any_owed(&e, 2000, 4 * HOUR));
    envelope_free(&e);
}

static void test_success_kinds(void **st)
{
    (void)st;
    struct envelope e;
    env(&e, "s@y.test");
    assert_int_equal(owed(&e, 0, RCPT_DELIVERED, 2000), NOTIFY_NONE);
    assert_int_equal(owed(&e, NOTIFY_SUCCESS, RCPT_DELIVERED, 2000), NOTIFY_DELIVERED);
    assert_int_equal(owed(&e, NOTIFY_SUCCESS, RCPT_RELAYED, 2000), NOTIFY_RELAYED);
    size_t i = envelope_add_rcpt(&e, "r@x.test", NOTIFY_SUCCESS, NULL, -1, RCPT_RELAYED);
    e.rcpts[i].dsn_sent = NOTIFY_PASSED_ON; /* the next hop speaks DSN */
    assert_int_equal(notify_owed(&e, i, 2000, 4 * HOUR), NOTIFY_NONE);
    envelope_free(&e);
}

static void test_expanded(void **st)
{
    (void)st;
    struct envelope e;
    env(&e, "s@y.test");
    envelope_add_rcpt(&e, "list@x.test", NOTIFY_SUCCESS, NULL, -1, RCPT_EXPANDED);
    envelope_add_rcpt(&e, "a@x.test", NOTIFY_FAILURE, NULL, 0, RCPT_PENDING);
    assert_int_equal(notify_owed(&e, 0, 2000, 4 * HOUR), NOTIFY_NONE); /* a forward */
    envelope_add_rcpt(&e, "b@x.test", NOTIFY_FAILURE, NULL, 0, RCPT_PENDING);
    assert_int_equal(notify_owed(&e, 0, 2000, 4 * HOUR), NOTIFY_EXPANDED);
    envelope_free(&e);
}

static void test_delayed(void **st)
{
    (void)st;
    struct envelope e;
    env(&e, "s@y.test");
    assert_int_equal(owed(&e, 0, RCPT_DEFERRED, 1000 + HOUR), NOTIFY_NONE);    /* too early */
    assert_int_equal(owed(&e, 0, RCPT_DEFERRED, 1000 + 4 * HOUR), NOTIFY_DELAYED);
    assert_int_equal(owed(&e, NOTIFY_FAILURE, RCPT_DEFERRED, 1000 + 5 * HOUR), NOTIFY_NONE);
    assert_int_equal(owed(&e, NOTIFY_DELAY, RCPT_PENDING, 1000 + 5 * HOUR), NOTIFY_DELAYED);
    size_t i = envelope_add_rcpt(&e, "r@x.test", 0, NULL, -1, RCPT_DEFERRED);
    assert_int_equal(notify_owed(&e, i, 1000 + 5 * HOUR, 0), NOTIFY_NONE);      /* 0 = never */
    e.rcpts[i].dsn_sent = NOTIFY_DELAY;
    assert_int_equal(notify_owed(&e, i, 1000 + 5 * HOUR, 4 * HOUR), NOTIFY_NONE);
    envelope_free(&e);
}

/* A recipient with last reply `reply`, from `remote` (or NULL), dsn_sent bits. */
static struct env_rcpt *replied(struct envelope *e, const char *remote, const char *reply,
                                unsigned bits)
{
    size_t i = envelope_add_rcpt(e, "r@x.test", 0, NULL, -1, RCPT_FAILED);
    struct env_rcpt *r = &e->rcpts[i];
    r->remote_mta = remote ? strdup(remote) : NULL;
    r->last_reply = reply ? strdup(reply) : NULL;
    r->dsn_sent = bits;
    return r;
}

/* own reason of r, "" for none (freed here) compared with want. */
static void assert_own(const struct env_rcpt *r, const char *want)
{
    char *own = notify_own_reason(r);
    assert_string_equal(own ? own : "", want);
    free(own);
}

/* What a server said is told apart from postino's own decisions. */
static void test_remote_reply(void **st)
{
    (void)st;
    struct envelope e;
    env(&e, "s@y.test");
    const char *size = "5.3.4 the message of 5000 bytes is larger than the limit of 1000 bytes "
                       "advertised by mx.x.test[192.0.2.1], so postino did not send it";
    struct env_rcpt *r = replied(&e, "mx.x.test[192.0.2.1]", "550 5.1.1 gone", 0);
    assert_string_equal(notify_remote_reply(r), "550 5.1.1 gone");
    assert_own(r, "");
    /* postino's own text with an SMTP code, from a connection to a named hop */
    r = replied(&e, "mx.x.test[192.0.2.1]", "552 5.3.4 too big", NOTIFY_OWN_REPLY);
    assert_null(notify_remote_reply(r));
    assert_own(r, "552 5.3.4 too big");
    r = replied(&e, "mx.x.test[192.0.2.1]", size, NOTIFY_OWN_REPLY);
    assert_null(notify_remote_reply(r));
    assert_own(r, size);
    r = replied(&e, NULL, "550 5.1.1 no such mailbox here", 0);     /* local */
    assert_null(notify_remote_reply(r));
    assert_own(r, "550 5.1.1 no such mailbox here");
    r = replied(&e, NULL, "5.1.2 no such domain", 0);                 /* DNS */
    assert_null(notify_remote_reply(r));
    r = replied(&e, "mx.x.test[192.0.2.1]",
                "4.4.7 delivery time expired; last error: 451 4.3.0 busy", 0);
    assert_string_equal(notify_remote_reply(r), "451 4.3.0 busy");
    assert_own(r, "4.4.7 delivery time expired");
    r = replied(&e, "mx.x.test[192.0.2.1]",
                "4.4.7 delivery time expired; last error: 451 4.3.0 busy", NOTIFY_OWN_REPLY);
    assert_null(notify_remote_reply(r));
    assert_own(r, "4.4.7 delivery time expired; last error: 451 4.3.0 busy");
    /* a server's reply that happens to contain our expiry wording is still all its own */
    r = replied(&e, "mx.x.test[192.0.2.1]", "550 5.7.1 no; last error: 250 ok", 0);
    assert_string_equal(notify_remote_reply(r), "550 5.7.1 no; last error: 250 ok");
    assert_own(r, "");
    r = replied(&e, "mx.x.test[192.0.2.1]", NULL, 0);
    assert_null(notify_remote_reply(r));
    assert_own(r, "");
    envelope_free(&e);
}

/* Queue file text of e (no content) with extra records appended after "end". */
static void queue_text(const struct envelope *e, const char *records, struct buf *out)
{
    size_t size_offset;
    assert_int_equal(envelope_format_head(e, out, &size_offset), 0);
    assert_int_equal(buf_appends(out, "end\n"), 0);
    assert_int_equal(buf_appends(out, records), 0);
}

static void reload(const struct buf *text, struct envelope *e)
{
    envelope_init(e);
    assert_int_equal(envelope_parse_head(text->data, text->len, e), 0);
    assert_int_equal(envelope_parse_tail(text->data + e->content_offset,
                                         text->len - e->content_offset, e), 0);
}

/* Whose words the last reply holds survives a restart; files from before load. */
static void test_reply_origin_persists(void **st)
{
    (void)st;
    struct envelope e, back;
    struct buf text, rec;
    env(&e, "s@y.test");
    memcpy(e.id, "0123456789ABCDEF", 17);
    envelope_add_rcpt(&e, "r@x.test", 0, NULL, -1, RCPT_PENDING);
    buf_init(&rec, BUF_UNLIMITED);
    buf_init(&text, BUF_UNLIMITED);
    struct env_rcpt *r = &e.rcpts[0];
    r->status = RCPT_FAILED;
    r->remote_mta = strdup("mx.x.test[192.0.2.1]");
    r->last_reply = strdup("552 5.3.4 over the advertised SIZE");
    r->dsn_sent = NOTIFY_OWN_REPLY;
    assert_int_equal(envelope_format_state(&e, 0, &rec), 0);
    queue_text(&e, buf_cstr(&rec), &text);
    reload(&text, &back);
    assert_int_equal(back.rcpts[0].dsn_sent, NOTIFY_OWN_REPLY);
    assert_null(notify_remote_reply(&back.rcpts[0]));
    assert_own(&back.rcpts[0], "552 5.3.4 over the advertised SIZE");
    envelope_free(&back);
    /* a state record written before the bit existed: a coded reply of a named
     * server is that server's, as it always was */
    buf_reset(&text);
    queue_text(&e, "state 0 failed 1 0 0 mx.x.test 550%205.1.1%20gone\n", &text);
    reload(&text, &back);
    assert_string_equal(notify_remote_reply(&back.rcpts[0]), "550 5.1.1 gone");
    envelope_free(&back);
    buf_free(&text);
    buf_free(&rec);
    envelope_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failed),         cmocka_unit_test(test_null_sender_never),
        cmocka_unit_test(test_success_kinds),  cmocka_unit_test(test_expanded),
        cmocka_unit_test(test_delayed),        cmocka_unit_test(test_remote_reply),
        cmocka_unit_test(test_reply_origin_persists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
