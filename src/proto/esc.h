/*
 * esc: the one home of the enhanced mail system status codes postino says
 * (RFC 3463 3, with RFC 4954 6 and RFC 5248 for the security codes, RFC
 * 7505 for the null MX). A code is class.subject.detail; the class (2
 * success, 4 persistent transient, 5 permanent) follows from the SMTP
 * reply code it goes with, so the table holds subject.detail only, each
 * with its RFC meaning for notices and logs. Pure, no I/O, thread-safe.
 * Use: esc_reply(out, size, 550, ESC_BAD_DESTINATION_MAILBOX, "User unknown")
 * -> "550 5.1.1 User unknown"; esc_code(4, ESC_DELIVERY_TIME_EXPIRED).s -> "4.4.7".
 * A new code is one row of ESC_CODES.
 */
#ifndef POSTINO_ESC_H
#define POSTINO_ESC_H
#include <stddef.h>

/* The enum value of subject.detail (RFC 3463 2: each at most three digits). */
#define ESC(subject, detail) ((subject) * 1000 + (detail))

/* X(name, subject, detail, meaning): every code postino uses. */
#define ESC_CODES(X)                                                                     \
    X(OTHER_STATUS, 0, 0, "Other undefined status")                                       \
    X(OTHER_ADDRESS, 1, 0, "Other address status")                                        \
    X(BAD_DESTINATION_MAILBOX, 1, 1, "Bad destination mailbox address")                   \
    X(BAD_DESTINATION_SYSTEM, 1, 2, "Bad destination system address")                     \
    X(BAD_DESTINATION_SYNTAX, 1, 3, "Bad destination mailbox address syntax")             \
    X(DESTINATION_VALID, 1, 5, "Destination address valid")                               \
    X(MAILBOX_MOVED, 1, 6, "Destination mailbox has moved, no forwarding address")        \
    X(BAD_SENDER_SYNTAX, 1, 7, "Bad sender's mailbox address syntax")                     \
    X(BAD_SENDER_SYSTEM, 1, 8, "Bad sender's system address")                             \
    X(NULL_MX, 1, 10, "Recipient address has null MX")                                    \
    X(OTHER_MAILBOX, 2, 0, "Other or undefined mailbox status")                           \
    X(MAILBOX_DISABLED, 2, 1, "Mailbox disabled, not accepting messages")                 \
    X(MAILBOX_FULL, 2, 2, "Mailbox full")                                                 \
    X(MESSAGE_LENGTH_LIMIT, 2, 3, "Message length exceeds administrative limit")          \
    X(LIST_EXPANSION, 2, 4, "Mailing list expansion problem")                             \
    X(OTHER_MAIL_SYSTEM, 3, 0, "Other or undefined mail system status")                   \
    X(MAIL_SYSTEM_FULL, 3, 1, "Mail system full")                                         \
    X(NOT_ACCEPTING, 3, 2, "System not accepting network messages")                       \
    X(NOT_CAPABLE, 3, 3, "System not capable of selected features")                       \
    X(MESSAGE_TOO_BIG, 3, 4, "Message too big for system")                                \
    X(MISCONFIGURED, 3, 5, "System incorrectly configured")                               \
    X(OTHER_NETWORK, 4, 0, "Other or undefined network or routing status")                \
    X(NO_ANSWER, 4, 1, "No answer from host")                                             \
    X(BAD_CONNECTION, 4, 2, "Bad connection")                                             \
    X(DIRECTORY_FAILURE, 4, 3, "Directory server failure")                                \
    X(UNABLE_TO_ROUTE, 4, 4, "Unable to route")                                           \
    X(CONGESTION, 4, 5, "Mail system congestion")                                         \
    X(ROUTING_LOOP, 4, 6, "Routing loop detected")                                        \
    X(DELIVERY_TIME_EXPIRED, 4, 7, "Delivery time expired")                               \
    X(OTHER_PROTOCOL, 5, 0, "Other or undefined protocol status")                         \
    X(INVALID_COMMAND, 5, 1, "Invalid command")                                           \
    X(SYNTAX_ERROR, 5, 2, "Syntax error")                                                 \
    X(TOO_MANY_RECIPIENTS, 5, 3, "Too many recipients")                                   \
    X(INVALID_ARGUMENTS, 5, 4, "Invalid command arguments")                               \
    X(WRONG_PROTOCOL_VERSION, 5, 5, "Wrong protocol version")                             \
    X(AUTH_LINE_TOO_LONG, 5, 6, "Authentication exchange line is too long")               \
    X(OTHER_MEDIA, 6, 0, "Other or undefined media error")                                \
    X(MEDIA_NOT_SUPPORTED, 6, 1, "Media not supported")                                   \
    X(CONVERSION_UNSUPPORTED, 6, 3, "Conversion required but not supported")              \
    X(OTHER_SECURITY, 7, 0, "Other or undefined security status")                         \
    X(DELIVERY_NOT_AUTHORIZED, 7, 1, "Delivery not authorized, message refused")          \
    X(AUTH_CREDENTIALS_INVALID, 7, 8, "Authentication credentials invalid")               \
    X(AUTH_MECHANISM_TOO_WEAK, 7, 9, "Authentication mechanism is too weak")              \
    X(ENCRYPTION_REQUIRED, 7, 11, "Encryption required for requested authentication mechanism") \
    X(ACCOUNT_DISABLED, 7, 13, "User account disabled")                                   \
    X(SECURITY_NOT_SUPPORTED, 7, 4, "Security features not supported")                    \
    X(CRYPTO_FAILURE, 7, 5, "Cryptographic failure")                                      \
    X(NON_ASCII_ADDRESS, 6, 7, "Non-ASCII addresses not permitted for that sender/recipient")

#define ESC_ENUM_ROW(name, subject, detail, meaning) ESC_##name = ESC(subject, detail),
/* subject.detail without the class: ESC_BAD_DESTINATION_MAILBOX is X.1.1. */
enum esc_code { ESC_CODES(ESC_ENUM_ROW) };
#undef ESC_ENUM_ROW

/* The class digit (RFC 3463 3.1); an SMTP reply's is its first digit (esc_class_of). */
enum esc_class { ESC_CLASS_SUCCESS = 2, ESC_CLASS_TRANSIENT = 4, ESC_CLASS_PERMANENT = 5 };

/* "5.999.999" and its NUL: the longest code esc_code writes. */
#define ESC_TEXT_MAX 12

/* A formatted code, returned by value: esc_code(5, c).s lives to the end of the expression. */
struct esc_text {
    char s[ESC_TEXT_MAX];
};

/* The class an SMTP reply code (250, 452, 550 ...) carries: its first digit. */
static inline int esc_class_of(int reply)
{
    return reply / 100;
}

/* "klass.subject.detail", e.g. esc_code(5, ESC_BAD_DESTINATION_MAILBOX).s is "5.1.1". */
struct esc_text esc_code(int klass, enum esc_code code);

/* "550 5.1.1 " and its NUL: a reply code, a code, a space each. */
struct esc_prefix {
    char s[4 + ESC_TEXT_MAX + 1];
};

/* The start of a reply line: "550 5.1.1 " for 550 and ESC_BAD_DESTINATION_MAILBOX. */
struct esc_prefix esc_reply_prefix(int reply, enum esc_code code);
/* The RFC meaning of subject.detail ("Mailbox full"), or NULL if not in the table. */
const char *esc_meaning(enum esc_code code);
/* The meaning in plain words for a person ("the mailbox does not exist"): a
 * sentence of postino's for the common codes, else the RFC meaning lower-cased into
 * out. NULL (out untouched) when the code is not in the table. */
const char *esc_plain(enum esc_code code, char *out, size_t size);
/* Finds the first enhanced code in text (a reply or a diagnostic), as "5.1.1" into
 * out[ESC_TEXT_MAX], with its class and code. 0, or -1 when it has none. */
int esc_find(const char *text, char out[ESC_TEXT_MAX], int *klass, enum esc_code *code);
/*
 * Parses "class.subject.detail" at the start of s (len octets), as found in a
 * reply or a Status: field. 0 with *klass and *code set and *used the octets
 * taken, -1 if s does not start with a code (class 2, 4 or 5; each part
 * 1-3 digits; no digit may follow). The code need not be in the table.
 */
int esc_parse(const char *s, size_t len, int *klass, enum esc_code *code, size_t *used);
/*
 * A one-line reply "reply class.subject.detail text" into out, the class
 * taken from the reply code. 0, or -1 if it was truncated (out still terminated).
 */
int esc_reply(char *out, size_t size, int reply, enum esc_code code, const char *text);
/*
 * postino's own reason with its code, "klass.subject.detail " then the
 * formatted words: esc_reason(out, n, 4, ESC_NO_ANSWER, "connect to %s", h)
 * -> "4.4.1 connect to h". 0, or -1 if it was truncated (out still terminated).
 */
int esc_reason(char *out, size_t size, int klass, enum esc_code code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
