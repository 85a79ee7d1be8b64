/*
 * tls: OpenSSL contexts and sessions (see tls.h).
 *
 * Settings, and why: TLS 1.2 is the floor (RFC 8996 deprecates 1.0/1.1;
 * RFC 8314 4.1 asks for current versions); TLS 1.2 ciphers are ECDHE/DHE
 * with AES-GCM or ChaCha20-Poly1305 (RFC 7525 4.2), TLS 1.3 keeps
 * OpenSSL's suites; compression is off (CRIME); renegotiation is refused
 * (a client could make the server spend CPU on demand, and libevent's
 * filters do not expect it); SSL_MODE_RELEASE_BUFFERS drops the 34 KB of
 * record buffers of idle sessions, which matters with thousands of them.
 * Never verifies a client certificate; never logs key material.
 */
#include "net/tls.h"
#include "lib/log.h"
#include "lib/str.h"
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <string.h>

#define TLS_SERVER_CIPHERS                                                                         \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                   \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                                   \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                                   \
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"

void tls_log_errors(const char *what)
{
    char text[512] = "";
    size_t used = 0;
    unsigned long e;
    while ((e = ERR_get_error()) != 0) {
        char one[256];
        ERR_error_string_n(e, one, sizeof one);
        if (used + strlen(one) + 3 < sizeof text) {
            str_fmt(text + used, sizeof text - used, "%s%s", used ? "; " : "", one);
            used = strlen(text);
        }
    }
    log_err("tls: %s%s%s", what, used ? ": " : "", text);
}

/* The settings both contexts share. 0 or -1 (the caller logs). */
static int tls_ctx_common(SSL_CTX *ctx)
{
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    return SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 ? 0 : -1;
}

/* Loads the certificate chain and the key, and checks that they belong together. */
static int tls_load_keys(SSL_CTX *ctx, const struct conf *c)
{
    char what[600];
    if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert) != 1) {
        str_fmt(what, sizeof what, "tls_cert %s: cannot load the certificate", c->tls_cert);
        tls_log_errors(what);
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, c->tls_key, SSL_FILETYPE_PEM) != 1) {
        str_fmt(what, sizeof what, "tls_key %s: cannot load the private key, or it does not match tls_cert %s",
                c->tls_key, c->tls_cert);
        tls_log_errors(what);
        return -1;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        str_fmt(what, sizeof what, "tls_key %s does not match tls_cert %s", c->tls_key, c->tls_cert);
        tls_log_errors(what);
        return -1;
    }
    return 0;
}

SSL_CTX *tls_server_ctx(const struct conf *c)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        tls_log_errors("cannot create the server context");
        return NULL;
    }
    static const unsigned char sid_ctx[] = "postino";
    if (tls_ctx_common(ctx) < 0 || SSL_CTX_set_cipher_list(ctx, TLS_SERVER_CIPHERS) != 1 ||
        SSL_CTX_set_dh_auto(ctx, 1) != 1 ||
        SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1) != 1) {
        tls_log_errors("cannot configure the server context");
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (tls_load_keys(ctx, c) < 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

SSL_CTX *tls_client_ctx(const char *ca_file)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || tls_ctx_common(ctx) < 0) {
        tls_log_errors("cannot create the client context");
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    if (ca_file && SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
        char what[300];
        str_fmt(what, sizeof what, "tls_ca_file %s: cannot load the certificates", ca_file);
        tls_log_errors(what);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (!ca_file && SSL_CTX_set_default_verify_paths(ctx) != 1)
        ERR_clear_error(); /* no system store: only tls_policy verify then fails */
    return ctx;
}

SSL *tls_server_new(SSL_CTX *ctx)
{
    SSL *ssl = SSL_new(ctx);
    if (!ssl) {
        tls_log_errors("cannot create a server session");
        return NULL;
    }
    SSL_set_accept_state(ssl);
    return ssl;
}

/* 1 if host is an IPv4 or IPv6 address (SNI carries names only, RFC 6066 3). */
static int tls_is_address(const char *host)
{
    unsigned char a[16];
    return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

SSL *tls_client_new(SSL_CTX *ctx, const char *sni_host)
{
    SSL *ssl = SSL_new(ctx);
    if (!ssl) {
        tls_log_errors("cannot create a client session");
        return NULL;
    }
    SSL_set_connect_state(ssl);
    if (sni_host && sni_host[0] && !tls_is_address(sni_host) &&
        (SSL_set_tlsext_host_name(ssl, sni_host) != 1 || SSL_set1_host(ssl, sni_host) != 1)) {
        tls_log_errors("cannot set the server name");
        SSL_free(ssl);
        return NULL;
    }
    if (sni_host && tls_is_address(sni_host) &&
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), sni_host) != 1) {
        tls_log_errors("cannot set the server address");
        SSL_free(ssl);
        return NULL;
    }
    return ssl;
}

void tls_describe(const SSL *ssl, char *out, size_t size)
{
    const SSL_CIPHER *cipher = SSL_get_current_cipher(ssl);
    str_fmt(out, size, "%s %s", SSL_get_version(ssl), cipher ? SSL_CIPHER_get_name(cipher) : "none");
}

void tls_ctx_replace(SSL_CTX **slot, SSL_CTX *ctx)
{
    if (ctx)
        SSL_CTX_up_ref(ctx);
    SSL_CTX_free(*slot);
    *slot = ctx;
}
