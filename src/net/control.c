/*
 * control: local control socket of the server (see control.h).
 */
#include "net/control.h"
#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/str.h"
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CONTROL_LINE_MAX 256

struct control {
    struct evconnlistener *listener;
    struct sched *sched;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

struct control_conn {
    struct control *ctl;
    struct bufferevent *bev;
};

static void control_close_when_flushed(struct bufferevent *bev, void *arg)
{
    (void)arg;
    bufferevent_free(bev);
}

static void control_reply(struct bufferevent *bev, const char *line)
{
    evbuffer_add_printf(bufferevent_get_output(bev), "%s\n", line);
    bufferevent_disable(bev, EV_READ);
    bufferevent_setcb(bev, NULL, control_close_when_flushed, NULL, NULL);
}

/* Handles one request line. */
static void control_request(struct control *ctl, struct bufferevent *bev, char *line)
{
    char reply[64];
    char *arg = strchr(line, ' ');
    if (arg)
        *arg++ = '\0';
    if (strcmp(line, "FLUSH") == 0) {
        long n = sched_flush(ctl->sched, arg && *arg ? arg : NULL);
        log_info("control: flush %s: %ld message(s) due now", arg && *arg ? arg : "all", n);
        if (n < 0)
            control_reply(bev, "ERR no such message");
        else {
            str_fmt(reply, sizeof reply, "OK %ld", n);
            control_reply(bev, reply);
        }
        return;
    }
    if (arg && *arg && (strcmp(line, "HOLD") == 0 || strcmp(line, "RELEASE") == 0 ||
                        strcmp(line, "DELETE") == 0)) {
        int r = strcmp(line, "DELETE") == 0 ? sched_delete(ctl->sched, arg)
                                            : sched_hold(ctl->sched, arg, strcmp(line, "HOLD") == 0);
        control_reply(bev, r == 0    ? "OK 1"
                           : r == -1 ? "ERR no such message"
                           : r == -3 ? "ERR busy: being delivered, try again"
                                     : "ERR cannot update the queue file");
        return;
    }
    control_reply(bev, "ERR unknown request");
}

static void control_on_read(struct bufferevent *bev, void *arg)
{
    struct control_conn *cc = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t n;
    char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
    if (!line) {
        if (evbuffer_get_length(in) > CONTROL_LINE_MAX) {
            control_reply(bev, "ERR line too long");
            free(cc);
        }
        return;
    }
    control_request(cc->ctl, bev, line);
    free(line);
    free(cc);
}

static void control_on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)what;
    bufferevent_free(bev);
    free(arg);
}

static void control_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                              int len, void *arg)
{
    (void)sa;
    (void)len;
    struct control_conn *cc = xcalloc(1, sizeof *cc);
    cc->ctl = arg;
    cc->bev = bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
    struct timeval tv = {10, 0};
    bufferevent_set_timeouts(cc->bev, &tv, &tv);
    bufferevent_setcb(cc->bev, control_on_read, NULL, control_on_event, cc);
    bufferevent_enable(cc->bev, EV_READ | EV_WRITE);
}

struct control *control_new(struct event_base *base, const struct conf *c, struct sched *s)
{
    struct control *ctl = xcalloc(1, sizeof *ctl);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    ctl->sched = s;
    if (str_fmt(ctl->path, sizeof ctl->path, "%s/%s", c->data_dir, CONTROL_SOCKET) < 0) {
        log_err("control socket: path too long for %s", c->data_dir);
        free(ctl);
        return NULL;
    }
    str_copy(sun.sun_path, sizeof sun.sun_path, ctl->path);
    unlink(ctl->path); /* a socket left by a crash */
    mode_t old = umask(0077);
    ctl->listener = evconnlistener_new_bind(base, control_on_accept, ctl,
                                            LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
                                            (struct sockaddr *)&sun, sizeof sun);
    umask(old);
    if (!ctl->listener) {
        log_err("control socket %s: %s", ctl->path, strerror(errno));
        free(ctl);
        return NULL;
    }
    return ctl;
}

void control_free(struct control *ctl)
{
    if (!ctl)
        return;
    evconnlistener_free(ctl->listener);
    unlink(ctl->path);
    free(ctl);
}
