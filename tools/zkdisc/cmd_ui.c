/* SPDX-License-Identifier: Apache-2.0 */
/* ui: the web console (ui.h). One ZooKeeper session for every browser, one
 * libevent loop serving the pages compiled into the binary, the JSON reads,
 * the event streams and (with --write) the writes.
 *
 * Who may ask: the Host header must name this listener (421 otherwise: a
 * DNS-rebinding page sends its own name), a request carrying a foreign
 * Origin is refused (403), and a write needs --write, a JSON body and the
 * X-CSRF-Token of the browser's session (its cookie is SameSite=Strict and
 * HttpOnly). A non-loopback address needs --allow-remote. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include "http_guard.h"
#include "ui.h"

#define UI_HEADERS_MAX (8 * 1024)
#define UI_BODY_MAX (64 * 1024)
#define UI_DEADLINE_S 10  /* a request must arrive whole within this */
#define UI_STREAM_WRITE_S 30
#define UI_PING_S 15

enum { OPT_LISTEN = 1, OPT_WRITE, OPT_REMOTE };

typedef struct ui_opts {
    const char *listen;
    int write, allow_remote;
} ui_opts;

static int ui_opt(cli *ctx, int opt, const char *arg, void *ud)
{
    (void)ctx;
    ui_opts *o = ud;
    switch (opt) {
    case OPT_LISTEN: o->listen = arg; return 0;
    case OPT_WRITE: o->write = 1; return 0;
    case OPT_REMOTE: o->allow_remote = 1; return 0;
    }
    return EXIT_USAGE;
}

/* "HOST:PORT" or "[V6]:PORT" into host and port (0: any free port). */
static int parse_listen(cli *ctx, const char *text, char *host, size_t len, int *port)
{
    const char *colon = strrchr(text, ':');
    const char *h = text;
    size_t hn = colon ? (size_t)(colon - text) : 0;
    if (hn >= 2 && text[0] == '[' && text[hn - 1] == ']') {
        h++;
        hn -= 2;
    }
    char *end = NULL;
    long p = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || hn == 0 || hn >= len || !colon[1] || *end || p < 0 || p > 65535)
        return cli_error(ctx, EXIT_USAGE, "--listen takes HOST:PORT, not \"%s\"", text);
    memcpy(host, h, hn);
    host[hn] = 0;
    *port = (int)p;
    return 0;
}

/* ---- who may ask ---------------------------------------------------------- */

static int refuse_stranger(ui *u, struct evhttp_request *req)
{
    const struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    const char *host = evhttp_find_header(in, "Host"), *origin = evhttp_find_header(in, "Origin");
    if (!host || !hg_authority_ok(u->host, u->port, host, strlen(host))) {
        ui_reply_error(req, 421, "the Host header must name this console's address");
        return 1;
    }
    if (origin && !hg_origin_ok(u->host, u->port, origin)) {
        ui_reply_error(req, 403, "requests from other web sites are refused (Origin %s)", origin);
        return 1;
    }
    return 0;
}

/* A write: --write, a JSON body, the session's token. 0 when it may go on. */
static int refuse_write(ui *u, struct evhttp_request *req)
{
    const char *type =
        evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
    if (!u->write)
        ui_reply_error(req, 403, "this console is read-only (start zkdisc ui with --write)");
    else if (!type || strncasecmp(type, "application/json", 16))
        ui_reply_error(req, 415, "a change is a JSON body (Content-Type: application/json)");
    else if (!ui_csrf_ok(u, req))
        ui_reply_error(req, 403, "missing or wrong X-CSRF-Token for this browser's session; "
                                 "reload the page");
    else
        return 0;
    return 1;
}

/* ---- pages ---------------------------------------------------------------- */

static void security_headers(struct evhttp_request *req)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Security-Policy",
                      "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                      "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
    evhttp_add_header(h, "X-Frame-Options", "DENY");
}

static int serve_asset(struct evhttp_request *req, const char *path)
{
    if (!strcmp(path, "/"))
        path = "/index.html";
    for (size_t i = 0; i < ui_nassets; i++) {
        if (strcmp(ui_assets[i].path, path))
            continue;
        struct evbuffer *out = evbuffer_new();
        evbuffer_add_reference(out, ui_assets[i].data, ui_assets[i].len, NULL, NULL);
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);
        evhttp_add_header(h, "Content-Type", ui_assets[i].type);
        evhttp_add_header(h, "Cache-Control", "no-cache");
        evhttp_send_reply(req, 200, "OK", out);
        evbuffer_free(out);
        return 1;
    }
    return 0;
}

static void open_stream(ui *u, struct evhttp_request *req, const char *what)
{
    static const struct {
        const char *name, *param;
        ui_topic topic;
    } kinds[] = {
        {"services", NULL, UI_TOPIC_SERVICES}, {"service", "name", UI_TOPIC_SERVICE},
        {"apps", NULL, UI_TOPIC_APPS},         {"app", "name", UI_TOPIC_APP},
        {"ensemble", NULL, UI_TOPIC_ENSEMBLE}, {"node", "path", UI_TOPIC_NODE},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        if (strcmp(kinds[i].name, what))
            continue;
        char *key = kinds[i].param ? ui_query(req, kinds[i].param) : NULL;
        if (kinds[i].param && !key) {
            ui_reply_error(req, 400, "say ?%s=...", kinds[i].param);
            return;
        }
        ui_stream *s = ui_stream_open(u, req, kinds[i].topic, key);
        free(key);
        if (!s)
            return;
        /* No read deadline while streaming (the browser only listens); a
         * browser that stops reading is let go after the write deadline. */
        struct timeval wt = {UI_STREAM_WRITE_S, 0};
        bufferevent_set_timeouts(evhttp_connection_get_bufferevent(
                                     evhttp_request_get_connection(req)), NULL, &wt);
        ui_live_subscribed(u, s);
        return;
    }
    ui_reply_error(req, 404, "no such event stream: %s", what);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    ui *u = arg;
    if (refuse_stranger(u, req))
        return;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    int get = cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD, post = cmd == EVHTTP_REQ_POST;
    if (!path)
        path = "/";
    security_headers(req);
    if (post && strncmp(path, "/api/", 5)) {
        ui_reply_error(req, 405, "use GET here");
    } else if (!get && !post) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, POST");
        ui_reply_error(req, 405, "use GET or POST");
    } else if (post && refuse_write(u, req)) {
        return;
    } else if (get && !strncmp(path, "/api/events/", 12)) {
        open_stream(u, req, path + 12);
    } else if (!strncmp(path, "/api/", 5)) {
        if (!ui_api_handle(u, req, path, post))
            ui_reply_error(req, 404, "no such endpoint: %s", path);
    } else if (!serve_asset(req, path)) {
        ui_reply_error(req, 404, "no such page: %s", path);
    }
}

/* ---- the loop ------------------------------------------------------------- */

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ui *u = arg;
    u->flush_pending = 0;
    ui_live_flush(u);
}

/* The doorbell: changes are gathered for 30 ms, then pushed together. */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    ui *u = arg;
    uint64_t n;
    while (read(fd, &n, sizeof n) == (ssize_t)sizeof n)
        ;
    if (!u->flush_pending) {
        u->flush_pending = 1;
        struct timeval tv = {0, 30 * 1000};
        evtimer_add(u->flush_ev, &tv);
    }
}

static void on_ping(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ui_ping(arg);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
}

static int bound_port(struct evhttp_bound_socket *bs)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int serve(ui *u)
{
    u->http = evhttp_new(u->base);
    evhttp_set_max_body_size(u->http, UI_BODY_MAX);
    evhttp_set_max_headers_size(u->http, UI_HEADERS_MAX);
    evhttp_set_allowed_methods(u->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_timeout(u->http, UI_DEADLINE_S);
    evhttp_set_gencb(u->http, on_request, u);
    struct evhttp_bound_socket *bs =
        evhttp_bind_socket_with_handle(u->http, u->host, (ev_uint16_t)u->port);
    if (!bs)
        return cli_error(u->ctx, EXIT_ERROR, "cannot listen on %s:%d: %s", u->host, u->port,
                         strerror(errno));
    u->port = bound_port(bs);
    int v6 = strchr(u->host, ':') != NULL;
    printf("zkdisc ui: http://%s%s%s:%d/ (%s)\n", v6 ? "[" : "", u->host, v6 ? "]" : "", u->port,
           u->write ? "read-write" : "read-only");
    fflush(stdout);

    struct event *sigint = evsignal_new(u->base, SIGINT, on_signal, u->base);
    struct event *sigterm = evsignal_new(u->base, SIGTERM, on_signal, u->base);
    evsignal_add(sigint, NULL);
    evsignal_add(sigterm, NULL);
    event_base_dispatch(u->base);
    event_free(sigint);
    event_free(sigterm);
    return 0;
}

static int run_ui(cli *ctx, int argc, char **argv)
{
    ui_opts o = {.listen = "127.0.0.1:8587"};
    static const struct option lo[] = {{"listen", required_argument, NULL, OPT_LISTEN},
                                       {"write", no_argument, NULL, OPT_WRITE},
                                       {"allow-remote", no_argument, NULL, OPT_REMOTE},
                                       {NULL, 0, NULL, 0}};
    int first;
    int rc = cli_parse(ctx, &cmd_ui, argc, argv, lo, NULL, ui_opt, &o, &first);
    if (rc || (rc = cli_expect_args(ctx, &cmd_ui, argc - first, 0, 0)))
        return rc;
    ui u = {.ctx = ctx, .write = o.write, .wake_fd = -1};
    if ((rc = parse_listen(ctx, o.listen, u.host, sizeof u.host, &u.port)))
        return rc;
    if (!hg_is_loopback(u.host) && !o.allow_remote)
        return cli_error(ctx, EXIT_USAGE,
                         "%s is not a loopback address: the console would be open to the "
                         "network; add --allow-remote if that is meant",
                         u.host);
    signal(SIGPIPE, SIG_IGN);
    if ((rc = cli_connect(ctx)))
        return rc;
    u.zk = ctx->client;
    u.base = event_base_new();
    u.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!u.base || u.wake_fd < 0)
        return cli_error(ctx, EXIT_ERROR, "cannot set up the event loop: %s", strerror(errno));
    u.wake_ev = event_new(u.base, u.wake_fd, EV_READ | EV_PERSIST, on_wake, &u);
    u.flush_ev = evtimer_new(u.base, on_flush, &u);
    u.ping_ev = event_new(u.base, -1, EV_PERSIST, on_ping, &u);
    event_add(u.wake_ev, NULL);
    struct timeval ping = {UI_PING_S, 0};
    event_add(u.ping_ev, &ping);
    zkd_error err;
    if ((rc = ui_live_start(&u, &err)))
        rc = cli_fail(ctx, rc, &err);
    else
        rc = serve(&u);
    ui_streams_close(&u);
    ui_live_stop(&u);
    if (u.http)
        evhttp_free(u.http);
    event_free(u.wake_ev);
    event_free(u.flush_ev);
    event_free(u.ping_ev);
    event_base_free(u.base);
    close(u.wake_fd);
    return rc;
}

const cli_command cmd_ui = {
    "ui", "serve the web console",
    "ui [--listen HOST:PORT] [--write] [--allow-remote]\n\n"
    "Serves a web console for the tree: services and their instances, the\n"
    "configuration apps with their history, diffs and rollback, a tree browser\n"
    "with search, and the ensemble's servers. Pages update live. Prints the URL,\n"
    "then serves until interrupted, with one ZooKeeper session for every browser.\n"
    "  --listen HOST:PORT  where to listen (default 127.0.0.1:8587; port 0: any)\n"
    "  --write             allow drain, undrain and rollback from the pages (each\n"
    "                      confirmed); without it the console is read-only\n"
    "  --allow-remote      allow a non-loopback --listen address (anyone who can\n"
    "                      reach it sees the tree as --auth's identity does)",
    run_ui};
