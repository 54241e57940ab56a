/* SPDX-License-Identifier: Apache-2.0 */
/* The console's live state (ui.h): a children watch on <root>/services and a
 * cache per service, a children watch on <root>/config and a config watch
 * per app, a prober thread for the ensemble, and a watch per open tree node.
 * Their callbacks (on the library's dispatch thread) only mark what changed
 * and ring the loop's doorbell; ui_live_flush, on the loop, reads the
 * immutable snapshots and pushes the differences to the event streams. */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "health_probe.h"
#include "ui.h"

#define ENSEMBLE_PERIOD_MS 2000

typedef struct svc {
    ui *u;
    char *name;
    zkd_cache *cache;
    atomic_int dirty;
    zkd_snapshot *shown; /* what the streams were last told */
    char *summary;       /* its line of the services list, as JSON text */
    struct svc *next;
} svc;

typedef struct app {
    ui *u;
    char *name;
    zkd_config_watch *w;
    atomic_int dirty;
    struct app *next;
} app;

typedef struct node_watch {
    ui *u;
    zkd_watch *w;
    atomic_int dirty;
} node_watch;

struct ui_live {
    char services_path[1100], config_path[1100];
    zkd_watch *svc_watch, *cfg_watch;
    atomic_int services_dirty, apps_dirty, all_dirty;
    int session_sub;
    svc *svcs;
    app *apps;
    char *services_text, *apps_text;
    /* the ensemble prober */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    int th_started, stop, wanted, fresh;
    char *ens_text;
    probe tmpl[MAX_SERVERS];
    int nprobe;
};

static char *dump(json_t *v)
{
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(v);
    return t;
}

/* ---- callbacks (the library's dispatch thread) ----------------------------- */

static void on_services_watch(zkd_watch *w, const zkd_watch_event *ev, void *ctx)
{
    (void)w;
    (void)ev;
    ui *u = ctx;
    atomic_store(&u->live->services_dirty, 1);
    ui_wake(u);
}

static void on_config_watch(zkd_watch *w, const zkd_watch_event *ev, void *ctx)
{
    (void)w;
    (void)ev;
    ui *u = ctx;
    atomic_store(&u->live->apps_dirty, 1);
    ui_wake(u);
}

static void on_cache(zkd_cache *c, const zkd_delta *d, size_t n, void *ctx)
{
    (void)c;
    (void)d;
    (void)n;
    svc *s = ctx;
    atomic_store(&s->dirty, 1);
    ui_wake(s->u);
}

static void on_app(zkd_config_watch *w, const zkd_config_version *v, uint64_t skipped, void *ctx)
{
    (void)w;
    (void)v;
    (void)skipped;
    app *a = ctx;
    atomic_store(&a->dirty, 1);
    ui_wake(a->u);
}

static void on_node(zkd_watch *w, const zkd_watch_event *ev, void *ctx)
{
    (void)w;
    (void)ev;
    node_watch *nw = ctx;
    atomic_store(&nw->dirty, 1);
    ui_wake(nw->u);
}

/* Connection lost or back, session renewed: staleness changes everywhere. */
static void on_session(zkd_client *c, zkd_session_event ev, void *ctx)
{
    (void)c;
    (void)ev;
    ui *u = ctx;
    atomic_store(&u->live->all_dirty, 1);
    ui_wake(u);
}

/* ---- services -------------------------------------------------------------- */

/* Text built by appending: instance lists are written straight as JSON
 * text (10,000 records in a few milliseconds, where building jansson values
 * and parsing every payload took the better part of a second). */
typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *g = realloc(b->p, cap);
        if (!g)
            abort(); /* like jansson's allocations here: nothing sensible to serve */
        b->p = g;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sb_puts(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    sb_add(b, tmp, n < 0 ? 0 : (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A JSON string (or null for NULL); bytes >= 0x80 go as they are (UTF-8). */
static void sb_str(sbuf *b, const char *s)
{
    if (!s) {
        sb_puts(b, "null");
        return;
    }
    sb_add(b, "\"", 1);
    for (const char *run = s;; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        sb_add(b, run, (size_t)(s - run));
        if (!c)
            break;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            sb_add(b, esc, 2);
        } else {
            sb_printf(b, "\\u%04x", c);
        }
        run = s + 1;
    }
    sb_add(b, "\"", 1);
}

/* One instance as an array, in the order of INSTANCE_COLUMNS (arrays, not
 * objects: a 10,000-instance list is a third smaller and parses faster);
 * its payload is embedded as the compact JSON it already is. */
#define INSTANCE_COLUMNS                                                                       \
    "[\"znode\",\"id\",\"endpoint\",\"zone\",\"version\",\"weight\",\"enabled\",\"registered\","    \
    "\"format\",\"payload\"]"

static void instance_text(sbuf *b, const zkd_instance *i)
{
    static const char *const formats[] = {"curator", "serverset", "nerve"};
    char ep[600];
    zkd_instance_endpoint(i, 0, ep, sizeof ep);
    zkd_format f = zkd_instance_format(i);
    sb_add(b, "[", 1);
    sb_str(b, zkd_instance_znode(i));
    sb_add(b, ",", 1);
    sb_str(b, zkd_instance_id(i));
    sb_add(b, ",", 1);
    sb_str(b, ep);
    sb_add(b, ",", 1);
    sb_str(b, zkd_instance_zone(i));
    sb_add(b, ",", 1);
    sb_str(b, zkd_instance_version(i));
    sb_printf(b, ",%d,%s,%lld,\"%s\",", zkd_instance_weight(i),
              zkd_instance_enabled(i) ? "true" : "false",
              (long long)zkd_instance_registration_time(i), (unsigned)f < 3 ? formats[f] : "?");
    sb_puts(b, zkd_instance_payload(i));
    sb_add(b, "]", 1);
}

static int inst_cmp(const zkd_instance *a, const zkd_instance *b)
{
    int c = strcmp(zkd_instance_id(a), zkd_instance_id(b));
    return c ? c : strcmp(zkd_instance_znode(a), zkd_instance_znode(b));
}

/* What changed from `was` to `now` (both sorted by id), as the text
 * {"set":[...],"removed":[znodes],"malformed":N,"stale":B}, or NULL when
 * nothing did. An instance object that is not the very same one is sent
 * again (snapshots share the unchanged ones). */
static char *snapshot_delta(const zkd_snapshot *was, const zkd_snapshot *now, uint64_t malformed)
{
    sbuf set = {0}, removed = {0};
    size_t i = 0, j = 0, n = zkd_snapshot_count(was), m = zkd_snapshot_count(now);
    while (i < n || j < m) {
        const zkd_instance *a = i < n ? zkd_snapshot_at(was, i) : NULL;
        const zkd_instance *b = j < m ? zkd_snapshot_at(now, j) : NULL;
        int c = !a ? 1 : !b ? -1 : inst_cmp(a, b);
        if (c < 0) {
            sb_add(&removed, ",", removed.n ? 1 : 0);
            sb_str(&removed, zkd_instance_znode(a));
            i++;
            continue;
        }
        if (c > 0 || a != b) {
            sb_add(&set, ",", set.n ? 1 : 0);
            instance_text(&set, b);
        }
        j++;
        i += c == 0;
    }
    int stale_changed = zkd_snapshot_stale(was) != zkd_snapshot_stale(now);
    if (!set.n && !removed.n && !stale_changed)
        return NULL;
    sbuf out = {0};
    sb_puts(&out, "{\"columns\":" INSTANCE_COLUMNS ",\"set\":[");
    sb_add(&out, set.p ? set.p : "", set.n);
    sb_puts(&out, "],\"removed\":[");
    sb_add(&out, removed.p ? removed.p : "", removed.n);
    sb_printf(&out, "],\"malformed\":%llu,\"stale\":%s}", (unsigned long long)malformed,
              zkd_snapshot_stale(now) ? "true" : "false");
    free(set.p);
    free(removed.p);
    return out.p;
}

static char *service_full(const svc *s)
{
    sbuf out = {0};
    sb_puts(&out, "{\"columns\":" INSTANCE_COLUMNS ",\"instances\":[");
    size_t n = s ? zkd_snapshot_count(s->shown) : 0;
    for (size_t i = 0; i < n; i++) {
        sb_add(&out, ",", i ? 1 : 0);
        instance_text(&out, zkd_snapshot_at(s->shown, i));
    }
    sb_printf(&out, "],\"malformed\":%llu,\"stale\":%s}",
              (unsigned long long)(s ? zkd_cache_malformed(s->cache) : 0),
              s && zkd_snapshot_stale(s->shown) ? "true" : "false");
    return out.p;
}

/* The service's line in the services list; NULL when it has no instances
 * (an empty service node lingers until ZooKeeper reaps the container). */
static char *service_summary(const svc *s)
{
    size_t live = 0, drained = 0, n = zkd_snapshot_count(s->shown);
    json_t *zones = json_object();
    for (size_t i = 0; i < n; i++) {
        const zkd_instance *in = zkd_snapshot_at(s->shown, i);
        zkd_instance_enabled(in) ? live++ : drained++;
        if (zkd_instance_zone(in))
            json_object_set_new(zones, zkd_instance_zone(in), json_true());
    }
    uint64_t malformed = zkd_cache_malformed(s->cache);
    if (!n && !malformed) {
        json_decref(zones);
        return NULL;
    }
    json_t *zl = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(zones, k, v)
        json_array_append_new(zl, json_string(k));
    json_decref(zones);
    return dump(json_pack("{s:s,s:I,s:I,s:I,s:o,s:b}", "name", s->name, "live", (json_int_t)live,
                          "drained", (json_int_t)drained, "malformed", (json_int_t)malformed,
                          "zones", zl, "stale", zkd_snapshot_stale(s->shown)));
}

static int same_text(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

/* Takes the cache's latest snapshot, tells the service's streams what
 * changed; 1 when its line in the services list changed. */
static int svc_refresh(ui *u, svc *s)
{
    zkd_snapshot *now = zkd_cache_snapshot(s->cache);
    if (ui_listeners(u, UI_TOPIC_SERVICE, s->name)) {
        char *text = snapshot_delta(s->shown, now, zkd_cache_malformed(s->cache));
        if (text)
            ui_broadcast(u, UI_TOPIC_SERVICE, s->name, "delta", text);
        free(text);
    }
    zkd_snapshot_unref(s->shown);
    s->shown = now;
    char *sum = service_summary(s);
    int changed = !same_text(sum, s->summary);
    free(s->summary);
    s->summary = sum;
    return changed;
}

static void svc_free(svc *s)
{
    zkd_cache_close(s->cache);
    zkd_snapshot_unref(s->shown);
    free(s->summary);
    free(s->name);
    free(s);
}

static svc *svc_open(ui *u, const char *name)
{
    svc *s = calloc(1, sizeof *s);
    if (!s || !(s->name = strdup(name))) {
        free(s);
        return NULL;
    }
    s->u = u;
    if (zkd_cache_open_flags(u->zk, name, ZKD_CACHE_UNSTORED, on_cache, s, &s->cache, NULL)) {
        free(s->name);
        free(s);
        return NULL; /* not a service name zkdisc accepts: not listed */
    }
    s->shown = zkd_cache_snapshot(s->cache);
    atomic_store(&s->dirty, 1);
    return s;
}

/* Opens caches for new services, closes those of the ones gone; the list
 * follows the children's (sorted) order. 1 when the list changed. */
static int sync_services(ui *u)
{
    ui_live *L = u->live;
    zkd_strings names = {0};
    int rc = zkd_node_children(u->zk, L->services_path, &names, NULL, NULL);
    if (rc && rc != ZKD_ENOTFOUND)
        return 0; /* keep what we have; the watch or the session tells us again */
    svc *head = NULL, **tail = &head;
    int changed = 0;
    for (size_t i = 0; i < names.count; i++) {
        svc **pp = &L->svcs;
        while (*pp && strcmp((*pp)->name, names.items[i]))
            pp = &(*pp)->next;
        svc *s = *pp;
        if (s)
            *pp = s->next;
        else if ((s = svc_open(u, names.items[i])))
            changed = 1;
        if (s) {
            s->next = NULL;
            *tail = s;
            tail = &s->next;
        }
    }
    while (L->svcs) { /* gone */
        svc *s = L->svcs;
        L->svcs = s->next;
        ui_broadcast(u, UI_TOPIC_SERVICE, s->name, "full", "{\"instances\":[],\"malformed\":0}");
        svc_free(s);
        changed = 1;
    }
    L->svcs = head;
    zkd_strings_free(&names);
    return changed;
}

static void push_services(ui *u)
{
    ui_live *L = u->live;
    json_t *arr = json_array();
    for (svc *s = L->svcs; s; s = s->next)
        if (s->summary)
            json_array_append_new(arr, json_loads(s->summary, 0, NULL));
    char *text = dump(json_pack("{s:o,s:s}", "services", arr, "state",
                                zkd_state_name(zkd_client_state(u->zk))));
    if (!same_text(text, L->services_text)) {
        ui_broadcast(u, UI_TOPIC_SERVICES, NULL, "services", text);
        free(L->services_text);
        L->services_text = text;
    } else {
        free(text);
    }
}

/* ---- configuration ---------------------------------------------------------- */

static void app_free(app *a)
{
    zkd_config_watch_close(a->w);
    free(a->name);
    free(a);
}

static void push_apps(ui *u, const zkd_config_app *list, size_t n)
{
    ui_live *L = u->live;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:s,s:I,s:I,s:s}", "name", list[i].name, "version",
                                             (json_int_t)list[i].version, "time",
                                             (json_int_t)list[i].time_ms, "author",
                                             list[i].author ? list[i].author : ""));
    char *text = dump(json_pack("{s:o}", "apps", arr));
    if (!same_text(text, L->apps_text)) {
        ui_broadcast(u, UI_TOPIC_APPS, NULL, "apps", text);
        free(L->apps_text);
        L->apps_text = text;
    } else {
        free(text);
    }
}

/* Lists the apps, opens a config watch for each new one, closes the ones
 * gone, and pushes the list. */
static void sync_apps(ui *u)
{
    ui_live *L = u->live;
    zkd_config_app *list = NULL;
    size_t n = 0;
    if (zkd_config_list(u->zk, &list, &n, NULL))
        return;
    app *head = NULL, **tail = &head;
    for (size_t i = 0; i < n; i++) {
        app **pp = &L->apps;
        while (*pp && strcmp((*pp)->name, list[i].name))
            pp = &(*pp)->next;
        app *a = *pp;
        if (a) {
            *pp = a->next;
        } else if ((a = calloc(1, sizeof *a)) && (a->name = strdup(list[i].name))) {
            a->u = u;
            if (zkd_config_watch_open(u->zk, a->name, on_app, a, &a->w, NULL)) {
                free(a->name);
                free(a);
                a = NULL;
            }
        } else {
            free(a);
            a = NULL;
        }
        if (a) {
            a->next = NULL;
            *tail = a;
            tail = &a->next;
        }
    }
    while (L->apps) {
        app *a = L->apps;
        L->apps = a->next;
        app_free(a);
    }
    L->apps = head;
    push_apps(u, list, n);
    zkd_config_apps_free(list, n);
}

/* "digest:alice" for "alice:HASH": who an ACL entry names, without the hash. */
static json_t *acl_json(const zkd_acl_entry *acl, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        char perms[8];
        size_t k = 0;
        static const char letters[] = "rwcda";
        for (int b = 0; b < 5; b++)
            if (acl[i].perms & (1 << b))
                perms[k++] = letters[b];
        perms[k] = 0;
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "scheme", acl[i].scheme, "id",
                                             acl[i].id, "perms", perms));
    }
    return arr;
}

json_t *ui_app_json(ui *u, const char *name, int *status, char *msg, size_t len)
{
    zkd_error err;
    zkd_config_meta *h = NULL;
    size_t n = 0;
    int rc = zkd_config_history(u->zk, name, &h, &n, &err);
    if (rc) {
        *status = ui_status_of(rc);
        snprintf(msg, len, "zkdisc config history: %s", err.message[0] ? err.message : zkd_strerror(rc));
        return NULL;
    }
    json_t *hist = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(hist, json_pack("{s:I,s:I,s:s,s:s,s:s,s:I}", "version",
                                              (json_int_t)h[i].version, "time",
                                              (json_int_t)h[i].time_ms, "author", h[i].author,
                                              "message", h[i].message, "checksum", h[i].checksum,
                                              "size", (json_int_t)h[i].size));
    int64_t current = n ? h[n - 1].version : 0;
    zkd_config_meta_free(h, n);
    /* The current version is the app node's (history may lag a prune). */
    zkd_config_version *v = NULL;
    if (zkd_config_get(u->zk, name, 0, &v, NULL) == 0) {
        current = zkd_config_version_number(v);
        zkd_config_version_unref(v);
    }
    /* Locked: the app node's ACL lets world:anyone read only. */
    char path[1300];
    snprintf(path, sizeof path, "%s/%s", u->live->config_path, name);
    zkd_acl_entry *acl = NULL;
    size_t na = 0;
    json_t *lock = json_object();
    if (zkd_node_get_acl(u->zk, path, &acl, &na, NULL, NULL) == 0) {
        int open = 0;
        json_t *writers = json_array();
        for (size_t i = 0; i < na; i++) {
            if (!(acl[i].perms & ZKD_PERM_WRITE))
                continue;
            if (!strcmp(acl[i].scheme, "world"))
                open = 1;
            else
                json_array_append_new(writers, json_pack("s+", "digest:", acl[i].id));
        }
        json_object_set_new(lock, "locked", json_boolean(!open));
        json_object_set_new(lock, "writers", writers);
        json_object_set_new(lock, "acl", acl_json(acl, na));
        zkd_acl_free(acl, na);
    }
    *status = 200;
    return json_pack("{s:s,s:I,s:o,s:o}", "app", name, "current", (json_int_t)current, "history",
                     hist, "lock", lock);
}

static void push_app(ui *u, const char *name)
{
    int status;
    char msg[1024];
    json_t *d = ui_app_json(u, name, &status, msg, sizeof msg);
    char *text = d ? dump(d) : dump(json_pack("{s:s}", "error", msg));
    ui_broadcast(u, UI_TOPIC_APP, name, d ? "app" : "failed", text);
    free(text);
}

/* ---- the ensemble ------------------------------------------------------------ */

static void *ensemble_main(void *arg)
{
    ui *u = arg;
    ui_live *L = u->live;
    pthread_mutex_lock(&L->mu);
    while (!L->stop) {
        if (L->wanted) {
            pthread_mutex_unlock(&L->mu);
            probe v[MAX_SERVERS];
            memcpy(v, L->tmpl, sizeof v);
            probe_all(v, L->nprobe);
            health_summary h;
            health_summarize(v, L->nprobe, &h);
            char *text = dump(health_json(v, L->nprobe, &h));
            pthread_mutex_lock(&L->mu);
            free(L->ens_text);
            L->ens_text = text;
            L->fresh = 1;
            ui_wake(u);
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += ENSEMBLE_PERIOD_MS / 1000;
        pthread_cond_timedwait(&L->cv, &L->mu, &ts);
    }
    pthread_mutex_unlock(&L->mu);
    return NULL;
}

static void ensemble_want(ui *u)
{
    ui_live *L = u->live;
    pthread_mutex_lock(&L->mu);
    L->wanted = ui_listeners(u, UI_TOPIC_ENSEMBLE, NULL) > 0;
    if (L->wanted && !L->th_started && L->nprobe)
        L->th_started = pthread_create(&L->th, NULL, ensemble_main, u) == 0;
    pthread_cond_signal(&L->cv);
    pthread_mutex_unlock(&L->mu);
}

/* ---- the loop's side ------------------------------------------------------------ */

void ui_live_flush(ui *u)
{
    ui_live *L = u->live;
    if (atomic_exchange(&L->all_dirty, 0)) {
        for (svc *s = L->svcs; s; s = s->next)
            atomic_store(&s->dirty, 1);
        atomic_store(&L->services_dirty, 1);
        atomic_store(&L->apps_dirty, 1);
    }
    int list_changed = 0;
    if (atomic_exchange(&L->services_dirty, 0))
        list_changed |= sync_services(u);
    for (svc *s = L->svcs; s; s = s->next)
        if (atomic_exchange(&s->dirty, 0))
            list_changed |= svc_refresh(u, s);
    if (list_changed || !L->services_text)
        push_services(u);

    int apps = atomic_exchange(&L->apps_dirty, 0);
    for (app *a = L->apps; a; a = a->next)
        if (atomic_exchange(&a->dirty, 0)) {
            apps = 1;
            if (ui_listeners(u, UI_TOPIC_APP, a->name))
                push_app(u, a->name);
        }
    if (apps)
        sync_apps(u);

    pthread_mutex_lock(&L->mu);
    if (L->fresh && L->ens_text)
        ui_broadcast(u, UI_TOPIC_ENSEMBLE, NULL, "ensemble", L->ens_text);
    L->fresh = 0;
    pthread_mutex_unlock(&L->mu);

    for (ui_stream *s = u->streams; s; s = s->next) {
        node_watch *nw = s->data;
        if (s->topic == UI_TOPIC_NODE && nw && atomic_exchange(&nw->dirty, 0))
            ui_stream_send(s, "changed", "{}");
    }
}

void ui_live_subscribed(ui *u, ui_stream *s)
{
    ui_live *L = u->live;
    switch (s->topic) {
    case UI_TOPIC_SERVICES:
        if (!L->services_text)
            push_services(u);
        else
            ui_stream_send(s, "services", L->services_text);
        break;
    case UI_TOPIC_SERVICE: {
        svc *v = L->svcs;
        while (v && strcmp(v->name, s->key))
            v = v->next;
        char *text = service_full(v);
        ui_stream_send(s, "full", text);
        free(text);
        break;
    }
    case UI_TOPIC_APPS:
        if (L->apps_text)
            ui_stream_send(s, "apps", L->apps_text);
        else
            sync_apps(u);
        break;
    case UI_TOPIC_APP: {
        int status;
        char msg[1024];
        json_t *d = ui_app_json(u, s->key, &status, msg, sizeof msg);
        char *text = d ? dump(d) : dump(json_pack("{s:s}", "error", msg));
        ui_stream_send(s, d ? "app" : "failed", text);
        free(text);
        break;
    }
    case UI_TOPIC_ENSEMBLE:
        pthread_mutex_lock(&L->mu);
        if (L->ens_text)
            ui_stream_send(s, "ensemble", L->ens_text);
        pthread_mutex_unlock(&L->mu);
        if (!L->nprobe)
            ui_stream_send(s, "failed", "{\"error\":\"no server to probe in the connect string\"}");
        ensemble_want(u);
        break;
    case UI_TOPIC_NODE: {
        node_watch *nw = calloc(1, sizeof *nw);
        zkd_error err;
        int rc = nw ? zkd_validate_path(s->key, &err) : ZKD_ENOMEM;
        if (nw && !rc) {
            nw->u = u;
            rc = zkd_watch_open(u->zk, s->key, ZKD_WATCH_CHILDREN, on_node, nw, &nw->w, &err);
        }
        if (rc) {
            free(nw);
            char *text = dump(json_pack("{s:s}", "error", err.message));
            ui_stream_send(s, "failed", text);
            free(text);
        } else {
            s->data = nw;
        }
        break;
    }
    }
}

void ui_live_unsubscribed(ui *u, ui_stream *s)
{
    if (s->topic == UI_TOPIC_ENSEMBLE) {
        s->topic = 0; /* not counted any more */
        ensemble_want(u);
    }
    node_watch *nw = s->data;
    if (nw) {
        zkd_watch_close(nw->w);
        free(nw);
        s->data = NULL;
    }
}

int ui_live_start(ui *u, zkd_error *err)
{
    ui_live *L = calloc(1, sizeof *L);
    if (!L)
        return ZKD_ENOMEM;
    u->live = L;
    pthread_mutex_init(&L->mu, NULL);
    pthread_cond_init(&L->cv, NULL);
    const char *root = zkd_client_root(u->zk);
    if (!strcmp(root, "/"))
        root = "";
    snprintf(L->services_path, sizeof L->services_path, "%s/services", root);
    snprintf(L->config_path, sizeof L->config_path, "%s/config", root);
    int rc = zkd_session_subscribe(u->zk, on_session, u, &L->session_sub, err);
    if (!rc)
        rc = zkd_watch_open(u->zk, L->services_path, ZKD_WATCH_CHILDREN, on_services_watch, u,
                            &L->svc_watch, err);
    if (!rc)
        rc = zkd_watch_open(u->zk, L->config_path, ZKD_WATCH_CHILDREN, on_config_watch, u,
                            &L->cfg_watch, err);
    if (rc)
        return rc;
    /* The servers to probe: those of the connect string (as health). */
    if (parse_connect(u->ctx, u->ctx->zk, L->tmpl, &L->nprobe))
        L->nprobe = 0;
    for (int i = 0; i < L->nprobe; i++)
        L->tmpl[i].timeout_ms = u->ctx->timeout_ms < 2000 ? u->ctx->timeout_ms : 2000;
    atomic_store(&L->services_dirty, 1);
    atomic_store(&L->apps_dirty, 1);
    ui_live_flush(u);
    return 0;
}

void ui_live_stop(ui *u)
{
    ui_live *L = u->live;
    if (!L)
        return;
    pthread_mutex_lock(&L->mu);
    L->stop = 1;
    pthread_cond_signal(&L->cv);
    pthread_mutex_unlock(&L->mu);
    if (L->th_started)
        pthread_join(L->th, NULL);
    zkd_session_unsubscribe(u->zk, L->session_sub);
    zkd_watch_close(L->svc_watch);
    zkd_watch_close(L->cfg_watch);
    while (L->svcs) {
        svc *s = L->svcs;
        L->svcs = s->next;
        svc_free(s);
    }
    while (L->apps) {
        app *a = L->apps;
        L->apps = a->next;
        app_free(a);
    }
    free(L->services_text);
    free(L->apps_text);
    free(L->ens_text);
    pthread_mutex_destroy(&L->mu);
    pthread_cond_destroy(&L->cv);
    free(L);
    u->live = NULL;
}
