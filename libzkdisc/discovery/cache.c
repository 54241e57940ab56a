/* The service cache: turns watch events into deltas and swapped snapshots.
 *
 * All of a cache's state except the published snapshot belongs to the
 * dispatch thread: requests are issued there and their results handled
 * there, so no lock guards it. Readers only touch the snapshot pointer,
 * under a mutex held for a pointer copy and a reference count.
 *
 * Costs: a children change reads the child list once and getData only for
 * new children; an update arrives through that instance's data watch and
 * costs one getData. A load or rebuild issues every getData before waiting
 * for any (they are pipelined on the one connection). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <zkdisc/cache.h>
#include <zkdisc/names.h>
#include <zookeeper/zookeeper.h>

#include "clock.h"
#include "async.h"
#include "errors.h"
#include "instance_impl.h"
#include "paths.h"
#include "session.h"
#include "snapshot.h"

typedef struct member {
    char *name;
    zkd_instance *inst; /* NULL while unread, malformed or not live */
    int malformed;
    int reading;        /* a getData for it is in flight in this epoch */
} member;

typedef struct delta_buf {
    zkd_delta *items;
    size_t n, cap;
} delta_buf;

struct zkd_cache {
    zkd_client *c;
    char *service, *path;
    zkd_cache_fn fn;
    void *ctx;
    zkd_target *target;
    int sub_id;

    /* dispatch thread only */
    member *members; /* sorted by name */
    size_t nmembers, capmembers;
    uint64_t epoch;  /* bumped on rebuild: older results are ignored */
    size_t reading;  /* getData requests in flight this epoch */
    int stale;
    delta_buf pending; /* deltas of the step in progress */
    int resync;        /* a request failed: re-read on reconnect */
    int rebuilding;    /* a full re-read is in flight: stay stale until it is done */
    int listed;        /* the rebuild's children list has answered */
    int64_t published_at; /* when the last snapshot was swapped in (monotonic ms) */

    _Atomic uint64_t malformed;

    pthread_mutex_t mu; /* snapshot pointer, ready flag */
    pthread_cond_t cv;
    zkd_snapshot *snap;
    _Atomic uint64_t swaps; /* bumped after each swap of snap; read without mu */
    int ready;
    int closed;
};

static void request_children(zkd_cache *k);

/* ---- members (sorted array, binary search) ------------------------------ */

static size_t member_pos(const zkd_cache *k, const char *name, int *found)
{
    size_t lo = 0, hi = k->nmembers;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int cmp = strcmp(k->members[mid].name, name);
        if (cmp == 0) {
            *found = 1;
            return mid;
        }
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

static member *member_find(zkd_cache *k, const char *name)
{
    int found;
    size_t at = member_pos(k, name, &found);
    return found ? &k->members[at] : NULL;
}

static member *member_insert(zkd_cache *k, const char *name)
{
    int found;
    size_t at = member_pos(k, name, &found);
    if (found)
        return &k->members[at];
    if (k->nmembers == k->capmembers) {
        size_t cap = k->capmembers ? k->capmembers * 2 : 16;
        member *grown = realloc(k->members, cap * sizeof *grown);
        if (!grown)
            return NULL;
        k->members = grown;
        k->capmembers = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return NULL;
    memmove(&k->members[at + 1], &k->members[at], (k->nmembers - at) * sizeof *k->members);
    k->members[at] = (member){.name = copy};
    k->nmembers++;
    return &k->members[at];
}

/* ---- deltas and publishing ----------------------------------------------- */

static void delta_add(zkd_cache *k, zkd_delta_kind kind, zkd_instance *before, zkd_instance *now)
{
    delta_buf *d = &k->pending;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        zkd_delta *grown = realloc(d->items, cap * sizeof *grown);
        if (!grown)
            return; /* the snapshot stays right; only this notification is lost */
        d->items = grown;
        d->cap = cap;
    }
    /* The buffer holds references until the listener has seen them. */
    d->items[d->n++] = (zkd_delta){kind, zkd_instance_ref(before), zkd_instance_ref(now)};
}

/* `loaded`: this snapshot ends a complete load, so waiters may go on. */
static void swap_snapshot(zkd_cache *k, zkd_snapshot *next, int loaded)
{
    if (!next)
        return;
    pthread_mutex_lock(&k->mu);
    zkd_snapshot *old = k->snap;
    k->snap = next;
    atomic_fetch_add(&k->swaps, 1);
    if (loaded && !k->ready) {
        k->ready = 1;
        pthread_cond_broadcast(&k->cv);
    }
    pthread_mutex_unlock(&k->mu);
    zkd_snapshot_release(old);
}

static zkd_snapshot *build_snapshot(zkd_cache *k)
{
    const zkd_instance **live = malloc((k->nmembers ? k->nmembers : 1) * sizeof *live);
    if (!live)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < k->nmembers; i++)
        if (k->members[i].inst)
            live[n++] = k->members[i].inst;
    zkd_snapshot *s = zkd__snapshot_new(live, n, k->stale);
    free(live);
    return s;
}

/* Ends a step: when no read of it is still in flight, publish the new
 * snapshot, then tell the listener what changed. */
/* Under sustained churn some read is nearly always in flight, so a step
 * that waited for a quiet moment could lag for seconds: what has answered is
 * published at least this often. A load or rebuild still publishes only
 * once complete (readers and waiters never see half of one). */
#define PUBLISH_EVERY_MS 100

static void maybe_publish(zkd_cache *k)
{
    int complete = !k->reading && !(k->rebuilding && !k->listed);
    if (!complete && (k->rebuilding || zkd__now_ms() - k->published_at < PUBLISH_EVERY_MS))
        return;
    if (complete && k->rebuilding) { /* every read of the rebuild has answered */
        k->rebuilding = 0;
        k->stale = 0;
    }
    k->published_at = zkd__now_ms();
    swap_snapshot(k, build_snapshot(k), complete);
    delta_buf d = k->pending;
    k->pending = (delta_buf){0};
    if (d.n && k->fn)
        k->fn(k, d.items, d.n, k->ctx);
    for (size_t i = 0; i < d.n; i++) {
        zkd_instance_unref(d.items[i].before);
        zkd_instance_unref(d.items[i].now);
    }
    free(d.items);
}

/* ---- reading instances --------------------------------------------------- */

static void set_member(zkd_cache *k, member *m, zkd_instance *inst, int malformed)
{
    if (malformed != m->malformed)
        atomic_fetch_add(&k->malformed, malformed ? 1 : (uint64_t)-1);
    m->malformed = malformed;
    if (!m->inst && inst)
        delta_add(k, ZKD_DELTA_ADDED, NULL, inst);
    else if (m->inst && !inst)
        delta_add(k, ZKD_DELTA_REMOVED, m->inst, NULL);
    else if (m->inst && inst && !zkd__instance_equal(m->inst, inst))
        delta_add(k, ZKD_DELTA_UPDATED, m->inst, inst);
    else if (m->inst && inst) { /* the same record written again: no news */
        zkd_instance_unref(inst);
        return;
    }
    zkd_instance_unref(m->inst);
    m->inst = inst;
}

static void on_data(void *owner, const char *name, uint64_t epoch, int rc, const char *data,
                    int len, const zkd_stat *st)
{
    (void)st;
    zkd_cache *k = owner;
    if (epoch != k->epoch)
        return;
    member *m = member_find(k, name);
    if (m && m->reading) {
        m->reading = 0;
        k->reading--;
    }
    if (!m) {
        maybe_publish(k);
        return;
    }
    if (rc == ZKD_ENOTFOUND) {
        set_member(k, m, NULL, 0); /* gone; the children watch will drop it */
    } else if (rc) {
        k->resync = 1; /* keep what we had; read again on reconnect */
    } else {
        zkd_instance *inst = NULL;
        zkd_error err;
        int prc = zkd_instance_parse(k->service, name, data, len > 0 ? (size_t)len : 0, &inst, &err);
        if (prc == ZKD_EBADDATA)
            zkd__log(k->c, ZKD_LOG_DEBUG, "skipping %s/%s: %s", k->path, name, err.message);
        set_member(k, m, prc ? NULL : inst, prc == ZKD_EBADDATA);
    }
    maybe_publish(k);
}

static void read_member(zkd_cache *k, member *m)
{
    char *path = zkd__path_join(k->path, m->name);
    if (!path)
        return;
    if (zkd__aget(k->target, path, 1, m->name, k->epoch, on_data) == 0) {
        if (!m->reading)
            k->reading++;
        m->reading = 1;
    } else {
        k->resync = 1;
    }
    free(path);
}

/* ---- the children --------------------------------------------------------- */

static int in_sorted(const zkd_strings *kids, const char *name)
{
    size_t lo = 0, hi = kids->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int cmp = strcmp(kids->items[mid], name);
        if (cmp == 0)
            return 1;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

static void drop_member(zkd_cache *k, size_t at)
{
    member *m = &k->members[at];
    set_member(k, m, NULL, 0);
    if (m->reading)
        k->reading--;
    free(m->name);
    memmove(&k->members[at], &k->members[at + 1], (k->nmembers - at - 1) * sizeof *m);
    k->nmembers--;
}

static void on_service_stat(void *owner, const char *tag, uint64_t epoch, int rc, const zkd_stat *st);

static void on_children(void *owner, const char *tag, uint64_t epoch, int rc, zkd_strings *kids,
                        const zkd_stat *st)
{
    (void)tag;
    (void)st;
    zkd_cache *k = owner;
    if (epoch != k->epoch)
        return;
    k->listed = 1;
    if (rc == ZKD_ENOTFOUND) {
        /* No such service (yet): an empty set, and a watch for its creation. */
        kids->count = 0;
        if (zkd__aexists(k->target, k->path, 1, NULL, k->epoch, on_service_stat) != 0)
            k->resync = 1;
    } else if (rc) {
        k->resync = 1;
        return;
    }
    for (size_t i = k->nmembers; i-- > 0;)
        if (!in_sorted(kids, k->members[i].name))
            drop_member(k, i);
    for (size_t i = 0; i < kids->count; i++) {
        member *m = member_find(k, kids->items[i]);
        if (m && (m->inst || m->malformed || m->reading))
            continue; /* known: its data watch reports changes */
        /* New, or seen gone by an earlier read and now back. */
        if (!m)
            m = member_insert(k, kids->items[i]);
        if (m)
            read_member(k, m);
    }
    maybe_publish(k);
}

static void on_service_stat(void *owner, const char *tag, uint64_t epoch, int rc, const zkd_stat *st)
{
    (void)tag;
    (void)st;
    zkd_cache *k = owner;
    if (epoch == k->epoch && rc == 0)
        request_children(k); /* created between our two reads */
}

static void request_children(zkd_cache *k)
{
    if (zkd__achildren(k->target, k->path, 1, NULL, k->epoch, on_children) != 0)
        k->resync = 1;
}

static void on_watch(void *owner, int type, const char *path)
{
    zkd_cache *k = owner;
    if (!strcmp(path, k->path)) {
        if (type == ZOO_CHILD_EVENT || type == ZOO_CREATED_EVENT || type == ZOO_DELETED_EVENT)
            request_children(k);
        return;
    }
    const char *slash = strrchr(path, '/');
    member *m = slash ? member_find(k, slash + 1) : NULL;
    /* A deleted child is read again too: if it was re-created at once (a
     * re-registration), the children may look unchanged, and this read is
     * what re-arms its data watch; if it is gone, the read says so. */
    if (m && (type == ZOO_CHANGED_EVENT || type == ZOO_DELETED_EVENT))
        read_member(k, m);
}

/* ---- sessions ------------------------------------------------------------- */

static void set_stale(zkd_cache *k, int stale)
{
    if (k->stale == stale)
        return;
    k->stale = stale;
    pthread_mutex_lock(&k->mu);
    zkd_snapshot *next = zkd__snapshot_restale(k->snap, stale);
    pthread_mutex_unlock(&k->mu);
    swap_snapshot(k, next, 0);
}

/* Reads everything again on a new session (the old one's watches are gone)
 * and reports only what really differs from what we served. */
static void rebuild(zkd_cache *k)
{
    k->epoch++;
    k->reading = 0;
    k->resync = 0;
    k->rebuilding = 1;
    k->listed = 0;
    for (size_t i = 0; i < k->nmembers; i++)
        k->members[i].reading = 0;
    request_children(k);
    for (size_t i = 0; i < k->nmembers; i++)
        read_member(k, &k->members[i]);
}

static void on_session(zkd_client *c, zkd_session_event ev, void *ctx)
{
    (void)c;
    zkd_cache *k = ctx;
    switch (ev) {
    case ZKD_SESSION_SUSPENDED:
    case ZKD_SESSION_EXPIRED:
        set_stale(k, 1);
        break;
    case ZKD_SESSION_RECONNECTED:
        /* Same session: the client re-armed our watches and will report what
         * changed meanwhile. Only a request that failed needs redoing. */
        if (k->resync)
            rebuild(k); /* fresh again once its reads have answered */
        else
            set_stale(k, 0);
        break;
    case ZKD_SESSION_REESTABLISHED:
        rebuild(k);
        break;
    default:
        break;
    }
}

/* ---- opening and closing ---------------------------------------------------- */

static void start(void *arg)
{
    zkd_cache *k = arg;
    if (!k->closed)
        rebuild(k);
}

static void cache_free(zkd_cache *k)
{
    for (size_t i = 0; i < k->nmembers; i++) {
        free(k->members[i].name);
        zkd_instance_unref(k->members[i].inst);
    }
    for (size_t i = 0; i < k->pending.n; i++) {
        zkd_instance_unref(k->pending.items[i].before);
        zkd_instance_unref(k->pending.items[i].now);
    }
    free(k->pending.items);
    free(k->members);
    zkd_snapshot_release(k->snap);
    free(k->service);
    free(k->path);
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
    free(k);
}

int zkd_cache_open(zkd_client *c, const char *service, zkd_cache_fn fn, void *ctx,
                   zkd_cache **out, zkd_error *err)
{
    int rc = zkd_validate_name("service", service, err);
    if (rc)
        return rc;
    zkd_cache *k = calloc(1, sizeof *k);
    if (!k)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    pthread_mutex_init(&k->mu, NULL);
    zkd__cond_init(&k->cv);
    k->c = c;
    k->fn = fn;
    k->ctx = ctx;
    k->service = strdup(service);
    k->path = zkd__service_path(c, service);
    k->snap = zkd__snapshot_new(NULL, 0, 0);
    k->target = zkd__target_new(c, k, on_watch);
    if (!k->service || !k->path || !k->snap || !k->target) {
        if (k->target)
            zkd__target_cancel(k->target);
        cache_free(k);
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    }
    if ((rc = zkd_session_subscribe(c, on_session, k, &k->sub_id, err)) != 0 ||
        (rc = zkd__post(c, start, NULL, k)) != 0) {
        zkd_cache_close(k);
        return zkd__fail(err, rc, "cannot start the cache for %s", service);
    }
    *out = k;
    return 0;
}

/* On the dispatch thread: nothing of ours runs concurrently, so cutting the
 * target and the subscription here makes the close final. */
static void close_on_dispatch(void *arg)
{
    zkd_cache *k = arg;
    zkd__target_cancel(k->target);
    zkd_session_unsubscribe(k->c, k->sub_id);
    cache_free(k);
}

void zkd_cache_close(zkd_cache *k)
{
    if (!k)
        return;
    k->closed = 1;
    /* If the client is closing and the job is dropped, the close runs here
     * instead: the dispatch thread runs nothing of ours any more. */
    zkd__run_on_dispatch(k->c, close_on_dispatch, close_on_dispatch, k);
}

int zkd_cache_wait_ready(zkd_cache *k, int timeout_ms, zkd_error *err)
{
    struct timespec dl = zkd__deadline(timeout_ms);
    pthread_mutex_lock(&k->mu);
    while (!k->ready && pthread_cond_timedwait(&k->cv, &k->mu, &dl) == 0)
        ;
    int ready = k->ready;
    pthread_mutex_unlock(&k->mu);
    return ready ? 0 : zkd__fail(err, ZKD_ETIMEDOUT, "the cache of %s did not load within %d ms",
                                 k->service, timeout_ms);
}

zkd_snapshot *zkd_cache_snapshot(zkd_cache *k)
{
    pthread_mutex_lock(&k->mu);
    zkd_snapshot *s = zkd_snapshot_ref(k->snap);
    pthread_mutex_unlock(&k->mu);
    return s;
}

uint64_t zkd__cache_swaps(const zkd_cache *k) { return atomic_load(&k->swaps); }
uint64_t zkd_cache_malformed(zkd_cache *k) { return atomic_load(&k->malformed); }
const char *zkd_cache_service(const zkd_cache *k) { return k->service; }
