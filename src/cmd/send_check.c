/*
 * send_check: the checks of "postino send" before any connection: the
 * server's HOST:PORT, the addresses (proto/addr), NOTIFY (proto/smtp_parse),
 * RET, ENVID and ORCPT (xtext, RFC 3461 4), AUTH's USER:PASS; then the
 * message, read whole and turned into its wire form (LF or CRLF lines to
 * CRLF, dot-stuffed by proto/smtp_dotstuff). Each failure is one message on
 * stderr and a sysexits code.
 */
#include "cmd/send.h"
#include "lib/alloc.h"
#include "lib/str.h"
#include "proto/addr.h"
#include "proto/smtp_dotstuff.h"
#include "proto/smtp_parse.h"
#include "proto/xtext.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

void send_job_init(struct send_job *j, const struct send_args *a)
{
    memset(j, 0, sizeof *j);
    j->a = a;
    buf_init(&j->envid_x, 512);
    buf_init(&j->orcpt_x, 2048);
    buf_init(&j->wire, SEND_MAX_MESSAGE * 2 + 16);
}

void send_job_free(struct send_job *j)
{
    free(j->host);
    free(j->port);
    buf_free(&j->envid_x);
    buf_free(&j->orcpt_x);
    buf_free(&j->wire);
}

/* Splits HOST:PORT or [ADDR]:PORT into j->host and j->port; -1 if malformed. */
static int send_split_server(struct send_job *j, const char *s)
{
    const char *h = s, *he, *pt;
    if (s[0] == '[') {
        he = strchr(s, ']');
        if (!he || he[1] != ':')
            return -1;
        h = s + 1;
        pt = he + 2;
    } else {
        he = strrchr(s, ':');
        if (!he)
            return -1;
        pt = he + 1;
    }
    size_t plen = strlen(pt);
    if (he == h || plen == 0 || plen > 5 || strspn(pt, "0123456789") != plen)
        return -1;
    long pn = strtol(pt, NULL, 10);
    if (pn < 1 || pn > 65535)
        return -1;
    j->host = xstrndup(h, (size_t)(he - h));
    j->port = xstrdup(pt);
    return 0;
}

/* A mailbox (proto/addr), or a bare local part the server is left to qualify; "" only
 * where allow_empty (the null sender). */
static int send_addr_ok(const char *a, int allow_empty)
{
    struct addr parsed;
    if (!*a)
        return allow_empty;
    if (strchr(a, '@'))
        return addr_parse_mailbox(a, &parsed) == ADDR_OK;
    char probe[ADDR_LOCAL_MAX + sizeof "@localhost"];
    return str_fmt(probe, sizeof probe, "%s@localhost", a) == 0 &&
           addr_parse_mailbox(probe, &parsed) == ADDR_OK;
}

static int send_check_addresses(const struct send_args *a)
{
    if (!send_addr_ok(a->from, 1)) {
        fprintf(stderr, "postino send: bad --from address\n");
        return EX_USAGE;
    }
    for (size_t i = 0; i < a->nrcpt; i++)
        if (!send_addr_ok(a->rcpts[i], 0)) {
            fprintf(stderr, "postino send: bad --to address '%s'\n", a->rcpts[i]);
            return EX_USAGE;
        }
    return 0;
}

/* NOTIFY, RET, ENVID and ORCPT. */
static int send_check_dsn(struct send_job *j)
{
    const struct send_args *a = j->a;
    unsigned bits = 0;
    if (a->notify && smtp_notify_parse(a->notify, strlen(a->notify), &bits) < 0) {
        fprintf(stderr, "postino send: --notify wants never or success,failure,delay\n");
        return EX_USAGE;
    }
    smtp_notify_format(bits, j->notify, sizeof j->notify);
    if (a->ret && strcasecmp(a->ret, "full") != 0 && strcasecmp(a->ret, "hdrs") != 0) {
        fprintf(stderr, "postino send: --ret wants full or hdrs\n");
        return EX_USAGE;
    }
    if (a->envid && (!*a->envid || xtext_encode(a->envid, strlen(a->envid), &j->envid_x) < 0 ||
                     j->envid_x.len > DSN_ENVID_MAX)) {
        fprintf(stderr, "postino send: --envid is empty or too long\n");
        return EX_USAGE;
    }
    if (a->orcpt && (!send_addr_ok(a->orcpt, 0) ||
                     xtext_encode(a->orcpt, strlen(a->orcpt), &j->orcpt_x) < 0)) {
        fprintf(stderr, "postino send: bad --orcpt address\n");
        return EX_USAGE;
    }
    return 0;
}

int send_check(struct send_job *j)
{
    const struct send_args *a = j->a;
    if (send_split_server(j, a->server) < 0) {
        fprintf(stderr, "postino send: --server wants HOST:PORT, not '%s'\n", a->server);
        return EX_USAGE;
    }
    int rc = send_check_addresses(a);
    if (rc == 0)
        rc = send_check_dsn(j);
    if (rc != 0)
        return rc;
    const char *colon = a->auth ? strchr(a->auth, ':') : NULL;
    if (a->auth && (!colon || colon == a->auth)) {
        fprintf(stderr, "postino send: --auth wants USER:PASS\n");
        return EX_USAGE;
    }
    j->auth_user_len = colon ? (size_t)(colon - a->auth) : 0;
    return 0;
}

/* Reads the whole input (path, or stdin for NULL or "-") into out. */
static int send_read_input(const char *path, struct buf *out)
{
    int fd = 0;
    if (path && strcmp(path, "-") != 0) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "postino send: %s: %s\n", path, strerror(errno));
            return EX_NOINPUT;
        }
    }
    char tmp[65536];
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0) {
                fprintf(stderr, "postino send: %s: %s\n", path ? path : "stdin", strerror(errno));
                rc = EX_NOINPUT;
            }
            break;
        }
        if (buf_append(out, tmp, (size_t)n) < 0) {
            fprintf(stderr, "postino send: message too large\n");
            rc = EX_DATAERR;
            break;
        }
    }
    if (fd != 0)
        close(fd);
    return rc;
}

struct send_wire {
    struct buf *out;
    int full;
};

static void send_wire_emit(void *ctx, const char *p, size_t n)
{
    struct send_wire *w = ctx;
    if (buf_append(w->out, p, n) < 0)
        w->full = 1;
}

/* LF or CRLF lines -> CRLF, dot-stuffed, terminated by ".\r\n"; -1 if too large. */
static int send_wire_message(const struct buf *in, struct buf *out)
{
    struct send_wire w = { .out = out, .full = 0 };
    struct smtp_dotstuff st;
    smtp_dotstuff_init(&st);
    size_t i = 0;
    while (i < in->len && !w.full) {
        const char *p = in->data + i;
        const char *nl = memchr(p, '\n', in->len - i);
        size_t len = nl ? (size_t)(nl - p) : in->len - i;
        i += len + (nl ? 1 : 0);
        if (len > 0 && p[len - 1] == '\r')
            len--;
        smtp_dotstuff_feed(&st, p, len, send_wire_emit, &w);
        smtp_dotstuff_feed(&st, "\r\n", 2, send_wire_emit, &w);
    }
    smtp_dotstuff_end(&st, send_wire_emit, &w);
    return w.full ? -1 : 0;
}

int send_read_message(struct send_job *j)
{
    struct buf msg;
    buf_init(&msg, SEND_MAX_MESSAGE);
    int rc = send_read_input(j->a->file, &msg);
    if (rc == 0 && send_wire_message(&msg, &j->wire) < 0) {
        fprintf(stderr, "postino send: message too large\n");
        rc = EX_DATAERR;
    }
    buf_free(&msg);
    return rc;
}
