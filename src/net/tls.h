/*
 * tls: postino's OpenSSL contexts (OpenSSL 3). The server context serves
 * STARTTLS (RFC 3207) on the smtp and submission listeners and implicit
 * TLS (RFC 8314) on smtps; the client context serves opportunistic STARTTLS
 * when delivering to other hosts. Both speak TLS 1.2 or later, without
 * compression or renegotiation. The server offers forward-secret AEAD
 * ciphers only; the client keeps OpenSSL's default list, because for
 * opportunistic TLS any cipher beats the plaintext fallback.
 * Owns no connection: the SSL objects it makes are handed to libevent's
 * bufferevent_openssl, which frees them. Errors are logged here, once,
 * with OpenSSL's own reasons, and reported to the caller as NULL.
 */
#ifndef POSTINO_TLS_H
#define POSTINO_TLS_H
#include <stddef.h>
#include <openssl/ssl.h>
#include "mail/conf.h"

/* A server context with c->tls_cert (a PEM chain) and c->tls_key. NULL on error (logged). */
SSL_CTX *tls_server_ctx(const struct conf *c);
/*
 * A client context for STARTTLS toward other hosts: the handshake never
 * fails on the peer's certificate (SSL_VERIFY_NONE), but OpenSSL still checks
 * the chain against ca_file (NULL: the system's trust store) and the name set
 * by tls_client_new, and keeps the result for SSL_get_verify_result (what
 * tls_policy verify asks for). NULL on error (logged; an unreadable ca_file too).
 */
SSL_CTX *tls_client_ctx(const char *ca_file);
/* *slot holds ctx from now on (NULL: none; a reference taken), the context it held freed. */
void tls_ctx_replace(SSL_CTX **slot, SSL_CTX *ctx);
/* A server-side session, in accept state. NULL on error (logged). */
SSL *tls_server_new(SSL_CTX *ctx);
/*
 * A client-side session, in connect state, sending sni_host as SNI (RFC
 * 6066 3; not for an address literal or NULL) and naming it as the host to
 * check (an address literal: the address) for SSL_get_verify_result. NULL on error (logged).
 */
SSL *tls_client_new(SSL_CTX *ctx, const char *sni_host);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384": protocol and cipher, for logs and Received headers. */
void tls_describe(const SSL *ssl, char *out, size_t size);
/* Logs what with the reasons queued by OpenSSL (and empties its queue). */
void tls_log_errors(const char *what);

#endif
