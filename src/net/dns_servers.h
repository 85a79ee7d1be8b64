/*
 * dns_servers: the one place where the dns_servers setting (numeric
 * addresses with optional ports) becomes a c-ares channel's server list,
 * for every c-ares user: the MX resolver on the event loop (smtpc/mx) and
 * the blocking lookups of the inbound checks (msgauth/auth_dns).
 * Settings: dns_servers.
 */
#ifndef POSTINO_DNS_SERVERS_H
#define POSTINO_DNS_SERVERS_H
#include <ares.h>
#include "mail/conf.h"

/* Gives channel c's dns_servers (port 0 = 53); nothing to do without any.
 * 0, or -1 (logged with who, e.g. "mx") when one is not a numeric address. */
int dns_servers_apply(ares_channel channel, const struct conf *c, const char *who);

#endif
