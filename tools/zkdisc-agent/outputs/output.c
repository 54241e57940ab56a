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

/* Records decoded once per instance: open addressing on the instance's
 * address, each key a reference to its instance (so an address is never
 * reused while it is a key). */
struct json_records {
    const zkd_instance **key;
    json_t **val;
    size_t mask, n;
};

static json_records *records_new(size_t n)
{
    json_records *c = calloc(1, sizeof *c);
    size_t cap = 16;
    while (cap < 2 * n + 2)
        cap *= 2;
    c->key = calloc(cap, sizeof *c->key);
    c->val = calloc(cap, sizeof *c->val);
    c->mask = cap - 1;
    return c;
}

static size_t records_pos(const json_records *c, const zkd_instance *i)
{
    size_t p = ((uintptr_t)i >> 4) * 11400714819323198485u & c->mask;
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
            json_decref(c->val[p]);
        }
    free(c->key);
    free(c->val);
    free(c);
}

/* The record of `i`, from *cache when it was rendered before; *cache ends
 * up holding this view's records only. */
static json_t *cached_record(json_records *old, json_records *now, const zkd_instance *i)
{
    size_t p = records_pos(now, i);
    if (now->key[p])
        return json_incref(now->val[p]); /* listed twice */
    size_t q = old ? records_pos(old, i) : 0;
    json_t *v = old && old->key[q] ? json_incref(old->val[q]) : record(i);
    now->key[p] = zkd_instance_ref(i);
    now->val[p] = json_incref(v);
    now->n++;
    return v;
}

char *output_render_json(const watch_view *v, size_t *len, json_records **cache)
{
    char when[40];
    time_t secs = (time_t)(v->updated_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof when - n, ".%03dZ", (int)(v->updated_ms % 1000));
    json_records *now = cache ? records_new(v->usable) : NULL;
    json_t *list = json_array();
    for (size_t k = 0; k < v->n; k++)
        if (zkd_instance_enabled(v->inst[k]))
            json_array_append_new(list, now ? cached_record(*cache, now, v->inst[k]) : record(v->inst[k]));
    if (cache) {
        output_json_records_free(*cache);
        *cache = now;
    }
    json_t *doc = json_pack("{s:s,s:b,s:s,s:o}", "service", v->service, "stale", v->stale,
                            "updated", when, "instances", list);
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    size_t l = strlen(text);
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
