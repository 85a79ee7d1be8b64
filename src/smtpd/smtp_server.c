/*
 * smtp_server: listeners, connection limits and the session I/O loop.
 * Reads command lines (at most 512 octets, RFC 5321 4.5.3.1.4; MAIL 612
 * and RCPT 1012, RFC 3461 4; AUTH lines may be longer, RFC 4954 4; longer
 * lines are discarded and answered 500 5.5.2 without ending the session;
 * a line must be complete within timeout_server of its first octet),
 * hands them to smtp_commands.c or,
 * inside an AUTH exchange, to smtp_auth.c, and streams DATA to
 * smtp_receive.c and BDAT chunks to smtp_chunk.c. Replies accumulate in
 * the output buffer and leave when the read callback returns, so pipelined commands (RFC 2920) get their
 * replies in one write; past NETCONN_OUT_HIGH unsent octets no more input
 * is read until the client has read its replies (net/netconn.h).
 * Limits: max_connections and max_connections_per_ip (net/connlimit.c,
 * shared with POP3; relay_networks clients are not limited per address; a
 * session stops counting once its last reply is queued).
 * TLS: a smtps listener (RFC 8314) wraps each connection from the start;
 * STARTTLS (RFC 3207) wraps an open one in a filter, after throwing away
 * any plaintext the client sent past the STARTTLS line (CVE-2011-0411).
 * A session whose handshake fails or stalls is closed without a reply.
 */
#include "smtpd/smtp_server.h"
#include "proto/esc.h"
#include "smtpd/smtp_session.h"
#include "net/netconn.h"
#include "lib/dur.h"
#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/str.h"
#include "mail/metrics.h"
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SMTPS_READ_HIGH (256 * 1024)
#define SMTPS_REPLY_TEXT_MAX 1024   /* a reply line formatted on the stack (longer: by libevent) */

/*
 * Queues one reply line: prefix (may be NULL), then the formatted text, then
 * CRLF; counted by its class (metrics) from the code it starts with.
 */
static void smtps_vreply(struct smtps_session *s, const char *prefix, const char *fmt, va_list ap)
{
    if (!s->bev)
        return;
    struct evbuffer *out = bufferevent_get_output(s->bev);
    char text[SMTPS_REPLY_TEXT_MAX];
    va_list copy;
    va_copy(copy, ap);
    int fits = str_vfmt(text, sizeof text, fmt, copy) == 0;
    va_end(copy);
    metrics_smtp_reply(prefix ? prefix : text); /* a cut text still starts with its code */
    if (prefix)
        evbuffer_add(out, prefix, strlen(prefix));
    if (fits)
        evbuffer_add(out, text, strlen(text));
    else
        evbuffer_add_vprintf(out, fmt, ap);
    evbuffer_add(out, "\r\n", 2);
}

void smtps_reply(struct smtps_session *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    smtps_vreply(s, NULL, fmt, ap);
    va_end(ap);
}

void smtps_reply_esc(struct smtps_session *s, int code, enum esc_code esc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    smtps_vreply(s, esc_reply_prefix(code, esc).s, fmt, ap);
    va_end(ap);
}

void smtps_refuse(struct smtps_session *s, const struct smtp_err *e)
{
    smtps_reply_esc(s, e->code, e->esc, "%s", e->text);
    s->errors++;
}

/* timeout_server as a timeval. */
static struct timeval smtps_timeout(const struct smtps_session *s)
{
    return dur_timeval(s->conf->timeout_server_ms);
}

/* The session's last reply is queued (221, 421) or it is gone: it stops counting. */
/* The end of an admitted session: its "connect from" line gets its "disconnect from". */
static void smtps_uncount(struct smtps_session *s)
{
    if (s->counted) {
        connlimit_leave(s->srv->limits, s->client_ip);
        log_event(LOG_INFO, &(struct log_fields){.event = "disconnect", .client = s->client_ip},
                  "smtp: disconnect from %s", s->client_ip);
    }
    s->counted = 0;
}

static void smtps_free(struct smtps_session *s)
{
    struct smtp_server *srv = s->srv;
    smtps_uncount(s);
    netconn_guard_fini(&s->guard);
    smtps_tx_reset(s);
    smtps_auth_free(s);
    if (s->close_ev)
        event_free(s->close_ev);
    netconn_hangup(&s->guard, &s->bev);
    if (s->prev)
        s->prev->next = s->next;
    else
        srv->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    srv->n_sessions--;
    metrics_disconnect(s->kind);
    conf_release(s->conf);
    SSL_CTX_free(s->tls_ctx);
    free(s);
}

/* Frees the session, or marks it dead while a worker job (commit, password check) is in flight. */
static void smtps_drop(struct smtps_session *s)
{
    if (s->state == SMTPS_COMMIT || s->state == SMTPS_AUTH_WAIT) {
        s->dead = 1;
        smtps_uncount(s);
        netconn_hangup(&s->guard, &s->bev);
        return;
    }
    smtps_free(s);
}

/* The last replies left, or could not leave within timeout_server. */
static void smtps_on_close_due(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    smtps_drop(arg);
}

/* Closes once the pending replies are out, or timeout_server has passed (net/netconn.h). */
void smtps_close(struct smtps_session *s)
{
    if (s->state == SMTPS_CLOSING)
        return;
    s->state = SMTPS_CLOSING;
    smtps_uncount(s);
    if (s->auth.delay)
        evtimer_del(s->auth.delay);
    if (!s->bev) {
        smtps_drop(s);
        return;
    }
    if (!s->close_ev)
        s->close_ev = event_new(s->srv->base, -1, 0, smtps_on_close_due, s);
    netconn_close_after_flush(&s->guard, s->bev, s->close_ev, s->conf->timeout_server_ms);
}

void smtps_pause(struct smtps_session *s)
{
    if (s->bev)
        bufferevent_disable(s->bev, EV_READ);
}

void smtps_resume(struct smtps_session *s)
{
    if (!s->bev)
        return;
    if (!s->guard.blocked) /* else the guard resumes once the replies have drained */
        bufferevent_enable(s->bev, EV_READ);
    smtps_process_input(s);
}

/*
 * The longest line taken now, CRLF included: 512 octets, MAIL 612 and RCPT
 * 1012 (RFC 3461 4, room for the DSN parameters), but a SASL response or an
 * AUTH command with an initial response may be longer where AUTH is offered
 * (RFC 4954 4). The verb is judged from the line's first octets.
 */
static size_t smtps_line_limit(struct smtps_session *s, struct evbuffer *in)
{
    char head[SMTP_VERB_HEAD];
    if (s->state == SMTPS_AUTH)
        return SMTPS_AUTH_LINE_MAX;
    ev_ssize_t n = evbuffer_copyout(in, head, sizeof head);
    if (n < 0)
        n = 0;
    if (smtps_auth_offered(s) && n == (ev_ssize_t)sizeof head &&
        strncasecmp(head, "AUTH ", sizeof head) == 0)
        return SMTPS_AUTH_LINE_MAX;
    return smtp_line_limit(head, (size_t)n);
}

/*
 * Takes one command line out of the input. Returns 1 with the line in buf
 * (NUL-terminated, CRLF removed; buf holds SMTPS_AUTH_LINE_MAX + 1 bytes),
 * 0 if no complete line is there yet.
 */
static int smtps_read_line(struct smtps_session *s, char *buf, size_t *len)
{
    struct evbuffer *in = bufferevent_get_input(s->bev);
    size_t limit = smtps_line_limit(s, in);
    size_t eol_len = 0;
    struct evbuffer_ptr p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
    if (p.pos < 0) {
        if (evbuffer_get_length(in) > limit) {
            evbuffer_drain(in, evbuffer_get_length(in));
            s->overlong = 1;
        }
        return 0;
    }
    size_t n = (size_t)p.pos;
    if (s->overlong || n + 2 > limit) {
        evbuffer_drain(in, n + eol_len);
        s->overlong = 0;
        *len = SIZE_MAX;
        return 1;
    }
    evbuffer_remove(in, buf, n);
    evbuffer_drain(in, eol_len);
    buf[n] = '\0';
    *len = n;
    return 1;
}

/* 1 while the session must not take input: a worker job, a timer or the close runs. */
static int smtps_input_paused(const struct smtps_session *s)
{
    return s->state == SMTPS_COMMIT || s->state == SMTPS_AUTH_WAIT ||
           s->state == SMTPS_AUTH_DELAY || s->state == SMTPS_CLOSING;
}

/* Handles every complete command line and DATA octet the state allows. */
static void smtps_process_lines(struct smtps_session *s)
{
    char line[SMTPS_AUTH_LINE_MAX + 1];
    size_t len;
    while (s->bev && !s->dead) {
        if (smtps_input_paused(s) || netconn_guard_blocked(&s->guard, s->bev))
            return;
        if (s->state == SMTPS_DATA) {
            if (smtps_data_input(s))
                return;
            continue;
        }
        if (s->state == SMTPS_BDAT) {
            if (smtps_bdat_input(s))
                return;
            continue;
        }
        if (!smtps_read_line(s, line, &len))
            return;
        if (s->state == SMTPS_AUTH) {
            smtps_auth_response(s, line, len);
            if (len != SIZE_MAX)
                explicit_bzero(line, len); /* holds a password */
        } else if (len == SIZE_MAX) {
            smtps_refuse(s, &smtp_reply_line_too_long);
        } else {
            int secret = len >= 4 && strncasecmp(line, "AUTH", 4) == 0;
            smtps_command(s, line, len);
            if (secret)
                explicit_bzero(line, len); /* an initial response holds a password */
        }
    }
}

/* 1 while part of a command line waits for the rest (DATA and paused states excluded). */
static int smtps_partial_line(struct smtps_session *s)
{
    if (!s->bev || s->dead || s->state == SMTPS_DATA || s->state == SMTPS_BDAT ||
        smtps_input_paused(s) || s->guard.blocked)
        return 0;
    return evbuffer_get_length(bufferevent_get_input(s->bev)) > 0 || s->overlong;
}

void smtps_process_input(struct smtps_session *s)
{
    smtps_process_lines(s);
    if (s->state != SMTPS_CLOSING && !s->dead)
        netconn_guard_line(&s->guard, smtps_partial_line(s), s->conf->timeout_server_ms);
}

/* The client read enough of its replies: take its input again. */
static void smtps_on_guard_resume(void *arg)
{
    struct smtps_session *s = arg;
    if (s->bev && !s->dead && !smtps_input_paused(s))
        smtps_resume(s);
}

/* timeout_server ran out (idle, or a command line too slow): 421 and close. */
static void smtps_timed_out(struct smtps_session *s, const char *why)
{
    log_info("smtp: %s: %s", s->client_ip, why);
    smtps_reply_esc(s, 421, ESC_BAD_CONNECTION, "%s Error: timeout exceeded",
                    s->conf->hostname);
    smtps_close(s);
}

/* A command line did not complete within timeout_server, however it trickled in. */
static void smtps_on_line_timeout(void *arg)
{
    struct smtps_session *s = arg;
    if (s->state != SMTPS_CLOSING && s->bev)
        smtps_timed_out(s, "command line not complete within the timeout");
}

static void smtps_on_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    smtps_process_input(arg);
}

/* The TLS handshake is complete. */
static void smtps_tls_up(struct smtps_session *s)
{
    SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
    s->tls_up = 1;
    if (ssl)
        tls_describe(ssl, s->tls_desc, sizeof s->tls_desc);
    log_info("smtp: %s: TLS established: %s", s->client_ip, s->tls_desc);
}

/* Logs why a TLS handshake ended before completing. */
static void smtps_tls_failed(struct smtps_session *s, struct bufferevent *bev, short what)
{
    char why[256] = "connection closed";
    unsigned long e = bufferevent_get_openssl_error(bev);
    if (e)
        ERR_error_string_n(e, why, sizeof why);
    else if (what & BEV_EVENT_TIMEOUT)
        str_copy(why, sizeof why, "timeout");
    else if ((what & BEV_EVENT_ERROR) && EVUTIL_SOCKET_ERROR())
        str_copy(why, sizeof why, evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    while (bufferevent_get_openssl_error(bev))
        ; /* the rest of the queue says the same */
    log_info("smtp: %s: TLS handshake failed: %s", s->client_ip, why);
}

static void smtps_on_event(struct bufferevent *bev, short what, void *arg)
{
    struct smtps_session *s = arg;
    if (what & BEV_EVENT_CONNECTED) {
        smtps_tls_up(s);
        return;
    }
    if (s->tls && !s->tls_up) { /* no reply can reach a client that has not finished the handshake */
        smtps_tls_failed(s, bev, what);
        smtps_drop(s);
        return;
    }
    /* A write timeout means the client stopped reading: a 421 would not reach it either. */
    if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) && s->state != SMTPS_CLOSING) {
        smtps_timed_out(s, "idle timeout");
        return;
    }
    if (what & BEV_EVENT_TIMEOUT)
        log_info("smtp: %s: client does not read its replies", s->client_ip);
    smtps_drop(s); /* EOF or error */
}

/* How s->bev (new, or wrapped in TLS) is hooked in; timeout_server bounds reads and writes. */
static struct netconn_hooks smtps_hooks(struct smtps_session *s)
{
    return (struct netconn_hooks){.on_read = smtps_on_read, .on_event = smtps_on_event, .ctx = s,
                                  .read_high = SMTPS_READ_HIGH, .idle = smtps_timeout(s)};
}

/* The connection's bufferevent: plain, or TLS from the first byte on a smtps listener. NULL on error. */
static struct bufferevent *smtps_new_bev(struct smtp_server *srv, evutil_socket_t fd,
                                         enum listen_kind kind)
{
    SSL *ssl = NULL;
    if (kind == LISTEN_SMTPS && !(ssl = tls_server_new(srv->tls_ctx)))
        return NULL;
    return netconn_bev_new(srv->base, fd, ssl);
}

static struct smtps_session *smtps_new(struct smtp_server *srv, evutil_socket_t fd,
                                       const struct sockaddr *sa, int socklen,
                                       enum listen_kind kind)
{
    struct bufferevent *bev = smtps_new_bev(srv, fd, kind);
    if (!bev) {
        evutil_closesocket(fd);
        return NULL;
    }
    struct smtps_session *s = xcalloc(1, sizeof *s);
    s->srv = srv;
    conf_replace(&s->conf, srv->conf);
    tls_ctx_replace(&s->tls_ctx, srv->tls_ctx);
    s->kind = kind;
    s->bev = bev;
    s->tls = kind == LISTEN_SMTPS;
    memcpy(&s->sa, sa, (size_t)socklen < sizeof s->sa ? (size_t)socklen : sizeof s->sa);
    netconn_peer(sa, s->client_ip, sizeof s->client_ip);
    s->relay_ok = conf_in_relay_networks(srv->conf, sa);
    s->loopback = netconn_is_loopback(sa);
    envelope_init(&s->tx.env);
    netconn_guard_init(&s->guard, srv->base, smtps_on_guard_resume, smtps_on_line_timeout, s);
    s->next = srv->sessions;
    if (srv->sessions)
        srv->sessions->prev = s;
    srv->sessions = s;
    srv->n_sessions++;
    metrics_connect(kind);
    struct netconn_hooks hooks = smtps_hooks(s);
    netconn_attach(s->bev, &hooks, s->tls);
    return s;
}

int smtps_start_tls(struct smtps_session *s)
{
    char go_ahead[64];
    esc_reply(go_ahead, sizeof go_ahead, 220, ESC_OTHER_STATUS, "Ready to start TLS");
    struct netconn_starttls st = {.tls_ctx = s->tls_ctx,
                                  .go_ahead = go_ahead,
                                  .proto = "smtp", .peer = s->client_ip, .verb = "STARTTLS",
                                  .hooks = smtps_hooks(s)};
    if (netconn_starttls(&s->bev, &st) < 0)
        return -1;
    s->tls = 1;
    s->overlong = 0;
    return 0;
}

struct smtps_listener_ctx {
    struct smtp_server *srv;
    enum listen_kind kind;
};

static void smtps_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                            int socklen, void *arg)
{
    struct smtps_listener_ctx *ctx = arg;
    struct smtp_server *srv = ctx->srv;
    const struct conf *c = srv->conf;
    (void)l;
    evutil_make_socket_nonblocking(fd);
    struct smtps_session *s = smtps_new(srv, fd, sa, socklen, ctx->kind);
    if (!s)
        return;
    s->counted = connlimit_admit(srv->limits, s->client_ip, s->relay_ok) == 0;
    if (!s->counted) {
        log_event(LOG_WARN, &(struct log_fields){.event = "reject", .client = s->client_ip},
                  "smtp: %s: connection limit reached", s->client_ip);
        if (s->tls) { /* no handshake for a connection we refuse anyway */
            smtps_drop(s);
            return;
        }
        smtps_reply_esc(s, 421, ESC_OTHER_SECURITY, "%s Error: too many connections", c->hostname);
        smtps_close(s);
        return;
    }
    log_event(LOG_INFO, &(struct log_fields){.event = "connect", .client = s->client_ip},
              "smtp: connect from %s%s", s->client_ip, s->tls ? " (smtps)" : "");
    /* On smtps the greeting waits in the TLS layer until the handshake is done (RFC 8314 3.3). */
    smtps_reply(s, "220 %s ESMTP postino", c->hostname);
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

static int smtps_listen(struct smtp_server *srv, const struct listen_spec *ls)
{
    struct smtps_listener_ctx *ctx = xcalloc(1, sizeof *ctx);
    ctx->srv = srv;
    ctx->kind = ls->kind;
    struct netconn_listener *l = netconn_listen(srv->base, ls, smtps_on_accept, ctx);
    if (!l) {
        free(ctx);
        return -1;
    }
    srv->listeners = xrealloc(srv->listeners, (srv->n_listeners + 1) * sizeof *srv->listeners);
    srv->listener_ctx =
        xrealloc(srv->listener_ctx, (srv->n_listeners + 1) * sizeof *srv->listener_ctx);
    srv->listener_ctx[srv->n_listeners] = ctx;
    srv->listeners[srv->n_listeners++] = l;
    return 0;
}

struct smtp_server *smtp_server_new(struct event_base *base, const struct conf *c,
                                    SSL_CTX *tls_ctx, struct queue *q, struct diskq *dq,
                                    struct sched *s, struct connlimit *limits)
{
    struct smtp_server *srv = xcalloc(1, sizeof *srv);
    srv->limits = limits;
    srv->base = base;
    srv->queue = q;
    srv->dq = dq;
    srv->sched = s;
    smtp_server_set_conf(srv, c, tls_ctx);
    for (size_t i = 0; i < c->n_listens; i++) {
        const struct listen_spec *ls = &c->listens[i];
        if (ls->kind != LISTEN_SMTP && ls->kind != LISTEN_SUBMISSION && ls->kind != LISTEN_SMTPS)
            continue;
        if (smtps_listen(srv, ls) < 0) {
            smtp_server_free(srv);
            return NULL;
        }
    }
    return srv;
}

static void smtps_free_listeners(struct smtp_server *srv)
{
    for (size_t i = 0; i < srv->n_listeners; i++) {
        netconn_listener_free(srv->listeners[i]);
        free(srv->listener_ctx[i]);
    }
    free(srv->listeners);
    free(srv->listener_ctx);
    srv->listeners = NULL;
    srv->listener_ctx = NULL;
    srv->n_listeners = 0;
}

void smtp_server_shutdown(struct smtp_server *srv)
{
    srv->shutting_down = 1;
    smtps_free_listeners(srv);
    for (struct smtps_session *s = srv->sessions, *next; s; s = next) {
        next = s->next;
        if (s->state == SMTPS_COMMIT || s->state == SMTPS_AUTH_WAIT || s->state == SMTPS_CLOSING)
            continue; /* a worker job's completion, or the flush, ends these */
        if (s->tls && !s->tls_up) {
            smtps_drop(s);
            continue;
        }
        smtps_reply_esc(s, 421, ESC_NOT_ACCEPTING, "%s Service shutting down", s->conf->hostname);
        smtps_close(s);
    }
}

unsigned smtp_server_sessions(const struct smtp_server *srv)
{
    return srv->n_sessions;
}

void smtp_server_set_conf(struct smtp_server *srv, const struct conf *c, SSL_CTX *tls_ctx)
{
    conf_replace(&srv->conf, c);
    tls_ctx_replace(&srv->tls_ctx, tls_ctx);
}

void smtp_server_set_filters(struct smtp_server *srv, struct diskq *checkq, struct track *t)
{
    srv->checkq = checkq;
    srv->track = t;
}

void smtp_server_free(struct smtp_server *srv)
{
    if (!srv)
        return;
    smtps_free_listeners(srv);
    while (srv->sessions)
        smtps_free(srv->sessions);
    SSL_CTX_free(srv->tls_ctx);
    conf_release(srv->conf);
    free(srv);
}
