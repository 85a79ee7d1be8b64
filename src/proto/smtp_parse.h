/*
 * smtp_parse: pure parsers for SMTP server command lines (RFC 5321 4.1) and
 * the ESMTP parameters of MAIL and RCPT: SIZE (RFC 1870), BODY (RFC 6152,
 * RFC 3030 BINARYMIME), the BDAT argument (RFC 3030),
 * RET/ENVID/NOTIFY/ORCPT (RFC 3461), AUTH (RFC 4954), SMTPUTF8 (RFC 6531)
 * with ORCPT's utf-8 address type (RFC 6533 3). No I/O, no policy:
 * the caller decides what the values mean (e.g. SIZE over the limit).
 * Each failure is described by the SMTP reply the server should send.
 * Also says how long a command line may be (RFC 5321 4.5.3.1.4, RFC 3461 4)
 * and which lines are no SMTP at all (an HTTP request, a header line).
 */
#ifndef POSTINO_SMTP_PARSE_H
#define POSTINO_SMTP_PARSE_H
#include <stddef.h>
#include <stdint.h>
#include "proto/addr.h"
#include "proto/esc.h"

enum smtp_verb {
    SMTP_UNKNOWN = 0,
    SMTP_HELO, SMTP_EHLO, SMTP_MAIL, SMTP_RCPT, SMTP_DATA, SMTP_RSET,
    SMTP_VRFY, SMTP_EXPN, SMTP_HELP, SMTP_NOOP, SMTP_QUIT,
    SMTP_STARTTLS, SMTP_AUTH, SMTP_BDAT,
    SMTP_FORBIDDEN,    /* an HTTP request or a header line: end the session (as Postfix) */
};

/* The longest command lines, CRLF included: RFC 5321 4.5.3.1.4, and RFC 3461 4
 * (MAIL may be 100 octets longer, RCPT 500, for the DSN parameters). */
#define SMTP_LINE_MAX 512
#define SMTP_MAIL_LINE_MAX (SMTP_LINE_MAX + 100)
#define SMTP_RCPT_LINE_MAX (SMTP_LINE_MAX + 500)
#define SMTP_VERB_HEAD 5    /* octets smtp_line_limit needs to see: "MAIL " */

struct smtp_cmd {
    enum smtp_verb verb;
    const char *arg;   /* points into the line: text after the verb and one space; "" if none */
    size_t arg_len;
    const char *name;  /* the verb as sent (for SMTP_FORBIDDEN: "GET", "Host:"), for logs */
    size_t name_len;
};

/* A reply to send when parsing fails. */
struct smtp_err {
    int code;           /* 501, 555, 553 ... */
    enum esc_code esc;  /* its enhanced status code: ESC_INVALID_ARGUMENTS is 5.5.4 after 501 */
    const char *text;   /* human text, static */
};

enum dsn_ret { DSN_RET_UNSET = 0, DSN_RET_FULL, DSN_RET_HDRS };
/* BODY_BINARYMIME (RFC 3030 3): content only by BDAT, no line structure assumed. */
enum body_type { BODY_UNSET = 0, BODY_7BIT, BODY_8BITMIME, BODY_BINARYMIME };

/* NOTIFY bits; 0 means the parameter was absent (RFC 3461 default applies). */
#define NOTIFY_SUCCESS 1u
#define NOTIFY_FAILURE 2u
#define NOTIFY_DELAY   4u
#define NOTIFY_NEVER   8u

#define DSN_ENVID_MAX 100   /* RFC 3461 4.4: ENVID at most 100 characters (encoded) */
#define DSN_ORCPT_MAX 500   /* RFC 3461 4.2: ORCPT at most 500 characters (encoded) */

struct mail_params {
    struct addr from;
    int has_size;
    uint64_t size;
    enum body_type body;
    enum dsn_ret ret;
    int has_envid;
    char envid[DSN_ENVID_MAX + 1];      /* decoded from xtext */
    int has_auth;                       /* AUTH=<mailbox> given (RFC 4954 5) */
    int smtputf8;                       /* SMTPUTF8 given (RFC 6531 3.4) */
};

struct rcpt_params {
    struct addr to;
    unsigned notify;                    /* NOTIFY_* bits, 0 = absent */
    int has_orcpt;
    char orcpt_type[32];                /* addr-type, e.g. "rfc822" (as given) */
    char orcpt[DSN_ORCPT_MAX + 1];      /* address part, decoded from xtext; for "utf-8"
                                           (RFC 6533) its \x{HEX} escapes decoded to UTF-8 */
    int orcpt_8bit;                     /* an xtext ORCPT that decoded to UTF-8 (accepted
                                           only with SMTPUTF8; its type is then "utf-8") */
};

/*
 * Splits a command line (without CRLF) into verb and argument. The verb is
 * matched case-insensitively and must be followed by a space or the end of
 * the line. Returns the verb (SMTP_UNKNOWN when not recognised), or
 * SMTP_FORBIDDEN for a line that is no SMTP: an HTTP method (GET, POST,
 * CONNECT, PUT, HEAD, OPTIONS, DELETE, PATCH, any case, then a space or the
 * end) or a header line ("^[A-Za-z][A-Za-z0-9-]*:"; "MAIL FROM:" is none).
 */
enum smtp_verb smtp_parse_command(const char *line, size_t len, struct smtp_cmd *cmd);

/*
 * The longest a command line may be, CRLF included, judged from its first
 * len octets (SMTP_VERB_HEAD are enough): SMTP_MAIL_LINE_MAX for "MAIL ",
 * SMTP_RCPT_LINE_MAX for "RCPT " (any case), else SMTP_LINE_MAX.
 */
size_t smtp_line_limit(const char *head, size_t len);

/*
 * Parses the argument of MAIL ("FROM:<path> [params]"). esmtp: the session
 * began with EHLO; without it any parameter is an error (555 5.5.4).
 * Errors: 501 5.5.2 syntax (missing FROM:), 501 5.1.7 bad sender address
 * (syntax, or local part / domain too long: X.1.7 is the sender's code in
 * RFC 3463), 501 5.5.4 malformed or repeated parameter,
 * 555 5.5.4 unknown parameter. Returns 0 or -1 with *err filled.
 */
int smtp_parse_mail(const char *arg, size_t len, int esmtp, struct mail_params *out,
                    struct smtp_err *err);
/* Same for RCPT ("TO:<path> [params]"); bad or too long address is 501 5.1.3.
 * A UTF-8 address is refused with 553 5.6.7 (see smtp_parse_rcpt_utf8). */
int smtp_parse_rcpt(const char *arg, size_t len, int esmtp, struct rcpt_params *out,
                    struct smtp_err *err);
/* The argument of BDAT (RFC 3030 2): "chunk-size [SP LAST]". */
struct bdat_params {
    int has_size;       /* the size was read: that many octets follow, even on an error */
    uint64_t size;      /* chunk-size: 1*DIGIT, at most 20 digits, no overflow */
    int last;           /* the LAST end-marker (any case) */
};
/*
 * Parses the argument of BDAT. Errors (501 5.5.4): no size, a size that is
 * not all digits or overflows 64 bits, anything but " LAST" after it. On an
 * error out->has_size still says whether the size was readable, so the
 * server can skip the chunk's octets and stay in step; without it the
 * session cannot be resynchronised. Returns 0 or -1 with *err filled.
 */
int smtp_parse_bdat(const char *arg, size_t len, struct bdat_params *out, struct smtp_err *err);
/*
 * smtp_parse_rcpt in a transaction whose MAIL carried SMTPUTF8 when utf8 is 1:
 * then a UTF-8 local part and U-label domain are accepted (RFC 6531 3.3);
 * otherwise they get 553 5.6.7. MAIL likewise: its sender may be UTF-8 only
 * with the SMTPUTF8 parameter (else 553 5.6.7).
 */
int smtp_parse_rcpt_utf8(const char *arg, size_t len, int esmtp, int utf8,
                         struct rcpt_params *out, struct smtp_err *err);
/* Formats NOTIFY bits as "SUCCESS,FAILURE" / "NEVER" / "" (absent). */
void smtp_notify_format(unsigned notify, char *out, size_t size);
/* Parses a NOTIFY value list; -1 on error (unknown word, NEVER combined, empty item, repeat). */
int smtp_notify_parse(const char *s, size_t len, unsigned *notify);

#endif
