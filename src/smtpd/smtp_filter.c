/*
 * smtp_filter: the checks a complete message goes through between the end
 * of DATA (or BDAT LAST) and its durable commit, on the server's check pool
 * (slow, DNS-bound work never runs on the event loop nor holds up the disk
 * workers' group commit):
 *
 *   - untrusted clients (neither relay_networks nor authenticated), with
 *     auth_checks on: SPF, DKIM, DMARC -> Authentication-Results, a forged
 *     one removed, 550 5.7.1 for p=reject with dmarc_reject on (msgauth);
 *   - a message from <> to a local mailbox: a delivery-status notice is
 *     matched to the message it reports on -> X-Postino-Track (track; one
 *     it came with is removed);
 *   - authenticated submissions with a dkim_sign key: DKIM-Signature.
 *
 * The fields are put on top of the queued content in one rewrite of the
 * still unpublished queue file (queue_writer_rewrite); a refusal removes it.
 * 250 is still sent only after the commit's fsyncs.
 */
#include "smtpd/smtp_session.h"
#include "lib/log.h"
#include "lib/str.h"
#include "mail/route.h"
#include "msgauth/authcheck.h"
#include "msgauth/dkim_sign.h"
#include "track/track.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Neither in relay_networks nor authenticated: whose mail is checked. */
static int smtps_untrusted(const struct smtps_session *s)
{
    return !s->relay_ok && !s->auth_user[0];
}

/* A null-sender message with at least one recipient that is a mailbox here. */
static int smtps_notice_for_local(const struct smtps_session *s)
{
    const struct envelope *e = &s->tx.env;
    if (e->sender[0])
        return 0;
    char mailbox[256];
    for (size_t i = 0; i < e->n_rcpts; i++)
        if (route_classify(s->conf, e->rcpts[i].addr, mailbox, sizeof mailbox) == ROUTE_LOCAL)
            return 1;
    return 0;
}

/* Mail postino signs as it takes it in: authenticated submissions. */
static int smtps_signs(const struct smtps_session *s)
{
    return s->auth_user[0] && s->conf->n_dkim_keys > 0;
}

int smtps_filter_wanted(const struct smtps_session *s)
{
    if (!s->srv->checkq)
        return 0;
    return (smtps_untrusted(s) && conf_is_on(s->conf->auth_checks)) ||
           (s->srv->track && smtps_notice_for_local(s)) || smtps_signs(s);
}

/* Which header fields of the message the rewrite keeps: a forged Authentication-Results
 * goes when the auth checks ran, an X-Postino-Track that came with a notice when it was
 * checked. */
struct smtps_keep {
    const struct conf *conf;
    int auth, notice;
};

static int smtps_keep_field(const char *field, size_t n, void *arg)
{
    const struct smtps_keep *k = arg;
    return (!k->auth || authcheck_keep_field(field, n, (void *)k->conf)) &&
           (!k->notice || track_keep_field(field, n, NULL));
}

/* Worker thread: the checks over the written file, then its rewrite. */
static void smtps_filter_run(struct diskq_job *j)
{
    struct smtps_session *s = j->ctx;
    const struct conf *c = s->conf;
    struct queue_writer *w = &s->tx.writer;
    struct queue_content m = {.off = w->head_len, .size = w->content_len};
    struct smtps_keep keep = {.conf = c};
    struct queue_rewrite r = {.arg = &keep};
    struct buf fields;
    buf_init(&fields, 64 * 1024);
    s->tx.refuse[0] = '\0';
    if ((m.fd = open(w->tmp_path, O_RDONLY | O_CLOEXEC)) < 0) {
        j->failed = 1;
        j->err = errno;
        buf_free(&fields);
        return;
    }
    if (smtps_untrusted(s) && conf_is_on(c->auth_checks)) {
        authcheck_run(c, &s->tx.env, &m, &fields, s->tx.refuse, sizeof s->tx.refuse);
        keep.auth = 1;
    }
    if (!s->tx.refuse[0] && s->srv->track && smtps_notice_for_local(s)) {
        track_notice_check(s->srv->track, c, &s->tx.env, &m, &fields, s->tx.refuse,
                           sizeof s->tx.refuse);
        keep.notice = 1;
    }
    if (!s->tx.refuse[0] && smtps_signs(s))
        dkim_sign_message(c, &m, 0, &fields);
    close(m.fd);
    r.fields = fields.data;
    r.n = fields.len;
    r.keep = keep.auth || keep.notice ? smtps_keep_field : NULL; /* NULL: no copy for nothing */
    if (!s->tx.refuse[0] && queue_writer_rewrite(w, &r) < 0) {
        j->failed = 1;
        j->err = errno;
    }
    buf_free(&fields);
}

/* Back in the loop: commit, or refuse (and go on reading, or close a session gone away). */
static void smtps_filter_done(struct diskq_job *j)
{
    struct smtps_session *s = j->ctx;
    diskq_job_release(j);
    if (j->failed) {
        log_err("%s: checks: %s", s->tx.env.id, strerror(j->err));
        s->state = SMTPS_IDLE;
        smtps_reply(s, "%s", queue_error_reply(j->err));
        smtps_tx_reset(s);
    } else if (s->tx.refuse[0]) {
        char reply[sizeof s->tx.refuse];
        str_copy(reply, sizeof reply, s->tx.refuse);
        smtps_refuse_message(s, reply);
    } else { /* even for a client gone meanwhile: a commit's outcome is the same */
        smtps_commit(s);
        return;
    }
    if (s->dead) {
        smtps_close(s);
        return;
    }
    bufferevent_enable(s->bev, EV_READ);
    smtps_process_input(s);
}

void smtps_filter(struct smtps_session *s)
{
    memset(&s->commit_job, 0, sizeof s->commit_job);
    s->commit_job.write = smtps_filter_run;
    s->commit_job.done = smtps_filter_done;
    s->commit_job.ctx = s;
    diskq_submit(s->srv->checkq, &s->commit_job, DISKQ_URGENT);
}
