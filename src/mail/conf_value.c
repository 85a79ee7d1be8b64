/*
 * conf_value: the parsers of the config's value types that other modules
 * and tests share (see conf.h): plain numbers, ports, host names, CIDR
 * networks (IPv4 and IPv6 through inet_pton, host bits cleared) and their
 * matching against IPv4, IPv6 and IPv4-mapped IPv6 clients, and
 * HOST[:PORT] next hops where "[host]" means no MX lookup (RFC 5321 5.1).
 * Pure functions: no allocation, no I/O, nothing kept between calls.
 * Every input is untrusted: lengths are checked before anything is copied.
 */
#include "mail/conf.h"
#include "mail/conf_keys.h"
#include "lib/str.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <string.h>

int conf_parse_number(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (!isdigit((unsigned char)*s) || v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int conf_parse_port(const char *s, int *port)
{
    uint64_t v;
    if (conf_parse_number(s, 1, 65535, &v) < 0)
        return -1;
    *port = (int)v;
    return 0;
}

int conf_valid_hostname(const char *s)
{
    size_t n = strlen(s), label = 0;
    if (n == 0 || n > 255)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '.') {
            if (label == 0 || s[i - 1] == '-')
                return 0;
            label = 0;
        } else if (isalnum(ch) || (ch == '-' && label > 0)) {
            if (++label > 63)
                return 0;
        } else {
            return 0;
        }
    }
    return label > 0 && s[n - 1] != '-';
}

int conf_is_ip(const char *s, int family)
{
    unsigned char tmp[16];
    return inet_pton(family, s, tmp) == 1;
}

int hostport_parse(const char *s, struct hostport *out)
{
    const char *host = s, *rest;
    size_t hlen;
    memset(out, 0, sizeof *out);
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close)
            return -1;
        host = s + 1;
        hlen = (size_t)(close - host);
        rest = close + 1;
        out->no_mx = 1;
    } else {
        const char *colon = strchr(s, ':');
        if (colon && strchr(colon + 1, ':'))
            return -1; /* a bare IPv6 address needs brackets */
        hlen = colon ? (size_t)(colon - s) : strlen(s);
        rest = s + hlen;
    }
    if (hlen == 0 || str_ncopy(out->host, sizeof out->host, host, hlen) < 0)
        return -1;
    if (*rest == ':' ? conf_parse_port(rest + 1, &out->port) < 0 : *rest != '\0')
        return -1;
    if (conf_is_ip(out->host, AF_INET) || conf_valid_hostname(out->host))
        return 0;
    return out->no_mx && conf_is_ip(out->host, AF_INET6) ? 0 : -1;
}

/* Keeps the first prefix bits of addr, clears the rest. */
static void cidr_clear_host_bits(unsigned char *addr, int len_bytes, int prefix)
{
    for (int i = 0; i < len_bytes; i++) {
        int bits = prefix - i * 8;
        if (bits >= 8)
            continue;
        addr[i] &= bits <= 0 ? 0 : (unsigned char)(0xff << (8 - bits));
    }
}

int cidr_parse(const char *s, struct cidr *out)
{
    char a[INET6_ADDRSTRLEN];
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    memset(out, 0, sizeof *out);
    if (alen == 0 || str_ncopy(a, sizeof a, s, alen) < 0)
        return -1;
    int max;
    if (inet_pton(AF_INET, a, out->addr) == 1) {
        out->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, a, out->addr) == 1) {
        out->family = AF_INET6;
        max = 128;
    } else {
        return -1;
    }
    uint64_t prefix = (uint64_t)max;
    if (slash && (strlen(slash + 1) > 3 || conf_parse_number(slash + 1, 0, (uint64_t)max, &prefix) < 0))
        return -1;
    out->prefix = (int)prefix;
    cidr_clear_host_bits(out->addr, max / 8, out->prefix);
    return 0;
}

/* The client address as the family of net (IPv4 <-> IPv4-mapped IPv6); -1 if impossible. */
static int cidr_client_addr(const struct cidr *net, const struct sockaddr *sa, unsigned char *a)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        memcpy(net->family == AF_INET ? a : a + 12, &in->sin_addr, 4);
        if (net->family == AF_INET6)
            memcpy(a, mapped, 12);
        return 0;
    }
    if (sa->sa_family != AF_INET6)
        return -1;
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
    if (net->family == AF_INET6) {
        memcpy(a, &in6->sin6_addr, 16);
        return 0;
    }
    if (memcmp(&in6->sin6_addr, mapped, 12) != 0)
        return -1;
    memcpy(a, (const unsigned char *)&in6->sin6_addr + 12, 4);
    return 0;
}

int cidr_match(const struct cidr *net, const struct sockaddr *sa)
{
    unsigned char a[16];
    if (cidr_client_addr(net, sa, a) < 0)
        return 0;
    cidr_clear_host_bits(a, net->family == AF_INET ? 4 : 16, net->prefix);
    return memcmp(a, net->addr, net->family == AF_INET ? 4 : 16) == 0;
}
