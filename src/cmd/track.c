/*
 * track: "postino track [-c FILE] [--json] ID|MESSAGE-ID|ENVID" prints the
 * journey of one message from the tracking store (track/track.h): its
 * arrival (time, client, login), then in time order each recipient's
 * attempts and outcomes, the notices postino sent about it, and the notices
 * later hops sent back. Reads DATA_DIR/track.db read-only, so it works
 * whether the server runs or not. Exit 0, 66 (EX_NOINPUT) when nothing
 * matches, 64 usage, 2 config error, 74 (EX_IOERR) when the store cannot
 * be read. --json: the object INTERFACE.md "Authentication and tracking"
 * describes.
 */
#include "cmd/cmd.h"
#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/dur.h"
#include "lib/json.h"
#include "lib/str.h"
#include "mail/queue_list.h"
#include "track/track.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

static int track_usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: postino track [-c FILE] [--json] ID|MESSAGE-ID|ENVID\n");
    return status;
}

/* s for a terminal: what other hosts wrote (replies, diagnostics) loses its control bytes. */
static const char *track_clean(const char *s, char *out, size_t size)
{
    size_t n = 0;
    for (; s && *s && n + 1 < size; s++)
        out[n++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
    out[n] = '\0';
    return out;
}

/* "host[address]", "host" or "" */
static void track_hop(const struct track_row *r, char *out, size_t size)
{
    const char *host = r->host ? r->host : r->reporting_mta;
    if (host && r->address)
        str_fmt(out, size, "%s[%s]", host, r->address);
    else
        str_copy(out, size, host ? host : r->address ? r->address : "");
}

static void track_print_row(const struct track_row *r)
{
    char when[32], hop[600], clean[2048];
    queue_list_time(r->time, when, sizeof when);
    track_hop(r, hop, sizeof hop);
    if (strcmp(r->kind, "received") == 0)
        hop[0] = '\0'; /* the client, on the "arrived" line */
    printf("%s  %-16s <%s>", when, track_clean(r->kind, clean, 32),
           track_clean(r->rcpt, clean + 32, sizeof clean - 32));
    if (hop[0])
        printf(" %s=%s", strcmp(r->kind, "notice-received") == 0 ? "remote" : "relay",
               track_clean(hop, clean, sizeof clean));
    if (r->reporting_mta)
        printf(" reporting=%s", track_clean(r->reporting_mta, clean, sizeof clean));
    if (r->action)
        printf(" action=%s", track_clean(r->action, clean, sizeof clean));
    if (r->status)
        printf(" status=%s", track_clean(r->status, clean, sizeof clean));
    if (r->reply)
        printf(" (%s)", track_clean(r->reply, clean, sizeof clean));
    printf("\n");
}

static void track_print_text(const struct track_journey *j)
{
    char when[32], a[600], b[600];
    queue_list_time(j->arrival, when, sizeof when);
    printf("message %s", track_clean(j->queue_id, a, sizeof a));
    if (j->message_id)
        printf(" Message-ID %s", track_clean(j->message_id, a, sizeof a));
    if (j->envid)
        printf(" ENVID %s", track_clean(j->envid, a, sizeof a));
    printf("\n%s  %-16s from <%s>", when, "arrived", track_clean(j->sender, a, sizeof a));
    if (j->client)
        printf(" client=%s", track_clean(j->client, b, sizeof b));
    if (j->login)
        printf(" login=%s", track_clean(j->login, b, sizeof b));
    printf("\n");
    for (size_t i = 0; i < j->n_rows; i++)
        track_print_row(&j->rows[i]);
}

static void track_json_event(struct buf *b, const struct track_row *r)
{
    char when[32], hop[600];
    queue_list_time(r->time, when, sizeof when);
    track_hop(r, hop, sizeof hop);
    buf_appends(b, "{\"time\":");
    json_str(b, when);
    buf_appends(b, ",\"kind\":");
    json_str(b, r->kind);
    buf_appends(b, ",\"host\":");
    json_str(b, hop[0] ? hop : NULL);
    buf_appends(b, ",\"reply\":");
    json_str(b, r->reply);
    buf_appends(b, ",\"action\":");
    json_str(b, r->action);
    buf_appends(b, ",\"status\":");
    json_str(b, r->status);
    buf_appends(b, "}");
}

/* One recipient and its events, in time order; done[] marks the rows written. */
static void track_json_rcpt(struct buf *b, const struct track_journey *j, size_t first,
                            unsigned char *done)
{
    const char *addr = j->rows[first].rcpt;
    buf_appends(b, "{\"address\":");
    json_str(b, addr);
    buf_appends(b, ",\"events\":[");
    int n = 0;
    for (size_t i = first; i < j->n_rows; i++) {
        const char *a = j->rows[i].rcpt ? j->rows[i].rcpt : "";
        if (done[i] || !str_ieq(a, addr ? addr : ""))
            continue;
        done[i] = 1;
        if (n++)
            buf_putc(b, ',');
        track_json_event(b, &j->rows[i]);
    }
    buf_appends(b, "]}");
}

static void track_print_json(const struct track_journey *j)
{
    struct buf b;
    char when[32];
    unsigned char *done = xcalloc(j->n_rows ? j->n_rows : 1, 1);
    buf_init(&b, BUF_UNLIMITED);
    queue_list_time(j->arrival, when, sizeof when);
    buf_appends(&b, "{\"id\":");
    json_str(&b, j->queue_id);
    buf_appends(&b, ",\"message_id\":");
    json_str(&b, j->message_id);
    buf_appends(&b, ",\"envid\":");
    json_str(&b, j->envid);
    buf_appends(&b, ",\"sender\":");
    json_str(&b, j->sender);
    buf_appends(&b, ",\"arrival\":");
    json_str(&b, when);
    buf_appends(&b, ",\"recipients\":[");
    for (size_t i = 0, n = 0; i < j->n_rows; i++) {
        if (done[i])
            continue;
        if (n++)
            buf_putc(&b, ',');
        track_json_rcpt(&b, j, i, done);
    }
    buf_appends(&b, "]}\n");
    fwrite(b.data, 1, b.len, stdout);
    buf_free(&b);
    free(done);
}

int cmd_track(int argc, char **argv)
{
    const char *path = NULL, *key = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return track_usage(0);
        else if (argv[i][0] != '-' && !key && argv[i][0])
            key = argv[i];
        else
            return track_usage(EX_USAGE);
    }
    if (!key)
        return track_usage(EX_USAGE);
    struct conf c;
    if (cmd_load_conf_settings(path, &c) < 0)
        return EXIT_CONFIG_ERROR;
    struct track_journey j;
    char err[600];
    int r = track_lookup(c.data_dir, key, dur_now_ms() - c.track_retention_ms, &j, err,
                         sizeof err);
    conf_free(&c);
    if (r < 0) {
        fprintf(stderr, "postino: tracking store: %s\n", err);
        return EX_IOERR;
    }
    if (r == 0) {
        fprintf(stderr, "postino: no tracked message matches %s\n", key);
        return EX_NOINPUT;
    }
    if (json)
        track_print_json(&j);
    else
        track_print_text(&j);
    track_journey_free(&j);
    return 0;
}
