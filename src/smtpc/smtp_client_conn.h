/*
 * smtp_client_conn: internal state of the SMTP client, shared by
 * smtp_client.c (destinations, connections, targets) and smtp_client_tx.c
 * (the protocol dialogue of one connection). The phase of a connection is
 * the explicit enum smtpc_state.
 */
#ifndef POSTINO_SMTP_CLIENT_CONN_H
#define POSTINO_SMTP_CLIENT_CONN_H
#include "proto/smtp_dotstuff.h"
#include "proto/smtp_reply.h"
#include "smtpc/smtp_client.h"
#include <event2/bufferevent.h>
#include <openssl/ssl.h>

#define SMTPC_PER_DEST 10        /* connections to one destination */
#define SMTPC_TOTAL 200          /* outbound connections in all */
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

struct smtpc_dest {
    char key[SMTPC_KEY_MAX];
    struct smtpc_delivery *wait_head, *wait_tail;
    unsigned n_conns;
    struct smtpc_dest *next;
};

struct smtpc {
    struct event_base *base;
    const struct conf *conf;      /* held; replaced by a reload (smtpc_set_conf) */
    struct mx_resolver *mx;
    SSL_CTX *tls;                 /* for STARTTLS (a reference held), or NULL */
    struct smtpc_dest *dests;
    struct smtpc_conn *conns;
    unsigned n_conns;
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

/* smtp_client.c */
struct smtpc_delivery *smtpc_dest_pop(struct smtpc_dest *dest);
void smtpc_finish(struct smtpc_delivery *d, int klass, const char *text);
void smtpc_conn_close(struct smtpc_conn *c);
void smtpc_pump(struct smtpc *sc, struct smtpc_dest *dest);
void smtpc_target_failed(struct smtpc_conn *c, int klass, const char *why);
void smtpc_target_name(const struct smtpc_conn *c, char *out, size_t size);
/* Records in d who answered (host[addr]) and how the connection was protected. */
void smtpc_record_remote(const struct smtpc_conn *c, struct smtpc_delivery *d);
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
