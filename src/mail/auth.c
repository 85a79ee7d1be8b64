/*
 * auth: the users file and password checks (see auth.h).
 *
 * Owns: parsing "local@domain:HASH" lines (blank lines and lines starting
 * with '#' are skipped; the address ends at the first ':', which is the first
 * after the '@', so a {PLAIN} password may hold ':'), kept in a lib/keytable sorted by
 * the lower-case address (binary search: 100k users cost ~17 comparisons), and checking a
 * password against crypt(3) hashes or {PLAIN} text in constant time.
 * Every check runs exactly one crypt(3): the user's own hash, or the dummy
 * yescrypt hash for an unknown user, a {PLAIN} user (success or failure
 * alike: no branch on the secret before the cost is paid) and a hash that
 * crypt(3) refuses (disabled "!...", "*", malformed). So a failed login
 * takes as long whatever the user is, and tells no one who exists.
 * Addresses follow proto/addr's RFC 5321 syntax, with a dot-atom local part
 * without '/', because it names a Maildir folder (INTERFACE.md "Mailboxes").
 * Never logs a password or a hash; never trusts the file: every line is
 * length-checked and validated, and a bad line is "FILE:LINE: message".
 */
#include "mail/auth.h"
#include "lib/alloc.h"
#include "lib/keytable.h"
#include "lib/linefile.h"
#include "lib/str.h"
#include "mail/maildir.h"
#include "proto/addr.h"
#include "proto/intl.h"
#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define USERS_FILE_MAX (256u << 20)
#define USERS_KEY_MAX (64 + 1 + 255 + 1)

struct user {
    char *addr;    /* as written in the file */
    char *hash;
};

struct users {
    struct keytable t;   /* lower-case address -> struct user */
};

/*
 * A yescrypt hash of a random string nobody knows: an unknown login is checked
 * against it so that it costs as much time as a known one (no user probing).
 */
static const char auth_dummy_hash[] =
    "$y$j9T$UnLNqiFe.3qNzA8y7BaVc/$xAEV/lmmMnQOS/dAASf1lTh0p8Y8TVBEtSI1S7S19pD";

/*
 * A users-file address: an RFC 5321 mailbox (proto/addr, the syntax the SMTP
 * server accepts) with a domain name (no literal), and a local part written
 * as a dot-atom without '/', because it names a Maildir folder.
 */
static int auth_valid_address(const char *s, size_t n)
{
    char tmp[USERS_KEY_MAX];
    struct addr a;
    if (memchr(s, '"', n) || memchr(s, '/', n) || str_ncopy(tmp, sizeof tmp, s, n) < 0)
        return 0;
    return addr_parse_mailbox_flags(tmp, strlen(tmp), ADDR_ALLOW_UTF8, &a) == ADDR_OK &&
           a.domain[0] != '\0' && !addr_is_literal(&a);
}

/* Validates a hash field: {PLAIN}text, or a crypt(3) string without blanks. */
static const char *auth_hash_problem(const char *hash)
{
    size_t p = str_iprefix(hash, "{PLAIN}");
    if (*hash == '\0')
        return "empty password hash";
    if (p)
        return hash[p] ? NULL : "empty {PLAIN} password";
    if (*hash == '{')
        return "unknown password scheme (only {PLAIN} or a crypt(3) hash)";
    for (const char *c = hash; *c; c++)
        if (isspace((unsigned char)*c) || iscntrl((unsigned char)*c))
            return "white space or control character in password hash";
    return NULL;
}

static void users_add(struct keytable *t, const char *addr, size_t alen, const char *hash,
                      unsigned line)
{
    struct user *e = xcalloc(1, sizeof *e);
    e->addr = xstrndup(addr, alen);
    e->hash = xstrdup(hash);
    char key[USERS_KEY_MAX];
    if (intl_mailbox_key(e->addr, key, sizeof key) < 0) /* checked valid: does not happen */
        str_copy(key, sizeof key, e->addr);
    keytable_add(t, key, line, e)->label = e->addr;
}

/* keytable callback: one "local@domain:HASH" line (trimmed, may be modified). */
static int users_parse_line(struct keytable *t, char *s, const char *path, unsigned line,
                            struct buf *err)
{
    /* A valid address holds no ':', so the first ':' ends it (never echo past it). */
    char *colon = strchr(s, ':');
    char *at = colon ? memchr(s, '@', (size_t)(colon - s)) : NULL;
    if (!at) {
        linefile_err(err, path, line, "expected local@domain:HASH");
        return -1;
    }
    if (!auth_valid_address(s, (size_t)(colon - s))) {
        int n = colon - s > 100 ? 100 : (int)(colon - s);
        linefile_err(err, path, line, "invalid address \"%.*s\"", n, s);
        return -1;
    }
    char *hash = colon + 1;
    while (*hash == ' ' || *hash == '\t')
        hash++;
    const char *problem = auth_hash_problem(hash);
    if (problem) {
        linefile_err(err, path, line, "%s", problem);
        return -1;
    }
    users_add(t, s, (size_t)(colon - s), hash, line);
    return 0;
}

static const struct keytable_spec users_spec = {
    .what = "user", .max_bytes = USERS_FILE_MAX, .wipe = 1, .parse = users_parse_line,
};

struct users *users_load(const char *path, struct buf *err)
{
    struct users *u = xcalloc(1, sizeof *u);
    if (keytable_load(&u->t, &users_spec, path, err) < 0) {
        users_free(u);
        return NULL;
    }
    return u;
}

/* keytable callback: a user's strings, the hash wiped first. */
static void users_free_user(void *value)
{
    struct user *e = value;
    explicit_bzero(e->hash, strlen(e->hash));
    free(e->hash);
    free(e->addr);
    free(e);
}

void users_free(struct users *u)
{
    if (!u)
        return;
    keytable_free(&u->t, users_free_user);
    free(u);
}

/* The entry for a lower-case "local@domain" key, or NULL. */
static const struct user *users_find(const struct users *u, const char *key)
{
    return u ? keytable_find(&u->t, key) : NULL;
}

const char *users_lookup(const struct users *u, const char *local, const char *domain)
{
    char addr[USERS_KEY_MAX], key[USERS_KEY_MAX];
    if (str_fmt(addr, sizeof addr, "%s@%s", local, domain) < 0 ||
        intl_mailbox_key(addr, key, sizeof key) < 0)
        return NULL;
    const struct user *e = users_find(u, key);
    return e ? e->addr : NULL;
}

/*
 * 1 if the strings are equal. Both are hashed first and the digests compared
 * without an early exit, so the time tells neither where they differ nor
 * how long the secret is.
 */
static int auth_secret_equal(const char *a, const char *b)
{
    unsigned char da[EVP_MAX_MD_SIZE], db[EVP_MAX_MD_SIZE];
    unsigned na = 0, nb = 0;
    int ok = EVP_Digest(a, strlen(a), da, &na, EVP_sha256(), NULL) == 1 &&
             EVP_Digest(b, strlen(b), db, &nb, EVP_sha256(), NULL) == 1 && na == nb &&
             CRYPTO_memcmp(da, db, na) == 0;
    explicit_bzero(da, sizeof da);
    explicit_bzero(db, sizeof db);
    return ok;
}

/* One crypt(3) check: 1 match, 0 mismatch, -1 if crypt refuses the hash (disabled, malformed). */
static int auth_crypt_check(const char *hash, const char *password)
{
    struct crypt_data *cd = xcalloc(1, sizeof *cd);
    const char *out = crypt_rn(password, hash, cd, (int)sizeof *cd);
    int r = out && out[0] != '*' ? auth_secret_equal(hash, out) : -1;
    explicit_bzero(cd, sizeof *cd);
    free(cd);
    return r;
}

/*
 * 1 if password matches hash ({PLAIN} or crypt(3)). Whatever the hash, one
 * crypt of comparable cost runs: the dummy one stands in where the user's
 * own hash gives none.
 */
static int auth_verify(const char *hash, const char *password)
{
    size_t p = str_iprefix(hash, "{PLAIN}");
    if (p) {
        (void)auth_crypt_check(auth_dummy_hash, password); /* for its cost only */
        return auth_secret_equal(hash + p, password);
    }
    int r = auth_crypt_check(hash, password);
    if (r < 0)
        (void)auth_crypt_check(auth_dummy_hash, password);
    return r == 1;
}

/* The table key of a login: a mailbox's key (intl_mailbox_key), else the login lowered. */
static int users_login_key(const char *login, char *key, size_t size)
{
    if (intl_mailbox_key(login, key, size) == 0)
        return 0;
    if (str_copy(key, size, login) < 0)
        return -1;
    str_lower(key);
    return 0;
}

int users_check_password(const struct users *u, const char *login, const char *password)
{
    char key[USERS_KEY_MAX];
    const struct user *e = NULL;
    if (users_login_key(login, key, sizeof key) == 0)
        e = users_find(u, key);
    /* An empty password never logs in; unknown users cost the same time. */
    int ok = auth_verify(e ? e->hash : auth_dummy_hash, password);
    return e && ok && password[0] != '\0';
}

int auth_mailbox_login(const struct users *u, const char *login, const char *password,
                       struct auth_box *out)
{
    memset(out, 0, sizeof *out);
    if (!u || !users_check_password(u, login, password))
        return 0;
    const char *at = strrchr(login, '@');
    char local[AUTH_LOGIN_MAX + 1], domain[AUTH_LOGIN_MAX + 1];
    if (!at || str_ncopy(local, sizeof local, login, (size_t)(at - login)) < 0 ||
        str_copy(domain, sizeof domain, at + 1) < 0)
        return 0;
    const char *canon = users_lookup(u, local, domain);
    if (!canon || str_copy(out->addr, sizeof out->addr, canon) < 0)
        return 0;
    at = strrchr(out->addr, '@');
    str_ncopy(out->local, sizeof out->local, out->addr, (size_t)(at - out->addr));
    str_copy(out->domain, sizeof out->domain, at + 1);
    str_lower(out->domain);
    return maildir_component_ok(out->local) && maildir_component_ok(out->domain);
}

size_t users_count(const struct users *u)
{
    return u ? u->t.n : 0;
}

int auth_hash_password(const char *password, struct buf *out)
{
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    /* NULL random bytes: libcrypt draws the salt from the kernel's entropy. */
    if (!crypt_gensalt_rn("$y$", 0, NULL, 0, salt, (int)sizeof salt) &&
        !crypt_gensalt_rn("$6$", 0, NULL, 0, salt, (int)sizeof salt))
        return -1;
    struct crypt_data *cd = xcalloc(1, sizeof *cd);
    const char *h = crypt_rn(password, salt, cd, (int)sizeof *cd);
    int r = (h && h[0] != '*') ? buf_appends(out, h) : -1;
    explicit_bzero(cd, sizeof *cd);
    free(cd);
    return r;
}
