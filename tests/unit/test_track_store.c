/* Unit tests for track/track_store and track_read: records written through the writer
 * thread and read back by queue id, Message-ID and ENVID; retention; the X-Postino-Track
 * field a notice came with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sqlite3.h>
#include "lib/dur.h"
#include "track/track.h"
#include "testutil.h"

TESTUTIL_TMPDIR_FIXTURES("track")

#define DAY_MS (86400LL * 1000)

static void add_message(struct track *t, const char *qid, const char *msgid, const char *envid,
                        int64_t arrival)
{
    const char *rcpts[] = {"bob@example.com", "carol@example.net"};
    struct track_message m = {.queue_id = qid, .message_id = msgid, .envid = envid,
                              .sender = "alice@example.org", .client = "192.0.2.1",
                              .login = "alice", .arrival = arrival, .rcpts = rcpts,
                              .n_rcpts = 2};
    track_add_message(t, &m);
}

static void test_write_read(void **st)
{
    (void)st;
    int64_t now = dur_now_ms();
    struct track *t = track_open(tmpdir, 30 * DAY_MS);
    assert_non_null(t);
    add_message(t, "6B05937F25CF26C1", "<m1@example.org>", NULL, now - 1000);
    struct track_event ev = {.time = now - 500, .queue_id = "6B05937F25CF26C1",
                             .rcpt = "bob@example.com", .kind = "relayed", .host = "mx.example.com",
                             .address = "198.51.100.7", .reply = "250 2.0.0 Ok: queued as ABC",
                             .status = "2.0.0"};
    track_add_event(t, &ev);
    struct track_event nr = {.time = now - 100, .queue_id = "6B05937F25CF26C1",
                             .rcpt = "bob@example.com", .kind = "notice-received",
                             .host = "mx2.example.com", .action = "delivered",
                             .status = "2.0.0", .reporting_mta = "dns; mx.example.com"};
    track_add_event(t, &nr);
    track_flush(t);
    struct track_journey j;
    char err[256];
    /* by queue id, by Message-ID with and without <> */
    static const char *keys[] = {"6B05937F25CF26C1", "<m1@example.org>", "m1@example.org"};
    for (size_t k = 0; k < 3; k++) {
        assert_int_equal(track_lookup(tmpdir, keys[k], 0, &j, err, sizeof err), 1);
        assert_string_equal(j.queue_id, "6B05937F25CF26C1");
        assert_string_equal(j.sender, "alice@example.org");
        assert_string_equal(j.login, "alice");
        assert_null(j.envid);
        assert_int_equal(j.n_rows, 4); /* received x2, relayed, notice-received */
        assert_string_equal(j.rows[0].kind, "received");
        assert_string_equal(j.rows[1].kind, "received");
        assert_string_equal(j.rows[2].kind, "relayed");
        assert_string_equal(j.rows[2].address, "198.51.100.7");
        assert_string_equal(j.rows[2].reply, "250 2.0.0 Ok: queued as ABC");
        assert_string_equal(j.rows[3].kind, "notice-received");
        assert_string_equal(j.rows[3].action, "delivered");
        assert_string_equal(j.rows[3].reporting_mta, "dns; mx.example.com");
        track_journey_free(&j);
    }
    assert_int_equal(track_lookup(tmpdir, "nothing-like-it", 0, &j, err, sizeof err), 0);
    /* the server stopped: still readable */
    track_close(t);
    assert_int_equal(track_lookup(tmpdir, "6B05937F25CF26C1", 0, &j, err, sizeof err), 1);
    track_journey_free(&j);
}

static void test_envid_latest(void **st)
{
    (void)st;
    int64_t now = dur_now_ms();
    struct track *t = track_open(tmpdir, 30 * DAY_MS);
    assert_non_null(t);
    add_message(t, "AAAAAAAAAAAAAAA1", NULL, "env-7", now - 5000);
    add_message(t, "AAAAAAAAAAAAAAA2", NULL, "env-7", now - 1000);
    track_close(t); /* writes what is queued */
    struct track_journey j;
    char err[256];
    assert_int_equal(track_lookup(tmpdir, "env-7", 0, &j, err, sizeof err), 1);
    assert_string_equal(j.queue_id, "AAAAAAAAAAAAAAA2");
    assert_string_equal(j.envid, "env-7");
    track_journey_free(&j);
    /* since: the window leaves both out */
    assert_int_equal(track_lookup(tmpdir, "env-7", now, &j, err, sizeof err), 0);
}

static void test_retention(void **st)
{
    (void)st;
    int64_t now = dur_now_ms();
    struct track *t = track_open(tmpdir, 60000);
    assert_non_null(t);
    add_message(t, "BBBBBBBBBBBBBBB1", "<old@example.org>", NULL, now - 10 * 60000);
    add_message(t, "BBBBBBBBBBBBBBB2", "<new@example.org>", NULL, now);
    track_flush(t); /* the first pass of the writer also purges */
    struct track_journey j;
    char err[256];
    assert_int_equal(track_lookup(tmpdir, "<old@example.org>", 0, &j, err, sizeof err), 0);
    assert_int_equal(track_lookup(tmpdir, "<new@example.org>", 0, &j, err, sizeof err), 1);
    assert_int_equal(j.n_rows, 2);
    track_journey_free(&j);
    track_close(t);
}

static void test_no_store(void **st)
{
    (void)st;
    struct track_journey j;
    char err[256];
    assert_int_equal(track_lookup(tmpdir, "6B05937F25CF26C1", 0, &j, err, sizeof err), 0);
    track_add_message(NULL, &(struct track_message){.queue_id = "X"}); /* no store: nothing */
    assert_null(track_open("/nonexistent/postino-track", 1000));
}

/* Only this host's verdict reaches the mailbox: a notice's own X-Postino-Track goes. */
static void test_keep_field(void **st)
{
    (void)st;
    static const char forged[] = "X-Postino-Track: matched 0123456789ABCDEF\r\n";
    static const char folded[] = "x-postino-track :\r\n unmatched\r\n";
    static const char other[] = "X-Postino-Tracked: no\r\n";
    static const char subject[] = "Subject: X-Postino-Track: x\r\n";
    assert_int_equal(track_keep_field(forged, sizeof forged - 1, NULL), 0);
    assert_int_equal(track_keep_field(folded, sizeof folded - 1, NULL), 0);
    assert_int_equal(track_keep_field(other, sizeof other - 1, NULL), 1);
    assert_int_equal(track_keep_field(subject, sizeof subject - 1, NULL), 1);
    assert_int_equal(track_keep_field("\r\n", 2, NULL), 1);
}

/* A Web user's sent list: by login, newest first, paged; the subject kept. */
static void test_sent_list(void **st)
{
    (void)st;
    int64_t now = dur_now_ms();
    struct track *t = track_open(tmpdir, 30 * DAY_MS);
    assert_non_null(t);
    const char *rcpts[] = {"bob@example.com"};
    static const char *ids[] = {"6B0000000000000A", "6B0000000000000B", "6B0000000000000C"};
    for (int i = 0; i < 3; i++) {
        struct track_message m = {.queue_id = ids[i], .sender = "alice@example.org",
                                  .login = i == 1 ? "carol@example.org" : "alice@example.org",
                                  .subject = i == 2 ? "Gr\xc3\xbc\xc3\x9f" "e" : NULL,
                                  .arrival = now - 1000 + i, .rcpts = rcpts, .n_rcpts = 1};
        track_add_message(t, &m);
    }
    track_flush(t);
    struct track_sent *v;
    size_t n, total;
    char err[256];
    assert_int_equal(track_sent_list(tmpdir, "alice@example.org", 0, 50, &v, &n, &total, err,
                                     sizeof err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(total, 2);
    assert_string_equal(v[0].queue_id, ids[2]);
    assert_string_equal(v[0].subject, "Gr\xc3\xbc\xc3\x9f" "e");
    assert_null(v[1].subject);
    assert_string_equal(v[1].rcpts, "bob@example.com");
    track_sent_free(v, n);
    assert_int_equal(track_sent_list(tmpdir, "alice@example.org", 1, 50, &v, &n, &total, err,
                                     sizeof err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(total, 2);
    assert_string_equal(v[0].queue_id, ids[0]);
    track_sent_free(v, n);
    struct track_journey j;
    assert_int_equal(track_read(tmpdir, ids[2], &j, err, sizeof err), 1);
    assert_string_equal(j.subject, "Gr\xc3\xbc\xc3\x9f" "e");
    track_journey_free(&j);
    assert_int_equal(track_read(tmpdir, "6B00000000000FFF", &j, err, sizeof err), 0);
    track_close(t);
}

/* A store made before the subject column gets it when opened. */
static void test_migrate_subject(void **st)
{
    (void)st;
    char path[4096];
    sqlite3 *db;
    snprintf(path, sizeof path, "%s/track.db", tmpdir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE messages(queue_id TEXT PRIMARY KEY,"
                                  " message_id TEXT, envid TEXT, sender TEXT, client TEXT,"
                                  " login TEXT, rcpts TEXT, arrival INTEGER NOT NULL)",
                                  NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE events(id INTEGER PRIMARY KEY, time INTEGER"
                                  " NOT NULL, queue_id TEXT NOT NULL, rcpt TEXT, kind TEXT NOT"
                                  " NULL, host TEXT, address TEXT, reply TEXT, action TEXT,"
                                  " status TEXT, reporting_mta TEXT)", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "INSERT INTO messages VALUES('6B0000000000000C',"
                                  " '<a@b>', NULL, 'a@example.org', NULL, 'a@example.org',"
                                  " 'bob@example.com', 1)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    /* before the server migrates it, a reader (postino track) sees the column as NULL */
    struct track_journey j;
    char err[256];
    if (track_read(tmpdir, "6B0000000000000C", &j, err, sizeof err) != 1)
        fail_msg("reading an unmigrated store: %s", err);
    assert_null(j.subject);
    assert_string_equal(j.sender, "a@example.org");
    track_journey_free(&j);
    struct track *t = track_open(tmpdir, 30 * DAY_MS);
    assert_non_null(t);
    const char *rcpts[] = {"bob@example.com"};
    struct track_message m = {.queue_id = "6B0000000000000D", .sender = "a@example.org",
                              .login = "a@example.org", .subject = "old db",
                              .arrival = dur_now_ms(), .rcpts = rcpts, .n_rcpts = 1};
    track_add_message(t, &m);
    track_flush(t);
    assert_int_equal(track_read(tmpdir, "6B0000000000000D", &j, err, sizeof err), 1);
    assert_string_equal(j.subject, "old db");
    track_journey_free(&j);
    track_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_envid_latest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_store, setup, teardown),
        cmocka_unit_test(test_keep_field),
        cmocka_unit_test_setup_teardown(test_sent_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_subject, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
