/*
 * sendmail internals shared by sendmail.c (the command line, reading a
 * message on stdin) and sendmail_bs.c (-bs: SMTP on stdin/stdout): one
 * message on its way into the drop directory (mail/maildrop.h).
 */
#ifndef POSTINO_CMD_SENDMAIL_H
#define POSTINO_CMD_SENDMAIL_H
#include "mail/conf.h"
#include "mail/envelope.h"
#include "mail/queue.h"
#include "mail/submit.h"

/* A message being written to the drop directory. */
struct sm_drop {
    const struct conf *conf;
    struct envelope env;       /* sender and recipients are set before the content */
    struct queue_writer w;
    int open;                  /* the drop file exists (the content has begun) */
    int error;                 /* errno of a failure to store, 0 if none */
    unsigned notify;           /* NOTIFY for recipients found by -t (-N) */
    char message_id[300];      /* a Message-ID: value added when missing */
    char from[1024];           /* a From: value added when missing */
    char date[64];
    char login[256];           /* the submitting user's address */
};

/* Starts a message from sender ("" for <>); fullname for an added From: (may be NULL). */
void sm_drop_init(struct sm_drop *d, const struct conf *c, const char *sender, const char *fullname);
/* Adds a recipient unless already there (case-insensitive). 0, or -1 if over MAILDROP_RCPT_MAX. */
int sm_drop_rcpt(struct sm_drop *d, const char *addr, unsigned notify, const char *orcpt);
/* submit options filled for this message (emit and on_rcpt go to the drop). */
void sm_drop_submit_opts(struct sm_drop *d, struct submit_opts *o, int extract, int dot_ends);
/* Commits (opening the file if no content came). 0, or -1 with errno. */
int sm_drop_commit(struct sm_drop *d);
void sm_drop_free(struct sm_drop *d);

/* The first local domain: how unqualified addresses are completed. */
const char *sm_default_domain(const struct conf *c);
/* The submitting user's login name. */
void sm_login_name(char *out, size_t size);

/* -bv ADDR...: what would become of each address (c with its users and aliases). Exit status. */
int sm_verify(const struct conf *c, char **addrs, int n);
/* -bs: an SMTP dialogue on stdin/stdout; returns the exit status. */
int sm_smtp_session(const struct conf *c);

#endif
