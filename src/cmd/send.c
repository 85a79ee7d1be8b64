/*
 * send: "postino send", a small SMTP submission client. Reads one message
 * from a file or stdin, speaks ESMTP (optionally STARTTLS or implicit TLS,
 * AUTH PLAIN, DSN parameters) to one server with blocking sockets, and
 * reports each recipient's reply. Exit codes are sysexits(3) values.
 */
#include "cmd/cmd.h"
#include "lib/buf.h"
#include "lib/fsio.h"
#include "proto/xtext.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sysexits.h>
#include <unistd.h>

#define SEND_MAX_LINE 2048          /* longest reply line accepted */
#define SEND_MAX_REPLY_LINES 200    /* longest multi-line reply accepted */
#define SEND_MAX_MESSAGE (64u << 20)
#define SEND_MAX_RCPTS 1000
#define SEND_TIMEOUT_S 120

#define R_CONN (-1)   /* connection failure or close */
#define R_PROTO (-2)  /* malformed reply */

struct sconn {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    int verbose;
    char rbuf[4096];
    size_t rpos, rlen;
};

struct reply {
    int code;
    struct buf all;   /* every line, '\n'-separated, as received (without CRLF) */
    struct buf text;  /* "CODE text text ..." for printing */
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: postino send --server HOST:PORT [--starttls] [--tls] [--auth USER:PASS]\n"
            "                    --from ADDR --to ADDR [--to ADDR ...] [--notify LIST]\n"
            "                    [--ret full|hdrs] [--envid ID] [--orcpt ADDR] [-v] [FILE|-]\n"
            "\n"
            "Sends one message (from FILE, or stdin when FILE is absent or '-') over SMTP\n"
            "and prints each recipient's reply, then the server's queue reply.\n"
            "  --server HOST:PORT  the server to submit to ([ADDR]:PORT for IPv6)\n"
            "  --starttls          upgrade the connection with STARTTLS\n"
            "  --tls               implicit TLS from the start (e.g. port 465)\n"
            "                      NOTE: the server certificate is NOT verified\n"
            "  --auth USER:PASS    AUTH PLAIN with these credentials\n"
            "  --from ADDR         envelope sender (empty for <>)\n"
            "  --to ADDR           envelope recipient (repeatable)\n"
            "  --notify LIST       DSN NOTIFY: never, or a comma list of success,failure,delay\n"
            "  --ret full|hdrs     DSN RET\n"
            "  --envid ID          DSN ENVID\n"
            "  --orcpt ADDR        DSN ORCPT (rfc822) for every recipient\n"
            "  -v                  print the SMTP dialogue on stderr\n"
            "Exit: 0 all accepted and queued; 64 usage; 66 unreadable input;\n"
            "      69 refused (5xx); 75 temporary failure (4xx, connection); 76 bad reply.\n");
}

/* ---- I/O ---- */

static int conn_write(struct sconn *c, const char *p, size_t n)
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

static int conn_fill(struct sconn *c)
{
    for (;;) {
        if (c->ssl) {
            int r = SSL_read(c->ssl, c->rbuf, (int)sizeof c->rbuf);
            if (r <= 0)
                return -1;
            c->rpos = 0;
            c->rlen = (size_t)r;
            return 0;
        }
        ssize_t r = recv(c->fd, c->rbuf, sizeof c->rbuf, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c->rpos = 0;
        c->rlen = (size_t)r;
        return 0;
    }
}

/* Reads one line (without CRLF/LF) into out. R_CONN, R_PROTO (too long) or 0. */
static int conn_readline(struct sconn *c, struct buf *out)
{
    buf_reset(out);
    for (;;) {
        if (c->rpos >= c->rlen && conn_fill(c) < 0)
            return R_CONN;
        char ch = c->rbuf[c->rpos++];
        if (ch == '\n') {
            if (out->len > 0 && out->data[out->len - 1] == '\r')
                out->len--;
            return 0;
        }
        if (buf_putc(out, ch) < 0)
            return R_PROTO;
    }
}

static int send_line(struct sconn *c, const char *line, const char *shown)
{
    if (c->verbose)
        fprintf(stderr, "C: %s\n", shown ? shown : line);
    size_t n = strlen(line);
    if (conn_write(c, line, n) < 0 || conn_write(c, "\r\n", 2) < 0)
        return R_CONN;
    return 0;
}

/* Reads a (possibly multi-line) reply. Returns its code, R_CONN or R_PROTO. */
static int read_reply(struct sconn *c, struct reply *r)
{
    struct buf line;
    buf_init(&line, SEND_MAX_LINE);
    buf_reset(&r->all);
    buf_reset(&r->text);
    r->code = 0;
    int code = 0, rc;
    for (int n = 0;; n++) {
        if (n >= SEND_MAX_REPLY_LINES) {
            rc = R_PROTO;
            break;
        }
        rc = conn_readline(c, &line);
        if (rc < 0)
            break;
        const char *s = buf_cstr(&line);
        if (c->verbose)
            fprintf(stderr, "S: %s\n", s);
        if (line.len < 3 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) ||
            !isdigit((unsigned char)s[2]) || s[0] < '2' || s[0] > '5' ||
            (line.len > 3 && s[3] != ' ' && s[3] != '-') || memchr(s, '\0', line.len)) {
            rc = R_PROTO;
            break;
        }
        int this_code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
        if (n == 0) {
            code = this_code;
            if (buf_printf(&r->text, "%d", code) < 0) {
                rc = R_PROTO;
                break;
            }
        } else if (this_code != code) {
            rc = R_PROTO;
            break;
        }
        if ((n > 0 && buf_putc(&r->all, '\n') < 0) || buf_append(&r->all, s, line.len) < 0) {
            rc = R_PROTO;
            break;
        }
        if (line.len > 4 &&
            (buf_putc(&r->text, ' ') < 0 || buf_append(&r->text, s + 4, line.len - 4) < 0)) {
            rc = R_PROTO;
            break;
        }
        if (line.len == 3 || s[3] == ' ') {
            rc = code;
            break;
        }
    }
    buf_free(&line);
    r->code = rc > 0 ? rc : 0;
    return rc;
}

/* Sends a command and reads its reply. */
static int command(struct sconn *c, struct reply *r, const char *line, const char *shown)
{
    int rc = send_line(c, line, shown);
    if (rc < 0)
        return rc;
    return read_reply(c, r);
}

/* Does the EHLO reply offer keyword kw (case-insensitive)? If so *args points past it. */
static int ehlo_has(struct reply *r, const char *kw, const char **args)
{
    const char *p = buf_cstr(&r->all);
    size_t kl = strlen(kw);
    int first = 1;
    while (*p) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (!first && len >= 4 + kl && strncasecmp(p + 4, kw, kl) == 0 &&
            (len == 4 + kl || p[4 + kl] == ' ' || p[4 + kl] == '=')) {
            if (args)
                *args = p + 4 + kl;
            return 1;
        }
        first = 0;
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

/* ---- helpers ---- */

static int class_exit(int code)
{
    if (code == R_CONN)
        return EX_TEMPFAIL;
    if (code == R_PROTO)
        return EX_PROTOCOL;
    if (code >= 500)
        return EX_UNAVAILABLE;
    if (code >= 400)
        return EX_TEMPFAIL;
    return EX_PROTOCOL;
}

static int worse(int a, int b)
{
    /* order: 0 < TEMPFAIL < UNAVAILABLE < PROTOCOL */
    int ra = a == 0 ? 0 : a == EX_TEMPFAIL ? 1 : a == EX_UNAVAILABLE ? 2 : 3;
    int rb = b == 0 ? 0 : b == EX_TEMPFAIL ? 1 : b == EX_UNAVAILABLE ? 2 : 3;
    return ra >= rb ? a : b;
}

static int addr_ok(const char *a, int allow_empty)
{
    if (!*a)
        return allow_empty;
    if (strlen(a) > 512)
        return 0;
    for (const unsigned char *p = (const unsigned char *)a; *p; p++)
        if (*p <= ' ' || *p == 0x7f || *p == '<' || *p == '>')
            return 0;
    return 1;
}

static int parse_notify(const char *in, struct buf *out)
{
    if (strcasecmp(in, "never") == 0)
        return buf_appends(out, "NEVER");
    int seen[3] = {0, 0, 0};
    static const char *names[3] = {"SUCCESS", "FAILURE", "DELAY"};
    const char *p = in;
    if (!*p)
        return -1;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        int found = -1;
        for (int i = 0; i < 3; i++)
            if (len == strlen(names[i]) && strncasecmp(p, names[i], len) == 0)
                found = i;
        if (found < 0 || seen[found])
            return -1;
        seen[found] = 1;
        if ((out->len && buf_putc(out, ',') < 0) || buf_appends(out, names[found]) < 0)
            return -1;
        if (!e)
            break;
        p = e + 1;
        if (!*p)
            return -1;
    }
    return 0;
}

static int read_input(const char *path, struct buf *out)
{
    int fd = 0;
    if (path && strcmp(path, "-") != 0) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "postino send: %s: %s\n", path, strerror(errno));
            return EX_NOINPUT;
        }
    }
    char tmp[65536];
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "postino send: %s: %s\n", path ? path : "stdin", strerror(errno));
            rc = EX_NOINPUT;
            break;
        }
        if (n == 0)
            break;
        if (buf_append(out, tmp, (size_t)n) < 0) {
            fprintf(stderr, "postino send: message too large\n");
            rc = EX_DATAERR;
            break;
        }
    }
    if (fd != 0)
        close(fd);
    return rc;
}

/* LF or CRLF lines -> CRLF, dot-stuffed, terminated by ".\r\n". */
static int wire_message(const struct buf *in, struct buf *out)
{
    size_t i = 0;
    while (i < in->len) {
        const char *p = in->data + i;
        const char *nl = memchr(p, '\n', in->len - i);
        size_t len = nl ? (size_t)(nl - p) : in->len - i;
        size_t next = i + len + (nl ? 1 : 0);
        if (len > 0 && p[len - 1] == '\r')
            len--;
        if ((len > 0 && p[0] == '.' && buf_putc(out, '.') < 0) || buf_append(out, p, len) < 0 ||
            buf_append(out, "\r\n", 2) < 0)
            return -1;
        i = next;
    }
    return buf_append(out, ".\r\n", 3);
}

static int split_server(const char *s, char **host, char **port)
{
    const char *h, *he, *pt;
    if (s[0] == '[') {
        he = strchr(s, ']');
        if (!he || he[1] != ':')
            return -1;
        h = s + 1;
        pt = he + 2;
    } else {
        he = strrchr(s, ':');
        if (!he)
            return -1;
        h = s;
        pt = he + 1;
    }
    if (he == h || !*pt)
        return -1;
    for (const char *q = pt; *q; q++)
        if (!isdigit((unsigned char)*q))
            return -1;
    long pn = strtol(pt, NULL, 10);
    if (pn < 1 || pn > 65535 || strlen(pt) > 5)
        return -1;
    *host = strndup(h, (size_t)(he - h));
    *port = strdup(pt);
    return (*host && *port) ? 0 : -1;
}

static int tcp_connect(const char *host, const char *port)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int e = getaddrinfo(host, port, &hints, &res);
    if (e != 0) {
        fprintf(stderr, "postino send: %s: %s\n", host, gai_strerror(e));
        return -1;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        struct timeval tv = {SEND_TIMEOUT_S, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        fprintf(stderr, "postino send: connect to %s port %s: %s\n", host, port, strerror(err));
    return fd;
}

static int start_tls(struct sconn *c, const char *host)
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

static int do_ehlo(struct sconn *c, struct reply *r, const char *me, struct buf *cmd)
{
    buf_reset(cmd);
    if (buf_printf(cmd, "EHLO %s", me) < 0)
        return R_PROTO;
    return command(c, r, buf_cstr(cmd), NULL);
}

/* Prints a failure for a command-level reply on stderr. */
static void report(const char *what, int rc, struct reply *r)
{
    if (rc == R_CONN)
        fprintf(stderr, "postino send: %s: connection lost\n", what);
    else if (rc == R_PROTO)
        fprintf(stderr, "postino send: %s: malformed reply\n", what);
    else
        fprintf(stderr, "postino send: %s: %s\n", what, buf_cstr(&r->text));
}

int cmd_send(int argc, char **argv)
{
    static const struct option opts[] = {
        {"server", required_argument, NULL, 's'}, {"starttls", no_argument, NULL, 'S'},
        {"tls", no_argument, NULL, 'T'},          {"auth", required_argument, NULL, 'a'},
        {"from", required_argument, NULL, 'f'},   {"to", required_argument, NULL, 't'},
        {"notify", required_argument, NULL, 'N'}, {"ret", required_argument, NULL, 'R'},
        {"envid", required_argument, NULL, 'E'},  {"orcpt", required_argument, NULL, 'O'},
        {"verbose", no_argument, NULL, 'v'},      {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *server = NULL, *auth = NULL, *from = NULL, *ret = NULL, *envid = NULL,
               *orcpt = NULL, *notify = NULL;
    const char **rcpts = NULL;
    size_t nrcpt = 0;
    int starttls = 0, tls = 0, verbose = 0;
    int rc = EX_USAGE;
    char *host = NULL, *port = NULL;
    struct buf notify_b, msg, wire, cmd, envid_x, orcpt_x;
    struct reply r;
    struct sconn c;
    memset(&c, 0, sizeof c);
    c.fd = -1;
    buf_init(&notify_b, 64);
    buf_init(&msg, SEND_MAX_MESSAGE);
    buf_init(&wire, SEND_MAX_MESSAGE * 2 + 16);
    buf_init(&cmd, 4096);
    buf_init(&envid_x, 512);
    buf_init(&orcpt_x, 2048);
    buf_init(&r.all, SEND_MAX_LINE * SEND_MAX_REPLY_LINES);
    buf_init(&r.text, SEND_MAX_LINE * SEND_MAX_REPLY_LINES);
    r.code = 0;

    optind = 1;
    opterr = 1;
    int o;
    while ((o = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
        switch (o) {
        case 's': server = optarg; break;
        case 'S': starttls = 1; break;
        case 'T': tls = 1; break;
        case 'a': auth = optarg; break;
        case 'f': from = optarg; break;
        case 't': {
            if (nrcpt >= SEND_MAX_RCPTS) {
                fprintf(stderr, "postino send: too many recipients\n");
                goto out;
            }
            const char **n = realloc(rcpts, (nrcpt + 1) * sizeof *rcpts);
            if (!n) {
                rc = EX_OSERR;
                goto out;
            }
            rcpts = n;
            rcpts[nrcpt++] = optarg;
            break;
        }
        case 'N': notify = optarg; break;
        case 'R': ret = optarg; break;
        case 'E': envid = optarg; break;
        case 'O': orcpt = optarg; break;
        case 'v': verbose = 1; break;
        case 'h': usage(stdout); rc = 0; goto out;
        default: usage(stderr); goto out;
        }
    }
    if (argc - optind > 1) {
        fprintf(stderr, "postino send: at most one FILE\n");
        usage(stderr);
        goto out;
    }
    if (!server || !from || nrcpt == 0) {
        fprintf(stderr, "postino send: --server, --from and --to are required\n");
        usage(stderr);
        goto out;
    }
    if (starttls && tls) {
        fprintf(stderr, "postino send: --starttls and --tls exclude each other\n");
        goto out;
    }
    if (split_server(server, &host, &port) < 0) {
        fprintf(stderr, "postino send: --server wants HOST:PORT, not '%s'\n", server);
        goto out;
    }
    if (!addr_ok(from, 1)) {
        fprintf(stderr, "postino send: bad --from address\n");
        goto out;
    }
    for (size_t i = 0; i < nrcpt; i++)
        if (!addr_ok(rcpts[i], 0)) {
            fprintf(stderr, "postino send: bad --to address '%s'\n", rcpts[i]);
            goto out;
        }
    if (notify && parse_notify(notify, &notify_b) < 0) {
        fprintf(stderr, "postino send: --notify wants never or success,failure,delay\n");
        goto out;
    }
    if (ret && strcasecmp(ret, "full") != 0 && strcasecmp(ret, "hdrs") != 0) {
        fprintf(stderr, "postino send: --ret wants full or hdrs\n");
        goto out;
    }
    if (envid && (!*envid || xtext_encode(envid, strlen(envid), &envid_x) < 0 || envid_x.len > 100)) {
        fprintf(stderr, "postino send: --envid is empty or too long\n");
        goto out;
    }
    if (orcpt && (!addr_ok(orcpt, 0) || xtext_encode(orcpt, strlen(orcpt), &orcpt_x) < 0)) {
        fprintf(stderr, "postino send: bad --orcpt address\n");
        goto out;
    }
    const char *auth_colon = auth ? strchr(auth, ':') : NULL;
    if (auth && (!auth_colon || auth_colon == auth)) {
        fprintf(stderr, "postino send: --auth wants USER:PASS\n");
        goto out;
    }

    rc = read_input(argc > optind ? argv[optind] : NULL, &msg);
    if (rc != 0)
        goto out;
    if (wire_message(&msg, &wire) < 0) {
        fprintf(stderr, "postino send: message too large\n");
        rc = EX_DATAERR;
        goto out;
    }

    char me[256];
    if (gethostname(me, sizeof me) != 0 || !me[0])
        memcpy(me, "localhost", sizeof "localhost");
    me[sizeof me - 1] = '\0';
    for (char *q = me; *q; q++)
        if (!isalnum((unsigned char)*q) && *q != '.' && *q != '-')
            *q = '-';

    signal(SIGPIPE, SIG_IGN);
    c.verbose = verbose;
    c.fd = tcp_connect(host, port);
    if (c.fd < 0) {
        rc = EX_TEMPFAIL;
        goto out;
    }
    if (tls && start_tls(&c, host) < 0) {
        rc = EX_TEMPFAIL;
        goto out;
    }

    int x = read_reply(&c, &r);
    if (x != 220) {
        report("greeting", x, &r);
        rc = x == 554 ? EX_UNAVAILABLE : class_exit(x);
        goto quit;
    }
    int esmtp = 1;
    x = do_ehlo(&c, &r, me, &cmd);
    if (x >= 500 && x < 600) {
        buf_reset(&cmd);
        buf_printf(&cmd, "HELO %s", me);
        x = command(&c, &r, buf_cstr(&cmd), NULL);
        esmtp = 0;
    }
    if (x != 250) {
        report("EHLO", x, &r);
        rc = class_exit(x);
        goto quit;
    }
    if (starttls) {
        if (!esmtp || !ehlo_has(&r, "STARTTLS", NULL)) {
            fprintf(stderr, "postino send: the server does not offer STARTTLS\n");
            rc = EX_UNAVAILABLE;
            goto quit;
        }
        x = command(&c, &r, "STARTTLS", NULL);
        if (x != 220) {
            report("STARTTLS", x, &r);
            rc = class_exit(x);
            goto quit;
        }
        if (c.rpos < c.rlen) {
            fprintf(stderr, "postino send: data after the STARTTLS reply\n");
            rc = EX_PROTOCOL;
            goto out;
        }
        if (start_tls(&c, host) < 0) {
            rc = EX_TEMPFAIL;
            goto out;
        }
        x = do_ehlo(&c, &r, me, &cmd);
        if (x != 250) {
            report("EHLO", x, &r);
            rc = class_exit(x);
            goto quit;
        }
    }
    int dsn = esmtp && ehlo_has(&r, "DSN", NULL);
    int want_dsn = notify || ret || envid || orcpt;
    if (want_dsn && !dsn) {
        fprintf(stderr, "postino send: warning: the server does not offer DSN; "
                        "sending without DSN parameters\n");
        want_dsn = 0;
    }

    if (auth) {
        size_t ul = (size_t)(auth_colon - auth), pl = strlen(auth_colon + 1);
        size_t rawlen = ul + pl + 2;
        unsigned char *raw = malloc(rawlen);
        unsigned char *b64 = malloc(4 * ((rawlen + 2) / 3) + 1);
        if (!raw || !b64) {
            free(raw);
            free(b64);
            rc = EX_OSERR;
            goto quit;
        }
        raw[0] = '\0';
        memcpy(raw + 1, auth, ul);
        raw[1 + ul] = '\0';
        memcpy(raw + 2 + ul, auth_colon + 1, pl);
        EVP_EncodeBlock(b64, raw, (int)rawlen);
        buf_reset(&cmd);
        int bad = buf_printf(&cmd, "AUTH PLAIN %s", (char *)b64) < 0;
        OPENSSL_cleanse(raw, rawlen);
        free(raw);
        free(b64);
        if (bad) {
            fprintf(stderr, "postino send: --auth too long\n");
            rc = EX_USAGE;
            goto quit;
        }
        x = command(&c, &r, buf_cstr(&cmd), "AUTH PLAIN <credentials hidden>");
        OPENSSL_cleanse(cmd.data, cmd.len);
        if (x != 235) {
            report("AUTH", x, &r);
            rc = class_exit(x);
            goto quit;
        }
    }

    buf_reset(&cmd);
    buf_printf(&cmd, "MAIL FROM:<%s>", from);
    if (want_dsn && ret)
        buf_printf(&cmd, " RET=%s", strcasecmp(ret, "full") == 0 ? "FULL" : "HDRS");
    if (want_dsn && envid)
        buf_printf(&cmd, " ENVID=%s", buf_cstr(&envid_x));
    x = command(&c, &r, buf_cstr(&cmd), NULL);
    if (x != 250) {
        report("MAIL FROM", x, &r);
        rc = class_exit(x);
        goto quit;
    }
    rc = 0;
    size_t accepted = 0;
    for (size_t i = 0; i < nrcpt; i++) {
        buf_reset(&cmd);
        if (buf_printf(&cmd, "RCPT TO:<%s>", rcpts[i]) < 0 ||
            (want_dsn && notify && buf_printf(&cmd, " NOTIFY=%s", buf_cstr(&notify_b)) < 0) ||
            (want_dsn && orcpt && buf_printf(&cmd, " ORCPT=rfc822;%s", buf_cstr(&orcpt_x)) < 0)) {
            fprintf(stderr, "postino send: RCPT command too long\n");
            rc = EX_USAGE;
            goto quit;
        }
        x = command(&c, &r, buf_cstr(&cmd), NULL);
        if (x < 0) {
            report("RCPT TO", x, &r);
            rc = class_exit(x);
            goto out;
        }
        printf("%s: %s\n", rcpts[i], buf_cstr(&r.text));
        if (x == 250 || x == 251)
            accepted++;
        else
            rc = worse(rc, class_exit(x));
    }
    fflush(stdout);
    if (accepted == 0) {
        fprintf(stderr, "postino send: no recipient accepted\n");
        goto quit;
    }
    x = command(&c, &r, "DATA", NULL);
    if (x != 354) {
        report("DATA", x, &r);
        rc = worse(rc, class_exit(x));
        goto quit;
    }
    if (c.verbose)
        fprintf(stderr, "C: <message, %zu bytes>\nC: .\n", wire.len);
    if (conn_write(&c, wire.data, wire.len) < 0) {
        fprintf(stderr, "postino send: connection lost while sending the message\n");
        rc = EX_TEMPFAIL;
        goto out;
    }
    x = read_reply(&c, &r);
    if (x < 0) {
        report("end of data", x, &r);
        rc = class_exit(x);
        goto out;
    }
    printf("%s\n", buf_cstr(&r.text));
    if (x != 250)
        rc = worse(rc, class_exit(x));

quit:
    if (c.fd >= 0) {
        int q = command(&c, &r, "QUIT", NULL);
        (void)q;
    }
out:
    fflush(stdout);
    if (c.ssl) {
        SSL_shutdown(c.ssl);
        SSL_free(c.ssl);
    }
    if (c.ctx)
        SSL_CTX_free(c.ctx);
    if (c.fd >= 0)
        close(c.fd);
    free(host);
    free(port);
    free(rcpts);
    buf_free(&notify_b);
    buf_free(&msg);
    buf_free(&wire);
    buf_free(&cmd);
    buf_free(&envid_x);
    buf_free(&orcpt_x);
    buf_free(&r.all);
    buf_free(&r.text);
    return rc;
}
