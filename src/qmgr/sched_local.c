/*
 * sched_local: local delivery of a message's due recipients into their
 * Maildirs, as one disk job: write the copies to tmp/ (write stage),
 * publish them into new/ after the batched fsync (publish stage), then
 * record the outcomes (record stage, sched.c). Worker threads own the
 * message while the job runs.
 */
#include "qmgr/sched_int.h"
#include "lib/alloc.h"
#include "lib/fsio.h"
#include "lib/log.h"
#include "lib/str.h"
#include "mail/route.h"
#include "proto/esc.h"
#include "proto/rfc5322.h"
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SCHED_LOCAL_HEAD_MAX (64 * 1024) /* of the header section, for the loop check */

/* The queued message a local job reads: its content, and the start of its header section. */
struct sched_local_src {
    int fd;                     /* the queue file, -1 if it cannot be opened */
    char *head;                 /* the first octets of the content (NULL if unread) */
    size_t head_len;
};

/* A Delivered-To line for recipient i is already in the message: it came back (RFC 5321 6.3,
 * as Postfix's local(8) sees it). Fails the recipient with 5.4.6. 1 if so. */
static int sched_local_loop(struct sched_job *sj, const struct sched_local_src *src, size_t i,
                            int64_t now)
{
    struct envelope *e = &sj->m->env;
    char why[600], text[ADDR_LOCAL_MAX + ADDR_DOMAIN_MAX + 40];
    if (!src->head || !rfc5322_field_has_value(src->head, src->head_len, "Delivered-To",
                                               e->rcpts[i].addr))
        return 0;
    str_fmt(text, sizeof text, "mail forwarding loop for %s", e->rcpts[i].addr);
    esc_reply(why, sizeof why, 550, ESC_ROUTING_LOOP, text);
    sched_log_rcpt(LOG_INFO, e, i, (struct log_fields){.event = "failed", .status = "failed",
                   .reply = "mail forwarding loop"}, why, NULL, now);
    sched_outcome(sj->conf, sj->m, i, RCPT_FAILED, why);
    return 1;
}

/* Where Delivered-To goes: after the Received line this host put first (INTERFACE.md:
 * a delivered message begins with Return-Path and that Received), else at the top. */
static uint64_t sched_local_after_received(const struct sched_local_src *src)
{
    size_t colon;
    size_t n = src->head ? rfc5322_field_name(src->head, src->head_len, &colon) : 0;
    if (!n || !rfc5322_field_is(src->head, n, "Received"))
        return 0;
    size_t end = rfc5322_field_end(src->head, src->head_len, 0);
    return end < src->head_len ? end : 0; /* a field longer than what was read: at the top */
}

/* Writes recipient i's Maildir copy to tmp/ (worker thread, write stage). */
static void sched_local_one(struct sched_job *sj, size_t i, const struct sched_local_src *src,
                            int64_t now)
{
    const struct conf *c = sj->conf;
    struct qmsg *m = sj->m;
    struct envelope *e = &m->env;
    char mailbox[ADDR_LOCAL_MAX + 1], local[256], domain[256], why[512], name[512];
    enum route_kind k = route_classify_rcpt(c, e, i, mailbox, sizeof mailbox);
    route_split(e->rcpts[i].addr, local, sizeof local, domain, sizeof domain);
    if (k == ROUTE_ALIAS) {
        /* became an alias after it was queued (postmaster, or a changed aliases file):
         * expand it now; the targets are delivered by the next job */
        route_expand(c, e, i);
        sched_changed_fit(m);
        m->changed[i] = 1;
        sched_log_rcpt(LOG_INFO, e, i, (struct log_fields){.event = "expanded", .status = "expanded"},
                       NULL, NULL, now);
        return;
    }
    e->rcpts[i].attempts++;
    if (k == ROUTE_UNKNOWN_USER || k == ROUTE_BAD_MAILBOX) {
        esc_reply(why, sizeof why, 550, ESC_BAD_DESTINATION_MAILBOX, "no such mailbox here");
        sched_outcome(sj->conf, m, i, RCPT_FAILED, why);
        sched_log_rcpt(LOG_INFO, e, i, (struct log_fields){.event = "failed", .status = "failed",
                       .reply = "no such mailbox"}, why, NULL, now);
        return;
    }
    if (k == ROUTE_ALIAS_LOOP) {
        esc_reply(why, sizeof why, 550, ESC_ROUTING_LOOP,
                  "alias loop: the alias expands back to itself and has no mailbox here");
        sched_outcome(sj->conf, m, i, RCPT_FAILED, why);
        sched_log_rcpt(LOG_INFO, e, i, (struct log_fields){.event = "failed", .status = "failed",
                       .reply = "alias loop"}, why, NULL, now);
        return;
    }
    if (sched_local_loop(sj, src, i, now))
        return;
    maildir_unique_name(name, sizeof name, (uint64_t)(e->arrival / 1000), e->id, i, c->hostname);
    struct maildir_head head = {.return_path = e->sender, .delivered_to = e->rcpts[i].addr,
                                .delivered_to_at = sched_local_after_received(src)};
    if (src->fd < 0 || maildir_write(c->data_dir, domain, mailbox, name, &head, src->fd,
                                     e->content_offset, e->size, &sj->out[i]) < 0) {
        int err = errno;
        str_fmt(why, sizeof why, "%s mailbox %s@%s unavailable: %s",
                esc_code(ESC_CLASS_TRANSIENT, ESC_OTHER_MAILBOX).s, mailbox, domain, strerror(err));
        sched_log_rcpt(LOG_WARN, e, i, (struct log_fields){.event = "deferred",
                       .status = "deferred", .reply = why}, NULL, NULL, now);
        sched_defer(sj->conf, m, i, why, now);
        return;
    }
    diskq_job_sync_fd(&sj->job, sj->out[i].fd);
    esc_reply(why, sizeof why, 250, ESC_OTHER_STATUS, "delivered to maildir");
    sched_outcome(sj->conf, m, i, RCPT_DELIVERED, why);
}

/* Opens the content and reads the start of its header section (worker thread). */
static void sched_local_open(struct sched *s, const struct envelope *e, struct sched_local_src *src)
{
    src->fd = queue_open_content(s->queue, e);
    if (src->fd < 0)
        return;
    size_t want = e->size < SCHED_LOCAL_HEAD_MAX ? (size_t)e->size : SCHED_LOCAL_HEAD_MAX;
    src->head = xmalloc(want ? want : 1);
    ssize_t got = pread(src->fd, src->head, want, (off_t)e->content_offset);
    src->head_len = got > 0 ? (size_t)got : 0;
}

static void sched_local_write(struct diskq_job *j)
{
    struct sched_job *sj = j->ctx;
    struct envelope *e = &sj->m->env;
    int64_t now = sched_now();
    struct sched_local_src src = {.fd = -1};
    int opened = 0, remote;
    size_t n = e->n_rcpts; /* recipients an alias adds now wait for the next job */
    for (size_t i = 0; i < n; i++) {
        if (!sched_due(sj->s, e, i, now, &remote) || remote)
            continue;
        if (!opened++)
            sched_local_open(sj->s, e, &src);
        sched_local_one(sj, i, &src, now);
    }
    if (src.fd >= 0)
        close(src.fd);
    free(src.head);
}

/* Publishes the fsync'd Maildir copies into new/ (publish stage). */
static void sched_local_publish(struct diskq_job *j)
{
    struct sched_job *sj = j->ctx;
    for (size_t i = 0; i < sj->n_out; i++) {
        struct maildir_msg *o = &sj->out[i];
        if (o->fd < 0)
            continue;
        if (maildir_publish(o) < 0) {
            j->failed = 1;
            j->err = errno;
            continue;
        }
        o->tmp[0] = '\0';
        char tail[PATH_MAX + 16];
        str_fmt(tail, sizeof tail, "(maildir %s)", o->new_dir);
        sched_log_rcpt(LOG_INFO, &sj->m->env, i,
                       (struct log_fields){.event = "delivered", .status = "delivered"},
                       sj->m->env.rcpts[i].last_reply, tail, sched_now());
        if (diskq_job_sync_dir(j, o->new_dir) < 0 && fsio_fsync_dir(o->new_dir) < 0) {
            j->failed = 1;
            j->err = errno;
        }
    }
}

static void sched_local_done(struct diskq_job *j)
{
    struct sched_job *sj = j->ctx;
    struct sched *s = sj->s;
    struct qmsg *m = sj->m;
    for (size_t i = 0; i < sj->n_out; i++) {
        if (sj->out[i].fd >= 0 || sj->out[i].tmp[0]) {
            maildir_abort(&sj->out[i]); /* never published: undo, retry later */
            if (m->env.rcpts[i].status == RCPT_DELIVERED)
                m->env.rcpts[i].status = RCPT_DEFERRED;
        }
    }
    m->busy--;
    int gone = sched_job_recorded(sj);
    sched_job_free(sj);
    sched_local_finished(s);
    if (!gone)
        sched_kick(s, m);
}

void sched_local_start(struct sched *s, struct qmsg *m)
{
    struct sched_job *sj = sched_job_new(s, m);
    size_t n = m->env.n_rcpts ? m->env.n_rcpts : 1;
    sj->out = xcalloc(n, sizeof *sj->out);
    sj->n_out = m->env.n_rcpts;
    for (size_t i = 0; i < n; i++)
        sj->out[i].fd = -1;
    sj->job.write = sched_local_write;
    sj->job.publish = sched_local_publish;
    sj->job.done = sched_local_done;
    s->inflight++;
    diskq_submit(s->dq, &sj->job, DISKQ_NORMAL);
}
