/*
 * webd_compose_form: the Write form as sent (webd_compose.h). An
 * application/x-www-form-urlencoded body (no attachments: tests, curl) is
 * already decoded by the dispatcher; multipart/form-data (RFC 7578) is
 * parsed here with GMime, on a web worker: the body, with its Content-Type
 * put in front as a header, is one MIME entity whose parts are the fields,
 * each named by its Content-Disposition; a part with a filename is a file.
 * Every value is checked: valid UTF-8, no NUL, within its bound.
 */
#include "webd/webd_compose.h"
#include "lib/alloc.h"
#include "lib/str.h"
#include <gmime/gmime.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Stores value (n octets) as field name; 0, or -1 with r->error set. */
static int compose_set(struct webd_req *r, struct compose_form *f, const char *name,
                       const char *value, size_t n)
{
    char **slot = strcmp(name, "to") == 0        ? &f->to
                  : strcmp(name, "cc") == 0      ? &f->cc
                  : strcmp(name, "subject") == 0 ? &f->subject
                  : strcmp(name, "body") == 0    ? &f->body
                                                 : NULL;
    if (strcmp(name, "notify") == 0) {
        f->notify = n == 1 && value[0] == '1';
        return 0;
    }
    if (!slot || *slot)
        return 0; /* csrf, or a field we do not know, or a repeated one: ignored */
    if (memchr(value, '\0', n) || !g_utf8_validate(value, (gssize)n, NULL)) {
        str_fmt(r->error, sizeof r->error, "The %s field is not valid UTF-8 text.", name);
        return -1;
    }
    *slot = xstrndup(value, n);
    return 0;
}

/* The file name without any path a browser may have left in it. */
static char *compose_basename(const char *name)
{
    const char *slash = strrchr(name, '/'), *back = strrchr(name, '\\');
    const char *base = slash > back ? slash + 1 : back ? back + 1 : name;
    return xstrndup(base, strnlen(base, COMPOSE_FILENAME_MAX));
}

/* A type/subtype we can put in a Content-Type field as it is; else octet-stream. */
static char *compose_ctype(GMimeObject *part)
{
    GMimeContentType *ct = g_mime_object_get_content_type(part);
    const char *type = ct ? g_mime_content_type_get_media_type(ct) : NULL;
    const char *sub = ct ? g_mime_content_type_get_media_subtype(ct) : NULL;
    int ok = type && sub && *type && *sub && strlen(type) + strlen(sub) < 120 &&
             strcasecmp(type, "multipart") != 0 && strcasecmp(type, "message") != 0;
    for (const char *p = type; ok && *p; p++)
        ok = g_ascii_isalnum(*p) || strchr("!#$&-^_.+", *p);
    for (const char *p = sub; ok && *p; p++)
        ok = g_ascii_isalnum(*p) || strchr("!#$&-^_.+", *p);
    char out[256];
    str_fmt(out, sizeof out, "%s/%s", ok ? type : "application", ok ? sub : "octet-stream");
    return xstrdup(out);
}

/* A part's content, decoded, into a new GByteArray. */
static GByteArray *compose_part_bytes(GMimeObject *part)
{
    GMimeDataWrapper *dw = GMIME_IS_PART(part) ? g_mime_part_get_content(GMIME_PART(part)) : NULL;
    GByteArray *bytes = g_byte_array_new();
    if (dw) {
        GMimeStream *mem = g_mime_stream_mem_new_with_byte_array(bytes);
        g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
        g_mime_data_wrapper_write_to_stream(dw, mem);
        g_object_unref(mem);
    }
    return bytes;
}

static int compose_file_add(struct webd_req *r, struct compose_form *f, GMimeObject *part,
                            const char *filename, GByteArray *bytes)
{
    if (!filename[0] && bytes->len == 0)
        return 0; /* the file input, nothing chosen */
    if (f->n_files == COMPOSE_FILES_MAX) {
        str_fmt(r->error, sizeof r->error, "At most %d attachments can be sent at once.",
                COMPOSE_FILES_MAX);
        return -1;
    }
    struct compose_file *file = &f->files[f->n_files++];
    file->name = compose_basename(filename[0] ? filename : "attachment");
    if (!g_utf8_validate(file->name, -1, NULL)) {
        free(file->name);
        file->name = xstrdup("attachment");
    }
    file->ctype = compose_ctype(part);
    file->len = bytes->len;
    file->data = xmalloc(bytes->len ? bytes->len : 1);
    if (bytes->len)
        memcpy(file->data, bytes->data, bytes->len);
    f->files_size += bytes->len;
    return 0;
}

/* One part of the form. 0, or -1 with r->error set. */
static int compose_part(struct webd_req *r, struct compose_form *f, GMimeObject *part)
{
    GMimeContentDisposition *cd = g_mime_object_get_content_disposition(part);
    const char *name = cd ? g_mime_content_disposition_get_parameter(cd, "name") : NULL;
    const char *filename = cd ? g_mime_content_disposition_get_parameter(cd, "filename") : NULL;
    if (!name || !GMIME_IS_PART(part))
        return 0;
    GByteArray *bytes = compose_part_bytes(part);
    const char *v = bytes->len ? (const char *)bytes->data : ""; /* data is NULL when empty */
    int rc = filename ? compose_file_add(r, f, part, filename, bytes)
                      : compose_set(r, f, name, v, bytes->len);
    g_byte_array_free(bytes, TRUE);
    return rc;
}

static int compose_read_multipart(struct webd_req *r, struct compose *c)
{
    GByteArray *all = g_byte_array_sized_new((guint)(c->raw_len + 512));
    g_byte_array_append(all, (const guint8 *)"Content-Type: ", 14);
    g_byte_array_append(all, (const guint8 *)c->raw_ctype, (guint)strlen(c->raw_ctype));
    g_byte_array_append(all, (const guint8 *)"\r\n\r\n", 4);
    g_byte_array_append(all, (const guint8 *)c->raw, (guint)c->raw_len);
    free(c->raw);
    c->raw = NULL;
    GMimeStream *stream = g_mime_stream_mem_new_with_byte_array(all); /* owns all */
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    GMimeObject *top = g_mime_parser_construct_part(parser, NULL);
    int rc = 0;
    if (!top || !GMIME_IS_MULTIPART(top)) {
        str_copy(r->error, sizeof r->error, "The form could not be read (not multipart).");
        rc = -1;
    }
    for (int i = 0; rc == 0 && i < g_mime_multipart_get_count(GMIME_MULTIPART(top)); i++)
        rc = compose_part(r, &c->f, g_mime_multipart_get_part(GMIME_MULTIPART(top), i));
    if (top)
        g_object_unref(top);
    g_object_unref(parser);
    g_object_unref(stream);
    return rc;
}

static int compose_read_urlencoded(struct webd_req *r, struct compose *c)
{
    static const char *const names[] = {"to", "cc", "subject", "body", "notify"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = webd_form(r, names[i]);
        if (v && compose_set(r, &c->f, names[i], v, strlen(v)) < 0)
            return -1;
    }
    return 0;
}

/* The bounds of each field. 0, or -1 with r->error set. */
static int compose_check_sizes(struct webd_req *r, struct compose_form *f)
{
    uint64_t max = r->conf->max_message_size;
    if (strlen(f->to) > COMPOSE_ADDRS_MAX || strlen(f->cc) > COMPOSE_ADDRS_MAX)
        str_fmt(r->error, sizeof r->error, "To and Cc are limited to %d characters each.",
                COMPOSE_ADDRS_MAX);
    else if (strlen(f->subject) > COMPOSE_SUBJECT_MAX || strpbrk(f->subject, "\r\n"))
        str_fmt(r->error, sizeof r->error,
                "The subject must be one line of at most %d characters.", COMPOSE_SUBJECT_MAX);
    else if (strlen(f->body) + f->files_size > max)
        str_fmt(r->error, sizeof r->error,
                "The message is too big: at most %llu octets with its attachments.",
                (unsigned long long)max);
    else
        return 0;
    if (f->files_size + strlen(f->body) > max)
        r->status = 413;
    return -1;
}

int compose_read_form(struct webd_req *r, struct compose *c)
{
    int rc = c->raw ? compose_read_multipart(r, c) : compose_read_urlencoded(r, c);
    struct compose_form *f = &c->f;
    char **fields[] = {&f->to, &f->cc, &f->subject, &f->body};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (!*fields[i])
            *fields[i] = xstrdup("");
    return rc < 0 ? -1 : compose_check_sizes(r, f);
}
