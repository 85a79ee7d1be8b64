/*
 * webd_compose: the Write page (GET /compose, POST /compose; see
 * webd_int.h and webd_compose.h). GET shows the form (multipart, the CSRF
 * token in the action's query, as the dispatcher checks it there for
 * multipart forms). POST reads the form on a web worker, checks the
 * addresses (RFC 5322 address lists, proto/addrlist) and the sizes, builds
 * the message with GMime, and hands it to the durable commit
 * (webd_submit.c). A form that cannot be sent comes back with its fields
 * and the reason in words (p#error); nothing is queued then.
 */
#include "webd/webd_compose.h"
#include "lib/alloc.h"
#include "lib/str.h"
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void compose_free(void *p)
{
    struct compose *c = p;
    if (!c)
        return;
    free(c->raw);
    free(c->raw_ctype);
    free(c->f.to), free(c->f.cc), free(c->f.subject), free(c->f.body);
    for (size_t i = 0; i < c->f.n_files; i++)
        free(c->f.files[i].name), free(c->f.files[i].ctype), free(c->f.files[i].data);
    for (size_t i = 0; i < c->n_rcpts; i++)
        free(c->rcpts[i]);
    free(c->rcpts);
    buf_free(&c->msg);
    envelope_free(&c->env);
    free(c);
}

static void compose_input(struct webd_req *r, const char *label, const char *id,
                          const char *type, const char *value)
{
    webd_page_printf(r, "<label for=\"%s\">%s</label>\n<input type=\"%s\" id=\"%s\" name=\"%s\" "
                        "value=\"", id, label, type, id, id);
    webd_page_esc(r, value ? value : "");
    webd_page_printf(r, "\">\n");
}

/* The form, with the fields of f (NULL: empty) and an error (NULL: none). */
static void compose_page(struct webd_req *r, const struct compose_form *f, const char *error)
{
    buf_reset(&r->page);
    webd_page_begin(r, "Write");
    if (error && error[0]) {
        webd_page_printf(r, "<p id=\"error\" class=\"error\">");
        webd_page_esc(r, error);
        webd_page_printf(r, "</p>\n");
    }
    webd_page_printf(r, "<form id=\"compose\" method=\"post\" enctype=\"multipart/form-data\" "
                        "action=\"/compose?csrf=%s\">\n", r->csrf);
    webd_page_csrf(r);
    webd_page_printf(r, "<p class=\"note\">From: ");
    webd_page_esc(r, r->box.addr);
    webd_page_printf(r, "</p>\n");
    compose_input(r, "To", "to", "text", f ? f->to : NULL);
    compose_input(r, "Cc", "cc", "text", f ? f->cc : NULL);
    compose_input(r, "Subject", "subject", "text", f ? f->subject : NULL);
    webd_page_printf(r, "<label for=\"body\">Message</label>\n"
                        "<textarea id=\"body\" name=\"body\">\n");
    webd_page_esc(r, f && f->body ? f->body : ""); /* the newline after the tag is not kept */
    webd_page_printf(r, "</textarea>\n<label for=\"attachments\">Attachments</label>\n"
                        "<input type=\"file\" id=\"attachments\" name=\"attachment\" multiple>\n");
    if (f && f->n_files)
        webd_page_printf(r, "<p class=\"note\">Choose the attachments again.</p>\n");
    webd_page_printf(r, "<label><input type=\"checkbox\" id=\"notify\" name=\"notify\" value=\"1\"%s>"
                        " Notify me of delivery</label>\n"
                        "<button type=\"submit\" id=\"send\">Send</button>\n</form>\n",
                     f && f->notify ? " checked" : "");
    webd_page_end(r);
}

/* Worker: read, check, build, sign. r->status 0 on success, else the form comes back. */
static void compose_work(struct webd_req *r)
{
    struct compose *c = r->data;
    if (compose_read_form(r, c) < 0 || compose_envelope(r, c) < 0 || compose_build(r, c) < 0) {
        r->status = r->status ? r->status : 400;
        compose_page(r, &c->f, r->error);
        return;
    }
    compose_trace(r, c);
}

static void compose_done(struct webd_req *r)
{
    struct compose *c = r->data;
    if (r->job.failed) { /* the server stops: the work never ran */
        webd_send_error(r, 503, "Service Unavailable", "The server is stopping: nothing was sent.");
        return;
    }
    if (r->status) {
        webd_send_page(r, r->status, r->status == 413 ? "Payload Too Large" : "Bad Request");
        return;
    }
    compose_commit(r, c);
}

/* POST: the body is copied here (the loop owns evhttp's buffer), then read on a worker. */
static void compose_post(struct webd_req *r)
{
    struct compose *c = xcalloc(1, sizeof *c);
    c->r = r;
    c->sent_fd = -1;
    buf_init(&c->msg, BUF_UNLIMITED);
    envelope_init(&c->env);
    r->data = c;
    r->data_free = compose_free;
    const char *ctype = evhttp_find_header(evhttp_request_get_input_headers(r->req),
                                           "Content-Type");
    if (ctype && str_iprefix(ctype, "multipart/form-data")) {
        struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
        c->raw_len = evbuffer_get_length(in);
        c->raw = xmalloc(c->raw_len + 1);
        evbuffer_copyout(in, c->raw, c->raw_len);
        c->raw_ctype = xstrdup(ctype);
    }
    webd_defer(r, compose_work, compose_done);
}

void webd_compose(struct webd_req *r)
{
    if (r->method == EVHTTP_REQ_POST) {
        compose_post(r);
        return;
    }
    compose_page(r, NULL, NULL);
    webd_send_page(r, 200, "OK");
}
