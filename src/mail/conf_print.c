/*
 * conf_print: `postino check` output, the effective settings of a struct
 * conf written back in config-file syntax, one "key value" line each
 * (see conf.h). Durations and sizes use their shortest exact form
 * (dur_format, size_format); listeners and routes get a line each.
 * An optional key that is unset is printed as a comment ("# users none",
 * "# log_file stderr"), so the output is itself a valid config file that
 * means the same. The users and aliases counts are comments too.
 * Only formats; never validates, loads or changes anything.
 */
#include "mail/conf.h"
#include "lib/dur.h"
#include "lib/str.h"
#include "mail/alias.h"
#include "mail/auth.h"
#include <arpa/inet.h>
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

static void conf_print_list(FILE *out, const char *key, char *const *v, size_t n)
{
    if (n == 0)
        fprintf(out, "# %s none\n", key);
    else {
        fputs(key, out);
        for (size_t i = 0; i < n; i++)
            fprintf(out, " %s", v[i]);
        fputc('\n', out);
    }
}

static void conf_print_opt(FILE *out, const char *key, const char *v, const char *absent)
{
    if (v)
        fprintf(out, "%s %s\n", key, v);
    else
        fprintf(out, "# %s %s\n", key, absent);
}

static void conf_print_listens(const struct conf *c, FILE *out)
{
    for (size_t i = 0; i < c->n_listens; i++) {
        const struct listen_spec *l = &c->listens[i];
        int v6 = strchr(l->addr, ':') != NULL;
        fprintf(out, "listen %s %s%s%s:%d\n", conf_listen_kind_name(l->kind), v6 ? "[" : "",
                l->addr, v6 ? "]" : "", l->port);
    }
}

static void conf_print_networks(const struct conf *c, FILE *out)
{
    fputs("relay_networks", out);
    for (size_t i = 0; i < c->n_relay_networks; i++) {
        char a[INET6_ADDRSTRLEN];
        const struct cidr *n = &c->relay_networks[i];
        inet_ntop(n->family, n->addr, a, sizeof a);
        fprintf(out, " %s/%d", a, n->prefix);
    }
    fputc('\n', out);
}

static void conf_print_hops(const struct conf *c, FILE *out)
{
    char hp[300];
    if (c->has_relayhost) {
        conf_format_hostport(&c->relayhost, hp, sizeof hp);
        fprintf(out, "relayhost %s\n", hp);
    } else {
        fputs("# relayhost none\n", out);
    }
    conf_print_list(out, "relay_domains", c->relay_domains, c->n_relay_domains);
    for (size_t i = 0; i < c->n_routes; i++) {
        conf_format_hostport(&c->routes[i].hop, hp, sizeof hp);
        fprintf(out, "route %s %s\n", c->routes[i].domain, hp);
    }
    if (c->n_dns_servers == 0)
        fputs("# dns_servers from /etc/resolv.conf\n", out);
    else {
        fputs("dns_servers", out);
        for (size_t i = 0; i < c->n_dns_servers; i++) {
            conf_format_hostport(&c->dns_servers[i], hp, sizeof hp);
            fprintf(out, " %s", hp);
        }
        fputc('\n', out);
    }
}

static void conf_print_dur(FILE *out, const char *key, int64_t ms)
{
    char d[32];
    dur_format(ms, d, sizeof d);
    fprintf(out, "%s %s\n", key, d);
}

static void conf_print_size(FILE *out, const char *key, uint64_t bytes)
{
    char s[32];
    size_format(bytes, s, sizeof s);
    fprintf(out, "%s %s\n", key, s);
}

static void conf_print_limits(const struct conf *c, FILE *out)
{
    conf_print_size(out, "max_message_size", c->max_message_size);
    fprintf(out, "max_recipients %u\n", c->max_recipients);
    conf_print_dur(out, "retry_min", c->retry_min_ms);
    conf_print_dur(out, "retry_max", c->retry_max_ms);
    conf_print_dur(out, "delay_warning", c->delay_warning_ms);
    conf_print_dur(out, "queue_lifetime", c->queue_lifetime_ms);
    conf_print_dur(out, "timeout_greeting", c->timeout_greeting_ms);
    conf_print_dur(out, "timeout_mail", c->timeout_mail_ms);
    conf_print_dur(out, "timeout_rcpt", c->timeout_rcpt_ms);
    conf_print_dur(out, "timeout_data_init", c->timeout_data_init_ms);
    conf_print_dur(out, "timeout_data_block", c->timeout_data_block_ms);
    conf_print_dur(out, "timeout_data_end", c->timeout_data_end_ms);
    conf_print_dur(out, "timeout_server", c->timeout_server_ms);
    conf_print_dur(out, "timeout_pop3", c->timeout_pop3_ms);
    fprintf(out, "max_connections %u\n", c->max_connections);
    fprintf(out, "max_connections_per_ip %u\n", c->max_connections_per_ip);
    fprintf(out, "max_hops %u\n", c->max_hops);
    conf_print_size(out, "dsn_return_limit", c->dsn_return_limit);
}

void conf_print(const struct conf *c, FILE *out)
{
    fprintf(out, "# postino configuration: %s\n", c->path ? c->path : "built-in defaults");
    fprintf(out, "hostname %s\n", c->hostname);
    fprintf(out, "data_dir %s\n", c->data_dir);
    conf_print_listens(c, out);
    conf_print_list(out, "local_domains", c->local_domains, c->n_local_domains);
    conf_print_opt(out, "users", c->users_file, "none");
    if (c->users)
        fprintf(out, "# %zu users\n", users_count(c->users));
    conf_print_opt(out, "aliases", c->aliases_file, "none");
    if (c->aliases)
        fprintf(out, "# %zu aliases\n", aliases_count(c->aliases));
    conf_print_networks(c, out);
    conf_print_hops(c, out);
    fprintf(out, "smtp_port %d\n", c->smtp_port);
    conf_print_opt(out, "tls_cert", c->tls_cert, "none");
    conf_print_opt(out, "tls_key", c->tls_key, "none");
    conf_print_limits(c, out);
    conf_print_opt(out, "run_as", c->run_as, "none");
    conf_print_opt(out, "log_file", c->log_file, "stderr");
}
