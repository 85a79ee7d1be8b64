/*
 * webd_compose: what the files of composing share (private to src/webd):
 * the form as sent (webd_compose_form.c reads it: an urlencoded body, or
 * multipart/form-data parsed with GMime), the message built from it
 * (webd_compose_mime.c, GMime) and its durable queueing as an
 * authenticated submission with a copy in the user's .Sent folder
 * (webd_submit.c, on the disk workers).
 */
#ifndef POSTINO_WEBD_COMPOSE_H
#define POSTINO_WEBD_COMPOSE_H
#include "webd/webd_int.h"
#include "mail/envelope.h"
#include "mail/queue.h"

#define COMPOSE_ADDRS_MAX 8192       /* a To or Cc field as typed */
#define COMPOSE_SUBJECT_MAX 998      /* RFC 5322 2.1.1: a line's limit */
#define COMPOSE_FILES_MAX 32
#define COMPOSE_FILENAME_MAX 255

struct compose_file {
    char *name;                      /* the file's name (UTF-8, no path) */
    char *ctype;                     /* "type/subtype" as the browser said, checked */
    char *data;
    size_t len;
};

/* The form's fields. */
struct compose_form {
    char *to, *cc, *subject, *body;  /* never NULL once read ("" when absent) */
    int notify;                      /* "notify me of delivery" */
    struct compose_file files[COMPOSE_FILES_MAX];
    size_t n_files;
    uint64_t files_size;
};

/* A message being composed and queued (r->data). */
struct compose {
    struct webd_req *r;
    char *raw;                       /* a multipart body, copied on the loop */
    size_t raw_len;
    char *raw_ctype;
    struct compose_form f;
    char **rcpts;                    /* To then Cc, "local@domain", no duplicates */
    size_t n_rcpts;
    struct buf msg;                  /* the message as queued (CRLF), Received: on top */
    size_t msg_head;                 /* octets of msg before the composed message */
    struct envelope env;
    char subject[COMPOSE_SUBJECT_MAX + 1]; /* for the tracking store */
    char message_id[300];
    /* the commit (webd_submit.c) */
    struct diskq_job job;
    struct queue_writer w;
    int writer_open;
    int sent_fd;                     /* the .Sent copy in tmp/, -1 if none */
    char sent_tmp[PATH_MAX], sent_cur[PATH_MAX], sent_dir[PATH_MAX];
};

void compose_free(void *c);

/* webd_compose_form.c: reads r's form (urlencoded fields, or c->raw through GMime) into
 * c->f. 0, or -1 with r->error set (words for the user). Worker thread. */
int compose_read_form(struct webd_req *r, struct compose *c);
/* webd_compose_mime.c: builds c->msg from c->f for sender r->box.addr (Date, Message-ID,
 * MIME), c->msg_head 0. 0, or -1 with r->error set. Worker thread. */
int compose_build(struct webd_req *r, struct compose *c);
/* webd_submit.c: checks the recipients against the routing policy and fills c->env.
 * 0, or -1 with r->error set. Worker thread (pure over r->conf). */
int compose_envelope(struct webd_req *r, struct compose *c);
/* Adds the DKIM signature and the Received: field on top of c->msg. Worker thread. */
void compose_trace(struct webd_req *r, struct compose *c);
/* On the loop: writes the queue file and the .Sent copy on the disk workers, fsyncs
 * both and their folders, then hands the message to the scheduler and answers
 * 303 /sent/QID (or an error page). Takes r. */
void compose_commit(struct webd_req *r, struct compose *c);

#endif
