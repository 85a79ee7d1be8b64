/*
 * test_smtp_parse: unit tests for proto/smtp_parse (RFC 5321 4.1 commands,
 * RFC 1870 SIZE, RFC 6152 BODY, RFC 3030 BDAT and BINARYMIME, RFC 3461 RET/ENVID/NOTIFY/ORCPT, RFC 4954
 * AUTH). Every error case checks the exact reply code and enhanced status
 * code the server will send; liberal forms (spaces after "FROM:", no angle
 * brackets) and parameters in a HELO session are covered too.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "proto/smtp_parse.h"
#include "lib/str.h"

static struct mail_params M;
static struct rcpt_params R;
static struct smtp_err E;

static int mail_esmtp(const char *s, int esmtp)
{
    memset(&E, 0, sizeof E);
    return smtp_parse_mail(s, strlen(s), esmtp, &M, &E);
}

static int rcpt_esmtp(const char *s, int esmtp)
{
    memset(&E, 0, sizeof E);
    return smtp_parse_rcpt(s, strlen(s), esmtp, &R, &E);
}

#define MAIL_OK(s) assert_int_equal(mail_esmtp((s), 1), 0)
#define RCPT_OK(s) assert_int_equal(rcpt_esmtp((s), 1), 0)
#define EXPECT_ERR(call, c, e)                \
    do {                                      \
        assert_int_equal((call), -1);         \
        assert_int_equal(E.code, (c));        \
        assert_string_equal(esc_code(esc_class_of(E.code), E.esc).s, (e)); \
        assert_non_null(E.text);              \
        assert_true(E.text[0] != '\0');       \
    } while (0)
#define MAIL_ERR(s, c, e) EXPECT_ERR(mail_esmtp((s), 1), c, e)
#define RCPT_ERR(s, c, e) EXPECT_ERR(rcpt_esmtp((s), 1), c, e)

/* A string of n copies of c (static, n < 1000). */
static const char *rep(char c, size_t n)
{
    static char s[1000];
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void test_command_verbs(void **state)
{
    (void)state;
    static const struct { const char *line; enum smtp_verb v; } cases[] = {
        { "HELO x", SMTP_HELO }, { "ehlo x", SMTP_EHLO }, { "Mail FROM:<>", SMTP_MAIL },
        { "rCpT TO:<a@b>", SMTP_RCPT }, { "DATA", SMTP_DATA }, { "rset", SMTP_RSET },
        { "VRFY bob", SMTP_VRFY }, { "expn list", SMTP_EXPN }, { "HELP", SMTP_HELP },
        { "noop", SMTP_NOOP }, { "QUIT", SMTP_QUIT }, { "StartTLS", SMTP_STARTTLS },
        { "AUTH PLAIN", SMTP_AUTH }, { "BDAT 100 LAST", SMTP_BDAT },
        { "MAILX FROM:<>", SMTP_UNKNOWN }, { "DATAX", SMTP_UNKNOWN },
        { "MAI", SMTP_UNKNOWN }, { "", SMTP_UNKNOWN }, { " DATA", SMTP_UNKNOWN },
        { "MAIL\tFROM:<>", SMTP_UNKNOWN }, { "STARTTLSX", SMTP_UNKNOWN },
        { "HELLO x", SMTP_UNKNOWN },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct smtp_cmd cmd;
        assert_int_equal(smtp_parse_command(cases[i].line, strlen(cases[i].line), &cmd), cases[i].v);
        assert_int_equal(cmd.verb, cases[i].v);
    }
}

static void test_command_args(void **state)
{
    (void)state;
    struct smtp_cmd cmd;
    const char *l = "MAIL FROM:<a@b> SIZE=1";
    smtp_parse_command(l, strlen(l), &cmd);
    assert_int_equal(cmd.arg_len, strlen("FROM:<a@b> SIZE=1"));
    assert_memory_equal(cmd.arg, "FROM:<a@b> SIZE=1", cmd.arg_len);
    assert_ptr_equal(cmd.arg, l + 5);
    smtp_parse_command("DATA", 4, &cmd);
    assert_int_equal(cmd.arg_len, 0);
    assert_string_equal(cmd.arg, "");
    smtp_parse_command("HELO  x", 7, &cmd);
    assert_int_equal(cmd.arg_len, 2);
    assert_memory_equal(cmd.arg, " x", 2);
    smtp_parse_command("QUIT ", 5, &cmd);
    assert_int_equal(cmd.verb, SMTP_QUIT);
    assert_int_equal(cmd.arg_len, 0);
    smtp_parse_command(NULL, 0, &cmd);
    assert_int_equal(cmd.verb, SMTP_UNKNOWN);
    assert_int_equal(cmd.arg_len, 0);
}

/* The line is used only within len: a buffer without a terminator. */
static void test_command_bounds(void **state)
{
    (void)state;
    struct smtp_cmd cmd;
    char *l = malloc(4);
    memcpy(l, "NOOP", 4);
    assert_int_equal(smtp_parse_command(l, 4, &cmd), SMTP_NOOP);
    assert_int_equal(smtp_parse_command(l, 3, &cmd), SMTP_UNKNOWN);
    free(l);
    assert_int_equal(smtp_parse_command("MA\0L x", 6, &cmd), SMTP_UNKNOWN);
}

/* Postfix's "forbidden commands": an HTTP request or a header line sent as a command. */
static void test_command_forbidden(void **state)
{
    (void)state;
    static const struct { const char *line; const char *name; } bad[] = {
        { "GET / HTTP/1.1", "GET" }, { "get", "get" }, { "POST /x HTTP/1.0", "POST" },
        { "CONNECT example.org:25 HTTP/1.1", "CONNECT" }, { "PUT /", "PUT" },
        { "HEAD /", "HEAD" }, { "OPTIONS *", "OPTIONS" }, { "Delete /", "Delete" },
        { "PATCH /", "PATCH" }, { "Host: mx.example.org", "Host:" },
        { "User-Agent: curl/8.0", "User-Agent:" }, { "Received: from x", "Received:" },
        { "From: <a@b>", "From:" }, { "from:<a@b>", "from:" }, { "X-1:", "X-1:" },
        { "MAIL:x", "MAIL:" }, { "a:", "a:" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct smtp_cmd cmd;
        const char *l = bad[i].line;
        if (smtp_parse_command(l, strlen(l), &cmd) != SMTP_FORBIDDEN)
            fail_msg("\"%s\" should be forbidden", l);
        assert_ptr_equal(cmd.name, l);
        assert_int_equal(cmd.name_len, strlen(bad[i].name));
    }
    static const char *const fine[] = {
        "MAIL FROM:<a@b>", "RCPT TO:<a@b>", "mail from: <a@b>", "GETX /", "GET\t/",
        "POSTMASTER", "HELO host:25", "EHLO [IPv6:::1]", "NOOP Host: x", "1Host: x",
        "-x: y", "Host : x", "Ho st: x", ":", "",
    };
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
        struct smtp_cmd cmd;
        if (smtp_parse_command(fine[i], strlen(fine[i]), &cmd) == SMTP_FORBIDDEN)
            fail_msg("\"%s\" should not be forbidden", fine[i]);
    }
    /* only the given length is looked at: "Host" then ':' past the end is not a header */
    struct smtp_cmd cmd;
    assert_int_not_equal(smtp_parse_command("Host:", 4, &cmd), SMTP_FORBIDDEN);
}

/* RFC 3461 4: MAIL lines may be 100 octets longer, RCPT lines 500, than 512. */
static void test_line_limit(void **state)
{
    (void)state;
    assert_int_equal(smtp_line_limit("MAIL FROM:<a@b>", 15), 612);
    assert_int_equal(smtp_line_limit("mail ", 5), 612);
    assert_int_equal(smtp_line_limit("RCPT TO:<a@b>", 13), 1012);
    assert_int_equal(smtp_line_limit("rCpT ", 5), 1012);
    assert_int_equal(smtp_line_limit("NOOP xxx", 8), 512);
    assert_int_equal(smtp_line_limit("MAILX", 5), 512);
    assert_int_equal(smtp_line_limit("RCPT", 4), 512); /* not yet known to be RCPT */
    assert_int_equal(smtp_line_limit("MAIL FROM", 3), 512);
    assert_int_equal(smtp_line_limit("", 0), 512);
    assert_int_equal(smtp_line_limit(NULL, 0), 512);
}

static void test_mail_basic(void **state)
{
    (void)state;
    MAIL_OK("FROM:<bob@x.example>");
    assert_string_equal(M.from.local, "bob");
    assert_string_equal(M.from.domain, "x.example");
    assert_int_equal(M.has_size, 0);
    assert_int_equal(M.body, BODY_UNSET);
    assert_int_equal(M.ret, DSN_RET_UNSET);
    assert_int_equal(M.has_envid, 0);
    assert_int_equal(M.has_auth, 0);
    MAIL_OK("from:<bob@x.example>");
    MAIL_OK("FrOm:<bob@x.example>");
    MAIL_OK("FROM:<>");
    assert_int_equal(M.from.is_null, 1);
    MAIL_OK("FROM:<@a.example,@b.example:user@c.example>");
    assert_string_equal(M.from.domain, "c.example");
    MAIL_OK("FROM:<\"john smith\"@x.example>");
    assert_string_equal(M.from.local, "\"john smith\"");
}

static void test_mail_liberal(void **state)
{
    (void)state;
    MAIL_OK("FROM: <bob@x.example>");
    MAIL_OK("FROM:    <bob@x.example>   ");
    MAIL_OK("FROM:bob@x.example");
    assert_string_equal(M.from.local, "bob");
    MAIL_OK("FROM: bob@x.example SIZE=10");
    assert_string_equal(M.from.domain, "x.example");
    assert_int_equal(M.has_size, 1);
    assert_int_equal(M.size, 10);
}

static void test_mail_syntax(void **state)
{
    (void)state;
    MAIL_ERR("", 501, "5.5.2");
    MAIL_ERR("<bob@x.example>", 501, "5.5.2");
    MAIL_ERR("FROM <bob@x.example>", 501, "5.5.2");
    MAIL_ERR("FRO", 501, "5.5.2");
    MAIL_ERR("TO:<bob@x.example>", 501, "5.5.2");
    MAIL_ERR("FROM:", 501, "5.1.7");
    MAIL_ERR("FROM: ", 501, "5.1.7");
    MAIL_ERR("FROM:<a@@x.example>", 501, "5.1.7");
    MAIL_ERR("FROM:<bob@x.example", 501, "5.1.7");
    MAIL_ERR("FROM:<bob@x.example>SIZE=1", 501, "5.1.7");
    MAIL_ERR("FROM:<bob @x.example>", 501, "5.1.7");
    MAIL_ERR("FROM:bob", 501, "5.1.7");
    MAIL_ERR("FROM:<Postmaster>", 501, "5.1.7");
    MAIL_ERR("FROM:<u@[300.1.1.1]>", 501, "5.1.7");
    MAIL_ERR("FROM:<bob@x.example>\t", 501, "5.1.7");
}

static void test_mail_lengths(void **state)
{
    (void)state;
    char line[700];
    str_fmt(line, sizeof line, "FROM:<%s@x.example>", rep('a', 64));
    MAIL_OK(line);
    str_fmt(line, sizeof line, "FROM:<%s@x.example>", rep('a', 65));
    MAIL_ERR(line, 501, "5.1.7");
    str_fmt(line, sizeof line, "FROM:%s@x.example", rep('a', 65));
    MAIL_ERR(line, 501, "5.1.7");
    char dom[300];
    str_fmt(dom, sizeof dom, "%s.%s.%s.%s", rep('d', 63), rep('d', 63), rep('d', 63), rep('d', 63));
    str_fmt(line, sizeof line, "FROM:<u@%s>", dom);
    MAIL_OK(line);
    str_fmt(line, sizeof line, "FROM:<u@%s.x>", dom);
    MAIL_ERR(line, 501, "5.1.7");
}

static void test_mail_size(void **state)
{
    (void)state;
    MAIL_OK("FROM:<a@b> SIZE=0");
    assert_int_equal(M.has_size, 1);
    assert_int_equal(M.size, 0);
    MAIL_OK("FROM:<a@b> size=12345");
    assert_int_equal(M.size, 12345);
    MAIL_OK("FROM:<a@b> SIZE=18446744073709551615");
    assert_true(M.size == UINT64_MAX);
    MAIL_ERR("FROM:<a@b> SIZE=18446744073709551616", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> SIZE=99999999999999999999", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> SIZE=000000000000000000001", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> SIZE=abc", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> SIZE=-1", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> SIZE=+1", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> SIZE=1k", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> SIZE", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> SIZE=", 501, "5.5.4");
}

static void test_mail_body(void **state)
{
    (void)state;
    MAIL_OK("FROM:<a@b> BODY=7BIT");
    assert_int_equal(M.body, BODY_7BIT);
    MAIL_OK("FROM:<a@b> body=8bitmime");
    assert_int_equal(M.body, BODY_8BITMIME);
    MAIL_OK("FROM:<a@b> BODY=binarymime"); /* RFC 3030 3 */
    assert_int_equal(M.body, BODY_BINARYMIME);
    MAIL_ERR("FROM:<a@b> BODY=BINARY", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> BODY=8BIT", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> BODY", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> BODY=", 501, "5.5.4");
}

static void test_mail_ret(void **state)
{
    (void)state;
    MAIL_OK("FROM:<a@b> RET=FULL");
    assert_int_equal(M.ret, DSN_RET_FULL);
    MAIL_OK("FROM:<a@b> ret=hdrs");
    assert_int_equal(M.ret, DSN_RET_HDRS);
    MAIL_ERR("FROM:<a@b> RET=ALL", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> RET=FULLX", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> RET", 501, "5.5.4");
}

static void test_mail_envid(void **state)
{
    (void)state;
    char line[300];
    MAIL_OK("FROM:<a@b> ENVID=QQ314159");
    assert_int_equal(M.has_envid, 1);
    assert_string_equal(M.envid, "QQ314159");
    MAIL_OK("FROM:<a@b> ENVID=a+2Bb+3Dc+20d");
    assert_string_equal(M.envid, "a+b=c d");
    str_fmt(line, sizeof line, "FROM:<a@b> ENVID=%s", rep('e', 100));
    MAIL_OK(line);
    assert_int_equal(strlen(M.envid), 100);
    str_fmt(line, sizeof line, "FROM:<a@b> ENVID=%s", rep('e', 101));
    MAIL_ERR(line, 501, "5.5.4");
    str_fmt(line, sizeof line, "FROM:<a@b> ENVID=%s+2B", rep('e', 97));
    MAIL_OK(line);
    assert_int_equal(strlen(M.envid), 98);
    str_fmt(line, sizeof line, "FROM:<a@b> ENVID=%s+2B", rep('e', 98));
    MAIL_ERR(line, 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> ENVID=a+0Db", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> ENVID=a+0Ab", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> ENVID=a+00", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> ENVID=a+7f", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> ENVID=a+", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> ENVID=a+4", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> ENVID=a+XY", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> ENVID=", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> ENVID", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> ENVID=a\x01" "b", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> ENVID=caf\xc3\xa9", 501, "5.5.4");
}

static void test_mail_auth(void **state)
{
    (void)state;
    MAIL_OK("FROM:<a@b> AUTH=<>");
    assert_int_equal(M.has_auth, 1);
    MAIL_OK("FROM:<a@b> auth=bob+40x.example");
    assert_int_equal(M.has_auth, 1);
    MAIL_ERR("FROM:<a@b> AUTH=a+ZZ", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> AUTH=a+0A", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> AUTH", 501, "5.5.4");
}

static void test_mail_all_params(void **state)
{
    (void)state;
    MAIL_OK("FROM:<a@b.example>  SIZE=100   body=8BITMIME RET=HDRS ENVID=id1 AUTH=<>  ");
    assert_int_equal(M.size, 100);
    assert_int_equal(M.body, BODY_8BITMIME);
    assert_int_equal(M.ret, DSN_RET_HDRS);
    assert_string_equal(M.envid, "id1");
    assert_int_equal(M.has_auth, 1);
    assert_string_equal(M.from.domain, "b.example");
}

static void test_mail_repeated_unknown_malformed(void **state)
{
    (void)state;
    MAIL_ERR("FROM:<a@b> SIZE=1 SIZE=2", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> RET=FULL ret=HDRS", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> ENVID=x BODY=7BIT ENVID=x", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> AUTH=<> AUTH=<>", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> BODY=7BIT BODY=7BIT", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> FOO=bar", 555, "5.5.4");
    MAIL_ERR("FROM:<a@b> FOO", 555, "5.5.4");
    MAIL_ERR("FROM:<a@b> NOTIFY=NEVER", 555, "5.5.4");
    MAIL_ERR("FROM:<a@b> ORCPT=rfc822;a@b", 555, "5.5.4");
    MAIL_ERR("FROM:<a@b> XSMTPUTF8", 555, "5.5.4");
    MAIL_ERR("FROM:<a@b> SIZE=1 X-FOO=1", 555, "5.5.4");
    MAIL_ERR("FROM:<a@b> =x", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> SI_ZE=1", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> -X=1", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> SIZE=1=2", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> <c@d>", 501, "5.5.4");
    MAIL_ERR("FROM:<a@b> ENVID=a\tb", 501, "5.5.4");
}

static void test_mail_helo_session(void **state)
{
    (void)state;
    assert_int_equal(mail_esmtp("FROM:<a@b>", 0), 0);
    assert_int_equal(mail_esmtp("FROM:<a@b>   ", 0), 0);
    EXPECT_ERR(mail_esmtp("FROM:<a@b> SIZE=1", 0), 555, "5.5.4");
    EXPECT_ERR(mail_esmtp("FROM:<a@b> BODY=8BITMIME", 0), 555, "5.5.4");
    EXPECT_ERR(mail_esmtp("FROM:<a@b> FOO", 0), 555, "5.5.4");
    EXPECT_ERR(mail_esmtp("FROM:<a@b> =", 0), 555, "5.5.4");
    EXPECT_ERR(mail_esmtp("FROM:<a@b@> SIZE=1", 0), 501, "5.1.7");
    EXPECT_ERR(rcpt_esmtp("TO:<a@b> NOTIFY=NEVER", 0), 555, "5.5.4");
    EXPECT_ERR(rcpt_esmtp("TO:<a@b> ORCPT=rfc822;a@b", 0), 555, "5.5.4");
    assert_int_equal(rcpt_esmtp("TO:<a@b>", 0), 0);
}

static void test_rcpt_basic(void **state)
{
    (void)state;
    RCPT_OK("TO:<bob@x.example>");
    assert_string_equal(R.to.local, "bob");
    assert_int_equal(R.notify, 0);
    assert_int_equal(R.has_orcpt, 0);
    RCPT_OK("to:<bob@x.example>");
    RCPT_OK("To: <bob@x.example>");
    RCPT_OK("TO:bob@x.example");
    assert_string_equal(R.to.domain, "x.example");
    RCPT_OK("TO:<Postmaster>");
    assert_string_equal(R.to.local, "Postmaster");
    assert_string_equal(R.to.domain, "");
    RCPT_OK("TO:<postmaster> NOTIFY=NEVER");
    assert_int_equal(R.notify, NOTIFY_NEVER);
    RCPT_OK("TO:postmaster");
    assert_string_equal(R.to.domain, "");
    RCPT_OK("TO:<@a.example,@b.example:user@c.example>");
    assert_string_equal(R.to.local, "user");
    assert_string_equal(R.to.domain, "c.example");
    RCPT_OK("TO:<u@[IPv6:2001:db8::1]>");
}

static void test_rcpt_errors(void **state)
{
    (void)state;
    char line[700];
    RCPT_ERR("", 501, "5.5.2");
    RCPT_ERR("<bob@x.example>", 501, "5.5.2");
    RCPT_ERR("FROM:<bob@x.example>", 501, "5.5.2");
    RCPT_ERR("T", 501, "5.5.2");
    RCPT_ERR("TO:<>", 501, "5.1.3");
    RCPT_ERR("TO:", 501, "5.1.3");
    RCPT_ERR("TO:<bob>", 501, "5.1.3");
    RCPT_ERR("TO:<bob@x.example.>", 501, "5.1.3");
    RCPT_ERR("TO:<bob@x.example>>", 501, "5.1.3");
    RCPT_ERR("TO:<@a.example:Postmaster>", 501, "5.1.3");
    str_fmt(line, sizeof line, "TO:<%s@x.example>", rep('a', 65));
    RCPT_ERR(line, 501, "5.1.3");
    str_fmt(line, sizeof line, "TO:<a@%s.%s.%s.%s.x>", rep('d', 63), rep('d', 63), rep('d', 63),
            rep('d', 63));
    RCPT_ERR(line, 501, "5.1.3");
}

static void test_rcpt_notify(void **state)
{
    (void)state;
    RCPT_OK("TO:<a@b> NOTIFY=NEVER");
    assert_int_equal(R.notify, NOTIFY_NEVER);
    RCPT_OK("TO:<a@b> NOTIFY=SUCCESS");
    assert_int_equal(R.notify, NOTIFY_SUCCESS);
    RCPT_OK("TO:<a@b> notify=success,Failure,DELAY");
    assert_int_equal(R.notify, NOTIFY_SUCCESS | NOTIFY_FAILURE | NOTIFY_DELAY);
    RCPT_OK("TO:<a@b> NOTIFY=DELAY,FAILURE");
    assert_int_equal(R.notify, NOTIFY_FAILURE | NOTIFY_DELAY);
    RCPT_ERR("TO:<a@b> NOTIFY=NEVER,SUCCESS", 501, "5.5.4");
    RCPT_ERR("TO:<a@b> NOTIFY=SUCCESS,NEVER", 501, "5.5.4");
    RCPT_ERR("TO:<a@b> NOTIFY=NEVER,NEVER", 501, "5.5.4");
    RCPT_ERR("TO:<a@b> NOTIFY=SUCCESS,SUCCESS", 501, "5.5.4");
    RCPT_ERR("TO:<a@b> NOTIFY=SUCCESS,", 501, "5.5.4");
    RCPT_ERR("TO:<a@b> NOTIFY=,SUCCESS", 501, "5.5.4");
    RCPT_ERR("TO:<a@b> NOTIFY=SUCCESS,,FAILURE", 501, "5.5.4");
    RCPT_ERR("TO:<a@b> NOTIFY=ALWAYS", 501, "5.5.4");
    RCPT_ERR("TO:<a@b> NOTIFY=SUCCESSFAILURE", 501, "5.5.4");
    RCPT_ERR("TO:<a@b> NOTIFY=", 501, "5.5.4");
    RCPT_ERR("TO:<a@b> NOTIFY", 501, "5.5.4");
    RCPT_ERR("TO:<a@b> NOTIFY=NEVER NOTIFY=NEVER", 501, "5.5.4");
}

static void test_rcpt_orcpt(void **state)
{
    (void)state;
    RCPT_OK("TO:<a@b> ORCPT=rfc822;bob@example.org");
    assert_int_equal(R.has_orcpt, 1);
    assert_string_equal(R.orcpt_type, "rfc822");
    assert_string_equal(R.orcpt, "bob@example.org");
    RCPT_OK("TO:<root@b> ORCPT=rfc822;root");
    assert_string_equal(R.orcpt, "root");
    RCPT_OK("TO:<a@b> ORCPT=RFC822;a+2Bb+3Dc@x");
    assert_string_equal(R.orcpt_type, "RFC822");
    assert_string_equal(R.orcpt, "a+b=c@x");
    RCPT_OK("TO:<a@b> ORCPT=x-local;any+20thing;with;semis");
    assert_string_equal(R.orcpt_type, "x-local");
    assert_string_equal(R.orcpt, "any thing;with;semis");
    RCPT_OK("TO:<a@b> NOTIFY=FAILURE ORCPT=rfc822;a@b");
    assert_int_equal(R.notify, NOTIFY_FAILURE);
    assert_int_equal(R.has_orcpt, 1);
}

static void test_rcpt_orcpt_errors(void **state)
{
    (void)state;
    char line[700];
    RCPT_ERR("TO:<a@b> ORCPT=rfc822", 501, "5.5.4");
    RCPT_ERR("TO:<a@b> ORCPT=;bob@x", 501, "5.5.4");
    RCPT_ERR("TO:<a@b> ORCPT=rfc822;", 501, "5.5.4");
    RCPT_ERR("TO:<a@b> ORCPT=rfc822;a+0D+0AX-Evil:+201", 501, "5.5.4");
    RCPT_ERR("TO:<a@b> ORCPT=rfc822;a+00", 501, "5.5.4");
    RCPT_ERR("TO:<a@b> ORCPT=rfc822;a+G1", 501, "5.5.4");
    RCPT_ERR("TO:<a@b> ORCPT=rf(c;a", 501, "5.5.4");
    RCPT_ERR("TO:<a@b> ORCPT=rf.c;a", 501, "5.5.4");
    RCPT_ERR("TO:<a@b> ORCPT", 501, "5.5.4");
    RCPT_ERR("TO:<a@b> ORCPT=rfc822;a ORCPT=rfc822;a", 501, "5.5.4");
    str_fmt(line, sizeof line, "TO:<a@b> ORCPT=%s;x", rep('t', 31));
    RCPT_OK(line);
    str_fmt(line, sizeof line, "TO:<a@b> ORCPT=%s;x", rep('t', 32));
    RCPT_ERR(line, 501, "5.5.4");
}

static void test_rcpt_orcpt_length(void **state)
{
    (void)state;
    char line[700];
    str_fmt(line, sizeof line, "TO:<a@b> ORCPT=rfc822;%s", rep('o', 493));
    RCPT_OK(line);
    assert_int_equal(strlen(R.orcpt), 493);
    str_fmt(line, sizeof line, "TO:<a@b> ORCPT=rfc822;%s", rep('o', 494));
    RCPT_ERR(line, 501, "5.5.4");
}

static void test_rcpt_unknown(void **state)
{
    (void)state;
    RCPT_ERR("TO:<a@b> SIZE=1", 555, "5.5.4");
    RCPT_ERR("TO:<a@b> RET=FULL", 555, "5.5.4");
    RCPT_ERR("TO:<a@b> FOO=bar", 555, "5.5.4");
    RCPT_ERR("TO:<a@b> NOTIFY=NEVER BAR", 555, "5.5.4");
    RCPT_ERR("TO:<a@b> N@TIFY=NEVER", 501, "5.5.4");
}

static void test_notify_format(void **state)
{
    (void)state;
    char out[64];
    smtp_notify_format(0, out, sizeof out);
    assert_string_equal(out, "");
    smtp_notify_format(NOTIFY_NEVER, out, sizeof out);
    assert_string_equal(out, "NEVER");
    smtp_notify_format(NOTIFY_SUCCESS | NOTIFY_FAILURE | NOTIFY_DELAY, out, sizeof out);
    assert_string_equal(out, "SUCCESS,FAILURE,DELAY");
    smtp_notify_format(NOTIFY_DELAY | NOTIFY_FAILURE, out, sizeof out);
    assert_string_equal(out, "FAILURE,DELAY");
    smtp_notify_format(NOTIFY_SUCCESS | NOTIFY_FAILURE, out, 8);
    assert_string_equal(out, "SUCCESS");
    smtp_notify_format(NOTIFY_SUCCESS, out, 0);
}

/* Every valid combination survives format then parse. */
static void test_notify_round_trip(void **state)
{
    (void)state;
    for (unsigned bits = 1; bits <= 8; bits++) {
        if (bits > 7 && bits != NOTIFY_NEVER)
            continue;
        char out[64];
        unsigned back = 0;
        smtp_notify_format(bits, out, sizeof out);
        assert_int_equal(smtp_notify_parse(out, strlen(out), &back), 0);
        assert_int_equal(back, bits);
    }
    unsigned keep = 42;
    assert_int_equal(smtp_notify_parse("NEVER,DELAY", 11, &keep), -1);
    assert_int_equal(keep, 42);
    assert_int_equal(smtp_notify_parse("", 0, &keep), -1);
    assert_int_equal(smtp_notify_parse("DELAYX", 5, &keep), 0);
    assert_int_equal(keep, NOTIFY_DELAY);
}

static struct bdat_params B;

static int bdat(const char *s)
{
    memset(&E, 0, sizeof E);
    return smtp_parse_bdat(s, strlen(s), &B, &E);
}

static void test_bdat(void **state)
{
    (void)state;
    assert_int_equal(bdat("0"), 0);
    assert_true(B.has_size && B.size == 0 && !B.last);
    assert_int_equal(bdat("0 LAST"), 0);
    assert_true(B.has_size && B.size == 0 && B.last);
    assert_int_equal(bdat("12345 last"), 0);
    assert_true(B.size == 12345 && B.last);
    assert_int_equal(bdat("18446744073709551615"), 0);
    assert_true(B.size == UINT64_MAX);
    /* the size is readable: the chunk can be skipped */
    EXPECT_ERR(bdat("10 FIRST"), 501, "5.5.4");
    assert_true(B.has_size && B.size == 10);
    EXPECT_ERR(bdat("10 LAST "), 501, "5.5.4");
    EXPECT_ERR(bdat("10 LAST x"), 501, "5.5.4");
    EXPECT_ERR(bdat("10  LAST"), 501, "5.5.4");
    EXPECT_ERR(bdat("10 "), 501, "5.5.4");
    assert_true(B.has_size && B.size == 10);
    /* no readable size: the session cannot stay in step */
    const char *bad[] = {"", " 10", "LAST", "-1", "+1", "1k", "0x10", "1.5", "10\tLAST",
                         "18446744073709551616", "000000000000000000001"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        EXPECT_ERR(bdat(bad[i]), 501, "5.5.4");
        assert_false(B.has_size);
    }
    /* never reads past the length it is given */
    memset(&E, 0, sizeof E);
    assert_int_equal(smtp_parse_bdat("12 LASTX", 7, &B, &E), 0);
    assert_true(B.size == 12 && B.last);
}

static void test_smtputf8(void **state)
{
    (void)state;
    MAIL_OK("FROM:<a@x.test> SMTPUTF8");
    assert_true(M.smtputf8);
    MAIL_OK("FROM:<j\xc3\xbcrgen@b\xc3\xbc" "cher.test> SMTPUTF8 BODY=8BITMIME");
    assert_true(M.from.utf8);
    MAIL_ERR("FROM:<j\xc3\xbcrgen@x.test>", 553, "5.6.7");
    MAIL_ERR("FROM:<a@x.test> SMTPUTF8=yes", 501, "5.5.4");
    MAIL_ERR("FROM:<a@x.test> SMTPUTF8 SMTPUTF8", 501, "5.5.4");
    MAIL_ERR("FROM:<ju\xcc\x88rgen@x.test> SMTPUTF8", 501, "5.1.7"); /* not NFC */
    MAIL_OK("FROM:<> SMTPUTF8");
    /* RCPT: UTF-8 only in an SMTPUTF8 transaction */
    EXPECT_ERR(rcpt_esmtp("TO:<j\xc3\xbcrgen@x.test>", 1), 553, "5.6.7");
    memset(&E, 0, sizeof E);
    const char *r = "TO:<j\xc3\xbcrgen@x.test> ORCPT=utf-8;j\xc3\xbcrgen@x.test";
    assert_int_equal(smtp_parse_rcpt_utf8(r, strlen(r), 1, 1, &R, &E), 0);
    assert_string_equal(R.orcpt_type, "utf-8");
    assert_string_equal(R.orcpt, "j\xc3\xbcrgen@x.test");
    r = "TO:<b@x.test> ORCPT=utf-8;j\\x{FC}rgen@x.test";    /* xtext form: no SMTPUTF8 needed */
    assert_int_equal(smtp_parse_rcpt_utf8(r, strlen(r), 1, 0, &R, &E), 0);
    assert_string_equal(R.orcpt, "j\xc3\xbcrgen@x.test");
    r = "TO:<b@x.test> ORCPT=utf-8;j\xc3\xbcrgen@x.test";    /* raw UTF-8 without SMTPUTF8 */
    EXPECT_ERR(smtp_parse_rcpt_utf8(r, strlen(r), 1, 0, &R, &E), 553, "5.6.7");
    r = "TO:<b@x.test> ORCPT=utf-8;a\\x{0D}b";
    EXPECT_ERR(smtp_parse_rcpt_utf8(r, strlen(r), 1, 1, &R, &E), 501, "5.5.4");
    r = "TO:<b@x.test> ORCPT=rfc822;j\xc3\xbcrgen@x.test";  /* raw UTF-8 is no xtext */
    EXPECT_ERR(smtp_parse_rcpt_utf8(r, strlen(r), 1, 1, &R, &E), 501, "5.5.4");
    /* Postfix writes a UTF-8 ORCPT as rfc822 xtext of its octets: kept as utf-8 */
    r = "TO:<b@x.test> ORCPT=rfc822;j+C3+BCrgen@x.test";
    assert_int_equal(smtp_parse_rcpt_utf8(r, strlen(r), 1, 1, &R, &E), 0);
    assert_string_equal(R.orcpt_type, "utf-8");
    assert_string_equal(R.orcpt, "j\xc3\xbcrgen@x.test");
    EXPECT_ERR(smtp_parse_rcpt_utf8(r, strlen(r), 1, 0, &R, &E), 501, "5.5.4");
    r = "TO:<b@x.test> ORCPT=rfc822;j+C3rgen@x.test";           /* not UTF-8 */
    EXPECT_ERR(smtp_parse_rcpt_utf8(r, strlen(r), 1, 1, &R, &E), 501, "5.5.4");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_command_verbs),
        cmocka_unit_test(test_command_args),
        cmocka_unit_test(test_command_bounds),
        cmocka_unit_test(test_command_forbidden),
        cmocka_unit_test(test_line_limit),
        cmocka_unit_test(test_mail_basic),
        cmocka_unit_test(test_mail_liberal),
        cmocka_unit_test(test_mail_syntax),
        cmocka_unit_test(test_mail_lengths),
        cmocka_unit_test(test_mail_size),
        cmocka_unit_test(test_mail_body),
        cmocka_unit_test(test_mail_ret),
        cmocka_unit_test(test_mail_envid),
        cmocka_unit_test(test_mail_auth),
        cmocka_unit_test(test_mail_all_params),
        cmocka_unit_test(test_mail_repeated_unknown_malformed),
        cmocka_unit_test(test_mail_helo_session),
        cmocka_unit_test(test_rcpt_basic),
        cmocka_unit_test(test_rcpt_errors),
        cmocka_unit_test(test_rcpt_notify),
        cmocka_unit_test(test_rcpt_orcpt),
        cmocka_unit_test(test_rcpt_orcpt_errors),
        cmocka_unit_test(test_rcpt_orcpt_length),
        cmocka_unit_test(test_rcpt_unknown),
        cmocka_unit_test(test_notify_format),
        cmocka_unit_test(test_notify_round_trip),
        cmocka_unit_test(test_bdat),
        cmocka_unit_test(test_smtputf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
