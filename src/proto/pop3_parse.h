/*
 * pop3_parse: pure parsing and formatting for the POP3 server (RFC 1939,
 * RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH). No I/O, no allocation.
 * pop3_parse_line splits one command line (CRLF removed) into a verb and
 * checked arguments; pop3_stuff turns stored message bytes (LF line ends)
 * into the wire form: CRLF line ends, dot-stuffing (RFC 1939 3), and for
 * TOP the headers plus at most N body lines. The terminating ".\r\n" is the
 * caller's.
 */
#ifndef POSTINO_POP3_PARSE_H
#define POSTINO_POP3_PARSE_H
#include <stddef.h>

#define POP3_LINE_MAX 255      /* RFC 2449 4: a command line, CRLF included */
#define POP3_ARG_MAX 1400      /* an AUTH initial response may be longer (RFC 5034 4) */

enum pop3_verb {
    POP3_USER, POP3_PASS, POP3_AUTH, POP3_CAPA, POP3_STLS, POP3_QUIT, POP3_STAT,
    POP3_LIST, POP3_RETR, POP3_DELE, POP3_NOOP, POP3_RSET, POP3_TOP, POP3_UIDL,
};

enum pop3_parse_result {
    POP3_PARSE_OK = 0,
    POP3_PARSE_UNKNOWN,     /* not a verb we know */
    POP3_PARSE_BAD_ARGS,    /* known verb, wrong arguments */
};

struct pop3_cmd {
    enum pop3_verb verb;
    const char *arg;        /* USER/PASS: the rest of the line; AUTH: the mechanism; else NULL */
    size_t arg_len;
    const char *arg2;       /* AUTH: the initial response, or NULL */
    size_t arg2_len;
    int n_nums;             /* numbers given: LIST/UIDL 0-1, RETR/DELE 1, TOP 2 */
    unsigned long num[2];   /* message numbers start at 1; TOP's line count may be 0 */
};

/* Parses line[0..len) (no CRLF). Pointers in out point into line. */
enum pop3_parse_result pop3_parse_line(const char *line, size_t len, struct pop3_cmd *out);

/* Streaming stored-message -> wire conversion. */
struct pop3_stuff {
    int mid_line;           /* the last byte given was not a LF */
    int in_body;            /* the empty line ending the headers has been seen */
    long body_lines;        /* body lines still allowed; -1 = all */
    int done;               /* the TOP limit was reached: stop feeding */
};

/* Starts a conversion; max_body_lines -1 for the whole message (RETR). */
void pop3_stuff_init(struct pop3_stuff *st, long max_body_lines);
/*
 * Converts in[0..n) appending to out (capacity >= 2 * n + 1). Returns the
 * bytes written; *used is how much of in was consumed (less than n once
 * st->done is set).
 */
size_t pop3_stuff(struct pop3_stuff *st, const char *in, size_t n, char *out, size_t *used);

#endif
