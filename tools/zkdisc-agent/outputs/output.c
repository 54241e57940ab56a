/* SPDX-License-Identifier: Apache-2.0 */
/* What every output shares: the JSON document, safe tokens, dispatch. */
#include "output.h"

#include "../agent.h"
#include "../resolve.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const output_ops *output_ops_for(out_type type)
{
    switch (type) {
    case OUT_JSON:
        return &output_json_ops;
    case OUT_COMMAND:
        return &output_command_ops;
    case OUT_HAPROXY:
        return &output_haproxy_ops;
    case OUT_NGINX:
        return &output_nginx_ops;
    }
    return NULL;
}

void output_init(output *o, const output_ops *ops, struct event_base *base, const watch_conf *w,
                 const out_conf *c)
{
    memset(o, 0, sizeof *o);
    o->ops = ops;
    o->base = base;
    o->watch = w;
    o->conf = c;
}

int output_safe_token(const char *s)
{
    if (!s || !*s || strlen(s) > 255)
        return 0;
    for (; *s; s++)
        if (!isgraph((unsigned char)*s) || strchr("\"'#;{}\\", *s))
            return 0;
    return 1;
}

static json_t *record(const zkd_instance *i)
{
    char *s = zkd_instance_to_json(i);
    json_t *v = s ? json_loads(s, 0, NULL) : NULL;
    zkd_free(s);
    return v ? v : json_null();
}

/* Each record's text as it stands in the document (two levels deep),
 * kept per instance: open addressing on the instance's address, each key
 * a reference to its instance (so an address is never reused while it is
 * a key). */
struct json_records {
    const zkd_instance **key;
    char **text;
    size_t *len;
    size_t mask;
};

static json_records *records_new(size_t n)
{
    json_records *c = calloc(1, sizeof *c);
    size_t cap = 16;
    while (cap < 2 * n + 2)
        cap *= 2;
    c->key = calloc(cap, sizeof *c->key);
    c->text = calloc(cap, sizeof *c->text);
    c->len = calloc(cap, sizeof *c->len);
    c->mask = cap - 1;
    return c;
}

static size_t records_pos(const json_records *c, const zkd_instance *i)
{
    uint64_t h = (uintptr_t)i;
    h = (h ^ (h >> 33)) * 0xff51afd7ed558ccdu; /* addresses share their low bits: mix them in */
    size_t p = (size_t)(h ^ (h >> 33)) & c->mask;
    while (c->key[p] && c->key[p] != i)
        p = (p + 1) & c->mask;
    return p;
}

void output_json_records_free(json_records *c)
{
    if (!c)
        return;
    for (size_t p = 0; p <= c->mask; p++)
        if (c->key[p]) {
            zkd_instance_unref(c->key[p]);
            free(c->text[p]);
        }
    free(c->key);
    free(c->text);
    free(c->len);
    free(c);
}

/* The record as json_dumps prints it two levels deep with JSON_INDENT(2):
 * every line after the first indented by 4 more (a newline in JSON text
 * is always layout, never inside a string). */
static char *record_text(const zkd_instance *i, size_t *len)
{
    json_t *r = record(i);
    char *flat = json_dumps(r, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    json_decref(r);
    size_t n = 0, lines = 0;
    for (; flat[n]; n++)
        lines += flat[n] == '\n';
    char *out = malloc(n + 4 * lines + 1), *w = out;
    for (const char *c = flat; *c; c++) {
        *w++ = *c;
        if (*c == '\n')
            for (int k = 0; k < 4; k++)
                *w++ = ' ';
    }
    *w = '\0';
    free(flat);
    *len = (size_t)(w - out);
    return out;
}

/* Slot p of `now` for instance `i`, filled from `old` or rendered. */
static size_t cached_record(json_records *old, json_records *now, const zkd_instance *i)
{
    size_t p = records_pos(now, i);
    if (now->key[p])
        return p; /* listed twice */
    size_t q = old ? records_pos(old, i) : 0;
    if (old && old->key[q]) {
        now->text[p] = old->text[q];
        now->len[p] = old->len[q];
        old->text[q] = NULL; /* moved */
    } else {
        now->text[p] = record_text(i, &now->len[p]);
    }
    now->key[p] = zkd_instance_ref(i);
    return p;
}

static char *append(char *w, const char *s, size_t n)
{
    memcpy(w, s, n);
    return w + n;
}

/* The document around its records: the head as jansson prints it with an
 * empty list, ending in "[]\n}", and each record's kept text. */
static char *render_cached(const watch_view *v, json_t *doc, size_t *len, json_records **cache)
{
    char *head = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_records *now = records_new(v->usable);
    size_t *at = malloc((v->n + 1) * sizeof *at), m = 0;
    size_t hl = strlen(head) - 3, total = hl + 16; /* up to and including "[" */
    for (size_t k = 0; k < v->n; k++)
        if (zkd_instance_enabled(v->inst[k])) {
            at[m] = cached_record(*cache, now, v->inst[k]);
            total += now->len[at[m++]] + 6;
        }
    output_json_records_free(*cache);
    *cache = now;
    if (!m) {
        free(at);
        *len = strlen(head);
        return head;
    }
    char *out = malloc(total), *w = out;
    w = append(w, head, hl);
    for (size_t k = 0; k < m; k++) {
        w = append(w, ",\n    " + !k, k ? 6 : 5);
        w = append(w, now->text[at[k]], now->len[at[k]]);
    }
    w = append(w, "\n  ]\n}", 6);
    *w = '\0';
    free(at);
    free(head);
    *len = (size_t)(w - out);
    return out;
}

char *output_render_json(const watch_view *v, size_t *len, json_records **cache)
{
    char when[40];
    time_t secs = (time_t)(v->updated_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof when - n, ".%03dZ", (int)(v->updated_ms % 1000));
    json_t *list = json_array();
    for (size_t k = 0; !cache && k < v->n; k++)
        if (zkd_instance_enabled(v->inst[k]))
            json_array_append_new(list, record(v->inst[k]));
    json_t *doc = json_pack("{s:s,s:b,s:s,s:s,s:o}", "service", v->service, "stale", v->stale,
                            "source", v->source ? v->source : "zookeeper", "updated", when,
                            "instances", list);
    size_t l;
    char *text;
    if (cache) {
        text = render_cached(v, doc, &l, cache);
    } else {
        text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        l = strlen(text);
    }
    json_decref(doc);
    char *out = realloc(text, l + 2);
    out[l] = '\n';
    out[l + 1] = '\0';
    *len = l + 1;
    return out;
}

void output_note(output *o, const char *id, int skipped, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (!o->noted)
        o->noted = json_object();
    char key[300];
    snprintf(key, sizeof key, "%s", output_safe_token(id) ? id : "(unsafe id)");
    json_t *was = o->notes ? json_object_get(o->notes, key) : NULL;
    if (!was || strcmp(json_string_value(was), why))
        agent_log(AGENT_WARN, "watch %s: %s output: instance %s %s", o->watch->service, o->ops->type,
                  key, why);
    json_object_set_new(o->noted, key, json_string(why));
    if (skipped)
        o->stats.skipped++;
}

void output_render_done(output *o)
{
    json_decref(o->notes);
    o->notes = o->noted;
    o->noted = NULL;
    o->names_gen = resolve_generation();
    o->names_ms = output_mono_ms();
}

int output_names_due(const output *o)
{
    return o->names && (o->names_gen != resolve_generation() ||
                        output_mono_ms() - o->names_ms >= RESOLVE_TTL_S * 1000);
}

int output_address(output *o, const zkd_instance *i, char *addr, size_t len)
{
    const char *id = zkd_instance_id(i), *name = zkd_instance_address(i), *why = NULL;
    int port = zkd_instance_port(i);
    unsigned char raw[16];
    if (!output_safe_token(id)) {
        output_note(o, id, 1, "skipped: the id is not safe in a config file");
        return -1;
    }
    if (port <= 0 || port > 65535) {
        output_note(o, id, 1, "skipped: port %d is out of range", port);
        return -1;
    }
    if (!name || !*name || strlen(name) > 253 || !output_safe_token(name)) {
        output_note(o, id, 1, "skipped: the address is not an IP address or host name");
        return -1;
    }
    if (inet_pton(AF_INET, name, raw) != 1 && inet_pton(AF_INET6, name, raw) != 1)
        o->names++;
    int rc = resolve_addr(name, addr, len, &why);
    if (rc < 0)
        output_note(o, id, 1, "skipped: address %s does not resolve: %s", name, why);
    return rc;
}

void output_fini(output *o)
{
    json_decref(o->notes);
    json_decref(o->noted);
    o->notes = o->noted = NULL;
}
