/* Unit tests for mail/queue: write, publish, load, append, torn files, start-up clean-up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/fsio.h"
#include "mail/queue.h"
#include "testutil.h"

TESTUTIL_TMPDIR_FIXTURES("queue")

static void new_env(struct envelope *e)
{
    envelope_init(e);
    queue_new_id(e->id);
    e->arrival = 1000;
    e->sender = strdup("a@b.c");
    envelope_add_rcpt(e, "bob@example.test", NOTIFY_DELAY, "rfc822;bob@example.test", -1,
                      RCPT_PENDING);
}

/* Writes and publishes a message; returns its path in path. */
static void commit(struct queue *q, struct envelope *e, const char *content, char *path)
{
    struct queue_writer w;
    assert_int_equal(queue_writer_open(q, e, &w), 0);
    queue_writer_write(&w, content, strlen(content));
    assert_int_equal(queue_writer_finish(&w), 0);
    assert_int_equal(fsync(w.fd), 0);
    assert_int_equal(queue_writer_publish(&w), 0);
    assert_int_equal(fsio_fsync_dir(w.dir), 0);
    snprintf(path, PATH_MAX, "%s", w.path);
}

static void test_ids(void **st)
{
    (void)st;
    char a[QUEUE_ID_MAX + 1], b[QUEUE_ID_MAX + 1];
    queue_new_id(a);
    queue_new_id(b);
    assert_int_equal(strlen(a), 16);
    assert_string_not_equal(a, b);
}

static void test_commit_load(void **st)
{
    (void)st;
    struct queue q;
    struct envelope e, l;
    char path[PATH_MAX];
    assert_int_equal(queue_init(&q, tmpdir), 0);
    new_env(&e);
    commit(&q, &e, "Subject: t\r\n\r\nbody\r\n", path);
    assert_int_equal(queue_load(path, &l), 0);
    assert_string_equal(l.id, e.id);
    assert_int_equal(l.size, 20);
    assert_int_equal(l.rcpts[0].notify, NOTIFY_DELAY);
    /* append a state change, then a torn one */
    l.rcpts[0].status = RCPT_DEFERRED;
    l.rcpts[0].attempts = 1;
    struct buf rec;
    buf_init(&rec, BUF_UNLIMITED);
    envelope_format_state(&l, 0, &rec);
    assert_int_equal(queue_append(&q, l.id, rec.data, rec.len, 1), 0);
    assert_int_equal(queue_append(&q, l.id, "state 0 deliv", 13, 1), 0);
    envelope_free(&l);
    assert_int_equal(queue_load(path, &l), 0);
    assert_int_equal(l.rcpts[0].status, RCPT_DEFERRED);
    assert_int_equal(l.rcpts[0].attempts, 1);
    /* the content is where the envelope says */
    int fd = queue_open_content(&q, &l);
    char c[8] = {0};
    assert_int_equal(pread(fd, c, 7, (off_t)l.content_offset), 7);
    assert_string_equal(c, "Subject");
    close(fd);
    assert_int_equal(queue_remove(&q, l.id), 0);
    assert_int_equal(queue_remove(&q, l.id), 0); /* ENOENT is fine */
    envelope_free(&l);
    envelope_free(&e);
    buf_free(&rec);
    queue_fini(&q);
}

static int count_cb(void *ctx, const char *path, const char *id)
{
    (void)path;
    (void)id;
    (*(int *)ctx)++;
    return 0;
}

static void test_scan_cleans_tmp(void **st)
{
    (void)st;
    struct queue q;
    struct envelope e;
    char path[PATH_MAX], tmp[PATH_MAX];
    assert_int_equal(queue_init(&q, tmpdir), 0);
    new_env(&e);
    commit(&q, &e, "x\r\n", path);
    /* a crash mid-write leaves a .tmp: it is removed and never listed */
    struct envelope e2;
    new_env(&e2);
    struct queue_writer w;
    assert_int_equal(queue_writer_open(&q, &e2, &w), 0);
    queue_writer_write(&w, "partial", 7);
    snprintf(tmp, sizeof tmp, "%s", w.tmp_path);
    close(w.fd);
    buf_free(&w.pending);
    int n = 0;
    assert_int_equal(queue_scan(&q, 1, count_cb, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(access(tmp, F_OK), -1);
    /* a file truncated inside its content fails to load */
    struct envelope l;
    assert_int_equal(truncate(path, 60), 0);
    assert_int_equal(queue_load(path, &l), -1);
    envelope_free(&e);
    envelope_free(&e2);
    queue_fini(&q);
}

static void test_abort(void **st)
{
    (void)st;
    struct queue q;
    struct envelope e;
    struct queue_writer w;
    assert_int_equal(queue_init(&q, tmpdir), 0);
    new_env(&e);
    assert_int_equal(queue_writer_open(&q, &e, &w), 0);
    queue_writer_abort(&w);
    assert_int_equal(access(w.tmp_path, F_OK), -1);
    envelope_free(&e);
    queue_fini(&q);
}

/* A retired file is reused for the next message; a shorter message is not polluted by the old tail. */
static void test_recycle(void **st)
{
    (void)st;
    struct queue q;
    struct envelope e1, e2, l;
    char p1[PATH_MAX], p2[PATH_MAX], pooled[PATH_MAX + 64];
    assert_int_equal(queue_init(&q, tmpdir), 0);
    new_env(&e1);
    commit(&q, &e1, "Subject: a long first message\r\n\r\nwith a long body indeed\r\n", p1);
    assert_int_equal(queue_retire(&q, e1.id), 0);
    assert_int_equal(access(p1, F_OK), -1);
    snprintf(pooled, sizeof pooled, "%s/pool/%s", q.dir, e1.id);
    assert_int_equal(access(pooled, F_OK), 0);
    assert_int_equal(q.pool_n, 1);
    new_env(&e2);
    commit(&q, &e2, "x\r\n", p2);
    assert_int_equal(q.pool_n, 0);
    assert_int_equal(access(pooled, F_OK), -1); /* the pooled file became the new message */
    assert_int_equal(queue_load(p2, &l), 0);
    assert_int_equal(l.size, 3);
    assert_string_equal(l.id, e2.id);
    envelope_free(&l);
    /* the pool survives a restart */
    assert_int_equal(queue_retire(&q, e2.id), 0);
    queue_fini(&q);
    assert_int_equal(queue_init(&q, tmpdir), 0);
    assert_int_equal(q.pool_n, 1);
    /* an aborted writer gives its pooled file back */
    struct queue_writer w;
    assert_int_equal(queue_writer_open(&q, &e1, &w), 0);
    assert_true(w.recycled);
    queue_writer_abort(&w);
    assert_int_equal(q.pool_n, 1);
    envelope_free(&e1);
    envelope_free(&e2);
    queue_fini(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids),
        cmocka_unit_test_setup_teardown(test_commit_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_cleans_tmp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recycle, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
