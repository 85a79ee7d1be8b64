/*
 * conf_keys: the table of postino.conf keys and the parser of each kind of
 * value (see conf_keys.h and INTERFACE.md "Config file").
 *
 * Owns: conf_keys[], one row a key (kind, field, default, limits), and the
 * value parsers behind the kinds: paths (joined to the config folder), host
 * and user names, durations, sizes, counts, ports, domain lists, CIDR
 * lists, HOST[:PORT] next hops, resolvers, routes, listeners, relay_auth
 * credentials (the password file is read later, by conf.c) and tls_policy rules. A repeated
 * key replaces its earlier value (a list as a whole); a route accumulates;
 * the first listen line drops the default listeners. Errors are
 * "FILE:LINE: key: what is wrong". Pure: no I/O, no network.
 */
#include "mail/conf_keys.h"
#include "lib/alloc.h"
#include "lib/dur.h"
#include "lib/str.h"
#include "proto/intl.h"
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define CONF_MAX_ARGS 256
#define CONF_COUNT_MAX 100000000u

void conf_err(struct conf_ctx *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_printf(x->err, "%s:%u: ", x->file, x->line);
    buf_vprintf(x->err, fmt, ap);
    va_end(ap);
}

void conf_free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

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

/* Replaces the string field of k with a copy of v. */
static void conf_set_string(struct conf_ctx *x, const struct conf_key *k, char *v)
{
    char **field = CONF_FIELD(x->c, k, char *);
    free(*field);
    *field = v;
}

/* ---- one value ---- */

static int conf_set_path(struct conf_ctx *x, const struct conf_key *k, char **argv, int argc)
{
    (void)argc;
    char *p = conf_resolve(x->dir, argv[0]);
    if (!p) {
        conf_err(x, "%s: path too long", k->name);
        return -1;
    }
    conf_set_string(x, k, p);
    return 0;
}

/* log_file: the word "syslog", or a path. */
static int conf_set_logfile(struct conf_ctx *x, const struct conf_key *k, char **argv, int argc)
{
    if (strcmp(argv[0], "syslog") == 0) {
        conf_set_string(x, k, xstrdup(argv[0]));
        return 0;
    }
    return conf_set_path(x, k, argv, argc);
}

/* One of the words of k->choices ("a|b|c"). */
static int conf_set_choice(struct conf_ctx *x, const struct conf_key *k, char **argv, int argc)
{
    (void)argc;
    size_t n = strlen(argv[0]);
    for (const char *w = k->choices; n && w; w = strchr(w, '|'), w = w ? w + 1 : NULL)
        if (strncmp(w, argv[0], n) == 0 && (w[n] == '|' || w[n] == '\0')) {
            conf_set_string(x, k, xstrdup(argv[0]));
            return 0;
        }
    conf_err(x, "%s: \"%.100s\" is not one of %s", k->name, argv[0], k->choices);
    return -1;
}

static int conf_set_hostname(struct conf_ctx *x, const struct conf_key *k, char **argv, int argc)
{
    (void)argc;
    if (!conf_valid_hostname(argv[0])) {
        conf_err(x, "%s: invalid host name \"%.100s\"", k->name, argv[0]);
        return -1;
    }
    conf_set_string(x, k, xstrdup(argv[0]));
    return 0;
}

/* run_as: a user name as useradd(8) allows it, not root; existence is checked
 * when serving (conf.c refuses another name for uid 0 on the full load). */
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
    if (strcmp(argv[0], "root") == 0) {
        conf_err(x, "%s root: refused, the server must not keep root (name an unprivileged "
                 "user, default postino)", k->name);
        return -1;
    }
    conf_set_string(x, k, xstrdup(argv[0]));
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
    *CONF_FIELD(x->c, k, int64_t) = ms;
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
    *CONF_FIELD(x->c, k, uint64_t) = v;
    return 0;
}

static int conf_set_count(struct conf_ctx *x, const struct conf_key *k, char **argv, int argc)
{
    (void)argc;
    uint64_t v;
    if (conf_parse_number(argv[0], k->min, k->max, &v) < 0) {
        conf_err(x, "%s: invalid number \"%.100s\" (%llu to %llu)", k->name, argv[0],
                 (unsigned long long)k->min, (unsigned long long)k->max);
        return -1;
    }
    *CONF_FIELD(x->c, k, unsigned) = (unsigned)v;
    return 0;
}

static int conf_set_port(struct conf_ctx *x, const struct conf_key *k, char **argv, int argc)
{
    (void)argc;
    if (conf_parse_port(argv[0], CONF_FIELD(x->c, k, int)) < 0) {
        conf_err(x, "%s: invalid port \"%.100s\" (1 to 65535)", k->name, argv[0]);
        return -1;
    }
    return 0;
}

static int conf_set_hostport(struct conf_ctx *x, const struct conf_key *k, char **argv, int argc)
{
    (void)argc;
    if (hostport_parse(argv[0], CONF_FIELD(x->c, k, struct hostport)) < 0) {
        conf_err(x, "%s: invalid HOST[:PORT] \"%.100s\"", k->name, argv[0]);
        return -1;
    }
    *CONF_FIELD_N(x->c, k, int) = 1;
    return 0;
}

/* ---- lists ---- */

/* A domain of the config in its lower-case A-label form (an IDN may be written with
 * U-labels: "bücher.test" is kept as "xn--bcher-kva.test"); -1 if invalid. */
static int conf_domain(const char *in, char *out, size_t size)
{
    return intl_domain_to_ascii(in, out, size) == 0 && conf_valid_hostname(out) ? 0 : -1;
}

/* local_domains, relay_domains: replaces the list; lower case A-labels, no repeats. */
static int conf_set_domains(struct conf_ctx *x, const struct conf_key *k, char **argv, int argc)
{
    char **v = xcalloc((size_t)argc, sizeof *v);
    for (int i = 0; i < argc; i++) {
        char d[INTL_DOMAIN_MAX];
        if (conf_domain(argv[i], d, sizeof d) < 0) {
            conf_err(x, "%s: invalid domain \"%.100s\"", k->name, argv[i]);
            conf_free_strv(v, (size_t)i);
            return -1;
        }
        v[i] = xstrdup(d);
        for (int j = 0; j < i; j++)
            if (strcmp(v[i], v[j]) == 0) {
                conf_err(x, "%s: domain %s listed twice", k->name, argv[i]);
                conf_free_strv(v, (size_t)i + 1);
                return -1;
            }
    }
    char ***list = CONF_FIELD(x->c, k, char **);
    size_t *n = CONF_FIELD_N(x->c, k, size_t);
    conf_free_strv(*list, *n);
    *list = v;
    *n = (size_t)argc;
    return 0;
}

/* Replaces the list field of k with v of n entries. */
static void conf_set_array(struct conf_ctx *x, const struct conf_key *k, void *v, int n)
{
    void **field = CONF_FIELD(x->c, k, void *);
    free(*field);
    *field = v;
    *CONF_FIELD_N(x->c, k, size_t) = (size_t)n;
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
    conf_set_array(x, k, v, argc);
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
    conf_set_array(x, k, v, argc);
    return 0;
}

static int conf_add_route(struct conf_ctx *x, const struct conf_key *k, char **argv, int argc)
{
    (void)argc;
    struct route r;
    if (conf_domain(argv[0], r.domain, sizeof r.domain) < 0) {
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

/* relay_auth HOST USER PASSWORD-FILE: one line a host; the file is read by conf_load. */
static int conf_add_relay_auth(struct conf_ctx *x, const struct conf_key *k, char **argv,
                               int argc)
{
    (void)argc;
    struct relay_auth a = {0};
    if (hostport_parse(argv[0], &a.hop) < 0) {
        conf_err(x, "%s: invalid HOST[:PORT] \"%.100s\"", k->name, argv[0]);
        return -1;
    }
    if (str_copy(a.user, sizeof a.user, argv[1]) < 0) {
        conf_err(x, "%s: user name longer than %d bytes", k->name, RELAY_AUTH_USER_MAX);
        return -1;
    }
    struct conf *c = x->c;
    for (size_t i = 0; i < c->n_relay_auths; i++) { /* as written: smtp_port may come later */
        const struct hostport *hp = &c->relay_auths[i].hop;
        if (str_ieq(hp->host, a.hop.host) && hp->port == a.hop.port && hp->no_mx == a.hop.no_mx) {
            conf_err(x, "%s: %s is already given credentials", k->name, argv[0]);
            return -1;
        }
    }
    if (!(a.password_file = conf_resolve(x->dir, argv[2]))) {
        conf_err(x, "%s: path too long", k->name);
        return -1;
    }
    c->relay_auths = xrealloc(c->relay_auths, (c->n_relay_auths + 1) * sizeof a);
    c->relay_auths[c->n_relay_auths++] = a;
    return 0;
}

/* 1 if s is a DKIM selector: dot-separated labels of letters, digits, '-', '_' (RFC 6376 3.1). */
int conf_valid_selector(const char *s)
{
    size_t n = strlen(s), label = 0;
    if (n == 0 || n > DKIM_SELECTOR_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '.') {
            if (label == 0)
                return 0;
            label = 0;
        } else if (isalnum(ch) || ch == '-' || ch == '_') {
            label++;
        } else {
            return 0;
        }
    }
    return label > 0;
}

/* dkim_sign DOMAIN SELECTOR KEYFILE: one line a domain. */
static int conf_add_dkim_sign(struct conf_ctx *x, const struct conf_key *k, char **argv,
                              int argc)
{
    (void)argc;
    struct dkim_sign_key d = {.line = x->line};
    char domain[INTL_DOMAIN_MAX];
    if (conf_domain(argv[0], domain, sizeof domain) < 0) {
        conf_err(x, "%s: invalid domain \"%.100s\"", k->name, argv[0]);
        return -1;
    }
    if (!conf_valid_selector(argv[1])) {
        conf_err(x, "%s: invalid selector \"%.100s\"", k->name, argv[1]);
        return -1;
    }
    str_copy(d.selector, sizeof d.selector, argv[1]);
    struct conf *c = x->c;
    for (size_t i = 0; i < c->n_dkim_keys; i++)
        if (strcmp(c->dkim_keys[i].domain, domain) == 0) {
            conf_err(x, "%s: %s already has a key", k->name, domain);
            return -1;
        }
    if (!(d.key_file = conf_resolve(x->dir, argv[2]))) {
        conf_err(x, "%s: path too long", k->name);
        return -1;
    }
    d.domain = xstrdup(domain);
    c->dkim_keys = xrealloc(c->dkim_keys, (c->n_dkim_keys + 1) * sizeof d);
    c->dkim_keys[c->n_dkim_keys++] = d;
    return 0;
}

void conf_free_dkim_keys(struct dkim_sign_key *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].domain);
        free(v[i].key_file);
    }
    free(v);
}

void conf_free_relay_auths(struct relay_auth *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].password_file);
        if (v[i].password) {
            explicit_bzero(v[i].password, strlen(v[i].password));
            free(v[i].password);
        }
    }
    free(v);
}

static const char *const conf_tls_policy_names[] = {"none", "may", "encrypt", "verify"};

const char *conf_tls_policy_name(enum tls_policy p)
{
    return (unsigned)p < 4 ? conf_tls_policy_names[p] : "?";
}

/* tls_policy DOMAIN|* none|may|encrypt|verify: a later line for the same domain wins. */
static int conf_add_tls_policy(struct conf_ctx *x, const struct conf_key *k, char **argv,
                               int argc)
{
    (void)argc;
    struct tls_policy_rule r;
    str_lower(argv[0]);
    if ((strcmp(argv[0], "*") != 0 && !conf_valid_hostname(argv[0])) ||
        str_copy(r.domain, sizeof r.domain, argv[0]) < 0) {
        conf_err(x, "%s: invalid domain \"%.100s\" (a domain or *)", k->name, argv[0]);
        return -1;
    }
    size_t p = 0;
    while (p < 4 && strcmp(argv[1], conf_tls_policy_names[p]) != 0)
        p++;
    if (p == 4) {
        conf_err(x, "%s: \"%.100s\" is not one of none|may|encrypt|verify", k->name, argv[1]);
        return -1;
    }
    r.policy = (enum tls_policy)p;
    struct conf *c = x->c;
    for (size_t i = 0; i < c->n_tls_policies; i++)
        if (strcmp(c->tls_policies[i].domain, r.domain) == 0) {
            c->tls_policies[i].policy = r.policy;
            return 0;
        }
    c->tls_policies = xrealloc(c->tls_policies, (c->n_tls_policies + 1) * sizeof r);
    c->tls_policies[c->n_tls_policies++] = r;
    return 0;
}

/* ---- listeners ---- */

static const char *const conf_listen_names[] = {"smtp", "submission", "smtps", "pop3", "pop3s",
                                                "metrics", "web", "webs"};

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
        conf_err(x, "%s: unknown kind \"%.100s\" (smtp, submission, smtps, pop3, pop3s, "
                 "metrics, web, webs)", k->name,
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
    if ((l.kind == LISTEN_SMTPS || l.kind == LISTEN_POP3S || l.kind == LISTEN_WEBS) &&
        !x->line_tls_listen)
        x->line_tls_listen = x->line;
    c->listens = xrealloc(c->listens, (c->n_listens + 1) * sizeof l);
    c->listens[c->n_listens++] = l;
    return 0;
}

/* ---- the kinds and the keys ---- */

typedef int (*conf_parse_fn)(struct conf_ctx *x, const struct conf_key *k, char **argv, int argc);

/* How a kind is parsed: its function and how many values a line gives it. */
static const struct conf_kind_parser {
    conf_parse_fn parse;
    int min_args, max_args;
} conf_kind_parsers[CONF_KIND_COUNT_OF_KINDS] = {
    [CONF_KIND_PATH] = {conf_set_path, 1, 1},
    [CONF_KIND_HOSTNAME] = {conf_set_hostname, 1, 1},
    [CONF_KIND_USER] = {conf_set_user, 1, 1},
    [CONF_KIND_DURATION] = {conf_set_dur, 1, 1},
    [CONF_KIND_SIZE] = {conf_set_size, 1, 1},
    [CONF_KIND_COUNT] = {conf_set_count, 1, 1},
    [CONF_KIND_PORT] = {conf_set_port, 1, 1},
    [CONF_KIND_DOMAINS] = {conf_set_domains, 1, CONF_MAX_ARGS},
    [CONF_KIND_NETWORKS] = {conf_set_networks, 1, CONF_MAX_ARGS},
    [CONF_KIND_HOSTPORT] = {conf_set_hostport, 1, 1},
    [CONF_KIND_RESOLVERS] = {conf_set_dns, 1, CONF_MAX_ARGS},
    [CONF_KIND_ROUTE] = {conf_add_route, 2, 2},
    [CONF_KIND_LISTEN] = {conf_add_listen, 2, 2},
    [CONF_KIND_LOGFILE] = {conf_set_logfile, 1, 1},
    [CONF_KIND_CHOICE] = {conf_set_choice, 1, 1},
    [CONF_KIND_RELAY_AUTH] = {conf_add_relay_auth, 3, 3},
    [CONF_KIND_TLS_POLICY] = {conf_add_tls_policy, 2, 2},
    [CONF_KIND_DKIM_SIGN] = {conf_add_dkim_sign, 3, 3},
};

int conf_key_parse(struct conf_ctx *x, const struct conf_key *k, char **argv, int argc)
{
    const struct conf_kind_parser *p = &conf_kind_parsers[k->kind];
    if (argc < p->min_args || argc > p->max_args) {
        conf_err(x, "%s: %s", k->name, argc < p->min_args ? "missing value" : "too many values");
        return -1;
    }
    return p->parse(x, k, argv, argc);
}

#define OFF(f) offsetof(struct conf, f)
#define KEY(n, kd, f, d) {.name = n, .kind = CONF_KIND_##kd, .off = OFF(f), .dflt = d}
#define OPT(n, kd, f, unset_text) \
    {.name = n, .kind = CONF_KIND_##kd, .off = OFF(f), .unset = unset_text}
#define LIST(n, kd, f, d, unset_text) \
    {.name = n, .kind = CONF_KIND_##kd, .off = OFF(f), .off_n = OFF(n_##f), .dflt = d, \
     .unset = unset_text}
#define NUM(n, kd, f, d, lo) \
    {.name = n, .kind = CONF_KIND_##kd, .off = OFF(f), .dflt = d, .min = lo, \
     .max = CONF_COUNT_MAX}

/* Every key, in the order `postino check` prints them (INTERFACE.md "Config file"). */
const struct conf_key conf_keys[] = {
    KEY("hostname", HOSTNAME, hostname, NULL), /* default: gethostname() */
    {.name = "data_dir", .kind = CONF_KIND_PATH, .off = OFF(data_dir), .dflt = "./postino-data",
     .restart = 1},
    {.name = "listen", .kind = CONF_KIND_LISTEN, .off = OFF(listens), .off_n = OFF(n_listens),
     .dflt = "smtp 127.0.0.1:2525; submission 127.0.0.1:2587; pop3 127.0.0.1:2110",
     .restart = 1},
    LIST("local_domains", DOMAINS, local_domains, "localhost", "none"),
    {.name = "users", .kind = CONF_KIND_PATH, .off = OFF(users_file), .unset = "none",
     .print = conf_print_users},
    {.name = "aliases", .kind = CONF_KIND_PATH, .off = OFF(aliases_file), .unset = "none",
     .print = conf_print_aliases},
    LIST("relay_networks", NETWORKS, relay_networks, "127.0.0.0/8 ::1/128", NULL),
    {.name = "relayhost", .kind = CONF_KIND_HOSTPORT, .off = OFF(relayhost),
     .off_n = OFF(has_relayhost), .unset = "none"},
    LIST("relay_domains", DOMAINS, relay_domains, NULL, "none"),
    LIST("route", ROUTE, routes, NULL, NULL),
    {.name = "dns_servers", .kind = CONF_KIND_RESOLVERS, .off = OFF(dns_servers),
     .off_n = OFF(n_dns_servers), .unset = "from /etc/resolv.conf", .restart = 1},
    KEY("smtp_port", PORT, smtp_port, "25"),
    OPT("tls_cert", PATH, tls_cert, "none"),
    OPT("tls_key", PATH, tls_key, "none"),
    NUM("max_message_size", SIZE, max_message_size, "25M", 1),
    NUM("max_recipients", COUNT, max_recipients, "1000", 1),
    NUM("retry_min", DURATION, retry_min_ms, "5m", 1),
    NUM("retry_max", DURATION, retry_max_ms, "1h", 1),
    NUM("delay_warning", DURATION, delay_warning_ms, "4h", 0), /* 0 = never */
    NUM("queue_lifetime", DURATION, queue_lifetime_ms, "5d", 1),
    NUM("timeout_greeting", DURATION, timeout_greeting_ms, "5m", 1),
    NUM("timeout_mail", DURATION, timeout_mail_ms, "5m", 1),
    NUM("timeout_rcpt", DURATION, timeout_rcpt_ms, "5m", 1),
    NUM("timeout_data_init", DURATION, timeout_data_init_ms, "2m", 1),
    NUM("timeout_data_block", DURATION, timeout_data_block_ms, "3m", 1),
    NUM("timeout_data_end", DURATION, timeout_data_end_ms, "10m", 1),
    NUM("timeout_server", DURATION, timeout_server_ms, "5m", 1),
    NUM("timeout_pop3", DURATION, timeout_pop3_ms, "10m", 1),
    {.name = "max_connections", .kind = CONF_KIND_COUNT, .off = OFF(max_connections),
     .dflt = "1000", .min = 1, .max = CONF_COUNT_MAX, .restart = 1}, /* sized the fd limit */
    NUM("max_connections_per_ip", COUNT, max_connections_per_ip, "50", 1),
    NUM("max_hops", COUNT, max_hops, "50", 1),
    NUM("dsn_return_limit", SIZE, dsn_return_limit, "50K", 0), /* 0 = headers only */
    /* no "none": least privilege is the default */
    {.name = "run_as", .kind = CONF_KIND_USER, .off = OFF(run_as), .dflt = "postino",
     .restart = 1},
    {.name = "log_file", .kind = CONF_KIND_LOGFILE, .off = OFF(log_file), .unset = "stderr",
     .restart = 1},
    {.name = "log_format", .kind = CONF_KIND_CHOICE, .off = OFF(log_format), .dflt = "text",
     .choices = "text|json"},
    LIST("relay_auth", RELAY_AUTH, relay_auths, NULL, "none"),
    LIST("tls_policy", TLS_POLICY, tls_policies, "* may", NULL),
    OPT("tls_ca_file", PATH, tls_ca_file, "the system CA store"),
    LIST("dkim_sign", DKIM_SIGN, dkim_keys, NULL, "none"),
    {.name = "auth_checks", .kind = CONF_KIND_CHOICE, .off = OFF(auth_checks), .dflt = "on",
     .choices = "on|off"},
    {.name = "dmarc_reject", .kind = CONF_KIND_CHOICE, .off = OFF(dmarc_reject), .dflt = "off",
     .choices = "on|off"},
    NUM("track_retention", DURATION, track_retention_ms, "30d", 1),
    {.name = "reject_unmatched_dsn", .kind = CONF_KIND_CHOICE, .off = OFF(reject_unmatched_dsn),
     .dflt = "off", .choices = "on|off"},
    NUM("timeout_web", DURATION, timeout_web_ms, "30m", 1),
};
const size_t conf_keys_count = sizeof conf_keys / sizeof conf_keys[0];
_Static_assert(sizeof conf_keys / sizeof conf_keys[0] <= CONF_KEYS_MAX, "raise CONF_KEYS_MAX");
