/* SPDX-License-Identifier: Apache-2.0 */
/* A watched service (see watch_set.h). The cache callback runs on the
 * library's thread: it sets a flag and writes a byte to the loop's wake
 * pipe; everything else happens on the loop. The view is rebuilt from the
 * cache's current snapshot (immutable, so instances are shared, not
 * copied), which makes a missed or merged wake-up harmless. */
#include "watch_set.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "agent.h"

struct watch_set {
    const watch_conf *conf;
    zkd_cache *cache;
    zkd_cache *defaults;   /* default_servers: served until `cache` first loads */
    int wake_fd;
    atomic_int dirty;
    int loaded;            /* the view has been built from a loaded cache */
    zkd_snapshot *snap;    /* what `view.inst` points into */
    const zkd_instance **inst;
    watch_view view;
    int held_back;         /* an empty update is being held back */
    int below_min;
    uint64_t held_back_total;
    output **outs;
    int nouts;
};

static void on_cache(zkd_cache *k, const zkd_delta *d, size_t n, void *ctx)
{
    (void)k;
    (void)d;
    (void)n;
    watch_set *ws = ctx;
    if (!atomic_exchange(&ws->dirty, 1))
        (void)!write(ws->wake_fd, "w", 1);
}

static int64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static int passes(const watch_conf *c, const zkd_instance *i)
{
    const char *zone = zkd_instance_zone(i);
    if (c->zone && (!zone || strcmp(zone, c->zone)))
        return 0;
    for (int m = 0; m < c->nmeta; m++) {
        const char *v = zkd_instance_meta(i, c->meta_keys[m]);
        if (!v || strcmp(v, c->meta_vals[m]))
            return 0;
    }
    return 1;
}

watch_set *watch_set_open(struct event_base *base, zkd_client *zk, const watch_conf *wc,
                          int wake_fd, struct evbuffer *errors)
{
    watch_set *ws = calloc(1, sizeof *ws);
    ws->conf = wc;
    ws->wake_fd = wake_fd;
    ws->view.service = wc->service;
    ws->outs = calloc((size_t)wc->nouts + 1, sizeof *ws->outs);
    for (int i = 0; i < wc->nouts; i++) {
        ws->outs[i] = output_ops_for(wc->outs[i].type)->open(base, wc, &wc->outs[i]);
        if (!ws->outs[i]) {
            evbuffer_add_printf(errors, "watch %s: cannot start its %s output\n", wc->service,
                                output_ops_for(wc->outs[i].type)->type);
            watch_set_close(ws);
            return NULL;
        }
        ws->nouts++;
    }
    zkd_error err;
    int rc = wc->file ? zkd_cache_open_file(zk, wc->service, wc->file, on_cache, ws, &ws->cache, &err)
                      : zkd_cache_open_flags(zk, wc->service, wc->unstored ? ZKD_CACHE_UNSTORED : 0,
                                             on_cache, ws, &ws->cache, &err);
    if (!rc && wc->defaults_json)
        rc = zkd_cache_open_static(zk, wc->service, wc->defaults_json, strlen(wc->defaults_json),
                                   NULL, NULL, &ws->defaults, &err);
    if (rc) {
        evbuffer_add_printf(errors, "watch %s: %s\n", wc->service, err.message);
        watch_set_close(ws);
        return NULL;
    }
    return ws;
}

/* Same instances (the very same immutable records) and staleness? */
static int same_view(const watch_set *ws, const zkd_instance **inst, size_t n, int stale)
{
    return ws->loaded && n == ws->view.n && stale == ws->view.stale &&
           (n == 0 || !memcmp(inst, ws->inst, n * sizeof *inst));
}

static void check_min(watch_set *ws)
{
    const watch_conf *c = ws->conf;
    size_t usable = ws->view.usable;
    if (!c->min_instances)
        return;
    if (!ws->below_min && usable < (size_t)c->min_instances) {
        ws->below_min = 1;
        agent_log(AGENT_WARN, "watch %s: %zu usable instances, below min_instances %d", c->service,
                  usable, c->min_instances);
        agent_alert("service_below_min", c->service,
                    json_pack("{s:I,s:i}", "usable", (json_int_t)usable, "min_instances", c->min_instances));
    } else if (ws->below_min && usable >= (size_t)c->min_instances) {
        ws->below_min = 0;
        agent_log(AGENT_INFO, "watch %s: %zu usable instances again", c->service, usable);
        agent_alert("service_recovered", c->service,
                    json_pack("{s:I,s:i}", "usable", (json_int_t)usable, "min_instances", c->min_instances));
    }
}

/* An update that would take a non-empty set to no usable instance is kept
 * out unless allow_empty (ZooKeeper blips and mass deregistration must not
 * leave every consumer with nothing). Returns 1 when held back. */
static int hold_back(watch_set *ws, size_t usable)
{
    if (ws->conf->allow_empty || usable > 0 || !ws->loaded || ws->view.usable == 0) {
        if (ws->held_back)
            agent_log(AGENT_INFO, "watch %s: no longer holding back", ws->conf->service);
        ws->held_back = 0;
        return 0;
    }
    if (!ws->held_back) {
        ws->held_back = 1;
        ws->held_back_total++;
        agent_log(AGENT_WARN, "watch %s: an update would leave no usable instance; keeping the %zu "
                  "last known (allow_empty is false)", ws->conf->service, ws->view.usable);
        agent_alert("empty_update_held_back", ws->conf->service,
                    json_pack("{s:I}", "kept", (json_int_t)ws->view.usable));
    }
    return 1;
}

void watch_set_refresh(watch_set *ws, int force)
{
    if (!atomic_exchange(&ws->dirty, 0) && !force)
        return;
    /* Before the first load (ZooKeeper down at start, no snapshot file)
     * the default servers are served when there are any; otherwise nothing
     * is written: the files of the previous run are better than an empty
     * set. Once ZooKeeper answers, its set replaces the defaults for good. */
    int first = zkd_cache_wait_ready(ws->cache, 0, NULL) != 0;
    if (first && !ws->defaults)
        return;
    const char *source = first ? "default_servers" : ws->conf->file ? "file" : "zookeeper";
    zkd_snapshot *s = zkd_cache_snapshot(first ? ws->defaults : ws->cache);
    int stale = zkd_snapshot_stale(s);
    if (!first && ws->defaults) {
        agent_log(AGENT_INFO, "watch %s: ZooKeeper answered; no longer serving default_servers",
                  ws->conf->service);
        zkd_cache_close(ws->defaults);
        ws->defaults = NULL;
        ws->held_back = 0;
        ws->view.usable = 0; /* the defaults never hold back ZooKeeper's own answer */
    }
    ws->view.source = source;
    size_t total = zkd_snapshot_count(s), n = 0, usable = 0;
    const zkd_instance **inst = malloc((total ? total : 1) * sizeof *inst);
    for (size_t k = 0; k < total; k++) {
        const zkd_instance *i = zkd_snapshot_at(s, k);
        if (passes(ws->conf, i)) {
            inst[n++] = i;
            usable += zkd_instance_enabled(i) != 0;
        }
    }
    if (hold_back(ws, usable) || same_view(ws, inst, n, stale)) {
        if (ws->loaded && stale != ws->view.stale) {
            ws->view.stale = stale; /* the kept set becomes stale (or fresh) */
            for (int o = 0; o < ws->nouts; o++)
                ws->outs[o]->ops->update(ws->outs[o], &ws->view);
        }
        free(inst);
        zkd_snapshot_unref(s);
        return;
    }
    int membership = !ws->loaded || n != ws->view.n || (n && memcmp(inst, ws->inst, n * sizeof *inst));
    free(ws->inst);
    zkd_snapshot_unref(ws->snap);
    ws->inst = inst;
    ws->snap = s;
    static uint64_t generations; /* the loop's thread only */
    ws->view.inst = inst;
    ws->view.generation = ++generations;
    ws->view.n = n;
    ws->view.usable = usable;
    ws->view.stale = stale;
    if (membership)
        ws->view.updated_ms = now_ms();
    ws->loaded = 1;
    check_min(ws);
    for (int o = 0; o < ws->nouts; o++)
        ws->outs[o]->ops->update(ws->outs[o], &ws->view);
}

void watch_set_tick(watch_set *ws)
{
    watch_set_refresh(ws, 1);
    if (!ws->loaded)
        return;
    for (int o = 0; o < ws->nouts; o++)
        if (ws->outs[o]->ops->tick)
            ws->outs[o]->ops->tick(ws->outs[o], &ws->view);
}

const watch_conf *watch_set_conf(const watch_set *ws)
{
    return ws->conf;
}

const watch_view *watch_set_view(const watch_set *ws)
{
    return ws->loaded ? &ws->view : NULL;
}

json_t *watch_set_json(const watch_set *ws)
{
    json_t *doc;
    if (ws->loaded) {
        size_t len;
        char *text = output_render_json(&ws->view, &len, NULL);
        doc = json_loads(text, 0, NULL);
        free(text);
    } else {
        doc = json_pack("{s:s,s:b,s:s,s:n,s:[]}", "service", ws->conf->service, "stale", 1,
                        "source", ws->conf->file ? "file" : "zookeeper", "updated", "instances");
    }
    json_object_set_new(doc, "loaded", json_boolean(ws->loaded));
    json_object_set_new(doc, "heldBack", json_boolean(ws->held_back));
    json_object_set_new(doc, "drained", json_integer((json_int_t)(ws->view.n - ws->view.usable)));
    json_t *outs = json_array();
    for (int o = 0; o < ws->nouts; o++) {
        const output *x = ws->outs[o];
        json_array_append_new(outs, json_pack("{s:s,s:s?,s:I,s:I,s:I,s:I}", "type", x->ops->type,
                                              "path", x->conf->path, "writes", (json_int_t)x->stats.writes,
                                              "failures", (json_int_t)x->stats.write_failures,
                                              "skipped", (json_int_t)x->stats.skipped,
                                              "reloads", (json_int_t)x->stats.reloads));
    }
    json_object_set_new(doc, "outputs", outs);
    return doc;
}

void watch_sets_wait_ready(watch_set *const *sets, int n, int timeout_ms)
{
    struct timeval start, now;
    gettimeofday(&start, NULL);
    for (int i = 0; i < n; i++) {
        gettimeofday(&now, NULL);
        long spent = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_usec - start.tv_usec) / 1000;
        if (spent >= timeout_ms || zkd_cache_wait_ready(sets[i]->cache, (int)(timeout_ms - spent), NULL))
            return;
    }
}

void watch_set_metrics(const watch_set *ws, struct evbuffer *out, int family)
{
    const char *svc = ws->conf->service;
    if (family == 1) {
        evbuffer_add_printf(out, "zkdisc_agent_watch_held_back_total{service=\"%s\"} %llu\n", svc,
                            (unsigned long long)ws->held_back_total);
        return;
    }
    evbuffer_add_printf(out, "zkdisc_agent_watch_instances{service=\"%s\",state=\"usable\"} %zu\n", svc,
                        ws->view.usable);
    evbuffer_add_printf(out, "zkdisc_agent_watch_instances{service=\"%s\",state=\"drained\"} %zu\n", svc,
                        ws->view.n - ws->view.usable);
}

/* Each output's counters, one metric family per counter (consumers.c
 * writes the HELP and TYPE lines once for all watches). */
void watch_set_output_metric(const watch_set *ws, struct evbuffer *out, const char *name,
                             size_t offset)
{
    for (int o = 0; o < ws->nouts; o++) {
        const output *x = ws->outs[o];
        uint64_t v = *(const uint64_t *)((const char *)&x->stats + offset);
        evbuffer_add_printf(out, "%s{service=\"%s\",output=\"%s\",index=\"%d\"} %llu\n", name,
                            ws->conf->service, x->ops->type, o, (unsigned long long)v);
    }
}

void watch_set_close(watch_set *ws)
{
    if (!ws)
        return;
    zkd_cache_close(ws->cache);
    zkd_cache_close(ws->defaults);
    for (int o = 0; o < ws->nouts; o++)
        ws->outs[o]->ops->close(ws->outs[o]);
    free(ws->outs);
    free(ws->inst);
    zkd_snapshot_unref(ws->snap);
    free(ws);
}

void watch_set_rebind(watch_set *ws, const watch_conf *wc)
{
    ws->conf = wc;
    ws->view.service = wc->service;
    for (int o = 0; o < ws->nouts; o++) {
        ws->outs[o]->watch = wc;
        ws->outs[o]->conf = &wc->outs[o];
    }
}
