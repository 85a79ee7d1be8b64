/*
 * webd_mime: a stored message read with GMime for the Web reader (see
 * webd_mime.h): parsing from the file (parts stay ranges of it), the walk
 * into shown parts and attachments, decoded headers, bounded text decoding
 * with charset conversion, and attachments written out decoded. Runs on a
 * web worker only.
 */
#include "webd/webd_mime.h"
#include "lib/str.h"
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define WEBD_MIME_NAME_MAX 200
#define WEBD_MIME_HEADER_MAX (16 * 1024) /* escaped, five of them fit a page */

static void webd_mime_walk(struct webd_mime *m, GMimeObject *o, int depth);

/* A child of multipart/alternative worth showing: HTML > a multipart (an
 * HTML body with its images) > plain text; the last of equals (RFC 2046 5.1.4). */
static int webd_mime_alt_score(GMimeObject *o)
{
    GMimeContentType *ct = g_mime_object_get_content_type(o);
    if (!ct)
        return 0;
    if (g_mime_content_type_is_type(ct, "text", "html"))
        return 3;
    if (g_mime_content_type_is_type(ct, "multipart", "*"))
        return 2;
    if (g_mime_content_type_is_type(ct, "text", "plain"))
        return 1;
    return 0;
}

static void webd_mime_multipart(struct webd_mime *m, GMimeObject *o, int depth)
{
    GMimeMultipart *mp = GMIME_MULTIPART(o);
    int n = g_mime_multipart_get_count(mp);
    GMimeContentType *ct = g_mime_object_get_content_type(o);
    if (ct && g_mime_content_type_is_type(ct, "multipart", "alternative")) {
        GMimeObject *best = NULL;
        int best_score = 0;
        for (int i = 0; i < n; i++) {
            GMimeObject *c = g_mime_multipart_get_part(mp, i);
            int s = webd_mime_alt_score(c);
            if (s && s >= best_score) {
                best = c;
                best_score = s;
            }
        }
        if (best) {
            webd_mime_walk(m, best, depth + 1);
            return;
        }
    }
    for (int i = 0; i < n; i++)
        webd_mime_walk(m, g_mime_multipart_get_part(mp, i), depth + 1);
}

/* name made fit to show and to send: UTF-8, no controls or path separators, bounded. */
static char *webd_mime_clean_name(const char *name)
{
    char cut[WEBD_MIME_NAME_MAX + 1];
    str_copy(cut, sizeof cut, name); /* a cut name is still a name */
    for (char *p = cut; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '/' || *p == '\\')
            *p = '_';
    return g_utf8_make_valid(cut, -1);
}

static void webd_mime_add_att(struct webd_mime *m, GMimeObject *o, const char *name)
{
    if (m->n_atts >= WEBD_MIME_PARTS_MAX)
        return;
    char fallback[64];
    if (!name || !*name) {
        GMimeContentType *ct = g_mime_object_get_content_type(o);
        const char *ext = ".bin";
        if (GMIME_IS_MESSAGE_PART(o))
            ext = ".eml";
        else if (ct && g_mime_content_type_is_type(ct, "text", "html"))
            ext = ".html";
        else if (ct && g_mime_content_type_is_type(ct, "text", "*"))
            ext = ".txt";
        str_fmt(fallback, sizeof fallback, "part-%zu%s", m->n_atts + 1, ext);
        name = fallback;
    }
    m->atts[m->n_atts].obj = o;
    m->atts[m->n_atts].name = webd_mime_clean_name(name);
    m->n_atts++;
}

static void webd_mime_leaf(struct webd_mime *m, GMimeObject *o)
{
    const char *name = g_mime_part_get_filename(GMIME_PART(o));
    const char *disp = g_mime_object_get_disposition(o);
    GMimeContentType *ct = g_mime_object_get_content_type(o);
    int attached = (disp && strcasecmp(disp, "attachment") == 0) || (name && *name);
    if (!attached && ct && m->n_shown < WEBD_MIME_PARTS_MAX) {
        if (g_mime_content_type_is_type(ct, "text", "plain")) {
            m->shown[m->n_shown++] = (struct webd_mime_shown){WEBD_MIME_TEXT, o};
            return;
        }
        if (g_mime_content_type_is_type(ct, "text", "html") && !m->html) {
            m->shown[m->n_shown++] = (struct webd_mime_shown){WEBD_MIME_HTML, o};
            m->html = o;
            return;
        }
    }
    webd_mime_add_att(m, o, name);
}

static void webd_mime_walk(struct webd_mime *m, GMimeObject *o, int depth)
{
    if (!o || depth > WEBD_MIME_DEPTH_MAX)
        return;
    if (GMIME_IS_MULTIPART(o))
        webd_mime_multipart(m, o, depth);
    else if (GMIME_IS_MESSAGE_PART(o)) {
        GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
        const char *subject = inner ? g_mime_message_get_subject(inner) : NULL;
        char name[WEBD_MIME_NAME_MAX];
        if (!subject || !*subject || str_fmt(name, sizeof name, "%s.eml", subject) < 0)
            str_copy(name, sizeof name, "message.eml");
        webd_mime_add_att(m, o, name);
    } else if (GMIME_IS_PART(o))
        webd_mime_leaf(m, o);
}

int webd_mime_open(struct webd_mime *m, int fd)
{
    memset(m, 0, sizeof *m);
    m->stream = g_mime_stream_fs_new(fd);
    GMimeParser *p = g_mime_parser_new_with_stream(m->stream);
    g_mime_parser_set_persist_stream(p, TRUE); /* parts are ranges of the file */
    g_mime_parser_set_format(p, GMIME_FORMAT_MESSAGE);
    m->msg = g_mime_parser_construct_message(p, NULL);
    g_object_unref(p);
    if (!m->msg) {
        webd_mime_close(m);
        return -1;
    }
    webd_mime_walk(m, g_mime_message_get_mime_part(m->msg), 0);
    return 0;
}

void webd_mime_close(struct webd_mime *m)
{
    for (size_t i = 0; i < m->n_atts; i++)
        g_free(m->atts[i].name);
    if (m->msg)
        g_object_unref(m->msg);
    if (m->stream)
        g_object_unref(m->stream);
    memset(m, 0, sizeof *m);
}

static void webd_mime_append_valid(struct buf *out, const char *s, size_t n)
{
    char *v = g_utf8_make_valid(s, (gssize)n);
    buf_appends(out, v);
    g_free(v);
}

void webd_mime_header(struct webd_mime *m, const char *name, struct buf *out)
{
    static const struct { const char *name; GMimeAddressType type; } addrs[] = {
        {"From", GMIME_ADDRESS_TYPE_FROM}, {"To", GMIME_ADDRESS_TYPE_TO},
        {"Cc", GMIME_ADDRESS_TYPE_CC},     {"Reply-To", GMIME_ADDRESS_TYPE_REPLY_TO},
    };
    char *owned = NULL;
    const char *v = NULL;
    for (size_t i = 0; i < sizeof addrs / sizeof addrs[0]; i++)
        if (strcasecmp(name, addrs[i].name) == 0) {
            InternetAddressList *l = g_mime_message_get_addresses(m->msg, addrs[i].type);
            if (l && internet_address_list_length(l) > 0)
                v = owned = internet_address_list_to_string(l, NULL, FALSE);
        }
    if (strcasecmp(name, "Subject") == 0)
        v = g_mime_message_get_subject(m->msg);
    else if (!v && !owned) {
        const char *raw = g_mime_object_get_header(GMIME_OBJECT(m->msg), name);
        if (raw)
            v = owned = g_mime_utils_header_decode_text(NULL, raw);
    }
    if (v) {
        size_t n = strlen(v);
        webd_mime_append_valid(out, v, n < WEBD_MIME_HEADER_MAX ? n : WEBD_MIME_HEADER_MAX);
    }
    g_free(owned);
}

/* A stream of obj's content with the transfer encoding undone and (text) the
 * charset converted to UTF-8; NULL when the part has no content. */
static GMimeStream *webd_mime_decoded(GMimeObject *obj, int to_utf8)
{
    GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(obj));
    GMimeStream *raw = w ? g_mime_data_wrapper_get_stream(w) : NULL;
    if (!raw)
        return NULL;
    g_mime_stream_reset(raw);
    GMimeStream *f = g_mime_stream_filter_new(raw);
    GMimeContentEncoding enc = g_mime_data_wrapper_get_encoding(w);
    if (enc == GMIME_CONTENT_ENCODING_BASE64 || enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
        enc == GMIME_CONTENT_ENCODING_UUENCODE) {
        GMimeFilter *dec = g_mime_filter_basic_new(enc, FALSE);
        g_mime_stream_filter_add(GMIME_STREAM_FILTER(f), dec);
        g_object_unref(dec);
    }
    const char *cs = to_utf8 ? g_mime_object_get_content_type_parameter(obj, "charset") : NULL;
    if (cs && strcasecmp(cs, "utf-8") != 0 && strcasecmp(cs, "us-ascii") != 0) {
        GMimeFilter *conv = g_mime_filter_charset_new(cs, "UTF-8");
        if (conv) { /* NULL: a charset iconv does not know; the bytes are checked below */
            g_mime_stream_filter_add(GMIME_STREAM_FILTER(f), conv);
            g_object_unref(conv);
        }
    }
    return f;
}

int webd_mime_bytes(GMimeObject *obj, int to_utf8, size_t max, struct buf *out, int *cut)
{
    *cut = 0;
    if (!GMIME_IS_PART(obj))
        return -1;
    GMimeStream *f = webd_mime_decoded(obj, to_utf8);
    if (!f)
        return 0;
    char chunk[16384];
    ssize_t n;
    size_t got = 0;
    while ((n = g_mime_stream_read(f, chunk, sizeof chunk)) > 0) {
        size_t room = max - got, take = (size_t)n < room ? (size_t)n : room;
        if (buf_append(out, chunk, take) < 0)
            break;
        got += take;
        if ((size_t)n > room) {
            *cut = 1;
            break;
        }
    }
    g_object_unref(f);
    return n < 0 ? -1 : 0;
}

int webd_mime_text(GMimeObject *obj, size_t max, struct buf *out, int *cut)
{
    struct buf tmp;
    buf_init(&tmp, max);
    int rc = webd_mime_bytes(obj, 1, max, &tmp, cut);
    webd_mime_append_valid(out, tmp.data ? tmp.data : "", tmp.len);
    buf_free(&tmp);
    return rc;
}

int64_t webd_mime_save(GMimeObject *obj, int fd)
{
    GMimeStream *out = fd >= 0 ? g_mime_stream_fs_new(fd) : g_mime_stream_null_new();
    ssize_t n = 0;
    if (fd >= 0)
        g_mime_stream_fs_set_owner(GMIME_STREAM_FS(out), FALSE);
    if (GMIME_IS_MESSAGE_PART(obj)) {
        GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
        if (inner)
            n = g_mime_object_write_to_stream(GMIME_OBJECT(inner), NULL, out);
    } else if (GMIME_IS_PART(obj)) {
        GMimeStream *f = webd_mime_decoded(obj, 0);
        if (f) {
            n = g_mime_stream_write_to_stream(f, out);
            g_object_unref(f);
        }
    }
    g_mime_stream_flush(out);
    int64_t size = -1;
    struct stat st;
    if (n >= 0)
        size = fd >= 0 ? (fstat(fd, &st) == 0 ? (int64_t)st.st_size : -1)
                       : (int64_t)GMIME_STREAM_NULL(out)->written;
    g_object_unref(out);
    return size;
}
