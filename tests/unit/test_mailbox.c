/*
 * test_mailbox: unit tests for mail/mailbox: the snapshot of new/ and cur/
 * (name order, sizes as sent = bytes + LFs, UIDL = the name before ":2,",
 * hidden and missing entries), marking seen (new -> cur with ":2,S"),
 * deletion only at commit; the seen flag read from a name; the move to the
 * Maildir++ .Trash folder (made when missing, name and flags kept).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "lib/str.h"
#include "mail/mailbox.h"
#include "testutil.h"

TESTUTIL_TMPDIR_FIXTURES("mailbox")

static void put(const char *sub, const char *name, const char *content)
{
    char path[PATH_MAX];
    str_fmt(path, sizeof path, "%s/mail/example.test/bob/%s/%s", tmpdir, sub, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

/* A temporary folder holding bob's empty Maildir. */
static int setup_mailbox(void **state)
{
    if (setup(state) < 0)
        return -1;
    const char *dirs[] = {"mail", "mail/example.test", "mail/example.test/bob",
                          "mail/example.test/bob/new", "mail/example.test/bob/cur",
                          "mail/example.test/bob/tmp"};
    char path[PATH_MAX];
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        str_fmt(path, sizeof path, "%s/%s", tmpdir, dirs[i]);
        assert_int_equal(mkdir(path, 0700), 0);
    }
    return 0;
}

static void test_snapshot(void **state)
{
    (void)state;
    put("new", "200.B_0.host", "a\nb\n");
    put("cur", "100.A_0.host:2,S", "x\n");
    put("new", "300.C_0.host", "no newline");
    put("new", ".hidden", "x");
    put("tmp", "050.T_0.host", "in tmp");
    struct mailbox mb;
    assert_int_equal(mailbox_open(&mb, tmpdir, "example.test", "bob"), 0);
    assert_int_equal(mb.n, 3);
    assert_string_equal(mb.msgs[0].uid, "100.A_0.host");
    assert_int_equal(mb.msgs[0].size, 3);
    assert_false(mb.msgs[0].in_new);
    assert_string_equal(mb.msgs[1].uid, "200.B_0.host");
    assert_int_equal(mb.msgs[1].size, 6);
    assert_string_equal(mb.msgs[2].uid, "300.C_0.host");
    assert_int_equal(mb.msgs[2].size, 10);
    mailbox_close(&mb);
}

static void test_missing_is_empty(void **state)
{
    (void)state;
    struct mailbox mb;
    assert_int_equal(mailbox_open(&mb, tmpdir, "example.test", "nobody"), 0);
    assert_int_equal(mb.n, 0);
    mailbox_close(&mb);
}

static void test_seen_and_commit(void **state)
{
    (void)state;
    put("new", "200.B_0.host", "a\n");
    put("new", "300.C_0.host", "b\n");
    struct mailbox mb;
    assert_int_equal(mailbox_open(&mb, tmpdir, "example.test", "bob"), 0);
    assert_int_equal(mb.n, 2);
    assert_int_equal(mailbox_mark_seen(&mb, 0), 0);
    assert_int_equal(mailbox_mark_seen(&mb, 0), 0);
    char path[PATH_MAX];
    str_fmt(path, sizeof path, "%s/mail/example.test/bob/cur/200.B_0.host:2,S", tmpdir);
    assert_int_equal(access(path, F_OK), 0);
    mb.msgs[1].deleted = 1;
    str_fmt(path, sizeof path, "%s/mail/example.test/bob/new/300.C_0.host", tmpdir);
    assert_int_equal(access(path, F_OK), 0);
    assert_int_equal(mailbox_commit(&mb), 0);
    assert_int_equal(access(path, F_OK), -1);
    mailbox_close(&mb);
    /* the UIDL survives the move to cur/ */
    assert_int_equal(mailbox_open(&mb, tmpdir, "example.test", "bob"), 0);
    assert_int_equal(mb.n, 1);
    assert_string_equal(mb.msgs[0].uid, "200.B_0.host");
    mailbox_close(&mb);
}

static void test_name_seen(void **state)
{
    (void)state;
    assert_true(mailbox_name_seen("100.A_0.host:2,S"));
    assert_true(mailbox_name_seen("100.A_0.host:2,FRS"));
    assert_true(mailbox_name_seen("100.A_0.host:2,ST"));
    assert_false(mailbox_name_seen("100.A_0.host:2,"));
    assert_false(mailbox_name_seen("100.A_0.host:2,FR"));
    assert_false(mailbox_name_seen("100.A_0.host"));
    assert_false(mailbox_name_seen("100.S_0.host"));    /* an S before the info is no flag */
    assert_false(mailbox_name_seen("100.A_0.host:1,S")); /* experimental info: no flags */
    assert_true(mailbox_name_seen("1.x:2,S_0.host:2,S"));
    assert_false(mailbox_name_seen("1.x:2,S_0.host:2,"));
    assert_false(mailbox_name_seen(""));
    struct mailbox_msg m = {.name = "100.A_0.host:2,S", .in_new = 1};
    assert_false(mailbox_msg_seen(&m)); /* new/ is unseen whatever the name says */
    m.in_new = 0;
    assert_true(mailbox_msg_seen(&m));
}

static void assert_mode(const char *path, mode_t mode)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, mode);
}

static void test_trash(void **state)
{
    (void)state;
    put("new", "200.B_0.host", "b\n");
    put("cur", "100.A_0.host:2,FS", "a\n");
    put("new", "300.C_0.host", "c\n");
    struct mailbox mb;
    assert_int_equal(mailbox_open_light(&mb, tmpdir, "example.test", "bob"), 0);
    assert_int_equal(mb.n, 3);
    long i = mailbox_find(&mb, "100.A_0.host");
    assert_int_equal(i, 0);
    assert_int_equal(mailbox_trash(&mb, (size_t)i), 0);
    i = mailbox_find(&mb, "200.B_0.host");
    assert_int_equal(mailbox_trash(&mb, (size_t)i), 0);
    char path[PATH_MAX], box[PATH_MAX];
    str_fmt(box, sizeof box, "%s/mail/example.test/bob", tmpdir);
    const char *made[] = {".Trash", ".Trash/tmp", ".Trash/new", ".Trash/cur"};
    for (size_t k = 0; k < sizeof made / sizeof made[0]; k++) {
        str_fmt(path, sizeof path, "%s/%s", box, made[k]);
        assert_mode(path, 0700);
    }
    str_fmt(path, sizeof path, "%s/.Trash/maildirfolder", box);
    assert_mode(path, 0600);
    str_fmt(path, sizeof path, "%s/.Trash/cur/100.A_0.host:2,FS", box);
    assert_int_equal(access(path, F_OK), 0);
    str_fmt(path, sizeof path, "%s/.Trash/cur/200.B_0.host", box);
    assert_int_equal(access(path, F_OK), 0);
    str_fmt(path, sizeof path, "%s/cur/100.A_0.host:2,FS", box);
    assert_int_equal(access(path, F_OK), -1);
    str_fmt(path, sizeof path, "%s/new/200.B_0.host", box);
    assert_int_equal(access(path, F_OK), -1);
    /* a file gone since the snapshot: ENOENT, nothing made up */
    assert_int_equal(mailbox_trash(&mb, 0), -1);
    assert_int_equal(errno, ENOENT);
    mailbox_close(&mb);
    /* the mailbox no longer lists them; the .Trash folder is not a message */
    assert_int_equal(mailbox_open_light(&mb, tmpdir, "example.test", "bob"), 0);
    assert_int_equal(mb.n, 1);
    assert_string_equal(mb.msgs[0].uid, "300.C_0.host");
    assert_int_equal(mailbox_find(&mb, "100.A_0.host"), -1);
    mailbox_close(&mb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_snapshot, setup_mailbox, teardown),
        cmocka_unit_test_setup_teardown(test_missing_is_empty, setup_mailbox, teardown),
        cmocka_unit_test_setup_teardown(test_seen_and_commit, setup_mailbox, teardown),
        cmocka_unit_test(test_name_seen),
        cmocka_unit_test_setup_teardown(test_trash, setup_mailbox, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
