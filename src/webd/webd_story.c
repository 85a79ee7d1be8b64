/*
 * webd_story: one sent message's delivery story, GET /sent/QID (see
 * webd_sent.c for what it shows). The tracking store is read on a web
 * worker (once more after a flush when the message is not there yet: the
 * store's writer lingers a moment, and a message just composed comes here
 * at once); the scheduler's state is copied on the loop thread, in done.
 * Each recipient's state word is one of queued, deferred, relayed,
 * delivered, failed, expanded (td.state, class state-WORD).
 */
#include "webd/webd_int.h"
#include "lib/alloc.h"
#include "lib/str.h"
#include "mail/envelope.h"
#include "proto/esc.h"
#include "qmgr/sched.h"
#include "track/track.h"
#include <stdlib.h>
#include <string.h>

struct story {
    char qid[QUEUE_ID_MAX + 1];
    struct track_journey j;
    struct sched_rcpt_state *q;      /* the scheduler's view, while queued */
    size_t n_q;
    int queued;
};

static void story_free(void *p)
{
    struct story *s = p;
    if (!s)
        return;
    track_journey_free(&s->j);
    sched_rcpt_states_free(s->q, s->n_q);
    free(s);
}

static int story_qid_ok(const char *qid)
{
    size_t n = strlen(qid);
    if (n == 0 || n > QUEUE_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((qid[i] >= '0' && qid[i] <= '9') || (qid[i] >= 'A' && qid[i] <= 'Z')))
            return 0;
    return 1;
}

static void story_work(struct webd_req *r)
{
    struct story *s = r->data;
    char err[256];
    int found = track_read(r->conf->data_dir, s->qid, &s->j, err, sizeof err);
    if (found == 0 && track_feed()) { /* just queued: its row may still be on its way */
        track_flush(track_feed());
        found = track_read(r->conf->data_dir, s->qid, &s->j, err, sizeof err);
    }
    if (found < 0) {
        r->status = 500;
        return;
    }
    const char *who = r->box.addr;
    if (found == 0 || !((s->j.login && str_ieq(s->j.login, who)) ||
                        (s->j.sender && str_ieq(s->j.sender, who))))
        r->status = 404;
}

/* The recipients in order: the scheduler's (aliases' targets too), then the store's. */
static size_t story_rcpts(const struct story *s, const char **out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_q + s->j.n_rows && n < cap; i++) {
        const char *a = i < s->n_q ? s->q[i].addr : s->j.rows[i - s->n_q].rcpt;
        const char *kind = i < s->n_q ? "" : s->j.rows[i - s->n_q].kind;
        if (!a || strncmp(kind, "notice-", 7) == 0)
            continue;
        size_t k = 0;
        while (k < n && !str_ieq(out[k], a))
            k++;
        if (k == n)
            out[n++] = a;
    }
    return n;
}

/* " (5.1.1: the mailbox does not exist)" for the first enhanced code in text. */
static void story_code(struct webd_req *r, const char *text)
{
    char code[ESC_TEXT_MAX], words[128];
    int klass;
    enum esc_code esc;
    if (!text || esc_find(text, code, &klass, &esc) < 0)
        return;
    const char *plain = esc_plain(esc, words, sizeof words);
    webd_page_printf(r, " (");
    webd_page_esc(r, code);
    if (plain) {
        webd_page_printf(r, ": ");
        webd_page_esc(r, plain);
    }
    webd_page_printf(r, ")");
}

static void story_words(struct webd_req *r, const char *label, const char *text)
{
    if (!text || !text[0])
        return;
    webd_page_esc(r, label);
    webd_page_esc(r, text);
}

/* The last outcome and the last later hop's report of recipient a in the store. */
static void story_events(const struct story *s, const char *a, const struct track_row **out,
                         const struct track_row **notice)
{
    static const char *const outcomes[] = {"relayed", "delivered", "failed", "expired",
                                           "expanded", "deferred", "deleted"};
    *out = *notice = NULL;
    for (size_t i = 0; i < s->j.n_rows; i++) {
        const struct track_row *row = &s->j.rows[i];
        if (!row->rcpt || !row->kind || !str_ieq(row->rcpt, a))
            continue;
        if (strcmp(row->kind, "notice-received") == 0)
            *notice = row;
        for (size_t k = 0; k < sizeof outcomes / sizeof outcomes[0]; k++)
            if (strcmp(row->kind, outcomes[k]) == 0)
                *out = row;
    }
}

/* State and detail from the scheduler (still queued, not yet final). 1 if shown. */
static int story_queued(struct webd_req *r, const struct sched_rcpt_state *q)
{
    if (!q || (q->status != RCPT_PENDING && q->status != RCPT_DEFERRED))
        return 0;
    if (q->status == RCPT_PENDING) {
        webd_page_printf(r, "<td class=\"state state-queued\">queued</td><td class=\"detail\">%s",
                         q->busy ? "being delivered now" : "waiting for its first attempt");
        return 1;
    }
    webd_page_printf(r, "<td class=\"state state-deferred\">deferred</td><td class=\"detail\">");
    story_words(r, "last reply: ", q->last_reply);
    story_code(r, q->last_reply);
    story_words(r, "; from ", q->remote_mta);
    webd_page_printf(r, "; next attempt: ");
    if (q->busy || q->next_attempt == 0)
        webd_page_printf(r, "now");
    else
        webd_page_time(r, q->next_attempt);
    return 1;
}

static const char *story_state_word(const char *kind)
{
    if (!kind)
        return "queued";
    if (strcmp(kind, "expired") == 0 || strcmp(kind, "deleted") == 0)
        return "failed";
    return kind;
}

/* State and detail from the store's last outcome, a later hop's report on top. */
static void story_final(struct webd_req *r, const struct track_row *o, const struct track_row *n)
{
    const char *state = story_state_word(o ? o->kind : NULL);
    if (n && n->action && (strcmp(n->action, "delivered") == 0 || strcmp(n->action, "failed") == 0))
        state = n->action;
    webd_page_printf(r, "<td class=\"state state-%s\">%s</td><td class=\"detail\">", state, state);
    const char *kind = o ? o->kind : "";
    if (!o)
        webd_page_printf(r, "no news yet");
    else if (strcmp(kind, "relayed") == 0) {
        story_words(r, "to ", o->host);
        if (o->address) {
            webd_page_printf(r, " [");
            webd_page_esc(r, o->address);
            webd_page_printf(r, "]");
        }
        story_words(r, ": ", o->reply);
    } else if (strcmp(kind, "delivered") == 0)
        webd_page_printf(r, "delivered to the mailbox here");
    else if (strcmp(kind, "expanded") == 0)
        webd_page_printf(r, "an alias: sent on to its members");
    else if (strcmp(kind, "deleted") == 0)
        webd_page_printf(r, "deleted from the queue by the operator before it was delivered");
    else {
        if (strcmp(kind, "expired") == 0)
            webd_page_printf(r, "expired: not delivered in the time allowed; ");
        story_words(r, "", o->reply);
        story_code(r, o->reply);
    }
    if (n && n->action) {
        webd_page_printf(r, "; %s, reported by ", n->action);
        webd_page_esc(r, n->reporting_mta ? n->reporting_mta : n->host ? n->host : "a later hop");
        story_words(r, ": ", n->reply);
        story_code(r, n->status);
    }
}

static void story_rcpt(struct webd_req *r, const struct story *s, const char *a)
{
    const struct sched_rcpt_state *q = NULL;
    const struct track_row *o, *n;
    for (size_t i = 0; i < s->n_q; i++)
        if (str_ieq(s->q[i].addr, a))
            q = &s->q[i];
    story_events(s, a, &o, &n);
    webd_page_printf(r, "<tr class=\"rcpt\"><td class=\"rcpt\">");
    webd_page_esc(r, a);
    webd_page_printf(r, "</td>");
    if (!story_queued(r, q))
        story_final(r, o, n);
    webd_page_printf(r, "</td></tr>\n");
}

/* Later hops' reports and the notices sent to the user about this message. */
static void story_notices(struct webd_req *r, const struct story *s)
{
    webd_page_printf(r, "<section id=\"notices\">\n<h2>Notices</h2>\n");
    size_t shown = 0;
    for (size_t i = 0; i < s->j.n_rows; i++) {
        const struct track_row *row = &s->j.rows[i];
        int received = row->kind && strcmp(row->kind, "notice-received") == 0;
        if (!received && !(row->kind && strcmp(row->kind, "notice-sent") == 0))
            continue;
        webd_page_printf(r, "%s<li class=\"%s\">", shown++ ? "" : "<ul>\n",
                         received ? "notice-received" : "notice-sent");
        webd_page_time(r, row->time);
        if (received) {
            webd_page_printf(r, ": a report from ");
            webd_page_esc(r, row->reporting_mta ? row->reporting_mta : "a later hop");
            webd_page_printf(r, " about ");
            webd_page_esc(r, row->rcpt ? row->rcpt : "?");
            story_words(r, ": ", row->action);
            story_code(r, row->status);
            story_words(r, "; ", row->reply);
        } else {
            webd_page_printf(r, ": a notice (");
            webd_page_esc(r, row->action ? row->action : "?");
            webd_page_printf(r, ") was sent to you about ");
            webd_page_esc(r, row->rcpt ? row->rcpt : "?");
        }
        webd_page_printf(r, "</li>\n");
    }
    webd_page_printf(r, "%s</section>\n", shown ? "</ul>\n" : "<p class=\"note\">None.</p>\n");
}

static void story_page(struct webd_req *r, const struct story *s)
{
    const char *addrs[512];
    size_t n = story_rcpts(s, addrs, sizeof addrs / sizeof addrs[0]);
    webd_page_begin(r, s->j.subject && s->j.subject[0] ? s->j.subject : "(no subject)");
    webd_page_printf(r, "<p class=\"note\">Sent ");
    webd_page_time(r, s->j.arrival);
    story_words(r, ", Message-ID ", s->j.message_id);
    webd_page_printf(r, ", queue id %s%s</p>\n<table id=\"story\">\n<tr><th>Recipient</th>"
                        "<th>State</th><th>Detail</th></tr>\n", s->qid,
                     s->queued ? " (in the queue)" : "");
    for (size_t i = 0; i < n; i++)
        story_rcpt(r, s, addrs[i]);
    webd_page_printf(r, "</table>\n");
    story_notices(r, s);
    webd_page_end(r);
}

/* On the loop: the scheduler's view is copied here, where the scheduler lives. */
static void story_done(struct webd_req *r)
{
    struct story *s = r->data;
    if (r->job.failed)
        r->status = 500; /* the server stops: the work never ran */
    if (r->status == 404) {
        webd_send_error(r, 404, "Not Found", "There is no such message among those you sent.");
        return;
    }
    if (r->status) {
        webd_send_error(r, 500, "Internal Server Error",
                        "The story of this message cannot be read now: try again later.");
        return;
    }
    s->queued = r->w->deps.sched && sched_rcpt_states(r->w->deps.sched, s->qid, &s->q, &s->n_q) == 0;
    story_page(r, s);
    webd_send_page(r, 200, "OK");
}

void webd_story(struct webd_req *r, const char *qid)
{
    if (!story_qid_ok(qid)) {
        webd_send_error(r, 404, "Not Found", "There is no such message among those you sent.");
        return;
    }
    struct story *s = xcalloc(1, sizeof *s);
    str_copy(s->qid, sizeof s->qid, qid);
    r->data = s;
    r->data_free = story_free;
    webd_defer(r, story_work, story_done);
}
