/*
 * html_clean: the allow-list HTML sanitizer of mail bodies (see html_clean.h).
 * libxml2 builds the tree (it decodes entities, closes tags, recovers from
 * broken markup); this file writes it out again element by element. What the
 * browser then parses is exactly what was written: every text and attribute
 * value is escaped (& < > " '), no raw-text element (script, style, title,
 * textarea, xmp, noscript...) is ever written, so no parser differential can
 * bring markup back.
 */
#include "proto/html_clean.h"
#include "lib/html.h"
#include <ctype.h>
#include <stdlib.h>
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <string.h>
#include <strings.h>

#define HTML_CLEAN_DEPTH 256
#define HTML_CLEAN_STYLE_MAX 8192

enum hc_elem { HC_UNWRAP, HC_KEEP, HC_VOID, HC_DROP };

/* Elements kept; HC_VOID ones have no end tag. Anything not here is unwrapped
 * (its children kept) unless hc_dropped names it. */
static const struct { const char *name; enum hc_elem kind; } hc_elems[] = {
    {"a", HC_KEEP},        {"abbr", HC_KEEP},    {"address", HC_KEEP}, {"article", HC_KEEP},
    {"aside", HC_KEEP},    {"b", HC_KEEP},       {"bdi", HC_KEEP},     {"bdo", HC_KEEP},
    {"big", HC_KEEP},      {"blockquote", HC_KEEP}, {"br", HC_VOID},   {"caption", HC_KEEP},
    {"center", HC_KEEP},   {"cite", HC_KEEP},    {"code", HC_KEEP},    {"col", HC_VOID},
    {"colgroup", HC_KEEP}, {"dd", HC_KEEP},      {"del", HC_KEEP},     {"details", HC_KEEP},
    {"dfn", HC_KEEP},      {"div", HC_KEEP},     {"dl", HC_KEEP},      {"dt", HC_KEEP},
    {"em", HC_KEEP},       {"figcaption", HC_KEEP}, {"figure", HC_KEEP}, {"font", HC_KEEP},
    {"footer", HC_KEEP},   {"h1", HC_KEEP},      {"h2", HC_KEEP},      {"h3", HC_KEEP},
    {"h4", HC_KEEP},       {"h5", HC_KEEP},      {"h6", HC_KEEP},      {"header", HC_KEEP},
    {"hr", HC_VOID},       {"i", HC_KEEP},       {"img", HC_VOID},     {"ins", HC_KEEP},
    {"kbd", HC_KEEP},      {"li", HC_KEEP},      {"main", HC_KEEP},    {"mark", HC_KEEP},
    {"nav", HC_KEEP},      {"ol", HC_KEEP},      {"p", HC_KEEP},       {"pre", HC_KEEP},
    {"q", HC_KEEP},        {"rp", HC_KEEP},      {"rt", HC_KEEP},      {"ruby", HC_KEEP},
    {"s", HC_KEEP},        {"samp", HC_KEEP},    {"section", HC_KEEP}, {"small", HC_KEEP},
    {"span", HC_KEEP},     {"strike", HC_KEEP},  {"strong", HC_KEEP},  {"sub", HC_KEEP},
    {"summary", HC_KEEP},  {"sup", HC_KEEP},     {"table", HC_KEEP},   {"tbody", HC_KEEP},
    {"td", HC_KEEP},       {"tfoot", HC_KEEP},   {"th", HC_KEEP},      {"thead", HC_KEEP},
    {"time", HC_KEEP},     {"tr", HC_KEEP},      {"tt", HC_KEEP},      {"u", HC_KEEP},
    {"ul", HC_KEEP},       {"var", HC_KEEP},     {"wbr", HC_VOID},
};

/* Elements that go with everything inside them. */
static const char *const hc_dropped[] = {
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "form",
    "input", "button", "select", "option", "optgroup", "textarea", "link", "meta", "base",
    "svg", "math", "template", "noscript", "noembed", "noframes", "title", "xmp", "plaintext",
    "head", "audio", "video", "source", "track", "canvas", "map", "area", "param", "portal",
    "dialog", "datalist", "keygen", "isindex", "image", "listing", "picture", "slot",
};

enum hc_attr { HC_PLAIN, HC_HREF, HC_SRC, HC_SRCSET, HC_BACKGROUND, HC_STYLE };

static const struct { const char *name; enum hc_attr kind; } hc_attrs[] = {
    {"abbr", HC_PLAIN},   {"align", HC_PLAIN},    {"alt", HC_PLAIN},      {"bgcolor", HC_PLAIN},
    {"border", HC_PLAIN}, {"cellpadding", HC_PLAIN}, {"cellspacing", HC_PLAIN},
    {"class", HC_PLAIN},  {"color", HC_PLAIN},    {"cols", HC_PLAIN},     {"colspan", HC_PLAIN},
    {"datetime", HC_PLAIN}, {"dir", HC_PLAIN},    {"face", HC_PLAIN},     {"headers", HC_PLAIN},
    {"height", HC_PLAIN}, {"hspace", HC_PLAIN},   {"lang", HC_PLAIN},     {"nowrap", HC_PLAIN},
    {"reversed", HC_PLAIN}, {"rowspan", HC_PLAIN}, {"scope", HC_PLAIN},   {"size", HC_PLAIN},
    {"span", HC_PLAIN},   {"start", HC_PLAIN},    {"summary", HC_PLAIN},  {"title", HC_PLAIN},
    {"type", HC_PLAIN},   {"valign", HC_PLAIN},   {"vspace", HC_PLAIN},   {"width", HC_PLAIN},
    {"href", HC_HREF},    {"src", HC_SRC},        {"srcset", HC_SRCSET},
    {"background", HC_BACKGROUND}, {"style", HC_STYLE},
};

struct hc {
    xmlDocPtr doc;
    const struct html_clean_opts *opts;
    struct html_clean_result *res;
    struct buf *out;
    int full;
};

void html_clean_init(void)
{
    xmlInitParser();
}

static enum hc_elem hc_elem_kind(const char *name, const char **canon)
{
    for (size_t i = 0; i < sizeof hc_dropped / sizeof hc_dropped[0]; i++)
        if (strcasecmp(name, hc_dropped[i]) == 0)
            return HC_DROP;
    for (size_t i = 0; i < sizeof hc_elems / sizeof hc_elems[0]; i++)
        if (strcasecmp(name, hc_elems[i].name) == 0) {
            *canon = hc_elems[i].name;
            return hc_elems[i].kind;
        }
    return HC_UNWRAP;
}

/* ---- URLs ---- */

enum hc_url { HC_URL_RELATIVE, HC_URL_REMOTE, HC_URL_MAILTO, HC_URL_DATA_IMAGE, HC_URL_OTHER };

/* What a URL is, read the way a browser does: leading spaces and controls
 * skipped, tabs and line ends inside ignored, the scheme case-insensitive. */
static enum hc_url hc_url_kind(const char *v)
{
    char head[16];
    size_t n = 0;
    while (*v && (unsigned char)*v <= 0x20)
        v++;
    for (; *v && n < sizeof head - 1; v++) {
        if (*v == '\t' || *v == '\n' || *v == '\r')
            continue;
        head[n++] = (char)tolower((unsigned char)*v);
    }
    head[n] = '\0';
    if ((head[0] == '/' || head[0] == '\\') && (head[1] == '/' || head[1] == '\\'))
        return HC_URL_REMOTE; /* //host/path: the page's scheme */
    size_t s = strspn(head, "abcdefghijklmnopqrstuvwxyz0123456789+-.");
    if (head[s] != ':' || s == 0)
        return head[s] == ':' ? HC_URL_OTHER : HC_URL_RELATIVE;
    if (strncmp(head, "http:", 5) == 0 || strncmp(head, "https:", 6) == 0)
        return HC_URL_REMOTE;
    if (strncmp(head, "mailto:", 7) == 0)
        return HC_URL_MAILTO;
    if (strncmp(head, "data:image/", 11) == 0)
        return HC_URL_DATA_IMAGE;
    return HC_URL_OTHER;
}

static int hc_hex(int c)
{
    return isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
}

/* "cid:ID" through the caller's map: its data:image/ URL (malloc'd) or NULL. */
static char *hc_cid(struct hc *h, const char *v)
{
    while (*v && (unsigned char)*v <= 0x20)
        v++;
    if (!h->opts->cid || strncasecmp(v, "cid:", 4) != 0)
        return NULL;
    char id[512];
    size_t n = 0;
    for (v += 4; *v && n < sizeof id - 1; v++) {
        if (v[0] == '%' && isxdigit((unsigned char)v[1]) && isxdigit((unsigned char)v[2])) {
            id[n++] = (char)(hc_hex((unsigned char)v[1]) * 16 + hc_hex((unsigned char)v[2]));
            v += 2;
        } else
            id[n++] = *v;
    }
    id[n] = '\0';
    if (*v || memchr(id, '\0', n))
        return NULL;
    char *url = h->opts->cid(h->opts->cid_ctx, id);
    if (url && hc_url_kind(url) != HC_URL_DATA_IMAGE) {
        free(url);
        url = NULL;
    }
    return url;
}

/* An image URL (src, background): 1 to keep it (or *repl, an image of the
 * message itself). Remote ones are counted. */
static int hc_image_ok(struct hc *h, const char *v, char **repl)
{
    enum hc_url k = hc_url_kind(v);
    if (k == HC_URL_DATA_IMAGE)
        return 1;
    if (k == HC_URL_OTHER)
        return (*repl = hc_cid(h, v)) != NULL;
    if (k != HC_URL_REMOTE)
        return 0;
    h->res->remote_found = 1;
    if (h->opts->allow_remote)
        return 1;
    h->res->remote_removed = 1;
    return 0;
}

/* srcset "URL [descriptor], URL ...": kept only when remote images are allowed
 * and every candidate is http(s) (a data: URL's commas are not worth parsing). */
static int hc_srcset_ok(struct hc *h, const char *v)
{
    int all_remote = 1, any = 0;
    for (const char *p = v; *p;) {
        while (*p == ',' || (unsigned char)*p <= 0x20) {
            if (!*p)
                break;
            p++;
        }
        if (!*p)
            break;
        any = 1;
        if (hc_url_kind(p) != HC_URL_REMOTE)
            all_remote = 0;
        const char *c = strchr(p, ',');
        p = c ? c + 1 : p + strlen(p);
    }
    if (!any)
        return 0;
    h->res->remote_found = 1;
    if (h->opts->allow_remote)
        return all_remote; /* a mixed list is dropped, but was not refused as remote */
    h->res->remote_removed = 1;
    return 0;
}

/* ---- inline style ---- */

/* 1 to keep a style attribute: no escapes, no script-like or loading
 * constructs other than url() of data:image/ or (allowed) http(s). */
static int hc_style_ok(struct hc *h, const char *v)
{
    static const char *const bad[] = {"\\", "expression", "javascript", "vbscript", "@import",
                                      "behavior", "binding", "image-set", "image(", "cross-fade",
                                      "src(", "element(", "<", "/*"};
    char low[HTML_CLEAN_STYLE_MAX];
    size_t n = strlen(v);
    if (n >= sizeof low)
        return 0;
    for (size_t i = 0; i <= n; i++)
        low[i] = (char)tolower((unsigned char)v[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (strstr(low, bad[i]))
            return 0;
    int remote = 0;
    for (const char *p = strstr(low, "url("); p; p = strstr(p + 4, "url(")) {
        const char *u = p + 4;
        while (*u == ' ' || *u == '\t' || *u == '\n' || *u == '\r' || *u == '"' || *u == '\'')
            u++;
        enum hc_url k = hc_url_kind(u);
        if (k == HC_URL_REMOTE)
            remote = 1;
        else if (k != HC_URL_DATA_IMAGE)
            return 0;
    }
    if (!remote)
        return 1;
    h->res->remote_found = 1;
    if (h->opts->allow_remote)
        return 1;
    h->res->remote_removed = 1;
    return 0;
}

/* ---- writing ---- */

static void hc_put(struct hc *h, const char *s)
{
    if (!h->full && buf_appends(h->out, s) < 0)
        h->full = 1;
}

static void hc_esc(struct hc *h, const char *s)
{
    if (!h->full && html_escapes(h->out, s) < 0)
        h->full = 1;
}

/* 1 if v holds a control character that the escaping would change (to U+FFFD)
 * but a browser's URL parser would strip: what was checked must be what is sent. */
static int hc_has_controls(const char *v)
{
    for (; *v; v++) {
        unsigned char c = (unsigned char)*v;
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
            return 1;
    }
    return 0;
}

/* 1 if attribute name (value v, or *repl when set) may stay on element el. */
static int hc_attr_ok(struct hc *h, const char *el, enum hc_attr kind, const char *v,
                      char **repl)
{
    if (kind != HC_PLAIN && hc_has_controls(v))
        return 0;
    switch (kind) {
    case HC_PLAIN:
        return 1;
    case HC_HREF: {
        enum hc_url k = hc_url_kind(v);
        return strcmp(el, "a") == 0 && (k == HC_URL_REMOTE || k == HC_URL_MAILTO);
    }
    case HC_SRC:
        return strcmp(el, "img") == 0 && hc_image_ok(h, v, repl);
    case HC_SRCSET:
        return strcmp(el, "img") == 0 && hc_srcset_ok(h, v);
    case HC_BACKGROUND:
        return hc_image_ok(h, v, repl);
    case HC_STYLE:
        return hc_style_ok(h, v);
    }
    return 0;
}

static void hc_attrs_write(struct hc *h, xmlNodePtr node, const char *el)
{
    for (xmlAttrPtr a = node->properties; a; a = a->next) {
        const char *name = (const char *)a->name;
        size_t i = 0, n = sizeof hc_attrs / sizeof hc_attrs[0];
        while (i < n && strcasecmp(name, hc_attrs[i].name) != 0)
            i++;
        if (i == n)
            continue; /* on*, id, name, target, formaction, ping, ...: gone */
        xmlChar *xv = xmlNodeListGetString(h->doc, a->children, 1);
        const char *v = xv ? (const char *)xv : "";
        char *repl = NULL;
        if (hc_attr_ok(h, el, hc_attrs[i].kind, v, &repl)) {
            hc_put(h, " ");
            hc_put(h, hc_attrs[i].name);
            hc_put(h, "=\"");
            hc_esc(h, repl ? repl : v);
            hc_put(h, "\"");
        }
        free(repl);
        xmlFree(xv);
    }
}

static void hc_nodes(struct hc *h, xmlNodePtr n, int depth);

static void hc_element(struct hc *h, xmlNodePtr node, int depth)
{
    const char *canon = NULL;
    enum hc_elem kind = hc_elem_kind((const char *)node->name, &canon);
    if (kind == HC_DROP)
        return;
    if (kind == HC_UNWRAP) {
        hc_nodes(h, node->children, depth + 1);
        return;
    }
    hc_put(h, "<");
    hc_put(h, canon);
    hc_attrs_write(h, node, canon);
    hc_put(h, ">");
    if (kind == HC_VOID)
        return;
    hc_nodes(h, node->children, depth + 1);
    hc_put(h, "</");
    hc_put(h, canon);
    hc_put(h, ">");
}

static void hc_nodes(struct hc *h, xmlNodePtr n, int depth)
{
    if (depth > HTML_CLEAN_DEPTH)
        return;
    for (; n && !h->full; n = n->next) {
        if (n->type == XML_ELEMENT_NODE)
            hc_element(h, n, depth);
        else if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) && n->content)
            hc_esc(h, (const char *)n->content);
    }
}

int html_clean(const char *in, size_t len, const struct html_clean_opts *opts, struct buf *out,
               struct html_clean_result *res)
{
    static const struct html_clean_opts none = {0};
    memset(res, 0, sizeof *res);
    if (len > HTML_CLEAN_IN_MAX) {
        len = HTML_CLEAN_IN_MAX;
        res->cut = 1;
    }
    struct hc h = {.opts = opts ? opts : &none, .res = res, .out = out};
    hc_put(&h, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n");
    if (len) {
        h.doc = htmlReadMemory(in, (int)len, NULL, "UTF-8",
                               HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                   HTML_PARSE_RECOVER);
        if (h.doc)
            hc_nodes(&h, h.doc->children, 0);
        xmlFreeDoc(h.doc);
    }
    hc_put(&h, "\n</body></html>\n");
    return h.full ? -1 : 0;
}
