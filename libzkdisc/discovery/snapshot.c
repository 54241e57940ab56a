/* SPDX-License-Identifier: Apache-2.0 */
/* Immutable, reference-counted sets of instances, sorted by id.
 *
 * A snapshot is a persistent tree (ptree.h) and a stale flag: the cache
 * makes the next one from the last by copying only the path to what
 * changed. Reading by index (zkd_snapshot_at) goes through a flat array
 * made on the first such read, once per snapshot: a reader that walks every
 * instance pays O(N) once, a subscriber that never does pays nothing. */
#include "snapshot.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct zkd_snapshot {
    _Atomic int refs;
    int stale;
    zkd__pnode *root;
    _Atomic(const zkd_instance **) flat; /* made on the first zkd_snapshot_at */
};

zkd_snapshot *zkd__snapshot_of(zkd__pnode *root, int stale)
{
    zkd_snapshot *s = malloc(sizeof *s);
    if (!s)
        return NULL;
    atomic_init(&s->refs, 1);
    atomic_init(&s->flat, NULL);
    s->stale = stale;
    s->root = zkd__ptree_ref(root);
    return s;
}

static int by_key(const void *a, const void *b)
{
    return zkd__ptree_cmp(*(const zkd_instance *const *)a, *(const zkd_instance *const *)b);
}

zkd_snapshot *zkd__snapshot_new(const zkd_instance *const *items, size_t n, int stale)
{
    const zkd_instance **sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (!sorted)
        return NULL;
    if (n)
        memcpy(sorted, items, n * sizeof *sorted);
    /* Usually already in order: then no sort. */
    for (size_t i = 1; i < n; i++)
        if (by_key(&sorted[i - 1], &sorted[i]) > 0) {
            qsort(sorted, n, sizeof *sorted, by_key);
            break;
        }
    zkd__pnode *root;
    zkd_snapshot *s = NULL;
    if (zkd__ptree_build(sorted, n, &root) == 0) {
        s = zkd__snapshot_of(root, stale);
        zkd__ptree_unref(root);
    }
    free(sorted);
    return s;
}

zkd__pnode *zkd__snapshot_tree(const zkd_snapshot *s)
{
    return zkd__ptree_ref(s->root);
}

void zkd__snapshot_fill(const zkd_snapshot *s, const zkd_instance **out)
{
    zkd__ptree_fill(s->root, out);
}

zkd_snapshot *zkd__snapshot_restale(const zkd_snapshot *s, int stale)
{
    return zkd__snapshot_of(s->root, stale);
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
    free((void *)atomic_load(&s->flat));
    zkd__ptree_unref(s->root);
    free(s);
}

size_t zkd_snapshot_count(const zkd_snapshot *s) { return zkd__ptree_count(s->root); }
int zkd_snapshot_stale(const zkd_snapshot *s) { return s->stale; }

const zkd_instance *zkd_snapshot_at(const zkd_snapshot *s, size_t i)
{
    size_t n = zkd__ptree_count(s->root);
    if (i >= n)
        return NULL;
    zkd_snapshot *w = (zkd_snapshot *)s; /* the flat array is a cache, not a change */
    const zkd_instance **flat = atomic_load_explicit(&w->flat, memory_order_acquire);
    if (!flat) {
        const zkd_instance **mine = malloc(n * sizeof *mine);
        if (!mine)
            return zkd__ptree_at(s->root, i);
        zkd__ptree_fill(s->root, mine);
        if (atomic_compare_exchange_strong_explicit(&w->flat, &flat, mine, memory_order_acq_rel,
                                                    memory_order_acquire))
            flat = mine;
        else
            free(mine); /* another reader made it first */
    }
    return flat[i];
}

const zkd_instance *zkd_snapshot_find(const zkd_snapshot *s, const char *id)
{
    return zkd__ptree_find(s->root, id);
}
