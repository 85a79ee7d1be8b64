/*
 * smtp_server: listeners, connection limits and the session I/O loop.
 * Reads command lines (at most 512 octets, RFC 5321 4.5.3.1.4; longer
 * lines are discarded and answered 500 5.5.2 without ending the session),
 * hands them to smtp_commands.c, and streams DATA to smtp_receive.c.
 * Replies accumulate in the output buffer and leave when the read callback
 * returns, so pipelined commands (RFC 2920) get their replies in one write.
 */
#include "net/smtp_server.h"
#include "net/smtp_session.h"
#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/str.h"
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define SMTPS_READ_HIGH (256 * 1024)

void smtps_reply(struct smtps_session *s, const char *fmt, ...)
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

static void smtps_free(struct smtps_session *s)
{
    struct smtp_server *srv = s->srv;
    smtps_tx_reset(s);
    if (s->bev)
        bufferevent_free(s->bev);
    if (s->prev)
        s->prev->next = s->next;
    else
        srv->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    srv->n_sessions--;
    free(s);
}

/* Frees the session, or marks it dead while a commit is in flight. */
static void smtps_drop(struct smtps_session *s)
{
    if (s->state == SMTPS_COMMIT) {
        s->dead = 1;
        if (s->bev) {
            bufferevent_free(s->bev);
            s->bev = NULL;
        }
        return;
    }
    smtps_free(s);
}

static void smtps_on_flushed(struct bufferevent *bev, void *arg)
{
    (void)bev;
    smtps_drop(arg);
}

void smtps_close(struct smtps_session *s)
{
    s->state = SMTPS_CLOSING;
    if (!s->bev) {
        smtps_drop(s);
        return;
    }
    bufferevent_disable(s->bev, EV_READ);
    bufferevent_setcb(s->bev, NULL, smtps_on_flushed, NULL, s);
    bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
    if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
        smtps_drop(s);
}

/*
 * Takes one command line out of the input. Returns 1 with the line in buf
 * (NUL-terminated, CRLF removed), 0 if no complete line is there yet.
 */
static int smtps_read_line(struct smtps_session *s, char *buf, size_t *len)
{
    struct evbuffer *in = bufferevent_get_input(s->bev);
    size_t eol_len = 0;
    struct evbuffer_ptr p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
    if (p.pos < 0) {
        if (evbuffer_get_length(in) > SMTPS_LINE_MAX) {
            evbuffer_drain(in, evbuffer_get_length(in));
            s->overlong = 1;
        }
        return 0;
    }
    size_t n = (size_t)p.pos;
    if (s->overlong || n + 2 > SMTPS_LINE_MAX) {
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

void smtps_process_input(struct smtps_session *s)
{
    char line[SMTPS_LINE_MAX + 1];
    size_t len;
    while (s->bev && !s->dead) {
        if (s->state == SMTPS_COMMIT || s->state == SMTPS_CLOSING)
            return;
        if (s->state == SMTPS_DATA) {
            if (smtps_data_input(s))
                return;
            continue;
        }
        if (!smtps_read_line(s, line, &len))
            return;
        if (len == SIZE_MAX) {
            smtps_reply(s, "500 5.5.2 Error: line too long");
            s->errors++;
            continue;
        }
        smtps_command(s, line, len);
    }
}

static void smtps_on_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    smtps_process_input(arg);
}

static void smtps_on_event(struct bufferevent *bev, short what, void *arg)
{
    struct smtps_session *s = arg;
    (void)bev;
    if ((what & BEV_EVENT_TIMEOUT) && s->state != SMTPS_CLOSING) {
        log_info("smtp: %s: idle timeout", s->client_ip);
        smtps_reply(s, "421 4.4.2 %s Error: timeout exceeded", s->srv->conf->hostname);
        smtps_close(s);
        return;
    }
    smtps_drop(s); /* EOF or error */
}

static unsigned smtps_count_ip(const struct smtp_server *srv, const char *ip)
{
    unsigned n = 0;
    for (const struct smtps_session *s = srv->sessions; s; s = s->next)
        if (strcmp(s->client_ip, ip) == 0)
            n++;
    return n;
}

static void smtps_client_ip(const struct sockaddr *sa, char *out, size_t size)
{
    const void *a = sa->sa_family == AF_INET6
                        ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                        : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
    if (!inet_ntop(sa->sa_family, a, out, (socklen_t)size))
        str_copy(out, size, "unknown");
}

static struct smtps_session *smtps_new(struct smtp_server *srv, evutil_socket_t fd,
                                       const struct sockaddr *sa, int socklen,
                                       enum listen_kind kind)
{
    struct smtps_session *s = xcalloc(1, sizeof *s);
    s->srv = srv;
    s->kind = kind;
    memcpy(&s->sa, sa, (size_t)socklen < sizeof s->sa ? (size_t)socklen : sizeof s->sa);
    smtps_client_ip(sa, s->client_ip, sizeof s->client_ip);
    s->relay_ok = conf_in_relay_networks(srv->conf, sa);
    s->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
    envelope_init(&s->tx.env);
    s->next = srv->sessions;
    if (srv->sessions)
        srv->sessions->prev = s;
    srv->sessions = s;
    srv->n_sessions++;
    bufferevent_setcb(s->bev, smtps_on_read, NULL, smtps_on_event, s);
    bufferevent_setwatermark(s->bev, EV_READ, 0, SMTPS_READ_HIGH);
    int64_t ms = srv->conf->timeout_server_ms;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    bufferevent_set_timeouts(s->bev, &tv, &tv);
    return s;
}

static void smtps_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                            int socklen, void *arg);

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
    if (srv->n_sessions > c->max_connections ||
        smtps_count_ip(srv, s->client_ip) > c->max_connections_per_ip) {
        log_warn("smtp: %s: connection limit reached", s->client_ip);
        smtps_reply(s, "421 4.7.0 %s Error: too many connections", c->hostname);
        smtps_close(s);
        return;
    }
    log_info("smtp: connect from %s", s->client_ip);
    smtps_reply(s, "220 %s ESMTP postino", c->hostname);
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

static int smtps_listen(struct smtp_server *srv, const struct listen_spec *ls)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char text[96];
    str_fmt(text, sizeof text, strchr(ls->addr, ':') ? "[%s]:%d" : "%s:%d", ls->addr, ls->port);
    if (evutil_parse_sockaddr_port(text, (struct sockaddr *)&ss, &len) < 0) {
        log_err("listen %s: bad address", text);
        return -1;
    }
    struct smtps_listener_ctx *ctx = xcalloc(1, sizeof *ctx);
    ctx->srv = srv;
    ctx->kind = ls->kind;
    struct evconnlistener *l = evconnlistener_new_bind(
        srv->base, smtps_on_accept, ctx,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 511,
        (struct sockaddr *)&ss, len);
    if (!l) {
        log_err("listen %s: %s", text, strerror(errno));
        free(ctx);
        return -1;
    }
    srv->listeners = xrealloc(srv->listeners, (srv->n_listeners + 1) * sizeof *srv->listeners);
    srv->listener_ctx =
        xrealloc(srv->listener_ctx, (srv->n_listeners + 1) * sizeof *srv->listener_ctx);
    srv->listener_ctx[srv->n_listeners] = ctx;
    srv->listeners[srv->n_listeners++] = l;
    log_info("listening for %s on %s", ls->kind == LISTEN_SMTP ? "smtp" : "submission", text);
    return 0;
}

struct smtp_server *smtp_server_new(struct event_base *base, const struct conf *c,
                                    struct queue *q, struct diskq *dq, struct sched *s)
{
    struct smtp_server *srv = xcalloc(1, sizeof *srv);
    srv->base = base;
    srv->conf = c;
    srv->queue = q;
    srv->dq = dq;
    srv->sched = s;
    for (size_t i = 0; i < c->n_listens; i++) {
        const struct listen_spec *ls = &c->listens[i];
        if (ls->kind != LISTEN_SMTP && ls->kind != LISTEN_SUBMISSION)
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
        evconnlistener_free(srv->listeners[i]);
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
        if (s->state == SMTPS_COMMIT || s->state == SMTPS_CLOSING)
            continue;
        smtps_reply(s, "421 4.3.2 %s Service shutting down", srv->conf->hostname);
        smtps_close(s);
    }
}

unsigned smtp_server_sessions(const struct smtp_server *srv)
{
    return srv->n_sessions;
}

void smtp_server_free(struct smtp_server *srv)
{
    if (!srv)
        return;
    smtps_free_listeners(srv);
    while (srv->sessions)
        smtps_free(srv->sessions);
    free(srv);
}
