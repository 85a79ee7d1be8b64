/*
 * webd_message: one message's page (GET /msg/ID: headers, text parts,
 * the sanitized HTML body in a sandboxed frame, the attachments; opening it
 * marks it seen as POP3 does), its source (/msg/ID/raw), its HTML body for
 * the frame (/msg/ID/html[?remote=1], under its own CSP) and its
 * attachments (/msg/ID/part/N, always a download). ID is only compared with
 * the names of the user's own Maildir snapshot; every file and GMime step
 * runs on a web worker; big contents (the source, an attachment) go out as
 * files (evbuffer_add_file), never read whole into memory.
 */
#include "webd/webd_int.h"
#include "webd/webd_mime.h"
#include "lib/alloc.h"
#include "lib/html.h"
#include "lib/log.h"
#include "lib/str.h"
#include "mail/mailbox.h"
#include "proto/html_clean.h"
#include <errno.h>
#include <event2/buffer.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WEBD_MSG_TEXT_MAX (1024 * 1024)      /* text shown on the page, all parts */
#define WEBD_MSG_HTML_IN_MAX (2 * 1024 * 1024) /* decoded HTML given to the cleaner */
#define WEBD_MSG_HTML_OUT_MAX (24 * 1024 * 1024)
#define WEBD_MSG_PART_DIGITS 6
#define WEBD_MSG_CID_MAX (4 * 1024 * 1024) /* images of the message inlined, all together */

#define WEBD_HTML_CSP "default-src 'none'; style-src 'unsafe-inline'; img-src data:; " \
                      "frame-ancestors 'self'; sandbox"
#define WEBD_HTML_CSP_REMOTE "default-src 'none'; style-src 'unsafe-inline'; " \
                             "img-src data: https: http:; frame-ancestors 'self'; sandbox"

enum webd_msg_what { WEBD_MSG_VIEW, WEBD_MSG_RAW, WEBD_MSG_HTML, WEBD_MSG_PART };

struct webd_msg_job {
    enum webd_msg_what what;
    char id[NAME_MAX + 1];
    struct buf url_id;          /* id percent-encoded for the page's links */
    long part;                  /* WEBD_MSG_PART: the index asked for */
    int remote;                 /* ?remote=1: remote images allowed */
    int fd;                     /* RAW, PART: the file to send, or -1 */
    int64_t size;
    char *name;                 /* PART: the attachment's name (g_malloc) */
    struct buf body;            /* HTML: the cleaned document */
};

static void webd_msg_job_free(void *data)
{
    struct webd_msg_job *j = data;
    if (j->fd >= 0)
        close(j->fd);
    g_free(j->name);
    buf_free(&j->body);
    buf_free(&j->url_id);
    free(j);
}

static void webd_msg_fail(struct webd_req *r, int status, const char *words)
{
    r->status = status;
    str_copy(r->error, sizeof r->error, words);
}

/* ---- on the worker: the page ---- */

static void webd_msg_headers(struct webd_req *r, struct webd_mime *m)
{
    static const char *const names[] = {"From", "To", "Cc", "Date", "Subject"};
    struct buf v;
    buf_init(&v, BUF_UNLIMITED);
    webd_page_printf(r, "<dl id=\"headers\">\n");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        buf_reset(&v);
        webd_mime_header(m, names[i], &v);
        if (!v.len)
            continue;
        webd_page_printf(r, "<dt>%s</dt><dd>", names[i]);
        webd_page_escn(r, v.data, v.len);
        webd_page_printf(r, "</dd>\n");
    }
    webd_page_printf(r, "</dl>\n");
    buf_free(&v);
}

static void webd_msg_actions(struct webd_req *r, const char *id)
{
    webd_page_printf(r, "<p><a id=\"raw\" href=\"/msg/%s/raw\">View the source</a></p>\n", id);
    webd_page_printf(r, "<form id=\"delete\" method=\"post\" action=\"/msg/%s/delete\">", id);
    webd_page_csrf(r);
    webd_page_printf(r, "<button type=\"submit\" id=\"delete-button\">Delete</button></form>\n");
}

/* A text/plain part, escaped, within what is left of the page's text budget. */
static void webd_msg_text(struct webd_req *r, GMimeObject *o, size_t *budget)
{
    struct buf t;
    int cut = 0;
    buf_init(&t, BUF_UNLIMITED);
    if (*budget == 0)
        cut = 1;
    else if (webd_mime_text(o, *budget, &t, &cut) < 0)
        log_warn("web: %s: a text part could not be read to its end", r->box.addr);
    *budget -= t.len < *budget ? t.len : *budget;
    if (t.len) {
        webd_page_printf(r, "<pre class=\"text-body\">");
        webd_page_escn(r, t.data, t.len);
        webd_page_printf(r, "</pre>\n");
    }
    if (cut)
        webd_page_printf(r, "<p class=\"note\">This text is long: shown in part. "
                            "The whole message is in its source.</p>\n");
    buf_free(&t);
}

struct webd_msg_cid {
    struct webd_mime *m;
    size_t budget;              /* bytes of images still allowed inline */
};

/* An image the HTML body names by "cid:" (a part of the message, RFC 2392) as
 * a data: URL, so that the frame loads nothing, even from this site. */
static char *webd_msg_cid(void *ctx, const char *id)
{
    static const char *const types[] = {"png", "gif", "jpeg", "webp"};
    struct webd_msg_cid *c = ctx;
    for (size_t i = 0; i < c->m->n_atts; i++) {
        GMimeObject *o = c->m->atts[i].obj;
        const char *cid = g_mime_object_get_content_id(o);
        GMimeContentType *ct = g_mime_object_get_content_type(o);
        if (!cid || strcmp(cid, id) != 0 || !ct)
            continue;
        for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
            if (!g_mime_content_type_is_type(ct, "image", types[t]))
                continue;
            struct buf raw;
            int cut = 0;
            char *url = NULL;
            buf_init(&raw, BUF_UNLIMITED);
            if (webd_mime_bytes(o, 0, c->budget, &raw, &cut) == 0 && !cut && raw.len) {
                c->budget -= raw.len;
                gchar *b64 = g_base64_encode((const guchar *)raw.data, raw.len);
                size_t n = strlen(b64) + 32;
                url = xmalloc(n);
                str_fmt(url, n, "data:image/%s;base64,%s", types[t], b64);
                g_free(b64);
            }
            buf_free(&raw);
            return url;
        }
        return NULL;
    }
    return NULL;
}

/* The decoded HTML body cleaned into out (at most WEBD_MSG_HTML_OUT_MAX), with
 * its cid: images inlined when m is given. 0 or -1. */
static int webd_msg_clean(struct webd_mime *m, GMimeObject *o, int remote, struct buf *out,
                          struct html_clean_result *res)
{
    struct buf in;
    int cut = 0;
    buf_init(&in, BUF_UNLIMITED);
    buf_init(out, WEBD_MSG_HTML_OUT_MAX);
    struct webd_msg_cid cid = {m, WEBD_MSG_CID_MAX};
    struct html_clean_opts opts = {.allow_remote = remote, .cid = m ? webd_msg_cid : NULL,
                                   .cid_ctx = &cid};
    int rc = webd_mime_text(o, WEBD_MSG_HTML_IN_MAX, &in, &cut);
    if (rc == 0)
        rc = html_clean(in.data ? in.data : "", in.len, &opts, out, res);
    res->cut |= cut;
    buf_free(&in);
    return rc;
}

static void webd_msg_html_frame(struct webd_req *r, struct webd_mime *m, GMimeObject *o)
{
    struct webd_msg_job *j = r->data;
    struct buf out;
    struct html_clean_result res;
    (void)m; /* the page only needs to know about remote content: no images inlined */
    if (webd_msg_clean(NULL, o, j->remote, &out, &res) < 0)
        memset(&res, 0, sizeof res);
    buf_free(&out);
    const char *id = buf_cstr(&j->url_id);
    if (res.remote_removed)
        webd_page_printf(r, "<p class=\"note\">This message refers to pictures elsewhere: "
                            "loading them tells the sender that you read it. "
                            "<a id=\"load-remote\" href=\"/msg/%s?remote=1\">Load remote "
                            "content</a></p>\n", id);
    webd_page_printf(r, "<iframe id=\"html-body\" sandbox=\"\" title=\"The message\" "
                        "src=\"/msg/%s/html%s\"></iframe>\n", id, j->remote ? "?remote=1" : "");
    if (res.cut)
        webd_page_printf(r, "<p class=\"note\">This message is long: shown in part.</p>\n");
}

static void webd_msg_size(struct webd_req *r, int64_t n)
{
    if (n < 0)
        webd_page_printf(r, "size unknown");
    else if (n < 1024)
        webd_page_printf(r, "%lld bytes", (long long)n);
    else if (n < 1024 * 1024)
        webd_page_printf(r, "%.1f KB", (double)n / 1024);
    else
        webd_page_printf(r, "%.1f MB", (double)n / (1024 * 1024));
}

static void webd_msg_attachments(struct webd_req *r, struct webd_mime *m, const char *id)
{
    if (!m->n_atts)
        return;
    webd_page_printf(r, "<h2>Attachments</h2>\n<ul id=\"attachments\">\n");
    for (size_t i = 0; i < m->n_atts; i++) {
        webd_page_printf(r, "<li><a class=\"attachment\" href=\"/msg/%s/part/%zu\">", id, i);
        webd_page_esc(r, m->atts[i].name);
        webd_page_printf(r, "</a> <span class=\"size\">(");
        webd_msg_size(r, webd_mime_save(m->atts[i].obj, -1));
        webd_page_printf(r, ")</span></li>\n");
    }
    webd_page_printf(r, "</ul>\n");
}

static void webd_msg_view(struct webd_req *r, struct webd_mime *m)
{
    struct webd_msg_job *j = r->data;
    struct buf subject;
    buf_init(&subject, BUF_UNLIMITED);
    webd_mime_header(m, "Subject", &subject);
    webd_page_begin(r, subject.len ? buf_cstr(&subject) : "(no subject)");
    buf_free(&subject);
    webd_msg_headers(r, m);
    webd_msg_actions(r, buf_cstr(&j->url_id));
    size_t budget = WEBD_MSG_TEXT_MAX;
    for (size_t i = 0; i < m->n_shown; i++) {
        if (m->shown[i].kind == WEBD_MIME_TEXT)
            webd_msg_text(r, m->shown[i].obj, &budget);
        else
            webd_msg_html_frame(r, m, m->shown[i].obj);
    }
    if (!m->n_shown)
        webd_page_printf(r, "<p class=\"note\">This message has no text to show.</p>\n");
    webd_msg_attachments(r, m, buf_cstr(&j->url_id));
    webd_page_end(r);
}

/* ---- on the worker: the HTML body and an attachment ---- */

static void webd_msg_html(struct webd_req *r, struct webd_mime *m)
{
    struct webd_msg_job *j = r->data;
    struct html_clean_result res;
    buf_free(&j->body);
    if (!m->html)
        webd_msg_fail(r, 404, "This message has no HTML body.");
    else if (webd_msg_clean(m, m->html, j->remote, &j->body, &res) < 0)
        webd_msg_fail(r, 500, "This message's HTML body is too large to show.");
}

/* An unlinked file in data_dir for an attachment's decoded bytes. */
static int webd_msg_tmpfile(const char *dir)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd;
    char path[PATH_MAX];
    if (str_fmt(path, sizeof path, "%s/tmp-web-XXXXXX", dir) < 0)
        return -1;
    fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0)
        unlink(path);
    return fd;
}

static void webd_msg_part(struct webd_req *r, struct webd_mime *m)
{
    struct webd_msg_job *j = r->data;
    if (j->part < 0 || (size_t)j->part >= m->n_atts) {
        webd_msg_fail(r, 404, "This message has no such attachment.");
        return;
    }
    int fd = webd_msg_tmpfile(r->conf->data_dir);
    if (fd < 0) {
        log_err("web: %s: cannot make a temporary file in %s: %s", r->box.addr,
                r->conf->data_dir, strerror(errno));
        webd_msg_fail(r, 500, "The attachment could not be prepared: try again later.");
        return;
    }
    j->size = webd_mime_save(m->atts[j->part].obj, fd);
    if (j->size < 0) {
        close(fd);
        log_err("web: %s: an attachment could not be written out", r->box.addr);
        webd_msg_fail(r, 500, "The attachment could not be prepared: try again later.");
        return;
    }
    j->fd = fd;
    j->name = g_strdup(m->atts[j->part].name);
}

/* ---- on the worker: finding the message ---- */

/* Opens the message j->id of the user's own Maildir (marking it seen for the
 * view). The descriptor, or -1 with the answer set. */
static int webd_msg_open(struct webd_req *r, struct webd_msg_job *j)
{
    struct mailbox mb;
    char path[PATH_MAX];
    if (mailbox_open_light(&mb, r->conf->data_dir, r->box.domain, r->box.local) < 0) {
        log_err("web: %s: cannot read the mailbox: %s", r->box.addr, strerror(errno));
        webd_msg_fail(r, 500, "Your mailbox cannot be read just now: try again later.");
        return -1;
    }
    long i = mailbox_find(&mb, j->id);
    int fd = -1;
    if (i >= 0 && j->what == WEBD_MSG_VIEW && mailbox_mark_seen(&mb, (size_t)i) < 0)
        log_warn("web: %s: cannot mark %s seen: %s", r->box.addr, j->id, strerror(errno));
    if (i >= 0 && mailbox_path(&mb, (size_t)i, path, sizeof path) == 0)
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    mailbox_close(&mb);
    if (fd < 0)
        webd_msg_fail(r, 404, "There is no such message in your mailbox "
                              "(it may have been deleted or moved).");
    return fd;
}

static void webd_msg_work(struct webd_req *r)
{
    struct webd_msg_job *j = r->data;
    struct webd_mime m;
    struct stat st;
    int fd = webd_msg_open(r, j);
    if (fd < 0)
        return;
    if (j->what == WEBD_MSG_RAW) {
        j->fd = fd;
        j->size = fstat(fd, &st) == 0 ? (int64_t)st.st_size : 0;
        return;
    }
    if (webd_mime_open(&m, fd) < 0) {
        webd_msg_fail(r, 500, "This message could not be read.");
        return;
    }
    if (j->what == WEBD_MSG_VIEW)
        webd_msg_view(r, &m);
    else if (j->what == WEBD_MSG_HTML)
        webd_msg_html(r, &m);
    else
        webd_msg_part(r, &m);
    webd_mime_close(&m);
}

/* ---- back on the loop: the answer ---- */

/* The Content-Disposition of an attachment (RFC 6266): an ASCII filename= for old
 * clients and filename*=UTF-8'' with the real name. */
static void webd_msg_disposition(const char *name, struct buf *out)
{
    buf_appends(out, "attachment; filename=\"");
    for (const char *p = name; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x80 && c < 0xc0)
            continue; /* one '_' for each UTF-8 character, at its first byte */
        buf_putc(out, c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '%' ? '_' : (char)c);
    }
    buf_appends(out, "\"; filename*=UTF-8''");
    html_urlencode(out, name);
}

static void webd_msg_send_file(struct webd_req *r, struct webd_msg_job *j, const char *ctype,
                               const char *const *headers)
{
    struct evbuffer *body = evbuffer_new();
    if (j->size > 0 && evbuffer_add_file(body, j->fd, 0, j->size) == 0)
        j->fd = -1; /* the buffer owns it now */
    webd_send_body(r, 200, "OK", body, ctype, headers);
}

static void webd_msg_done(struct webd_req *r)
{
    struct webd_msg_job *j = r->data;
    if (r->status && r->status != 200) {
        webd_send_error(r, r->status, r->status == 404 ? "Not Found" : "Internal Server Error",
                        r->error);
        return;
    }
    if (j->what == WEBD_MSG_VIEW) {
        webd_send_page(r, 200, "OK");
    } else if (j->what == WEBD_MSG_RAW) {
        webd_msg_send_file(r, j, "text/plain; charset=utf-8", NULL);
    } else if (j->what == WEBD_MSG_HTML) {
        struct evbuffer *body = evbuffer_new();
        evbuffer_add(body, j->body.data ? j->body.data : "", j->body.len);
        r->framable = 1;
        r->csp = j->remote ? WEBD_HTML_CSP_REMOTE : WEBD_HTML_CSP;
        webd_send_body(r, 200, "OK", body, "text/html; charset=utf-8", NULL);
    } else {
        struct buf disp;
        buf_init(&disp, 4096);
        webd_msg_disposition(j->name, &disp);
        const char *const hdr[] = {"Content-Disposition", buf_cstr(&disp), NULL};
        webd_msg_send_file(r, j, "application/octet-stream", hdr);
        buf_free(&disp);
    }
}

/* ---- the route ---- */

/* r->rest "ID", "ID/raw", "ID/html", "ID/part/N" into j. 0, or -1 for no such page. */
static int webd_msg_parse(struct webd_req *r, struct webd_msg_job *j)
{
    const char *slash = strchr(r->rest, '/');
    size_t n = slash ? (size_t)(slash - r->rest) : strlen(r->rest);
    if (n == 0 || n >= sizeof j->id)
        return -1;
    memcpy(j->id, r->rest, n);
    j->id[n] = '\0';
    const char *tail = slash ? slash + 1 : NULL;
    const char *remote = webd_query(r, "remote");
    j->remote = remote && strcmp(remote, "1") == 0;
    if (!tail)
        j->what = WEBD_MSG_VIEW;
    else if (strcmp(tail, "raw") == 0)
        j->what = WEBD_MSG_RAW;
    else if (strcmp(tail, "html") == 0)
        j->what = WEBD_MSG_HTML;
    else if (strncmp(tail, "part/", 5) == 0) {
        const char *d = tail + 5;
        size_t nd = strspn(d, "0123456789");
        if (nd == 0 || nd > WEBD_MSG_PART_DIGITS || d[nd])
            return -1;
        j->what = WEBD_MSG_PART;
        j->part = strtol(d, NULL, 10);
    } else
        return -1;
    return 0;
}

void webd_msg(struct webd_req *r)
{
    struct webd_msg_job *j = xcalloc(1, sizeof *j);
    j->fd = -1;
    buf_init(&j->url_id, BUF_UNLIMITED);
    buf_init(&j->body, WEBD_MSG_HTML_OUT_MAX);
    r->data = j;
    r->data_free = webd_msg_job_free;
    if (webd_msg_parse(r, j) < 0) {
        webd_send_error(r, 404, "Not Found", "There is no such message or page.");
        return;
    }
    html_urlencode(&j->url_id, j->id);
    webd_defer(r, webd_msg_work, webd_msg_done);
}
