/*
 * sched_notice: queues the Delivery Status Notifications a message owes
 * (decided by mail/notify, composed by mail/dsn) as new messages from <>
 * to the original sender, in one disk job: build and write the notices
 * (write stage), rename them into the queue (publish stage), then record
 * in the original's file that they were sent (record stage). A notice is
 * on disk before the original says it was sent: a crash can repeat a
 * notice, never lose one. Recipients with the same outcome share a notice.
 * With dkim_sign keys each notice is signed as it is written (notice=1:
 * the key of the hostname's domain, else the first one).
 */
#include "qmgr/sched_int.h"
#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/str.h"
#include "mail/dsn.h"
#include "mail/metrics.h"
#include "mail/notify.h"
#include "msgauth/dkim_sign.h"
#include "proto/rfc5322.h"
#include "track/track.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOTICE_HEAD_MAX (256 * 1024)

struct sched_notice {
    enum notify_kind kind;
    struct envelope env;        /* the notice's own envelope */
    struct queue_writer w;
    int written;
    size_t *idx;                /* recipients of the original it reports */
    size_t n;
    unsigned *old_sent;         /* their dsn_sent before, to undo on failure */
};

int sched_notice_owed(const struct conf *c, const struct qmsg *m, int64_t now)
{
    return notify_any_owed(&m->env, now, c->delay_warning_ms);
}

static enum dsn_action sched_notice_action(enum notify_kind k)
{
    switch (k) {
    case NOTIFY_DELAYED: return DSN_ACTION_DELAYED;
    case NOTIFY_DELIVERED: return DSN_ACTION_DELIVERED;
    case NOTIFY_RELAYED: return DSN_ACTION_RELAYED;
    case NOTIFY_EXPANDED: return DSN_ACTION_EXPANDED;
    default: return DSN_ACTION_FAILED;
    }
}

/* Reads the original: all of it within the return limit, else its header section. */
static int sched_notice_original(const struct sched_job *sj, const struct envelope *e,
                                 struct buf *out, int *complete)
{
    uint64_t want = e->size;
    *complete = e->size <= sj->conf->dsn_return_limit;
    if (!*complete)
        want = e->size < NOTICE_HEAD_MAX ? e->size : NOTICE_HEAD_MAX;
    int fd = queue_open_content(sj->s->queue, e);
    if (fd < 0)
        return -1;
    char *p = xmalloc(want ? (size_t)want : 1);
    ssize_t n = pread(fd, p, (size_t)want, (off_t)e->content_offset);
    close(fd);
    if (n < 0 || (uint64_t)n != want) {
        free(p);
        errno = n < 0 ? errno : EIO;
        return -1;
    }
    size_t len = *complete ? (size_t)n : dsn_header_length(p, (size_t)n);
    buf_append(out, p, len);
    free(p);
    return 0;
}

/* "host[addr]" -> "host" for Remote-MTA. */
static void sched_notice_host(const char *remote, char *out, size_t size)
{
    str_copy(out, size, remote ? remote : "");
    char *b = strchr(out, '[');
    if (b)
        *b = '\0';
}

/* Fills the per-recipient report fields of notice nt; reasons[k] are malloc'd. */
static void sched_notice_rcpts(struct sched_job *sj, struct sched_notice *nt, int64_t now,
                               struct dsn_rcpt *rc, char (*status)[DSN_STATUS_MAX],
                               char (*hosts)[256], char **reasons)
{
    const struct envelope *e = &sj->m->env;
    enum dsn_action action = sched_notice_action(nt->kind);
    int klass = action == DSN_ACTION_FAILED ? 5 : action == DSN_ACTION_DELAYED ? 4 : 2;
    for (size_t k = 0; k < nt->n; k++) {
        const struct env_rcpt *r = &e->rcpts[nt->idx[k]];
        const char *reply = r->last_reply ? r->last_reply : "";
        dsn_status_from_reply(reply, klass, status[k]);
        sched_notice_host(r->remote_mta, hosts[k], sizeof hosts[k]);
        rc[k].final_rcpt = r->addr;
        rc[k].orcpt = r->orcpt;
        rc[k].action = action;
        rc[k].status = status[k];
        rc[k].remote_mta = hosts[k][0] ? hosts[k] : NULL;
        /* Diagnostic-Code carries what a remote server said, nothing of ours; our
         * own reasons for a failure or delay go to the text part only */
        rc[k].diagnostic = notify_remote_reply(r);
        if (action == DSN_ACTION_FAILED || action == DSN_ACTION_DELAYED)
            rc[k].reason = reasons[k] = notify_own_reason(r);
        rc[k].last_attempt_ms = r->attempts ? now : 0;
        rc[k].will_retry_until_ms =
            action == DSN_ACTION_DELAYED ? e->arrival + sj->conf->queue_lifetime_ms : 0;
    }
}

/* Composes notice nt into text. */
static int sched_notice_compose(struct sched_job *sj, struct sched_notice *nt,
                                const struct buf *orig, int complete, int64_t now,
                                struct buf *text)
{
    const struct envelope *e = &sj->m->env;
    struct dsn_rcpt *rc = xcalloc(nt->n, sizeof *rc);
    char (*status)[DSN_STATUS_MAX] = xcalloc(nt->n, sizeof *status);
    char (*hosts)[256] = xcalloc(nt->n, sizeof *hosts);
    char **reasons = xcalloc(nt->n, sizeof *reasons);
    char msgid[DSN_MSGID_MAX];
    sched_notice_rcpts(sj, nt, now, rc, status, hosts, reasons);
    struct dsn_input in = {
        .reporting_mta = sj->conf->hostname,
        .envid = e->envid,
        .received_from_mta = e->helo,
        .arrival_ms = e->arrival,
        .to = e->sender,
        .ret = e->ret,
        .queue_id = e->id,
        .now_ms = now,
        .original = orig->data,
        .original_len = orig->len,
        .original_complete = complete,
        .original_too_big = !complete,
        .return_limit = (size_t)sj->conf->dsn_return_limit,
        .original_message_id =
            dsn_find_message_id(orig->data ? orig->data : "", orig->len, msgid, sizeof msgid) == 0
                ? msgid
                : NULL,
        .rcpts = rc,
        .n_rcpts = nt->n,
        .utf8 = e->smtputf8,
    };
    int r = dsn_build(&in, text);
    free(rc);
    free(status);
    free(hosts);
    for (size_t k = 0; k < nt->n; k++)
        free(reasons[k]);
    free(reasons);
    return r;
}

/* Writes notice nt (composed in text) as a new queue file. */
static int sched_notice_queue(struct sched_job *sj, struct sched_notice *nt,
                              const struct buf *text, int64_t now)
{
    struct envelope *ne = &nt->env;
    envelope_init(ne);
    queue_new_id(ne->id);
    ne->arrival = now;
    ne->sender = xstrdup("");
    ne->body = dsn_has_8bit(text->data, text->len) ? BODY_8BITMIME : BODY_7BIT;
    ne->smtputf8 = sj->m->env.smtputf8; /* an RFC 6533 notice goes on with SMTPUTF8 */
    envelope_add_rcpt(ne, sj->m->env.sender, NOTIFY_NEVER, NULL, -1, RCPT_PENDING);
    if (queue_writer_open(sj->s->queue, ne, &nt->w) < 0)
        return -1;
    nt->written = 1;
    char date[64];
    struct buf top;
    buf_init(&top, 64 * 1024);
    if (sj->conf->n_dkim_keys > 0) /* signed once, as it is queued */
        dkim_sign_text(sj->conf, text->data, text->len, 1, &top);
    rfc5322_date((time_t)(now / 1000), date, sizeof date);
    buf_printf(&top, "Received: by %s (postino) id %s; %s\r\n", sj->conf->hostname, ne->id, date);
    queue_writer_write(&nt->w, top.data, top.len);
    buf_free(&top);
    queue_writer_write(&nt->w, text->data, text->len);
    if (queue_writer_finish(&nt->w) < 0)
        return -1;
    ne->size = nt->w.content_len;
    ne->content_offset = nt->w.head_len;
    diskq_job_sync_fd(&sj->job, nt->w.fd);
    return 0;
}

/* Marks the recipients of nt as notified (undone if the job fails). */
static void sched_notice_mark(struct sched_job *sj, struct sched_notice *nt)
{
    unsigned bit = notify_sent_bit(nt->kind);
    nt->old_sent = xcalloc(nt->n, sizeof *nt->old_sent);
    for (size_t k = 0; k < nt->n; k++) {
        struct env_rcpt *r = &sj->m->env.rcpts[nt->idx[k]];
        nt->old_sent[k] = r->dsn_sent;
        r->dsn_sent |= bit;
        sj->m->changed[nt->idx[k]] = 1;
    }
}

/* Groups the recipients that owe a notice, one notice per kind. */
static void sched_notice_plan(struct sched_job *sj, int64_t now)
{
    const struct envelope *e = &sj->m->env;
    sj->notices = xcalloc(NOTIFY_EXPANDED + 1, sizeof *sj->notices);
    for (int kind = NOTIFY_FAILED; kind <= NOTIFY_EXPANDED; kind++) {
        struct sched_notice *nt = &sj->notices[sj->n_notices];
        for (size_t i = 0; i < e->n_rcpts; i++) {
            if ((int)notify_owed(e, i, now, sj->conf->delay_warning_ms) != kind)
                continue;
            nt->idx = xrealloc(nt->idx, (nt->n + 1) * sizeof *nt->idx);
            nt->idx[nt->n++] = i;
        }
        if (nt->n) {
            nt->kind = (enum notify_kind)kind;
            sj->n_notices++;
        }
    }
}

/* write stage: compose and write every owed notice. */
static void sched_notice_write(struct diskq_job *j)
{
    struct sched_job *sj = j->ctx;
    int64_t now = sched_now();
    struct buf orig, text;
    int complete = 0;
    sched_notice_plan(sj, now);
    if (sj->n_notices == 0)
        return;
    buf_init(&orig, BUF_UNLIMITED);
    buf_init(&text, BUF_UNLIMITED);
    if (sched_notice_original(sj, &sj->m->env, &orig, &complete) < 0) {
        j->failed = 1;
        j->err = errno;
    }
    for (size_t n = 0; n < sj->n_notices && !j->failed; n++) {
        struct sched_notice *nt = &sj->notices[n];
        buf_reset(&text);
        if (sched_notice_compose(sj, nt, &orig, complete, now, &text) < 0 ||
            sched_notice_queue(sj, nt, &text, now) < 0) {
            j->failed = 1;
            j->err = errno ? errno : EINVAL;
            break;
        }
        sched_notice_mark(sj, nt);
    }
    buf_free(&orig);
    buf_free(&text);
}

/* publish stage: the notices enter the queue. */
static void sched_notice_publish(struct diskq_job *j)
{
    struct sched_job *sj = j->ctx;
    for (size_t n = 0; n < sj->n_notices; n++) {
        struct sched_notice *nt = &sj->notices[n];
        if (queue_writer_publish(&nt->w) < 0) {
            j->failed = 1;
            j->err = errno;
            return;
        }
        diskq_job_sync_dir(j, nt->w.dir);
    }
}

void sched_notice_free(struct sched_job *sj)
{
    for (size_t n = 0; sj->notices && n <= NOTIFY_EXPANDED; n++) {
        envelope_free(&sj->notices[n].env);
        free(sj->notices[n].idx);
        free(sj->notices[n].old_sent);
    }
    free(sj->notices);
    sj->notices = NULL;
}

/* A failed job: no notice was sent, so none is marked as sent. */
static void sched_notice_undo(struct sched_job *sj)
{
    for (size_t n = 0; n < sj->n_notices; n++) {
        struct sched_notice *nt = &sj->notices[n];
        if (nt->written)
            queue_writer_abort(&nt->w);
        for (size_t k = 0; nt->old_sent && k < nt->n; k++)
            sj->m->env.rcpts[nt->idx[k]].dsn_sent = nt->old_sent[k];
    }
}

/* The notice in each reported recipient's journey (enqueued only). */
static void sched_notice_track(const struct qmsg *m, const struct sched_notice *nt)
{
    struct track *t = track_feed();
    char reply[200];
    if (!t)
        return;
    str_fmt(reply, sizeof reply, "%s notice to <%s> queued as %s", notify_kind_name(nt->kind),
            m->env.sender, nt->env.id);
    int64_t now = sched_now();
    for (size_t k = 0; k < nt->n; k++) {
        struct track_event ev = {.time = now, .queue_id = m->env.id,
                                 .rcpt = m->env.rcpts[nt->idx[k]].addr, .kind = "notice-sent",
                                 .reply = reply, .action = notify_kind_name(nt->kind)};
        track_add_event(t, &ev);
    }
}

static void sched_notice_done(struct diskq_job *j)
{
    struct sched_job *sj = j->ctx;
    struct sched *s = sj->s;
    struct qmsg *m = sj->m;
    if (j->failed) {
        sched_notice_undo(sj);
    } else {
        for (size_t n = 0; n < sj->n_notices; n++) {
            struct sched_notice *nt = &sj->notices[n];
            log_event(LOG_INFO, &(struct log_fields){.queue_id = m->env.id, .event = "notice"},
                      "sender notice (%s, %zu recipient(s)) queued as %s",
                      notify_kind_name(nt->kind), nt->n, nt->env.id);
            nt->w.renamed = 0;
            metrics_notice(nt->kind);
            sched_notice_track(m, nt);
            sched_add(s, &nt->env);
        }
    }
    m->busy--;
    int gone = sched_job_recorded(sj);
    sched_notice_free(sj);
    sched_job_free(sj);
    if (!gone)
        sched_kick(s, m);
}

void sched_notice_start(struct sched *s, struct qmsg *m)
{
    struct sched_job *sj = sched_job_new(s, m);
    sj->job.write = sched_notice_write;
    sj->job.publish = sched_notice_publish;
    sj->job.done = sched_notice_done;
    diskq_submit(s->dq, &sj->job, DISKQ_URGENT); /* few, small, and owed: never dropped */
}

void sched_notice_to_postmaster(const struct conf *c, struct qmsg *m, size_t i)
{
    char pm[300];
    if (m->env.sender[0])
        return;
    str_fmt(pm, sizeof pm, "postmaster@%s", c->local_domains[0]);
    for (size_t k = 0; k < m->env.n_rcpts; k++)
        if (str_ieq(m->env.rcpts[k].addr, pm) || (k == i && str_iprefix(m->env.rcpts[k].addr,
                                                                        "postmaster@"))) {
            log_warn("%s: notice undeliverable to <%s>; postmaster has it or is the "
                     "recipient: dropped", m->env.id, m->env.rcpts[i].addr);
            return;
        }
    size_t k = envelope_add_rcpt(&m->env, pm, NOTIFY_NEVER, NULL, (int)i, RCPT_PENDING);
    sched_changed_fit(m);
    m->changed[k] = 1;
    log_info("%s: notice undeliverable to <%s>: given to <%s>", m->env.id,
             m->env.rcpts[i].addr, pm);
}
