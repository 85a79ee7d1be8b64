/*
 * metricsd: the metrics HTTP endpoint (see metricsd.h). evhttp parses the
 * requests and writes the replies; this file only routes them. Scrapes are
 * small and rare (one every few seconds): the page is built whole for each.
 */
#include "metricsd/metricsd.h"
#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/prom.h"
#include <event2/buffer.h>
#include <event2/http.h>
#include <errno.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>

#define METRICSD_PAGE_MAX (1024 * 1024)
/* A scrape is a short GET: anything bigger or slower is not one. */
#define METRICSD_HEADERS_MAX 8192
#define METRICSD_BODY_MAX 1024
#define METRICSD_TIMEOUT_S 30

struct metricsd {
    struct evhttp *http;
    metricsd_gauges_fn gauges;
    void *arg;
};

static void metricsd_error(struct evhttp_request *req, int code, const char *reason)
{
    struct evbuffer *body = evbuffer_new();
    evbuffer_add_printf(body, "%d %s\n", code, reason);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "text/plain; charset=utf-8");
    if (code == 405)
        evhttp_add_header(h, "Allow", "GET, HEAD");
    evhttp_send_reply(req, code, reason, body);
    evbuffer_free(body);
}

static void metricsd_page(struct metricsd *md, struct evhttp_request *req)
{
    struct metrics_gauges g = {0};
    md->gauges(md->arg, &g);
    struct buf page;
    buf_init(&page, METRICSD_PAGE_MAX);
    metrics_format(&g, &page);
    struct evbuffer *body = evbuffer_new();
    evbuffer_add(body, page.data ? page.data : "", page.len);
    buf_free(&page);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", PROM_CONTENT_TYPE);
    evhttp_send_reply(req, 200, "OK", body);
    evbuffer_free(body);
}

static void metricsd_on_request(struct evhttp_request *req, void *arg)
{
    struct metricsd *md = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    if (!path || strcmp(path, "/metrics") != 0)
        metricsd_error(req, 404, "Not Found");
    else if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD)
        metricsd_error(req, 405, "Method Not Allowed");
    else
        metricsd_page(md, req);
}

struct metricsd *metricsd_new(struct event_base *base, const struct conf *c,
                              metricsd_gauges_fn gauges, void *arg)
{
    struct metricsd *md = xcalloc(1, sizeof *md);
    md->gauges = gauges;
    md->arg = arg;
    for (size_t i = 0; i < c->n_listens; i++) {
        const struct listen_spec *ls = &c->listens[i];
        if (ls->kind != LISTEN_METRICS)
            continue;
        if (!md->http) {
            md->http = evhttp_new(base);
            /* every method reaches the handler, which answers 405 itself */
            evhttp_set_allowed_methods(md->http, 0xffff);
            evhttp_set_gencb(md->http, metricsd_on_request, md);
            evhttp_set_max_headers_size(md->http, METRICSD_HEADERS_MAX);
            evhttp_set_max_body_size(md->http, METRICSD_BODY_MAX);
            evhttp_set_timeout(md->http, METRICSD_TIMEOUT_S);
        }
        if (evhttp_bind_socket(md->http, ls->addr, (ev_uint16_t)ls->port) < 0) {
            log_err("listen metrics %s:%d: cannot bind: %s", ls->addr, ls->port, strerror(errno));
            metricsd_free(md);
            return NULL;
        }
        log_info("metrics: listening on %s:%d", ls->addr, ls->port);
    }
    return md;
}

void metricsd_free(struct metricsd *md)
{
    if (!md)
        return;
    if (md->http)
        evhttp_free(md->http);
    free(md);
}
