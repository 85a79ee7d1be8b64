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
#include <strings.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

static off_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

/* A committed message with one state record appended (attempts 1); its record's
 * bytes for attempts = 2 in next (the record the tests tear). */
static void torn_fixture(struct queue *q, struct envelope *e, char *path, struct buf *next)
{
    struct buf rec;
    assert_int_equal(queue_init(q, tmpdir), 0);
    new_env(e);
    commit(q, e, "Subject: t\r\n\r\nbody\r\n", path);
    e->rcpts[0].status = RCPT_DEFERRED;
    e->rcpts[0].attempts = 1;
    buf_init(&rec, BUF_UNLIMITED);
    envelope_format_state(e, 0, &rec);
    assert_int_equal(queue_append(q, e->id, rec.data, rec.len, 1), 0);
    buf_free(&rec);
    e->rcpts[0].attempts = 2;
    e->rcpts[0].last_reply = strdup("451 4.3.0 try again later");
    buf_init(next, BUF_UNLIMITED);
    envelope_format_state(e, 0, next);
}

/* Writes the first k bytes of rec at base (the file cut there first). */
static void tear_at(const char *path, off_t base, const struct buf *rec, size_t k)
{
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, base), 0);
    assert_int_equal(pwrite(fd, rec->data, k, base), (ssize_t)k);
    close(fd);
}

/* The message as loaded: attempts of its recipient, content intact. */
static unsigned loaded_attempts(const struct queue *q, const char *path)
{
    struct envelope l;
    char c[8] = {0};
    assert_int_equal(queue_load(path, &l), 0);
    assert_int_equal(l.size, 20);
    int fd = queue_open_content(q, &l);
    assert_int_equal(pread(fd, c, 7, (off_t)l.content_offset), 7);
    close(fd);
    assert_string_equal(c, "Subject");
    unsigned attempts = l.rcpts[0].attempts;
    envelope_free(&l);
    return attempts;
}

/* A last record torn at every byte offset is cut off at start, the earlier kept. */
static void test_torn_tail_every_offset(void **st)
{
    (void)st;
    struct queue q;
    struct envelope e, l;
    struct buf next;
    char path[PATH_MAX];
    torn_fixture(&q, &e, path, &next);
    off_t base = file_size(path);
    for (size_t k = 0; k <= next.len; k++) {
        tear_at(path, base, &next, k);
        int cut = -1;
        assert_int_equal(queue_load_repair(path, &l, &cut), 0);
        int whole = k == next.len;
        assert_int_equal(l.rcpts[0].attempts, whole ? 2 : 1);
        assert_int_equal(l.rcpts[0].status, RCPT_DEFERRED);
        assert_int_equal(cut, k > 0 && !whole);
        assert_int_equal(file_size(path), whole ? base + (off_t)next.len : base);
        envelope_free(&l);
        assert_int_equal(loaded_attempts(&q, path), whole ? 2 : 1);
    }
    buf_free(&next);
    envelope_free(&e);
    queue_fini(&q);
}

/* An append after a torn tail (the server down, `queue hold`) does not land after it. */
static void test_append_after_torn_tail(void **st)
{
    (void)st;
    struct queue q;
    struct envelope e;
    struct buf next;
    char path[PATH_MAX];
    torn_fixture(&q, &e, path, &next);
    off_t base = file_size(path);
    for (size_t k = 1; k < next.len; k++) {
        tear_at(path, base, &next, k);
        assert_int_equal(queue_append(&q, e.id, next.data, next.len, 1), 0);
        assert_int_equal(file_size(path), base + (off_t)next.len);
        assert_int_equal(loaded_attempts(&q, path), 2);
    }
    buf_free(&next);
    envelope_free(&e);
    queue_fini(&q);
}

/* In a child with a file size limit room bytes past the file's end (SIGXFSZ
 * ignored): the append's first write is short, the next fails with EFBIG, as on
 * a full disk. Exit 0 when queue_append failed with EFBIG. */
static void append_over_limit(const struct queue *q, const char *id, off_t end, size_t room,
                              const struct buf *rec)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl = {(rlim_t)end + room, (rlim_t)end + room};
        signal(SIGXFSZ, SIG_IGN);
        if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
            _exit(2);
        _exit(queue_append(q, id, rec->data, rec->len, 1) == -1 && errno == EFBIG ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* A short or failed append (a full disk) is cut back: the file is as before, and the
 * next append, once there is room, is read back whole. */
static void test_append_short_write(void **st)
{
    (void)st;
    struct queue q;
    struct envelope e;
    struct buf next;
    char path[PATH_MAX];
    torn_fixture(&q, &e, path, &next);
    off_t base = file_size(path);
    size_t rooms[] = {0, 1, 10, next.len - 1};
    for (size_t i = 0; i < sizeof rooms / sizeof rooms[0]; i++) {
        append_over_limit(&q, e.id, base, rooms[i], &next);
        assert_int_equal(file_size(path), base);
        assert_int_equal(loaded_attempts(&q, path), 1);
    }
    assert_int_equal(queue_append(&q, e.id, next.data, next.len, 1), 0);
    assert_int_equal(loaded_attempts(&q, path), 2);
    buf_free(&next);
    envelope_free(&e);
    queue_fini(&q);
}

/* Storage errors are "mail system full" (452 4.3.1), others 451 4.3.0. */
/* keep(): leaves out every X-Drop field */
static int keep_no_xdrop(const char *field, size_t n, void *arg)
{
    (void)arg;
    return !(n >= 7 && strncasecmp(field, "X-Drop:", 7) == 0);
}

/* The content of the committed file at path, as queue_load sees it. */
static char *load_content(const char *path, struct envelope *l)
{
    assert_int_equal(queue_load(path, l), 0);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    char *c = calloc(1, (size_t)l->size + 1);
    assert_int_equal(pread(fd, c, (size_t)l->size, (off_t)l->content_offset), (ssize_t)l->size);
    close(fd);
    return c;
}

/* Fields on top, a forged one (folded) left out, the body intact, the size right;
 * also over a recycled (pooled) file that was longer than the new message. */
static void test_rewrite(void **st)
{
    (void)st;
    struct queue q;
    assert_int_equal(queue_init(&q, tmpdir), 0);
    for (int round = 0; round < 2; round++) {
        struct envelope e, l;
        struct queue_writer w;
        new_env(&e);
        assert_int_equal(queue_writer_open(&q, &e, &w), 0);
        assert_int_equal(w.recycled, round);
        const char *msg = "Received: by x\r\nX-Drop: forged\r\n\tstill forged\r\n"
                          "Subject: t\r\nX-Drop: again\r\n\r\nX-Drop: body, kept\r\n";
        queue_writer_write(&w, msg, strlen(msg));
        assert_int_equal(queue_writer_finish(&w), 0);
        struct queue_rewrite r = {.fields = "A-R: one\r\nB: two\r\n", .n = 18,
                                  .keep = keep_no_xdrop};
        assert_int_equal(queue_writer_rewrite(&w, &r), 0);
        assert_int_equal(fsync(w.fd), 0);
        assert_int_equal(queue_writer_publish(&w), 0);
        char *c = load_content(w.path, &l);
        assert_string_equal(c, "A-R: one\r\nB: two\r\nReceived: by x\r\nSubject: t\r\n\r\n"
                               "X-Drop: body, kept\r\n");
        free(c);
        envelope_free(&l);
        char tmp[PATH_MAX + 8];
        snprintf(tmp, sizeof tmp, "%s.pre", w.tmp_path);
        assert_int_equal(access(tmp, F_OK), -1);
        if (round == 0) /* back to the pool for the second round, with a longer file */
            assert_int_equal(queue_retire(&q, e.id), 0);
        envelope_free(&e);
    }
    queue_fini(&q);
}

/* Only fields, no keep(): the content follows unchanged; nothing at all: no rewrite. */
static void test_rewrite_fields_only(void **st)
{
    (void)st;
    struct queue q;
    struct envelope e, l;
    struct queue_writer w;
    assert_int_equal(queue_init(&q, tmpdir), 0);
    new_env(&e);
    assert_int_equal(queue_writer_open(&q, &e, &w), 0);
    queue_writer_write(&w, "Subject: s\r\n\r\nbody\r\n", 20);
    assert_int_equal(queue_writer_finish(&w), 0);
    int before = w.fd;
    struct queue_rewrite none = {0};
    assert_int_equal(queue_writer_rewrite(&w, &none), 0);
    assert_int_equal(w.fd, before);
    struct queue_rewrite r = {.fields = "X: y\r\n", .n = 6};
    assert_int_equal(queue_writer_rewrite(&w, &r), 0);
    assert_int_equal(queue_writer_publish(&w), 0);
    char *c = load_content(w.path, &l);
    assert_string_equal(c, "X: y\r\nSubject: s\r\n\r\nbody\r\n");
    assert_int_equal(l.size, 26);
    free(c);
    envelope_free(&l);
    envelope_free(&e);
    queue_fini(&q);
}

static void test_error_reply(void **st)
{
    (void)st;
    assert_string_equal(queue_error_reply(ENOSPC), "452 4.3.1 Error: insufficient system storage");
    assert_true(queue_error_full(EDQUOT));
    assert_true(queue_error_full(EFBIG));
    assert_false(queue_error_full(EIO));
    assert_int_equal(strncmp(queue_error_reply(EIO), "451 4.3.0 ", 10), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids),
        cmocka_unit_test_setup_teardown(test_commit_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_cleans_tmp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_every_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_after_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_short_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rewrite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rewrite_fields_only, setup, teardown),
        cmocka_unit_test(test_error_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
