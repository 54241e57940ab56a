/* SPDX-License-Identifier: Apache-2.0 */
/* Watching an app: each new version once, in order, across reconnects,
 * expiry and restarts; a snapshot file to serve while ZooKeeper is away.
 *
 * Everything but the served version and its stale flag belongs to the
 * dispatch thread (requests are issued and answered there), as in cache.c.
 * A read always fetches the app node, which holds the latest version; a
 * version is delivered only when it is newer than the last one delivered
 * for the same incarnation of the app (the app node's creation zxid), so
 * collapsed watch events, duplicate reads and replies of an older epoch can
 * never make the callback go backwards. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zkdisc/names.h>
#include <zookeeper/zookeeper.h>

#include "clock.h"
#include "config_impl.h"
#include "errors.h"
#include "observer.h"
#include "paths.h"
#include "request.h"
#include "session.h"

struct zkd_config_watch {
    zkd__observer o; /* first: the observer is the watch (observer.h) */
    char *app, *path;
    zkd_config_watch_fn fn;
    void *ctx;

    /* dispatch thread only */
    uint64_t epoch;      /* bumped on a new session: older replies are ignored */
    int resync;          /* a request failed: read again when the session is back */
    int64_t last;        /* last version delivered (0: none in this incarnation) */
    int64_t last_czxid;  /* the incarnation it belongs to */
    int delivered_any;
    int snap_pending;    /* the snapshot's version is still to be delivered */
    int disconnected;

    /* under o.mu */
    zkd_config_version *current;
    int unconfirmed; /* current came from the snapshot file */
    int stale;
};

/* ---- served state ------------------------------------------------------------- */

static void serve(zkd_config_watch *w, zkd_config_version *v, int unconfirmed)
{
    pthread_mutex_lock(&w->o.mu);
    zkd_config_version *old = w->current;
    w->current = v;
    w->unconfirmed = unconfirmed;
    w->stale = w->unconfirmed || w->disconnected;
    pthread_cond_broadcast(&w->o.cv);
    pthread_mutex_unlock(&w->o.mu);
    zkd_config_version_unref(old);
}

static void set_disconnected(zkd_config_watch *w, int disconnected)
{
    w->disconnected = disconnected;
    pthread_mutex_lock(&w->o.mu);
    w->stale = w->unconfirmed || w->disconnected;
    pthread_cond_broadcast(&w->o.cv);
    pthread_mutex_unlock(&w->o.mu);
}

/* ---- snapshot files ----------------------------------------------------------- */

static void snapshot_write(zkd_config_watch *w, const zkd_config_version *v)
{
    if (!w->o.store_name)
        return;
    json_t *env = zkd__config_version_envelope(v);
    json_t *file = env ? json_pack("{s:s,s:s,s:I,s:o}", "app", w->app, "root",
                                   zkd_client_root(w->o.c), "czxid", (json_int_t)v->czxid,
                                   "envelope", env)
                       : NULL;
    char *text = file ? zkd__json_dump(file, JSON_COMPACT) : NULL;
    json_decref(file);
    zkd__observer_store(&w->o, text, text ? strlen(text) : 0);
    free(text);
}

/* The version in the snapshot file, flagged stale, or NULL. */
static zkd_config_version *snapshot_read(zkd_config_watch *w)
{
    size_t len = 0;
    zkd_error err;
    char *text = zkd__observer_load(&w->o, ZKD_CONFIG_MAX_STORED + 65536, &len);
    if (!text)
        return NULL;
    json_error_t jerr;
    json_t *file = json_loadb(text, len, 0, &jerr);
    free(text);
    const char *app = NULL, *root = NULL;
    json_int_t czxid = 0;
    json_t *env = NULL;
    zkd_config_version *v = NULL;
    if (file && json_unpack(file, "{s:s,s:s,s:I,s:o}", "app", &app, "root", &root, "czxid",
                            &czxid, "envelope", &env) == 0 &&
        !strcmp(app, w->app) && !strcmp(root, zkd_client_root(w->o.c))) {
        zkd_config_version *parsed;
        if (zkd__config_version_from(w->app, env, w->o.store_name, &parsed, &err) == 0) {
            v = zkd__config_version_restale(parsed, 1);
            if (v)
                v->czxid = czxid;
            zkd_config_version_unref(parsed);
        } else {
            zkd__observer_load_refused(&w->o, err.message);
        }
    } else {
        zkd__observer_load_refused(&w->o, "not a snapshot of this app and tree");
    }
    json_decref(file);
    return v;
}

/* ---- delivering --------------------------------------------------------------- */

static void watch_free(zkd__observer *o)
{
    zkd_config_watch *w = (zkd_config_watch *)o;
    zkd_config_version_unref(w->current);
    free(w->app);
    free(w->path);
    zkd__observer_free(o, w);
}

/* Calls the listener. Returns 1 when the listener closed the watch (it is
 * freed: the caller must return without touching it). */
static int call_listener(zkd_config_watch *w, const zkd_config_version *v, uint64_t skipped)
{
    if (!w->fn)
        return 0;
    zkd__observer_enter(&w->o);
    w->fn(w, v, skipped, w->ctx);
    return zkd__observer_leave(&w->o);
}

/* A newer version: serve it, save it, tell the listener. */
static int deliver(zkd_config_watch *w, zkd_config_version *v)
{
    uint64_t skipped = w->delivered_any && v->version > w->last + 1
                           ? (uint64_t)(v->version - w->last - 1)
                           : 0;
    w->last = v->version;
    w->last_czxid = v->czxid;
    w->delivered_any = 1;
    serve(w, zkd_config_version_ref(v), 0);
    snapshot_write(w, v);
    return call_listener(w, v, skipped);
}

/* The app is gone (or was replaced by a new incarnation). */
static int deliver_deleted(zkd_config_watch *w)
{
    w->last = 0;
    w->last_czxid = 0;
    serve(w, NULL, 0);
    zkd__observer_unstore(&w->o);
    return call_listener(w, NULL, 0);
}

/* ---- reading ------------------------------------------------------------------ */

static void on_data(void *owner, const char *tag, uint64_t epoch, int rc, const char *data,
                    int len, const zkd_stat *st);

static void request_read(zkd_config_watch *w)
{
    if (zkd__aget(w->o.target, w->path, 1, NULL, w->epoch, on_data) != 0)
        w->resync = 1;
}

static void on_exists(void *owner, const char *tag, uint64_t epoch, int rc, const zkd_stat *st)
{
    (void)tag;
    (void)st;
    zkd_config_watch *w = owner;
    if (epoch != w->epoch)
        return;
    if (rc == 0)
        request_read(w); /* created between our two requests */
    else if (rc != ZKD_ENOTFOUND)
        w->resync = 1;
    /* ENOTFOUND: the watch is set; its creation will be told. */
}

static void on_data(void *owner, const char *tag, uint64_t epoch, int rc, const char *data,
                    int len, const zkd_stat *st)
{
    (void)tag;
    zkd_config_watch *w = owner;
    if (epoch != w->epoch)
        return;
    if (rc == ZKD_ENOTFOUND) {
        /* No app (any more): wait for its creation. */
        if (zkd__aexists(w->o.target, w->path, 1, NULL, w->epoch, on_exists) != 0)
            w->resync = 1;
        if (w->last > 0)
            deliver_deleted(w);
        else if (w->unconfirmed)
            serve(w, NULL, 0);
        return;
    }
    if (rc) {
        w->resync = 1;
        return;
    }
    zkd_config_version *v;
    zkd_error err;
    if (zkd__config_version_parse(w->app, data, len > 0 ? (size_t)len : 0, w->path, &v, &err)) {
        /* The data watch is set: a good version will be read when written. */
        zkd__log(w->o.c, ZKD_LOG_WARN, "app %s: %s", w->app, err.message);
        return;
    }
    v->czxid = st->czxid;
    if (w->last > 0 && w->last_czxid && v->czxid != w->last_czxid) {
        /* Deleted and published again while we were not looking. */
        if (deliver_deleted(w)) {
            zkd_config_version_unref(v);
            return;
        }
    }
    if (v->version > w->last) {
        deliver(w, v);
    } else if (v->version == w->last && w->unconfirmed) {
        serve(w, zkd_config_version_ref(v), 0); /* the snapshot was current */
        w->last_czxid = v->czxid;
    }
    zkd_config_version_unref(v); /* w may be freed here: v is ours, not w's */
}

static void on_watch(void *owner, int type, const char *path)
{
    zkd_config_watch *w = owner;
    if (strcmp(path, w->path) != 0)
        return;
    if (type == ZOO_CHANGED_EVENT || type == ZOO_CREATED_EVENT || type == ZOO_DELETED_EVENT)
        request_read(w);
}

/* Reads again on a new session (the old one's watches are gone). */
static void rebuild(zkd_config_watch *w)
{
    w->epoch++;
    w->resync = 0;
    request_read(w);
}

static void on_session(zkd_client *c, zkd_session_event ev, void *ctx)
{
    (void)c;
    zkd_config_watch *w = ctx;
    switch (ev) {
    case ZKD_SESSION_SUSPENDED:
    case ZKD_SESSION_EXPIRED:
        set_disconnected(w, 1);
        break;
    case ZKD_SESSION_CONNECTED:
    case ZKD_SESSION_RECONNECTED:
        /* Same session: the client re-armed our watch; only a failed
         * request needs redoing. */
        set_disconnected(w, 0);
        if (w->resync)
            rebuild(w);
        break;
    case ZKD_SESSION_REESTABLISHED:
        set_disconnected(w, 0);
        rebuild(w);
        break;
    default:
        break;
    }
}

/* ---- opening and closing ------------------------------------------------------ */

static void start(void *arg)
{
    zkd_config_watch *w = arg;
    if (atomic_load(&w->o.closing))
        return;
    set_disconnected(w, zkd_client_state(w->o.c) != ZKD_STATE_CONNECTED);
    if (w->snap_pending) {
        w->snap_pending = 0;
        zkd_config_version *v = zkd_config_watch_current(w);
        int freed = v ? call_listener(w, v, 0) : 0;
        zkd_config_version_unref(v);
        if (freed)
            return;
    }
    rebuild(w);
}

int zkd_config_watch_open(zkd_client *c, const char *app, zkd_config_watch_fn fn, void *ctx,
                          zkd_config_watch **out, zkd_error *err)
{
    if (!c || !out)
        return zkd__fail(err, ZKD_EINVAL, "no client or result given");
    int rc = zkd_validate_name("app", app, err);
    if (rc)
        return rc;
    zkd_config_watch *w = calloc(1, sizeof *w);
    if (!w)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    w->o.c = c; /* for reading the snapshot; zkd__observer_open takes the reference */
    w->fn = fn;
    w->ctx = ctx;
    w->disconnected = 1;
    w->stale = 1;
    w->app = strdup(app);
    w->path = zkd__config_path(c, app);
    int oom = !w->app || !w->path || zkd__observer_persist(&w->o, "config", "app", app);
    if (oom) {
        free(w->app);
        free(w->path);
        zkd__observer_unpersist(&w->o);
        free(w);
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    }
    /* Serve the snapshot at once: zkd_config_watch_current has it when
     * this returns; the listener hears of it first thing on the dispatch
     * thread. */
    zkd_config_version *snap = snapshot_read(w);
    if (snap) {
        w->last = snap->version;
        w->last_czxid = snap->czxid;
        w->delivered_any = 1;
        w->snap_pending = 1;
        w->current = snap;
        w->unconfirmed = 1;
    }
    /* Subscribed only now: session events run on the dispatch thread, and
     * must find the snapshot's state in place. Started by a job even on
     * the dispatch thread: the listener first hears after this returns. */
    if ((rc = zkd__observer_open(&w->o, c, w, on_watch, on_session, watch_free)) != 0 ||
        (rc = zkd__post(c, start, NULL, w) ? ZKD_ECLOSED : 0) != 0) {
        zkd_config_watch_close(w);
        return zkd__fail(err, rc, "cannot start watching app %s", app);
    }
    *out = w;
    return 0;
}

void zkd_config_watch_close(zkd_config_watch *w)
{
    if (w)
        zkd__observer_close(&w->o);
}

/* ---- readers ------------------------------------------------------------------ */

zkd_config_version *zkd_config_watch_current(zkd_config_watch *w)
{
    pthread_mutex_lock(&w->o.mu);
    zkd_config_version *v = zkd_config_version_ref(w->current);
    pthread_mutex_unlock(&w->o.mu);
    return v;
}

int zkd_config_watch_stale(zkd_config_watch *w)
{
    pthread_mutex_lock(&w->o.mu);
    int stale = w->stale;
    pthread_mutex_unlock(&w->o.mu);
    return stale;
}

const char *zkd_config_watch_app(const zkd_config_watch *w) { return w->app; }

int zkd_config_watch_wait(zkd_config_watch *w, int64_t min_version, int timeout_ms,
                          zkd_error *err)
{
    struct timespec dl = zkd__deadline(timeout_ms);
    if (min_version < 1)
        min_version = 1;
    pthread_mutex_lock(&w->o.mu);
    int ok;
    while (!(ok = w->current && w->current->version >= min_version && !w->stale))
        if (pthread_cond_timedwait(&w->o.cv, &w->o.mu, &dl) != 0)
            break;
    ok = w->current && w->current->version >= min_version && !w->stale;
    int64_t have = w->current ? w->current->version : 0;
    pthread_mutex_unlock(&w->o.mu);
    if (ok)
        return 0;
    return zkd__fail(err, ZKD_ETIMEDOUT,
                     "app %s: version %" PRId64 " not served within %d ms (serving %" PRId64 ")",
                     w->app, min_version, timeout_ms, have);
}
