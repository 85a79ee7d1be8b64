/*
 * queue_summary: `postino queue summary`, the queue by recipient domain and
 * age like Postfix's qshape: for each domain, the recipients still waiting
 * (pending or deferred, held messages included), in total (T) and by the age
 * of their message in buckets that double: under 5 minutes, 5 to 10, 10 to
 * 20, ... 640 to 1280, and 1280 minutes or more. The first row is TOTAL;
 * domains follow by total, largest first (then by name). Pure: the listing
 * and "now" are given (mail/queue_list.h loads the files); no I/O.
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
};

/* Builds s from the messages of l, ages taken at now_ms (ms since the epoch). */
void queue_summary_build(const struct queue_listing *l, int64_t now_ms, struct queue_summary *s);
void queue_summary_free(struct queue_summary *s);
/* The bucket of a message that arrived age_ms ago (0 .. QUEUE_SUMMARY_BUCKETS-1). */
size_t queue_summary_bucket(int64_t age_ms);
/* Appends the table (json 0) or one JSON object (json 1, see postino(8)). */
void queue_summary_format(const struct queue_summary *s, int json, struct buf *out);
/* Loads DATA_DIR's queue, builds at now_ms and formats: the whole output. -1 with errno. */
int queue_summary_text(const char *data_dir, int64_t now_ms, int json, struct buf *out);

#endif
