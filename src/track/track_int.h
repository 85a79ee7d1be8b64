/*
 * track_int: what the files of src/track share: the schema of track.db.
 * messages: one row per message taken in, its recipients in one column
 * (one a line: no row per recipient at arrival, the busiest moment); events:
 * one row per later step of a recipient's journey (each attempt's outcome,
 * notices sent and received). Indexed on queue id, Message-ID and ENVID (the lookups of
 * `postino track` and of notice matching), on time (the retention purge) and on
 * login (a Web user's sent messages). A database made before the subject column
 * existed gets it by ALTER TABLE when the store opens (TRACK_MIGRATE).
 */
#ifndef POSTINO_TRACK_INT_H
#define POSTINO_TRACK_INT_H
#include "track/track.h"
#include <sqlite3.h>

#define TRACK_SCHEMA                                                                         \
    "CREATE TABLE IF NOT EXISTS messages(queue_id TEXT PRIMARY KEY, message_id TEXT,"        \
    " envid TEXT, sender TEXT, client TEXT, login TEXT, rcpts TEXT,"                       \
    " arrival INTEGER NOT NULL, subject TEXT);"                                                \
    "CREATE INDEX IF NOT EXISTS messages_message_id ON messages(message_id);"                \
    "CREATE INDEX IF NOT EXISTS messages_envid ON messages(envid);"                          \
    "CREATE INDEX IF NOT EXISTS messages_arrival ON messages(arrival);"                      \
    "CREATE INDEX IF NOT EXISTS messages_login ON messages(login, arrival);"                  \
    "CREATE TABLE IF NOT EXISTS events(id INTEGER PRIMARY KEY, time INTEGER NOT NULL,"       \
    " queue_id TEXT NOT NULL, rcpt TEXT, kind TEXT NOT NULL, host TEXT, address TEXT,"       \
    " reply TEXT, action TEXT, status TEXT, reporting_mta TEXT);"                            \
    "CREATE INDEX IF NOT EXISTS events_queue_id ON events(queue_id);"                        \
    "CREATE INDEX IF NOT EXISTS events_time ON events(time);"

/* The columns added after the first schema: (table, column, type), added when missing. */
#define TRACK_MIGRATE(X) X("messages", "subject", "TEXT")

/* 1 if table has column, 0 if not, -1 on error. */
int track_has_column(sqlite3 *db, const char *table, const char *column);
/* sql prepared with key bound to ?1 (SQLITE_STATIC: key must outlive it); NULL on error. */
sqlite3_stmt *track_stmt(sqlite3 *db, const char *sql, const char *key);
/* The queue id of the latest message since since_ms that the SQL condition where names
 * (?1: key, ?2: key in <>), into qid. 1, 0 (none), -1 (sqlite3_errmsg). */
int track_find_id(sqlite3 *db, const char *where, const char *key, int64_t since_ms, char *qid,
                  size_t size);
/* A read-only connection to DATA_DIR/track.db; NULL with err set. */
sqlite3 *track_reader_open(const char *data_dir, char *err, size_t err_size);
/* Reads the journey of the message with queue id qid. 0, or -1 (sqlite3_errmsg). */
int track_read_journey(sqlite3 *db, const char *qid, struct track_journey *out);

#endif
