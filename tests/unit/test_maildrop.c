/* Unit tests for mail/maildrop: drop file names, envelope checks, write and read back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "mail/maildrop.h"
#include "testutil.h"

TESTUTIL_TMPDIR_FIXTURES("maildrop")

static void test_name_id(void **st)
{
    (void)st;
    char id[QUEUE_ID_MAX + 1];
    assert_int_equal(maildrop_name_id("6B05937F25CF26C1.0123456789abcdef", id), 0);
    assert_string_equal(id, "6B05937F25CF26C1");
    static const char *bad[] = {
        "",
        "6B05937F25CF26C.0123456789abcdef",    /* id too short */
        "6B05937F25CF26C1A.0123456789abcdef",  /* id too long */
        "6B05937F25CF26C1.0123456789abcde",    /* random part too short */
        "6B05937F25CF26C1.0123456789abcdef0",  /* random part too long */
        "6b05937f25cf26c1.0123456789abcdef",   /* lower-case id */
        "6B05937F25CF26C1.0123456789ABCDEF",   /* upper-case random part */
        "6B05937F25CF26C1x0123456789abcdef",   /* no dot */
        "6B05937F25CF26C10123456789abcdef",    /* no dot, shorter */
        "6B05937F25CF26C1.0123456789abcdef.tmp",
        "6B05937F25CF26C1.0123456789abcdef.bad",
        "6B05937F25CF26C1.0123456789ab.tmp",   /* right length, ".tmp" inside */
        "6B05937F25CF26C1.0123456789ab.bad",
        "6B05937F25CF26G1.0123456789abcdef",   /* not hex */
        "../05937F25CF26C1.0123456789abcdef",
        "6B05937F25CF26C1.0123456789abcde/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        strcpy(id, "unchanged");
        assert_int_equal(maildrop_name_id(bad[i], id), -1);
        assert_string_equal(id, "unchanged");
    }
}

static void good_env(struct envelope *e)
{
    envelope_init(e);
    strcpy(e->id, "6B05937F25CF26C1");
    e->arrival = 1700000000000;
    e->sender = strdup("alice@example.org");
    e->ret = DSN_RET_HDRS;
    e->envid = strdup("env-1");
    envelope_add_rcpt(e, "bob@example.com", NOTIFY_SUCCESS | NOTIFY_FAILURE,
                      "rfc822;bob@example.com", -1, RCPT_PENDING);
    envelope_add_rcpt(e, "carol@example.net", 0, NULL, -1, RCPT_PENDING);
}

static void set(char **p, const char *v)
{
    free(*p);
    *p = v ? strdup(v) : NULL;
}

static void test_check_ok(void **st)
{
    (void)st;
    struct envelope e;
    good_env(&e);
    assert_null(maildrop_check(&e));
    set(&e.sender, ""); /* the null sender */
    assert_null(maildrop_check(&e));
    e.rcpts[0].notify = NOTIFY_NEVER;
    e.rcpts[1].notify = 15 & ~NOTIFY_NEVER;
    assert_null(maildrop_check(&e));
    set(&e.envid, NULL);
    set(&e.rcpts[0].orcpt, "rfc822;x");
    assert_null(maildrop_check(&e));
    envelope_free(&e);
}

/* Breaks one thing in a good envelope and expects a reason. */
static void expect_bad(void (*breakit)(struct envelope *e), const char *want)
{
    struct envelope e;
    good_env(&e);
    breakit(&e);
    const char *why = maildrop_check(&e);
    assert_non_null(why);
    if (want)
        assert_string_equal(why, want);
    envelope_free(&e);
}

static void b_sender_null(struct envelope *e) { set(&e->sender, NULL); }
static void b_sender_syntax(struct envelope *e) { set(&e->sender, "a b@example.org"); }
static void b_sender_nodomain(struct envelope *e) { set(&e->sender, "alice"); }
static void b_sender_ctl(struct envelope *e) { set(&e->sender, "al\nice@example.org"); }
static void b_no_rcpts(struct envelope *e)
{
    for (size_t i = 0; i < e->n_rcpts; i++) {
        free(e->rcpts[i].addr);
        free(e->rcpts[i].orcpt);
    }
    e->n_rcpts = 0;
}
static void b_rcpt_addr(struct envelope *e) { set(&e->rcpts[1].addr, "carol@@example.net"); }
static void b_rcpt_nodomain(struct envelope *e) { set(&e->rcpts[1].addr, "carol"); }
static void b_rcpt_empty(struct envelope *e) { set(&e->rcpts[1].addr, ""); }
static void b_rcpt_missing(struct envelope *e) { set(&e->rcpts[1].addr, NULL); }
static void b_notify_big(struct envelope *e) { e->rcpts[0].notify = 16; }
static void b_notify_never(struct envelope *e) { e->rcpts[0].notify = NOTIFY_NEVER | NOTIFY_DELAY; }
static void b_orcpt_nosemi(struct envelope *e) { set(&e->rcpts[0].orcpt, "bob@example.com"); }
static void b_orcpt_ctl(struct envelope *e) { set(&e->rcpts[0].orcpt, "rfc822;bob\r\n@x"); }
static void b_status(struct envelope *e) { e->rcpts[1].status = RCPT_DELIVERED; }
static void b_attempts(struct envelope *e) { e->rcpts[1].attempts = 1; }
static void b_dsn_sent(struct envelope *e) { e->rcpts[1].dsn_sent = NOTIFY_FAILURE; }
static void b_parent(struct envelope *e) { e->rcpts[1].parent = 0; }
static void b_last_reply(struct envelope *e) { set(&e->rcpts[1].last_reply, "250 ok"); }
static void b_envid_ctl(struct envelope *e) { set(&e->envid, "env\x01id"); }
static void b_envid_nl(struct envelope *e) { set(&e->envid, "env\nid"); }
static void b_envid_8bit(struct envelope *e) { set(&e->envid, "env\xc3\xa9"); }
static void b_envid_long(struct envelope *e)
{
    char v[DSN_ENVID_MAX + 2];
    memset(v, 'e', sizeof v - 1);
    v[sizeof v - 1] = '\0';
    set(&e->envid, v);
}

static void test_check_bad(void **st)
{
    (void)st;
    expect_bad(b_sender_null, "bad sender address");
    expect_bad(b_sender_syntax, "bad sender address");
    expect_bad(b_sender_nodomain, "bad sender address");
    expect_bad(b_sender_ctl, "bad sender address");
    expect_bad(b_no_rcpts, "no recipients");
    expect_bad(b_rcpt_addr, "bad recipient address");
    expect_bad(b_rcpt_nodomain, "bad recipient address");
    expect_bad(b_rcpt_empty, "bad recipient address");
    expect_bad(b_rcpt_missing, "bad recipient address");
    expect_bad(b_notify_big, "bad NOTIFY");
    expect_bad(b_notify_never, "bad NOTIFY");
    expect_bad(b_orcpt_nosemi, "bad ORCPT");
    expect_bad(b_orcpt_ctl, "bad ORCPT");
    expect_bad(b_status, "recipient carries delivery state");
    expect_bad(b_attempts, "recipient carries delivery state");
    expect_bad(b_dsn_sent, "recipient carries delivery state");
    expect_bad(b_parent, "recipient carries delivery state");
    expect_bad(b_last_reply, "recipient carries delivery state");
    expect_bad(b_envid_ctl, "bad ENVID");
    expect_bad(b_envid_nl, "bad ENVID");
    expect_bad(b_envid_8bit, "bad ENVID");
    expect_bad(b_envid_long, "bad ENVID");
}

static void test_too_many_rcpts(void **st)
{
    (void)st;
    struct envelope e;
    good_env(&e);
    while (e.n_rcpts <= MAILDROP_RCPT_MAX)
        envelope_add_rcpt(&e, "x@example.com", 0, NULL, -1, RCPT_PENDING);
    assert_string_equal(maildrop_check(&e), "too many recipients");
    envelope_free(&e);
}

static void test_round_trip(void **st)
{
    (void)st;
    char data_dir[128], dir[PATH_MAX];
    snprintf(data_dir, sizeof data_dir, "%s/data", tmpdir);
    assert_int_equal(mkdir(data_dir, 0755), 0);
    mode_t old = umask(077); /* the modes must not depend on the submitter's umask */
    assert_int_equal(maildrop_init(data_dir), 0);
    assert_int_equal(maildrop_path(data_dir, dir, sizeof dir), 0);
    struct stat sb;
    assert_int_equal(stat(dir, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(sb.st_mode & 07777, 01733);
    /* again: idempotent, and a wrong mode is repaired */
    assert_int_equal(chmod(dir, 0755), 0);
    assert_int_equal(maildrop_init(data_dir), 0);
    assert_int_equal(stat(dir, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 01733);

    struct envelope e;
    good_env(&e);
    e.id[0] = '\0'; /* maildrop_open picks one */
    struct queue_writer w;
    static const char content[] = "Subject: x\r\n\r\nhi\r\n";
    assert_int_equal(maildrop_open(data_dir, &e, &w), 0);
    assert_int_equal(strlen(e.id), 16);
    queue_writer_write(&w, content, sizeof content - 1);
    assert_int_equal(maildrop_commit(&w), 0);
    umask(old);

    /* exactly one file, named ID.RANDOM, no .tmp left */
    const char *name = strrchr(w.path, '/');
    assert_non_null(name);
    name++;
    char id[QUEUE_ID_MAX + 1];
    assert_int_equal(maildrop_name_id(name, id), 0);
    assert_string_equal(id, e.id);
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", w.path);
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(stat(w.path, &sb), 0);
    assert_true(S_ISREG(sb.st_mode));
    assert_int_equal(sb.st_mode & 07777, 0644);

    int fd = open(w.path, O_RDONLY);
    assert_true(fd >= 0);
    struct envelope got;
    assert_int_equal(queue_load_fd(fd, &got), 0);
    assert_null(maildrop_check(&got));
    assert_string_equal(got.id, e.id);
    assert_int_equal(got.arrival, e.arrival);
    assert_string_equal(got.sender, "alice@example.org");
    assert_int_equal(got.ret, DSN_RET_HDRS);
    assert_string_equal(got.envid, "env-1");
    assert_int_equal(got.size, sizeof content - 1);
    assert_int_equal(got.n_rcpts, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_string_equal(got.rcpts[i].addr, e.rcpts[i].addr);
        assert_int_equal(got.rcpts[i].notify, e.rcpts[i].notify);
        assert_int_equal(got.rcpts[i].parent, -1);
        assert_int_equal(got.rcpts[i].status, RCPT_PENDING);
    }
    assert_string_equal(got.rcpts[0].orcpt, "rfc822;bob@example.com");
    assert_null(got.rcpts[1].orcpt);
    /* the content sits where the envelope says */
    char back[sizeof content];
    assert_int_equal(pread(fd, back, sizeof content - 1, (off_t)got.content_offset),
                     (ssize_t)(sizeof content - 1));
    assert_memory_equal(back, content, sizeof content - 1);
    close(fd);
    envelope_free(&got);
    envelope_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_id),
        cmocka_unit_test(test_check_ok),
        cmocka_unit_test(test_check_bad),
        cmocka_unit_test(test_too_many_rcpts),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
