/* Unit tests for mail/queue_list: the listing of `queue list` and of the read-only socket,
 * golden outputs (human and --json), directory order, held marker, empty queue, steps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/str.h"
#include "mail/queue.h"
#include "mail/queue_list.h"
#include "testutil.h"

TESTUTIL_TMPDIR_FIXTURES("queue_list")

/* Queues a message with a fixed id and arrival, recipients as given. */
static void put(struct queue *q, const char *id, int64_t arrival, const char *sender,
                struct env_rcpt *rcpts, size_t n, int hold)
{
    struct envelope e;
    struct queue_writer w;
    const char *content = "Subject: t\r\n\r\nbody\r\n";
    envelope_init(&e);
    str_copy(e.id, sizeof e.id, id);
    e.arrival = arrival;
    e.sender = strdup(sender);
    e.hold = hold;
    for (size_t i = 0; i < n; i++) {
        envelope_add_rcpt(&e, rcpts[i].addr, rcpts[i].notify, rcpts[i].orcpt, -1, rcpts[i].status);
        e.rcpts[i].attempts = rcpts[i].attempts;
        e.rcpts[i].next_attempt = rcpts[i].next_attempt;
        e.rcpts[i].last_reply = rcpts[i].last_reply ? strdup(rcpts[i].last_reply) : NULL;
    }
    assert_int_equal(queue_writer_open(q, &e, &w), 0);
    queue_writer_write(&w, content, strlen(content));
    assert_int_equal(queue_writer_finish(&w), 0);
    assert_int_equal(queue_writer_publish(&w), 0);
    envelope_free(&e);
}

static void fill(void)
{
    struct queue q;
    assert_int_equal(queue_init(&q, tmpdir), 0);
    struct env_rcpt late[] = {
        {.addr = "far@remote.test", .status = RCPT_DEFERRED, .attempts = 2,
         .next_attempt = 1795513085571, .last_reply = "451 4.3.0 try\x01later",
         .notify = NOTIFY_FAILURE | NOTIFY_DELAY, .orcpt = "rfc822;far@remote.test"},
        {.addr = "done@example.test", .status = RCPT_DELIVERED},
    };
    struct env_rcpt early[] = {{.addr = "x@remote.test", .status = RCPT_PENDING}};
    put(&q, "6B0000000000AA02", 1795509486000, "a@b.test", late, 2, 1);
    put(&q, "6B0000000000AA01", 1795509485571, "", early, 1, 0);
    queue_fini(&q);
}

static void test_human(void **st)
{
    (void)st;
    struct buf out;
    fill();
    buf_init(&out, BUF_UNLIMITED);
    assert_int_equal(queue_list_format(tmpdir, 0, &out, NULL), 0);
    assert_string_equal(buf_cstr(&out),
        "-Queue ID-        -Size-  -Arrival Time-        -Sender/Recipient-\n"
        "6B0000000000AA01      20  2026-11-24T08:38:05Z  <>\n"
        "                                                pending   x@remote.test\n"
        "\n"
        "6B0000000000AA02!     20  2026-11-24T08:38:06Z  a@b.test\n"
        "                                                deferred  far@remote.test\n"
        "                                                          (451 4.3.0 try?later)\n"
        "\n"
        "-- 1 Kbytes in 2 Requests.\n");
    buf_free(&out);
}

static void test_json(void **st)
{
    (void)st;
    struct buf out;
    fill();
    buf_init(&out, BUF_UNLIMITED);
    assert_int_equal(queue_list_format(tmpdir, 1, &out, NULL), 0);
    assert_string_equal(buf_cstr(&out),
        "{\"id\":\"6B0000000000AA01\",\"sender\":\"\",\"size\":20,"
        "\"arrival\":\"2026-11-24T08:38:05Z\",\"hold\":false,\"ret\":null,\"envid\":null,"
        "\"recipients\":[{\"address\":\"x@remote.test\",\"status\":\"pending\",\"notify\":null,"
        "\"orcpt\":null,\"attempts\":0,\"next_attempt\":null,\"last_reply\":null,"
        "\"remote_mta\":null,\"tls\":null}]}\n"
        "{\"id\":\"6B0000000000AA02\",\"sender\":\"a@b.test\",\"size\":20,"
        "\"arrival\":\"2026-11-24T08:38:06Z\",\"hold\":true,\"ret\":null,\"envid\":null,"
        "\"recipients\":[{\"address\":\"far@remote.test\",\"status\":\"deferred\","
        "\"notify\":\"FAILURE,DELAY\",\"orcpt\":\"rfc822;far@remote.test\",\"attempts\":2,"
        "\"next_attempt\":\"2026-11-24T09:38:05Z\",\"last_reply\":\"451 4.3.0 try\\u0001later\","
        "\"remote_mta\":null,\"tls\":null},{\"address\":\"done@example.test\",\"status\":\"delivered\","
        "\"notify\":null,\"orcpt\":null,\"attempts\":0,\"next_attempt\":null,"
        "\"last_reply\":null,\"remote_mta\":null,\"tls\":null}]}\n");
    buf_free(&out);
}

static void test_empty_and_missing(void **st)
{
    (void)st;
    struct buf out;
    char missing[128];
    buf_init(&out, BUF_UNLIMITED);
    str_fmt(missing, sizeof missing, "%s/none", tmpdir);
    assert_int_equal(queue_list_format(missing, 0, &out, NULL), 0);
    assert_string_equal(buf_cstr(&out), "Mail queue is empty\n");
    buf_reset(&out);
    assert_int_equal(queue_list_format(missing, 1, &out, NULL), 0);
    assert_int_equal(out.len, 0);
    buf_free(&out);
}

/* A data_dir whose queue is not a directory: the error is returned with errno, not hidden. */
static void test_error(void **st)
{
    (void)st;
    struct buf out;
    char path[128];
    str_fmt(path, sizeof path, "%s/queue", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    buf_init(&out, BUF_UNLIMITED);
    assert_int_equal(queue_list_format(tmpdir, 0, &out, NULL), -1);
    assert_int_equal(errno, ENOTDIR);
    buf_free(&out);
}

/* Taken in the smallest steps, the listing is the same as taken whole; a damaged file
 * is counted, not listed. */
static void test_steps(void **st)
{
    (void)st;
    struct buf whole, part, note;
    char path[256];
    fill();
    str_fmt(path, sizeof path, "%s/queue/03/6B0000000000AA03", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("not a queue file\n", f);
    fclose(f);
    for (int json = 0; json <= 1; json++) {
        struct queue_list_stream s;
        int r, steps = 0;
        buf_init(&whole, BUF_UNLIMITED);
        buf_init(&part, BUF_UNLIMITED);
        buf_init(&note, BUF_UNLIMITED);
        assert_int_equal(queue_list_format(tmpdir, json, &whole, &note), 0);
        assert_int_equal(queue_list_open(&s, tmpdir, json), 0);
        while ((r = queue_list_next(&s, &part, 1)) > 0)
            steps++;
        assert_int_equal(r, 0);
        assert_true(steps >= 2);
        assert_int_equal(s.walk.unreadable, 1);
        queue_list_close(&s);
        assert_string_equal(buf_cstr(&part), buf_cstr(&whole));
        assert_non_null(strstr(buf_cstr(json ? &note : &whole), "1 unreadable queue file in"));
        buf_free(&whole);
        buf_free(&part);
        buf_free(&note);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_human, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_steps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_and_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
