/*
 * smtp_receive: the DATA phase of a server session. Writes the envelope
 * head and a Received: header (RFC 5321 4.4) to the queue file, streams
 * the decoded content to it without holding it in memory, enforces
 * max_message_size (552 5.3.4), max_hops (554 5.4.6) and the smuggling
 * rule (bare CR/LF -> 550 5.5.2), then hands the file to the disk workers
 * for the durable commit. "250 2.0.0 queued" is sent only from the
 * commit's completion: after fsync of the file and of its directory.
 * BDAT (smtp_chunk.c) opens the file, writes its chunks and ends the
 * message through the same functions, so both paths commit alike.
 */
#include "smtpd/smtp_session.h"
#include "lib/dur.h"
#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/str.h"
#include "mail/metrics.h"
#include "mail/route.h"
#include "proto/intl.h"
#include "proto/rfc5322.h"
#include "track/track.h"
#include <errno.h>
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/time.h>

void smtps_tx_abort_writer(struct smtps_session *s)
{
    if (s->tx.writer_open) {
        queue_writer_abort(&s->tx.writer);
        s->tx.writer_open = 0;
    }
}

/* The HELO name as it may appear in a header: printable, no parentheses games. */
static void smtps_clean_helo(const char *in, char *out, size_t size)
{
    size_t j = 0;
    for (; *in && j + 1 < size; in++)
        out[j++] = (*in > ' ' && *in < 0x7f && *in != '(' && *in != ')') ? *in : '?';
    out[j] = '\0';
}

/* The "for <addr>" clause; a U-label domain is written as its A-label, so that a
 * recipient whose local part is ASCII does not make the header need SMTPUTF8. */
static void smtps_received_for(struct buf *b, const char *addr)
{
    const char *at = strrchr(addr, '@');
    char domain[INTL_DOMAIN_MAX];
    if (at && intl_is_ascii(addr, (size_t)(at - addr)) && !intl_is_ascii(at + 1, strlen(at + 1)) &&
        intl_domain_to_ascii(at + 1, domain, sizeof domain) == 0)
        buf_printf(b, "\r\n\tfor <%.*s@%s>", (int)(at - addr), addr, domain);
    else
        buf_printf(b, "\r\n\tfor <%s>", addr);
}

static void smtps_received(struct smtps_session *s, struct buf *b)
{
    const struct conf *c = s->conf;
    const struct envelope *e = &s->tx.env;
    char date[64], helo[256];
    rfc5322_date(time(NULL), date, sizeof date);
    smtps_clean_helo(s->helo, helo, sizeof helo);
    /* RFC 3848: ESMTP, plus S with TLS and A once authenticated */
    /* RFC 6531 3.7.3: UTF8SMTP, UTF8SMTPS, ... for a transaction with SMTPUTF8 */
    static const char *withs[] = {"ESMTP", "ESMTPS", "ESMTPA", "ESMTPSA",
                                  "UTF8SMTP", "UTF8SMTPS", "UTF8SMTPA", "UTF8SMTPSA"};
    const char *with = !s->esmtp ? "SMTP" : withs[(s->tls_up ? 1 : 0) + (s->auth_user[0] ? 2 : 0) +
                                                  (e->smtputf8 ? 4 : 0)];
    buf_printf(b, "Received: from %s ([%s%s])\r\n\tby %s (postino) with %s id %s", helo,
               strchr(s->client_ip, ':') ? "IPv6:" : "", s->client_ip, c->hostname, with, e->id);
    if (e->n_rcpts == 1)
        smtps_received_for(b, e->rcpts[0].addr);
    buf_printf(b, "; %s\r\n", date);
}

/* RFC 6409 8.2, 8.3: a submitted message gets a Date and a Message-ID when it lacks them. */
static void smtps_header_end(void *ctx)
{
    struct smtps_session *s = ctx;
    struct smtp_data *d = &s->tx.data;
    struct buf add;
    buf_init(&add, 1024);
    if (!d->has_date) {
        char date[64];
        rfc5322_date(time(NULL), date, sizeof date);
        buf_printf(&add, "Date: %s\r\n", date);
    }
    if (!d->has_message_id) {
        str_fmt(s->tx.message_id, sizeof s->tx.message_id, "<%s@%s>", s->tx.env.id,
                s->conf->hostname);
        buf_printf(&add, "Message-ID: %s\r\n", s->tx.message_id);
    }
    if (add.len)
        queue_writer_write(&s->tx.writer, add.data, add.len);
    buf_free(&add);
}

int smtps_tx_open(struct smtps_session *s)
{
    struct smtp_server *srv = s->srv;
    struct envelope *e = &s->tx.env;
    queue_new_id(e->id);
    e->arrival = dur_now_ms();
    e->helo = xstrdup(s->helo);
    e->client = xstrdup(s->client_ip);
    e->auth = s->auth_user[0] ? xstrdup(s->auth_user) : NULL;
    route_expand_all(s->conf, e);
    if (queue_writer_open(srv->queue, e, &s->tx.writer) < 0) {
        int err = errno;
        log_err("%s: cannot create queue file: %s", e->id, strerror(err));
        queue_writer_abort(&s->tx.writer);
        return err;
    }
    s->tx.writer_open = 1;
    struct buf rcvd;
    buf_init(&rcvd, 4096);
    smtps_received(s, &rcvd);
    queue_writer_write(&s->tx.writer, rcvd.data, rcvd.len);
    buf_free(&rcvd);
    smtp_data_init(&s->tx.data);
    if (smtps_is_submission(s))
        s->tx.data.on_header_end = smtps_header_end;
    return 0;
}

void smtps_data_start(struct smtps_session *s)
{
    int err = smtps_tx_open(s);
    if (err) {
        smtps_reply(s, "%s", queue_error_reply(err));
        smtps_tx_reset(s);
        s->state = SMTPS_IDLE;
        return;
    }
    s->state = SMTPS_DATA;
    smtps_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

void smtps_emit(void *ctx, const char *p, size_t n)
{
    struct smtps_session *s = ctx;
    if (s->tx.too_big)
        return;
    if (s->tx.data.octets + n > s->conf->max_message_size) {
        s->tx.too_big = 1;
        return;
    }
    queue_writer_write(&s->tx.writer, p, n);
}

static void smtps_commit_done(struct diskq_job *j);

/* How much of the content is read back for its Message-ID (the header section's start). */
#define SMTPS_MSGID_HEAD (16 * 1024)

/* The Message-ID for the tracking store (worker thread): the smtp_data decoder saw the
 * field go by; its value is read back from the start of the content, still in the page
 * cache, so the receiving path itself keeps no copy of header values. */
static void smtps_commit_message_id(struct smtps_session *s)
{
    char head[SMTPS_MSGID_HEAD];
    if (s->tx.message_id[0] || !s->tx.data.has_message_id || !track_feed())
        return;
    ssize_t n = pread(s->tx.writer.fd, head, sizeof head, (off_t)s->tx.writer.head_len);
    if (n > 0 && rfc5322_find_message_id(head, (size_t)n, s->tx.message_id,
                                         sizeof s->tx.message_id) < 0)
        s->tx.message_id[0] = '\0';
}

/* write stage: the content is already written; name the file for the batched fsync. */
static void smtps_commit_write(struct diskq_job *j)
{
    struct smtps_session *s = j->ctx;
    smtps_commit_message_id(s);
    diskq_job_sync_fd(j, s->tx.writer.fd);
}

/* The arrival, for the tracking store (enqueued: no database work here). */
static void smtps_commit_track(struct smtps_session *s)
{
    struct track *t = track_feed();
    const struct envelope *e = &s->tx.env;
    if (!t)
        return;
    const char **rcpts = xcalloc(e->n_rcpts ? e->n_rcpts : 1, sizeof *rcpts);
    for (size_t i = 0; i < e->n_rcpts; i++)
        rcpts[i] = e->rcpts[i].addr;
    struct track_message m = {.queue_id = e->id, .message_id = s->tx.message_id,
                              .envid = envelope_envid_to_send(e), .sender = e->sender,
                              .client = e->client,
                              .login = e->auth, .arrival = e->arrival, .rcpts = rcpts,
                              .n_rcpts = e->n_rcpts};
    track_add_message(t, &m);
    free(rcpts);
}

/* publish stage: rename into the queue; name the directory for the batched fsync. */
static void smtps_commit_publish(struct diskq_job *j)
{
    struct smtps_session *s = j->ctx;
    if (queue_writer_publish(&s->tx.writer) < 0) {
        j->failed = 1;
        j->err = errno;
        return;
    }
    diskq_job_sync_dir(j, s->tx.writer.dir);
}

/* The reply that refuses a complete message, formatted into out; NULL to commit it. */
static const char *smtps_data_verdict(struct smtps_session *s, char *out, size_t size)
{
    if (s->tx.too_big)
        esc_reply(out, size, 552, ESC_MESSAGE_TOO_BIG,
                  "Error: message size exceeds fixed maximum message size");
    else if (s->tx.data.bare_newline && s->tx.env.body != BODY_BINARYMIME)
        esc_reply(out, size, 550, ESC_SYNTAX_ERROR,
                  "Error: bare <CR> or <LF> in message data (RFC 5321 2.3.8)");
    else if (s->tx.data.received > s->conf->max_hops)
        esc_reply(out, size, 554, ESC_ROUTING_LOOP, "Error: too many hops (mail loop?)");
    else
        return NULL;
    return out;
}

void smtps_data_end(struct smtps_session *s)
{
    char verdict[128];
    const char *refuse = smtps_data_verdict(s, verdict, sizeof verdict);
    struct envelope *e = &s->tx.env;
    if (!refuse && queue_writer_finish(&s->tx.writer) < 0) {
        int err = errno;
        log_err("%s: queue file write error: %s", e->id, strerror(err));
        refuse = queue_error_reply(err);
    }
    if (refuse) {
        smtps_refuse_message(s, refuse);
        return;
    }
    s->tx.data_end_at = metrics_now();
    if (smtps_filter_wanted(s)) {
        s->state = SMTPS_COMMIT;
        bufferevent_disable(s->bev, EV_READ);
        smtps_filter(s);
        return;
    }
    smtps_commit(s);
}

void smtps_refuse_message(struct smtps_session *s, const char *reply)
{
    struct envelope *e = &s->tx.env;
    log_event(LOG_INFO, &(struct log_fields){.queue_id = e->id, .event = "rejected",
              .client = s->client_ip, .from = e->sender, .reply = reply},
              "rejected: %s", reply);
    smtps_reply(s, "%s", reply);
    s->errors++;
    smtps_tx_reset(s);
    s->state = SMTPS_IDLE;
}

void smtps_commit(struct smtps_session *s)
{
    struct envelope *e = &s->tx.env;
    e->size = s->tx.writer.content_len;
    e->content_offset = s->tx.writer.head_len;
    s->state = SMTPS_COMMIT;
    memset(&s->commit_job, 0, sizeof s->commit_job);
    s->commit_job.write = smtps_commit_write;
    s->commit_job.publish = smtps_commit_publish;
    s->commit_job.done = smtps_commit_done;
    s->commit_job.ctx = s;
    bufferevent_disable(s->bev, EV_READ);
    diskq_submit(s->srv->dq, &s->commit_job, DISKQ_URGENT);
}

static void smtps_commit_done(struct diskq_job *j)
{
    struct smtps_session *s = j->ctx;
    struct envelope *e = &s->tx.env;
    s->state = SMTPS_IDLE;
    diskq_job_release(j);
    if (j->failed) {
        log_err("%s: commit failed: %s", e->id, strerror(j->err));
        smtps_reply(s, "%s", queue_error_reply(j->err));
        smtps_tx_reset(s);
    } else {
        log_event(LOG_INFO, &(struct log_fields){.queue_id = e->id, .event = "received",
                  .client = s->client_ip, .from = e->sender},
                  "size=%llu nrcpt=%zu client=%s queued", (unsigned long long)e->size,
                  e->n_rcpts, s->client_ip);
        smtps_reply_esc(s, 250, ESC_OTHER_STATUS, "Ok: queued as %s", e->id);
        metrics_received(e->size, metrics_now() - s->tx.data_end_at);
        smtps_commit_track(s);
        s->tx.writer_open = 0; /* the file is the queue's now */
        sched_add(s->srv->sched, e);
        smtps_tx_reset(s);
    }
    if (s->dead) {
        smtps_close(s);
        return;
    }
    bufferevent_enable(s->bev, EV_READ);
    smtps_process_input(s);
}

int smtps_data_input(struct smtps_session *s)
{
    struct evbuffer *in = bufferevent_get_input(s->bev);
    struct evbuffer_iovec vec[8];
    int n = evbuffer_peek(in, -1, NULL, vec, 8);
    if (n <= 0)
        return 1;
    size_t used = 0;
    for (int i = 0; i < n && i < 8 && s->tx.data.state != SD_DONE; i++)
        used += smtp_data_feed(&s->tx.data, vec[i].iov_base, vec[i].iov_len, smtps_emit, s);
    evbuffer_drain(in, used);
    if (s->tx.data.state != SD_DONE)
        return evbuffer_get_length(in) == 0;
    smtps_data_end(s);
    return 0;
}
