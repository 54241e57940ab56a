/* SPDX-License-Identifier: Apache-2.0 */
/* Choosing an instance: filters, strategies and the down-instance policy.
 *
 * The read path is O(1) and takes no lock. What selection needs is built
 * once per snapshot: a view holding the candidates that pass the filters,
 * their id hashes, the alias table for weighted choice and the sticky
 * choice. The view is swapped in atomically when the cache's snapshot
 * changes (one atomic load tells), and readers follow it inside an epoch
 * read section (epoch.h), so a retired view is freed only once no reader
 * can hold it. The down-instance table is a hash read without a lock
 * (down_table.h). A pick that lands on a down instance draws again a
 * bounded number of times, then walks a bounded run of the next candidates;
 * it never scans them all. */
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <zkdisc/balancer.h>

#include "clock.h"
#include "down_table.h"
#include "epoch.h"
#include "errors.h"
#include "snapshot.h"

enum {
    REDRAWS = 4, /* fresh draws after a pick that is down */
    WALK = 32    /* then the next candidates in order */
};
#define NO_STICKY SIZE_MAX
#define GOLDEN 0x9E3779B97F4A7C15ull

/* Everything a pick needs from one snapshot, built once, then read-only
 * except for the sticky choice. */
typedef struct view {
    zkd__retired node;  /* first: views are retired through it */
    zkd_snapshot *snap; /* a reference; the candidates are borrowed from it */
    uint64_t swaps;     /* the cache's swap count it was built at */
    int from_cache;
    size_t n;
    const zkd_instance **c; /* the candidates, in the snapshot's (id) order */
    uint64_t *hash;         /* their ids' hashes, for the down table */
    uint64_t total;         /* sum of the weights (weighted only) */
    uint64_t *prob;         /* alias table: keep c[i] when a draw < prob[i] of total, */
    uint32_t *alias;        /* else take c[alias[i]]; NULL when not weighted */
    _Atomic size_t sticky;  /* index into c, or NO_STICKY */
} view;

typedef struct meta_filter {
    char *key; /* "key\0value" in one allocation */
    const char *value;
} meta_filter;

struct zkd_balancer {
    zkd__epoch epoch; /* first: it wants its own cache lines */
    zkd__down_table down;
    zkd_cache *cache;
    zkd_balancer_options o;
    char *zone;
    meta_filter *meta;
    size_t nmeta;
    _Atomic(view *) view;
    pthread_mutex_t build_mu; /* one view builder at a time */
    alignas(64) _Atomic uint64_t rr;
    alignas(64) _Atomic uint64_t rng;
};

/* The default clock. Coarse (a tick of a few ms) is precise enough for a
 * policy counted in seconds, and costs a quarter of a pick less than the
 * precise one: it is read on every pick while anything is down. */
static int64_t mono_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts))
        return zkd__now_ms();
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void zkd_balancer_options_init(zkd_balancer_options *o)
{
    memset(o, 0, sizeof *o);
    o->strategy = ZKD_PICK_ROUND_ROBIN;
    o->error_threshold = 3;
    o->error_window_ms = 10000;
    o->down_ms = 30000;
}

/* ---- views ------------------------------------------------------------------ */

static int matches(const zkd_balancer *b, const zkd_instance *i)
{
    if (!zkd_instance_enabled(i))
        return 0;
    if (b->zone && (!zkd_instance_zone(i) || strcmp(b->zone, zkd_instance_zone(i))))
        return 0;
    for (size_t k = 0; k < b->nmeta; k++) {
        const char *v = zkd_instance_meta(i, b->meta[k].key);
        if (!v || strcmp(v, b->meta[k].value))
            return 0;
    }
    return 1;
}

static uint64_t weight_of(const zkd_instance *i)
{
    int w = zkd_instance_weight(i);
    return w > 0 ? (uint64_t)w : 0;
}

/* Vose's alias method in integers: each of the n columns holds `total`,
 * candidate i brings weight*n; a column is topped up from one heavy
 * candidate. Exact, so a weight of 0 is never picked. */
static int build_alias(view *v)
{
    size_t n = v->n;
    for (size_t i = 0; i < n; i++)
        v->total += weight_of(v->c[i]);
    if (!v->total || n > UINT32_MAX)
        return 0; /* all weights 0: uniform */
    uint64_t *p = malloc(n * sizeof *p);
    uint32_t *order = malloc(n * sizeof *order); /* light from the front, heavy from the back */
    v->prob = malloc(n * sizeof *v->prob);
    v->alias = malloc(n * sizeof *v->alias);
    if (!p || !order || !v->prob || !v->alias) {
        free(p);
        free(order);
        return ZKD_ENOMEM;
    }
    size_t nl = 0, nh = 0;
    for (size_t i = 0; i < n; i++) {
        p[i] = weight_of(v->c[i]) * n; /* < 2^31 * 2^32 */
        if (p[i] < v->total)
            order[nl++] = (uint32_t)i;
        else
            order[n - 1 - nh++] = (uint32_t)i;
    }
    while (nl && nh) {
        uint32_t light = order[--nl], heavy = order[n - nh];
        v->prob[light] = p[light];
        v->alias[light] = heavy;
        p[heavy] -= v->total - p[light];
        if (p[heavy] < v->total) {
            nh--;
            order[nl++] = heavy;
        }
    }
    while (nh) { /* full columns; exact sums leave no light ones */
        uint32_t heavy = order[n - nh--];
        v->prob[heavy] = v->total;
        v->alias[heavy] = heavy;
    }
    while (nl) {
        uint32_t light = order[--nl];
        v->prob[light] = v->total;
        v->alias[light] = light;
    }
    free(p);
    free(order);
    return 0;
}

static void view_free(zkd__retired *node)
{
    view *v = (view *)node;
    zkd_snapshot_unref(v->snap);
    free(v->c);
    free(v->hash);
    free(v->prob);
    free(v->alias);
    free(v);
}

/* Where the previous view's sticky instance is among v's candidates. */
static size_t carry_sticky(const view *v, const view *old)
{
    size_t at = old ? atomic_load(&old->sticky) : NO_STICKY;
    if (at == NO_STICKY || at >= old->n)
        return NO_STICKY;
    const char *id = zkd_instance_id(old->c[at]);
    size_t lo = 0, hi = v->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(zkd_instance_id(v->c[mid]), id);
        if (!cmp)
            return mid;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NO_STICKY;
}

static view *view_new(const zkd_balancer *b, const zkd_snapshot *s, const view *old)
{
    size_t total = zkd_snapshot_count(s);
    view *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->snap = zkd_snapshot_ref((zkd_snapshot *)s); /* the count is the only mutable part */
    v->c = malloc((total ? total : 1) * sizeof *v->c);
    v->hash = malloc((total ? total : 1) * sizeof *v->hash);
    if (!v->c || !v->hash) {
        view_free(&v->node);
        return NULL;
    }
    zkd__snapshot_fill(s, v->c); /* every instance, then kept in place when it matches */
    for (size_t i = 0; i < total; i++) {
        const zkd_instance *inst = v->c[i];
        if (matches(b, inst)) {
            v->c[v->n] = inst;
            v->hash[v->n++] = zkd__down_hash(zkd_instance_id(inst));
        }
    }
    if (b->o.strategy == ZKD_PICK_WEIGHTED && build_alias(v)) {
        view_free(&v->node);
        return NULL;
    }
    atomic_init(&v->sticky, carry_sticky(v, old));
    return v;
}

/* Builds a view of s and swaps it in. Caller holds build_mu and is inside
 * a read section (so the old view stays readable while it is copied). */
static view *install(zkd_balancer *b, const zkd_snapshot *s, uint64_t swaps, int from_cache,
                     zkd_error *err)
{
    view *old = atomic_load(&b->view);
    view *v = view_new(b, s, old);
    if (!v) {
        zkd__fail(err, ZKD_ENOMEM, "out of memory");
        return NULL;
    }
    v->swaps = swaps;
    v->from_cache = from_cache;
    atomic_store(&b->view, v);
    if (old)
        zkd__epoch_retire(&b->epoch, &old->node, view_free);
    return v;
}

static int fresh(const view *v, uint64_t swaps)
{
    return v && v->from_cache && v->swaps >= swaps;
}

/* The view of the cache's current snapshot. Inside a read section. */
static view *cache_view(zkd_balancer *b, zkd_error *err)
{
    uint64_t swaps = zkd__cache_swaps(b->cache);
    view *v = atomic_load(&b->view);
    if (fresh(v, swaps))
        return v;
    if (v && v->from_cache) {
        if (pthread_mutex_trylock(&b->build_mu))
            return v; /* another thread is building the next view: use the last one */
    } else {
        pthread_mutex_lock(&b->build_mu);
    }
    v = atomic_load(&b->view);
    if (!fresh(v, swaps)) {
        zkd_snapshot *s = zkd_cache_snapshot(b->cache); /* at least as new as `swaps` */
        v = install(b, s, swaps, 1, err);
        zkd_snapshot_unref(s);
    }
    pthread_mutex_unlock(&b->build_mu);
    return v;
}

/* The view of a given snapshot; rebuilt only when the snapshot changes.
 * Inside a read section. */
static view *snapshot_view(zkd_balancer *b, const zkd_snapshot *s, zkd_error *err)
{
    view *v = atomic_load(&b->view);
    if (v && v->snap == s) /* the view holds s, so the address cannot be reused */
        return v;
    pthread_mutex_lock(&b->build_mu);
    v = atomic_load(&b->view);
    if (!v || v->snap != s)
        v = install(b, s, 0, 0, err);
    pthread_mutex_unlock(&b->build_mu);
    return v;
}

/* ---- picking ------------------------------------------------------------------ */

/* splitmix64 over an atomic counter: thread-safe without a lock. */
static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* r scaled into [0, n) by a multiply, not a division (Lemire). */
static uint64_t below(uint64_t r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)r * n) >> 64);
}

/* A random candidate, by weight when the view has an alias table. */
static size_t draw(zkd_balancer *b, const view *v)
{
    uint64_t z = atomic_fetch_add_explicit(&b->rng, GOLDEN, memory_order_relaxed) + GOLDEN;
    size_t i = (size_t)below(mix(z), v->n);
    if (!v->prob)
        return i;
    return below(mix(z ^ 0xD1B54A32D192ED03ull), v->total) < v->prob[i] ? i : v->alias[i];
}

static size_t first_pick(zkd_balancer *b, const view *v)
{
    if (b->o.strategy == ZKD_PICK_ROUND_ROBIN) /* 64 bits: no overflow, no skew */
        return (size_t)(atomic_fetch_add_explicit(&b->rr, 1, memory_order_relaxed) % v->n);
    if (b->o.strategy == ZKD_PICK_STICKY) {
        size_t at = atomic_load_explicit(&v->sticky, memory_order_relaxed);
        if (at < v->n)
            return at;
    }
    return draw(b, v);
}

static int usable(zkd_balancer *b, const view *v, size_t i, int64_t now)
{
    if (v->prob && !weight_of(v->c[i]))
        return 0;
    return zkd__down_until(&b->down, v->hash[i], zkd_instance_id(v->c[i])) <= now;
}

/* `first` is down: draw again, then walk on from the last draw; both
 * bounded. When all those are down too, likely every candidate is (with
 * fewer than WALK candidates, certainly): better one that may fail than
 * none, so the strategy's own pick stands. */
static size_t skip_down(zkd_balancer *b, const view *v, size_t first, int64_t now)
{
    size_t i = first;
    for (int t = 0; t < REDRAWS; t++)
        if (usable(b, v, i = draw(b, v), now))
            return i;
    for (size_t k = 1; k <= WALK && k < v->n; k++)
        if (usable(b, v, (i + k) % v->n, now))
            return (i + k) % v->n;
    return first;
}

/* Sticky: the choice moves only when the kept one is gone or down. */
static size_t keep_sticky(view *v, size_t chosen)
{
    size_t kept = atomic_load(&v->sticky);
    if (kept == chosen || atomic_compare_exchange_strong(&v->sticky, &kept, chosen))
        return chosen;
    return kept < v->n ? kept : chosen; /* another thread moved it first: follow */
}

static int pick(zkd_balancer *b, view *v, zkd_instance **out, zkd_error *err)
{
    if (!v->n)
        return zkd__fail(err, ZKD_ENOTFOUND, "no instance matches (%zu registered)",
                         zkd_snapshot_count(v->snap));
    size_t i = first_pick(b, v);
    int64_t latest = zkd__down_latest(&b->down); /* 0: nothing was ever down */
    int64_t now = latest ? b->o.clock(b->o.clock_ctx) : 0;
    if (latest > now && !usable(b, v, i, now))
        i = skip_down(b, v, i, now);
    if (b->o.strategy == ZKD_PICK_STICKY)
        i = keep_sticky(v, i);
    *out = zkd_instance_ref(v->c[i]);
    return 0;
}

int zkd_balancer_select_from(zkd_balancer *b, const zkd_snapshot *s, zkd_instance **out,
                             zkd_error *err)
{
    unsigned slot = zkd__epoch_enter(&b->epoch);
    view *was = atomic_load(&b->view);
    view *v = snapshot_view(b, s, err);
    int rc = v ? pick(b, v, out, err) : ZKD_ENOMEM;
    zkd__epoch_leave(&b->epoch, slot);
    if (v != was) /* the view this thread retired can go now, its snapshot with it */
        zkd__epoch_collect(&b->epoch);
    return rc;
}

int zkd_balancer_select(zkd_balancer *b, zkd_instance **out, zkd_error *err)
{
    if (!b->cache)
        return zkd__fail(err, ZKD_EINVAL, "this balancer has no cache; use zkd_balancer_select_from");
    unsigned slot = zkd__epoch_enter(&b->epoch);
    view *was = atomic_load(&b->view);
    view *v = cache_view(b, err);
    int rc = v ? pick(b, v, out, err) : ZKD_ENOMEM;
    zkd__epoch_leave(&b->epoch, slot);
    if (v != was) /* the view this thread retired can go now, its snapshot with it */
        zkd__epoch_collect(&b->epoch);
    return rc;
}

/* ---- the down-instance policy --------------------------------------------- */

void zkd_balancer_report_error(zkd_balancer *b, const char *id)
{
    if (b->o.error_threshold > 0 && id)
        zkd__down_error(&b->down, id, b->o.clock(b->o.clock_ctx));
}

void zkd_balancer_report_success(zkd_balancer *b, const char *id)
{
    zkd__down_success(&b->down, id);
}

int zkd_balancer_is_down(zkd_balancer *b, const char *id)
{
    int64_t now = b->o.clock(b->o.clock_ctx);
    unsigned slot = zkd__epoch_enter(&b->epoch);
    int64_t until = zkd__down_until(&b->down, zkd__down_hash(id), id);
    zkd__epoch_leave(&b->epoch, slot);
    return until > now;
}

/* ---- life ------------------------------------------------------------------ */

static int copy_filters(zkd_balancer *b, const zkd_balancer_options *opts, zkd_error *err)
{
    while (opts->meta && opts->meta[b->nmeta])
        b->nmeta++;
    b->meta = calloc(b->nmeta + 1, sizeof *b->meta);
    b->zone = opts->zone ? strdup(opts->zone) : NULL;
    if (!b->meta || (opts->zone && !b->zone))
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    for (size_t i = 0; i < b->nmeta; i++) {
        if (!strchr(opts->meta[i], '='))
            return zkd__fail(err, ZKD_EINVAL, "metadata filter \"%s\" is not key=value", opts->meta[i]);
        if (!(b->meta[i].key = strdup(opts->meta[i])))
            return zkd__fail(err, ZKD_ENOMEM, "out of memory");
        char *eq = strchr(b->meta[i].key, '=');
        *eq = '\0';
        b->meta[i].value = eq + 1;
    }
    b->o.zone = NULL;
    b->o.meta = NULL;
    return 0;
}

int zkd_balancer_new(zkd_cache *cache, const zkd_balancer_options *opts, zkd_balancer **out,
                     zkd_error *err)
{
    if (opts->strategy < ZKD_PICK_ROUND_ROBIN || opts->strategy > ZKD_PICK_STICKY ||
        opts->error_threshold < 0 || opts->error_window_ms < 0 || opts->down_ms < 0)
        return zkd__fail(err, ZKD_EINVAL, "bad balancer options");
    zkd_balancer *b = aligned_alloc(alignof(zkd_balancer), sizeof *b);
    if (!b)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    memset(b, 0, sizeof *b);
    zkd__epoch_init(&b->epoch);
    if (zkd__down_init(&b->down, &b->epoch, opts->error_threshold, opts->error_window_ms,
                       opts->down_ms)) {
        free(b);
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&b->build_mu, NULL);
    atomic_init(&b->view, NULL);
    atomic_init(&b->rr, 0);
    b->cache = cache;
    b->o = *opts;
    if (!b->o.clock)
        b->o.clock = mono_ms;
    int rc = copy_filters(b, opts, err);
    if (rc) {
        zkd_balancer_close(b);
        return rc;
    }
    uint64_t seed = opts->seed;
    if (!seed && getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed)
        seed = (uint64_t)mono_ms(NULL) * GOLDEN;
    atomic_init(&b->rng, seed);
    *out = b;
    return 0;
}

void zkd_balancer_close(zkd_balancer *b)
{
    if (!b)
        return;
    view *v = atomic_load(&b->view);
    if (v)
        view_free(&v->node);
    zkd__down_destroy(&b->down);
    zkd__epoch_destroy(&b->epoch); /* retired views and tables */
    for (size_t i = 0; b->meta && i < b->nmeta; i++)
        free(b->meta[i].key);
    free(b->meta);
    free(b->zone);
    pthread_mutex_destroy(&b->build_mu);
    free(b);
}

/* Tests only: how many ids the down-instance table holds. */
size_t zkd__balancer_tracked(zkd_balancer *b);
size_t zkd__balancer_tracked(zkd_balancer *b)
{
    return zkd__down_count(&b->down);
}

/* Tests only: start the round-robin counter somewhere, e.g. past 2^31. */
void zkd__balancer_set_counter(zkd_balancer *b, uint64_t value);
void zkd__balancer_set_counter(zkd_balancer *b, uint64_t value)
{
    atomic_store(&b->rr, value);
}
