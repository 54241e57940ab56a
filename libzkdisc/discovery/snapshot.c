/* Immutable, reference-counted sets of instances, sorted by id. */
#include "snapshot.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct zkd_snapshot {
    _Atomic int refs;
    int stale;
    size_t n;
    const zkd_instance *items[];
};

static int by_id(const void *a, const void *b)
{
    return strcmp(zkd_instance_id(*(const zkd_instance *const *)a),
                  zkd_instance_id(*(const zkd_instance *const *)b));
}

zkd_snapshot *zkd__snapshot_alloc(size_t n, int stale)
{
    zkd_snapshot *s = malloc(sizeof *s + n * sizeof s->items[0]);
    if (!s)
        return NULL;
    atomic_init(&s->refs, 1);
    s->stale = stale;
    s->n = n;
    return s;
}

void zkd__snapshot_set(zkd_snapshot *s, size_t i, const zkd_instance *inst)
{
    s->items[i] = zkd_instance_ref(inst);
}

zkd_snapshot *zkd__snapshot_seal(zkd_snapshot *s, size_t n)
{
    s->n = n;
    /* Usually already in order (ids are the node names the cache sorts
     * by): then no sort, and no sort's buffer. */
    for (size_t i = 1; i < n; i++)
        if (by_id(&s->items[i - 1], &s->items[i]) > 0) {
            qsort(s->items, n, sizeof s->items[0], by_id);
            break;
        }
    return s;
}

zkd_snapshot *zkd__snapshot_new(const zkd_instance *const *items, size_t n, int stale)
{
    zkd_snapshot *s = zkd__snapshot_alloc(n, stale);
    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i++)
        zkd__snapshot_set(s, i, items[i]);
    return zkd__snapshot_seal(s, n);
}

zkd_snapshot *zkd__snapshot_restale(const zkd_snapshot *s, int stale)
{
    return zkd__snapshot_new(s->items, s->n, stale);
}

zkd_snapshot *zkd_snapshot_ref(zkd_snapshot *s)
{
    if (s)
        atomic_fetch_add(&s->refs, 1);
    return s;
}

void zkd_snapshot_unref(zkd_snapshot *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    for (size_t i = 0; i < s->n; i++)
        zkd_instance_unref(s->items[i]);
    free(s);
}

size_t zkd_snapshot_count(const zkd_snapshot *s) { return s->n; }
int zkd_snapshot_stale(const zkd_snapshot *s) { return s->stale; }

const zkd_instance *zkd_snapshot_at(const zkd_snapshot *s, size_t i)
{
    return i < s->n ? s->items[i] : NULL;
}

const zkd_instance *zkd_snapshot_find(const zkd_snapshot *s, const char *id)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int cmp = strcmp(zkd_instance_id(s->items[mid]), id);
        if (cmp == 0)
            return s->items[mid];
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
