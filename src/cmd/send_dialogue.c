/*
 * send_dialogue: the SMTP conversation of "postino send" (RFC 5321; RFC
 * 3207 STARTTLS; RFC 4954 AUTH PLAIN, RFC 4616, base64 by proto/sasl; RFC
 * 3461 DSN parameters when the server offers DSN). Greeting, EHLO (HELO
 * after a 5xx), STARTTLS, AUTH, MAIL, one RCPT per recipient (each reply
 * printed), DATA, the content, QUIT. Every reply is assembled by
 * proto/smtp_reply; the exit code is the worst outcome, in the order
 * success < 4xx or connection (75) < 5xx (69) < malformed reply (76).
 */
#include "cmd/send.h"
#include "lib/alloc.h"
#include "proto/sasl.h"
#include <ctype.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

/* The conversation: the job, the connection, the last command, the outcome so far. */
struct send_talk {
    struct send_job *j;
    struct send_conn c;
    struct smtp_ehlo ehlo;
    struct buf cmd;
    char me[256];
    int esmtp;
    int rc;       /* the exit code */
    int quit;     /* on stopping: say QUIT first */
};

static int send_class_exit(int code)
{
    if (code == R_CONN)
        return EX_TEMPFAIL;
    if (code == R_PROTO)
        return EX_PROTOCOL;
    if (code >= 500)
        return EX_UNAVAILABLE;
    if (code >= 400)
        return EX_TEMPFAIL;
    return EX_PROTOCOL;
}

static int send_rank(int ex)
{
    return ex == 0 ? 0 : ex == EX_TEMPFAIL ? 1 : ex == EX_UNAVAILABLE ? 2 : 3;
}

/* The worse of two exit codes. */
static int send_worse(int a, int b)
{
    return send_rank(a) >= send_rank(b) ? a : b;
}

/* Stops the conversation with exit code rc (-1 for the caller to return). */
static int send_stop(struct send_talk *t, int rc, int quit)
{
    t->rc = rc;
    t->quit = quit;
    return -1;
}

/* Prints a failure for a command-level reply on stderr. */
static void send_report(struct send_talk *t, const char *what, int x)
{
    if (x == R_CONN)
        fprintf(stderr, "postino send: %s: connection lost\n", what);
    else if (x == R_PROTO)
        fprintf(stderr, "postino send: %s: malformed reply\n", what);
    else
        fprintf(stderr, "postino send: %s: %s\n", what, smtp_reply_text(&t->c.reply));
}

/* Reports a failed reply and stops with exit code rc, saying QUIT first. */
static int send_refused(struct send_talk *t, const char *what, int x, int rc)
{
    send_report(t, what, x);
    return send_stop(t, rc, 1);
}

/* Formats the command into t->cmd and sends it; its reply code, R_CONN or R_PROTO. */
static int send_cmdf(struct send_talk *t, struct smtp_ehlo *ehlo, const char *fmt, const char *arg)
{
    buf_reset(&t->cmd);
    if (buf_printf(&t->cmd, fmt, arg) < 0)
        return R_PROTO;
    return send_command(&t->c, buf_cstr(&t->cmd), NULL, ehlo);
}

/* This host's name as EHLO takes it: letters, digits, '.' and '-'. */
static void send_hostname(char *me, size_t size)
{
    if (gethostname(me, size) != 0 || !me[0])
        memcpy(me, "localhost", sizeof "localhost");
    me[size - 1] = '\0';
    for (char *q = me; *q; q++)
        if (!isalnum((unsigned char)*q) && *q != '.' && *q != '-')
            *q = '-';
}

static int send_ehlo(struct send_talk *t)
{
    smtp_ehlo_init(&t->ehlo);
    return send_cmdf(t, &t->ehlo, "EHLO %s", t->me);
}

/* Greeting, then EHLO (HELO after a 5xx). */
static int send_hello(struct send_talk *t)
{
    int x = send_read_reply(&t->c, NULL);
    if (x != 220)
        return send_refused(t, "greeting", x, x == 554 ? EX_UNAVAILABLE : send_class_exit(x));
    t->esmtp = 1;
    x = send_ehlo(t);
    if (x >= 500 && x < 600) {
        x = send_cmdf(t, NULL, "HELO %s", t->me);
        t->esmtp = 0;
    }
    return x == 250 ? 0 : send_refused(t, "EHLO", x, send_class_exit(x));
}

static int send_starttls(struct send_talk *t)
{
    if (!t->esmtp || !(t->ehlo.ext & SMTP_EXT_STARTTLS)) {
        fprintf(stderr, "postino send: the server does not offer STARTTLS\n");
        return send_stop(t, EX_UNAVAILABLE, 1);
    }
    int x = send_command(&t->c, "STARTTLS", NULL, NULL);
    if (x != 220)
        return send_refused(t, "STARTTLS", x, send_class_exit(x));
    if (t->c.rpos < t->c.rlen) {
        fprintf(stderr, "postino send: data after the STARTTLS reply\n");
        return send_stop(t, EX_PROTOCOL, 0);
    }
    if (send_start_tls(&t->c, t->j->host) < 0)
        return send_stop(t, EX_TEMPFAIL, 0);
    x = send_ehlo(t);
    return x == 250 ? 0 : send_refused(t, "EHLO", x, send_class_exit(x));
}

/* "AUTH PLAIN base64(NUL user NUL pass)" into t->cmd; -1 if too long. */
static int send_auth_line(struct send_talk *t)
{
    const char *auth = t->j->a->auth;
    size_t ul = t->j->auth_user_len, pl = strlen(auth + ul + 1), rawlen = ul + pl + 2;
    size_t b64len = 4 * ((rawlen + 2) / 3) + 1;
    char *raw = xmalloc(rawlen), *b64 = xmalloc(b64len);
    raw[0] = '\0';
    memcpy(raw + 1, auth, ul);
    raw[1 + ul] = '\0';
    memcpy(raw + 2 + ul, auth + ul + 1, pl);
    buf_reset(&t->cmd);
    int bad = sasl_base64_encode(raw, rawlen, b64, b64len) < 0 ||
              buf_printf(&t->cmd, "AUTH PLAIN %s", b64) < 0;
    OPENSSL_cleanse(raw, rawlen);
    OPENSSL_cleanse(b64, b64len);
    free(raw);
    free(b64);
    return bad ? -1 : 0;
}

static int send_auth(struct send_talk *t)
{
    if (send_auth_line(t) < 0) {
        fprintf(stderr, "postino send: --auth too long\n");
        return send_stop(t, EX_USAGE, 1);
    }
    int x = send_command(&t->c, buf_cstr(&t->cmd), "AUTH PLAIN <credentials hidden>", NULL);
    OPENSSL_cleanse(t->cmd.data, t->cmd.len);
    return x == 235 ? 0 : send_refused(t, "AUTH", x, send_class_exit(x));
}

/* The session up to the envelope: greeting, EHLO, STARTTLS, AUTH. */
static int send_open(struct send_talk *t)
{
    const struct send_args *a = t->j->a;
    if (send_connect(&t->c, t->j->host, t->j->port) < 0)
        return send_stop(t, EX_TEMPFAIL, 0);
    if (a->tls && send_start_tls(&t->c, t->j->host) < 0)
        return send_stop(t, EX_TEMPFAIL, 0);
    if (send_hello(t) < 0 || (a->starttls && send_starttls(t) < 0))
        return -1;
    return a->auth ? send_auth(t) : 0;
}

/* Whether to send the DSN parameters: asked for, and offered (else a warning). */
static int send_want_dsn(const struct send_talk *t)
{
    const struct send_args *a = t->j->a;
    int want = a->notify || a->ret || a->envid || a->orcpt;
    if (want && !(t->esmtp && (t->ehlo.ext & SMTP_EXT_DSN))) {
        fprintf(stderr, "postino send: warning: the server does not offer DSN; "
                        "sending without DSN parameters\n");
        return 0;
    }
    return want;
}

static int send_mail(struct send_talk *t, int dsn)
{
    const struct send_args *a = t->j->a;
    buf_reset(&t->cmd);
    buf_printf(&t->cmd, "MAIL FROM:<%s>", a->from);
    if (dsn && a->ret)
        buf_printf(&t->cmd, " RET=%s", strcasecmp(a->ret, "full") == 0 ? "FULL" : "HDRS");
    if (dsn && a->envid)
        buf_printf(&t->cmd, " ENVID=%s", buf_cstr(&t->j->envid_x));
    int x = send_command(&t->c, buf_cstr(&t->cmd), NULL, NULL);
    return x == 250 ? 0 : send_refused(t, "MAIL FROM", x, send_class_exit(x));
}

/* One RCPT: 1 accepted, 0 refused (t->rc updated), -1 stop. */
static int send_rcpt(struct send_talk *t, const char *rcpt, int dsn)
{
    struct send_job *j = t->j;
    buf_reset(&t->cmd);
    if (buf_printf(&t->cmd, "RCPT TO:<%s>", rcpt) < 0 ||
        (dsn && j->notify[0] && buf_printf(&t->cmd, " NOTIFY=%s", j->notify) < 0) ||
        (dsn && j->a->orcpt &&
         buf_printf(&t->cmd, " ORCPT=rfc822;%s", buf_cstr(&j->orcpt_x)) < 0)) {
        fprintf(stderr, "postino send: RCPT command too long\n");
        return send_stop(t, EX_USAGE, 1);
    }
    int x = send_command(&t->c, buf_cstr(&t->cmd), NULL, NULL);
    if (x < 0) {
        send_report(t, "RCPT TO", x);
        return send_stop(t, send_class_exit(x), 0);
    }
    printf("%s: %s\n", rcpt, smtp_reply_text(&t->c.reply));
    if (x == 250 || x == 251)
        return 1;
    t->rc = send_worse(t->rc, send_class_exit(x));
    return 0;
}

/* DATA, the content and the final reply. */
static int send_data(struct send_talk *t)
{
    const struct buf *wire = &t->j->wire;
    int x = send_command(&t->c, "DATA", NULL, NULL);
    if (x != 354)
        return send_refused(t, "DATA", x, send_worse(t->rc, send_class_exit(x)));
    if (t->c.verbose)
        fprintf(stderr, "C: <message, %zu bytes>\nC: .\n", wire->len);
    if (send_write(&t->c, wire->data, wire->len) < 0) {
        fprintf(stderr, "postino send: connection lost while sending the message\n");
        return send_stop(t, EX_TEMPFAIL, 0);
    }
    x = send_read_reply(&t->c, NULL);
    if (x < 0) {
        send_report(t, "end of data", x);
        return send_stop(t, send_class_exit(x), 0);
    }
    printf("%s\n", smtp_reply_text(&t->c.reply));
    if (x != 250)
        t->rc = send_worse(t->rc, send_class_exit(x));
    return send_stop(t, t->rc, 1);
}

/* The envelope and the content, once the session is open. */
static int send_transaction(struct send_talk *t)
{
    const struct send_args *a = t->j->a;
    int dsn = send_want_dsn(t);
    if (send_mail(t, dsn) < 0)
        return -1;
    t->rc = 0;
    size_t accepted = 0;
    for (size_t i = 0; i < a->nrcpt; i++) {
        int r = send_rcpt(t, a->rcpts[i], dsn);
        if (r < 0)
            return -1;
        accepted += (size_t)r;
    }
    fflush(stdout);
    if (accepted == 0) {
        fprintf(stderr, "postino send: no recipient accepted\n");
        return send_stop(t, t->rc, 1);
    }
    return send_data(t);
}

int send_dialogue(struct send_job *j)
{
    struct send_talk t = { .j = j, .rc = EX_PROTOCOL, .quit = 0 };
    send_conn_init(&t.c, j->a->verbose);
    buf_init(&t.cmd, 4096);
    send_hostname(t.me, sizeof t.me);
    signal(SIGPIPE, SIG_IGN);
    if (send_open(&t) == 0)
        send_transaction(&t);
    if (t.quit && t.c.fd >= 0)
        (void)send_command(&t.c, "QUIT", NULL, NULL);
    fflush(stdout);
    buf_free(&t.cmd);
    send_conn_free(&t.c);
    return t.rc;
}
