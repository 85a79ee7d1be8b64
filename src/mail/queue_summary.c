/*
 * queue_summary: the qshape-like table of the queue (see queue_summary.h).
 * Domains are kept in an array with a hash index beside it: a queue of a
 * million messages may name a hundred thousand domains.
 */
#include "mail/queue_summary.h"
#include "lib/alloc.h"
#include "lib/json.h"
#include "lib/str.h"
#include <errno.h>
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

static size_t queue_summary_hash(const char *domain)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)domain; *p; p++)
        h = (h ^ *p) * 1099511628211u;
    return (size_t)h;
}

/* The index slot of domain: its row's, or the free one where it would go. */
static size_t *queue_summary_slot(const struct queue_summary *s, const char *domain)
{
    size_t mask = s->index_cap - 1;
    for (size_t i = queue_summary_hash(domain) & mask;; i = (i + 1) & mask)
        if (!s->index[i] || strcmp(s->rows[s->index[i] - 1].domain, domain) == 0)
            return &s->index[i];
}

/* Doubles the index and puts every domain row back into it. */
static void queue_summary_rehash(struct queue_summary *s)
{
    free(s->index);
    s->index_cap = s->index_cap ? s->index_cap * 2 : 64;
    s->index = xcalloc(s->index_cap, sizeof *s->index);
    for (size_t r = 1; r < s->n; r++)
        *queue_summary_slot(s, s->rows[r].domain) = r + 1;
}

/* The row of domain (added, zeroed, when new). */
static struct queue_summary_row *queue_summary_row(struct queue_summary *s, const char *domain)
{
    if (2 * (s->n + 1) > s->index_cap)
        queue_summary_rehash(s);
    size_t *slot = queue_summary_slot(s, domain);
    if (*slot)
        return &s->rows[*slot - 1];
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->rows = xrealloc(s->rows, s->cap * sizeof *s->rows);
    }
    s->rows[s->n] = (struct queue_summary_row){.domain = xstrdup(domain)};
    *slot = ++s->n;
    return &s->rows[s->n - 1];
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

void queue_summary_init(struct queue_summary *s)
{
    memset(s, 0, sizeof *s);
    s->cap = 16;
    s->rows = xcalloc(s->cap, sizeof *s->rows);
    s->rows[0].domain = xstrdup("TOTAL"); /* not in the index: a domain may be "total" */
    s->n = 1;
}

void queue_summary_add(struct queue_summary *s, const struct envelope *e, int64_t now_ms)
{
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

void queue_summary_finish(struct queue_summary *s)
{
    free(s->index); /* the rows move: the index would point wrong */
    s->index = NULL;
    s->index_cap = 0;
    if (s->n > 2)
        qsort(s->rows + 1, s->n - 1, sizeof *s->rows, queue_summary_order);
}

void queue_summary_build(const struct queue_listing *l, int64_t now_ms, struct queue_summary *s)
{
    queue_summary_init(s);
    for (size_t m = 0; m < l->n; m++)
        queue_summary_add(s, &l->msgs[m], now_ms);
    queue_summary_finish(s);
}

void queue_summary_free(struct queue_summary *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->rows[i].domain);
    free(s->rows);
    free(s->index);
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

int queue_summary_open(struct queue_summary_stream *ss, const char *data_dir, int64_t now_ms,
                       int json)
{
    memset(ss, 0, sizeof *ss);
    ss->now_ms = now_ms;
    ss->json = json;
    if (queue_walk_open(&ss->walk, data_dir) < 0)
        return -1;
    queue_summary_init(&ss->table);
    return 0;
}

int queue_summary_next(struct queue_summary_stream *ss, struct buf *out)
{
    struct envelope e;
    if (ss->done)
        return 0;
    for (size_t files = 0; files < QUEUE_LIST_STEP_FILES; files++) {
        int r = queue_walk_next(&ss->walk, &e);
        if (r < 0)
            return -1;
        if (r == 0) {
            queue_summary_finish(&ss->table);
            queue_summary_format(&ss->table, ss->json, out);
            ss->done = 1;
            return 0;
        }
        queue_summary_add(&ss->table, &e, ss->now_ms);
        envelope_free(&e);
    }
    return 1;
}

void queue_summary_close(struct queue_summary_stream *ss)
{
    queue_walk_close(&ss->walk);
    queue_summary_free(&ss->table);
}

int queue_summary_text(const char *data_dir, int64_t now_ms, int json, struct buf *out)
{
    struct queue_summary_stream ss;
    int r = queue_summary_open(&ss, data_dir, now_ms, json);
    if (r < 0)
        return -1;
    while ((r = queue_summary_next(&ss, out)) > 0)
        ;
    int saved = errno;
    queue_summary_close(&ss);
    errno = saved;
    return r;
}
