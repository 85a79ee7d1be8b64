/*
 * smtp_client_conn: internal state of the SMTP client, shared by
 * smtp_client.c (connections, targets), smtp_client_dest.c (destinations
 * and their concurrency) and smtp_client_tx.c (the protocol dialogue of
 * one connection). The phase of a connection is the explicit enum
 * smtpc_state.
 */
#ifndef POSTINO_SMTP_CLIENT_CONN_H
#define POSTINO_SMTP_CLIENT_CONN_H
#include "lib/strmap.h"
#include "mail/destconc.h"
#include "proto/smtp_dotstuff.h"
#include "proto/smtp_reply.h"
#include "smtpc/smtp_client.h"
#include <event2/bufferevent.h>
#include <openssl/ssl.h>

#define SMTPC_TOTAL 200          /* outbound connections in all (per destination: destconc) */
#define SMTPC_DEST_FORGET_MS (10 * 60 * 1000LL) /* an unused destination is forgotten after */
#define SMTPC_SWEEP_MS (60 * 1000LL)            /* how often unused destinations are looked for */
#define SMTPC_PROBE_WAIT_MS (10 * 1000LL)       /* smtpc_dest_wait while a probe decides */
#define SMTPC_KEY_MAX 300
#define SMTPC_REPLY_BUF 8192     /* a reply longer than this is a protocol error */
#define SMTPC_REPLY_LINES 200    /* so is a reply of more lines */
#define SMTPC_BODY_HIGH (256 * 1024)
#define SMTPC_IDLE_MS 2000       /* how long an idle connection waits for the next message */

enum smtpc_state {
    SMTPC_RESOLVING,   /* waiting for smtpc/mx */
    SMTPC_CONNECTING,
    SMTPC_GREETING,
    SMTPC_EHLO,
    SMTPC_HELO,
    SMTPC_STARTTLS,    /* STARTTLS sent, waiting for 220 */
    SMTPC_HANDSHAKE,   /* TLS handshake running */
    SMTPC_AUTH,        /* relay_auth: an AUTH step sent (c->auth_step), waiting for 334/235 */
    SMTPC_MAIL,        /* MAIL (and pipelined RCPT/DATA) sent */
    SMTPC_RCPT,
    SMTPC_DATA,        /* DATA sent, waiting for 354 */
    SMTPC_BODY,        /* streaming the content */
    SMTPC_DOT,         /* final dot sent */
    SMTPC_RSET,        /* RSET before reusing the connection */
    SMTPC_QUIT,
    SMTPC_IDLE,        /* transaction done, kept open a moment for the next message */
    SMTPC_CLOSED,      /* freed from the loop shortly (never inside a callback) */
};

#define SMTPC_STANDARD_PORT 25   /* a next hop on another port is named with it in logs */

/* The steps of SMTP AUTH as a client (RFC 4954 4): which reply is awaited. */
enum smtpc_auth_step {
    SMTPC_AUTH_PLAIN,      /* "AUTH PLAIN <initial response>" sent: 235 expected */
    SMTPC_AUTH_LOGIN,      /* "AUTH LOGIN" sent: 334 for the user name */
    SMTPC_AUTH_USER,       /* the user name sent: 334 for the password */
    SMTPC_AUTH_PASS,       /* the password sent: 235 expected */
};

/* One next hop (route_hop_key): its waiting deliveries, connections and concurrency. */
struct smtpc_dest {
    char key[SMTPC_KEY_MAX];
    char name[SMTPC_KEY_MAX];     /* as logs name it: "host" or "host:port" */
    struct smtpc_delivery *wait_head, *wait_tail;
    unsigned n_conns;
    struct destconc dc;           /* the limit on n_conns, dead or alive */
    int64_t last_used;            /* ms: the last delivery handed to it or connection closed */
    char last_error[SMTPC_REPLY_MAX]; /* why the last failed connection failed */
    int last_no_answer;           /* that failure was before any reply (4.4.1, else 4.4.2) */
    struct smtpc_dest *prev, *next;
};

struct smtpc {
    struct event_base *base;
    const struct conf *conf;      /* held; replaced by a reload (smtpc_set_conf) */
    struct mx_resolver *mx;
    SSL_CTX *tls;                 /* for STARTTLS (a reference held), or NULL */
    struct smtpc_dest *dests;     /* every known destination (also in dest_map by key) */
    struct strmap dest_map;
    int64_t last_sweep;
    struct smtpc_conn *conns;
    unsigned n_conns;
    struct smtpc_delivery *later_head, *later_tail; /* decided at once, done() from the loop */
    struct event *later_ev;
    int stopping;
};

struct smtpc_conn {
    struct smtpc *sc;
    const struct conf *conf;      /* held: the settings the connection started under */
    struct smtpc_dest *dest;
    struct smtpc_conn *prev, *next;
    struct smtpc_delivery *d;     /* the current delivery */
    struct bufferevent *bev;
    enum smtpc_state state;
    struct mx_target *targets;
    size_t n_targets, target_i;
    unsigned tried, refused_5xx;
    char last_error[SMTPC_REPLY_MAX];
    int too_many;                 /* the current target said "too many connections" */
    struct smtp_ehlo ehlo;        /* what the server's EHLO reply offered */
    int tls;
    int verified;                 /* the TLS peer's chain and name checked out */
    char tls_desc[128];           /* "TLSv1.3/CIPHER/verified", "none" before TLS */
    enum tls_policy policy;       /* of the destination (part of its key) */
    const struct relay_auth *auth; /* in c->conf: credentials for this hop, or NULL */
    int authed;                   /* AUTH succeeded on this connection */
    enum smtpc_auth_step auth_step;
    int esmtp;
    struct smtp_reply reply;      /* reply lines being collected */
    size_t rcpt_next;             /* RCPT replies read so far */
    size_t accepted;
    int mail_failed;
    uint64_t body_off;            /* bytes of content sent */
    struct smtp_dotstuff stuff;   /* dot-stuffing state of the content */
    int bdat;                     /* this transaction sends the content by BDAT (RFC 3030) */
    int utf8_on;                  /* this transaction sends SMTPUTF8 (RFC 6531) */
    int alabels;                  /* next hop lacks SMTPUTF8: domains sent as A-labels */
};

/* smtp_client_dest.c */
/* The destination of hop (by route_hop_key), made on first use. */
struct smtpc_dest *smtpc_dest_get(struct smtpc *sc, const struct route_hop *hop);
void smtpc_dest_free(struct smtpc *sc, struct smtpc_dest *d);
/* At most once a minute: forgets destinations with nothing open, waiting or learned. */
void smtpc_dest_sweep(struct smtpc *sc, int64_t now);
void smtpc_dest_push(struct smtpc_dest *dest, struct smtpc_delivery *d);
struct smtpc_delivery *smtpc_dest_pop(struct smtpc_dest *dest);
/* destconc allows another connection now (a dead time over becomes a probe). */
int smtpc_dest_may_open(struct smtpc_dest *dest, int64_t now);
/* dest is dead at now: no connection, deliveries end "not tried". */
int smtpc_dest_dead(const struct smtpc_dest *dest, int64_t now);
/* Ends d at once for the dead dest (deferred, retry_after set); done() runs from the loop. */
void smtpc_dest_not_tried_later(struct smtpc *sc, struct smtpc_dest *dest,
                                struct smtpc_delivery *d);
/* Every target of c failed before a transaction; d (c's delivery, about to be finished)
 * gets retry_after if that made the destination dead, and the waiting ones end. */
void smtpc_dest_conn_failed(struct smtpc_conn *c, struct smtpc_delivery *d);
void smtpc_later_init(struct smtpc *sc);
void smtpc_later_free(struct smtpc *sc);
/* smtp_client.c */
void smtpc_finish(struct smtpc_delivery *d, int klass, const char *text);
void smtpc_conn_close(struct smtpc_conn *c);
/* Opens connections for dest's waiting deliveries while the limits allow. */
void smtpc_pump(struct smtpc *sc, struct smtpc_dest *dest);
/* The first waiting delivery of dest goes to an idle connection of dest, else pump. */
void smtpc_serve(struct smtpc *sc, struct smtpc_dest *dest);
void smtpc_target_failed(struct smtpc_conn *c, int klass, const char *why);
void smtpc_target_name(const struct smtpc_conn *c, char *out, size_t size);
/* Records in d who answered (host[addr]) and how the connection was protected. */
void smtpc_record_remote(const struct smtpc_conn *c, struct smtpc_delivery *d);
/* The server accepted MAIL on c: a success for the destination's concurrency. */
void smtpc_dest_success(struct smtpc_conn *c);
/*
 * A greeting, EHLO/HELO or MAIL reply: when it says "too many connections",
 * the destination's limit drops and, if another of its connections is open,
 * c's delivery goes back to the front of the waiting list and c closes (1:
 * taken over). 0: the caller goes on as for any other failure.
 */
int smtpc_too_many(struct smtpc_conn *c, int code, const char *text);
/* smtp_client_tx.c */
void smtpc_connect_next(struct smtpc_conn *c);
void smtpc_send(struct smtpc_conn *c, const char *line);
void smtpc_timeout(struct smtpc_conn *c, int64_t ms);
/* Starts the transaction of c->d on an open, greeted (and secured) connection. */
void smtpc_tx_start(struct smtpc_conn *c);
/* Reuses an idle connection for the next waiting delivery of its destination. */
void smtpc_reuse(struct smtpc_conn *c);
/* smtp_client_intl.c */
/*
 * Decides how the delivery of c->d goes with respect to SMTPUTF8: sets
 * c->utf8_on / c->alabels and fails with 5.6.7 (unsent) each recipient that
 * cannot go to a next hop without SMTPUTF8. Returns the number of
 * recipients still to send.
 */
size_t smtpc_intl_plan(struct smtpc_conn *c);
/* The address as this transaction sends it (A-label domain when c->alabels). */
void smtpc_intl_addr(const struct smtpc_conn *c, const char *addr, char *out, size_t size);
/* Appends " ORCPT=type;value" for orcpt ("type;address"), encoded for this transaction. */
void smtpc_intl_orcpt(const struct smtpc_conn *c, const char *orcpt, struct buf *line);

/* smtp_client_sec.c */
/* After EHLO/HELO: sends STARTTLS or AUTH, or fails the target when the TLS the policy
 * asks for is not there. 1 if it took over, 0 to start the transaction. */
int smtpc_secure(struct smtpc_conn *c);
/* STARTTLS answered without 220: 1 if that failed the target (TLS was required). */
int smtpc_starttls_refused(struct smtpc_conn *c, const char *text);
/* The handshake is done: records and logs the TLS outcome; -1 if verify failed the target. */
int smtpc_tls_established(struct smtpc_conn *c);
/* The handshake failed: the target fails with OpenSSL's reason (4.7.5). */
void smtpc_tls_handshake_failed(struct smtpc_conn *c);
/* A reply in SMTPC_AUTH. */
void smtpc_auth_reply(struct smtpc_conn *c, int code, const char *text);

#endif
