/*
 * conf: the one typed table of postino's settings (INTERFACE.md "Config
 * file"), their defaults, and the parser of postino.conf. Every key is
 * parsed and validated here, including those used only by later features.
 * An error is reported as "FILE:LINE: what is wrong" in err.
 * Relative paths are resolved against the config file's folder (the current
 * directory for the built-in defaults). Never touches the network.
 */
#ifndef POSTINO_CONF_H
#define POSTINO_CONF_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include "lib/buf.h"

struct users;
struct aliases;
struct conf_count;

enum listen_kind { LISTEN_SMTP, LISTEN_SUBMISSION, LISTEN_SMTPS, LISTEN_POP3, LISTEN_POP3S,
                   LISTEN_METRICS, LISTEN_WEB, LISTEN_WEBS };

struct listen_spec {
    enum listen_kind kind;
    char addr[64];     /* numeric IPv4 or IPv6 (without brackets) */
    int port;
};

struct cidr {
    int family;                /* AF_INET or AF_INET6 */
    unsigned char addr[16];    /* network address, host bits cleared */
    int prefix;
};

struct hostport {
    char host[256];    /* name or numeric address, brackets removed */
    int port;          /* 0 = default (smtp_port) */
    int no_mx;         /* written as [host]: no MX lookup */
};

struct route {
    char domain[256];  /* lower case */
    struct hostport hop;
};

/* tls_policy: how much TLS a next hop must offer (ordered: each asks more than the one before). */
enum tls_policy { TLS_POLICY_NONE, TLS_POLICY_MAY, TLS_POLICY_ENCRYPT, TLS_POLICY_VERIFY };

struct tls_policy_rule {
    char domain[256];  /* lower case, or "*" for every other domain */
    enum tls_policy policy;
};

#define RELAY_AUTH_USER_MAX 320    /* as SASL_USER_MAX (proto/sasl.h) */
#define RELAY_AUTH_PASS_MAX 1024   /* as SASL_PASS_MAX */

/* relay_auth: the credentials for one relayhost or route host. */
struct relay_auth {
    struct hostport hop;       /* as written: [brackets] and the port must match the hop's */
    char user[RELAY_AUTH_USER_MAX + 1];
    char *password_file;       /* joined to the config folder */
    char *password;            /* its first line, read by conf_load (NULL before); never logged */
};

#define DKIM_SELECTOR_MAX 63

/* dkim_sign DOMAIN SELECTOR KEYFILE: one signing key (msgauth/dkim_sign.h reads
 * and checks the key file). */
struct dkim_sign_key {
    char *domain;               /* lower case, A-labels */
    char selector[DKIM_SELECTOR_MAX + 1];
    char *key_file;             /* joined to the config folder */
    unsigned line;              /* where it was given, for FILE:LINE messages */
};

/* A new setting: a field here and one row of conf_keys[] (conf_keys.c). */
struct conf {
    char *path;                 /* config file used, NULL for built-in defaults */
    char *hostname;
    char *data_dir;             /* absolute or relative to cwd, already resolved */
    struct listen_spec *listens; size_t n_listens;
    char **local_domains; size_t n_local_domains;      /* lower case */
    char *users_file;           /* NULL = none */
    char *aliases_file;         /* NULL = none */
    struct cidr *relay_networks; size_t n_relay_networks;
    int has_relayhost; struct hostport relayhost;
    char **relay_domains; size_t n_relay_domains;      /* lower case */
    struct route *routes; size_t n_routes;
    struct hostport *dns_servers; size_t n_dns_servers; /* numeric address; port 0 = 53 */
    int smtp_port;
    char *tls_cert, *tls_key;   /* NULL = no TLS */
    uint64_t max_message_size;
    unsigned max_recipients;
    int64_t retry_min_ms, retry_max_ms, delay_warning_ms, queue_lifetime_ms;
    int64_t timeout_greeting_ms, timeout_mail_ms, timeout_rcpt_ms;
    int64_t timeout_data_init_ms, timeout_data_block_ms, timeout_data_end_ms;
    int64_t timeout_server_ms, timeout_pop3_ms, timeout_web_ms;
    unsigned max_connections, max_connections_per_ip, max_hops;
    unsigned line_max_connections; /* where max_connections was set, 0 = default */
    uint64_t dsn_return_limit;
    char *run_as;               /* never NULL, never root (default postino) */
    char *log_file;             /* NULL = stderr, "syslog" = syslog(3) */
    struct users *users;        /* loaded from users_file, NULL if none */
    struct aliases *aliases;    /* loaded from aliases_file, NULL if none */
    char *log_format;           /* "text" or "json" */
    struct relay_auth *relay_auths; size_t n_relay_auths;
    struct tls_policy_rule *tls_policies; size_t n_tls_policies; /* a later line wins */
    char *tls_ca_file;          /* NULL = the system CA store */
    struct dkim_sign_key *dkim_keys; size_t n_dkim_keys;
    char *auth_checks;          /* "on" | "off": SPF, DKIM, DMARC on untrusted inbound mail */
    char *dmarc_reject;         /* "on" | "off": 550 5.7.1 for DMARC p=reject failures */
    int64_t track_retention_ms; /* how long tracking records are kept */
    char *reject_unmatched_dsn; /* "on" | "off": 550 5.7.1 for notices matching nothing */
    struct conf_count *count;   /* conf_new's reference count; NULL: not counted */
};

/* 1 if an on|off key is "on". */
static inline int conf_is_on(const char *v)
{
    return v && v[0] == 'o' && v[1] == 'n' && v[2] == '\0';
}

/* Fills c with the built-in defaults (hostname from gethostname()). */
void conf_defaults(struct conf *c);
/*
 * Loads path (NULL = built-in defaults only) on top of the defaults, checks
 * that the TLS files it names are readable, then loads the users and aliases
 * files it names. Returns 0, or -1 with
 * "FILE:LINE: message" (or "FILE: message" for an unreadable file) in err.
 */
int conf_load(const char *path, struct conf *c, struct buf *err);
/* The same without reading the users and aliases files nor checking the TLS files (for
 * `postino sendmail` and `queue`, which any local user runs: the users file holds password
 * hashes and the TLS key is mode 0600; neither need be readable). */
int conf_load_settings(const char *path, struct conf *c, struct buf *err);
/* After conf_load_settings: loads the users and aliases files the config names
 * (`sendmail -bv`, which never needs the TLS files). 0, or -1 with err set. */
int conf_load_tables(struct conf *c, struct buf *err);
void conf_free(struct conf *c);
/*
 * A reloadable conf (serve): conf_load into a new heap conf holding one
 * reference. NULL with err set as conf_load sets it. Every session and
 * job that runs under a conf holds a reference (conf_hold) until it ends
 * (conf_release), so a reload replaces the conf for new work while the
 * old one lives on for the work started under it. Both are thread-safe
 * and do nothing for a conf that is not counted (conf_load's).
 */
struct conf *conf_new(const char *path, struct buf *err);
const struct conf *conf_hold(const struct conf *c);
/* Drops one reference; the last one frees the conf. NULL is ignored. */
void conf_release(const struct conf *c);
/* *slot holds c from now on (a reference taken), the conf it held released. */
void conf_replace(const struct conf **slot, const struct conf *c);
/*
 * A reload's new conf c keeps the running values of the keys only a restart
 * changes (listen, data_dir, run_as, log_file, max_connections, dns_servers):
 * the names of those that differ, ", "-separated, go to changed ("" if none),
 * for the log line that says a restart is needed.
 */
void conf_keep_restart_keys(struct conf *c, const struct conf *running, char *changed,
                            size_t size);
/* Prints the effective settings, one "key value" line each, in config-file syntax. */
void conf_print(const struct conf *c, FILE *out);
/* "smtp", "submission", "smtps", "pop3", "pop3s", "metrics". */
const char *conf_listen_kind_name(enum listen_kind kind);

/* 1 if domain (any case) is one of local_domains. */
int conf_is_local_domain(const struct conf *c, const char *domain);
/* 1 if domain (any case) is one of relay_domains. */
int conf_is_relay_domain(const struct conf *c, const char *domain);
/* 1 if the client address is inside relay_networks. */
int conf_in_relay_networks(const struct conf *c, const struct sockaddr *sa);
/* The route for domain, or NULL. */
const struct route *conf_find_route(const struct conf *c, const char *domain);

/* The tls_policy for a recipient domain (any case): its own line, else "*", else may. */
enum tls_policy conf_tls_policy(const struct conf *c, const char *domain);
/* "none", "may", "encrypt", "verify". */
const char *conf_tls_policy_name(enum tls_policy p);
/* The relay_auth line for a next hop: same host (any case), same [brackets] (no_mx) and
 * the same port, a missing port on either side meaning smtp_port. NULL if none. */
const struct relay_auth *conf_find_relay_auth(const struct conf *c, const char *host, int port,
                                              int no_mx);

/* Parsers shared with other modules and unit tests. 0 or -1. */
/* Decimal digits only (no sign, no blanks), within [min, max]. */
int conf_parse_number(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* A TCP port, 1..65535. */
int conf_parse_port(const char *s, int *port);
/* 1 if s is a host name: 1..255 octets, labels of 1..63 letters, digits, inner '-'. */
int conf_valid_hostname(const char *s);
/* 1 if s is a DKIM selector: dot-separated labels of letters, digits, '-', '_',
 * at most DKIM_SELECTOR_MAX octets. */
int conf_valid_selector(const char *s);
int cidr_parse(const char *s, struct cidr *out);
int cidr_match(const struct cidr *net, const struct sockaddr *sa);
/* "host", "host:port", "[host]", "[host]:port", "[::1]:25"; a bare IPv6 needs brackets. */
int hostport_parse(const char *s, struct hostport *out);

#endif
