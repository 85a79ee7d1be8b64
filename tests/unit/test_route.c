/* Unit tests for mail/route: recipient classification and alias expansion (RFC 3461 6.2.7). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mail/conf.h"
#include "mail/route.h"
#include "testutil.h"

TESTUTIL_TMPDIR_FIXTURES("route")
static struct conf conf;

static void write_file(const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
}

/* A temporary folder with a users file, an aliases file and a config using them. */
static int setup_conf(void **st)
{
    if (setup(st) < 0)
        return -1;
    write_file("users", "Bob@example.test:{PLAIN}x\nalice@example.test:{PLAIN}y\n"
                        "keep@example.test:{PLAIN}z\n");
    write_file("aliases", "team@example.test: bob@example.test, alice@example.test, out@remote.test\n"
                          "fwd@example.test: bob@example.test\n"
                          "nest@example.test: team@example.test\n"
                          "loopa@example.test: loopb@example.test\n"
                          "loopb@example.test: LOOPA@example.test\n"
                          "keep@example.test: keep@example.test, alice@example.test\n");
    write_file("p.conf", "local_domains example.test\nusers users\naliases aliases\n"
                         "relay_domains backup.test\n");
    char p[256];
    snprintf(p, sizeof p, "%s/p.conf", tmpdir);
    struct buf err;
    buf_init(&err, 4096);
    int r = conf_load(p, &conf, &err);
    if (r < 0)
        fprintf(stderr, "%s\n", buf_cstr(&err));
    buf_free(&err);
    return r;
}

static int teardown_conf(void **st)
{
    conf_free(&conf);
    return teardown(st);
}

static void test_classify(void **st)
{
    (void)st;
    char mb[65];
    assert_int_equal(route_classify(&conf, "bob@EXAMPLE.test", mb, sizeof mb), ROUTE_LOCAL);
    assert_string_equal(mb, "Bob"); /* spelled as in the users file */
    assert_int_equal(route_classify(&conf, "nobody@example.test", mb, sizeof mb),
                     ROUTE_UNKNOWN_USER);
    assert_int_equal(route_classify(&conf, "PostMaster@example.test", mb, sizeof mb), ROUTE_LOCAL);
    assert_string_equal(mb, "postmaster");
    assert_int_equal(route_classify(&conf, "team@example.test", mb, sizeof mb), ROUTE_ALIAS);
    assert_int_equal(route_classify(&conf, "x@backup.test", mb, sizeof mb), ROUTE_RELAY_DOMAIN);
    assert_int_equal(route_classify(&conf, "x@remote.test", mb, sizeof mb), ROUTE_REMOTE);
    assert_int_equal(route_classify(&conf, "user%remote.test@example.test", mb, sizeof mb),
                     ROUTE_UNKNOWN_USER);
    assert_int_equal(route_classify(&conf, "noat", mb, sizeof mb), ROUTE_BAD_MAILBOX);
}

/* a: b, b: a ends at the first return to a, which has no mailbox: a loop (X.4.6) */
static void test_alias_loop(void **st)
{
    (void)st;
    struct envelope e;
    envelope_init(&e);
    envelope_add_rcpt(&e, "loopa@example.test", NOTIFY_FAILURE, NULL, -1, RCPT_PENDING);
    route_expand_all(&conf, &e);
    assert_int_equal(e.n_rcpts, 3);
    assert_int_equal(e.rcpts[0].status, RCPT_EXPANDED);
    assert_int_equal(e.rcpts[1].status, RCPT_EXPANDED);
    assert_int_equal(e.rcpts[2].status, RCPT_PENDING);
    assert_int_equal(e.rcpts[2].parent, 1);
    assert_true(route_loops_back(&e, 2));
    assert_false(route_loops_back(&e, 1));
    char mb[65];
    assert_int_equal(route_classify_rcpt(&conf, &e, 2, mb, sizeof mb), ROUTE_ALIAS_LOOP);
    /* expanding it again (the queue manager's later pass) adds nothing */
    assert_int_equal(route_expand(&conf, &e, 2), 0);
    assert_int_equal(e.n_rcpts, 3);
    envelope_free(&e);
}

/* keep: keep, alice keeps a copy in keep's own mailbox */
static void test_alias_to_itself(void **st)
{
    (void)st;
    struct envelope e;
    envelope_init(&e);
    envelope_add_rcpt(&e, "keep@example.test", NOTIFY_FAILURE, NULL, -1, RCPT_PENDING);
    route_expand_all(&conf, &e);
    assert_int_equal(e.n_rcpts, 3);
    char mb[65];
    assert_string_equal(e.rcpts[1].addr, "keep@example.test");
    assert_int_equal(route_classify_rcpt(&conf, &e, 1, mb, sizeof mb), ROUTE_LOCAL);
    assert_string_equal(mb, "keep");
    assert_int_equal(route_classify_rcpt(&conf, &e, 0, mb, sizeof mb), ROUTE_ALIAS);
    assert_int_equal(route_classify_rcpt(&conf, &e, 2, mb, sizeof mb), ROUTE_LOCAL);
    envelope_free(&e);
}

static void test_expand_many(void **st)
{
    (void)st;
    struct envelope e;
    envelope_init(&e);
    envelope_add_rcpt(&e, "team@example.test", NOTIFY_SUCCESS | NOTIFY_FAILURE,
                      "rfc822;team@example.test", -1, RCPT_PENDING);
    assert_int_equal(route_expand(&conf, &e, 0), 3);
    assert_int_equal(e.rcpts[0].status, RCPT_EXPANDED);
    for (size_t i = 1; i < 4; i++) {
        assert_int_equal(e.rcpts[i].parent, 0);
        assert_int_equal(e.rcpts[i].notify, NOTIFY_FAILURE); /* SUCCESS not inherited */
        assert_null(e.rcpts[i].orcpt);
    }
    assert_string_equal(e.rcpts[3].addr, "out@remote.test");
    envelope_free(&e);
}

static void test_forward_and_nesting(void **st)
{
    (void)st;
    struct envelope e;
    envelope_init(&e);
    envelope_add_rcpt(&e, "fwd@example.test", NOTIFY_SUCCESS, "rfc822;fwd@example.test", -1,
                      RCPT_PENDING);
    assert_int_equal(route_expand(&conf, &e, 0), 1);
    assert_int_equal(e.rcpts[1].notify, NOTIFY_SUCCESS); /* a forward keeps NOTIFY */
    assert_string_equal(e.rcpts[1].orcpt, "rfc822;fwd@example.test");
    envelope_add_rcpt(&e, "nest@example.test", NOTIFY_SUCCESS, NULL, -1, RCPT_PENDING);
    /* nest -> team -> bob (already there), alice, out */
    assert_int_equal(route_expand(&conf, &e, 2), 3);
    assert_int_equal(e.rcpts[3].status, RCPT_EXPANDED);
    assert_string_equal(e.rcpts[3].addr, "team@example.test");
    envelope_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_expand_many),
        cmocka_unit_test(test_alias_loop),
        cmocka_unit_test(test_alias_to_itself),
        cmocka_unit_test(test_forward_and_nesting),
    };
    return cmocka_run_group_tests(tests, setup_conf, teardown_conf);
}
