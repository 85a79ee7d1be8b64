/*
 * pop3_server: POP3 sessions (RFC 1939) with CAPA (RFC 2449), STLS
 * (RFC 2595), AUTH PLAIN (RFC 5034, RFC 4616) and pop3s (RFC 8314): the
 * listeners, a session's life (accept, STLS, close, free) and its input
 * loop. The AUTHORIZATION state is in pop3_auth.c, the command dispatch
 * and the TRANSACTION state in pop3_commands.c (pop3_session.h).
 * States: AUTHORIZATION -> TRANSACTION -> UPDATE (at QUIT only: a dropped
 * connection or an autologout deletes nothing). Commands are read only
 * when the previous answer is queued, so pipelining (RFC 2449) works.
 * Idle for timeout_pop3 -> closed (RFC 1939 3 autologout); a command line
 * must also be complete within timeout_pop3 of its first octet. Past
 * NETCONN_OUT_HIGH unsent octets no command is read until the client reads.
 * max_connections and max_connections_per_ip count POP3 sessions together
 * with SMTP ones (net/connlimit.c).
 */
#include "pop3d/pop3_server.h"
#include "pop3d/pop3_session.h"
#include "lib/dur.h"
#include "lib/alloc.h"
#include "lib/log.h"
#include "mail/metrics.h"
#include <event2/buffer.h>
#include <event2/listener.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void pop3s_reply(struct pop3_session *s, const char *fmt, ...)
{
    if (!s->bev)
        return;
    struct evbuffer *out = bufferevent_get_output(s->bev);
    va_list ap;
    va_start(ap, fmt);
    evbuffer_add_vprintf(out, fmt, ap);
    va_end(ap);
    evbuffer_add(out, "\r\n", 2);
}

/* The last reply is queued, or the session is gone: it stops counting. */
static void pop3s_uncount(struct pop3_session *s)
{
    if (s->counted)
        connlimit_leave(s->srv->limits, s->client_ip);
    s->counted = 0;
}

void pop3s_free(struct pop3_session *s)
{
    pop3s_wipe(s);
    pop3s_uncount(s);
    netconn_guard_fini(&s->guard);
    if (s->delay)
        event_free(s->delay);
    netconn_hangup(&s->guard, &s->bev);
    if (s->send_fd >= 0)
        close(s->send_fd);
    mailbox_close(&s->mb);
    if (s->prev)
        s->prev->next = s->next;
    else
        s->srv->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    metrics_disconnect(s->kind);
    conf_release(s->conf);
    SSL_CTX_free(s->tls_ctx);
    free(s);
}

/* Frees now, or marks dead while the worker job holds the session. */
static void pop3s_drop(struct pop3_session *s)
{
    if (s->state == POP3S_AUTH_WAIT) {
        s->dead = 1;
        pop3s_uncount(s);
        netconn_hangup(&s->guard, &s->bev);
        return;
    }
    pop3s_free(s);
}

/* Closes once the pending replies are out, or timeout_pop3 has passed (net/netconn.h). */
void pop3s_close(struct pop3_session *s)
{
    if (s->state == POP3S_CLOSING)
        return;
    s->state = POP3S_CLOSING;
    pop3s_uncount(s);
    /* pop3s_on_timer ends the session */
    netconn_close_after_flush(&s->guard, s->bev, s->delay, s->conf->timeout_pop3_ms);
}

/* The session's timer: the close is due, or the delay after a failed login is over. */
static void pop3s_on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct pop3_session *s = arg;
    (void)fd;
    (void)what;
    if (s->state == POP3S_CLOSING) {
        pop3s_drop(s);
        return;
    }
    if (s->state != POP3S_AUTH_DELAY)
        return;
    pop3s_auth_delay_over(s);
}

/* 1 in the states that read command lines. */
static int pop3s_reading(const struct pop3_session *s)
{
    return s->bev && (s->state == POP3S_AUTHORIZATION || s->state == POP3S_SASL ||
                      s->state == POP3S_TRANSACTION);
}

/* Handles every complete command line in the input, while the state allows. */
static void pop3s_process_lines(struct pop3_session *s)
{
    char line[POP3_ARG_MAX + 1];
    while (pop3s_reading(s) && !netconn_guard_blocked(&s->guard, s->bev)) {
        struct evbuffer *in = bufferevent_get_input(s->bev);
        size_t eol_len = 0;
        struct evbuffer_ptr p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
        if (p.pos < 0) {
            if (evbuffer_get_length(in) > POP3_ARG_MAX) {
                pop3s_reply(s, "-ERR Line too long");
                pop3s_close(s);
            }
            return;
        }
        size_t n = (size_t)p.pos;
        if (n > POP3_ARG_MAX) {
            evbuffer_drain(in, n + eol_len);
            pop3s_reply(s, "-ERR Line too long");
            continue;
        }
        evbuffer_remove(in, line, n);
        evbuffer_drain(in, eol_len);
        line[n] = '\0';
        if (s->state == POP3S_SASL)
            pop3s_sasl_plain(s, line, n);
        else
            pop3s_command(s, line, n);
        explicit_bzero(line, n);
    }
}

void pop3s_process(struct pop3_session *s)
{
    pop3s_process_lines(s);
    if (s->state == POP3S_CLOSING || s->dead)
        return;
    int partial = pop3s_reading(s) && !s->guard.blocked &&
                  evbuffer_get_length(bufferevent_get_input(s->bev)) > 0;
    netconn_guard_line(&s->guard, partial, s->conf->timeout_pop3_ms);
}

/* The client read enough of its replies: take its commands again. */
static void pop3s_on_guard_resume(void *arg)
{
    struct pop3_session *s = arg;
    if (!pop3s_reading(s))
        return;
    bufferevent_enable(s->bev, EV_READ);
    pop3s_process(s);
}

/* A command line did not complete within timeout_pop3, however it trickled in. */
static void pop3s_on_line_timeout(void *arg)
{
    struct pop3_session *s = arg;
    if (!pop3s_reading(s))
        return;
    log_info("pop3: %s: command line not complete within the timeout", s->client_ip);
    pop3s_reply(s, "-ERR Autologout; command line not complete in time");
    pop3s_close(s);
}

/* --- I/O and TLS --- */

static void pop3s_on_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    pop3s_process(arg);
}

static void pop3s_on_write(struct bufferevent *bev, void *arg)
{
    struct pop3_session *s = arg;
    (void)bev;
    if (s->state == POP3S_SENDING) {
        pop3s_feed(s);
        if (s->state == POP3S_TRANSACTION)
            pop3s_process(s);
    }
}

static void pop3s_on_event(struct bufferevent *bev, short what, void *arg)
{
    struct pop3_session *s = arg;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED)
        return;
    if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) && s->state != POP3S_SENDING) {
        log_info("pop3: %s: autologout", s->client_ip);
        pop3s_reply(s, "-ERR Autologout; idle for too long");
        pop3s_close(s);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT)
        log_info("pop3: %s: client does not read its replies", s->client_ip);
    pop3s_drop(s); /* EOF, error, or a client that stopped reading: no UPDATE */
}

/* How s->bev (new, or wrapped in TLS) is hooked in; timeout_pop3 bounds reads and writes. */
static struct netconn_hooks pop3s_hooks(struct pop3_session *s)
{
    return (struct netconn_hooks){.on_read = pop3s_on_read, .on_write = pop3s_on_write,
                                  .on_event = pop3s_on_event, .ctx = s, .read_high = 64 * 1024,
                                  .idle = dur_timeval(s->conf->timeout_pop3_ms)};
}

int pop3s_start_tls(struct pop3_session *s)
{
    struct netconn_starttls st = {.tls_ctx = s->tls_ctx, .go_ahead = "+OK Begin TLS negotiation",
                                  .proto = "pop3", .peer = s->client_ip, .verb = "STLS",
                                  .hooks = pop3s_hooks(s)};
    if (netconn_starttls(&s->bev, &st) < 0)
        return -1;
    s->tls = 1;
    /* what came in the clear (an injected USER) must not count after STLS */
    s->user[0] = '\0';
    return 0;
}

static void pop3s_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                            int socklen, void *arg)
{
    struct pop3_listener *pl = arg;
    struct pop3_server *srv = pl->srv;
    (void)l;
    (void)socklen;
    evutil_make_socket_nonblocking(fd);
    SSL *ssl = NULL;
    if (pl->kind == LISTEN_POP3S && !(ssl = tls_server_new(srv->tls_ctx))) {
        evutil_closesocket(fd);
        return;
    }
    struct bufferevent *bev = netconn_bev_new(srv->base, fd, ssl);
    struct pop3_session *s = xcalloc(1, sizeof *s);
    s->srv = srv;
    conf_replace(&s->conf, srv->conf);
    tls_ctx_replace(&s->tls_ctx, srv->tls_ctx);
    s->bev = bev;
    s->send_fd = -1;
    s->tls = pl->kind == LISTEN_POP3S;
    metrics_connect(s->kind = pl->kind);
    s->loopback = netconn_is_loopback(sa);
    netconn_peer(sa, s->client_ip, sizeof s->client_ip);
    s->delay = evtimer_new(srv->base, pop3s_on_timer, s);
    netconn_guard_init(&s->guard, srv->base, pop3s_on_guard_resume, pop3s_on_line_timeout, s);
    s->next = srv->sessions;
    if (srv->sessions)
        srv->sessions->prev = s;
    srv->sessions = s;
    struct netconn_hooks hooks = pop3s_hooks(s);
    netconn_attach(s->bev, &hooks, s->tls);
    s->counted = connlimit_admit(srv->limits, s->client_ip,
                                 conf_in_relay_networks(srv->conf, sa)) == 0;
    if (!s->counted) {
        log_warn("pop3: %s: connection limit reached", s->client_ip);
        if (s->tls) { /* no handshake for a connection refused anyway */
            pop3s_drop(s);
            return;
        }
        pop3s_reply(s, "-ERR [SYS/TEMP] Too many connections, try again later");
        bufferevent_enable(s->bev, EV_WRITE);
        pop3s_close(s);
        return;
    }
    log_event(LOG_INFO, &(struct log_fields){.event = "connect", .client = s->client_ip},
              "pop3: connect from %s%s", s->client_ip, s->tls ? " (pop3s)" : "");
    pop3s_reply(s, "+OK postino POP3 server ready");
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

static int pop3s_listen(struct pop3_server *srv, const struct listen_spec *ls)
{
    if (ls->kind == LISTEN_POP3S && !srv->tls_ctx) {
        log_err("listen pop3s %s:%d: needs tls_cert and tls_key", ls->addr, ls->port);
        return -1;
    }
    struct pop3_listener *pl = &srv->listeners[srv->n_listeners];
    pl->srv = srv;
    pl->kind = ls->kind;
    pl->l = netconn_listen(srv->base, ls, pop3s_on_accept, pl);
    if (!pl->l)
        return -1;
    srv->n_listeners++;
    return 0;
}

struct pop3_server *pop3_server_new(struct event_base *base, const struct conf *c,
                                    SSL_CTX *tls_ctx, struct diskq *dq,
                                    struct connlimit *limits)
{
    struct pop3_server *srv = xcalloc(1, sizeof *srv);
    srv->limits = limits;
    srv->base = base;
    srv->dq = dq;
    srv->listeners = xcalloc(c->n_listens + 1, sizeof *srv->listeners);
    pop3_server_set_conf(srv, c, tls_ctx);
    for (size_t i = 0; i < c->n_listens; i++) {
        const struct listen_spec *ls = &c->listens[i];
        if ((ls->kind == LISTEN_POP3 || ls->kind == LISTEN_POP3S) && pop3s_listen(srv, ls) < 0) {
            pop3_server_free(srv);
            return NULL;
        }
    }
    return srv;
}

void pop3_server_set_conf(struct pop3_server *srv, const struct conf *c, SSL_CTX *tls_ctx)
{
    conf_replace(&srv->conf, c);
    tls_ctx_replace(&srv->tls_ctx, tls_ctx);
}

void pop3_server_free(struct pop3_server *srv)
{
    if (!srv)
        return;
    for (size_t i = 0; i < srv->n_listeners; i++)
        netconn_listener_free(srv->listeners[i].l);
    free(srv->listeners);
    while (srv->sessions) {
        srv->sessions->state = POP3S_AUTHORIZATION; /* the disk workers are gone by now */
        pop3s_free(srv->sessions);
    }
    SSL_CTX_free(srv->tls_ctx);
    conf_release(srv->conf);
    free(srv);
}
