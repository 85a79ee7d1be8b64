/*
 * smtp_client: outbound SMTP (RFC 5321 client side, RFC 1123 5.3) on the
 * event loop. A delivery is one message and the recipients of it that go
 * to one next hop; it resolves the hop (smtpc/mx), tries the targets in
 * order (refused, dropped, 4xx/5xx greeting: next target), speaks EHLO
 * (HELO after a 5xx), STARTTLS as tls_policy asks (none, may = opportunistic,
 * encrypt, verify: RFC 3207, RFC 6125 names via OpenSSL), SMTP AUTH as a
 * client with relay_auth (RFC 4954, PLAIN or LOGIN, over TLS only), PIPELINING, SIZE, 8BITMIME
 * and DSN (RFC 3461: NOTIFY, ORCPT, RET, ENVID passed on, xtext-encoded),
 * and reports one outcome per recipient: 2 relayed, 4 retry, 5 failed.
 * Every wait has its RFC 1123 timeout; an expired timeout is temporary.
 * Connections are limited in total and per destination by mail/destconc
 * (a limit that grows with successes, drops on failed connections and on
 * "too many connections", and a destination dead for a while after
 * failures in a row: its deliveries end at once, "not tried"), and reused
 * for the next delivery to the same destination (RSET between).
 */
#ifndef POSTINO_SMTP_CLIENT_H
#define POSTINO_SMTP_CLIENT_H
#include <event2/event.h>
#include <stddef.h>
#include "mail/conf.h"
#include "mail/envelope.h"
#include "mail/route.h"
#include "smtpc/mx.h"

#define SMTPC_REPLY_MAX 512

struct smtpc_outcome {
    size_t idx;                        /* recipient index in the envelope */
    int klass;                         /* 2 done, 4 temporary, 5 permanent */
    char reply[SMTPC_REPLY_MAX];       /* the reply or diagnostic, "550 5.1.1 ..." */
    int from_server;                   /* 1: reply is the server's answer; 0: postino's own
                                        * decision ("5.3.4 ... larger than the limit ...") */
    int unsent;                        /* internal: decided before RCPT (5.6.7), not sent */
};

struct smtpc_delivery {
    /* set by the caller */
    const struct envelope *env;        /* unchanged until done() */
    int fd;                            /* the queue file, for the content */
    struct route_hop hop;
    struct smtpc_outcome *out;         /* n entries, idx filled by the caller */
    size_t n;
    void (*done)(struct smtpc_delivery *d);
    void *ctx;
    /* set by the client */
    char remote[300];                  /* "host[addr]" of the server that answered, or "" */
    char tls[160];                     /* "TLSv1.3/CIPHER/verified" (or "unverified"), "none"
                                        * in the clear, "" when no server answered */
    int peer_dsn;                      /* the next hop offered DSN (the notice duty moved on) */
    int canceled;                      /* shutting down: nothing was decided */
    int64_t retry_after;               /* ms since the epoch: the destination is dead until
                                        * then (not tried, or its connection made it dead);
                                        * 0 = no advice */
    int not_tried;                     /* 1: ended without a connection (dead destination):
                                        * no attempt was made for its recipients */
    struct smtpc_delivery *next;       /* internal: waiting list */
};

struct smtpc;

struct smtpc *smtpc_new(struct event_base *base, const struct conf *c, struct mx_resolver *mx,
                        void *tls_client_ctx);
/* A reload: connections opened from now on use c (held); open ones keep theirs. */
void smtpc_set_conf(struct smtpc *sc, const struct conf *c);
/* A reload: STARTTLS from now on uses tls_client_ctx (a reference taken; tls_ca_file). */
void smtpc_set_tls(struct smtpc *sc, void *tls_client_ctx);
/* Starts (or queues) a delivery; done() runs later, on the loop, exactly once. */
void smtpc_deliver(struct smtpc *sc, struct smtpc_delivery *d);
/*
 * 0 when a delivery for hop key (route_hop_key) may be tried now; else the
 * time (ms since the epoch) before which it would not be contacted: the
 * destination is dead until then, or a probe connection decides first.
 */
int64_t smtpc_dest_wait(struct smtpc *sc, const char *key, int64_t now);
/* `queue flush`: every dead destination may be tried again at once (one probe connection). */
void smtpc_revive_all(struct smtpc *sc);
/* `queue flush ID`: the same for the one destination key (route_hop_key). */
void smtpc_revive(struct smtpc *sc, const char *key);
/* Starts no new work (call before freeing the resolver, whose pending lookups then finish). */
void smtpc_stop(struct smtpc *sc);
/* Cancels everything in flight (done() with canceled=1) and frees. */
void smtpc_free(struct smtpc *sc);

#endif
