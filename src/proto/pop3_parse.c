/*
 * pop3_parse: POP3 command lines (RFC 1939 3: a keyword of 3-4 characters,
 * case-insensitive, arguments separated by single spaces) and the message
 * transform for RETR/TOP. Pure: no I/O, no allocation.
 */
#include "proto/pop3_parse.h"
#include <string.h>
#include <strings.h>

struct pop3_verb_def {
    const char *name;
    enum pop3_verb verb;
};

static const struct pop3_verb_def pop3_verbs[] = {
    {"USER", POP3_USER}, {"PASS", POP3_PASS}, {"AUTH", POP3_AUTH}, {"CAPA", POP3_CAPA},
    {"STLS", POP3_STLS}, {"QUIT", POP3_QUIT}, {"STAT", POP3_STAT}, {"LIST", POP3_LIST},
    {"RETR", POP3_RETR}, {"DELE", POP3_DELE}, {"NOOP", POP3_NOOP}, {"RSET", POP3_RSET},
    {"TOP", POP3_TOP},   {"UIDL", POP3_UIDL},
};

/* A message number or line count: 1-9 decimal digits, nothing else. */
static int pop3_number(const char *s, size_t len, unsigned long *out)
{
    if (len == 0 || len > 9)
        return -1;
    unsigned long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Splits the arguments at single spaces into numbers; -1 if any is not a number. */
static int pop3_numbers(const char *s, size_t len, struct pop3_cmd *out)
{
    out->n_nums = 0;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && s[j] != ' ')
            j++;
        if (out->n_nums == 2 || pop3_number(s + i, j - i, &out->num[out->n_nums]) < 0)
            return -1;
        out->n_nums++;
        if (j < len && j + 1 == len)
            return -1; /* trailing space */
        i = j + 1;
    }
    return 0;
}

static enum pop3_parse_result pop3_check_nums(struct pop3_cmd *out, int min, int max, int zero_ok)
{
    if (out->n_nums < min || out->n_nums > max)
        return POP3_PARSE_BAD_ARGS;
    if (out->n_nums >= 1 && out->num[0] == 0)
        return POP3_PARSE_BAD_ARGS;
    (void)zero_ok; /* TOP's second number may be 0 */
    return POP3_PARSE_OK;
}

/* AUTH MECH [initial-response]. */
static enum pop3_parse_result pop3_auth_args(const char *a, size_t len, struct pop3_cmd *out)
{
    const char *sp = memchr(a, ' ', len);
    out->arg = a;
    out->arg_len = sp ? (size_t)(sp - a) : len;
    if (sp) {
        out->arg2 = sp + 1;
        out->arg2_len = len - out->arg_len - 1;
        if (out->arg2_len == 0 || memchr(out->arg2, ' ', out->arg2_len))
            return POP3_PARSE_BAD_ARGS;
    }
    return out->arg_len ? POP3_PARSE_OK : POP3_PARSE_BAD_ARGS;
}

static enum pop3_parse_result pop3_args(const char *a, size_t len, int has_args,
                                        struct pop3_cmd *out)
{
    switch (out->verb) {
    case POP3_USER:
    case POP3_PASS:
        if (!has_args || len == 0)
            return POP3_PARSE_BAD_ARGS;
        out->arg = a;
        out->arg_len = len;
        return POP3_PARSE_OK;
    case POP3_AUTH:
        return has_args ? pop3_auth_args(a, len, out) : POP3_PARSE_OK;
    case POP3_LIST:
    case POP3_UIDL:
    case POP3_RETR:
    case POP3_DELE:
    case POP3_TOP:
        if (has_args && pop3_numbers(a, len, out) < 0)
            return POP3_PARSE_BAD_ARGS;
        if (has_args && len == 0)
            return POP3_PARSE_BAD_ARGS;
        if (out->verb == POP3_TOP)
            return pop3_check_nums(out, 2, 2, 1);
        if (out->verb == POP3_RETR || out->verb == POP3_DELE)
            return pop3_check_nums(out, 1, 1, 0);
        return pop3_check_nums(out, 0, 1, 0);
    default:
        return has_args ? POP3_PARSE_BAD_ARGS : POP3_PARSE_OK;
    }
}

enum pop3_parse_result pop3_parse_line(const char *line, size_t len, struct pop3_cmd *out)
{
    memset(out, 0, sizeof *out);
    size_t k = 0;
    while (k < len && line[k] != ' ')
        k++;
    if (k < 3 || k > 4 || memchr(line, '\0', len))
        return POP3_PARSE_UNKNOWN;
    for (size_t i = 0; i < sizeof pop3_verbs / sizeof pop3_verbs[0]; i++) {
        if (strlen(pop3_verbs[i].name) == k && strncasecmp(line, pop3_verbs[i].name, k) == 0) {
            out->verb = pop3_verbs[i].verb;
            int has_args = k < len;
            const char *a = has_args ? line + k + 1 : line + len;
            size_t alen = has_args ? len - k - 1 : 0;
            return pop3_args(a, alen, has_args, out);
        }
    }
    return POP3_PARSE_UNKNOWN;
}

void pop3_stuff_init(struct pop3_stuff *st, long max_body_lines)
{
    memset(st, 0, sizeof *st);
    st->body_lines = max_body_lines;
    if (max_body_lines < 0)
        st->in_body = 1; /* RETR: no need to find the headers' end */
}

size_t pop3_stuff(struct pop3_stuff *st, const char *in, size_t n, char *out, size_t *used)
{
    size_t o = 0, i = 0;
    for (; i < n && !st->done; i++) {
        char c = in[i];
        if (c == '\n') {
            out[o++] = '\r';
            out[o++] = '\n';
            if (!st->in_body && !st->mid_line) {
                st->in_body = 1;            /* the empty line after the headers */
                if (st->body_lines == 0)
                    st->done = 1;
            } else if (st->in_body && st->body_lines > 0 && --st->body_lines == 0) {
                st->done = 1;
            }
            st->mid_line = 0;
            continue;
        }
        if (!st->mid_line && c == '.')
            out[o++] = '.';
        out[o++] = c;
        st->mid_line = 1;
    }
    *used = i;
    return o;
}
