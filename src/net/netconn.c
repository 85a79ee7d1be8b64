/*
 * netconn: listener and connection helpers shared by the servers (see netconn.h).
 */
#include "net/netconn.h"
#include "lib/log.h"
#include "lib/str.h"
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
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
