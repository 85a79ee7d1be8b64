/*
 * track_notice: matching an incoming delivery-status notice (RFC 3464) to
 * the message it reports on (track.h). Runs on a check worker at the end of
 * DATA for mail from <> to a local mailbox. The notice (its first
 * TRACK_NOTICE_READ_MAX octets) is read by the pure parser proto/dsn_parse;
 * it is matched by its Original-Envelope-Id (a queue id postino sent as
 * ENVID, or an ENVID a sender gave), else by the Message-ID of the returned
 * message, among messages that arrived within track_retention. A match adds
 * each recipient's report (action, status, Reporting-MTA, Remote-MTA,
 * diagnostic) to the journey as "notice-received"; either way the notice is
 * marked with X-Postino-Track (one it came with is removed: track_keep_field).
 * An unmatched notice is backscatter or
 * forgery: refused with 550 5.7.1 when reject_unmatched_dsn is on.
 */
#include "track/track_int.h"
#include "lib/alloc.h"
#include "lib/dur.h"
#include "lib/log.h"
#include "lib/str.h"
#include "proto/dsn_parse.h"
#include "proto/esc.h"
#include "proto/rfc5322.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define TRACK_NOTICE_READ_MAX (1024 * 1024)

/* The first octets of the message (at most TRACK_NOTICE_READ_MAX); NULL on a read error. */
static char *track_notice_read(const struct queue_content *m, size_t *len)
{
    size_t want = m->size < TRACK_NOTICE_READ_MAX ? (size_t)m->size : TRACK_NOTICE_READ_MAX;
    char *p = xmalloc(want + 1);
    size_t got = 0;
    while (got < want) {
        ssize_t n = pread(m->fd, p + got, want - got, (off_t)(m->off + got));
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got < want) {
        free(p);
        return NULL;
    }
    *len = got;
    return p;
}

/* The recipients of message qid, one a line (malloc'd), or NULL. */
static char *track_notice_rcpts(sqlite3 *db, const char *qid)
{
    char *rcpts = NULL;
    sqlite3_stmt *st = track_stmt(db, "SELECT rcpts FROM messages WHERE queue_id = ?1", qid);
    if (!st)
        return NULL;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        rcpts = xstrdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return rcpts;
}

/* By ENVID (ours: a queue id; or the sender's), else by the returned Message-ID; *rcpts:
 * the matched message's recipients. */
static int track_notice_match(const char *data_dir, const struct dsn_parsed *d, int64_t since,
                              char *qid, size_t size, char **rcpts)
{
    char err[512];
    sqlite3 *db = track_reader_open(data_dir, err, sizeof err);
    if (!db) {
        log_err("tracking store: %s", err);
        return -1;
    }
    int r = 0;
    if (d->envid[0])
        r = track_find_id(db, "queue_id = ?1 OR envid = ?1", d->envid, since, qid, size);
    if (r == 0 && d->message_id[0])
        r = track_find_id(db, "message_id = ?1", d->message_id, since, qid, size);
    if (r < 0)
        log_err("tracking store: %s", sqlite3_errmsg(db));
    if (r == 1)
        *rcpts = track_notice_rcpts(db, qid);
    sqlite3_close(db);
    return r;
}

/* "rfc822; a@b" -> "a@b", "dns; mx.test" -> "mx.test" (an address-type prefix, if the
 * parser left one, and blanks dropped). */
static void track_notice_addr(const char *field, char *out, size_t size)
{
    const char *semi = strchr(field, ';'), *at = strchr(field, '@');
    const char *p = semi && (!at || at > semi) ? semi + 1 : field;
    while (*p == ' ' || *p == '\t')
        p++;
    str_copy(out, size, p);
    str_trim(out);
    size_t n = strlen(out);
    if (n >= 2 && out[0] == '<' && out[n - 1] == '>') {
        memmove(out, out + 1, n - 2);
        out[n - 2] = '\0';
    }
}

/* 1 if addr is one of rcpts (one a line), case aside. */
static int track_notice_is_rcpt(const char *rcpts, const char *addr)
{
    size_t n = strlen(addr);
    for (const char *p = rcpts; n && p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len == n && strncasecmp(p, addr, n) == 0)
            return 1;
        p = nl ? nl + 1 : NULL;
    }
    return 0;
}

/* The recipient of the message a report is about: the Final-Recipient or the
 * Original-Recipient (ORCPT, passed on), whichever the message had; else the first given. */
static void track_notice_which(const struct dsn_parsed_rcpt *r, const char *rcpts, char *out,
                               size_t size)
{
    char fin[512], orig[512];
    track_notice_addr(r->final_rcpt, fin, sizeof fin);
    track_notice_addr(r->original_rcpt, orig, sizeof orig);
    if (!track_notice_is_rcpt(rcpts, fin) && track_notice_is_rcpt(rcpts, orig))
        str_copy(out, size, orig);
    else
        str_copy(out, size, fin[0] ? fin : orig);
}

/* One "notice-received" event per recipient the notice reports on. */
static void track_notice_record(struct track *t, const char *qid, const struct dsn_parsed *d,
                                const char *rcpts)
{
    int64_t now = dur_now_ms();
    for (size_t i = 0; i < d->n_rcpts; i++) {
        const struct dsn_parsed_rcpt *r = &d->rcpts[i];
        char rcpt[512], host[256];
        track_notice_which(r, rcpts, rcpt, sizeof rcpt);
        track_notice_addr(r->remote_mta, host, sizeof host);
        struct track_event ev = {
            .time = now, .queue_id = qid, .rcpt = rcpt, .kind = "notice-received",
            .host = host[0] ? host : NULL, .reply = r->diagnostic[0] ? r->diagnostic : NULL,
            .action = r->action, .status = r->status,
            .reporting_mta = d->reporting_mta[0] ? d->reporting_mta : NULL,
        };
        track_add_event(t, &ev);
    }
}

void track_notice_check(struct track *t, const struct conf *c, const struct envelope *e,
                        const struct queue_content *m, struct buf *fields, char *refuse,
                        size_t size)
{
    refuse[0] = '\0';
    if (!t)
        return;
    size_t len;
    char *msg = track_notice_read(m, &len);
    struct dsn_parsed *d = xmalloc(sizeof *d);
    char qid[QUEUE_ID_MAX + 1], *rcpts = NULL;
    int r = -1;
    if (msg && dsn_parse(msg, len, d) == 0) {
        track_flush(t); /* the message reported on may still wait in the writer's batch */
        r = track_notice_match(c->data_dir, d, dur_now_ms() - c->track_retention_ms, qid,
                               sizeof qid, &rcpts);
    }
    if (r == 1) {
        track_notice_record(t, qid, d, rcpts);
        buf_printf(fields, "X-Postino-Track: matched %s\r\n", qid);
        log_info("%s: notice matched to %s (%zu recipient(s))", e->id, qid, d->n_rcpts);
    } else if (r == 0) {
        buf_appends(fields, "X-Postino-Track: unmatched\r\n");
        log_info("%s: notice matches no message sent here", e->id);
        if (conf_is_on(c->reject_unmatched_dsn))
            esc_reply(refuse, size, 550, ESC_DELIVERY_NOT_AUTHORIZED,
                      "delivery notice for no message sent from here");
    }
    free(rcpts);
    free(d);
    free(msg);
}

int track_keep_field(const char *field, size_t n, void *unused)
{
    (void)unused;
    size_t name = rfc5322_field_name(field, n, NULL);
    return !name || !rfc5322_field_is(field, name, "X-Postino-Track");
}
