/*
 * netconn: what the SMTP and POP3 servers share about connections and
 * listeners: binding a `listen` entry, naming and classifying the peer
 * address, the connection's bufferevent (plain, implicit TLS, or the
 * STARTTLS/STLS upgrade) with its timeouts, and counting replies not yet
 * handed to the kernel (a TLS filter's lower layer included). No protocol
 * knowledge.
 */
#ifndef POSTINO_NETCONN_H
#define POSTINO_NETCONN_H
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <openssl/ssl.h>
#include <sys/time.h>
#include <stddef.h>
#include <sys/socket.h>
#include "mail/conf.h"

/* Binds ls; logs "listening for KIND on ADDR:PORT", or the error. NULL on failure. */
struct evconnlistener *netconn_listen(struct event_base *base, const struct listen_spec *ls,
                                      evconnlistener_cb cb, void *ctx);
/* The peer's address as text ("unknown" if it cannot be printed). */
void netconn_peer(const struct sockaddr *sa, char *out, size_t size);
/* 1 for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
int netconn_is_loopback(const struct sockaddr *sa);
/* The bufferevent of an accepted socket: plain, or TLS from the first byte
 * when ssl is given. Aborts when out of memory (as xmalloc does). */
struct bufferevent *netconn_bev_new(struct event_base *base, evutil_socket_t fd, SSL *ssl);
/*
 * STARTTLS / STLS: discards what the client sent in the clear after the
 * command (CVE-2011-0411; *junk is how much) and returns the TLS filter
 * over plain, which it now owns.
 */
struct bufferevent *netconn_start_tls(struct event_base *base, struct bufferevent *plain, SSL *ssl,
                                      size_t *junk);
/*
 * Hooks bev (new, or just wrapped in TLS) to a session: callbacks, the read
 * high watermark, and idle, the time a silent client (read) or one that does
 * not take its replies (write) is given. tls: bev is a TLS bufferevent.
 */
void netconn_attach(struct bufferevent *bev, bufferevent_data_cb on_read,
                    bufferevent_data_cb on_write, bufferevent_event_cb on_event, void *ctx,
                    size_t read_high, const struct timeval *idle, int tls);
/* Octets written to bev and not yet handed to the kernel. */
size_t netconn_unsent(struct bufferevent *bev);

#endif
