/* Choosing an instance: filters, strategies and the down-instance policy.
 * Lock-free on the common path except for one short mutex around the
 * down-instance table (and the sticky choice). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <zkdisc/balancer.h>

#include "clock.h"
#include "errors.h"

typedef struct health {
    char *id;
    int64_t *errors; /* ring of the last error_threshold error times */
    int next, count;
    int64_t down_until;
} health;

struct zkd_balancer {
    zkd_cache *cache;
    zkd_balancer_options o;
    char *zone;
    char **meta; /* NULL-terminated copies */
    _Atomic uint64_t rr;
    _Atomic uint64_t rng;
    pthread_mutex_t mu; /* health table and sticky */
    health *hs;
    size_t nh, caph;
    char *sticky;
};

static int64_t mono_ms(void *ctx)
{
    (void)ctx;
    return zkd__now_ms();
}

void zkd_balancer_options_init(zkd_balancer_options *o)
{
    memset(o, 0, sizeof *o);
    o->strategy = ZKD_PICK_ROUND_ROBIN;
    o->error_threshold = 3;
    o->error_window_ms = 10000;
    o->down_ms = 30000;
}

int zkd_balancer_new(zkd_cache *cache, const zkd_balancer_options *opts, zkd_balancer **out,
                     zkd_error *err)
{
    if (opts->strategy < ZKD_PICK_ROUND_ROBIN || opts->strategy > ZKD_PICK_STICKY ||
        opts->error_threshold < 0 || opts->error_window_ms < 0 || opts->down_ms < 0)
        return zkd__fail(err, ZKD_EINVAL, "bad balancer options");
    zkd_balancer *b = calloc(1, sizeof *b);
    if (!b)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    b->cache = cache;
    b->o = *opts;
    if (!b->o.clock)
        b->o.clock = mono_ms;
    size_t nmeta = 0;
    while (opts->meta && opts->meta[nmeta])
        nmeta++;
    b->meta = calloc(nmeta + 1, sizeof *b->meta);
    b->zone = opts->zone ? strdup(opts->zone) : NULL;
    int bad = !b->meta || (opts->zone && !b->zone);
    for (size_t i = 0; !bad && i < nmeta; i++) {
        if (!strchr(opts->meta[i], '=')) {
            zkd_balancer_free(b);
            return zkd__fail(err, ZKD_EINVAL, "metadata filter \"%s\" is not key=value", opts->meta[i]);
        }
        bad = !(b->meta[i] = strdup(opts->meta[i]));
    }
    b->o.zone = NULL;
    b->o.meta = NULL;
    uint64_t seed = opts->seed;
    if (!seed && getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed)
        seed = (uint64_t)mono_ms(NULL) * 0x9E3779B97F4A7C15ull;
    atomic_init(&b->rng, seed);
    pthread_mutex_init(&b->mu, NULL);
    if (bad) {
        zkd_balancer_free(b);
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    }
    *out = b;
    return 0;
}

void zkd_balancer_free(zkd_balancer *b)
{
    if (!b)
        return;
    for (size_t i = 0; b->meta && b->meta[i]; i++)
        free(b->meta[i]);
    free(b->meta);
    free(b->zone);
    for (size_t i = 0; i < b->nh; i++) {
        free(b->hs[i].id);
        free(b->hs[i].errors);
    }
    free(b->hs);
    free(b->sticky);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

/* splitmix64 over an atomic counter: thread-safe without a lock. */
static uint64_t next_random(zkd_balancer *b)
{
    uint64_t z = atomic_fetch_add(&b->rng, 0x9E3779B97F4A7C15ull) + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* ---- filters -------------------------------------------------------------- */

static int matches(const zkd_balancer *b, const zkd_instance *i)
{
    if (!zkd_instance_enabled(i))
        return 0;
    if (b->zone && (!zkd_instance_zone(i) || strcmp(b->zone, zkd_instance_zone(i))))
        return 0;
    for (size_t k = 0; b->meta[k]; k++) {
        const char *eq = strchr(b->meta[k], '=');
        char key[256];
        size_t klen = (size_t)(eq - b->meta[k]);
        if (klen >= sizeof key)
            return 0;
        memcpy(key, b->meta[k], klen);
        key[klen] = '\0';
        const char *v = zkd_instance_meta(i, key);
        if (!v || strcmp(v, eq + 1))
            return 0;
    }
    return 1;
}

/* ---- the down-instance policy (caller holds b->mu) ---------------------- */

/* Drops entries that no longer say anything: not down, and no error within
 * the window. Ids come and go (a UUID per process start), so without this
 * the table would keep every id that ever failed. Caller holds b->mu. */
static void health_sweep(zkd_balancer *b, int64_t now)
{
    size_t keep = 0;
    for (size_t i = 0; i < b->nh; i++) {
        health *h = &b->hs[i];
        int64_t last = h->count ? h->errors[(h->next + b->o.error_threshold - 1) % b->o.error_threshold]
                                : INT64_MIN;
        if (h->down_until > now || (h->count && now - last <= b->o.error_window_ms)) {
            b->hs[keep++] = *h;
        } else {
            free(h->id);
            free(h->errors);
        }
    }
    b->nh = keep;
}

static health *health_find(zkd_balancer *b, const char *id, int create)
{
    for (size_t i = 0; i < b->nh; i++)
        if (!strcmp(b->hs[i].id, id))
            return &b->hs[i];
    if (!create || b->o.error_threshold <= 0)
        return NULL;
    if (b->nh == b->caph)
        health_sweep(b, b->o.clock(b->o.clock_ctx));
    if (b->nh == b->caph) {
        size_t cap = b->caph ? b->caph * 2 : 8;
        health *grown = realloc(b->hs, cap * sizeof *grown);
        if (!grown)
            return NULL;
        b->hs = grown;
        b->caph = cap;
    }
    health *h = &b->hs[b->nh];
    *h = (health){.id = strdup(id), .errors = calloc((size_t)b->o.error_threshold, sizeof(int64_t))};
    if (!h->id || !h->errors) {
        free(h->id);
        free(h->errors);
        return NULL;
    }
    b->nh++;
    return h;
}

static int is_down_locked(zkd_balancer *b, const char *id, int64_t now)
{
    health *h = health_find(b, id, 0);
    return h && h->down_until > now;
}

void zkd_balancer_report_error(zkd_balancer *b, const char *id)
{
    if (b->o.error_threshold <= 0 || !id)
        return;
    int64_t now = b->o.clock(b->o.clock_ctx);
    pthread_mutex_lock(&b->mu);
    health *h = health_find(b, id, 1);
    if (h) {
        h->errors[h->next] = now;
        h->next = (h->next + 1) % b->o.error_threshold;
        if (h->count < b->o.error_threshold)
            h->count++;
        /* The oldest of the last `threshold` errors is inside the window. */
        int64_t oldest = h->errors[h->next % b->o.error_threshold];
        if (h->count == b->o.error_threshold && now - oldest <= b->o.error_window_ms) {
            h->down_until = now + b->o.down_ms;
            h->count = 0;
        }
    }
    pthread_mutex_unlock(&b->mu);
}

void zkd_balancer_report_success(zkd_balancer *b, const char *id)
{
    pthread_mutex_lock(&b->mu);
    health *h = id ? health_find(b, id, 0) : NULL;
    if (h)
        h->count = 0; /* a success breaks a run of errors; a down mark stays */
    pthread_mutex_unlock(&b->mu);
}

int zkd_balancer_is_down(zkd_balancer *b, const char *id)
{
    int64_t now = b->o.clock(b->o.clock_ctx);
    pthread_mutex_lock(&b->mu);
    int down = is_down_locked(b, id, now);
    pthread_mutex_unlock(&b->mu);
    return down;
}

/* ---- strategies ------------------------------------------------------------ */

static const zkd_instance *pick_weighted(zkd_balancer *b, const zkd_instance **c, size_t n)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += (uint64_t)zkd_instance_weight(c[i]);
    if (total == 0)
        return c[next_random(b) % n];
    uint64_t r = next_random(b) % total;
    for (size_t i = 0; i < n; i++) {
        uint64_t w = (uint64_t)zkd_instance_weight(c[i]);
        if (r < w)
            return c[i];
        r -= w;
    }
    return c[n - 1];
}

/* Caller holds b->mu. */
static const zkd_instance *pick_sticky(zkd_balancer *b, const zkd_instance **c, size_t n)
{
    for (size_t i = 0; b->sticky && i < n; i++)
        if (!strcmp(zkd_instance_id(c[i]), b->sticky))
            return c[i];
    const zkd_instance *chosen = c[next_random(b) % n];
    char *id = strdup(zkd_instance_id(chosen));
    if (id) {
        free(b->sticky);
        b->sticky = id;
    }
    return chosen;
}

int zkd_balancer_select_from(zkd_balancer *b, const zkd_snapshot *s, zkd_instance **out,
                             zkd_error *err)
{
    size_t total = zkd_snapshot_count(s);
    const zkd_instance *stackbuf[64];
    const zkd_instance **cand = total <= 64 ? stackbuf : malloc(total * sizeof *cand);
    if (!cand)
        return zkd__fail(err, ZKD_ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < total; i++)
        if (matches(b, zkd_snapshot_at(s, i)))
            cand[n++] = zkd_snapshot_at(s, i);

    int64_t now = b->o.clock(b->o.clock_ctx);
    pthread_mutex_lock(&b->mu);
    size_t up = 0;
    for (size_t i = 0; i < n; i++) /* keep the healthy ones, in order, at the front */
        if (!is_down_locked(b, zkd_instance_id(cand[i]), now))
            cand[up++] = cand[i];
    if (up == 0) /* all down: better an instance that may fail than none */
        for (size_t i = 0; i < total; i++)
            if (matches(b, zkd_snapshot_at(s, i)))
                cand[up++] = zkd_snapshot_at(s, i);
    const zkd_instance *chosen = NULL;
    if (up && b->o.strategy == ZKD_PICK_STICKY)
        chosen = pick_sticky(b, cand, up);
    pthread_mutex_unlock(&b->mu);

    if (up && !chosen) {
        if (b->o.strategy == ZKD_PICK_ROUND_ROBIN)
            chosen = cand[atomic_fetch_add(&b->rr, 1) % up];
        else if (b->o.strategy == ZKD_PICK_WEIGHTED)
            chosen = pick_weighted(b, cand, up);
        else
            chosen = cand[next_random(b) % up];
    }
    if (cand != stackbuf)
        free(cand);
    if (!chosen)
        return zkd__fail(err, ZKD_ENOTFOUND, "no instance matches (%zu registered)", total);
    *out = zkd_instance_ref(chosen);
    return 0;
}

int zkd_balancer_select(zkd_balancer *b, zkd_instance **out, zkd_error *err)
{
    if (!b->cache)
        return zkd__fail(err, ZKD_EINVAL, "this balancer has no cache; use zkd_balancer_select_from");
    zkd_snapshot *s = zkd_cache_snapshot(b->cache);
    int rc = zkd_balancer_select_from(b, s, out, err);
    zkd_snapshot_release(s);
    return rc;
}

/* Tests only: how many ids the down-instance table holds. */
size_t zkd__balancer_tracked(zkd_balancer *b);
size_t zkd__balancer_tracked(zkd_balancer *b)
{
    pthread_mutex_lock(&b->mu);
    size_t n = b->nh;
    pthread_mutex_unlock(&b->mu);
    return n;
}

/* Tests only: start the round-robin counter somewhere, e.g. past 2^31. */
void zkd__balancer_set_counter(zkd_balancer *b, uint64_t value);
void zkd__balancer_set_counter(zkd_balancer *b, uint64_t value)
{
    atomic_store(&b->rr, value);
}
