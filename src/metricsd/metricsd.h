/*
 * metricsd: the `listen metrics ADDR:PORT` listeners. Serves GET /metrics
 * in the Prometheus text format (mail/metrics.h) through libevent's evhttp,
 * on the event loop of `postino serve`; every other path is 404, every
 * other method 405. Read-only: a scrape changes nothing. The queue gauges
 * come from a callback the caller supplies (the scheduler owns the queue).
 */
#ifndef POSTINO_METRICSD_H
#define POSTINO_METRICSD_H
#include <event2/event.h>
#include "mail/conf.h"
#include "mail/metrics.h"

struct metricsd;

/* Fills g from the live queue at scrape time. */
typedef void (*metricsd_gauges_fn)(void *arg, struct metrics_gauges *g);

/* Binds every metrics listener of c (none: an idle object); NULL (logged) if one cannot
 * be bound. */
struct metricsd *metricsd_new(struct event_base *base, const struct conf *c,
                              metricsd_gauges_fn gauges, void *arg);
void metricsd_free(struct metricsd *md);

#endif
