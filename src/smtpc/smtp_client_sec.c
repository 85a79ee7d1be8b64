/*
 * smtp_client_sec: the security steps of one outbound connection: whether
 * to send STARTTLS and whether TLS is required (tls_policy: none, may,
 * encrypt, verify; a host with relay_auth always needs TLS), the check of
 * the peer's certificate chain and name after the handshake (verify:
 * OpenSSL's chain check against tls_ca_file or the system store, and the
 * name set by tls_client_new, RFC 6125), and SMTP AUTH as a client (RFC
 * 4954: PLAIN of RFC 4616, else LOGIN) with the relay_auth credentials.
 * Never sends a password on a connection without TLS and never logs one.
 * A hop that cannot give what the policy asks is a temporary failure of
 * that target: 4.7.4 (no TLS), 4.7.5 (failed handshake or verification),
 * 4.7.8 or 4.7.0 (AUTH refused): a config problem must not bounce mail.
 */
#include "smtpc/smtp_client_conn.h"
#include "lib/log.h"
#include "lib/str.h"
#include "net/tls.h"
#include "proto/esc.h"
#include "proto/sasl.h"
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <string.h>

/* 1 if this connection may carry the mail only over TLS. */
static int smtpc_tls_required(const struct smtpc_conn *c)
{
    return c->policy >= TLS_POLICY_ENCRYPT || c->auth != NULL;
}

/* The target cannot give the TLS the policy asks for: 4.7.4, try the next one. */
static void smtpc_tls_missing(struct smtpc_conn *c, const char *refused)
{
    char name[300], why[SMTPC_REPLY_MAX];
    smtpc_target_name(c, name, sizeof name);
    if (c->policy == TLS_POLICY_NONE)
        esc_reason(why, sizeof why, 4, ESC_SECURITY_NOT_SUPPORTED,
                   "relay_auth for %s needs TLS but tls_policy none forbids STARTTLS", name);
    else if (refused)
        esc_reason(why, sizeof why, 4, ESC_SECURITY_NOT_SUPPORTED,
                   "TLS is required (%s) but %s refused STARTTLS: %s",
                   c->auth ? "relay_auth" : conf_tls_policy_name(c->policy), name, refused);
    else
        esc_reason(why, sizeof why, 4, ESC_SECURITY_NOT_SUPPORTED,
                   "TLS is required (%s) but %s does not offer STARTTLS",
                   c->auth ? "relay_auth" : conf_tls_policy_name(c->policy), name);
    smtpc_target_failed(c, 4, why);
}

/* "AUTH PLAIN <base64 of NUL user NUL password>" (RFC 4616 2, no authzid). */
static void smtpc_auth_plain(struct smtpc_conn *c)
{
    unsigned char msg[RELAY_AUTH_USER_MAX + RELAY_AUTH_PASS_MAX + 2];
    char line[SASL_RESPONSE_MAX + 16];
    size_t ul = strlen(c->auth->user), pl = strlen(c->auth->password);
    msg[0] = '\0';
    memcpy(msg + 1, c->auth->user, ul);
    msg[1 + ul] = '\0';
    memcpy(msg + 2 + ul, c->auth->password, pl);
    memcpy(line, "AUTH PLAIN ", 11);
    sasl_base64_encode(msg, 2 + ul + pl, line + 11, sizeof line - 11);
    smtpc_send(c, line);
    explicit_bzero(msg, sizeof msg);
    explicit_bzero(line, sizeof line);
    c->auth_step = SMTPC_AUTH_PLAIN;
}

/* One LOGIN step: the base64 of text (the user name or the password) as a line. */
static void smtpc_auth_login_send(struct smtpc_conn *c, const char *text)
{
    char line[SASL_RESPONSE_MAX + 1];
    sasl_base64_encode(text, strlen(text), line, sizeof line);
    smtpc_send(c, line);
    explicit_bzero(line, sizeof line);
}

/* Starts AUTH on a TLS connection: PLAIN if offered, else LOGIN; neither: 4.7.4. */
static void smtpc_auth_start(struct smtpc_conn *c)
{
    c->state = SMTPC_AUTH;
    smtpc_timeout(c, c->conf->timeout_mail_ms);
    if (c->ehlo.auth & SMTP_AUTH_PLAIN) {
        smtpc_auth_plain(c);
        return;
    }
    if (c->ehlo.auth & SMTP_AUTH_LOGIN) {
        smtpc_send(c, "AUTH LOGIN");
        c->auth_step = SMTPC_AUTH_LOGIN;
        return;
    }
    char name[300], why[SMTPC_REPLY_MAX];
    smtpc_target_name(c, name, sizeof name);
    esc_reason(why, sizeof why, 4, ESC_SECURITY_NOT_SUPPORTED,
               "relay_auth: %s offers neither AUTH PLAIN nor AUTH LOGIN", name);
    smtpc_target_failed(c, 4, why);
}

int smtpc_secure(struct smtpc_conn *c)
{
    if (!c->tls && c->policy != TLS_POLICY_NONE && (c->ehlo.ext & SMTP_EXT_STARTTLS) &&
        c->sc->tls) {
        c->state = SMTPC_STARTTLS;
        smtpc_send(c, "STARTTLS");
        return 1;
    }
    if (!c->tls && smtpc_tls_required(c)) {
        smtpc_tls_missing(c, NULL);
        return 1;
    }
    if (c->auth && !c->authed) {
        smtpc_auth_start(c);
        return 1;
    }
    return 0;
}

int smtpc_starttls_refused(struct smtpc_conn *c, const char *text)
{
    if (!smtpc_tls_required(c))
        return 0;
    smtpc_tls_missing(c, text);
    return 1;
}

int smtpc_tls_established(struct smtpc_conn *c)
{
    SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
    const SSL_CIPHER *cipher = SSL_get_current_cipher(ssl);
    X509 *peer = SSL_get0_peer_certificate(ssl);
    long result = SSL_get_verify_result(ssl);
    char name[300];
    smtpc_target_name(c, name, sizeof name);
    c->verified = peer && result == X509_V_OK;
    str_fmt(c->tls_desc, sizeof c->tls_desc, "%s/%s/%s", SSL_get_version(ssl),
            cipher ? SSL_CIPHER_get_name(cipher) : "none", c->verified ? "verified" : "unverified");
    log_info("smtp out: TLS with %s: %s", name, c->tls_desc);
    if (c->policy < TLS_POLICY_VERIFY || c->verified)
        return 0;
    char why[SMTPC_REPLY_MAX];
    esc_reason(why, sizeof why, 4, ESC_CRYPTO_FAILURE,
               "tls_policy verify: the certificate of %s does not verify: %s", name,
               peer ? X509_verify_cert_error_string(result) : "no certificate");
    smtpc_target_failed(c, 4, why);
    return -1;
}

void smtpc_tls_handshake_failed(struct smtpc_conn *c)
{
    char name[300], reason[200] = "the connection was closed", why[SMTPC_REPLY_MAX];
    unsigned long e = bufferevent_get_openssl_error(c->bev);
    if (e)
        ERR_error_string_n(e, reason, sizeof reason);
    while (bufferevent_get_openssl_error(c->bev))
        ; /* the rest of the queue: said by the first */
    smtpc_target_name(c, name, sizeof name);
    esc_reason(why, sizeof why, 4, ESC_CRYPTO_FAILURE, "TLS handshake with %s failed: %s", name,
               reason);
    smtpc_target_failed(c, 4, why);
}

/* AUTH refused: deferred (never bounced), the server's reply quoted, 4.7.8 for a 535. */
static void smtpc_auth_failed(struct smtpc_conn *c, int code, const char *text)
{
    char name[300], why[SMTPC_REPLY_MAX];
    smtpc_target_name(c, name, sizeof name);
    esc_reason(why, sizeof why, 4, code == 535 ? ESC_AUTH_CREDENTIALS_INVALID : ESC_OTHER_SECURITY,
               "relay_auth: authentication as %s to %s failed: %s", c->auth->user, name, text);
    smtpc_target_failed(c, 4, why);
}

void smtpc_auth_reply(struct smtpc_conn *c, int code, const char *text)
{
    switch (c->auth_step) {
    case SMTPC_AUTH_LOGIN:
    case SMTPC_AUTH_USER:
        if (code != 334)
            break;
        smtpc_auth_login_send(c, c->auth_step == SMTPC_AUTH_LOGIN ? c->auth->user
                                                                  : c->auth->password);
        c->auth_step = c->auth_step == SMTPC_AUTH_LOGIN ? SMTPC_AUTH_USER : SMTPC_AUTH_PASS;
        return;
    case SMTPC_AUTH_PLAIN:
    case SMTPC_AUTH_PASS:
        if (code != 235)
            break;
        c->authed = 1;
        log_info("smtp out: authenticated as %s to %s", c->auth->user,
                 c->targets[c->target_i].host);
        smtpc_tx_start(c);
        return;
    }
    smtpc_auth_failed(c, code, text);
}
