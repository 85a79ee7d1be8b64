/*
 * queue_list: the queue listing (see queue_list.h).
 */
#include "mail/queue_list.h"
#include "lib/alloc.h"
#include "lib/json.h"
#include "lib/str.h"
#include "mail/quarantine.h"
#include "mail/queue.h"
#include "proto/smtp_parse.h"
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int queue_collect(void *ctx, const char *path, const char *id)
{
    struct queue_listing *l = ctx;
    struct envelope e;
    (void)id;
    if (queue_load(path, &e) < 0) {
        l->unreadable += errno != ENOENT; /* removed meanwhile: not listed, not counted */
        return 0;
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->msgs = xrealloc(l->msgs, l->cap * sizeof *l->msgs);
    }
    l->msgs[l->n++] = e;
    return 0;
}

static int queue_by_arrival(const void *a, const void *b)
{
    const struct envelope *x = a, *y = b;
    return x->arrival < y->arrival ? -1 : x->arrival > y->arrival ? 1 : strcmp(x->id, y->id);
}

void queue_list_time(int64_t ms, char *out, size_t size)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void queue_json_rcpt(struct buf *b, const struct env_rcpt *r)
{
    char notify[64], next[32];
    smtp_notify_format(r->notify, notify, sizeof notify);
    queue_list_time(r->next_attempt, next, sizeof next);
    buf_appends(b, "{\"address\":");
    json_str(b, r->addr);
    buf_appends(b, ",\"status\":");
    json_str(b, rcpt_status_name(r->status));
    buf_appends(b, ",\"notify\":");
    json_str(b, notify[0] ? notify : NULL);
    buf_appends(b, ",\"orcpt\":");
    json_str(b, r->orcpt);
    buf_printf(b, ",\"attempts\":%u,\"next_attempt\":", r->attempts);
    json_str(b, r->next_attempt > 0 ? next : NULL);
    buf_appends(b, ",\"last_reply\":");
    json_str(b, r->last_reply);
    buf_appends(b, ",\"remote_mta\":");
    json_str(b, r->remote_mta);
    buf_appends(b, ",\"tls\":");
    json_str(b, r->tls);
    buf_putc(b, '}');
}

static void queue_json(const struct envelope *e, struct buf *b)
{
    char arrival[32];
    queue_list_time(e->arrival, arrival, sizeof arrival);
    buf_appends(b, "{\"id\":");
    json_str(b, e->id);
    buf_appends(b, ",\"sender\":");
    json_str(b, e->sender);
    buf_printf(b, ",\"size\":%" PRIu64 ",\"arrival\":", e->size);
    json_str(b, arrival);
    buf_printf(b, ",\"hold\":%s,\"ret\":", e->hold ? "true" : "false");
    json_str(b, e->ret ? dsn_ret_name(e->ret) : NULL);
    buf_appends(b, ",\"envid\":");
    json_str(b, e->envid);
    buf_appends(b, ",\"recipients\":[");
    for (size_t i = 0; i < e->n_rcpts; i++) {
        if (i)
            buf_putc(b, ',');
        queue_json_rcpt(b, &e->rcpts[i]);
    }
    buf_appends(b, "]}\n");
}

/*
 * The human listing, laid out like Postfix's mailq: per message a line with
 * the queue id ('!' after it when held), the size in octets, the arrival
 * time (UTC) and the sender; under the sender, each recipient still waiting
 * (pending or deferred) with its status, then its last reply in parentheses;
 * a blank line between messages and a summary line at the end. The id and
 * size columns are as wide as the widest value, so every line lines up.
 */
struct queue_columns {
    int id, size; /* widths: id includes the hold marker */
};

#define QUEUE_STATUS_WIDTH 8 /* "deferred" */

/* Appends s with control characters shown as '?' (a reply is remote text). */
static void queue_put_text(struct buf *b, const char *s)
{
    size_t start = 0, i = 0;
    for (; s[i]; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f) {
            buf_append(b, s + start, i - start);
            buf_putc(b, '?');
            start = i + 1;
        }
    }
    buf_append(b, s + start, i - start);
}

static int queue_rcpt_waiting(const struct env_rcpt *r)
{
    return r->status == RCPT_PENDING || r->status == RCPT_DEFERRED;
}

static struct queue_columns queue_columns(const struct queue_listing *l)
{
    struct queue_columns w = {(int)strlen("-Queue ID-"), (int)strlen("-Size-")};
    char digits[24];
    for (size_t i = 0; i < l->n; i++) {
        int id = (int)strlen(l->msgs[i].id) + 1;
        int size = snprintf(digits, sizeof digits, "%" PRIu64, l->msgs[i].size);
        w.id = id > w.id ? id : w.id;
        w.size = size > w.size ? size : w.size;
    }
    return w;
}

/* The column where the sender and the recipients start. */
static int queue_sender_column(const struct queue_columns *w)
{
    return w->id + 1 + w->size + 2 + 20 + 2;
}

static void queue_human_header(const struct queue_columns *w, struct buf *b)
{
    buf_printf(b, "%-*s %*s  %-20s  %s\n", w->id, "-Queue ID-", w->size, "-Size-",
               "-Arrival Time-", "-Sender/Recipient-");
}

static void queue_human(const struct envelope *e, const struct queue_columns *w, struct buf *b)
{
    char arrival[32];
    int indent = queue_sender_column(w);
    queue_list_time(e->arrival, arrival, sizeof arrival);
    buf_printf(b, "%s%-*s %*" PRIu64 "  %-20s  ", e->id, w->id - (int)strlen(e->id),
               e->hold ? "!" : "", w->size, e->size, arrival);
    queue_put_text(b, e->sender[0] ? e->sender : "<>");
    buf_putc(b, '\n');
    for (size_t i = 0; i < e->n_rcpts; i++) {
        const struct env_rcpt *r = &e->rcpts[i];
        if (!queue_rcpt_waiting(r))
            continue;
        buf_printf(b, "%*s%-*s  ", indent, "", QUEUE_STATUS_WIDTH, rcpt_status_name(r->status));
        queue_put_text(b, r->addr);
        buf_putc(b, '\n');
        if (r->last_reply) {
            buf_printf(b, "%*s(", indent + QUEUE_STATUS_WIDTH + 2, "");
            queue_put_text(b, r->last_reply);
            buf_appends(b, ")\n");
        }
    }
    buf_putc(b, '\n');
}

/* "-- 12 Kbytes in 3 Requests." as mailq ends. */
static void queue_human_summary(size_t n, uint64_t total, struct buf *b)
{
    buf_printf(b, "-- %" PRIu64 " Kbytes in %zu Request%s.\n", (total + 1023) / 1024, n,
               n == 1 ? "" : "s");
}


int queue_listing_load(const char *data_dir, struct queue_listing *l)
{
    struct queue q;
    memset(l, 0, sizeof *l);
    if (str_fmt(q.dir, sizeof q.dir, "%s/queue", data_dir) < 0)
        return errno = ENAMETOOLONG, -1;
    if (access(q.dir, F_OK) < 0)
        return errno == ENOENT ? 0 : -1;
    if (queue_scan(&q, 0, queue_collect, l) < 0) {
        int saved = errno;
        queue_listing_free(l);
        errno = saved;
        return -1;
    }
    if (l->n > 1)
        qsort(l->msgs, l->n, sizeof *l->msgs, queue_by_arrival);
    return 0;
}

void queue_listing_free(struct queue_listing *l)
{
    for (size_t i = 0; i < l->n; i++)
        envelope_free(&l->msgs[i]);
    free(l->msgs);
    memset(l, 0, sizeof *l);
}

void queue_listing_format(const struct queue_listing *l, int json, struct buf *out)
{
    struct queue_columns w = queue_columns(l);
    if (!json && l->n == 0)
        buf_appends(out, "Mail queue is empty\n");
    else if (!json)
        queue_human_header(&w, out);
    uint64_t total = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (json)
            queue_json(&l->msgs[i], out);
        else
            queue_human(&l->msgs[i], &w, out);
        total += l->msgs[i].size;
    }
    if (!json && l->n)
        queue_human_summary(l->n, total, out);
}

void queue_listing_damage(const char *data_dir, const struct queue_listing *l,
                          const char *prefix, struct buf *b)
{
    char dir[PATH_MAX];
    long corrupt = quarantine_count(data_dir);
    if (quarantine_dir(data_dir, dir, sizeof dir) < 0)
        return;
    if (corrupt != 0)
        buf_printf(b, "%s%ld corrupt queue file%s in %s\n", prefix, corrupt,
                   corrupt == 1 ? "" : "s", dir);
    if (l->unreadable)
        buf_printf(b, "%s%zu unreadable queue file%s in %s/queue (moved to %s at the next "
                   "start)\n", prefix, l->unreadable, l->unreadable == 1 ? "" : "s",
                   data_dir, dir);
}

int queue_list_format(const char *data_dir, int json, struct buf *out, struct buf *note)
{
    struct queue_listing l;
    if (queue_listing_load(data_dir, &l) < 0)
        return -1;
    queue_listing_format(&l, json, out);
    if (!json)
        queue_listing_damage(data_dir, &l, "-- ", out);
    else if (note)
        queue_listing_damage(data_dir, &l, "postino: ", note);
    queue_listing_free(&l);
    return 0;
}
