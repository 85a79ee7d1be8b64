/*
 * send_conn: the blocking connection of "postino send": TCP with a timeout
 * on every read and write, implicit TLS or STARTTLS (the certificate is not
 * verified: this is a test and submission tool), reply lines read into
 * proto/smtp_reply, the dialogue shown on stderr with -v.
 */
#include "cmd/send.h"
#include "lib/fsio.h"
#include <errno.h>
#include <netdb.h>
#include <openssl/err.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

void send_conn_init(struct send_conn *c, int verbose)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->verbose = verbose;
    buf_init(&c->line, SEND_MAX_LINE);
    smtp_reply_init(&c->reply, (struct smtp_reply_limits){
                                   .line_max = SEND_MAX_LINE,
                                   .lines_max = SEND_MAX_REPLY_LINES,
                                   .text_max = SEND_MAX_LINE * SEND_MAX_REPLY_LINES });
}

void send_conn_free(struct send_conn *c)
{
    if (c->ssl) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    if (c->ctx)
        SSL_CTX_free(c->ctx);
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    buf_free(&c->line);
    smtp_reply_free(&c->reply);
}

/* A socket connected to ai with the send timeouts, or -1 with errno set. */
static int send_socket(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return -1;
    struct timeval tv = { SEND_TIMEOUT_S, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return fd;
    int err = errno;
    close(fd);
    errno = err;
    return -1;
}

int send_connect(struct send_conn *c, const char *host, const char *port)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
    int e = getaddrinfo(host, port, &hints, &res);
    if (e != 0) {
        fprintf(stderr, "postino send: %s: %s\n", host, gai_strerror(e));
        return -1;
    }
    int err = 0;
    for (struct addrinfo *ai = res; ai && c->fd < 0; ai = ai->ai_next)
        if ((c->fd = send_socket(ai)) < 0)
            err = errno;
    freeaddrinfo(res);
    if (c->fd < 0)
        fprintf(stderr, "postino send: connect to %s port %s: %s\n", host, port, strerror(err));
    return c->fd < 0 ? -1 : 0;
}

int send_start_tls(struct send_conn *c, const char *host)
{
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ctx)
        return -1;
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    c->ssl = SSL_new(c->ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
        return -1;
    int is_ip = strchr(host, ':') != NULL || strspn(host, "0123456789.") == strlen(host);
    if (!is_ip)
        SSL_set_tlsext_host_name(c->ssl, host);
    if (SSL_connect(c->ssl) != 1) {
        unsigned long e = ERR_get_error();
        char msg[256];
        ERR_error_string_n(e, msg, sizeof msg);
        fprintf(stderr, "postino send: TLS handshake failed: %s\n", e ? msg : "connection closed");
        SSL_free(c->ssl);
        c->ssl = NULL;
        return -1;
    }
    if (c->verbose)
        fprintf(stderr, "-- TLS established: %s %s (certificate not verified)\n",
                SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl));
    return 0;
}

int send_write(struct send_conn *c, const char *p, size_t n)
{
    if (!c->ssl)
        return fsio_write_all(c->fd, p, n); /* SIGPIPE is ignored: a closed peer is EPIPE */
    while (n > 0) {
        int w = SSL_write(c->ssl, p, n > 65536 ? 65536 : (int)n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int send_fill(struct send_conn *c)
{
    for (;;) {
        ssize_t r = c->ssl ? SSL_read(c->ssl, c->rbuf, (int)sizeof c->rbuf)
                           : recv(c->fd, c->rbuf, sizeof c->rbuf, 0);
        if (r < 0 && !c->ssl && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c->rpos = 0;
        c->rlen = (size_t)r;
        return 0;
    }
}

/* Reads one line (without CRLF/LF) into c->line. R_CONN, R_PROTO (too long) or 0. */
static int send_readline(struct send_conn *c)
{
    buf_reset(&c->line);
    for (;;) {
        if (c->rpos >= c->rlen && send_fill(c) < 0)
            return R_CONN;
        char ch = c->rbuf[c->rpos++];
        if (ch == '\n') {
            if (c->line.len > 0 && c->line.data[c->line.len - 1] == '\r')
                c->line.len--;
            return 0;
        }
        if (buf_putc(&c->line, ch) < 0)
            return R_PROTO;
    }
}

int send_read_reply(struct send_conn *c, struct smtp_ehlo *ehlo)
{
    smtp_reply_reset(&c->reply);
    for (;;) {
        int rc = send_readline(c);
        if (rc < 0)
            return rc;
        const char *s = buf_cstr(&c->line);
        if (c->verbose)
            fprintf(stderr, "S: %s\n", s);
        enum smtp_reply_status st = ehlo ? smtp_reply_feed_ehlo(&c->reply, s, c->line.len, ehlo)
                                         : smtp_reply_feed(&c->reply, s, c->line.len);
        if (st == SMTP_REPLY_BAD)
            return R_PROTO;
        if (st == SMTP_REPLY_DONE)
            return c->reply.code;
    }
}

int send_command(struct send_conn *c, const char *line, const char *shown, struct smtp_ehlo *ehlo)
{
    if (c->verbose)
        fprintf(stderr, "C: %s\n", shown ? shown : line);
    if (send_write(c, line, strlen(line)) < 0 || send_write(c, "\r\n", 2) < 0)
        return R_CONN;
    return send_read_reply(c, ehlo);
}
