/*
 * netconn: what the SMTP and POP3 servers share about connections and
 * listeners: binding a `listen` entry (and pausing it while the process is
 * out of descriptors), naming and classifying the peer address, the
 * connection's bufferevent (plain, implicit TLS, or the STARTTLS/STLS
 * upgrade) with its timeouts, counting replies not yet handed to the kernel
 * (a TLS filter's lower layer included), and the guard of a session: no
 * more input while the client leaves too many replies unread, and a
 * deadline for a command line that trickles in. No protocol knowledge.
 */
#ifndef POSTINO_NETCONN_H
#define POSTINO_NETCONN_H
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <openssl/ssl.h>
#include <sys/time.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "mail/conf.h"

/* Unsent replies past which a session reads no more input (RFC 2920 lets a
 * client pipeline without limit; the server need not buffer without limit). */
#define NETCONN_OUT_HIGH (64 * 1024)
/* ... and below which it reads again. */
#define NETCONN_OUT_LOW (16 * 1024)
/* How long accepting pauses when the process is out of descriptors. */
#define NETCONN_ACCEPT_PAUSE_MS 1000

struct netconn_listener;

/*
 * Binds ls; logs "listening for KIND on ADDR:PORT", or the error. NULL on
 * failure. cb gets ctx. When accept(2) fails for lack of descriptors or
 * memory, the listener stops for NETCONN_ACCEPT_PAUSE_MS (logged once per
 * shortage) instead of spinning on the pending connection.
 */
struct netconn_listener *netconn_listen(struct event_base *base, const struct listen_spec *ls,
                                        evconnlistener_cb cb, void *ctx);
void netconn_listener_free(struct netconn_listener *nl);
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

/*
 * The guard of one server session. Flow control: when the session's unsent
 * replies pass NETCONN_OUT_HIGH, reading stops until they fall to
 * NETCONN_OUT_LOW, then on_resume(ctx) runs from the loop (never from inside
 * libevent's write path); a client that reads nothing meets the
 * bufferevent's write timeout. Line deadline: a command line must be
 * complete within the given time of its first octet, however slowly it
 * trickles in (each octet would reset an idle timer); else
 * on_line_timeout(ctx).
 */
struct netconn_guard {
    struct event *resume;           /* runs on_resume on the next loop turn */
    struct event *line_deadline;    /* armed while a partial command line waits */
    struct bufferevent *bev;        /* the session's bufferevent while blocked */
    struct evbuffer *watched;       /* its socket-level output, watched for drains */
    struct evbuffer_cb_entry *watch;
    void (*on_resume)(void *ctx);
    void (*on_line_timeout)(void *ctx);
    void *ctx;
    int blocked;                    /* reading stopped for unread replies */
};

void netconn_guard_init(struct netconn_guard *g, struct event_base *base,
                        void (*on_resume)(void *ctx), void (*on_line_timeout)(void *ctx),
                        void *ctx);
/*
 * 1 if the session must take no more input now: its unsent replies passed
 * NETCONN_OUT_HIGH (reading of bev is then disabled until they drain), or
 * it is still waiting for them to drain.
 */
int netconn_guard_blocked(struct netconn_guard *g, struct bufferevent *bev);
/* After the input was handled: partial = a command line has begun and is not
 * complete. Arms the deadline (ms from now) if not armed, or disarms it. */
void netconn_guard_line(struct netconn_guard *g, int partial, int64_t ms);
/* Stops watching (before the bufferevent is freed or replaced). */
void netconn_guard_unwatch(struct netconn_guard *g);
void netconn_guard_fini(struct netconn_guard *g);

#endif
