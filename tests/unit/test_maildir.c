/* Unit tests for mail/maildir: unique names, folder-name safety, CRLF->LF, real delivery. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/buf.h"
#include "lib/fsio.h"
#include "mail/maildir.h"
#include "testutil.h"

static void test_unique_name(void **st)
{
    (void)st;
    char n[256];
    assert_int_equal(maildir_unique_name(n, sizeof n, 1795509475, "6B05ABC", 7, "mx.test"), 0);
    assert_string_equal(n, "1795509475.Q6B05ABC_7.mx.test");
    assert_int_equal(maildir_unique_name(n, sizeof n, 1, "X", 0, "a/b:c"), 0);
    assert_string_equal(n, "1.QX_0.a\\057b\\072c");
    assert_int_equal(maildir_unique_name(n, 8, 1795509475, "6B05ABC", 7, "mx.test"), -1);
}

static void test_component(void **st)
{
    (void)st;
    assert_true(maildir_component_ok("bob"));
    assert_true(maildir_component_ok("user%other.test"));
    assert_false(maildir_component_ok(""));
    assert_false(maildir_component_ok("."));
    assert_false(maildir_component_ok(".."));
    assert_false(maildir_component_ok(".hidden"));
    assert_false(maildir_component_ok("a/b"));
    assert_false(maildir_component_ok("a\nb"));
}

static void test_crlf(void **st)
{
    (void)st;
    struct maildir_lf lf = {0};
    char out[64];
    size_t n = maildir_crlf_to_lf(&lf, "a\r\nb\r", 5, out);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "a\nb", 3);
    assert_true(lf.held_cr);
    n = maildir_crlf_to_lf(&lf, "\nc\rd", 4, out);
    assert_int_equal(n, 4);
    assert_memory_equal(out, "\nc\rd", 4);
}

TESTUTIL_TMPDIR_FIXTURES("maildir")

static void test_deliver(void **st)
{
    (void)st;
    const char *dir = tmpdir;
    char src[512], path[512];
    snprintf(src, sizeof src, "%s/src", dir);
    const char *content = "JUNKReceived: x\r\n\r\nline\r\n\xe9\r\n";
    int fd = open(src, O_RDWR | O_CREAT, 0600);
    assert_true(fd >= 0);
    assert_int_equal(fsio_write_all(fd, content, strlen(content)), 0);
    struct maildir_msg m;
    /* delivered twice under the same name (a retry after a crash): one copy */
    for (int round = 0; round < 2; round++) {
        struct maildir_head head = {.return_path = "a@b.c", .delivered_to = "bob@example.test",
                                    .delivered_to_at = strlen("Received: x\r\n")};
        assert_int_equal(maildir_write(dir, "example.test", "bob", "1.QX_0.mx.test", &head, fd,
                                       4, strlen(content) - 4, &m), 0);
        assert_int_equal(fsync(m.fd), 0);
        assert_int_equal(maildir_publish(&m), 0);
    }
    close(fd);
    snprintf(path, sizeof path, "%s/mail/example.test/bob/new", dir);
    DIR *d = opendir(path);
    assert_non_null(d);
    struct dirent *de;
    int files = 0;
    struct buf got;
    buf_init(&got, BUF_UNLIMITED);
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        files++;
        char f[1024];
        snprintf(f, sizeof f, "%s/%s", path, de->d_name);
        assert_int_equal(fsio_read_file(f, &got, 1 << 20), 0);
        unlink(f);
    }
    closedir(d);
    assert_int_equal(files, 1);
    assert_string_equal(buf_cstr(&got), "Return-Path: <a@b.c>\nReceived: x\n"
                                        "Delivered-To: bob@example.test\n\nline\n\xe9\n");
    buf_free(&got);
    /* refuses unsafe folder names */
    struct maildir_head none = {.return_path = ""};
    struct maildir_head past_end = {.return_path = "", .delivered_to = "a@b", .delivered_to_at = 9};
    assert_int_equal(maildir_write(dir, "example.test", "x", "n", &past_end, -1, 0, 8, &m), -1);
    assert_int_equal(maildir_write(dir, "example.test", "../x", "n", &none, -1, 0, 0, &m), -1);
    assert_int_equal(maildir_write(dir, "example.test", "x", "../n", &none, -1, 0, 0, &m), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unique_name),
        cmocka_unit_test(test_component),
        cmocka_unit_test(test_crlf),
        cmocka_unit_test_setup_teardown(test_deliver, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
