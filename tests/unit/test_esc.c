/*
 * test_esc: unit tests for proto/esc (RFC 3463 enhanced status codes).
 * Every row of the table formats in each class and parses back to itself,
 * has a meaning, and is unique; replies put the reply code's class in
 * front; the parser refuses what is no code (bad class, long parts,
 * missing dots, trailing digits) and takes codes outside the table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "lib/str.h"
#include "proto/esc.h"

struct esc_case {
    enum esc_code code;
    int subject, detail;
    const char *meaning;
};

#define ESC_CASE_ROW(name, subject, detail, meaning) {ESC_##name, subject, detail, meaning},
static const struct esc_case esc_cases[] = {ESC_CODES(ESC_CASE_ROW)};
#define N_CASES (sizeof esc_cases / sizeof esc_cases[0])

static int parse(const char *s, int *klass, enum esc_code *code)
{
    size_t used = 0;
    int r = esc_parse(s, strlen(s), klass, code, &used);
    if (r == 0)
        assert_int_equal(used, strlen(s));
    return r;
}

static void test_table_round_trips(void **state)
{
    (void)state;
    static const int classes[] = {ESC_CLASS_SUCCESS, ESC_CLASS_TRANSIENT, ESC_CLASS_PERMANENT};
    for (size_t i = 0; i < N_CASES; i++) {
        for (size_t k = 0; k < 3; k++) {
            char want[ESC_TEXT_MAX];
            str_fmt(want, sizeof want, "%d.%d.%d", classes[k], esc_cases[i].subject,
                    esc_cases[i].detail);
            struct esc_text t = esc_code(classes[k], esc_cases[i].code);
            assert_string_equal(t.s, want);
            int klass = 0;
            enum esc_code code = ESC_OTHER_STATUS;
            assert_int_equal(parse(t.s, &klass, &code), 0);
            assert_int_equal(klass, classes[k]);
            assert_int_equal(code, esc_cases[i].code);
        }
    }
}

static void test_table_meanings_unique(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_CASES; i++) {
        const char *m = esc_meaning(esc_cases[i].code);
        assert_non_null(m);
        assert_string_equal(m, esc_cases[i].meaning);
        assert_true(esc_cases[i].detail < 1000 && esc_cases[i].subject < 1000);
        for (size_t j = i + 1; j < N_CASES; j++)
            assert_int_not_equal(esc_cases[i].code, esc_cases[j].code);
    }
}

static void test_known_codes(void **state)
{
    (void)state;
    assert_string_equal(esc_code(5, ESC_BAD_DESTINATION_MAILBOX).s, "5.1.1");
    assert_string_equal(esc_code(4, ESC_DELIVERY_TIME_EXPIRED).s, "4.4.7");
    assert_string_equal(esc_code(5, ESC_ENCRYPTION_REQUIRED).s, "5.7.11");
    assert_string_equal(esc_code(5, ESC_NULL_MX).s, "5.1.10");
    assert_string_equal(esc_code(2, ESC_OTHER_STATUS).s, "2.0.0");
    assert_string_equal(esc_meaning(ESC_MAILBOX_FULL), "Mailbox full");
    assert_string_equal(esc_meaning(ESC_DELIVERY_NOT_AUTHORIZED),
                        "Delivery not authorized, message refused");
    assert_null(esc_meaning((enum esc_code)ESC(9, 99)));
}

static void test_reply(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(esc_reply(out, sizeof out, 550, ESC_BAD_DESTINATION_MAILBOX, "User unknown"),
                     0);
    assert_string_equal(out, "550 5.1.1 User unknown");
    assert_int_equal(esc_reply(out, sizeof out, 452, ESC_MAIL_SYSTEM_FULL, "full"), 0);
    assert_string_equal(out, "452 4.3.1 full");
    assert_int_equal(esc_reply(out, sizeof out, 250, ESC_DESTINATION_VALID, "Ok"), 0);
    assert_string_equal(out, "250 2.1.5 Ok");
    assert_int_equal(esc_reply(out, 8, 250, ESC_OTHER_STATUS, "Ok"), -1); /* truncated */
    assert_string_equal(out, "250 2.0");
}

static void test_reason(void **state)
{
    (void)state;
    char out[32];
    assert_int_equal(esc_reason(out, sizeof out, 4, ESC_NO_ANSWER, "connect to %s: %d", "h", 7), 0);
    assert_string_equal(out, "4.4.1 connect to h: 7");
    assert_int_equal(esc_reason(out, sizeof out, 5, ESC_MESSAGE_TOO_BIG, "%s", ""), 0);
    assert_string_equal(out, "5.3.4 ");
    /* truncated: reported, still terminated, the code kept */
    assert_int_equal(esc_reason(out, 10, 4, ESC_NOT_ACCEPTING, "shutting down"), -1);
    assert_string_equal(out, "4.3.2 shu");
    assert_int_equal(esc_reason(out, 4, 4, ESC_NOT_ACCEPTING, "x"), -1);
    assert_int_equal(strlen(out), 3);
}

static void test_parse_prefix(void **state)
{
    (void)state;
    int klass;
    enum esc_code code;
    size_t used;
    const char *s = "5.7.1 relay denied";
    assert_int_equal(esc_parse(s, strlen(s), &klass, &code, &used), 0);
    assert_int_equal(used, 5);
    assert_int_equal(klass, 5);
    assert_int_equal(code, ESC_DELIVERY_NOT_AUTHORIZED);
    /* not in the table, still a code */
    assert_int_equal(parse("4.999.999", &klass, &code), 0);
    assert_int_equal(code, ESC(999, 999));
    assert_null(esc_meaning(code));
}

static void test_parse_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "5", "5.", "5.1", "5.1.", "3.1.1", "55.1.1", "5.1234.1", "5.1.1234", "x.1.1",
        "5..1", "5.1.x", ".1.1", "5-1-1", "0.0.0", "9.9.9",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int klass;
        enum esc_code code;
        size_t used;
        assert_int_equal(esc_parse(bad[i], strlen(bad[i]), &klass, &code, &used), -1);
    }
    /* len bounds the scan: "5.1.12" cut after "5.1.1" is 5.1.1 */
    int klass;
    enum esc_code code;
    size_t used;
    assert_int_equal(esc_parse("5.1.12", 5, &klass, &code, &used), 0);
    assert_int_equal(code, ESC_BAD_DESTINATION_MAILBOX);
}

static void test_plain_and_find(void **state)
{
    (void)state;
    char out[128], code[ESC_TEXT_MAX];
    int klass;
    enum esc_code c;
    assert_string_equal(esc_plain(ESC_BAD_DESTINATION_MAILBOX, out, sizeof out),
                        "the mailbox does not exist");
    /* no sentence of its own: the RFC meaning, lower-cased */
    assert_string_equal(esc_plain(ESC_SYNTAX_ERROR, out, sizeof out), "syntax error");
    assert_null(esc_plain((enum esc_code)ESC(9, 99), out, sizeof out));
    assert_int_equal(esc_find("550 5.1.1 <x@y>: no such user", code, &klass, &c), 0);
    assert_string_equal(code, "5.1.1");
    assert_int_equal(klass, 5);
    assert_int_equal(c, ESC_BAD_DESTINATION_MAILBOX);
    assert_int_equal(esc_find("4.4.7 delivery time expired", code, &klass, &c), 0);
    assert_string_equal(code, "4.4.7");
    assert_int_equal(esc_find("smtp; 550 5.7.1 refused", code, &klass, &c), 0);
    assert_string_equal(code, "5.7.1");
    assert_int_equal(esc_find("250 ok queued as 1.2.3x", code, &klass, &c), -1);
    assert_int_equal(esc_find("v1.2.3 ok", code, &klass, &c), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_round_trips),
        cmocka_unit_test(test_table_meanings_unique),
        cmocka_unit_test(test_known_codes),
        cmocka_unit_test(test_reply),
        cmocka_unit_test(test_reason),
        cmocka_unit_test(test_parse_prefix),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_plain_and_find),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
