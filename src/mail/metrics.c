/*
 * metrics: postino's counters and histograms (see metrics.h). One static
 * registry for the process: the hooks are called from many modules, and
 * passing a handle through each of them would touch every constructor.
 * Counter updates are relaxed atomic adds (a scrape may see one family a
 * moment ahead of another, never a torn value); each histogram takes its
 * own mutex, uncontended in practice (one observation per message).
 */
#include "mail/metrics.h"
#include "lib/prom.h"
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#define METRICS_N_CLASS 3      /* 2xx, 4xx, 5xx */
enum metrics_result { RESULT_DELIVERED, RESULT_RELAYED, RESULT_DEFERRED, RESULT_FAILED,
                      N_RESULT };
#define N_NOTICE (NOTIFY_EXPANDED + 1)

/* Commit: group commit fsyncs are milliseconds; a slow disk shows above 0.1. */
static const double metrics_commit_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                               0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
/* Delivery delay: local delivery is sub-second; retries are minutes to days. */
static const double metrics_delay_bounds[] = {0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300, 900,
                                              3600, 14400, 86400, 432000};
#define N_COMMIT (sizeof metrics_commit_bounds / sizeof metrics_commit_bounds[0])
#define N_DELAY (sizeof metrics_delay_bounds / sizeof metrics_delay_bounds[0])

struct metrics_hist {
    pthread_mutex_t lock;
    struct prom_hist h;
};

static struct {
    _Atomic uint64_t connections[METRICS_SERVICES], open[METRICS_SERVICES];
    _Atomic uint64_t replies[METRICS_N_CLASS];
    _Atomic uint64_t messages, bytes;
    _Atomic uint64_t results[N_RESULT];
    _Atomic uint64_t notices[N_NOTICE];
    uint64_t commit_counts[N_COMMIT + 1], delay_counts[N_DELAY + 1];
    struct metrics_hist commit, delay;
} metrics = {
    .commit = {PTHREAD_MUTEX_INITIALIZER, {.bounds = metrics_commit_bounds, .n_bounds = N_COMMIT,
                                           .counts = metrics.commit_counts}},
    .delay = {PTHREAD_MUTEX_INITIALIZER, {.bounds = metrics_delay_bounds, .n_bounds = N_DELAY,
                                          .counts = metrics.delay_counts}},
};

static const char *const metrics_class_names[METRICS_N_CLASS] = {"2xx", "4xx", "5xx"};
static const char *const metrics_result_names[N_RESULT] = {
    [RESULT_DELIVERED] = "delivered", [RESULT_RELAYED] = "relayed",
    [RESULT_DEFERRED] = "deferred", [RESULT_FAILED] = "failed"};
static const char *const metrics_qstate_names[METRICS_N_QSTATE] = {
    [METRICS_Q_PENDING] = "pending", [METRICS_Q_DEFERRED] = "deferred",
    [METRICS_Q_HELD] = "held"};

static void metrics_add(_Atomic uint64_t *counter, uint64_t n)
{
    atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

static uint64_t metrics_get(_Atomic uint64_t *counter)
{
    return atomic_load_explicit(counter, memory_order_relaxed);
}

static void metrics_observe(struct metrics_hist *mh, double v)
{
    pthread_mutex_lock(&mh->lock);
    prom_hist_observe(&mh->h, v);
    pthread_mutex_unlock(&mh->lock);
}

void metrics_connect(enum listen_kind service)
{
    if ((unsigned)service < METRICS_SERVICES) {
        metrics_add(&metrics.connections[service], 1);
        metrics_add(&metrics.open[service], 1);
    }
}

void metrics_disconnect(enum listen_kind service)
{
    if ((unsigned)service < METRICS_SERVICES)
        atomic_fetch_sub_explicit(&metrics.open[service], 1, memory_order_relaxed);
}

void metrics_smtp_reply(const char *text)
{
    const char *nl = strrchr(text, '\n');
    const char *line = nl && nl[1] ? nl + 1 : text; /* a multi-line reply: its last line */
    int cls = line[0] - '0';
    if ((cls != 2 && cls != 4 && cls != 5) || line[1] < '0' || line[1] > '9' ||
        line[2] < '0' || line[2] > '9' || (line[3] != ' ' && line[3] != '\r'))
        return;
    metrics_add(&metrics.replies[cls == 2 ? 0 : cls - 3], 1);
}

void metrics_received(uint64_t bytes, double commit_seconds)
{
    metrics_add(&metrics.messages, 1);
    metrics_add(&metrics.bytes, bytes);
    metrics_observe(&metrics.commit, commit_seconds);
}

void metrics_outcome(enum rcpt_status status, int64_t since_arrival_ms)
{
    switch (status) {
    case RCPT_DELIVERED:
    case RCPT_RELAYED:
        metrics_add(&metrics.results[status == RCPT_DELIVERED ? RESULT_DELIVERED
                                                              : RESULT_RELAYED], 1);
        metrics_observe(&metrics.delay, since_arrival_ms > 0 ? since_arrival_ms / 1000.0 : 0);
        break;
    case RCPT_DEFERRED: metrics_add(&metrics.results[RESULT_DEFERRED], 1); break;
    case RCPT_FAILED: metrics_add(&metrics.results[RESULT_FAILED], 1); break;
    default: break; /* pending, expanded: no delivery attempt */
    }
}

void metrics_notice(enum notify_kind kind)
{
    if (kind > NOTIFY_NONE && kind < N_NOTICE)
        metrics_add(&metrics.notices[kind], 1);
}

double metrics_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void metrics_hist_reset(struct metrics_hist *mh)
{
    pthread_mutex_lock(&mh->lock);
    memset(mh->h.counts, 0, (mh->h.n_bounds + 1) * sizeof *mh->h.counts);
    mh->h.sum = 0;
    mh->h.count = 0;
    pthread_mutex_unlock(&mh->lock);
}

void metrics_reset(void)
{
    _Atomic uint64_t *all[] = {metrics.connections, metrics.open, metrics.replies,
                               &metrics.messages, &metrics.bytes, metrics.results, metrics.notices};
    size_t lens[] = {METRICS_SERVICES, METRICS_SERVICES, METRICS_N_CLASS, 1, 1, N_RESULT, N_NOTICE};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        for (size_t i = 0; i < lens[k]; i++)
            atomic_store(&all[k][i], 0);
    metrics_hist_reset(&metrics.commit);
    metrics_hist_reset(&metrics.delay);
}

/* One counter or gauge family with a label: values[i] under label=names[i]. */
static void metrics_family(struct buf *b, const char *name, const char *help, enum prom_type type,
                           const char *label, const char *const *names,
                           _Atomic uint64_t *values, size_t n)
{
    prom_family(b, name, help, type);
    for (size_t i = 0; i < n; i++)
        prom_sample_u64(b, name, label, names[i], metrics_get(&values[i]));
}

static void metrics_queue_format(const struct metrics_gauges *g, struct buf *b)
{
    prom_family(b, "postino_queue_messages", "Queued messages by state.", PROM_GAUGE);
    for (size_t i = 0; i < METRICS_N_QSTATE; i++)
        prom_sample_u64(b, "postino_queue_messages", "state", metrics_qstate_names[i],
                        g->queue_messages[i]);
    prom_family(b, "postino_queue_recipients", "Recipients still waiting, by state.", PROM_GAUGE);
    for (size_t i = 0; i < METRICS_N_QSTATE; i++)
        prom_sample_u64(b, "postino_queue_recipients", "state", metrics_qstate_names[i],
                        g->queue_recipients[i]);
    prom_family(b, "postino_queue_oldest_age_seconds", "Age of the oldest queued message.",
                PROM_GAUGE);
    prom_sample(b, "postino_queue_oldest_age_seconds", NULL, NULL, g->oldest_age_seconds);
}

static void metrics_hist_format(struct buf *b, const char *name, const char *help,
                                struct metrics_hist *mh)
{
    prom_family(b, name, help, PROM_HISTOGRAM);
    pthread_mutex_lock(&mh->lock);
    prom_hist_write(b, name, &mh->h);
    pthread_mutex_unlock(&mh->lock);
}

void metrics_format(const struct metrics_gauges *g, struct buf *b)
{
    const char *services[METRICS_SERVICES], *notices[N_NOTICE];
    for (int i = 0; i < METRICS_SERVICES; i++)
        services[i] = conf_listen_kind_name((enum listen_kind)i);
    for (int i = 1; i < N_NOTICE; i++)
        notices[i] = notify_kind_name((enum notify_kind)i);
    metrics_family(b, "postino_connections_total", "Client connections accepted, by service.",
                   PROM_COUNTER, "service", services, metrics.connections, METRICS_SERVICES);
    metrics_family(b, "postino_smtp_replies_total", "SMTP final replies sent, by class.",
                   PROM_COUNTER, "class", metrics_class_names, metrics.replies, METRICS_N_CLASS);
    prom_family(b, "postino_messages_received_total", "Messages accepted into the queue.",
                PROM_COUNTER);
    prom_sample_u64(b, "postino_messages_received_total", NULL, NULL,
                    metrics_get(&metrics.messages));
    prom_family(b, "postino_received_bytes_total", "Bytes of accepted messages.", PROM_COUNTER);
    prom_sample_u64(b, "postino_received_bytes_total", NULL, NULL, metrics_get(&metrics.bytes));
    metrics_family(b, "postino_deliveries_total", "Delivery outcomes, per recipient.",
                   PROM_COUNTER, "result", metrics_result_names, metrics.results, N_RESULT);
    metrics_family(b, "postino_notices_total", "Delivery status notices queued, by action.",
                   PROM_COUNTER, "action", notices + 1, metrics.notices + 1, N_NOTICE - 1);
    if (g)
        metrics_queue_format(g, b);
    metrics_family(b, "postino_open_connections", "Client connections open now, by service.",
                   PROM_GAUGE, "service", services, metrics.open, METRICS_SERVICES);
    metrics_hist_format(b, "postino_commit_seconds", "From the end of DATA to the 250 reply.",
                        &metrics.commit);
    metrics_hist_format(b, "postino_delivery_delay_seconds",
                        "From arrival to final delivery, per recipient.", &metrics.delay);
}
