/*
 * webd_page: the layout every page shares (see webd_int.h): the HTML head,
 * the navigation, the one style sheet, and escaped writing into the page.
 * No scripts anywhere: pages work as plain HTML forms and links, and read
 * on a phone's width.
 */
#include "webd/webd_int.h"
#include "lib/html.h"
#include <event2/buffer.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

static const char webd_css[] =
    "body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#fafafa}\n"
    "header{background:#234;color:#fff;padding:.5em 1em;display:flex;flex-wrap:wrap;"
    "gap:1em;align-items:center}\n"
    "header a{color:#fff}\nheader .who{margin-left:auto;font-size:.9em}\n"
    "main{padding:1em;max-width:60em;margin:auto}\n"
    "table{border-collapse:collapse;width:100%}\n"
    "td,th{padding:.3em .5em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}\n"
    "tr.unseen td{font-weight:bold}\n"
    ".error{color:#a00;font-weight:bold}\n.ok{color:#070}\n.note{color:#666;font-size:.9em}\n"
    "pre{white-space:pre-wrap;word-wrap:break-word;background:#fff;padding:.5em;"
    "border:1px solid #ddd}\n"
    "iframe{width:100%;min-height:30em;border:1px solid #ddd;background:#fff}\n"
    "input[type=text],input[type=email],input[type=password],textarea{width:100%;"
    "box-sizing:border-box;padding:.4em}\n"
    "textarea{min-height:15em}\nlabel{display:block;margin-top:.6em}\n"
    "button{padding:.4em 1em;margin-top:.6em}\nform.inline{display:inline}\n"
    ".state-delivered,.state-relayed{color:#070}\n.state-failed{color:#a00}\n"
    ".state-deferred,.state-queued{color:#a60}\n"
    "@media (max-width:40em){td.size,th.size,td.date,th.date{display:none}}\n";

void webd_style(struct webd_req *r)
{
    struct evbuffer *body = evbuffer_new();
    evbuffer_add(body, webd_css, sizeof webd_css - 1);
    webd_send_body(r, 200, "OK", body, "text/css; charset=utf-8", NULL);
}

void webd_page_printf(struct webd_req *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&r->page, fmt, ap);
    va_end(ap);
}

void webd_page_esc(struct webd_req *r, const char *s)
{
    html_escapes(&r->page, s);
}

void webd_page_escn(struct webd_req *r, const char *s, size_t n)
{
    html_escape(&r->page, s, n);
}

void webd_page_time(struct webd_req *r, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char out[32];
    if (!localtime_r(&t, &tm) || !strftime(out, sizeof out, "%Y-%m-%d %H:%M", &tm))
        out[0] = '\0';
    webd_page_esc(r, out);
}

void webd_page_csrf(struct webd_req *r)
{
    webd_page_printf(r, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">", r->csrf);
}

void webd_page_begin(struct webd_req *r, const char *title)
{
    webd_page_printf(r, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                        "<title>");
    webd_page_esc(r, title);
    webd_page_printf(r, " - postino</title>\n<link rel=\"stylesheet\" href=\"/style.css\">\n"
                        "</head><body>\n<header><strong>postino</strong>\n");
    if (r->logged_in) {
        webd_page_printf(r, "<a href=\"/inbox\">Inbox</a> <a href=\"/compose\">Write</a> "
                            "<a href=\"/sent\">Sent</a>\n<span class=\"who\">");
        webd_page_esc(r, r->box.addr);
        webd_page_printf(r, " <form class=\"inline\" method=\"post\" action=\"/logout\">");
        webd_page_csrf(r);
        webd_page_printf(r, "<button type=\"submit\" id=\"logout\">Log out</button></form>"
                            "</span>\n");
    }
    webd_page_printf(r, "</header>\n<main>\n<h1>");
    webd_page_esc(r, title);
    webd_page_printf(r, "</h1>\n");
}

void webd_page_end(struct webd_req *r)
{
    webd_page_printf(r, "</main>\n</body></html>\n");
}
