/*
 * control: the server's local sockets, control (0600) and the read-only
 * showq (0666) (see control.h). A listing is made from the queue files on a
 * disk worker (normal priority: commits go first) one chunk at a time: the
 * loop sends a chunk, and only once the client has taken it all is the next
 * one made, so a slow reader of a long listing never makes the server hold
 * more than a chunk of it. The event loop only moves bytes.
 */
#include "qmgr/control.h"
#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/dur.h"
#include "mail/queue_list.h"
#include "mail/queue_summary.h"
#include "proto/control_request.h"
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CONTROL_LINE_MAX 256
#define CONTROL_SHOWQ_CHUNK 65536 /* a listing is made and sent this much at a time */

struct control_socket {
    struct evconnlistener *listener;
    struct control *ctl;
    int showq;                  /* the read-only socket */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

struct control_conn;

struct control {
    struct control_socket admin, showq;
    struct sched *sched;
    struct diskq *dq;
    char data_dir[PATH_MAX];
    unsigned showq_conns;       /* open connections of the read-only socket */
    struct control_conn *listing[CONTROL_SHOWQ_JOBS]; /* waiting for their listing */
    struct control_reload_hook reload;
    struct control_conn *reloading[CONTROL_RELOAD_WAITERS]; /* waiting for a reload */
};

struct control_listing;

struct control_conn {
    struct control *ctl;
    struct bufferevent *bev;
    int showq;
    struct control_listing *job; /* the listing being made for it, or NULL */
    int reload_wait;             /* in ctl->reloading: its RELOAD is being done */
};

/* A listing made on a disk worker in chunks; cc is NULL once its client (or the server)
 * is gone. */
struct control_listing {
    struct diskq_job job;
    struct control_conn *cc;
    char data_dir[PATH_MAX];
    int json;
    int summary;                /* SUMMARY: the qshape-like table instead */
    int opened;                 /* the stream below is open */
    int running;                /* a step is on a disk worker */
    int started;                /* "OK" was sent: an error now can only cut the answer */
    int more;                   /* the listing is not complete */
    int err;                    /* errno of a failed step, else 0 */
    struct queue_list_stream list;
    struct queue_summary_stream table;
    struct buf out;             /* the chunk made by the last step */
};

static void control_close_when_flushed(struct bufferevent *bev, void *arg)
{
    (void)arg;
    bufferevent_free(bev);
}

static void control_close_on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)what;
    (void)arg;
    bufferevent_free(bev);
}

/* Forgets the connection; its bufferevent lives on until the reply is flushed. */
static void control_conn_free(struct control_conn *cc)
{
    if (cc->showq)
        cc->ctl->showq_conns--;
    free(cc);
}

/* Queues the answer (text, then more if any), closes once it is sent, frees cc. */
static void control_answer(struct control_conn *cc, const char *text, const struct buf *more)
{
    struct bufferevent *bev = cc->bev;
    struct evbuffer *out = bufferevent_get_output(bev);
    evbuffer_add(out, text, strlen(text));
    if (more && more->len)
        evbuffer_add(out, more->data, more->len);
    bufferevent_disable(bev, EV_READ);
    bufferevent_setcb(bev, NULL, control_close_when_flushed, control_close_on_event, NULL);
    bufferevent_enable(bev, EV_WRITE);
    control_conn_free(cc);
}

static void control_reply(struct control_conn *cc, const char *line)
{
    char text[CONTROL_ANSWER_MAX + 1];
    str_fmt(text, sizeof text, "%s\n", line);
    control_answer(cc, text, NULL);
}

/* Takes cc out of the connections waiting for a reload; gone: its client left
 * first, so the server forgets it too. */
static void control_reload_detach(struct control_conn *cc, int gone)
{
    for (size_t i = 0; i < CONTROL_RELOAD_WAITERS; i++)
        if (cc->ctl->reloading[i] == cc)
            cc->ctl->reloading[i] = NULL;
    if (gone)
        cc->ctl->reload.forget(cc->ctl->reload.arg, cc);
    cc->reload_wait = 0;
}

/* The reload's outcome (a control_reload_reply_fn): "OK text" or "ERR text", one line. */
static void control_reload_answer(void *arg, int ok, const char *text)
{
    struct control_conn *cc = arg;
    char line[CONTROL_ANSWER_MAX];
    control_reload_detach(cc, 0);
    str_fmt(line, sizeof line, "%s %s", ok ? "OK" : "ERR", text);
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    control_reply(cc, line);
}

/* RELOAD: the server re-reads its config; the answer waits for the outcome. */
static void control_reload_request(struct control_conn *cc)
{
    struct control *ctl = cc->ctl;
    size_t slot = 0;
    while (slot < CONTROL_RELOAD_WAITERS && ctl->reloading[slot])
        slot++;
    if (!ctl->reload.ask || !ctl->reload.forget) {
        control_reply(cc, "ERR reload is not available");
        return;
    }
    if (slot == CONTROL_RELOAD_WAITERS) {
        control_reply(cc, "ERR busy: other reloads are waiting, try again");
        return;
    }
    ctl->reloading[slot] = cc;
    cc->reload_wait = 1;
    bufferevent_disable(cc->bev, EV_READ);
    ctl->reload.ask(ctl->reload.arg, control_reload_answer, cc);
}

/* Handles one request line of the control socket (grammar: proto/control_request). */
static void control_request(struct control_conn *cc, const char *line)
{
    struct control *ctl = cc->ctl;
    struct control_request req;
    char reply[64];
    switch (control_request_parse(line, &req)) {
    case CONTROL_FLUSH: {
        long n = sched_flush(ctl->sched, req.arg);
        log_info("control: flush %s: %ld message(s) due now", req.arg ? req.arg : "all", n);
        if (n < 0)
            control_reply(cc, "ERR no such message");
        else {
            str_fmt(reply, sizeof reply, "OK %ld", n);
            control_reply(cc, reply);
        }
        return;
    }
    case CONTROL_HOLD:
    case CONTROL_RELEASE:
    case CONTROL_DELETE: {
        int r = req.verb == CONTROL_DELETE ? sched_delete(ctl->sched, req.arg)
                                           : sched_hold(ctl->sched, req.arg, req.verb == CONTROL_HOLD);
        control_reply(cc, r == 0    ? "OK 1"
                          : r == -1 ? "ERR no such message"
                          : r == -3 ? "ERR busy: being delivered, try again"
                                    : "ERR cannot update the queue file");
        return;
    }
    case CONTROL_RELOAD:
        control_reload_request(cc);
        return;
    case CONTROL_UNKNOWN:
    case CONTROL_LIST:
    case CONTROL_SUMMARY:
        break;
    }
    control_reply(cc, "ERR unknown request");
}

static void control_on_event(struct bufferevent *bev, short what, void *arg);

/* write stage (a disk worker): the next chunk of the listing, as `queue list` makes it. */
static void control_listing_run(struct diskq_job *j)
{
    struct control_listing *lj = j->ctx;
    int r = 0;
    if (!lj->opened) {
        r = lj->summary ? queue_summary_open(&lj->table, lj->data_dir, dur_now_ms(), lj->json)
                        : queue_list_open(&lj->list, lj->data_dir, lj->json);
        lj->opened = r == 0;
    }
    if (r == 0)
        r = lj->summary ? queue_summary_next(&lj->table, &lj->out)
                        : queue_list_next(&lj->list, &lj->out, CONTROL_SHOWQ_CHUNK);
    lj->err = r < 0 ? errno : 0;
    lj->more = r > 0;
}

static void control_listing_free(struct control_listing *lj)
{
    if (lj->opened && lj->summary)
        queue_summary_close(&lj->table);
    else if (lj->opened)
        queue_list_close(&lj->list);
    diskq_job_release(&lj->job);
    buf_free(&lj->out);
    free(lj);
}

/* Takes cc out of the table of connections waiting for a listing; the listing goes
 * with it unless a step is running (its done() frees it). */
static void control_listing_detach(struct control_conn *cc)
{
    struct control_listing *lj = cc->job;
    for (size_t i = 0; i < CONTROL_SHOWQ_JOBS; i++)
        if (cc->ctl->listing[i] == cc)
            cc->ctl->listing[i] = NULL;
    lj->cc = NULL;
    cc->job = NULL;
    if (!lj->running)
        control_listing_free(lj);
}

static void control_listing_submit(struct control_listing *lj)
{
    buf_reset(&lj->out);
    lj->running = 1;
    diskq_submit(lj->cc->ctl->dq, &lj->job, DISKQ_NORMAL);
}

/* The client has taken everything sent so far: the next chunk may be made. */
static void control_listing_drained(struct bufferevent *bev, void *arg)
{
    struct control_conn *cc = arg;
    (void)bev;
    if (cc->job && !cc->job->running)
        control_listing_submit(cc->job);
}

/* A step failed: "ERR ..." if nothing was sent yet, else the answer ends there. */
static void control_listing_failed(struct control_conn *cc, struct control_listing *lj, int err)
{
    char text[160];
    log_err("showq: cannot list the queue: %s", strerror(err));
    str_fmt(text, sizeof text, "ERR cannot list the queue: %s\n", strerror(err));
    int started = lj->started;
    control_listing_detach(cc);
    control_answer(cc, started ? "" : text, NULL);
}

/* done (the loop thread): sends the chunk to its client if it still waits; the next
 * step starts once the client has read it (control_listing_drained). */
static void control_listing_done(struct diskq_job *j)
{
    struct control_listing *lj = j->ctx;
    struct control_conn *cc = lj->cc;
    lj->running = 0;
    if (!cc) {
        control_listing_free(lj);
        return;
    }
    int err = j->failed ? j->err : lj->err;
    if (err) {
        control_listing_failed(cc, lj, err);
        return;
    }
    struct evbuffer *out = bufferevent_get_output(cc->bev);
    if (!lj->started)
        evbuffer_add(out, CONTROL_SHOWQ_OK, strlen(CONTROL_SHOWQ_OK));
    lj->started = 1;
    evbuffer_add(out, lj->out.data ? lj->out.data : "", lj->out.len);
    if (!lj->more) {
        control_listing_detach(cc);
        control_answer(cc, "", NULL);
    } else if (evbuffer_get_length(out) == 0) {
        control_listing_submit(lj); /* nothing to send yet (a summary still counting) */
    } else {
        bufferevent_setcb(cc->bev, NULL, control_listing_drained, control_on_event, cc);
        bufferevent_enable(cc->bev, EV_WRITE);
    }
}

/* LIST [--json] on the read-only socket: a listing job, if a slot is free. */
static void control_showq_request(struct control_conn *cc, const char *line)
{
    struct control *ctl = cc->ctl;
    struct control_request req;
    if (control_request_parse_showq(line, &req) == CONTROL_UNKNOWN) {
        control_reply(cc, "ERR only LIST, SUMMARY (and --json) here");
        return;
    }
    size_t slot = 0;
    while (slot < CONTROL_SHOWQ_JOBS && ctl->listing[slot])
        slot++;
    if (slot == CONTROL_SHOWQ_JOBS) {
        control_reply(cc, "ERR busy: other listings are being made, try again");
        return;
    }
    struct control_listing *lj = xcalloc(1, sizeof *lj);
    if (str_copy(lj->data_dir, sizeof lj->data_dir, ctl->data_dir) < 0) {
        free(lj);
        control_reply(cc, "ERR data_dir too long");
        return;
    }
    lj->cc = cc;
    lj->json = req.json;
    lj->summary = req.verb == CONTROL_SUMMARY;
    buf_init(&lj->out, BUF_UNLIMITED);
    lj->job.write = control_listing_run;
    lj->job.done = control_listing_done;
    lj->job.ctx = lj;
    cc->job = lj;
    ctl->listing[slot] = cc;
    bufferevent_disable(cc->bev, EV_READ);
    control_listing_submit(lj);
}

static void control_on_read(struct bufferevent *bev, void *arg)
{
    struct control_conn *cc = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t n;
    char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
    if (!line) {
        if (evbuffer_get_length(in) > CONTROL_LINE_MAX)
            control_reply(cc, "ERR line too long");
        return;
    }
    if (cc->showq)
        control_showq_request(cc, line);
    else
        control_request(cc, line);
    free(line);
}

/* The client went away (or timed out) before its answer: a listing in flight is dropped. */
static void control_on_event(struct bufferevent *bev, short what, void *arg)
{
    struct control_conn *cc = arg;
    (void)what;
    if (cc->job)
        control_listing_detach(cc);
    if (cc->reload_wait)
        control_reload_detach(cc, 1);
    bufferevent_free(bev);
    control_conn_free(cc);
}

static void control_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                              int len, void *arg)
{
    struct control_socket *sock = arg;
    (void)sa;
    (void)len;
    if (sock->showq && sock->ctl->showq_conns >= CONTROL_SHOWQ_CONNS) {
        evutil_closesocket(fd); /* a local user cannot take every descriptor */
        return;
    }
    struct control_conn *cc = xcalloc(1, sizeof *cc);
    cc->ctl = sock->ctl;
    cc->showq = sock->showq;
    cc->ctl->showq_conns += (unsigned)cc->showq;
    cc->bev = bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
    struct timeval tv = {10, 0};
    bufferevent_set_timeouts(cc->bev, &tv, &tv);
    bufferevent_setcb(cc->bev, control_on_read, NULL, control_on_event, cc);
    bufferevent_enable(cc->bev, EV_READ | EV_WRITE);
}

/* Binds DATA_DIR/name with the permissions the umask leaves. 0, or -1 (logged). */
static int control_bind(struct event_base *base, struct control *ctl, struct control_socket *sock,
                        const char *name, mode_t mask)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    sock->ctl = ctl;
    if (str_fmt(sock->path, sizeof sock->path, "%s/%s", ctl->data_dir, name) < 0) {
        log_err("%s socket: path too long for %s", name, ctl->data_dir);
        sock->path[0] = '\0';
        return -1;
    }
    str_copy(sun.sun_path, sizeof sun.sun_path, sock->path);
    unlink(sock->path); /* a socket left by a crash */
    mode_t old = umask(mask);
    sock->listener = evconnlistener_new_bind(base, control_on_accept, sock,
                                             LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
                                             (struct sockaddr *)&sun, sizeof sun);
    umask(old);
    if (!sock->listener) {
        log_err("%s socket %s: %s", name, sock->path, strerror(errno));
        sock->path[0] = '\0';
        return -1;
    }
    return 0;
}

struct control *control_new(struct event_base *base, const struct conf *c, struct sched *s,
                            struct diskq *dq, const struct control_reload_hook *reload)
{
    struct control *ctl = xcalloc(1, sizeof *ctl);
    ctl->sched = s;
    ctl->dq = dq;
    if (reload)
        ctl->reload = *reload;
    ctl->showq.showq = 1;
    if (str_copy(ctl->data_dir, sizeof ctl->data_dir, c->data_dir) < 0 ||
        control_bind(base, ctl, &ctl->admin, CONTROL_SOCKET, 0177) < 0 ||
        control_bind(base, ctl, &ctl->showq, CONTROL_SHOWQ_SOCKET, 0111) < 0) {
        control_free(ctl);
        return NULL;
    }
    return ctl;
}

static void control_socket_close(struct control_socket *sock)
{
    if (sock->listener)
        evconnlistener_free(sock->listener);
    if (sock->path[0])
        unlink(sock->path);
}

void control_free(struct control *ctl)
{
    if (!ctl)
        return;
    control_socket_close(&ctl->admin);
    control_socket_close(&ctl->showq);
    for (size_t i = 0; i < CONTROL_SHOWQ_JOBS; i++) {
        struct control_conn *cc = ctl->listing[i];
        if (!cc)
            continue;
        control_listing_detach(cc); /* the job's done() frees only itself */
        bufferevent_free(cc->bev);
        control_conn_free(cc);
    }
    for (size_t i = 0; i < CONTROL_RELOAD_WAITERS; i++) {
        struct control_conn *cc = ctl->reloading[i];
        if (!cc)
            continue;
        control_reload_detach(cc, 1);
        bufferevent_free(cc->bev);
        control_conn_free(cc);
    }
    free(ctl);
}
