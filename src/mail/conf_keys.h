/*
 * conf_keys: the table of postino.conf keys, private to the conf_*.c files.
 * Each row names a key, its kind, the struct conf field it fills, its
 * default (a string that goes through the same parser as the file) and
 * its limits. The kind decides how a value is parsed (conf_keys.c), printed
 * (conf_print.c) and freed (conf.c), so a new key is one row of conf_keys[]
 * plus its struct conf field.
 */
#ifndef POSTINO_CONF_KEYS_H
#define POSTINO_CONF_KEYS_H
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "lib/buf.h"
#include "mail/conf.h"

enum conf_kind {
    CONF_KIND_PATH,       /* char *, joined to the config folder */
    CONF_KIND_HOSTNAME,   /* char * */
    CONF_KIND_USER,       /* char *, a user name as useradd(8) allows it */
    CONF_KIND_DURATION,   /* int64_t milliseconds */
    CONF_KIND_SIZE,       /* uint64_t bytes */
    CONF_KIND_COUNT,      /* unsigned */
    CONF_KIND_PORT,       /* int */
    CONF_KIND_DOMAINS,    /* char ** list, lower case, replaced as a whole */
    CONF_KIND_NETWORKS,   /* struct cidr list, replaced as a whole */
    CONF_KIND_HOSTPORT,   /* struct hostport with an int "set" flag */
    CONF_KIND_RESOLVERS,  /* struct hostport list of numeric addresses */
    CONF_KIND_ROUTE,      /* struct route list, one line each, accumulates */
    CONF_KIND_LISTEN,     /* struct listen_spec list, the first line drops the defaults */
    CONF_KIND_LOGFILE,    /* char *: "syslog" as written, else a PATH */
    CONF_KIND_CHOICE,     /* char *: one of the words of the row's choices */
    CONF_KIND_RELAY_AUTH, /* struct relay_auth list, one line each, accumulates */
    CONF_KIND_TLS_POLICY, /* struct tls_policy_rule list, accumulates, a later line wins */
    CONF_KIND_DKIM_SIGN,  /* struct dkim_sign_key list, one line each, accumulates */
    CONF_KIND_COUNT_OF_KINDS
};

struct conf_key;
/* Prints one key of c, in config-file syntax; a custom row printer has the same shape. */
typedef void (*conf_print_fn)(const struct conf *c, const struct conf_key *k, FILE *out);

struct conf_key {
    const char *name;
    enum conf_kind kind;
    size_t off;           /* the field in struct conf */
    size_t off_n;         /* lists: their size_t count; HOSTPORT: its int "set" flag */
    const char *dflt;     /* the default as written in the file ("a; b" = two lines), or NULL */
    uint64_t min, max;    /* limits of numbers, durations and sizes (max: counts only) */
    const char *unset;    /* printed as "# key UNSET" while the key has no value */
    conf_print_fn print;  /* NULL: the printer of the kind */
    const char *choices;  /* CHOICE: the words allowed, "text|json" */
    int restart;          /* a reload cannot apply a change: the server must restart */
};

#define CONF_KEYS_MAX 64

/* The state of one parse: the config being filled and where the parser is. */
struct conf_ctx {
    struct conf *c;
    const char *file;     /* config path, for messages */
    char dir[PATH_MAX];     /* absolute folder that relative paths join */
    unsigned line;
    struct buf *err;
    int listen_seen;      /* a listen line already replaced the defaults */
    unsigned line_tls_listen;            /* first smtps or pop3s listen line */
    unsigned key_line[CONF_KEYS_MAX];   /* where each key of conf_keys[] was last set */
};

extern const struct conf_key conf_keys[];
extern const size_t conf_keys_count;

/* The field of key k in c. */
#define CONF_FIELD(c, k, type) ((type *)(void *)((char *)(c) + (k)->off))
#define CONF_FIELD_N(c, k, type) ((type *)(void *)((char *)(c) + (k)->off_n))

/* Parses the values of one line of key k (argv: the words after the key). 0 or -1, err set. */
int conf_key_parse(struct conf_ctx *x, const struct conf_key *k, char **argv, int argc);
/* 1 if key k prints differently in a and b (or there was no memory to tell). */
int conf_key_differs(const struct conf *a, const struct conf *b, const struct conf_key *k);
/* Appends "FILE:LINE: message" to x->err. */
void conf_err(struct conf_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void conf_free_strv(char **v, size_t n);
/* 1 if s is a numeric address of family (AF_INET, AF_INET6). */
int conf_is_ip(const char *s, int family);

/* Frees a relay_auth list (passwords wiped first). */
void conf_free_relay_auths(struct relay_auth *v, size_t n);
void conf_free_dkim_keys(struct dkim_sign_key *v, size_t n);

/* Custom printers of the users and aliases rows: the path, then how many entries loaded. */
void conf_print_users(const struct conf *c, const struct conf_key *k, FILE *out);
void conf_print_aliases(const struct conf *c, const struct conf_key *k, FILE *out);

#endif
