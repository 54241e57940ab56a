/* What every output shares: the JSON document, safe tokens, dispatch. */
#include "output.h"

#include <ctype.h>
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

char *output_render_json(const watch_view *v, size_t *len)
{
    char when[40];
    time_t secs = (time_t)(v->updated_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof when - n, ".%03dZ", (int)(v->updated_ms % 1000));
    json_t *list = json_array();
    for (size_t k = 0; k < v->n; k++)
        if (zkd_instance_enabled(v->inst[k]))
            json_array_append_new(list, record(v->inst[k]));
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
