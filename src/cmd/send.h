/*
 * send internals shared by send.c (arguments, the command), send_check.c
 * (checks of the arguments and the message), send_conn.c (the blocking
 * connection: TCP, TLS, lines and replies) and send_dialogue.c (the SMTP
 * conversation). Replies are assembled by proto/smtp_reply.
 */
#ifndef POSTINO_CMD_SEND_H
#define POSTINO_CMD_SEND_H
#include "lib/buf.h"
#include "proto/smtp_reply.h"
#include <openssl/ssl.h>
#include <stddef.h>

#define SEND_MAX_LINE 2048          /* longest reply line accepted */
#define SEND_MAX_REPLY_LINES 200    /* longest multi-line reply accepted */
#define SEND_MAX_MESSAGE (64u << 20)
#define SEND_MAX_RCPTS 1000
#define SEND_TIMEOUT_S 120

#define R_CONN (-1)   /* connection failure or close */
#define R_PROTO (-2)  /* malformed reply */

/* The command line as given. */
struct send_args {
    const char *server, *auth, *from, *ret, *envid, *orcpt, *notify;
    const char *file;             /* NULL or "-": stdin */
    const char **rcpts;
    size_t nrcpt;
    int starttls, tls, verbose;
};

/* The checked arguments and the message in its wire form: what the dialogue sends. */
struct send_job {
    const struct send_args *a;
    char *host, *port;
    size_t auth_user_len;         /* --auth USER:PASS: the length of USER */
    char notify[64];              /* NOTIFY value, "" when absent */
    struct buf envid_x, orcpt_x;  /* xtext-encoded */
    struct buf wire;              /* CRLF lines, dot-stuffed, ".\r\n" at the end */
};

struct send_conn {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    int verbose;
    char rbuf[4096];
    size_t rpos, rlen;
    struct buf line;              /* the reply line being read */
    struct smtp_reply reply;      /* the last reply */
};

/* send_check.c: 0, or the exit code after a message on stderr. */
void send_job_init(struct send_job *j, const struct send_args *a);
void send_job_free(struct send_job *j);
int send_check(struct send_job *j);
int send_read_message(struct send_job *j);

/* send_conn.c */
void send_conn_init(struct send_conn *c, int verbose);
void send_conn_free(struct send_conn *c);
int send_connect(struct send_conn *c, const char *host, const char *port);
int send_start_tls(struct send_conn *c, const char *host);
int send_write(struct send_conn *c, const char *p, size_t n);
/* Reads a reply (recording EHLO keywords in ehlo unless NULL): its code, R_CONN or R_PROTO. */
int send_read_reply(struct send_conn *c, struct smtp_ehlo *ehlo);
/* Sends a command line (shown in -v as shown, if not NULL) and reads its reply. */
int send_command(struct send_conn *c, const char *line, const char *shown, struct smtp_ehlo *ehlo);

/* send_dialogue.c: the conversation; returns the exit code. */
int send_dialogue(struct send_job *j);

#endif
