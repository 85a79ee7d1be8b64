/*
 * webd_inbox: the inbox page and deleting to Trash (see webd_int.h).
 *
 * GET /inbox?page=N lists the user's Maildir newest first (unique names
 * begin with the arrival time: the light snapshot's name order, reversed),
 * WEBD_INBOX_PAGE a page. The snapshot reads no file (a stat each); only the
 * page's own messages are opened, and of each only its header, at most
 * WEBD_INBOX_HEAD_MAX octets: a page costs the same in a mailbox of 10,000
 * as in one of 60. Sender and subject are decoded with GMime (RFC 2047
 * encoded words, any charset, to UTF-8) and every value is HTML-escaped.
 *
 * POST /msg/ID/delete moves the message to the Maildir++ folder .Trash
 * (mailbox_trash). ID is only ever looked up among the snapshot's names
 * (mailbox_find): nothing from the request becomes a path. All file work
 * runs on a web worker; the loop only answers.
 */
#include "webd/webd_int.h"
#include "lib/alloc.h"
#include "lib/html.h"
#include "lib/log.h"
#include "lib/str.h"
#include "mail/mailbox.h"
#include "proto/rfc5322.h"
#include <errno.h>
#include <fcntl.h>
#include <gmime/gmime.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WEBD_INBOX_PAGE 50
#define WEBD_INBOX_HEAD_MAX (64 * 1024)
#define WEBD_INBOX_CHUNK 8192

/* One message of the page, as shown (UTF-8, not yet escaped). */
struct webd_inbox_row {
    char *from;         /* the display name, else the address */
    char *from_addr;    /* the address (title), may be "" */
    char *subject;
    int64_t date_ms;
    uint64_t size;
    int seen;
};

/* ---- reading one message's header (on the worker) ---- */

/* Reads the header section of path into head: up to the blank line, at most
 * WEBD_INBOX_HEAD_MAX octets. 0 or -1 (errno). */
static int webd_inbox_read_head(const char *path, struct buf *head)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    char chunk[WEBD_INBOX_CHUNK];
    ssize_t n = 0;
    while (head->len < WEBD_INBOX_HEAD_MAX) {
        size_t want = WEBD_INBOX_HEAD_MAX - head->len;
        n = read(fd, chunk, want < sizeof chunk ? want : sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        size_t from = head->len > 2 ? head->len - 2 : 0;
        buf_append(head, chunk, (size_t)n);
        if (memmem(head->data + from, head->len - from, "\n\n", 2) ||
            memmem(head->data + from, head->len - from, "\n\r\n", 3))
            break;
    }
    int e = errno;
    close(fd);
    errno = e;
    return n < 0 ? -1 : 0;
}

/* The unfolded value of the header field name, or NULL (g_free it). */
static char *webd_inbox_field(const struct buf *head, size_t head_len, const char *name)
{
    struct rfc5322_field f;
    if (rfc5322_find_field(head->data, head_len, name, &f) < 0)
        return NULL;
    char *raw = xstrndup(head->data + f.colon + 1, f.end - f.colon - 1);
    char *v = g_mime_utils_header_unfold(raw);
    free(raw);
    return v;
}

/* s made valid UTF-8 (taken). */
static char *webd_inbox_utf8(char *s)
{
    char *v = g_utf8_make_valid(s, -1);
    g_free(s);
    return v;
}

static void webd_inbox_from(struct webd_inbox_row *row, const char *value)
{
    InternetAddressList *list = value ? internet_address_list_parse(NULL, value) : NULL;
    InternetAddress *ia = list && internet_address_list_length(list) > 0
                              ? internet_address_list_get_address(list, 0)
                              : NULL;
    const char *name = ia ? internet_address_get_name(ia) : NULL;
    const char *addr = ia && INTERNET_ADDRESS_IS_MAILBOX(ia)
                           ? internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia))
                           : NULL;
    row->from_addr = webd_inbox_utf8(g_strdup(addr ? addr : ""));
    if (name && *name)
        row->from = webd_inbox_utf8(g_strdup(name));
    else if (addr && *addr)
        row->from = g_strdup(row->from_addr);
    else if (value && *value) /* not an address: show the words it has */
        row->from = webd_inbox_utf8(g_mime_utils_header_decode_text(NULL, value));
    else
        row->from = g_strdup("(unknown sender)");
    if (list)
        g_object_unref(list);
}

/* The arrival time a Maildir name begins with (seconds), in ms; 0 if none. */
static int64_t webd_inbox_arrival_ms(const char *name)
{
    char *end;
    errno = 0;
    unsigned long long s = strtoull(name, &end, 10);
    if (end == name || errno || s > (unsigned long long)RFC5322_TIME_MAX)
        return 0;
    return (int64_t)s * 1000;
}

static int64_t webd_inbox_date_ms(const char *value, const char *name)
{
    GDateTime *dt = value ? g_mime_utils_header_decode_date(value) : NULL;
    int64_t t = dt ? g_date_time_to_unix(dt) : 0;
    if (dt)
        g_date_time_unref(dt);
    if (t > 0 && t <= (int64_t)RFC5322_TIME_MAX)
        return t * 1000;
    return webd_inbox_arrival_ms(name);
}

/* Fills row from message i of mb; a file that cannot be read still gets a row. */
static void webd_inbox_row_read(const struct mailbox *mb, size_t i, struct webd_inbox_row *row)
{
    const struct mailbox_msg *m = &mb->msgs[i];
    char path[PATH_MAX];
    struct buf head;
    buf_init(&head, WEBD_INBOX_HEAD_MAX);
    if (mailbox_path(mb, i, path, sizeof path) < 0 || webd_inbox_read_head(path, &head) < 0)
        buf_reset(&head); /* gone or unreadable: shown with what the name says */
    size_t len = head.len ? rfc5322_header_length(head.data, head.len, NULL) : 0;
    char *from = len ? webd_inbox_field(&head, len, "From") : NULL;
    char *subject = len ? webd_inbox_field(&head, len, "Subject") : NULL;
    char *date = len ? webd_inbox_field(&head, len, "Date") : NULL;
    webd_inbox_from(row, from);
    char *text = subject ? g_mime_utils_header_decode_text(NULL, subject) : NULL;
    if (text && *g_strstrip(text)) {
        row->subject = webd_inbox_utf8(text);
    } else {
        g_free(text);
        row->subject = g_strdup("(no subject)");
    }
    row->date_ms = webd_inbox_date_ms(date, m->name);
    row->size = m->size;
    row->seen = mailbox_msg_seen(m);
    g_free(from);
    g_free(subject);
    g_free(date);
    buf_free(&head);
}

static void webd_inbox_row_free(struct webd_inbox_row *row)
{
    g_free(row->from);
    g_free(row->from_addr);
    g_free(row->subject);
}

/* ---- the page (built on the worker: it is the request's own buffer) ---- */

/* "812 B", "1.2 KB", "15 KB", "4.8 MB" (1 KB = 1024 octets). */
static void webd_inbox_size(struct webd_req *r, uint64_t size)
{
    static const char *const unit[] = {"B", "KB", "MB", "GB", "TB"};
    size_t u = 0;
    uint64_t tenths = size * 10;
    while (size >= 1024 && u + 1 < sizeof unit / sizeof unit[0]) {
        tenths = size * 10 / 1024;
        size /= 1024;
        u++;
    }
    if (u == 0 || tenths >= 100)
        webd_page_printf(r, "%llu %s", (unsigned long long)(u ? (tenths + 5) / 10 : size),
                         unit[u]);
    else
        webd_page_printf(r, "%llu.%llu %s", (unsigned long long)(tenths / 10),
                         (unsigned long long)(tenths % 10), unit[u]);
}

static void webd_inbox_row_html(struct webd_req *r, const struct mailbox_msg *m,
                                const struct webd_inbox_row *row)
{
    webd_page_printf(r, "<tr class=\"msg%s\"><td class=\"from\" title=\"",
                     row->seen ? "" : " unseen");
    webd_page_esc(r, row->from_addr);
    webd_page_printf(r, "\">");
    webd_page_esc(r, row->from);
    webd_page_printf(r, "</td><td class=\"subject\"><a class=\"subject\" href=\"/msg/");
    html_urlencode(&r->page, m->uid);
    webd_page_printf(r, "\">");
    webd_page_esc(r, row->subject);
    webd_page_printf(r, "</a></td><td class=\"date\">");
    if (row->date_ms)
        webd_page_time(r, row->date_ms);
    webd_page_printf(r, "</td><td class=\"size\">");
    webd_inbox_size(r, row->size);
    webd_page_printf(r, "</td></tr>\n");
}

/* The page number asked for (1 when absent or not a number). */
static size_t webd_inbox_page_asked(const char *s)
{
    char *end;
    if (!s || *s < '0' || *s > '9')
        return 1;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    return *end || errno || v == 0 ? 1 : (size_t)v;
}

static void webd_inbox_table(struct webd_req *r, struct mailbox *mb, size_t page, size_t pages)
{
    size_t first = (page - 1) * WEBD_INBOX_PAGE;
    size_t count = mb->n - first < WEBD_INBOX_PAGE ? mb->n - first : WEBD_INBOX_PAGE;
    webd_page_printf(r, "<p id=\"count\">Messages %zu-%zu of %zu</p>\n", first + 1,
                     first + count, mb->n);
    webd_page_printf(r, "<table id=\"inbox\"><thead><tr><th class=\"from\">From</th>"
                        "<th class=\"subject\">Subject</th><th class=\"date\">Date</th>"
                        "<th class=\"size\">Size</th></tr></thead>\n<tbody>\n");
    for (size_t k = 0; k < count; k++) {
        size_t i = mb->n - 1 - (first + k); /* newest first */
        struct webd_inbox_row row = {0};
        webd_inbox_row_read(mb, i, &row);
        webd_inbox_row_html(r, &mb->msgs[i], &row);
        webd_inbox_row_free(&row);
    }
    webd_page_printf(r, "</tbody></table>\n<p class=\"paging\">");
    if (page > 1)
        webd_page_printf(r, "<a id=\"prev\" href=\"/inbox?page=%zu\">Newer</a> ", page - 1);
    if (page < pages)
        webd_page_printf(r, "<a id=\"next\" href=\"/inbox?page=%zu\">Older</a>", page + 1);
    webd_page_printf(r, "</p>\n");
}

static void webd_inbox_work(struct webd_req *r)
{
    struct mailbox mb;
    if (mailbox_open_light(&mb, r->conf->data_dir, r->box.domain, r->box.local) < 0) {
        log_err("web: inbox of %s: %s", r->box.addr, strerror(errno));
        r->status = 500;
        str_copy(r->error, sizeof r->error, "Your mailbox could not be read: try again later.");
        return;
    }
    size_t pages = mb.n ? (mb.n + WEBD_INBOX_PAGE - 1) / WEBD_INBOX_PAGE : 1;
    size_t page = webd_inbox_page_asked(webd_query(r, "page"));
    if (page > pages)
        page = pages; /* past the end: the last page */
    webd_page_begin(r, "Inbox");
    if (mb.n == 0)
        webd_page_printf(r, "<p id=\"empty\">Your inbox is empty.</p>\n");
    else
        webd_inbox_table(r, &mb, page, pages);
    webd_page_end(r);
    mailbox_close(&mb);
    r->status = 200;
}

static void webd_inbox_done(struct webd_req *r)
{
    if (r->status != 200)
        webd_send_error(r, r->status, "Internal Server Error", r->error);
    else
        webd_send_page(r, 200, "OK");
}

void webd_inbox(struct webd_req *r)
{
    webd_defer(r, webd_inbox_work, webd_inbox_done);
}

/* ---- POST /msg/ID/delete ---- */

struct webd_delete {
    char id[NAME_MAX + 1];
    char back[64];      /* where to go after: /inbox or /inbox?page=N */
};

/* Moves the message named d->id to .Trash; a fresh snapshot is tried twice, as a
 * POP3 session may rename it (new/ -> cur/) between snapshot and move. */
static void webd_delete_work(struct webd_req *r)
{
    struct webd_delete *d = r->data;
    r->status = 404;
    for (int attempt = 0; attempt < 2 && r->status == 404; attempt++) {
        struct mailbox mb;
        if (mailbox_open_light(&mb, r->conf->data_dir, r->box.domain, r->box.local) < 0) {
            r->status = 500;
            break;
        }
        long i = mailbox_find(&mb, d->id);
        if (i >= 0 && mailbox_trash(&mb, (size_t)i) == 0)
            r->status = 303;
        else if (i >= 0 && errno != ENOENT)
            r->status = 500;
        mailbox_close(&mb);
    }
    if (r->status == 500) {
        log_err("web: %s: moving %s to .Trash: %s", r->box.addr, d->id, strerror(errno));
        str_copy(r->error, sizeof r->error,
                 "The message could not be moved to the Trash: try again later.");
    } else if (r->status == 303) {
        log_info("web: %s: %s moved to .Trash", r->box.addr, d->id);
    }
}

static void webd_delete_gone(struct webd_req *r)
{
    webd_send_error(r, 404, "Not Found",
                    "There is no such message in your inbox: it may have been deleted already.");
}

static void webd_delete_done(struct webd_req *r)
{
    struct webd_delete *d = r->data;
    if (r->status == 303)
        webd_send_redirect(r, d->back);
    else if (r->status == 404)
        webd_delete_gone(r);
    else
        webd_send_error(r, 500, "Internal Server Error", r->error);
}

void webd_msg_delete(struct webd_req *r)
{
    const char *slash = strchr(r->rest, '/');
    if (!slash || strcmp(slash, "/delete") != 0 || slash == r->rest) {
        webd_send_error(r, 404, "Not Found", "There is no such page.");
        return;
    }
    struct webd_delete *d = xcalloc(1, sizeof *d);
    r->data = d;
    r->data_free = free;
    if (str_ncopy(d->id, sizeof d->id, r->rest, (size_t)(slash - r->rest)) < 0) {
        webd_delete_gone(r); /* longer than any file name */
        return;
    }
    const char *page = webd_form(r, "page");
    size_t n = webd_inbox_page_asked(page);
    if (page && n > 1)
        str_fmt(d->back, sizeof d->back, "/inbox?page=%zu", n);
    else
        str_copy(d->back, sizeof d->back, "/inbox");
    webd_defer(r, webd_delete_work, webd_delete_done);
}
