/*
 * rfc5322: the one home of Internet message header knowledge (RFC 5322):
 * the date-time form of Date:, Received: and DSN fields (3.3); the atext and
 * dot-atom rules (3.2.3); the header section's lines, fields and folding
 * (2.1, 2.2, 2.2.3, 3.6.8): where a line ends, where a field name ends,
 * which line continues a field, where the header section ends, finding a
 * field by name; the msg-id syntax (3.6.4); the line length limits (2.1.1).
 * Pure functions over (pointer, length) input, no I/O, no allocation; they
 * never read past the given length. Lines may end in CRLF, LF or a bare CR
 * (what arrives from local programs and old queue files), so scanning is
 * lenient about line ends and strict about field syntax.
 */
#ifndef POSTINO_RFC5322_H
#define POSTINO_RFC5322_H
#include <stddef.h>
#include <time.h>

/* 9999-12-31 23:59:59 UTC: the last time a 4-digit year can say. */
#define RFC5322_TIME_MAX ((time_t)253402300799)
/* RFC 5322 2.1.1: a line MUST NOT pass 998 octets (without its CRLF) and
 * SHOULD NOT pass 78. */
#define RFC5322_LINE_MAX 998
#define RFC5322_LINE_WIDTH 78
/* The longest Message-ID carried over from a message, with its <> and a NUL. */
#define RFC5322_MSGID_MAX 512

/* "Tue, 24 Nov 2026 08:00:00 +0000" (always UTC, C-locale names); times before
 * 1970 or after RFC5322_TIME_MAX are clamped to them. -1 if it does not fit. */
int rfc5322_date(time_t t, char *out, size_t size);

/* 1 if c is WSP: a space or a horizontal tab (RFC 5234 B.1). */
int rfc5322_is_wsp(int c);
/* 1 if c (an unsigned char value, or -1) is atext (RFC 5322 3.2.3, ASCII only). */
int rfc5322_is_atext(int c);
/* 1 if s[0..n) is dot-atom-text: atext runs separated by single dots (3.2.3). */
int rfc5322_dot_atom_ok(const char *s, size_t n);

/*
 * Length of the line at p[pos..len) without its end (CRLF, LF or a bare CR);
 * *next is set past the line end (len when the line is not terminated).
 */
size_t rfc5322_line(const char *p, size_t len, size_t pos, size_t *next);

/*
 * Length of the folding line break at s[i] of a field value s[0..len): CRLF
 * or LF followed by WSP, or ending the value (the field's own line end,
 * RFC 5322 2.2.3); 0 if there is none there (a bare CR is never folding).
 */
size_t rfc5322_fold(const char *s, size_t len, size_t i);

/*
 * If the line l[0..n) opens a header field, 1*ftext *WSP ":" (RFC 5322 3.6.8,
 * with the obsolete WSP before the colon of 4.5.8), the length of its name,
 * and *colon (may be NULL) the colon's index; else 0.
 */
size_t rfc5322_field_name(const char *l, size_t n, size_t *colon);

/* 1 if the field name f[0..name_len) is want, compared case-insensitively. */
int rfc5322_field_is(const char *f, size_t name_len, const char *want);

/* End of the field whose first line starts at p[pos]: past its continuation
 * lines (those starting with WSP) within p[0..len). */
size_t rfc5322_field_end(const char *p, size_t len, size_t pos);

/*
 * Length of the header section of msg[0..len): through its terminating empty
 * line when there is one (*blank then 1, else 0; blank may be NULL); else up
 * to the first line that neither opens a field nor continues one, or len.
 */
size_t rfc5322_header_length(const char *msg, size_t len, int *blank);

/* Where a field lies in a message: offsets from the message's start. */
struct rfc5322_field {
    size_t start;     /* its first octet (the name's) */
    size_t name_len;
    size_t colon;     /* the colon, start + name_len + any WSP */
    size_t end;       /* past its last line end (continuation lines included) */
};

/* Fills *f with the first field of msg's header section named name
 * (case-insensitive). 0, or -1 if there is none. */
int rfc5322_find_field(const char *msg, size_t len, const char *name, struct rfc5322_field *f);

/*
 * 1 if a field of msg's header section named name (case-insensitive) has
 * value as its whole value: unfolded, without the WSP around it or an
 * enclosing "<...>", compared case-insensitively (the Delivered-To loop
 * check: "Delivered-To: bob@example.org"). 0 if none has.
 */
int rfc5322_field_has_value(const char *msg, size_t len, const char *name, const char *value);

/*
 * 1 if s[0..n) is a msg-id: "<" dot-atom-text "@" (dot-atom-text /
 * "[" *dtext "]") ">" (RFC 5322 3.6.4, no CFWS, no obsolete forms), shorter
 * than RFC5322_MSGID_MAX.
 */
int rfc5322_msgid_ok(const char *s, size_t n);

/*
 * Copies the msg-id of the first Message-ID field of msg's header section
 * (the first "<...>" of its value) into out as a string. 0, or -1 if there is
 * no such field, its "<...>" is not a valid msg-id or does not fit in size.
 */
int rfc5322_find_message_id(const char *msg, size_t len, char *out, size_t size);

#endif
