/*
 * test_dsn_text: the text part of a notice built by mail/dsn (DSN.md 4), the
 * part a person reads: the golden text of the default failure, a reason
 * postino decided itself told apart from a remote server's answer, and
 * postino's own words (no other MTA's template phrases) for every action.
 * The input and the structural checks are in dsn_fixture.h.
 */
#include "dsn_fixture.h"

/* The text part in postino's words, for the default failure (golden). */
static void test_text_golden(void **st)
{
    (void)st;
    char *m = build(), *text = part_body(m, 0);
    assert_string_equal(
        text,
        "Hello. This is postino, the mail server at mail.example.org, with a report\r\n"
        "on the message it received from you on Tue, 24 Nov 2026 08:36:55 +0000.\r\n"
        "\r\n"
        "Your message could not be delivered to the recipients below, and no further\r\n"
        "attempt will be made.\r\n"
        "\r\n"
        "* <bob@example.net>: failed, status 5.1.1\r\n"
        "    The server mx.example.net answered: \"550 5.1.1 <bob@example.net>: user\r\n"
        "    unknown\"\r\n"
        "\r\n"
        "Your original message is attached.\r\n"
        "\r\n"
        "If you ask the administrator of mail.example.org about this report, please\r\n"
        "quote the queue ID 0A1B2C3D4E.\r\n");
    free(text);
    free(m);
}

/*
 * A failure postino decided itself (a message over the next hop's SIZE): the
 * report names the hop (Remote-MTA: it was involved) but has no Diagnostic-Code
 * (no server said anything), and the text gives the reason as postino's own.
 */
static void test_own_reason(void **st)
{
    (void)st;
    rcpt.status = "5.3.4";
    rcpt.diagnostic = NULL;
    rcpt.reason = "5.3.4 the message of 5000 bytes is larger than the limit of 1000 bytes "
                  "advertised by mx.example.net[192.0.2.7], so postino did not send it";
    char *m = build(), *ds = part_body(m, 1), *text = flat_text(m);
    const char *block = strstr(ds, "\r\n\r\n");
    assert_non_null(block);
    assert_string_equal(block + 4, "Original-Recipient: rfc822; Bob@Example.NET\r\n"
                                   "Final-Recipient: rfc822; bob@example.net\r\n"
                                   "Action: failed\r\n"
                                   "Status: 5.3.4\r\n"
                                   "Remote-MTA: dns; mx.example.net\r\n"
                                   "Last-Attempt-Date: Tue, 24 Nov 2026 08:37:54 +0000\r\n");
    assert_non_null(strstr(text, "* <bob@example.net>: failed, status 5.3.4 Reason: the message "
                                 "of 5000 bytes is larger than the limit of 1000 bytes "
                                 "advertised by mx.example.net[192.0.2.7], so postino did not "
                                 "send it "));
    assert_null(strstr(text, "answered"));
    free(text);
    free(ds);
    free(m);
    /* an own reason next to a remote answer (expiry): both, each as what it is */
    rcpt.status = "4.4.7";
    rcpt.reason = "4.4.7 delivery time expired";
    rcpt.diagnostic = "451 4.3.0 mailbox busy";
    m = build(), text = flat_text(m);
    assert_non_null(strstr(text, "status 4.4.7 Reason: delivery time expired The server "
                                 "mx.example.net answered: \"451 4.3.0 mailbox busy\""));
    assert_non_null(strstr(m, "\r\nDiagnostic-Code: smtp; 451 4.3.0 mailbox busy\r\n"));
    free(text);
    free(m);
}

/* 1 if some line of t holds "a" and, after it, "b" (how bounce parsers spot a template). */
static int line_has_both(const char *t, const char *a, const char *b)
{
    for (const char *l = t; l && *l; l = strstr(l, "\r\n"), l = l ? l + 2 : l) {
        size_t n = strcspn(l, "\r");
        char line[1000];
        snprintf(line, sizeof line, "%.*s", (int)n, l);
        const char *p = strstr(line, a);
        if (p && strstr(p + strlen(a), b))
            return 1;
    }
    return 0;
}

/* No notice's text borrows another MTA's words (Postfix's opening sentence and
 * the phrases bounce parsers use to recognise its notices). */
static void test_text_own_words(void **st)
{
    (void)st;
    struct dsn_rcpt r[5];
    for (int a = 0; a < 5; a++) {
        r[a] = rcpt;
        r[a].action = (enum dsn_action)a;
        r[a].status = NULL;
    }
    for (size_t n = 1; n <= 5; n++) {
        in.rcpts = n == 5 ? r : &r[n - 1];
        in.n_rcpts = n == 5 ? 5 : 1;
        in.ret = n == 2 ? DSN_RET_FULL : DSN_RET_UNSET;
        char *m = build(), *text = part_body(m, 0);
        assert_null(strstr(text, "This is the"));
        assert_null(strstr(text, "mail system"));
        assert_null(strstr(text, "Postfix"));
        assert_false(line_has_both(text, "The ", "program"));
        assert_non_null(strstr(text, "postino"));
        assert_non_null(strstr(text, "mail.example.org"));
        free(text);
        free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_text_golden, setup),
        cmocka_unit_test_setup(test_own_reason, setup),
        cmocka_unit_test_setup(test_text_own_words, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
