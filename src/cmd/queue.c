/*
 * queue: "postino queue list [--json]", "summary [--json]", "show ID", "flush [ID]", "hold |
 * release | delete ID". list and show read the queue files directly, so
 * they work whether or not the server runs; a file removed meanwhile is
 * skipped and a torn last record ignored; damaged files (in the queue or
 * moved to DATA_DIR/corrupt) are counted. A user who cannot read the queue
 * (any local user: it is mode 0700) gets the same listing (mail/queue_list)
 * from the running server's read-only socket DATA_DIR/showq. The changes go
 * through the control socket (0600) or, with no server, into the files:
 * for anyone else they exit 77 (EX_NOPERM).
 */
#include "cmd/cmd.h"
#include "cmd/control_client.h"
#include "lib/fsio.h"
#include "lib/str.h"
#include "mail/queue.h"
#include "lib/dur.h"
#include "mail/queue_list.h"
#include "mail/queue_summary.h"
#include "qmgr/control.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#define QUEUE_CONTROL_WAIT_S 30
#define QUEUE_SHOWQ_WAIT_S 300 /* the server reads a big queue's files first */

/* "permission denied": changing (or reading one message of) the queue is for root and
 * the mail system's user; any local user may list it (queue_list). */
static int queue_noperm(const char *what)
{
    fprintf(stderr, "postino: queue %s: permission denied (only root or the mail system's user "
                    "may do this; any user may list the queue)\n", what);
    return EX_NOPERM;
}

#define QUEUE_LIST_CHUNK 65536 /* what the listing hands to stdout at a time */

/* The first line of the read-only socket's answer ("OK" or "ERR ..."), read byte by
 * byte so that nothing of the listing after it is taken. 0, or -1 (errno). */
static int queue_showq_status(int fd, char *line, size_t size)
{
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, line + n, 1);
        if (r < 0)
            return -1;
        if (r == 0 || line[n] == '\n') {
            line[n] = '\0';
            return 0;
        }
        if (n + 2 >= size) {
            line[n + 1] = '\0';
            return 0;
        }
        n++;
    }
}

/* Copies the rest of the answer (the listing, until the server closes) to stdout. */
static int queue_showq_copy(int fd)
{
    char chunk[QUEUE_LIST_CHUNK];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) > 0)
        if (fwrite(chunk, 1, (size_t)n, stdout) != (size_t)n)
            return 0; /* reported by queue_list's check of stdout */
    return n < 0 ? -1 : 0;
}

/*
 * The queue directory is closed to this user (mode 0700): the running server
 * formats the same listing from the same files and sends it over its
 * read-only socket, "OK" first, then the listing as it is made. Exit 69
 * (EX_UNAVAILABLE) when no server runs, as Postfix's mailq says "mail system
 * is down"; 75 when it is busy with other listings.
 */
static int queue_list_remote(const struct conf *c, const char *req)
{
    char status[CONTROL_ANSWER_MAX + 2];
    int fd = control_client_connect(c, CONTROL_SHOWQ_SOCKET, QUEUE_SHOWQ_WAIT_S);
    if (fd < 0 || fsio_write_all(fd, req, strlen(req)) < 0 ||
        queue_showq_status(fd, status, sizeof status) < 0) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        fprintf(stderr, "postino: Queue report unavailable - mail system is down (%s; the queue "
                        "in %s is not readable by this user)\n", strerror(saved), c->data_dir);
        return EX_UNAVAILABLE;
    }
    if (strcmp(status, "OK") != 0) {
        close(fd);
        fprintf(stderr, "postino: the server cannot list the queue: %s\n", status);
        return strstr(status, "busy") ? EX_TEMPFAIL : EX_SOFTWARE;
    }
    int r = queue_showq_copy(fd);
    int saved = errno;
    close(fd);
    if (r < 0) {
        fprintf(stderr, "postino: the listing was cut short: %s\n", strerror(saved));
        return EX_IOERR;
    }
    return 0;
}

/* One step of the listing or of the summary: 1 more, 0 complete, -1 errno. */
static int queue_list_step(int summary, struct queue_list_stream *ls,
                           struct queue_summary_stream *ss, struct buf *out)
{
    return summary ? queue_summary_next(ss, out) : queue_list_next(ls, out, QUEUE_LIST_CHUNK);
}

/* Lists (or summarises) from the files, writing each step to stdout as it is made.
 * 0, or -1 with errno; *wrote tells whether anything reached stdout. */
static int queue_list_local(const struct conf *c, int json, int summary, int *wrote)
{
    struct queue_list_stream ls;
    struct queue_summary_stream ss;
    struct buf out, note;
    int r = summary ? queue_summary_open(&ss, c->data_dir, dur_now_ms(), json)
                    : queue_list_open(&ls, c->data_dir, json);
    if (r < 0)
        return -1;
    buf_init(&out, BUF_UNLIMITED);
    do {
        r = queue_list_step(summary, &ls, &ss, &out);
        if (r >= 0 && out.len) {
            fwrite(out.data, 1, out.len, stdout);
            *wrote = 1;
        }
        buf_reset(&out);
    } while (r > 0);
    int saved = errno;
    buf_free(&out);
    if (summary) {
        queue_summary_close(&ss);
    } else {
        buf_init(&note, BUF_UNLIMITED);
        if (r == 0 && json)
            queue_list_damage(c->data_dir, ls.walk.unreadable, "postino: ", &note);
        fwrite(note.data ? note.data : "", 1, note.len, stderr);
        buf_free(&note);
        queue_list_close(&ls);
    }
    errno = saved;
    return r;
}

/* queue list, or queue summary: from the files, else from the running server. */
static int queue_list(const struct conf *c, int json, int summary)
{
    int status = 0, wrote = 0;
    if (queue_list_local(c, json, summary, &wrote) < 0) {
        if (errno == EACCES && !wrote) {
            static const char *const req[2][2] = {{"LIST\n", "LIST --json\n"},
                                                  {"SUMMARY\n", "SUMMARY --json\n"}};
            status = queue_list_remote(c, req[summary][json]);
        } else {
            fprintf(stderr, "postino: cannot read the queue in %s: %s\n", c->data_dir,
                    strerror(errno));
            status = EX_IOERR;
        }
    }
    if (fflush(stdout) == EOF || ferror(stdout)) {
        fprintf(stderr, "postino: cannot write the listing: %s\n", strerror(errno));
        return status ? status : EX_IOERR;
    }
    return status;
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
        if (errno == EACCES)
            return queue_noperm("show");
        fprintf(stderr, "postino: no such message in the queue: %s\n", id);
        return EX_NOINPUT;
    }
    char arrival[32], notify[64];
    queue_list_time(e.arrival, arrival, sizeof arrival);
    printf("id: %s\nsender: <%s>\nsize: %" PRIu64 "\narrival: %s\nhold: %s\n", e.id, e.sender,
           e.size, arrival, e.hold ? "yes" : "no");
    printf("ret: %s\nenvid: %s\nbody: %s\nclient: %s\nhelo: %s\n",
           e.ret ? dsn_ret_name(e.ret) : "(none)", e.envid ? e.envid : "(none)",
           e.body ? body_type_name(e.body) : "(none)", e.client ? e.client : "(local)",
           e.helo ? e.helo : "");
    if (e.smtputf8) /* only then: the output of ASCII mail is as before */
        printf("smtputf8: yes\n");
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
        if (r->tls)
            printf(" tls=%s", r->tls);
        printf(" last_reply=%s\n", r->last_reply ? r->last_reply : "(none)");
    }
    printf("\n");
    queue_show_headers(&q, &e);
    envelope_free(&e);
    return 0;
}

/* Makes e's deferred recipients due in its file (held mail keeps its schedule).
 * 0 or -1; *changed is set when a record was appended. */
static int queue_flush_one(const struct queue *q, struct envelope *e, int *changed)
{
    struct buf rec;
    buf_init(&rec, BUF_UNLIMITED);
    for (size_t k = 0; k < e->n_rcpts && !e->hold; k++)
        if (e->rcpts[k].status == RCPT_DEFERRED) {
            e->rcpts[k].next_attempt = 0;
            envelope_format_state(e, k, &rec);
        }
    int r = rec.len ? queue_append(q, e->id, rec.data, rec.len, 1) : 0;
    *changed = rec.len > 0;
    buf_free(&rec);
    return r;
}

/* No server running: makes the deferred recipients due in the files themselves, one
 * message at a time. */
static int queue_flush_files(const struct conf *c, const char *id, size_t *count)
{
    struct queue_walk w;
    struct queue q;
    struct envelope e;
    if (queue_walk_open(&w, c->data_dir) < 0 ||
        str_fmt(q.dir, sizeof q.dir, "%s/queue", c->data_dir) < 0)
        return -1;
    int r = 0, found = 0, more, changed = 0;
    while ((more = queue_walk_next(&w, &e)) > 0) {
        if (!id || strcmp(e.id, id) == 0) {
            found = 1;
            r |= queue_flush_one(&q, &e, &changed);
            *count += (size_t)changed;
        }
        envelope_free(&e);
    }
    int saved = errno;
    queue_walk_close(&w);
    errno = saved;
    if (more < 0)
        return -1;
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
    if (control_client_request(c, req, reply, sizeof reply, QUEUE_CONTROL_WAIT_S) == 0) {
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
    if (errno == EACCES)
        return queue_noperm("flush");
    if (queue_flush_files(c, id, &n) < 0) {
        if (errno == EACCES)
            return queue_noperm("flush");
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
        errno = errno == EACCES ? EACCES : ENOENT;
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
    if (control_client_request(c, req, reply, sizeof reply, QUEUE_CONTROL_WAIT_S) == 0) {
        if (strcmp(reply, "ERR no such message") == 0) {
            fprintf(stderr, "postino: no such message in the queue: %s\n", id);
            return EX_NOINPUT;
        }
        if (strncmp(reply, "OK", 2) != 0) {
            fprintf(stderr, "postino: queue %s %s: %s\n", sub, id, reply + (reply[0] ? 4 : 0));
            return strstr(reply, "busy") ? EX_TEMPFAIL : EX_SOFTWARE;
        }
    } else if (errno == EACCES || queue_change_file(c, verb, id) < 0) {
        if (errno == EACCES)
            return queue_noperm(sub);
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
            "       postino queue [-c FILE] summary [--json]\n"
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
        status = queue_list(&c, json, 0);
    else if (strcmp(sub, "summary") == 0 && !arg)
        status = queue_list(&c, json, 1);
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
