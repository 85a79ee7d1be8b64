/*
 * prom: the Prometheus text exposition format, version 0.0.4, as a pure
 * writer into a buf: a family header (# HELP, # TYPE, once per family), a
 * sample with at most one label, and a histogram with fixed buckets
 * (_bucket with a cumulative count per upper bound, le="+Inf", _sum,
 * _count). Label values are escaped (\\, \", \n); HELP text escapes \\ and
 * \n. No mail knowledge, no I/O, no clock: the caller owns the values.
 */
#ifndef POSTINO_PROM_H
#define POSTINO_PROM_H
#include <stddef.h>
#include <stdint.h>
#include "lib/buf.h"

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum prom_type { PROM_COUNTER, PROM_GAUGE, PROM_HISTOGRAM };

/* A histogram with fixed upper bounds (ascending, +Inf implied after the last). */
struct prom_hist {
    const double *bounds;
    size_t n_bounds;
    uint64_t *counts;        /* n_bounds + 1 slots: per bucket, not cumulative; last = +Inf */
    double sum;
    uint64_t count;
};

/* "# HELP name help" and "# TYPE name type". */
void prom_family(struct buf *b, const char *name, const char *help, enum prom_type type);
/* "name value" or "name{label="value"} value" when label is not NULL. */
void prom_sample(struct buf *b, const char *name, const char *label, const char *label_value,
                 double value);
/* The same for a counter (exact integers past 2^53). */
void prom_sample_u64(struct buf *b, const char *name, const char *label,
                     const char *label_value, uint64_t value);
/* Adds one observation to h. */
void prom_hist_observe(struct prom_hist *h, double v);
/* Writes name_bucket{le=...} (cumulative), name_sum and name_count of h. */
void prom_hist_write(struct buf *b, const char *name, const struct prom_hist *h);
/* Appends s escaped for a label value (backslash, double quote, newline). */
void prom_escape_label(struct buf *b, const char *s);

#endif
