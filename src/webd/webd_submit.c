/*
 * webd_submit: a composed message into the queue, as an authenticated
 * submission from the logged-in address (webd_compose.h), the way SMTP
 * submission queues one (smtpd/smtp_receive.c) and local submission does
 * (qmgr/pickup.c): the recipients checked by the routing policy of
 * mail/route (a remote address may be relayed for an authenticated user;
 * an unknown local user is refused, in words), aliases expanded, NOTIFY
 * (SUCCESS,FAILURE,DELAY when asked) and RET=HDRS on the envelope, the
 * ENVID the queue id (envelope_envid_to_send), DKIM-signed when a dkim_sign
 * key applies, a Received: field. The queue file and a copy in the user's
 * Maildir++ .Sent folder (cur/NAME:2,S, seen) are written, fsync'd and
 * renamed on the disk workers, their folders fsync'd; only then is the
 * message logged, tracked, handed to the scheduler, and the user sent to
 * its story (303 /sent/QID).
 */
#include "webd/webd_compose.h"
#include "lib/alloc.h"
#include "lib/dur.h"
#include "lib/fsio.h"
#include "lib/log.h"
#include "lib/str.h"
#include "mail/maildir.h"
#include "mail/route.h"
#include "msgauth/dkim_sign.h"
#include "proto/addrlist.h"
#include "proto/rfc5322.h"
#include "qmgr/sched.h"
#include "track/track.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* addrlist callback: one more recipient, without duplicates. */
static int compose_rcpt_add(void *ctx, const char *addr)
{
    struct compose *c = ctx;
    for (size_t i = 0; i < c->n_rcpts; i++)
        if (str_ieq(c->rcpts[i], addr))
            return 0;
    if (c->n_rcpts >= c->r->conf->max_recipients)
        return 1;
    c->rcpts = xrealloc(c->rcpts, (c->n_rcpts + 1) * sizeof *c->rcpts);
    c->rcpts[c->n_rcpts++] = xstrdup(addr);
    return 0;
}

static int compose_field_rcpts(struct webd_req *r, struct compose *c, const char *name,
                               const char *typed)
{
    const char *err = NULL;
    int rc = addrlist_parse(typed, strlen(typed), NULL, compose_rcpt_add, c, &err);
    if (rc == 1)
        str_fmt(r->error, sizeof r->error, "Too many recipients: at most %u.",
                r->conf->max_recipients);
    else if (rc != 0)
        str_fmt(r->error, sizeof r->error, "%s: %s (write addresses as name@example.org, "
                "separated by commas).", name, err ? err : "not a valid address list");
    return rc == 0 ? 0 : -1;
}

/* RCPT policy, as SMTP submission's: 0, or -1 with the reason in words. */
static int compose_rcpt_policy(struct webd_req *r, const char *addr)
{
    char mailbox[ADDR_LOCAL_MAX + 1];
    switch (route_classify(r->conf, addr, mailbox, sizeof mailbox)) {
    case ROUTE_UNKNOWN_USER:
        str_fmt(r->error, sizeof r->error, "%s: there is no such user here.", addr);
        return -1;
    case ROUTE_BAD_MAILBOX:
        str_fmt(r->error, sizeof r->error, "%s: that mailbox name is not allowed.", addr);
        return -1;
    default: /* local, alias, relay domain; remote: an authenticated user may relay */
        return 0;
    }
}

static int compose_has_8bit(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return 1;
    return 0;
}

static void compose_fill_envelope(struct webd_req *r, struct compose *c)
{
    struct envelope *e = &c->env;
    char client[128];
    queue_new_id(e->id);
    e->arrival = dur_now_ms();
    e->sender = xstrdup(r->box.addr);
    e->auth = xstrdup(r->box.addr);
    str_fmt(client, sizeof client, "web %s", r->ip);
    e->client = xstrdup(client);
    e->ret = DSN_RET_HDRS;
    e->smtputf8 = compose_has_8bit(r->box.addr);
    unsigned notify = c->f.notify ? NOTIFY_SUCCESS | NOTIFY_FAILURE | NOTIFY_DELAY : 0;
    for (size_t i = 0; i < c->n_rcpts; i++) {
        envelope_add_rcpt(e, c->rcpts[i], notify, NULL, -1, RCPT_PENDING);
        e->smtputf8 |= compose_has_8bit(c->rcpts[i]);
    }
    route_expand_all(r->conf, e);
}

int compose_envelope(struct webd_req *r, struct compose *c)
{
    if (compose_field_rcpts(r, c, "To", c->f.to) < 0 ||
        compose_field_rcpts(r, c, "Cc", c->f.cc) < 0)
        return -1;
    if (c->n_rcpts == 0) {
        str_copy(r->error, sizeof r->error, "Give at least one recipient in To or Cc.");
        return -1;
    }
    for (size_t i = 0; i < c->n_rcpts; i++)
        if (compose_rcpt_policy(r, c->rcpts[i]) < 0)
            return -1;
    compose_fill_envelope(r, c);
    return 0;
}

void compose_trace(struct webd_req *r, struct compose *c)
{
    struct buf top;
    char date[64];
    buf_init(&top, BUF_UNLIMITED);
    if (r->conf->n_dkim_keys > 0) /* signed as it enters the queue: once, not per attempt */
        dkim_sign_text(r->conf, c->msg.data, c->msg.len, 0, &top);
    rfc5322_date(time(NULL), date, sizeof date);
    buf_printf(&top, "Received: from [%s%s]\r\n\tby %s (postino) with %s id %s",
               strchr(r->ip, ':') ? "IPv6:" : "", r->ip, r->conf->hostname,
               r->https ? "HTTPS" : "HTTP", c->env.id);
    if (c->env.n_rcpts == 1)
        buf_printf(&top, "\r\n\tfor <%s>", c->env.rcpts[0].addr);
    buf_printf(&top, "; %s\r\n", date);
    c->msg_head = top.len;
    buf_append(&top, c->msg.data, c->msg.len);
    buf_free(&c->msg);
    c->msg = top;
    c->env.body = BODY_7BIT;
    for (size_t i = 0; i < c->msg.len; i++)
        if ((unsigned char)c->msg.data[i] >= 0x80) {
            c->env.body = BODY_8BITMIME;
            break;
        }
}

/* ---- the commit (disk workers) ---- */

/* DATA/mail/D/L/.Sent with tmp, new, cur and maildirfolder. 0 or -1 (errno). */
static int compose_sent_folder(const struct conf *conf, const struct auth_box *box, char *out,
                               size_t size)
{
    char box_dir[PATH_MAX], p[PATH_MAX];
    static const char *const subs[] = {"tmp", "new", "cur"};
    if (maildir_box_path(box_dir, sizeof box_dir, conf->data_dir, box->domain, box->local) < 0 ||
        str_fmt(out, size, "%s/.Sent", box_dir) < 0)
        return -1;
    for (size_t i = 0; i < 3; i++)
        if (str_fmt(p, sizeof p, "%s/%s", out, subs[i]) < 0 || fsio_mkdir_p(p, 0700) < 0)
            return -1;
    if (str_fmt(p, sizeof p, "%s/maildirfolder", out) < 0)
        return -1;
    int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

/* The copy in .Sent/tmp (LF line ends, as Maildir holds mail); its fd named for the fsync. */
static int compose_sent_write(struct compose *c, struct diskq_job *j)
{
    struct webd_req *r = c->r;
    char name[PATH_MAX / 2], folder[PATH_MAX];
    if (compose_sent_folder(r->conf, &r->box, folder, sizeof folder) < 0 ||
        maildir_unique_name(name, sizeof name, (uint64_t)(c->env.arrival / 1000), c->env.id, 0,
                            r->conf->hostname) < 0 ||
        str_fmt(c->sent_tmp, sizeof c->sent_tmp, "%s/tmp/%s", folder, name) < 0 ||
        str_fmt(c->sent_cur, sizeof c->sent_cur, "%s/cur/%s:2,S", folder, name) < 0 ||
        str_fmt(c->sent_dir, sizeof c->sent_dir, "%s/cur", folder) < 0)
        return -1;
    c->sent_fd = open(c->sent_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (c->sent_fd < 0)
        return -1;
    struct maildir_lf lf = {0};
    char *out = xmalloc(c->msg.len + 1);
    size_t n = maildir_crlf_to_lf(&lf, c->msg.data + c->msg_head, c->msg.len - c->msg_head, out);
    int rc = fsio_write_all(c->sent_fd, out, n);
    free(out);
    if (rc == 0)
        diskq_job_sync_fd(j, c->sent_fd);
    return rc;
}

static void compose_job_write(struct diskq_job *j)
{
    struct compose *c = j->ctx;
    struct webd_req *r = c->r;
    if (queue_writer_open(r->w->deps.q, &c->env, &c->w) < 0) {
        j->failed = 1, j->err = errno;
        queue_writer_abort(&c->w);
        return;
    }
    c->writer_open = 1;
    queue_writer_write(&c->w, c->msg.data, c->msg.len);
    if (queue_writer_finish(&c->w) < 0) {
        j->failed = 1, j->err = errno;
        return;
    }
    c->env.size = c->w.content_len;
    c->env.content_offset = c->w.head_len;
    diskq_job_sync_fd(j, c->w.fd);
    if (compose_sent_write(c, j) < 0) { /* the mail goes all the same: said in the log */
        log_err("%s: copy to %s/.Sent: %s", c->env.id, r->box.addr, strerror(errno));
        if (c->sent_fd >= 0)
            close(c->sent_fd), unlink(c->sent_tmp);
        c->sent_fd = -1;
    }
}

static void compose_job_publish(struct diskq_job *j)
{
    struct compose *c = j->ctx;
    if (queue_writer_publish(&c->w) < 0) {
        j->failed = 1, j->err = errno;
        return;
    }
    diskq_job_sync_dir(j, c->w.dir);
    if (c->sent_fd < 0)
        return;
    close(c->sent_fd);
    c->sent_fd = -1;
    if (rename(c->sent_tmp, c->sent_cur) < 0) {
        log_err("%s: copy to .Sent: %s", c->env.id, strerror(errno));
        unlink(c->sent_tmp);
        return;
    }
    diskq_job_sync_dir(j, c->sent_dir);
}

/* The arrival, for the tracking store (enqueued: no database work here). */
static void compose_track(struct compose *c)
{
    const struct envelope *e = &c->env;
    char mid[sizeof c->message_id + 2];
    str_fmt(mid, sizeof mid, "<%s>", c->message_id);
    struct track_message m = {.queue_id = e->id, .message_id = mid,
                              .envid = envelope_envid_to_send(e), .sender = e->sender,
                              .client = e->client, .login = e->auth, .subject = c->subject,
                              .arrival = e->arrival, .rcpts = (const char *const *)c->rcpts,
                              .n_rcpts = c->n_rcpts};
    track_add_message(track_feed(), &m);
}

static void compose_job_done(struct diskq_job *j)
{
    struct compose *c = j->ctx;
    struct webd_req *r = c->r;
    struct envelope *e = &c->env;
    diskq_job_release(j);
    r->w->commits--;
    if (c->sent_fd >= 0)
        close(c->sent_fd), c->sent_fd = -1;
    if (j->failed) {
        log_err("%s: commit failed: %s", e->id, strerror(j->err));
        if (c->writer_open)
            queue_writer_abort(&c->w);
        webd_send_error(r, 503, "Service Unavailable",
                        "The message could not be queued (the disk failed): try again later.");
        return;
    }
    log_event(LOG_INFO, &(struct log_fields){.queue_id = e->id, .event = "received",
              .client = e->client, .from = e->sender},
              "size=%llu nrcpt=%zu client=%s queued (web submission)",
              (unsigned long long)e->size, e->n_rcpts, e->client);
    compose_track(c);
    char location[64];
    str_fmt(location, sizeof location, "/sent/%s", e->id);
    sched_add(r->w->deps.sched, e); /* the file is the queue's now */
    webd_send_redirect(r, location);
}

void compose_commit(struct webd_req *r, struct compose *c)
{
    r->w->commits++;
    memset(&c->job, 0, sizeof c->job);
    c->job.write = compose_job_write;
    c->job.publish = compose_job_publish;
    c->job.done = compose_job_done;
    c->job.ctx = c;
    diskq_submit(r->w->deps.dq, &c->job, DISKQ_URGENT);
}
