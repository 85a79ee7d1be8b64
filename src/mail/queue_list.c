/*
 * queue_list: the queue listing (see queue_list.h): a walk over the queue
 * directories that holds one envelope at a time, and the formatters.
 */
#include "mail/queue_list.h"
#include "lib/alloc.h"
#include "lib/json.h"
#include "lib/str.h"
#include "mail/quarantine.h"
#include "mail/queue.h"
#include "proto/smtp_parse.h"
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

void queue_list_json(const struct envelope *e, struct buf *b)
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
 * size columns are as wide as the widest value (the first pass measures
 * them), so every line lines up.
 */
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

/* The column where the sender and the recipients start. */
static int queue_sender_column(int id_width, int size_width)
{
    return id_width + 1 + size_width + 2 + 20 + 2;
}

static void queue_human_header(int id_width, int size_width, struct buf *b)
{
    buf_printf(b, "%-*s %*s  %-20s  %s\n", id_width, "-Queue ID-", size_width, "-Size-",
               "-Arrival Time-", "-Sender/Recipient-");
}

void queue_list_human(const struct envelope *e, int id_width, int size_width, struct buf *b)
{
    char arrival[32];
    int indent = queue_sender_column(id_width, size_width);
    queue_list_time(e->arrival, arrival, sizeof arrival);
    buf_printf(b, "%s%-*s %*" PRIu64 "  %-20s  ", e->id, id_width - (int)strlen(e->id),
               e->hold ? "!" : "", size_width, e->size, arrival);
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



int queue_walk_open(struct queue_walk *w, const char *data_dir)
{
    memset(w, 0, sizeof *w);
    if (str_fmt(w->dir, sizeof w->dir, "%s/queue", data_dir) < 0)
        return errno = ENAMETOOLONG, -1;
    if (access(w->dir, F_OK) < 0) {
        if (errno != ENOENT)
            return -1;
        w->missing = 1;
    }
    return 0;
}

/* The next directory entry that may be a queue file (queue_scan's rules), or NULL at
 * the end; -1 in *err on a directory that cannot be read. */
static const char *queue_walk_entry(struct queue_walk *w, int *err)
{
    char sub[PATH_MAX];
    while (!w->missing) {
        if (!w->d) {
            if (w->sub >= 256)
                return NULL;
            str_fmt(sub, sizeof sub, "%s/%02X", w->dir, w->sub++);
            if (!(w->d = opendir(sub))) {
                if (errno == ENOENT)
                    continue;
                *err = -1;
                return NULL;
            }
        }
        struct dirent *de = readdir(w->d);
        if (!de) {
            closedir(w->d);
            w->d = NULL;
            continue;
        }
        size_t n = strlen(de->d_name);
        if (de->d_name[0] == '.' || n > QUEUE_ID_MAX ||
            (n > 4 && strcmp(de->d_name + n - 4, ".tmp") == 0))
            continue;
        return de->d_name;
    }
    return NULL;
}

int queue_walk_next(struct queue_walk *w, struct envelope *e)
{
    char path[PATH_MAX];
    int err = 0;
    const char *name;
    while ((name = queue_walk_entry(w, &err))) {
        if (str_fmt(path, sizeof path, "%s/%02X/%s", w->dir, w->sub - 1, name) < 0)
            continue;
        if (queue_load(path, e) == 0)
            return 1;
        w->unreadable += errno != ENOENT; /* removed meanwhile: not listed, not counted */
    }
    return err;
}

void queue_walk_close(struct queue_walk *w)
{
    if (w->d)
        closedir(w->d);
    w->d = NULL;
}

int queue_list_open(struct queue_list_stream *s, const char *data_dir, int json)
{
    memset(s, 0, sizeof *s);
    s->json = json;
    s->phase = json ? QUEUE_LIST_MESSAGES : QUEUE_LIST_MEASURE;
    s->id_width = (int)strlen("-Queue ID-");
    s->size_width = (int)strlen("-Size-");
    if (str_copy(s->data_dir, sizeof s->data_dir, data_dir) < 0)
        return errno = ENAMETOOLONG, -1;
    return queue_walk_open(&s->walk, data_dir);
}

/* First pass of the human form: widens the columns for e. */
static void queue_list_measure(struct queue_list_stream *s, const struct envelope *e)
{
    char digits[24];
    int id = (int)strlen(e->id) + 1;
    int size = snprintf(digits, sizeof digits, "%" PRIu64, e->size);
    s->id_width = id > s->id_width ? id : s->id_width;
    s->size_width = size > s->size_width ? size : s->size_width;
    s->measured++;
}

/* The end of a pass: the next phase, with what it prints first. */
static int queue_list_pass_end(struct queue_list_stream *s, struct buf *out)
{
    queue_walk_close(&s->walk);
    if (s->phase == QUEUE_LIST_MEASURE) {
        if (s->measured == 0) {
            buf_appends(out, "Mail queue is empty\n");
            s->phase = QUEUE_LIST_END;
            return 1;
        }
        queue_human_header(s->id_width, s->size_width, out);
        s->phase = QUEUE_LIST_MESSAGES;
        return queue_walk_open(&s->walk, s->data_dir) < 0 ? -1 : 1;
    }
    s->phase = s->json ? QUEUE_LIST_DONE : QUEUE_LIST_END;
    return s->json ? 0 : 1;
}

/* The human listing's last lines: the summary and the damaged files. */
static int queue_list_end(struct queue_list_stream *s, struct buf *out)
{
    if (s->n)
        queue_human_summary(s->n, s->total, out);
    queue_list_damage(s->data_dir, s->walk.unreadable, "-- ", out);
    s->phase = QUEUE_LIST_DONE;
    return 0;
}

int queue_list_next(struct queue_list_stream *s, struct buf *out, size_t want)
{
    struct envelope e;
    size_t start = out->len;
    for (size_t files = 0; files < QUEUE_LIST_STEP_FILES && out->len - start < want; files++) {
        if (s->phase == QUEUE_LIST_END)
            return queue_list_end(s, out);
        if (s->phase == QUEUE_LIST_DONE)
            return 0;
        int r = queue_walk_next(&s->walk, &e);
        if (r < 0)
            return -1;
        if (r == 0) {
            if ((r = queue_list_pass_end(s, out)) <= 0)
                return r;
            continue;
        }
        if (s->phase == QUEUE_LIST_MEASURE) {
            queue_list_measure(s, &e);
        } else {
            if (s->json)
                queue_list_json(&e, out);
            else
                queue_list_human(&e, s->id_width, s->size_width, out);
            s->n++;
            s->total += e.size;
        }
        envelope_free(&e);
    }
    return s->phase == QUEUE_LIST_DONE ? 0 : 1;
}

void queue_list_close(struct queue_list_stream *s)
{
    queue_walk_close(&s->walk);
}

void queue_list_damage(const char *data_dir, size_t unreadable, const char *prefix,
                       struct buf *b)
{
    char dir[PATH_MAX];
    long corrupt = quarantine_count(data_dir);
    if (quarantine_dir(data_dir, dir, sizeof dir) < 0)
        return;
    if (corrupt != 0)
        buf_printf(b, "%s%ld corrupt queue file%s in %s\n", prefix, corrupt,
                   corrupt == 1 ? "" : "s", dir);
    if (unreadable)
        buf_printf(b, "%s%zu unreadable queue file%s in %s/queue (moved to %s at the next "
                   "start)\n", prefix, unreadable, unreadable == 1 ? "" : "s", data_dir, dir);
}

int queue_list_format(const char *data_dir, int json, struct buf *out, struct buf *note)
{
    struct queue_list_stream s;
    int r = queue_list_open(&s, data_dir, json);
    while (r == 0 && (r = queue_list_next(&s, out, SIZE_MAX)) > 0)
        r = 0;
    int saved = errno;
    if (r == 0 && json && note)
        queue_list_damage(data_dir, s.walk.unreadable, "postino: ", note);
    queue_list_close(&s);
    errno = saved;
    return r;
}

void queue_listing_free(struct queue_listing *l)
{
    for (size_t i = 0; i < l->n; i++)
        envelope_free(&l->msgs[i]);
    free(l->msgs);
    memset(l, 0, sizeof *l);
}
