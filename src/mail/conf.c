/*
 * conf: postino's settings, their defaults and the postino.conf parser
 * (see conf.h and INTERFACE.md "Config file").
 *
 * Owns: reading the file (one key and its values a line), the built-in
 * defaults (each key's default, from its row of conf_keys[], parsed as if it
 * were a line of the file), the checks that span keys (retry_min <=
 * retry_max, tls_cert with tls_key, smtps/pop3s need a certificate, a domain
 * cannot be both local and relay), loading the users and aliases files the
 * config names and the relay_auth password files, and freeing. No network.
 * `#` starts a comment anywhere on a line. Relative paths, including the
 * default data_dir, are joined to the config file's folder (made absolute),
 * or to the current directory without a config file. The key table and the
 * value parsers are in conf_keys.c, the value types in conf_value.c,
 * printing in conf_print.c.
 */
#include "mail/conf.h"
#include "mail/conf_keys.h"
#include "lib/alloc.h"
#include "lib/dur.h"
#include "lib/fsio.h"
#include "lib/linefile.h"
#include "lib/str.h"
#include "mail/alias.h"
#include "mail/auth.h"
#include "proto/intl.h"
#include <errno.h>
#include <pwd.h>
#include <stdatomic.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONF_FILE_MAX (1u << 20)
#define CONF_MAX_WORDS 256

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

static void conf_defaults_in(struct conf_ctx *x);

/* ---- the file ---- */

/* Splits a line (comment removed) into blank-separated words; -1 if too many. */
static int conf_split(char *s, char **argv, int *argc)
{
    char *hash = strchr(s, '#'), *save = NULL;
    if (hash)
        *hash = '\0';
    *argc = 0;
    for (char *w = strtok_r(s, " \t\r\v\f", &save); w; w = strtok_r(NULL, " \t\r\v\f", &save)) {
        if (*argc == CONF_MAX_WORDS + 1)
            return -1;
        argv[(*argc)++] = w;
    }
    return 0;
}

static int conf_parse_line(struct conf_ctx *x, char *s)
{
    char *argv[CONF_MAX_WORDS + 1];
    int argc;
    if (conf_split(s, argv, &argc) < 0) {
        conf_err(x, "too many values");
        return -1;
    }
    if (argc == 0)
        return 0;
    for (size_t i = 0; i < conf_keys_count; i++) {
        if (strcmp(argv[0], conf_keys[i].name) != 0)
            continue;
        x->key_line[i] = x->line;
        return conf_key_parse(x, &conf_keys[i], argv + 1, argc - 1);
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
    for (size_t i = 0; i < conf_keys_count; i++)
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
        conf_err(x, "listen: smtps, pop3s and webs listeners need tls_cert and tls_key");
        return -1;
    }
    return 0;
}

/* The TLS files must be readable: only for the full load (serve, check). A key is
 * mode 0600, so the commands any local user runs (sendmail, mailq) never look at it. */
static int conf_check_tls_files(struct conf_ctx *x)
{
    const struct conf *c = x->c;
    if (c->tls_ca_file &&
        conf_check_readable(x, c->tls_ca_file, conf_key_line(x, "tls_ca_file")) < 0)
        return -1;
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

/* run_as must not name uid 0 under another name than root (the key parser
 * refuses "root" itself): only for the full load, like the TLS files, so
 * sendmail and mailq do no user lookup. A missing user is for serve to say. */
static int conf_check_run_as(struct conf_ctx *x)
{
    struct passwd *pw = getpwnam(x->c->run_as);
    if (!pw || pw->pw_uid != 0)
        return 0;
    x->line = conf_key_line(x, "run_as");
    conf_err(x, "run_as %s: refused, it is uid 0 (root); name an unprivileged user",
             x->c->run_as);
    return -1;
}

int conf_load_tables(struct conf *c, struct buf *err)
{
    if (c->users_file && !(c->users = users_load(c->users_file, err)))
        return -1;
    if (c->aliases_file && !(c->aliases = aliases_load(c->aliases_file, err)))
        return -1;
    return 0;
}

/* linefile callback: keeps the first line of a password file (the rest is ignored). */
static int conf_password_line(void *ctx, char *line, unsigned lineno)
{
    struct relay_auth *a = ctx;
    if (lineno != 1)
        return 0;
    size_t n = strlen(line);
    if (n && line[n - 1] == '\r')
        line[--n] = '\0';
    if (n == 0 || n > RELAY_AUTH_PASS_MAX)
        return -1;
    a->password = xstrdup(line);
    return 0;
}

/* Reads the password of every relay_auth line (the first line of its file, 1 to
 * RELAY_AUTH_PASS_MAX bytes). The error names the file, never its content. */
static int conf_load_passwords(struct conf *c, struct buf *err)
{
    for (size_t i = 0; i < c->n_relay_auths; i++) {
        struct relay_auth *a = &c->relay_auths[i];
        size_t before = err->len;
        if (linefile_each(a->password_file, 65536, 1, conf_password_line, a,
                          err) < 0 && err->len > before)
            return -1;
        if (!a->password) {
            buf_printf(err, "%s: relay_auth: the first line must hold the password (1 to %d "
                       "bytes)", a->password_file, RELAY_AUTH_PASS_MAX);
            return -1;
        }
    }
    return 0;
}

static int conf_read(struct conf_ctx *x, const char *path)
{
    return linefile_each(path, CONF_FILE_MAX, 0, conf_parse_file_line, x, x->err);
}

static int conf_load_as(const char *path, struct conf *c, struct buf *err, int tables)
{
    struct conf_ctx x = {.c = c, .file = path, .err = err};
    conf_base_dir(path, x.dir, sizeof x.dir);
    conf_defaults_in(&x);
    if (path) {
        c->path = xstrdup(path);
        if (conf_read(&x, path) < 0 || conf_check(&x) < 0)
            goto fail;
        c->line_max_connections = conf_key_line(&x, "max_connections");
    }
    if (tables && (conf_check_tls_files(&x) < 0 || conf_check_run_as(&x) < 0 ||
                   conf_load_tables(c, err) < 0 || conf_load_passwords(c, err) < 0))
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

/* Sets key k to its default: each "; "-separated part of it parsed as a line of the file. */
static void conf_default_key(struct conf_ctx *x, const struct conf_key *k)
{
    char text[256], *save = NULL;
    if (!k->dflt || str_copy(text, sizeof text, k->dflt) < 0)
        return;
    for (char *part = strtok_r(text, ";", &save); part; part = strtok_r(NULL, ";", &save)) {
        char *argv[CONF_MAX_WORDS + 1];
        int argc;
        if (conf_split(part, argv, &argc) < 0 || conf_key_parse(x, k, argv, argc) < 0) {
            if (k->kind == CONF_KIND_PATH)
                return; /* joined to a folder too deep: see conf_defaults_in */
            fprintf(stderr, "postino: bad built-in default of %s: %s\n", k->name,
                    buf_cstr(x->err));
            abort();
        }
    }
}

/* Fills x->c with the defaults of every key, relative paths joined to x->dir. */
static void conf_defaults_in(struct conf_ctx *x)
{
    struct conf *c = x->c;
    struct buf err;
    struct conf_ctx d = {.c = c, .file = "built-in defaults", .err = &err};
    char host[256] = "";
    buf_init(&err, 1024);
    str_copy(d.dir, sizeof d.dir, x->dir);
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < conf_keys_count; i++)
        conf_default_key(&d, &conf_keys[i]);
    buf_free(&err);
    if (!c->data_dir)
        c->data_dir = xstrdup("postino-data");
    /* a machine name the hostname key would refuse (say "build_42") is no
     * default: it would go out in EHLO, and `postino check` would print a
     * config that does not load */
    if (gethostname(host, sizeof host - 1) < 0 || !conf_valid_hostname(host))
        str_copy(host, sizeof host, "localhost");
    c->hostname = xstrdup(host);
}

void conf_defaults(struct conf *c)
{
    struct conf_ctx x = {.c = c};
    conf_base_dir(NULL, x.dir, sizeof x.dir);
    conf_defaults_in(&x);
}

/* Frees the value of key k in c. */
static void conf_free_key(struct conf *c, const struct conf_key *k)
{
    switch (k->kind) {
    case CONF_KIND_DOMAINS:
        conf_free_strv(*CONF_FIELD(c, k, char **), *CONF_FIELD_N(c, k, size_t));
        break;
    case CONF_KIND_PATH: case CONF_KIND_HOSTNAME: case CONF_KIND_USER:
    case CONF_KIND_NETWORKS: case CONF_KIND_RESOLVERS: case CONF_KIND_ROUTE:
    case CONF_KIND_LISTEN: case CONF_KIND_LOGFILE: case CONF_KIND_CHOICE:
    case CONF_KIND_TLS_POLICY:
        free(*CONF_FIELD(c, k, void *));
        break;
    case CONF_KIND_RELAY_AUTH:
        conf_free_relay_auths(*CONF_FIELD(c, k, struct relay_auth *),
                              *CONF_FIELD_N(c, k, size_t));
        break;
    case CONF_KIND_DKIM_SIGN:
        conf_free_dkim_keys(*CONF_FIELD(c, k, struct dkim_sign_key *), *CONF_FIELD_N(c, k, size_t));
        break;
    case CONF_KIND_DURATION: case CONF_KIND_SIZE: case CONF_KIND_COUNT: case CONF_KIND_PORT:
    case CONF_KIND_HOSTPORT: case CONF_KIND_COUNT_OF_KINDS:
        break;
    }
}

void conf_free(struct conf *c)
{
    free(c->path);
    for (size_t i = 0; i < conf_keys_count; i++)
        conf_free_key(c, &conf_keys[i]);
    users_free(c->users);
    aliases_free(c->aliases);
    memset(c, 0, sizeof *c);
}

/* ---- reload ---- */

/* Sets key k of to to a copy of its value in from (the kinds of the restart keys). */
static void conf_copy_key(struct conf *to, const struct conf *from, const struct conf_key *k)
{
    size_t n = k->off_n ? *CONF_FIELD_N(from, k, size_t) : 0;
    conf_free_key(to, k);
    switch (k->kind) {
    case CONF_KIND_PATH: case CONF_KIND_HOSTNAME: case CONF_KIND_USER: case CONF_KIND_LOGFILE:
    case CONF_KIND_CHOICE: {
        char *v = *CONF_FIELD(from, k, char *);
        *CONF_FIELD(to, k, char *) = v ? xstrdup(v) : NULL;
        break;
    }
    case CONF_KIND_COUNT:
        *CONF_FIELD(to, k, unsigned) = *CONF_FIELD(from, k, unsigned);
        break;
    case CONF_KIND_LISTEN:
        *CONF_FIELD(to, k, struct listen_spec *) =
            xmemdup(*CONF_FIELD(from, k, struct listen_spec *), n * sizeof(struct listen_spec));
        *CONF_FIELD_N(to, k, size_t) = n;
        break;
    case CONF_KIND_RESOLVERS:
        *CONF_FIELD(to, k, struct hostport *) =
            xmemdup(*CONF_FIELD(from, k, struct hostport *), n * sizeof(struct hostport));
        *CONF_FIELD_N(to, k, size_t) = n;
        break;
    default: /* no restart key is of another kind (test_conf checks it) */
        abort();
    }
}

void conf_keep_restart_keys(struct conf *c, const struct conf *running, char *changed,
                            size_t size)
{
    size_t used = 0;
    if (size)
        changed[0] = '\0';
    for (size_t i = 0; i < conf_keys_count; i++) {
        const struct conf_key *k = &conf_keys[i];
        if (!k->restart || !conf_key_differs(c, running, k))
            continue;
        if (used < size) {
            str_fmt(changed + used, size - used, "%s%s", used ? ", " : "", k->name);
            used += strlen(changed + used);
        }
        conf_copy_key(c, running, k);
    }
}

/* ---- the reference count of a reloadable conf ---- */

struct conf_count {
    atomic_uint refs;
    struct conf *self;
};

struct conf *conf_new(const char *path, struct buf *err)
{
    struct conf *c = xcalloc(1, sizeof *c);
    if (conf_load(path, c, err) < 0) {
        free(c);
        return NULL;
    }
    c->count = xcalloc(1, sizeof *c->count);
    atomic_init(&c->count->refs, 1);
    c->count->self = c;
    return c;
}

const struct conf *conf_hold(const struct conf *c)
{
    if (c && c->count)
        atomic_fetch_add_explicit(&c->count->refs, 1, memory_order_relaxed);
    return c;
}

void conf_release(const struct conf *c)
{
    if (!c || !c->count)
        return;
    /* acq_rel: whatever the last holder wrote happens before the free */
    if (atomic_fetch_sub_explicit(&c->count->refs, 1, memory_order_acq_rel) != 1)
        return;
    struct conf_count *count = c->count;
    conf_free(count->self);
    free(count->self);
    free(count);
}

void conf_replace(const struct conf **slot, const struct conf *c)
{
    const struct conf *old = *slot;
    *slot = conf_hold(c);
    conf_release(old);
}

/* ---- queries ---- */

static int conf_in_list(char *const *v, size_t n, const char *domain)
{
    for (size_t i = 0; i < n; i++)
        if (intl_domain_equal(v[i], domain))
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

enum tls_policy conf_tls_policy(const struct conf *c, const char *domain)
{
    enum tls_policy any = TLS_POLICY_MAY;
    for (size_t i = 0; i < c->n_tls_policies; i++) {
        if (str_ieq(c->tls_policies[i].domain, domain))
            return c->tls_policies[i].policy;
        if (strcmp(c->tls_policies[i].domain, "*") == 0)
            any = c->tls_policies[i].policy;
    }
    return any;
}

const struct relay_auth *conf_find_relay_auth(const struct conf *c, const char *host, int port,
                                              int no_mx)
{
    for (size_t i = 0; i < c->n_relay_auths; i++) {
        const struct hostport *hp = &c->relay_auths[i].hop;
        if (str_ieq(hp->host, host) && !hp->no_mx == !no_mx &&
            (hp->port ? hp->port : c->smtp_port) == (port ? port : c->smtp_port))
            return &c->relay_auths[i];
    }
    return NULL;
}

const struct route *conf_find_route(const struct conf *c, const char *domain)
{
    for (size_t i = 0; i < c->n_routes; i++)
        if (intl_domain_equal(c->routes[i].domain, domain))
            return &c->routes[i];
    return NULL;
}
