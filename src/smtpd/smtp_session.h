/*
 * smtp_session: one SMTP server session, internal to smtpd/smtp_*.c.
 * Per-connection state (struct smtps_session) is kept apart from the
 * per-transaction state (struct smtps_tx), as OpenSMTPD does; the session's
 * phase is the explicit enum smtps_state. TLS (RFC 3207, RFC 8314) swaps
 * the session's bufferevent for an OpenSSL one; AUTH (RFC 4954) keeps its
 * exchange in struct smtps_auth (smtp_auth.c).
 */
#ifndef POSTINO_SMTP_SESSION_H
#define POSTINO_SMTP_SESSION_H
#include <event2/bufferevent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "mail/conf.h"
#include "mail/envelope.h"
#include "mail/queue.h"
#include "net/connlimit.h"
#include "net/diskq.h"
#include "net/netconn.h"
#include "qmgr/sched.h"
#include "net/tls.h"
#include "proto/sasl.h"
#include "proto/smtp_parse.h"
#include "proto/rfc5322.h"
#include "proto/smtp_data.h"
#include "proto/smtp_verbs.h"

#define SMTPS_MAX_ERRORS 50         /* then 421 and close */
#define SMTPS_RCPT_OVERSHOOT 1000   /* RCPTs past max_recipients before they count as errors */
/* RFC 4954 4: the 512-octet limit does not apply to AUTH lines and SASL responses. */
#define SMTPS_AUTH_LINE_MAX (SASL_RESPONSE_MAX + 32)
/* The line buffer (SMTPS_AUTH_LINE_MAX) holds every command line smtp_line_limit allows. */
_Static_assert(SMTPS_AUTH_LINE_MAX >= SMTP_RCPT_LINE_MAX, "line buffer too small for RCPT");

/* The first four are the command phases of the verb table (proto/smtp_verbs.h). */
enum smtps_state {
    SMTPS_CONNECTED = SMTP_PHASE_GREETED, /* greeting sent, no HELO/EHLO yet */
    SMTPS_IDLE = SMTP_PHASE_READY,        /* HELO/EHLO done, no transaction */
    SMTPS_MAIL = SMTP_PHASE_MAIL,         /* MAIL accepted */
    SMTPS_RCPT = SMTP_PHASE_RCPT,         /* at least one RCPT accepted */
    SMTPS_DATA,        /* receiving message content */
    SMTPS_COMMIT,      /* content complete, waiting for the durable commit */
    SMTPS_AUTH,        /* AUTH exchange: the next line is a SASL response */
    SMTPS_AUTH_WAIT,   /* password being checked on a disk worker; input not read */
    SMTPS_AUTH_DELAY,  /* failed AUTH: the 535 waits for a timer; input not read */
    SMTPS_CLOSING,     /* last reply being flushed */
    SMTPS_BDAT,        /* reading a BDAT chunk's octets (RFC 3030), kept or thrown away */
};

/* The BDAT chunk being read (smtp_chunk.c). */
struct smtps_chunk {
    uint64_t size;              /* the chunk's size as announced */
    uint64_t left;              /* octets of the chunk still to read */
    int last;                   /* BDAT ... LAST */
    int discard;                /* throw the octets away, then send reply */
    enum smtps_state resume;    /* the state after a discarded chunk */
    char reply[160];            /* the refusal sent after a discarded chunk */
};

enum smtps_auth_step { SMTPS_AUTH_PLAIN, SMTPS_AUTH_LOGIN_USER, SMTPS_AUTH_LOGIN_PASS };

/* An AUTH exchange in progress and the session's failure count (smtp_auth.c). */
struct smtps_auth {
    enum smtps_auth_step step;
    const char *mech;                   /* "PLAIN" or "LOGIN", for logs */
    char user[SASL_USER_MAX + 1];       /* login being tried */
    char pass[SASL_PASS_MAX + 1];       /* wiped as soon as it was checked */
    int ok;                             /* the worker's verdict */
    unsigned failures;                  /* in this session; survives STARTTLS */
    struct event *delay;                /* the failure delay timer, made on first use */
};

struct smtps_tx {
    struct envelope env;        /* sender, recipients, DSN parameters */
    struct queue_writer writer;
    int writer_open;
    struct smtp_data data;      /* DATA decoder */
    int too_big;                /* content passed max_message_size */
    char refuse[512];           /* a check's refusal (smtp_filter.c), "" if none */
    unsigned accepted;          /* RCPTs accepted (before alias expansion) */
    unsigned overshoot;         /* RCPTs refused for max_recipients */
    double data_end_at;         /* metrics_now() at the final dot */
    int bdat;                   /* content comes by BDAT: the queue file is open, no DATA */
    char message_id[RFC5322_MSGID_MAX]; /* for the tracking store, "" if none or not read */
};

struct smtp_server {
    struct event_base *base;
    const struct conf *conf;    /* held; replaced by a reload (smtp_server_set_conf) */
    struct queue *queue;
    struct diskq *dq;
    struct diskq *checkq;       /* the checks at the end of DATA (smtp_filter.c), or NULL */
    struct track *track;        /* matches incoming notices, or NULL */
    struct sched *sched;
    SSL_CTX *tls_ctx;           /* NULL when tls_cert is not configured */
    struct connlimit *limits;   /* shared with the POP3 server */
    struct netconn_listener **listeners;
    void **listener_ctx;
    size_t n_listeners;
    struct smtps_session *sessions;
    unsigned n_sessions;
    int shutting_down;
};

struct smtps_session {
    struct smtp_server *srv;
    /* The settings the session started under (held: a reload changes new sessions only). */
    const struct conf *conf;
    SSL_CTX *tls_ctx;           /* its own reference; NULL without TLS */
    struct smtps_session *prev, *next;
    struct bufferevent *bev;
    enum listen_kind kind;
    enum smtps_state state;
    int esmtp;
    int relay_ok;               /* client may relay (relay_networks) */
    int overlong;               /* discarding the rest of a too-long line */
    int dead;                   /* connection gone while a worker job was in flight */
    int loopback;               /* client on 127.0.0.0/8 or ::1 */
    int tls;                    /* TLS on (or its handshake under way): smtps, or after STARTTLS */
    int tls_up;                 /* TLS handshake complete */
    int counted;                /* counted in srv->limits (until its last reply) */
    unsigned errors;
    char helo[256];
    char client_ip[INET6_ADDRSTRLEN + 8];
    char tls_desc[96];          /* "TLSv1.3 TLS_AES_256_GCM_SHA384" once tls_up */
    char auth_user[SASL_USER_MAX + 1]; /* the authenticated login, "" if none */
    struct sockaddr_storage sa;
    struct smtps_tx tx;
    struct smtps_auth auth;
    struct smtps_chunk chunk;   /* the BDAT chunk being read */
    int bdat_failed;            /* a BDAT failed: further BDATs get 503 until RSET or MAIL */
    struct event *close_ev;     /* frees the session after its last reply left */
    struct netconn_guard guard; /* unread replies stop input; command-line deadline */
    /* The session's one worker job: a message commit or a password check, never both at once. */
    struct diskq_job commit_job;
};

/* 1 on the message submission listeners (RFC 6409 submission, RFC 8314 smtps). */
static inline int smtps_is_submission(const struct smtps_session *s)
{
    return s->kind == LISTEN_SUBMISSION || s->kind == LISTEN_SMTPS;
}

/* smtp_server.c */
void smtps_reply(struct smtps_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "code class.subject.detail text", the class taken from code (proto/esc.h). */
void smtps_reply_esc(struct smtps_session *s, int code, enum esc_code esc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A refusal: replies e and counts an error (SMTPS_MAX_ERRORS). */
void smtps_refuse(struct smtps_session *s, const struct smtp_err *e);
void smtps_close(struct smtps_session *s);     /* after the pending replies are sent */
void smtps_process_input(struct smtps_session *s);
/* Stops reading input (while a worker job or a timer runs). */
void smtps_pause(struct smtps_session *s);
/* Reads again, and handles the input that arrived meanwhile. */
void smtps_resume(struct smtps_session *s);
/*
 * STARTTLS accepted: replies "220 2.0.0 Ready to start TLS", drops the
 * plaintext input that followed the STARTTLS line (CVE-2011-0411) and wraps
 * the connection in a server TLS session. 0, or -1 if no TLS session could
 * be made (logged; nothing was sent and the connection is unchanged).
 */
int smtps_start_tls(struct smtps_session *s);
/* smtp_receive.c */
/* After the checks: the durable commit of the complete message (or its refusal). */
void smtps_commit(struct smtps_session *s);
void smtps_refuse_message(struct smtps_session *s, const char *reply);
/* smtp_filter.c */
/* 1 if the complete message must go through the checks before its commit. */
int smtps_filter_wanted(const struct smtps_session *s);
/* Runs them on a worker; smtps_commit or smtps_refuse_message follows. */
void smtps_filter(struct smtps_session *s);
/* smtp_commands.c */
void smtps_command(struct smtps_session *s, const char *line, size_t len);
void smtps_tx_reset(struct smtps_session *s);
/* smtp_auth.c */
/* 1 if AUTH is offered: a submission or smtps listener, over TLS or from loopback. */
int smtps_auth_offered(const struct smtps_session *s);
void smtps_auth_command(struct smtps_session *s, const struct smtp_cmd *cmd);
/* A line of the exchange (state SMTPS_AUTH); len SIZE_MAX: the line was too long. */
void smtps_auth_response(struct smtps_session *s, const char *line, size_t len);
/* Frees the delay timer and wipes the exchange (session teardown). */
void smtps_auth_free(struct smtps_session *s);
/* smtp_receive.c */
/* Opens the queue file and writes the Received header: 0, or an errno (logged; tx untouched). */
int smtps_tx_open(struct smtps_session *s);
/* Writes decoded content (the decoder's emit callback; stops at max_message_size). */
void smtps_emit(void *ctx, const char *p, size_t n);
/* The content is complete: refuses it, or hands it to the durable commit (250 when done). */
void smtps_data_end(struct smtps_session *s);
void smtps_data_start(struct smtps_session *s);
/* Feeds buffered input to the DATA decoder; returns 1 if the session must stop reading. */
int smtps_data_input(struct smtps_session *s);
void smtps_tx_abort_writer(struct smtps_session *s);
/* smtp_chunk.c */
void smtps_bdat_command(struct smtps_session *s, const struct smtp_cmd *cmd);
/* Reads the chunk's octets from the input; returns 1 if the session must stop reading. */
int smtps_bdat_input(struct smtps_session *s);

#endif
