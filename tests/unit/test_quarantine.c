/* Unit tests for mail/quarantine: damaged queue files move to corrupt/, a replacement
 * with the waiting recipients failed takes their place when the head can be read. */
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
#include <sys/stat.h>
#include <unistd.h>
#include "lib/fsio.h"
#include "mail/quarantine.h"
#include "testutil.h"

TESTUTIL_TMPDIR_FIXTURES("quarantine")

#define CONTENT "Subject: q\r\nMessage-ID: <q@t>\r\n\r\nbody line\r\n"

/* A queued message for two recipients, the first delivered, the second deferred. */
static void queued(struct queue *q, struct envelope *e, char *path)
{
    struct queue_writer w;
    struct buf rec;
    assert_int_equal(queue_init(q, tmpdir), 0);
    envelope_init(e);
    queue_new_id(e->id);
    e->arrival = 1000;
    e->sender = strdup("alice@example.test");
    e->ret = DSN_RET_FULL;
    envelope_add_rcpt(e, "done@example.test", 0, NULL, -1, RCPT_PENDING);
    envelope_add_rcpt(e, "wait@r.test", 0, NULL, -1, RCPT_PENDING);
    assert_int_equal(queue_writer_open(q, e, &w), 0);
    queue_writer_write(&w, CONTENT, strlen(CONTENT));
    assert_int_equal(queue_writer_finish(&w), 0);
    assert_int_equal(queue_writer_publish(&w), 0);
    snprintf(path, PATH_MAX, "%s", w.path);
    e->rcpts[0].status = RCPT_DELIVERED;
    e->rcpts[1].status = RCPT_DEFERRED;
    buf_init(&rec, BUF_UNLIMITED);
    envelope_format_state(e, 0, &rec);
    envelope_format_state(e, 1, &rec);
    assert_int_equal(queue_append(q, e->id, rec.data, rec.len, 1), 0);
    buf_free(&rec);
}

/* Writes raw bytes at the end of path (no repair: how old versions tore files). */
static void append_raw(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
    close(fd);
}

static char *slurp(const char *path, size_t *n)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    assert_int_equal(fsio_read_file(path, &b, 1 << 20), 0);
    *n = b.len;
    return b.data;
}

/* The replacement as loaded: the deferred recipient failed, the delivered one kept. */
static void check_replacement(const char *path, const char *id, int intact)
{
    struct envelope l;
    assert_int_equal(queue_load(path, &l), 0);
    assert_string_equal(l.id, id);
    assert_string_equal(l.sender, "alice@example.test");
    assert_int_equal(l.rcpts[0].status, RCPT_DELIVERED);
    assert_int_equal(l.rcpts[1].status, RCPT_FAILED);
    assert_string_equal(l.rcpts[1].last_reply, "5.3.0 " QUARANTINE_REASON);
    assert_int_equal(l.ret, intact ? DSN_RET_FULL : DSN_RET_HDRS);
    const char *want = intact ? CONTENT : "Subject: q\r\nMessage-ID: <q@t>\r\n\r\n";
    assert_int_equal(l.size, strlen(want));
    size_t n;
    char *all = slurp(path, &n);
    assert_memory_equal(all + l.content_offset, want, strlen(want));
    free(all);
    envelope_free(&l);
}

/* A record merged with a torn one (an append after a torn tail, before the fix). */
static void test_damaged_record(void **st)
{
    (void)st;
    struct queue q;
    struct envelope e, l;
    char path[PATH_MAX], moved[PATH_MAX], dir[PATH_MAX];
    queued(&q, &e, path);
    append_raw(path, "state 1 deferstate 1 deferred 2 0 0 - -\n");
    assert_int_equal(queue_load(path, &l), -1);
    assert_int_equal(errno, EINVAL);
    size_t n_before;
    char *before = slurp(path, &n_before);
    assert_int_equal(quarantine_file(&q, tmpdir, path, e.id, moved, sizeof moved), 1);
    quarantine_dir(tmpdir, dir, sizeof dir);
    assert_int_equal(strncmp(moved, dir, strlen(dir)), 0);
    size_t n_moved;
    char *after = slurp(moved, &n_moved); /* kept byte for byte */
    assert_int_equal(n_moved, n_before);
    assert_memory_equal(after, before, n_before);
    check_replacement(path, e.id, 1);
    assert_int_equal(quarantine_count(tmpdir), 1);
    free(before);
    free(after);
    envelope_free(&e);
    queue_fini(&q);
}

/* A crash after the link into corrupt/: the next start carries on, no second copy. */
static void test_linked_before_crash(void **st)
{
    (void)st;
    struct queue q;
    struct envelope e;
    char path[PATH_MAX], moved[PATH_MAX], dir[PATH_MAX], first[PATH_MAX + 32];
    queued(&q, &e, path);
    append_raw(path, "bogus record\n");
    quarantine_dir(tmpdir, dir, sizeof dir);
    assert_int_equal(fsio_mkdir_p(dir, 0700), 0);
    snprintf(first, sizeof first, "%s/%s", dir, e.id);
    assert_int_equal(link(path, first), 0);
    assert_int_equal(quarantine_file(&q, tmpdir, path, e.id, moved, sizeof moved), 1);
    assert_string_equal(moved, first);
    assert_int_equal(quarantine_count(tmpdir), 1);
    check_replacement(path, e.id, 1);
    envelope_free(&e);
    queue_fini(&q);
}

/* Content cut short (no "end"): the header section is returned, RET=HDRS. */
static void test_content_cut(void **st)
{
    (void)st;
    struct queue q;
    struct envelope e, l;
    char path[PATH_MAX], moved[PATH_MAX];
    queued(&q, &e, path);
    assert_int_equal(queue_load(path, &l), 0);
    assert_int_equal(truncate(path, (off_t)(l.content_offset + l.size - 3)), 0);
    envelope_free(&l);
    assert_int_equal(quarantine_file(&q, tmpdir, path, e.id, moved, sizeof moved), 1);
    struct envelope r;
    assert_int_equal(queue_load(path, &r), 0);
    /* the records after the content are lost with it: both recipients were pending */
    assert_int_equal(r.rcpts[0].status, RCPT_FAILED);
    assert_int_equal(r.ret, DSN_RET_HDRS);
    envelope_free(&r);
    envelope_free(&e);
    queue_fini(&q);
}

/* No readable head: moved, nothing left in the queue; a second one gets its own name. */
static void test_bad_head(void **st)
{
    (void)st;
    struct queue q;
    char path[PATH_MAX], moved[PATH_MAX], first[PATH_MAX];
    assert_int_equal(queue_init(&q, tmpdir), 0);
    assert_int_equal(queue_path(&q, "0123456789ABCDEF", path, sizeof path), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(fsio_write_atomic(path, "postino-queue 1\nbogus\n", 22), 0);
        assert_int_equal(quarantine_file(&q, tmpdir, path, "0123456789ABCDEF", moved,
                                         sizeof moved), 0);
        assert_int_equal(access(path, F_OK), -1);
        assert_int_equal(access(moved, F_OK), 0);
        if (i == 0)
            snprintf(first, sizeof first, "%s", moved);
    }
    assert_string_not_equal(moved, first);
    assert_int_equal(quarantine_count(tmpdir), 2);
    queue_fini(&q);
}

static void test_count_none(void **st)
{
    (void)st;
    assert_int_equal(quarantine_count(tmpdir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_damaged_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_linked_before_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_content_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_count_none, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
