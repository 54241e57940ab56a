/* SPDX-License-Identifier: Apache-2.0 */
/* The down-instance table (see down_table.h): an open-addressing hash kept
 * at most half full, so a probe ends at an empty slot within a few steps. */
#include "down_table.h"

#include <stdlib.h>
#include <string.h>
#include <zkdisc/error.h>

typedef struct down_entry {
    uint64_t hash;
    char *id;
    _Atomic int64_t until; /* down until (monotonic ms); 0: not down */
    /* writers only, under the table's mutex */
    int64_t *errors; /* ring of the last `threshold` error times */
    int next, count;
    struct down_entry *dropped; /* on a retired table: freed with it */
} down_entry;

struct down_slots {
    zkd__retired node; /* first: the table is retired through it */
    size_t mask;       /* capacity - 1, a power of two */
    down_entry *dropped;
    _Atomic(down_entry *) at[];
};

static down_slots *slots_new(size_t cap)
{
    down_slots *s = malloc(sizeof *s + cap * sizeof s->at[0]);
    if (!s)
        return NULL;
    s->mask = cap - 1;
    s->dropped = NULL;
    for (size_t i = 0; i < cap; i++)
        atomic_init(&s->at[i], NULL);
    return s;
}

static void entry_free(down_entry *e)
{
    free(e->id);
    free(e->errors);
    free(e);
}

static void slots_free(zkd__retired *node)
{
    down_slots *s = (down_slots *)node;
    while (s->dropped) {
        down_entry *e = s->dropped;
        s->dropped = e->dropped;
        entry_free(e);
    }
    free(s);
}

uint64_t zkd__down_hash(const char *id)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, then a mix for the low bits */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 32);
}

static down_entry *find(down_slots *s, uint64_t hash, const char *id)
{
    for (size_t i = hash & s->mask;; i = (i + 1) & s->mask) {
        down_entry *e = atomic_load_explicit(&s->at[i], memory_order_acquire);
        if (!e)
            return NULL;
        if (e->hash == hash && !strcmp(e->id, id))
            return e;
    }
}

/* Publishes a fully built entry; readers see it whole or not at all. */
static void place(down_slots *s, down_entry *e)
{
    size_t i = e->hash & s->mask;
    while (atomic_load_explicit(&s->at[i], memory_order_relaxed))
        i = (i + 1) & s->mask;
    atomic_store_explicit(&s->at[i], e, memory_order_release);
}

int zkd__down_init(zkd__down_table *t, zkd__epoch *epoch, int threshold, int window_ms, int down_ms)
{
    down_slots *s = slots_new(16);
    if (!s)
        return ZKD_ENOMEM;
    atomic_init(&t->cur, s);
    atomic_init(&t->latest_until, 0);
    t->epoch = epoch;
    pthread_mutex_init(&t->mu, NULL);
    t->used = 0;
    t->swept_at = 0;
    t->threshold = threshold;
    t->window_ms = window_ms;
    t->down_ms = down_ms;
    return 0;
}

void zkd__down_destroy(zkd__down_table *t)
{
    down_slots *s = atomic_load(&t->cur);
    for (size_t i = 0; i <= s->mask; i++) {
        down_entry *e = atomic_load(&s->at[i]);
        if (e)
            entry_free(e);
    }
    slots_free(&s->node);
    pthread_mutex_destroy(&t->mu);
}

int64_t zkd__down_until(zkd__down_table *t, uint64_t hash, const char *id)
{
    down_entry *e = find(atomic_load_explicit(&t->cur, memory_order_acquire), hash, id);
    return e ? atomic_load_explicit(&e->until, memory_order_relaxed) : 0;
}

/* ---- writers (t->mu held) ------------------------------------------------ */

/* An entry still says something: a down mark, or an error in the window. */
static int worth_keeping(const zkd__down_table *t, down_entry *e, int64_t now)
{
    if (atomic_load_explicit(&e->until, memory_order_relaxed) > now)
        return 1;
    if (!e->count)
        return 0;
    int64_t last = e->errors[(e->next + t->threshold - 1) % t->threshold];
    return now - last <= t->window_ms;
}

/* Ids come and go (a UUID per process start), so without a sweep the table
 * would keep every id that ever failed. Builds a table of the entries worth
 * keeping, at most a quarter full, swaps it in and retires the old one with
 * the entries it dropped. On ENOMEM the old table stays. */
static void sweep(zkd__down_table *t, int64_t now)
{
    down_slots *old = atomic_load_explicit(&t->cur, memory_order_relaxed);
    size_t live = 0;
    for (size_t i = 0; i <= old->mask; i++) {
        down_entry *e = atomic_load_explicit(&old->at[i], memory_order_relaxed);
        live += e && worth_keeping(t, e, now);
    }
    size_t cap = 16;
    while (cap < 4 * (live + 1))
        cap *= 2;
    down_slots *s = slots_new(cap);
    if (!s)
        return;
    int64_t latest = 0;
    for (size_t i = 0; i <= old->mask; i++) {
        down_entry *e = atomic_load_explicit(&old->at[i], memory_order_relaxed);
        if (!e)
            continue;
        if (worth_keeping(t, e, now)) {
            place(s, e);
            int64_t until = atomic_load_explicit(&e->until, memory_order_relaxed);
            latest = until > latest ? until : latest;
        } else {
            e->dropped = old->dropped;
            old->dropped = e;
        }
    }
    atomic_store(&t->cur, s);
    atomic_store_explicit(&t->latest_until, latest, memory_order_relaxed);
    t->used = live;
    t->swept_at = now;
    zkd__epoch_retire(t->epoch, &old->node, slots_free);
}

static down_entry *insert(zkd__down_table *t, uint64_t hash, const char *id, int64_t now)
{
    down_slots *s = atomic_load_explicit(&t->cur, memory_order_relaxed);
    int64_t period = t->window_ms / 2 > 50 ? t->window_ms / 2 : 50;
    if ((t->used + 1) * 2 > s->mask + 1 || (t->used && now - t->swept_at >= period)) {
        sweep(t, now);
        s = atomic_load_explicit(&t->cur, memory_order_relaxed);
        if ((t->used + 1) * 2 > s->mask + 1)
            return NULL; /* no memory to grow: this report is lost */
    }
    down_entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->hash = hash;
    e->id = strdup(id);
    e->errors = calloc((size_t)t->threshold, sizeof *e->errors);
    atomic_init(&e->until, 0);
    if (!e->id || !e->errors) {
        entry_free(e);
        return NULL;
    }
    place(s, e);
    t->used++;
    return e;
}

void zkd__down_error(zkd__down_table *t, const char *id, int64_t now)
{
    if (t->threshold <= 0 || !id)
        return;
    uint64_t hash = zkd__down_hash(id);
    pthread_mutex_lock(&t->mu);
    down_entry *e = find(atomic_load_explicit(&t->cur, memory_order_relaxed), hash, id);
    if (!e)
        e = insert(t, hash, id, now);
    if (e) {
        e->errors[e->next] = now;
        e->next = (e->next + 1) % t->threshold;
        if (e->count < t->threshold)
            e->count++;
        /* Down when the oldest of the last `threshold` errors is in the window. */
        int64_t oldest = e->errors[e->next];
        if (e->count == t->threshold && now - oldest <= t->window_ms) {
            int64_t until = now + t->down_ms;
            atomic_store_explicit(&e->until, until, memory_order_relaxed);
            if (until > atomic_load_explicit(&t->latest_until, memory_order_relaxed))
                atomic_store_explicit(&t->latest_until, until, memory_order_relaxed);
            e->count = 0;
        }
    }
    pthread_mutex_unlock(&t->mu);
}

void zkd__down_success(zkd__down_table *t, const char *id)
{
    if (!id)
        return;
    uint64_t hash = zkd__down_hash(id);
    /* The common case, an id that never failed, takes no lock. */
    unsigned slot = zkd__epoch_enter(t->epoch);
    int known = find(atomic_load_explicit(&t->cur, memory_order_acquire), hash, id) != NULL;
    zkd__epoch_leave(t->epoch, slot);
    if (!known)
        return;
    pthread_mutex_lock(&t->mu);
    down_entry *e = find(atomic_load_explicit(&t->cur, memory_order_relaxed), hash, id);
    if (e)
        e->count = 0; /* a success breaks a run of errors; a down mark stays */
    pthread_mutex_unlock(&t->mu);
}

size_t zkd__down_count(zkd__down_table *t)
{
    pthread_mutex_lock(&t->mu);
    size_t n = t->used;
    pthread_mutex_unlock(&t->mu);
    return n;
}
