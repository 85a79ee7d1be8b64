/*
 * dns_servers: dns_servers onto a c-ares channel (see dns_servers.h).
 */
#include "net/dns_servers.h"
#include "lib/alloc.h"
#include "lib/log.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>

int dns_servers_apply(ares_channel channel, const struct conf *c, const char *who)
{
    if (c->n_dns_servers == 0)
        return 0;
    struct ares_addr_port_node *nodes = xcalloc(c->n_dns_servers, sizeof *nodes);
    int rc = 0;
    for (size_t i = 0; i < c->n_dns_servers && rc == 0; i++) {
        const struct hostport *hp = &c->dns_servers[i];
        struct ares_addr_port_node *nd = &nodes[i];
        nd->next = i + 1 < c->n_dns_servers ? &nodes[i + 1] : NULL;
        nd->udp_port = nd->tcp_port = hp->port ? hp->port : 53;
        if (inet_pton(AF_INET, hp->host, &nd->addr.addr4) == 1)
            nd->family = AF_INET;
        else if (inet_pton(AF_INET6, hp->host, &nd->addr.addr6) == 1)
            nd->family = AF_INET6;
        else {
            log_err("%s: dns_servers: %s is not a numeric address", who, hp->host);
            rc = -1;
        }
    }
    if (rc == 0 && (rc = ares_set_servers_ports(channel, nodes)) != ARES_SUCCESS) {
        log_err("%s: dns_servers: %s", who, ares_strerror(rc));
        rc = -1;
    }
    free(nodes);
    return rc;
}
