/*
 * netconn: what the SMTP and POP3 servers share about connections and
 * listeners: binding a `listen` entry, naming and classifying the peer
 * address, and counting replies not yet handed to the kernel (a TLS
 * filter's lower layer included). No protocol knowledge.
 */
#ifndef POSTINO_NETCONN_H
#define POSTINO_NETCONN_H
#include <event2/bufferevent.h>
#include <event2/listener.h>
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
/* Octets written to bev and not yet handed to the kernel. */
size_t netconn_unsent(struct bufferevent *bev);

#endif
