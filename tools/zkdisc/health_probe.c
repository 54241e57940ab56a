/* SPDX-License-Identifier: Apache-2.0 */
/* Probing servers with four-letter words (health_probe.h). */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "health_probe.h"

static long long field_ll(const char *text, const char *key, int *found)
{
    const char *p = text;
    size_t kl = strlen(key);
    while ((p = strstr(p, key))) {
        if ((p == text || p[-1] == '\n') && (p[kl] == '\t' || p[kl] == ':' || p[kl] == ' ')) {
            p += kl;
            while (*p == '\t' || *p == ':' || *p == ' ')
                p++;
            *found = 1;
            return strtoll(p, NULL, 10);
        }
        p += kl;
    }
    return -1;
}

static double field_double(const char *text, const char *key)
{
    const char *p = text;
    size_t kl = strlen(key);
    while ((p = strstr(p, key))) {
        if ((p == text || p[-1] == '\n') && (p[kl] == '\t' || p[kl] == ':' || p[kl] == ' ')) {
            p += kl;
            while (*p == '\t' || *p == ':' || *p == ' ')
                p++;
            return strtod(p, NULL);
        }
        p += kl;
    }
    return -1;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void *probe_run(void *arg)
{
    probe *p = arg;
    char reply[16384];
    p->znodes = p->watches = p->outstanding = p->connections = -1;
    p->avg_latency = p->max_latency = -1;
    double t0 = now_ms();
    if (zks_4lw(p->host, p->port, "ruok", reply, sizeof reply, p->timeout_ms) != 0) {
        snprintf(p->error, sizeof p->error, "%s", strerror(errno));
        return NULL;
    }
    p->rtt_ms = now_ms() - t0;
    p->reachable = 1;
    p->imok = !strncmp(reply, "imok", 4);
    if (zks_4lw(p->host, p->port, "srvr", reply, sizeof reply, p->timeout_ms) == 0) {
        p->mode = zks_parse_mode(reply);
        int found = 0;
        p->znodes = field_ll(reply, "Node count", &found);
        p->outstanding = field_ll(reply, "Outstanding", &found);
        const char *lat = strstr(reply, "Latency min/avg/max: ");
        if (lat) {
            double mn, av, mx;
            if (sscanf(lat + 21, "%lf/%lf/%lf", &mn, &av, &mx) == 3) {
                p->avg_latency = av;
                p->max_latency = mx;
            }
        }
        const char *zx = strstr(reply, "Zxid: ");
        if (zx)
            sscanf(zx + 6, "%23s", p->zxid);
        const char *ver = strstr(reply, "Zookeeper version: ");
        if (ver)
            sscanf(ver + 19, "%63[^,\n]", p->version);
    }
    if (zks_4lw(p->host, p->port, "mntr", reply, sizeof reply, p->timeout_ms) == 0 &&
        strstr(reply, "zk_version")) {
        int found = 0;
        long long v;
        if ((v = field_ll(reply, "zk_znode_count", &found)) >= 0)
            p->znodes = v;
        if ((v = field_ll(reply, "zk_watch_count", &found)) >= 0)
            p->watches = v;
        if ((v = field_ll(reply, "zk_outstanding_requests", &found)) >= 0)
            p->outstanding = v;
        if ((v = field_ll(reply, "zk_num_alive_connections", &found)) >= 0)
            p->connections = v;
        double d;
        if ((d = field_double(reply, "zk_avg_latency")) >= 0)
            p->avg_latency = d;
        if ((d = field_double(reply, "zk_max_latency")) >= 0)
            p->max_latency = d;
    } else if (zks_4lw(p->host, p->port, "wchs", reply, sizeof reply, p->timeout_ms) == 0) {
        /* mntr not allowed: "N connections watching M paths\nTotal watches:W" */
        const char *t = strstr(reply, "Total watches:");
        if (t)
            p->watches = strtoll(t + 14, NULL, 10);
    }
    if (!p->imok)
        snprintf(p->error, sizeof p->error, "ruok not answered with imok");
    else if (p->mode == ZKS_MODE_NOT_SERVING)
        snprintf(p->error, sizeof p->error, "not serving requests (no quorum?)");
    else if (p->mode == ZKS_MODE_UNKNOWN)
        snprintf(p->error, sizeof p->error, "srvr gave no mode (4lw not allowed?)");
    return NULL;
}

/* "h1:p1,h2:p2[/chroot]" (IPv6 as [addr]:port); port 2181 when absent. */
int parse_connect(cli *ctx, const char *connect, probe *v, int *n)
{
    *n = 0;
    char *copy = strdup(connect);
    if (!copy)
        return cli_error(ctx, EXIT_ERROR, "out of memory");
    char *hosts = copy;
    /* The chroot starts at the first '/' (none can appear in a host:port). */
    char *slash = strchr(hosts, '/');
    if (slash)
        *slash = '\0';
    int rc = 0;
    for (char *save = NULL, *tok = strtok_r(hosts, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        if (!*tok)
            continue;
        if (*n == MAX_SERVERS) {
            rc = cli_error(ctx, EXIT_USAGE, "at most %d servers", MAX_SERVERS);
            break;
        }
        probe *p = &v[*n];
        memset(p, 0, sizeof *p);
        char *portp = NULL;
        if (*tok == '[') {
            char *close = strchr(tok, ']');
            if (!close) {
                rc = cli_error(ctx, EXIT_USAGE, "bad server \"%s\" in the connect string", tok);
                break;
            }
            *close = '\0';
            snprintf(p->host, sizeof p->host, "%s", tok + 1);
            portp = close[1] == ':' ? close + 2 : NULL;
        } else {
            char *colon = strrchr(tok, ':');
            if (colon)
                *colon = '\0';
            snprintf(p->host, sizeof p->host, "%s", tok);
            portp = colon ? colon + 1 : NULL;
        }
        char *end = NULL;
        long port = portp ? strtol(portp, &end, 10) : 2181;
        if ((portp && (end == portp || *end)) || port <= 0 || port > 65535) {
            rc = cli_error(ctx, EXIT_USAGE, "bad port in \"%s\" in the connect string", connect);
            break;
        }
        p->port = (int)port;
        snprintf(p->label, sizeof p->label, strchr(p->host, ':') ? "[%s]:%d" : "%s:%d", p->host, p->port);
        (*n)++;
    }
    free(copy);
    if (!rc && *n == 0)
        rc = cli_error(ctx, EXIT_USAGE, "no server in the connect string \"%s\"", connect);
    return rc;
}

int serving(const probe *p)
{
    return p->reachable && p->imok &&
           (p->mode == ZKS_MODE_LEADER || p->mode == ZKS_MODE_FOLLOWER ||
            p->mode == ZKS_MODE_STANDALONE || p->mode == ZKS_MODE_OBSERVER);
}

void probe_all(probe *v, int n)
{
    pthread_t th[MAX_SERVERS];
    int started[MAX_SERVERS] = {0};
    for (int i = 0; i < n; i++) {
        started[i] = pthread_create(&th[i], NULL, probe_run, &v[i]) == 0;
        if (!started[i])
            probe_run(&v[i]);
    }
    for (int i = 0; i < n; i++)
        if (started[i])
            pthread_join(th[i], NULL);
}

void health_summarize(const probe *v, int n, health_summary *h)
{
    memset(h, 0, sizeof *h);
    h->ensemble = n > 1;
    int leaders = 0, observers = 0;
    for (int i = 0; i < n; i++) {
        if (!serving(&v[i]))
            h->down++;
        if (v[i].mode == ZKS_MODE_LEADER || v[i].mode == ZKS_MODE_FOLLOWER)
            h->voters++;
        if (v[i].mode == ZKS_MODE_OBSERVER && serving(&v[i]))
            observers++;
        if (v[i].mode == ZKS_MODE_LEADER && serving(&v[i])) {
            leaders++;
            h->leader = v[i].label;
        }
    }
    /* Observers do not vote: the majority is of the listed voting members. */
    h->members = n - observers;
    h->needed = h->ensemble ? h->members / 2 + 1 : 1;
    h->quorum = h->ensemble ? h->voters >= h->needed && leaders == 1 : serving(&v[0]);
    h->healthy = h->quorum && h->down == 0;
}

/* A duration in ms to the microsecond: the digits past it are the clock's
 * noise (and mntr's rounding). */
static double round3(double ms)
{
    return (double)(int64_t)(ms * 1000 + (ms < 0 ? -0.5 : 0.5)) / 1000;
}

json_t *health_json(const probe *v, int n, const health_summary *h)
{
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        const probe *p = &v[i];
        json_t *o = json_pack("{s:s,s:b,s:s}", "server", p->label, "ok", serving(p), "mode",
                              p->reachable ? zks_mode_name(p->mode) : "down");
        if (p->reachable) {
            json_object_set_new(o, "rttMs", json_real(round3(p->rtt_ms)));
            if (p->avg_latency >= 0)
                json_object_set_new(o, "avgLatencyMs", json_real(round3(p->avg_latency)));
            if (p->max_latency >= 0)
                json_object_set_new(o, "maxLatencyMs", json_real(round3(p->max_latency)));
            if (p->znodes >= 0)
                json_object_set_new(o, "znodes", json_integer(p->znodes));
            if (p->watches >= 0)
                json_object_set_new(o, "watches", json_integer(p->watches));
            if (p->outstanding >= 0)
                json_object_set_new(o, "outstanding", json_integer(p->outstanding));
            if (p->connections >= 0)
                json_object_set_new(o, "connections", json_integer(p->connections));
            if (p->version[0])
                json_object_set_new(o, "version", json_string(p->version));
            if (p->zxid[0])
                json_object_set_new(o, "zxid", json_string(p->zxid));
        }
        if (p->error[0])
            json_object_set_new(o, "error", json_string(p->error));
        json_array_append_new(arr, o);
    }
    json_t *q = json_pack("{s:b,s:i,s:i,s:i}", "ok", h->quorum, "members", h->members, "voting",
                          h->voters, "needed", h->needed);
    json_object_set_new(q, "leader", h->leader ? json_string(h->leader) : json_null());
    return json_pack("{s:o,s:o,s:b}", "servers", arr, "quorum", q, "healthy", h->healthy);
}
