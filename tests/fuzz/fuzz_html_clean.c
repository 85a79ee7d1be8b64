/*
 * fuzz_html_clean: libFuzzer harness for proto/html_clean (the mail HTML
 * sanitizer). Cleans arbitrary bytes with remote images refused and then
 * allowed, and reads the output back as a browser's tokenizer would: every
 * tag is one of the kept elements, every attribute one of the kept names
 * with a double-quoted value holding no quote or '<', no on* attribute, an
 * href only http(s)/mailto, a src or background only data:image/ or (when
 * allowed) http(s), no srcset when refused; the output is never more than
 * the buffer's limit, and a remote URL removed is reported. Build:
 * tests/fuzz/run.sh.
 */
#include <assert.h>
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "proto/html_clean.h"

static const char *const kept[] = {
    "a", "abbr", "address", "article", "aside", "b", "bdi", "bdo", "big", "blockquote", "br",
    "caption", "center", "cite", "code", "col", "colgroup", "dd", "del", "details", "dfn",
    "div", "dl", "dt", "em", "figcaption", "figure", "font", "footer", "h1", "h2", "h3", "h4",
    "h5", "h6", "header", "hr", "i", "img", "ins", "kbd", "li", "main", "mark", "nav", "ol",
    "p", "pre", "q", "rp", "rt", "ruby", "s", "samp", "section", "small", "span", "strike",
    "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time",
    "tr", "tt", "u", "ul", "var", "wbr", "html", "head", "meta", "body",
};

static int is_kept(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
        if (strlen(kept[i]) == n && strncmp(kept[i], name, n) == 0)
            return 1;
    return 0;
}

/* The scheme check a browser would make of a kept URL value. */
static void check_url(const char *name, size_t nl, const char *v, size_t vl, int remote)
{
    char head[16];
    size_t n = 0;
    while (vl && (unsigned char)*v <= 0x20)
        v++, vl--;
    for (size_t i = 0; i < vl && n < sizeof head - 1; i++)
        if (v[i] != '\t' && v[i] != '\n' && v[i] != '\r')
            head[n++] = (char)tolower((unsigned char)v[i]);
    head[n] = '\0';
    int slashes = (head[0] == '/' || head[0] == '\\') && (head[1] == '/' || head[1] == '\\');
    int http = strncmp(head, "http:", 5) == 0 || strncmp(head, "https:", 6) == 0 || slashes;
    if (nl == 4 && strncmp(name, "href", 4) == 0)
        assert(http || strncmp(head, "mailto:", 7) == 0);
    else if ((nl == 3 && strncmp(name, "src", 3) == 0) ||
             (nl == 10 && strncmp(name, "background", 10) == 0))
        assert(strncmp(head, "data:image/", 11) == 0 || (remote && http));
}

/* One tag's attributes from p (past the name) to its '>'; returns the '>'. */
static const char *check_attrs(const char *p, const char *end, int remote)
{
    while (p < end && *p == ' ') {
        const char *name = ++p;
        while (p < end && (islower((unsigned char)*p) || *p == '-'))
            p++;
        size_t nl = (size_t)(p - name);
        assert(nl > 0 && !(nl >= 2 && name[0] == 'o' && name[1] == 'n'));
        assert(p + 1 < end && p[0] == '=' && p[1] == '"');
        const char *v = p + 2, *q = memchr(v, '"', (size_t)(end - v));
        assert(q && !memchr(v, '<', (size_t)(q - v)) && !memchr(v, '>', (size_t)(q - v)));
        check_url(name, nl, v, (size_t)(q - v), remote);
        if (!remote && nl == 6 && strncmp(name, "srcset", 6) == 0)
            assert(0);
        p = q + 1;
    }
    assert(p < end && *p == '>');
    return p;
}

static void check_output(const char *s, size_t len, int remote)
{
    const char *end = s + len;
    for (const char *p = memchr(s, '<', len); p; p = memchr(p, '<', (size_t)(end - p))) {
        p++;
        if (p < end && *p == '!') { /* only the doctype */
            assert(strncmp(p, "!DOCTYPE html>", 14) == 0);
            continue;
        }
        if (p < end && *p == '/')
            p++;
        const char *name = p;
        while (p < end && isalnum((unsigned char)*p))
            p++;
        assert(is_kept(name, (size_t)(p - name)));
        p = check_attrs(p, end, remote);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int remote = 0; remote <= 1; remote++) {
        struct html_clean_opts o = {.allow_remote = remote};
        struct html_clean_result res;
        struct buf b;
        buf_init(&b, 1 << 20);
        if (html_clean((const char *)data, size, &o, &b, &res) == 0) {
            check_output(b.data, b.len, remote);
            assert(!remote || !res.remote_removed);
            assert(!res.remote_removed || res.remote_found);
        }
        assert(b.len <= (1 << 20));
        buf_free(&b);
    }
    return 0;
}
