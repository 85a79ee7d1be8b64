/*
 * dsn_fixture: what test_dsn.c and test_dsn_text.c share: the input of a
 * failure notice for one recipient with every optional value present
 * (setup_input, run by setup before each test), build() of the notice with
 * the structural checks every notice must pass (check_notice: CRLF line ends,
 * no line over 998 octets, three parts, a boundary found nowhere inside them),
 * and access to its parts (part, part_body, flat_text).
 */
#ifndef POSTINO_DSN_FIXTURE_H
#define POSTINO_DSN_FIXTURE_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mail/dsn.h"

#define NOW 1795509475283LL
#define ORIG "Received: from client.example.com by mail.example.org\r\n" \
             "Message-ID: <abc.123@example.org>\r\n"                    \
             "From: Alice <alice@example.org>\r\n"                      \
             "To: bob@example.net\r\n"                                  \
             "Subject: lunch\r\n"                                       \
             "\r\n"                                                     \
             "See you at noon.\r\n"

static struct dsn_rcpt rcpt;
static struct dsn_input in;

/* A failure notice for one recipient with every optional value present. */
static void setup_input(void)
{
    rcpt = (struct dsn_rcpt){.final_rcpt = "bob@example.net",
                             .orcpt = "rfc822;Bob@Example.NET",
                             .action = DSN_ACTION_FAILED,
                             .status = "5.1.1",
                             .remote_mta = "mx.example.net",
                             .diagnostic = "550 5.1.1 <bob@example.net>: user unknown",
                             .last_attempt_ms = NOW - 1000,
                             .will_retry_until_ms = NOW + 86400000};
    in = (struct dsn_input){.reporting_mta = "mail.example.org",
                            .envid = "QQ314159",
                            .received_from_mta = "client.example.com",
                            .arrival_ms = NOW - 60000,
                            .to = "alice@example.org",
                            .ret = DSN_RET_UNSET,
                            .queue_id = "0A1B2C3D4E",
                            .now_ms = NOW,
                            .original = ORIG,
                            .original_len = strlen(ORIG),
                            .original_complete = 1,
                            .return_limit = 50 * 1024,
                            .original_message_id = "<abc.123@example.org>",
                            .rcpts = &rcpt,
                            .n_rcpts = 1};
}

static int setup(void **st)
{
    (void)st;
    setup_input();
    return 0;
}

/* The boundary named in the top-level Content-Type (static storage). */
static const char *boundary_of(const char *msg)
{
    static char b[128];
    const char *p = strstr(msg, "boundary=\"");
    assert_non_null(p);
    p += 10;
    size_t n = strcspn(p, "\"");
    assert_true(n > 0 && n < 71);
    memcpy(b, p, n);
    b[n] = '\0';
    return b;
}

static size_t count(const char *hay, const char *needle)
{
    size_t k = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        k++;
    return k;
}

/* Structural checks that every notice must pass. */
static void check_notice(const char *m, size_t len)
{
    assert_int_equal(strlen(m), len);
    size_t col = 0;
    for (size_t i = 0; i < len; i++) {
        if (m[i] == '\r') {
            assert_true(i + 1 < len && m[i + 1] == '\n');
            assert_true(col <= DSN_LINE_MAX);
            col = 0;
            i++;
        } else {
            assert_true(m[i] != '\n');
            col++;
        }
    }
    assert_int_equal(col, 0); /* ends with CRLF */
    const char *b = boundary_of(m);
    char delim[140];
    snprintf(delim, sizeof delim, "\r\n--%s\r\n", b);
    assert_int_equal(count(m, delim), 3);
    snprintf(delim, sizeof delim, "\r\n--%s--\r\n", b);
    assert_int_equal(count(m, delim), 1);
    assert_int_equal(count(m, b), 5); /* Content-Type, three delimiters, the close */
    assert_non_null(strstr(m, "\r\n\r\n"));
}

/* Builds the notice for in (asserting success and structure); caller frees. */
static char *build(void)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    assert_int_equal(dsn_build(&in, &b), 0);
    char *s = buf_detach(&b);
    check_notice(s, strlen(s));
    return s;
}

/* Part k (0..2) of msg, headers included, as a malloc'd string. */
static char *part(const char *msg, int k)
{
    char delim[140];
    snprintf(delim, sizeof delim, "\r\n--%s", boundary_of(msg));
    const char *p = msg;
    for (int i = 0; i <= k; i++) {
        p = strstr(p, delim);
        assert_non_null(p);
        p += strlen(delim) + 2;
    }
    const char *e = strstr(p, delim);
    assert_non_null(e);
    return strndup(p, (size_t)(e - p));
}

/* The body of part k, after its MIME header section. */
static char *part_body(const char *msg, int k)
{
    char *p = part(msg, k);
    char *b = strstr(p, "\r\n\r\n");
    assert_non_null(b);
    char *r = strdup(b + 4);
    free(p);
    return r;
}

/* The text part of msg with its lines joined (CRLF and indentation -> one space). */
static char *flat_text(const char *msg)
{
    char *t = part_body(msg, 0), *w = t;
    for (const char *r = t; *r; r++) {
        if (r[0] == '\r' && r[1] == '\n') {
            r++;
            while (r[1] == ' ')
                r++;
            *w++ = ' ';
            continue;
        }
        *w++ = *r;
    }
    *w = '\0';
    return t;
}

#endif
