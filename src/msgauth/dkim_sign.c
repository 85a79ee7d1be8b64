/*
 * dkim_sign: DKIM signatures on mail postino sends on (dkim_sign.h).
 *
 * libopendkim canonicalizes (relaxed/relaxed), hashes and signs; this file
 * chooses the key, feeds it the message and hands back the field as the
 * library folds it (CRLF line ends). The message is read in chunks with
 * pread (only the header section is held whole, up to DKIM_HEAD_MAX), so a
 * large message costs no memory. The key file is read and parsed by OpenSSL
 * on each call (it is small, and a reload's new file is used at once without
 * a cache to invalidate); it is handed to libopendkim as PKCS#8 PEM, the
 * form libopendkim 2.11 reads for both RSA and Ed25519. One library handle
 * for the process, made once and only read afterwards (libopendkim's handles
 * are made for threads). Never runs on the event loop.
 */
#include "msgauth/dkim_sign.h"
#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/str.h"
#include "proto/addr.h"
#include "proto/addrlist.h"
#include "proto/intl.h"
#include "proto/rfc5322.h"
#include <errno.h>
#include <fcntl.h>
#include <opendkim/dkim.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DKIM_HEAD_MAX (1024 * 1024)   /* a longer header section is not signed */
#define DKIM_CHUNK 65536
#define DKIM_KEY_FILE_MAX 65536
#define DKIM_RSA_MIN_BITS 1024

/* The fields signed when present (RFC 6376 5.4.1); From is also oversigned,
 * so that a From added on the way makes the signature fail. */
static const char *dkim_signed_fields[] = {
    "From", "Sender", "Reply-To", "Subject", "Date", "Message-ID", "To", "Cc",
    "In-Reply-To", "References", "MIME-Version", "Content-Type",
    "Content-Transfer-Encoding", "Content-ID", "Content-Description", "Resent-Date",
    "Resent-From", "Resent-Sender", "Resent-To", "Resent-Cc", "Resent-Message-ID",
    "List-Id", "List-Help", "List-Unsubscribe", "List-Unsubscribe-Post", "List-Subscribe",
    "List-Post", "List-Owner", "List-Archive", NULL};
static const char *dkim_oversigned_fields[] = {"From", NULL};

static pthread_once_t dkim_lib_once = PTHREAD_ONCE_INIT;
static DKIM_LIB *dkim_lib;

/*
 * libopendkim 2.11.0 (Debian 12's 2.11.0~beta2, and upstream still) frees a
 * signing handle's key only for RSA: with an Ed25519 key, dkim_free() frees
 * the key's holder but neither the EVP_PKEY in it nor its 64-octet signature
 * buffer (about 1.2 KB lost per message). Through the allocation hooks of
 * dkim_init() and a closure per signature, the holder is recognized when it
 * is freed (allocated during dkim_eom, its size, its buffer one of ours, the
 * Ed25519 sizes) and what it holds freed with it. Only for that library
 * version: a fixed one is left alone (at worst a leak, never a double free).
 */
#define DKIM_LEAKY_VERSION 0x020B0000
#define DKIM_TRACK_MAX 16

/* libopendkim 2.11's struct dkim_crypto (dkim-types.h, OpenSSL build). */
struct dkim_crypto_211 {
    unsigned char pad;
    int keysize;
    size_t inlen, outlen;
    EVP_PKEY *pkey;
    void *key;
    BIO *keydata;
    unsigned char *in, *out;
};

/* The closure of one Ed25519 signature: its blocks of the holder's size made in dkim_eom. */
struct dkim_track {
    int on;
    void *blocks[DKIM_TRACK_MAX];
    size_t n;
};

static int dkim_track_find(struct dkim_track *t, const void *p)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->blocks[i] == p)
            return (int)i;
    return -1;
}

static void dkim_track_drop(struct dkim_track *t, int i)
{
    t->blocks[i] = t->blocks[--t->n];
}

static void *dkim_track_malloc(void *closure, size_t n)
{
    struct dkim_track *t = closure;
    void *p = malloc(n);
    if (p && t && t->on && n == sizeof(struct dkim_crypto_211) && t->n < DKIM_TRACK_MAX)
        t->blocks[t->n++] = p;
    return p;
}

/* A holder being freed: the Ed25519 key and signature buffer it still has go with it. */
static void dkim_track_free(void *closure, void *p)
{
    struct dkim_track *t = closure;
    int i = t && p ? dkim_track_find(t, p) : -1;
    if (i >= 0) {
        dkim_track_drop(t, i);
        struct dkim_crypto_211 *cr = p;
        int o = dkim_track_find(t, cr->out);
        if (o >= 0 && cr->outlen == 64 && cr->keysize == 512 && cr->pkey &&
            dkim_libversion() == DKIM_LEAKY_VERSION) {
            dkim_track_drop(t, o);
            EVP_PKEY_free(cr->pkey);
            free(cr->out);
        }
    }
    free(p);
}

static void dkim_lib_init(void)
{
    DKIM_LIB *lib = dkim_init(dkim_track_malloc, dkim_track_free);
    if (!lib)
        return;
    if (dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS, dkim_signed_fields,
                     sizeof(char **)) != DKIM_STAT_OK ||
        dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS, dkim_oversigned_fields,
                     sizeof(char **)) != DKIM_STAT_OK) {
        dkim_close(lib);
        return;
    }
    dkim_lib = lib;
}

/* The process's library handle, or NULL (logged by the caller). */
static DKIM_LIB *dkim_sign_lib(void)
{
    pthread_once(&dkim_lib_once, dkim_lib_init);
    return dkim_lib;
}

/* A key read from its file: PKCS#8 PEM text for libopendkim, and its algorithm. */
struct dkim_key {
    char *pem;
    dkim_alg_t alg;
};

/* Frees a secret after overwriting it (allocated with xmalloc). */
static void dkim_secret_free(char *p, size_t n)
{
    if (p) {
        OPENSSL_cleanse(p, n);
        free(p);
    }
}

static void dkim_key_free(struct dkim_key *k)
{
    if (k->pem)
        dkim_secret_free(k->pem, strlen(k->pem));
    k->pem = NULL;
}

/* Reads a whole small file into a NUL-terminated heap string. 0, or -1 with why. */
static int dkim_read_file(const char *path, char **out, size_t *len, char *why, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        str_fmt(why, size, "%s", strerror(errno));
        return -1;
    }
    char *p = xmalloc(DKIM_KEY_FILE_MAX + 1);
    size_t n = 0;
    ssize_t r;
    while (n < DKIM_KEY_FILE_MAX && (r = read(fd, p + n, DKIM_KEY_FILE_MAX - n)) > 0)
        n += (size_t)r;
    int err = r < 0 ? errno : 0;
    close(fd);
    if (err || n == 0 || n >= DKIM_KEY_FILE_MAX) {
        str_fmt(why, size, "%s", err ? strerror(err) : n ? "too large for a key" : "empty");
        dkim_secret_free(p, DKIM_KEY_FILE_MAX + 1);
        return -1;
    }
    p[n] = '\0';
    *out = p;
    *len = n;
    return 0;
}

/* The algorithm for a parsed key: RSA (of enough bits) or Ed25519. 0, or -1 with why. */
static int dkim_key_alg(EVP_PKEY *pk, dkim_alg_t *alg, char *why, size_t size)
{
    int id = EVP_PKEY_get_base_id(pk);
    if (id == EVP_PKEY_RSA && EVP_PKEY_get_bits(pk) >= DKIM_RSA_MIN_BITS) {
        *alg = DKIM_SIGN_RSASHA256;
        return 0;
    }
    if (id == EVP_PKEY_ED25519) {
        DKIM_LIB *lib = dkim_sign_lib();
        if (lib && dkim_libfeature(lib, DKIM_FEATURE_ED25519)) {
            *alg = DKIM_SIGN_ED25519SHA256;
            return 0;
        }
        str_fmt(why, size, "this libopendkim cannot sign with Ed25519");
        return -1;
    }
    str_fmt(why, size, id == EVP_PKEY_RSA ? "an RSA key of fewer than %d bits"
                                          : "neither an RSA nor an Ed25519 key (%d)",
            id == EVP_PKEY_RSA ? DKIM_RSA_MIN_BITS : id);
    return -1;
}

/* The key as PKCS#8 PEM text (heap). NULL if OpenSSL cannot write it. */
static char *dkim_key_pem(EVP_PKEY *pk)
{
    BIO *out = BIO_new(BIO_s_secmem());
    char *pem = NULL, *data;
    if (out && PEM_write_bio_PrivateKey(out, pk, NULL, NULL, 0, NULL, NULL) == 1) {
        long n = BIO_get_mem_data(out, &data);
        if (n > 0) {
            pem = xmalloc((size_t)n + 1);
            memcpy(pem, data, (size_t)n);
            pem[n] = '\0';
        }
    }
    BIO_free(out);
    return pem;
}

/* Reads and parses a key file (PEM, PKCS#8 or the traditional form). 0, or -1 with why. */
static int dkim_key_load(const char *path, struct dkim_key *k, char *why, size_t size)
{
    char *text;
    size_t len;
    memset(k, 0, sizeof *k);
    if (dkim_read_file(path, &text, &len, why, size) < 0)
        return -1;
    BIO *in = BIO_new_mem_buf(text, (int)len);
    EVP_PKEY *pk = in ? PEM_read_bio_PrivateKey(in, NULL, NULL, NULL) : NULL;
    BIO_free(in);
    dkim_secret_free(text, DKIM_KEY_FILE_MAX + 1);
    int r = -1;
    if (!pk)
        str_fmt(why, size, "not a PEM private key");
    else if (dkim_key_alg(pk, &k->alg, why, size) == 0 && !(k->pem = dkim_key_pem(pk)))
        str_fmt(why, size, "cannot convert the key");
    else if (k->pem)
        r = 0;
    EVP_PKEY_free(pk);
    return r;
}

const struct dkim_sign_key *dkim_sign_choose(const struct conf *c, const char *from_domain,
                                             int notice)
{
    for (size_t i = 0; from_domain && i < c->n_dkim_keys; i++)
        if (strcmp(c->dkim_keys[i].domain, from_domain) == 0)
            return &c->dkim_keys[i];
    if (!notice || c->n_dkim_keys == 0)
        return NULL;
    const char *dot = strchr(c->hostname, '.');
    for (size_t i = 0; i < c->n_dkim_keys; i++)
        if (str_ieq(c->dkim_keys[i].domain, c->hostname))
            return &c->dkim_keys[i];
    for (size_t i = 0; dot && i < c->n_dkim_keys; i++)
        if (str_ieq(c->dkim_keys[i].domain, dot + 1))
            return &c->dkim_keys[i];
    return &c->dkim_keys[0];
}

int dkim_sign_check_keys(const struct conf *c, struct buf *err)
{
    int r = 0;
    for (size_t i = 0; i < c->n_dkim_keys; i++) {
        const struct dkim_sign_key *d = &c->dkim_keys[i];
        struct dkim_key k;
        char why[200];
        if (dkim_key_load(d->key_file, &k, why, sizeof why) < 0) {
            buf_printf(err, "%s%s:%u: dkim_sign: %s: %s", r ? "\n" : "",
                       c->path ? c->path : "built-in defaults", d->line, d->key_file, why);
            r = -1;
        }
        dkim_key_free(&k);
    }
    return r;
}

/* Where the message is: a queue file (fd >= 0) or memory. */
struct dkim_src {
    int fd;
    const char *mem;
    uint64_t off, size;
};

/* Up to n octets of the message at pos: the count, or -1 (a short file too). */
static ssize_t dkim_src_read(const struct dkim_src *s, uint64_t pos, char *p, size_t n)
{
    if (pos >= s->size)
        return 0;
    if (n > s->size - pos)
        n = (size_t)(s->size - pos);
    if (s->fd < 0) {
        memcpy(p, s->mem + pos, n);
        return (ssize_t)n;
    }
    ssize_t r = pread(s->fd, p, n, (off_t)(s->off + pos));
    return r == 0 ? -1 : r;
}

/* Reads the header section, through its empty line, into head. 0, or -1 (too long, I/O). */
static int dkim_read_head(const struct dkim_src *s, char *chunk, struct buf *head)
{
    uint64_t pos = 0;
    while (pos < s->size && head->len < DKIM_HEAD_MAX) {
        ssize_t n = dkim_src_read(s, pos, chunk, DKIM_CHUNK);
        if (n < 0)
            return -1;
        size_t from = head->len > 3 ? head->len - 3 : 0;
        buf_append(head, chunk, (size_t)n);
        pos += (uint64_t)n;
        if ((head->len >= 2 && memcmp(head->data, "\r\n", 2) == 0) ||
            memmem(head->data + from, head->len - from, "\r\n\r\n", 4))
            break;
    }
    int blank = 0;
    size_t h = rfc5322_header_length(head->data, head->len, &blank);
    if (!blank && h == head->len && pos < s->size)
        return -1; /* no end within DKIM_HEAD_MAX */
    head->len = h;
    return 0;
}

/* Feeds the header fields (without their last line end) and the end of the header. */
static DKIM_STAT dkim_feed_head(DKIM *dk, const struct buf *head)
{
    size_t pos = 0, next;
    while (pos < head->len) {
        size_t n = rfc5322_line(head->data, head->len, pos, &next);
        if (n == 0)
            break; /* the empty line */
        size_t end = rfc5322_field_end(head->data, head->len, pos);
        size_t flen = end - pos;
        while (flen > 0 && (head->data[pos + flen - 1] == '\n' || head->data[pos + flen - 1] == '\r'))
            flen--;
        DKIM_STAT st = dkim_header(dk, (u_char *)head->data + pos, flen);
        if (st != DKIM_STAT_OK)
            return st;
        pos = end > pos ? end : next;
    }
    return dkim_eoh(dk);
}

/* Feeds the body, from body to the end, in chunks. */
static DKIM_STAT dkim_feed_body(DKIM *dk, const struct dkim_src *s, uint64_t body, char *chunk)
{
    for (uint64_t pos = body; pos < s->size;) {
        ssize_t n = dkim_src_read(s, pos, chunk, DKIM_CHUNK);
        if (n < 0)
            return DKIM_STAT_INTERNAL;
        DKIM_STAT st = dkim_body(dk, (u_char *)chunk, (size_t)n);
        if (st != DKIM_STAT_OK)
            return st;
        pos += (uint64_t)n;
    }
    return DKIM_STAT_OK;
}

/* Appends "DKIM-Signature: ...\r\n" as libopendkim folds it. */
static DKIM_STAT dkim_take_field(DKIM *dk, struct buf *fields)
{
    u_char *value = NULL;
    size_t len = 0;
    DKIM_STAT st = dkim_getsighdr_d(dk, strlen(DKIM_SIGNHEADER) + 2, &value, &len);
    if (st != DKIM_STAT_OK)
        return st;
    buf_printf(fields, "%s: ", DKIM_SIGNHEADER);
    buf_append(fields, value, len);
    buf_append(fields, "\r\n", 2);
    return DKIM_STAT_OK;
}

/* Signs the message with key d: the header read, the rest streamed. */
static int dkim_sign_with(const struct dkim_sign_key *d, const struct dkim_src *s,
                          const struct buf *head, char *chunk, struct buf *fields)
{
    struct dkim_key k;
    char why[200];
    DKIM_LIB *lib = dkim_sign_lib();
    if (!lib) {
        log_err("dkim_sign: libopendkim could not be initialized: message not signed");
        return -1;
    }
    if (dkim_key_load(d->key_file, &k, why, sizeof why) < 0) {
        log_err("dkim_sign %s: %s: %s: message not signed", d->domain, d->key_file, why);
        return -1;
    }
    DKIM_STAT st;
    struct dkim_track track = {0};
    void *closure = k.alg == DKIM_SIGN_ED25519SHA256 ? &track : NULL;
    DKIM *dk = dkim_sign(lib, (const u_char *)"postino", closure, (dkim_sigkey_t)k.pem,
                         (const u_char *)d->selector, (const u_char *)d->domain,
                         DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, k.alg, -1, &st);
    if (dk && (st = dkim_feed_head(dk, head)) == DKIM_STAT_OK &&
        (st = dkim_feed_body(dk, s, head->len, chunk)) == DKIM_STAT_OK) {
        track.on = 1; /* the key is loaded in dkim_eom */
        st = dkim_eom(dk, NULL);
        track.on = 0;
        if (st == DKIM_STAT_OK)
            st = dkim_take_field(dk, fields);
    }
    if (st != DKIM_STAT_OK)
        log_err("dkim_sign %s: %s: message not signed", d->domain,
                dk && dkim_geterror(dk) ? dkim_geterror(dk) : dkim_getresultstr(st));
    if (dk)
        dkim_free(dk);
    dkim_key_free(&k);
    return st == DKIM_STAT_OK ? 0 : -1;
}

/* Reads the header, chooses the key by the From domain, and signs. */
static int dkim_sign_src(const struct conf *c, const struct dkim_src *s, int notice,
                         struct buf *fields)
{
    if (c->n_dkim_keys == 0)
        return 0;
    char *chunk = xmalloc(DKIM_CHUNK);
    struct buf head;
    buf_init(&head, BUF_UNLIMITED);
    int r = 0;
    char from[ADDR_DOMAIN_MAX + 1], ascii[INTL_DOMAIN_MAX];
    if (dkim_read_head(s, chunk, &head) < 0) {
        log_err("dkim_sign: header section unreadable or longer than %d octets: message not "
                "signed", DKIM_HEAD_MAX);
        r = -1;
    } else {
        const char *domain = NULL;
        if (addrlist_field_domain(head.data, head.len, "From", from, sizeof from) == 0)
            domain = intl_is_ascii(from, strlen(from)) ? from
                     : intl_domain_to_ascii(from, ascii, sizeof ascii) == 0 ? ascii : NULL;
        const struct dkim_sign_key *d = dkim_sign_choose(c, domain, notice);
        if (d)
            r = dkim_sign_with(d, s, &head, chunk, fields);
    }
    buf_free(&head);
    free(chunk);
    return r;
}

int dkim_sign_message(const struct conf *c, const struct queue_content *m, int notice,
                      struct buf *fields)
{
    struct dkim_src s = {.fd = m->fd, .off = m->off, .size = m->size};
    return dkim_sign_src(c, &s, notice, fields);
}

int dkim_sign_text(const struct conf *c, const char *msg, size_t len, int notice,
                   struct buf *fields)
{
    struct dkim_src s = {.fd = -1, .mem = msg, .size = len};
    return dkim_sign_src(c, &s, notice, fields);
}
