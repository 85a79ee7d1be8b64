/*
 * dsn_parse: the reader of delivery status notifications from other hosts
 * (dsn_parse.h): RFC 6522 (multipart/report), RFC 3464 2.2 and 2.3 (the
 * per-message and per-recipient field groups of message/delivery-status),
 * RFC 6533 (message/global-delivery-status, utf-8 address types), RFC 3461
 * 4 (the ENVID's xtext). MIME structure comes from proto/mime, header fields
 * from proto/rfc5322. Lenient where real MTAs differ (blank lines, field
 * case, "dns;host" without a space, comments after Action and Status, groups
 * run together), strict where a value could mislead: a value too long is
 * dropped, never cut and used as an address or identifier.
 */
#include "proto/dsn_parse.h"
#include "lib/buf.h"
#include "lib/str.h"
#include "proto/intl.h"
#include "proto/mime.h"
#include "proto/rfc5322.h"
#include "proto/xtext.h"
#include <string.h>

/* multipart/mixed or multipart/signed around the report: how deep we look. */
#define DSN_PARSE_DEPTH_MAX 4

/* Where the parts of a report lie. */
struct dsn_found {
    struct mime_entity status;     /* message/(global-)delivery-status */
    int has_status;
    struct mime_entity returned;   /* the returned message or its header section */
    int has_returned;
};

static int dsn_type_in(const char *t, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(t, list[i]) == 0)
            return 1;
    return 0;
}

static int dsn_is_status_type(const char *t)
{
    static const char *const types[] = {"message/delivery-status",
                                        "message/global-delivery-status"};
    return dsn_type_in(t, types, 2);
}

static int dsn_is_returned_type(const char *t)
{
    static const char *const types[] = {"message/rfc822", "text/rfc822-headers",
                                        "message/global", "message/global-headers"};
    return dsn_type_in(t, types, 4);
}

/* Finds the status and returned parts among the parts of the multipart/report e. */
static int dsn_report_parts(const struct mime_entity *e, struct dsn_found *f)
{
    char boundary[MIME_BOUNDARY_MAX + 1], t[MIME_TYPE_MAX];
    struct mime_parts m;
    const char *p;
    size_t n;
    int rc;
    if (mime_content_param(e, "boundary", boundary, sizeof boundary) < 0 ||
        mime_parts_init(&m, e->body, e->body_len, boundary) < 0)
        return -1;
    while ((rc = mime_parts_next(&m, &p, &n)) == 1) {
        struct mime_entity part;
        mime_entity_split(p, n, &part);
        if (mime_content_type(&part, t, sizeof t) < 0)
            continue;
        if (!f->has_status && dsn_is_status_type(t)) {
            f->status = part;
            f->has_status = 1;
        } else if (!f->has_returned && dsn_is_returned_type(t)) {
            f->returned = part;
            f->has_returned = 1;
        }
    }
    return rc == 0 && f->has_status ? 0 : -1;
}

/* Finds the report in the entity p[0..n): itself, or a part of a multipart/mixed or
 * multipart/signed around it (depth levels deep at most). */
static int dsn_find_report(const char *p, size_t n, int depth, struct dsn_found *f)
{
    struct mime_entity e;
    struct mime_parts m;
    char t[MIME_TYPE_MAX], param[MIME_BOUNDARY_MAX + 1];
    const char *part;
    size_t part_len;
    mime_entity_split(p, n, &e);
    if (mime_content_type(&e, t, sizeof t) < 0)
        return -1;
    if (strcmp(t, "multipart/report") == 0) {
        if (mime_content_param(&e, "report-type", param, sizeof param) < 0 ||
            (!str_ieq(param, "delivery-status") && !str_ieq(param, "global-delivery-status")))
            return -1;
        *f = (struct dsn_found){0};
        return dsn_report_parts(&e, f);
    }
    if (depth >= DSN_PARSE_DEPTH_MAX ||
        (strcmp(t, "multipart/mixed") != 0 && strcmp(t, "multipart/signed") != 0) ||
        mime_content_param(&e, "boundary", param, sizeof param) < 0 ||
        mime_parts_init(&m, e.body, e.body_len, param) < 0)
        return -1;
    while (mime_parts_next(&m, &part, &part_len) == 1)
        if (dsn_find_report(part, part_len, depth + 1, f) == 0)
            return 0;
    return -1;
}

/* ---- values ---- */

/* Cuts out[0..k) before an incomplete UTF-8 sequence at its end; the new length. */
static size_t dsn_utf8_cut(const char *out, size_t k)
{
    size_t j = k;
    while (j > 0 && ((unsigned char)out[j - 1] & 0xC0) == 0x80 && k - j < 3)
        j--;
    if (j == 0 || (unsigned char)out[j - 1] < 0xC0)
        return k;
    unsigned char lead = (unsigned char)out[j - 1];
    size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    return k - (j - 1) < want ? j - 1 : k;
}

/*
 * Copies the field value v[0..n) into out unfolded: control characters and
 * runs of white space become one space, none at either end; octets over 127
 * are kept only when the value is UTF-8, else each is '?'. 0, or -1 if it does
 * not fit: out is then "" unless cut (then cut at a character's end).
 */
static int dsn_value(const char *v, size_t n, char *out, size_t size, int cut)
{
    size_t k = 0;
    int space = 0, fits = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c <= ' ' || c == 0x7f) {
            space = k > 0;
            continue;
        }
        if (k + (space ? 2 : 1) >= size) { /* the NUL needs its place too */
            fits = 0;
            break;
        }
        if (space)
            out[k++] = ' ';
        out[k++] = (char)c;
        space = 0;
    }
    if (!fits && !cut) {
        out[0] = '\0';
        return -1;
    }
    if (!fits)
        k = dsn_utf8_cut(out, k);
    out[k] = '\0';
    if (!intl_is_ascii(out, k) && !intl_utf8_ok(out, k))
        for (size_t i = 0; i < k; i++)
            if ((unsigned char)out[i] >= 0x80)
                out[i] = '?';
    return 0;
}

/* A "type; value" field: the type into type (lower case, may be NULL), the value into out.
 * Without a ';' the whole is the value. */
static int dsn_typed(const char *v, size_t n, char *type, size_t tsize, char *out, size_t size,
                     int cut)
{
    const char *semi = memchr(v, ';', n);
    size_t tn = semi ? (size_t)(semi - v) : 0;
    if (type && dsn_value(v, tn, type, tsize, 0) == 0)
        str_lower(type);
    return semi ? dsn_value(semi + 1, n - tn - 1, out, size, cut) : dsn_value(v, n, out, size, cut);
}

/* An address field: "rfc822; bob@example.org", "<...>" taken off, utf-8 addresses decoded. */
static void dsn_address(const char *v, size_t n, char *out, size_t size)
{
    char type[32] = "", a[512];
    if (dsn_typed(v, n, type, sizeof type, a, sizeof a, 0) < 0)
        return;
    size_t an = strlen(a);
    const char *s = a;
    if (an >= 2 && a[0] == '<' && a[an - 1] == '>') {
        s++;
        an -= 2;
    }
    char dec[512];
    if (strcmp(type, "utf-8") == 0 && xtext_utf8_decode(s, an, dec, sizeof dec) == 0) {
        str_copy(out, size, dec);
        return;
    }
    if (str_ncopy(out, size, s, an) < 0)
        out[0] = '\0';
}

/* An MTA name, "dns; mx.example.net (comment)": its first word, without the comment. */
static void dsn_host(const char *v, size_t n, char *out, size_t size)
{
    char h[1024];
    if (dsn_typed(v, n, NULL, 0, h, sizeof h, 1) == 0) {
        h[strcspn(h, " (")] = '\0';
        if (str_copy(out, size, h) < 0)
            out[0] = '\0';
    }
}

/* The first word of a value ("failed (permanent)" -> "failed"), lower case, into out. */
static int dsn_word(const char *v, size_t n, char *out, size_t size)
{
    char w[64];
    if (dsn_value(v, n, w, sizeof w, 1) < 0)
        return -1;
    w[strcspn(w, " (;")] = '\0';
    str_lower(w);
    return str_copy(out, size, w);
}

static int dsn_action_ok(const char *a)
{
    static const char *const actions[] = {"failed", "delayed", "delivered", "relayed",
                                          "expanded"};
    return dsn_type_in(a, actions, 5);
}

/* 1 if s is digit "." 1*3digit "." 1*3digit with class 2, 4 or 5 (RFC 3463 2). */
static int dsn_status_ok(const char *s)
{
    if ((s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
        return 0;
    s += 2;
    for (int part = 0; part < 2; part++) {
        size_t d = strspn(s, "0123456789");
        if (d < 1 || d > 3 || s[d] != (part == 0 ? '.' : '\0'))
            return 0;
        s += d + 1;
    }
    return 1;
}

/* Original-Envelope-Id: xtext decoded (RFC 3461 4.4); a value that is no valid xtext
 * (a notice that wrote it decoded) is taken as written. */
static void dsn_envid(const char *v, size_t n, char *out, size_t size)
{
    char raw[256];
    struct buf b;
    if (dsn_value(v, n, raw, sizeof raw, 0) < 0)
        return;
    buf_init(&b, size - 1);
    if (xtext_decode(raw, strlen(raw), &b) == 0)
        str_ncopy(out, size, b.data ? b.data : "", b.len);
    else
        str_copy(out, size, raw);
    buf_free(&b);
}

/* ---- the delivery-status fields (RFC 3464 2.2, 2.3) ---- */

enum dsn_field {
    DSN_FIELD_ENVID,
    DSN_FIELD_REPORTING_MTA,
    DSN_FIELD_ORIGINAL_RCPT,
    DSN_FIELD_FINAL_RCPT,
    DSN_FIELD_ACTION,
    DSN_FIELD_STATUS,
    DSN_FIELD_REMOTE_MTA,
    DSN_FIELD_DIAGNOSTIC,
    DSN_FIELD_ORIGINAL_MSGID,
    DSN_FIELD_OTHER,
};

static enum dsn_field dsn_field_of(const char *name, size_t n)
{
    static const struct {
        const char *name;
        enum dsn_field field;
    } fields[] = {
        {"Original-Envelope-Id", DSN_FIELD_ENVID}, {"Reporting-MTA", DSN_FIELD_REPORTING_MTA},
        {"Original-Recipient", DSN_FIELD_ORIGINAL_RCPT},
        {"Final-Recipient", DSN_FIELD_FINAL_RCPT}, {"Action", DSN_FIELD_ACTION},
        {"Status", DSN_FIELD_STATUS}, {"Remote-MTA", DSN_FIELD_REMOTE_MTA},
        {"Diagnostic-Code", DSN_FIELD_DIAGNOSTIC},
        {"X-Original-Message-ID", DSN_FIELD_ORIGINAL_MSGID}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (rfc5322_field_is(name, n, fields[i].name))
            return fields[i].field;
    return DSN_FIELD_OTHER;
}

/* The walk over the fields: the recipient being read and what it has had. */
struct dsn_reader {
    struct dsn_parsed *out;
    struct dsn_parsed_rcpt cur;
    int seen_original;
    int seen_final;
    int seen_other;            /* Action, Status...: the recipient's other fields have begun */
};

/* Ends the recipient being read: kept if it has what a match needs and there is room. */
static void dsn_flush(struct dsn_reader *r)
{
    struct dsn_parsed_rcpt *c = &r->cur;
    if (c->final_rcpt[0] && dsn_action_ok(c->action) && dsn_status_ok(c->status)) {
        if (r->out->n_rcpts < DSN_PARSE_RCPTS_MAX)
            r->out->rcpts[r->out->n_rcpts++] = *c;
        else
            r->out->rcpts_truncated = 1;
    }
    memset(c, 0, sizeof *c);
    r->seen_original = r->seen_final = r->seen_other = 0;
}

/* One recipient field. When some notice leaves out the blank line between two
 * groups, a second Final-Recipient, or an Original-Recipient after the other fields
 * (Postfix writes it after Final-Recipient), starts the next recipient; else the
 * first value wins. */
static void dsn_rcpt_field(struct dsn_reader *r, enum dsn_field f, const char *v, size_t n)
{
    struct dsn_parsed_rcpt *c = &r->cur;
    if ((f == DSN_FIELD_ORIGINAL_RCPT && (r->seen_original || r->seen_other)) ||
        (f == DSN_FIELD_FINAL_RCPT && r->seen_final))
        dsn_flush(r);
    r->seen_other |= f != DSN_FIELD_ORIGINAL_RCPT && f != DSN_FIELD_FINAL_RCPT;
    if (f == DSN_FIELD_ORIGINAL_RCPT) {
        r->seen_original = 1;
        dsn_address(v, n, c->original_rcpt, sizeof c->original_rcpt);
    } else if (f == DSN_FIELD_FINAL_RCPT) {
        r->seen_final = 1;
        dsn_address(v, n, c->final_rcpt, sizeof c->final_rcpt);
    } else if (f == DSN_FIELD_ACTION && !c->action[0]) {
        dsn_word(v, n, c->action, sizeof c->action);
    } else if (f == DSN_FIELD_STATUS && !c->status[0]) {
        dsn_word(v, n, c->status, sizeof c->status);
    } else if (f == DSN_FIELD_REMOTE_MTA && !c->remote_mta[0]) {
        dsn_host(v, n, c->remote_mta, sizeof c->remote_mta);
    } else if (f == DSN_FIELD_DIAGNOSTIC && !c->diagnostic[0]) {
        dsn_typed(v, n, NULL, 0, c->diagnostic, sizeof c->diagnostic, 1);
    }
}

/* Gmail's per-message "X-Original-Message-ID: <id@host>", when it is a valid msg-id. */
static void dsn_msgid(const char *v, size_t n, char *out, size_t size)
{
    char id[RFC5322_MSGID_MAX];
    if (dsn_value(v, n, id, sizeof id, 0) == 0 && rfc5322_msgid_ok(id, strlen(id)))
        str_copy(out, size, id);
}

static void dsn_field(struct dsn_reader *r, const char *name, size_t name_len, const char *v,
                      size_t n)
{
    struct dsn_parsed *out = r->out;
    enum dsn_field f = dsn_field_of(name, name_len);
    if (f == DSN_FIELD_ENVID && !out->envid[0])
        dsn_envid(v, n, out->envid, sizeof out->envid);
    else if (f == DSN_FIELD_REPORTING_MTA && !out->reporting_mta[0])
        dsn_host(v, n, out->reporting_mta, sizeof out->reporting_mta);
    else if (f == DSN_FIELD_ORIGINAL_MSGID && !out->message_id[0])
        dsn_msgid(v, n, out->message_id, sizeof out->message_id);
    else if (f != DSN_FIELD_OTHER && f != DSN_FIELD_ENVID && f != DSN_FIELD_REPORTING_MTA &&
             f != DSN_FIELD_ORIGINAL_MSGID)
        dsn_rcpt_field(r, f, v, n);
}

/* 1 if l[0..n) holds nothing but white space: the end of a field group. */
static int dsn_blank(const char *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!rfc5322_is_wsp((unsigned char)l[i]))
            return 0;
    return 1;
}

/* Reads the field groups of the delivery-status body p[0..n). */
static void dsn_read_fields(const char *p, size_t n, struct dsn_parsed *out)
{
    struct dsn_reader r = {.out = out};
    size_t pos = 0, next, colon;
    while (pos < n) {
        size_t ln = rfc5322_line(p, n, pos, &next);
        if (dsn_blank(p + pos, ln)) {
            dsn_flush(&r);
            pos = next;
            continue;
        }
        size_t end = rfc5322_field_end(p, n, pos);
        size_t name_len = rfc5322_field_name(p + pos, ln, &colon);
        if (name_len)
            dsn_field(&r, p + pos, name_len, p + pos + colon + 1, end - pos - colon - 1);
        pos = end > pos ? end : next;
    }
    dsn_flush(&r);
}

/* The body of part, its transfer encoding undone into scratch when it has one. */
static int dsn_part_body(const struct mime_entity *part, struct buf *scratch, const char **p,
                         size_t *n)
{
    enum mime_encoding enc = mime_transfer_encoding(part);
    if (enc == MIME_ENC_IDENTITY) {
        *p = part->body;
        *n = part->body_len;
        return 0;
    }
    if (mime_decode(enc, part->body, part->body_len, scratch) < 0)
        return -1;
    *p = scratch->data ? scratch->data : "";
    *n = scratch->len;
    return 0;
}

static int dsn_read_status(const struct mime_entity *part, struct dsn_parsed *out)
{
    struct buf scratch;
    const char *p;
    size_t n;
    buf_init(&scratch, part->body_len + 1); /* decoding never grows a body */
    int rc = dsn_part_body(part, &scratch, &p, &n);
    if (rc == 0)
        dsn_read_fields(p, n, out);
    buf_free(&scratch);
    return rc;
}

/* The Message-ID of the returned message or header section, when it has one, in place
 * of one the delivery-status part named. */
static void dsn_read_returned(const struct mime_entity *part, struct dsn_parsed *out)
{
    struct buf scratch;
    const char *p;
    size_t n;
    buf_init(&scratch, part->body_len + 1);
    char id[sizeof out->message_id];
    if (dsn_part_body(part, &scratch, &p, &n) == 0 &&
        rfc5322_find_message_id(p, n, id, sizeof id) == 0)
        str_copy(out->message_id, sizeof out->message_id, id);
    buf_free(&scratch);
}

int dsn_parse(const char *msg, size_t len, struct dsn_parsed *out)
{
    struct dsn_found f = {0};
    memset(out, 0, sizeof *out);
    if (!msg || dsn_find_report(msg, len, 0, &f) < 0 || dsn_read_status(&f.status, out) < 0)
        goto refused;
    if (f.has_returned)
        dsn_read_returned(&f.returned, out);
    if (!out->reporting_mta[0] || out->n_rcpts == 0)
        goto refused;
    return 0;
refused:
    memset(out, 0, sizeof *out);
    return -1;
}
