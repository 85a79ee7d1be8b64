/*
 * queue_summary: the qshape-like table of the queue (see queue_summary.h).
 * Domains are kept in a plain array searched linearly: a queue that backs
 * up does so toward a handful of destinations, and the command runs once.
 */
#include "mail/queue_summary.h"
#include "lib/alloc.h"
#include "lib/json.h"
#include "lib/str.h"
#include <stdlib.h>
#include <string.h>

#define QUEUE_SUMMARY_FIRST_MS (5 * 60 * 1000)

static const char *const queue_summary_labels[QUEUE_SUMMARY_BUCKETS] = {
    "5m", "10m", "20m", "40m", "80m", "160m", "320m", "640m", "1280m", "1280m+"};

size_t queue_summary_bucket(int64_t age_ms)
{
    int64_t limit = QUEUE_SUMMARY_FIRST_MS;
    size_t b = 0;
    while (b < QUEUE_SUMMARY_BUCKETS - 1 && age_ms >= limit) {
        b++;
        limit *= 2;
    }
    return b;
}

/* The row of domain (added, zeroed, when new). */
static struct queue_summary_row *queue_summary_row(struct queue_summary *s, const char *domain)
{
    for (size_t i = 1; i < s->n; i++)
        if (strcmp(s->rows[i].domain, domain) == 0)
            return &s->rows[i];
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->rows = xrealloc(s->rows, s->cap * sizeof *s->rows);
    }
    s->rows[s->n] = (struct queue_summary_row){.domain = xstrdup(domain)};
    return &s->rows[s->n++];
}

static void queue_summary_count(struct queue_summary_row *row, size_t bucket)
{
    row->total++;
    row->buckets[bucket]++;
}

/* Largest total first, then by name; TOTAL stays first. */
static int queue_summary_order(const void *a, const void *b)
{
    const struct queue_summary_row *x = a, *y = b;
    if (x->total != y->total)
        return x->total > y->total ? -1 : 1;
    return strcmp(x->domain, y->domain);
}

void queue_summary_build(const struct queue_listing *l, int64_t now_ms, struct queue_summary *s)
{
    memset(s, 0, sizeof *s);
    queue_summary_row(s, "TOTAL");
    for (size_t m = 0; m < l->n; m++) {
        const struct envelope *e = &l->msgs[m];
        size_t bucket = queue_summary_bucket(now_ms - e->arrival);
        for (size_t i = 0; i < e->n_rcpts; i++) {
            const struct env_rcpt *r = &e->rcpts[i];
            if (r->status != RCPT_PENDING && r->status != RCPT_DEFERRED)
                continue;
            const char *at = strrchr(r->addr, '@');
            char domain[256];
            str_copy(domain, sizeof domain, at && at[1] ? at + 1 : "(none)");
            str_lower(domain);
            queue_summary_count(&s->rows[0], bucket);
            queue_summary_count(queue_summary_row(s, domain), bucket);
        }
    }
    if (s->n > 2)
        qsort(s->rows + 1, s->n - 1, sizeof *s->rows, queue_summary_order);
}

void queue_summary_free(struct queue_summary *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->rows[i].domain);
    free(s->rows);
    memset(s, 0, sizeof *s);
}

static void queue_summary_json_row(const struct queue_summary_row *row, struct buf *out)
{
    buf_appends(out, "{\"domain\":");
    json_str(out, row->domain);
    buf_printf(out, ",\"total\":%llu,\"buckets\":[", (unsigned long long)row->total);
    for (size_t b = 0; b < QUEUE_SUMMARY_BUCKETS; b++)
        buf_printf(out, "%s%llu", b ? "," : "", (unsigned long long)row->buckets[b]);
    buf_appends(out, "]}");
}

static void queue_summary_json(const struct queue_summary *s, struct buf *out)
{
    buf_appends(out, "{\"buckets\":[");
    for (size_t b = 0; b < QUEUE_SUMMARY_BUCKETS; b++) {
        buf_appends(out, b ? "," : "");
        json_str(out, queue_summary_labels[b]);
    }
    buf_appends(out, "],\"total\":");
    queue_summary_json_row(&s->rows[0], out);
    buf_appends(out, ",\"domains\":[");
    for (size_t i = 1; i < s->n; i++) {
        buf_appends(out, i > 1 ? "," : "");
        queue_summary_json_row(&s->rows[i], out);
    }
    buf_appends(out, "]}\n");
}

static void queue_summary_table(const struct queue_summary *s, struct buf *out)
{
    int width = 6;
    for (size_t i = 0; i < s->n; i++)
        if ((int)strlen(s->rows[i].domain) > width)
            width = (int)strlen(s->rows[i].domain);
    buf_printf(out, "%*s %6s", width, "", "T");
    for (size_t b = 0; b < QUEUE_SUMMARY_BUCKETS; b++)
        buf_printf(out, " %6s", queue_summary_labels[b]);
    buf_putc(out, '\n');
    for (size_t i = 0; i < s->n; i++) {
        const struct queue_summary_row *row = &s->rows[i];
        buf_printf(out, "%*s %6llu", width, row->domain, (unsigned long long)row->total);
        for (size_t b = 0; b < QUEUE_SUMMARY_BUCKETS; b++)
            buf_printf(out, " %6llu", (unsigned long long)row->buckets[b]);
        buf_putc(out, '\n');
    }
}

void queue_summary_format(const struct queue_summary *s, int json, struct buf *out)
{
    if (json)
        queue_summary_json(s, out);
    else
        queue_summary_table(s, out);
}

int queue_summary_text(const char *data_dir, int64_t now_ms, int json, struct buf *out)
{
    struct queue_listing l;
    struct queue_summary s;
    if (queue_listing_load(data_dir, &l) < 0)
        return -1;
    queue_summary_build(&l, now_ms, &s);
    queue_summary_format(&s, json, out);
    queue_summary_free(&s);
    queue_listing_free(&l);
    return 0;
}
