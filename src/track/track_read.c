/*
 * track_read: the reading side of the tracking store (track.h): finds a
 * message by queue id, Message-ID or ENVID and reads its journey, over a
 * read-only connection of its own (WAL: it never blocks the writer).
 */
#include "track/track_int.h"
#include "lib/alloc.h"
#include "lib/str.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int track_has_column(sqlite3 *db, const char *table, const char *column)
{
    char sql[128];
    sqlite3_stmt *st;
    str_fmt(sql, sizeof sql, "PRAGMA table_info(%s)", table);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc, found = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (strcmp((const char *)sqlite3_column_text(st, 1), column) == 0)
            found = 1;
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? found : -1;
}

/*
 * A read-only connection cannot migrate a database the server has not opened since
 * an upgrade: a temporary view (temp objects live outside the file) of each table
 * with its missing columns as NULL stands in for it, so readers see today's schema.
 */
static void track_reader_compat(sqlite3 *db)
{
    static const char *const cols[][2] = {
#define TRACK_COL(table, column, type) {table, column},
        TRACK_MIGRATE(TRACK_COL)
#undef TRACK_COL
    };
    size_t n = sizeof cols / sizeof cols[0];
    for (size_t i = 0; i < n; i++) {
        size_t first = 0; /* one view a table: done at its first column */
        while (strcmp(cols[first][0], cols[i][0]) != 0)
            first++;
        if (first != i)
            continue;
        char sql[512];
        str_fmt(sql, sizeof sql, "CREATE TEMP VIEW %s AS SELECT *", cols[i][0]);
        int missing = 0;
        for (size_t k = i; k < n; k++)
            if (strcmp(cols[k][0], cols[i][0]) == 0 &&
                track_has_column(db, cols[k][0], cols[k][1]) == 0) {
                size_t len = strlen(sql);
                str_fmt(sql + len, sizeof sql - len, ", NULL AS %s", cols[k][1]);
                missing = 1;
            }
        size_t len = strlen(sql);
        str_fmt(sql + len, sizeof sql - len, " FROM main.%s", cols[i][0]);
        if (missing)
            sqlite3_exec(db, sql, NULL, NULL, NULL); /* a failure shows in the reader's query */
    }
}

sqlite3 *track_reader_open(const char *data_dir, char *err, size_t err_size)
{
    char path[4096];
    sqlite3 *db = NULL;
    str_fmt(path, sizeof path, "%s/%s", data_dir, TRACK_DB_NAME);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        str_fmt(err, err_size, "%s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    track_reader_compat(db);
    return db;
}

static char *track_col(sqlite3_stmt *st, int col)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    return s ? xstrdup((const char *)s) : NULL;
}

sqlite3_stmt *track_stmt(sqlite3 *db, const char *sql, const char *key)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    return st;
}

int track_find_id(sqlite3 *db, const char *where, const char *key, int64_t since_ms, char *qid,
                  size_t size)
{
    char sql[512], bracketed[600];
    sqlite3_stmt *st;
    if (str_fmt(sql, sizeof sql, "SELECT queue_id FROM messages WHERE (%s) AND arrival >= ?3"
                " ORDER BY arrival DESC LIMIT 1", where) < 0 ||
        !(st = track_stmt(db, sql, key)))
        return -1;
    str_fmt(bracketed, sizeof bracketed, "<%s>", key);
    sqlite3_bind_text(st, 2, bracketed, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, since_ms);
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW) {
        str_copy(qid, size, (const char *)sqlite3_column_text(st, 0));
        found = 1;
    } else if (rc != SQLITE_DONE) {
        found = -1;
    }
    sqlite3_finalize(st);
    return found;
}

static struct track_row *track_row_add(struct track_journey *out, size_t *cap)
{
    if (out->n_rows == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        out->rows = xrealloc(out->rows, *cap * sizeof *out->rows);
    }
    struct track_row *r = &out->rows[out->n_rows++];
    memset(r, 0, sizeof *r);
    return r;
}

/* One "received" row per recipient, at the arrival, the client as their host. */
static void track_received_rows(struct track_journey *out, const char *rcpts, size_t *cap)
{
    for (const char *p = rcpts; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        struct track_row *r = track_row_add(out, cap);
        r->time = out->arrival;
        r->rcpt = xstrndup(p, n);
        r->kind = xstrdup("received");
        r->address = out->client ? xstrdup(out->client) : NULL;
        p += n + (nl ? 1 : 0);
    }
}

static int track_read_message(sqlite3 *db, const char *qid, struct track_journey *out,
                              size_t *cap)
{
    static const char *sql = "SELECT queue_id, message_id, envid, sender, client, login, arrival,"
                             " rcpts, subject FROM messages WHERE queue_id = ?1";
    sqlite3_stmt *st = track_stmt(db, sql, qid);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->queue_id = track_col(st, 0);
        out->message_id = track_col(st, 1);
        out->envid = track_col(st, 2);
        out->sender = track_col(st, 3);
        out->client = track_col(st, 4);
        out->login = track_col(st, 5);
        out->arrival = sqlite3_column_int64(st, 6);
        out->rcpts = track_col(st, 7);
        out->subject = track_col(st, 8);
        track_received_rows(out, out->rcpts, cap);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* The events, in time order, after the arrival's rows (no event is older than its arrival). */
static int track_read_rows(sqlite3 *db, const char *qid, struct track_journey *out, size_t *cap)
{
    static const char *sql = "SELECT time, rcpt, kind, host, address, reply, action, status,"
                             " reporting_mta FROM events WHERE queue_id = ?1 ORDER BY time, id";
    sqlite3_stmt *st = track_stmt(db, sql, qid);
    if (!st)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct track_row *r = track_row_add(out, cap);
        r->time = sqlite3_column_int64(st, 0);
        r->rcpt = track_col(st, 1);
        r->kind = track_col(st, 2);
        r->host = track_col(st, 3);
        r->address = track_col(st, 4);
        r->reply = track_col(st, 5);
        r->action = track_col(st, 6);
        r->status = track_col(st, 7);
        r->reporting_mta = track_col(st, 8);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int track_read_journey(sqlite3 *db, const char *qid, struct track_journey *out)
{
    size_t cap = 0;
    memset(out, 0, sizeof *out);
    return track_read_message(db, qid, out, &cap) < 0 || track_read_rows(db, qid, out, &cap) < 0
               ? -1
               : 0;
}

int track_lookup(const char *data_dir, const char *key, int64_t since_ms,
                 struct track_journey *out, char *err, size_t err_size)
{
    char path[4096], qid[QUEUE_ID_MAX + 1];
    memset(out, 0, sizeof *out);
    str_fmt(path, sizeof path, "%s/%s", data_dir, TRACK_DB_NAME);
    if (access(path, F_OK) < 0 && errno == ENOENT)
        return 0; /* nothing was ever tracked here */
    sqlite3 *db = track_reader_open(data_dir, err, err_size);
    if (!db)
        return -1;
    int r = track_find_id(db, "queue_id = ?1 OR message_id = ?1 OR message_id = ?2 OR envid = ?1",
                          key, since_ms, qid, sizeof qid);
    if (r == 1 && track_read_journey(db, qid, out) < 0)
        r = -1;
    if (r < 0) {
        str_fmt(err, err_size, "%s: %s", path, sqlite3_errmsg(db));
        track_journey_free(out);
    }
    sqlite3_close(db);
    return r;
}

void track_journey_free(struct track_journey *j)
{
    for (size_t i = 0; i < j->n_rows; i++) {
        struct track_row *r = &j->rows[i];
        free(r->rcpt), free(r->kind), free(r->host), free(r->address), free(r->reply);
        free(r->action), free(r->status), free(r->reporting_mta);
    }
    free(j->rows);
    free(j->queue_id), free(j->message_id), free(j->envid), free(j->sender);
    free(j->client), free(j->login), free(j->subject), free(j->rcpts);
    memset(j, 0, sizeof *j);
}

/* A read-only connection, or NULL: *absent = 1 when the store was never made. */
static sqlite3 *track_reader_if_any(const char *data_dir, int *absent, char *err, size_t err_size)
{
    char path[4096];
    str_fmt(path, sizeof path, "%s/%s", data_dir, TRACK_DB_NAME);
    *absent = access(path, F_OK) < 0 && errno == ENOENT;
    return *absent ? NULL : track_reader_open(data_dir, err, err_size);
}

int track_read(const char *data_dir, const char *qid, struct track_journey *out, char *err,
               size_t err_size)
{
    int absent;
    memset(out, 0, sizeof *out);
    sqlite3 *db = track_reader_if_any(data_dir, &absent, err, err_size);
    if (!db)
        return absent ? 0 : -1;
    size_t cap = 0;
    int r = 1;
    sqlite3_stmt *st = track_stmt(db, "SELECT 1 FROM messages WHERE queue_id = ?1", qid);
    int rc = st ? sqlite3_step(st) : SQLITE_ERROR;
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        r = 0;
    else if (rc != SQLITE_ROW || track_read_message(db, qid, out, &cap) < 0 ||
             track_read_rows(db, qid, out, &cap) < 0)
        r = -1;
    if (r < 0) {
        str_fmt(err, err_size, "tracking store: %s", sqlite3_errmsg(db));
        track_journey_free(out);
    }
    sqlite3_close(db);
    return r;
}

static int track_sent_count(sqlite3 *db, const char *addr, size_t *total)
{
    sqlite3_stmt *st = track_stmt(db, "SELECT count(*) FROM messages WHERE login = ?1", addr);
    int rc = st ? sqlite3_step(st) : SQLITE_ERROR;
    if (rc == SQLITE_ROW)
        *total = (size_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

static int track_sent_rows(sqlite3 *db, const char *addr, size_t offset, size_t limit,
                           struct track_sent **out, size_t *n)
{
    static const char *sql = "SELECT queue_id, subject, rcpts, arrival FROM messages"
                             " WHERE login = ?1 ORDER BY arrival DESC, queue_id DESC"
                             " LIMIT ?2 OFFSET ?3";
    sqlite3_stmt *st = track_stmt(db, sql, addr);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)offset);
    *out = xcalloc(limit ? limit : 1, sizeof **out);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < limit) {
        struct track_sent *m = &(*out)[(*n)++];
        m->queue_id = track_col(st, 0);
        m->subject = track_col(st, 1);
        m->rcpts = track_col(st, 2);
        m->arrival = sqlite3_column_int64(st, 3);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

int track_sent_list(const char *data_dir, const char *addr, size_t offset, size_t limit,
                    struct track_sent **out, size_t *n, size_t *total, char *err,
                    size_t err_size)
{
    int absent;
    *out = NULL;
    *n = *total = 0;
    sqlite3 *db = track_reader_if_any(data_dir, &absent, err, err_size);
    if (!db)
        return absent ? 0 : -1;
    int r = track_sent_count(db, addr, total) < 0 ||
                    track_sent_rows(db, addr, offset, limit, out, n) < 0
                ? -1
                : 0;
    if (r < 0)
        str_fmt(err, err_size, "tracking store: %s", sqlite3_errmsg(db));
    sqlite3_close(db);
    return r;
}

void track_sent_free(struct track_sent *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].queue_id), free(v[i].subject), free(v[i].rcpts);
    free(v);
}
