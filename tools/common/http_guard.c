/* SPDX-License-Identifier: Apache-2.0 */
/* Host and Origin checks for local HTTP listeners (http_guard.h). */
#include "http_guard.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int hg_is_loopback(const char *h)
{
    struct in_addr v4;
    if (inet_pton(AF_INET, h, &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    return !strcasecmp(h, "localhost") || !strcmp(h, "::1");
}

static int is_ip(const char *h)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

int hg_authority_ok(const char *listen_host, int port, const char *hp, size_t n)
{
    char h[300];
    if (n == 0 || n >= sizeof h)
        return 0;
    memcpy(h, hp, n);
    h[n] = 0;
    char *name = h, *portp = NULL;
    if (h[0] == '[') {
        char *close = strchr(h, ']');
        if (!close || (close[1] && close[1] != ':'))
            return 0;
        *close = 0;
        name = h + 1;
        portp = close[1] ? close + 2 : NULL;
    } else if ((portp = strchr(h, ':'))) {
        *portp++ = 0;
    }
    char *end = NULL;
    long p = portp ? strtol(portp, &end, 10) : 80;
    if ((portp && (!*portp || *end)) || p != port)
        return 0;
    if (!strcasecmp(name, listen_host))
        return 1;
    if (hg_is_loopback(listen_host))
        return hg_is_loopback(name);
    if (!strcmp(listen_host, "0.0.0.0") || !strcmp(listen_host, "::"))
        return is_ip(name) || !strcasecmp(name, "localhost");
    return 0;
}

int hg_origin_ok(const char *listen_host, int port, const char *origin)
{
    return !strncasecmp(origin, "http://", 7) &&
           hg_authority_ok(listen_host, port, origin + 7, strlen(origin + 7));
}
