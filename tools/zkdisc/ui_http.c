/* SPDX-License-Identifier: Apache-2.0 */
/* The console's HTTP plumbing: replies, query strings, sessions and their
 * CSRF tokens, Server-Sent Event streams (ui.h). */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "ui.h"

#define UI_BODY_MAX (64 * 1024)

void ui_reply_json(struct evhttp_request *req, int code, json_t *body)
{
    struct evbuffer *out = evbuffer_new();
    char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    evbuffer_add_printf(out, "%s\n", text ? text : "null");
    free(text);
    json_decref(body);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_send_reply(req, code, NULL, out);
    evbuffer_free(out);
}

void ui_reply_error(struct evhttp_request *req, int code, const char *fmt, ...)
{
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ui_reply_json(req, code, json_pack("{ss}", "error", msg));
}

int ui_status_of(int code)
{
    switch (code) {
    case ZKD_EINVAL:
    case ZKD_EBADDATA:
    case ZKD_ETOOBIG: return 400;
    case ZKD_ENOAUTH:
    case ZKD_EAUTHFAILED: return 403;
    case ZKD_ENOTFOUND: return 404;
    case ZKD_ECONFLICT:
    case ZKD_EEXISTS:
    case ZKD_ENOTEMPTY: return 409;
    case ZKD_ETIMEDOUT:
    case ZKD_ECONNLOSS:
    case ZKD_EEXPIRED: return 503;
    default: return 500;
    }
}

char *ui_query(struct evhttp_request *req, const char *name)
{
    const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    if (!q)
        return NULL;
    struct evkeyvalq params;
    if (evhttp_parse_query_str(q, &params) != 0)
        return NULL;
    const char *v = evhttp_find_header(&params, name);
    char *out = v ? strdup(v) : NULL;
    evhttp_clear_headers(&params);
    return out;
}

json_t *ui_body_json(struct evhttp_request *req)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    if (n > UI_BODY_MAX)
        return NULL;
    char *text = malloc(n + 1);
    if (!text)
        return NULL;
    evbuffer_copyout(in, text, n);
    text[n] = 0;
    json_t *v = json_loadb(text, n, 0, NULL);
    free(text);
    return v;
}

/* ---- sessions ------------------------------------------------------------- */

static int random_hex(char *out, size_t bytes)
{
    unsigned char raw[64];
    if (bytes > sizeof raw || getrandom(raw, bytes, 0) != (ssize_t)bytes)
        return -1;
    for (size_t i = 0; i < bytes; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

/* The same time whatever the first differing byte. */
static int same_secret(const char *a, const char *b)
{
    size_t n = strlen(a);
    if (strlen(b) != n || n == 0)
        return 0;
    unsigned char diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

/* The value of cookie zkui in the request, into buf ("" when none). */
static void cookie_of(struct evhttp_request *req, char *buf, size_t len)
{
    buf[0] = 0;
    const char *c = evhttp_find_header(evhttp_request_get_input_headers(req), "Cookie");
    for (const char *p = c; p && *p;) {
        while (*p == ' ' || *p == ';')
            p++;
        size_t n = strcspn(p, ";");
        if (!strncmp(p, "zkui=", 5) && n - 5 < len) {
            memcpy(buf, p + 5, n - 5);
            buf[n - 5] = 0;
            return;
        }
        p += n;
    }
}

ui_session *ui_session_get(ui *u, struct evhttp_request *req, int create)
{
    char id[UI_TOKEN_HEX + 2];
    cookie_of(req, id, sizeof id);
    ui_session *oldest = &u->sessions[0];
    for (int i = 0; i < UI_SESSIONS_MAX; i++) {
        ui_session *s = &u->sessions[i];
        if (id[0] && s->id[0] && same_secret(s->id, id)) {
            s->used = ++u->clock;
            return s;
        }
        if (s->used < oldest->used)
            oldest = s;
    }
    if (!create)
        return NULL;
    /* A new browser (or one whose session was pushed out): a new session. */
    ui_session *s = oldest;
    if (random_hex(s->id, UI_TOKEN_HEX / 2) || random_hex(s->token, UI_TOKEN_HEX / 2)) {
        memset(s, 0, sizeof *s);
        return NULL;
    }
    s->used = ++u->clock;
    char cookie[200];
    snprintf(cookie, sizeof cookie, "zkui=%s; Path=/; HttpOnly; SameSite=Strict", s->id);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie", cookie);
    return s;
}

int ui_csrf_ok(ui *u, struct evhttp_request *req)
{
    ui_session *s = ui_session_get(u, req, 0);
    const char *t = evhttp_find_header(evhttp_request_get_input_headers(req), "X-CSRF-Token");
    return s && t && same_secret(s->token, t);
}

/* ---- event streams -------------------------------------------------------- */

static void stream_free(ui_stream *s)
{
    ui *u = s->u;
    ui_live_unsubscribed(u, s);
    *(s->prev ? &s->prev->next : &u->streams) = s->next;
    if (s->next)
        s->next->prev = s->prev;
    free(s->key);
    free(s);
}

/* The browser went away. When the connection failed under a reply in
 * progress, evhttp has handed the request back to us (it has no connection
 * any more) and only evhttp_send_reply_end frees it; otherwise evhttp frees
 * it with the connection. */
static void on_stream_close(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    ui_stream *s = arg;
    struct evhttp_request *req = s->req;
    stream_free(s);
    if (!evhttp_request_get_connection(req))
        evhttp_send_reply_end(req);
}

ui_stream *ui_stream_open(ui *u, struct evhttp_request *req, ui_topic topic, const char *key)
{
    ui_stream *s = calloc(1, sizeof *s);
    if (!s || (key && !(s->key = strdup(key)))) {
        free(s);
        ui_reply_error(req, 500, "out of memory");
        return NULL;
    }
    s->u = u;
    s->req = req;
    s->topic = topic;
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "text/event-stream");
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_send_reply_start(req, 200, "OK");
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    evhttp_connection_set_closecb(evcon, on_stream_close, s);
    s->next = u->streams;
    if (u->streams)
        u->streams->prev = s;
    u->streams = s;
    /* The browser reconnects by itself after a drop: ask it to wait 1 s. */
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b, "retry: 1000\n\n");
    evhttp_send_reply_chunk(req, b);
    evbuffer_free(b);
    return s;
}

void ui_stream_send(ui_stream *s, const char *event, const char *data)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b, "event: %s\n", event);
    /* One data: line per line of the payload (ours are single-line JSON). */
    for (const char *p = data;;) {
        size_t n = strcspn(p, "\n");
        evbuffer_add(b, "data: ", 6);
        evbuffer_add(b, p, n);
        evbuffer_add(b, "\n", 1);
        if (!p[n])
            break;
        p += n + 1;
    }
    evbuffer_add(b, "\n", 1);
    evhttp_send_reply_chunk(s->req, b);
    evbuffer_free(b);
}

static int matches(const ui_stream *s, ui_topic topic, const char *key)
{
    return s->topic == topic && (!key || (s->key && !strcmp(s->key, key)));
}

void ui_broadcast(ui *u, ui_topic topic, const char *key, const char *event, const char *data)
{
    for (ui_stream *s = u->streams; s; s = s->next)
        if (matches(s, topic, key))
            ui_stream_send(s, event, data);
}

int ui_listeners(ui *u, ui_topic topic, const char *key)
{
    int n = 0;
    for (ui_stream *s = u->streams; s; s = s->next)
        n += matches(s, topic, key);
    return n;
}

void ui_ping(ui *u)
{
    for (ui_stream *s = u->streams; s; s = s->next) {
        struct evbuffer *b = evbuffer_new();
        evbuffer_add_printf(b, ": ping\n\n");
        evhttp_send_reply_chunk(s->req, b);
        evbuffer_free(b);
    }
}

void ui_streams_close(ui *u)
{
    while (u->streams) {
        ui_stream *s = u->streams;
        evhttp_connection_set_closecb(evhttp_request_get_connection(s->req), NULL, NULL);
        evhttp_send_reply_end(s->req);
        stream_free(s);
    }
}

void ui_wake(ui *u)
{
    uint64_t one = 1;
    ssize_t n;
    do
        n = write(u->wake_fd, &one, sizeof one);
    while (n < 0 && errno == EINTR);
}
