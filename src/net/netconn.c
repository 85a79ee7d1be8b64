/*
 * netconn: listener and connection helpers shared by the servers (see netconn.h).
 */
#include "net/netconn.h"
#include "lib/log.h"
#include "lib/str.h"
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <string.h>

struct evconnlistener *netconn_listen(struct event_base *base, const struct listen_spec *ls,
                                      evconnlistener_cb cb, void *ctx)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char text[96];
    str_fmt(text, sizeof text, strchr(ls->addr, ':') ? "[%s]:%d" : "%s:%d", ls->addr, ls->port);
    if (evutil_parse_sockaddr_port(text, (struct sockaddr *)&ss, &len) < 0) {
        log_err("listen %s: bad address", text);
        return NULL;
    }
    struct evconnlistener *l = evconnlistener_new_bind(
        base, cb, ctx, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 511,
        (struct sockaddr *)&ss, len);
    if (!l) {
        log_err("listen %s: %s", text, strerror(errno));
        return NULL;
    }
    log_info("listening for %s on %s", conf_listen_kind_name(ls->kind), text);
    return l;
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

struct bufferevent *netconn_start_tls(struct event_base *base, struct bufferevent *plain, SSL *ssl,
                                      size_t *junk)
{
    struct evbuffer *in = bufferevent_get_input(plain);
    *junk = evbuffer_get_length(in);
    evbuffer_drain(in, *junk);
    return netconn_checked(bufferevent_openssl_filter_new(base, plain, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                          BEV_OPT_CLOSE_ON_FREE));
}

/*
 * A TLS filter re-arms its write timer after every write, even with nothing
 * left to send, so there the write timeout goes to the socket below it,
 * which has the socket semantics (armed only while output waits); the
 * filter passes it up.
 */
void netconn_attach(struct bufferevent *bev, bufferevent_data_cb on_read,
                    bufferevent_data_cb on_write, bufferevent_event_cb on_event, void *ctx,
                    size_t read_high, const struct timeval *idle, int tls)
{
    struct bufferevent *lower = bufferevent_get_underlying(bev);
    bufferevent_setcb(bev, on_read, on_write, on_event, ctx);
    bufferevent_setwatermark(bev, EV_READ, 0, read_high);
    bufferevent_set_timeouts(bev, idle, lower ? NULL : idle);
    if (lower)
        bufferevent_set_timeouts(lower, NULL, idle);
    if (tls) /* a client that closes without close_notify has said QUIT, or nothing */
        bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
}
