/*
 * queue_summary: `postino queue summary`, the queue by recipient domain and
 * age like Postfix's qshape: for each domain, the recipients still waiting
 * (pending or deferred, held messages included), in total (T) and by the age
 * of their message in buckets that double: under 5 minutes, 5 to 10, 10 to
 * 20, ... 640 to 1280, and 1280 minutes or more. The first row is TOTAL;
 * domains follow by total, largest first (then by name). The table is
 * built one message at a time (queue_summary_add), so its memory grows with
 * the domains, not the messages. Pure but for queue_summary_open/next,
 * which walk the queue files (mail/queue_list.h).
 */
#ifndef POSTINO_QUEUE_SUMMARY_H
#define POSTINO_QUEUE_SUMMARY_H
#include <stddef.h>
#include <stdint.h>
#include "lib/buf.h"
#include "mail/queue_list.h"

#define QUEUE_SUMMARY_BUCKETS 10   /* 5m 10m 20m 40m 80m 160m 320m 640m 1280m 1280m+ */

struct queue_summary_row {
    char *domain;                  /* lower case; "TOTAL" for the first row */
    uint64_t total;
    uint64_t buckets[QUEUE_SUMMARY_BUCKETS];
};

struct queue_summary {
    struct queue_summary_row *rows; /* rows[0] is TOTAL */
    size_t n, cap;
    size_t *index;                  /* open addressing: row number + 1, 0 when free */
    size_t index_cap;               /* a power of two, at least twice n */
};

/* Starts an empty table (the TOTAL row only). */
void queue_summary_init(struct queue_summary *s);
/* Counts the waiting recipients of e, its age taken at now_ms (ms since the epoch). */
void queue_summary_add(struct queue_summary *s, const struct envelope *e, int64_t now_ms);
/* Puts the domains in their order (largest first); call once, before formatting. */
void queue_summary_finish(struct queue_summary *s);
/* Builds s from the messages of l: init, add each, finish. */
void queue_summary_build(const struct queue_listing *l, int64_t now_ms, struct queue_summary *s);
void queue_summary_free(struct queue_summary *s);
/* The bucket of a message that arrived age_ms ago (0 .. QUEUE_SUMMARY_BUCKETS-1). */
size_t queue_summary_bucket(int64_t age_ms);
/* Appends the table (json 0) or one JSON object (json 1, see postino(8)). */
void queue_summary_format(const struct queue_summary *s, int json, struct buf *out);
/* The table made while walking the queue, in steps (as queue_list_next). */
struct queue_summary_stream {
    struct queue_walk walk;
    struct queue_summary table;
    int64_t now_ms;
    int json;
    int done;
};

/* 0, or -1 with errno. */
int queue_summary_open(struct queue_summary_stream *ss, const char *data_dir, int64_t now_ms,
                       int json);
/* Reads up to QUEUE_LIST_STEP_FILES files; at the end appends the table to out.
 * 1: more to come, 0: complete, -1 with errno (EACCES: not this user's queue). */
int queue_summary_next(struct queue_summary_stream *ss, struct buf *out);
void queue_summary_close(struct queue_summary_stream *ss);
/* Walks DATA_DIR's queue, builds at now_ms and formats: the whole output. -1 with errno. */
int queue_summary_text(const char *data_dir, int64_t now_ms, int json, struct buf *out);

#endif
