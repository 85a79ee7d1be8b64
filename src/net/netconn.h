/*
 * netconn: what the SMTP and POP3 servers share about connections and
 * listeners: binding a `listen` entry (and pausing it while the process is
 * out of descriptors), naming and classifying the peer address, the
 * connection's bufferevent (plain, implicit TLS, or the STARTTLS/STLS
 * upgrade: go-ahead, plaintext discarded, callbacks re-armed) with its
 * timeouts, counting replies not yet handed to the kernel (a TLS filter's
 * lower layer included), closing once they are out, and the guard of a
 * session: no more input while the client leaves too many replies unread,
 * and a deadline for a command line that trickles in. No protocol
 * knowledge beyond the text the caller gives.
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
/* How a session's bufferevent is hooked to it (netconn_attach). */
struct netconn_hooks {
    bufferevent_data_cb on_read;
    bufferevent_data_cb on_write;
    bufferevent_event_cb on_event;
    void *ctx;
    size_t read_high;           /* the read high watermark */
    struct timeval idle;        /* given to a silent client (read) or one that
                                   does not take its replies (write) */
};

/* Hooks bev (new, or just wrapped in TLS) to a session. tls: bev is a TLS bufferevent. */
void netconn_attach(struct bufferevent *bev, const struct netconn_hooks *h, int tls);

/* A STARTTLS / STLS upgrade: what the protocol says and how the session hooks in. */
struct netconn_starttls {
    SSL_CTX *tls_ctx;
    const char *go_ahead;       /* the reply that lets the client begin, CRLF added */
    const char *proto;          /* "smtp", "pop3": for the log */
    const char *peer;           /* the client's address: for the log */
    const char *verb;           /* "STARTTLS", "STLS": for the log */
    struct netconn_hooks hooks; /* for the TLS bufferevent */
};

/*
 * STARTTLS (RFC 3207 4) / STLS (RFC 2595 4) accepted: makes a server TLS
 * session, queues st->go_ahead in the clear, discards what the client sent
 * after the command (RFC 3207 4.2, CVE-2011-0411; logged with how much),
 * replaces *bev with a TLS filter over it (which owns it), hooks that in
 * and enables reading and writing. -1 if no TLS session could be made
 * (logged): nothing was sent and *bev is unchanged. The session resets its
 * own state.
 */
int netconn_starttls(struct bufferevent **bev, const struct netconn_starttls *st);
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

/*
 * Closes a session once its pending replies are out: reading stops (the
 * guard's line deadline too), and due (an event of the session, whose
 * callback ends it with netconn_hangup)
 * becomes active on the loop turn after the last octet reached the kernel,
 * below a TLS filter too, which takes the replies out of bev at once. It
 * fires at the latest after deadline_ms, and at once after an error or a
 * timeout on bev: nobody is listening any more. Replaces bev's callbacks.
 */
void netconn_close_after_flush(struct netconn_guard *g, struct bufferevent *bev, struct event *due,
                               int64_t deadline_ms);
/*
 * Ends a session's connection now: the guard stops watching, and *bev (with
 * the socket below a TLS filter) is freed and set to NULL, if not NULL already.
 */
void netconn_hangup(struct netconn_guard *g, struct bufferevent **bev);

#endif
