/*
 * sasl: the pure decoding half of SMTP AUTH (RFC 4954) for the PLAIN
 * (RFC 4616) and LOGIN (draft-murchison-sasl-login) mechanisms, and the
 * base64 of RFC 4648 section 4 they travel in. No I/O, no policy, no
 * password checks: the server decides what a decoded identity may do.
 *
 * A client response is one line: "*" cancels the exchange (RFC 4954 4),
 * "=" (as an initial response) or an empty line is a zero-length response,
 * anything else must be canonical padded base64 without white space.
 * Decoded fields never hold NUL; callers must still not trust their bytes
 * (they may carry control characters: sanitise before logging).
 */
#ifndef POSTINO_SASL_H
#define POSTINO_SASL_H
#include <stddef.h>

#define SASL_USER_MAX 320    /* authcid/authzid: a login "local@domain" is at most 64+1+255 */
#define SASL_PASS_MAX 1024   /* RFC 4616 asks for at least 255 octets */
/* The longest decoded PLAIN message: authzid NUL authcid NUL passwd. */
#define SASL_PLAIN_MAX (SASL_USER_MAX * 2 + SASL_PASS_MAX + 2)
/* Its base64 length: the longest response line a server must take. */
#define SASL_RESPONSE_MAX (((SASL_PLAIN_MAX + 2) / 3) * 4)

enum sasl_result {
    SASL_OK = 0,
    SASL_CANCEL,        /* the client sent "*" */
    SASL_BAD_BASE64,    /* not base64, or longer than the mechanism allows */
    SASL_BAD_MESSAGE,   /* valid base64, but not a valid message of the mechanism */
};

struct sasl_plain {
    char authzid[SASL_USER_MAX + 1];   /* "" when absent */
    char authcid[SASL_USER_MAX + 1];
    char passwd[SASL_PASS_MAX + 1];
};

/*
 * Decodes base64 into out (at most cap bytes). Returns 0 with *out_len set,
 * or -1 on a character outside the alphabet, a length that is not a multiple
 * of 4, misplaced or excess '=' padding, or a result longer than cap.
 */
int sasl_base64_decode(const char *in, size_t len, unsigned char *out, size_t cap, size_t *out_len);
/* Encodes len bytes as padded base64 into out (NUL-terminated). -1 if out is too small. */
int sasl_base64_encode(const void *in, size_t len, char *out, size_t size);

/*
 * Decodes one client response line of len bytes into out (at most cap
 * bytes): "*" -> SASL_CANCEL, "" or "=" -> SASL_OK with *out_len 0, else base64.
 */
enum sasl_result sasl_decode_response(const char *line, size_t len, unsigned char *out,
                                      size_t cap, size_t *out_len);

/*
 * PLAIN (RFC 4616 2): message = [authzid] NUL authcid NUL passwd, authcid and
 * passwd non-empty, no further NUL, each field within its limit.
 * line is the client's response (initial or after "334 "). out is wiped
 * on failure.
 */
enum sasl_result sasl_plain_decode(const char *line, size_t len, struct sasl_plain *out);
/*
 * 1 if the message asks to act as someone else: an authzid that is not the
 * authcid itself (compared without regard to ASCII case, as logins are).
 * postino offers no proxy authorization (RFC 4616 2), so SMTP AUTH and
 * POP3 both refuse such a message.
 */
int sasl_plain_proxy(const struct sasl_plain *m);

/*
 * LOGIN: each step is one base64 line carrying the user name (after
 * "334 VXNlcm5hbWU6") or the password (after "334 UGFzc3dvcmQ6"). The
 * decoded text must be non-empty, without NUL, and fit in size - 1 bytes;
 * out is NUL-terminated (and wiped on failure).
 */
enum sasl_result sasl_login_decode(const char *line, size_t len, char *out, size_t size);

/* The LOGIN mechanism's challenges, already base64 ("Username:", "Password:"). */
#define SASL_LOGIN_USER_CHALLENGE "VXNlcm5hbWU6"
#define SASL_LOGIN_PASS_CHALLENGE "UGFzc3dvcmQ6"

#endif
