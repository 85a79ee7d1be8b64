/*
 * auth_spf: SPF with libspf2 over auth_dns (see auth_spf.h). The layer
 * answers every lookup libspf2 asks (TXT, A, AAAA, MX, PTR) by building
 * its SPF_dns_rr_t from our answer: NXDOMAIN -> HOST_NOT_FOUND, no record
 * -> NO_DATA, a temporary failure -> TRY_AGAIN (libspf2's temperror).
 * Loopback clients are checked like any other (libspf2's own query would
 * pass them). libspf2's log handlers are ours (its default error handler would print
 * and abort).
 */
#include "msgauth/auth_spf.h"
#include "lib/log.h"
#include "lib/str.h"
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <spf2/spf.h>
#include <spf2/spf_dns.h>

static pthread_once_t auth_spf_once = PTHREAD_ONCE_INIT;

static void auth_spf_log(const char *file, int line, const char *msg)
{
    (void)file, (void)line;
    log_debug("spf: %s", msg);
}

__attribute__((noreturn)) static void auth_spf_fatal(const char *file, int line, const char *msg)
{
    log_err("spf: %s:%d: %s", file, line, msg);
    abort();
}

static void auth_spf_init(void)
{
    SPF_error_handler = auth_spf_fatal;
    SPF_warning_handler = auth_spf_log;
    SPF_info_handler = auth_spf_log;
    SPF_debug_handler = auth_spf_log;
}

/* Our answer as libspf2's record set. */
static SPF_dns_rr_t *auth_spf_rr(SPF_dns_server_t *srv, const char *domain, ns_type type,
                                 enum auth_dns_status st, const struct auth_dns_answer *ans)
{
    int herrno = st == AUTH_DNS_OK ? NETDB_SUCCESS
               : st == AUTH_DNS_NXDOMAIN ? HOST_NOT_FOUND
               : st == AUTH_DNS_NODATA ? NO_DATA : TRY_AGAIN;
    SPF_dns_rr_t *rr = SPF_dns_rr_new_init(srv, domain, type, 0, herrno);
    if (!rr || st != AUTH_DNS_OK)
        return rr;
    int n = 0;
    for (size_t i = 0; i < ans->n; i++) {
        int v4 = type == ns_t_a, v6 = type == ns_t_aaaa;
        size_t len = v4 ? 4 : v6 ? 16 : strlen(ans->rr[i].text) + 1;
        if (SPF_dns_rr_buf_realloc(rr, n, len) != SPF_E_SUCCESS)
            break;
        if (v4)
            memcpy(&rr->rr[n]->a, ans->rr[i].addr, 4);
        else if (v6)
            memcpy(&rr->rr[n]->aaaa, ans->rr[i].addr, 16);
        else
            memcpy(rr->rr[n]->txt, ans->rr[i].text, len);
        n++;
    }
    rr->num_rr = n;
    if (n == 0)
        rr->herrno = NO_DATA;
    return rr;
}

static SPF_dns_rr_t *auth_spf_lookup(SPF_dns_server_t *srv, const char *domain, ns_type type,
                                     int should_cache)
{
    struct auth_dns_answer ans;
    (void)should_cache;
    if (type != ns_t_txt && type != ns_t_a && type != ns_t_aaaa && type != ns_t_mx &&
        type != ns_t_ptr)
        return SPF_dns_rr_new_init(srv, domain, type, 0, NO_DATA);  /* type 99: obsolete */
    enum auth_dns_status st = auth_dns_query(srv->hook, domain, type, &ans);
    SPF_dns_rr_t *rr = auth_spf_rr(srv, domain, type, st, &ans);
    auth_dns_answer_free(&ans);
    return rr;
}

static enum authres_result auth_spf_result(SPF_result_t r)
{
    switch (r) {
    case SPF_RESULT_PASS: return AUTHRES_PASS;
    case SPF_RESULT_FAIL: return AUTHRES_FAIL;
    case SPF_RESULT_SOFTFAIL: return AUTHRES_SOFTFAIL;
    case SPF_RESULT_NEUTRAL: return AUTHRES_NEUTRAL;
    case SPF_RESULT_NONE: return AUTHRES_NONE;
    case SPF_RESULT_TEMPERROR: return AUTHRES_TEMPERROR;
    default: return AUTHRES_PERMERROR;
    }
}

/* The client address into the request: 0, or -1 if it is not one. */
static int auth_spf_set_client(SPF_request_t *req, const char *client)
{
    struct in6_addr a6;
    struct in_addr a4;
    if (!client)
        return -1;
    if (inet_pton(AF_INET, client, &a4) == 1)
        return SPF_request_set_ipv4(req, a4) == SPF_E_SUCCESS ? 0 : -1;
    if (inet_pton(AF_INET6, client, &a6) != 1)
        return -1;
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
        memcpy(&a4, &a6.s6_addr[12], 4);
        return SPF_request_set_ipv4(req, a4) == SPF_E_SUCCESS ? 0 : -1;
    }
    return SPF_request_set_ipv6(req, a6) == SPF_E_SUCCESS ? 0 : -1;
}

/* The identity: MAIL FROM, or postmaster@HELO for <> (RFC 7208 2.4). */
static int auth_spf_identity(const struct envelope *e, struct auth_spf_outcome *out, char *from,
                             size_t size)
{
    const char *at = e->sender ? strrchr(e->sender, '@') : NULL;
    out->helo = !e->sender || !e->sender[0];
    if (out->helo) {
        if (!e->helo || !e->helo[0] || e->helo[0] == '[')
            return -1;
        str_copy(out->domain, sizeof out->domain, e->helo);
        return str_fmt(from, size, "postmaster@%s", e->helo);
    }
    if (!at || !at[1])
        return -1;
    str_copy(out->domain, sizeof out->domain, at + 1);
    return str_copy(from, size, e->sender);
}

/*
 * SPF_request_query_mailfrom without its "localhost passes" shortcut (all of
 * 127/8 and ::1 would pass whatever the record says): fetch the record,
 * then evaluate it (check_host(), RFC 7208 4).
 */
static SPF_response_t *auth_spf_query(SPF_server_t *spf, SPF_request_t *req)
{
    SPF_record_t *rec = NULL;
    SPF_response_t *resp = SPF_response_new(req);
    if (!resp)
        return NULL;
    req->cur_dom = req->use_helo ? req->helo_dom : req->env_from_dp;   /* as libspf2 does */
    if (!req->cur_dom) {
        resp->result = SPF_RESULT_NONE;
        return resp;
    }
    SPF_errcode_t err = SPF_server_get_record(spf, req, resp, &rec);
    if (err == SPF_E_SUCCESS && rec) {
        resp->spf_record_exp = rec;
        SPF_record_interpret(rec, req, resp, 0);
        resp->spf_record_exp = NULL;
    } else if (err == SPF_E_DNS_ERROR) {
        resp->result = SPF_RESULT_TEMPERROR;    /* the record could not be fetched */
    } else if (err == SPF_E_NOT_SPF) {
        resp->result = SPF_RESULT_NONE;
    } else if (resp->result == SPF_RESULT_INVALID) {
        resp->result = SPF_RESULT_PERMERROR;
    }
    if (rec)
        SPF_record_free(rec);
    return resp;
}

static void auth_spf_run(SPF_server_t *spf, const struct envelope *e, const char *from,
                         struct auth_spf_outcome *out)
{
    SPF_request_t *req = SPF_request_new(spf);
    SPF_response_t *resp = NULL;
    if (!req)
        return;
    if (auth_spf_set_client(req, e->client) == 0 &&
        (!e->helo || SPF_request_set_helo_dom(req, e->helo) == SPF_E_SUCCESS) &&
        SPF_request_set_env_from(req, from) == 0) {
        resp = auth_spf_query(spf, req);
        if (resp)
            out->result = auth_spf_result(SPF_response_result(resp));
    }
    if (resp)
        SPF_response_free(resp);
    SPF_request_free(req);
}

void auth_spf_check(struct auth_dns *d, const struct envelope *e, struct auth_spf_outcome *out)
{
    char from[600];
    memset(out, 0, sizeof *out);
    out->result = AUTHRES_NONE;
    if (auth_spf_identity(e, out, from, sizeof from) < 0)
        return;
    pthread_once(&auth_spf_once, auth_spf_init);
    SPF_dns_server_t layer = {
        .destroy = NULL, .lookup = auth_spf_lookup, .name = "postino", .hook = d,
    };
    SPF_server_t *spf = SPF_server_new_dns(&layer, 0);
    if (!spf) {
        out->result = AUTHRES_TEMPERROR;
        return;
    }
    out->result = AUTHRES_PERMERROR;
    auth_spf_run(spf, e, from, out);
    SPF_server_free(spf);
}
