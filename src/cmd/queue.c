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

/* Sends req on the read-only socket and reads the whole answer into out; -1 (errno) if
 * no server answers. */
static int queue_showq(const struct conf *c, const char *req, struct buf *out)
{
    int fd = control_client_connect(c, CONTROL_SHOWQ_SOCKET, QUEUE_SHOWQ_WAIT_S);
    if (fd < 0)
        return -1;
    int r = fsio_write_all(fd, req, strlen(req));
    char chunk[65536];
    ssize_t n = 0;
    while (r == 0 && (n = read(fd, chunk, sizeof chunk)) > 0)
        buf_append(out, chunk, (size_t)n);
    int saved = errno;
    close(fd);
    errno = saved;
    return r < 0 || n < 0 ? -1 : 0;
}

/*
 * The queue directory is closed to this user (mode 0700): the running server
 * formats the same listing from the same files and sends it over its
 * read-only socket. Exit 69 (EX_UNAVAILABLE) when no server runs, as Postfix's
 * mailq says "mail system is down"; 75 when it is busy with other listings.
 */
static int queue_list_remote(const struct conf *c, const char *req, struct buf *out)
{
    if (queue_showq(c, req, out) < 0) {
        fprintf(stderr, "postino: Queue report unavailable - mail system is down (%s; the queue "
                        "in %s is not readable by this user)\n", strerror(errno), c->data_dir);
        return EX_UNAVAILABLE;
    }
    size_t head = strlen(CONTROL_SHOWQ_OK);
    if (out->len >= head && memcmp(out->data, CONTROL_SHOWQ_OK, head) == 0) {
        buf_consume(out, head);
        return 0;
    }
    buf_putc(out, '\0');
    fprintf(stderr, "postino: the server cannot list the queue: %.*s\n",
            (int)strcspn(out->data, "\n"), out->data);
    return strstr(out->data, "busy") ? EX_TEMPFAIL : EX_SOFTWARE;
}

/* queue list, or queue summary: from the files, else from the running server. */
static int queue_list(const struct conf *c, int json, int summary)
{
    struct buf out, note;
    int status = 0;
    buf_init(&out, BUF_UNLIMITED);
    buf_init(&note, BUF_UNLIMITED);
    int r = summary ? queue_summary_text(c->data_dir, dur_now_ms(), json, &out)
                    : queue_list_format(c->data_dir, json, &out, &note);
    if (r < 0) {
        if (errno == EACCES) {
            static const char *const req[2][2] = {{"LIST\n", "LIST --json\n"},
                                                  {"SUMMARY\n", "SUMMARY --json\n"}};
            buf_reset(&out);
            status = queue_list_remote(c, req[summary][json], &out);
        } else {
            fprintf(stderr, "postino: cannot read the queue in %s: %s\n", c->data_dir,
                    strerror(errno));
            status = EX_IOERR;
        }
    }
    if (status == 0)
        fwrite(out.data ? out.data : "", 1, out.len, stdout);
    fwrite(note.data ? note.data : "", 1, note.len, stderr);
    buf_free(&note);
    buf_free(&out);
    if (status == 0 && (fflush(stdout) == EOF || ferror(stdout))) {
        fprintf(stderr, "postino: cannot write the listing: %s\n", strerror(errno));
        return EX_IOERR;
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

/* No server running: makes the deferred recipients due in the files themselves. */
static int queue_flush_files(const struct conf *c, const char *id, size_t *count)
{
    struct queue_listing l;
    struct queue q;
    if (queue_listing_load(c->data_dir, &l) < 0 ||
        str_fmt(q.dir, sizeof q.dir, "%s/queue", c->data_dir) < 0)
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
    }
    queue_listing_free(&l);
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
