/*
 * pop3_commands: the commands of a POP3 session once parsed
 * (proto/pop3_parse): the dispatch by state, CAPA (RFC 2449), QUIT and the
 * UPDATE state (RFC 1939 6: deletions happen at QUIT only), and the
 * TRANSACTION state (RFC 1939 5): STAT, LIST, UIDL, RETR, TOP, DELE, NOOP,
 * RSET. RETR/TOP stream the file through pop3_stuff (RETR marks it seen,
 * TOP does not) under a write watermark, no command being read meanwhile.
 */
#include "pop3d/pop3_session.h"
#include "lib/log.h"
#include <errno.h>
#include <event2/buffer.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#define POP3S_OUT_HIGH (256 * 1024) /* RETR/TOP: queued octets past which reading the file waits */
#define POP3S_CHUNK 16384

static void pop3s_capa(struct pop3_session *s)
{
    pop3s_reply(s, "+OK Capability list follows");
    if (pop3s_clear_ok(s) && s->state != POP3S_TRANSACTION) {
        pop3s_reply(s, "USER");
        pop3s_reply(s, "SASL PLAIN");
    }
    if (s->tls_ctx && !s->tls && s->state != POP3S_TRANSACTION)
        pop3s_reply(s, "STLS");
    pop3s_reply(s, "TOP\r\nUIDL\r\nPIPELINING\r\nRESP-CODES\r\nAUTH-RESP-CODE");
    pop3s_reply(s, "IMPLEMENTATION postino\r\n.");
}

/* --- transaction --- */

/* The message numbered n (1-based) if it exists and is not deleted, else NULL (after -ERR). */
static struct mailbox_msg *pop3s_msg(struct pop3_session *s, unsigned long n)
{
    if (n == 0 || n > s->mb.n || s->mb.msgs[n - 1].deleted) {
        pop3s_reply(s, "-ERR No such message");
        return NULL;
    }
    return &s->mb.msgs[n - 1];
}

/* Queues more of the message being sent; ends it with ".". */
void pop3s_feed(struct pop3_session *s)
{
    struct evbuffer *out = bufferevent_get_output(s->bev);
    char in[POP3S_CHUNK], wire[2 * POP3S_CHUNK + 1];
    while (evbuffer_get_length(out) < POP3S_OUT_HIGH) {
        ssize_t r = s->stuff.done ? 0 : read(s->send_fd, in, sizeof in);
        if (r <= 0) {
            if (r < 0)
                log_err("pop3: %s: read: %s", s->client_ip, strerror(errno));
            if (s->stuff.mid_line)
                evbuffer_add(out, "\r\n", 2);
            evbuffer_add(out, ".\r\n", 3);
            close(s->send_fd);
            s->send_fd = -1;
            s->state = POP3S_TRANSACTION;
            bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
            bufferevent_enable(s->bev, EV_READ);
            return;
        }
        size_t used;
        size_t n = pop3_stuff(&s->stuff, in, (size_t)r, wire, &used);
        evbuffer_add(out, wire, n);
    }
}

/*
 * RETR n (lines < 0) or TOP n lines: opens the file, starts streaming. Only
 * RETR marks the message seen (as Dovecot does): TOP is a peek, used by
 * fetchmail's keep mode, and leaves the message in new/ without the S flag.
 */
static void pop3s_send(struct pop3_session *s, unsigned long n, long lines)
{
    struct mailbox_msg *m = pop3s_msg(s, n);
    if (!m)
        return;
    char path[PATH_MAX];
    if (lines < 0 && mailbox_mark_seen(&s->mb, n - 1) < 0)
        log_warn("pop3: %s: cannot mark %s seen: %s", s->login, m->name, strerror(errno));
    if (mailbox_path(&s->mb, n - 1, path, sizeof path) < 0 ||
        (s->send_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        s->send_fd = -1;
        pop3s_reply(s, "-ERR [SYS/TEMP] Cannot read message");
        return;
    }
    pop3s_reply(s, "+OK %llu octets", (unsigned long long)m->size);
    pop3_stuff_init(&s->stuff, lines);
    s->state = POP3S_SENDING;
    bufferevent_disable(s->bev, EV_READ);
    bufferevent_setwatermark(s->bev, EV_WRITE, POP3S_OUT_HIGH / 2, 0);
    pop3s_feed(s);
}

static void pop3s_listing(struct pop3_session *s, const struct pop3_cmd *c, int uidl)
{
    if (c->n_nums == 1) {
        struct mailbox_msg *m = pop3s_msg(s, c->num[0]);
        if (m && uidl)
            pop3s_reply(s, "+OK %lu %s", c->num[0], m->uid);
        else if (m)
            pop3s_reply(s, "+OK %lu %llu", c->num[0], (unsigned long long)m->size);
        return;
    }
    pop3s_reply(s, "+OK");
    for (size_t i = 0; i < s->mb.n; i++) {
        const struct mailbox_msg *m = &s->mb.msgs[i];
        if (m->deleted)
            continue;
        if (uidl)
            pop3s_reply(s, "%zu %s", i + 1, m->uid);
        else
            pop3s_reply(s, "%zu %llu", i + 1, (unsigned long long)m->size);
    }
    pop3s_reply(s, ".");
}

static void pop3s_transaction(struct pop3_session *s, const struct pop3_cmd *c)
{
    size_t count = 0;
    unsigned long long octets = 0;
    struct mailbox_msg *m;
    switch (c->verb) {
    case POP3_STAT:
        for (size_t i = 0; i < s->mb.n; i++)
            if (!s->mb.msgs[i].deleted) {
                count++;
                octets += s->mb.msgs[i].size;
            }
        pop3s_reply(s, "+OK %zu %llu", count, octets);
        return;
    case POP3_LIST:
    case POP3_UIDL:
        pop3s_listing(s, c, c->verb == POP3_UIDL);
        return;
    case POP3_RETR:
        pop3s_send(s, c->num[0], -1);
        return;
    case POP3_TOP:
        pop3s_send(s, c->num[0], c->num[1] > 100000000UL ? 100000000L : (long)c->num[1]);
        return;
    case POP3_DELE:
        if ((m = pop3s_msg(s, c->num[0])) != NULL) {
            m->deleted = 1;
            pop3s_reply(s, "+OK Marked to be deleted");
        }
        return;
    case POP3_NOOP:
        pop3s_reply(s, "+OK");
        return;
    case POP3_RSET:
        for (size_t i = 0; i < s->mb.n; i++)
            s->mb.msgs[i].deleted = 0;
        pop3s_reply(s, "+OK");
        return;
    default:
        pop3s_reply(s, "-ERR Not in this state");
        return;
    }
}

/* QUIT: in TRANSACTION, the UPDATE state (RFC 1939 6). */
static void pop3s_quit(struct pop3_session *s)
{
    if (s->state == POP3S_TRANSACTION) {
        size_t failed = mailbox_commit(&s->mb);
        if (failed) {
            pop3s_reply(s, "-ERR [SYS/TEMP] %zu messages not deleted", failed);
            pop3s_close(s);
            return;
        }
    }
    pop3s_reply(s, "+OK Bye");
    pop3s_close(s);
}

void pop3s_command(struct pop3_session *s, const char *line, size_t len)
{
    struct pop3_cmd c;
    enum pop3_parse_result r = pop3_parse_line(line, len, &c);
    if (r != POP3_PARSE_OK) {
        pop3s_reply(s, r == POP3_PARSE_UNKNOWN ? "-ERR Unknown command" : "-ERR Bad arguments");
        return;
    }
    if (c.verb == POP3_QUIT)
        pop3s_quit(s);
    else if (c.verb == POP3_CAPA)
        pop3s_capa(s);
    else if (s->state == POP3S_TRANSACTION)
        pop3s_transaction(s, &c);
    else
        pop3s_authorization(s, &c);
}
