/*
 * test_dkim_sign: unit tests for msgauth/dkim_sign: the key choice (From
 * domain, notices by the hostname's domain, else the first key), the key
 * file checks with their FILE:LINE messages, and signatures made with RSA
 * and Ed25519 keys over a message in memory and in a file (a body larger
 * than one read chunk, at an offset) that libopendkim's own verifier
 * accepts, with the public key given as a TXT record in a file; a changed
 * body or From fails.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <opendkim/dkim.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include "lib/alloc.h"
#include "lib/str.h"
#include "msgauth/dkim_sign.h"
#include "testutil.h"

TESTUTIL_TMPDIR_FIXTURES("dkim")

static const char *msg_text =
    "Received: by mx.example.org (postino) id 1; Sat, 5 Dec 2026 10:00:00 +0000\r\n"
    "From: Ann <ann@Example.ORG>\r\n"
    "To: bob@peer.example\r\n"
    "Subject: a test\r\n"
    " folded\r\n"
    "Date: Sat, 5 Dec 2026 10:00:00 +0000\r\n"
    "Message-ID: <1@example.org>\r\n"
    "\r\n"
    "Hello  Bob,\r\n"
    "\r\n"
    "bye\r\n";

static char path_in(const char *name, char *out, size_t size)
{
    assert_int_equal(str_fmt(out, size, "%s/%s", tmpdir, name), 0);
    return 0;
}

/* Writes a new key to tmpdir/name; appends its TXT record line to tmpdir/keys. */
static void make_key(const char *name, const char *domain, const char *sel, int ed25519)
{
    char p[512];
    EVP_PKEY *pk = ed25519 ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
                           : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    assert_non_null(pk);
    path_in(name, p, sizeof p);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    unsigned char raw[32], *der = NULL;
    size_t n = sizeof raw;
    int len = ed25519 ? (EVP_PKEY_get_raw_public_key(pk, raw, &n), (int)n) : i2d_PUBKEY(pk, &der);
    char b64[1024];
    EVP_EncodeBlock((unsigned char *)b64, ed25519 ? raw : der, len);
    OPENSSL_free(der);
    path_in("keys", p, sizeof p);
    f = fopen(p, "a");
    assert_non_null(f);
    fprintf(f, "%s._domainkey.%s v=DKIM1; k=%s; p=%s\n", sel, domain, ed25519 ? "ed25519" : "rsa",
            b64);
    fclose(f);
    EVP_PKEY_free(pk);
}

static void add_key(struct conf *c, const char *domain, const char *sel, const char *file,
                    unsigned line)
{
    char p[512];
    path_in(file, p, sizeof p);
    c->dkim_keys = xrealloc(c->dkim_keys, (c->n_dkim_keys + 1) * sizeof *c->dkim_keys);
    struct dkim_sign_key *d = &c->dkim_keys[c->n_dkim_keys++];
    memset(d, 0, sizeof *d);
    d->domain = xstrdup(domain);
    str_copy(d->selector, sizeof d->selector, sel);
    d->key_file = xstrdup(p);
    d->line = line;
}

static void new_conf(struct conf *c, const char *hostname)
{
    conf_defaults(c);
    free(c->hostname);
    c->hostname = xstrdup(hostname);
}

/* Verifies msg[0..len) with libopendkim, keys from tmpdir/keys: its status. */
static DKIM_STAT verify(const char *msg, size_t len)
{
    char keys[512];
    path_in("keys", keys, sizeof keys);
    DKIM_LIB *lib = dkim_init(NULL, NULL);
    assert_non_null(lib);
    dkim_query_t q = DKIM_QUERY_FILE;
    assert_int_equal(dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYMETHOD, &q, sizeof q),
                     DKIM_STAT_OK);
    assert_int_equal(dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYINFO, keys, strlen(keys)),
                     DKIM_STAT_OK);
    DKIM_STAT st;
    DKIM *dk = dkim_verify(lib, (const u_char *)"test", NULL, &st);
    assert_non_null(dk);
    st = dkim_chunk(dk, (u_char *)msg, len);
    if (st == DKIM_STAT_OK)
        st = dkim_chunk(dk, NULL, 0);
    if (st == DKIM_STAT_OK)
        st = dkim_eom(dk, NULL);
    dkim_free(dk);
    dkim_close(lib);
    return st;
}

static void test_choose(void **state)
{
    (void)state;
    struct conf c;
    new_conf(&c, "mx.example.org");
    assert_null(dkim_sign_choose(&c, "example.org", 1));
    add_key(&c, "first.example", "s1", "k1", 10);
    add_key(&c, "example.org", "s2", "k2", 11);
    add_key(&c, "mx.example.org", "s3", "k3", 12);
    assert_string_equal(dkim_sign_choose(&c, "example.org", 0)->selector, "s2");
    assert_null(dkim_sign_choose(&c, "sub.example.org", 0)); /* exact domain only */
    assert_null(dkim_sign_choose(&c, NULL, 0));
    assert_string_equal(dkim_sign_choose(&c, "first.example", 1)->selector, "s1");
    assert_string_equal(dkim_sign_choose(&c, "other.example", 1)->selector, "s3");
    free(c.hostname);
    c.hostname = xstrdup("relay.example.org");
    assert_string_equal(dkim_sign_choose(&c, "other.example", 1)->selector, "s2");
    free(c.hostname);
    c.hostname = xstrdup("elsewhere.example.net");
    assert_string_equal(dkim_sign_choose(&c, NULL, 1)->selector, "s1");
    free(c.hostname);
    c.hostname = xstrdup("MX.Example.ORG");
    assert_string_equal(dkim_sign_choose(&c, NULL, 1)->selector, "s3");
    conf_free(&c);
}

static void test_check_keys(void **state)
{
    (void)state;
    struct conf c;
    struct buf err;
    char p[512];
    new_conf(&c, "mx.example.org");
    free(c.path);
    c.path = xstrdup("/etc/p.conf");
    make_key("good.key", "example.org", "s", 0);
    make_key("ed.key", "ed.example", "e", 1);
    path_in("junk.key", p, sizeof p);
    FILE *f = fopen(p, "w");
    fputs("not a key\n", f);
    fclose(f);
    add_key(&c, "example.org", "s", "good.key", 3);
    add_key(&c, "ed.example", "e", "ed.key", 4);
    buf_init(&err, 4096);
    assert_int_equal(dkim_sign_check_keys(&c, &err), 0);
    add_key(&c, "junk.example", "j", "junk.key", 7);
    add_key(&c, "none.example", "n", "none.key", 9);
    assert_int_equal(dkim_sign_check_keys(&c, &err), -1);
    const char *e = buf_cstr(&err);
    assert_non_null(strstr(e, "/etc/p.conf:7: dkim_sign: "));
    assert_non_null(strstr(e, "junk.key: not a PEM private key"));
    assert_non_null(strstr(e, "/etc/p.conf:9: dkim_sign: "));
    assert_non_null(strstr(e, "none.key: No such file or directory"));
    buf_free(&err);
    conf_free(&c);
}

/* Signs msg_text (From example.org) with a key of that type; verifies it, then breaks it. */
static void sign_and_verify(int ed25519)
{
    struct conf c;
    struct buf out;
    new_conf(&c, "mx.example.org");
    make_key("k", "example.org", "sel", ed25519);
    add_key(&c, "example.org", "sel", "k", 1);
    buf_init(&out, BUF_UNLIMITED);
    assert_int_equal(dkim_sign_text(&c, msg_text, strlen(msg_text), 0, &out), 0);
    const char *sig = buf_cstr(&out);
    assert_true(strncmp(sig, "DKIM-Signature: ", 16) == 0);
    assert_non_null(strstr(sig, ed25519 ? "a=ed25519-sha256" : "a=rsa-sha256"));
    assert_non_null(strstr(sig, "c=relaxed/relaxed"));
    assert_non_null(strstr(sig, "d=example.org"));
    assert_non_null(strstr(sig, "s=sel"));
    assert_true(out.len > 2 && memcmp(sig + out.len - 2, "\r\n", 2) == 0);
    for (size_t i = 0; i < out.len; i++) /* CRLF line ends only */
        assert_true(sig[i] != '\n' || (i > 0 && sig[i - 1] == '\r'));
    buf_appends(&out, msg_text);
    assert_int_equal(verify(out.data, out.len), DKIM_STAT_OK);
    char *bad = strstr(out.data, "bye");
    bad[0] = 'B';
    assert_int_equal(verify(out.data, out.len), DKIM_STAT_BADSIG);
    bad[0] = 'b';
    /* From oversigned: a second From added above fails */
    struct buf two;
    buf_init(&two, BUF_UNLIMITED);
    size_t siglen = (size_t)(strstr(out.data, "Received:") - out.data);
    buf_append(&two, out.data, siglen);
    buf_appends(&two, "From: eve@example.org\r\n");
    buf_append(&two, out.data + siglen, out.len - siglen);
    assert_int_not_equal(verify(two.data, two.len), DKIM_STAT_OK);
    buf_free(&two);
    buf_free(&out);
    conf_free(&c);
}

static void test_sign_rsa(void **state)
{
    (void)state;
    sign_and_verify(0);
}

static void test_sign_ed25519(void **state)
{
    (void)state;
    sign_and_verify(1);
}

/* A message in a file at an offset, its body longer than a read chunk. */
static void test_sign_file(void **state)
{
    (void)state;
    struct conf c;
    struct buf msg, out;
    char p[512];
    new_conf(&c, "mx.example.org");
    make_key("k", "example.org", "sel", 0);
    add_key(&c, "example.org", "sel", "k", 1);
    buf_init(&msg, BUF_UNLIMITED);
    buf_appends(&msg, msg_text);
    for (int i = 0; i < 5000; i++)
        buf_printf(&msg, "line %d of a long body, with  two spaces \t\r\n", i);
    path_in("msg", p, sizeof p);
    int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "HEAD", 4), 4);
    assert_int_equal(write(fd, msg.data, msg.len), (ssize_t)msg.len);
    buf_init(&out, BUF_UNLIMITED);
    struct queue_content m = {.fd = fd, .off = 4, .size = msg.len};
    assert_int_equal(dkim_sign_message(&c, &m, 0, &out), 0);
    assert_true(out.len > 0);
    buf_append(&out, msg.data, msg.len);
    assert_int_equal(verify(out.data, out.len), DKIM_STAT_OK);
    /* no key for the From domain: nothing added */
    buf_reset(&out);
    free(c.dkim_keys[0].domain);
    c.dkim_keys[0].domain = xstrdup("other.example");
    assert_int_equal(dkim_sign_message(&c, &m, 0, &out), 0);
    assert_int_equal(out.len, 0);
    /* a notice: the first key when none is the hostname's domain */
    assert_int_equal(dkim_sign_message(&c, &m, 1, &out), 0);
    assert_non_null(strstr(buf_cstr(&out), "d=other.example"));
    close(fd);
    buf_free(&out);
    buf_free(&msg);
    conf_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_choose, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sign_rsa, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sign_ed25519, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sign_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
