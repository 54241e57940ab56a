/* SPDX-License-Identifier: Apache-2.0 */
/* tcp: `target` "host:port" accepts a connection within the timeout. The
 * name is resolved with libevent's asynchronous resolver, on the loop. */
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks/check.h"

typedef struct tcp_conf {
    char *host;
    int port;
} tcp_conf;

static struct evdns_base *dns;

static void tcp_free(void *p)
{
    tcp_conf *t = p;
    free(t->host);
    free(t);
}

static void *tcp_parse(const config_setting_t *s, struct evbuffer *errors)
{
    char *target = NULL;
    int rc = conf_string(s, "target", &target, errors);
    if (rc == 1)
        conf_error(errors, s, "target", "missing: a tcp check needs `target` (\"host:port\")");
    if (rc != 0)
        return NULL;
    char *colon = strrchr(target, ':'), *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (!colon || colon == target || !end || *end || port < 1 || port > 65535) {
        conf_error(errors, s, "target", "\"%s\" is not \"host:port\"", target);
        free(target);
        return NULL;
    }
    *colon = 0;
    tcp_conf *t = calloc(1, sizeof *t);
    char *h = target;
    if (h[0] == '[' && colon[-1] == ']') {
        colon[-1] = 0;
        h++;
    }
    t->host = strdup(h);
    t->port = (int)port;
    free(target);
    return t;
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    check *c = arg;
    char note[256];
    const tcp_conf *t = check_get_conf(c)->kconf;
    check_status st = CHECK_CRITICAL;
    if (what & BEV_EVENT_CONNECTED) {
        snprintf(note, sizeof note, "connected to %s:%d", t->host, t->port);
        st = CHECK_PASSING;
    } else {
        int dns_err = bufferevent_socket_get_dns_error(bev);
        snprintf(note, sizeof note, "%s:%d: %s", t->host, t->port,
                 dns_err ? evutil_gai_strerror(dns_err)
                         : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    }
    bufferevent_free(bev);
    check_done(c, st, note);
}

static void tcp_run(check *c)
{
    const tcp_conf *t = check_get_conf(c)->kconf;
    if (!dns)
        dns = evdns_base_new(check_base(c), EVDNS_BASE_INITIALIZE_NAMESERVERS);
    struct bufferevent *bev = bufferevent_socket_new(check_base(c), -1, BEV_OPT_CLOSE_ON_FREE);
    *check_run_state(c) = bev;
    bufferevent_setcb(bev, NULL, NULL, on_event, c);
    if (bufferevent_socket_connect_hostname(bev, dns, AF_UNSPEC, t->host, t->port) != 0) {
        /* The failure was already reported through on_event when the
         * resolver failed at once; otherwise report it here. */
        if (*check_run_state(c) == bev) {
            bufferevent_free(bev);
            char note[256];
            snprintf(note, sizeof note, "%s:%d: cannot connect", t->host, t->port);
            check_done(c, CHECK_CRITICAL, note);
        }
    }
}

static void tcp_cancel(check *c)
{
    struct bufferevent *bev = *check_run_state(c);
    if (bev)
        bufferevent_free(bev);
}

static const char *const tcp_keys[] = {"target", NULL};

const check_kind check_tcp = {
    .name = "tcp", .parse = tcp_parse, .keys = tcp_keys, .free_conf = tcp_free,
    .run = tcp_run, .cancel = tcp_cancel,
};
