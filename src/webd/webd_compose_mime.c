/*
 * webd_compose_mime: the message a Web user wrote, built with GMime
 * (webd_compose.h): From is the logged-in address (never chosen by the
 * form), To and Cc as typed (display names kept, RFC 2047 encoded when not
 * ASCII), Subject (RFC 2047 when not ASCII), Date, Message-ID
 * (<random@hostname>), MIME-Version; the text as text/plain;
 * charset=utf-8 (quoted-printable or base64 when it is not 7-bit); the
 * attachments base64 with their names as RFC 2231 parameters, the whole in
 * multipart/mixed only when there are attachments. Written with CRLF line
 * ends, as the queue holds messages.
 */
#include "webd/webd_compose.h"
#include "lib/str.h"
#include <gmime/gmime.h>
#include <string.h>
#include <sys/random.h>

/* The text with LF line ends (a browser sends CRLF), for GMime to write as CRLF. */
static char *compose_lf(const char *s)
{
    size_t n = strlen(s), j = 0;
    char *out = g_malloc(n + 2);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r' && s[i + 1] == '\n')
            continue;
        out[j++] = s[i] == '\r' ? '\n' : s[i];
    }
    if (j && out[j - 1] != '\n')
        out[j++] = '\n';
    out[j] = '\0';
    return out;
}

static GMimeObject *compose_text_part(const char *body)
{
    GMimeTextPart *text = g_mime_text_part_new_with_subtype("plain");
    char *lf = compose_lf(body);
    g_mime_text_part_set_text(text, lf);
    g_free(lf);
    g_mime_text_part_set_charset(text, "utf-8");
    GMimeContentEncoding enc =
        g_mime_part_get_best_content_encoding(GMIME_PART(text), GMIME_ENCODING_CONSTRAINT_7BIT);
    g_mime_part_set_content_encoding(GMIME_PART(text), enc);
    return GMIME_OBJECT(text);
}

static GMimeObject *compose_file_part(const struct compose_file *file)
{
    const char *slash = strchr(file->ctype, '/');
    char type[128];
    str_ncopy(type, sizeof type, file->ctype, (size_t)(slash - file->ctype));
    GMimePart *part = g_mime_part_new_with_type(type, slash + 1);
    GMimeStream *mem = g_mime_stream_mem_new_with_buffer(file->data, file->len);
    GMimeDataWrapper *dw = g_mime_data_wrapper_new_with_stream(mem, GMIME_CONTENT_ENCODING_DEFAULT);
    g_mime_part_set_content(part, dw);
    g_object_unref(dw);
    g_object_unref(mem);
    g_mime_part_set_filename(part, file->name); /* disposition attachment; RFC 2231 if needed */
    g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_BASE64);
    return GMIME_OBJECT(part);
}

static GMimeObject *compose_body(const struct compose_form *f)
{
    GMimeObject *text = compose_text_part(f->body);
    if (f->n_files == 0)
        return text;
    GMimeMultipart *mixed = g_mime_multipart_new_with_subtype("mixed");
    g_mime_multipart_add(mixed, text);
    g_object_unref(text);
    for (size_t i = 0; i < f->n_files; i++) {
        GMimeObject *p = compose_file_part(&f->files[i]);
        g_mime_multipart_add(mixed, p);
        g_object_unref(p);
    }
    return GMIME_OBJECT(mixed);
}

/* Adds the addresses typed in a field (already checked by proto/addrlist). */
static void compose_addresses(GMimeMessage *m, GMimeAddressType type, const char *typed)
{
    InternetAddressList *list = internet_address_list_parse(NULL, typed);
    if (!list)
        return;
    internet_address_list_append(g_mime_message_get_addresses(m, type), list);
    g_object_unref(list);
}

/* <hex of 12 random bytes @hostname>, without the brackets. -1 without random bytes. */
static int compose_message_id(const char *hostname, char *out, size_t size)
{
    unsigned char rnd[12];
    char hex[sizeof rnd * 2 + 1];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return -1;
    for (size_t i = 0; i < sizeof rnd; i++)
        str_fmt(hex + 2 * i, 3, "%02x", rnd[i]);
    return str_fmt(out, size, "%s@%s", hex, hostname);
}

static GMimeMessage *compose_message(struct webd_req *r, struct compose *c)
{
    GMimeMessage *m = g_mime_message_new(TRUE);
    internet_address_list_add(g_mime_message_get_from(m),
                              internet_address_mailbox_new(NULL, r->box.addr));
    compose_addresses(m, GMIME_ADDRESS_TYPE_TO, c->f.to);
    compose_addresses(m, GMIME_ADDRESS_TYPE_CC, c->f.cc);
    if (c->f.subject[0])
        g_mime_message_set_subject(m, c->f.subject, "utf-8");
    GDateTime *now = g_date_time_new_now_local();
    g_mime_message_set_date(m, now);
    g_date_time_unref(now);
    g_mime_message_set_message_id(m, c->message_id);
    GMimeObject *body = compose_body(&c->f);
    g_mime_message_set_mime_part(m, body);
    g_object_unref(body);
    return m;
}

int compose_build(struct webd_req *r, struct compose *c)
{
    if (compose_message_id(r->conf->hostname, c->message_id, sizeof c->message_id) < 0) {
        str_copy(r->error, sizeof r->error, "No random numbers for a Message-ID: try again.");
        r->status = 503;
        return -1;
    }
    str_copy(c->subject, sizeof c->subject, c->f.subject);
    GMimeMessage *m = compose_message(r, c);
    GMimeFormatOptions *opts = g_mime_format_options_clone(NULL);
    g_mime_format_options_set_newline_format(opts, GMIME_NEWLINE_FORMAT_DOS);
    GByteArray *out = g_byte_array_new();
    GMimeStream *mem = g_mime_stream_mem_new_with_byte_array(out);
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
    g_mime_object_write_to_stream(GMIME_OBJECT(m), opts, mem);
    g_object_unref(mem);
    g_mime_format_options_free(opts);
    g_object_unref(m);
    buf_reset(&c->msg);
    buf_append(&c->msg, out->data, out->len);
    g_byte_array_free(out, TRUE);
    c->msg_head = 0;
    if (c->msg.len > r->conf->max_message_size) {
        str_fmt(r->error, sizeof r->error,
                "The message is too big: at most %llu octets with its attachments "
                "(which grow by a third when encoded).",
                (unsigned long long)r->conf->max_message_size);
        r->status = 413;
        return -1;
    }
    return 0;
}
