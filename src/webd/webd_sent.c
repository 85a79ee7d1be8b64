/*
 * webd_sent: the Sent list and each sent message's delivery story (see
 * webd_int.h). GET /sent?page=N: the user's messages from the tracking
 * store (track/track.h, a read-only connection on a web worker), newest
 * first, 50 a page. GET /sent/QID: only the user's own message (login or
 * sender is the logged-in address; anything else is 404, as an unknown id
 * is), each recipient's state now: while the message is queued, the
 * scheduler's view (read on the loop thread, where the scheduler lives:
 * queued, deferred with the last reply and the next attempt); then the
 * tracking store's events (relayed: host and reply; delivered here, or as
 * a later hop's notice reports; failed, with its enhanced code in words
 * from proto/esc; expanded; expired or deleted by the operator), and the
 * notices received from later hops and sent to the user (section#notices).
 */
#include "webd/webd_int.h"
#include "lib/alloc.h"
#include "lib/str.h"
#include "proto/esc.h"
#include "qmgr/sched.h"
#include "track/track.h"
#include <stdlib.h>
#include <string.h>

#define SENT_PAGE 50

struct sent_list {
    struct track_sent *v;
    size_t n, total, page;
};

static void sent_list_free(void *p)
{
    struct sent_list *l = p;
    if (l)
        track_sent_free(l->v, l->n);
    free(l);
}

/* The recipients column: one a line in the store, shown comma-separated. */
static void sent_rcpts(struct webd_req *r, const char *rcpts)
{
    for (const char *p = rcpts; p && *p;) {
        size_t n = strcspn(p, "\n");
        webd_page_escn(r, p, n);
        p += n;
        if (*p == '\n' && *++p)
            webd_page_printf(r, ", ");
    }
}

static void sent_list_page(struct webd_req *r, const struct sent_list *l)
{
    webd_page_begin(r, "Sent");
    if (l->total == 0) {
        webd_page_printf(r, "<p id=\"empty\">You have sent no messages (or none recent enough "
                            "to be remembered).</p>\n");
        return;
    }
    size_t first = l->page * SENT_PAGE;
    webd_page_printf(r, "<p id=\"count\">Messages %zu-%zu of %zu</p>\n<table id=\"sent\">\n"
                        "<tr><th class=\"date\">Date</th><th>To</th><th>Subject</th></tr>\n",
                     first + 1, first + l->n, l->total);
    for (size_t i = 0; i < l->n; i++) {
        const struct track_sent *m = &l->v[i];
        webd_page_printf(r, "<tr class=\"sent\"><td class=\"date\">");
        webd_page_time(r, m->arrival);
        webd_page_printf(r, "</td><td class=\"rcpts\">");
        sent_rcpts(r, m->rcpts);
        webd_page_printf(r, "</td><td class=\"subject\"><a class=\"story\" href=\"/sent/");
        webd_page_esc(r, m->queue_id);
        webd_page_printf(r, "\">");
        webd_page_esc(r, m->subject && m->subject[0] ? m->subject : "(no subject)");
        webd_page_printf(r, "</a></td></tr>\n");
    }
    webd_page_printf(r, "</table>\n<p>");
    if (l->page > 0)
        webd_page_printf(r, "<a id=\"prev\" href=\"/sent?page=%zu\">Newer</a> ", l->page - 1);
    if (first + l->n < l->total)
        webd_page_printf(r, "<a id=\"next\" href=\"/sent?page=%zu\">Older</a>", l->page + 1);
    webd_page_printf(r, "</p>\n");
}

static void sent_list_work(struct webd_req *r)
{
    struct sent_list *l = r->data;
    char err[256];
    if (track_sent_list(r->conf->data_dir, r->box.addr, l->page * SENT_PAGE, SENT_PAGE, &l->v,
                        &l->n, &l->total, err, sizeof err) < 0) {
        str_copy(r->error, sizeof r->error, err);
        r->status = 500;
        return;
    }
    sent_list_page(r, l);
    webd_page_end(r);
}

static void sent_list_done(struct webd_req *r)
{
    if (r->status)
        webd_send_error(r, 500, "Internal Server Error",
                        "Your sent messages cannot be read now: try again later.");
    else
        webd_send_page(r, 200, "OK");
}

static void sent_list(struct webd_req *r)
{
    struct sent_list *l = xcalloc(1, sizeof *l);
    const char *page = webd_query(r, "page");
    char *end;
    unsigned long p = page ? strtoul(page, &end, 10) : 0;
    l->page = page && *end == '\0' && p < 1000000 ? p : 0;
    r->data = l;
    r->data_free = sent_list_free;
    webd_defer(r, sent_list_work, sent_list_done);
}

void webd_sent(struct webd_req *r)
{
    if (r->rest[0])
        webd_story(r, r->rest);
    else
        sent_list(r);
}
