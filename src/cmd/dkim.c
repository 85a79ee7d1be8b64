/*
 * dkim: "postino dkim keygen [-t rsa|ed25519] [-o FILE] DOMAIN SELECTOR"
 * makes a DKIM signing key for the dkim_sign key (RFC 6376; Ed25519 keys
 * of RFC 8463): RSA 2048 bits or Ed25519, written as PKCS#8 PEM to
 * SELECTOR.DOMAIN.key in the current folder (or FILE), mode 0600, never
 * over an existing file; run as root, the file is given to run_as (from the
 * config postino finds without -c: $POSTINO_CONFIG, /etc/postino/postino.conf,
 * else the default), who reads it after the privilege drop. Prints the TXT
 * record to publish, its text cut into strings of at most 255 octets
 * (RFC 1035 3.3.14). Exit status from sysexits(3).
 */
#include "cmd/cmd.h"
#include "lib/str.h"
#include "proto/intl.h"
#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#define DKIM_RSA_BITS 2048
#define DKIM_TXT_STRING_MAX 255

static int dkim_usage(FILE *out, int status)
{
    fputs("usage: postino dkim keygen [-t rsa|ed25519] [-o FILE] DOMAIN SELECTOR\n"
          "  Writes a new DKIM key to SELECTOR.DOMAIN.key (or FILE), mode 0600, and\n"
          "  prints the DNS TXT record to publish at SELECTOR._domainkey.DOMAIN.\n",
          out);
    return status;
}

struct dkim_args {
    int ed25519;
    const char *out;
    char domain[INTL_DOMAIN_MAX];
    const char *selector;
};

/* Parses the keygen arguments (argv[0] is "keygen"). 0, or an exit status. */
static int dkim_parse_args(int argc, char **argv, struct dkim_args *a)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return dkim_usage(stdout, -1);
        if ((strcmp(argv[i], "-t") == 0 || strcmp(argv[i], "-o") == 0) && i + 1 < argc) {
            if (argv[i][1] == 'o')
                a->out = argv[++i];
            else if (strcmp(argv[++i], "rsa") == 0 || strcmp(argv[i], "ed25519") == 0)
                a->ed25519 = argv[i][0] == 'e';
            else
                return fprintf(stderr, "postino dkim: -t rsa or -t ed25519\n"), EX_USAGE;
        } else {
            return dkim_usage(stderr, EX_USAGE);
        }
    }
    if (argc - i != 2)
        return dkim_usage(stderr, EX_USAGE);
    if (intl_domain_to_ascii(argv[i], a->domain, sizeof a->domain) < 0 ||
        !conf_valid_hostname(a->domain))
        return fprintf(stderr, "postino dkim: invalid domain \"%.100s\"\n", argv[i]), EX_USAGE;
    a->selector = argv[i + 1];
    if (!conf_valid_selector(a->selector))
        return fprintf(stderr, "postino dkim: invalid selector \"%.100s\"\n", a->selector),
               EX_USAGE;
    return 0;
}

/* A new key pair, or NULL. */
static EVP_PKEY *dkim_new_key(int ed25519)
{
    return ed25519 ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
                   : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)DKIM_RSA_BITS);
}

/* The base64 p= value: the SubjectPublicKeyInfo (RSA) or the raw public key (Ed25519). */
static char *dkim_public_b64(EVP_PKEY *pk, int ed25519)
{
    unsigned char raw[32], *der = NULL;
    size_t n = sizeof raw;
    int len;
    if (ed25519)
        len = EVP_PKEY_get_raw_public_key(pk, raw, &n) == 1 ? (int)n : -1;
    else
        len = i2d_PUBKEY(pk, &der);
    char *b64 = len > 0 ? malloc((size_t)(4 * ((len + 2) / 3) + 1)) : NULL;
    if (b64)
        EVP_EncodeBlock((unsigned char *)b64, ed25519 ? raw : der, len);
    OPENSSL_free(der);
    return b64;
}

/* The owner for the key file: run_as when run as root. 0, or an exit status. */
static int dkim_owner(uid_t *uid, gid_t *gid)
{
    *uid = (uid_t)-1;
    *gid = (gid_t)-1;
    if (geteuid() != 0)
        return 0;
    struct conf c;
    if (cmd_load_conf_settings(NULL, &c) < 0)
        return EX_CONFIG;
    struct passwd *pw = getpwnam(c.run_as);
    if (!pw)
        fprintf(stderr, "postino dkim: run_as %s: no such user\n", c.run_as);
    else
        *uid = pw->pw_uid, *gid = pw->pw_gid;
    conf_free(&c);
    return pw ? 0 : EX_NOUSER;
}

/* Writes the private key to a new file path, mode 0600. 0, or an exit status. */
static int dkim_write_key(const char *path, EVP_PKEY *pk, uid_t uid, gid_t gid)
{
    BIO *mem = BIO_new(BIO_s_secmem());
    char *pem;
    long n = mem && PEM_write_bio_PrivateKey(mem, pk, NULL, NULL, 0, NULL, NULL) == 1
                 ? BIO_get_mem_data(mem, &pem)
                 : -1;
    if (n <= 0) {
        BIO_free(mem);
        fprintf(stderr, "postino dkim: cannot encode the key\n");
        return EX_SOFTWARE;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "postino dkim: %s: %s%s\n", path, strerror(errno),
                errno == EEXIST ? " (not overwritten)" : "");
        BIO_free(mem);
        return EX_CANTCREAT;
    }
    int ok = fchmod(fd, 0600) == 0 && write(fd, pem, (size_t)n) == (ssize_t)n &&
             (uid == (uid_t)-1 || fchown(fd, uid, gid) == 0) && fsync(fd) == 0;
    int err = errno;
    ok = close(fd) == 0 && ok;
    BIO_free(mem);
    if (!ok) {
        fprintf(stderr, "postino dkim: %s: %s\n", path, strerror(err));
        unlink(path);
        return EX_IOERR;
    }
    return 0;
}

/* "SELECTOR._domainkey.DOMAIN. IN TXT "..." "..."": strings of at most 255 octets. */
static void dkim_print_record(const struct dkim_args *a, const char *b64)
{
    char text[4096];
    str_fmt(text, sizeof text, "v=DKIM1; k=%s; p=%s", a->ed25519 ? "ed25519" : "rsa", b64);
    printf("%s._domainkey.%s. IN TXT", a->selector, a->domain);
    for (size_t pos = 0, n = strlen(text); pos < n; pos += DKIM_TXT_STRING_MAX)
        printf(" \"%.*s\"", DKIM_TXT_STRING_MAX, text + pos);
    printf("\n");
}

static int dkim_keygen(int argc, char **argv)
{
    struct dkim_args a = {0};
    char path[4096];
    uid_t uid;
    gid_t gid;
    int r = dkim_parse_args(argc, argv, &a);
    if (r)
        return r < 0 ? 0 : r;
    if (a.out)
        str_copy(path, sizeof path, a.out);
    else if (str_fmt(path, sizeof path, "%s.%s.key", a.selector, a.domain) < 0)
        return EX_USAGE;
    if ((r = dkim_owner(&uid, &gid)) != 0)
        return r;
    EVP_PKEY *pk = dkim_new_key(a.ed25519);
    char *b64 = pk ? dkim_public_b64(pk, a.ed25519) : NULL;
    if (!b64) {
        fprintf(stderr, "postino dkim: cannot make a key\n");
        r = EX_SOFTWARE;
    } else if ((r = dkim_write_key(path, pk, uid, gid)) == 0) {
        dkim_print_record(&a, b64);
        r = fflush(stdout) == 0 ? 0 : EX_IOERR;
    }
    free(b64);
    EVP_PKEY_free(pk);
    return r;
}

int cmd_dkim(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "keygen") == 0)
        return dkim_keygen(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return dkim_usage(stdout, 0);
    return dkim_usage(stderr, EX_USAGE);
}
