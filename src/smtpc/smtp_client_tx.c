/*
 * smtp_client_tx: the dialogue of one outbound connection (RFC 5321 4.1,
 * 3.3; RFC 2920 pipelining; RFC 3207 STARTTLS; RFC 1870 SIZE; RFC 6152
 * 8BITMIME; RFC 3461 DSN; RFC 3030 CHUNKING and BINARYMIME; timeouts of
 * RFC 1123 5.3.1.4 / RFC 5321 4.5.3.2).
 * Reply lines are assembled by proto/smtp_reply (which also reads the EHLO
 * keywords) and each reply handled by state; the content is streamed from
 * the queue file through proto/smtp_dotstuff after DATA, or as it is after
 * one "BDAT size LAST" when the server offers CHUNKING (RFC 3030 2: the
 * receiver streams a chunk of any size, so one chunk is enough; its reply
 * is the end-of-data reply). A BINARYMIME message needs BINARYMIME and
 * CHUNKING at the next hop: without them its recipients fail with 5.6.3
 * (RFC 3030 3: it cannot be converted) and nothing is sent. What TLS and
 * AUTH a connection needs (tls_policy, relay_auth) is decided in
 * smtp_client_sec.c.
 */
#include "smtpc/smtp_client_conn.h"
#include "proto/esc.h"
#include "lib/dur.h"
#include "lib/log.h"
#include "lib/str.h"
#include "net/tls.h"
#include "proto/xtext.h"
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>
#include <string.h>
#include <unistd.h>

static void smtpc_on_read(struct bufferevent *bev, void *arg);
static void smtpc_on_write(struct bufferevent *bev, void *arg);
static void smtpc_on_event(struct bufferevent *bev, short what, void *arg);

void smtpc_timeout(struct smtpc_conn *c, int64_t ms)
{
    struct timeval tv = dur_timeval(ms);
    bufferevent_set_timeouts(c->bev, &tv, &tv);
}

void smtpc_send(struct smtpc_conn *c, const char *line)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    evbuffer_add(out, line, strlen(line));
    evbuffer_add(out, "\r\n", 2);
}

static const char *smtpc_phase(enum smtpc_state s)
{
    static const char *names[] = {"DNS", "connect", "greeting", "EHLO", "HELO", "STARTTLS",
                                  "TLS handshake", "AUTH", "MAIL", "RCPT", "DATA",
                                  "message content", "end of data", "RSET", "QUIT", "idle",
                                  "closed"};
    return names[s];
}

void smtpc_connect_next(struct smtpc_conn *c)
{
    const struct mx_target *t = &c->targets[c->target_i];
    c->bev = bufferevent_socket_new(c->sc->base, -1, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(c->bev, smtpc_on_read, smtpc_on_write, smtpc_on_event, c);
    smtpc_timeout(c, c->conf->timeout_greeting_ms);
    c->state = SMTPC_CONNECTING;
    smtp_ehlo_init(&c->ehlo);
    c->tls = 0;
    c->verified = 0;
    c->authed = 0;
    c->too_many = 0;
    str_copy(c->tls_desc, sizeof c->tls_desc, "none");
    c->esmtp = 0;
    if (bufferevent_socket_connect(c->bev, (const struct sockaddr *)&t->addr, (int)t->addrlen) < 0) {
        char why[SMTPC_REPLY_MAX];
        esc_reason(why, sizeof why, 4, ESC_NO_ANSWER, "cannot connect to %s: %s", t->host,
                   strerror(errno));
        smtpc_target_failed(c, 4, why);
    }
}

/* The transaction is over for c->d: report it, then reuse the connection or quit. */
static void smtpc_tx_end(struct smtpc_conn *c)
{
    struct smtpc_delivery *d = c->d;
    smtpc_record_remote(c, d);
    d->peer_dsn = (c->ehlo.ext & SMTP_EXT_DSN) != 0;
    c->d = NULL;
    char why[64];
    esc_reason(why, sizeof why, 4, ESC_BAD_CONNECTION, "no reply from the server");
    smtpc_finish(d, 4, why);
    if (c->dest->wait_head && !c->sc->stopping) {
        smtpc_reuse(c);
        return;
    }
    if (!c->sc->stopping) { /* like Postfix's connection cache: the next message may come soon */
        c->state = SMTPC_IDLE;
        smtpc_timeout(c, SMTPC_IDLE_MS);
        return;
    }
    c->state = SMTPC_QUIT;
    smtpc_timeout(c, 5000);
    smtpc_send(c, "QUIT");
}

void smtpc_reuse(struct smtpc_conn *c)
{
    c->state = SMTPC_RSET;
    smtpc_timeout(c, c->conf->timeout_mail_ms);
    smtpc_send(c, "RSET");
}

/* An I/O failure (timeout, dropped connection) in the current phase. */
static void smtpc_io_failed(struct smtpc_conn *c, const char *what)
{
    char name[300], why[SMTPC_REPLY_MAX];
    smtpc_target_name(c, name, sizeof name);
    esc_reason(why, sizeof why, 4, ESC_BAD_CONNECTION, "%s waiting for the %s reply from %s", what,
            smtpc_phase(c->state), name);
    if (c->state == SMTPC_CONNECTING) {
        esc_reason(why, sizeof why, 4, ESC_NO_ANSWER, "connect to %s: %s", name,
                evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        smtpc_target_failed(c, 4, why);
    } else if (c->state <= SMTPC_AUTH) {
        smtpc_target_failed(c, 4, why);
    } else {
        if (c->d) {
            smtpc_record_remote(c, c->d);
            log_info("smtp out: %s", why);
            struct smtpc_delivery *d = c->d;
            c->d = NULL;
            smtpc_finish(d, 4, why);
        }
        smtpc_conn_close(c);
    }
}

static void smtpc_on_event(struct bufferevent *bev, short what, void *arg)
{
    struct smtpc_conn *c = arg;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED) {
        if (c->state == SMTPC_HANDSHAKE) {
            if (smtpc_tls_established(c) < 0)
                return;
            c->tls = 1;
            c->state = SMTPC_EHLO;
            smtpc_timeout(c, c->conf->timeout_mail_ms);
            char line[300];
            str_fmt(line, sizeof line, "EHLO %s", c->conf->hostname);
            smtpc_send(c, line);
            return;
        }
        c->state = SMTPC_GREETING;
        bufferevent_enable(c->bev, EV_READ | EV_WRITE);
        return;
    }
    if (c->state == SMTPC_QUIT) {
        smtpc_conn_close(c);
        return;
    }
    if (c->state == SMTPC_IDLE) { /* idle time over, or the server hung up: just close */
        if (what & BEV_EVENT_TIMEOUT) {
            c->state = SMTPC_QUIT;
            smtpc_timeout(c, 5000);
            /* a timeout disabled reading: without this the 221 is never read, the
             * connection never closes and keeps its destination's slot */
            bufferevent_enable(c->bev, EV_READ | EV_WRITE);
            smtpc_send(c, "QUIT");
            return;
        }
        smtpc_conn_close(c);
        return;
    }
    if (c->state == SMTPC_HANDSHAKE && !(what & BEV_EVENT_TIMEOUT)) {
        smtpc_tls_handshake_failed(c);
        return;
    }
    smtpc_io_failed(c, (what & BEV_EVENT_TIMEOUT) ? "timeout" : "connection lost");
}

/* Decides every recipient of c->d still undecided (klass 0); from_server: text is
 * the server's reply, not postino's own decision. */
static void smtpc_finish_some(struct smtpc_conn *c, int klass, const char *text,
                              int from_server)
{
    for (size_t i = 0; i < c->d->n; i++)
        if (c->d->out[i].klass == 0) {
            c->d->out[i].klass = klass;
            c->d->out[i].from_server = from_server;
            str_copy(c->d->out[i].reply, sizeof c->d->out[i].reply, text);
        }
}

/* Appends " KEY=xtext(value)" to line. */
static void smtpc_param_xtext(struct buf *line, const char *key, const char *value)
{
    buf_printf(line, " %s=", key);
    xtext_encode(value, strlen(value), line);
}

static void smtpc_send_mail(struct smtpc_conn *c)
{
    const struct envelope *e = c->d->env;
    struct buf line;
    buf_init(&line, 4096);
    char sender[600];
    smtpc_intl_addr(c, e->sender, sender, sizeof sender);
    buf_printf(&line, "MAIL FROM:<%s>", sender);
    if (c->ehlo.ext & SMTP_EXT_SIZE)
        buf_printf(&line, " SIZE=%llu", (unsigned long long)e->size);
    if ((c->ehlo.ext & SMTP_EXT_8BITMIME) && e->body == BODY_8BITMIME)
        buf_appends(&line, " BODY=8BITMIME");
    else if (e->body == BODY_BINARYMIME) /* smtpc_tx_start checked the next hop offers it */
        buf_appends(&line, " BODY=BINARYMIME");
    if (c->ehlo.ext & SMTP_EXT_DSN) {
        if (e->ret)
            buf_printf(&line, " RET=%s", dsn_ret_name(e->ret));
        const char *envid = envelope_envid_to_send(e);
        if (envid)
            smtpc_param_xtext(&line, "ENVID", envid);
    }
    if (c->utf8_on)
        buf_appends(&line, " SMTPUTF8");
    smtpc_send(c, buf_cstr(&line));
    buf_free(&line);
}

static void smtpc_send_rcpt(struct smtpc_conn *c, size_t k)
{
    const struct env_rcpt *r = &c->d->env->rcpts[c->d->out[k].idx];
    struct buf line;
    buf_init(&line, 4096);
    char addr[600];
    smtpc_intl_addr(c, r->addr, addr, sizeof addr);
    buf_printf(&line, "RCPT TO:<%s>", addr);
    if ((c->ehlo.ext & SMTP_EXT_DSN) && r->notify) {
        char notify[64];
        smtp_notify_format(r->notify, notify, sizeof notify);
        buf_printf(&line, " NOTIFY=%s", notify);
    }
    if ((c->ehlo.ext & SMTP_EXT_DSN) && r->orcpt)
        smtpc_intl_orcpt(c, r->orcpt, &line);
    smtpc_send(c, buf_cstr(&line));
    buf_free(&line);
}

/* Moves rcpt_next past recipients decided before RCPT (not sent, so no reply comes). */
static void smtpc_skip_unsent(struct smtpc_conn *c)
{
    while (c->rcpt_next < c->d->n && c->d->out[c->rcpt_next].unsent)
        c->rcpt_next++;
}

/* Why this next hop cannot take the message (our own decision, not sent), into why; 0 if it can. */
static int smtpc_cannot_send(struct smtpc_conn *c, char *why, size_t size)
{
    const struct envelope *e = c->d->env;
    unsigned binary = SMTP_EXT_CHUNKING | SMTP_EXT_BINARYMIME;
    char name[300];
    smtpc_target_name(c, name, sizeof name);
    if (c->ehlo.size_limit && e->size > c->ehlo.size_limit) { /* RFC 1870 6 */
        esc_reason(why, size, 5, ESC_MESSAGE_TOO_BIG, "the message of %llu bytes is larger than "
                "the limit of %llu bytes advertised by %s, so postino did not send it",
                (unsigned long long)e->size, (unsigned long long)c->ehlo.size_limit, name);
        return 1;
    }
    if (e->body == BODY_BINARYMIME && (c->ehlo.ext & binary) != binary) { /* RFC 3030 3 */
        esc_reason(why, size, 5, ESC_CONVERSION_UNSUPPORTED, "the message is binary "
                "(BODY=BINARYMIME) and %s does not offer BINARYMIME and CHUNKING, so postino "
                "did not send it: conversion required but not supported", name);
        return 1;
    }
    return 0;
}

/* Starts the transaction of c->d on an open, greeted connection. */
void smtpc_tx_start(struct smtpc_conn *c)
{
    char why[SMTPC_REPLY_MAX];
    c->rcpt_next = 0;
    c->accepted = 0;
    c->mail_failed = 0;
    c->bdat = (c->ehlo.ext & SMTP_EXT_CHUNKING) != 0;
    if (smtpc_cannot_send(c, why, sizeof why)) {
        smtpc_finish_some(c, 5, why, 0);
        smtpc_tx_end(c);
        return;
    }
    if (smtpc_intl_plan(c) == 0) { /* every recipient needed SMTPUTF8: 5.6.7 */
        smtpc_tx_end(c);
        return;
    }
    c->state = SMTPC_MAIL;
    smtpc_timeout(c, c->conf->timeout_mail_ms);
    smtpc_send_mail(c);
    smtpc_skip_unsent(c);
    if (c->ehlo.ext & SMTP_EXT_PIPELINING) { /* RFC 2920: MAIL, every RCPT and DATA in one go */
        for (size_t k = 0; k < c->d->n; k++)
            if (!c->d->out[k].unsent)
                smtpc_send_rcpt(c, k);
        if (!c->bdat) /* BDAT waits for the RCPT replies: no content for no recipient */
            smtpc_send(c, "DATA");
    }
}

static void smtpc_body_emit(void *ctx, const char *p, size_t n)
{
    evbuffer_add(ctx, p, n);
}

/* Streams content until the output holds SMTPC_BODY_HIGH bytes; ends with the dot. */
static void smtpc_body_fill(struct smtpc_conn *c)
{
    static char chunk[65536];
    const struct envelope *e = c->d->env;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    while (evbuffer_get_length(out) < SMTPC_BODY_HIGH && c->body_off < e->size) {
        uint64_t left = e->size - c->body_off;
        ssize_t n = pread(c->d->fd, chunk, left < sizeof chunk ? (size_t)left : sizeof chunk,
                          (off_t)(e->content_offset + c->body_off));
        if (n <= 0) {
            char why[64];
            esc_reason(why, sizeof why, 4, ESC_OTHER_MAIL_SYSTEM, "cannot read the queue file");
            smtpc_finish_some(c, 4, why, 0);
            struct smtpc_delivery *d = c->d;
            c->d = NULL;
            d->done(d);
            smtpc_conn_close(c); /* mid-DATA: the server must not get a truncated message */
            return;
        }
        if (c->bdat)
            evbuffer_add(out, chunk, (size_t)n);
        else
            smtp_dotstuff_feed(&c->stuff, chunk, (size_t)n, smtpc_body_emit, out);
        c->body_off += (uint64_t)n;
    }
    if (c->body_off == e->size && c->state == SMTPC_BODY) {
        if (!c->bdat)
            smtp_dotstuff_end(&c->stuff, smtpc_body_emit, out);
        c->state = SMTPC_DOT;
        smtpc_timeout(c, c->conf->timeout_data_end_ms);
    }
}

static void smtpc_on_write(struct bufferevent *bev, void *arg)
{
    struct smtpc_conn *c = arg;
    (void)bev;
    if (c->state == SMTPC_BODY)
        smtpc_body_fill(c);
}

static void smtpc_send_ehlo(struct smtpc_conn *c, const char *verb)
{
    char line[300];
    str_fmt(line, sizeof line, "%s %s", verb, c->conf->hostname);
    smtpc_timeout(c, c->conf->timeout_mail_ms);
    smtpc_send(c, line);
}

/* This target is passed over: no TLS session could be made (4.7.0). */
static void smtpc_tls_failed(struct smtpc_conn *c)
{
    char why[64];
    esc_reason(why, sizeof why, 4, ESC_OTHER_SECURITY, "cannot set up TLS");
    smtpc_target_failed(c, 4, why);
}

/* Wraps the connection in TLS after the server's 220 to STARTTLS. */
static void smtpc_start_tls(struct smtpc_conn *c)
{
    SSL *ssl = tls_client_new(c->sc->tls, c->targets[c->target_i].host);
    if (!ssl) {
        smtpc_tls_failed(c);
        return;
    }
    struct bufferevent *tls = bufferevent_openssl_filter_new(
        c->sc->base, c->bev, ssl, BUFFEREVENT_SSL_CONNECTING,
        BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (!tls) {
        SSL_free(ssl);
        smtpc_tls_failed(c);
        return;
    }
    c->bev = tls;
    c->state = SMTPC_HANDSHAKE;
    smtp_ehlo_init(&c->ehlo);
    bufferevent_setcb(c->bev, smtpc_on_read, smtpc_on_write, smtpc_on_event, c);
    smtpc_timeout(c, c->conf->timeout_greeting_ms);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* Greeting, EHLO/HELO and STARTTLS replies. */
static void smtpc_on_setup_reply(struct smtpc_conn *c, int code, const char *text)
{
    int klass = code / 100;
    switch (c->state) {
    case SMTPC_GREETING:
        if (klass == 2) {
            c->state = SMTPC_EHLO;
            smtpc_send_ehlo(c, "EHLO");
        } else if (!smtpc_too_many(c, code, text)) {
            smtpc_target_failed(c, klass == 5 ? 5 : 4, text);
        }
        return;
    case SMTPC_EHLO:
        if (klass == 2) {
            c->esmtp = 1;
            if (!smtpc_secure(c)) /* STARTTLS or AUTH as the policy asks */
                smtpc_tx_start(c);
        } else if (klass == 5) {
            c->state = SMTPC_HELO;
            smtp_ehlo_init(&c->ehlo);
            smtpc_send_ehlo(c, "HELO");
        } else if (!smtpc_too_many(c, code, text)) {
            smtpc_target_failed(c, 4, text);
        }
        return;
    case SMTPC_HELO:
        if (klass != 2) {
            if (!smtpc_too_many(c, code, text))
                smtpc_target_failed(c, klass == 5 ? 5 : 4, text);
        }
        else if (!smtpc_secure(c)) /* no STARTTLS after HELO: fails if TLS is required */
            smtpc_tx_start(c);
        return;
    case SMTPC_STARTTLS:
        if (code == 220) {
            smtpc_start_tls(c);
            return;
        }
        if (smtpc_starttls_refused(c, text))
            return;
        log_info("smtp out: STARTTLS refused (%s), continuing without TLS", text);
        smtpc_tx_start(c);
        return;
    default:
        return;
    }
}

/* The whole content as one chunk: "BDAT size LAST", then the octets as they are. */
static void smtpc_send_bdat(struct smtpc_conn *c)
{
    char line[64];
    str_fmt(line, sizeof line, "BDAT %llu LAST", (unsigned long long)c->d->env->size);
    smtpc_send(c, line);
    c->state = SMTPC_BODY;
    c->body_off = 0;
    smtpc_timeout(c, c->conf->timeout_data_block_ms);
    smtpc_body_fill(c);
}

/* One RCPT reply, in the order the recipients were sent; after the last, DATA or BDAT. */
static void smtpc_on_rcpt_reply(struct smtpc_conn *c, int klass, const char *text, int pipelined)
{
    struct smtpc_outcome *o = &c->d->out[c->rcpt_next++];
    smtpc_skip_unsent(c);
    if (!c->mail_failed && klass == 2)
        c->accepted++;
    else if (!c->mail_failed) {
        o->klass = klass == 5 ? 5 : 4;
        o->from_server = 1;
        str_copy(o->reply, sizeof o->reply, text);
    }
    if (c->rcpt_next < c->d->n) {
        if (!pipelined)
            smtpc_send_rcpt(c, c->rcpt_next);
        return;
    }
    if ((!pipelined || c->bdat) && c->accepted == 0) {
        smtpc_tx_end(c);
        return;
    }
    if (c->bdat) {
        smtpc_send_bdat(c);
        return;
    }
    c->state = SMTPC_DATA;
    smtpc_timeout(c, c->conf->timeout_data_init_ms);
    if (!pipelined)
        smtpc_send(c, "DATA");
}

/* Replies to MAIL, RCPT (one per recipient, in order) and DATA. */
static void smtpc_on_tx_reply(struct smtpc_conn *c, int code, const char *text)
{
    int klass = code / 100;
    int pipelined = (c->ehlo.ext & SMTP_EXT_PIPELINING) != 0;
    switch (c->state) {
    case SMTPC_MAIL:
        if (klass == 2)
            smtpc_dest_success(c);
        else if (smtpc_too_many(c, code, text))
            return;
        if (klass != 2) {
            c->mail_failed = 1;
            smtpc_finish_some(c, klass == 5 ? 5 : 4, text, 1);
        }
        if (!pipelined && c->mail_failed) {
            smtpc_tx_end(c);
            return;
        }
        c->state = SMTPC_RCPT;
        smtpc_timeout(c, c->conf->timeout_rcpt_ms);
        if (!pipelined)
            smtpc_send_rcpt(c, c->rcpt_next); /* the first one to send */
        return;
    case SMTPC_RCPT:
        smtpc_on_rcpt_reply(c, klass, text, pipelined);
        return;
    case SMTPC_DATA:
        if (code == 354 && c->accepted > 0) {
            c->state = SMTPC_BODY;
            c->body_off = 0;
            smtp_dotstuff_init(&c->stuff);
            smtpc_timeout(c, c->conf->timeout_data_block_ms);
            smtpc_body_fill(c);
            return;
        }
        if (code == 354) { /* pipelined DATA although no recipient was accepted: empty message */
            c->state = SMTPC_DOT;
            smtpc_send(c, ".");
            return;
        }
        if (c->accepted > 0)
            smtpc_finish_some(c, klass == 5 ? 5 : 4, text, 1);
        smtpc_tx_end(c);
        return;
    case SMTPC_DOT:
        if (c->accepted > 0)
            smtpc_finish_some(c, klass == 2 ? 2 : klass == 5 ? 5 : 4, text, 1);
        smtpc_tx_end(c);
        return;
    default:
        return;
    }
}

/* One complete reply (code and the joined text of its lines). */
static void smtpc_on_reply(struct smtpc_conn *c, int code, const char *text)
{
    switch (c->state) {
    case SMTPC_GREETING:
    case SMTPC_EHLO:
    case SMTPC_HELO:
    case SMTPC_STARTTLS:
        smtpc_on_setup_reply(c, code, text);
        return;
    case SMTPC_AUTH:
        smtpc_auth_reply(c, code, text);
        return;
    case SMTPC_MAIL:
    case SMTPC_RCPT:
    case SMTPC_DATA:
    case SMTPC_DOT:
        smtpc_on_tx_reply(c, code, text);
        return;
    case SMTPC_RSET:
        if (code / 100 == 2 && (c->d = smtpc_dest_pop(c->dest))) {
            smtpc_tx_start(c);
            return;
        }
        c->state = SMTPC_QUIT;
        smtpc_send(c, "QUIT");
        return;
    case SMTPC_QUIT:
    case SMTPC_IDLE: /* nothing is expected while idle: a 421, most likely */
        smtpc_conn_close(c);
        return;
    default:
        return; /* a reply while streaming the content: ignored, the dot reply decides */
    }
}

/* Feeds one line to the reply being assembled (recording EHLO keywords in EHLO). */
static enum smtp_reply_status smtpc_feed(struct smtpc_conn *c, const char *line, size_t n)
{
    if (c->state == SMTPC_EHLO)
        return smtp_reply_feed_ehlo(&c->reply, line, n, &c->ehlo);
    return smtp_reply_feed(&c->reply, line, n);
}

/* Takes one line (without CRLF or LF) off in into line[size], without allocating:
 * 1 taken (*len set), 0 no complete line buffered, -1 longer than size (dropped). */
static int smtpc_take_line(struct evbuffer *in, char *line, size_t size, size_t *len)
{
    size_t eol_len = 0;
    struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
    if (eol.pos < 0)
        return 0;
    *len = (size_t)eol.pos;
    if (*len > size) {
        evbuffer_drain(in, *len + eol_len);
        return -1;
    }
    evbuffer_remove(in, line, *len);
    evbuffer_drain(in, eol_len);
    return 1;
}

/* Reads reply lines; returns when no complete reply is buffered or c was closed. */
static void smtpc_on_read(struct bufferevent *bev, void *arg)
{
    struct smtpc_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    char line[SMTPC_REPLY_BUF];
    size_t n;
    int got;
    while ((got = smtpc_take_line(in, line, sizeof line, &n)) != 0) {
        if (got < 0 || smtpc_feed(c, line, n) == SMTP_REPLY_BAD) {
            smtp_reply_reset(&c->reply);
            smtpc_io_failed(c, "malformed or overlong reply");
            return;
        }
        if (c->reply.status == SMTP_REPLY_MORE)
            continue;
        int code = c->reply.code;
        char text[SMTPC_REPLY_MAX];
        str_copy(text, sizeof text, smtp_reply_text(&c->reply));
        smtp_reply_reset(&c->reply);
        smtpc_on_reply(c, code, text);
        if (c->state == SMTPC_CLOSED || c->bev != bev)
            return; /* closed, moved to another target, or TLS took over */
    }
    if (evbuffer_get_length(in) > SMTPC_REPLY_BUF)
        smtpc_io_failed(c, "overlong reply line");
}
