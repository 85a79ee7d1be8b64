/*
 * test_html_clean: unit tests for proto/html_clean (the mail HTML
 * sanitizer): scripts in every disguise (tags in any case, broken, nested,
 * inside comments, svg/math), event handlers, javascript:/vbscript:/data:
 * URLs hidden by entities, case and whitespace, remote images (img src,
 * srcset, background, CSS url()) removed and reported unless allowed,
 * links made plain, text escaped, broken markup recovered, output bounded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "lib/alloc.h"
#include "proto/html_clean.h"

static struct html_clean_result res;

/* The cleaned body of html (the fixed head and tail stripped), malloc'd. */
static char *clean_opt(const char *html, int remote)
{
    struct buf b;
    struct html_clean_opts o = {.allow_remote = remote};
    buf_init(&b, 1 << 20);
    assert_int_equal(html_clean(html, strlen(html), &o, &b, &res), 0);
    char *s = buf_detach(&b);
    const char *start = strstr(s, "<body>\n");
    const char *end = strstr(s, "\n</body></html>\n");
    assert_non_null(start);
    assert_non_null(end);
    start += 7;
    size_t n = (size_t)(end - start);
    char *body = xmalloc(n + 1);
    memcpy(body, start, n);
    body[n] = '\0';
    free(s);
    return body;
}

static char *clean(const char *html)
{
    return clean_opt(html, 0);
}

/* Asserts that no word of the list appears in the cleaned html (case-insensitive). */
static void assert_none(const char *html, const char *const *words)
{
    char *out = clean(html);
    for (size_t i = 0; words[i]; i++) {
        if (strcasestr(out, words[i]))
            fail_msg("'%s' left in '%s' (from '%s')", words[i], out, html);
    }
    free(out);
}

static void expect(const char *html, const char *want)
{
    char *out = clean(html);
    assert_string_equal(out, want);
    free(out);
}

static void test_plain_markup_kept(void **state)
{
    (void)state;
    expect("<p>Hello <b>world</b></p>", "<p>Hello <b>world</b></p>");
    expect("<table border=1><tr><td colspan=\"2\">x</td></tr></table>",
           "<table border=\"1\"><tr><td colspan=\"2\">x</td></tr></table>");
    expect("a<br>b<hr>", "<p>a<br>b</p><hr>");
    assert_int_equal(res.remote_found, 0);
}

static void test_scripts_in_all_disguises(void **state)
{
    (void)state;
    static const char *const bad[] = {"<script", "<style", "<iframe", "<object",
                                      "<embed", "<svg", "<math", "<form", "<meta", "<base",
                                      "<link", "<noscript", NULL};
    static const char *const cases[] = {
        "<script>alert(1)</script>ok",
        "<SCRIPT SRC=x>alert(1)</SCRIPT>",
        "<scr<script>ipt>alert(1)</script>",
        "<script/x>alert(1)</script>",
        "<<script>alert(1)//<</script>",
        "<div><script>alert(1)</script></div>",
        "<!--<script>alert(1)</script>-->",
        "<svg><script>alert(1)</script></svg>",
        "<svg onload=alert(1)>",
        "<math><mtext><script>alert(1)</script></mtext></math>",
        "<iframe src=javascript:alert(1)></iframe>",
        "<object data=x.swf></object><embed src=x>",
        "<style>body{background:url(http://x/a)}</style><style>alert</style>",
        "<form action=http://x><input name=a><button>go</button></form>",
        "<meta http-equiv=refresh content='0;url=http://x'>",
        "<base href=http://x/><link rel=stylesheet href=http://x/s.css>",
        "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>",
        "<textarea><script>alert(1)</script></textarea>",
        "<title><script>alert(1)</script></title>",
        "<xmp><script>alert(1)</script></xmp>",
        "<template><script>alert(1)</script></template>",
        "<p>unclosed <script>alert(1)",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_none(cases[i], bad);
    expect("<script>alert(1)</script>ok", "<p>ok</p>");
    expect("<scr<script>ipt>alert(1)</script>", "ipt&gt;alert(1)"); /* text only */
}

static void test_event_handlers(void **state)
{
    (void)state;
    static const char *const bad[] = {"onerror", "onload", "onclick", "onmouseover", "alert",
                                      "onfocus", NULL};
    assert_none("<img src=x onerror=alert(1)>", bad);
    assert_none("<body onload=alert(1)>x</body>", bad);
    assert_none("<p ONCLICK=\"alert(1)\" OnMouseOver='alert(1)'>x</p>", bad);
    assert_none("<div/onclick=alert(1)>x</div>", bad);
    assert_none("<a href=http://x onfocus=alert(1) autofocus>x</a>", bad);
    expect("<p onclick=\"alert(1)\" title=\"t\">x</p>", "<p title=\"t\">x</p>");
}

static void test_javascript_urls(void **state)
{
    (void)state;
    static const char *const bad[] = {"javascript", "vbscript", "href", "alert", NULL};
    static const char *const cases[] = {
        "<a href=\"javascript:alert(1)\">x</a>",
        "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
        "<a href=\" \tjavascript:alert(1)\">x</a>",
        "<a href=\"java\tscript:alert(1)\">x</a>",
        "<a href=\"java&#x09;script:alert(1)\">x</a>",
        "<a href=\"java&#10;script:alert(1)\">x</a>",
        "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;:alert(1)\">x</a>",
        "<a href=\"&#x6A;avascript&#x3A;alert(1)\">x</a>",
        "<a href=\"javascript&colon;alert(1)\">x</a>",
        "<a href=\"vbscript:msgbox(1)\">x</a>",
        "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
        "<a href=\"/logout\">x</a>",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_none(cases[i], bad);
    assert_none("<img src=\"javascript:alert(1)\">", bad);
    char *out = clean_opt("<img src=\"\x17http://t.example/x.gif\">"
                          "<a href=\"\x01https://t.example/\">x</a>", 1);
    assert_string_equal(out, "<img><a>x</a>"); /* no U+FFFD turning it relative */
    free(out);
    assert_none("<img src=\"data:text/html,<script>alert(1)</script>\">", bad);
}

static void test_links_plain(void **state)
{
    (void)state;
    expect("<a href=\"https://example.org/x?a=1&amp;b=2\" target=\"_top\" ping=\"http://t\" "
           "rel=\"opener\">x</a>",
           "<a href=\"https://example.org/x?a=1&amp;b=2\">x</a>");
    expect("<a href=\"mailto:a@b.example\">m</a>", "<a href=\"mailto:a@b.example\">m</a>");
    assert_int_equal(res.remote_found, 0); /* a link loads nothing until clicked */
}

static void test_remote_images(void **state)
{
    (void)state;
    static const char *const bad[] = {"tracker.example", NULL};
    static const char *const cases[] = {
        "<img src=\"http://tracker.example/p.gif\">",
        "<img src=\"HTTPS://tracker.example/p.gif\">",
        "<img src=\"//tracker.example/p.gif\">",
        "<img srcset=\"http://tracker.example/a.png 1x, http://tracker.example/b.png 2x\">",
        "<table background=\"http://tracker.example/bg.png\"><tr><td>x</td></tr></table>",
        "<td background=\"http://tracker.example/bg.png\">x</td>",
        "<div style=\"background:url(http://tracker.example/bg.png)\">x</div>",
        "<div style=\"background-image: URL( 'https://tracker.example/a' )\">x</div>",
        "<p style=\"background:url(&quot;//tracker.example/a&quot;)\">x</p>",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_none(cases[i], bad);
        assert_int_equal(res.remote_found, 1);
        assert_int_equal(res.remote_removed, 1);
    }
    static const char *const css_bad[] = {"tracker", "style", NULL};
    assert_none("<p style=\"background:u\\72l(http://tracker.example/a)\">x</p>", css_bad);
    assert_none("<p style=\"background:image-set('http://tracker.example/a' 1x)\">x</p>",
                css_bad);
    assert_none("<p style=\"width:expression(alert(1))\">x</p>", css_bad);
}

static void test_remote_allowed(void **state)
{
    (void)state;
    char *out = clean_opt("<img src=\"http://img.example/a.png\" alt=\"a\">", 1);
    assert_string_equal(out, "<img src=\"http://img.example/a.png\" alt=\"a\">");
    assert_int_equal(res.remote_found, 1);
    assert_int_equal(res.remote_removed, 0);
    free(out);
    out = clean_opt("<div style=\"background:url(https://img.example/bg)\">x</div>", 1);
    assert_non_null(strstr(out, "https://img.example/bg"));
    free(out);
    out = clean_opt("<img src=\"javascript:alert(1)\">", 1);
    assert_null(strstr(out, "javascript"));
    free(out);
}

static void test_data_images(void **state)
{
    (void)state;
    expect("<img src=\"data:image/png;base64,iVBORw0KGgo=\">",
           "<img src=\"data:image/png;base64,iVBORw0KGgo=\">");
    assert_int_equal(res.remote_found, 0);
    expect("<img src=\"cid:part1@x\">", "<img>");
    assert_int_equal(res.remote_found, 0);
}

static char *cid_map(void *ctx, const char *id)
{
    (void)ctx;
    if (strcmp(id, "logo@x.example") == 0)
        return xstrdup("data:image/png;base64,AAAA");
    if (strcmp(id, "evil@x") == 0)
        return xstrdup("http://tracker.example/p.gif");
    return NULL;
}

static void test_cid_images(void **state)
{
    (void)state;
    struct buf b;
    struct html_clean_opts o = {.cid = cid_map};
    const char *html = "<img src=\"cid:logo%40x.example\"><img src=\"CID:evil@x\">"
                       "<img src=\"cid:none@x\"><td background=\"cid:logo@x.example\">x</td>";
    buf_init(&b, 1 << 20);
    assert_int_equal(html_clean(html, strlen(html), &o, &b, &res), 0);
    const char *s = buf_cstr(&b);
    assert_non_null(strstr(s, "<img src=\"data:image/png;base64,AAAA\">"));
    assert_non_null(strstr(s, "background=\"data:image/png;base64,AAAA\""));
    assert_null(strstr(s, "tracker"));
    assert_null(strstr(s, "cid:"));
    assert_int_equal(res.remote_found, 0);
    buf_free(&b);
}

static void test_text_escaped(void **state)
{
    (void)state;
    expect("<p>a &lt;script&gt; &amp; \"q\"</p>",
           "<p>a &lt;script&gt; &amp; &quot;q&quot;</p>");
    expect("<p title='\"><script>alert(1)</script>'>x</p>",
           "<p title=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\">x</p>");
}

static void test_broken_and_nested(void **state)
{
    (void)state;
    static const char *const bad[] = {"<script", "onerror", NULL};
    assert_none("<p><b><i>unclosed <div>deep <img src=x onerror=alert(1)", bad);
    assert_none("<</p><<img src=x onerror=alert(1)>>", bad);
    assert_none("<a href=\"http://x\"><a href=\"http://y\">nested</a></a>", bad);
    assert_none("<p>\x00<script>alert(1)</script>", bad);
    assert_none("<custom-tag onclick=x><script>alert(1)</script>text</custom-tag>", bad);
    char deep[40000];
    size_t n = 0;
    for (int i = 0; i < 5000; i++) {
        memcpy(deep + n, "<div>", 5);
        n += 5;
    }
    memcpy(deep + n, "<script>alert(1)</script>", 26);
    assert_none(deep, bad);
    expect("", "");
    expect("just text", "<p>just text</p>");
}

static void test_output_bounded(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 100);
    const char *html = "<p>a long paragraph that will not fit in one hundred bytes of output, "
                       "together with the head the cleaner always writes first.</p>";
    assert_int_equal(html_clean(html, strlen(html), NULL, &b, &res), -1);
    assert_true(b.len <= 100);
    buf_free(&b);
}

int main(void)
{
    html_clean_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_markup_kept),   cmocka_unit_test(test_scripts_in_all_disguises),
        cmocka_unit_test(test_event_handlers),      cmocka_unit_test(test_javascript_urls),
        cmocka_unit_test(test_links_plain),         cmocka_unit_test(test_remote_images),
        cmocka_unit_test(test_remote_allowed),      cmocka_unit_test(test_data_images),
        cmocka_unit_test(test_cid_images),          cmocka_unit_test(test_text_escaped),        cmocka_unit_test(test_broken_and_nested),
        cmocka_unit_test(test_output_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
