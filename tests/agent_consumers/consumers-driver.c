/* SPDX-License-Identifier: Apache-2.0 */
/* consumers-driver: runs zkdisc-agent's consumer side (watch outputs, DNS,
 * config files) on a libevent loop, the way the agent's main program does,
 * for tests. Usage:
 *
 *   consumers-driver -c FILE [--api HOST:PORT]    run until SIGTERM/SIGINT
 *   consumers-driver check -c FILE                 exit 0, or 2 with errors
 *
 * ZooKeeper: zookeeper.connect and zookeeper.root from FILE, else
 * $ZKDISC_ZK. SIGHUP re-reads FILE (consumers_reload). --api serves
 * GET /v1/watch/SERVICE and GET /metrics. Alerts are appended, one JSON
 * object per line, to $ZKD_ALERT_LOG when set; logs go to stderr. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <libconfig.h>

#include "agent.h"
#include "consumers.h"
#include "proc.h"

static const char *levels[] = {"error", "warn", "info", "debug"};

static void stamp(char *buf, size_t len)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03ldZ", (long)tv.tv_usec / 1000);
}

void agent_log(agent_level level, const char *fmt, ...)
{
    char ts[40];
    stamp(ts, sizeof ts);
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s %s ", ts, levels[level]);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void agent_alert(const char *event, const char *subject, json_t *fields)
{
    json_t *e = fields ? fields : json_object();
    char ts[40];
    stamp(ts, sizeof ts);
    json_object_set_new(e, "event", json_string(event));
    json_object_set_new(e, "subject", json_string(subject));
    json_object_set_new(e, "time", json_string(ts));
    agent_log(AGENT_INFO, "alert %s %s", event, subject);
    const char *path = getenv("ZKD_ALERT_LOG");
    FILE *f = path ? fopen(path, "a") : NULL;
    if (f) {
        json_dumpf(e, f, JSON_COMPACT);
        fputc('\n', f);
        fclose(f);
    }
    json_decref(e);
}

typedef struct driver {
    struct event_base *base;
    const char *file;
    config_t cfg;
    consumers_conf *cc;
    consumers *cs;
} driver;

/* Reads and parses FILE; 0, or 2 with the errors on stderr. */
static int load(const char *file, config_t *cfg, consumers_conf **cc)
{
    config_init(cfg);
    if (!config_read_file(cfg, file)) {
        fprintf(stderr, "%s:%d: %s\n", config_error_file(cfg) ? config_error_file(cfg) : file,
                config_error_line(cfg), config_error_text(cfg));
        config_destroy(cfg);
        return 2;
    }
    struct evbuffer *errors = evbuffer_new();
    *cc = consumers_conf_parse(cfg, errors);
    if (!*cc) {
        fwrite(evbuffer_pullup(errors, -1), 1, evbuffer_get_length(errors), stderr);
        evbuffer_free(errors);
        config_destroy(cfg);
        return 2;
    }
    evbuffer_free(errors);
    return 0;
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(((driver *)arg)->base);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    driver *d = arg;
    config_t cfg;
    consumers_conf *cc;
    if (load(d->file, &cfg, &cc)) {
        agent_log(AGENT_ERROR, "reload refused; running configuration kept");
        return;
    }
    struct evbuffer *errors = evbuffer_new();
    if (consumers_reload(d->cs, cc, errors) != 0) {
        agent_log(AGENT_ERROR, "reload failed: %.*s", (int)evbuffer_get_length(errors),
                  (char *)evbuffer_pullup(errors, -1));
        consumers_conf_free(cc);
        config_destroy(&cfg);
    } else {
        consumers_conf_free(d->cc);
        config_destroy(&d->cfg);
        d->cc = cc;
        d->cfg = cfg;
        agent_log(AGENT_INFO, "reloaded %s", d->file);
    }
    evbuffer_free(errors);
}

static void on_http(struct evhttp_request *req, void *arg)
{
    driver *d = arg;
    const char *uri = evhttp_request_get_uri(req);
    struct evbuffer *out = evbuffer_new();
    if (!strcmp(uri, "/metrics")) {
        consumers_metrics(d->cs, out);
        evhttp_send_reply(req, 200, "OK", out);
    } else if (!strncmp(uri, "/v1/watch/", 10)) {
        json_t *v = consumers_watch_json(d->cs, uri + 10);
        if (v) {
            char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
            evbuffer_add_printf(out, "%s\n", s);
            free(s);
            json_decref(v);
            evhttp_send_reply(req, 200, "OK", out);
        } else {
            evbuffer_add_printf(out, "{\"error\":\"not watched\"}\n");
            evhttp_send_reply(req, 404, "Not Found", out);
        }
    } else {
        evhttp_send_reply(req, 404, "Not Found", out);
    }
    evbuffer_free(out);
}

int main(int argc, char **argv)
{
    driver d = {0};
    int check = 0;
    const char *api = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "check"))
            check = 1;
        else if (!strcmp(argv[i], "-c") && i + 1 < argc)
            d.file = argv[++i];
        else if (!strcmp(argv[i], "--api") && i + 1 < argc)
            api = argv[++i];
        else {
            fprintf(stderr, "usage: consumers-driver [check] -c FILE [--api HOST:PORT]\n");
            return 2;
        }
    }
    if (!d.file) {
        fprintf(stderr, "consumers-driver: -c FILE is required\n");
        return 2;
    }
    int rc = load(d.file, &d.cfg, &d.cc);
    if (rc)
        return rc;
    if (check) {
        consumers_conf_free(d.cc);
        config_destroy(&d.cfg);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    zkd_options o;
    zkd_options_init(&o);
    const char *connect = getenv("ZKDISC_ZK"), *root = NULL, *snap = NULL;
    config_lookup_string(&d.cfg, "zookeeper.connect", &connect);
    config_lookup_string(&d.cfg, "zookeeper.root", &root);
    config_lookup_string(&d.cfg, "agent.state_dir", &snap);
    o.connect = connect;
    if (root)
        o.root = root;
    o.snapshot_dir = snap;
    o.connect_in_background = 1;
    zkd_client *zk;
    zkd_error err;
    if (zkd_connect(&o, &zk, &err)) {
        fprintf(stderr, "consumers-driver: %s\n", err.message);
        return 1;
    }
    d.base = event_base_new();
    proc_init(d.base);
    struct evbuffer *errors = evbuffer_new();
    if (!(d.cs = consumers_start(d.base, zk, d.cc, errors))) {
        fprintf(stderr, "%.*s", (int)evbuffer_get_length(errors), (char *)evbuffer_pullup(errors, -1));
        return 1;
    }
    evbuffer_free(errors);
    struct evhttp *http = NULL;
    if (api) {
        char host[256];
        snprintf(host, sizeof host, "%s", api);
        char *colon = strrchr(host, ':');
        if (!colon)
            return 2;
        *colon = '\0';
        http = evhttp_new(d.base);
        evhttp_set_gencb(http, on_http, &d);
        if (evhttp_bind_socket(http, host, (ev_uint16_t)atoi(colon + 1)) != 0) {
            fprintf(stderr, "consumers-driver: cannot bind %s\n", api);
            return 1;
        }
    }
    struct event *term = evsignal_new(d.base, SIGTERM, on_stop, &d);
    struct event *intr = evsignal_new(d.base, SIGINT, on_stop, &d);
    struct event *hup = evsignal_new(d.base, SIGHUP, on_hup, &d);
    event_add(term, NULL);
    event_add(intr, NULL);
    event_add(hup, NULL);
    agent_log(AGENT_INFO, "consumers running");
    event_base_dispatch(d.base);
    consumers_stop(d.cs);
    proc_shutdown();
    if (http)
        evhttp_free(http);
    event_free(term);
    event_free(intr);
    event_free(hup);
    event_base_free(d.base);
    zkd_close(zk);
    consumers_conf_free(d.cc);
    config_destroy(&d.cfg);
    return 0;
}
