/* The local HTTP API (libevent's evhttp on the agent's loop):
 *   GET /v1/agent, GET /v1/services, GET /v1/watch/SERVICE, GET /metrics,
 *   PUT /v1/check/SERVICE/CHECK/pass|warn|fail (body: the note),
 *   PUT /v1/maint/SERVICE (body {"enable": bool, "reason": "..."}, or
 *   ?enable=true&reason=... in the query).
 * Errors are JSON {"error": "..."}; bodies over 64 KiB get 413. */
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "log.h"
#include "runtime.h"

#define API_BODY_MAX (64 * 1024)

struct api {
    agent_rt *rt;
    struct evhttp *http;
};

static void reply_json(struct evhttp_request *req, int code, json_t *body)
{
    struct evbuffer *out = evbuffer_new();
    char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    evbuffer_add_printf(out, "%s\n", text ? text : "null");
    free(text);
    json_decref(body);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, code, code == 200 ? "OK" : NULL, out);
    evbuffer_free(out);
}

static void reply_error(struct evhttp_request *req, int code, const char *fmt, const char *arg)
{
    char msg[512];
    snprintf(msg, sizeof msg, fmt, arg);
    reply_json(req, code, json_pack("{ss}", "error", msg));
}

static json_t *agent_json(agent_rt *rt)
{
    char server[256] = "", started[40];
    zkd_client_server(rt->zk, server, sizeof server);
    log_time(rt->started_ms, started, sizeof started);
    char session[32];
    snprintf(session, sizeof session, "0x%llx", (unsigned long long)zkd_client_session_id(rt->zk));
    return json_pack("{sssssis{ssssssssss}}", "version", ZKDISC_AGENT_VERSION, "started", started,
                     "services", (int)rt->nservices, "zookeeper", "connect",
                     zkd_client_connect_string(rt->zk), "state",
                     zkd_state_name(zkd_client_state(rt->zk)), "session", session, "server", server,
                     "root", zkd_client_root(rt->zk));
}

static json_t *services_json(agent_rt *rt)
{
    json_t *a = json_array();
    for (size_t i = 0; i < rt->nservices; i++) {
        service *s = rt->services[i];
        const service_conf *sc = service_get_conf(s);
        const char *reason = NULL;
        int maint = service_maint(s, &reason);
        publish_want actual = publish_actual(rt->pub, sc->id);
        json_t *m = maint ? json_pack("{sbss}", "enabled", 1, "reason", reason ? reason : "")
                          : json_pack("{sb}", "enabled", 0);
        json_array_append_new(
            a, json_pack("{sssssbsssssoso}", "id", sc->id, "name", sc->name, "registered",
                         actual != WANT_ABSENT, "state", publish_want_name(actual), "wanted",
                         publish_want_name(service_want(s)), "maintenance", m, "checks",
                         service_checks_json(s)));
    }
    return a;
}

static char *body_text(struct evhttp_request *req)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    char *text = malloc(n + 1);
    evbuffer_copyout(in, text, n);
    text[n] = 0;
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        text[--n] = 0;
    return text;
}

/* Path segments "a/b/c" -> parts (decoded, malloc'd); the count, or
 * max + 1 when there are more. */
static int split(const char *path, char **parts, int max)
{
    int n = 0;
    for (const char *p = path;; n++) {
        const char *slash = strchr(p, '/');
        if (n == max)
            return max + 1;
        char *seg = strndup(p, slash ? (size_t)(slash - p) : strlen(p));
        parts[n] = evhttp_uridecode(seg, 0, NULL);
        free(seg);
        if (!slash)
            return n + 1;
        p = slash + 1;
    }
}

static void handle_check(api *a, struct evhttp_request *req, const char *rest)
{
    char *parts[4] = {0};
    int n = split(rest, parts, 3);
    if (n != 3) {
        reply_error(req, 404, "%s", "use PUT /v1/check/SERVICE/CHECK/pass|warn|fail");
    } else {
        check_status st = !strcmp(parts[2], "pass") ? CHECK_PASSING
                          : !strcmp(parts[2], "warn") ? CHECK_WARNING
                          : !strcmp(parts[2], "fail") ? CHECK_CRITICAL : (check_status)-1;
        service *s = agent_find_service(a->rt, parts[0]);
        if ((int)st < 0)
            reply_error(req, 404, "unknown status \"%s\" (pass, warn or fail)", parts[2]);
        else if (!s)
            reply_error(req, 404, "no service \"%s\"", parts[0]);
        else {
            char *note = body_text(req);
            if (service_ttl_report(s, parts[1], st, note) != 0)
                reply_error(req, 404, "service has no ttl check \"%s\"", parts[1]);
            else
                reply_json(req, 200, json_pack("{ss}", "status", check_status_name(st)));
            free(note);
        }
    }
    for (int i = 0; i < 4; i++)
        free(parts[i]);
}

static void handle_maint(api *a, struct evhttp_request *req, const char *rest)
{
    char *name = evhttp_uridecode(rest, 0, NULL);
    service *s = agent_find_service(a->rt, name);
    if (!s) {
        reply_error(req, 404, "no service \"%s\"", name);
        free(name);
        return;
    }
    free(name);
    int enable = -1;
    char *reason = NULL;
    char *text = body_text(req);
    if (*text) {
        json_error_t je;
        json_t *b = json_loads(text, 0, &je);
        json_t *e = json_object_get(b, "enable");
        if (json_is_boolean(e))
            enable = json_is_true(e);
        if (json_is_string(json_object_get(b, "reason")))
            reason = strdup(json_string_value(json_object_get(b, "reason")));
        json_decref(b);
    } else {
        struct evkeyvalq q;
        const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
        if (query && evhttp_parse_query_str(query, &q) == 0) {
            const char *e = evhttp_find_header(&q, "enable"), *r = evhttp_find_header(&q, "reason");
            if (e)
                enable = !strcmp(e, "true") || !strcmp(e, "1") || !strcmp(e, "on");
            if (r)
                reason = strdup(r);
            evhttp_clear_headers(&q);
        }
    }
    free(text);
    if (enable < 0) {
        reply_error(req, 400, "%s", "say {\"enable\": true|false, \"reason\": \"...\"} or ?enable=true|false");
    } else {
        agent_set_maint(a->rt, s, enable, reason);
        reply_json(req, 200, json_pack("{sbss}", "maintenance", enable, "reason", reason ? reason : ""));
    }
    free(reason);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    api *a = arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    int get = cmd == EVHTTP_REQ_GET, put = cmd == EVHTTP_REQ_PUT || cmd == EVHTTP_REQ_POST;
    if (!path)
        path = "/";
    if (!strcmp(path, "/metrics") && get) {
        struct evbuffer *out = evbuffer_new();
        metrics_render(a->rt, out);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "text/plain; version=0.0.4; charset=utf-8");
        evhttp_send_reply(req, 200, "OK", out);
        evbuffer_free(out);
    } else if (!strcmp(path, "/v1/agent") && get) {
        reply_json(req, 200, agent_json(a->rt));
    } else if (!strcmp(path, "/v1/services") && get) {
        reply_json(req, 200, services_json(a->rt));
    } else if (!strncmp(path, "/v1/check/", 10) && put) {
        handle_check(a, req, path + 10);
    } else if (!strncmp(path, "/v1/maint/", 10) && put) {
        handle_maint(a, req, path + 10);
    } else if (!strncmp(path, "/v1/watch/", 10) && get) {
        char *name = evhttp_uridecode(path + 10, 0, NULL);
        json_t *w = consumers_watch_json(a->rt->cons, name);
        if (w)
            reply_json(req, 200, w);
        else
            reply_error(req, 404, "service \"%s\" is not watched", name);
        free(name);
    } else if (!strncmp(path, "/v1/", 4) || !strcmp(path, "/metrics")) {
        reply_error(req, 405, "%s", "method not allowed here");
    } else {
        reply_error(req, 404, "no such endpoint: %s", path);
    }
}

api *api_start(agent_rt *rt, const char *host, int port, char *err, size_t errlen)
{
    api *a = calloc(1, sizeof *a);
    a->rt = rt;
    a->http = evhttp_new(rt->base);
    evhttp_set_max_body_size(a->http, API_BODY_MAX);
    evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_PUT | EVHTTP_REQ_POST);
    evhttp_set_timeout(a->http, 10);
    evhttp_set_gencb(a->http, on_request, a);
    if (!evhttp_bind_socket_with_handle(a->http, host, (ev_uint16_t)port)) {
        snprintf(err, errlen, "api: cannot listen on %s:%d: %m", host, port);
        evhttp_free(a->http);
        free(a);
        return NULL;
    }
    return a;
}

void api_stop(api *a)
{
    if (!a)
        return;
    evhttp_free(a->http);
    free(a);
}
