/* SPDX-License-Identifier: Apache-2.0 */
/* `zkdisc ui`: the web console. What its files share.
 *
 *   cmd_ui.c    the command: options, the listener, who may ask, routing
 *   ui_http.c   replies, query strings, sessions (CSRF tokens), event streams
 *   ui_live.c   the live state (services, configuration, ensemble) fed by the
 *               library's caches and watches, pushed as Server-Sent Events
 *   ui_api.c    one-shot reads (tree, config versions) and the writes
 *   ui/         the pages, compiled into the binary (ui_assets.c, generated)
 *
 * Threads: everything here runs on the main thread's libevent loop, except
 * the library's callbacks (its dispatch thread) and the ensemble prober,
 * which only set flags and wake the loop (ui_wake). */
#ifndef ZKDISC_UI_H
#define ZKDISC_UI_H

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <stddef.h>

#include "cli.h"

typedef struct ui_live ui_live;
typedef struct ui_stream ui_stream;
typedef struct ui_session ui_session;

enum { UI_SESSIONS_MAX = 64, UI_TOKEN_HEX = 64 };

/* A browser's session: the cookie names it, the token proves a write came
 * from a page this console served to that browser. */
struct ui_session {
    char id[UI_TOKEN_HEX + 1];
    char token[UI_TOKEN_HEX + 1];
    unsigned long long used; /* for replacing the least recently used */
};

typedef struct ui {
    cli *ctx;
    zkd_client *zk;
    struct event_base *base;
    struct evhttp *http;
    char host[256]; /* the listen address, without brackets */
    int port;
    int write;      /* --write */
    int wake_fd;    /* eventfd: the other threads' doorbell */
    struct event *wake_ev, *flush_ev, *ping_ev;
    int flush_pending;
    ui_live *live;
    ui_stream *streams;
    ui_session sessions[UI_SESSIONS_MAX];
    unsigned long long clock;
} ui;

/* ---- ui_http.c ---------------------------------------------------------- */

/* Replies with the JSON value (stolen) and status `code`. */
void ui_reply_json(struct evhttp_request *req, int code, json_t *body);
/* Replies {"error": msg} with status `code`. */
void ui_reply_error(struct evhttp_request *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The HTTP status for a ZKD_E* code. */
int ui_status_of(int zkd_code);
/* A query parameter, decoded (malloc'd), or NULL. */
char *ui_query(struct evhttp_request *req, const char *name);
/* The request body as JSON (a new reference), or NULL. */
json_t *ui_body_json(struct evhttp_request *req);

/* Sessions: the cookie's session or a new one (setting the cookie). */
ui_session *ui_session_get(ui *u, struct evhttp_request *req, int create);
/* 1 when the request carries its session's token in X-CSRF-Token. */
int ui_csrf_ok(ui *u, struct evhttp_request *req);

/* Event streams: what a stream follows. */
typedef enum ui_topic {
    UI_TOPIC_SERVICES = 1, /* the services and their counts */
    UI_TOPIC_SERVICE,      /* one service's instances (key: the service) */
    UI_TOPIC_APPS,         /* the configuration apps */
    UI_TOPIC_APP,          /* one app's versions (key: the app) */
    UI_TOPIC_ENSEMBLE,     /* the servers */
    UI_TOPIC_NODE          /* one znode of the tree (key: the path) */
} ui_topic;

struct ui_stream {
    ui *u;
    struct evhttp_request *req;
    ui_topic topic;
    char *key;
    void *data; /* the topic's own (a node's watch) */
    ui_stream *prev, *next;
};

/* Starts an event stream on req (200, text/event-stream). NULL on failure
 * (answered). */
ui_stream *ui_stream_open(ui *u, struct evhttp_request *req, ui_topic topic, const char *key);
/* Sends one event to a stream / to every stream of topic (and key, unless NULL). */
void ui_stream_send(ui_stream *s, const char *event, const char *data);
void ui_broadcast(ui *u, ui_topic topic, const char *key, const char *event, const char *data);
/* How many streams follow topic (and key, unless NULL). */
int ui_listeners(ui *u, ui_topic topic, const char *key);
/* A comment line to every stream, so dead connections are noticed. */
void ui_ping(ui *u);
/* Ends every stream (shutdown). */
void ui_streams_close(ui *u);

/* Called from any thread: the loop runs ui_live_flush soon. */
void ui_wake(ui *u);

/* ---- ui_live.c ---------------------------------------------------------- */

int ui_live_start(ui *u, zkd_error *err);
void ui_live_stop(ui *u);
/* Catches up with what the library reported, pushes it to the streams. */
void ui_live_flush(ui *u);
/* A new stream: sends it the current state of its topic. */
void ui_live_subscribed(ui *u, ui_stream *s);
/* A stream ends (before it is freed). */
void ui_live_unsubscribed(ui *u, ui_stream *s);
/* One app's detail: current version, history, lock (a new reference). */
json_t *ui_app_json(ui *u, const char *app, int *status, char *msg, size_t len);

/* ---- ui_api.c ----------------------------------------------------------- */

/* Handles /api/... requests other than the event streams; 0 when path is
 * not one of them. */
int ui_api_handle(ui *u, struct evhttp_request *req, const char *path, int post);

/* ---- ui_assets.c (generated from tools/zkdisc/ui/) ----------------------- */

typedef struct ui_asset {
    const char *path; /* "/index.html" */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
} ui_asset;

extern const ui_asset ui_assets[];
extern const size_t ui_nassets;

#endif
