/*
 * test_mime: unit tests for proto/mime: entity split, Content-Type (default,
 * case, comments, folding, quoted and escaped parameters, parameters in any
 * order), Content-Transfer-Encoding, quoted-printable and base64 decoding,
 * and the multipart walk (preamble, transport padding, a boundary that is a
 * prefix of another, empty parts, no close delimiter).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "lib/buf.h"
#include "proto/mime.h"

static struct mime_entity entity(const char *s)
{
    struct mime_entity e;
    mime_entity_split(s, strlen(s), &e);
    return e;
}

static void test_content_type(void **st)
{
    (void)st;
    char t[MIME_TYPE_MAX], v[80];
    struct mime_entity e = entity("Subject: x\n\nbody\n");
    assert_int_equal(mime_content_type(&e, t, sizeof t), 0);
    assert_string_equal(t, "text/plain");
    assert_string_equal(e.body, "body\n");
    assert_int_equal(mime_content_param(&e, "boundary", v, sizeof v), -1);
    e = entity("Content-Type: (c) Multipart/Mixed (x) ; a=1;\r\n"
               " BOUNDARY=\"q\\\"uo;ted\" (c;d); c=\"\"\r\n\r\nbody");
    assert_int_equal(mime_content_type(&e, t, sizeof t), 0);
    assert_string_equal(t, "multipart/mixed");
    assert_int_equal(mime_content_param(&e, "boundary", v, sizeof v), 0);
    assert_string_equal(v, "q\"uo;ted");
    assert_int_equal(mime_content_param(&e, "a", v, sizeof v), 0);
    assert_string_equal(v, "1");
    assert_int_equal(mime_content_param(&e, "c", v, sizeof v), -1); /* empty */
    assert_int_equal(mime_content_param(&e, "a", v, 1), -1);         /* does not fit */
    e = entity("Content-Type: text\n\n");
    assert_int_equal(mime_content_type(&e, t, sizeof t), 0);
    assert_string_equal(t, "text/plain"); /* unreadable: the default */
    assert_int_equal(mime_content_type(&e, t, 4), -1);
}

static void test_transfer_encoding(void **st)
{
    (void)st;
    struct mime_entity e = entity("X: y\n\n");
    assert_int_equal(mime_transfer_encoding(&e), MIME_ENC_IDENTITY);
    e = entity("Content-Transfer-Encoding: BASE64 (x)\n\n");
    assert_int_equal(mime_transfer_encoding(&e), MIME_ENC_BASE64);
    e = entity("Content-Transfer-Encoding: Quoted-Printable\n\n");
    assert_int_equal(mime_transfer_encoding(&e), MIME_ENC_QUOTED_PRINTABLE);
    e = entity("Content-Transfer-Encoding: 8bit\n\n");
    assert_int_equal(mime_transfer_encoding(&e), MIME_ENC_IDENTITY);
    e = entity("Content-Transfer-Encoding: x-uuencode\n\n");
    assert_int_equal(mime_transfer_encoding(&e), MIME_ENC_UNKNOWN);
}

static void test_decode(void **st)
{
    (void)st;
    struct buf b;
    buf_init(&b, 64);
    const char *qp = "a=3Db=\r\nc=  \nd=zz=4\ne=";
    assert_int_equal(mime_decode(MIME_ENC_QUOTED_PRINTABLE, qp, strlen(qp), &b), 0);
    assert_string_equal(buf_cstr(&b), "a=bcd=zz=4\ne");
    buf_reset(&b);
    const char *b64 = "aGVs\r\n bG8=\n";
    assert_int_equal(mime_decode(MIME_ENC_BASE64, b64, strlen(b64), &b), 0);
    assert_string_equal(buf_cstr(&b), "hello");
    buf_reset(&b);
    assert_int_equal(mime_decode(MIME_ENC_BASE64, "aGV*", 4, &b), -1);
    assert_int_equal(mime_decode(MIME_ENC_UNKNOWN, "x", 1, &b), -1);
    buf_free(&b);
}

/* The parts of body as "|"-joined text, "!" appended if the walk ends broken. */
static const char *walk(const char *body, const char *boundary)
{
    static char seen[256];
    struct mime_parts m;
    const char *p;
    size_t n;
    int rc;
    seen[0] = '\0';
    if (mime_parts_init(&m, body, strlen(body), boundary) < 0)
        return "init";
    while ((rc = mime_parts_next(&m, &p, &n)) == 1) {
        strncat(seen, p, n);
        strncat(seen, "|", 2);
    }
    if (rc < 0)
        strncat(seen, "!", 2);
    return seen;
}

static void test_parts(void **st)
{
    (void)st;
    assert_string_equal(walk("pre\n--b\nA\n--b  \r\n\n--b\n--b--\nepilogue", "b"), "A|||");
    /* "--b2" is no delimiter of "b" */
    assert_string_equal(walk("--b\nx\n--b2\ny\n--b--\n", "b"), "x\n--b2\ny|");
    assert_string_equal(walk("--b\nx\n--b-\n", "b"), "!");
    assert_string_equal(walk("no delimiter\n", "b"), "!");
    assert_string_equal(walk("--b--\n", "b"), "");
    assert_string_equal(walk("--b\r\nx\r\n--b--", "b"), "x|");
    assert_string_equal(walk("x", ""), "init");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_type),
        cmocka_unit_test(test_transfer_encoding),
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
