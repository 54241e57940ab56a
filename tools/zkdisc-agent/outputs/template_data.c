/* SPDX-License-Identifier: Apache-2.0 */
/* The data templates render (template_data.h): every watched set,
 * configuration documents and the node's facts, as one JSON model rebuilt
 * only when one of them changed. */
#include "template_data.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../agent.h"
#include "output.h"

typedef struct app {
    char *name;
    zkd_config_watch *w;
    int64_t version;
    json_t *doc, *info;
    int waiting_logged;
} app;

struct tmpl_data {
    int wake_fd;
    app *apps;
    int napps;
    json_t *model, *node, *noted;
    unsigned gen;
    int apps_dirty; /* an app's document changed since the model was built */
    uintptr_t *sig; /* the sets' shape and instance pointers the model was built from */
    size_t nsig;
    const zkd_instance **held; /* references keeping those pointers unique */
    size_t nheld;
};

static json_t *(*node_fn)(void *);
static void *node_ctx;

void tmpls_node_source(json_t *(*fn)(void *ctx), void *ctx)
{
    node_fn = fn;
    node_ctx = ctx;
}

/* ---- the data model ---- */

static json_t *int_or_null(int v)
{
    return v < 0 ? json_null() : json_integer(v);
}

static json_t *instance_json(const zkd_instance *i)
{
    json_t *payload = json_loads(zkd_instance_payload(i), JSON_DECODE_ANY, NULL);
    json_t *meta = json_object_get(payload, "metadata");
    if (!json_is_object(meta))
        meta = json_object_get(payload, "labels"); /* Nerve's records */
    meta = json_is_object(meta) ? json_incref(meta) : json_object();
    const char *zone = zkd_instance_zone(i);
    return json_pack("{s:s,s:s,s:s,s:o,s:o,s:i,s:o,s:b,s:o,s:o}", "id", zkd_instance_id(i), "znode",
                     zkd_instance_znode(i), "address", zkd_instance_address(i), "port",
                     int_or_null(zkd_instance_port(i)), "sslPort", int_or_null(zkd_instance_ssl_port(i)),
                     "weight", zkd_instance_weight(i), "zone", zone ? json_string(zone) : json_null(),
                     "enabled", zkd_instance_enabled(i), "metadata", meta, "payload",
                     payload ? payload : json_null());
}

/* Shallow copies of `items` with first, last and index (from 0): a list
 * written as JSON needs no trailing-comma trick ({{^last}},{{/last}}). */
static json_t *numbered(json_t *items)
{
    json_t *out = json_array();
    size_t n = json_array_size(items);
    for (size_t k = 0; k < n; k++) {
        json_t *o = json_copy(json_array_get(items, k));
        json_object_set_new(o, "first", json_boolean(k == 0));
        json_object_set_new(o, "last", json_boolean(k + 1 == n));
        json_object_set_new(o, "index", json_integer((json_int_t)k));
        json_array_append_new(out, o);
    }
    return out;
}

/* A record whose id or address could break a generated file is left out
 * (logged once): with escape none, a template prints them as they are. */
static int usable(json_t *noted, const char *service, const zkd_instance *i)
{
    if (output_safe_token(zkd_instance_id(i)) && output_safe_token(zkd_instance_address(i)))
        return 1;
    char key[600];
    snprintf(key, sizeof key, "%s/%s", service, zkd_instance_id(i));
    if (noted && !json_object_get(noted, key)) {
        json_object_set_new(noted, key, json_true());
        agent_log(AGENT_WARN, "templates: %s instance \"%s\" left out: its id or address holds a space, "
                  "quote, '#', ';', '{' or '}'", service, zkd_instance_id(i));
    }
    return 0;
}

static json_t *service_json(const watch_view *v, json_t *noted)
{
    json_t *up = json_array(), *down = json_array(), *all = json_array();
    for (size_t k = 0; k < v->n; k++) {
        if (!usable(noted, v->service, v->inst[k]))
            continue;
        json_t *o = instance_json(v->inst[k]);
        json_array_append(all, o);
        json_array_append_new(zkd_instance_enabled(v->inst[k]) ? up : down, o);
    }
    json_t *s = json_pack("{s:s,s:b,s:I,s:o,s:o,s:o}", "name", v->service, "stale", v->stale, "count",
                          (json_int_t)json_array_size(up), "instances", numbered(up), "drained",
                          numbered(down), "all", numbered(all));
    json_decref(up);
    json_decref(down);
    json_decref(all);
    return s;
}

static int by_service(const void *a, const void *b)
{
    return strcmp((*(const watch_view *const *)a)->service, (*(const watch_view *const *)b)->service);
}

static json_t *services_model(watch_set *const *sets, int nsets, json_t *noted)
{
    json_t *by_name = json_object(), *list = json_array();
    const watch_view **views = calloc((size_t)nsets + 1, sizeof *views);
    size_t n = 0;
    for (int i = 0; i < nsets; i++)
        if (watch_set_view(sets[i]))
            views[n++] = watch_set_view(sets[i]);
    qsort(views, n, sizeof *views, by_service);
    for (size_t i = 0; i < n; i++) {
        json_t *s = service_json(views[i], noted);
        json_object_set(by_name, views[i]->service, s);
        json_array_append_new(list, s);
    }
    free(views);
    json_t *m = json_pack("{s:o,s:o}", "services", by_name, "service_list", numbered(list));
    json_decref(list);
    return m;
}

static json_t *node_json(void)
{
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    json_t *svcs = node_fn ? node_fn(node_ctx) : NULL;
    return json_pack("{s:s,s:o}", "hostname", host, "services", svcs ? svcs : json_array());
}

/* ---- change detection ---- */

static uintptr_t name_hash(const char *s)
{
    uintptr_t h = 5381;
    for (; *s; s++)
        h = h * 33 + (unsigned char)*s;
    return h;
}

/* The sets' names, staleness and instance pointers. Each instance is
 * referenced while it is in `held`, so an equal pointer is the same
 * immutable record. 1 when that differs from what the model was built
 * from (and takes the new one). */
static int sets_changed(tmpl_data *t, watch_set *const *sets, int nsets)
{
    size_t cap = 1, ninst = 0;
    for (int i = 0; i < nsets; i++) {
        const watch_view *v = watch_set_view(sets[i]);
        cap += 2 + (v ? v->n : 0);
        ninst += v ? v->n : 0;
    }
    uintptr_t *sig = malloc(cap * sizeof *sig);
    size_t n = 0;
    sig[n++] = (uintptr_t)nsets;
    for (int i = 0; i < nsets; i++) {
        const watch_view *v = watch_set_view(sets[i]);
        sig[n++] = name_hash(watch_set_conf(sets[i])->service);
        sig[n++] = v ? (v->n << 1 | (size_t)(v->stale != 0)) : SIZE_MAX;
        for (size_t k = 0; v && k < v->n; k++)
            sig[n++] = (uintptr_t)v->inst[k];
    }
    if (n == t->nsig && !memcmp(sig, t->sig, n * sizeof *sig)) {
        free(sig);
        return 0;
    }
    for (size_t k = 0; k < t->nheld; k++)
        zkd_instance_unref(t->held[k]);
    free(t->held);
    t->held = malloc((ninst ? ninst : 1) * sizeof *t->held);
    t->nheld = 0;
    for (int i = 0; i < nsets; i++) {
        const watch_view *v = watch_set_view(sets[i]);
        for (size_t k = 0; v && k < v->n; k++)
            t->held[t->nheld++] = zkd_instance_ref(v->inst[k]);
    }
    free(t->sig);
    t->sig = sig;
    t->nsig = n;
    return 1;
}

/* Reads each app's current version (a change sets apps_dirty); -1 while
 * one has none yet. */
static int apps_read(tmpl_data *t)
{
    for (int i = 0; i < t->napps; i++) {
        app *a = &t->apps[i];
        zkd_config_version *v = zkd_config_watch_current(a->w);
        if (!v) {
            if (!a->waiting_logged)
                agent_log(AGENT_INFO, "templates: config app %s has no version yet; waiting for it", a->name);
            a->waiting_logged = 1;
            return -1;
        }
        a->waiting_logged = 0;
        if (zkd_config_version_number(v) != a->version) {
            json_t *doc = json_loads(zkd_config_version_json(v), JSON_DECODE_ANY, NULL);
            json_decref(a->doc);
            json_decref(a->info);
            a->doc = doc ? doc : json_null();
            a->version = zkd_config_version_number(v);
            a->info = json_pack("{s:I,s:s,s:s?,s:s?,s:I}", "version", (json_int_t)a->version, "checksum",
                                zkd_config_version_checksum(v), "author", zkd_config_version_author(v),
                                "message", zkd_config_version_message(v), "time",
                                (json_int_t)zkd_config_version_time(v));
            t->apps_dirty = 1;
        }
        zkd_config_version_unref(v);
    }
    return 0;
}

json_t *tmpl_data_get(tmpl_data *ts, watch_set *const *sets, int nsets, unsigned *gen)
{
    for (int i = 0; i < nsets; i++)
        if (!watch_set_view(sets[i]))
            return NULL; /* not loaded yet: the previous run's files are better than a partial render */
    if (apps_read(ts) < 0)
        return NULL;
    json_t *node = node_json();
    int changed = sets_changed(ts, sets, nsets) | ts->apps_dirty | !ts->model | !json_equal(node, ts->node);
    ts->apps_dirty = 0;
    json_decref(ts->node);
    ts->node = node;
    if (changed) {
        json_t *m = services_model(sets, nsets, ts->noted);
        json_t *config = json_object(), *info = json_object();
        for (int i = 0; i < ts->napps; i++) {
            json_object_set(config, ts->apps[i].name, ts->apps[i].doc);
            json_object_set(info, ts->apps[i].name, ts->apps[i].info);
        }
        json_object_set_new(m, "config", config);
        json_object_set_new(m, "config_info", info);
        json_object_set(m, "node", node);
        json_decref(ts->model);
        ts->model = m;
        ts->gen++;
    }
    *gen = ts->gen;
    return ts->model;
}

static void on_version(zkd_config_watch *w, const zkd_config_version *v, uint64_t skipped, void *ctx)
{
    (void)w;
    (void)v;
    (void)skipped;
    (void)!write(*(int *)ctx, "t", 1);
}

static int open_app(tmpl_data *ts, const char *name, zkd_client *zk, struct evbuffer *errors)
{
    for (int i = 0; i < ts->napps; i++)
        if (!strcmp(ts->apps[i].name, name))
            return 0;
    app *a = &ts->apps[ts->napps];
    zkd_error err;
    if (zkd_config_watch_open(zk, name, on_version, &ts->wake_fd, &a->w, &err)) {
        evbuffer_add_printf(errors, "templates: config app %s: %s\n", name, err.message);
        return -1;
    }
    a->name = strdup(name);
    a->version = -1;
    ts->napps++;
    return 0;
}

tmpl_data *tmpl_data_open(zkd_client *zk, const tmpl_conf *c, int n, int wake_fd, struct evbuffer *errors)
{
    tmpl_data *d = calloc(1, sizeof *d);
    d->wake_fd = wake_fd;
    d->noted = json_object();
    size_t napps = 0;
    for (int i = 0; i < n; i++)
        for (char **a = c[i].apps; a && *a; a++)
            napps++;
    d->apps = calloc(napps + 1, sizeof *d->apps);
    for (int i = 0; i < n; i++)
        for (char **a = c[i].apps; a && *a; a++)
            if (open_app(d, *a, zk, errors) < 0) {
                tmpl_data_close(d);
                return NULL;
            }
    return d;
}

void tmpl_data_close(tmpl_data *d)
{
    if (!d)
        return;
    for (int i = 0; i < d->napps; i++) {
        zkd_config_watch_close(d->apps[i].w);
        free(d->apps[i].name);
        json_decref(d->apps[i].doc);
        json_decref(d->apps[i].info);
    }
    for (size_t k = 0; k < d->nheld; k++)
        zkd_instance_unref(d->held[k]);
    free(d->held);
    free(d->sig);
    free(d->apps);
    json_decref(d->model);
    json_decref(d->node);
    json_decref(d->noted);
    free(d);
}
