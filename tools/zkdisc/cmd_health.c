/* health: asks every server of the connect string, with the four-letter
 * words ruok, srvr and mntr (tools/common/zkserver.h), how it is doing, and
 * whether the ensemble has a quorum. Needs no ZooKeeper session. Servers are
 * asked in parallel, each within --timeout. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cmdutil.h"
#include "render.h"
#include "term.h"
#include "textwidth.h"
#include "zkserver.h"

enum { MAX_SERVERS = 32 };

typedef struct probe {
    char host[256];
    int port;
    char label[300];
    int timeout_ms;
    /* results */
    int reachable;
    int imok;
    zks_mode mode;
    double rtt_ms;
    double avg_latency, max_latency;
    long long znodes, watches, outstanding, connections;
    char version[64];
    char error[160];
} probe;

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
static int parse_connect(cli *ctx, const char *connect, probe *v, int *n)
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

static int serving(const probe *p)
{
    return p->reachable && p->imok &&
           (p->mode == ZKS_MODE_LEADER || p->mode == ZKS_MODE_FOLLOWER ||
            p->mode == ZKS_MODE_STANDALONE || p->mode == ZKS_MODE_OBSERVER);
}

static void fmt_ll(char *out, size_t len, long long v)
{
    if (v < 0)
        snprintf(out, len, "-");
    else
        snprintf(out, len, "%lld", v);
}

/* A duration in ms to the microsecond: the digits past it are the clock's
 * noise (and mntr's rounding). */
static double round3(double ms)
{
    return (double)(int64_t)(ms * 1000 + (ms < 0 ? -0.5 : 0.5)) / 1000;
}

static int run_health(cli *ctx, int argc, char **argv)
{
    int first;
    int rc = cu_parse(ctx, &cmd_health, argc, argv, NULL, NULL, NULL, NULL, 0, 0, &first);
    if (rc)
        return rc;
    probe v[MAX_SERVERS];
    int n;
    if ((rc = parse_connect(ctx, ctx->zk, v, &n)))
        return rc;
    pthread_t th[MAX_SERVERS];
    int started[MAX_SERVERS] = {0};
    for (int i = 0; i < n; i++) {
        v[i].timeout_ms = ctx->timeout_ms;
        started[i] = pthread_create(&th[i], NULL, probe_run, &v[i]) == 0;
        if (!started[i])
            probe_run(&v[i]);
    }
    for (int i = 0; i < n; i++)
        if (started[i])
            pthread_join(th[i], NULL);

    int ensemble = n > 1;
    int voters = 0, leaders = 0, down = 0, observers = 0;
    const char *leader = NULL;
    for (int i = 0; i < n; i++) {
        if (!serving(&v[i]))
            down++;
        if (v[i].mode == ZKS_MODE_LEADER || v[i].mode == ZKS_MODE_FOLLOWER)
            voters++;
        if (v[i].mode == ZKS_MODE_OBSERVER && serving(&v[i]))
            observers++;
        if (v[i].mode == ZKS_MODE_LEADER && serving(&v[i])) {
            leaders++;
            leader = v[i].label;
        }
    }
    /* Observers do not vote: the majority is of the listed voting members. */
    int members = n - observers;
    int needed = ensemble ? members / 2 + 1 : 1;
    int quorum = ensemble ? voters >= needed && leaders == 1 : serving(&v[0]);
    int healthy = quorum && down == 0;

    if (ctx->json) {
        json_t *arr = json_array();
        for (int i = 0; i < n; i++) {
            probe *p = &v[i];
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
            }
            if (p->error[0])
                json_object_set_new(o, "error", json_string(p->error));
            json_array_append_new(arr, o);
        }
        json_t *q = json_pack("{s:b,s:i,s:i,s:i}", "ok", quorum, "members", members, "voting", voters,
                              "needed", needed);
        json_object_set_new(q, "leader", leader ? json_string(leader) : json_null());
        render_json(json_pack("{s:o,s:o,s:b}", "servers", arr, "quorum", q, "healthy", healthy));
    } else {
        /* columns that fit COLUMNS or the terminal; an ERROR column when a
         * server has something to say */
        int errors = 0;
        for (int i = 0; i < n; i++)
            errors |= v[i].error[0] != 0;
        static const char *const heads[] = {"SERVER", "MODE", "RTT ms", "AVG LAT", "ZNODES",
                                            "WATCHES", "QUEUE", "ERROR"};
        tw_table *t = tw_table_new(7 + errors, heads, "LLRDDDDl");
        for (int i = 0; i < n; i++) {
            probe *p = &v[i];
            const char *sgr = serving(p) ? (p->mode == ZKS_MODE_LEADER ? term_sgr("1;32") : term_sgr("32"))
                                         : term_sgr("1;31");
            char mode[64], rtt[24] = "-", zn[24] = "-", wc[24] = "-", oq[24] = "-", lat[24] = "-";
            snprintf(mode, sizeof mode, "%s%s%s", sgr, p->reachable ? zks_mode_name(p->mode) : "down",
                     term_reset());
            if (p->reachable) {
                fmt_ll(zn, sizeof zn, p->znodes);
                fmt_ll(wc, sizeof wc, p->watches);
                fmt_ll(oq, sizeof oq, p->outstanding);
                snprintf(rtt, sizeof rtt, "%.1f", p->rtt_ms);
                if (p->avg_latency >= 0)
                    snprintf(lat, sizeof lat, "%.1f ms", p->avg_latency);
            }
            tw_table_add(t, (const char *const[]){p->label, mode, rtt, lat, zn, wc, oq, p->error});
        }
        tw_table_print(t, stdout, term_width(), 1);
        if (ensemble)
            printf("\nquorum: %s%s%s (%d of %d voting members serving, %d needed)%s%s\n",
                   quorum ? term_sgr("32") : term_sgr("1;31"), quorum ? "ok" : "LOST", term_reset(),
                   voters, members, needed, leader ? "; leader " : "", leader ? leader : "");
        if (down)
            printf("%s%d of %d server%s down or not serving%s\n", term_sgr("1;31"), down, n, n == 1 ? "" : "s",
                   term_reset());
    }
    return healthy ? EXIT_OK : EXIT_UNREACHABLE;
}

const cli_command cmd_health = {
    "health", "check every server of the ensemble",
    "health\n\n"
    "Asks each server of the connect string (--zk), in parallel, with the\n"
    "four-letter words ruok, srvr and mntr: its mode (leader, follower or\n"
    "standalone, or down), the probe's round trip, the server's average\n"
    "latency, znode and watch counts and outstanding requests (QUEUE). For an\n"
    "ensemble it tells whether a majority of the listed members follows a\n"
    "leader. The servers must allow these words (4lw.commands.whitelist).\n"
    "Exit 0 when every server serves and the quorum holds; 3 when a server is\n"
    "down, unreachable or not serving, or the quorum is lost.\n"
    "  -o json  {servers: [{server, ok, mode, rttMs, avgLatencyMs, znodes,\n"
    "           watches, outstanding, ...}], quorum: {ok, leader, ...}, healthy}",
    run_health};
