/*
 * conf: postino's settings, their defaults and the postino.conf parser
 * (see conf.h and INTERFACE.md "Config file").
 *
 * Owns: the one table of keys (conf_keys[]), each with its parser and its
 * limits; the checks that span keys (retry_min <= retry_max, tls_cert with
 * tls_key, smtps/pop3s need a certificate, a domain cannot be both local and
 * relay); loading the users and aliases files the config names. No network.
 * Semantics: a repeated key replaces its earlier value (for list keys such as
 * local_domains, the whole list); `route` accumulates; the first `listen` line
 * drops all default listeners and later ones accumulate. `#` starts a comment
 * anywhere on a line. Relative paths, including the default data_dir, are
 * joined to the config file's folder (made absolute), or to the current
 * directory without a config file. Value parsers (numbers, ports, host
 * names, CIDR, HOST[:PORT]) are in conf_value.c, printing in conf_print.c.
 */
#include "mail/conf.h"
#include "lib/alloc.h"
#include "lib/dur.h"
#include "lib/fsio.h"
#include "lib/linefile.h"
#include "lib/str.h"
#include "mail/alias.h"
#include "mail/auth.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONF_FILE_MAX (1u << 20)
#define CONF_MAX_ARGS 256
#define CONF_COUNT_MAX 100000000u
#define CONF_KEYS_MAX 64

struct conf_ctx {
    struct conf *c;
    const char *file;     /* config path, for messages */
    char dir[PATH_MAX];   /* absolute folder that relative paths join */
    unsigned line;
    struct buf *err;
    int listen_seen;      /* a listen line already replaced the defaults */
    unsigned line_tls_listen;            /* first smtps or pop3s listen line */
    unsigned key_line[CONF_KEYS_MAX];   /* where each key of conf_keys[] was last set */
};

struct conf_key;
typedef int (*conf_parse_fn)(struct conf_ctx *x, const struct conf_key *k, char **argv, int argc);

struct conf_key {
    const char *name;
    conf_parse_fn parse;
    size_t off;           /* field in struct conf */
    size_t off_n;         /* count field of list keys */
    int min_args, max_args;
    uint64_t min;         /* smallest allowed value of numbers, durations, sizes */
};

static void conf_err(struct conf_ctx *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void conf_err(struct conf_ctx *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_printf(x->err, "%s:%u: ", x->file, x->line);
    buf_vprintf(x->err, fmt, ap);
    va_end(ap);
}

#define FIELD(x, k, type) ((type *)(void *)((char *)(x)->c + (k)->off))

static int conf_is_ip(const char *s, int family)
{
    unsigned char tmp[16];
    return inet_pton(family, s, tmp) == 1;
}

/* ---- paths ---- */

/* value joined to the config folder (absolute values kept); malloc'd, NULL if too long. */
static char *conf_resolve(const char *dir, const char *value)
{
    char out[PATH_MAX];
    if (value[0] == '/')
        return str_copy(out, sizeof out, value) < 0 ? NULL : xstrdup(value);
    while (value[0] == '.' && value[1] == '/')
        value += 2;
    const char *sep = dir[strlen(dir) - 1] == '/' ? "" : "/";
    if (str_fmt(out, sizeof out, "%s%s%s", dir, sep, value[0] ? value : ".") < 0)
        return NULL;
    return xstrdup(out);
}

/* The absolute folder of path (cwd when path is NULL). */
static void conf_base_dir(const char *path, char *dir, size_t size)
{
    char d[PATH_MAX], cwd[PATH_MAX];
    if (!path || fsio_dirname(path, d, sizeof d) < 0)
        str_copy(d, sizeof d, ".");
    if (d[0] == '/' || !getcwd(cwd, sizeof cwd)) {
        str_copy(dir, size, d);
        return;
    }
    if (strcmp(d, ".") == 0 || str_fmt(dir, size, "%s/%s", cwd, d) < 0)
        str_copy(dir, size, cwd);
}

/* ---- key parsers ---- */

static int conf_set_path(struct conf_ctx *x, const struct conf_key *k, char **argv, int argc)
{
    (void)argc;
    char *p = conf_resolve(x->dir, argv[0]);
    if (!p) {
        conf_err(x, "%s: path too long", k->name);
        return -1;
    }
    char **field = FIELD(x, k, char *);
    free(*field);
    *field = p;
    return 0;
}

static int conf_set_hostname(struct conf_ctx *x, const struct conf_key *k, char **argv, int argc)
{
    (void)argc;
    if (!conf_valid_hostname(argv[0])) {
        conf_err(x, "%s: invalid host name \"%.100s\"", k->name, argv[0]);
        return -1;
    }
    free(x->c->hostname);
    x->c->hostname = xstrdup(argv[0]);
    return 0;
}

/* run_as: a user name as useradd(8) allows it; existence is checked when serving. */
static int conf_set_user(struct conf_ctx *x, const struct conf_key *k, char **argv, int argc)
{
    (void)argc;
    size_t n = strlen(argv[0]);
    int ok = n > 0 && n <= 32 && argv[0][0] != '-';
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)argv[0][i]) || strchr("._-", argv[0][i]);
    if (!ok) {
        conf_err(x, "%s: invalid user name \"%.100s\"", k->name, argv[0]);
        return -1;
    }
    free(x->c->run_as);
    x->c->run_as = xstrdup(argv[0]);
    return 0;
}

static int conf_set_dur(struct conf_ctx *x, const struct conf_key *k, char **argv, int argc)
{
    (void)argc;
    int64_t ms;
    if (dur_parse(argv[0], &ms) < 0) {
        conf_err(x, "%s: invalid duration \"%.100s\" (e.g. 500ms, 30s, 5m, 2h, 5d)", k->name,
                 argv[0]);
        return -1;
    }
    if ((uint64_t)ms < k->min) {
        conf_err(x, "%s: must be greater than 0", k->name);
        return -1;
    }
    *FIELD(x, k, int64_t) = ms;
    return 0;
}

static int conf_set_size(struct conf_ctx *x, const struct conf_key *k, char **argv, int argc)
{
    (void)argc;
    uint64_t v;
    if (size_parse(argv[0], &v) < 0) {
        conf_err(x, "%s: invalid size \"%.100s\" (e.g. 512K, 10M)", k->name, argv[0]);
        return -1;
    }
    if (v < k->min) {
        conf_err(x, "%s: must be greater than 0", k->name);
        return -1;
    }
    *FIELD(x, k, uint64_t) = v;
    return 0;
}

static int conf_set_count(struct conf_ctx *x, const struct conf_key *k, char **argv, int argc)
{
    (void)argc;
    uint64_t v;
    if (conf_parse_number(argv[0], k->min, CONF_COUNT_MAX, &v) < 0) {
        conf_err(x, "%s: invalid number \"%.100s\" (%llu to %u)", k->name, argv[0],
                 (unsigned long long)k->min, CONF_COUNT_MAX);
        return -1;
    }
    *FIELD(x, k, unsigned) = (unsigned)v;
    return 0;
}

static int conf_set_port(struct conf_ctx *x, const struct conf_key *k, char **argv, int argc)
{
    (void)argc;
    if (conf_parse_port(argv[0], FIELD(x, k, int)) < 0) {
        conf_err(x, "%s: invalid port \"%.100s\" (1 to 65535)", k->name, argv[0]);
        return -1;
    }
    return 0;
}

static void conf_free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* local_domains, relay_domains: replaces the list; lower case, no repeats. */
static int conf_set_domains(struct conf_ctx *x, const struct conf_key *k, char **argv, int argc)
{
    for (int i = 0; i < argc; i++) {
        str_lower(argv[i]);
        if (!conf_valid_hostname(argv[i])) {
            conf_err(x, "%s: invalid domain \"%.100s\"", k->name, argv[i]);
            return -1;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(argv[i], argv[j]) == 0) {
                conf_err(x, "%s: domain %s listed twice", k->name, argv[i]);
                return -1;
            }
    }
    char ***list = FIELD(x, k, char **);
    size_t *n = (size_t *)(void *)((char *)x->c + k->off_n);
    conf_free_strv(*list, *n);
    *list = xcalloc((size_t)argc, sizeof **list);
    for (int i = 0; i < argc; i++)
        (*list)[i] = xstrdup(argv[i]);
    *n = (size_t)argc;
    return 0;
}

static int conf_set_networks(struct conf_ctx *x, const struct conf_key *k, char **argv, int argc)
{
    struct cidr *v = xcalloc((size_t)argc, sizeof *v);
    for (int i = 0; i < argc; i++)
        if (cidr_parse(argv[i], &v[i]) < 0) {
            conf_err(x, "%s: invalid address or CIDR \"%.100s\"", k->name, argv[i]);
            free(v);
            return -1;
        }
    free(x->c->relay_networks);
    x->c->relay_networks = v;
    x->c->n_relay_networks = (size_t)argc;
    return 0;
}

static int conf_set_relayhost(struct conf_ctx *x, const struct conf_key *k, char **argv, int argc)
{
    (void)argc;
    if (hostport_parse(argv[0], &x->c->relayhost) < 0) {
        conf_err(x, "%s: invalid HOST[:PORT] \"%.100s\"", k->name, argv[0]);
        return -1;
    }
    x->c->has_relayhost = 1;
    return 0;
}

static int conf_add_route(struct conf_ctx *x, const struct conf_key *k, char **argv, int argc)
{
    (void)argc;
    struct route r;
    str_lower(argv[0]);
    if (!conf_valid_hostname(argv[0]) || str_copy(r.domain, sizeof r.domain, argv[0]) < 0) {
        conf_err(x, "%s: invalid domain \"%.100s\"", k->name, argv[0]);
        return -1;
    }
    if (hostport_parse(argv[1], &r.hop) < 0) {
        conf_err(x, "%s: invalid HOST[:PORT] \"%.100s\"", k->name, argv[1]);
        return -1;
    }
    if (conf_find_route(x->c, r.domain)) {
        conf_err(x, "%s: a route for %s is already defined", k->name, r.domain);
        return -1;
    }
    x->c->routes = xrealloc(x->c->routes, (x->c->n_routes + 1) * sizeof r);
    x->c->routes[x->c->n_routes++] = r;
    return 0;
}

/* A resolver: numeric IPv4, [IPv6] or bare IPv6, with an optional port. */
static int conf_dns_server(const char *s, struct hostport *hp)
{
    if (conf_is_ip(s, AF_INET6)) {
        memset(hp, 0, sizeof *hp);
        return str_copy(hp->host, sizeof hp->host, s);
    }
    if (hostport_parse(s, hp) < 0)
        return -1;
    hp->no_mx = 0;
    return conf_is_ip(hp->host, AF_INET) || conf_is_ip(hp->host, AF_INET6) ? 0 : -1;
}

static int conf_set_dns(struct conf_ctx *x, const struct conf_key *k, char **argv, int argc)
{
    struct hostport *v = xcalloc((size_t)argc, sizeof *v);
    for (int i = 0; i < argc; i++)
        if (conf_dns_server(argv[i], &v[i]) < 0) {
            conf_err(x, "%s: invalid ADDR[:PORT] \"%.100s\" (a numeric address)", k->name, argv[i]);
            free(v);
            return -1;
        }
    free(x->c->dns_servers);
    x->c->dns_servers = v;
    x->c->n_dns_servers = (size_t)argc;
    return 0;
}

static const char *const conf_listen_names[] = {"smtp", "submission", "smtps", "pop3", "pop3s"};

const char *conf_listen_kind_name(enum listen_kind kind)
{
    return (unsigned)kind < sizeof conf_listen_names / sizeof conf_listen_names[0]
               ? conf_listen_names[kind] : "?";
}

static int conf_listen_kind(const char *s, enum listen_kind *kind)
{
    for (size_t i = 0; i < sizeof conf_listen_names / sizeof conf_listen_names[0]; i++)
        if (strcmp(s, conf_listen_names[i]) == 0) {
            *kind = (enum listen_kind)i;
            return 0;
        }
    return -1;
}

/* ADDR:PORT with a numeric address; IPv6 in brackets. */
static int conf_listen_addr(const char *s, struct listen_spec *l)
{
    struct hostport hp;
    if (hostport_parse(s, &hp) < 0 || hp.port == 0)
        return -1;
    if (!conf_is_ip(hp.host, AF_INET) && !conf_is_ip(hp.host, AF_INET6))
        return -1;
    l->port = hp.port;
    return str_copy(l->addr, sizeof l->addr, hp.host);
}

static int conf_add_listen(struct conf_ctx *x, const struct conf_key *k, char **argv, int argc)
{
    (void)argc;
    struct listen_spec l;
    struct conf *c = x->c;
    if (conf_listen_kind(argv[0], &l.kind) < 0) {
        conf_err(x, "%s: unknown kind \"%.100s\" (smtp, submission, smtps, pop3, pop3s)", k->name,
                 argv[0]);
        return -1;
    }
    if (conf_listen_addr(argv[1], &l) < 0) {
        conf_err(x, "%s: invalid ADDR:PORT \"%.100s\" (numeric address, [IPv6]:PORT)", k->name,
                 argv[1]);
        return -1;
    }
    if (!x->listen_seen)
        c->n_listens = 0; /* the first listen line replaces all defaults */
    x->listen_seen = 1;
    for (size_t i = 0; i < c->n_listens; i++)
        if (c->listens[i].port == l.port && strcmp(c->listens[i].addr, l.addr) == 0) {
            conf_err(x, "%s: %s is already used by another listener", k->name, argv[1]);
            return -1;
        }
    if ((l.kind == LISTEN_SMTPS || l.kind == LISTEN_POP3S) && !x->line_tls_listen)
        x->line_tls_listen = x->line;
    c->listens = xrealloc(c->listens, (c->n_listens + 1) * sizeof l);
    c->listens[c->n_listens++] = l;
    return 0;
}

#define OFF(f) offsetof(struct conf, f)
#define ONE(name, fn, f, min) {name, fn, OFF(f), 0, 1, 1, min}
#define LIST(name, fn, f) {name, fn, OFF(f), OFF(n_##f), 1, CONF_MAX_ARGS, 0}

static const struct conf_key conf_keys[] = {
    ONE("hostname", conf_set_hostname, hostname, 0),
    ONE("data_dir", conf_set_path, data_dir, 0),
    {"listen", conf_add_listen, OFF(listens), 0, 2, 2, 0},
    LIST("local_domains", conf_set_domains, local_domains),
    ONE("users", conf_set_path, users_file, 0),
    ONE("aliases", conf_set_path, aliases_file, 0),
    LIST("relay_networks", conf_set_networks, relay_networks),
    ONE("relayhost", conf_set_relayhost, relayhost, 0),
    LIST("relay_domains", conf_set_domains, relay_domains),
    {"route", conf_add_route, OFF(routes), 0, 2, 2, 0},
    LIST("dns_servers", conf_set_dns, dns_servers),
    ONE("smtp_port", conf_set_port, smtp_port, 0),
    ONE("tls_cert", conf_set_path, tls_cert, 0),
    ONE("tls_key", conf_set_path, tls_key, 0),
    ONE("max_message_size", conf_set_size, max_message_size, 1),
    ONE("max_recipients", conf_set_count, max_recipients, 1),
    ONE("retry_min", conf_set_dur, retry_min_ms, 1),
    ONE("retry_max", conf_set_dur, retry_max_ms, 1),
    ONE("delay_warning", conf_set_dur, delay_warning_ms, 0), /* 0 = never */
    ONE("queue_lifetime", conf_set_dur, queue_lifetime_ms, 1),
    ONE("timeout_greeting", conf_set_dur, timeout_greeting_ms, 1),
    ONE("timeout_mail", conf_set_dur, timeout_mail_ms, 1),
    ONE("timeout_rcpt", conf_set_dur, timeout_rcpt_ms, 1),
    ONE("timeout_data_init", conf_set_dur, timeout_data_init_ms, 1),
    ONE("timeout_data_block", conf_set_dur, timeout_data_block_ms, 1),
    ONE("timeout_data_end", conf_set_dur, timeout_data_end_ms, 1),
    ONE("timeout_server", conf_set_dur, timeout_server_ms, 1),
    ONE("timeout_pop3", conf_set_dur, timeout_pop3_ms, 1),
    ONE("max_connections", conf_set_count, max_connections, 1),
    ONE("max_connections_per_ip", conf_set_count, max_connections_per_ip, 1),
    ONE("max_hops", conf_set_count, max_hops, 1),
    ONE("dsn_return_limit", conf_set_size, dsn_return_limit, 0), /* 0 = headers only */
    ONE("run_as", conf_set_user, run_as, 0),
    ONE("log_file", conf_set_path, log_file, 0),
};
_Static_assert(sizeof conf_keys / sizeof conf_keys[0] <= CONF_KEYS_MAX, "raise CONF_KEYS_MAX");

/* ---- the file ---- */

/* Splits a line (comment removed) into blank-separated words; -1 if too many. */
static int conf_split(char *s, char **argv, int *argc)
{
    char *hash = strchr(s, '#'), *save = NULL;
    if (hash)
        *hash = '\0';
    *argc = 0;
    for (char *w = strtok_r(s, " \t\r\v\f", &save); w; w = strtok_r(NULL, " \t\r\v\f", &save)) {
        if (*argc == CONF_MAX_ARGS + 1)
            return -1;
        argv[(*argc)++] = w;
    }
    return 0;
}

static int conf_parse_line(struct conf_ctx *x, char *s)
{
    char *argv[CONF_MAX_ARGS + 1];
    int argc;
    if (conf_split(s, argv, &argc) < 0) {
        conf_err(x, "too many values");
        return -1;
    }
    if (argc == 0)
        return 0;
    for (size_t i = 0; i < sizeof conf_keys / sizeof conf_keys[0]; i++) {
        const struct conf_key *k = &conf_keys[i];
        if (strcmp(argv[0], k->name) != 0)
            continue;
        if (argc - 1 < k->min_args || argc - 1 > k->max_args) {
            conf_err(x, "%s: %s", k->name, argc - 1 < k->min_args ? "missing value" :
                                            "too many values");
            return -1;
        }
        x->key_line[i] = x->line;
        return k->parse(x, k, argv + 1, argc - 1);
    }
    conf_err(x, "unknown key \"%.100s\"", argv[0]);
    return -1;
}

/* linefile callback: one line of the config file. */
static int conf_parse_file_line(void *ctx, char *line, unsigned lineno)
{
    struct conf_ctx *x = ctx;
    x->line = lineno;
    return conf_parse_line(x, line);
}

/* The line where key was last set, 0 if it kept its default. */
static unsigned conf_key_line(const struct conf_ctx *x, const char *key)
{
    for (size_t i = 0; i < sizeof conf_keys / sizeof conf_keys[0]; i++)
        if (strcmp(conf_keys[i].name, key) == 0)
            return x->key_line[i];
    return 0;
}

/* The later of the lines where keys a and b were set: the one that made a conflict. */
static unsigned conf_later_line(const struct conf_ctx *x, const char *a, const char *b)
{
    unsigned la = conf_key_line(x, a), lb = conf_key_line(x, b);
    return la > lb ? la : lb;
}

/* A certificate or key file must be readable now, not at the first STARTTLS. */
static int conf_check_readable(struct conf_ctx *x, const char *file, unsigned line)
{
    if (access(file, R_OK) == 0)
        return 0;
    x->line = line;
    conf_err(x, "cannot read %s: %s", file, strerror(errno));
    return -1;
}

/* Checks that span keys; x->line is set to the line that made each conflict. */
static int conf_check_tls(struct conf_ctx *x)
{
    const struct conf *c = x->c;
    if (!c->tls_cert != !c->tls_key) {
        x->line = conf_key_line(x, c->tls_cert ? "tls_cert" : "tls_key");
        conf_err(x, c->tls_cert ? "tls_cert without tls_key" : "tls_key without tls_cert");
        return -1;
    }
    if (x->line_tls_listen && !c->tls_cert) {
        x->line = x->line_tls_listen;
        conf_err(x, "listen: smtps and pop3s listeners need tls_cert and tls_key");
        return -1;
    }
    return 0;
}

/* The TLS files must be readable: only for the full load (serve, check). A key is
 * mode 0600, so the commands any local user runs (sendmail, mailq) never look at it. */
static int conf_check_tls_files(struct conf_ctx *x)
{
    const struct conf *c = x->c;
    if (!c->tls_cert)
        return 0;
    if (conf_check_readable(x, c->tls_cert, conf_key_line(x, "tls_cert")) < 0)
        return -1;
    return conf_check_readable(x, c->tls_key, conf_key_line(x, "tls_key"));
}

static int conf_check(struct conf_ctx *x)
{
    const struct conf *c = x->c;
    if (c->retry_min_ms > c->retry_max_ms) {
        char a[32], b[32];
        dur_format(c->retry_min_ms, a, sizeof a);
        dur_format(c->retry_max_ms, b, sizeof b);
        x->line = conf_later_line(x, "retry_min", "retry_max");
        conf_err(x, "retry_min (%s) is greater than retry_max (%s)", a, b);
        return -1;
    }
    for (size_t i = 0; i < c->n_relay_domains; i++)
        if (conf_is_local_domain(c, c->relay_domains[i])) {
            x->line = conf_later_line(x, "local_domains", "relay_domains");
            conf_err(x, "%s is in both local_domains and relay_domains", c->relay_domains[i]);
            return -1;
        }
    return conf_check_tls(x);
}

/* Loads the users and aliases files the config names. */
static int conf_load_tables(struct conf *c, struct buf *err)
{
    if (c->users_file && !(c->users = users_load(c->users_file, err)))
        return -1;
    if (c->aliases_file && !(c->aliases = aliases_load(c->aliases_file, err)))
        return -1;
    return 0;
}

static int conf_read(struct conf_ctx *x, const char *path)
{
    return linefile_each(path, CONF_FILE_MAX, 0, conf_parse_file_line, x, x->err);
}

static int conf_load_as(const char *path, struct conf *c, struct buf *err, int tables)
{
    struct conf_ctx x = {.c = c, .file = path, .err = err};
    conf_defaults(c);
    conf_base_dir(path, x.dir, sizeof x.dir);
    char *data_dir = conf_resolve(x.dir, c->data_dir);
    free(c->data_dir);
    c->data_dir = data_dir ? data_dir : xstrdup("postino-data");
    if (path) {
        c->path = xstrdup(path);
        if (conf_read(&x, path) < 0 || conf_check(&x) < 0)
            goto fail;
        c->line_max_connections = conf_key_line(&x, "max_connections");
    }
    if (tables && (conf_check_tls_files(&x) < 0 || conf_load_tables(c, err) < 0))
        goto fail;
    return 0;
fail:
    conf_free(c);
    return -1;
}

int conf_load(const char *path, struct conf *c, struct buf *err)
{
    return conf_load_as(path, c, err, 1);
}

int conf_load_settings(const char *path, struct conf *c, struct buf *err)
{
    return conf_load_as(path, c, err, 0);
}

void conf_defaults(struct conf *c)
{
    static const struct listen_spec listens[] = {
        {LISTEN_SMTP, "127.0.0.1", 2525},
        {LISTEN_SUBMISSION, "127.0.0.1", 2587},
        {LISTEN_POP3, "127.0.0.1", 2110},
    };
    char host[256] = "";
    memset(c, 0, sizeof *c);
    if (gethostname(host, sizeof host - 1) < 0 || host[0] == '\0')
        str_copy(host, sizeof host, "localhost");
    c->hostname = xstrdup(host);
    c->data_dir = xstrdup("./postino-data");
    c->listens = xmalloc(sizeof listens);
    memcpy(c->listens, listens, sizeof listens);
    c->n_listens = sizeof listens / sizeof listens[0];
    c->local_domains = xcalloc(1, sizeof *c->local_domains);
    c->local_domains[0] = xstrdup("localhost");
    c->n_local_domains = 1;
    c->relay_networks = xcalloc(2, sizeof *c->relay_networks);
    cidr_parse("127.0.0.0/8", &c->relay_networks[0]);
    cidr_parse("::1/128", &c->relay_networks[1]);
    c->n_relay_networks = 2;
    c->smtp_port = 25;
    c->max_message_size = 25u << 20;
    c->max_recipients = 1000;
    c->retry_min_ms = 5 * 60000;
    c->retry_max_ms = 3600000;
    c->delay_warning_ms = 4 * 3600000;
    c->queue_lifetime_ms = 5 * 86400000LL;
    c->timeout_greeting_ms = c->timeout_mail_ms = c->timeout_rcpt_ms = 5 * 60000;
    c->timeout_data_init_ms = 2 * 60000;
    c->timeout_data_block_ms = 3 * 60000;
    c->timeout_data_end_ms = 10 * 60000;
    c->timeout_server_ms = 5 * 60000;
    c->timeout_pop3_ms = 10 * 60000;
    c->max_connections = 1000;
    c->max_connections_per_ip = 50;
    c->max_hops = 50;
    c->dsn_return_limit = 50u << 10;
}

void conf_free(struct conf *c)
{
    free(c->path);
    free(c->hostname);
    free(c->data_dir);
    free(c->listens);
    conf_free_strv(c->local_domains, c->n_local_domains);
    free(c->users_file);
    free(c->aliases_file);
    free(c->relay_networks);
    conf_free_strv(c->relay_domains, c->n_relay_domains);
    free(c->routes);
    free(c->dns_servers);
    free(c->tls_cert);
    free(c->tls_key);
    free(c->run_as);
    free(c->log_file);
    users_free(c->users);
    aliases_free(c->aliases);
    memset(c, 0, sizeof *c);
}

/* ---- queries ---- */

static int conf_in_list(char *const *v, size_t n, const char *domain)
{
    for (size_t i = 0; i < n; i++)
        if (str_ieq(v[i], domain))
            return 1;
    return 0;
}

int conf_is_local_domain(const struct conf *c, const char *domain)
{
    return conf_in_list(c->local_domains, c->n_local_domains, domain);
}

int conf_is_relay_domain(const struct conf *c, const char *domain)
{
    return conf_in_list(c->relay_domains, c->n_relay_domains, domain);
}

int conf_in_relay_networks(const struct conf *c, const struct sockaddr *sa)
{
    for (size_t i = 0; i < c->n_relay_networks; i++)
        if (cidr_match(&c->relay_networks[i], sa))
            return 1;
    return 0;
}

const struct route *conf_find_route(const struct conf *c, const char *domain)
{
    for (size_t i = 0; i < c->n_routes; i++)
        if (str_ieq(c->routes[i].domain, domain))
            return &c->routes[i];
    return NULL;
}
