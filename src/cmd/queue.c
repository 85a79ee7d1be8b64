/*
 * queue: "postino queue list [--json]" and "postino queue show ID". Reads
 * the queue files directly, so it works whether or not the server runs;
 * a file removed meanwhile is skipped and a torn last record ignored;
 * damaged files (in the queue or moved to DATA_DIR/corrupt) are counted.
 */
#include "cmd/cmd.h"
#include "lib/alloc.h"
#include "lib/fsio.h"
#include "lib/json.h"
#include "lib/str.h"
#include "mail/quarantine.h"
#include "mail/queue.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct queue_listing {
    struct envelope *msgs;
    size_t n, cap;
    size_t unreadable;  /* damaged files still in the queue (the server moves them at start) */
};

static int queue_collect(void *ctx, const char *path, const char *id)
{
    struct queue_listing *l = ctx;
    struct envelope e;
    (void)id;
    if (queue_load(path, &e) < 0) {
        l->unreadable += errno != ENOENT; /* removed meanwhile: not listed, not counted */
        return 0;
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->msgs = xrealloc(l->msgs, l->cap * sizeof *l->msgs);
    }
    l->msgs[l->n++] = e;
    return 0;
}

static int queue_by_arrival(const void *a, const void *b)
{
    const struct envelope *x = a, *y = b;
    return x->arrival < y->arrival ? -1 : x->arrival > y->arrival ? 1 : strcmp(x->id, y->id);
}

static void queue_time(int64_t ms, char *out, size_t size)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void queue_json_rcpt(struct buf *b, const struct env_rcpt *r)
{
    char notify[64], next[32];
    smtp_notify_format(r->notify, notify, sizeof notify);
    queue_time(r->next_attempt, next, sizeof next);
    buf_appends(b, "{\"address\":");
    json_str(b, r->addr);
    buf_appends(b, ",\"status\":");
    json_str(b, rcpt_status_name(r->status));
    buf_appends(b, ",\"notify\":");
    json_str(b, notify[0] ? notify : NULL);
    buf_appends(b, ",\"orcpt\":");
    json_str(b, r->orcpt);
    buf_printf(b, ",\"attempts\":%u,\"next_attempt\":", r->attempts);
    json_str(b, r->next_attempt > 0 ? next : NULL);
    buf_appends(b, ",\"last_reply\":");
    json_str(b, r->last_reply);
    buf_appends(b, ",\"remote_mta\":");
    json_str(b, r->remote_mta);
    buf_putc(b, '}');
}

static void queue_json(const struct envelope *e, struct buf *b)
{
    char arrival[32];
    queue_time(e->arrival, arrival, sizeof arrival);
    buf_appends(b, "{\"id\":");
    json_str(b, e->id);
    buf_appends(b, ",\"sender\":");
    json_str(b, e->sender);
    buf_printf(b, ",\"size\":%" PRIu64 ",\"arrival\":", e->size);
    json_str(b, arrival);
    buf_printf(b, ",\"hold\":%s,\"ret\":", e->hold ? "true" : "false");
    json_str(b, e->ret ? dsn_ret_name(e->ret) : NULL);
    buf_appends(b, ",\"envid\":");
    json_str(b, e->envid);
    buf_appends(b, ",\"recipients\":[");
    for (size_t i = 0; i < e->n_rcpts; i++) {
        if (i)
            buf_putc(b, ',');
        queue_json_rcpt(b, &e->rcpts[i]);
    }
    buf_appends(b, "]}\n");
}

/*
 * The human listing, laid out like Postfix's mailq: per message a line with
 * the queue id ('!' after it when held), the size in octets, the arrival
 * time (UTC) and the sender; under the sender, each recipient still waiting
 * (pending or deferred) with its status, then its last reply in parentheses;
 * a blank line between messages and a summary line at the end. The id and
 * size columns are as wide as the widest value, so every line lines up.
 */
struct queue_columns {
    int id, size; /* widths: id includes the hold marker */
};

#define QUEUE_STATUS_WIDTH 8 /* "deferred" */

/* Appends s with control characters shown as '?' (a reply is remote text). */
static void queue_put_text(struct buf *b, const char *s)
{
    size_t start = 0, i = 0;
    for (; s[i]; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f) {
            buf_append(b, s + start, i - start);
            buf_putc(b, '?');
            start = i + 1;
        }
    }
    buf_append(b, s + start, i - start);
}

static int queue_rcpt_waiting(const struct env_rcpt *r)
{
    return r->status == RCPT_PENDING || r->status == RCPT_DEFERRED;
}

static struct queue_columns queue_columns(const struct queue_listing *l)
{
    struct queue_columns w = {(int)strlen("-Queue ID-"), (int)strlen("-Size-")};
    char digits[24];
    for (size_t i = 0; i < l->n; i++) {
        int id = (int)strlen(l->msgs[i].id) + 1;
        int size = snprintf(digits, sizeof digits, "%" PRIu64, l->msgs[i].size);
        w.id = id > w.id ? id : w.id;
        w.size = size > w.size ? size : w.size;
    }
    return w;
}

/* The column where the sender and the recipients start. */
static int queue_sender_column(const struct queue_columns *w)
{
    return w->id + 1 + w->size + 2 + 20 + 2;
}

static void queue_human_header(const struct queue_columns *w, struct buf *b)
{
    buf_printf(b, "%-*s %*s  %-20s  %s\n", w->id, "-Queue ID-", w->size, "-Size-",
               "-Arrival Time-", "-Sender/Recipient-");
}

static void queue_human(const struct envelope *e, const struct queue_columns *w, struct buf *b)
{
    char arrival[32];
    int indent = queue_sender_column(w);
    queue_time(e->arrival, arrival, sizeof arrival);
    buf_printf(b, "%s%-*s %*" PRIu64 "  %-20s  ", e->id, w->id - (int)strlen(e->id),
               e->hold ? "!" : "", w->size, e->size, arrival);
    queue_put_text(b, e->sender[0] ? e->sender : "<>");
    buf_putc(b, '\n');
    for (size_t i = 0; i < e->n_rcpts; i++) {
        const struct env_rcpt *r = &e->rcpts[i];
        if (!queue_rcpt_waiting(r))
            continue;
        buf_printf(b, "%*s%-*s  ", indent, "", QUEUE_STATUS_WIDTH, rcpt_status_name(r->status));
        queue_put_text(b, r->addr);
        buf_putc(b, '\n');
        if (r->last_reply) {
            buf_printf(b, "%*s(", indent + QUEUE_STATUS_WIDTH + 2, "");
            queue_put_text(b, r->last_reply);
            buf_appends(b, ")\n");
        }
    }
    buf_putc(b, '\n');
}

/* "-- 12 Kbytes in 3 Requests." as mailq ends. */
static void queue_human_summary(size_t n, uint64_t total, struct buf *b)
{
    buf_printf(b, "-- %" PRIu64 " Kbytes in %zu Request%s.\n", (total + 1023) / 1024, n,
               n == 1 ? "" : "s");
}

static int queue_load_all(const struct conf *c, struct queue_listing *l)
{
    struct queue q;
    if (str_fmt(q.dir, sizeof q.dir, "%s/queue", c->data_dir) < 0)
        return -1;
    if (access(q.dir, F_OK) < 0)
        return errno == ENOENT ? 0 : -1;
    if (queue_scan(&q, 0, queue_collect, l) < 0)
        return -1;
    if (l->n > 1)
        qsort(l->msgs, l->n, sizeof *l->msgs, queue_by_arrival);
    return 0;
}

/* The damaged files, never silently left out: "-- N corrupt queue files in DIR". */
static void queue_damage_note(const struct conf *c, const struct queue_listing *l,
                              const char *prefix, struct buf *b)
{
    char dir[PATH_MAX];
    long corrupt = quarantine_count(c->data_dir);
    if (quarantine_dir(c->data_dir, dir, sizeof dir) < 0)
        return;
    if (corrupt != 0)
        buf_printf(b, "%s%ld corrupt queue file%s in %s\n", prefix, corrupt,
                   corrupt == 1 ? "" : "s", dir);
    if (l->unreadable)
        buf_printf(b, "%s%zu unreadable queue file%s in %s/queue (moved to %s at the next "
                   "start)\n", prefix, l->unreadable, l->unreadable == 1 ? "" : "s",
                   c->data_dir, dir);
}

static int queue_list(const struct conf *c, int json)
{
    struct queue_listing l = {0};
    if (queue_load_all(c, &l) < 0) {
        fprintf(stderr, "postino: cannot read the queue in %s: %s\n", c->data_dir, strerror(errno));
        return EX_IOERR;
    }
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    struct queue_columns w = queue_columns(&l);
    if (!json && l.n == 0)
        buf_appends(&out, "Mail queue is empty\n");
    else if (!json)
        queue_human_header(&w, &out);
    uint64_t total = 0;
    for (size_t i = 0; i < l.n; i++) {
        if (json)
            queue_json(&l.msgs[i], &out);
        else
            queue_human(&l.msgs[i], &w, &out);
        total += l.msgs[i].size;
        envelope_free(&l.msgs[i]);
    }
    if (!json && l.n)
        queue_human_summary(l.n, total, &out);
    /* --json keeps stdout one message object a line: the note goes to stderr */
    struct buf note;
    buf_init(&note, BUF_UNLIMITED);
    queue_damage_note(c, &l, json ? "postino: " : "-- ", json ? &note : &out);
    fwrite(out.data ? out.data : "", 1, out.len, stdout);
    fwrite(note.data ? note.data : "", 1, note.len, stderr);
    buf_free(&note);
    buf_free(&out);
    free(l.msgs);
    if (fflush(stdout) == EOF || ferror(stdout)) {
        fprintf(stderr, "postino: cannot write the listing: %s\n", strerror(errno));
        return EX_IOERR;
    }
    return 0;
}

/* Prints the header section of the content (up to the first empty line). */
static void queue_show_headers(const struct queue *q, const struct envelope *e)
{
    int fd = queue_open_content(q, e);
    if (fd < 0)
        return;
    char chunk[8192];
    uint64_t off = e->content_offset, left = e->size;
    int nl = 1;
    while (left > 0) {
        ssize_t n = pread(fd, chunk, left < sizeof chunk ? (size_t)left : sizeof chunk, (off_t)off);
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; i++) {
            if (chunk[i] == '\r')
                continue;
            if (chunk[i] == '\n' && nl) {
                close(fd);
                return;
            }
            nl = chunk[i] == '\n';
            putchar(chunk[i]);
        }
        off += (uint64_t)n;
        left -= (uint64_t)n;
    }
    close(fd);
}

static int queue_show(const struct conf *c, const char *id)
{
    struct queue q;
    char path[PATH_MAX];
    struct envelope e;
    if (str_fmt(q.dir, sizeof q.dir, "%s/queue", c->data_dir) < 0 ||
        strchr(id, '/') || queue_path(&q, id, path, sizeof path) < 0 || queue_load(path, &e) < 0) {
        fprintf(stderr, "postino: no such message in the queue: %s\n", id);
        return EX_NOINPUT;
    }
    char arrival[32], notify[64];
    queue_time(e.arrival, arrival, sizeof arrival);
    printf("id: %s\nsender: <%s>\nsize: %" PRIu64 "\narrival: %s\nhold: %s\n", e.id, e.sender,
           e.size, arrival, e.hold ? "yes" : "no");
    printf("ret: %s\nenvid: %s\nbody: %s\nclient: %s\nhelo: %s\n",
           e.ret ? dsn_ret_name(e.ret) : "(none)", e.envid ? e.envid : "(none)",
           e.body ? body_type_name(e.body) : "(none)", e.client ? e.client : "(local)",
           e.helo ? e.helo : "");
    for (size_t i = 0; i < e.n_rcpts; i++) {
        const struct env_rcpt *r = &e.rcpts[i];
        smtp_notify_format(r->notify, notify, sizeof notify);
        printf("recipient: <%s> status=%s notify=%s orcpt=%s attempts=%u", r->addr,
               rcpt_status_name(r->status), notify[0] ? notify : "(default)",
               r->orcpt ? r->orcpt : "(none)", r->attempts);
        if (r->parent >= 0)
            printf(" via=<%s>", e.rcpts[r->parent].addr);
        if (r->remote_mta)
            printf(" remote=%s", r->remote_mta);
        printf(" last_reply=%s\n", r->last_reply ? r->last_reply : "(none)");
    }
    printf("\n");
    queue_show_headers(&q, &e);
    envelope_free(&e);
    return 0;
}

/* Sends one request line to a running server; -1 if none answers (errno ENOENT/ECONNREFUSED). */
static int queue_control(const struct conf *c, const char *req, char *reply, size_t size)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (str_fmt(sun.sun_path, sizeof sun.sun_path, "%s/control", c->data_dir) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        errno = saved;
        return -1;
    }
    struct timeval tv = {30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t n = -1;
    if (write(fd, req, strlen(req)) == (ssize_t)strlen(req))
        n = read(fd, reply, size - 1);
    close(fd);
    reply[n > 0 ? n : 0] = '\0';
    reply[strcspn(reply, "\n")] = '\0';
    return 0;
}

/* No server running: makes the deferred recipients due in the files themselves. */
static int queue_flush_files(const struct conf *c, const char *id, size_t *count)
{
    struct queue_listing l = {0};
    struct queue q;
    if (queue_load_all(c, &l) < 0 || str_fmt(q.dir, sizeof q.dir, "%s/queue", c->data_dir) < 0)
        return -1;
    int r = 0, found = 0;
    for (size_t i = 0; i < l.n; i++) {
        struct envelope *e = &l.msgs[i];
        struct buf rec;
        buf_init(&rec, BUF_UNLIMITED);
        found |= id && strcmp(e->id, id) == 0;
        for (size_t k = 0; k < e->n_rcpts && !e->hold && (!id || strcmp(e->id, id) == 0); k++)
            if (e->rcpts[k].status == RCPT_DEFERRED) {
                e->rcpts[k].next_attempt = 0;
                envelope_format_state(e, k, &rec);
            }
        if (rec.len && queue_append(&q, e->id, rec.data, rec.len, 1) < 0)
            r = -1;
        *count += rec.len ? 1 : 0;
        buf_free(&rec);
        envelope_free(e);
    }
    free(l.msgs);
    if (id && !found) {
        errno = ENOENT;
        return -1;
    }
    return r;
}

static int queue_flush(const struct conf *c, const char *id)
{
    char reply[128];
    if (id && (strchr(id, '/') || strlen(id) > QUEUE_ID_MAX)) {
        fprintf(stderr, "postino: no such message in the queue: %s\n", id);
        return EX_NOINPUT;
    }
    char req[128];
    str_fmt(req, sizeof req, "FLUSH%s%s\n", id ? " " : "", id ? id : "");
    if (queue_control(c, req, reply, sizeof reply) == 0) {
        if (strcmp(reply, "ERR no such message") == 0) {
            fprintf(stderr, "postino: no such message in the queue: %s\n", id ? id : "");
            return EX_NOINPUT;
        }
        if (strncmp(reply, "OK ", 3) != 0) {
            fprintf(stderr, "postino: the server refused the flush: %s\n", reply);
            return EX_SOFTWARE;
        }
        printf("%s message(s) with deferred mail will be tried now\n", reply + 3);
        return 0;
    }
    size_t n = 0;
    if (queue_flush_files(c, id, &n) < 0) {
        if (errno == ENOENT && id) {
            fprintf(stderr, "postino: no such message in the queue: %s\n", id);
            return EX_NOINPUT;
        }
        fprintf(stderr, "postino: cannot update the queue: %s\n", strerror(errno));
        return EX_IOERR;
    }
    printf("%zu message(s) with deferred mail will be tried when postino starts "
           "(the server is not running)\n", n);
    return 0;
}

/* No server running: hold/release/delete in the queue files themselves. */
static int queue_change_file(const struct conf *c, const char *verb, const char *id)
{
    struct queue q;
    char path[PATH_MAX], dir[PATH_MAX];
    struct envelope e;
    if (str_fmt(q.dir, sizeof q.dir, "%s/queue", c->data_dir) < 0 ||
        queue_path(&q, id, path, sizeof path) < 0 || queue_load(path, &e) < 0) {
        errno = ENOENT;
        return -1;
    }
    envelope_free(&e);
    if (strcmp(verb, "DELETE") == 0)
        return queue_remove(&q, id) < 0 || queue_dir_of(&q, id, dir, sizeof dir) < 0
                   ? -1
                   : fsio_fsync_dir(dir);
    const char *rec = strcmp(verb, "HOLD") == 0 ? "hold 1\n" : "hold 0\n";
    return queue_append(&q, id, rec, strlen(rec), 1);
}

/* queue hold / release / delete ID: through the running server, else in the files. */
static int queue_change(const struct conf *c, const char *sub, const char *id)
{
    const char *verb = strcmp(sub, "hold") == 0 ? "HOLD" : strcmp(sub, "release") == 0 ? "RELEASE"
                                                                                      : "DELETE";
    char req[128], reply[128];
    if (strchr(id, '/') || strlen(id) > QUEUE_ID_MAX) {
        fprintf(stderr, "postino: no such message in the queue: %s\n", id);
        return EX_NOINPUT;
    }
    str_fmt(req, sizeof req, "%s %s\n", verb, id);
    if (queue_control(c, req, reply, sizeof reply) == 0) {
        if (strcmp(reply, "ERR no such message") == 0) {
            fprintf(stderr, "postino: no such message in the queue: %s\n", id);
            return EX_NOINPUT;
        }
        if (strncmp(reply, "OK", 2) != 0) {
            fprintf(stderr, "postino: queue %s %s: %s\n", sub, id, reply + (reply[0] ? 4 : 0));
            return strstr(reply, "busy") ? EX_TEMPFAIL : EX_SOFTWARE;
        }
    } else if (queue_change_file(c, verb, id) < 0) {
        if (errno == ENOENT) {
            fprintf(stderr, "postino: no such message in the queue: %s\n", id);
            return EX_NOINPUT;
        }
        fprintf(stderr, "postino: cannot update the queue: %s\n", strerror(errno));
        return EX_IOERR;
    }
    printf("%s: %s\n", id, strcmp(sub, "hold") == 0 ? "held" : strcmp(sub, "release") == 0
                                                           ? "released" : "deleted");
    return 0;
}

static int queue_usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: postino queue [-c FILE] list [--json]\n"
            "       postino queue [-c FILE] show ID\n"
            "       postino queue [-c FILE] flush [ID]\n"
            "       postino queue [-c FILE] hold|release|delete ID\n");
    return status;
}

int cmd_queue(int argc, char **argv)
{
    const char *path = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return queue_usage(0);
        else
            return queue_usage(EX_USAGE);
    }
    if (i >= argc)
        return queue_usage(EX_USAGE);
    const char *sub = argv[i++];
    int json = 0;
    const char *arg = NULL;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (!arg)
            arg = argv[i];
        else
            return queue_usage(EX_USAGE);
    }
    struct conf c;
    /* the users and aliases files play no part here (and need not be readable by
     * whoever runs mailq) */
    if (cmd_load_conf_settings(path, &c) < 0)
        return EXIT_CONFIG_ERROR;
    int status;
    if (strcmp(sub, "list") == 0 && !arg)
        status = queue_list(&c, json);
    else if (strcmp(sub, "show") == 0 && arg)
        status = queue_show(&c, arg);
    else if (strcmp(sub, "flush") == 0)
        status = queue_flush(&c, arg);
    else if ((strcmp(sub, "delete") == 0 || strcmp(sub, "hold") == 0 ||
              strcmp(sub, "release") == 0) && arg)
        status = queue_change(&c, sub, arg);
    else
        status = queue_usage(EX_USAGE);
    conf_free(&c);
    return status;
}
