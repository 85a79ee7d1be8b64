/*
 * esc: RFC 3463 enhanced status codes: the table of meanings, the
 * formatter and the parser (see esc.h). The table is ESC_CODES, so the
 * enum and the meanings cannot drift apart.
 */
#include "proto/esc.h"
#include "lib/str.h"
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct esc_row {
    enum esc_code code;
    const char *meaning;
};

#define ESC_TABLE_ROW(name, subject, detail, meaning) {ESC_##name, meaning},
static const struct esc_row esc_table[] = {ESC_CODES(ESC_TABLE_ROW)};
#undef ESC_TABLE_ROW

struct esc_text esc_code(int klass, enum esc_code code)
{
    struct esc_text t;
    str_fmt(t.s, sizeof t.s, "%d.%d.%d", klass, (int)code / 1000, (int)code % 1000);
    return t;
}

const char *esc_meaning(enum esc_code code)
{
    for (size_t i = 0; i < sizeof esc_table / sizeof esc_table[0]; i++)
        if (esc_table[i].code == code)
            return esc_table[i].meaning;
    return NULL;
}

/* Words for the codes a sender meets most, for the Web story (esc_plain). */
static const struct {
    enum esc_code code;
    const char *words;
} esc_plain_table[] = {
    {ESC_BAD_DESTINATION_MAILBOX, "the mailbox does not exist"},
    {ESC_BAD_DESTINATION_SYSTEM, "the recipient's mail system does not exist"},
    {ESC_BAD_DESTINATION_SYNTAX, "the recipient's address is not written correctly"},
    {ESC_MAILBOX_MOVED, "the mailbox has moved, with no forwarding address"},
    {ESC_NULL_MX, "the recipient's domain accepts no mail"},
    {ESC_MAILBOX_DISABLED, "the mailbox is disabled and takes no mail"},
    {ESC_MAILBOX_FULL, "the mailbox is full"},
    {ESC_MESSAGE_LENGTH_LIMIT, "the message is larger than the mailbox accepts"},
    {ESC_MAIL_SYSTEM_FULL, "the receiving mail system is out of space"},
    {ESC_MESSAGE_TOO_BIG, "the message is too big for the receiving system"},
    {ESC_NO_ANSWER, "the receiving host did not answer"},
    {ESC_UNABLE_TO_ROUTE, "no way was found to reach the recipient's domain"},
    {ESC_ROUTING_LOOP, "the message went round in a loop"},
    {ESC_DELIVERY_TIME_EXPIRED, "it could not be delivered in the time allowed"},
    {ESC_DELIVERY_NOT_AUTHORIZED, "the receiving system refused the message by its policy"},
};

const char *esc_plain(enum esc_code code, char *out, size_t size)
{
    for (size_t i = 0; i < sizeof esc_plain_table / sizeof esc_plain_table[0]; i++)
        if (esc_plain_table[i].code == code)
            return esc_plain_table[i].words;
    const char *m = esc_meaning(code);
    if (!m || size == 0)
        return NULL;
    size_t n = 0;
    for (; m[n] && n + 1 < size; n++)
        out[n] = n == 0 && m[n] >= 'A' && m[n] <= 'Z' ? (char)(m[n] - 'A' + 'a') : m[n];
    out[n] = '\0';
    return out;
}

int esc_find(const char *text, char out[ESC_TEXT_MAX], int *klass, enum esc_code *code)
{
    size_t len = strlen(text), used;
    for (size_t i = 0; i < len; i++) {
        if (i > 0 && text[i - 1] != ' ' && text[i - 1] != '(' && text[i - 1] != ';')
            continue;
        if (esc_parse(text + i, len - i, klass, code, &used) == 0) {
            size_t n = used < ESC_TEXT_MAX - 1 ? used : ESC_TEXT_MAX - 1;
            memcpy(out, text + i, n);
            out[n] = '\0';
            return 0;
        }
    }
    return -1;
}

/* 1-3 digits at s[*pos]; -1 if none, or more than three. */
static int esc_number(const char *s, size_t len, size_t *pos)
{
    int v = 0;
    size_t start = *pos;
    while (*pos < len && isdigit((unsigned char)s[*pos]) && *pos - start < 4)
        v = v * 10 + (s[(*pos)++] - '0');
    size_t n = *pos - start;
    return n >= 1 && n <= 3 ? v : -1;
}

int esc_parse(const char *s, size_t len, int *klass, enum esc_code *code, size_t *used)
{
    size_t pos = 0;
    int k = esc_number(s, len, &pos);
    if (pos != 1 || (k != 2 && k != 4 && k != 5) || pos >= len || s[pos++] != '.')
        return -1;
    int subject = esc_number(s, len, &pos);
    if (subject < 0 || pos >= len || s[pos++] != '.')
        return -1;
    int detail = esc_number(s, len, &pos);
    if (detail < 0 || (pos < len && isdigit((unsigned char)s[pos])))
        return -1;
    *klass = k;
    *code = (enum esc_code)ESC(subject, detail);
    *used = pos;
    return 0;
}

struct esc_prefix esc_reply_prefix(int reply, enum esc_code code)
{
    struct esc_prefix p;
    str_fmt(p.s, sizeof p.s, "%03d %s ", reply % 1000, esc_code(esc_class_of(reply), code).s);
    return p;
}

int esc_reply(char *out, size_t size, int reply, enum esc_code code, const char *text)
{
    return str_fmt(out, size, "%s%s", esc_reply_prefix(reply, code).s, text);
}

int esc_reason(char *out, size_t size, int klass, enum esc_code code, const char *fmt, ...)
{
    if (size == 0)
        return -1;
    if (str_fmt(out, size, "%s ", esc_code(klass, code).s) < 0)
        return -1;
    size_t used = strlen(out);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + used, size - used, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= size - used ? -1 : 0;
}
