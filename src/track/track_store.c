/*
 * track_store: the writing side of the tracking store (track.h). Callers on
 * any thread copy a record into one malloc'd block and link it to a bounded
 * queue under a mutex (no database call, no wait); one writer thread takes
 * the whole queue at once and inserts it in a single transaction, so a busy
 * server pays one commit per batch, not per message. The writer also deletes
 * rows older than track_retention, by the indexed time columns, every
 * retention/2 (at most every minute). WAL with synchronous=NORMAL: a crash
 * may lose the last batches of tracking data, never the mail.
 */
#include "track/track_int.h"
#include "lib/alloc.h"
#include "lib/dur.h"
#include "lib/log.h"
#include "lib/str.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TRACK_PURGE_MAX_MS 60000
#define TRACK_PURGE_MIN_MS 100
/* The writer gathers records for up to TRACK_LINGER_MS after the first (or until
 * TRACK_BATCH are queued) before it commits them: a transaction's fixed cost (locks,
 * WAL frames of the index pages) is paid per batch, not per message. */
#define TRACK_LINGER_MS 250
/* WAL, no fsync per commit (the mail's durability is the queue's, not this store's), and
 * a page cache of 256 KiB rather than SQLite's 2 MiB: the writer appends, it does not
 * search, and a server's memory stays what it was before the store. */
#define TRACK_PRAGMAS \
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-256"
#define TRACK_BATCH 1024

/* A queued record: its strings live in the same block, after s[]. */
struct track_item {
    struct track_item *next;
    int message;                /* 1: s[] is a track_message's fields, then its recipients */
    int64_t time;               /* the event's time, or the arrival */
    size_t n;
    const char *s[];
};
enum { TI_QUEUE_ID, TI_MESSAGE_ID, TI_ENVID, TI_SENDER, TI_CLIENT, TI_LOGIN, TI_RCPTS,
       TI_SUBJECT, TI_N };
enum { TE_QUEUE_ID, TE_RCPT, TE_KIND, TE_HOST, TE_ADDRESS, TE_REPLY, TE_ACTION, TE_STATUS,
       TE_REPORTING_MTA, TE_N };

struct track {
    sqlite3 *db;                /* the writer thread's connection */
    sqlite3_stmt *ins_msg, *ins_ev, *del_msg, *del_ev;
    _Atomic int64_t retention_ms; /* changed by a reload */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work, flushed;
    struct track_item *head, *tail;
    size_t queued;
    int64_t first_at;           /* when the oldest queued record came */
    int stop;
    int flush;                  /* track_flush waits: write at once */
    uint64_t added, written, dropped, dropped_said;
};

static _Atomic(struct track *) track_the_feed;

void track_feed_set(struct track *t)
{
    atomic_store(&track_the_feed, t);
}

struct track *track_feed(void)
{
    return atomic_load_explicit(&track_the_feed, memory_order_relaxed);
}

/* One block holding the item and copies of strs[0..n). */
static struct track_item *track_item_new(int message, int64_t time, const char *const *strs,
                                         size_t n)
{
    size_t size = sizeof(struct track_item) + n * sizeof(char *);
    for (size_t i = 0; i < n; i++)
        size += strs[i] ? strlen(strs[i]) + 1 : 0;
    struct track_item *it = xmalloc(size);
    char *p = (char *)&it->s[n];
    it->next = NULL;
    it->message = message;
    it->time = time;
    it->n = n;
    for (size_t i = 0; i < n; i++) {
        if (!strs[i]) {
            it->s[i] = NULL;
            continue;
        }
        size_t len = strlen(strs[i]) + 1;
        memcpy(p, strs[i], len);
        it->s[i] = p;
        p += len;
    }
    return it;
}

static void track_enqueue(struct track *t, struct track_item *it)
{
    pthread_mutex_lock(&t->mu);
    if (t->queued >= TRACK_QUEUE_MAX || t->stop) {
        t->dropped++;
        pthread_mutex_unlock(&t->mu);
        free(it);
        return;
    }
    if (t->tail)
        t->tail->next = it;
    else
        t->head = it;
    t->tail = it;
    if (t->queued++ == 0)
        t->first_at = dur_now_ms();
    if (t->queued == 1 || t->queued == TRACK_BATCH)
        pthread_cond_signal(&t->work); /* the writer starts to linger, or stops */
    t->added++;
    pthread_mutex_unlock(&t->mu);
}

void track_add_message(struct track *t, const struct track_message *m)
{
    if (!t)
        return;
    struct buf rcpts; /* one column: the recipients, one a line (no address holds a newline) */
    buf_init(&rcpts, BUF_UNLIMITED);
    for (size_t i = 0; i < m->n_rcpts; i++)
        buf_printf(&rcpts, "%s%s", i ? "\n" : "", m->rcpts[i]);
    const char *strs[TI_N] = {
        [TI_QUEUE_ID] = m->queue_id,
        [TI_MESSAGE_ID] = m->message_id && m->message_id[0] ? m->message_id : NULL,
        [TI_ENVID] = m->envid, [TI_SENDER] = m->sender, [TI_CLIENT] = m->client,
        [TI_LOGIN] = m->login, [TI_RCPTS] = buf_cstr(&rcpts), [TI_SUBJECT] = m->subject,
    };
    track_enqueue(t, track_item_new(1, m->arrival, strs, TI_N));
    buf_free(&rcpts);
}

void track_add_event(struct track *t, const struct track_event *ev)
{
    if (!t)
        return;
    const char *strs[TE_N] = {ev->queue_id, ev->rcpt, ev->kind, ev->host, ev->address,
                              ev->reply, ev->action, ev->status, ev->reporting_mta};
    track_enqueue(t, track_item_new(0, ev->time ? ev->time : dur_now_ms(), strs, TE_N));
}

static void track_bind_text(sqlite3_stmt *st, int col, const char *s)
{
    if (s)
        sqlite3_bind_text(st, col, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, col);
}

static int track_step(struct track *t, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
        log_err("tracking store: %s", sqlite3_errmsg(t->db));
        return -1;
    }
    return 0;
}

/* One row of events. */
static int track_write_event(struct track *t, int64_t time, const char *const *s)
{
    sqlite3_stmt *st = t->ins_ev;
    sqlite3_bind_int64(st, 1, time);
    for (int i = 0; i < TE_N; i++)
        track_bind_text(st, i + 2, s[i]);
    return track_step(t, st);
}

static int track_write_item(struct track *t, const struct track_item *it)
{
    if (!it->message)
        return track_write_event(t, it->time, it->s);
    sqlite3_stmt *st = t->ins_msg;
    for (int i = 0; i < TI_N; i++)
        track_bind_text(st, i + 1, it->s[i]);
    sqlite3_bind_int64(st, TI_N + 1, it->time);
    return track_step(t, st);
}

/* One transaction for the whole batch; frees it. */
static void track_write_batch(struct track *t, struct track_item *batch)
{
    int ok = sqlite3_exec(t->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    for (struct track_item *it = batch; it; it = batch) {
        batch = it->next;
        if (ok && track_write_item(t, it) < 0)
            ok = 0;
        free(it);
    }
    if (!ok || sqlite3_exec(t->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        log_err("tracking store: batch not written: %s", sqlite3_errmsg(t->db));
        sqlite3_exec(t->db, "ROLLBACK", NULL, NULL, NULL);
    }
}

/* Deletes what is older than the retention (indexed by time and arrival). */
static void track_purge(struct track *t, int64_t now)
{
    int64_t before = now - atomic_load(&t->retention_ms);
    sqlite3_bind_int64(t->del_ev, 1, before);
    sqlite3_bind_int64(t->del_msg, 1, before);
    if (track_step(t, t->del_ev) == 0)
        track_step(t, t->del_msg);
}

static int64_t track_purge_every(const struct track *t)
{
    int64_t every = atomic_load(&t->retention_ms) / 2;
    return every > TRACK_PURGE_MAX_MS ? TRACK_PURGE_MAX_MS
           : every < TRACK_PURGE_MIN_MS ? TRACK_PURGE_MIN_MS : every;
}

/* Waits (lock held) until ms from now at most. */
static void track_wait_ms(struct track *t, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&t->work, &t->mu, &ts);
}

/* Waits (lock held) for a batch worth writing (TRACK_BATCH records, or the oldest
 * TRACK_LINGER_MS old), a flush, the stop, or the next purge. */
static void track_wait(struct track *t, int64_t next_purge)
{
    for (;;) {
        int64_t now = dur_now_ms();
        if (t->stop || t->flush || now >= next_purge || t->queued >= TRACK_BATCH ||
            (t->head && now >= t->first_at + TRACK_LINGER_MS))
            return;
        int64_t until = t->head && t->first_at + TRACK_LINGER_MS < next_purge
                            ? t->first_at + TRACK_LINGER_MS : next_purge;
        track_wait_ms(t, until - now);
    }
}

static void *track_writer(void *arg)
{
    struct track *t = arg;
    int64_t next_purge = 0;
    pthread_mutex_lock(&t->mu);
    for (;;) {
        track_wait(t, next_purge);
        struct track_item *batch = t->head;
        size_t n = t->queued;
        int stop = t->stop;
        uint64_t dropped = t->dropped;
        t->head = t->tail = NULL;
        t->queued = 0;
        t->flush = 0;
        pthread_mutex_unlock(&t->mu);
        if (dropped != t->dropped_said) {
            log_warn("tracking store: %llu records dropped (the writer fell behind)",
                     (unsigned long long)(dropped - t->dropped_said));
            t->dropped_said = dropped;
        }
        if (batch)
            track_write_batch(t, batch);
        int64_t now = dur_now_ms();
        if (now >= next_purge) {
            track_purge(t, now);
            next_purge = now + track_purge_every(t);
        }
        pthread_mutex_lock(&t->mu);
        t->written += n;
        pthread_cond_broadcast(&t->flushed);
        if (stop && !t->head)
            break;
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

/* 1 if table has column (PRAGMA table_info), 0 if not, -1 on error. */
/* A database from an earlier version gets the columns added since (TRACK_MIGRATE). */
static int track_migrate(sqlite3 *db)
{
    char sql[256];
#define TRACK_ADD_COLUMN(table, column, type)                                               \
    switch (track_has_column(db, table, column)) {                                          \
    case 0:                                                                                 \
        str_fmt(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s %s", table, column, type);  \
        if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)                          \
            return -1;                                                                      \
        break;                                                                              \
    case -1:                                                                                \
        return -1;                                                                          \
    }
    TRACK_MIGRATE(TRACK_ADD_COLUMN)
#undef TRACK_ADD_COLUMN
    return 0;
}

static int track_prepare(struct track *t)
{
    static const char *ins_msg =
        "INSERT OR REPLACE INTO messages(queue_id, message_id, envid, sender, client, login,"
        " rcpts, subject, arrival) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
    static const char *ins_ev =
        "INSERT INTO events(time, queue_id, rcpt, kind, host, address, reply, action, status,"
        " reporting_mta) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
    return sqlite3_exec(t->db, TRACK_SCHEMA, NULL, NULL, NULL) == SQLITE_OK &&
                   track_migrate(t->db) == 0 &&
                   sqlite3_prepare_v2(t->db, ins_msg, -1, &t->ins_msg, NULL) == SQLITE_OK &&
                   sqlite3_prepare_v2(t->db, ins_ev, -1, &t->ins_ev, NULL) == SQLITE_OK &&
                   sqlite3_prepare_v2(t->db, "DELETE FROM messages WHERE arrival < ?1", -1,
                                      &t->del_msg, NULL) == SQLITE_OK &&
                   sqlite3_prepare_v2(t->db, "DELETE FROM events WHERE time < ?1", -1,
                                      &t->del_ev, NULL) == SQLITE_OK
               ? 0
               : -1;
}

static void track_free(struct track *t)
{
    sqlite3_finalize(t->ins_msg);
    sqlite3_finalize(t->ins_ev);
    sqlite3_finalize(t->del_msg);
    sqlite3_finalize(t->del_ev);
    sqlite3_close(t->db);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->work);
    pthread_cond_destroy(&t->flushed);
    free(t);
}

struct track *track_open(const char *data_dir, int64_t retention_ms)
{
    char path[4096];
    struct track *t = xcalloc(1, sizeof *t);
    atomic_store(&t->retention_ms, retention_ms);
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->work, NULL);
    pthread_cond_init(&t->flushed, NULL);
    str_fmt(path, sizeof path, "%s/%s", data_dir, TRACK_DB_NAME);
    /* addresses and replies are private: 0600 (SQLite gives its -wal and -shm files
     * the database file's mode) */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0)
        close(fd);
    if (sqlite3_open_v2(path, &t->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
            SQLITE_OK ||
        sqlite3_busy_timeout(t->db, 5000) != SQLITE_OK ||
        sqlite3_exec(t->db, TRACK_PRAGMAS, NULL, NULL, NULL) != SQLITE_OK ||
        track_prepare(t) < 0) {
        log_err("tracking store %s: %s", path, t->db ? sqlite3_errmsg(t->db) : "out of memory");
        track_free(t);
        return NULL;
    }
    int err = pthread_create(&t->thread, NULL, track_writer, t);
    if (err) {
        log_err("tracking store: cannot start its writer: %s", strerror(err));
        track_free(t);
        return NULL;
    }
    return t;
}

void track_close(struct track *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    t->stop = 1;
    pthread_cond_signal(&t->work);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    track_free(t);
}

void track_flush(struct track *t)
{
    pthread_mutex_lock(&t->mu);
    uint64_t want = t->added;
    t->flush = 1;
    pthread_cond_signal(&t->work);
    while (t->written < want)
        pthread_cond_wait(&t->flushed, &t->mu);
    pthread_mutex_unlock(&t->mu);
}

void track_set_retention(struct track *t, int64_t retention_ms)
{
    if (t)
        atomic_store(&t->retention_ms, retention_ms);
}

uint64_t track_dropped(const struct track *t)
{
    struct track *mt = (struct track *)t;
    pthread_mutex_lock(&mt->mu);
    uint64_t n = mt->dropped;
    pthread_mutex_unlock(&mt->mu);
    return n;
}
