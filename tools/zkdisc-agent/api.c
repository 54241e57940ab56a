/* SPDX-License-Identifier: Apache-2.0 */
/* The local HTTP API (libevent's evhttp on the agent's loop):
 *   GET /v1/agent, GET /v1/services, GET /v1/watch/SERVICE, GET /metrics,
 *   PUT /v1/check/SERVICE/CHECK/pass|warn|fail (body: the note),
 *   PUT /v1/maint/SERVICE (body {"enable": bool, "reason": "..."}).
 * Errors are JSON {"error": "..."}.
 *
 * Locked against the other users of the host and the pages of its browsers:
 * a PUT needs "Authorization: Bearer TOKEN" (the token file, made 0600 at
 * the first start), takes its change from the body or the path only (a
 * form or an <img> cannot say it), and nothing else than GET and PUT is
 * taken; a request carrying a foreign Origin is refused (403), and so is a
 * Host that does not name this listener (421: DNS rebinding). Headers over
 * 8 KiB get 400 (from evhttp) and bodies over 64 KiB 413; at most API_CONNS_MAX connections
 * (a new one closes the oldest), and a request must arrive whole within
 * API_DEADLINE_S of the connection's start or of the previous request, so
 * a client that dribbles its headers cannot hold a connection. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "http_guard.h"
#include "log.h"
#include "runtime.h"

#define API_BODY_MAX (64 * 1024)
#define API_HEADERS_MAX (8 * 1024)
#define API_CONNS_MAX 64
#define API_DEADLINE_S 5
#define API_TOKEN_BYTES 32 /* made: 64 hex digits */

typedef struct conn conn;

struct api {
    agent_rt *rt;
    struct evhttp *http;
    char host[256]; /* the listen address, without brackets */
    int port;
    char token[API_TOKEN_MAX];
    conn *oldest, *newest; /* open connections, least recently used first */
    int nconns;
};

/* One accepted connection, from on_accept until evhttp lets it go. */
struct conn {
    api *a;
    struct bufferevent *bev;
    struct evhttp_connection *evcon; /* NULL until on_timer first runs */
    struct event *timer;
    conn *prev, *next;
    int closing;
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

/* One decoded path segment (malloc'd), or NULL when it holds a %00: a NUL
 * would cut the name short and act on another check or service. */
static char *decode_seg(const char *s, size_t n)
{
    char *seg = strndup(s, n);
    size_t len = 0;
    char *d = evhttp_uridecode(seg, 0, &len);
    free(seg);
    if (d && strlen(d) != len) {
        free(d);
        d = NULL;
    }
    return d;
}

/* Path segments "a/b/c" -> parts (decoded, malloc'd); the count, max + 1
 * when there are more, or -1 when one holds a NUL. */
static int split(const char *path, char **parts, int max)
{
    int n = 0;
    for (const char *p = path;; n++) {
        const char *slash = strchr(p, '/');
        if (n == max)
            return max + 1;
        parts[n] = decode_seg(p, slash ? (size_t)(slash - p) : strlen(p));
        if (!parts[n])
            return -1;
        if (!slash)
            return n + 1;
        p = slash + 1;
    }
}

static void handle_check(api *a, struct evhttp_request *req, const char *rest)
{
    char *parts[4] = {0};
    int n = split(rest, parts, 3);
    if (n < 0) {
        reply_error(req, 400, "%s", "a NUL (%00) in the path");
    } else if (n != 3) {
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
    char *name = decode_seg(rest, strlen(rest));
    service *s = name ? agent_find_service(a->rt, name) : NULL;
    if (!s) {
        if (name)
            reply_error(req, 404, "no service \"%s\"", name);
        else
            reply_error(req, 400, "%s", "a NUL (%00) in the path");
        free(name);
        return;
    }
    free(name);
    int enable = -1;
    char *reason = NULL;
    char *text = body_text(req);
    json_error_t je;
    json_t *b = json_loads(text, 0, &je);
    json_t *e = json_object_get(b, "enable");
    if (json_is_boolean(e))
        enable = json_is_true(e);
    if (json_is_string(json_object_get(b, "reason")))
        reason = strdup(json_string_value(json_object_get(b, "reason")));
    json_decref(b);
    free(text);
    if (enable < 0) {
        reply_error(req, 400, "%s", "say {\"enable\": true|false, \"reason\": \"...\"} in the body");
    } else {
        int was = service_maint(s, NULL);
        agent_set_maint(a->rt, s, enable, reason);
        reply_json(req, 200, json_pack("{sbsssb}", "maintenance", enable, "reason",
                                       reason ? reason : "", "changed", !was != !enable));
    }
    free(reason);
}

/* ---- who may ask ---------------------------------------------------------- */

/* Host and Origin: tools/common/http_guard.c (the console follows the same rules). */
static int authority_ok(const api *a, const char *hp, size_t n)
{
    return hg_authority_ok(a->host, a->port, hp, n);
}

static int origin_ok(const api *a, const char *origin)
{
    return hg_origin_ok(a->host, a->port, origin);
}

static int token_ok(const api *a, struct evhttp_request *req)
{
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7))
        return 0;
    h += 7;
    while (*h == ' ')
        h++;
    size_t n = strlen(a->token);
    if (strlen(h) != n)
        return 0;
    unsigned char diff = 0; /* the same time whatever the first wrong byte */
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(h[i] ^ a->token[i]);
    return diff == 0;
}

/* ---- connections ---------------------------------------------------------- */

/* Closed from our side: evhttp sees the end and lets the connection go,
 * which calls on_close. */
static void conn_close(conn *c)
{
    if (c->closing || !c->evcon)
        return;
    c->closing = 1;
    evutil_socket_t fd = bufferevent_getfd(evhttp_connection_get_bufferevent(c->evcon));
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
}

static void conn_unlink(conn *c)
{
    api *a = c->a;
    *(c->prev ? &c->prev->next : &a->oldest) = c->next;
    *(c->next ? &c->next->prev : &a->newest) = c->prev;
    c->prev = c->next = NULL;
}

static void conn_link(conn *c)
{
    api *a = c->a;
    c->prev = a->newest;
    *(a->newest ? &a->newest->next : &a->oldest) = c;
    a->newest = c;
}

static void conn_free(conn *c)
{
    conn_unlink(c);
    c->a->nconns--;
    event_free(c->timer);
    free(c);
}

/* Most recently used now, with a new deadline for its next request. */
static void conn_touch(conn *c)
{
    conn_unlink(c);
    conn_link(c);
    struct timeval tv = {API_DEADLINE_S, 0};
    evtimer_add(c->timer, &tv);
}

static void on_close(struct evhttp_connection *evcon, void *arg)
{
    evhttp_connection_set_closecb(evcon, NULL, NULL);
    conn_free(arg);
}

/* The timer: first (made active by on_accept, once evhttp has built its
 * connection around our bufferevent) it learns the connection from the
 * bufferevent's callback argument; after that it is the deadline. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn *c = arg;
    if (c->evcon) {
        conn_close(c);
        return;
    }
    bufferevent_data_cb readcb = NULL;
    void *cbarg = NULL;
    bufferevent_getcb(c->bev, &readcb, NULL, NULL, &cbarg);
    struct bufferevent *bev = c->bev;
    if (readcb && cbarg) { /* NULL: evhttp already let it go */
        c->evcon = cbarg;
        evhttp_connection_set_closecb(c->evcon, on_close, c);
        conn_touch(c);
    } else {
        conn_free(c);
    }
    bufferevent_decref(bev);
}

/* evhttp asks for each accepted connection's bufferevent: counted here,
 * the oldest closed when there are too many. A reference keeps the
 * bufferevent readable until on_timer has looked at it. */
static struct bufferevent *on_accept(struct event_base *base, void *arg)
{
    api *a = arg;
    if (a->nconns >= API_CONNS_MAX) {
        for (conn *o = a->oldest; o; o = o->next)
            if (o->evcon && !o->closing) {
                conn_close(o);
                break;
            }
    }
    conn *c = calloc(1, sizeof *c);
    c->a = a;
    c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    c->timer = evtimer_new(base, on_timer, c);
    if (!c->bev || !c->timer) {
        if (c->bev)
            bufferevent_free(c->bev);
        if (c->timer)
            event_free(c->timer);
        free(c);
        return NULL;
    }
    bufferevent_incref(c->bev);
    a->nconns++;
    conn_link(c);
    event_active(c->timer, EV_TIMEOUT, 0);
    return c->bev;
}

static conn *conn_of(api *a, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    for (conn *c = a->newest; c && evcon; c = c->prev)
        if (c->evcon == evcon)
            return c;
    return NULL;
}

/* ---- requests ------------------------------------------------------------- */

static void send_plain(struct evhttp_request *req, int code, const char *reason, const char *msg)
{
    json_t *b = json_pack("{ss}", "error", msg);
    char *text = json_dumps(b, JSON_COMPACT);
    struct evbuffer *out = evbuffer_new();
    evbuffer_add_printf(out, "%s\n", text);
    free(text);
    json_decref(b);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, code, reason, out);
    evbuffer_free(out);
}

/* Host and Origin: 0 when the request may go on, else answered. */
static int refuse_stranger(api *a, struct evhttp_request *req)
{
    const struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    const char *host = evhttp_find_header(in, "Host"), *origin = evhttp_find_header(in, "Origin");
    if (!host || !authority_ok(a, host, strlen(host))) {
        send_plain(req, 421, "Misdirected Request",
                   "the Host header must name this agent's API address (agent.api)");
        return 1;
    }
    if (origin && !origin_ok(a, origin)) {
        send_plain(req, 403, "Forbidden", "requests from web pages are refused");
        return 1;
    }
    return 0;
}

static void on_request(struct evhttp_request *req, void *arg)
{
    api *a = arg;
    conn *c = conn_of(a, req);
    if (c)
        conn_touch(c);
    if (refuse_stranger(a, req))
        return;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = evhttp_uri_get_path(uri);
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    int get = cmd == EVHTTP_REQ_GET, put = cmd == EVHTTP_REQ_PUT;
    if (!path)
        path = "/";
    int mutation = !strncmp(path, "/v1/check/", 10) || !strncmp(path, "/v1/maint/", 10);
    if (mutation && put) {
        if (!token_ok(a, req)) {
            evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                              "Bearer realm=\"zkdisc-agent\"");
            send_plain(req, 401, "Unauthorized",
                       "this needs the API token: Authorization: Bearer TOKEN, the token "
                       "being the content of agent.api_token_file");
            return;
        }
        if (evhttp_uri_get_query(uri)) {
            reply_error(req, 400, "%s", "a change goes in the body or the path, not the query string");
            return;
        }
    }
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
        char *name = decode_seg(path + 10, strlen(path + 10));
        json_t *w = name ? consumers_watch_json(a->rt->cons, name) : NULL;
        if (!name)
            reply_error(req, 400, "%s", "a NUL (%00) in the path");
        else if (w)
            reply_json(req, 200, w);
        else
            reply_error(req, 404, "service \"%s\" is not watched", name);
        free(name);
    } else if (!strncmp(path, "/v1/", 4) || !strcmp(path, "/metrics")) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", mutation ? "PUT" : "GET");
        send_plain(req, 405, "Method Not Allowed", mutation ? "use PUT here" : "use GET here");
    } else {
        reply_error(req, 404, "no such endpoint: %s", path);
    }
}

/* ---- the token ------------------------------------------------------------ */

void api_token_path(const agent_conf *c, char *buf, size_t len)
{
    if (c->api_token_file) {
        snprintf(buf, len, "%s", c->api_token_file);
    } else if (c->state_dir) {
        snprintf(buf, len, "%s/api.token", c->state_dir);
    } else {
        const char *slash = c->path ? strrchr(c->path, '/') : NULL;
        snprintf(buf, len, "%.*sapi.token", slash ? (int)(slash - c->path + 1) : 0, c->path);
    }
}

int api_token_read(const char *path, char *token, size_t len, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (st.st_mode & 077) {
        snprintf(err, errlen, "%s: readable by others (mode %04o); chmod 600 it", path,
                 (unsigned)(st.st_mode & 07777));
        close(fd);
        return -1;
    }
    char buf[512];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    if (n <= 0 || (size_t)n >= len || memchr(buf, '\n', (size_t)n)) {
        snprintf(err, errlen, "%s: not a token (one line of at most %zu characters)", path, len - 1);
        return -1;
    }
    memcpy(token, buf, (size_t)n);
    token[n] = 0;
    return 0;
}

/* The token from its file, made (0600, O_EXCL) with 32 random bytes in hex
 * when it is missing; its directory too (0700) when that is state_dir. */
static int token_load(api *a, const agent_conf *c, char *err, size_t errlen)
{
    char path[4096];
    api_token_path(c, path, sizeof path);
    if (c->state_dir && !c->api_token_file && mkdir(c->state_dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "api: %s: %s", c->state_dir, strerror(errno));
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        unsigned char raw[API_TOKEN_BYTES];
        char line[2 * API_TOKEN_BYTES + 2];
        int ok = getrandom(raw, sizeof raw, 0) == (ssize_t)sizeof raw;
        for (size_t i = 0; i < sizeof raw; i++)
            snprintf(line + 2 * i, 3, "%02x", raw[i]);
        line[2 * API_TOKEN_BYTES] = '\n';
        ok = ok && write(fd, line, 2 * API_TOKEN_BYTES + 1) == 2 * API_TOKEN_BYTES + 1 && fsync(fd) == 0;
        if (close(fd) != 0 || !ok) {
            snprintf(err, errlen, "api: cannot write the token to %s: %s", path, strerror(errno));
            unlink(path);
            return -1;
        }
        agent_log(AGENT_INFO, "api: made the token %s (mode 0600)", path);
    } else if (errno != EEXIST) {
        snprintf(err, errlen, "api: cannot make the token %s: %s", path, strerror(errno));
        return -1;
    }
    char why[4200];
    if (api_token_read(path, a->token, sizeof a->token, why, sizeof why) != 0) {
        snprintf(err, errlen, "api: token: %s", why);
        return -1;
    }
    return 0;
}

api *api_start(agent_rt *rt, const char *host, int port, char *err, size_t errlen)
{
    api *a = calloc(1, sizeof *a);
    a->rt = rt;
    snprintf(a->host, sizeof a->host, "%s", host);
    a->port = port;
    if (token_load(a, rt->conf, err, errlen) != 0) {
        free(a);
        return NULL;
    }
    a->http = evhttp_new(rt->base);
    evhttp_set_max_body_size(a->http, API_BODY_MAX);
    evhttp_set_max_headers_size(a->http, API_HEADERS_MAX);
    /* Every method reaches on_request, which answers 405 itself (evhttp
     * would say 501 for the ones not listed). */
    evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_PUT | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_HEAD | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_timeout(a->http, API_DEADLINE_S);
    evhttp_set_bevcb(a->http, on_accept, a);
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
    while (a->oldest) {
        conn *c = a->oldest;
        if (c->evcon)
            evhttp_connection_set_closecb(c->evcon, NULL, NULL);
        else
            bufferevent_decref(c->bev);
        conn_free(c);
    }
    evhttp_free(a->http);
    free(a);
}
