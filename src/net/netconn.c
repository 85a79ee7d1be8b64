/*
 * netconn: listener and connection helpers shared by the servers (see netconn.h).
 */
#include "net/netconn.h"
#include "net/tls.h"
#include "lib/dur.h"
#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/str.h"
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <string.h>

struct netconn_listener {
    struct evconnlistener *l;
    struct event *pause;        /* re-enables the listener */
    evconnlistener_cb cb;
    void *ctx;
    char text[96];              /* ADDR:PORT, for logs */
    int shortage_logged;        /* this shortage was logged; cleared by the next accept */
};

static void netconn_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                              int socklen, void *arg)
{
    struct netconn_listener *nl = arg;
    nl->shortage_logged = 0;
    nl->cb(l, fd, sa, socklen, nl->ctx);
}

static void netconn_on_pause_end(evutil_socket_t fd, short what, void *arg)
{
    struct netconn_listener *nl = arg;
    (void)fd;
    (void)what;
    evconnlistener_enable(nl->l);
}

/* accept(2) failed with what libevent does not retry itself. */
static void netconn_on_accept_error(struct evconnlistener *l, void *arg)
{
    struct netconn_listener *nl = arg;
    int err = EVUTIL_SOCKET_ERROR();
    struct timeval pause = dur_timeval(NETCONN_ACCEPT_PAUSE_MS);
    int shortage = err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
    if (!nl->shortage_logged)
        log_err("accept on %s: %s: %s", nl->text, strerror(err),
                shortage ? "not accepting for a while" : "pausing");
    nl->shortage_logged = 1;
    evconnlistener_disable(l);
    event_add(nl->pause, &pause);
}

struct netconn_listener *netconn_listen(struct event_base *base, const struct listen_spec *ls,
                                        evconnlistener_cb cb, void *ctx)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    struct netconn_listener *nl = xcalloc(1, sizeof *nl);
    nl->cb = cb;
    nl->ctx = ctx;
    str_fmt(nl->text, sizeof nl->text, strchr(ls->addr, ':') ? "[%s]:%d" : "%s:%d", ls->addr,
            ls->port);
    if (evutil_parse_sockaddr_port(nl->text, (struct sockaddr *)&ss, &len) < 0) {
        log_err("listen %s: bad address", nl->text);
        free(nl);
        return NULL;
    }
    nl->l = evconnlistener_new_bind(
        base, netconn_on_accept, nl, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
        511, (struct sockaddr *)&ss, len);
    if (!nl->l) {
        log_err("listen %s: %s", nl->text, strerror(errno));
        free(nl);
        return NULL;
    }
    evconnlistener_set_error_cb(nl->l, netconn_on_accept_error);
    nl->pause = evtimer_new(base, netconn_on_pause_end, nl);
    log_info("listening for %s on %s", conf_listen_kind_name(ls->kind), nl->text);
    return nl;
}

void netconn_listener_free(struct netconn_listener *nl)
{
    if (!nl)
        return;
    event_free(nl->pause);
    evconnlistener_free(nl->l);
    free(nl);
}

void netconn_peer(const struct sockaddr *sa, char *out, size_t size)
{
    const void *a = sa->sa_family == AF_INET6
                        ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                        : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
    if (!inet_ntop(sa->sa_family, a, out, (socklen_t)size))
        str_copy(out, size, "unknown");
}

int netconn_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family != AF_INET6)
        return 0;
    const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
}

size_t netconn_unsent(struct bufferevent *bev)
{
    size_t n = evbuffer_get_length(bufferevent_get_output(bev));
    struct bufferevent *lower = bufferevent_get_underlying(bev);
    if (lower)
        n += evbuffer_get_length(bufferevent_get_output(lower));
    return n;
}

/* libevent fails these only when out of memory. */
static struct bufferevent *netconn_checked(struct bufferevent *bev)
{
    if (!bev) {
        log_err("cannot create a bufferevent: out of memory");
        abort();
    }
    return bev;
}

struct bufferevent *netconn_bev_new(struct event_base *base, evutil_socket_t fd, SSL *ssl)
{
    if (!ssl)
        return netconn_checked(bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE));
    return netconn_checked(bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                          BEV_OPT_CLOSE_ON_FREE));
}

/*
 * A TLS filter re-arms its write timer after every write, even with nothing
 * left to send, so there the write timeout goes to the socket below it,
 * which has the socket semantics (armed only while output waits); the
 * filter passes it up.
 */
void netconn_attach(struct bufferevent *bev, const struct netconn_hooks *h, int tls)
{
    struct bufferevent *lower = bufferevent_get_underlying(bev);
    bufferevent_setcb(bev, h->on_read, h->on_write, h->on_event, h->ctx);
    bufferevent_setwatermark(bev, EV_READ, 0, h->read_high);
    bufferevent_set_timeouts(bev, &h->idle, lower ? NULL : &h->idle);
    if (lower)
        bufferevent_set_timeouts(lower, NULL, &h->idle);
    if (tls) /* a client that closes without close_notify has said QUIT, or nothing */
        bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
}

int netconn_starttls(struct bufferevent **bev, const struct netconn_starttls *st)
{
    SSL *ssl = tls_server_new(st->tls_ctx);
    if (!ssl)
        return -1;
    struct bufferevent *plain = *bev;
    struct evbuffer *in = bufferevent_get_input(plain);
    size_t junk = evbuffer_get_length(in);
    evbuffer_add_printf(bufferevent_get_output(plain), "%s\r\n", st->go_ahead);
    evbuffer_drain(in, junk); /* never read as if it had come over TLS */
    if (junk)
        log_warn("%s: %s: discarded %zu octets sent after %s", st->proto, st->peer, junk, st->verb);
    *bev = netconn_checked(bufferevent_openssl_filter_new(bufferevent_get_base(plain), plain, ssl,
                                                          BUFFEREVENT_SSL_ACCEPTING,
                                                          BEV_OPT_CLOSE_ON_FREE));
    netconn_attach(*bev, &st->hooks, 1);
    bufferevent_enable(*bev, EV_READ | EV_WRITE);
    return 0;
}

/* ---- closing after the last replies ---- */

/* bev's output changed (its callback argument is the session's due event). */
static void netconn_close_on_write(struct bufferevent *bev, void *due)
{
    if (netconn_unsent(bev) == 0)
        event_active(due, EV_TIMEOUT, 0);
}

/* A TLS filter's lower output changed: once empty, the last TLS records may have left. */
static void netconn_close_on_lower(struct evbuffer *buf, const struct evbuffer_cb_info *info,
                                   void *arg)
{
    struct bufferevent *bev = arg;
    void *due;
    (void)info;
    if (evbuffer_get_length(buf) != 0)
        return;
    bufferevent_getcb(bev, NULL, NULL, NULL, &due);
    netconn_close_on_write(bev, due);
}

static void netconn_close_on_event(struct bufferevent *bev, short what, void *due)
{
    (void)bev;
    (void)what;
    event_active(due, EV_TIMEOUT, 0);
}

void netconn_close_after_flush(struct netconn_guard *g, struct bufferevent *bev, struct event *due,
                               int64_t deadline_ms)
{
    struct timeval deadline = dur_timeval(deadline_ms);
    struct bufferevent *lower = bufferevent_get_underlying(bev);
    netconn_guard_line(g, 0, 0);
    bufferevent_disable(bev, EV_READ);
    bufferevent_setcb(bev, NULL, netconn_close_on_write, netconn_close_on_event, due);
    bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
    event_add(due, &deadline);
    if (lower)
        evbuffer_add_cb(bufferevent_get_output(lower), netconn_close_on_lower, bev);
    netconn_close_on_write(bev, due);
}

void netconn_hangup(struct netconn_guard *g, struct bufferevent **bev)
{
    netconn_guard_unwatch(g);
    if (!*bev)
        return;
    struct bufferevent *lower = bufferevent_get_underlying(*bev);
    if (lower) /* its output may change while libevent finishes the free */
        evbuffer_remove_cb(bufferevent_get_output(lower), netconn_close_on_lower, *bev);
    bufferevent_free(*bev);
    *bev = NULL;
}

/* ---- the session guard ---- */

static void netconn_guard_on_resume(evutil_socket_t fd, short what, void *arg)
{
    struct netconn_guard *g = arg;
    (void)fd;
    (void)what;
    netconn_guard_unwatch(g);
    g->blocked = 0;
    g->on_resume(g->ctx);
}

static void netconn_guard_on_line_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct netconn_guard *g = arg;
    (void)fd;
    (void)what;
    g->on_line_timeout(g->ctx);
}

/* The watched output changed: once enough has left, resume from the loop. */
static void netconn_guard_on_drain(struct evbuffer *buf, const struct evbuffer_cb_info *info,
                                   void *arg)
{
    struct netconn_guard *g = arg;
    (void)buf;
    if (info->n_deleted && netconn_unsent(g->bev) <= NETCONN_OUT_LOW)
        event_active(g->resume, EV_TIMEOUT, 0);
}

void netconn_guard_init(struct netconn_guard *g, struct event_base *base,
                        void (*on_resume)(void *ctx), void (*on_line_timeout)(void *ctx),
                        void *ctx)
{
    memset(g, 0, sizeof *g);
    g->on_resume = on_resume;
    g->on_line_timeout = on_line_timeout;
    g->ctx = ctx;
    g->resume = event_new(base, -1, 0, netconn_guard_on_resume, g);
    g->line_deadline = evtimer_new(base, netconn_guard_on_line_deadline, g);
}

int netconn_guard_blocked(struct netconn_guard *g, struct bufferevent *bev)
{
    if (g->blocked)
        return 1;
    if (netconn_unsent(bev) <= NETCONN_OUT_HIGH)
        return 0;
    struct bufferevent *lower = bufferevent_get_underlying(bev);
    g->blocked = 1;
    g->bev = bev;
    bufferevent_disable(bev, EV_READ);
    g->watched = bufferevent_get_output(lower ? lower : bev);
    g->watch = evbuffer_add_cb(g->watched, netconn_guard_on_drain, g);
    evtimer_del(g->line_deadline); /* not a slow client: one that does not read */
    return 1;
}

void netconn_guard_line(struct netconn_guard *g, int partial, int64_t ms)
{
    if (!partial) {
        evtimer_del(g->line_deadline);
        return;
    }
    if (evtimer_pending(g->line_deadline, NULL))
        return;
    struct timeval tv = dur_timeval(ms);
    evtimer_add(g->line_deadline, &tv);
}

void netconn_guard_unwatch(struct netconn_guard *g)
{
    if (g->watch)
        evbuffer_remove_cb_entry(g->watched, g->watch);
    g->watch = NULL;
    g->watched = NULL;
}

void netconn_guard_fini(struct netconn_guard *g)
{
    netconn_guard_unwatch(g);
    if (g->resume)
        event_free(g->resume);
    if (g->line_deadline)
        event_free(g->line_deadline);
    g->resume = g->line_deadline = NULL;
}
