/*
 * conf_print: `postino check` output, the effective settings of a struct
 * conf written back in config-file syntax, one "key value" line each
 * (see conf.h), by walking conf_keys[]: the kind of a key chooses its
 * printer. Durations and sizes use their shortest exact form (dur_format,
 * size_format); listeners and routes get a line each.
 * An optional key that is unset is printed as a comment ("# users none",
 * "# log_file stderr"), so the output is itself a valid config file that
 * means the same. The users and aliases counts are comments too.
 * Only formats; never validates, loads or changes anything.
 */
#include "mail/conf.h"
#include "mail/conf_keys.h"
#include "lib/dur.h"
#include "lib/str.h"
#include "mail/alias.h"
#include "mail/auth.h"
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "[host]:port", "host:port", "host"; a bare IPv6 address always in brackets. */
static void conf_format_hostport(const struct hostport *hp, char *out, size_t size)
{
    int br = hp->no_mx || strchr(hp->host, ':');
    char port[16] = "";
    if (hp->port)
        str_fmt(port, sizeof port, ":%d", hp->port);
    str_fmt(out, size, "%s%s%s%s", br ? "[" : "", hp->host, br ? "]" : "", port);
}

/* "key value", or "# key UNSET" without a value. */
static void conf_print_pair(FILE *out, const struct conf_key *k, const char *v)
{
    if (v)
        fprintf(out, "%s %s\n", k->name, v);
    else
        fprintf(out, "# %s %s\n", k->name, k->unset);
}

static void conf_print_string(const struct conf *c, const struct conf_key *k, FILE *out)
{
    conf_print_pair(out, k, *CONF_FIELD(c, k, char *));
}

static void conf_print_dur(const struct conf *c, const struct conf_key *k, FILE *out)
{
    char d[32];
    dur_format(*CONF_FIELD(c, k, int64_t), d, sizeof d);
    conf_print_pair(out, k, d);
}

static void conf_print_size(const struct conf *c, const struct conf_key *k, FILE *out)
{
    char s[32];
    size_format(*CONF_FIELD(c, k, uint64_t), s, sizeof s);
    conf_print_pair(out, k, s);
}

static void conf_print_count(const struct conf *c, const struct conf_key *k, FILE *out)
{
    fprintf(out, "%s %u\n", k->name, *CONF_FIELD(c, k, unsigned));
}

static void conf_print_port(const struct conf *c, const struct conf_key *k, FILE *out)
{
    fprintf(out, "%s %d\n", k->name, *CONF_FIELD(c, k, int));
}

static void conf_print_hostport(const struct conf *c, const struct conf_key *k, FILE *out)
{
    char hp[300];
    conf_format_hostport(CONF_FIELD(c, k, struct hostport), hp, sizeof hp);
    conf_print_pair(out, k, *CONF_FIELD_N(c, k, int) ? hp : NULL);
}

/* Formats entry i of a list key into out. */
typedef void (*conf_item_fn)(const void *list, size_t i, char *out, size_t size);

/* "key v1 v2 ...", or "# key UNSET" for an empty list that has an unset text. */
static void conf_print_items(const struct conf *c, const struct conf_key *k, FILE *out,
                             conf_item_fn item)
{
    const void *list = *CONF_FIELD(c, k, void *);
    size_t n = *CONF_FIELD_N(c, k, size_t);
    if (n == 0 && k->unset) {
        conf_print_pair(out, k, NULL);
        return;
    }
    fputs(k->name, out);
    for (size_t i = 0; i < n; i++) {
        char v[300];
        item(list, i, v, sizeof v);
        fprintf(out, " %s", v);
    }
    fputc('\n', out);
}

static void conf_item_string(const void *list, size_t i, char *out, size_t size)
{
    str_copy(out, size, ((char *const *)list)[i]);
}

static void conf_item_cidr(const void *list, size_t i, char *out, size_t size)
{
    char a[INET6_ADDRSTRLEN];
    const struct cidr *n = &((const struct cidr *)list)[i];
    inet_ntop(n->family, n->addr, a, sizeof a);
    str_fmt(out, size, "%s/%d", a, n->prefix);
}

static void conf_item_hostport(const void *list, size_t i, char *out, size_t size)
{
    conf_format_hostport(&((const struct hostport *)list)[i], out, size);
}

static void conf_print_domains(const struct conf *c, const struct conf_key *k, FILE *out)
{
    conf_print_items(c, k, out, conf_item_string);
}

static void conf_print_networks(const struct conf *c, const struct conf_key *k, FILE *out)
{
    conf_print_items(c, k, out, conf_item_cidr);
}

static void conf_print_resolvers(const struct conf *c, const struct conf_key *k, FILE *out)
{
    conf_print_items(c, k, out, conf_item_hostport);
}

static void conf_print_routes(const struct conf *c, const struct conf_key *k, FILE *out)
{
    char hp[300];
    for (size_t i = 0; i < c->n_routes; i++) {
        conf_format_hostport(&c->routes[i].hop, hp, sizeof hp);
        fprintf(out, "%s %s %s\n", k->name, c->routes[i].domain, hp);
    }
}

static void conf_print_listens(const struct conf *c, const struct conf_key *k, FILE *out)
{
    for (size_t i = 0; i < c->n_listens; i++) {
        const struct listen_spec *l = &c->listens[i];
        int v6 = strchr(l->addr, ':') != NULL;
        fprintf(out, "%s %s %s%s%s:%d\n", k->name, conf_listen_kind_name(l->kind),
                v6 ? "[" : "", l->addr, v6 ? "]" : "", l->port);
    }
}

/* One line each; the password is never printed, only the file that holds it. */
static void conf_print_relay_auths(const struct conf *c, const struct conf_key *k, FILE *out)
{
    char hp[300];
    if (c->n_relay_auths == 0)
        conf_print_pair(out, k, NULL);
    for (size_t i = 0; i < c->n_relay_auths; i++) {
        conf_format_hostport(&c->relay_auths[i].hop, hp, sizeof hp);
        fprintf(out, "%s %s %s %s\n", k->name, hp, c->relay_auths[i].user,
                c->relay_auths[i].password_file);
    }
}

/* One line each; the key itself is never printed, only its file. */
static void conf_print_dkim_keys(const struct conf *c, const struct conf_key *k, FILE *out)
{
    if (c->n_dkim_keys == 0)
        conf_print_pair(out, k, NULL);
    for (size_t i = 0; i < c->n_dkim_keys; i++)
        fprintf(out, "%s %s %s %s\n", k->name, c->dkim_keys[i].domain, c->dkim_keys[i].selector,
                c->dkim_keys[i].key_file);
}

static void conf_print_tls_policies(const struct conf *c, const struct conf_key *k, FILE *out)
{
    for (size_t i = 0; i < c->n_tls_policies; i++)
        fprintf(out, "%s %s %s\n", k->name, c->tls_policies[i].domain,
                conf_tls_policy_name(c->tls_policies[i].policy));
}

void conf_print_users(const struct conf *c, const struct conf_key *k, FILE *out)
{
    conf_print_string(c, k, out);
    if (c->users)
        fprintf(out, "# %zu users\n", users_count(c->users));
}

void conf_print_aliases(const struct conf *c, const struct conf_key *k, FILE *out)
{
    conf_print_string(c, k, out);
    if (c->aliases)
        fprintf(out, "# %zu aliases\n", aliases_count(c->aliases));
}

static const conf_print_fn conf_kind_printers[CONF_KIND_COUNT_OF_KINDS] = {
    [CONF_KIND_PATH] = conf_print_string,
    [CONF_KIND_HOSTNAME] = conf_print_string,
    [CONF_KIND_USER] = conf_print_string,
    [CONF_KIND_DURATION] = conf_print_dur,
    [CONF_KIND_SIZE] = conf_print_size,
    [CONF_KIND_COUNT] = conf_print_count,
    [CONF_KIND_PORT] = conf_print_port,
    [CONF_KIND_DOMAINS] = conf_print_domains,
    [CONF_KIND_NETWORKS] = conf_print_networks,
    [CONF_KIND_HOSTPORT] = conf_print_hostport,
    [CONF_KIND_RESOLVERS] = conf_print_resolvers,
    [CONF_KIND_ROUTE] = conf_print_routes,
    [CONF_KIND_LISTEN] = conf_print_listens,
    [CONF_KIND_LOGFILE] = conf_print_string,
    [CONF_KIND_CHOICE] = conf_print_string,
    [CONF_KIND_RELAY_AUTH] = conf_print_relay_auths,
    [CONF_KIND_TLS_POLICY] = conf_print_tls_policies,
    [CONF_KIND_DKIM_SIGN] = conf_print_dkim_keys,
};

void conf_print(const struct conf *c, FILE *out)
{
    fprintf(out, "# postino configuration: %s\n", c->path ? c->path : "built-in defaults");
    for (size_t i = 0; i < conf_keys_count; i++) {
        const struct conf_key *k = &conf_keys[i];
        (k->print ? k->print : conf_kind_printers[k->kind])(c, k, out);
    }
}

/* Key k of c as `postino check` prints it, in a malloc'd string (NULL without memory). */
static char *conf_key_text(const struct conf *c, const struct conf_key *k)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    (k->print ? k->print : conf_kind_printers[k->kind])(c, k, f);
    fclose(f);
    return text;
}

int conf_key_differs(const struct conf *a, const struct conf *b, const struct conf_key *k)
{
    char *ta = conf_key_text(a, k), *tb = conf_key_text(b, k);
    int differs = !ta || !tb || strcmp(ta, tb) != 0;
    free(ta);
    free(tb);
    return differs;
}
