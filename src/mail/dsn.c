/*
 * dsn: builds Delivery Status Notifications (see dsn.h; RFC 3464, RFC 6522,
 * RFC 3461 4-6, RFC 3463, RFC 5322, RFC 2045/2046). Three steps:
 *   1. the original is vetted: line ends become CRLF, overlong header lines
 *      are folded at whitespace (or their field dropped), and the whole message
 *      is returned only when it is complete, within the limit, NUL-free and
 *      every line fits 998 octets; otherwise its header section alone;
 *   2. the three body parts are composed into scratch buffers (unlimited:
 *      appends cannot fail, allocation failure aborts);
 *   3. the notice's header section is composed (up to MIME-Version), a
 *      boundary found neither in it nor in any part is chosen (To: and
 *      In-Reply-To: carry input too), the Content-Type naming it is added and
 *      the notice is assembled into the caller's buffer (the only place a
 *      limit applies).
 * Values from the envelope or the network pass through dsn_put_clean: one line
 * of printable US-ASCII (the delivery-status part must be 7bit, RFC 3464 2.1).
 * About a message received with SMTPUTF8 (in->utf8), the notice follows RFC
 * 6533: message/global-delivery-status with "utf-8" address types where an
 * address is not ASCII, message/global or message/global-headers for the
 * original, UTF-8 kept in addresses; ASCII mail gets RFC 3464 unchanged.
 * This file owns steps 1 and 3 and parts 2 and 3; dsn_text.c writes the lines
 * and part 1, the human-readable text; proto/rfc5322 scans the original's
 * header section.
 */
#include "mail/dsn.h"
#include "proto/esc.h"
#include "mail/dsn_int.h"
#include "lib/alloc.h"
#include "lib/str.h"
#include "proto/intl.h"
#include "proto/rfc5322.h"
#include "proto/xtext.h"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_DATE_MS 253402300799999LL  /* 9999-12-31T23:59:59.999Z */

static const char *const action_names[] = {"failed", "delayed", "delivered", "relayed", "expanded"};
#define N_ACTIONS (sizeof action_names / sizeof action_names[0])

const char *dsn_action_name(enum dsn_action a)
{
    return (unsigned)a < N_ACTIONS ? action_names[a] : "?";
}

int dsn_has_8bit(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] >= 0x80)
            return 1;
    return 0;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* "Name: value" or, with a type, "Name: type; value" (RFC 3464 mta-name, address,
 * diagnostic), the value cleaned and folded (RFC 5322 2.2.3). */
static void put_field_as(struct buf *b, struct buf *tmp, const char *name, const char *type,
                         const char *value, size_t max, int utf8)
{
    char prefix[64];
    buf_reset(tmp);
    if (type) {
        dsn_puts(tmp, type);
        dsn_puts(tmp, "; ");
    }
    dsn_put_clean_as(tmp, value, max, utf8);
    (void)str_fmt(prefix, sizeof prefix, "%s: ", name);
    dsn_put_wrapped(b, prefix, buf_cstr(tmp), " ", RFC5322_LINE_WIDTH);
}

static void put_field(struct buf *b, struct buf *tmp, const char *name, const char *type,
                      const char *value, size_t max)
{
    put_field_as(b, tmp, name, type, value, max, 0);
}

/* An address field: "rfc822; ADDR", or in an RFC 6533 notice "utf-8; ADDR" when the
 * address is not ASCII (RFC 6533 3, utf-8-address). */
static void put_addr_field(struct buf *b, struct buf *tmp, const char *name, const char *addr,
                           int utf8)
{
    int u = utf8 && !intl_is_ascii(addr, strlen(addr));
    put_field_as(b, tmp, name, u ? "utf-8" : "rfc822", addr, 1000, u);
}

void dsn_format_date(int64_t ms, char out[DSN_DATE_MAX])
{
    if (ms < 0)
        ms = 0;
    if (ms > MAX_DATE_MS)
        ms = MAX_DATE_MS;
    if (rfc5322_date((time_t)(ms / 1000), out, DSN_DATE_MAX) < 0)
        (void)str_copy(out, DSN_DATE_MAX, "Thu, 01 Jan 1970 00:00:00 +0000");
}

static void put_date_field(struct buf *b, const char *name, int64_t ms)
{
    char date[DSN_DATE_MAX];
    dsn_format_date(ms, date);
    (void)buf_printf(b, "%s: %s\r\n", name, date);
}

/* ---- status codes (RFC 3463) ---- */

int dsn_reply_coded(const char *p)
{
    return p[0] >= '2' && p[0] <= '5' && is_digit(p[1]) && is_digit(p[2]) &&
           (p[3] == ' ' || p[3] == '-' || p[3] == '\0');
}

/* Parses "C.S.D" at s (proto/esc's grammar): the class, *len set; -1 if none. */
int dsn_status_parse(const char *s, size_t *len)
{
    int klass;
    enum esc_code code;
    if (!s || esc_parse(s, strlen(s), &klass, &code, len) < 0)
        return -1;
    return klass;
}

void dsn_status_from_reply(const char *reply, int default_class, char out[DSN_STATUS_MAX])
{
    int cls = default_class == 2 || default_class == 4 ? default_class : 5, coded = 0;
    const char *p = reply ? reply : "";
    while (*p == ' ')
        p++;
    if (dsn_reply_coded(p) && p[0] != '3') {
        cls = p[0] - '0';
        coded = 1;
        p += p[3] ? 4 : 3;
        while (*p == ' ')
            p++;
    }
    size_t n;
    int c = dsn_status_parse(p, &n);
    if (c > 0 && (unsigned char)p[n] <= ' ') { /* ends the word, NUL included */
        out[0] = (char)('0' + (coded ? cls : c));
        memcpy(out + 1, p + 1, n - 1);
        out[n] = '\0';
        return;
    }
    str_copy(out, DSN_STATUS_MAX, esc_code(cls, ESC_OTHER_STATUS).s);
}

static int default_class(enum dsn_action a)
{
    return a == DSN_ACTION_FAILED ? 5 : a == DSN_ACTION_DELAYED ? 4 : 2;
}

/* RFC 3464 2.3.4: the class agrees with the action. */
static int class_fits(enum dsn_action a, int cls)
{
    if (a == DSN_ACTION_FAILED)
        return cls == 4 || cls == 5;
    return cls == default_class(a);
}

/* The Status of r: as given if valid, else from its diagnostic, else X.0.0 by action. */
void dsn_rcpt_status(const struct dsn_rcpt *r, char out[DSN_STATUS_MAX])
{
    size_t n;
    int c = dsn_status_parse(r->status, &n);
    if (c > 0 && r->status[n] == '\0' && class_fits(r->action, c)) {
        memcpy(out, r->status, n + 1);
        return;
    }
    if (r->diagnostic) {
        dsn_status_from_reply(r->diagnostic, default_class(r->action), out);
        if (class_fits(r->action, out[0] - '0'))
            return;
    }
    str_copy(out, DSN_STATUS_MAX, esc_code(default_class(r->action), ESC_OTHER_STATUS).s);
}

/* ---- the original's header section (scanned by proto/rfc5322) ---- */

size_t dsn_header_length(const char *msg, size_t len)
{
    return msg ? rfc5322_header_length(msg, len, NULL) : 0;
}

int dsn_find_message_id(const char *msg, size_t len, char *out, size_t size)
{
    return rfc5322_find_message_id(msg, len, out, size);
}

/*
 * Appends one physical header line, folded before whitespace so that no
 * piece passes DSN_LINE_MAX: only after index min (the colon) and never
 * leaving a piece of bare whitespace (RFC 5322 3.2.2). -1 if impossible.
 */
static int fold_line(const char *l, size_t n, size_t min, struct buf *out)
{
    size_t last = n, start = 0; /* last: one past the last non-WSP octet */
    while (last > 0 && rfc5322_is_wsp(l[last - 1]))
        last--;
    while (n - start > DSN_LINE_MAX) {
        size_t first = start;
        while (first < last && rfc5322_is_wsp(l[first]))
            first++;
        if (last == 0 || first >= last)
            return -1;
        size_t k = start + DSN_LINE_MAX;
        if (k > last - 1)
            k = last - 1;
        while (k > first && k > min && !rfc5322_is_wsp(l[k]))
            k--;
        if (k <= first || k <= min || !rfc5322_is_wsp(l[k]))
            return -1;
        dsn_put(out, l + start, k - start);
        dsn_puts(out, "\r\n");
        start = k;
    }
    dsn_put(out, l + start, n - start);
    dsn_puts(out, "\r\n");
    return 0;
}

/* Appends one header field with CRLF line ends; drops it (0 returned) if it cannot be carried. */
static int copy_field(const char *f, size_t n, size_t colon, struct buf *out)
{
    size_t mark = out->len, pos = 0, next;
    if (memchr(f, '\0', n))
        return 0;
    for (int first = 1; pos < n; first = 0, pos = next) {
        size_t m = rfc5322_line(f, n, pos, &next);
        if (fold_line(f + pos, m, first ? colon : 0, out) < 0) {
            out->len = mark;
            return 0;
        }
    }
    return 1;
}

static void note_dropped(struct dsn_orig *o, const char *name, size_t n)
{
    if (o->n_dropped++ >= DSN_LISTED_DROPS)
        return;
    if (o->dropped.len)
        dsn_puts(&o->dropped, ", ");
    char tmp[80];
    (void)str_ncopy(tmp, sizeof tmp, name, n < 76 ? n : 76);
    dsn_put_clean(&o->dropped, tmp, 76);
}

/* Copies the header fields of p[0..hlen); skip_last: the last one may be cut short. */
static void copy_header(const char *p, size_t hlen, int skip_last, struct dsn_orig *o)
{
    size_t pos = 0, next, colon;
    while (pos < hlen) {
        size_t n = rfc5322_line(p, hlen, pos, &next);
        size_t name_len = n ? rfc5322_field_name(p + pos, n, &colon) : 0;
        if (name_len == 0)
            break;
        size_t end = rfc5322_field_end(p, hlen, pos);
        if (skip_last && end >= hlen)
            break;
        if (!copy_field(p + pos, end - pos, colon, &o->content))
            note_dropped(o, p + pos, name_len);
        pos = end;
    }
}

/* ORIG_FULL if every line of p fits DSN_LINE_MAX and there is no NUL. */
static enum dsn_orig_why check_lines(const char *p, size_t len)
{
    if (memchr(p, '\0', len))
        return ORIG_NUL;
    for (size_t pos = 0, next; pos < len; pos = next)
        if (rfc5322_line(p, len, pos, &next) > DSN_LINE_MAX)
            return ORIG_LONG_LINE;
    return ORIG_FULL;
}

/* Fills o with what the third part returns (RFC 3461 4.3, DSN.md 4). */
static void vet_original(const struct dsn_input *in, enum dsn_action worst, struct dsn_orig *o)
{
    const char *p = in->original ? in->original : "";
    size_t len = in->original ? in->original_len : 0, next;
    int blank;
    size_t hlen = rfc5322_header_length(p, len, &blank);
    /* RET=FULL asks for the message in a failure notice only: success, delay,
     * relay and expansion notices never carry it (no reflection through them) */
    int want_full = worst == DSN_ACTION_FAILED && in->ret != DSN_RET_HDRS;
    if (!want_full)
        o->why = in->ret == DSN_RET_HDRS   ? ORIG_HDRS_ASKED
                 : in->ret == DSN_RET_FULL ? ORIG_HDRS_NOT_FAILURE
                                           : ORIG_HDRS_DEFAULT;
    else if (!in->original_complete)
        o->why = in->original_too_big ? ORIG_TOO_BIG : ORIG_INCOMPLETE;
    else if (in->return_limit == 0 || len > in->return_limit)
        o->why = ORIG_TOO_BIG;
    else
        o->why = check_lines(p, len);
    copy_header(p, hlen, !in->original_complete && !blank && hlen == len, o);
    if (o->why != ORIG_FULL)
        return;
    dsn_puts(&o->content, "\r\n");
    for (size_t pos = hlen; pos < len; pos = next) {
        size_t n = rfc5322_line(p, len, pos, &next);
        dsn_put(&o->content, p + pos, n);
        dsn_puts(&o->content, "\r\n");
    }
}

/* ---- the parts ---- */

/* The recipients, failed first, then delayed, delivered, relayed, expanded (stable). */
static const struct dsn_rcpt **sort_rcpts(const struct dsn_input *in)
{
    const struct dsn_rcpt **v = xmalloc(in->n_rcpts * sizeof *v);
    size_t k = 0;
    for (unsigned a = 0; a < N_ACTIONS; a++)
        for (size_t i = 0; i < in->n_rcpts; i++)
            if ((unsigned)in->rcpts[i].action == a)
                v[k++] = &in->rcpts[i];
    return v;
}

/* "type; addr" of an ORCPT value: the type as given if it is an atom, else "unknown".
 * A utf-8 ORCPT (RFC 6533 3) is written as UTF-8 in a global report, else in its
 * utf-8-addr-xtext form. */
static void put_orcpt(struct buf *b, struct buf *tmp, const char *orcpt, int utf8)
{
    const char *semi = strchr(orcpt, ';');
    size_t tl = semi ? (size_t)(semi - orcpt) : 0;
    char enc[4000];
    if (tl == 5 && strncasecmp(orcpt, "utf-8", 5) == 0) {
        if (utf8)
            put_field_as(b, tmp, "Original-Recipient", "utf-8", semi + 1, 1000, 1);
        else if (xtext_utf8_encode(semi + 1, 0, enc, sizeof enc) == 0)
            put_field(b, tmp, "Original-Recipient", "utf-8", enc, 1000);
        return;
    }
    int ok = tl > 0 && tl <= 64;
    for (size_t i = 0; ok && i < tl; i++)
        ok = rfc5322_is_atext((unsigned char)orcpt[i]);
    char type[80];
    (void)str_ncopy(type, sizeof type, ok ? orcpt : "unknown", ok ? tl : 7);
    put_field(b, tmp, "Original-Recipient", type, semi ? semi + 1 : orcpt, 1000);
}

/* The diagnostic-type: "smtp" for an SMTP reply ("550 ..."), else our own. */
static const char *diag_type(const char *d)
{
    while (*d == ' ')
        d++;
    return dsn_reply_coded(d) ? "smtp" : "X-Postino";
}

/* Part 2: message/delivery-status, fields in RFC 3464 section 2.2 / 2.3 order. */
static void build_status(const struct dsn_input *in, const struct dsn_rcpt **v, const char *host,
                         struct buf *d)
{
    struct buf tmp;
    char status[DSN_STATUS_MAX];
    buf_init(&tmp, BUF_UNLIMITED);
    dsn_puts(d, in->utf8 ? "Content-Description: Delivery report\r\n"
                           "Content-Type: message/global-delivery-status\r\n"
                           "Content-Transfer-Encoding: 8bit\r\n\r\n"
                         : "Content-Description: Delivery report\r\n"
                           "Content-Type: message/delivery-status\r\n\r\n");
    if (in->envid)
        put_field(d, &tmp, "Original-Envelope-Id", NULL, in->envid, 400);
    put_field(d, &tmp, "Reporting-MTA", "dns", host, 300);
    if (in->received_from_mta && in->received_from_mta[0])
        put_field(d, &tmp, "Received-From-MTA", "dns", in->received_from_mta, 300);
    if (in->arrival_ms > 0)
        put_date_field(d, "Arrival-Date", in->arrival_ms);
    if (in->queue_id && in->queue_id[0])
        put_field(d, &tmp, "X-Postino-Queue-ID", NULL, in->queue_id, 64);
    for (size_t i = 0; i < in->n_rcpts; i++) {
        const struct dsn_rcpt *r = v[i];
        dsn_puts(d, "\r\n");
        if (r->orcpt)
            put_orcpt(d, &tmp, r->orcpt, in->utf8);
        put_addr_field(d, &tmp, "Final-Recipient", r->final_rcpt, in->utf8);
        put_field(d, &tmp, "Action", NULL, dsn_action_name(r->action), 20);
        dsn_rcpt_status(r, status);
        put_field(d, &tmp, "Status", NULL, status, 20);
        if (r->remote_mta && r->remote_mta[0])
            put_field(d, &tmp, "Remote-MTA", "dns", r->remote_mta, 300);
        if (r->diagnostic && r->diagnostic[0])
            put_field(d, &tmp, "Diagnostic-Code", diag_type(r->diagnostic), r->diagnostic, 2000);
        if (r->last_attempt_ms > 0)
            put_date_field(d, "Last-Attempt-Date", r->last_attempt_ms);
        if (r->action == DSN_ACTION_DELAYED && r->will_retry_until_ms > 0)
            put_date_field(d, "Will-Retry-Until", r->will_retry_until_ms);
    }
    buf_free(&tmp);
}

/* Part 3: the original, whole (message/rfc822) or its header section (text/rfc822-headers);
 * for a message received with SMTPUTF8, message/global or message/global-headers (RFC 6532
 * 3.7, RFC 6533 6.3). */
static void build_original(const struct dsn_orig *o, int utf8, struct buf *p)
{
    if (o->why == ORIG_FULL)
        dsn_puts(p, utf8 ? "Content-Description: Original Message\r\nContent-Type: message/global\r\n"
                         : "Content-Description: Original Message\r\nContent-Type: message/rfc822\r\n");
    else
        dsn_puts(p, utf8 ? "Content-Description: Original Message Headers\r\n"
                           "Content-Type: message/global-headers\r\n"
                         : "Content-Description: Original Message Headers\r\n"
                           "Content-Type: text/rfc822-headers\r\n");
    if (dsn_has_8bit(o->content.data, o->content.len))
        dsn_puts(p, "Content-Transfer-Encoding: 8bit\r\n");
    dsn_puts(p, "\r\n");
    dsn_put(p, o->content.data, o->content.len);
}

/* ---- identifiers ---- */

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return h;
}
#define FNV_BASIS 14695981039346656037ull

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' || c == '_';
}

/* The queue id's letters, digits, '-' and '_' (fit for a Message-ID and a boundary). */
static void safe_token(const char *s, size_t max, char *out, size_t size)
{
    size_t k = 0;
    for (; s && *s && k < max && k + 1 < size; s++)
        if (is_name_char(*s))
            out[k++] = *s;
    if (k == 0)
        out[k++] = '0';
    out[k] = '\0';
}

/* Our host name as dot-atom-text: letters, digits, '-', '_' and single inner dots. */
static void safe_host(const char *s, char *out, size_t size)
{
    size_t k = 0;
    for (; *s && k + 1 < size; s++)
        if (*s == '.' ? (k > 0 && out[k - 1] != '.') : is_name_char(*s))
            out[k++] = *s;
    while (k > 0 && out[k - 1] == '.')
        k--;
    out[k] = '\0';
    if (k == 0)
        (void)str_copy(out, size, "localhost");
}

/* 1 and *v set if p starts with 16 lower-case hex digits, else 0. */
static int hex16(const char *p, size_t avail, uint64_t *v)
{
    if (avail < 16)
        return 0;
    *v = 0;
    for (int i = 0; i < 16; i++) {
        const char *d = strchr("0123456789abcdef", p[i]);
        if (!p[i] || !d)
            return 0;
        *v = *v << 4 | (uint64_t)(d - "0123456789abcdef");
    }
    return 1;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/*
 * The boundary (RFC 2046 5.1.1): "=_QID.NOW." and a 16-hex-digit counter, the
 * smallest that occurs in none of the n_texts texts ("=_" cannot occur in
 * quoted-printable): the three parts and the notice's own header section so
 * far, whose To: and In-Reply-To: come from the input. One scan collects the
 * counters the content blocks, so hostile content costs a sort, not a retry
 * per guess.
 */
static void pick_boundary(const char *qid, int64_t now, struct buf *const texts[],
                          size_t n_texts, char *out, size_t size)
{
    char prefix[64];
    uint64_t *blocked = NULL, c = 0;
    size_t n = 0, cap = 0;
    (void)str_fmt(prefix, sizeof prefix, "=_%s.%" PRIu64 ".", qid, (uint64_t)now);
    size_t pl = strlen(prefix);
    for (size_t k = 0; k < n_texts; k++) {
        const char *p = texts[k]->data, *end = p + texts[k]->len, *q = p;
        while (q && q < end && (q = memmem(q, (size_t)(end - q), prefix, pl)) != NULL) {
            q += pl;
            if (n == cap)
                blocked = xrealloc(blocked, (cap = cap ? 2 * cap : 16) * sizeof *blocked);
            n += hex16(q, (size_t)(end - q), &blocked[n]);
        }
    }
    if (n)
        qsort(blocked, n, sizeof *blocked, cmp_u64);
    for (size_t i = 0; i < n && blocked[i] <= c; i++)
        if (blocked[i] == c)
            c++;
    free(blocked);
    (void)str_fmt(out, size, "%s%016" PRIx64, prefix, c);
}

static const char *const subjects[] = {
    "Undelivered Mail Returned to Sender",
    "Delayed Mail (still being retried)",
    "Successful Mail Delivery Report",
    "Successful Mail Delivery Report",
    "Successful Mail Delivery Report",
};

/*
 * The notice's own header section (RFC 5322 3.6, RFC 3834 5 Auto-Submitted) up
 * to MIME-Version: put_content_type ends it once the boundary is chosen.
 */
static void build_header(const struct dsn_input *in, const struct dsn_rcpt **v, const char *host,
                         const char *qid, struct buf *h)
{
    struct buf tmp;
    char date[DSN_DATE_MAX], line[600];
    buf_init(&tmp, BUF_UNLIMITED);
    dsn_format_date(in->now_ms, date);
    (void)buf_printf(h, "Date: %s\r\nFrom: Mail Delivery System <MAILER-DAEMON@%s>\r\n", date,
                     host);
    dsn_puts(&tmp, "<");
    dsn_put_clean_as(&tmp, in->to, 1000, in->utf8); /* RFC 6532: a UTF-8 sender as it is */
    dsn_puts(&tmp, ">");
    dsn_put_wrapped(h, "To: ", buf_cstr(&tmp), " ", RFC5322_LINE_WIDTH);
    put_field(h, &tmp, "Subject", NULL, subjects[v[0]->action], 100);
    uint64_t rh = FNV_BASIS;
    for (size_t i = 0; i < in->n_rcpts; i++)
        rh = fnv1a(rh, v[i]->final_rcpt, strlen(v[i]->final_rcpt) + 1);
    (void)str_fmt(line, sizeof line, "<%s.%" PRIu64 ".%s.%08" PRIx32 "@%s>", qid,
                  (uint64_t)in->now_ms, dsn_action_name(v[0]->action), (uint32_t)rh, host);
    dsn_put_wrapped(h, "Message-ID: ", line, " ", RFC5322_LINE_WIDTH);
    const char *orig = in->original_message_id;
    if (orig && rfc5322_msgid_ok(orig, strlen(orig))) {
        dsn_put_wrapped(h, "In-Reply-To: ", orig, " ", RFC5322_LINE_WIDTH);
        dsn_put_wrapped(h, "References: ", orig, " ", RFC5322_LINE_WIDTH);
    }
    dsn_puts(h, "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n");
    buf_free(&tmp);
}

/* The last fields of the notice's header section: its MIME type and encoding (RFC 6533:
 * report-type global-delivery-status for a message received with SMTPUTF8). */
static void put_content_type(struct buf *h, const char *boundary, int eightbit, int utf8)
{
    char line[160];
    (void)str_fmt(line, sizeof line, "multipart/report; report-type=%s; boundary=\"%s\"",
                  utf8 ? "global-delivery-status" : "delivery-status", boundary);
    dsn_put_wrapped(h, "Content-Type: ", line, " ", RFC5322_LINE_WIDTH);
    if (eightbit)
        dsn_puts(h, "Content-Transfer-Encoding: 8bit\r\n");
}

static int input_ok(const struct dsn_input *in)
{
    if (!in || !in->reporting_mta || !in->to || !in->to[0] || !in->rcpts || !in->n_rcpts)
        return 0;
    for (size_t i = 0; i < in->n_rcpts; i++)
        if ((unsigned)in->rcpts[i].action >= N_ACTIONS || !in->rcpts[i].final_rcpt)
            return 0;
    return 1;
}

int dsn_build(const struct dsn_input *in, struct buf *out)
{
    if (!input_ok(in))
        return -1;
    char host[256], qid[32], boundary[80];
    struct dsn_orig o = {.why = ORIG_FULL};
    struct buf text, status, original, head;
    struct buf *parts[3] = {&text, &status, &original};
    struct buf *const texts[4] = {&text, &status, &original, &head};
    buf_init(&o.content, BUF_UNLIMITED);
    buf_init(&o.dropped, BUF_UNLIMITED);
    buf_init(&head, BUF_UNLIMITED);
    for (int i = 0; i < 3; i++)
        buf_init(parts[i], BUF_UNLIMITED);
    safe_host(in->reporting_mta, host, sizeof host);
    safe_token(in->queue_id, 24, qid, sizeof qid);
    const struct dsn_rcpt **v = sort_rcpts(in);

    vet_original(in, v[0]->action, &o);
    dsn_build_text(in, v, host, &o, &text);
    build_status(in, v, host, &status);
    build_original(&o, in->utf8, &original);
    build_header(in, v, host, qid, &head);
    pick_boundary(qid, in->now_ms, texts, 4, boundary, sizeof boundary);
    put_content_type(&head, boundary, in->utf8 || dsn_has_8bit(original.data, original.len),
                     in->utf8);

    size_t mark = out->len;
    int r = buf_append(out, head.data, head.len);
    r |= buf_appends(out, "\r\nThis is a MIME-encapsulated message.\r\n");
    for (int i = 0; i < 3; i++) {
        r |= buf_printf(out, "\r\n--%s\r\n", boundary);
        r |= buf_append(out, parts[i]->data, parts[i]->len);
    }
    r |= buf_printf(out, "\r\n--%s--\r\n", boundary);
    if (r)
        out->len = mark;

    free(v);
    for (int i = 0; i < 3; i++)
        buf_free(parts[i]);
    buf_free(&head);
    buf_free(&o.content);
    buf_free(&o.dropped);
    return r ? -1 : 0;
}
