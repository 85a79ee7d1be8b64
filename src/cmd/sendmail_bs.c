/*
 * sendmail_bs: `postino sendmail -bs`, an SMTP dialogue on stdin/stdout
 * (RFC 5321, with PIPELINING, 8BITMIME, DSN, SIZE, ENHANCEDSTATUSCODES),
 * as programs that speak SMTP to a local sendmail expect. Each accepted
 * message goes into the drop directory like any other sendmail message;
 * "250 queued" comes only after it is durably stored there. Command lines
 * follow the server's rules: 512 octets, MAIL 612, RCPT 1012 (RFC 3461 4);
 * an HTTP request or a header line as a command ends the dialogue (421).
 */
#include "cmd/sendmail.h"
#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/str.h"
#include "proto/smtp_parse.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

/* Read cap for a command line: the longest smtp_line_limit allows (data lines may be longer). */
#define BS_LINE_MAX SMTP_RCPT_LINE_MAX

enum bs_state { BS_GREETED, BS_READY, BS_MAIL, BS_QUIT };

struct bs {
    const struct conf *conf;
    enum bs_state state;
    int esmtp;
    struct sm_drop drop;
    int has_drop;
    int write_failed;
};

static void bs_reply(struct bs *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bs_reply(struct bs *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    if (fputs("\r\n", stdout) == EOF || fflush(stdout) == EOF)
        b->write_failed = 1;
}

/*
 * Reads one line without its line end into line (at most max octets; a
 * longer line is returned in pieces with *partial set). 0 at the end of input.
 */
static int bs_read_line(struct buf *line, size_t max, int *partial)
{
    buf_reset(line);
    *partial = 0;
    int c;
    while ((c = getchar()) != EOF) {
        if (c == '\n') {
            if (line->len && line->data[line->len - 1] == '\r')
                line->len--;
            return 1;
        }
        buf_putc(line, (char)c);
        if (line->len >= max) {
            *partial = 1;
            return 1;
        }
    }
    return line->len > 0;
}

static void bs_reset(struct bs *b)
{
    if (b->has_drop)
        sm_drop_free(&b->drop);
    b->has_drop = 0;
    if (b->state == BS_MAIL)
        b->state = BS_READY;
}

static void bs_ehlo(struct bs *b, const struct smtp_cmd *cmd, int esmtp)
{
    bs_reset(b);
    if (!cmd->arg_len) {
        bs_reply(b, "501 5.5.4 Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
        return;
    }
    b->esmtp = esmtp;
    b->state = BS_READY;
    if (!esmtp) {
        bs_reply(b, "250 %s", b->conf->hostname);
        return;
    }
    bs_reply(b, "250-%s\r\n250-PIPELINING\r\n250-SIZE %llu\r\n250-8BITMIME\r\n250-DSN\r\n"
                "250 ENHANCEDSTATUSCODES", b->conf->hostname,
             (unsigned long long)b->conf->max_message_size);
}

static void bs_mail(struct bs *b, const struct smtp_cmd *cmd)
{
    struct mail_params mp;
    struct smtp_err err;
    char sender[600];
    if (b->state != BS_READY) {
        bs_reply(b, "503 5.5.1 Error: %s", b->state == BS_MAIL ? "nested MAIL command"
                                                                 : "send HELO/EHLO first");
        return;
    }
    if (smtp_parse_mail(cmd->arg, cmd->arg_len, b->esmtp, &mp, &err) < 0) {
        bs_reply(b, "%d %s %s", err.code, err.esc, err.text);
        return;
    }
    if (mp.has_size && mp.size > b->conf->max_message_size) {
        bs_reply(b, "552 5.3.4 Error: message size exceeds fixed maximum message size");
        return;
    }
    if (addr_format(&mp.from, sender, sizeof sender) < 0 || (!mp.from.is_null && !mp.from.domain[0])) {
        bs_reply(b, "501 5.1.7 Error: bad sender address");
        return;
    }
    sm_drop_init(&b->drop, b->conf, sender, NULL);
    b->has_drop = 1;
    b->drop.env.ret = mp.ret;
    b->drop.env.envid = mp.has_envid ? xstrdup(mp.envid) : NULL;
    b->state = BS_MAIL;
    bs_reply(b, "250 2.1.0 Ok");
}

static void bs_rcpt(struct bs *b, const struct smtp_cmd *cmd)
{
    struct rcpt_params rp;
    struct smtp_err err;
    char addr[600], orcpt[DSN_ORCPT_MAX + 64];
    if (b->state != BS_MAIL) {
        bs_reply(b, "503 5.5.1 Error: need MAIL command");
        return;
    }
    if (smtp_parse_rcpt(cmd->arg, cmd->arg_len, b->esmtp, &rp, &err) < 0) {
        bs_reply(b, "%d %s %s", err.code, err.esc, err.text);
        return;
    }
    if (!rp.to.domain[0]) /* <Postmaster>: the local one */
        str_copy(rp.to.domain, sizeof rp.to.domain, sm_default_domain(b->conf));
    if (b->drop.env.n_rcpts >= b->conf->max_recipients) {
        bs_reply(b, "452 4.5.3 Error: too many recipients");
        return;
    }
    if (rp.has_orcpt)
        str_fmt(orcpt, sizeof orcpt, "%s;%s", rp.orcpt_type, rp.orcpt);
    if (addr_format(&rp.to, addr, sizeof addr) < 0 ||
        sm_drop_rcpt(&b->drop, addr, rp.notify, rp.has_orcpt ? orcpt : NULL) < 0) {
        bs_reply(b, "452 4.5.3 Error: too many recipients");
        return;
    }
    bs_reply(b, "250 2.1.5 Ok");
}

/* Feeds one data line (dot-unstuffed) to the filter; pieces of an overlong line go on without a line end. */
static void bs_data_line(struct submit *s, struct buf *line, int at_start, int partial)
{
    const char *p = line->data;
    size_t n = line->len;
    if (at_start && n && p[0] == '.')
        p++, n--;
    submit_feed(s, p, n);
    if (!partial)
        submit_feed(s, "\n", 1);
}

/* Reads the message to the "." line. 0, or -1 at the end of input (no message). */
static int bs_read_data(struct submit *s)
{
    struct buf line;
    int partial = 0, at_start = 1, r = -1;
    buf_init(&line, BUF_UNLIMITED);
    while (bs_read_line(&line, 65536, &partial)) {
        if (at_start && !partial && line.len == 1 && line.data[0] == '.') {
            r = 0;
            break;
        }
        bs_data_line(s, &line, at_start, partial);
        at_start = !partial;
    }
    buf_free(&line);
    return r;
}

static void bs_data(struct bs *b)
{
    struct submit s;
    struct submit_opts o;
    if (b->state != BS_MAIL || b->drop.env.n_rcpts == 0) {
        bs_reply(b, "%s", b->state != BS_MAIL ? "503 5.5.1 Error: need MAIL command"
                                              : "554 5.5.1 Error: no valid recipients");
        return;
    }
    bs_reply(b, "354 End data with <CR><LF>.<CR><LF>");
    sm_drop_submit_opts(&b->drop, &o, 0, 0);
    submit_init(&s, &o);
    if (bs_read_data(&s) < 0) {
        b->state = BS_QUIT; /* the input ended inside DATA: nothing was accepted */
    } else if (submit_finish(&s) < 0) {
        bs_reply(b, "%s %s", s.err == SUBMIT_TOO_BIG ? "552 5.3.4" : "554 5.6.0", s.why);
    } else if (sm_drop_commit(&b->drop) < 0) {
        int err = errno; /* the reply code and enhanced code: 452 4.3.1 when storage ran out */
        bs_reply(b, "%.9s Error: cannot store the message: %s", queue_error_reply(err),
                 strerror(err));
    } else {
        bs_reply(b, "250 2.0.0 Ok: queued as %s", b->drop.env.id);
    }
    submit_free(&s);
    bs_reset(b);
}

static void bs_command(struct bs *b, const char *line, size_t len)
{
    struct smtp_cmd cmd;
    switch (smtp_parse_command(line, len, &cmd)) {
    case SMTP_EHLO: bs_ehlo(b, &cmd, 1); break;
    case SMTP_HELO: bs_ehlo(b, &cmd, 0); break;
    case SMTP_MAIL: bs_mail(b, &cmd); break;
    case SMTP_RCPT: bs_rcpt(b, &cmd); break;
    case SMTP_DATA: bs_data(b); break;
    case SMTP_RSET: bs_reset(b); bs_reply(b, "250 2.0.0 Ok"); break;
    case SMTP_NOOP: bs_reply(b, "250 2.0.0 Ok"); break;
    case SMTP_VRFY: bs_reply(b, "252 2.0.0 Send some mail, I'll try my best"); break;
    case SMTP_QUIT: bs_reply(b, "221 2.0.0 Bye"); b->state = BS_QUIT; break;
    case SMTP_UNKNOWN: bs_reply(b, "500 5.5.2 Error: command not recognized"); break;
    case SMTP_FORBIDDEN: /* as the server: 421 (RFC 5321 3.8), nothing more is read */
        bs_reply(b, "421 4.7.0 %s Error: not an SMTP command, closing connection",
                 b->conf->hostname);
        b->state = BS_QUIT;
        break;
    default: bs_reply(b, "502 5.5.1 Error: command not implemented"); break;
    }
}

int sm_smtp_session(const struct conf *c)
{
    struct bs b = {.conf = c, .state = BS_GREETED};
    struct buf line;
    int partial;
    buf_init(&line, BUF_UNLIMITED);
    bs_reply(&b, "220 %s ESMTP postino", c->hostname);
    while (b.state != BS_QUIT && !b.write_failed && bs_read_line(&line, BS_LINE_MAX, &partial)) {
        if (partial || line.len + 2 > smtp_line_limit(line.data, line.len)) {
            while (partial && bs_read_line(&line, BS_LINE_MAX, &partial))
                ; /* skip the rest of the overlong line */
            bs_reply(&b, "500 5.5.2 Error: line too long");
            continue;
        }
        bs_command(&b, line.data ? line.data : "", line.len);
    }
    bs_reset(&b);
    buf_free(&line);
    return b.write_failed ? EX_IOERR : 0;
}
